"""MAESTRO: aligned piano audio + MIDI → ``pitchmidi`` notes, ``velocity``, ``split``, ``composer``, ``title``, ``year``.

The metadata is ``maestro-v*.json`` or ``maestro-v*.csv`` with the columns ``canonical_composer``,
``canonical_title``, ``split``, ``year``, ``midi_filename``, ``audio_filename``, ``duration``; paths are
relative to SRC. Both shapes of the published JSON are read, whatever the version: a list of records
(``[{"canonical_composer": ..., ...}, ...]``, v2.0.0 as in mirdata's sample) and column oriented
(``{"midi_filename": {"0": ...}}``, v3.0.0); the CSV beside it has the same columns. The newest version found is
used; when its JSON cannot be read and the CSV is
beside it, the CSV is read instead (the JSON's error is reported).
Notes are read with pretty_midi: note-on/note-off pairs, the sustain pedal ignored (as in the
MAESTRO paper's note-level ground truth without pedal extension). ``velocity`` is one segment per note,
in the same order and with the same time and duration as ``pitchmidi`` (value: MIDI velocity 1–127).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import click

from pyjama_tools.audio_store import AudioSource, key_from_relative_path
from pyjama_tools.converters.base import (Converter, ConverterOption, Item, Problem, audio_files,
                                          read_text_lines, register_converter)
from pyjama_tools.core.errors import MirError
from pyjama_tools.core.textfile import read_json
from pyjama_tools.pyjama import FieldDefinition, atom

REQUIRED_COLUMNS = ("midi_filename", "audio_filename")
#: metadata column → pyjama field
TEXT_FIELDS = {"split": "split", "canonical_composer": "composer", "canonical_title": "title"}
SPLITS = ("train", "validation", "test")


def read_midi_notes(path: Path) -> tuple[list[dict], list[dict]]:
    """Segment atoms of every note, sorted by onset: (pitches, velocities).

    Both lists have one atom per note, in the same order, with time = onset (s) and duration (s);
    the value is the MIDI pitch in the first, the MIDI velocity (1–127) in the second.

    Raises
    ------
    MirError
        The file cannot be parsed as MIDI.
    """
    import pretty_midi  # imported here: only MIDI corpora need it

    try:
        midi = pretty_midi.PrettyMIDI(str(path))
    except Exception as error:  # mido/pretty_midi raise OSError, EOFError, ValueError, KeySignatureError...
        raise MirError(f"{path}: not a readable MIDI file ({str(error).strip() or type(error).__name__})") from None
    notes = sorted((n for inst in midi.instruments if not inst.is_drum for n in inst.notes),
                   key=lambda n: (n.start, n.pitch))
    spans = [(float(n.start), float(max(n.end - n.start, 0.0))) for n in notes]
    return ([atom(int(n.pitch), time=t, duration=d) for n, (t, d) in zip(notes, spans)],
            [atom(int(n.velocity), time=t, duration=d) for n, (t, d) in zip(notes, spans)])


def read_metadata(path: Path) -> list[tuple[str, dict[str, str]]]:
    """Rows ``(where, {column: value})`` of a MAESTRO metadata JSON or CSV.

    Raises
    ------
    MirError
        Malformed JSON / CSV, or a required column missing.
    """
    if path.suffix.lower() == ".json":
        data = read_json(path)
        if isinstance(data, list):  # v2.0.0: one record per performance
            if not all(isinstance(record, dict) for record in data):
                raise MirError(f"{path}: expected a list of records [{{column: value}}, ...]")
            columns = list(dict.fromkeys(c for record in data for c in record))
            rows = [(f"{path} row {index}", record) for index, record in enumerate(data)]
        elif isinstance(data, dict) and all(isinstance(v, dict) for v in data.values()):  # v3.0.0
            columns = list(data)
            rows_ids = list(data.get(REQUIRED_COLUMNS[0], {}))
            rows = [(f"{path} row {row}", {c: data[c].get(row) for c in columns}) for row in rows_ids]
        else:
            raise MirError(f"{path}: expected a list of records [{{column: value}}, ...] (v2) "
                           f"or a column-oriented object {{column: {{row: value}}}} (v3)")
    else:
        table = list(csv.reader(read_text_lines(path)))
        if not table:
            raise MirError(f"{path}: empty file")
        columns = [c.strip() for c in table[0]]
        rows = []
        for line, cells in enumerate(table[1:], start=2):
            if not cells or all(not c.strip() for c in cells):
                continue
            if len(cells) != len(columns):
                rows.append((f"{path} line {line}", {"__error__": f"expected {len(columns)} cells, got {len(cells)}"}))
                continue
            rows.append((f"{path} line {line}", dict(zip(columns, cells))))
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise MirError(f"{path}: no {', '.join(missing)} column")
    return rows


@register_converter
class MaestroConverter(Converter):
    """SRC holds ``maestro-v*.json`` (or ``.csv``) and the year folders of ``.midi`` + ``.wav``."""

    name = "maestro"
    default_base = "maestro"
    summary = "MAESTRO v1/v2/v3 (metadata JSON/CSV + .midi + .wav) → pitchmidi, velocity, split, composer, title, year"
    options = (ConverterOption("metadata", "the metadata JSON or CSV [default: the newest SRC/maestro-v*.json, else its .csv]",
                               type=click.Path(path_type=Path)),)

    def _metadata_paths(self) -> list[Path]:
        """Metadata files to try, in order: ``--metadata``, else the newest version's JSON, then its CSV."""
        option = self.option("metadata")
        if option is not None:
            if not Path(option).is_file():
                raise MirError(f"{option}: no such metadata file")
            return [Path(option)]
        found = sorted(self.source.glob("maestro-v*.json")) + sorted(self.source.glob("maestro-v*.csv"))
        if not found:
            raise MirError(f"{self.source}: no maestro-v*.json or maestro-v*.csv metadata file")
        newest = max(p.stem for p in found)  # maestro-v3.0.0 > maestro-v2.0.0
        return [p for p in found if p.stem == newest]

    def _read_metadata(self) -> tuple[Path, list[tuple[str, dict[str, Any]]], list[Problem]]:
        """(file read, its rows, problems of the files tried before it); the first readable file wins."""
        paths = self._metadata_paths()
        problems: list[Problem] = []
        for index, path in enumerate(paths):
            try:
                return path, read_metadata(path), problems
            except MirError as error:
                if index == len(paths) - 1:
                    raise
                problems.append(Problem(str(path), f"{str(error).split(': ', 1)[-1]}; "
                                                   f"read {paths[index + 1].name} instead"))
        raise AssertionError("unreachable")  # pragma: no cover

    def _path(self, value: Any, column: str) -> tuple[str, Path]:
        """(key, resolved path) of a metadata path cell; MirError when it is not a relative path inside SRC."""
        if not isinstance(value, str) or not value.strip():
            raise MirError(f"{column} is empty")
        key = key_from_relative_path(value.strip())
        return key, self.safe_path(value.strip())

    def items(self) -> Iterator[Item | Problem]:
        path, rows, problems = self._read_metadata()
        yield from problems
        annotated: set[Path] = set()  # as the folder walk below spells them (not resolved)
        for where, row in rows:
            if "__error__" in row:
                yield Problem(where, row["__error__"])
                continue
            if isinstance(row.get("audio_filename"), str):
                annotated.add(self.source / row["audio_filename"].strip())
            try:
                key, audio = self._path(row.get("audio_filename"), "audio_filename")
                _, midi = self._path(row.get("midi_filename"), "midi_filename")
            except MirError as error:
                yield Problem(where, str(error))
                continue
            if not audio.is_file():
                yield Problem(where, f"annotation without audio: {row['audio_filename']} not found")
                continue
            if not midi.is_file():
                yield Problem(where, f"audio without annotation: {row['midi_filename']} not found")
                continue
            try:
                notes, velocities = read_midi_notes(midi)
            except MirError as error:
                yield Problem(where, str(error))
                continue
            annotations: dict[str, list] = {"pitchmidi": notes, "velocity": velocities}
            for column, field_name in TEXT_FIELDS.items():
                value = row.get(column)
                if value not in (None, ""):
                    annotations[field_name] = [atom(str(value))]
            year = row.get("year")
            if year not in (None, ""):
                try:
                    annotations["year"] = [atom(int(str(year).strip()))]
                except ValueError:
                    yield Problem(where, f"year {year!r} is not a whole number")
                    continue
            if annotations.get("split") and annotations["split"][0]["value"] not in SPLITS:
                yield Problem(where, f"split {annotations['split'][0]['value']!r} not one of {', '.join(SPLITS)}")
                continue
            yield Item(key, AudioSource(audio), annotations)
        for audio in audio_files(self.source, (".wav", ".flac")):
            if audio not in annotated:
                yield Problem(str(audio), f"audio without annotation: not listed in {path.name}")

    def definitions(self, items: list[Item]) -> dict[str, FieldDefinition]:
        definitions = {"pitchmidi": FieldDefinition("segment", "numeric", "free"),
                       "velocity": FieldDefinition("segment", "numeric", "free")}
        if any("split" in i.annotations for i in items):
            definitions["split"] = FieldDefinition("global", "text", "value_in_dictionary", list(SPLITS))
        for field_name in ("composer", "title"):
            if any(field_name in i.annotations for i in items):
                definitions[field_name] = FieldDefinition("global", "text", "free")
        if any("year" in i.annotations for i in items):
            definitions["year"] = FieldDefinition("global", "numeric", "free")
        return definitions
