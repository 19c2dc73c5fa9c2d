"""A short description of a dataset pair: entries, fields, vocabulary sizes, total duration."""

from __future__ import annotations

from pathlib import Path

from pyjama_tools import pyjama
from pyjama_tools.audio_store import AudioStore
from pyjama_tools.core.errors import MirError


def paired_audio_path(pyjama_path: Path) -> Path:
    """``BASE_audio.hdf5`` beside ``BASE.pyjama``."""
    return pyjama_path.with_name(f"{pyjama_path.stem}_audio.hdf5")


def describe(pyjama_path: str | Path, audio_path: str | Path | None = None) -> str:
    """Multi-line text describing the dataset of ``pyjama_path``.

    The total duration is read from ``audio_path``, or from the ``BASE_audio.hdf5`` beside the
    .pyjama when it exists.

    Raises
    ------
    MirError
        When the document breaks the format's rules (its first problem, counted; the counts below
        would be meaningless or crash on a malformed entry).
    """
    pyjama_path = Path(pyjama_path)
    doc = pyjama.load(pyjama_path)
    problems = pyjama.validate(doc)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise MirError(f"{pyjama_path}: {problems[0]}{more}; `pyjama-convert validate` lists them")
    lines = [f"{pyjama_path}: schemaversion {doc.schemaversion}, {len(doc.entries)} entries"]
    # entries with at least one atom of the field (the reference library's placeholder does not count)
    counts = {name: sum(1 for index in range(len(doc.entries)) if doc.atoms(index, name)) for name in doc.definitions}
    lines.append(f"{'field':20s} {'extent':12s} {'content':8s} {'entries':>8s} {'vocabulary':>10s}")
    for name, definition in doc.definitions.items():
        vocabulary = "-"
        if definition.type_content == "text" and name != "filepath" \
                and not definition.type_extent.startswith("breakpoint"):
            vocabulary = str(len(doc.vocabulary(name)))
        lines.append(f"{name:20s} {definition.type_extent:12s} {definition.type_content:8s} "
                     f"{counts[name]:8d} {vocabulary:>10s}")
    audio_path = Path(audio_path) if audio_path else paired_audio_path(pyjama_path)
    if audio_path.exists():
        with AudioStore(audio_path) as store:
            keys = [k for k in doc.keys() if k is not None and k in store]
            total = sum(store.duration(k) for k in keys)
        lines.append(f"audio: {audio_path.name}, {len(keys)} files, total {total / 60:.1f} min ({total:.1f} s)")
    return "\n".join(lines)
