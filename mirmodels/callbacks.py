"""The checkpoints of a run, on Lightning's public API only, each file whole or not at all.

* :class:`AtomicCheckpointIO`: Lightning's checkpoints written under a temporary name and renamed
  when complete (Lightning writes them in place: a kill during the write left a truncated
  ``last.ckpt`` that ``--resume`` could not read).
* :func:`checkpoint_callbacks`: ``best.ckpt`` (the best ``valid_loss``) and ``last.ckpt`` (every
  epoch's end), two of Lightning's own ``ModelCheckpoint``. Lightning 2.6's ``save_last`` writes
  only when the top-k checkpoint is saved, so ``last.ckpt`` was the best epoch; here it is a
  ModelCheckpoint of its own without a monitor. They are Lightning's class itself, not a subclass:
  a checkpoint stores each callback's state under ``state_key``, which starts with the class name,
  so a subclass would not find the best score in the ``last.ckpt`` of an earlier run on ``--resume``.
* :class:`ExportBest`: ``best.pt``, the best network's plain state_dict, beside ``best.ckpt``
  (``on_train_start`` / ``on_train_epoch_end``); it holds the best-epoch ModelCheckpoint, so
  :func:`best_checkpoint` finds that one by the type of its own callback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO

from pyjama_tools.core.atomic import atomic_path

__all__ = ["AtomicCheckpointIO", "ExportBest", "best_checkpoint", "checkpoint_callbacks", "find_callback"]

C = TypeVar("C", bound=Callback)


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


class ExportBest(Callback):
    """Write the network's plain state_dict (``best.pt``) in each epoch where ``best.ckpt`` was saved.

    It runs at the end of the training epoch, after validation (where ``checkpoint`` saved the best
    epoch) and before ``last.ckpt`` (Lightning runs the ModelCheckpoints after the other
    callbacks): the weights are those ``best.ckpt`` holds.
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


def find_callback(trainer: Any, kind: type[C]) -> C:
    """The first callback of ``trainer`` that is a ``kind``.

    Raises
    ------
    LookupError
        The trainer has none (a trainer not built by :func:`mirmodels.trainer.build_trainer`).
    """
    for callback in trainer.callbacks:
        if isinstance(callback, kind):
            return callback
    raise LookupError(f"the trainer has no {kind.__name__} callback")


def best_checkpoint(trainer: Any) -> ModelCheckpoint:
    """The ModelCheckpoint of ``best.ckpt`` (the one :class:`ExportBest` follows)."""
    return find_callback(trainer, ExportBest).checkpoint
