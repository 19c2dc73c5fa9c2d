"""Run a converter: raw corpus → ``OUT_DIR/BASE_audio.hdf5`` + ``OUT_DIR/BASE.pyjama``.

The order of work makes an interrupted or failed conversion harmless: the run holds the
output's lock (a second ``pyjama-convert`` on it is refused at once); the report, audio
store and document are written under staging names and validated, and only then swap
with the old ones together (:func:`pyjama_tools.core.atomic.atomic_group`; the .pyjama last,
its presence marks a complete pair).  A run that fails, is interrupted or killed leaves
the old pair as it was.  Bad inputs are skipped, listed in ``BASE_report.tsv`` beside the
output and counted; ``strict=True`` fails on the first instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pyjama_tools import pyjama
from pyjama_tools.core.atomic import atomic_group, finish_swap, write_text_atomic
from pyjama_tools.audio_store import DEFAULT_SAMPLE_RATE, AudioStore, check_sample_rate, write_audio_store
from pyjama_tools.converters import get_converter_class
from pyjama_tools.converters.base import Item, Problem
from pyjama_tools.core.errors import MirError
from pyjama_tools.core.locking import output_lock


@dataclass
class ConversionReport:
    """What a conversion produced.

    Attributes
    ----------
    pyjama_path, payload_path : the two output files
    report_path : the TSV listing skipped inputs (None when nothing was skipped)
    entries : number of entries written
    problems : every skipped input
    """

    pyjama_path: Path
    payload_path: Path
    report_path: Path | None
    entries: int
    problems: list[Problem] = field(default_factory=list)


def check_base_name(base: str) -> str:
    """``base`` when it can name the output files (``--name``): no folder part, not empty, not hidden."""
    if not base or base != Path(base).name or base in (".", "..") or base.startswith(".") or "\\" in base:
        raise MirError(f"--name {base!r}: a base file name is expected (no folder part; put folders in OUT_DIR)")
    return base


def make_output_folder(out_dir: Path) -> None:
    """Create ``out_dir`` (and parents) or raise a one-line :class:`MirError` saying why not."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # a file of that name, no permission, read-only disk
        raise MirError(f"{out_dir}: cannot create the output folder ({error.strerror})") from None


def output_paths(out_dir: Path, base: str, payload_name: str) -> tuple[Path, Path, Path]:
    """(pyjama, payload, report) paths of a conversion."""
    return out_dir / f"{base}.pyjama", out_dir / payload_name, out_dir / f"{base}_report.tsv"


def _report_cell(text: str) -> str:
    """One TSV cell: no TAB or newline, and UTF-8 (a surrogate from an undecodable file name as ``\\xNN``)."""
    text = text.replace("\t", " ").replace("\n", " ")
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _write_report(path: Path, problems: list[Problem]) -> None:
    lines = ["where\tproblem"]
    for problem in problems:
        lines.append(f"{_report_cell(problem.where)}\t{_report_cell(problem.message)}")
    write_text_atomic("\n".join(lines) + "\n", path)


def strict_error(problem: Problem) -> MirError:
    """The error ``--strict`` raises for ``problem``: its line without the report's "(skipped)" (it
    stops the conversion, nothing is skipped)."""
    return MirError(str(problem).removesuffix(" (skipped)"))


def collect_items(converter, strict: bool) -> tuple[list[Item], list[Problem]]:
    """Every item of the converter, duplicates removed; problems collected (raised with ``strict``)."""
    items: list[Item] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    for result in converter.items():
        if isinstance(result, Problem):
            if strict:
                raise strict_error(result)
            problems.append(result)
            continue
        if result.key in seen:
            problem = Problem(result.key, "duplicate key (an earlier item has the same key)")
            if strict:
                raise strict_error(problem)
            problems.append(problem)
            continue
        seen.add(result.key)
        items.append(result)
    return items, problems


def build_document(items: list[Item], definitions: dict[str, pyjama.FieldDefinition],
                   schemaversion: float = pyjama.DEFAULT_SCHEMA_VERSION) -> pyjama.PyjamaDoc:
    """The .pyjama document of ``items`` with ``definitions`` (``filepath`` added first when absent)."""
    doc = pyjama.PyjamaDoc(definitions=dict(definitions), schemaversion=schemaversion)
    for item in items:
        doc.add_entry(item.key, item.annotations)
    return doc


def convert(corpus: str, source: str | os.PathLike, out_dir: str | os.PathLike, name: str | None = None,
            sample_rate: int | None = DEFAULT_SAMPLE_RATE, jobs: int = 1, strict: bool = False,
            overwrite: bool = False, quiet: bool = True, **options: Any) -> ConversionReport:
    """Convert a raw corpus to a dataset pair.

    Parameters
    ----------
    corpus : converter name (``pyjama-convert list``)
    source : corpus root folder
    out_dir : output folder (created when missing)
    name : output base name (default: the converter's, e.g. ``gtzan-genre``)
    sample_rate : target rate in Hz (default 22050, the tutorial's); None keeps each file's rate
    jobs : parallel decode threads
    strict : fail on the first bad input instead of skipping it
    overwrite : replace an existing pair
    quiet : no progress bar
    **options : the converter's own options

    Returns
    -------
    ConversionReport

    Raises
    ------
    MirError
        Missing corpus, existing output without ``overwrite``, a bad input with ``strict``,
        nothing to convert, or an output that fails validation.
    """
    if sample_rate is not None:
        check_sample_rate(sample_rate)
    converter = get_converter_class(corpus)(source, **options)
    out_dir = Path(out_dir)
    base = check_base_name(name or converter.default_base)
    pyjama_path, payload_path, report_path = output_paths(out_dir, base, converter.payload_name(base))
    extras = [out_dir / name for name in converter.extra_payload_names(base)]
    payloads = [*extras, payload_path]
    group = [report_path, *payloads, pyjama_path]  # the .pyjama last: its presence marks a complete pair
    if not overwrite:
        _refuse_existing(pyjama_path, payloads)
    items, problems = collect_items(converter, strict)  # reads the corpus only
    if not items:
        detail = f" ({problems[0]})" if problems else ""
        raise MirError(f"{converter.source}: no {corpus} items found{detail}")
    make_output_folder(out_dir)
    with output_lock(pyjama_path, "pyjama-convert"):
        finish_swap(group)  # a run killed while its pair swapped: complete that swap first
        if not overwrite:
            _refuse_existing(pyjama_path, payloads)
        # the new pair is written under staging names; the old pair stays until it is complete
        with atomic_group(group) as (report_tmp, *extra_tmps, payload_tmp, pyjama_tmp):
            items = _write_payload(converter, items, problems, payload_tmp, sample_rate, jobs, strict, quiet,
                                   extra_tmps)
            doc = build_document(items, converter.definitions(items))
            with AudioStore(payload_tmp) as store:
                stored = set(store.file.keys())
            found = pyjama.validate(doc, stored)
            if found:  # a converter bug, not a user mistake: refuse to write an invalid pair
                raise MirError(f"{corpus}: the converted document is invalid: {found[0]} "
                               f"(and {len(found) - 1} more)")
            if problems:
                _write_report(report_tmp, problems)
            pyjama.save(doc, pyjama_tmp)
    return ConversionReport(pyjama_path, payload_path, report_path if problems else None, len(items), problems)


def _refuse_existing(pyjama_path: Path, payload_paths: Sequence[Path]) -> None:
    """Raise when the pair (or an orphan payload file) exists and ``--overwrite`` was not given."""
    if pyjama_path.exists():
        raise MirError(f"{pyjama_path}: already exists (use --overwrite to replace it)")
    for payload_path in payload_paths:
        if payload_path.exists():
            raise MirError(f"{payload_path}: already exists without its {pyjama_path.name} (an interrupted "
                           "conversion?); use --overwrite to replace it")


def _write_payload(converter, items: list[Item], problems: list[Problem], path: Path, sample_rate: int | None,
                   jobs: int, strict: bool, quiet: bool, extra_paths: Sequence[Path] = ()) -> list[Item]:
    """Write the audio store (or a feature-only corpus's payload) to ``path``; the items stored.

    Decoding problems are added to ``problems``; with ``strict`` the first one is raised.
    """
    if converter.has_audio:
        failures = write_audio_store(path, ((i.key, i.audio) for i in items), sample_rate,
                                     mono=converter.mono, jobs=jobs, progress=not quiet, total=len(items),
                                     strict=strict)
        decode_problems = [Problem(f.key, f.message) for f in failures]
    else:
        decode_problems = converter.write_payload(items, path, jobs, progress=not quiet, extra_paths=extra_paths)
    if decode_problems and strict:
        raise strict_error(decode_problems[0])
    problems.extend(decode_problems)
    failed = {p.where for p in decode_problems}
    items = [i for i in items if i.key not in failed]
    if not items:
        raise MirError(f"{converter.source}: no item could be converted ({problems[0]})")
    return items
