"""The experiment config: ``dataset``, ``feature``, ``model``, ``train``, ``eval`` sections.

One YAML file describes one experiment::

    dataset: {base: gtzan-genre, problem: multiclass, annot_key: genre, n_out: auto}
    feature: {type: lms, patch_L_frame: 64, patch_STEP_frame: 32, params: {n_mels: 128}}
    model: models/autotagging.yaml          # or the {name, block_l} mapping inline
    train: {optimizer: adam, lr: 0.01, batch_size: 128, max_epochs: 100, patience: 10}
    eval: {split: valid, threshold: 0.5}

The tutorial's own config files load as they are: the feature parameters may sit inline in the
``feature`` section under their tutorial names (``nb_band``, ``L_n``, ``STEP_n``, ``h_l``; mapped by
:mod:`mirfeat.features.tutorial`), the tutorial's problem names (``segment``) are accepted, and its
bookkeeping key ``output_file`` is ignored. What its files leave out follows from the rest, as in
its notebooks, each rule declared by the problem's task class (:mod:`mirmodels.tasks`): the problem
from the model (``Cover`` → metric learning on ``work-id``, works kept whole in one split), a
missing ``feature`` section of a cover config from its feature-only pair (``<base>_feat.hdf5``,
1800 frames), ``n_out: 25`` for frame labels means the 25 maj/min/N chord classes, and every
``train`` key not written takes the book's setting for the problem (the task's ``train_defaults``).
Every section is a frozen dataclass validated on construction; a mistake raises
:class:`ConfigError` with one line naming the file and the YAML path, e.g.
``exp.yaml: train.lr: expected a number > 0, got 'fast'`` or
``exp.yaml: train.lrr: unknown key (did you mean lr?)``.

Modules, one job each: :mod:`~mirmodels.config.fields` (value checks), :mod:`~mirmodels.config.schema`
(the section dataclasses), :mod:`~mirmodels.config.problems` (what the config asks the task
registry), :mod:`~mirmodels.config.overrides` (``--set``), :mod:`~mirmodels.config.load` (YAML in and out).
"""

from mirmodels.config.errors import ConfigError
from mirmodels.config.load import config_from_dict, load_config, read_yaml
from mirmodels.config.overrides import apply_overrides, parse_override, yaml_value
from mirmodels.config.schema import DatasetConfig, EvalConfig, ExperimentConfig, FeatureConfig, TrainConfig

__all__ = [
    "ConfigError", "DatasetConfig", "FeatureConfig", "TrainConfig", "EvalConfig", "ExperimentConfig",
    "load_config", "config_from_dict", "apply_overrides", "parse_override", "read_yaml", "yaml_value",
]
