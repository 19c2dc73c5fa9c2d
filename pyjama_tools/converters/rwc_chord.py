"""RWC Popular with the AIST chord annotations → field ``chord`` (segments, Harte labels as written).

Layout (as distributed; the fixture's layout)::

    SRC/audio/rwc-p-m0K/<track>.wav                       (or SRC/rwc-p-m0K/<track>.wav)
    SRC/annotations/AIST.RWC-MDB-P-2001.CHORD/RWC_Pop_Chords/N0NN-M0K-T0T.lab
    SRC/metadata-master/rwc-p.csv                         (Piece No., Cat. Suffix, Tr. No., Title, ...)

A ``.lab`` names its piece (``N001``); the metadata maps the piece to its disc (``M01``) and track
(``Tr. 01``), i.e. the audio ``rwc-p-m01/1.wav``. Each ``.lab`` line is ``start end label``
(whitespace separated, seconds); the label must parse with :func:`mir_eval.chord.encode`. Every line
is kept, even past the end of the audio. A file with a bad line is skipped whole, each bad line reported.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path
from collections.abc import Iterator

import mir_eval

from pyjama_tools.audio_store import AudioSource
from pyjama_tools.converters.base import (Converter, Item, Problem, audio_files, read_text_lines,
                                          register_converter)
from pyjama_tools.core.errors import MirError
from pyjama_tools.pyjama import FieldDefinition, atom

CHORD_FOLDER = ("AIST.RWC-MDB-P-2001.CHORD", "RWC_Pop_Chords")
METADATA_FILE = ("metadata-master", "rwc-p.csv")
LAB_NAME = re.compile(r"^N(\d+)-M(\d+)-T(\d+)$")
DISC_FOLDER = re.compile(r"^rwc-p-m(\d+)$", re.IGNORECASE)


def read_chord_lab(path: Path) -> tuple[list[dict], list[Problem]]:
    """Segment atoms of a chord ``.lab`` and a problem per bad line (file and 1-based line number)."""
    atoms: list[dict] = []
    problems: list[Problem] = []
    for number, line in enumerate(read_text_lines(path), start=1):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        cells = line.split()
        if len(cells) != 3:
            problems.append(Problem(where, f"expected 3 cells (start end label), got {len(cells)}"))
            continue
        try:
            start, end = float(cells[0]), float(cells[1])
        except ValueError:
            problems.append(Problem(where, f"start/end are not numbers: {line.strip()!r}"))
            continue
        if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end < start:
            problems.append(Problem(where, f"bad times: start {cells[0]}, end {cells[1]}"))
            continue
        try:
            mir_eval.chord.encode(cells[2])
        except (mir_eval.chord.InvalidChordException, ValueError, KeyError, IndexError):
            problems.append(Problem(where, f"label {cells[2]!r} is not valid Harte chord syntax"))
            continue
        atoms.append(atom(cells[2], time=start, duration=round(end - start, 9)))
    return atoms, problems


def _number(text: str) -> int | None:
    """The integer inside ``'No. 1'`` / ``'Tr. 01'`` / ``'M01'``."""
    digits = re.findall(r"\d+", text)
    return int(digits[-1]) if digits else None


@register_converter
class RwcChordConverter(Converter):
    """SRC holds the audio folders, the AIST chord annotations and metadata-master/rwc-p.csv."""

    name = "rwc-chord"
    default_base = "rwc-pop_chord"
    summary = "RWC Popular + AIST chord .lab (via metadata-master/rwc-p.csv) → chord segments"

    @property
    def audio_root(self) -> Path:
        audio = self.source / "audio"
        return audio if audio.is_dir() else self.source

    def _chord_folder(self) -> Path:
        for candidate in (self.source / "annotations" / Path(*CHORD_FOLDER), self.source / Path(*CHORD_FOLDER)):
            if candidate.is_dir():
                return candidate
        raise MirError(f"{self.source}: no {'/'.join(CHORD_FOLDER)} folder (under SRC or SRC/annotations)")

    def _metadata(self) -> tuple[dict[int, dict[str, str]], list[Problem]]:
        """Piece number → {disc, track, title, artist}."""
        path = self.source / Path(*METADATA_FILE)
        if not path.is_file():
            raise MirError(f"{path}: no such file (maps piece numbers to disc and track)")
        rows = list(csv.reader(read_text_lines(path)))
        header = [c.strip() for c in rows[0]] if rows else []
        for column in ("Piece No.", "Cat. Suffix", "Tr. No."):
            if column not in header:
                raise MirError(f"{path} line 1: no {column!r} column")
        pieces, problems = {}, []
        for line, cells in enumerate(rows[1:], start=2):
            if not cells or all(not c.strip() for c in cells):
                continue
            row = dict(zip(header, (c.strip() for c in cells)))
            piece, disc, track = (_number(row.get(c, "")) for c in ("Piece No.", "Cat. Suffix", "Tr. No."))
            if len(cells) != len(header) or None in (piece, disc, track):
                problems.append(Problem(f"{path} line {line}", "malformed row (piece, disc or track unreadable)"))
                continue
            pieces[piece] = {"disc": disc, "track": track, "title": row.get("Title", ""),
                             "artist": row.get("Artist (Vocal)", "")}
        return pieces, problems

    def _audio_path(self, disc: int, track: int) -> Path | None:
        """``rwc-p-m0K/<track>.wav`` under the audio root (also accepting a zero-padded track name)."""
        for folder in (f"rwc-p-m{disc:02d}", f"RWC-P-M{disc:02d}"):
            for name in (f"{track}.wav", f"{track:02d}.wav"):
                path = self.audio_root / folder / name
                if path.is_file():
                    return path
        return None

    def items(self) -> Iterator[Item | Problem]:
        folder = self._chord_folder()
        pieces, problems = self._metadata()
        yield from problems
        annotated: set[Path] = set()
        for lab in sorted(folder.glob("*.lab")):
            match = LAB_NAME.match(lab.stem)
            if match is None:
                yield Problem(str(lab), "name is not N<piece>-M<disc>-T<track>.lab (skipped)")
                continue
            piece, disc, track = (int(g) for g in match.groups())
            info = pieces.get(piece)
            if info is None:
                yield Problem(str(lab), f"piece {piece} is not in {'/'.join(METADATA_FILE)}")
                continue
            if (info["disc"], info["track"]) != (disc, track):
                yield Problem(str(lab), f"metadata puts piece {piece} on M{info['disc']:02d} Tr. {info['track']:02d}")
                continue
            audio = self._audio_path(disc, track)
            if audio is None:
                yield Problem(str(lab), f"annotation without audio: rwc-p-m{disc:02d}/{track}.wav not found")
                continue
            annotated.add(audio)
            try:
                self.safe_path(audio)
            except MirError as error:
                yield Problem(str(audio), str(error).split(": ", 1)[-1])
                continue
            chords, bad = read_chord_lab(lab)
            if bad:
                yield from bad
                continue
            annotations = {"chord": chords, "piece": [atom(piece)]}
            for name in ("title", "artist"):
                if info[name]:
                    annotations[name] = [atom(info[name])]
            yield Item(self.relative_key(audio, self.audio_root), AudioSource(audio), annotations)
        for audio in audio_files(self.audio_root, (".wav",)):
            if audio not in annotated and DISC_FOLDER.match(audio.parent.name):
                yield Problem(str(audio), "audio without annotation: no chord .lab for it")

    def definitions(self, items: list[Item]) -> dict[str, FieldDefinition]:
        definitions = {"chord": FieldDefinition("segment", "text", "free"),
                       "piece": FieldDefinition("global", "numeric", "free")}
        for name in ("title", "artist"):
            if any(name in i.annotations for i in items):
                definitions[name] = FieldDefinition("global", "text", "free")
        return definitions
