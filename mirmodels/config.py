"""The experiment config: ``dataset``, ``feature``, ``model``, ``train``, ``eval`` sections.

One YAML file describes one experiment::

    dataset: {base: gtzan-genre, problem: multiclass, annot_key: genre, n_out: auto}
    feature: {type: lms, patch_L_frame: 64, patch_STEP_frame: 32, params: {n_mels: 128}}
    model: models/autotagging.yaml          # or the {name, block_l} mapping inline
    train: {optimizer: adam, lr: 0.01, batch_size: 128, max_epochs: 100, patience: 10}
    eval: {split: valid, threshold: 0.5}

The tutorial's own config files load as they are: the feature parameters may sit inline in the
``feature`` section under their tutorial names (``nb_band``, ``L_n``, ``STEP_n``, ``h_l``; mapped by
:mod:`mirfeat.features.tutorial`), the
tutorial's problem names (``segment``) are accepted, and its bookkeeping key ``output_file`` is
ignored. What its files leave out follows from the rest, as in its notebooks: the problem from the
model (``Cover`` → metric learning on ``work-id``, works kept whole in one split), a missing
``feature`` section of a cover config from its feature-only pair (``<base>_feat.hdf5``, 1800
frames), ``n_out: 25`` for frame labels means the 25 maj/min/N chord classes, and every ``train``
key not written takes the book's setting for the problem (:data:`TRAIN_DEFAULTS`).  Every section is a frozen dataclass validated on construction; a mistake raises
:class:`ConfigError` with one line naming the file and the YAML path, e.g.
``exp.yaml: train.lr: expected a number > 0, got 'fast'`` or
``exp.yaml: train.lrr: unknown key (did you mean lr?)``.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import yaml

from mirfeat.chords import MAJMIN_CLASSES
from pyjama_tools.core import yamlfile as yaml_file
from pyjama_tools.core.atomic import write_text_atomic
from pyjama_tools.core.errors import MirError, ParameterError

__all__ = [
    "ConfigError", "DatasetConfig", "FeatureConfig", "TrainConfig", "EvalConfig", "ExperimentConfig",
    "PROBLEMS", "load_config", "config_from_dict", "apply_overrides", "parse_override", "read_yaml", "yaml_value",
]

#: The problem types a run can train, each served by one task in :mod:`mirmodels.tasks`.
PROBLEMS = ("multiclass", "multilabel", "framelabel", "multipitch", "metric", "separation")
#: Names the tutorial (or a user) may write for a problem type.
PROBLEM_ALIASES = {"segment": "framelabel", "frame": "framelabel", "chord": "framelabel",
                   "pitch": "multipitch", "multi-pitch": "multipitch", "cover": "metric",
                   "metric_learning": "metric", "multi-class": "multiclass", "multi-label": "multilabel",
                   "source_separation": "separation"}
#: The tutorial's model names that imply a problem its config does not write (config_cover.yaml
#: names no problem: its MOVE model ``Cover`` learns embeddings).
MODEL_PROBLEMS = {"cover": "metric"}
#: The annotation field a problem reads when the config names none (the cover sets' ``work-id``).
DEFAULT_ANNOT_KEYS = {"metric": "work-id"}
#: The tutorial's feature for a config without a ``feature`` section, per problem: cover reads the
#: pair's own feature file ``<base>_feat.hdf5`` (CREMA), cropped or zero-padded to 1800 frames.
FEATURE_PAIR_DEFAULTS = {"metric": {"type": "crema", "cache": "{base}_feat.hdf5", "patch_L_frame": 1800,
                                    "patch_STEP_frame": 1800}}
#: Number of classes of the tutorial's chord vocabulary (12 major, 12 minor, N).
MAJMIN_SIZE = len(MAJMIN_CLASSES)
#: The book's training settings per problem (docs BOOK.md): the defaults of every ``train`` key a
#: config does not write. Tagging: Adam 0.01, batch 128, patience 10, last incomplete batch
#: dropped; chords the same with batch 32; multi-pitch Adam 0.001, batch 32, patience 10; cover
#: SGD 0.1 without momentum, patience 50, 16 works x 4 performances.
TRAIN_DEFAULTS = {
    "multiclass": {"optimizer": "adam", "lr": 0.01, "batch_size": 128, "patience": 10, "drop_last": True},
    "multilabel": {"optimizer": "adam", "lr": 0.01, "batch_size": 128, "patience": 10, "drop_last": True},
    "framelabel": {"optimizer": "adam", "lr": 0.01, "batch_size": 32, "patience": 10, "drop_last": True},
    "multipitch": {"optimizer": "adam", "lr": 0.001, "batch_size": 32, "patience": 10},
    "metric": {"optimizer": "sgd", "lr": 0.1, "momentum": 0.0, "patience": 50, "works_per_batch": 16,
               "performances_per_work": 4},
}
#: Top-level keys of the tutorial's configs that only its notebooks use.
IGNORED_TOP_LEVEL = ("output_file",)
SECTIONS = ("dataset", "feature", "model", "train", "eval")


class ConfigError(MirError):
    """An experiment config that cannot be used; the message names the file and the YAML path."""


# ----------------------------------------------------------------------------- value checks
# A check takes the raw YAML value and returns the normalised value, or raises ValueError whose
# text says what was expected ("expected a number > 0").


def _describe(value: Any) -> str:
    return repr(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def integer(minimum: int | None = None, optional: bool = False) -> Callable[[Any], Any]:
    """An int ``>= minimum`` (None allowed when ``optional``)."""
    def check(value: Any) -> Any:
        if value is None and optional:
            return None
        if not _is_int(value) or (minimum is not None and value < minimum):
            bound = f" >= {minimum}" if minimum is not None else ""
            raise ValueError(f"expected an integer{bound}{' or null' if optional else ''}")
        return value
    return check


# PyYAML reads YAML 1.1, where ``1e-3`` (no dot) is text, not a float; users write it for learning
# rates all the time, so a number field takes such text when it is a plain decimal literal.
_DECIMAL = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")


def decimal_text(value: Any) -> Any:
    """``float(value)`` when ``value`` is text spelling a plain decimal number (``'1e-3'``), else
    ``value`` unchanged."""
    if isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):
        return float(value)
    return value


def number(low: float | None = None, high: float | None = None, low_open: bool = False,
           high_open: bool = False, optional: bool = False) -> Callable[[Any], Any]:
    """A finite real number within bounds (None allowed when ``optional``); ``'1e-3'``, which
    PyYAML leaves as text, is read as the number it spells."""
    def check(value: Any) -> Any:
        if value is None and optional:
            return None
        value = decimal_text(value)
        ok = _is_number(value)
        if ok and low is not None:
            ok = value > low if low_open else value >= low
        if ok and high is not None:
            ok = value < high if high_open else value <= high
        if not ok:
            parts = []
            if low is not None:
                parts.append(f"{'>' if low_open else '>='} {low:g}")
            if high is not None:
                parts.append(f"{'<' if high_open else '<='} {high:g}")
            bound = (" " + " and ".join(parts)) if parts else ""
            raise ValueError(f"expected a number{bound}{' or null' if optional else ''}")
        return float(value)
    return check


def choice(options: Sequence[Any], aliases: Mapping[str, str] | None = None,
           optional: bool = False) -> Callable[[Any], Any]:
    """One of ``options`` (case-insensitive for text; ``aliases`` map other names onto them)."""
    def check(value: Any) -> Any:
        if value is None and optional:
            return None
        key = str(value).lower() if isinstance(value, (str, int, float)) and not isinstance(value, bool) else value
        if aliases and key in aliases:
            return aliases[key]
        for option in options:
            if key == (str(option).lower() if isinstance(option, str) else option):
                return option
        close = difflib.get_close_matches(str(value), [str(o) for o in options], n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ValueError(f"expected one of {', '.join(map(str, options))}{hint}")
    return check


def text(optional: bool = False) -> Callable[[Any], Any]:
    """A non-empty string (None allowed when ``optional``)."""
    def check(value: Any) -> Any:
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value.strip():
            raise ValueError("expected a non-empty string")
        return value
    return check


def boolean() -> Callable[[Any], Any]:
    """true or false."""
    def check(value: Any) -> Any:
        if not isinstance(value, bool):
            raise ValueError("expected true or false")
        return value
    return check


def mapping(optional: bool = True) -> Callable[[Any], Any]:
    """A mapping (None → empty dict)."""
    def check(value: Any) -> Any:
        if value is None and optional:
            return {}
        if not isinstance(value, Mapping):
            raise ValueError("expected a mapping")
        return dict(value)
    return check


def n_out_value(value: Any) -> Any:
    """``auto`` or an int >= 1."""
    if value is None or (isinstance(value, str) and value.lower() == "auto"):
        return "auto"
    if _is_int(value) and value >= 1:
        return value
    raise ValueError("expected an integer >= 1 or 'auto'")


def devices_value(value: Any) -> Any:
    """``auto``, an int >= 1 (or -1 = all), or a list of device indices."""
    if isinstance(value, str) and value.lower() == "auto":
        return "auto"
    if _is_int(value) and (value >= 1 or value == -1):
        return value
    if isinstance(value, list) and value and all(_is_int(v) and v >= 0 for v in value):
        return list(value)
    raise ValueError("expected 'auto', an integer >= 1 (-1 = all) or a list of device indices")


PRECISIONS = ("32", "32-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true", "64", "64-true")


def precision_value(value: Any) -> Any:
    """Lightning precision: 32, 64, 16-mixed, bf16-mixed, ... (ints are written as text)."""
    text_value = str(value) if not isinstance(value, bool) else ""
    if text_value in PRECISIONS:
        return text_value
    raise ValueError(f"expected one of {', '.join(PRECISIONS)}")


def limit_value(value: Any) -> Any:
    """Lightning ``limit_*_batches``: null, an int >= 1 (batches) or a fraction in (0, 1]."""
    if value is None:
        return None
    if _is_int(value) and value >= 1:
        return value
    if _is_number(value) and 0 < value <= 1:
        return float(value)
    raise ValueError("expected null, an integer >= 1 (batches) or a fraction in (0, 1]")


def _spec(default: Any, check: Callable[[Any], Any], doc: str = "") -> Any:
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata={"check": check, "doc": doc})
    return field(default=default, metadata={"check": check, "doc": doc})


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
    def from_mapping(cls, data: Any) -> "_Section":
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


def _unknown_key(path: str, key: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"{path}: unknown key{hint}; allowed: {', '.join(known)}"


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
        multiclass | multilabel | framelabel | multipitch | metric (tutorial aliases accepted);
        when left out, implied by ``do_f0_annot`` (multipitch) or the tutorial's model name
        (:data:`MODEL_PROBLEMS`).
    annot_key : str or None
        The .pyjama field holding the labels (``genre``, ``tag``, ``chord``, ``f0multi``,
        ``pitchmidi``, ``work-id``); for multipitch it is guessed from the document when left out,
        for metric it is ``work-id``.
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
    problem: str = _spec(None, choice(PROBLEMS, PROBLEM_ALIASES, optional=True))
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
    do_f0_annot: str | None = _spec(None, choice(("frame", "segment"), optional=True))

    def _check_together(self) -> None:
        if self.problem is None:
            if self.do_f0_annot is None:
                raise ConfigError(f"dataset.problem: missing; expected one of {', '.join(PROBLEMS)}")
            object.__setattr__(self, "problem", "multipitch")
        if self.annot_key is None and self.problem in DEFAULT_ANNOT_KEYS:
            object.__setattr__(self, "annot_key", DEFAULT_ANNOT_KEYS[self.problem])
        if self.annot_key is None and self.problem != "multipitch":
            raise ConfigError("dataset.annot_key: missing; name the .pyjama field holding the labels")
        if self.problem == "metric" and self.group_field is None:
            # the tutorial splits works, not performances: a work's performances stay in one split
            object.__setattr__(self, "group_field", self.annot_key)
        if self.problem == "framelabel" and self.chord_vocabulary is None and self.n_out == MAJMIN_SIZE:
            # the tutorial's 25 chord classes (12 maj, 12 min, N), whatever labels the corpus holds
            object.__setattr__(self, "chord_vocabulary", "majmin")
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
    def from_mapping(cls, data: Any) -> "FeatureConfig":
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

    Keys a config does not write take the book's settings for its problem
    (:data:`TRAIN_DEFAULTS`); the field defaults here serve the rest.
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
        return write_text_atomic(yaml.safe_dump(self.to_dict(), sort_keys=False), path)

    def replace(self, **changes: Any) -> "ExperimentConfig":
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


def read_yaml(path: str | os.PathLike, what: str = "config") -> Any:
    """``yaml.safe_load`` of a file; a missing file or a syntax error is one line naming file and line."""
    return yaml_file.read_yaml(path, what, ConfigError)


def yaml_value(raw: str) -> Any:
    """A command-line value read as YAML (``0.01`` → float, ``[1, 2]`` → list); text that is not
    valid YAML (``[``) is kept as it is, for the validation that follows to name."""
    try:
        return yaml_file.loads(raw) if raw.strip() else None
    except yaml_file.RefusedYAML as problem:  # a duplicate key, too deep, an alias bomb: never kept as text
        raise ConfigError(f"value refused{yaml_file.describe(problem)}") from None
    except yaml.YAMLError:
        return raw


_OVERRIDE_PART = re.compile(r"^([^\[\]]+)((?:\[\d+\])*)$")


def parse_override(item: str) -> tuple[list[str | int], Any]:
    """``train.lr=0.01`` → (['train', 'lr'], 0.01); ``model.block_l[0].name=x`` → (['model', 'block_l',
    0, 'name'], 'x') (the YAML paths of the error messages); the value is parsed with ``yaml.safe_load``."""
    key, sep, raw = item.partition("=")
    parts: list[str | int] = []
    for text_part in (p.strip() for p in key.split(".")):
        found = _OVERRIDE_PART.match(text_part)
        if not sep or found is None:
            raise ConfigError(f"--set {item!r}: expected SECTION.KEY=VALUE, e.g. train.lr=0.01 "
                              "(a list item: KEY[INDEX], e.g. model.block_l[0])")
        parts.append(found.group(1).strip())
        parts.extend(int(index) for index in re.findall(r"\d+", found.group(2)))
    try:
        return parts, yaml_value(raw)
    except ConfigError as error:
        raise ConfigError(f"--set {key.strip()}: {error}") from None


def _path_text(parts: Sequence[str | int]) -> str:
    """['model', 'block_l', 0] → 'model.block_l[0]'."""
    text_value = ""
    for part in parts:
        text_value += f"[{part}]" if isinstance(part, int) else (f".{part}" if text_value else part)
    return text_value


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """A copy of ``data`` with each ``key.path=value`` of ``overrides`` set (mapping sections and
    keys created; a list item ``KEY[INDEX]`` must exist)."""
    import copy

    data = copy.deepcopy(data)
    for item in overrides:
        parts, value = parse_override(item)
        node: Any = data
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            where = _path_text(parts[:depth])
            if isinstance(part, int):
                if not isinstance(node, list):
                    raise ConfigError(f"--set {item!r}: {where} is not a list")
                if part >= len(node):
                    raise ConfigError(f"--set {item!r}: {_path_text(parts[:depth + 1])}: no such item ({where} has "
                                      f"{len(node)})")
            elif not isinstance(node, dict):
                raise ConfigError(f"--set {item!r}: {where} is not a mapping")
            if last:
                node[part] = value
                break
            child = node[part] if isinstance(part, int) else node.get(part)
            if child is None and not isinstance(parts[depth + 1], int):
                child = {}
                node[part] = child
            node = child
    return data


def config_from_dict(data: Any, source: str | os.PathLike | None = None,
                     overrides: Sequence[str] = ()) -> ExperimentConfig:
    """Validate a config mapping (already read from YAML) into an :class:`ExperimentConfig`.

    Parameters
    ----------
    data : mapping
        The YAML document.
    source : path, optional
        The file it came from: prefixes error messages; a ``model`` path is relative to it.
    overrides : sequence of str
        ``key.path=value`` items applied after the model file is inlined.

    Raises
    ------
    ConfigError
        One line: ``<file>: <yaml path>: <problem>``.
    """
    source_path = Path(source) if source is not None else None
    label = f"{source_path}: " if source_path is not None else ""
    try:
        if not isinstance(data, Mapping):
            raise ConfigError(f"expected a mapping with sections {', '.join(SECTIONS)}, got {_describe(data)}")
        data = dict(data)
        model_source = None
        model = data.get("model")
        if isinstance(model, str):
            model_source = model
            model_path = Path(model).expanduser()
            if not model_path.is_absolute() and source_path is not None:
                model_path = source_path.parent / model_path
            document = read_yaml(model_path, "model")
            if isinstance(document, Mapping) and "model" in document and "block_l" not in document:
                document = document["model"]
            data["model"] = document
        data = apply_overrides(data, overrides)
        for key in data:
            if key not in SECTIONS and key not in IGNORED_TOP_LEVEL:
                raise ConfigError(_unknown_key(str(key), str(key), SECTIONS))
        for key in ("dataset", "model"):
            if data.get(key) is None:
                raise ConfigError(f"{key}: missing section")
        model = data["model"]
        if not isinstance(model, Mapping) or "block_l" not in model:
            where = f"{model_source}: " if model_source else ""
            raise ConfigError(f"model: {where}expected a mapping with 'block_l' (or a path to a model YAML)")
        dataset = DatasetConfig.from_mapping(_with_model_problem(data["dataset"], model))
        return ExperimentConfig(
            dataset=dataset,
            feature=FeatureConfig.from_mapping(_feature_section(data.get("feature"), dataset)),
            model=dict(model),
            train=TrainConfig.from_mapping(_with_defaults(data.get("train"), TRAIN_DEFAULTS.get(dataset.problem, {}))),
            eval=EvalConfig.from_mapping(data.get("eval")),
            source=source_path,
            model_source=model_source,
        )
    except ConfigError as error:
        message = str(error)
        if label and not message.startswith(str(source_path)):
            message = label + message
        raise ConfigError(message) from None
    except TypeError as error:  # a section built with a missing required value
        raise ConfigError(f"{label}{error}") from None


def _with_model_problem(dataset: Any, model: Mapping) -> Any:
    """The dataset section, with the problem the tutorial's model name implies when it names none
    (``Cover`` → metric)."""
    if not isinstance(dataset, Mapping) or dataset.get("problem") is not None or "do_f0_annot" in dataset:
        return dataset
    problem = MODEL_PROBLEMS.get(str(model.get("name", "")).lower())
    return dataset if problem is None else {**dataset, "problem": problem}


def _feature_section(feature: Any, dataset: DatasetConfig) -> Any:
    """The feature section, or the tutorial's feature pair of the problem when the config has none."""
    if feature is not None:
        return feature
    default = FEATURE_PAIR_DEFAULTS.get(dataset.problem)
    if default is None:
        raise ConfigError("feature: missing section")
    return {key: value.format(base=dataset.base) if isinstance(value, str) else value
            for key, value in default.items()}


def _with_defaults(section: Any, defaults: Mapping[str, Any]) -> Any:
    """``defaults`` under the keys a section writes (a section that is not a mapping is left for
    its validation to name)."""
    if section is None:
        return dict(defaults)
    if not isinstance(section, Mapping):
        return section
    return {**defaults, **section}


def load_config(path: str | os.PathLike, overrides: Sequence[str] = ()) -> ExperimentConfig:
    """Read and validate an experiment YAML (``yaml.safe_load``), applying ``--set`` overrides.

    Parameters
    ----------
    path : the config file
    overrides : ``key.path=value`` strings, values parsed as YAML (``train.lr=0.01``)

    Returns
    -------
    ExperimentConfig
    """
    path = Path(path)
    return config_from_dict(read_yaml(path, "config"), source=path, overrides=overrides)
