"""What a converter is: it walks a raw corpus and yields items; the runner does the rest.

A converter module defines a subclass of :class:`Converter`, decorated with
:func:`register_converter`. It only *reads* the corpus: it yields :class:`Item`
(key, audio source, annotations) and :class:`Problem` (a bad file or line, reported and
skipped, or fatal with ``--strict``), and declares its fields' definitions. Decoding,
resampling, parallelism, validation and atomic writing are done once, in
:mod:`pyjama_tools.convert`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Sequence
from typing import Any, ClassVar
from collections.abc import Iterable, Iterator

from pyjama_tools.audio_store import AudioSource, key_from_relative_path
from pyjama_tools.core.errors import MirError
from pyjama_tools.core.registry import Registry
from pyjama_tools.pyjama import FieldDefinition


@dataclass
class Item:
    """One entry of the dataset.

    Attributes
    ----------
    key : str
        The audio HDF5 key (path relative to the corpus root, ``/`` → ``+++``).
    audio : AudioSource or None
        Where to decode the audio from; None for feature-only corpora.
    annotations : dict
        Field name → list of atoms (see :mod:`pyjama_tools.pyjama`).
    """

    key: str
    audio: AudioSource | None
    annotations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass
class Problem:
    """A bad input found while reading the corpus: where (file, line or key) and what."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True)
class ConverterOption:
    """A corpus-specific command-line option (``--split-lists DIR`` → ``split_lists``).

    Attributes
    ----------
    name : the option without dashes, e.g. ``split-lists``
    help : one line of help
    type : a click type or Python type (``str``, ``int``, ``click.Path(...)``)
    default : the default value
    is_flag : a boolean switch
    positional : a command-line argument before SRC (``pyjama-convert mirdata NAME DATA_HOME OUT_DIR``)
    """

    name: str
    help: str
    type: Any = str
    default: Any = None
    is_flag: bool = False
    positional: bool = False

    @property
    def parameter(self) -> str:
        return self.name.replace("-", "_")


class Converter:
    """Base class of a corpus converter.

    Subclasses set ``name`` (the CLI name), ``default_base`` (output base name), ``summary``
    (one line of help) and ``options``, and implement :meth:`items` and :meth:`definitions`.

    Parameters
    ----------
    source : Path
        The corpus root given on the command line.
    **options
        Values of the converter's :class:`ConverterOption` s (by parameter name).
    """

    name: ClassVar[str]
    default_base: ClassVar[str]
    summary: ClassVar[str] = ""
    options: ClassVar[tuple[ConverterOption, ...]] = ()
    #: how the command line names SRC (``DATA_HOME`` for mirdata)
    source_name: ClassVar[str] = "SRC"
    #: False for feature-only corpora (no audio store; see :meth:`write_payload`)
    has_audio: ClassVar[bool] = True
    #: mix the audio down to mono (1-D) in the store; a converter may set it per run (e.g. ``--stereo``)
    mono: bool = True

    def __init__(self, source: str | os.PathLike, **options: Any):
        self.source = Path(source)
        if not self.source.exists():
            raise MirError(f"{self.source}: no such corpus folder")
        if not self.source.is_dir():
            raise MirError(f"{self.source}: not a folder (SRC is the corpus root folder)")
        # absolute from here on: the files a walk finds then carry the root, and safe_path() checks
        # them as they are (with a relative SRC it joined the root twice, so a symlink out of SRC
        # went unnoticed and a labels table never matched its files)
        self.source = self.source.absolute()
        known = {o.parameter: o for o in self.options}
        unknown = set(options) - set(known)
        if unknown:
            raise MirError(f"converter '{self.name}': unknown option(s) {', '.join(sorted(unknown))}")
        self.options_values = {p: options.get(p, o.default) for p, o in known.items()}

    @classmethod
    def listing(cls) -> list[str]:
        """Extra lines for ``pyjama-convert list`` (e.g. the corpora a bridge converter reads)."""
        return []

    def option(self, name: str) -> Any:
        """Value of the converter option ``name`` (parameter name, e.g. ``split_lists``)."""
        return self.options_values[name]

    def items(self) -> Iterator[Item | Problem]:  # pragma: no cover - abstract
        """Yield every item of the corpus, and a :class:`Problem` for each bad input."""
        raise NotImplementedError

    def definitions(self, items: list[Item]) -> dict[str, FieldDefinition]:  # pragma: no cover - abstract
        """Field definitions of the document, given all the items kept (e.g. to build dictionaries)."""
        raise NotImplementedError

    def write_payload(self, items: list[Item], path: Path, jobs: int, progress: bool,
                      extra_paths: Sequence[Path] = ()) -> list[Problem]:
        """Feature-only corpora write their payload file here instead of an audio store, and each
        file of :meth:`extra_payload_names` to the matching path of ``extra_paths`` (staged names)."""
        raise NotImplementedError

    def extra_payload_names(self, base: str) -> list[str]:
        """File names of further payload files written beside the payload (none by default); they
        are replaced together with the pair."""
        return []

    def payload_name(self, base: str) -> str:
        """File name of the payload (audio store by default)."""
        return f"{base}_audio.hdf5"

    # ---- helpers for subclasses
    def relative_key(self, path: Path, root: Path | None = None) -> str:
        """Key of ``path`` relative to ``root`` (default: the corpus root)."""
        return key_from_relative_path(Path(path).relative_to(root or self.source))

    def safe_path(self, path: Path, root: Path | None = None) -> Path:
        """``path`` resolved, checked to stay inside ``root`` (default: the corpus root).

        Raises
        ------
        MirError
            When the path, or a symlink on it, leads outside the root (e.g. ``..`` or an absolute path).
        """
        if not is_utf8(str(path)):  # keys and the .pyjama are UTF-8 text: such a name cannot be one
            raise MirError(f"{printable(path)}: file name is not UTF-8 text (rename the file)")
        root = Path(root or self.source).resolve()
        candidate = Path(path) if Path(path).is_absolute() else root / path
        resolved = candidate.resolve()
        if resolved != root and root not in resolved.parents:
            raise MirError(f"{path}: path escapes the corpus root {root}")
        return resolved


#: corpus name (the CLI subcommand) → converter class
CONVERTERS: Registry[type[Converter]] = Registry("corpus")


def register_converter(cls: type[Converter]) -> type[Converter]:
    """Class decorator: register a converter under ``cls.name``."""
    return CONVERTERS.register()(cls)


def get_converter_class(name: str) -> type[Converter]:
    """The converter registered as ``name``; an unknown name lists the closest known ones."""
    return CONVERTERS.lookup(name)


def audio_files(root: Path, suffixes: Iterable[str] = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")) -> list[Path]:
    """Every audio file under ``root`` (recursive, sorted, case-insensitive suffix match)."""
    wanted = {s.lower() for s in suffixes}
    return sorted(p for p in Path(root).rglob("*") if p.is_file() and p.suffix.lower() in wanted)


def broken_links(root: Path, suffixes: Iterable[str] = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")) -> list[Path]:
    """Every symbolic link under ``root`` with an audio suffix whose target does not exist (sorted).

    :func:`audio_files` leaves them out (they are not files); a converter reports them.
    """
    wanted = {s.lower() for s in suffixes}
    return sorted(p for p in Path(root).rglob("*") if p.is_symlink() and not p.exists() and p.suffix.lower() in wanted)


def is_utf8(text: str) -> bool:
    """Whether ``text`` is valid UTF-8 text (a file name with undecodable bytes holds surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(path: str | os.PathLike) -> str:
    """``path`` as UTF-8 text, undecodable bytes written ``\\xNN`` (for messages and the report)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def read_text_lines(path: Path) -> list[str]:
    """Lines of a text file (UTF-8, falling back to Latin-1; CRLF stripped)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise MirError(f"{path}: cannot read ({error.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return text.splitlines()
