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


@pytest.mark.slow
def test_reduced_quickstart(tmp_path):
    env = dict(os.environ, DATA=str(tmp_path / "data"), RUN=str(tmp_path / "run"), FILES="5",
               SECONDS_PER_FILE="4", JOBS="1", FIT_ARGS="--set train.max_epochs=1")
    result = subprocess.run(["bash", str(ROOT / "examples" / "quickstart.sh")], env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for step in ("1/5", "2/5", "3/5", "4/5", "5/5"):
        assert step in result.stdout
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["problem"] == "multipitch"
    assert metrics["num_files"] == 1  # 5 files: index 0 is held out
    for key in ("Precision", "Recall", "Accuracy"):
        assert 0.0 <= metrics["metrics"][key] <= 1.0
    assert (tmp_path / "run" / "pianoroll.png").stat().st_size > 10_000
    assert (tmp_path / "run" / "checkpoints" / "best.ckpt").exists()


@pytest.mark.slow
def test_reduced_quickstart_scores_do_not_depend_on_the_callers_thread_count(tmp_path):
    """Two runs, one from a shell with OMP_NUM_THREADS=1: the same scores (the script fixes the count)."""
    data = tmp_path / "data"
    scores = []
    for name, extra in (("run_a", {}), ("run_b", {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})):
        env = dict(os.environ, DATA=str(data), RUN=str(tmp_path / name), FILES="5", SECONDS_PER_FILE="4", JOBS="1",
                   FIT_ARGS="--set train.max_epochs=1", **extra)
        env.pop("THREADS", None)
        result = subprocess.run(["bash", str(ROOT / "examples" / "quickstart.sh")], env=env, capture_output=True,
                                text=True, timeout=600)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        scores.append(json.loads((tmp_path / name / "metrics.json").read_text())["metrics"])
        run = json.loads((tmp_path / name / "run.json").read_text())
        scores[-1]["best_valid_loss"] = run["best_valid_loss"]
        assert run["versions"]["torch_threads"] == "2"  # the script's count, not the caller's
    assert scores[0] == scores[1]
