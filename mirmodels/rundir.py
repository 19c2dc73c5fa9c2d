"""The run directory of ``mirmodels fit``: where each file of a run lives, and the checks on it.

A run directory holds::

    RUN_DIR/config.yaml            the resolved config (defaults written out, model inlined)
    RUN_DIR/run.json               what the data gave (input shape, n_out, vocabulary, feature params,
                                   sample rate, splits), the best valid_loss, versions
    RUN_DIR/checkpoints/best.ckpt  Lightning checkpoint of the best epoch
    RUN_DIR/checkpoints/last.ckpt  the last finished epoch, for ``--resume``
    RUN_DIR/checkpoints/best.pt    the best network's plain state_dict (``torch.load(weights_only=True)``)
    RUN_DIR/logs/metrics.csv       CSV log (train_loss, valid_loss per epoch) of every session
    RUN_DIR/logs/.session/         this session's CSVLogger folder (merged into logs/metrics.csv)
    RUN_DIR/.lock                  held by the fit writing the run (a second one is refused)
    RUN_DIR/metrics.json           written by ``mirmodels evaluate``

Every file is written under a temporary name (``.NAME.partial``) and renamed when complete.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Iterator

from pyjama_tools.core.atomic import write_text_atomic
from pyjama_tools.core.errors import MirError
from pyjama_tools.core.locking import output_lock

__all__ = ["BEST", "LAST", "RUN_KEYS", "SESSION_LOG", "RunDir", "run_paths", "write_json"]

BEST = "best"
LAST = "last"
#: keys of run.json that evaluate / predict read
RUN_KEYS = ("problem", "input_shape", "n_out", "feature", "feature_params", "patch_length")
#: the folder of ``logs/`` where this session's CSVLogger writes
SESSION_LOG = ".session"


def write_json(data: Any, path: str | os.PathLike) -> Path:
    """Write JSON atomically (temporary name, then rename)."""
    return write_text_atomic(json.dumps(data, indent=2, allow_nan=True), path)


@dataclass(frozen=True)
class RunDir:
    """The files of one run directory, by role (paths only: nothing is read or made on creation).

    Parameters
    ----------
    root : path-like
        The run directory.
    """

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    def __fspath__(self) -> str:
        return os.fspath(self.root)

    def __str__(self) -> str:
        return str(self.root)

    # ---- the files
    @property
    def config(self) -> Path:
        """``config.yaml``: the resolved config."""
        return self.root / "config.yaml"

    @property
    def meta(self) -> Path:
        """``run.json``: what the data gave, the best valid_loss, versions."""
        return self.root / "run.json"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def best_ckpt(self) -> Path:
        return self.checkpoints / f"{BEST}.ckpt"

    @property
    def last_ckpt(self) -> Path:
        return self.checkpoints / f"{LAST}.ckpt"

    @property
    def best_pt(self) -> Path:
        return self.checkpoints / f"{BEST}.pt"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def metrics_csv(self) -> Path:
        """``logs/metrics.csv``: the CSV log of every session."""
        return self.logs / "metrics.csv"

    @property
    def session_csv(self) -> Path:
        """This session's CSVLogger file, merged into :attr:`metrics_csv`."""
        return self.logs / SESSION_LOG / "metrics.csv"

    @property
    def metrics(self) -> Path:
        """``metrics.json``, written by ``mirmodels evaluate``."""
        return self.root / "metrics.json"

    def paths(self) -> dict[str, Path]:
        """The files by role name (``config``, ``meta``, ``checkpoints``, ``best_ckpt``, ``last_ckpt``,
        ``best_pt``, ``logs``, ``metrics``)."""
        return {name: getattr(self, name) for name in
                ("config", "meta", "checkpoints", "best_ckpt", "last_ckpt", "best_pt", "logs", "metrics")}

    # ---- a fit writing the run
    def create(self) -> bool:
        """Make the directory (and its parents); True when it did not exist.

        Raises
        ------
        MirError
            ``<run dir>: cannot create the run directory (...)``.
        """
        created = not self.root.exists()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise MirError(f"{self.root}: cannot create the run directory ({error.strerror or error})") from None
        return created

    @contextmanager
    def lock(self) -> Iterator[Path]:
        """Hold the run's lock for the block (a second fit on it is refused at once); yields the lock file."""
        with output_lock(self.root, "mirmodels fit") as lock_file:
            yield lock_file

    def check_start(self, resume: bool) -> None:
        """A new fit needs a run without ``last.ckpt``; ``resume`` needs one.

        Raises
        ------
        MirError
            ``<run dir>: already holds a trained run; ...`` or ``<last.ckpt>: no such checkpoint to resume from``.
        """
        if resume and not self.last_ckpt.exists():
            raise MirError(f"{self.last_ckpt}: no such checkpoint to resume from")
        if not resume and self.last_ckpt.exists():
            raise MirError(f"{self.root}: already holds a trained run; use --resume to continue it or --out for a "
                           "new one")

    def discard_unfinished(self) -> None:
        """Remove ``best.ckpt`` / ``best.pt`` of a run killed in its first epoch (no ``last.ckpt``)."""
        self.best_ckpt.unlink(missing_ok=True)
        self.best_pt.unlink(missing_ok=True)

    def remove_partials(self) -> None:
        """Remove what a killed session was writing (``.*.partial`` files)."""
        for partial in self.root.rglob(".*.partial"):
            if partial.is_file():
                partial.unlink()

    def remove_if_only(self, lock_file: Path) -> None:
        """Remove the directory when it holds ``lock_file`` alone (a fit that failed before any file)."""
        if [p.name for p in self.root.iterdir()] == [lock_file.name]:
            lock_file.unlink()
            self.root.rmdir()


def run_paths(run_dir: str | os.PathLike) -> dict[str, Path]:
    """The files of a run directory by role (:meth:`RunDir.paths`)."""
    return RunDir(run_dir).paths()
