"""The common LightningModule of every problem type, and the task registry.

A task wraps a network (``nn.Module`` from :func:`mirmodels.build_model`) with what training needs:
the loss, the optimizer, the logging of ``train_loss`` / ``valid_loss`` (per epoch, synchronised
across DDP processes, so ``EarlyStopping`` and ``ModelCheckpoint`` can monitor ``valid_loss``),
and ``predict_step`` returning probabilities (or embeddings).  One module per problem type
registers its subclass with :func:`register_task`; :func:`get_task_class` finds it by name.

Batches are dicts ``{'X': Tensor, 'y': Tensor, 'key': list[str], 'start': Tensor}`` as produced by
:class:`mirfeat.patches.PatchDataset` with torch's default collate.

Task-specific options (``label_smoothing``, ``margin``, ``mining``, ...) are the fields of the
subclass's frozen ``Options`` dataclass; they arrive as keyword arguments and are validated on
construction (an unknown option raises :class:`~pyjama_tools.core.errors.ParameterError` listing the
allowed ones).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar
from collections.abc import Sequence

import lightning as L
import torch
from torch import Tensor, nn

from pyjama_tools.core.errors import MirError, ParameterError
from pyjama_tools.core.registry import Registry
from mirmodels.optim import build_optimizer, check_optimizer_params

__all__ = ["Task", "TaskOptions", "TrainingError", "TASKS", "register_task", "get_task_class", "task_names"]


class TrainingError(MirError):
    """Training cannot go on (e.g. the loss became NaN); the message says where and what to try."""


def _leave_process_group(wait_for_others: bool) -> None:
    """Leave the DDP process group cleanly (at the end of a run, or when every process raises).

    A process that exits with its gloo/NCCL group still alive can abort in the group's destructor
    ("terminate called without an active exception", SIGABRT; seen with ddp_spawn on CPU), and a
    crash or error message of that process is then lost. ``wait_for_others`` adds a barrier first:
    only where every process is known to be at the same point.
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        if wait_for_others:
            dist.barrier()
        dist.destroy_process_group()


@dataclasses.dataclass(frozen=True)
class TaskOptions:
    """Options of a task without specific options."""


#: Every problem type, by name; a config may write any of a task's ``aliases``.
TASKS: Registry[type[Task]] = Registry("problem", ParameterError, fold_case=True)


def register_task(name: str, *aliases: str):
    """Class decorator registering a :class:`Task` subclass under the problem ``name`` (and ``aliases``)."""

    def decorator(cls: type[Task]) -> type[Task]:
        cls.problem = name
        cls.aliases = tuple(aliases)
        cls.target_kind = cls.target_kind or name
        TASKS.add(name, cls, aliases)
        return cls

    return decorator


def task_names() -> list[str]:
    """The registered problem names, sorted."""
    return TASKS.names()


def get_task_class(problem: str) -> type[Task]:
    """The task class registered for ``problem`` or one of its aliases.

    Raises
    ------
    ParameterError
        One line listing the known problems.
    """
    return TASKS.lookup(problem)


class Task(L.LightningModule):
    """Base LightningModule: loss, optimizer, logging and NaN guard shared by all problems.

    Parameters
    ----------
    model : nn.Module
        The network; ``model(X)`` gives the logits (or embeddings) of a batch.
    optimizer : str
        Registered optimizer name (``adam``, ``adamw``, ``sgd``), see :mod:`mirmodels.optim`.
    lr : float
        Learning rate (> 0).
    weight_decay : float
        Weight decay (>= 0).
    momentum : float
        SGD momentum in [0, 1).
    **task_options
        Fields of the subclass's ``Options`` dataclass.

    Notes
    -----
    Subclasses implement :meth:`compute_loss` (and :meth:`output_activation` when the
    prediction is not the raw output).  The network is not part of the saved hyper-parameters:
    reload with ``TaskClass.load_from_checkpoint(path, model=build_model(...))``.
    """

    # ---- what the task knows about its problem (the shared modules ask these, never a problem name)
    #: the problem name (set by :func:`register_task`)
    problem: ClassVar[str] = ""
    #: the task-specific options (``train.task`` in a config)
    Options: ClassVar[type] = TaskOptions
    #: other names a config may write for the problem (set by :func:`register_task`)
    aliases: ClassVar[tuple[str, ...]] = ()
    #: the tutorial's model names (``model.name``, lower case) that imply the problem when a config names none
    model_names: ClassVar[tuple[str, ...]] = ()
    #: dataset keys whose presence implies the problem when a config names none, each with its allowed values
    implied_by: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: the kind of :func:`mirfeat.targets.build_target` (set to the problem name by :func:`register_task` when empty)
    target_kind: ClassVar[str] = ""
    #: the annotation field read when a config names none (None: the config must name one, or the task guesses)
    default_annot_key: ClassVar[str | None] = None
    #: a config without ``dataset.annot_key`` (and no default) is refused; False: :meth:`guess_annot_key` finds it
    needs_annot_key: ClassVar[bool] = True
    #: the book's ``train`` settings for the problem: the defaults of every key a config does not write
    train_defaults: ClassVar[dict[str, Any]] = {}
    #: the ``feature`` section of a config without one (``{base}`` in text values is the dataset base), or None
    feature_defaults: ClassVar[dict[str, Any] | None] = None
    #: the output size is the number of classes: a last layer written as a number may be resized to the dataset
    resizable_output: ClassVar[bool] = False
    #: an entry without the annotation field is still labelled (an empty tag list), not left out
    labels_every_entry: ClassVar[bool] = False
    #: a dataset must give the run's classes in the run's order (False: outputs are no classes, e.g. embeddings)
    checks_vocabulary: ClassVar[bool] = True

    @staticmethod
    def complete_dataset_config(dataset: Any) -> dict[str, Any]:
        """Settings the problem implies from a validated ``DatasetConfig``: field name -> value (none by default)."""
        return {}

    @staticmethod
    def guess_annot_key(doc: Any) -> str:
        """The annotation field of ``doc`` when the config names none (only asked when not :attr:`needs_annot_key`)."""
        raise MirError("dataset.annot_key: missing; name the .pyjama field holding the labels")

    @staticmethod
    def adjust_target(config: Any, spec: Any, target: Any, doc: Any) -> Any:
        """The target to train on, given the one built from ``spec`` (unchanged by default)."""
        return target

    @classmethod
    def prepare_dataset(cls, config: Any, data_root: Any = None, jobs: int = 1, quiet: bool = True,
                        allow_missing_audio: bool = False) -> Any:
        """The run's :class:`mirmodels.patch_data.PreparedData` (default: features and patches of annotated
        files, :func:`mirmodels.patch_data.prepare_patch_data` asking this class)."""
        from mirmodels.patch_data import prepare_patch_data

        return prepare_patch_data(cls, config, data_root, jobs=jobs, quiet=quiet,
                                  allow_missing_audio=allow_missing_audio)

    @staticmethod
    def make_dataset(prepared: Any, keys: Any, train: bool = True) -> Any:
        """The torch Dataset of ``keys`` (default: :func:`mirmodels.patch_data.patch_dataset`, patches of the
        feature)."""
        from mirmodels.patch_data import patch_dataset

        return patch_dataset(prepared, keys, train=train)

    @staticmethod
    def batch_sampler(prepared: Any, dataset: Any, name: str, shuffle: bool, seed: int) -> Any:
        """A batch sampler building the batches of split ``name`` itself, or None for batches of ``batch_size``."""
        return None

    def __init__(
        self,
        model: nn.Module,
        optimizer: str = "adam",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        momentum: float = 0.9,
        **task_options: Any,
    ):
        super().__init__()
        if not isinstance(model, nn.Module):
            raise ParameterError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
        check_optimizer_params(optimizer, lr, weight_decay, momentum)
        self.options = self._parse_options(task_options)
        self.save_hyperparameters(ignore=["model"])
        self.model = model
        self.optimizer_name = optimizer.lower()
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.momentum = float(momentum)

    # ------------------------------------------------------------------ options
    @classmethod
    def option_names(cls) -> list[str]:
        """Names of the task-specific options accepted as keyword arguments."""
        return [f.name for f in dataclasses.fields(cls.Options)]

    @classmethod
    def _parse_options(cls, task_options: dict[str, Any]):
        allowed = cls.option_names()
        unknown = sorted(set(task_options) - set(allowed))
        if unknown:
            known = ", ".join(allowed) if allowed else "none"
            raise ParameterError(
                f"{cls.problem or cls.__name__} task: unknown option {unknown[0]!r}; allowed options: {known}"
            )
        return cls.Options(**task_options)

    # ------------------------------------------------------------------ model
    def forward(self, x: Tensor) -> Tensor:
        """Raw network output (logits or embeddings)."""
        return self.model(x)

    def output_activation(self, output: Tensor) -> Tensor:
        """Network output -> prediction (probabilities, or embeddings unchanged)."""
        return output

    def compute_loss(self, output: Tensor, y: Tensor) -> Tensor:
        """Loss of one batch (0-d tensor); implemented by each problem type."""
        raise NotImplementedError

    # ------------------------------------------------------------------ steps
    def _step(self, batch: dict, batch_idx: int, stage: str) -> Tensor:
        if not isinstance(batch, dict) or "X" not in batch or "y" not in batch:
            got = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
            raise MirError(f"{stage} batch: expected a dict with 'X' and 'y', got {got}")
        output = self(batch["X"])
        loss = self.compute_loss(output, batch["y"])
        self._check_finite(loss, batch, batch_idx, stage)
        if self._trainer is not None:
            self.log(
                f"{stage}_loss",
                loss,
                on_step=False,
                on_epoch=True,
                prog_bar=True,
                sync_dist=True,
                batch_size=int(batch["X"].shape[0]),
            )
        return loss

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        """Loss of a training batch, logged as ``train_loss`` (epoch mean)."""
        return self._step(batch, batch_idx, "train")

    def validation_step(self, batch: dict, batch_idx: int) -> Tensor:
        """Loss of a validation batch, logged as ``valid_loss`` (epoch mean)."""
        return self._step(batch, batch_idx, "valid")

    def test_step(self, batch: dict, batch_idx: int) -> Tensor:
        """Loss of a test batch, logged as ``test_loss``."""
        return self._step(batch, batch_idx, "test")

    def predict_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> dict[str, Any]:
        """Predictions of a batch.

        Returns
        -------
        dict
            ``output``: float32 tensor of probabilities (sigmoid / softmax of the logits) or
            embeddings, batch first; ``key`` and ``start`` copied from the batch when present.
        """
        x = batch["X"] if isinstance(batch, dict) else batch
        output = self.output_activation(self(x)).float()
        result: dict[str, Any] = {"output": output}
        if isinstance(batch, dict):
            for name in ("key", "start"):
                if name in batch:
                    result[name] = batch[name]
        return result

    def teardown(self, stage: str) -> None:
        """Lightning's last hook of a run: leave the DDP process group (see :func:`_leave_process_group`)."""
        trainer = self._trainer
        if trainer is not None and trainer.world_size > 1:
            _leave_process_group(wait_for_others=False)

    def _check_finite(self, loss: Tensor, batch: dict, batch_idx: int, stage: str) -> None:
        own = loss.detach().float().reshape(-1)[:1]
        bad = not bool(torch.isfinite(own).all())
        trainer = self._trainer
        distributed = trainer is not None and trainer.world_size > 1
        if distributed:
            # every process must raise together, or the others hang in the next all-reduce
            bad = trainer.strategy.reduce_boolean_decision(bad, all=False)
        if not bad:
            return
        elsewhere = bool(torch.isfinite(own).all())  # only another process's loss went bad
        # all processes are here together: a sum is NaN when any loss is NaN, so each one names
        # the same failure (a process whose own loss was fine would otherwise say "infinite")
        value = float(trainer.strategy.reduce(own.clone(), reduce_op="sum")) if distributed else float(own)
        what = "NaN" if math.isnan(value) else "infinite"
        where = f"{stage} epoch {self.current_epoch}, step {self.global_step} (batch {batch_idx})"
        if distributed:  # every process is here (the decision above was all-reduced)
            _leave_process_group(wait_for_others=True)
        if elsewhere:
            raise TrainingError(f"loss is {what} on another DDP process at {where}; that process's error names the cause")
        x = batch["X"]
        if torch.is_tensor(x) and x.is_floating_point() and not bool(torch.isfinite(x).all()):
            keys = batch.get("key")
            first = f" (first key {keys[0]!r})" if isinstance(keys, (list, tuple)) and keys else ""
            raise TrainingError(f"loss is {what} at {where}: the input X contains NaN/inf{first}; check the feature cache")
        raise TrainingError(
            f"loss is {what} at {where}: lower the learning rate (lr={self.lr:g}), "
            "enable gradient clipping, or check the targets"
        )

    # ------------------------------------------------------------------ optimizer
    def configure_optimizers(self) -> torch.optim.Optimizer:
        """The registered optimizer over all trainable parameters."""
        params = [p for p in self.parameters() if p.requires_grad]
        return build_optimizer(self.optimizer_name, params, self.lr, self.weight_decay, self.momentum)

    # ------------------------------------------------------------------ run hooks
    # What ``fit``, ``evaluate`` and ``predict`` ask the task (they never name a problem). The defaults
    # are those of a problem without its own rule; each problem module overrides what it knows.
    #: ``eval.threshold`` decides the task's outputs (recorded in metrics.json; else ``threshold: null``)
    thresholded: ClassVar[bool] = False
    #: one class per file (predict reports the argmax, not the classes above the threshold)
    single_label: ClassVar[bool] = False
    #: whole-file inference runs one patch, the file's first ``patch_L_frame`` frames (zero-padded)
    one_patch_per_file: ClassVar[bool] = False
    #: Lightning's distributed sampler shards the batches (False: the data module shards its own)
    distributed_sampler: ClassVar[bool] = True
    #: the sections of ``metrics.json`` :meth:`format_metrics` lists: (key, label before each metric name)
    metric_sections: ClassVar[tuple[tuple[str, str], ...]] = (("metrics", ""),)

    @classmethod
    def check_output_shape(cls, output_shape: Sequence[int], input_shape: Sequence[int], n_outputs: int,
                           where: str = "model") -> None:
        """Fail early when the network's output (batch excluded) cannot be compared with the target
        (:class:`MirError` naming ``where``); the default checks nothing."""

    @classmethod
    def _output_shape_error(cls, where: str, shape: tuple, input_shape: Sequence[int], expected: str) -> MirError:
        return MirError(f"{where}: output shape {shape} for input {tuple(input_shape)} does not fit the "
                        f"{cls.problem} target: expected {expected}; check the last layers or dataset.n_out")

    @classmethod
    def file_output(cls, outputs: Any, starts: Any, num_frames: int, patch_length: int) -> tuple[Any, Any]:
        """Per-patch outputs (N, ...) of one file → (the file's output, the patches kept); default:
        the mean over patches."""
        return outputs.mean(axis=0), outputs

    @classmethod
    def eval_context(cls, network: nn.Module, prepared: Any, predictions: dict, inputs: Any, device: Any) -> dict:
        """Extra keyword arguments of :meth:`score` that need the network (``inputs``: the split's
        :class:`mirmodels.inference.FileInputs`, read lazily); default none."""
        return {}

    @classmethod
    def score(cls, predictions: dict, target: Any, **context: Any) -> dict:
        """Metrics of the whole-file ``predictions`` ({key: {'output', 'time_sec', ...}}) against ``target``."""
        raise MirError(f"problem {cls.problem!r} has no scorer")

    @classmethod
    def score_split(cls, network: nn.Module, prepared: Any, keys: Sequence[str], device: str = "cpu",
                    quiet: bool = True) -> dict:
        """What ``mirmodels evaluate`` writes beside run / split / problem; default: patches over whole
        files (:func:`mirmodels.inference.score_patches`)."""
        from mirmodels.inference import score_patches

        return score_patches(cls, network, prepared, keys, device=device, quiet=quiet)

    @classmethod
    def format_metrics(cls, data: dict) -> str:
        """The scalar metrics of ``metrics.json`` as a two-column table, section by section of
        :attr:`metric_sections` (nested values left to the JSON)."""
        rows = []
        for section, label in cls.metric_sections:
            for name, value in (data.get(section) or {}).items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    rows.append((label + name, f"{value:.4f}" if isinstance(value, float) else str(value)))
        width = max((len(r[0]) for r in rows), default=6)
        header = f"{data.get('problem', '')} on {data.get('split', '')} ({data.get('num_files', 0)} files)"
        lines = [header, f"{'metric'.ljust(width)}  value", f"{'-' * width}  -----"]
        return "\n".join(lines + [f"{name.ljust(width)}  {value}" for name, value in rows])

    @classmethod
    def write_prediction(cls, prediction: dict, metadata: dict, stem: Any, threshold: float, files: list,
                         feature_value: Any = None, duration_sec: float | None = None) -> dict:
        """Write ``predict``'s files for one audio file (appending each to ``files``, paths from
        ``stem``); returns the details of its JSON."""
        raise MirError(f"problem {cls.problem!r} has no prediction writer")

    @classmethod
    def predict_file(cls, run_dir: Any, config: Any, metadata: dict, audio_file: Any, out_dir: Any = None,
                     device: str | None = None, threshold: float | None = None) -> tuple[list, dict]:
        """``mirmodels predict`` on one audio file → (files written, JSON content); default: the run's
        feature, patches over the file, :meth:`write_prediction` (:func:`mirmodels.prediction.predict_patches`)."""
        from mirmodels.prediction import predict_patches

        return predict_patches(cls, run_dir, config, metadata, audio_file, out_dir, device, threshold)
