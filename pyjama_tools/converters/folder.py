"""Any audio tree → global labels per file (field ``label`` or ``--field NAME``; one atom per label).

The labels of a file come from one of:

- its parent folder's name (``SRC/<label>/.../file.wav``), the default. A label is never guessed
  from a folder when a label file lies beside the audio (``file.txt`` beside ``file.wav``, as IRMAS's
  test excerpts ship their instruments): such a file is reported and skipped, naming the option to use;
- ``--label-files SUFFIX`` (e.g. ``.txt``): the same-stem file with that suffix beside the audio, one
  label per line (blank lines skipped, spaces and TABs around a label stripped); a file without one
  takes its parent folder's name;
- a CSV/TSV (``--labels FILE --key-column COL --label-column COL``) whose key column holds the path
  relative to SRC; its delimiter is sniffed (comma, TAB or semicolon). When the label column is the
  last one, the cells after it are further labels of the row (MTG-Jamendo's TSV lists a track's tags
  that way). A file missing from the labels file and a label naming a missing file are both reported.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from collections.abc import Iterator

import click

from pyjama_tools.audio_store import AudioSource
from pyjama_tools.converters.base import (Converter, ConverterOption, Item, Problem, audio_files, broken_links,
                                          printable, read_text_lines, register_converter)
from pyjama_tools.core.errors import MirError
from pyjama_tools.pyjama import FieldDefinition, atom


def read_label_table(path: Path, key_column: str, label_column: str) -> list[tuple[int, str, list[str], str | None]]:
    """Rows ``(line, key, labels, problem)`` of a CSV/TSV with a header; the delimiter is sniffed.

    ``labels`` holds the label cell, and every cell after it when the label column is the last one
    (several labels per row; empty cells dropped). ``problem`` is None for a well-formed row, else what
    is wrong with it (e.g. the cell count).

    Raises
    ------
    MirError
        Empty file, or a column that the header lacks (the message lists the header).
    """
    lines = read_text_lines(path)
    if not lines:
        raise MirError(f"{path}: empty labels file")
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines[:20]), delimiters=",\t;")
        delimiter = dialect.delimiter
    except csv.Error:  # one column or ambiguous: the header tells
        delimiter = "\t" if "\t" in lines[0] else ","
    rows = list(csv.reader(lines, delimiter=delimiter))
    header = [c.strip() for c in rows[0]]
    for option, column in (("--key-column", key_column), ("--label-column", label_column)):
        if column not in header:
            raise MirError(f"{path} line 1: {option} {column!r} is not a column (columns: {', '.join(header)})")
    key_index, label_index = header.index(key_column), header.index(label_column)
    several = label_index == len(header) - 1  # the cells after the last column are more labels
    table = []
    for line, cells in enumerate(rows[1:], start=2):
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(cells) < len(header) or (len(cells) > len(header) and not several):
            hint = "" if len(cells) < len(header) else \
                f" (several labels per row are read only when {label_column!r} is the last column)"
            table.append((line, "", [], f"expected {len(header)} cells, got {len(cells)}{hint}"))
            continue
        key = cells[key_index].strip()
        labels = [c.strip() for c in cells[label_index:] if c.strip()] if several else [cells[label_index].strip()]
        table.append((line, key, [label for label in labels if label], None if key else f"empty {key_column!r} cell"))
    return table


def read_label_file(path: Path) -> list[str]:
    """The labels of a label file beside an audio file: one per line, blank lines skipped."""
    return [line.strip() for line in read_text_lines(path) if line.strip()]


@register_converter
class FolderConverter(Converter):
    """SRC is any folder of audio files; labels from parent folders or a table."""

    name = "folder"
    default_base = "folder"
    summary = "any audio tree → label from the parent folder or a CSV/TSV (--labels)"
    options = (
        ConverterOption("field", "name of the label field", default="label"),
        ConverterOption("labels", "CSV/TSV with a path column and a label column", type=click.Path(path_type=Path)),
        ConverterOption("key-column", "column of --labels holding the path relative to SRC", default="path"),
        ConverterOption("label-column", "column of --labels holding the label (when it is the last column, "
                                        "the cells after it are more labels)", default="label"),
        ConverterOption("label-files", "read each file's labels from the same-stem file with this suffix "
                                       "beside it, one per line (e.g. .txt)"),
    )
    #: suffix of a label file that, lying beside an audio file, stops the folder name from being its label
    LABEL_FILE_SUFFIX = ".txt"

    def _table_labels(self, files: dict[Path, Path]) -> Iterator[tuple[Path, list[str]] | Problem]:
        """(audio path, labels) for each row of the labels file; problems for bad rows."""
        path = Path(self.option("labels"))
        if not path.is_file():
            raise MirError(f"{path}: no such labels file")
        seen: dict[Path, int] = {}
        rows = read_label_table(path, self.option("key_column"), self.option("label_column"))
        for line, relative, labels, problem in rows:
            where = f"{path} line {line}"
            if problem is not None:
                yield Problem(where, problem)
                continue
            try:
                if Path(relative).is_absolute():
                    raise MirError(f"{relative}: absolute path (paths are relative to SRC)")
                audio = self.safe_path(relative)
            except MirError as error:
                yield Problem(where, str(error))
                continue
            if not labels:
                yield Problem(where, f"{relative}: empty label")
            elif audio in seen:
                yield Problem(where, f"{relative}: listed twice (first on line {seen[audio]})")
            elif audio not in files:
                yield Problem(where, f"label without audio: {relative} not found under {self.source}")
            else:
                seen[audio] = line
                yield files[audio], labels

    def _beside_labels(self, path: Path) -> list[str] | Problem:
        """Labels of an audio file in the parent-folder modes: its label file, else its folder's name."""
        relative = path.relative_to(self.source)
        suffix = self.option("label_files")
        beside = path.with_suffix(suffix or self.LABEL_FILE_SUFFIX)
        if suffix is not None and beside.is_file():
            try:
                labels = read_label_file(beside)
            except MirError as error:
                return Problem(str(beside), str(error).removeprefix(str(beside)).removeprefix(":").strip())
            return labels or Problem(str(beside), "no label in it (one label per line expected)")
        if suffix is None and beside.is_file():
            return Problem(str(path), f"{beside.name} lies beside it (its labels?): read it with --label-files "
                                      f"{self.LABEL_FILE_SUFFIX}, or give --labels FILE; the folder name "
                                      f"{relative.parts[-2] if len(relative.parts) > 1 else ''!r} is not taken")
        if len(relative.parts) < 2:
            return Problem(str(path), "no parent folder to take the label from (use --labels)")
        return [relative.parts[-2]]

    def items(self) -> Iterator[Item | Problem]:
        field_name = self.option("field")
        if not field_name or field_name == "filepath":
            raise MirError(f"--field {field_name!r}: not allowed as a label field name")
        suffix = self.option("label_files")
        if suffix is not None:
            if self.option("labels") is not None:
                raise MirError("--label-files and --labels: give one of them (labels beside each file, or a table)")
            if not suffix.strip(".") or "/" in suffix:
                raise MirError(f"--label-files {suffix!r}: expected a file suffix such as .txt")
            self.options_values["label_files"] = suffix if suffix.startswith(".") else f".{suffix}"
        for link in broken_links(self.source):
            yield Problem(printable(link), f"broken symbolic link (its target {printable(os.readlink(link))} "
                                           "does not exist)")
        files: dict[Path, Path] = {}  # resolved → as found
        for path in audio_files(self.source):
            try:
                files[self.safe_path(path)] = path
            except MirError as error:
                yield Problem(printable(path), str(error).split(": ", 1)[-1])
        if self.option("labels") is None:
            for path in files.values():
                labels = self._beside_labels(path)
                if isinstance(labels, Problem):
                    yield labels
                    continue
                yield Item(self.relative_key(path), AudioSource(path), {field_name: [atom(v) for v in labels]})
            return
        labelled: set[Path] = set()
        for result in self._table_labels(files):
            if isinstance(result, Problem):
                yield result
                continue
            path, labels = result
            labelled.add(path)
            yield Item(self.relative_key(path), AudioSource(path), {field_name: [atom(v) for v in labels]})
        for path in files.values():
            if path not in labelled:
                yield Problem(str(path), f"audio without annotation: not in {self.option('labels')}")

    def definitions(self, items: list[Item]) -> dict[str, FieldDefinition]:
        field_name = self.option("field")
        labels = sorted({a["value"] for i in items for a in i.annotations[field_name]})
        return {field_name: FieldDefinition("global", "text", "value_in_dictionary", labels)}
