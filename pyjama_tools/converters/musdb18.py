"""MUSDB18 (``.stem.mp4``) and MUSDB18-HQ (``<track>/<stem>.wav``) → one entry per track and stem.

Layouts read (both may sit in the same SRC)::

    {train,test}/<Artist - Title>.stem.mp4            5 AAC streams: mixture, drums, bass, other, vocals
    {train,test}/<Artist - Title>/{mixture,drums,bass,other,vocals}.wav      (MUSDB18-HQ)

SRC may be the folder holding ``train/`` and ``test/``, one of them (``.../musdb18/train``), or a folder
up to :data:`SEARCH_DEPTH` levels above them (the unzipped release ``musdb18/``, ``musdb18hq/``,
``MUSDB18-7/``, or a folder holding several releases): the ``train``/``test`` folders nearest to SRC are read.

Keys are the same for both layouts: ``<split>+++<track>+++<stem>`` (e.g.
``train+++Music Delta - 80s Rock+++mixture``; no file suffix, since one .stem.mp4 holds all five),
so models and splits carry over between the compressed and the HQ release.

Fields: ``track`` (the track name), ``stem`` (mixture | drums | bass | other | vocals), ``split``
(train | test, from the folder), and ``artist`` / ``title`` when the track name reads ``Artist - Title``.
Audio is mixed down to mono unless ``--stereo`` is given (then (2, samples) per key).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from collections.abc import Iterator

from pyjama_tools.audio_store import KEY_SEPARATOR, AudioSource
from pyjama_tools.converters.base import Converter, ConverterOption, Item, Problem, register_converter
from pyjama_tools.core.errors import MirError
from pyjama_tools.pyjama import FieldDefinition, atom

#: stream order of a .stem.mp4, which is also the order of the entries of a track
STEMS = ("mixture", "drums", "bass", "other", "vocals")
SPLITS = ("train", "test")
STEM_SUFFIX = ".stem.mp4"
#: how many folder levels below SRC the train/test folders are looked for
SEARCH_DEPTH = 3


def count_audio_streams(path: Path) -> int:
    """Number of audio streams of a container (PyAV); raises MirError when it cannot be opened."""
    import av

    try:
        with av.open(str(path)) as container:
            return len(container.streams.audio)
    except Exception as error:  # PyAV raises many types (InvalidDataError, OSError, ...) for bad files
        raise MirError(f"{path}: cannot open as MP4 ({str(error).strip() or type(error).__name__})") from None


@register_converter
class Musdb18Converter(Converter):
    """SRC holds ``train/`` and ``test/`` (either layout); keys ``<split>+++<track>+++<stem>``."""

    name = "musdb18"
    default_base = "musdb18"
    summary = "MUSDB18 (.stem.mp4) or MUSDB18-HQ (<track>/<stem>.wav) → mixture + 4 stems per track"
    options = (ConverterOption("stereo", "keep both channels (default: mono mix-down)", is_flag=True,
                               default=False),)

    def __init__(self, source, **options: Any):
        super().__init__(source, **options)
        self.mono = not self.option("stereo")

    def _annotations(self, split: str, track: str, stem: str) -> dict[str, list[dict[str, Any]]]:
        annotations = {"track": [atom(track)], "stem": [atom(stem)], "split": [atom(split)]}
        artist, sep, title = track.partition(" - ")
        if sep and artist.strip() and title.strip():
            annotations["artist"] = [atom(artist.strip())]
            annotations["title"] = [atom(title.strip())]
        return annotations

    def _key(self, split: str, track: str, stem: str) -> str:
        return KEY_SEPARATOR.join((split, track, stem))

    def _stem_mp4(self, split: str, path: Path) -> Iterator[Item | Problem]:
        track = path.name[: -len(STEM_SUFFIX)]
        try:
            streams = count_audio_streams(path)
        except MirError as error:
            yield Problem(str(path), str(error).split(": ", 1)[-1])
            return
        if streams != len(STEMS):
            yield Problem(str(path), f"has {streams} audio stream(s), expected {len(STEMS)} "
                                     f"({', '.join(STEMS)})")
            return
        for index, stem in enumerate(STEMS):
            yield Item(self._key(split, track, stem), AudioSource(path, stream=index),
                       self._annotations(split, track, stem))

    def _hq_folder(self, split: str, folder: Path) -> Iterator[Item | Problem]:
        track = folder.name
        for stem in STEMS:
            path = folder / f"{stem}.wav"
            if not path.is_file():
                yield Problem(str(path), f"{stem} stem missing (other stems of the track kept)")
                continue
            yield Item(self._key(split, track, stem), AudioSource(path), self._annotations(split, track, stem))

    def split_folders(self) -> list[tuple[str, Path]]:
        """(split, folder) of every ``train``/``test`` folder read: SRC itself when it is one, else the
        nearest ones below SRC (breadth first, at most :data:`SEARCH_DEPTH` levels down)."""
        if self.source.name in SPLITS:
            return [(self.source.name, self.source)]
        level = [self.source]
        for _ in range(SEARCH_DEPTH):
            found = [(folder.name, folder) for parent in level for folder in sorted(parent.iterdir())
                     if folder.name in SPLITS and folder.is_dir()]
            if found:  # train before test (then by path)
                return sorted(found, key=lambda f: (SPLITS.index(f[0]), f[1]))
            level = [folder for parent in level for folder in sorted(parent.iterdir())
                     if folder.is_dir() and not folder.name.startswith(".")]
        raise MirError(f"{self.source}: no 'train' or 'test' folder in it or up to {SEARCH_DEPTH} levels "
                       f"below (expected train/*.stem.mp4 or train/<track>/mixture.wav)")

    def items(self) -> Iterator[Item | Problem]:
        for split, folder in self.split_folders():
            for path in sorted(folder.iterdir()):
                if path.is_file() and path.name.lower().endswith(STEM_SUFFIX):
                    yield from self._stem_mp4(split, path)
                elif path.is_dir():
                    if any((path / f"{stem}.wav").exists() for stem in STEMS):
                        yield from self._hq_folder(split, path)
                    else:
                        yield Problem(str(path), "no stem .wav files (expected mixture.wav, drums.wav, ...)")
                elif path.is_file() and not path.name.startswith("."):
                    yield Problem(str(path), f"not a {STEM_SUFFIX} file nor a track folder (skipped)")

    def definitions(self, items: list[Item]) -> dict[str, FieldDefinition]:
        definitions = {
            "track": FieldDefinition("global", "text", "free"),
            "stem": FieldDefinition("global", "text", "value_in_dictionary", list(STEMS)),
            "split": FieldDefinition("global", "text", "value_in_dictionary", list(SPLITS)),
        }
        if any("artist" in i.annotations for i in items):
            definitions["artist"] = FieldDefinition("global", "text", "free")
            definitions["title"] = FieldDefinition("global", "text", "free")
        return definitions
