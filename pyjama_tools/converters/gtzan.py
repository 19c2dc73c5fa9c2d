"""GTZAN genre: ``genres/<genre>/<genre>.000NN.wav`` → field ``genre`` (+ ``split`` from the fault-filtered lists)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import click

from pyjama_tools.audio_store import AudioSource
from pyjama_tools.converters.base import (Converter, ConverterOption, Item, Problem, audio_files,
                                          read_text_lines, register_converter)
from pyjama_tools.errors import MirError
from pyjama_tools.pyjama import FieldDefinition, atom

#: split-list file name → value of the ``split`` field
SPLIT_FILES = {"train_filtered.txt": "train", "valid_filtered.txt": "valid", "test_filtered.txt": "test"}


@register_converter
class GtzanConverter(Converter):
    """SRC holds ``genres/``; keys are relative to ``genres/`` (``country+++country.00000.wav``)."""

    name = "gtzan"
    default_base = "gtzan-genre"
    summary = "GTZAN genre (genres/<genre>/*.wav) → genre [+ split]"
    options = (ConverterOption("split-lists", "folder with train/valid/test_filtered.txt",
                               type=click.Path(path_type=Path)),)

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

    def items(self) -> Iterator[Item | Problem]:
        root = self.root
        splits = self._splits()
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
            yield Item(self.relative_key(path, root), AudioSource(path), annotations)

    def definitions(self, items: list[Item]) -> dict[str, FieldDefinition]:
        genres = sorted({i.annotations["genre"][0]["value"] for i in items})
        definitions = {"genre": FieldDefinition("global", "text", "value_in_dictionary", genres)}
        if any("split" in i.annotations for i in items):
            definitions["split"] = FieldDefinition("global", "text", "value_in_dictionary", ["train", "valid", "test"])
        return definitions
