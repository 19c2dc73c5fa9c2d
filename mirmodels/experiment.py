"""``mirmodels fit``: train one experiment into a run directory (:class:`mirmodels.rundir.RunDir`).

This module orchestrates a fit; each job is a module of its own:

* :mod:`mirmodels.rundir`: the run layout (config.yaml, run.json, checkpoints/, logs/, the lock);
* :mod:`mirmodels.run_config`: :func:`load_run`, the run's config and run.json read back;
* :mod:`mirmodels.network`: the network built from the config, and loaded with its best weights;
* :mod:`mirmodels.trainer`: the devices check and the Lightning Trainer;
* :mod:`mirmodels.callbacks`: best / last checkpoints and ``best.pt``, written atomically;
* :mod:`mirmodels.metrics_csv`: ``logs/metrics.csv`` merged across sessions;
* :mod:`mirmodels.resume`: what ``--resume`` may change;
* :mod:`mirmodels.weights`: the plain state_dicts, read weights-only.

:func:`build_network`, :func:`load_state_dict`, :func:`check_devices`, :class:`RunDir` and :func:`run_paths`
stay importable from here (tests and bench import them).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Sequence

import torch

from mirmodels.config import ExperimentConfig, load_config
from mirmodels.data import ExperimentDataModule, check_same_classes, prepare_data
from mirmodels.network import build_network
from mirmodels.network import load_network as _load_trained
from mirmodels.outputs import fit_last_layer, last_layer_as_saved
from mirmodels.patch_data import is_main_process
from mirmodels.resume import check_resume_config
from mirmodels.rundir import RunDir, run_paths, write_json
from mirmodels.run_config import load_run
from mirmodels.trainer import build_trainer, check_devices, loader_workers
from mirmodels.weights import load_state_dict
from pyjama_tools.core.errors import MirError

# build_network, load_state_dict, check_devices, RunDir and run_paths are re-exported (tests and bench import them)
__all__ = ["FitResult", "fit", "build_network", "check_output_shape", "load_network", "run_paths", "load_state_dict",
           "check_devices", "RunDir"]


@dataclass(frozen=True)
class FitResult:
    """What :func:`fit` produced.

    Attributes
    ----------
    run_dir : Path
    best_checkpoint : Path
        Lightning checkpoint of the best epoch.
    best_state_dict : Path
        The network's plain state_dict (``best.pt``).
    best_valid_loss : float
    epochs : int
        Epochs trained (in total, a resumed run included).
    metadata : dict
        The content of ``run.json``.
    """

    run_dir: Path
    best_checkpoint: Path
    best_state_dict: Path
    best_valid_loss: float
    epochs: int
    metadata: dict
    is_global_zero: bool = True


def check_output_shape(problem: str, output_shape: Sequence[int], input_shape: Sequence[int], n_outputs: int,
                       where: str = "model") -> None:
    """Fail early when the network's output cannot be compared with the target: the rule of the
    problem's task class (:meth:`mirmodels.tasks.Task.check_output_shape`).

    Raises
    ------
    MirError
        ``<where>: output shape ... does not fit the <problem> target: expected ...``
    """
    from mirmodels.tasks import get_task_class

    get_task_class(problem).check_output_shape(output_shape, input_shape, n_outputs, where=where)


def _versions() -> dict[str, str]:
    import lightning

    from mirmodels import __version__

    return {"mirmodels": __version__, "torch": torch.__version__, "lightning": lightning.__version__,
            "python": platform.python_version(), "torch_threads": str(torch.get_num_threads())}


def fit(config: ExperimentConfig | str | os.PathLike, out: str | os.PathLike | None = None,
        data_root: str | os.PathLike | None = None, resume: bool = False, overrides: Sequence[str] = (),
        jobs: int = 1, quiet: bool = True, callbacks: list | None = None,
        allow_missing_audio: bool = False) -> FitResult:
    """Train an experiment.

    The run directory is locked for the whole run (:func:`pyjama_tools.core.locking.output_lock`): a
    second ``fit`` on it is refused at once.

    Parameters
    ----------
    config : ExperimentConfig or path of the YAML
    out : run directory (default ``runs/<config stem>``)
    data_root : folder of the dataset pair (overrides ``dataset.root``)
    resume : continue from ``RUN_DIR/checkpoints/last.ckpt``
    overrides : ``key.path=value`` items (when ``config`` is a path)
    jobs : processes used to build the feature cache
    quiet : no progress bars
    callbacks : extra Lightning callbacks
    allow_missing_audio : train even when most entries of the .pyjama have no audio in the store

    Returns
    -------
    FitResult

    Raises
    ------
    MirError
        Bad config or data, a model whose output does not fit the target, an existing run without
        ``resume``, a NaN loss (:class:`mirmodels.tasks.base.TrainingError`), devices the machine
        does not have; :class:`pyjama_tools.core.locking.BusyError` when another fit holds the run.
    """
    if not isinstance(config, ExperimentConfig):
        config = load_config(config, overrides)
    check_devices(config)
    stem = config.source.stem if config.source is not None else "experiment"
    run = RunDir(Path(out) if out is not None else Path("runs") / stem)
    if not is_main_process():  # a DDP rank Lightning relaunched: rank 0 holds the run's lock
        return _fit(config, run, data_root, resume, jobs, quiet, callbacks, allow_missing_audio)
    created = run.create()
    with run.lock() as lock_file:  # a second fit on the same run is refused at once
        try:
            return _fit(config, run, data_root, resume, jobs, quiet, callbacks, allow_missing_audio)
        except BaseException:
            if created:  # failed before any file
                run.remove_if_only(lock_file)
            raise


def _fit(config: ExperimentConfig, run: RunDir, data_root: str | os.PathLike | None, resume: bool, jobs: int,
         quiet: bool, callbacks: list | None, allow_missing_audio: bool) -> FitResult:
    """:func:`fit` once the run directory is locked."""
    import lightning as L

    from mirmodels.callbacks import best_checkpoint
    from mirmodels.metrics_csv import MergedCsvLog, read_csv
    from mirmodels.tasks import get_task_class
    from mirmodels.weights import export_state_dict

    run_dir = run.root
    run.check_start(resume)
    ckpt_path = None
    if resume:
        ckpt_path = str(run.last_ckpt)
        config = last_layer_as_saved(config, run.config)  # the size the run gave its last layer
        check_resume_config(config, run_dir)
    elif is_main_process():
        # a run killed in its first epoch, after best.ckpt and before last.ckpt: nothing to resume
        run.discard_unfinished()
    if is_main_process():  # what a killed session was writing (the run is locked: no one else writes it)
        run.remove_partials()

    L.seed_everything(config.train.seed, workers=True, verbose=False)
    prepared = prepare_data(config, data_root, jobs=jobs, quiet=quiet, allow_missing_audio=allow_missing_audio)
    if is_main_process():  # the entries left out, and why (`mirmodels fit`: 'info: ...' on stderr)
        for line in prepared.report_lines():
            logging.getLogger("mirmodels").info(line)
    network = build_network(config, prepared.input_shape, prepared.n_out)
    # a last layer written as a number is sized from the dataset (the tutorial's notebooks do)
    config, network = fit_last_layer(config, prepared, network)
    if ckpt_path is not None:  # a resumed run must be the same network: say which key differs
        if run.meta.exists():  # ... trained on the same classes
            _config, earlier = load_run(run_dir)
            check_same_classes(prepared, earlier, str(run_dir))
        label = str(config.source) if config.source is not None else "the config"
        load_state_dict(network, ckpt_path, config_label=label)
    train = config.train
    task_class = get_task_class(prepared.problem)
    task = task_class(network, optimizer=train.optimizer, lr=train.lr, weight_decay=train.weight_decay,
                      momentum=train.momentum, **train.task)
    datamodule = ExperimentDataModule(prepared, batch_size=train.batch_size, num_workers=loader_workers(config),
                                      seed=train.seed)
    csv_log = MergedCsvLog(run.metrics_csv, run.session_csv,
                           read_csv(run.metrics_csv) if resume and is_main_process() else [])
    # a task whose data module builds whole batches (metric learning's works) shards them itself
    trainer = build_trainer(config, run_dir, quiet=quiet, callbacks=[csv_log, *(callbacks or [])],
                            distributed_sampler=task_class.distributed_sampler)
    metadata = dict(prepared.metadata(), versions=_versions())
    if trainer.is_global_zero:
        run.checkpoints.mkdir(parents=True, exist_ok=True)
        # the resolved config names the dataset folder actually used (absolute), so that the run
        # directory can be evaluated from anywhere
        dataset = dataclasses.replace(config.dataset, root=str(prepared.audio_path.parent))
        config.replace(dataset=dataset).save(run.config)
        write_json(metadata, run.meta)
    best = best_checkpoint(trainer)  # the ModelCheckpoint of best.ckpt
    try:
        # weights_only explicitly: Lightning passes None on, and torch's default depends on its version
        trainer.fit(task, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    except SystemExit:
        # Lightning answers Ctrl-C (SIGINT) with a graceful shutdown and sys.exit(1), silently
        if not trainer.interrupted:
            raise
        score = best.best_model_score
        if trainer.is_global_zero:  # run.json says how far the run got (best and last checkpoints are kept)
            if run.best_ckpt.exists():
                export_state_dict(run.best_ckpt, run.best_pt)
            metadata.update(epochs=int(trainer.current_epoch), global_step=int(trainer.global_step), interrupted=True,
                            **({} if score is None else {"best_valid_loss": float(score)}))
            write_json(metadata, run.meta)
        if run.last_ckpt.exists():
            last_epoch = int(torch.load(run.last_ckpt, map_location="cpu", weights_only=True)["epoch"])
            kept = (f"the last finished epoch's checkpoint (epoch {last_epoch}) is kept "
                    "(mirmodels fit ... --resume continues it)")
        else:
            kept = "no epoch was finished, no checkpoint was saved"
        raise MirError(f"{run_dir}: training interrupted in epoch {trainer.current_epoch}; {kept}") from None
    finally:
        csv_log.merge(trainer)  # a failed session keeps the earlier log and its own finished epochs

    best_score = best.best_model_score
    if best_score is None or not run.best_ckpt.exists():
        raise MirError(f"{run_dir}: no valid_loss was logged, so no best checkpoint was saved "
                       "(is the validation split empty or train.limit_val_batches 0?)")
    metadata.update(best_valid_loss=float(best_score), epochs=int(trainer.current_epoch),
                    global_step=int(trainer.global_step))
    if trainer.is_global_zero:
        export_state_dict(run.best_ckpt, run.best_pt)
        write_json(metadata, run.meta)
    return FitResult(run_dir, run.best_ckpt, run.best_pt, float(best_score), int(trainer.current_epoch),
                     metadata, bool(trainer.is_global_zero))


def load_network(run_dir: str | os.PathLike, config: ExperimentConfig | None = None, metadata: dict | None = None):
    """The trained network of a run (best epoch), in eval mode on CPU (:func:`mirmodels.network.load_network`;
    ``config`` and ``metadata`` read from the run when not given)."""
    if config is None or metadata is None:
        config, metadata = load_run(run_dir)
    return _load_trained(run_dir, config, metadata)
