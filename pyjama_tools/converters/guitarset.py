"""GuitarSet as published: ``annotation/<id>.jams`` beside the audio folders → notes and f0 per string.

Layout read (SRC is the GuitarSet root)::

    annotation/<id>.jams                              JAMS 0.3: per string (data_source "0" = low E ... "5" =
                                                      high e) a pitch_contour and a note_midi annotation;
                                                      beat_position, tempo, two chord annotations, key_mode
    audio_mono-mic/<id>_mic.wav                       --audio mic (default)
    audio_mono-pickup_mix/<id>_mix.wav                --audio mix
    audio_hex-pickup_original/<id>_hex.wav            --audio hex (6 channels, mixed down to mono)
    audio_hex-pickup_debleeded/<id>_hex_cln.wav       --audio hex_cln (6 channels, mixed down to mono)

``<id>`` reads ``<player>_<style><progression>-<tempo>-<key>_<mode>`` (``03_BN3-119-G_solo``). Keys are the
audio paths relative to SRC (``audio_mono-mic+++03_BN3-119-G_solo_mic.wav``).

Fields
------
- ``f0multi_hz``: one breakpoint atom, value (6, N) in Hz, one row per string named by its data_source
  (``row_name`` E, A, D, G, B, e: low to high), all strings on one time grid: k · 256 / 44100 s from 0 to
  the last contour point. GuitarSet's contours are frames of that hop, but their times are offset from
  the grid by a fraction of a hop (0.13 hop on mirdata's sample), differently per file; each point goes to
  its nearest grid frame (mirdata fills each string's contour the same way). 0 where a string is unvoiced
  or has no contour point;
- ``pitchmidi``: every note of every string (segments: onset s, duration s, value MIDI, fractional as
  annotated), by onset; ``pitchmidi_E`` ... ``pitchmidi_e``: each string's notes;
- ``beat``: marker, value = the beat's position in its bar (1 = downbeat);
- ``chord_leadsheet`` (the first chord annotation: the chords of the lead sheet the player was given) and
  ``chord_inferred`` (the second: chords transcribed from what was played), Harte labels, segments;
- ``key`` (segments, e.g. ``G:major``), ``tempo`` (global, bpm), ``player`` (``00``-``05``), ``style``
  (Bossa Nova, Funk, Jazz, Rock, Singer-Songwriter), ``mode`` (comp | solo).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import click
import numpy as np

from pyjama_tools.audio_store import AudioSource
from pyjama_tools.converters.base import Converter, ConverterOption, Item, Problem, audio_files, register_converter
from pyjama_tools.converters.jams import JamsFormatError, annotation_atoms, data_source, read_jams
from pyjama_tools.core.errors import MirError
from pyjama_tools.pyjama import FieldDefinition, atom, breakpoint_atom

#: string names by data_source ("0" … "5"), low to high (mirdata's names)
STRINGS = ("E", "A", "D", "G", "B", "e")
#: style code of the file name → style
STYLES = {"BN": "Bossa Nova", "Funk": "Funk", "Jazz": "Jazz", "Rock": "Rock", "SS": "Singer-Songwriter"}
#: chord annotations in file order → field
CHORD_FIELDS = ("chord_leadsheet", "chord_inferred")
#: hop (s) of GuitarSet's pitch contours (pYIN frames of 256 samples at 44.1 kHz), the grid of ``f0multi_hz``
CONTOUR_HOP = 256 / 44100
_ID = re.compile(r"^(?P<player>\d+)_(?P<style>[A-Za-z]+?)(?P<progression>\d+)-(?P<tempo>\d+)-(?P<key>[^_]+)_"
                 r"(?P<mode>comp|solo)$")


@dataclass(frozen=True)
class AudioVersion:
    """One of GuitarSet's audio folders: where its files lie and how their names end."""

    folder: str
    suffix: str


#: ``--audio`` choice → its folder and file-name ending
AUDIO_VERSIONS = {
    "mic": AudioVersion("audio_mono-mic", "_mic.wav"),
    "mix": AudioVersion("audio_mono-pickup_mix", "_mix.wav"),
    "hex": AudioVersion("audio_hex-pickup_original", "_hex.wav"),
    "hex_cln": AudioVersion("audio_hex-pickup_debleeded", "_hex_cln.wav"),
}


def string_index(annotation: dict[str, Any], where: str) -> int:
    """Row of a per-string annotation: its data_source 0-5."""
    source = data_source(annotation)
    if source not in {str(i) for i in range(len(STRINGS))}:
        raise JamsFormatError(f"{where}: data_source {source!r} is not a string number 0-5")
    return int(source)


def strings_on_one_grid(contours: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """One breakpoint atom (6, N) Hz on the grid k · :data:`CONTOUR_HOP` s, k = 0 … the last contour point.

    ``contours``: string → its contour atom (time (n,), value (rows, n); rows beyond one, i.e. contours of
    one string that overlap in time, keep the higher value). Each point goes to its nearest grid frame.
    """
    last = max(max(c["time"]) for c in contours.values())
    grid = np.arange(round(last / CONTOUR_HOP) + 1) * CONTOUR_HOP
    matrix = np.zeros((len(STRINGS), len(grid)))
    for string, contour in contours.items():
        frames = np.round(np.asarray(contour["time"], dtype=float) / CONTOUR_HOP).astype(int)
        matrix[string, frames] = np.asarray(contour["value"], dtype=float).max(axis=0)
    return breakpoint_atom(grid, matrix)


def guitarset_fields(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The fields (see the module docstring) of one GuitarSet JAMS document; JamsFormatError when malformed."""
    contours: dict[int, dict[str, Any]] = {}
    notes: dict[int, list[dict[str, Any]]] = {}
    fields: dict[str, list[dict[str, Any]]] = {}
    chords = 0
    for index, annotation in enumerate(data["annotations"]):
        where = f"annotation {index}"
        namespace, atoms = annotation_atoms(annotation, where)
        if namespace == "pitch_contour":
            string = string_index(annotation, where)
            if string in contours:
                raise JamsFormatError(f"{where}: a second pitch_contour for string {STRINGS[string]}")
            if atoms:
                contours[string] = atoms[0]
        elif namespace == "note_midi":
            string = string_index(annotation, where)
            if string in notes:
                raise JamsFormatError(f"{where}: a second note_midi for string {STRINGS[string]}")
            notes[string] = atoms
        elif namespace == "beat_position":
            fields["beat"] = atoms
        elif namespace == "chord":
            if chords >= len(CHORD_FIELDS):
                raise JamsFormatError(f"{where}: a third chord annotation (GuitarSet has two)")
            fields[CHORD_FIELDS[chords]] = atoms
            chords += 1
        elif namespace == "key_mode":
            fields["key"] = atoms
        elif namespace == "tempo":
            fields["tempo"] = [atom(a["value"], confidence=a.get("confidence")) for a in atoms[:1]]
    fields["f0multi_hz"] = [strings_on_one_grid(contours)] if contours else []
    every = sorted((n for string_notes in notes.values() for n in string_notes), key=lambda n: (n["time"], n["value"]))
    fields["pitchmidi"] = every
    for string, name in enumerate(STRINGS):
        fields[f"pitchmidi_{name}"] = notes.get(string, [])
    return fields


@register_converter
class GuitarSetConverter(Converter):
    """SRC is the GuitarSet root: ``annotation/*.jams`` and the audio folders."""

    name = "guitarset"
    default_base = "guitarset"
    summary = ("GuitarSet (annotation/*.jams + audio_mono-mic/*_mic.wav, ...) → f0multi_hz (6 strings), "
               "pitchmidi per string, beat, chords, key, tempo, player, style, mode")
    options = (ConverterOption("audio", "which recording to store", type=click.Choice(list(AUDIO_VERSIONS)),
                               default="mic"),)

    def __init__(self, source, **options: Any):
        super().__init__(source, **options)
        if self.option("audio") not in AUDIO_VERSIONS:
            raise MirError(f"--audio {self.option('audio')!r}: not one of {', '.join(AUDIO_VERSIONS)}")

    def items(self) -> Iterator[Item | Problem]:
        version = AUDIO_VERSIONS[self.option("audio")]
        annotations, audio_root = self.source / "annotation", self.source / version.folder
        for folder in (annotations, audio_root):
            if not folder.is_dir():
                raise MirError(f"{self.source}: no '{folder.name}' folder (expected the GuitarSet root: "
                               f"annotation/*.jams, {version.folder}/*{version.suffix})")
        listed: set[Path] = set()
        for path in sorted(annotations.glob("*.jams")):
            audio = audio_root / f"{path.stem}{version.suffix}"
            listed.add(audio)
            if not audio.is_file():
                yield Problem(str(path), f"no audio file {version.folder}/{audio.name} (skipped)")
                continue
            try:
                self.safe_path(audio)
                fields = guitarset_fields(read_jams(path))
            except JamsFormatError as error:
                yield Problem(str(path), str(error))
                continue
            except MirError as error:  # safe_path: a link leading outside SRC
                yield Problem(str(audio), str(error).split(": ", 1)[-1])
                continue
            match = _ID.match(path.stem)
            if match is None:
                yield Problem(str(path), "name is not <player>_<style><n>-<tempo>-<key>_<comp|solo> "
                                         "(player, style, mode left out)")
            else:
                fields["player"] = [atom(match["player"])]
                fields["style"] = [atom(STYLES.get(match["style"], match["style"]))]
                fields["mode"] = [atom(match["mode"])]
            yield Item(self.relative_key(audio), AudioSource(audio), fields)
        for audio in audio_files(audio_root, (".wav",)):
            if audio not in listed:
                yield Problem(str(audio), f"audio without annotation: no annotation/"
                                          f"{audio.name[: -len(version.suffix)]}.jams")

    def definitions(self, items: list[Item]) -> dict[str, FieldDefinition]:
        definitions = {
            "f0multi_hz": FieldDefinition("breakpoint", "numeric", "free", row_name=list(STRINGS)),
            "pitchmidi": FieldDefinition("segment", "numeric", "free"),
            **{f"pitchmidi_{s}": FieldDefinition("segment", "numeric", "free") for s in STRINGS},
            "beat": FieldDefinition("marker", "numeric", "free"),
        }
        for name in (*CHORD_FIELDS, "key"):
            if any(name in i.annotations for i in items):
                definitions[name] = FieldDefinition("segment", "text", "free")
        if any("tempo" in i.annotations for i in items):
            definitions["tempo"] = FieldDefinition("global", "numeric", "free")
        for name, known in (("player", ()), ("style", tuple(STYLES.values())), ("mode", ("comp", "solo"))):
            found = {i.annotations[name][0]["value"] for i in items if name in i.annotations}
            if found:
                definitions[name] = FieldDefinition("global", "text", "value_in_dictionary", sorted(found | set(known)))
        return definitions
