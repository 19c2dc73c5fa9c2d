"""Training steps/s: the lazy patch dataset of ``mirmodels fit`` vs the same model on in-memory tensors.

Both paths train the same network (same weights at the start, same batch size, same optimizer)
with the same Lightning task and Trainer settings for ``--steps`` steps; only the data path differs:

- **lazy**: what ``mirmodels fit`` uses: :class:`mirfeat.patches.PatchDataset` over the HDF5 feature
  cache (opened lazily, patches read on demand) through a shuffled ``DataLoader``
  (``--workers`` processes);
- **in-memory**: every patch and target stacked beforehand in two torch tensors; a batch is one
  fancy-indexing of those tensors (the fastest a Python data path gets).

The data are the embedded synthetic corpus (:mod:`pyjama_tools.synth`) and its CQT cache, built
in a temporary folder. The first ``--warmup`` steps are not timed. Target: lazy / in-memory >= 0.9 on
CPU. On a CUDA device the table also gives the mean GPU utilisation while training (``nvidia-smi``,
sampled every 0.2 s), for both paths.

Models: ``tiny`` (2 small convolutions: the data path dominates, the hardest case for the lazy
dataset), ``small`` (default: BatchNorm + 2 convolutions, the size of a quick CPU experiment) or
``bittner`` (the tutorial's multi-pitch Conv2D, examples/models/multipitch_conv2d.yaml, on 6-channel
HCQT patches: slow on CPU, meant for a GPU).

Usage: ``python bench/bench_training.py [--model tiny|small|bittner] [--steps 60] [--batch 32] [--workers 0]``
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

ROOT = Path(__file__).resolve().parents[1]

SMALL = {"name": "small", "block_l": [{"sequential_l": [{"layer_l": [
    ["BatchNorm2d", {"num_features": -1}],
    ["Conv2d", {"in_channels": -1, "out_channels": 16, "kernel_size": [5, 5], "padding": "same"}],
    ["Activation", "ReLU"],
    ["Conv2d", {"in_channels": -1, "out_channels": 1, "kernel_size": [1, 1], "padding": "same"}]]}]}]}

TINY = {"name": "tiny", "block_l": [{"sequential_l": [{"layer_l": [
    ["Conv2d", {"in_channels": -1, "out_channels": 4, "kernel_size": [3, 3], "padding": "same"}],
    ["Activation", "ReLU"],
    ["Conv2d", {"in_channels": -1, "out_channels": 1, "kernel_size": [1, 1], "padding": "same"}]]}]}]}

SETUPS = {
    # the data path dominates: the hardest case for the lazy dataset
    "tiny": (TINY, "cqt", {"bins_per_semitone": 3, "n_octaves": 6, "fmin": 32.7, "hop_length": 512}),
    # model, feature, feature params
    "small": (SMALL, "cqt", {"bins_per_semitone": 3, "n_octaves": 6, "fmin": 32.7, "hop_length": 512}),
    "bittner": (ROOT / "examples" / "models" / "multipitch_conv2d.yaml", "hcqt",
                {"bins_per_semitone": 5, "n_octaves": 6, "fmin": 32.7, "hop_length": 512}),
}


class StepTimer:
    """Lightning callback: wall time from the end of warm-up step ``warmup`` to the last step."""

    def __init__(self, warmup: int):
        self.warmup = warmup
        self.start = None
        self.stop = None
        self.steps = 0

    def as_callback(self):
        import lightning as L

        timer = self

        class _Timer(L.Callback):
            def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
                if trainer.accelerator is not None and torch.cuda.is_available():
                    torch.cuda.synchronize()
                step = trainer.global_step
                if step == timer.warmup:
                    timer.start = time.perf_counter()
                elif step > timer.warmup:
                    timer.stop = time.perf_counter()
                    timer.steps = step - timer.warmup

        return _Timer()

    @property
    def rate(self) -> float:
        return self.steps / (self.stop - self.start) if self.start and self.stop else float("nan")


class GpuSampler:
    """Mean GPU utilisation (%) from ``nvidia-smi`` while a block runs (None without a GPU)."""

    def __init__(self):
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = None

    def __enter__(self):
        if torch.cuda.is_available() and shutil.which("nvidia-smi"):
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            try:
                out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits",
                                      "-i", "0"], capture_output=True, text=True, timeout=5).stdout
                self.samples.append(float(out.strip().splitlines()[0]))
            except Exception:  # noqa: BLE001 - a missing sample is not an error
                pass
            time.sleep(0.2)

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    @property
    def mean(self):
        return float(np.mean(self.samples)) if self.samples else None


def prepare(workdir: Path, model: str, files: int, seconds: float):
    """Synthetic pair + feature cache + target; returns the PreparedData of a multipitch experiment."""
    from mirmodels.config import config_from_dict
    from mirmodels.data import prepare_data
    from pyjama_tools.synth import SynthParams, generate

    generate(workdir, SynthParams(files=files, seconds_per_file=seconds, seed=0), name="bench", jobs=2)
    network, feature, params = SETUPS[model]
    if isinstance(network, Path):
        import yaml
        network = yaml.safe_load(network.read_text())["model"]
    config = config_from_dict({
        "dataset": {"base": "bench", "problem": "multipitch", "annot_key": "f0multi", "root": str(workdir)},
        "feature": {"type": feature, "patch_L_frame": 64, "patch_STEP_frame": 32, "params": params},
        "model": network})
    return config, prepare_data(config, jobs=2)


def in_memory_loader(dataset, batch: int, seed: int) -> DataLoader:
    """Every item of ``dataset`` stacked in tensors; a batch = one indexing of those tensors."""
    items = [dataset[i] for i in range(len(dataset))]
    x = torch.stack([item["X"] for item in items])
    y = torch.stack([torch.as_tensor(item["y"]) for item in items])
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(range(len(items)), batch_size=batch, shuffle=True, generator=generator,
                      collate_fn=lambda index: {"X": x[index], "y": y[index]})


def train(config, prepared, loader, steps: int, warmup: int, seed: int) -> tuple[float, float | None]:
    import lightning as L

    from mirmodels.experiment import build_network
    from mirmodels.tasks import get_task_class

    torch.manual_seed(seed)
    network = build_network(config, prepared.input_shape, prepared.n_out)
    task = get_task_class("multipitch")(network, lr=1e-3)
    timer = StepTimer(warmup)
    trainer = L.Trainer(max_steps=steps + warmup, limit_val_batches=0, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                        accelerator="auto", devices=1, callbacks=[timer.as_callback()])
    with GpuSampler() as gpu:
        trainer.fit(task, train_dataloaders=loader)
    return timer.rate, gpu.mean


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(SETUPS), default="small")
    parser.add_argument("--steps", type=int, default=60, help="timed steps per path")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--workers", type=int, default=0,
                        help="DataLoader workers of the lazy path (default 0, as train.num_workers)")
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=2, help="alternate the two paths this many times")
    parser.add_argument("--dir", default=None, help="working folder (default: a temporary one, deleted)")
    args = parser.parse_args()

    import logging
    import warnings

    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    from mirmodels.data import make_dataset

    workdir = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="bench_training_"))
    try:
        config, prepared = prepare(workdir, args.model, args.files, args.seconds)
        lazy_dataset = make_dataset(prepared, prepared.splits["train"])
        patches = len(lazy_dataset)
        rates = {"lazy": [], "in-memory": []}
        gpu = {"lazy": [], "in-memory": []}
        memory_loader = in_memory_loader(lazy_dataset, args.batch, seed=0)
        for _ in range(args.repeats):
            lazy_loader = DataLoader(lazy_dataset, batch_size=args.batch, shuffle=True, num_workers=args.workers,
                                     persistent_workers=args.workers > 0,
                                     generator=torch.Generator().manual_seed(0))
            for name, loader in (("lazy", lazy_loader), ("in-memory", memory_loader)):
                rate, utilisation = train(config, prepared, loader, args.steps, args.warmup, seed=0)
                rates[name].append(rate)
                gpu[name].append(utilisation)
        device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU ({torch.get_num_threads()} threads)"
        print(f"training steps/s: model {args.model}, input {prepared.input_shape}, batch {args.batch}, "
              f"{args.steps} timed steps (+{args.warmup} warm-up) x {args.repeats} repeats, {patches} train patches, "
              f"{args.workers} loader worker(s), {device}")
        print(f"{'path':<12} {'steps/s (best)':>15} {'steps/s (mean)':>15} {'GPU util %':>11}")
        for name in rates:
            util = [u for u in gpu[name] if u is not None]
            util_text = f"{np.mean(util):.0f}" if util else "-"
            print(f"{name:<12} {max(rates[name]):>15.2f} {np.mean(rates[name]):>15.2f} {util_text:>11}")
        ratio = max(rates["lazy"]) / max(rates["in-memory"])
        print(f"{'lazy / in-memory':<28} {ratio:>15.2f}   (target >= 0.90: {'met' if ratio >= 0.9 else 'NOT met'})")
    finally:
        if not args.dir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
