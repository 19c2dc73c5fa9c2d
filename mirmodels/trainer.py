"""The Lightning Trainer of a run: the devices checked first, then checkpoints, early stopping and logs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from mirmodels.callbacks import AtomicCheckpointIO, ExportBest, checkpoint_callbacks
from mirmodels.config import ExperimentConfig
from mirmodels.rundir import BEST, LAST, SESSION_LOG, RunDir
from pyjama_tools.core.errors import MirError

__all__ = ["available_devices", "build_trainer", "check_devices", "loader_workers"]


def available_devices(accelerator: str) -> tuple[str, int] | None:
    """The accelerator ``accelerator`` resolves to on this machine and how many devices it has
    (CPU: the cores this process may run on; GPU: CUDA devices); None for the others (mps, tpu)."""
    accelerator = str(accelerator).lower()
    if accelerator == "auto":
        accelerator = "gpu" if torch.cuda.is_available() else "cpu"
    if accelerator == "cpu":
        cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
        return "cpu", len(cores)
    if accelerator in ("gpu", "cuda"):
        return "gpu", torch.cuda.device_count()
    return None


def check_devices(config: ExperimentConfig) -> None:
    """Refuse ``train.devices`` the machine cannot give, before any process or file is made.

    Lightning starts one process per device (``devices: 99`` on a 2-core CPU started 99 and died
    with rc 143, no message).

    Raises
    ------
    MirError
        ``<config>: train.devices: 99, but this machine has 2 CPU cores (accelerator 'cpu'); ...``
    """
    devices = config.train.devices
    found = available_devices(config.train.accelerator)
    if found is None or devices == "auto" or devices == -1:
        return
    kind, count = found
    if kind == "gpu" and count == 0:
        return  # Lightning's own line: no GPU at all (build_trainer)
    if isinstance(devices, list):
        wanted = max(devices) + 1 if kind == "gpu" else None  # a CPU list is Lightning's to refuse
    else:
        wanted = int(devices)
    if wanted is None or wanted <= count:
        return
    unit = "CPU cores" if kind == "cpu" else "GPUs"
    where = f"{config.source}: " if config.source is not None else ""
    advice = (f"set train.devices to at most {count}" if not isinstance(devices, list)
              else f"use device indices 0 to {count - 1}")
    raise MirError(f"{where}train.devices: {devices!r}, but this machine has {count} {unit} (accelerator "
                   f"{config.train.accelerator!r}); {advice}, or 'auto'")


def loader_workers(config: ExperimentConfig) -> int:
    """``train.num_workers``, lowered so that the loader workers of every training process fit the CPU
    cores this process may run on (the book's examples ask for 4, written for a GPU machine); an ``info:``
    line says so.

    Returns
    -------
    int
        DataLoader workers per training process: at most ``cores // processes`` (processes: the CPU
        ``train.devices``, else 1 per GPU).
    """
    wanted = config.train.num_workers
    cores = available_devices("cpu")[1]
    devices = config.train.devices  # "auto" / -1: Lightning starts one process on a CPU
    processes = len(devices) if isinstance(devices, list) else devices if isinstance(devices, int) and devices > 0 else 1
    allowed = cores // processes
    if wanted <= allowed:
        return wanted
    import logging

    where = f"{config.source}: " if config.source is not None else ""
    logging.getLogger("mirmodels").info(
        f"{where}train.num_workers {wanted}: this machine has {cores} CPU cores for {processes} training "
        f"process(es); using {allowed} loader workers")
    return allowed


def build_trainer(config: ExperimentConfig, run_dir: Path, quiet: bool = True, callbacks: list | None = None,
                  distributed_sampler: bool = True):
    """The Lightning Trainer of a run: checkpoints, early stopping, CSV (and TensorBoard) logs."""
    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    train = config.train
    run = RunDir(run_dir)
    if quiet:  # Lightning's informational lines (devices found, tips) go with the progress bars
        import logging

        for name in ("lightning.pytorch", "lightning.fabric"):
            logging.getLogger(name).setLevel(logging.WARNING)
    best, last = checkpoint_callbacks(run.checkpoints, BEST, LAST)
    # Lightning runs the ModelCheckpoints after the other callbacks; callbacks.best_checkpoint finds best
    all_callbacks: list = [ExportBest(best, run.best_pt), best, last]
    if train.patience > 0:
        all_callbacks.append(EarlyStopping(monitor="valid_loss", mode="min", patience=train.patience))
    all_callbacks.extend(callbacks or [])
    loggers: list = []
    if train.logger != "none":
        # this session's rows; MergedCsvLog keeps logs/metrics.csv (Lightning deletes its file at the start)
        loggers.append(CSVLogger(save_dir=str(run_dir), name="logs", version=SESSION_LOG))
    if train.logger == "tensorboard":
        loggers.append(TensorBoardLogger(save_dir=str(run_dir), name="logs", version="", default_hp_metric=False))
    options: dict[str, Any] = {}
    if train.limit_train_batches is not None:
        options["limit_train_batches"] = train.limit_train_batches
    if train.limit_val_batches is not None:
        options["limit_val_batches"] = train.limit_val_batches
    precision = train.precision
    if precision in ("32", "64"):
        precision = f"{precision}-true"
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    try:
        return L.Trainer(
            max_epochs=train.max_epochs, min_epochs=train.min_epochs, accelerator=train.accelerator,
            devices=train.devices, strategy=train.strategy, num_nodes=train.num_nodes, precision=precision,
            gradient_clip_val=train.gradient_clip_val, callbacks=all_callbacks, logger=loggers or False,
            default_root_dir=str(run_dir), log_every_n_steps=train.log_every_n_steps,
            deterministic=train.deterministic, enable_progress_bar=not quiet, enable_model_summary=not quiet,
            num_sanity_val_steps=0, use_distributed_sampler=distributed_sampler, plugins=[AtomicCheckpointIO()],
            **options)
    except (MisconfigurationException, TypeError, ValueError) as error:
        # hardware the machine does not have (accelerator: gpu on a CPU box), devices of the wrong kind
        where = f"{config.source}: " if config.source is not None else ""
        raise MirError(f"{where}train (accelerator {train.accelerator!r}, devices {train.devices!r}, strategy "
                       f"{train.strategy!r}, precision {train.precision!r}): "
                       f"{(str(error).splitlines() or [''])[0]}") from None
