"""GTZAN genre: ``genres/<genre>/<genre>.000NN.wav`` → field ``genre`` (+ ``split``, ``beat``, ``tempo``).

``split`` comes from the fault-filtered lists (``--split-lists DIR``). Beats and tempo come from the
``gtzan_tempo_beat`` annotations (github.com/TempoBeatDownbeat/gtzan_tempo_beat, the folder mirdata
downloads as ``gtzan_tempo_beat-main``): ``beats/gtzan_<genre>_<NNNNN>.beats`` (one beat per line: time in
s, TAB, position in the bar 1, 2, ...) and ``tempo/gtzan_<genre>_<NNNNN>.bpm`` (one number, beats per
minute). The folder is ``--tempo-beat DIR``, else ``gtzan_tempo_beat-main`` (or ``gtzan_tempo_beat``) in SRC
or beside it (mirdata's layout: ``gtzan_genre/genres`` and ``gtzan_tempo_beat-main`` side by side).
``beat`` is a marker field whose value is the position in the bar (0 when the file gives times only);
``tempo`` is a global number (bpm). A clip without its beat or tempo file keeps its genre (reported).
"""

from __future__ import annotations

import math
from pathlib import Path
from collections.abc import Iterator

import click

from pyjama_tools.audio_store import AudioSource
from pyjama_tools.converters.base import (Converter, ConverterOption, Item, Problem, audio_files,
                                          read_text_lines, register_converter)
from pyjama_tools.core.errors import MirError
from pyjama_tools.pyjama import FieldDefinition, atom

#: split-list file name → value of the ``split`` field
SPLIT_FILES = {"train_filtered.txt": "train", "valid_filtered.txt": "valid", "test_filtered.txt": "test"}
#: names of the tempo/beat annotation folder looked for in SRC and beside it
TEMPO_BEAT_FOLDERS = ("gtzan_tempo_beat-main", "gtzan_tempo_beat")


def read_beats(path: Path) -> list[dict]:
    """Marker atoms of a ``.beats`` file (time s, value = position in the bar, 0 when not given).

    Raises
    ------
    MirError
        A line that is not one or two numbers, or a negative / non-finite time (names file and line).
    """
    atoms = []
    for line, text in enumerate(read_text_lines(path), start=1):
        cells = text.split()
        if not cells:
            continue
        try:
            numbers = [float(c) for c in cells]
        except ValueError:
            numbers = []
        if len(numbers) not in (1, 2) or not math.isfinite(numbers[0]) or numbers[0] < 0:
            raise MirError(f"{path} line {line}: expected 'time [position]' (numbers, time >= 0), got {text.strip()!r}")
        position = numbers[1] if len(numbers) == 2 else 0
        atoms.append(atom(int(position) if float(position).is_integer() else position, time=numbers[0]))
    return atoms


def read_tempo(path: Path) -> float:
    """The tempo (bpm) of a ``.bpm`` file; MirError unless it holds one positive number."""
    cells = " ".join(read_text_lines(path)).split()
    try:
        tempo = float(cells[0]) if len(cells) == 1 else math.nan
    except ValueError:
        tempo = math.nan
    if not math.isfinite(tempo) or tempo <= 0:
        raise MirError(f"{path}: expected one tempo in bpm (a positive number), got {' '.join(cells)[:40]!r}")
    return tempo


@register_converter
class GtzanConverter(Converter):
    """SRC holds ``genres/``; keys are relative to ``genres/`` (``country+++country.00000.wav``)."""

    name = "gtzan"
    default_base = "gtzan-genre"
    summary = "GTZAN genre (genres/<genre>/*.wav) → genre [+ split, beat, tempo]"
    options = (ConverterOption("split-lists", "folder with train/valid/test_filtered.txt",
                               type=click.Path(path_type=Path)),
               ConverterOption("tempo-beat", "the gtzan_tempo_beat folder (beats/, tempo/) [default: "
                                             "gtzan_tempo_beat-main in SRC or beside it, when present]",
                               type=click.Path(path_type=Path)))

    @property
    def root(self) -> Path:
        root = self.source / "genres"
        if not root.is_dir():
            raise MirError(f"{self.source}: no 'genres' folder (expected SRC/genres/<genre>/*.wav)")
        return root

    def _splits(self) -> dict[str, str]:
        """Relative path (``blues/blues.00000.wav``) → split name, from the split lists."""
        folder = self.option("split_lists")
        if folder is None:
            return {}
        folder = Path(folder)
        splits: dict[str, str] = {}
        found = False
        for file_name, split in SPLIT_FILES.items():
            path = folder / file_name
            if not path.exists():
                continue
            found = True
            for line in read_text_lines(path):
                if line.strip():
                    splits[line.strip()] = split
        if not found:
            raise MirError(f"{folder}: none of {', '.join(SPLIT_FILES)} found")
        return splits

    def _tempo_beat_folder(self) -> Path | None:
        """The beats/tempo annotation folder: the option, else one found in SRC or beside it, else None."""
        option = self.option("tempo_beat")
        if option is not None:
            folder = Path(option)
            if not (folder / "beats").is_dir() and not (folder / "tempo").is_dir():
                raise MirError(f"{folder}: no 'beats' or 'tempo' folder (expected the gtzan_tempo_beat folder)")
            return folder
        for parent in (self.source, self.source.parent):
            for name in TEMPO_BEAT_FOLDERS:
                if (parent / name / "beats").is_dir() or (parent / name / "tempo").is_dir():
                    return parent / name
        return None

    def _tempo_beat(self, folder: Path, relative: Path) -> Iterator[tuple[str, list[dict]] | Problem]:
        """``("beat", atoms)`` and ``("tempo", atoms)`` of one clip, or a Problem for each file missing or bad."""
        stem = "gtzan_" + relative.stem.replace(".", "_")  # country/country.00000.wav → gtzan_country_00000
        for field_name, path, reader in (("beat", folder / "beats" / f"{stem}.beats", read_beats),
                                         ("tempo", folder / "tempo" / f"{stem}.bpm", read_tempo)):
            if not path.is_file():
                yield Problem(str(path), f"no {field_name} annotation for {relative.as_posix()} (genre kept)")
                continue
            try:
                value = reader(path)
            except MirError as error:  # "PATH: ..." or "PATH line N: ...": the Problem names PATH
                detail = str(error).removeprefix(str(path)).removeprefix(":").strip()
                yield Problem(str(path), f"{detail} ({field_name} left out)")
                continue
            yield field_name, value if field_name == "beat" else [atom(value)]

    def items(self) -> Iterator[Item | Problem]:
        root = self.root
        splits = self._splits()
        tempo_beat = self._tempo_beat_folder()
        for path in audio_files(root):
            relative = path.relative_to(root)
            if len(relative.parts) != 2:
                yield Problem(str(path), "not in genres/<genre>/ (skipped)")
                continue
            try:
                self.safe_path(path, root)
            except MirError as error:
                yield Problem(str(path), str(error).split(": ", 1)[-1])
                continue
            annotations = {"genre": [atom(relative.parts[0])]}
            split = splits.get(relative.as_posix())
            if split is not None:
                annotations["split"] = [atom(split)]
            if tempo_beat is not None:
                for result in self._tempo_beat(tempo_beat, relative):
                    if isinstance(result, Problem):
                        yield result
                    else:
                        annotations[result[0]] = result[1]
            yield Item(self.relative_key(path, root), AudioSource(path), annotations)

    def definitions(self, items: list[Item]) -> dict[str, FieldDefinition]:
        genres = sorted({i.annotations["genre"][0]["value"] for i in items})
        definitions = {"genre": FieldDefinition("global", "text", "value_in_dictionary", genres)}
        if any("split" in i.annotations for i in items):
            definitions["split"] = FieldDefinition("global", "text", "value_in_dictionary", ["train", "valid", "test"])
        if any("beat" in i.annotations for i in items):
            definitions["beat"] = FieldDefinition("marker", "numeric", "free")
        if any("tempo" in i.annotations for i in items):
            definitions["tempo"] = FieldDefinition("global", "numeric", "free")
        return definitions
