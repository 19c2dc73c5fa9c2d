"""Reading a run directory back: its resolved config (``config.yaml``) and ``run.json``.

Above :mod:`mirmodels.config` (it validates the saved config); the layout itself is
:class:`mirmodels.rundir.RunDir`, which knows no config.
"""

from __future__ import annotations

import os

from mirmodels.config import config_from_dict, read_yaml
from mirmodels.rundir import RUN_KEYS, RunDir
from pyjama_tools.core.errors import MirError
from pyjama_tools.core.textfile import read_json

__all__ = ["load_run"]


def load_run(run_dir: str | os.PathLike):
    """The resolved config and ``run.json`` of a run directory.

    Returns
    -------
    (ExperimentConfig, dict)

    Raises
    ------
    MirError
        Not a run directory, a missing or malformed ``run.json``, a key of :data:`RUN_KEYS` missing.
    """
    run = RunDir(run_dir)
    if not run.root.is_dir():
        raise MirError(f"{run_dir}: no such run directory")
    for path in (run.config, run.meta):
        if not path.exists():
            raise MirError(f"{path}: missing; {run_dir} is not a run directory written by mirmodels fit")
    config = config_from_dict(read_yaml(run.config), source=run.config)
    metadata = read_json(run.meta)
    if not isinstance(metadata, dict):
        raise MirError(f"{run.meta}: expected a JSON object, got {type(metadata).__name__}")
    missing = [key for key in RUN_KEYS if key not in metadata]
    if missing:
        raise MirError(f"{run.meta}: missing key {missing[0]!r} (written by mirmodels fit; was it edited?)")
    return config, metadata
