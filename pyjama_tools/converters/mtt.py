"""MagnaTagATune: ``annotations_final.csv`` + ``mp3/<0-9a-f>/<clip>.mp3`` → field ``tag`` (top-N tags).

The annotation file is TAB separated: a header ``clip_id``, 188 tag columns, ``mp3_path``,
then one row per clip with 0/1 cells (the real file quotes every cell, ``"0"``; both forms
are read). The field ``tag`` holds one global atom per active tag among the ``--top-tags``
most frequent tags (counted over every well-formed row of the CSV, ties broken by column
order); its dictionary lists those tags in frequency order. A clip with none of the top tags
is kept with an empty ``tag`` list (usual practice trains on every clip).
``clip_info_final.csv`` (TAB), when present, adds ``title``, ``artist``, ``album`` and
``original_url``; ``clip_id`` is always stored.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from collections.abc import Iterator

import click

from pyjama_tools.audio_store import AudioSource, key_from_relative_path
from pyjama_tools.converters.base import (Converter, ConverterOption, Item, Problem, audio_files,
                                          read_text_lines, register_converter)
from pyjama_tools.core.errors import MirError, ParameterError
from pyjama_tools.pyjama import FieldDefinition, atom

ANNOTATION_FILE = "annotations_final.csv"
CLIP_INFO_FILE = "clip_info_final.csv"
#: clip_info_final.csv column → pyjama field
#: the only cell values of the tag columns
BINARY = frozenset(("0", "1"))
METADATA_FIELDS = {"title": "title", "artist": "artist", "album": "album", "original_url": "original_url"}


def _read_tsv(path: Path) -> list[list[str]]:
    """Rows of a TAB-separated file; quoted cells (``"0"``) are unquoted by the csv module."""
    return list(csv.reader(read_text_lines(path), delimiter="\t", quotechar='"'))


@register_converter
class MttConverter(Converter):
    """SRC holds ``annotations_final.csv`` and the mp3 folders (directly or under ``mp3/``)."""

    name = "mtt"
    default_base = "mtt"
    summary = "MagnaTagATune (annotations_final.csv + mp3/<0-9a-f>/*.mp3) → tag (top N) + metadata"
    options = (
        ConverterOption("top-tags", "keep the N most frequent tags", type=click.IntRange(1), default=50),
        ConverterOption("annotations", f"the tag CSV [default: SRC/{ANNOTATION_FILE}]",
                        type=click.Path(path_type=Path)),
        ConverterOption("clip-info", f"the metadata CSV [default: SRC/{CLIP_INFO_FILE} when present]",
                        type=click.Path(path_type=Path)),
    )

    def __init__(self, source, **options):
        super().__init__(source, **options)
        top = self.option("top_tags")
        if isinstance(top, bool) or not isinstance(top, int) or top < 1:
            raise ParameterError(f"top_tags={top!r}: expected an integer >= 1 (how many of the most frequent tags)")

    @property
    def audio_root(self) -> Path:
        """``SRC/mp3`` when it exists, else SRC (the 16 sub-folders directly in SRC)."""
        mp3 = self.source / "mp3"
        return mp3 if mp3.is_dir() else self.source

    def _annotation_path(self) -> Path:
        path = Path(self.option("annotations") or self.source / ANNOTATION_FILE)
        if not path.is_file():
            raise MirError(f"{path}: no such file (the MagnaTagATune tag CSV)")
        return path

    def _parse_annotations(self, path: Path) -> tuple[list[str], list[tuple[int, str, str, list[int]]], list[Problem]]:
        """(tag names, rows (line, clip_id, mp3_path, active column indices), problems)."""
        rows = _read_tsv(path)
        if not rows:
            raise MirError(f"{path}: empty file")
        header = [cell.strip() for cell in rows[0]]
        if len(header) < 3 or header[0] != "clip_id" or header[-1] != "mp3_path":
            raise MirError(f"{path} line 1: header must be clip_id, <tag columns>, mp3_path "
                           f"(got {', '.join(header[:2])}, ..., {header[-1] if header else ''})")
        tags = header[1:-1]
        parsed, problems = [], []
        for line, cells in enumerate(rows[1:], start=2):
            if not cells or all(not c.strip() for c in cells):
                continue
            where = f"{path} line {line}"
            if len(cells) != len(header):
                problems.append(Problem(where, f"expected {len(header)} cells, got {len(cells)}"))
                continue
            flags = cells[1:-1]
            if not BINARY.issuperset(flags):
                flags = [c.strip() for c in flags]  # tolerate spaces around a cell, then name the first bad one
                bad = next((i for i, c in enumerate(flags) if c not in BINARY), None)
                if bad is not None:
                    problems.append(Problem(where, f"tag '{tags[bad]}': cell {flags[bad]!r} is not 0 or 1"))
                    continue
            parsed.append((line, cells[0].strip(), cells[-1].strip(),
                           [i for i, c in enumerate(flags) if c == "1"]))
        return tags, parsed, problems

    def _metadata(self) -> tuple[dict[str, dict[str, str]], list[Problem]]:
        """clip_id → {field: value} from clip_info_final.csv (empty when absent)."""
        option = self.option("clip_info")
        path = Path(option) if option else self.source / CLIP_INFO_FILE
        if not path.is_file():
            if option:
                raise MirError(f"{path}: no such file (the MagnaTagATune clip info CSV)")
            return {}, []
        rows = _read_tsv(path)
        header = [c.strip() for c in rows[0]] if rows else []
        if "clip_id" not in header:
            raise MirError(f"{path} line 1: no 'clip_id' column")
        columns = {name: header.index(name) for name in METADATA_FIELDS if name in header}
        metadata, problems = {}, []
        for line, cells in enumerate(rows[1:], start=2):
            if not cells or all(not c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                problems.append(Problem(f"{path} line {line}", f"expected {len(header)} cells, got {len(cells)}"))
                continue
            clip_id = cells[header.index("clip_id")].strip()
            metadata[clip_id] = {METADATA_FIELDS[name]: cells[i].strip() for name, i in columns.items()
                                 if cells[i].strip()}
        return metadata, problems

    def items(self) -> Iterator[Item | Problem]:
        path = self._annotation_path()
        tags, rows, problems = self._parse_annotations(path)
        yield from problems
        metadata, meta_problems = self._metadata()
        yield from meta_problems
        counts = Counter(i for _, _, _, active in rows for i in active)
        # most frequent first; ties keep the CSV's column order (sorted() is stable)
        ranked = sorted(counts, key=lambda i: (-counts[i], i))[: self.option("top_tags")]
        self._top_tags = [tags[i] for i in ranked]
        rank = {column: position for position, column in enumerate(ranked)}
        root = self.audio_root
        annotated: set[Path] = set()  # as the folder walk below spells them (not resolved)
        for line, clip_id, mp3_path, active in rows:
            where = f"{path} line {line}"
            if not mp3_path:
                yield Problem(where, "empty mp3_path")
                continue
            annotated.add(root / mp3_path)
            try:
                key = key_from_relative_path(mp3_path)
                audio = self.safe_path(mp3_path, root)
            except MirError as error:
                yield Problem(where, f"mp3_path {mp3_path!r}: {str(error).split(': ', 1)[-1]}")
                continue
            if not audio.is_file():
                yield Problem(where, f"annotation without audio: {root / mp3_path} not found")
                continue
            annotations = {"tag": [atom(tags[i]) for i in sorted((i for i in active if i in rank), key=rank.get)]}
            try:
                annotations["clip_id"] = [atom(int(clip_id))]
            except ValueError:
                annotations["clip_id"] = [atom(clip_id)]
            for field_name, value in metadata.get(clip_id, {}).items():
                annotations[field_name] = [atom(value)]
            yield Item(key, AudioSource(audio), annotations)
        for audio in audio_files(root, (".mp3",)):
            if audio not in annotated:
                yield Problem(str(audio), f"audio without annotation: not listed in {path.name}")

    def definitions(self, items: list[Item]) -> dict[str, FieldDefinition]:
        definitions = {"tag": FieldDefinition("global", "text", "value_in_dictionary", list(self._top_tags))}
        numeric = all(isinstance(i.annotations["clip_id"][0]["value"], int) for i in items)
        definitions["clip_id"] = FieldDefinition("global", "numeric" if numeric else "text", "free")
        for field_name in METADATA_FIELDS.values():
            if any(field_name in i.annotations for i in items):
                definitions[field_name] = FieldDefinition("global", "text", "free")
        return definitions
