"""Atomic writes: a temporary name beside the output, renamed over it only when complete.

Every file the three packages write goes through :func:`atomic_path`, so a run that dies
leaves the previous file (or none), never one that looks complete but is not.  Files that
belong together (a ``.pyjama`` and its audio store, plus the report) go through
:func:`atomic_group`: the old group stays until the new one is complete, then all swap.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from collections.abc import Iterator, Sequence


def partial_path(path: str | os.PathLike) -> Path:
    """The temporary name of ``path`` while it is written: ``.NAME.partial`` in the same folder."""
    path = Path(path)
    return path.with_name(f".{path.name}.partial")


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; it is renamed to ``path`` when the block ends without error.

    On any error (KeyboardInterrupt included) the temporary file is removed and ``path`` is left
    as it was.
    """
    path = Path(path)
    tmp = partial_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(text: str, path: str | os.PathLike) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


# ----------------------------------------------------------------------------- groups of files


def staging_path(path: str | os.PathLike) -> Path:
    """The name a member of a group is staged under until the group swaps: ``.NAME.new``."""
    path = Path(path)
    return path.with_name(f".{path.name}.new")


def swap_record_path(paths: Sequence[str | os.PathLike]) -> Path:
    """The record of a group swap in progress: ``.NAME.swap`` beside the group's last member."""
    last = Path(paths[-1])
    return last.with_name(f".{last.name}.swap")


def _apply_swap(moves: list[tuple[str | None, str]]) -> None:
    """Move each staged file over its output (in order); an output without a staged file is removed."""
    for staged, final in moves:
        if staged is None:
            Path(final).unlink(missing_ok=True)
        elif os.path.exists(staged):  # gone: already moved by an earlier, interrupted swap
            os.replace(staged, final)


def finish_swap(paths: Sequence[str | os.PathLike]) -> bool:
    """Complete a group swap that a killed process left half done (see :func:`atomic_group`).

    Safe to call at any time from the group's writer (holding its lock): when no swap record
    exists it only removes staged files (and their ``.partial`` files) left by a killed run,
    which were never complete.

    Returns
    -------
    bool
        True when an interrupted swap was found and completed.
    """
    record = swap_record_path(paths)
    moves = None
    if record.exists():
        try:
            moves = [(staged, final) for staged, final in json.loads(record.read_text(encoding="utf-8"))]
        except (OSError, ValueError, TypeError):
            moves = None  # a record is written atomically, so this cannot happen; drop it
    if moves is not None:
        _apply_swap(moves)
    for path in paths:  # a staged file, or one a killed run was still writing, is never complete
        staging_path(path).unlink(missing_ok=True)
        partial_path(staging_path(path)).unlink(missing_ok=True)
    record.unlink(missing_ok=True)
    return moves is not None


@contextmanager
def atomic_group(paths: Sequence[str | os.PathLike]) -> Iterator[list[Path]]:
    """Replace several files together: the old group stays until the new one is complete.

    Yields one staging path per output (:func:`staging_path`); write each new file there.
    When the block ends without error, every staged file is moved over its output in the
    order given, and an output whose staging file was not written is removed (e.g. a report
    that the new run has no reason to write).  Before the first move a swap record
    (:func:`swap_record_path`) lists the moves; it is deleted after the last.  A process killed
    between two moves therefore leaves the record, and :func:`finish_swap` (which the next
    writer calls first) completes the swap.  On any error (KeyboardInterrupt included) the
    staged files are removed and every output is left as it was.

    Put the file whose presence marks the group complete (e.g. a ``.pyjama`` beside its audio)
    last.  Every path must be in the same folder as the others (renames stay on one disk).
    """
    paths = [Path(p) for p in paths]
    if len({p.parent for p in paths}) != 1:
        raise ValueError("atomic_group: every file of a group must be in the same folder")
    finish_swap(paths)
    staged = [staging_path(p) for p in paths]
    try:
        yield staged
        moves = [(str(s) if s.exists() else None, str(p)) for s, p in zip(staged, paths)]
        write_text_atomic(json.dumps(moves), swap_record_path(paths))
    except BaseException:
        for path in staged:
            path.unlink(missing_ok=True)
        raise
    _apply_swap(moves)
    swap_record_path(paths).unlink()
