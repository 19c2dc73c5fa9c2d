"""Any audio tree → one global label per file (field ``label`` or ``--field NAME``).

The label is the name of the file's parent folder (``SRC/<label>/.../file.wav``), or comes from
a CSV/TSV (``--labels FILE --key-column COL --label-column COL``) whose key column holds the
path relative to SRC; its delimiter is sniffed (comma, TAB or semicolon). A file missing from
the labels file and a label naming a missing file are both reported.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Iterator

import click

from pyjama_tools.audio_store import AudioSource
from pyjama_tools.converters.base import (Converter, ConverterOption, Item, Problem, audio_files, broken_links,
                                          printable, read_text_lines, register_converter)
from pyjama_tools.errors import MirError
from pyjama_tools.pyjama import FieldDefinition, atom


def read_label_table(path: Path, key_column: str, label_column: str) -> list[tuple[int, str, str, str | None]]:
    """Rows ``(line, key, label, problem)`` of a CSV/TSV with a header; the delimiter is sniffed.

    ``problem`` is None for a well-formed row, else what is wrong with it (e.g. the cell count).

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
    table = []
    for line, cells in enumerate(rows[1:], start=2):
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            table.append((line, "", "", f"expected {len(header)} cells, got {len(cells)}"))
            continue
        key, label = cells[key_index].strip(), cells[label_index].strip()
        table.append((line, key, label, None if key else f"empty {key_column!r} cell"))
    return table


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
        ConverterOption("label-column", "column of --labels holding the label", default="label"),
    )

    def _table_labels(self, files: dict[Path, Path]) -> Iterator[tuple[Path, str] | Problem]:
        """(audio path, label) for each row of the labels file; problems for bad rows."""
        path = Path(self.option("labels"))
        if not path.is_file():
            raise MirError(f"{path}: no such labels file")
        seen: dict[Path, int] = {}
        rows = read_label_table(path, self.option("key_column"), self.option("label_column"))
        for line, relative, label, problem in rows:
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
            if not label:
                yield Problem(where, f"{relative}: empty label")
            elif audio in seen:
                yield Problem(where, f"{relative}: listed twice (first on line {seen[audio]})")
            elif audio not in files:
                yield Problem(where, f"label without audio: {relative} not found under {self.source}")
            else:
                seen[audio] = line
                yield files[audio], label

    def items(self) -> Iterator[Item | Problem]:
        field_name = self.option("field")
        if not field_name or field_name == "filepath":
            raise MirError(f"--field {field_name!r}: not allowed as a label field name")
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
                relative = path.relative_to(self.source)
                if len(relative.parts) < 2:
                    yield Problem(str(path), "no parent folder to take the label from (use --labels)")
                    continue
                yield Item(self.relative_key(path), AudioSource(path), {field_name: [atom(relative.parts[-2])]})
            return
        labelled: set[Path] = set()
        for result in self._table_labels(files):
            if isinstance(result, Problem):
                yield result
                continue
            path, label = result
            labelled.add(path)
            yield Item(self.relative_key(path), AudioSource(path), {field_name: [atom(label)]})
        for path in files.values():
            if path not in labelled:
                yield Problem(str(path), f"audio without annotation: not in {self.option('labels')}")

    def definitions(self, items: list[Item]) -> dict[str, FieldDefinition]:
        field_name = self.option("field")
        labels = sorted({i.annotations[field_name][0]["value"] for i in items})
        return {field_name: FieldDefinition("global", "text", "value_in_dictionary", labels)}
