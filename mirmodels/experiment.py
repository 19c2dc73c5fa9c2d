"""``mirmodels fit``: train one experiment into a run directory.

A run directory holds::

    RUN_DIR/config.yaml            the resolved config (defaults written out, model inlined)
    RUN_DIR/run.json               what the data gave (input shape, n_out, vocabulary, feature params,
                                   sample rate, splits), the best valid_loss, versions
    RUN_DIR/checkpoints/best.ckpt  Lightning checkpoint of the best epoch (ModelCheckpoint, top 1)
    RUN_DIR/checkpoints/last.ckpt  the last finished epoch, for ``--resume``
    RUN_DIR/checkpoints/best.pt    the best network's plain state_dict (``torch.load(weights_only=True)``)
    RUN_DIR/logs/metrics.csv       CSV log (train_loss, valid_loss per epoch) of every session, replaced
                                   atomically at each epoch's start; logs/events.* with TensorBoard
    RUN_DIR/.lock                  held by the fit writing the run (a second one is refused)

Every file is written under a temporary name and renamed when complete (checkpoints included).
    RUN_DIR/metrics.json           written by ``mirmodels evaluate``
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from mirmodels.config import ExperimentConfig, load_config
from mirmodels.data import ExperimentDataModule, _is_main_process, check_same_classes, prepare_data
from mirmodels.outputs import fit_last_layer, last_layer_as_saved
from pyjama_tools.core.atomic import write_text_atomic
from pyjama_tools.core.errors import MirError
from pyjama_tools.core.locking import output_lock

__all__ = ["FitResult", "fit", "build_network", "check_output_shape", "build_trainer", "run_paths",
           "write_json", "load_state_dict", "check_devices", "available_devices"]

BEST = "best"
#: keys of run.json that evaluate / predict read
RUN_KEYS = ("problem", "input_shape", "n_out", "feature", "feature_params", "patch_length")
LAST = "last"


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


def run_paths(run_dir: str | os.PathLike) -> dict[str, Path]:
    """The files of a run directory by role."""
    run_dir = Path(run_dir)
    checkpoints = run_dir / "checkpoints"
    return {"config": run_dir / "config.yaml", "meta": run_dir / "run.json", "checkpoints": checkpoints,
            "best_ckpt": checkpoints / f"{BEST}.ckpt", "last_ckpt": checkpoints / f"{LAST}.ckpt",
            "best_pt": checkpoints / f"{BEST}.pt", "logs": run_dir / "logs", "metrics": run_dir / "metrics.json"}


def write_json(data: Any, path: str | os.PathLike) -> Path:
    """Write JSON atomically (temporary name, then rename)."""
    return write_text_atomic(json.dumps(data, indent=2, allow_nan=True), path)


def check_output_shape(problem: str, output_shape: Sequence[int], input_shape: Sequence[int], n_outputs: int,
                       where: str = "model") -> None:
    """Fail early when the network's output cannot be compared with the target.

    multiclass / multilabel → (n_classes,); framelabel → (n_classes, T); multipitch → (F, T) or
    (1, F, T) with the input's F and T; metric → (D,).
    """
    from mirmodels.data import _task_hook

    custom = _task_hook(problem, "check_output_shape")
    if custom is not None:
        return custom(output_shape, input_shape, n_outputs, where=where)
    shape = tuple(int(s) for s in output_shape)
    expected = None
    if problem in ("multiclass", "multilabel"):
        if shape != (n_outputs,):
            expected = f"({n_outputs},)"
    elif problem == "framelabel":
        if len(shape) != 2 or shape[0] != n_outputs or shape[1] != input_shape[-1]:
            expected = f"({n_outputs}, {input_shape[-1]}) (classes, frames)"
    elif problem == "multipitch":
        core = shape[1:] if len(shape) == 3 and shape[0] == 1 else shape
        if len(input_shape) < 3 or core != (n_outputs, input_shape[-1]):
            expected = f"({n_outputs}, {input_shape[-1]}) or (1, {n_outputs}, {input_shape[-1]}) (bins, frames)"
    elif problem == "metric":
        if len(shape) != 1:
            expected = "(D,) (one embedding per item)"
    if expected is not None:
        raise MirError(f"{where}: output shape {shape} for input {tuple(input_shape)} does not fit the "
                       f"{problem} target: expected {expected}; check the last layers or dataset.n_out")


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


def build_network(config: ExperimentConfig, input_shape: Sequence[int], n_out: int):
    """The run's network (``build_model`` with ``$n_out``)."""
    from mirmodels.factory import ModelConfigError, build_model

    try:
        return build_model(config.model, tuple(input_shape), {"n_out": int(n_out)})
    except ModelConfigError as error:  # the model is inlined: say which file it came from
        if config.model_source is not None:
            source = Path(config.model_source)
            if not source.is_absolute() and config.source is not None:
                source = config.source.parent / source
        else:
            source = config.source
        if source is None or str(error).startswith(str(source)):
            raise
        raise ModelConfigError(f"{source}: {error}") from None


def load_weights_only(path: Path) -> Any:
    """``torch.load(path, weights_only=True)`` on CPU; any failure is one line, and a file that
    holds more than tensors (a pickle that would run code) is said to be one, not 'corrupt'.

    Raises
    ------
    MirError
        Not a weights-only checkpoint (not loaded), or an unreadable / truncated file.
    """
    import pickle
    import re
    import warnings

    try:
        with warnings.catch_warnings():  # torch's note about the pickle protocol of a foreign file
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        text = str(error)
        if "Weights only load failed" in text:
            found = re.search(r"unsupported GLOBAL (\S+)|Unsupported (operand \d+|class \S+)", text)
            what = f" ({found.group(1) or found.group(2)})" if found else ""
            raise MirError(f"{path}: not a weights-only checkpoint: it holds Python objects other than tensors"
                           f"{what}, so it was not loaded; mirmodels reads only the tensors that mirmodels fit "
                           "writes") from None
        raise MirError(f"{path}: not a readable PyTorch checkpoint, corrupt or truncated "
                       f"(UnpicklingError: {(text.splitlines() or [''])[0]})") from None
    except Exception as error:  # pickle / zip errors of a corrupt file (their text may be a bare number, or empty)
        detail = (str(error).splitlines() or [""])[0]
        raise MirError(f"{path}: not a readable PyTorch checkpoint, corrupt or truncated "
                       f"({type(error).__name__}{': ' + detail if detail else ''})") from None


def load_state_dict(network: torch.nn.Module, path: str | os.PathLike, config_label: str = "the config") -> None:
    """Load a plain state_dict saved by :func:`fit` (``weights_only=True``), strictly.

    Raises
    ------
    MirError
        Missing/corrupt file, or a checkpoint of another model: the first mismatched key is named.
    """
    path = Path(path)
    if not path.exists():
        raise MirError(f"{path}: no such checkpoint (was the run trained to the end?)")
    state = load_weights_only(path)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = {k.removeprefix("model."): v for k, v in state["state_dict"].items()}
    if not isinstance(state, dict):
        raise MirError(f"{path}: not a state_dict")
    own = network.state_dict()
    for key in own:
        if key not in state:
            raise MirError(f"{path}: does not fit the model of {config_label}: key {key!r} missing from the checkpoint")
        if tuple(state[key].shape) != tuple(own[key].shape):
            raise MirError(f"{path}: does not fit the model of {config_label}: key {key!r} has shape "
                           f"{tuple(state[key].shape)} in the checkpoint, {tuple(own[key].shape)} in the model")
    for key in state:
        if key not in own:
            raise MirError(f"{path}: does not fit the model of {config_label}: unexpected key {key!r} in the checkpoint")
    network.load_state_dict(state, strict=True)


def build_trainer(config: ExperimentConfig, run_dir: Path, quiet: bool = True, callbacks: list | None = None,
                  distributed_sampler: bool = True):
    """The Lightning Trainer of a run: checkpoints, early stopping, CSV (and TensorBoard) logs."""
    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    train = config.train
    paths = run_paths(run_dir)
    if quiet:  # Lightning's informational lines (devices found, tips) go with the progress bars
        import logging

        for name in ("lightning.pytorch", "lightning.fabric"):
            logging.getLogger(name).setLevel(logging.WARNING)
    from mirmodels.run_files import SESSION_LOG, AtomicCheckpointIO, ExportBest, checkpoint_callbacks

    best, last = checkpoint_callbacks(paths["checkpoints"], BEST, LAST)
    # Lightning runs the ModelCheckpoints after the other callbacks; trainer.checkpoint_callback is best
    all_callbacks: list = [ExportBest(best, paths["best_pt"]), best, last]
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


def check_resume_config(config: ExperimentConfig, run_dir: str | os.PathLike) -> None:
    """Refuse to resume ``run_dir`` with a config that differs from its ``config.yaml`` outside
    :data:`RESUMABLE_KEYS`.

    Raises
    ------
    MirError
        One line naming the config file, the first differing YAML path, both values and the run's
        ``config.yaml``.
    """
    from mirmodels.config import config_from_dict, read_yaml

    saved_path = run_paths(run_dir)["config"]
    if not saved_path.exists():
        return
    saved = _flatten(config_from_dict(read_yaml(saved_path), source=saved_path).to_dict(), "")
    current = _flatten(config.to_dict(), "")

    def resumable(key: str) -> bool:
        return any(key == k or key.startswith(k + ".") or key.startswith(k + "[") for k in RESUMABLE_KEYS)

    for key in list(saved) + [k for k in current if k not in saved]:
        if resumable(key) or saved.get(key, "<absent>") == current.get(key, "<absent>"):
            continue
        label = f"{config.source}: " if config.source is not None else ""
        raise MirError(f"{label}{key}: {current.get(key, '<absent>')!r}, but the run in {run_dir} was trained with "
                       f"{saved.get(key, '<absent>')!r} ({saved_path}); --resume may change only the epochs, "
                       "hardware and eval keys: use --out for a new run")


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
    run_dir = Path(out) if out is not None else Path("runs") / stem
    if not _is_main_process():  # a DDP rank Lightning relaunched: rank 0 holds the run's lock
        return _fit(config, run_dir, data_root, resume, jobs, quiet, callbacks, allow_missing_audio)
    created = not run_dir.exists()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise MirError(f"{run_dir}: cannot create the run directory ({error.strerror or error})") from None
    with output_lock(run_dir, "mirmodels fit") as lock_file:  # a second fit on the same run is refused at once
        try:
            return _fit(config, run_dir, data_root, resume, jobs, quiet, callbacks, allow_missing_audio)
        except BaseException:
            if created and [p.name for p in run_dir.iterdir()] == [lock_file.name]:  # failed before any file
                lock_file.unlink()
                run_dir.rmdir()
            raise


def _fit(config: ExperimentConfig, run_dir: Path, data_root: str | os.PathLike | None, resume: bool, jobs: int,
         quiet: bool, callbacks: list | None, allow_missing_audio: bool) -> FitResult:
    """:func:`fit` once the run directory is locked."""
    import lightning as L

    from mirmodels.run_files import SESSION_LOG, MergedCsvLog, export_state_dict, read_csv
    from mirmodels.tasks import get_task_class

    paths = run_paths(run_dir)
    ckpt_path = None
    if resume:
        if not paths["last_ckpt"].exists():
            raise MirError(f"{paths['last_ckpt']}: no such checkpoint to resume from")
        ckpt_path = str(paths["last_ckpt"])
        config = last_layer_as_saved(config, paths["config"])  # the size the run gave its last layer
        check_resume_config(config, run_dir)
    elif paths["last_ckpt"].exists():
        raise MirError(f"{run_dir}: already holds a trained run; use --resume to continue it or --out for a new one")
    elif _is_main_process():
        # a run killed in its first epoch, after best.ckpt and before last.ckpt: nothing to resume
        paths["best_ckpt"].unlink(missing_ok=True)
        paths["best_pt"].unlink(missing_ok=True)
    if _is_main_process():  # what a killed session was writing (the run is locked: no one else writes it)
        for partial in run_dir.rglob(".*.partial"):
            if partial.is_file():
                partial.unlink()

    L.seed_everything(config.train.seed, workers=True, verbose=False)
    prepared = prepare_data(config, data_root, jobs=jobs, quiet=quiet, allow_missing_audio=allow_missing_audio)
    if _is_main_process():  # the entries left out, and why (`mirmodels fit`: 'info: ...' on stderr)
        for line in prepared.report_lines():
            logging.getLogger("mirmodels").info(line)
    network = build_network(config, prepared.input_shape, prepared.n_out)
    # a last layer written as a number is sized from the dataset (the tutorial's notebooks do)
    config, network = fit_last_layer(config, prepared, network)
    if ckpt_path is not None:  # a resumed run must be the same network: say which key differs
        if paths["meta"].exists():  # ... trained on the same classes
            _config, earlier = load_run(run_dir)
            check_same_classes(prepared, earlier, str(run_dir))
        label = str(config.source) if config.source is not None else "the config"
        load_state_dict(network, ckpt_path, config_label=label)
    train = config.train
    task = get_task_class(prepared.problem)(network, optimizer=train.optimizer, lr=train.lr,
                                            weight_decay=train.weight_decay, momentum=train.momentum, **train.task)
    datamodule = ExperimentDataModule(prepared, batch_size=train.batch_size, num_workers=train.num_workers,
                                      seed=train.seed)
    csv_path = paths["logs"] / "metrics.csv"
    csv_log = MergedCsvLog(csv_path, paths["logs"] / SESSION_LOG / "metrics.csv",
                           read_csv(csv_path) if resume and _is_main_process() else [])
    # metric learning batches whole works (WorkBatchSampler): the data module shards those batches itself
    trainer = build_trainer(config, run_dir, quiet=quiet, callbacks=[csv_log, *(callbacks or [])],
                            distributed_sampler=prepared.problem != "metric")
    metadata = dict(prepared.metadata(), versions=_versions())
    if trainer.is_global_zero:
        paths["checkpoints"].mkdir(parents=True, exist_ok=True)
        # the resolved config names the dataset folder actually used (absolute), so that the run
        # directory can be evaluated from anywhere
        dataset = dataclasses.replace(config.dataset, root=str(prepared.audio_path.parent))
        config.replace(dataset=dataset).save(paths["config"])
        write_json(metadata, paths["meta"])
    best_checkpoint = trainer.checkpoint_callback  # the first ModelCheckpoint: best.ckpt
    try:
        # weights_only explicitly: Lightning passes None on, and torch's default depends on its version
        trainer.fit(task, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    except SystemExit:
        # Lightning answers Ctrl-C (SIGINT) with a graceful shutdown and sys.exit(1), silently
        if not trainer.interrupted:
            raise
        best = best_checkpoint.best_model_score
        if trainer.is_global_zero:  # run.json says how far the run got (best and last checkpoints are kept)
            if paths["best_ckpt"].exists():
                export_state_dict(paths["best_ckpt"], paths["best_pt"])
            metadata.update(epochs=int(trainer.current_epoch), global_step=int(trainer.global_step), interrupted=True,
                            **({} if best is None else {"best_valid_loss": float(best)}))
            write_json(metadata, paths["meta"])
        if paths["last_ckpt"].exists():
            last_epoch = int(torch.load(paths["last_ckpt"], map_location="cpu", weights_only=True)["epoch"])
            kept = (f"the last finished epoch's checkpoint (epoch {last_epoch}) is kept "
                    "(mirmodels fit ... --resume continues it)")
        else:
            kept = "no epoch was finished, no checkpoint was saved"
        raise MirError(f"{run_dir}: training interrupted in epoch {trainer.current_epoch}; {kept}") from None
    finally:
        csv_log.merge(trainer)  # a failed session keeps the earlier log and its own finished epochs

    best_score = best_checkpoint.best_model_score
    if best_score is None or not paths["best_ckpt"].exists():
        raise MirError(f"{run_dir}: no valid_loss was logged, so no best checkpoint was saved "
                       "(is the validation split empty or train.limit_val_batches 0?)")
    metadata.update(best_valid_loss=float(best_score), epochs=int(trainer.current_epoch),
                    global_step=int(trainer.global_step))
    if trainer.is_global_zero:
        export_state_dict(paths["best_ckpt"], paths["best_pt"])
        write_json(metadata, paths["meta"])
    return FitResult(run_dir, paths["best_ckpt"], paths["best_pt"], float(best_score), int(trainer.current_epoch),
                     metadata, bool(trainer.is_global_zero))


def load_run(run_dir: str | os.PathLike) -> tuple[ExperimentConfig, dict]:
    """The resolved config and ``run.json`` of a run directory."""
    from mirmodels.config import config_from_dict, read_yaml

    paths = run_paths(run_dir)
    if not Path(run_dir).is_dir():
        raise MirError(f"{run_dir}: no such run directory")
    for name in ("config", "meta"):
        if not paths[name].exists():
            raise MirError(f"{paths[name]}: missing; {run_dir} is not a run directory written by mirmodels fit")
    config = config_from_dict(read_yaml(paths["config"]), source=paths["config"])
    try:
        metadata = json.loads(paths["meta"].read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise MirError(f"{paths['meta']}: malformed JSON at line {error.lineno}: {error.msg}") from None
    if not isinstance(metadata, dict):
        raise MirError(f"{paths['meta']}: expected a JSON object, got {type(metadata).__name__}")
    missing = [key for key in RUN_KEYS if key not in metadata]
    if missing:
        raise MirError(f"{paths['meta']}: missing key {missing[0]!r} (written by mirmodels fit; was it edited?)")
    return config, metadata


def load_network(run_dir: str | os.PathLike, config: ExperimentConfig | None = None, metadata: dict | None = None):
    """The trained network of a run (best epoch), in eval mode on CPU."""
    if config is None or metadata is None:
        config, metadata = load_run(run_dir)
    paths = run_paths(run_dir)
    network = build_network(config, metadata["input_shape"], metadata["n_out"])
    load_state_dict(network, paths["best_pt"], config_label=str(paths["config"]))
    return network.eval()
