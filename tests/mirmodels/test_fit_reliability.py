"""``mirmodels fit`` / ``predict`` under faults: kill -9 and Ctrl-C at any moment, a second writer,
checkpoints and data that are not what they seem, devices the machine lacks (issue 10).

The kill tests run ``mirmodels fit`` in a subprocess (one at a time) whose training steps are slowed
by 0.1 s (``SLOW_STEPS``, like the cache's resume test slows its feature), so that a kill lands
while an epoch is in flight; the rest runs in this process on the tiny synthetic pair of test_fit.
"""

from __future__ import annotations

import csv
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from click.testing import CliRunner
from test_cache_resume import kill_group
from test_fit import make_pair, write_config

from pyjama_tools import pyjama
from pyjama_tools.core.errors import MirError

SLOW_STEPS = """
import time
from mirmodels.tasks.base import Task

_step = Task.training_step


def training_step(self, batch, batch_idx):
    time.sleep(0.1)
    return _step(self, batch, batch_idx)


Task.training_step = training_step
"""

HOLD_LOCK = """
import sys, time
from pyjama_tools.core.locking import output_lock
with output_lock(sys.argv[1], sys.argv[2]):
    print("held", flush=True)
    time.sleep(120)
"""


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    return make_pair(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_root) -> Path:
    """A multiclass run of 1 epoch (for predict and the checkpoint tests)."""
    from mirmodels.experiment import fit

    base = tmp_path_factory.mktemp("trained")
    return fit(write_config(base / "c.yaml", "multiclass", data_root, max_epochs=1), out=base / "run").run_dir


def _cli(*args: str):
    from mirmodels.cli import main

    return CliRunner().invoke(main, list(args))


def _one_error_line(result) -> str:
    """The single line a user mistake must give (exit 1, no traceback, nothing else on stderr)."""
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def _start_fit(tmp_path: Path, *args: str) -> subprocess.Popen:
    """``mirmodels fit ARGS`` with slowed training steps, in its own process group."""
    (tmp_path / "slowsteps.py").write_text(SLOW_STEPS)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
               OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    code = "import slowsteps; from mirmodels.cli import main; main()"
    return subprocess.Popen([sys.executable, "-c", code, "fit", *args, "--quiet"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def _rows(run: Path) -> list[dict[str, str]]:
    with open(run / "logs" / "metrics.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def _epochs_logged(run: Path, name: str) -> list[int]:
    path = run / "logs" / "metrics.csv"
    return [int(row["epoch"]) for row in _rows(run) if row.get(name)] if path.exists() else []


def _ckpt_epoch(path: Path) -> int:
    return int(torch.load(path, map_location="cpu", weights_only=True)["epoch"])


# ----------------------------------------------------------------------------- item 2: last.ckpt


def test_last_checkpoint_is_the_last_epoch_not_the_best(data_root, tmp_path):
    """Lightning 2.6's save_last wrote last.ckpt only when the best one was saved: it held the best
    epoch, and --resume silently went back to it."""
    from mirmodels.experiment import fit, load_network, run_paths

    config = write_config(tmp_path / "c.yaml", "multiclass", data_root, max_epochs=4, lr=0.05)
    result = fit(config, out=tmp_path / "run")
    paths = run_paths(result.run_dir)
    best = torch.load(paths["best_ckpt"], map_location="cpu", weights_only=True)
    last = torch.load(paths["last_ckpt"], map_location="cpu", weights_only=True)
    assert last["epoch"] == 3 and last["global_step"] == result.metadata["global_step"]
    losses = [float(r["valid_loss"]) for r in _rows(result.run_dir) if r["valid_loss"]]
    assert best["epoch"] == int(np.argmin(losses)) < 3  # this config's best epoch is not its last
    # best.pt is the best epoch's network
    network = load_network(result.run_dir)
    for key, value in network.state_dict().items():
        assert torch.equal(value, best["state_dict"][f"model.{key}"]), key


# ----------------------------------------------------------------------------- items 3, 4: kills, a second fit


def test_kill_during_resume_keeps_the_earlier_log(data_root, tmp_path):
    """Lightning's CSVLogger deleted metrics.csv when the resumed session started; the merge with the
    first session's rows ran in `finally`, which kill -9 skips."""
    from mirmodels.experiment import fit

    config = write_config(tmp_path / "c.yaml", "multiclass", data_root, max_epochs=2)
    run = fit(config, out=tmp_path / "run").run_dir
    first = _rows(run)
    process = _start_fit(tmp_path, str(config), "--out", str(run), "--resume", "--set", "train.max_epochs=30")
    deadline = time.monotonic() + 60
    while max(_epochs_logged(run, "valid_loss"), default=0) < 2 and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1][-2000:]
        time.sleep(0.05)
    time.sleep(random.Random(3).uniform(0.0, 1.0))
    kill_group(process)
    rows = _rows(run)
    assert rows[:len(first)] == first  # the first session's rows, unchanged
    last = _ckpt_epoch(run / "checkpoints" / "last.ckpt")
    assert max(_epochs_logged(run, "train_loss")) in (last, last - 1) and last >= 2
    result = fit(config, out=run, resume=True, overrides=[f"train.max_epochs={last + 2}"])
    assert result.epochs == last + 2
    for name in ("train_loss", "valid_loss"):
        assert _epochs_logged(run, name) == list(range(last + 2)), name


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_fit_and_resume_killed_at_random_moments(data_root, tmp_path):
    """kill -9 at random moments of `fit` then `fit --resume`, five times: every file of the run is
    whole after each kill, and the run finished by a last session has each epoch once."""
    from mirmodels.experiment import load_network

    config = write_config(tmp_path / "c.yaml", "multiclass", data_root, max_epochs=3)
    run = tmp_path / "run"
    rng = random.Random(7)
    kills = resumed_kills = 0
    for _attempt in range(5):
        resume = (run / "checkpoints" / "last.ckpt").exists()
        started = time.time_ns()
        process = _start_fit(tmp_path, str(config), "--out", str(run), *(["--resume"] if resume else []))
        # the moment: 0 to 3 s after this session wrote config.yaml (training starts right after; an
        # epoch takes about 1.5 s)
        while process.poll() is None and not ((run / "config.yaml").exists()
                                              and (run / "config.yaml").stat().st_mtime_ns >= started):
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 3.0))
        if process.poll() is not None:
            _, err = process.communicate()
            assert process.returncode == 0, err[-2000:]
            break
        kill_group(process)
        kills += 1
        resumed_kills += resume
        if (run / "checkpoints" / "last.ckpt").exists():  # whole, and the log is never ahead of it
            last = _ckpt_epoch(run / "checkpoints" / "last.ckpt")
            for name in ("train_loss", "valid_loss"):
                logged = _epochs_logged(run, name)
                assert logged == list(range(len(logged))) and len(logged) - 1 <= last, (name, logged, last)
        if (run / "run.json").exists():
            json.loads((run / "run.json").read_text())
    else:  # the last session runs to its end
        resume = (run / "checkpoints" / "last.ckpt").exists()
        process = _start_fit(tmp_path, str(config), "--out", str(run), *(["--resume"] if resume else []))
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-2000:]
    assert kills >= 2 and resumed_kills >= 1, (kills, resumed_kills)
    for name in ("train_loss", "valid_loss"):
        assert _epochs_logged(run, name) == list(range(3)), name
    assert _ckpt_epoch(run / "checkpoints" / "last.ckpt") == 2
    meta = json.loads((run / "run.json").read_text())
    assert meta["epochs"] == 3 and "interrupted" not in meta and "best_valid_loss" in meta
    load_network(run)
    assert not list(run.rglob("*.partial"))


def _hold(path: Path, command: str) -> subprocess.Popen:
    child = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(path), command], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "held"
    return child


def test_a_second_fit_on_the_same_run_is_refused(data_root, tmp_path):
    """Two fits on one --out: one trained with lr 0.001 while config.yaml said 0.1, metrics.csv got a
    broken header."""
    config = write_config(tmp_path / "c.yaml", "multiclass", data_root, max_epochs=1)
    run = tmp_path / "run"
    run.mkdir()
    holder = _hold(run, "mirmodels fit")
    try:
        line = _one_error_line(_cli("fit", str(config), "--out", str(run), "--set", "train.lr=0.1", "--quiet"))
    finally:
        holder.kill()
        holder.wait()
    assert line == f"error: {run}: another mirmodels fit is writing it (lock {run / '.lock'})"
    assert sorted(p.name for p in run.iterdir()) == [".lock"]  # nothing written
    assert _cli("fit", str(config), "--out", str(run), "--quiet").exit_code == 0  # free once the holder is gone


@pytest.mark.slow
def test_a_second_fit_while_one_trains(data_root, tmp_path):
    config = write_config(tmp_path / "c.yaml", "multiclass", data_root, max_epochs=30, lr=0.001)
    run = tmp_path / "run"
    process = _start_fit(tmp_path, str(config), "--out", str(run))
    try:
        deadline = time.monotonic() + 40
        while not (run / "config.yaml").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        saved = (run / "config.yaml").read_text()
        line = _one_error_line(_cli("fit", str(config), "--out", str(run), "--set", "train.lr=0.1", "--quiet"))
        assert "another mirmodels fit is writing it" in line
        assert (run / "config.yaml").read_text() == saved and "lr: 0.001" in saved
    finally:
        kill_group(process)


# ----------------------------------------------------------------------------- item 6: entries left out


def _foreign_pair(data_root: Path, root: Path, extra: int) -> Path:
    """The tiny audio store beside a .pyjama of ``10 + extra`` entries (``extra`` without audio)."""
    root.mkdir()
    (root / "tiny_audio.hdf5").symlink_to(data_root / "tiny_audio.hdf5")
    doc = pyjama.load(data_root / "tiny.pyjama")
    template = doc.entries[0]
    for index in range(extra):
        entry = json.loads(json.dumps(template))
        entry["filepath"] = [pyjama.atom(f"other_{index:03d}.wav")]
        doc.entries.append(entry)
    pyjama.save(doc, root / "tiny.pyjama")
    assert len(pyjama.load(root / "tiny.pyjama").keys()) == 10 + extra
    return root


def test_a_pyjama_of_another_corpus_is_refused(data_root, tmp_path):
    """A .pyjama of 60 entries beside a 10-file store trained on the 10 matches, 50 dropped silently."""
    from mirmodels.config import load_config
    from mirmodels.data import prepare_data

    root = _foreign_pair(data_root, tmp_path / "foreign", 50)
    config = write_config(tmp_path / "c.yaml", "multiclass", root, max_epochs=1)
    line = _one_error_line(_cli("fit", str(config), "--out", str(tmp_path / "run")))
    assert line.startswith(f"error: {root / 'tiny.pyjama'}: 50 of its 60 entries have no audio in "
                           f"{root / 'tiny_audio.hdf5'} (first 'other_000.wav')")
    assert "--allow-missing-audio" in line and not (tmp_path / "run").exists()
    prepared = prepare_data(load_config(config), allow_missing_audio=True)
    assert prepared.metadata()["dropped"] == {"no_audio": 50, "no_annotation": 0, "no_features": 0, "not_selected": 0,
                                              "not_in_split": 0}
    assert prepared.report_lines() == [(f"{root / 'tiny.pyjama'}: left out 50 of 60 entries: 50 without audio in "
                                        "tiny_audio.hdf5")]


def test_no_entry_with_audio_is_refused(data_root, tmp_path):
    root = tmp_path / "none"
    root.mkdir()
    (root / "tiny_audio.hdf5").symlink_to(data_root / "tiny_audio.hdf5")
    doc = pyjama.load(data_root / "tiny.pyjama")
    for index, entry in enumerate(doc.entries):
        entry["filepath"] = [pyjama.atom(f"other_{index}.wav")]
    pyjama.save(doc, root / "tiny.pyjama")
    config = write_config(tmp_path / "c.yaml", "multiclass", root)
    line = _one_error_line(_cli("fit", str(config), "--out", str(tmp_path / "run")))
    assert "none of its 10 entries has audio in" in line and "not one dataset pair" in line


@pytest.mark.slow
def test_entries_left_out_are_counted_on_stderr_and_in_run_json(data_root, tmp_path):
    root = _foreign_pair(data_root, tmp_path / "some", 3)
    doc = pyjama.load(root / "tiny.pyjama")
    del doc.entries[1]["style"]  # one without the annotation
    pyjama.save(doc, root / "tiny.pyjama")
    config = write_config(tmp_path / "c.yaml", "multiclass", root, max_epochs=1)
    result = _cli("fit", str(config), "--out", str(tmp_path / "run"), "--quiet")
    assert result.exit_code == 0, result.output
    assert f"{root / 'tiny.pyjama'}: left out 4 of 13 entries: 3 without audio in tiny_audio.hdf5, 1 without " \
           "field 'style'" in result.stderr
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["entries"] == 13 and meta["dropped"]["no_audio"] == 3 and meta["dropped"]["no_annotation"] == 1


# ----------------------------------------------------------------------------- item 8: devices


def test_devices_the_machine_lacks_are_one_line_before_anything_starts(data_root, tmp_path):
    """--set train.devices=99 on a 2-core CPU started 99 processes, then died with rc 143, no message."""
    cores = len(os.sched_getaffinity(0))
    config = write_config(tmp_path / "c.yaml", "multiclass", data_root)
    started = time.monotonic()
    line = _one_error_line(_cli("fit", str(config), "--out", str(tmp_path / "run"), "--set", "train.accelerator=cpu",
                                "--set", f"train.devices={cores + 1}"))
    assert line == (f"error: {config}: train.devices: {cores + 1}, but this machine has {cores} CPU cores "
                    f"(accelerator 'cpu'); set train.devices to at most {cores}, or 'auto'")
    assert not (tmp_path / "run").exists() and time.monotonic() - started < 10


def test_gpus_the_machine_lacks(monkeypatch, tmp_path, data_root):
    from mirmodels.config import load_config
    from mirmodels.experiment import check_devices

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    config = write_config(tmp_path / "c.yaml", "multiclass", data_root)
    with pytest.raises(MirError, match=r"train.devices: 2, but this machine has 1 GPUs \(accelerator 'auto'\)"):
        check_devices(load_config(config, ["train.accelerator=auto", "train.devices=2"]))
    with pytest.raises(MirError, match=r"train.devices: \[0, 1\], but .* use device indices 0 to 0"):
        check_devices(load_config(config, ["train.accelerator=gpu", "train.devices=[0, 1]"]))
    check_devices(load_config(config, ["train.accelerator=gpu", "train.devices=1"]))


def test_loader_workers_beyond_the_cores_are_lowered_with_an_info_line(tmp_path, data_root, caplog, monkeypatch):
    """The book's examples ask for num_workers 4 (a GPU machine); on 2 cores each would have started 4 loader
    processes beside the training one. The run uses what the cores give and says so."""
    import logging

    from mirmodels import experiment
    from mirmodels.config import load_config
    from mirmodels.trainer import loader_workers

    cores = len(os.sched_getaffinity(0))
    config = write_config(tmp_path / "c.yaml", "multiclass", data_root)
    with caplog.at_level(logging.INFO, logger="mirmodels"):
        assert loader_workers(load_config(config, ["train.accelerator=cpu", f"train.num_workers={cores + 3}"])) == cores
    assert f"train.num_workers {cores + 3}: this machine has {cores} CPU cores for 1 training process(es); " \
           f"using {cores} loader workers" in caplog.text
    assert loader_workers(load_config(config, ["train.accelerator=cpu", "train.num_workers=0"])) == 0
    if cores >= 2:
        two = load_config(config, ["train.accelerator=cpu", "train.devices=2", f"train.num_workers={cores}"])
        assert loader_workers(two) == cores // 2
    seen = {}

    class Stop(Exception):
        pass

    def capture(prepared, batch_size, num_workers, seed):
        seen["num_workers"] = num_workers
        raise Stop

    monkeypatch.setattr(experiment, "ExperimentDataModule", capture)
    with pytest.raises(Stop):
        experiment.fit(config, out=tmp_path / "run", overrides=["train.accelerator=cpu", "train.num_workers=99"])
    assert seen["num_workers"] == cores


# ----------------------------------------------------------------------------- item 13: a pickle that runs code


class _Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_malicious_checkpoint_is_not_loaded_and_said_so(trained, tmp_path):
    """It was refused but called 'corrupt or truncated', with torch's advice to retry with
    weights_only=False."""
    marker = tmp_path / "pwned"
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    torch.save({"state_dict": _Payload(marker)}, run / "checkpoints" / "best.pt")
    line = _one_error_line(_cli("predict", str(run), str(_wav(trained, tmp_path))))
    assert line.startswith(f"error: {run / 'checkpoints' / 'best.pt'}: not a weights-only checkpoint: it holds "
                           "Python objects other than tensors (posix.system), so it was not loaded")
    assert "weights_only" not in line and "corrupt" not in line
    # --resume reads last.ckpt: the same line, before Lightning touches it
    torch.save({"state_dict": _Payload(marker)}, run / "checkpoints" / "last.ckpt")
    line = _one_error_line(_cli("fit", str(run / "config.yaml"), "--out", str(run), "--resume",
                                "--set", "train.max_epochs=2", "--quiet"))
    assert "last.ckpt: not a weights-only checkpoint" in line
    assert not marker.exists()


# ----------------------------------------------------------------------------- item 14: a truncated cache


def test_a_truncated_cache_names_what_fit_can_do(data_root, tmp_path):
    """fit said 'use --overwrite', an option fit does not have."""
    from mirmodels.config import load_config
    from mirmodels.data import prepare_data

    root = tmp_path / "pair"
    shutil.copytree(data_root, root, ignore=shutil.ignore_patterns("*_feat.hdf5"))
    config = write_config(tmp_path / "c.yaml", "multiclass", root)
    cache = prepare_data(load_config(config)).cache_path
    cache.write_bytes(cache.read_bytes()[:5000])
    line = _one_error_line(_cli("fit", str(config), "--out", str(tmp_path / "run")))
    assert line.startswith(f"error: {cache}: not a readable HDF5 file")
    assert line.endswith(f"delete {cache} and rerun fit to rebuild it, or name another file in feature.cache")
    assert "--overwrite" not in line


# ----------------------------------------------------------------------------- items 5, 15, 16: predict


def _wav(run: Path, tmp_path: Path, samples: int | None = None) -> Path:
    from pyjama_tools.audio_store import AudioStore

    meta = json.loads((run / "run.json").read_text())
    with AudioStore(meta["audio_path"]) as store:
        audio = store.read("synth_003.wav")
    path = tmp_path / ("song.wav" if samples is None else f"short{samples}.wav")
    soundfile.write(path, audio if samples is None else audio[:samples], 16000)
    return path


def test_a_second_predict_of_the_same_file_is_refused(trained, tmp_path):
    wav = _wav(trained, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    holder = _hold(out / "song_predictions", "mirmodels predict")
    try:
        line = _one_error_line(_cli("predict", str(trained), str(wav), "-o", str(out)))
    finally:
        holder.kill()
        holder.wait()
    assert line == f"error: {out / 'song_predictions'}: another mirmodels predict is writing it " \
                   f"(lock {out / '.song_predictions.lock'})"
    assert not list(out.glob("song_*"))


@pytest.mark.parametrize("samples", [1, 12])
def test_predict_on_audio_too_short_names_the_file(trained, tmp_path, samples):
    wav = _wav(trained, tmp_path, samples)
    line = _one_error_line(_cli("predict", str(trained), str(wav), "-o", str(tmp_path / "out")))
    assert line.startswith(f"error: {wav}: ") and f"{samples} samples" in line


def test_predict_on_a_bad_mp3_is_the_error_line_alone(trained, tmp_path, capfd):
    """mpg123's notes (written on file descriptor 2 by the C library) and libsndfile's 'File does not
    exist' (of a file that exists) came before the error line."""
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"ID3" + bytes(100))
    capfd.readouterr()
    line = _one_error_line(_cli("predict", str(trained), str(bad)))
    assert line == f"error: {bad}: cannot decode (not an audio format libsndfile reads, or a damaged file)"
    assert capfd.readouterr().err == ""


def test_predict_outputs_are_all_or_none(trained, tmp_path, monkeypatch):
    """predict left the csv and png (and a multipitch .pyjama) when its json could not be written."""
    import mirmodels.predict as predict_module
    import mirmodels.prediction as prediction_module

    wav = _wav(trained, tmp_path)
    out = tmp_path / "out"
    (out / "song_predictions.json").mkdir(parents=True)  # the json's name is taken by a folder
    line = _one_error_line(_cli("predict", str(trained), str(wav), "-o", str(out)))
    assert line == f"error: {out / 'song_predictions.json'}: is a folder; no prediction was written (remove it or use -o)"
    assert sorted(p.name for p in out.iterdir()) == [".song_predictions.lock", "song_predictions.json"]
    (out / "song_predictions.json").rmdir()
    first = predict_module.predict(trained, wav, out_dir=out)
    before = {path.name: path.read_bytes() for path in first.files}
    assert sorted(before) == ["song_predictions.csv", "song_predictions.json", "song_predictions.png"]

    def full_disk(data, path):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(prediction_module, "write_json", full_disk)  # the default predict_file's JSON
    with pytest.raises(MirError, match="cannot write the predictions \\(No space left on device\\)"):
        predict_module.predict(trained, wav, out_dir=out, threshold=0.9)
    assert {path.name: path.read_bytes() for path in first.files} == before  # the earlier outputs, untouched
    assert sorted(p.name for p in out.iterdir()) == [".song_predictions.lock"] + sorted(before)


# ----------------------------------------------------------------------------- item 16: --set KEY[INDEX]


def test_set_with_a_list_index_sets_the_item(data_root, tmp_path):
    """--set 'model.block_l[0]=x' saved a key named 'block_l[0]' beside block_l."""
    from mirmodels.config import load_config

    config = write_config(tmp_path / "c.yaml", "multiclass", data_root)
    path = "model.block_l[0].sequential_l[0].layer_l[1][1].out_channels"
    loaded = load_config(config, [f"{path}=4"])
    assert loaded.model["block_l"][0]["sequential_l"][0]["layer_l"][1][1]["out_channels"] == 4
    assert "block_l[0]" not in load_config(config, ["model.block_l[0].name=x"]).model
    line = _one_error_line(_cli("fit", str(config), "--out", str(tmp_path / "run"), "--set", "model.block_l[0]=x"))
    assert line == f"error: {config}: model.block_l[0]: expected a mapping with 'sequential_l', got str"
    assert not (tmp_path / "run").exists()
    for override, expected in [("model.block_l[3]=x", "model.block_l[3]: no such item (model.block_l has 1)"),
                               ("train.lr[0]=1", "train.lr is not a list"),
                               ("model.block_l[x]=1", "expected SECTION.KEY=VALUE")]:
        with pytest.raises(MirError, match=re_escape(expected)):
            load_config(config, [override])


def re_escape(text: str) -> str:
    import re

    return re.escape(text)
