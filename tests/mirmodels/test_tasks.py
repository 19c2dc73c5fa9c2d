"""Lightning tasks (mirmodels.tasks) and optimizers (mirmodels.optim) on tiny synthetic data."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from pyjama_tools.core.errors import MirError, ParameterError
from mirmodels.optim import build_optimizer, optimizer_names
from mirmodels.tasks import (
    FramelabelTask,
    MetricTask,
    MulticlassTask,
    MultilabelTask,
    MultipitchTask,
    Task,
    TrainingError,
    get_task_class,
    task_names,
)

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*does not have many workers.*"),
    pytest.mark.filterwarnings("ignore:.*log_every_n_steps.*"),
    pytest.mark.filterwarnings("ignore:.*no `val_dataloader`.*"),
    pytest.mark.filterwarnings("ignore:.*LeafSpec.*"),
]

F_BINS, FRAMES = 8, 16


class DictDataset(Dataset):
    """Items shaped like mirfeat.patches.PatchDataset's: {'X', 'y', 'key', 'start'}."""

    def __init__(self, X: torch.Tensor, y: torch.Tensor):
        self.X, self.y = X, y

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, i: int) -> dict:
        return {"X": self.X[i], "y": self.y[i], "key": f"file{i % 5}.wav", "start": i * 4}


def _data(problem: str, n: int = 48, seed: int = 0) -> DictDataset:
    g = torch.Generator().manual_seed(seed)
    if problem == "multiclass":
        y = torch.randint(0, 3, (n,), generator=g)
        X = torch.randn(n, 1, F_BINS, FRAMES, generator=g) + y.view(n, 1, 1, 1).float()
        return DictDataset(X, y)
    if problem == "multilabel":
        X = torch.randn(n, 1, F_BINS, FRAMES, generator=g)
        y = (X[:, 0, :3].mean(dim=2) > 0).float()  # tag k active when band k is loud on average
        return DictDataset(X, y)
    if problem == "framelabel":
        X = torch.randn(n, 1, F_BINS, FRAMES, generator=g)
        y = X[:, 0, :3].argmax(dim=1)  # class of a frame = loudest of the first three bands
        y[:, :2] = -100  # unlabelled frames
        return DictDataset(X, y)
    if problem == "multipitch":
        X = torch.randn(n, 1, F_BINS, FRAMES, generator=g)
        y = (X[:, 0] > 0.8).float()
        return DictDataset(X, y)
    if problem == "metric":
        works = torch.arange(n) % 8  # 8 works x 6 performances
        centres = torch.randn(8, F_BINS, generator=g) * 0.7
        X = centres[works][:, None, :, None] + torch.randn(n, 1, F_BINS, 4, generator=g)
        return DictDataset(X, works)
    raise AssertionError(problem)


def _model(problem: str) -> nn.Module:
    torch.manual_seed(0)
    if problem == "multiclass":
        return nn.Sequential(nn.Flatten(), nn.Linear(F_BINS * FRAMES, 3))
    if problem == "multilabel":
        return nn.Sequential(nn.Flatten(), nn.Linear(F_BINS * FRAMES, 3))
    if problem == "framelabel":  # (B, 1, F, T) -> (B, F, T) -> (B, K, T)
        return nn.Sequential(nn.Flatten(1, 2), nn.Conv1d(F_BINS, 3, 1))
    if problem == "multipitch":  # (B, 1, F, T) -> (B, 1, F, T) logits
        return nn.Conv2d(1, 1, 3, padding=1)
    if problem == "metric":  # (B, 1, F, 4) -> (B, 4) embeddings
        return nn.Sequential(nn.Flatten(), nn.Linear(F_BINS * 4, 4))
    raise AssertionError(problem)


LR = {"multiclass": 0.01, "multilabel": 0.01, "framelabel": 0.05, "multipitch": 0.05, "metric": 0.02}
PROBLEMS = ["multiclass", "multilabel", "framelabel", "multipitch", "metric"]


class EpochLosses(L.Callback):
    def __init__(self):
        self.train, self.valid = [], []

    def on_train_epoch_end(self, trainer, module):
        self.train.append(float(trainer.callback_metrics["train_loss"]))

    def on_validation_epoch_end(self, trainer, module):
        if not trainer.sanity_checking:
            self.valid.append(float(trainer.callback_metrics["valid_loss"]))


def _trainer(callbacks=(), **kwargs) -> L.Trainer:
    return L.Trainer(
        max_epochs=kwargs.pop("max_epochs", 3),
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=list(callbacks),
        **kwargs,
    )


def _batch(problem: str, size: int = 8) -> dict:
    # metric: 8 works cycle through the items, so 8 items would hold no positive pair
    data = _data(problem)
    if problem == "metric":
        order = torch.arange(len(data)).view(6, 8).T.reshape(-1)  # 4 works x 2 performances first
        data = DictDataset(data.X[order], data.y[order])
    return next(iter(DataLoader(data, batch_size=size)))


def test_registry():
    assert task_names() == ["framelabel", "metric", "multiclass", "multilabel", "multipitch", "separation"]
    assert get_task_class("multipitch") is MultipitchTask
    assert get_task_class("MULTICLASS") is MulticlassTask
    with pytest.raises(ParameterError, match="unknown problem 'regression'; known: framelabel, metric"):
        get_task_class("regression")


@pytest.mark.parametrize("problem", PROBLEMS)
def test_training_and_validation_steps(problem):
    task = get_task_class(problem)(_model(problem), lr=LR[problem])
    batch = _batch(problem)
    loss = task.training_step(batch, 0)
    assert loss.dim() == 0 and torch.isfinite(loss) and loss.item() > 0
    loss.backward()
    assert all(p.grad is not None for p in task.parameters())
    with torch.no_grad():
        assert torch.isfinite(task.validation_step(batch, 0))


@pytest.mark.parametrize("problem", PROBLEMS)
def test_fit_decreases_the_loss_and_logs_valid_loss(problem):
    torch.manual_seed(0)
    options = {"mining": "hard"} if problem == "metric" else {}
    task = get_task_class(problem)(_model(problem), lr=LR[problem], **options)
    train = DataLoader(_data(problem, seed=0), batch_size=16 if problem != "metric" else 24, shuffle=problem != "metric")
    valid = DataLoader(_data(problem, n=24, seed=1), batch_size=24)
    record = EpochLosses()
    _trainer([record]).fit(task, train, valid)
    assert len(record.train) == 3 and len(record.valid) == 3
    assert record.train[-1] < record.train[0]
    assert record.valid[-1] < record.valid[0]


@pytest.mark.parametrize("mining", ["random", "semihard"])
def test_metric_fit_with_other_mining(mining):
    torch.manual_seed(0)
    task = MetricTask(_model("metric"), lr=0.02, mining=mining, margin=1.0)
    record = EpochLosses()
    _trainer([record], max_epochs=4).fit(task, DataLoader(_data("metric"), batch_size=24))
    assert record.train[-1] < record.train[0]


def test_predict_step_outputs():
    for problem, shape in [
        ("multiclass", (8, 3)),
        ("multilabel", (8, 3)),
        ("framelabel", (8, 3, FRAMES)),
        ("multipitch", (8, F_BINS, FRAMES)),
        ("metric", (8, 4)),
    ]:
        task = get_task_class(problem)(_model(problem))
        batch = _batch(problem)
        out = task.predict_step(batch, 0)
        assert out["output"].shape == shape and out["output"].dtype == torch.float32, problem
        assert out["key"] == batch["key"] and torch.equal(out["start"], batch["start"])
        if problem in ("multiclass", "framelabel"):
            torch.testing.assert_close(out["output"].sum(dim=1), torch.ones(shape[:1] + shape[2:]))
        if problem in ("multilabel", "multipitch"):
            assert out["output"].min() >= 0 and out["output"].max() <= 1
        if problem == "metric":
            torch.testing.assert_close(out["output"], task.model(batch["X"]).detach())


def test_trainer_predict_collects_probabilities():
    task = MulticlassTask(_model("multiclass"))
    outputs = _trainer().predict(task, DataLoader(_data("multiclass", n=20), batch_size=8))
    assert [o["output"].shape[0] for o in outputs] == [8, 8, 4]


def test_multipitch_accepts_channel_or_no_channel_logits():
    task = MultipitchTask(nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.Flatten(1, 2)))  # (B, F, T)
    assert torch.isfinite(task.training_step(_batch("multipitch"), 0))


def test_framelabel_ignores_unlabelled_frames():
    task = FramelabelTask(_model("framelabel"))
    batch = _batch("framelabel")
    loss = task.training_step(batch, 0)
    logits = task(batch["X"])
    y = batch["y"]
    keep = y != -100
    manual = nn.functional.cross_entropy(logits.permute(0, 2, 1)[keep], y[keep])
    assert loss.item() == pytest.approx(manual.item(), rel=1e-5)
    batch["y"] = torch.full_like(y, -100)
    assert task.training_step(batch, 0).item() == 0.0


def test_nan_loss_raises_training_error_in_step_and_fit():
    model = _model("multiclass")
    with torch.no_grad():
        model[1].weight.fill_(float("nan"))
    task = MulticlassTask(model, lr=0.1)
    with pytest.raises(TrainingError, match=r"loss is NaN at train epoch 0, step 0 \(batch 0\): lower the learning rate"):
        task.training_step(_batch("multiclass"), 0)
    with pytest.raises(TrainingError, match="loss is NaN at train epoch 0"):
        _trainer().fit(task, DataLoader(_data("multiclass"), batch_size=16))
    assert issubclass(TrainingError, MirError)


def test_nan_in_inputs_names_the_key():
    task = MultilabelTask(_model("multilabel"))
    batch = _batch("multilabel")
    batch["X"][0, 0, 0, 0] = float("nan")
    with pytest.raises(TrainingError, match="input X contains NaN/inf .first key 'file0.wav'"):
        task.training_step(batch, 0)


class _OtherRankWentNaN:
    """A stand-in for a 2-process DDP trainer whose other process got a NaN loss."""

    world_size, current_epoch, global_step = 2, 3, 40

    class strategy:  # noqa: N801  (the attribute Lightning names so)
        @staticmethod
        def reduce_boolean_decision(decision: bool, all: bool = True) -> bool:
            return True  # some process is bad

        @staticmethod
        def reduce(tensor: torch.Tensor, reduce_op: str = "mean") -> torch.Tensor:
            assert reduce_op == "sum"
            return tensor + float("nan")  # the other process's loss is NaN


def test_a_process_whose_own_loss_is_fine_names_the_other_processs_nan():
    task = MulticlassTask(_model("multiclass"))
    task._trainer = _OtherRankWentNaN()
    with pytest.raises(TrainingError, match=r"^loss is NaN on another DDP process at train epoch 3, step 40 \(batch 5\);"):
        task._check_finite(torch.tensor(0.7), _batch("multiclass"), 5, "train")


def test_bad_targets_and_shapes_are_one_line_errors():
    task = MulticlassTask(_model("multiclass"))
    batch = _batch("multiclass")
    batch["y"][0] = 7
    with pytest.raises(MirError, match="class index 7 in y is outside the model's 3 outputs"):
        task.training_step(batch, 0)
    framelabel = FramelabelTask(nn.Sequential(nn.Flatten(1, 2), nn.Conv1d(F_BINS, 3, 1), Transpose()))
    with pytest.raises(MirError, match="add a Permute layer"):
        framelabel.training_step(_batch("framelabel"), 0)
    multilabel = MultilabelTask(nn.Sequential(nn.Flatten(), nn.Linear(F_BINS * FRAMES, 5)))
    with pytest.raises(MirError, match=r"multilabel task: shape mismatch: model output \(8, 5\), target y \(8, 3\)"):
        multilabel.training_step(_batch("multilabel"), 0)
    with pytest.raises(MirError, match="expected a dict with 'X' and 'y'"):
        task.training_step((torch.zeros(1), torch.zeros(1)), 0)


class Transpose(nn.Module):
    def forward(self, x):
        return x.transpose(1, 2)


def test_options_and_hyperparameters_are_validated():
    model = _model("metric")
    task = MetricTask(model, optimizer="sgd", lr=0.1, margin=0.5, mining="semi-hard")
    assert task.options.mining == "semihard" and task.options.margin == 0.5
    assert task.hparams["optimizer"] == "sgd" and task.hparams["margin"] == 0.5
    assert "model" not in task.hparams
    assert MulticlassTask.option_names() == ["label_smoothing"]
    with pytest.raises(ParameterError, match="multiclass task: unknown option 'margin'; allowed options: label_smoothing"):
        MulticlassTask(model, margin=1.0)
    with pytest.raises(ParameterError, match="lr=0"):
        MulticlassTask(model, lr=0)
    with pytest.raises(ParameterError, match=r"^unknown optimizer 'rmsprop'; known: adam, adamw, sgd$"):
        MulticlassTask(model, optimizer="rmsprop")
    with pytest.raises(ParameterError, match="label_smoothing=1.5"):
        FramelabelTask(model, label_smoothing=1.5)
    with pytest.raises(ParameterError, match="ignore_index=3"):
        FramelabelTask(model, ignore_index=3)
    with pytest.raises(ParameterError, match="pos_weight=-1"):
        MultipitchTask(model, pos_weight=-1)
    with pytest.raises(ParameterError, match=r"^mining: unknown mining strategy 'nearest'; known: hard, random, semihard$"):
        MetricTask(model, mining="nearest")
    with pytest.raises(ParameterError, match="model: expected a torch.nn.Module"):
        MulticlassTask("not a model")


def test_checkpoint_reload_with_the_model_passed_back(tmp_path):
    task = MultilabelTask(_model("multilabel"), optimizer="adamw", lr=0.01, pos_weight=2.0)
    trainer = _trainer(max_epochs=1)
    trainer.fit(task, DataLoader(_data("multilabel"), batch_size=16))
    path = tmp_path / "last.ckpt"
    trainer.save_checkpoint(path)
    again = MultilabelTask.load_from_checkpoint(path, model=_model("multilabel"))
    assert again.options.pos_weight == 2.0 and again.optimizer_name == "adamw"
    for a, b in zip(task.parameters(), again.parameters()):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("problem", PROBLEMS)
def test_bf16_mixed_precision(problem):
    task = get_task_class(problem)(_model(problem), lr=LR[problem])
    record = EpochLosses()
    trainer = _trainer([record], max_epochs=2, precision="bf16-mixed")
    trainer.fit(task, DataLoader(_data(problem), batch_size=24))
    assert all(torch.isfinite(torch.tensor(record.train)))
    (first, *_) = trainer.predict(task, DataLoader(_data(problem), batch_size=24))
    assert first["output"].dtype == torch.float32 and torch.isfinite(first["output"]).all()


def test_optimizer_registry():
    params = [nn.Parameter(torch.zeros(2))]
    assert optimizer_names() == ["adam", "adamw", "sgd"]
    assert isinstance(build_optimizer("adam", params, lr=0.01), torch.optim.Adam)
    adamw = build_optimizer("AdamW", params, lr=0.01, weight_decay=0.1)
    assert isinstance(adamw, torch.optim.AdamW) and adamw.param_groups[0]["weight_decay"] == 0.1
    sgd = build_optimizer("sgd", params, lr=0.1, momentum=0.5)
    assert isinstance(sgd, torch.optim.SGD) and sgd.param_groups[0]["momentum"] == 0.5
    with pytest.raises(ParameterError, match=r"^unknown optimizer 'lbfgs'; known: adam, adamw, sgd$"):
        build_optimizer("lbfgs", params)
    with pytest.raises(ParameterError, match="momentum=1.5"):
        build_optimizer("sgd", params, momentum=1.5)
    with pytest.raises(ParameterError, match="weight_decay=-1"):
        build_optimizer("adam", params, weight_decay=-1)
    task = MulticlassTask(_model("multiclass"), optimizer="sgd", lr=0.3, momentum=0.8)
    optimizer = task.configure_optimizers()
    assert isinstance(optimizer, torch.optim.SGD) and optimizer.param_groups[0]["lr"] == 0.3


def test_task_base_is_abstract_about_the_loss():
    with pytest.raises(NotImplementedError):
        Task(_model("multiclass")).training_step(_batch("multiclass"), 0)


@pytest.mark.slow
def test_ddp_two_cpu_processes_log_synced_losses_and_raise_together():
    # two CPU processes (gloo): losses are synchronised; a NaN on one rank stops both (no hang)
    task = MulticlassTask(_model("multiclass"), lr=0.01)
    trainer = _trainer(max_epochs=1, devices=2, strategy="ddp_spawn")
    trainer.fit(task, DataLoader(_data("multiclass"), batch_size=8), DataLoader(_data("multiclass", n=16, seed=1), batch_size=8))
    assert torch.isfinite(trainer.callback_metrics["valid_loss"])
    data = _data("multiclass")
    data.X[1::2] = float("nan")
    trainer = _trainer(max_epochs=1, devices=2, strategy="ddp_spawn")
    with pytest.raises(Exception, match="TrainingError: loss is NaN"):
        trainer.fit(MulticlassTask(_model("multiclass")), DataLoader(data, batch_size=1))


# ----------------------------------------------------------------------------- run hooks of the problems


def test_format_metrics_lists_the_sections_each_task_declares():
    data = {"split": "test", "num_files": 2, "metrics": {"Recall": 0.5, "per_file": {"a": 1.0}},
            "metrics_patch_average_tutorial": {"Recall": 0.25, "num_patches": 3}}
    pitch = MultipitchTask.format_metrics({**data, "problem": "multipitch"}).splitlines()
    assert pitch[0] == "multipitch on test (2 files)"
    assert [line.split() for line in pitch[3:]] == [["Recall", "0.5000"], ["patch", "average", "(tutorial)", "Recall",
                                                     "0.2500"], ["patch", "average", "(tutorial)", "num_patches", "3"]]
    # the tutorial's section is multipitch's: another task lists its own sections only
    other = MulticlassTask.format_metrics({**data, "problem": "multiclass"})
    assert "patch average" not in other and other.splitlines()[3].split() == ["Recall", "0.5000"]

    class Sectioned(Task):
        metric_sections = (("metrics", ""), ("baseline", "baseline "))

    table = Sectioned.format_metrics({"metrics": {"sdr": 1.0}, "baseline": {"sdr": 0.5}})
    assert [line.split() for line in table.splitlines()[3:]] == [["sdr", "1.0000"], ["baseline", "sdr", "0.5000"]]


@pytest.mark.parametrize("chord_vocabulary, names, chords", [
    ("majmin", ["0", "1"], True),  # the spec maps the field to the 25 majmin classes
    (None, ["C:maj", "A:min", "N"], True),  # a chord field's own labels
    (None, ["N"], True),
    (None, ["verse", "chorus"], False), (None, ["C:maj", "verse"], False), (None, [], False),
])
def test_the_framelabel_task_knows_chord_labels(chord_vocabulary, names, chords):
    from types import SimpleNamespace

    target = SimpleNamespace(spec=SimpleNamespace(chord_vocabulary=chord_vocabulary))
    assert FramelabelTask.chord_labels(target, names) is chords


def test_the_clip_label_tasks_share_one_base():
    from mirmodels.tasks import TASKS
    from mirmodels.tasks._clip import ClipLabelTask

    for cls in (MulticlassTask, MultilabelTask):
        assert issubclass(cls, ClipLabelTask)
        own = {"check_output_shape", "score", "write_prediction", "resizable_output"} & set(vars(cls))
        assert own == set(), f"{cls.__name__} repeats {sorted(own)} of ClipLabelTask"
        assert "clip_metrics" in vars(cls)
    assert ClipLabelTask not in dict(TASKS.items()).values()  # a base, not a problem
    with pytest.raises(MirError, match=r"model: output shape \(3, 1\) .*expected \(3,\)"):
        MultilabelTask.check_output_shape((3, 1), (1, 8, 16), 3)
