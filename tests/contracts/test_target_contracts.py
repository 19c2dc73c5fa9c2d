"""Contract of every registered target kind (``mirfeat.targets``).

Parametrized over the target registry: every kind builds from a small synthetic .pyjama document
(one field of each extent a kind may need: global label, global tags, work id, markers, text and
numeric segments, f0 breakpoints) on at least one of its fields, and gives for every
entry a ``y`` of the shape it declares: one value per file (an int64 class index below
``num_outputs``, or a float32 (K,) multi-hot) or per frame (int64 (T,) classes or ``ignore_index``,
or float32 (F, T) on the feature's frequency bins); a patch is the slice of the file's ``y``. Where
the ``mirfeat.targets`` docstring has its table (kind, field extent, ``y``), each kind's row matches.
On a field it cannot use, a kind fails with one MirError line naming the field; a misspelt kind is
one line with the kind meant.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from mirfeat import targets
from mirfeat.targets import TargetSpec, build_target
from pyjama_tools import pyjama
from pyjama_tools.core.errors import MirError
from pyjama_tools.pyjama import PyjamaDoc, breakpoint_atom, global_atoms, marker_atoms, segment_atoms

NAMES = sorted(name for name, _ in targets.TARGETS.items())
HOP = 512 / 22050
FRAMES = 40  # about 0.93 s of frames
TIME_SEC = np.arange(FRAMES) * HOP
FREQUENCY_HZ = 32.70 * 2.0 ** (np.arange(72) / 12.0)  # six octaves of semitone bins from C1


def synthetic_doc() -> PyjamaDoc:
    """Three entries with one field of each extent (values inside the first 0.9 s)."""
    doc = PyjamaDoc()
    doc.define("genre", "global", "text", "value_in_dictionary", dictionary=["blues", "jazz", "rock"])
    doc.define("tag", "global")
    doc.define("work-id", "global")
    doc.define("beat", "marker", "numeric")
    doc.define("chord", "segment")
    doc.define("pitchmidi", "segment", "numeric")
    doc.define("f0multi", "breakpoint", "numeric", row_name=["v1", "v2"])
    rng = np.random.default_rng(0)
    for i, genre in enumerate(["blues", "jazz", "rock"]):
        onsets = np.array([0.0, 0.3, 0.6]) + 0.01 * i
        times = np.arange(0.0, 0.9, 0.01)
        f0 = np.vstack([np.full(times.size, 57.0 + i), np.where(times > 0.5, 64.0, 0.0)])
        doc.add_entry(f"k{i}.wav", {
            "genre": global_atoms([genre]),
            "tag": global_atoms(["guitar", "voice", "piano"][: i + 1]),
            "work-id": global_atoms([str(i % 2)]),
            "beat": marker_atoms(onsets + 0.1, [1, 2, 3]),
            "chord": segment_atoms(onsets, [0.3, 0.3, 0.2], ["C:maj", "A:min", "G:7"]),
            "pitchmidi": segment_atoms(onsets, [0.25, 0.25, 0.25], rng.integers(40, 90, 3).tolist()),
            "f0multi": [breakpoint_atom(times, f0)],
        })
    return doc


@pytest.fixture(scope="module")
def doc() -> PyjamaDoc:
    document = synthetic_doc()
    assert pyjama.validate(document) == []
    return document


def declared_table() -> dict[str, str]:
    """kind → ``y`` cell of the reST table in the ``mirfeat.targets`` docstring (empty without one)."""
    lines = (targets.__doc__ or "").splitlines()
    borders = [i for i, line in enumerate(lines) if re.fullmatch(r"=+( +=+)+", line.strip())]
    if len(borders) < 3:
        return {}
    spans = [m.start() for m in re.finditer(r"=+", lines[borders[0]])]
    rows = {}
    for line in lines[borders[1] + 1: borders[2]]:
        if line[: spans[1]].strip():
            rows[line[: spans[1]].strip()] = line[spans[-1]:].strip()
    return rows


def try_build(name: str, field: str, doc: PyjamaDoc):
    """The target of kind ``name`` on ``field``, prepared on every entry (or the exception raised)."""
    try:
        target = build_target(TargetSpec(name, field), doc)
        for key in doc.keys():
            target.prepare(key, TIME_SEC, FREQUENCY_HZ)
    except Exception as error:  # noqa: BLE001 - the contract below says which ones are allowed
        return error
    return target


def built_targets(name: str, doc: PyjamaDoc) -> list:
    """Every target of kind ``name`` that builds and computes on every entry, one per usable field."""
    results = {field: try_build(name, field, doc) for field in FIELDS}
    built = [target for target in results.values() if not isinstance(target, Exception)]
    assert built, (f"target kind {name!r} builds on no field of the synthetic document: "
                   + "; ".join(f"{field}: {error}" for field, error in results.items()))
    return built


FIELDS = [field for field in synthetic_doc().definitions if field != "filepath"]
#: (kind, field) pairs whose mistake is known not to be one MirError line yet (strict: fixed → remove)
KNOWN_NOT_ONE_LINE: dict[tuple[str, str], str] = {}


def test_the_registry_holds_target_kinds():
    assert NAMES, "no target kind registered"


@pytest.mark.parametrize("name", NAMES)
def test_builds_from_a_synthetic_document_with_the_declared_shapes(name, doc):
    for target in built_targets(name, doc):
        field = target.spec.field
        for key in doc.keys():
            y = target.for_file(key, TIME_SEC, FREQUENCY_HZ)
            assert isinstance(y, np.ndarray), f"{name} on {field}: y is {type(y).__name__}"
            assert target.num_outputs >= 1
            if not target.per_frame:
                if y.ndim == 0:  # a class index
                    assert y.dtype == np.int64 and 0 <= int(y) < target.num_outputs, f"{name} on {field}: {y!r}"
                else:  # a multi-hot
                    assert y.shape == (target.num_outputs,) and y.dtype == np.float32, f"{name}: {y.shape} {y.dtype}"
                    assert set(np.unique(y)) <= {0.0, 1.0}
            elif y.ndim == 1:  # a class per frame
                assert y.shape == (FRAMES,) and y.dtype == np.int64, f"{name} on {field}: {y.shape} {y.dtype}"
                labelled = y[y != target.ignore_index]
                assert ((labelled >= 0) & (labelled < target.num_outputs)).all(), f"{name} on {field}: {y}"
            else:  # a value per bin and frame
                assert y.shape == (FREQUENCY_HZ.size, FRAMES) and y.dtype == np.float32, f"{name}: {y.shape}"
                assert target.num_outputs == FREQUENCY_HZ.size and np.isfinite(y).all()
            patch = target.for_patch(key, 5, 10, TIME_SEC, FREQUENCY_HZ)
            np.testing.assert_array_equal(patch, y[..., 5:15] if target.per_frame else y)
        vocabulary = target.vocabulary
        assert vocabulary is None or len(vocabulary) == target.num_outputs


@pytest.mark.parametrize("name", NAMES)
def test_matches_its_row_of_the_docstring_table(name, doc):
    table = declared_table()
    assert table, "the mirfeat.targets docstring has no table of the kinds (each kind's row is its contract)"
    assert name in table, f"target kind {name!r} is missing from the table of the mirfeat.targets docstring"
    declared = table[name]
    for target in built_targets(name, doc):
        y = target.for_patch(doc.keys()[0], 5, 10, TIME_SEC, FREQUENCY_HZ)
        dtype = re.search(r"int64|float32", declared)
        assert dtype and y.dtype == np.dtype(dtype.group(0)), f"{name}: declared {declared!r}, got {y.dtype}"
        if "0-d" in declared:
            assert y.ndim == 0
        else:
            axes = [axis.strip() for axis in re.search(r"\(([^)]*)\)", declared).group(1).split(",") if axis.strip()]
            sizes = {"K": target.num_outputs, "F": FREQUENCY_HZ.size, "L": 10, "T": 10}
            assert y.shape == tuple(sizes[axis] for axis in axes), f"{name}: declared {declared!r}, got {y.shape}"


@pytest.mark.parametrize("name, field", [
    pytest.param(name, field, marks=pytest.mark.xfail(strict=True, reason=KNOWN_NOT_ONE_LINE[name, field]))
    if (name, field) in KNOWN_NOT_ONE_LINE else (name, field) for name in NAMES for field in FIELDS])
def test_a_field_it_cannot_use_is_one_line_naming_the_field(name, field, doc):
    result = try_build(name, field, doc)
    if isinstance(result, Exception):
        assert isinstance(result, MirError), f"{name} on {field}: {type(result).__name__}: {result}"
        message = str(result)
        assert "\n" not in message and repr(field) in message, f"{name} on {field}: {message}"
        assert "np." not in message, f"{name} on {field}: numpy repr in the message: {message}"


@pytest.mark.parametrize("name", NAMES)
def test_a_misspelt_kind_is_one_line_with_a_suggestion(name):
    with pytest.raises(MirError) as info:
        TargetSpec(name + name[-1], "genre")
    message = str(info.value)
    assert "\n" not in message and re.search(rf"did you mean [^;]*\b{re.escape(name)}\b", message), message
