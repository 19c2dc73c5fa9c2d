"""Two-process CPU DDP (gloo): ``mirmodels fit`` with ``strategy: ddp``, ``devices: 2``.

Lightning relaunches the command once per extra process (``python -m mirmodels.cli ...``), so the
run happens in a subprocess, as a user would start it.  Each process sees half of the training
patches (DistributedSampler), so an epoch has half as many steps as on one process.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest
import torch

from test_fit import epoch_losses, make_pair, write_config


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_two_process_cpu_ddp_fit(tmp_path):
    from mirmodels.config import load_config
    from mirmodels.data import make_dataset, prepare_data
    from mirmodels.experiment import load_network

    data = make_pair(tmp_path / "data")
    config = write_config(tmp_path / "ddp.yaml", "multiclass", data, max_epochs=2, batch_size=16, drop_last=False)
    run = tmp_path / "run"
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    env.pop("LOCAL_RANK", None)
    process = subprocess.run(
        [sys.executable, "-m", "mirmodels.cli", "fit", str(config), "--out", str(run),
         "--set", "train.strategy=ddp", "--set", "train.devices=2", "--set", "train.accelerator=cpu"],
        capture_output=True, text=True, env=env, timeout=280, cwd=str(tmp_path))
    output = process.stdout + process.stderr
    assert process.returncode == 0, output[-3000:]
    assert "distributed_backend=gloo" in output and "Starting with 2 processes" in output
    assert output.count("best valid_loss") == 1  # only rank 0 reports
    # each process trained on half the patches: steps per epoch = ceil(ceil(N / 2) / batch)
    prepared = prepare_data(load_config(config))
    patches = len(make_dataset(prepared, prepared.splits["train"]))
    steps_per_epoch = math.ceil(math.ceil(patches / 2) / 16)
    rows = (run / "logs" / "metrics.csv").read_text().splitlines()
    last_step = max(int(line.split(",")[1]) for line in rows[1:])
    assert last_step + 1 == 2 * steps_per_epoch
    assert len(epoch_losses(run)) == 2 and len(epoch_losses(run, "valid_loss")) == 2
    for name in ("best.ckpt", "last.ckpt", "best.pt"):
        assert (run / "checkpoints" / name).exists()
    network = load_network(run)
    assert torch.isfinite(network(torch.zeros(2, *prepared.input_shape))).all()


def test_sharded_batch_sampler_splits_whole_batches_evenly():
    from mirmodels.data import ShardedBatchSampler

    class Batches:
        def __init__(self):
            self.epoch = 0

        def set_epoch(self, epoch):
            self.epoch = epoch

        def __len__(self):
            return 5

        def __iter__(self):
            return iter([[i, i + 100] for i in range(5)])

    inner = Batches()
    ranks = [ShardedBatchSampler(inner, rank, 2) for rank in range(2)]
    assert [list(r) for r in ranks] == [[[0, 100], [2, 102]], [[1, 101], [3, 103]]]  # batch 4 dropped: equal counts
    assert [len(r) for r in ranks] == [2, 2]
    ranks[1].set_epoch(3)
    assert inner.epoch == 3
