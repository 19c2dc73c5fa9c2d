"""``logs/metrics.csv`` of a run: the earlier sessions' rows + this session's, each replace atomic.

Lightning's CSVLogger deletes its file when a session starts, so it writes to ``logs/.session/``
and :class:`MergedCsvLog` replaces ``logs/metrics.csv`` atomically at each epoch's start and at the
end: a killed session leaves the earlier rows and its own finished epochs.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import CSVLogger

from pyjama_tools.core.atomic import write_text_atomic

__all__ = ["MergedCsvLog", "merge_rows", "read_csv", "write_rows"]


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
