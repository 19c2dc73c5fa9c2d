"""Separation training steps/s: stem windows read lazily from the audio store vs from memory.

Both paths train the same network (same initial weights, batch size, optimizer, loss) on the same
tracks; only the data path of :class:`mirfeat.stems.StemWindowDataset` differs:

- **lazy** (what ``mirmodels fit`` uses by default): each example reads its window of the mixture and
  of the four stems from the HDF5 audio store (5 reads), half of them remixed from random tracks;
- **in-memory** (``feature.in_memory: true``): every track's mixture and stems are read once into
  numpy arrays, a window is a slice.

The data are synthetic MUSDB18-HQ-layout tracks (stereo noise / tones, ``--tracks`` × ``--seconds``
at ``--rate``) converted with ``pyjama-convert musdb18 --stereo`` in a temporary folder; the model is
the small U-Net of ``tests/mirmodels/test_separation.py`` (2 levels, n_fft 512), so the data path weighs as much
as it can. The first ``--warmup`` steps are not timed. Target: lazy / in-memory >= 0.9.

``--interleaved`` measures both paths step by step in turns in one process (a lazy step, an in-memory
step, ...), so that a machine whose load changes by the minute (several engineers on 2 cores) slows both
alike; ``--data-only`` times the loader alone.

Usage: ``python bench/bench_separation.py [--steps 30] [--batch 16] [--workers 0] [--repeats 2]
[--interleaved | --data-only]``
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

ROOT = Path(__file__).resolve().parents[1]
STEMS = ("drums", "bass", "other", "vocals")


def make_corpus(root: Path, tracks: int, seconds: float, rate: int) -> Path:
    """``train/<track>/<stem>.wav`` stereo stems and their sum, then the converted pair in ``root/data``."""
    import soundfile

    from pyjama_tools.convert import convert

    rng = np.random.default_rng(0)
    samples = int(seconds * rate)
    t = np.arange(samples) / rate
    for index in range(tracks):
        folder = root / "src" / "train" / f"Artist {index} - Title {index}"
        folder.mkdir(parents=True)
        stems = {"drums": 0.2 * rng.standard_normal((2, samples)),
                 "bass": 0.3 * np.sin(2 * np.pi * (60 + index) * t)[None].repeat(2, 0),
                 "other": 0.1 * rng.standard_normal((2, samples)) + 0.1 * np.sin(2 * np.pi * 660 * t),
                 "vocals": 0.2 * np.sin(2 * np.pi * (440 + 20 * index) * t + 2 * np.sin(2 * np.pi * 5 * t))[None].repeat(2, 0)}
        stems["mixture"] = sum(stems.values())
        for stem, signal in stems.items():
            soundfile.write(folder / f"{stem}.wav", signal.T.astype(np.float32), rate)
    convert("musdb18", root / "src", root / "data", sample_rate=None, stereo=True)
    return root / "data"


def tiny_unet(n_fft: int = 512) -> dict:
    sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "mirmodels")]  # test_separation and its conftest
    from test_separation import tiny_unet as model  # the test's small U-Net (same bricks as the book's)

    return model(n_fft=n_fft)


def run(data: Path, in_memory: bool, steps: int, warmup: int, batch: int, workers: int, window: int,
        train: bool = True) -> float:
    """Training steps/s over ``steps`` timed steps (``train`` false: batches/s of the loader alone)."""
    from mirmodels.config import config_from_dict
    from mirmodels.data import make_dataset, prepare_data
    from mirmodels.experiment import build_network
    from mirmodels.tasks import get_task_class

    config = config_from_dict({
        "dataset": {"base": "musdb18", "problem": "separation", "annot_key": "stem", "root": str(data)},
        "feature": {"type": "waveform", "patch_L_frame": window, "patch_STEP_frame": window // 4,
                    "in_memory": in_memory},
        "model": tiny_unet(), "train": {"task": {"remix": 0.5}}})
    prepared = prepare_data(config)
    dataset = make_dataset(prepared, prepared.splits["train"], train=True)
    torch.manual_seed(0)
    network = build_network(config, prepared.input_shape, prepared.n_out)
    task = get_task_class("separation")(network, lr=1e-3, remix=0.5)
    optimizer = task.configure_optimizers()
    loader = DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=workers, drop_last=True,
                        persistent_workers=workers > 0)
    done, start = 0, None
    network.train()
    while done < steps + warmup:
        for item in loader:
            if done == warmup:
                start = time.perf_counter()
            if train:
                optimizer.zero_grad()
                loss = task.compute_loss(network(item["X"]), item["y"])
                loss.backward()
                optimizer.step()
            done += 1
            if done == steps + warmup:
                break
    return steps / (time.perf_counter() - start)


def interleaved(data: Path, steps: int, warmup: int, batch: int, workers: int, window: int) -> dict[str, float]:
    """Training steps/s of both paths measured step by step in turns (lazy step, in-memory step, ...),
    so that a change of the machine's load hits both paths alike."""
    from mirmodels.config import config_from_dict
    from mirmodels.data import make_dataset, prepare_data
    from mirmodels.experiment import build_network
    from mirmodels.tasks import get_task_class

    paths = {}
    for name in ("lazy", "in-memory"):
        config = config_from_dict({
            "dataset": {"base": "musdb18", "problem": "separation", "annot_key": "stem", "root": str(data)},
            "feature": {"type": "waveform", "patch_L_frame": window, "patch_STEP_frame": window // 4,
                        "in_memory": name == "in-memory"},
            "model": tiny_unet(), "train": {"task": {"remix": 0.5}}})
        prepared = prepare_data(config)
        dataset = make_dataset(prepared, prepared.splits["train"], train=True)
        torch.manual_seed(0)
        network = build_network(config, prepared.input_shape, prepared.n_out).train()
        task = get_task_class("separation")(network, lr=1e-3, remix=0.5)
        loader = DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=workers, drop_last=True,
                            persistent_workers=workers > 0)
        paths[name] = {"task": task, "optimizer": task.configure_optimizers(), "loader": loader,
                       "batches": iter(loader), "seconds": 0.0}
    for step in range(warmup + steps):
        for path in paths.values():
            start = time.perf_counter()
            try:
                item = next(path["batches"])
            except StopIteration:
                path["batches"] = iter(path["loader"])
                item = next(path["batches"])
            path["optimizer"].zero_grad()
            path["task"].compute_loss(path["task"].model(item["X"]), item["y"]).backward()
            path["optimizer"].step()
            if step >= warmup:
                path["seconds"] += time.perf_counter() - start
    return {name: steps / path["seconds"] for name, path in paths.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--tracks", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=int, default=22050)
    parser.add_argument("--data-only", action="store_true", help="only the loader's batches/s (no training)")
    parser.add_argument("--interleaved", action="store_true",
                        help="both paths step by step in turns, in one process (robust to a changing load)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    folder = Path(tempfile.mkdtemp(prefix="bench_separation_"))
    try:
        data = make_corpus(folder, args.tracks, args.seconds, args.rate)
        window = args.rate  # 1 s windows
        if args.interleaved:
            rates = interleaved(data, args.steps, args.warmup, args.batch, args.workers, window)
            print(f"interleaved, {args.steps} timed steps (+{args.warmup}) per path, batch {args.batch}, "
                  f"{args.workers} loader workers, CPU ({torch.get_num_threads()} threads)")
            print("| path | training steps/s |\n|---|---|")
            for name, rate in rates.items():
                print(f"| {name} StemWindowDataset | {rate:.3f} |")
            ratio = rates["lazy"] / rates["in-memory"]
            print(f"| **lazy / in-memory** | **{ratio:.2f}** (target >= 0.9 {'ok' if ratio >= 0.9 else 'MISSED'}) |")
            return
        results: dict[str, list] = {"lazy": [], "in-memory": []}
        loading: dict[str, list] = {"lazy": [], "in-memory": []}
        for _ in range(args.repeats):  # alternate, so that a load change hits both paths
            for name in results:
                loading[name].append(run(data, name == "in-memory", 4 * args.steps, args.warmup, args.batch,
                                         args.workers, window, train=False))
                if not args.data_only:
                    results[name].append(run(data, name == "in-memory", args.steps, args.warmup, args.batch,
                                             args.workers, window))
        print(f"{args.tracks} stereo tracks x {args.seconds:g} s at {args.rate} Hz, 1 s windows (4 stems, remix 0.5), "
              f"batch {args.batch}, {args.steps} timed steps (+{args.warmup} warm-up) x {args.repeats}, "
              f"{args.workers} loader workers, CPU ({torch.get_num_threads()} threads)")
        print("| path | training steps/s (best) | (mean) | loader alone, batches/s (best) |\n|---|---|---|---|")
        for name in results:
            steps = f"{max(results[name]):.2f} | {np.mean(results[name]):.2f}" if results[name] else "- | -"
            print(f"| {name} StemWindowDataset | {steps} | {max(loading[name]):.1f} |")
        load_ratio = max(loading["lazy"]) / max(loading["in-memory"])
        if results["lazy"]:
            ratio = max(results["lazy"]) / max(results["in-memory"])
            print(f"| **lazy / in-memory** | **{ratio:.2f}** (target >= 0.9 {'ok' if ratio >= 0.9 else 'MISSED'}) "
                  f"| | {load_ratio:.2f} |")
        else:
            print(f"| **lazy / in-memory** | | | {load_ratio:.2f} |")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
