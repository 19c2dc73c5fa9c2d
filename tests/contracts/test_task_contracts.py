"""Contract of every registered task (``mirmodels.tasks.TASKS``).

Parametrized over the task registry. The shapes come from the table of the ``mirmodels.tasks``
docstring (model output and ``y`` of each problem), so a new task is tested once it is registered
and documented there: it builds on a tiny network, computes a finite loss on a random batch of
those shapes, backpropagates into the network, ``predict_step`` returns ``output`` (batch first,
finite float32) with ``key`` and ``start``; an unknown option is one line naming it; its options
are a frozen dataclass whose fields ``option_names()`` lists, and its defaults construct.

The run hooks of every task that runs patches over whole files (the default ``score_split``):
``file_output`` of activated random patch outputs (N, ...) shaped per the table gives the file's
output (the table's shape without the batch axis and a channel axis of 1, frames T → the file's
frames), and ``score`` of such file outputs against a tiny target of the task's kind (one field of
:func:`tiny_document` per kind, :data:`TARGET_FIELDS`) gives a dict of finite numbers. A task with
its own ``score_split`` names the test file of its run in :data:`OWN_RUN_TESTS`.
"""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from mirfeat.targets import TargetSpec, build_target
from mirmodels import tasks
from mirmodels.inference import cover_starts
from mirmodels.tasks import Task, get_task_class
from pyjama_tools.core.errors import MirError
from pyjama_tools.pyjama import PyjamaDoc, global_atoms, segment_atoms

ROOT = Path(__file__).resolve().parents[2]

NAMES = sorted(name for name, _ in tasks.TASKS.items())
#: the size of each axis letter of the docstring table
SIZES = {"B": 4, "K": 3, "T": 5, "F": 6, "D": 8, "S": 2, "C": 1, "N": 64}
INPUT_SHAPE = (1, 4, 4)  # one example of the tiny network's input
SHAPE = re.compile(r"\(([A-Z0-9, ]+)\)")


def docstring_table() -> dict[str, tuple[str, str]]:
    """problem → (model output cell, y cell) from the reST table of the ``mirmodels.tasks`` docstring."""
    lines = (tasks.__doc__ or "").splitlines()
    borders = [i for i, line in enumerate(lines) if re.fullmatch(r"=+( +=+)+", line.strip())]
    if len(borders) < 3:
        return {}
    spans = [(m.start(), m.end()) for m in re.finditer(r"=+", lines[borders[0]])]
    rows = {}
    for line in lines[borders[1] + 1: borders[2]]:
        cells = [line[start:end if k + 1 < len(spans) else None].strip()
                 for k, (start, end) in enumerate(spans)]
        if cells[0]:
            rows[cells[0]] = (cells[1], cells[2])
    return rows


TABLE = docstring_table()


def axes_of(cell: str) -> list[tuple[str, ...]]:
    """The axes of every shape written in a table cell, ``(B, 1, F, T)`` → ("B", "1", "F", "T")."""
    return [tuple(axis.strip() for axis in match.group(1).split(",") if axis.strip()) for match in SHAPE.finditer(cell)]


def shapes_of(cell: str) -> list[tuple[int, ...]]:
    """Every shape written in a table cell, ``(B, K)`` → (4, 3)."""
    return [tuple(int(axis) if axis.isdigit() else SIZES[axis] for axis in axes) for axes in axes_of(cell)]


def target(cell: str, generator: torch.Generator) -> torch.Tensor:
    """A random ``y`` as the cell describes it: int64 class indices (with -100 where it says so),
    0/1 floats, or real values."""
    shape = shapes_of(cell)[0]
    if "int64" in cell:
        y = (torch.arange(math.prod(shape)) % 2).reshape(shape)  # classes 0/1, each twice at least (pairs)
        if "-100" in cell:
            y.view(-1)[0] = -100
        return y
    if "0/1" in cell:
        return (torch.rand(shape, generator=generator) > 0.5).float()
    return torch.randn(shape, generator=generator)


def tiny_network(output_shape: tuple[int, ...]) -> nn.Module:
    """(B, *INPUT_SHAPE) → (B, *output_shape) through one Linear layer."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(INPUT_SHAPE), math.prod(output_shape)),
                         nn.Unflatten(1, output_shape))


def batch_of(y: torch.Tensor, generator: torch.Generator) -> dict:
    size = y.shape[0]
    return {"X": torch.randn(size, *INPUT_SHAPE, generator=generator), "y": y,
            "key": [f"file{i}.wav" for i in range(size)], "start": torch.arange(size)}


def cases(name: str) -> list[tuple[tuple[int, ...], str]]:
    """(model output shape, y cell) of every output shape the table gives for ``name``."""
    assert name in TABLE, (f"task {name!r} is not in the table of the mirmodels.tasks docstring (problem, model "
                           f"output, y, loss): document its shapes there")
    output_cell, y_cell = TABLE[name]
    outputs = shapes_of(output_cell)
    assert outputs and shapes_of(y_cell), f"{name}: no shape in the table row {TABLE[name]}"
    return [(shape, y_cell) for shape in outputs]


def test_the_registry_holds_tasks_and_the_table_documents_them():
    assert NAMES, "no task registered"
    assert TABLE, "no table in the mirmodels.tasks docstring"
    undocumented = sorted(set(NAMES) - set(TABLE))
    assert not undocumented, f"tasks missing from the mirmodels.tasks docstring table: {', '.join(undocumented)}"


@pytest.mark.parametrize("name", NAMES)
def test_a_random_batch_gives_a_finite_loss_that_backpropagates(name):
    for output_shape, y_cell in cases(name):
        generator = torch.Generator().manual_seed(0)
        y = target(y_cell, generator)
        network = tiny_network(output_shape[1:])
        task = get_task_class(name)(network)
        assert task.problem == name
        batch = batch_of(y, generator)
        loss = task.training_step(batch, 0)
        assert isinstance(loss, torch.Tensor) and loss.dim() == 0, f"{name}: loss {loss!r}"
        assert torch.isfinite(loss), f"{name}: loss {float(loss)} for output {output_shape}"
        loss.backward()
        gradients = [p.grad for p in network.parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in gradients), f"{name}: no finite gradient"
        assert any(bool(g.abs().sum() > 0) for g in gradients), f"{name}: the loss does not reach the network"
        with torch.no_grad():
            assert torch.isfinite(task.validation_step(batch, 0))


@pytest.mark.parametrize("name", NAMES)
def test_predict_step_returns_output(name):
    output_shape, y_cell = cases(name)[0]
    generator = torch.Generator().manual_seed(0)
    batch = batch_of(target(y_cell, generator), generator)
    task = get_task_class(name)(tiny_network(output_shape[1:])).eval()
    with torch.no_grad():
        result = task.predict_step(batch, 0)
    assert isinstance(result, dict) and "output" in result, f"{name}: predict_step gave {type(result).__name__}"
    output = result["output"]
    assert isinstance(output, torch.Tensor) and output.dtype == torch.float32
    assert output.shape[0] == output_shape[0] and torch.isfinite(output).all()
    assert result["key"] == batch["key"] and torch.equal(result["start"], batch["start"])


@pytest.mark.parametrize("name", NAMES)
def test_an_unknown_option_is_one_line(name):
    task_class = get_task_class(name)
    with pytest.raises(MirError) as info:
        task_class(tiny_network((2,)), no_such_option=1)
    message = str(info.value)
    assert "\n" not in message and "no_such_option" in message and name in message, message


@pytest.mark.parametrize("name", NAMES)
def test_options_are_a_dataclass_listed_by_option_names(name):
    task_class = get_task_class(name)
    options = task_class.Options
    assert dataclasses.is_dataclass(options), f"{name}: Options is not a dataclass"
    fields = dataclasses.fields(options)
    assert task_class.option_names() == [f.name for f in fields]
    defaults = {f.name: f.default for f in fields if f.default is not dataclasses.MISSING}
    assert len(defaults) == len(fields), f"{name}: options without a default: {set(task_class.option_names()) - set(defaults)}"
    task = task_class(tiny_network((2,)), **defaults)  # every option by name, at its default
    assert task.options == options()
    if fields:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(task.options, fields[0].name, defaults[fields[0].name])


# ----------------------------------------------------------------------------- run hooks

#: tasks whose run is not patches over whole files (their own ``score_split``) → the test file of their run
OWN_RUN_TESTS = {"separation": "tests/mirmodels/test_separation.py"}
NUM_FRAMES = 12  # frames of each file: patches of T = 5 frames start at 0, 5, 7
HOP_SEC = 0.1
TIME_SEC = np.arange(NUM_FRAMES) * HOP_SEC + HOP_SEC / 2
FREQUENCY_HZ = 440.0 * 2.0 ** ((np.arange(58, 58 + SIZES["F"]) - 69) / 12)  # F semitone bins from MIDI 58
#: the field of :func:`tiny_document` each target kind is built on (K = 3 classes, tags, chords; 2 works)
TARGET_FIELDS = {"multiclass": "genre", "multilabel": "tag", "framelabel": "chord", "pitch": "pitchmidi",
                 "clique": "work-id"}


def tiny_document() -> PyjamaDoc:
    """Four files of 1.2 s, each class / tag / chord present in some and absent from others."""
    doc = PyjamaDoc()
    doc.define("genre", "global", "text", "value_in_dictionary", dictionary=["a", "b", "c"])
    doc.define("tag", "global")
    doc.define("work-id", "global")
    doc.define("chord", "segment", "text")
    doc.define("pitchmidi", "segment", "numeric")
    tags = [["x"], ["y", "z"], ["x", "z"], ["y"]]
    chords = [["C:maj", "A:min", "N"], ["A:min", "C:maj", "N"], ["C:maj", "N", "A:min"], ["N", "A:min", "C:maj"]]
    for i in range(4):
        doc.add_entry(f"f{i}.wav", {
            "genre": global_atoms(["abca"[i]]), "tag": global_atoms(tags[i]), "work-id": global_atoms([f"w{i // 2}"]),
            "chord": segment_atoms([0.0, 0.5, 1.0], [0.5, 0.5, 0.2], chords[i]),
            "pitchmidi": segment_atoms([0.0, 0.6], [0.6, 0.6], [60 + i % 2, 62]),
        })
    return doc


def patch_task(name: str) -> type[Task]:
    """The task class of ``name``, skipped (naming the test of its run) when it does not run patches."""
    cls = get_task_class(name)
    if getattr(cls.score_split, "__func__", cls.score_split) is not Task.score_split.__func__:
        assert name in OWN_RUN_TESTS, (f"task {name!r} has its own score_split: name the test file of its run "
                                       f"in OWN_RUN_TESTS")
        assert (ROOT / OWN_RUN_TESTS[name]).is_file(), OWN_RUN_TESTS[name]
        pytest.skip(f"{name} runs no patches over whole files: its run hooks are tested in {OWN_RUN_TESTS[name]}")
    return cls


def file_outputs(cls: type[Task], axes: tuple[str, ...], generator: torch.Generator) -> tuple[np.ndarray, tuple]:
    """``file_output`` of activated random outputs (N, ...) of the patches covering one file, and the
    shape expected of it."""
    patch_length = SIZES["T"]
    starts = cover_starts(NUM_FRAMES, patch_length, patch_length)
    raw = torch.randn((len(starts), *(int(a) if a.isdigit() else SIZES[a] for a in axes[1:])), generator=generator)
    outputs = cls(tiny_network((2,))).output_activation(raw).numpy()
    output, _patches = cls.file_output(outputs, starts, NUM_FRAMES, patch_length)
    expected = tuple(NUM_FRAMES if a == "T" else SIZES[a] for a in axes[1:] if a != "1")
    return np.asarray(output), expected


def numbers_in(value) -> list[float]:
    """Every number in a nested dict / list (booleans aside)."""
    if isinstance(value, dict):
        return [x for item in value.values() for x in numbers_in(item)]
    if isinstance(value, (list, tuple)):
        return [x for item in value for x in numbers_in(item)]
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return [float(value)]
    return []


@pytest.mark.parametrize("name", NAMES)
def test_file_output_gives_the_shape_of_one_file(name):
    cls = patch_task(name)
    output_cell, _y_cell = TABLE[name]
    generator = torch.Generator().manual_seed(0)
    for axes in axes_of(output_cell):
        output, expected = file_outputs(cls, axes, generator)
        assert output.shape == expected, f"{name}: file_output of patches {axes} gave {output.shape}, not {expected}"
        assert np.isfinite(output).all()


@pytest.mark.parametrize("name", NAMES)
def test_score_of_file_outputs_is_a_dict_of_finite_numbers(name):
    cls = patch_task(name)
    assert cls.target_kind in TARGET_FIELDS, (f"task {name!r}: no field of tiny_document() for its target kind "
                                              f"{cls.target_kind!r}; add one to TARGET_FIELDS")
    doc, field = tiny_document(), TARGET_FIELDS[cls.target_kind]
    target = build_target(TargetSpec(cls.target_kind, field), doc)
    generator = torch.Generator().manual_seed(0)
    axes = axes_of(TABLE[name][0])[0]
    predictions = {}
    for key in doc.keys():
        output, _expected = file_outputs(cls, axes, generator)
        predictions[key] = {"output": output, "time_sec": TIME_SEC, "frequency_hz": FREQUENCY_HZ}
    result = cls.score(predictions, target, doc=doc, annot_key=field, threshold=0.5)
    assert isinstance(result, dict) and isinstance(result.get("metrics"), dict), f"{name}: score gave {result!r}"
    scalars = numbers_in({k: v for k, v in result["metrics"].items() if not isinstance(v, (dict, list))})
    assert scalars, f"{name}: no scalar metric in {sorted(result['metrics'])}"
    bad = [x for x in numbers_in(result) if not math.isfinite(x)]
    assert bad == [], f"{name}: score gave non-finite numbers {bad[:5]}"
