"""``mirmodels fit --resume``: what a resumed run may change, and the diff that refuses the rest."""

from __future__ import annotations

import os
from typing import Any

from mirmodels.rundir import RunDir
from pyjama_tools.core.errors import MirError

__all__ = ["RESUMABLE_KEYS", "check_resume_config"]

# What --resume may change: how long and where to train, and how to evaluate. Anything else (the
# data, features, network, optimizer and its lr, batch size, seed) would make the run's config.yaml
# describe epochs it did not train, and Lightning restores the optimizer's own lr from the
# checkpoint anyway (a new train.lr was recorded but not used; a new optimizer was a KeyError), as
# it restores EarlyStopping's patience (a new train.patience was ignored).
RESUMABLE_KEYS = ("dataset.root", "train.max_epochs", "train.min_epochs", "train.num_workers",
                  "train.accelerator", "train.devices", "train.strategy", "train.num_nodes", "train.precision",
                  "train.logger", "train.limit_train_batches", "train.limit_val_batches",
                  "train.log_every_n_steps", "train.deterministic", "eval")


def _flatten(value: Any, prefix: str) -> dict[str, Any]:
    """``{'a': {'b': [1]}}`` → ``{'a.b[0]': 1}`` (empty mappings and lists kept as leaves)."""
    if isinstance(value, dict) and value:
        items: dict[str, Any] = {}
        for key, inner in value.items():
            items.update(_flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return items
    if isinstance(value, (list, tuple)) and value:
        items = {}
        for index, inner in enumerate(value):
            items.update(_flatten(inner, f"{prefix}[{index}]"))
        return items
    return {prefix: value}


def _resumable(key: str) -> bool:
    return any(key == k or key.startswith(k + ".") or key.startswith(k + "[") for k in RESUMABLE_KEYS)


def check_resume_config(config, run_dir: str | os.PathLike) -> None:
    """Refuse to resume ``run_dir`` with a config (an ``ExperimentConfig``) that differs from its
    ``config.yaml`` outside :data:`RESUMABLE_KEYS`.

    Raises
    ------
    MirError
        One line naming the config file, the first differing YAML path, both values and the run's
        ``config.yaml``.
    """
    from mirmodels.config import config_from_dict, read_yaml

    saved_path = RunDir(run_dir).config
    if not saved_path.exists():
        return
    saved = _flatten(config_from_dict(read_yaml(saved_path), source=saved_path).to_dict(), "")
    current = _flatten(config.to_dict(), "")
    for key in list(saved) + [k for k in current if k not in saved]:
        if _resumable(key) or saved.get(key, "<absent>") == current.get(key, "<absent>"):
            continue
        label = f"{config.source}: " if config.source is not None else ""
        raise MirError(f"{label}{key}: {current.get(key, '<absent>')!r}, but the run in {run_dir} was trained with "
                       f"{saved.get(key, '<absent>')!r} ({saved_path}); --resume may change only the epochs, "
                       "hardware and eval keys: use --out for a new run")
