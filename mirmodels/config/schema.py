"""The sections of an experiment config as frozen dataclasses, each field validated on construction.

``dataset`` (:class:`DatasetConfig`), ``feature`` (:class:`FeatureConfig`), ``train``
(:class:`TrainConfig`), ``eval`` (:class:`EvalConfig`), and the whole :class:`ExperimentConfig`.
A field is declared with :func:`mirmodels.config.fields.spec` (default + check); what a problem
implies (its default annotation field, settings) is asked of its task through
:mod:`mirmodels.config.problems`.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Mapping

from mirmodels.config.errors import ConfigError
from mirmodels.config.fields import (boolean, choice, devices_value, integer, limit_value, mapping, n_out_value,
                                     number, precision_value, text)
from mirmodels.config.fields import describe as _describe
from mirmodels.config.fields import spec as _spec
from mirmodels.config.fields import unknown_key as _unknown_key
from mirmodels.config.problems import implying_value, problem_implied_by, problem_names, problem_value, task_class
from pyjama_tools.core.errors import ParameterError

__all__ = ["DatasetConfig", "FeatureConfig", "TrainConfig", "EvalConfig", "ExperimentConfig", "SECTIONS",
           "IGNORED_TOP_LEVEL", "OPTIMIZERS", "tutorial_feature_params"]

#: Top-level keys of the tutorial's configs that only its notebooks use.
IGNORED_TOP_LEVEL = ("output_file",)
SECTIONS = ("dataset", "feature", "model", "train", "eval")


class _Section:
    """Mixin of the section dataclasses: validation of every field, construction from YAML."""

    section: str = ""

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            check = item.metadata.get("check")
            if check is None:
                continue
            value = getattr(self, item.name)
            try:
                normalised = check(value)
            except ValueError as error:
                got = "missing" if value is None else f"got {_describe(value)}"
                raise ConfigError(f"{self.section}.{item.name}: {error}, {got}") from None
            object.__setattr__(self, item.name, normalised)
        self._check_together()

    def _check_together(self) -> None:
        """Checks that involve several keys (overridden by sections that need them)."""

    @classmethod
    def keys(cls) -> list[str]:
        return [item.name for item in dataclasses.fields(cls)]

    @classmethod
    def from_mapping(cls, data: Any) -> _Section:
        """Build the section from its YAML mapping; unknown keys are reported with suggestions."""
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ConfigError(f"{cls.section}: expected a mapping, got {_describe(data)}")
        known = cls.keys()
        for key in data:
            if key not in known:
                raise ConfigError(_unknown_key(f"{cls.section}.{key}", str(key), known))
        return cls(**dict(data))

    def to_dict(self) -> dict[str, Any]:
        return {item.name: _plain(getattr(self, item.name)) for item in dataclasses.fields(self)}


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value



# ----------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class DatasetConfig(_Section):
    """Where the data is and what to learn from it.

    Attributes
    ----------
    base : str
        Dataset base name: the pair ``<root>/<base>_audio.hdf5`` + ``<root>/<base>.pyjama``.
    problem : str
        A registered task (:func:`mirmodels.tasks.task_names`: multiclass | multilabel | framelabel |
        multipitch | metric | separation; its ``aliases`` accepted); when left out, implied by a
        task's ``implied_by`` key (``do_f0_annot``: multipitch) or the tutorial's model name (a
        task's ``model_names``).
    annot_key : str or None
        The .pyjama field holding the labels (``genre``, ``tag``, ``chord``, ``f0multi``,
        ``pitchmidi``, ``work-id``); when left out, the task's ``default_annot_key`` (metric:
        ``work-id``), or guessed from the document by a task without ``needs_annot_key`` (multipitch).
    n_out : int or 'auto'
        Output size of the network, given to the model YAML as ``$n_out``; auto = the target's size.
        Multi-label: a field with more tags keeps the ``n_out`` most frequent (as ``top_n``).
    root : str or None
        Folder of the dataset pair (relative to the config file); ``--data-root`` overrides it.
    split : str
        index_mod5 (the kept entries numbered 0, 5, 10, ... are validation, the tutorial's rule) | field | list.
    split_field : str
        The .pyjama field naming each entry's split (rule ``field``).
    split_lists : dict
        Split name → text file of keys (rule ``list``; relative to the dataset root).
    group_field : str or None
        Field whose value groups entries that must stay in one split (piece, track, work-id);
        metric learning groups by its ``annot_key`` (the work) when left out.
    where : dict
        Keep only the entries whose field has one of these values (``{stem: mixture}``,
        ``{category: MUS}``), before the split.
    every : int
        Then keep every N-th entry (the book trains on 1/20 of MagnaTagATune: 20), before the split.
    top_n : int or None
        Multi-label: keep the N most frequent tags.
    chord_vocabulary : str or None
        Frame labels: ``majmin`` reduces chords to 25 classes (12 maj, 12 min, N); implied by
        ``n_out: 25`` (the tutorial's chord config).
    do_f0_annot : str or None
        The tutorial's multipitch reference kind (frame | segment); kept for compatibility.
    """

    section = "dataset"
    base: str = _spec(None, text())
    problem: str = _spec(None, problem_value)
    annot_key: str | None = _spec(None, text(optional=True))
    n_out: Any = _spec("auto", n_out_value)
    root: str | None = _spec(None, text(optional=True))
    split: str = _spec("index_mod5", choice(("index_mod5", "field", "list")))
    split_field: str = _spec("split", text())
    split_lists: dict = _spec({}, mapping())
    group_field: str | None = _spec(None, text(optional=True))
    where: dict = _spec({}, mapping())
    every: int = _spec(1, integer(1))
    top_n: int | None = _spec(None, integer(1, optional=True))
    chord_vocabulary: str | None = _spec(None, choice(("majmin",), optional=True))
    do_f0_annot: str | None = _spec(None, implying_value("do_f0_annot"))

    def _check_together(self) -> None:
        if self.problem is None:
            implied = problem_implied_by(self)
            if implied is None:
                raise ConfigError(f"dataset.problem: missing; expected one of {', '.join(problem_names())}")
            object.__setattr__(self, "problem", implied)
        task = task_class(self.problem)
        if self.annot_key is None and task.default_annot_key is not None:
            object.__setattr__(self, "annot_key", task.default_annot_key)
        if self.annot_key is None and task.needs_annot_key:
            raise ConfigError("dataset.annot_key: missing; name the .pyjama field holding the labels")
        for name, value in task.complete_dataset_config(self).items():  # metric: group_field; chords: majmin
            object.__setattr__(self, name, value)
        if self.split == "list" and not self.split_lists:
            raise ConfigError("dataset.split_lists: rule 'list' needs {train: FILE, valid: FILE[, test: FILE]}")
        for name in self.split_lists:
            if name not in ("train", "valid", "test"):
                raise ConfigError(_unknown_key(f"dataset.split_lists.{name}", str(name), ("train", "valid", "test")))


@dataclass(frozen=True)
class FeatureConfig(_Section):
    """The input feature and the patches cut from it.

    Attributes
    ----------
    type : str
        A feature of :mod:`mirfeat.features` (waveform, lms, cqt, hcqt, stft, chroma).
    patch_L_frame : int
        Patch length in frames (samples for the waveform); the published YAML name.
    patch_STEP_frame : int
        Hop between patches in frames (samples for the waveform).
    params : dict
        The feature's parameters (validated by the feature itself when the run starts).
    cache : str or None
        Where the feature cache lives (relative to the dataset root); default next to the audio,
        named by :func:`mirfeat.cache.default_cache_path`.
    in_memory : bool
        Load the whole cache into memory for training (small datasets).
    """

    section = "feature"
    type: str = _spec(None, text())
    patch_L_frame: int = _spec(64, integer(1))
    patch_STEP_frame: int = _spec(32, integer(1))
    params: dict = _spec({}, mapping())
    cache: str | None = _spec(None, text(optional=True))
    in_memory: bool = _spec(False, boolean())

    @property
    def patch_length(self) -> int:
        return self.patch_L_frame

    @property
    def patch_hop(self) -> int:
        return self.patch_STEP_frame

    @classmethod
    def from_mapping(cls, data: Any) -> FeatureConfig:
        """Accept the tutorial's inline feature keys: they are moved into ``params``."""
        if not isinstance(data, Mapping):
            return super().from_mapping(data)  # type: ignore[return-value]
        known = cls.keys()
        data = dict(data)
        params = data.get("params") or {}
        if not isinstance(params, Mapping):
            raise ConfigError(f"feature.params: expected a mapping, got {_describe(params)}")
        params = dict(params)
        feature_type = str(data.get("type", "")).lower()
        inline = {k: data.pop(k) for k in list(data) if k not in known}
        if inline:
            if feature_type not in _feature_types():
                raise ConfigError(_unknown_key(f"feature.{next(iter(inline))}", str(next(iter(inline))), known))
            try:  # mirfeat's one mapping: each tutorial key is renamed, checked or refused by name
                params = tutorial_feature_params(feature_type, inline, params)
            except ParameterError as error:
                raise ConfigError(str(error)) from None
        data["params"] = params
        return cls(**data)


def _feature_types() -> set[str]:
    """Names of the registered features."""
    from mirfeat.features import feature_names

    return set(feature_names())


def tutorial_feature_params(feature_type: str, inline: Mapping, params: Mapping) -> dict:
    """:func:`mirfeat.features.tutorial.feature_params` (imported on use: mirfeat loads librosa)."""
    from mirfeat.features.tutorial import feature_params

    return feature_params(feature_type, inline, params)


OPTIMIZERS = ("adam", "adamw", "sgd")


@dataclass(frozen=True)
class TrainConfig(_Section):
    """How to train (Lightning Trainer and optimizer settings).

    Attributes
    ----------
    optimizer : str
        adam | adamw | sgd.
    lr : float
        Learning rate (> 0).
    weight_decay, momentum : float
        Optimizer extras (momentum for sgd).
    batch_size : int
        Patches per batch (per device under DDP).
    max_epochs, min_epochs : int
        Epoch bounds.
    patience : int
        EarlyStopping patience in epochs on ``valid_loss``; 0 disables early stopping.
    seed : int
        Seed for ``lightning.seed_everything`` (workers too).
    accelerator : str
        auto | cpu | gpu | cuda | mps.
    devices : 'auto', int or list
        Devices per node.
    strategy : str
        auto | ddp | ddp_spawn | ddp_find_unused_parameters_true | fsdp | deepspeed.
    num_nodes : int
        Machines (multi-node DDP, see docs/ddp.md).
    precision : str
        32 (default) | 16-mixed | bf16-mixed | 64 ...
    gradient_clip_val : float or None
        Clip the gradient norm at this value.
    num_workers : int
        DataLoader worker processes.
    logger : str
        csv (default) | tensorboard | none.
    limit_train_batches, limit_val_batches : int, float or None
        Lightning's batch limits (quick trials, benchmarks).
    log_every_n_steps : int
        Logging interval in steps.
    deterministic : bool
        Lightning's ``deterministic`` flag.
    task : dict
        Extra keyword arguments for the problem's task (e.g. metric learning ``margin``, ``mining``).
    works_per_batch, performances_per_work : int
        Metric learning batches: works × performances per batch.
    drop_last : bool
        Drop the last incomplete training batch (the tutorial's tagging and chord loaders do).

    Keys a config does not write take the book's settings for its problem (its task's
    ``train_defaults``); the field defaults here serve the rest.
    """

    section = "train"
    optimizer: str = _spec("adam", choice(OPTIMIZERS))
    lr: float = _spec(0.001, number(0, low_open=True))
    weight_decay: float = _spec(0.0, number(0))
    momentum: float = _spec(0.9, number(0, 1, high_open=True))
    batch_size: int = _spec(32, integer(1))
    max_epochs: int = _spec(100, integer(1))
    min_epochs: int = _spec(1, integer(0))
    patience: int = _spec(10, integer(0))
    seed: int = _spec(0, integer(0))
    accelerator: str = _spec("auto", choice(("auto", "cpu", "gpu", "cuda", "mps", "tpu")))
    devices: Any = _spec("auto", devices_value)
    strategy: str = _spec("auto", choice(("auto", "ddp", "ddp_spawn", "ddp_find_unused_parameters_true",
                                          "ddp_notebook", "fsdp", "deepspeed", "single_device")))
    num_nodes: int = _spec(1, integer(1))
    precision: str = _spec("32", precision_value)
    gradient_clip_val: float | None = _spec(None, number(0, low_open=True, optional=True))
    num_workers: int = _spec(0, integer(0))
    logger: str = _spec("csv", choice(("csv", "tensorboard", "none")))
    limit_train_batches: Any = _spec(None, limit_value)
    limit_val_batches: Any = _spec(None, limit_value)
    log_every_n_steps: int = _spec(10, integer(1))
    deterministic: bool = _spec(False, boolean())
    task: dict = _spec({}, mapping())
    works_per_batch: int = _spec(16, integer(1))
    performances_per_work: int = _spec(4, integer(2))
    drop_last: bool = _spec(False, boolean())

    def _check_together(self) -> None:
        if self.min_epochs > self.max_epochs:
            raise ConfigError(f"train.min_epochs: {self.min_epochs} is larger than train.max_epochs {self.max_epochs}")


@dataclass(frozen=True)
class EvalConfig(_Section):
    """How to evaluate a trained run.

    Attributes
    ----------
    split : str
        valid | test.
    threshold : float
        Multi-pitch / multi-label decision threshold on the sigmoid output, in (0, 1).
    batch_size : int or None
        Patches per forward pass at evaluation (default: train.batch_size).
    patch_hop : int or None
        Hop in frames between the patches stitched over a whole file (default: the patch length).
    """

    section = "eval"
    split: str = _spec("valid", choice(("valid", "test", "train")))
    threshold: float = _spec(0.5, number(0, 1, low_open=True, high_open=True))
    batch_size: int | None = _spec(None, integer(1, optional=True))
    patch_hop: int | None = _spec(None, integer(1, optional=True))


# ----------------------------------------------------------------------------- the experiment


@dataclass(frozen=True)
class ExperimentConfig:
    """A whole experiment.

    Attributes
    ----------
    dataset, feature, train, eval : the sections
    model : dict
        The model description (``{name, block_l}``), inlined when the config named a file.
    source : Path or None
        The YAML file it came from.
    model_source : str or None
        The model YAML file when ``model`` was a path (as written in the config).
    """

    dataset: DatasetConfig
    feature: FeatureConfig
    model: dict
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    source: Path | None = None
    model_source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The resolved config (every default written out, the model inlined) as plain YAML data."""
        return {
            "dataset": self.dataset.to_dict(),
            "feature": self.feature.to_dict(),
            "model": _plain(self.model),
            "train": self.train.to_dict(),
            "eval": self.eval.to_dict(),
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_dict` as YAML, atomically."""
        import yaml

        from pyjama_tools.core.atomic import write_text_atomic

        return write_text_atomic(yaml.safe_dump(self.to_dict(), sort_keys=False), path)

    def replace(self, **changes: Any) -> ExperimentConfig:
        return dataclasses.replace(self, **changes)

    def data_root(self, data_root: str | os.PathLike | None = None) -> Path:
        """The dataset folder: ``data_root`` if given, else ``dataset.root`` (relative to the config
        file), else the current directory."""
        if data_root is not None:
            return Path(data_root)
        if self.dataset.root is not None:
            root = Path(self.dataset.root).expanduser()
            if not root.is_absolute() and self.source is not None:
                root = self.source.parent / root
            return root
        return Path.cwd()

    def audio_path(self, data_root: str | os.PathLike | None = None) -> Path:
        """``<root>/<base>_audio.hdf5``."""
        return self.data_root(data_root) / f"{self.dataset.base}_audio.hdf5"

    def annotation_path(self, data_root: str | os.PathLike | None = None) -> Path:
        """``<root>/<base>.pyjama``."""
        return self.data_root(data_root) / f"{self.dataset.base}.pyjama"
