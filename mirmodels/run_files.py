"""What a run directory gets while Lightning trains, each file whole or not at all.

* :class:`AtomicCheckpointIO`: Lightning's checkpoints written under a temporary name and renamed
  when complete (Lightning writes them in place: a kill during the write left a truncated
  ``last.ckpt`` that ``--resume`` could not read).
* :func:`checkpoint_callbacks`: ``best.ckpt`` (the best ``valid_loss``) and ``last.ckpt`` (every
  epoch's end). Lightning 2.6's ``save_last`` writes only when the top-k checkpoint is saved, so
  ``last.ckpt`` was the best epoch; here it is a ModelCheckpoint of its own without a monitor.
* :class:`ExportBest`: ``best.pt``, the best network's plain state_dict, beside ``best.ckpt``.
* :class:`MergedCsvLog`: ``logs/metrics.csv`` = the earlier sessions' rows + this session's.
  Lightning's CSVLogger deletes its file when a session starts, so it writes to
  ``logs/.session/`` and this callback replaces ``logs/metrics.csv`` atomically at each epoch's
  start and at the end: a killed session leaves the earlier rows and its own finished epochs.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.plugins.io import TorchCheckpointIO

from pyjama_tools.core.atomic import atomic_path, write_text_atomic

__all__ = ["SESSION_LOG", "AtomicCheckpointIO", "ExportBest", "MergedCsvLog", "checkpoint_callbacks", "export_state_dict",
           "merge_rows", "read_csv", "write_rows"]

#: the folder of ``logs/`` where this session's CSVLogger writes
SESSION_LOG = ".session"


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` that writes ``.NAME.partial`` and renames it over ``NAME`` when complete."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            super().save_checkpoint(checkpoint, tmp, storage_options)


def checkpoint_callbacks(dirpath: Path, best: str, last: str) -> tuple[ModelCheckpoint, ModelCheckpoint]:
    """The best-epoch and the last-epoch checkpoints of a run.

    ``best`` is saved when validation ends with a lower ``valid_loss``, ``last`` at the end of every
    training epoch (after validation), so that ``last`` also records the best one's state.
    """
    best_checkpoint = ModelCheckpoint(dirpath=dirpath, filename=best, monitor="valid_loss", mode="min", save_top_k=1,
                                      save_last=False, save_on_train_epoch_end=False, enable_version_counter=False,
                                      auto_insert_metric_name=False)
    last_checkpoint = ModelCheckpoint(dirpath=dirpath, filename=last, monitor=None, save_top_k=1, save_last=False,
                                      save_on_train_epoch_end=True, enable_version_counter=False,
                                      auto_insert_metric_name=False)
    return best_checkpoint, last_checkpoint


def export_state_dict(checkpoint_path: Path, out: Path) -> Path:
    """Write the network's plain state_dict (``model.`` keys of a Lightning checkpoint) atomically."""
    state = torch.load(checkpoint_path, map_location="cpu", weights_only=True)["state_dict"]
    network = {key.removeprefix("model."): value for key, value in state.items() if key.startswith("model.")}
    with atomic_path(out) as tmp:
        torch.save(network, tmp)
    return out


class ExportBest(Callback):
    """Write the network's plain state_dict (``best.pt``) in each epoch where ``best.ckpt`` was saved.

    It runs at the end of the training epoch, after validation (where ``checkpoint`` saved the best
    epoch) and before ``last.ckpt``: the weights are those ``best.ckpt`` holds.
    """

    def __init__(self, checkpoint: ModelCheckpoint, out: Path):
        self.checkpoint = checkpoint
        self.out = Path(out)
        self._score: float | None = None

    def _best(self) -> float | None:
        score = self.checkpoint.best_model_score
        return None if score is None else float(score)

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self._score = self._best()  # a resumed run's best, already exported

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        score = self._best()
        if score is None or score == self._score:
            return
        self._score = score
        if trainer.is_global_zero:
            state = {key: value.detach().cpu() for key, value in pl_module.model.state_dict().items()}
            with atomic_path(self.out) as tmp:
                torch.save(state, tmp)


def read_csv(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV log (none when the file is absent)."""
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _epoch(row: dict[str, str]) -> int | None:
    value = row.get("epoch", "")
    return int(value) if value.isdigit() else None


def merge_rows(earlier: list[dict[str, str]], new: list[dict[str, str]]) -> list[dict[str, str]]:
    """The earlier sessions' rows of the epochs before this session's first one, then this session's."""
    first_new = min((e for e in map(_epoch, new) if e is not None), default=None)
    kept = [row for row in earlier if first_new is None or _epoch(row) is None or _epoch(row) < first_new]
    return kept + new


def write_rows(rows: list[dict[str, str]], path: Path) -> None:
    """Write CSV rows (the union of their columns) atomically."""
    columns: list[str] = []
    for row in rows:
        columns.extend(c for c in row if c not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, restval="")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(buffer.getvalue(), path)


class MergedCsvLog(Callback):
    """Keep ``path`` = the rows it held when the session started + the session's CSVLogger rows.

    Parameters
    ----------
    path : Path
        ``RUN_DIR/logs/metrics.csv``.
    session_path : Path
        The session's CSVLogger file (``RUN_DIR/logs/.session/metrics.csv``).
    earlier : list of dict
        The rows of ``path`` before the session (empty for a new run).
    """

    def __init__(self, path: Path, session_path: Path, earlier: list[dict[str, str]]):
        self.path = Path(path)
        self.session_path = Path(session_path)
        self.earlier = earlier

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        # the epochs before this one are finished and their checkpoint saved
        self.merge(trainer)

    def merge(self, trainer: Any | None = None) -> None:
        """Flush the session's CSVLogger and replace ``path`` with the merged rows (rank 0 only)."""
        if trainer is not None:
            if not trainer.is_global_zero:
                return
            for logger in trainer.loggers:
                if isinstance(logger, CSVLogger):
                    logger.save()
        rows = merge_rows(self.earlier, read_csv(self.session_path))
        if rows:
            os.makedirs(self.path.parent, exist_ok=True)
            write_rows(rows, self.path)
