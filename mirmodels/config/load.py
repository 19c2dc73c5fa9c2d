"""Reading an experiment YAML into an :class:`~mirmodels.config.schema.ExperimentConfig`, and writing one.

The tutorial's own config files load as they are; what they leave out follows from the rest, as
in its notebooks, each rule asked of the problem's task class: the problem from the tutorial's
model name (``model_names``: ``Cover`` → metric learning), a missing ``feature`` section from the
task's ``feature_defaults`` (the cover pair's ``<base>_feat.hdf5``), every ``train`` key not
written from the task's ``train_defaults`` (the book's settings).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from collections.abc import Mapping, Sequence

from mirmodels.config.errors import ConfigError
from mirmodels.config.fields import describe as _describe
from mirmodels.config.fields import unknown_key as _unknown_key
from mirmodels.config.overrides import apply_overrides
from mirmodels.config.problems import implying_keys, problem_of_model, task_class
from mirmodels.config.schema import (IGNORED_TOP_LEVEL, SECTIONS, DatasetConfig, EvalConfig, ExperimentConfig,
                                     FeatureConfig, TrainConfig)
from pyjama_tools.core import yamlfile as yaml_file

__all__ = ["read_yaml", "write_config", "config_from_dict", "load_config"]


def read_yaml(path: str | os.PathLike, what: str = "config") -> Any:
    """``yaml.safe_load`` of a file; a missing file or a syntax error is one line naming file and line."""
    return yaml_file.read_yaml(path, what, ConfigError)


def write_config(config: ExperimentConfig, path: str | os.PathLike) -> Path:
    """Write ``config.to_dict()`` as YAML, atomically (:meth:`ExperimentConfig.save`)."""
    return config.save(path)


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
        train_defaults = task_class(dataset.problem).train_defaults  # the book's settings for the problem
        return ExperimentConfig(
            dataset=dataset,
            feature=FeatureConfig.from_mapping(_feature_section(data.get("feature"), dataset)),
            model=dict(model),
            train=TrainConfig.from_mapping(_with_defaults(data.get("train"), train_defaults)),
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
    (a task's ``model_names``: ``Cover`` → metric) and no key implies another (``do_f0_annot``)."""
    if not isinstance(dataset, Mapping) or dataset.get("problem") is not None \
            or any(key in dataset for key in implying_keys()):
        return dataset
    problem = problem_of_model(model.get("name", ""))
    return dataset if problem is None else {**dataset, "problem": problem}


def _feature_section(feature: Any, dataset: DatasetConfig) -> Any:
    """The feature section, or the task's ``feature_defaults`` when the config has none (the
    tutorial's cover pair: its own feature file ``<base>_feat.hdf5``)."""
    if feature is not None:
        return feature
    default = task_class(dataset.problem).feature_defaults
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
