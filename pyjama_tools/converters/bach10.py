"""Bach10: ``NN-Name/`` piece folders → one entry per mix and per instrument stem.

Layout of a piece folder (Bach10 v1.1)::

    01-AchGottundHerr/01-AchGottundHerr.wav            the mix
    01-AchGottundHerr/01-AchGottundHerr-violin.wav      the stems (the real files spell ``saxphone``)
    01-AchGottundHerr/01-AchGottundHerr-GTF0s.mat       GTF0s (4, nb_frame): MIDI per 10 ms frame, 0 = silent
    01-AchGottundHerr/01-AchGottundHerr-GTNotes.mat     GTNotes 4×1 cell of cells of (2, N) notes

Fields
------
f0multi  (mix only) one breakpoint atom, value (4, nb_frame) in MIDI, rows violin/clarinet/saxophone/bassoon,
         time 0.023 + 0.01·i s; every frame is kept, 0 = silence.
f0       (stems) one breakpoint atom, value (1, nb_frame): the stem's row of GTF0s.
pitchmidi note segments: one per GTNotes note; time = frame time of its first frame, duration = nb frames × 10 ms,
         value = the rounded median MIDI of its frames (``comment`` = instrument in the mix entry).
         GTNotes frame indices are 1-based (MATLAB): note frame ``k`` is GTF0s column ``k − 1``
         (checked on the real files: the notes' MIDI values equal those columns).
instrument the stem's instrument (the mix lists all four), ``stem`` mixture or the instrument,
piece    the folder name, shared by the mix and its stems so that a split never separates them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from collections.abc import Iterator

import numpy as np

from pyjama_tools.audio_store import AudioSource
from pyjama_tools.converters.base import Converter, Item, Problem, register_converter
from pyjama_tools.pyjama import FieldDefinition, atom, breakpoint_atom

#: instrument names in GTF0s / GTNotes row order
INSTRUMENTS = ("violin", "clarinet", "saxophone", "bassoon")
#: spellings of each instrument in the stem file names (the corpus writes ``saxphone``)
FILE_SPELLINGS = {"violin": ("violin",), "clarinet": ("clarinet",), "saxophone": ("saxphone", "saxophone"),
                  "bassoon": ("bassoon",)}
#: time of frame i (0-based) is FIRST_FRAME_SEC + i · HOP_SEC (Bach10 documentation: 46 ms frames, 10 ms hop)
FIRST_FRAME_SEC = 0.023
HOP_SEC = 0.01


class Bach10FormatError(ValueError):
    """A .mat file that does not hold what Bach10 documents (message names the variable and what is wrong)."""


def frame_times(num_frames: int) -> np.ndarray:
    """Centre time in seconds of each of ``num_frames`` GTF0s frames, shape (num_frames,)."""
    return np.round(FIRST_FRAME_SEC + HOP_SEC * np.arange(num_frames), 6)


def _load_variable(path: Path, name: str) -> np.ndarray:
    """Variable ``name`` of a MATLAB file (scipy.io.loadmat); any reading error becomes Bach10FormatError."""
    import scipy.io

    try:
        contents = scipy.io.loadmat(str(path))
    except Exception as error:  # scipy raises ValueError, TypeError, MatReadError, OSError ... on bad files
        raise Bach10FormatError(f"not a readable MATLAB file ({str(error).strip() or type(error).__name__})") from None
    if name not in contents:
        found = sorted(k for k in contents if not k.startswith("__"))
        raise Bach10FormatError(f"no variable {name!r} (found: {', '.join(found) or 'none'})")
    return contents[name]


def read_f0s(path: Path) -> np.ndarray:
    """GTF0s of a piece: float64 (4, nb_frame) MIDI values, 0 = silent.

    Raises
    ------
    Bach10FormatError
        Unreadable file, missing variable, wrong shape or non-finite values.
    """
    f0s = _load_variable(path, "GTF0s")
    if not isinstance(f0s, np.ndarray) or f0s.dtype == object or f0s.ndim != 2 \
            or f0s.shape[0] != len(INSTRUMENTS) or f0s.shape[1] == 0:
        raise Bach10FormatError(f"GTF0s has shape {getattr(f0s, 'shape', '?')}, expected (4, nb_frame)")
    f0s = f0s.astype(float)
    if not np.all(np.isfinite(f0s)) or np.any(f0s < 0):
        raise Bach10FormatError("GTF0s holds negative, NaN or inf values")
    return f0s


def read_notes(path: Path, num_frames: int) -> list[list[tuple[np.ndarray, np.ndarray]]]:
    """GTNotes of a piece: per instrument, the list of notes as (frame indices 1-based (N,), MIDI (N,)).

    Parameters
    ----------
    path : the ``-GTNotes.mat`` file
    num_frames : nb_frame of the piece's GTF0s (frame indices must lie in 1..num_frames)

    Raises
    ------
    Bach10FormatError
        Unreadable file, a cell layout other than 4×1 cells of 2×N notes, or frames out of range.
    """
    cells = _load_variable(path, "GTNotes")
    if not isinstance(cells, np.ndarray) or cells.dtype != object or cells.size != len(INSTRUMENTS):
        raise Bach10FormatError(f"GTNotes is not a 4x1 cell array (got shape {getattr(cells, 'shape', '?')})")
    result = []
    for row, instrument_cell in enumerate(cells.reshape(-1)):
        instrument = INSTRUMENTS[row]
        if not isinstance(instrument_cell, np.ndarray) or instrument_cell.dtype != object:
            raise Bach10FormatError(f"GTNotes{{{row + 1}}} ({instrument}) is not a cell array of notes")
        notes = []
        for number, note in enumerate(instrument_cell.reshape(-1), start=1):
            where = f"GTNotes{{{row + 1}}}{{{number}}} ({instrument})"
            note = np.asarray(note)
            if note.dtype == object or note.ndim != 2 or note.shape[0] != 2 or note.shape[1] == 0:
                raise Bach10FormatError(f"{where} has shape {note.shape}, expected (2, N)")
            frames, midi = note.astype(float)
            if not np.all(np.isfinite(note.astype(float))) or np.any(frames != np.round(frames)):
                raise Bach10FormatError(f"{where}: frame indices are not integers or values are not finite")
            if frames.min() < 1 or frames.max() > num_frames:
                raise Bach10FormatError(f"{where}: frame indices {int(frames.min())}..{int(frames.max())} "
                                        f"outside 1..{num_frames} (the GTF0s frames)")
            notes.append((frames.astype(int), midi))
        result.append(notes)
    return result


def note_atoms(notes: list[tuple[np.ndarray, np.ndarray]], comment: str | None = None) -> list[dict[str, Any]]:
    """Segment atoms of notes: onset = time of the first frame, duration = nb frames × 10 ms, value = MIDI."""
    atoms = []
    for frames, midi in notes:
        onset = FIRST_FRAME_SEC + HOP_SEC * (int(frames[0]) - 1)  # 1-based MATLAB frame index
        atoms.append(atom(int(np.round(np.median(midi))), time=round(onset, 6),
                          duration=round(HOP_SEC * len(frames), 6), comment=comment))
    return atoms


@register_converter
class Bach10Converter(Converter):
    """SRC holds the ``NN-Name/`` piece folders; keys are relative to SRC (``01-X+++01-X.wav``)."""

    name = "bach10"
    default_base = "bach10"
    summary = "Bach10 (NN-Name/ piece folders) → f0multi / f0 / pitchmidi, mix + 4 stems per piece"

    def _pieces(self) -> list[Path]:
        """Piece folders: sub-folders of SRC holding ``<folder>.wav`` or ``<folder>-GTF0s.mat``."""
        return sorted(d for d in self.source.iterdir() if d.is_dir() and (
            (d / f"{d.name}.wav").exists() or (d / f"{d.name}-GTF0s.mat").exists()))

    def _stem_path(self, folder: Path, instrument: str) -> Path | None:
        for spelling in FILE_SPELLINGS[instrument]:
            candidate = folder / f"{folder.name}-{spelling}.wav"
            if candidate.exists():
                return candidate
        return None

    def items(self) -> Iterator[Item | Problem]:
        for folder in self._pieces():
            piece = folder.name
            f0_path = folder / f"{piece}-GTF0s.mat"
            notes_path = folder / f"{piece}-GTNotes.mat"
            missing = [p.name for p in (f0_path, notes_path) if not p.exists()]
            if missing:
                yield Problem(str(folder), f"missing {', '.join(missing)} (piece skipped)")
                continue
            try:
                f0s = read_f0s(f0_path)
            except Bach10FormatError as error:
                yield Problem(str(f0_path), f"{error} (piece skipped)")
                continue
            try:
                notes = read_notes(notes_path, f0s.shape[1])
            except Bach10FormatError as error:
                yield Problem(str(notes_path), f"{error} (piece skipped)")
                continue
            times = frame_times(f0s.shape[1])
            piece_atom = [atom(piece)]

            mix_path = folder / f"{piece}.wav"
            if mix_path.exists():
                mix_notes = [a for row, instrument in enumerate(INSTRUMENTS)
                             for a in note_atoms(notes[row], comment=instrument)]
                mix_notes.sort(key=lambda a: (a["time"], INSTRUMENTS.index(a["comment"])))
                yield Item(self.relative_key(mix_path), AudioSource(mix_path), {
                    "f0multi": [breakpoint_atom(times, f0s)],
                    "pitchmidi": mix_notes,
                    "instrument": [atom(i) for i in INSTRUMENTS],
                    "stem": [atom("mixture")],
                    "piece": piece_atom,
                })
            else:
                yield Problem(str(mix_path), "mix audio missing (stems kept)")

            for row, instrument in enumerate(INSTRUMENTS):
                stem_path = self._stem_path(folder, instrument)
                if stem_path is None:
                    yield Problem(str(folder / f"{piece}-{FILE_SPELLINGS[instrument][0]}.wav"),
                                  f"{instrument} stem audio missing")
                    continue
                yield Item(self.relative_key(stem_path), AudioSource(stem_path), {
                    "f0": [breakpoint_atom(times, f0s[row])],
                    "pitchmidi": note_atoms(notes[row]),
                    "instrument": [atom(instrument)],
                    "stem": [atom(instrument)],
                    "piece": piece_atom,
                })

    def definitions(self, items: list[Item]) -> dict[str, FieldDefinition]:
        pieces = sorted({i.annotations["piece"][0]["value"] for i in items})
        return {
            "f0multi": FieldDefinition("breakpoint", "numeric", "free", row_name=list(INSTRUMENTS)),
            "f0": FieldDefinition("breakpoint", "numeric", "free"),
            "pitchmidi": FieldDefinition("segment", "numeric", "free"),
            "instrument": FieldDefinition("global", "text", "value_in_dictionary", list(INSTRUMENTS)),
            "stem": FieldDefinition("global", "text", "value_in_dictionary", ["mixture", *INSTRUMENTS]),
            "piece": FieldDefinition("global", "text", "value_in_dictionary", pieces),
        }
