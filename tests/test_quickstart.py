"""The quickstart pipeline, reduced: synth → HCQT cache → fit → evaluate → piano roll (the README's main job)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch

from mirmodels import build_model

ROOT = Path(__file__).resolve().parents[1]


def test_log_compress_brick():
    model = build_model({"model": {"name": "t", "block_l": [{"sequential_l": [{"layer_l": [
        ["LogCompress", {"factor": 10.0}]]}]}]}}, (2, 8, 4))
    x = torch.rand(3, 2, 8, 4)
    torch.testing.assert_close(model(x), torch.log1p(10.0 * x))
    assert torch.all(model(-x) == 0)  # magnitudes are never negative: clamped


def _quickstart(tmp_path: Path, name: str, **extra: str) -> Path:
    """The reduced quickstart (5 files x 4 s, 1 epoch) into ``tmp_path / name``, the data in ``tmp_path / "data"``."""
    env = dict(os.environ, DATA=str(tmp_path / "data"), RUN=str(tmp_path / name), FILES="5", SECONDS_PER_FILE="4",
               JOBS="1", FIT_ARGS="--set train.max_epochs=1", **extra)
    env.pop("THREADS", None)
    result = subprocess.run(["bash", str(ROOT / "examples" / "quickstart.sh")], env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for step in ("1/5", "2/5", "3/5", "4/5", "5/5"):
        assert step in result.stdout
    return tmp_path / name


@pytest.mark.slow
def test_reduced_quickstart_runs_every_step_and_its_scores_do_not_depend_on_the_callers_thread_count(tmp_path):
    """The README's main job, reduced; run twice, the second time from a shell with OMP_NUM_THREADS=1: the same
    scores (the script fixes the thread count)."""
    scores = []
    for name, extra in (("run_a", {}), ("run_b", {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})):
        run = _quickstart(tmp_path, name, **extra)
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["problem"] == "multipitch"
        assert metrics["num_files"] == 1  # 5 files: index 0 is held out
        for key in ("Precision", "Recall", "Accuracy"):
            assert 0.0 <= metrics["metrics"][key] <= 1.0
        assert (run / "pianoroll.png").stat().st_size > 10_000
        assert (run / "checkpoints" / "best.ckpt").exists()
        meta = json.loads((run / "run.json").read_text())
        assert meta["versions"]["torch_threads"] == "2"  # the script's count, not the caller's
        scores.append(dict(metrics["metrics"], best_valid_loss=meta["best_valid_loss"]))
    assert scores[0] == scores[1]
