"""The run side of mirmodels (issue 12, section 1): the run directory as one object (``RunDir``),
checkpoints on Lightning's public hooks, and fit / evaluate / predict asking the task class,
never naming a problem.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from pyjama_tools.core.errors import MirError

from test_fit import make_pair, write_config

#: every run hook, with a default in Task
HOOKS = ("check_output_shape", "file_output", "eval_context", "score", "score_split", "format_metrics",
         "write_prediction", "predict_file")
FLAGS = ("thresholded", "single_label", "one_patch_per_file", "distributed_sampler")


# ----------------------------------------------------------------------------- RunDir


def test_run_dir_names_every_file_of_a_run(tmp_path):
    from mirmodels.experiment import RunDir, run_paths

    run = RunDir(tmp_path / "run")
    assert not run.root.exists()  # paths only: nothing made on creation
    assert (run.config, run.meta, run.metrics) == (run.root / "config.yaml", run.root / "run.json",
                                                   run.root / "metrics.json")
    assert (run.best_ckpt, run.last_ckpt, run.best_pt) == (run.root / "checkpoints" / "best.ckpt",
                                                          run.root / "checkpoints" / "last.ckpt",
                                                          run.root / "checkpoints" / "best.pt")
    assert run.metrics_csv == run.root / "logs" / "metrics.csv"
    assert run.session_csv == run.root / "logs" / ".session" / "metrics.csv"
    # the dict of roles tests and scripts use is the object's
    assert run_paths(tmp_path / "run") == run.paths()
    assert sorted(run.paths()) == ["best_ckpt", "best_pt", "checkpoints", "config", "last_ckpt", "logs", "meta",
                                   "metrics"]
    assert str(run) == str(tmp_path / "run") and Path(run) == tmp_path / "run"


def test_run_dir_refuses_an_existing_run_and_a_resume_without_checkpoint(tmp_path):
    from mirmodels.rundir import RunDir

    run = RunDir(tmp_path / "run")
    assert run.create() is True and run.create() is False
    run.check_start(resume=False)  # a new run: nothing in the way
    with pytest.raises(MirError) as error:
        run.check_start(resume=True)
    assert str(error.value) == f"{run.last_ckpt}: no such checkpoint to resume from"
    run.checkpoints.mkdir()
    run.last_ckpt.write_bytes(b"")
    with pytest.raises(MirError) as error:
        run.check_start(resume=False)
    assert str(error.value) == (f"{run.root}: already holds a trained run; use --resume to continue it or --out "
                                "for a new one")
    run.check_start(resume=True)


def test_run_dir_cleans_what_a_killed_session_left(tmp_path):
    from mirmodels.rundir import RunDir

    run = RunDir(tmp_path / "run")
    run.checkpoints.mkdir(parents=True)
    for path in (run.best_ckpt, run.best_pt, run.checkpoints / ".last.ckpt.partial", run.root / ".run.json.partial"):
        path.write_bytes(b"x")
    run.discard_unfinished()
    run.remove_partials()
    assert sorted(p.name for p in run.root.rglob("*")) == ["checkpoints"]
    lock = run.root / ".lock"
    lock.write_text("")
    run.remove_if_only(lock)  # checkpoints/ is there: kept
    assert run.root.exists()
    run.checkpoints.rmdir()
    run.remove_if_only(lock)
    assert not run.root.exists()


def test_a_fit_into_an_unwritable_place_is_one_line(tmp_path):
    from mirmodels.rundir import RunDir

    (tmp_path / "file").write_text("")
    with pytest.raises(MirError, match="cannot create the run directory"):
        RunDir(tmp_path / "file" / "run").create()


# ----------------------------------------------------------------------------- checkpoints


def _private_overrides(cls: type) -> list[str]:
    """The single-underscore methods ``cls`` defines that one of its Lightning bases also has."""
    bases = [base for base in cls.__mro__[1:] if base.__module__.startswith("lightning")]
    return [name for name, value in vars(cls).items() if name.startswith("_") and not name.startswith("__")
            and (callable(value) or isinstance(value, property)) and any(hasattr(base, name) for base in bases)]


def test_checkpoint_callbacks_use_lightning_public_hooks_only(tmp_path):
    from lightning.pytorch.callbacks import Callback, ModelCheckpoint

    from mirmodels import callbacks, metrics_csv
    from mirmodels.config import load_config
    from mirmodels.trainer import build_trainer

    for cls in (callbacks.ExportBest, callbacks.AtomicCheckpointIO, metrics_csv.MergedCsvLog):
        assert "_save_checkpoint" not in vars(cls)
        assert _private_overrides(cls) == [], cls
    config = load_config(write_config(tmp_path / "c.yaml", "multiclass", tmp_path / "data"))
    trainer = build_trainer(config, tmp_path / "run")
    checkpoints = [c for c in trainer.callbacks if isinstance(c, ModelCheckpoint)]
    assert [type(c) for c in checkpoints] == [ModelCheckpoint, ModelCheckpoint]  # Lightning's own, not a subclass
    best = callbacks.best_checkpoint(trainer)  # found by the type of its callback, not by order or name
    assert best.monitor == "valid_loss" and Path(best.dirpath) == tmp_path / "run" / "checkpoints"
    assert [c.monitor for c in checkpoints if c is not best] == [None]  # last.ckpt: every epoch
    with pytest.raises(LookupError):
        callbacks.find_callback(trainer, type("Absent", (Callback,), {}))


@pytest.mark.slow
def test_a_two_epoch_fit_writes_best_and_last_checkpoints(tmp_path):
    from mirmodels.experiment import fit
    from mirmodels.rundir import RunDir

    data = make_pair(tmp_path / "data", files=5, seconds=2.0)
    config = write_config(tmp_path / "c.yaml", "multiclass", data, max_epochs=2)
    result = fit(config, out=tmp_path / "run")
    run = RunDir(result.run_dir)
    assert result.best_checkpoint == run.best_ckpt and result.best_state_dict == run.best_pt
    last = torch.load(run.last_ckpt, map_location="cpu", weights_only=True)
    best = torch.load(run.best_ckpt, map_location="cpu", weights_only=True)
    assert last["epoch"] == 1 and best["epoch"] in (0, 1)  # last: the second epoch; best: the lower valid_loss
    exported = torch.load(run.best_pt, map_location="cpu", weights_only=True)
    assert sorted(exported) == sorted(k.removeprefix("model.") for k in best["state_dict"] if k.startswith("model."))
    for key, value in exported.items():
        assert torch.equal(value, best["state_dict"][f"model.{key}"]), key
    meta = json.loads(run.meta.read_text())
    assert meta["epochs"] == 2 and meta["best_valid_loss"] == pytest.approx(result.best_valid_loss)
    assert run.metrics_csv.exists() and not list(run.root.rglob(".*.partial"))
    with pytest.raises(MirError, match="already holds a trained run"):
        fit(config, out=tmp_path / "run")


# ----------------------------------------------------------------------------- run hooks


#: what each registered task must give itself: at least one hook of each pair (Task's defaults have no scorer
#: and no prediction writer)
OWN_HOOKS = (("score", "score_split"), ("write_prediction", "predict_file"))


def overrides(cls: type, hook: str) -> bool:
    """``cls`` or a class between it and ``Task`` in its MRO defines ``hook`` itself."""
    from mirmodels.tasks import Task

    mro = cls.__mro__
    return any(hook in klass.__dict__ for klass in mro[:mro.index(Task)])


def missing_own_hooks(tasks) -> list[str]:
    """``problem: score/score_split`` for each (name, class) of ``tasks`` overriding no hook of a pair of OWN_HOOKS."""
    return [f"{name}: {'/'.join(pair)}" for name, cls in tasks for pair in OWN_HOOKS
            if not any(overrides(cls, hook) for hook in pair)]


def test_every_task_gives_its_scorer_and_its_prediction():
    from mirmodels.tasks import TASKS, Task

    assert [hook for hook in HOOKS if hook not in Task.__dict__] == [], "run hooks without a default in Task"
    assert missing_own_hooks(TASKS.items()) == []
    for problem in TASKS.names():
        for flag in FLAGS:
            assert isinstance(getattr(TASKS[problem], flag), bool), (problem, flag)
    # what the shared modules used to decide by name, now each task's
    assert [p for p in TASKS.names() if TASKS[p].thresholded] == ["multilabel", "multipitch"]
    assert [p for p in TASKS.names() if TASKS[p].single_label] == ["multiclass"]
    assert [p for p in TASKS.names() if TASKS[p].one_patch_per_file] == ["metric"]
    assert [p for p in TASKS.names() if not TASKS[p].distributed_sampler] == ["metric"]


def test_a_task_inheriting_only_the_defaults_is_found():
    """The check can fail: a task with no scorer or writer of its own is named, one through an
    unregistered base (``ClipLabelTask``) is not."""
    from mirmodels.tasks import Task
    from mirmodels.tasks._clip import ClipLabelTask

    class Bare(Task):
        pass

    class Scored(Task):
        @classmethod
        def score_split(cls, network, prepared, keys, device="cpu", quiet=True):
            return {}

    class Clip(ClipLabelTask):
        pass

    assert missing_own_hooks([("bare", Bare), ("scored", Scored), ("clip", Clip)]) == [
        "bare: score/score_split", "bare: write_prediction/predict_file", "scored: write_prediction/predict_file"]


@pytest.mark.parametrize("problem, output, input_shape, n_out, fits", [
    ("multiclass", (4,), (1, 32, 16), 4, True), ("multiclass", (3,), (1, 32, 16), 4, False),
    ("multilabel", (6, 1), (1, 32, 16), 6, False),
    ("framelabel", (25, 32), (1, 48, 32), 25, True), ("framelabel", (25, 31), (1, 48, 32), 25, False),
    ("multipitch", (1, 36, 32), (1, 36, 32), 36, True), ("multipitch", (36, 32), (1, 36, 32), 36, True),
    ("multipitch", (36, 32), (1, 32), 36, False),
    ("metric", (8,), (1, 48, 64), 0, True), ("metric", (8, 2), (1, 48, 64), 0, False),
])
def test_output_shape_rule_is_the_task_s(problem, output, input_shape, n_out, fits):
    from mirmodels.experiment import check_output_shape
    from mirmodels.tasks import get_task_class

    if fits:
        check_output_shape(problem, output, input_shape, n_out, where="m.yaml")
        return
    with pytest.raises(MirError) as error:
        check_output_shape(problem, output, input_shape, n_out, where="m.yaml")
    assert str(error.value).startswith(f"m.yaml: output shape {output} for input {input_shape} does not fit the "
                                       f"{problem} target: expected ")
    with pytest.raises(MirError, match="does not fit"):
        get_task_class(problem).check_output_shape(output, input_shape, n_out, where="m.yaml")
