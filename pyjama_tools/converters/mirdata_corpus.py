"""Any corpus mirdata has a loader for: ``pyjama-convert mirdata DATASET DATA_HOME OUT_DIR``.

Reads the corpus through mirdata's public API (``mirdata.initialize(DATASET, data_home=DATA_HOME,
version=V)``, ``Dataset.track_ids`` / ``mtrack_ids``, ``Dataset.track`` / ``multitrack`` and the
attributes of its Track objects); mirdata is an optional dependency (``pip install 'mir101[mirdata]'``).
No code is specific to a corpus: every attribute goes through :mod:`pyjama_tools.mirdata_fields`.

Index
    mirdata 1.0 keeps each corpus's index remote (``Dataset.download()`` fetches it). ``--index FILE``
    reads FILE instead (a downloaded index, or the sample indexes of mirdata's tests): mirdata's
    ``Dataset.index_path`` is set to it before the index is first read.
Entries
    One per track with audio: its audio file is the index entry's ``audio`` file (else ``mix``, else
    the first audio file of the entry; ``--audio-key KEY`` chooses another), the key is that file's
    path relative to DATA_HOME (``audio+++01.wav``). A multitrack gives its mixture (the multitrack's
    own audio file) and its stems (its tracks), linked as the ``musdb18`` converter does: field
    ``mtrack_id`` on all of them, ``stem`` = ``mixture`` on the mixture and the stem's track id on
    each stem.
Fields
    ``track_id`` (mirdata's id; the multitrack's id on a mixture), then one field per attribute of
    the Track named as the attribute (``chords``, ``notes``, ``f0``, ``beats``, ...), see
    :mod:`pyjama_tools.mirdata_fields`. Attributes named ``*audio*`` (audio is read from the files)
    and ``*_path`` (paths of this machine) are not fields.
Python
    ``convert("mirdata", DATA_HOME, OUT_DIR, dataset="beatles", version="1.2", index="beatles_index_1.2.json")``
    (:func:`pyjama_tools.convert.convert`; the options by parameter name: ``split``, ``skip``, ``audio_key``).
Skipped, in the report
    A track whose index files are missing under DATA_HOME (a partial download), a track without audio
    in the index, and a track that mirdata's loader cannot read (the error is quoted).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from collections.abc import Iterator

from pyjama_tools.audio_store import AudioSource, key_from_relative_path
from pyjama_tools.converters.base import Converter, ConverterOption, Item, Problem, register_converter
from pyjama_tools.core.errors import MirError
from pyjama_tools.core.textfile import read_json
from pyjama_tools.core.registry import did_you_mean
from pyjama_tools.mirdata_fields import Atoms, FieldKind, fields_of
from pyjama_tools.pyjama import FieldDefinition, atom

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".aif", ".aiff", ".m4a", ".mp4")
#: index keys tried first for the audio of an entry, in this order
PREFERRED_AUDIO_KEYS = ("audio", "mix")
INSTALL_HINT = "pip install 'mir101[mirdata]'"
#: what a mixture's ``stem`` field holds
MIXTURE = "mixture"
#: the fields this converter writes itself (the Track's attributes of these names are not read again)
LINK_FIELDS = ("track_id", "mtrack_id", "stem")


class _TrackError(MirError):
    """One track cannot be converted (a Problem of that track, not of the whole conversion)."""


def _names(text: str | None) -> set[str] | None:
    """The names of a comma-separated option (None when not given)."""
    return {n.strip() for n in text.split(",") if n.strip()} if text else None


def import_mirdata() -> Any:
    """The ``mirdata`` module, or a one-line MirError saying how to install it."""
    try:
        import mirdata
    except ImportError:
        raise MirError(f"mirdata is not installed ({INSTALL_HINT})") from None
    return mirdata


def mirdata_corpora() -> list[str]:
    """Names of the corpora mirdata has loaders for (empty when mirdata is not installed)."""
    try:
        return sorted(import_mirdata().list_datasets())
    except MirError:
        return []


def is_attribute_field(name: str) -> bool:
    """Whether a Track attribute can become a field: not private, not audio, not a file path."""
    return not (name.startswith("_") or "audio" in name.split("_") or name.endswith(("_path", "_paths"))
                or name in LINK_FIELDS)


def attribute_names(track: Any) -> list[str]:
    """Data attributes of a mirdata Track or MultiTrack (properties and instance attributes, no methods)."""
    import functools
    import inspect

    from mirdata import core

    lazy = (property, core.cached_property, functools.cached_property)
    return [name for name in sorted(set(dir(track))) if is_attribute_field(name)
            and (name in vars(track) or isinstance(inspect.getattr_static(track, name, None), lazy))]


class _OncePerMessage(logging.Filter):
    """Lets each distinct warning of mirdata's loaders through once (GuitarSet warns for every solo)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if "mirdata" not in Path(record.pathname).parts:
            return True
        message = record.getMessage()
        if message in self.seen:
            return False
        self.seen.add(message)
        return True


def read_index(path: Path) -> dict[str, Any]:
    """A mirdata index JSON file (``{"version", "tracks": {...}, "multitracks": {...}}``)."""
    index = read_json(path)
    if not isinstance(index, dict) or not isinstance(index.get("tracks", {}), dict) \
            or not isinstance(index.get("multitracks", {}), dict):
        raise MirError(f"{path}: not a mirdata index (expected an object with 'tracks' and/or 'multitracks')")
    return index


def entry_files(entry: dict[str, Any]) -> dict[str, str]:
    """Index key → relative path of every file of an index entry (``None`` paths and the track list left out)."""
    files = {}
    for key, value in entry.items():
        if key != "tracks" and isinstance(value, list) and value and isinstance(value[0], str):
            files[key] = value[0]
    return files


def audio_keys(files: dict[str, str]) -> list[str]:
    """Index keys of the audio files of an entry, preferred ones first (``audio``, ``mix``, then index order)."""
    keys = [k for k, path in files.items() if Path(path).suffix.lower() in AUDIO_SUFFIXES]
    return sorted(keys, key=lambda k: PREFERRED_AUDIO_KEYS.index(k) if k in PREFERRED_AUDIO_KEYS
                  else len(PREFERRED_AUDIO_KEYS))


@register_converter
class MirdataConverter(Converter):
    """DATA_HOME is the corpus as mirdata lays it out; DATASET is mirdata's corpus name."""

    name = "mirdata"
    default_base = "DATASET"  # each run's default is the corpus name (set in __init__)
    source_name = "DATA_HOME"
    summary = ("any mirdata corpus: pyjama-convert mirdata DATASET DATA_HOME OUT_DIR → audio + one field per "
               "annotation of mirdata's loader")
    options = (
        ConverterOption("dataset", "mirdata's corpus name (pyjama-convert list)", positional=True),
        ConverterOption("version", "the corpus version (mirdata's; its default when not given)", default="default"),
        ConverterOption("index", "index file to read instead of mirdata's own (e.g. a downloaded one)"),
        ConverterOption("split", "keep only the tracks of these official splits (comma-separated, e.g. train,test)"),
        ConverterOption("skip", "attributes not to convert, comma-separated (e.g. multif0: Slakh's is its notes "
                                "on a 10 ms grid, 1 MB per minute of .pyjama)"),
        ConverterOption("audio-key", "index key of the audio to store when a track has several (e.g. audio_mic)"),
    )

    def __init__(self, source, **options: Any):
        super().__init__(source, **options)
        if not self.option("dataset"):
            raise MirError("mirdata: DATASET (the mirdata corpus name) is required; see pyjama-convert list")
        self.default_base = self.option("dataset")
        splits = self.option("split")
        self.splits = _names(splits)
        self.skipped = _names(self.option("skip")) or set()
        #: attribute names and official splits of the tracks read (to refuse a --skip / --split name
        #: that none of them has: a typo would otherwise convert silently what it meant to leave out)
        self._attributes_seen: set[str] = set()
        self._splits_seen: set[str] = set()
        #: field name → its kind, over every item read
        self._kinds: dict[str, FieldKind] = {}

    @classmethod
    def listing(cls) -> list[str]:
        corpora = mirdata_corpora()
        if not corpora:
            return [f"(mirdata corpora: mirdata is not installed; {INSTALL_HINT})"]
        import textwrap

        return textwrap.wrap(f"mirdata corpora ({len(corpora)}): {', '.join(corpora)}", width=100)

    # ---- the dataset and its index
    def _dataset(self) -> tuple[Any, dict[str, Any]]:
        """mirdata's Dataset, with ``--index`` in place, and its index read."""
        mirdata = import_mirdata()
        name, version = self.option("dataset"), self.option("version")
        corpora = mirdata.list_datasets()
        if name not in corpora:
            raise MirError(f"mirdata: unknown corpus {name!r}{did_you_mean(name, corpora)}; "
                           f"pyjama-convert list shows them")
        try:
            dataset = mirdata.initialize(name, data_home=str(self.source), version=version)
        except ValueError as error:  # an unknown version: mirdata's message lists the known ones
            raise MirError(f"mirdata {name}: --version {version!r}: {error}") from None
        except ImportError:  # mirdata printed which package its loader needs
            raise MirError(f"mirdata {name}: its loader needs an optional package (pip install 'mirdata[{name}]')") \
                from None
        index = self.option("index")
        if index is not None:
            if not Path(index).is_file():
                raise MirError(f"{index}: no such index file (--index)")
            dataset.index_path = str(Path(index).absolute())
        elif not Path(dataset.index_path).is_file():
            raise MirError(f"mirdata {name} {dataset.version}: index {dataset.index_path} not found; download it "
                           f"with mirdata (Dataset.download()) or give --index FILE")
        return dataset, read_index(Path(dataset.index_path))

    # ---- one entry
    def _missing(self, files: dict[str, str]) -> list[str]:
        return [path for path in files.values() if not (self.source / path).exists()]

    def _audio(self, files: dict[str, str], chosen: str | None) -> tuple[str, Path]:
        """(key, path) of the entry's audio; raises MirError (the track's Problem) when there is none."""
        keys = audio_keys(files)
        if chosen is not None:
            if chosen not in keys:
                raise _TrackError(f"--audio-key {chosen!r} is not an audio file of it (audio: {', '.join(keys) or 'none'})")
            keys = [chosen]
        if not keys:
            raise _TrackError("no audio file in the index (skipped)")
        relative = files[keys[0]]
        try:
            return key_from_relative_path(relative), self.safe_path(self.source / relative)
        except MirError as error:  # a path leading outside DATA_HOME
            raise _TrackError(str(error)) from None

    def _fields(self, obj: Any, where: str) -> dict[str, Atoms]:
        """Every field of a Track / MultiTrack; MirError for an attribute mirdata cannot load."""
        fields: dict[str, Atoms] = {}
        for name in (n for n in attribute_names(obj) if n not in self.skipped):
            try:
                value = getattr(obj, name)
            except Exception as error:  # mirdata's loaders raise many types for a bad or missing file
                raise _TrackError(f"mirdata cannot read attribute {name!r} ({type(error).__name__}: {error})") \
                    from None
            for field, (kind, atoms) in fields_of(name, value, f"{where}, attribute {name!r}").items():
                self._record_kind(field, kind)
                fields[field] = atoms
        return fields

    def _record_kind(self, field: str, kind: FieldKind) -> None:
        known = self._kinds.setdefault(field, kind)
        if known == kind:
            return
        if known.extent == kind.extent == "global":  # numbers in some tracks, text in others: text
            self._kinds[field] = FieldKind("global", "text")
            return
        raise MirError(f"mirdata {self.option('dataset')}: field {field!r} is {known} in one track and {kind} in "
                       f"another")

    def _entry(self, obj: Any, entry_id: str, files: dict[str, str], links: dict[str, str],
               chosen_audio: str | None) -> Item | Problem:
        where = f"{self.option('dataset')} {entry_id}"
        self._attributes_seen.update(attribute_names(obj))  # a track with files missing counts too
        missing = self._missing(files)
        if missing:
            more = f" (+{len(missing) - 3} more)" if len(missing) > 3 else ""
            return Problem(where, f"missing file(s) under {self.source}: {', '.join(missing[:3])}{more} (skipped)")
        try:  # a mapping error (an annotation class without a writer) is not caught: it stops the run
            key, path = self._audio(files, chosen_audio)
            fields = self._fields(obj, where)
        except _TrackError as error:
            return Problem(where, str(error))
        return Item(key, AudioSource(path), {**{k: [atom(v)] for k, v in links.items()}, **fields})

    def _load(self, loader: Any, entry_id: str) -> Any:
        try:
            return loader(entry_id)
        except Exception as error:  # a loader that does not match its index (e.g. a key missing)
            raise _TrackError(f"mirdata cannot load it ({type(error).__name__}: {error})") from None

    def _wanted(self, obj: Any) -> bool:
        """Whether ``obj`` is in the ``--split`` splits (its official ``split``)."""
        if self.splits is None:
            return True
        try:
            split = obj.split
        except AttributeError:
            raise MirError(f"mirdata {self.option('dataset')}: --split: its tracks have no official split") from None
        except Exception as error:  # its metadata file missing or malformed
            raise _TrackError(f"mirdata cannot read attribute 'split' ({type(error).__name__}: {error})") from None
        self._splits_seen.add(str(split))
        return str(split) in self.splits

    def items(self) -> Iterator[Item | Problem]:
        warnings = _OncePerMessage()
        logging.getLogger().addFilter(warnings)
        try:
            yield from self._items()
        finally:
            logging.getLogger().removeFilter(warnings)

    def _items(self) -> Iterator[Item | Problem]:
        dataset, index = self._dataset()
        tracks, multitracks = index.get("tracks", {}), index.get("multitracks", {})
        if not tracks and not multitracks:
            raise MirError(f"{dataset.index_path}: the index lists no tracks")
        mixture_of = {t: m for m, entry in multitracks.items() for t in entry.get("tracks", [])}
        name = self.option("dataset")
        for track_id, entry in tracks.items():
            try:
                track = self._load(dataset.track, track_id)
                if not self._wanted(track):
                    continue
            except _TrackError as error:
                yield Problem(f"{name} {track_id}", str(error))
                continue
            links = {"track_id": track_id}
            if track_id in mixture_of:
                links.update(mtrack_id=mixture_of[track_id], stem=track_id)
            yield self._entry(track, track_id, entry_files(entry), links, self.option("audio_key"))
        for mtrack_id, entry in multitracks.items():
            try:
                mtrack = self._load(dataset.multitrack, mtrack_id)
                if not self._wanted(mtrack):
                    continue
            except _TrackError as error:
                yield Problem(f"{name} {mtrack_id}", str(error))
                continue
            links = {"track_id": mtrack_id, "mtrack_id": mtrack_id, "stem": MIXTURE}
            yield self._entry(mtrack, mtrack_id, entry_files(entry), links, None)
        self._check_option_names()

    def _check_option_names(self) -> None:
        """A ``--split`` or ``--skip`` name that no track read has is a mistake: one line naming it."""
        name = self.option("dataset")
        unknown_splits = sorted(self.splits - self._splits_seen) if self.splits and self._splits_seen else []
        if unknown_splits:
            raise MirError(f"mirdata {name}: no mirdata items in --split {', '.join(unknown_splits)} (the tracks' "
                           f"splits: {', '.join(sorted(self._splits_seen))})")
        unknown = sorted(self.skipped - self._attributes_seen) if self._attributes_seen else []
        if unknown:
            raise MirError(f"mirdata {name}: --skip {', '.join(unknown)}: no track has such an attribute (its "
                           f"attributes: {', '.join(sorted(self._attributes_seen))})")

    def definitions(self, items: list[Item]) -> dict[str, FieldDefinition]:
        definitions = {name: FieldDefinition("global", "text") for name in LINK_FIELDS
                       if any(name in i.annotations for i in items)}
        for name, kind in self._kinds.items():
            if not any(name in i.annotations for i in items):
                continue
            if kind == FieldKind("global", "text"):  # a field with numbers in some tracks: all text
                for item in items:
                    for atom_ in item.annotations.get(name, []):
                        atom_["value"] = str(atom_["value"])
            definitions[name] = kind.definition()
        return definitions
