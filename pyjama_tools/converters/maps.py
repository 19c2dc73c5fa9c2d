"""MAPS piano: ``[...]/<piano>/{ISOL,RAND,UCHO,MUS}/.../MAPS_*.wav`` + same-name ``.txt`` → ``pitchmidi`` notes.

Each ``.txt`` is TAB separated with CRLF line ends and a header ``OnsetTime OffsetTime MidiPitch``
(seconds, seconds, MIDI); every row becomes exactly one segment atom (value = MIDI pitch,
time = onset, duration = offset − onset). Fields ``piano`` (the top folder, e.g. ``ENSTDkCl``)
and ``category`` (ISOL / RAND / UCHO / MUS) are added. A file with a malformed line is skipped
whole (a partial note list would teach wrong targets); each bad line is reported.
"""

from __future__ import annotations

import math
from pathlib import Path
from collections.abc import Iterator

from pyjama_tools.audio_store import AudioSource
from pyjama_tools.converters.base import (Converter, Item, Problem, audio_files, read_text_lines,
                                          register_converter)
from pyjama_tools.core.errors import MirError
from pyjama_tools.pyjama import FieldDefinition, atom

CATEGORIES = ("ISOL", "RAND", "UCHO", "MUS")
HEADER = ("OnsetTime", "OffsetTime", "MidiPitch")


def read_note_table(path: Path) -> tuple[list[dict], list[Problem]]:
    """Segment atoms of a MAPS ``.txt`` (one per row) and a problem for each malformed line.

    Returns
    -------
    atoms : list of dict
        ``{"value": midi (int), "time": onset (s), "duration": offset - onset (s)}`` in file order.
    problems : list of Problem
        Each names the file and the 1-based line number.
    """
    lines = read_text_lines(path)
    atoms: list[dict] = []
    problems: list[Problem] = []
    if not lines or tuple(lines[0].split()) != HEADER:
        return [], [Problem(f"{path} line 1", f"header must be {' '.join(HEADER)} (TAB separated)")]
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        cells = line.split()
        if len(cells) != 3:
            problems.append(Problem(where, f"expected 3 cells (onset, offset, MIDI pitch), got {len(cells)}"))
            continue
        try:
            onset, offset, pitch = (float(c) for c in cells)
        except ValueError:
            problems.append(Problem(where, f"not numbers: {line.strip()!r}"))
            continue
        if not all(math.isfinite(v) for v in (onset, offset, pitch)) or onset < 0:
            problems.append(Problem(where, f"onset {onset} / offset {offset} / pitch {pitch} not valid"))
        elif offset < onset:
            problems.append(Problem(where, f"offset {offset} s is before onset {onset} s"))
        elif pitch != int(pitch) or not 0 <= pitch <= 127:
            problems.append(Problem(where, f"MIDI pitch {cells[2]!r} is not an integer in 0..127"))
        else:
            atoms.append(atom(int(pitch), time=onset, duration=round(offset - onset, 9)))
    return atoms, problems


@register_converter
class MapsConverter(Converter):
    """SRC holds the piano folders (``ENSTDkCl``, ``AkPnBcht``, ...)."""

    name = "maps"
    default_base = "maps"
    summary = "MAPS piano (<piano>/<category>/.../MAPS_*.wav + .txt) → pitchmidi notes, piano, category"

    def items(self) -> Iterator[Item | Problem]:
        wavs = audio_files(self.source, (".wav",))
        wav_stems = {p.with_suffix("") for p in wavs}
        for text in sorted(self.source.rglob("MAPS_*.txt")):
            if text.with_suffix("") not in wav_stems:
                yield Problem(str(text), "annotation without audio: no .wav beside it")
        for path in wavs:
            try:
                self.safe_path(path)
            except MirError as error:
                yield Problem(str(path), str(error).split(": ", 1)[-1])
                continue
            relative = path.relative_to(self.source)
            # the category folder follows the piano folder; SRC may hold extra levels above them
            # (the distribution's zips unpack as MAPS_<piano>_N/<piano>/...)
            level = next((i for i, part in enumerate(relative.parts[:-1]) if i >= 1 and part in CATEGORIES), None)
            if level is None:
                yield Problem(str(path), f"not under <piano>/{{{','.join(CATEGORIES)}}}/ (skipped)")
                continue
            text = path.with_suffix(".txt")
            if not text.is_file():
                yield Problem(str(path), f"audio without annotation: {text.name} not found")
                continue
            notes, problems = read_note_table(text)
            if problems:
                yield from problems
                continue
            annotations = {"pitchmidi": notes, "piano": [atom(relative.parts[level - 1])],
                           "category": [atom(relative.parts[level])]}
            yield Item(self.relative_key(path), AudioSource(path), annotations)

    def definitions(self, items: list[Item]) -> dict[str, FieldDefinition]:
        pianos = sorted({i.annotations["piano"][0]["value"] for i in items})
        return {
            "pitchmidi": FieldDefinition("segment", "numeric", "free"),
            "piano": FieldDefinition("global", "text", "value_in_dictionary", pianos),
            "category": FieldDefinition("global", "text", "value_in_dictionary", list(CATEGORIES)),
        }
