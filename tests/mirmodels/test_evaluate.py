"""``mirmodels evaluate`` and ``predict``: whole-file stitching, hand-computed scores on fixed
predictions for each problem, metrics.json, a checkpoint of another model, and the prediction files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
import yaml
from click.testing import CliRunner

from mirfeat.targets import TargetSpec, build_target
from mirmodels.evaluate import score_predictions
from mirmodels.inference import cover_starts, stitch
from mirmodels.metrics import frames_to_segments
from mirmodels.scoring import multipitch_reference
from mirmodels.writers import salience_to_notes
from pyjama_tools import pyjama
from pyjama_tools.core.errors import MirError

from test_fit import make_pair, write_config


def _doc_with(name: str, values: list, extent: str = "global", content: str = "text", dictionary=None):
    doc = pyjama.PyjamaDoc()
    doc.define(name, extent, content, "value_in_dictionary" if dictionary else "free", dictionary)
    for index, value in enumerate(values):
        doc.add_entry(f"f{index}", {name: value})
    return doc


# ----------------------------------------------------------------------------- stitching


def test_cover_starts_reach_the_end():
    assert cover_starts(10, 4, 4).tolist() == [0, 4, 6]
    assert cover_starts(8, 4, 4).tolist() == [0, 4]
    assert cover_starts(3, 4, 4).tolist() == [0]  # shorter than a patch: one zero-padded patch
    assert cover_starts(10, 4, 2).tolist() == [0, 2, 4, 6]


def test_stitch_averages_overlaps():
    starts = np.array([0, 4, 6])
    outputs = np.stack([np.full((1, 4), 1.0), np.full((1, 4), 3.0), np.full((1, 4), 5.0)])
    assert stitch(outputs, starts, 10)[0].tolist() == [1, 1, 1, 1, 3, 3, 4, 4, 5, 5]
    # a padded single patch is cut back to the file's frames
    assert stitch(np.arange(4.0).reshape(1, 1, 4), np.array([0]), 3)[0].tolist() == [0, 1, 2]


def test_frame_segments_share_boundaries():
    time_sec = np.arange(190) * 256 / 16000.0  # librosa frame times: float rounding in t ± hop/2
    labels = np.random.default_rng(0).integers(0, 3, 190).astype(str)
    intervals, names = frames_to_segments(labels, time_sec)
    assert np.all(intervals[1:, 0] == intervals[:-1, 1]) and intervals[0, 0] == 0.0
    assert len(names) == len(intervals) == 1 + int(np.count_nonzero(labels[1:] != labels[:-1]))


# ----------------------------------------------------------------------------- hand-computed scores


def _pred(output, time_sec=None, frequency_hz=None):
    return {"output": np.asarray(output, dtype=np.float32), "time_sec": time_sec, "frequency_hz": frequency_hz}


def test_multiclass_scores_by_hand():
    doc = _doc_with("genre", [["a"], ["a"], ["b"], ["c"]], dictionary=["a", "b", "c"])
    target = build_target(TargetSpec("multiclass", "genre"), doc)
    probabilities = [[0.8, 0.1, 0.1], [0.3, 0.6, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7]]  # a, b, b, c
    result = score_predictions("multiclass", {f"f{i}": _pred(p) for i, p in enumerate(probabilities)}, target)
    scores = result["metrics"]
    assert scores["accuracy"] == pytest.approx(0.75)
    assert scores["macro_recall"] == pytest.approx((0.5 + 1 + 1) / 3)
    assert scores["macro_precision"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert scores["confusion_matrix"] == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]


def test_multilabel_scores_by_hand():
    doc = _doc_with("tag", [["x"], ["y"], ["x", "y"], ["y"]], dictionary=["x", "y"])
    target = build_target(TargetSpec("multilabel", "tag"), doc)
    scores = [[0.9, 0.1], [0.2, 0.8], [0.4, 0.7], [0.6, 0.9]]
    result = score_predictions("multilabel", {f"f{i}": _pred(s) for i, s in enumerate(scores)}, target)["metrics"]
    # tag x: positives 0.9, 0.4 / negatives 0.2, 0.6 → AUC 3/4; AP = (1/1 + 2/3) / 2
    assert result["per_tag"]["x"]["roc_auc"] == pytest.approx(0.75)
    assert result["per_tag"]["x"]["average_precision"] == pytest.approx((1 + 2 / 3) / 2)
    assert result["per_tag"]["y"]["roc_auc"] == pytest.approx(1.0)
    assert result["roc_auc_macro"] == pytest.approx(0.875)
    assert result["average_precision_macro"] == pytest.approx(((1 + 2 / 3) / 2 + 1) / 2)


def test_framelabel_and_chord_scores_by_hand():
    doc = pyjama.PyjamaDoc()
    doc.define("chord", "segment", "text")
    doc.add_entry("f0", {"chord": pyjama.segment_atoms([0.0, 0.5], [0.5, 0.5], ["C:maj", "A:min"])})
    target = build_target(TargetSpec("framelabel", "chord", chord_vocabulary="majmin"), doc)
    time_sec = np.arange(10) * 0.1 + 0.05
    c_major, a_minor = target.vocabulary.index("C:maj"), target.vocabulary.index("A:min")
    predicted = [c_major] * 5 + [a_minor] * 3 + [c_major] * 2
    scores = np.eye(len(target.vocabulary), dtype=np.float32)[predicted].T  # (K, T)
    result = score_predictions("framelabel", {"f0": _pred(scores, time_sec)}, target, doc=doc,
                               annot_key="chord")["metrics"]
    assert result["frame_accuracy"] == pytest.approx(0.8)
    assert result["macro_recall"] == pytest.approx((1.0 + 0.6) / 2)
    assert result["chord_majmin"] == pytest.approx(0.8)  # 0.2 s of 1 s wrong
    assert result["chord_root"] == pytest.approx(0.8)


def test_multipitch_reference_the_mir_eval_way():
    doc = pyjama.PyjamaDoc()
    doc.define("f0multi", "breakpoint", "numeric", row_name=["a", "b"])
    doc.define("pitchmidi", "segment", "numeric")
    doc.add_entry("f0", {"f0multi": [pyjama.breakpoint_atom([0.0, 0.01, 0.02], [[69, 0, 57], [0, 0, 81]])],
                         "pitchmidi": pyjama.segment_atoms([0.0, 0.015], [0.02, 0.02], [69, 81])})
    times, freqs = multipitch_reference(doc, "f0", "f0multi", np.zeros(0))
    assert times.tolist() == [0.0, 0.01, 0.02]
    assert [f.tolist() for f in freqs] == [[440.0], [], pytest.approx([220.0, 880.0])]
    frame_times = np.array([0.0, 0.01, 0.02, 0.03])
    times, freqs = multipitch_reference(doc, "f0", "pitchmidi", frame_times)
    assert times.tolist() == frame_times.tolist()  # notes are sampled on the feature's frames
    assert [sorted(f.tolist()) for f in freqs] == [[440.0], [440.0], [880.0], [880.0]]  # onset <= t < offset


def test_multipitch_reference_in_hz():
    """A field in Hz (JAMS pitch_contour / note_hz) is read as Hz, not as MIDI numbers."""
    doc = pyjama.PyjamaDoc()
    doc.define("pitch_contour", "breakpoint", "numeric")
    doc.define("note_hz", "segment", "numeric")
    doc.add_entry("x", {"pitch_contour": [pyjama.breakpoint_atom([0.0, 0.01], [[65.406, 0.0]])],
                        "note_hz": pyjama.segment_atoms([0.0], [0.02], [220.0])})
    times, freqs = multipitch_reference(doc, "x", "pitch_contour", np.zeros(0), pitch_unit="hz")
    assert [f.tolist() for f in freqs] == [[pytest.approx(65.406)], []]
    times, freqs = multipitch_reference(doc, "x", "note_hz", np.array([0.0, 0.01, 0.03]), pitch_unit="hz")
    assert [f.tolist() for f in freqs] == [[pytest.approx(220.0)], [pytest.approx(220.0)], []]


def test_multipitch_scores_by_hand():
    doc = pyjama.PyjamaDoc()
    doc.define("pitchmidi", "segment", "numeric")
    doc.add_entry("f0", {"pitchmidi": pyjama.segment_atoms([0.0, 0.0], [1.0, 1.0], [60, 67])})
    target = build_target(TargetSpec("pitch", "pitchmidi"), doc)
    midi_grid = 36 + np.arange(144) / 3.0  # 3 bins per semitone from C2
    frequency_hz = 440.0 * 2 ** ((midi_grid - 69) / 12)
    time_sec = np.arange(20) * 0.05
    salience = np.zeros((144, 20), dtype=np.float32)
    salience[np.argmin(abs(midi_grid - 60)), :] = 0.9  # only the lower note is found
    result = score_predictions("multipitch", {"f0": _pred(salience, time_sec, frequency_hz)}, target, doc=doc,
                               threshold=0.5, annot_key="pitchmidi")
    scores = result["metrics"]
    assert scores["Precision"] == pytest.approx(1.0)
    assert scores["Recall"] == pytest.approx(0.5)
    assert scores["Accuracy"] == pytest.approx(0.5)
    assert set(result["per_file"]) == {"f0"}
    # the tutorial's per-patch average is kept apart, under its own label
    reference = np.stack([target.for_patch("f0", 0, 10, time_sec, frequency_hz)])
    patched = score_predictions("multipitch", {"f0": _pred(salience, time_sec, frequency_hz)}, target, doc=doc,
                                annot_key="pitchmidi", tutorial_patches={"f0": (salience[None, :, :10], reference)})
    assert patched["metrics_patch_average_tutorial"]["Recall"] == pytest.approx(0.5)
    assert patched["metrics_patch_average_tutorial"]["num_patches"] == 1

    # the same notes in Hz (a note_hz field): the same scores, with or without annot_key
    doc_hz = pyjama.PyjamaDoc()
    doc_hz.define("note_hz", "segment", "numeric")
    doc_hz.add_entry("f0", {"note_hz": pyjama.segment_atoms([0.0, 0.0], [1.0, 1.0], [261.626, 391.995])})
    target_hz = build_target(TargetSpec("pitch", "note_hz"), doc_hz)
    for annot_key in (None, "note_hz"):
        hz = score_predictions("multipitch", {"f0": _pred(salience, time_sec, frequency_hz)}, target_hz, doc=doc_hz,
                               threshold=0.5, annot_key=annot_key)["metrics"]
        assert (hz["Precision"], hz["Recall"]) == (pytest.approx(1.0), pytest.approx(0.5))


def test_metric_scores_by_hand():
    doc = _doc_with("work-id", [["w1"], ["w1"], ["w2"], ["w2"], ["w3"]])
    target = build_target(TargetSpec("clique", "work-id"), doc)
    embeddings = [[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [2.4, 2.4], [2.6, 2.6]]
    # f2 ranks f4, f3, ...: its cover at rank 2; f3 ranks f4 (0.08), f1 (11.05), f0 (11.52), f2 (13.52): rank 4
    result = score_predictions("metric", {f"f{i}": _pred(e) for i, e in enumerate(embeddings)}, target)["metrics"]
    assert result["MR1"] == pytest.approx((1 + 1 + 2 + 4) / 4)  # f4 has no other performance: skipped
    assert result["MRR"] == pytest.approx((1 + 1 + 1 / 2 + 1 / 4) / 4)
    assert result["P@1"] == pytest.approx(0.5)


def test_metric_scores_match_a_brute_force_reference():
    """mAP, MRR, MR1 and P@k of the scorer against a per-query loop with scikit-learn's average
    precision (works of 1 to 4 performances, so AP differs from the reciprocal rank)."""
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(3)
    works = [f"w{i}" for i in range(9) for _ in range(1 + i % 4)]
    doc = _doc_with("work-id", [[w] for w in works])
    target = build_target(TargetSpec("clique", "work-id"), doc)
    embeddings = rng.normal(size=(len(works), 4))
    result = score_predictions("metric", {f"f{i}": _pred(e) for i, e in enumerate(embeddings)}, target)["metrics"]
    labels = np.array(works)
    aps, ranks, p5 = [], [], []
    for query in range(len(works)):
        others = np.arange(len(works)) != query
        relevant = (labels == labels[query])[others]
        if not relevant.any():
            continue
        distance = ((embeddings[others] - embeddings[query]) ** 2).sum(axis=1)
        order = np.argsort(distance, kind="stable")
        aps.append(average_precision_score(relevant, -distance))
        ranks.append(int(np.flatnonzero(relevant[order])[0]) + 1)
        p5.append(relevant[order][:5].sum() / 5)
    assert result["mAP"] == pytest.approx(np.mean(aps))
    assert result["MR1"] == pytest.approx(np.mean(ranks))
    assert result["MRR"] == pytest.approx(np.mean(1.0 / np.array(ranks)))
    assert result["P@5"] == pytest.approx(np.mean(p5))
    assert result["mAP"] != pytest.approx(result["MRR"])  # several covers per work: a real AP


def test_metrics_of_an_unknown_problem_are_one_line_naming_the_file(tmp_path):
    """format_metrics used to print a generic table for a problem no task registers."""
    from mirmodels.evaluate import EvalResult, format_metrics
    from mirmodels.tasks import TASKS

    data = {"run": str(tmp_path), "split": "valid", "problem": "regression", "num_files": 2, "metrics": {"mse": 0.5}}
    expected = f"unknown problem 'regression'; known: {', '.join(TASKS.names())}"
    with pytest.raises(MirError) as error:
        format_metrics(data)
    assert str(error.value) == f"{tmp_path / 'metrics.json'}: {expected}"
    written = tmp_path / "elsewhere.json"
    with pytest.raises(MirError) as error:
        format_metrics(EvalResult(written, data))
    assert str(error.value) == f"{written}: {expected}"
    table = format_metrics(EvalResult(written, dict(data, problem="Multiclass", metrics={"accuracy": 0.5})))
    assert table.splitlines()[0] == "Multiclass on valid (2 files)" and "accuracy  0.5000" in table
    assert table.endswith(f"written: {written}")


# ----------------------------------------------------------------------------- runs


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A multiclass and a multipitch run trained for 2 epochs on the synthetic pair."""
    from mirmodels.experiment import fit

    base = tmp_path_factory.mktemp("eval")
    data = make_pair(base / "data")
    out = {}
    for problem in ("multiclass", "multipitch"):
        config = write_config(base / f"{problem}.yaml", problem, data, max_epochs=2)
        out[problem] = fit(config, out=base / f"run_{problem}").run_dir
    out["data"] = data
    return out


@pytest.mark.slow
def test_evaluate_writes_metrics_json_and_a_table(runs):
    from mirmodels.cli import main

    result = CliRunner().invoke(main, ["evaluate", str(runs["multiclass"]), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.output and "macro_recall" in result.output
    data = json.loads((runs["multiclass"] / "metrics.json").read_text())
    assert data["split"] == "valid" and data["num_files"] == 2 and data["problem"] == "multiclass"
    assert len(data["metrics"]["confusion_matrix"]) == 4


@pytest.mark.slow
def test_evaluate_scores_injected_predictions(runs, monkeypatch):
    import mirmodels.evaluate as evaluate_module
    import mirmodels.inference as inference_module  # the default score_split's predict_files

    doc = pyjama.load(runs["data"] / "tiny.pyjama")
    keys = [doc.keys()[0], doc.keys()[5]]
    styles = sorted({v for labels in doc.labels("style") for v in labels})
    truth = [styles.index(doc.values(k, "style")[0]) for k in keys]

    def fixed(network, problem, inputs, *args, **kwargs):
        outputs = {}
        for item, wrong in zip(inputs, (False, True)):
            probabilities = np.full(len(styles), 0.1, dtype=np.float32)
            index = truth[len(outputs)]
            probabilities[(index + 1) % len(styles) if wrong else index] = 0.7
            outputs[item.key] = {"output": probabilities, "time_sec": item.time_sec, "frequency_hz": item.frequency_hz}
        return outputs

    monkeypatch.setattr(inference_module, "predict_files", fixed)
    result = evaluate_module.evaluate(runs["multiclass"])
    assert result.data["metrics"]["accuracy"] == pytest.approx(0.5)
    assert json.loads(result.path.read_text())["metrics"]["accuracy"] == pytest.approx(0.5)


@pytest.mark.slow
def test_evaluate_multipitch_whole_files_and_patch_average(runs):
    from mirmodels.evaluate import evaluate

    data = evaluate(runs["multipitch"]).data
    for section in ("metrics", "metrics_patch_average_tutorial"):
        assert 0.0 <= data[section]["Precision"] <= 1.0 and 0.0 <= data[section]["Recall"] <= 1.0
    assert data["metrics_patch_average_tutorial"]["num_patches"] == 2 * 10  # floor((188 - 32) / 16) + 1 per file
    assert set(data["per_file"]) == {"synth_000.wav", "synth_005.wav"}


@pytest.mark.slow
def test_checkpoint_of_another_model_is_refused(runs, tmp_path):
    from mirmodels.cli import main

    run = tmp_path / "run"
    shutil.copytree(runs["multiclass"], run)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["model"]["block_l"][0]["sequential_l"][0]["layer_l"][1][1]["out_channels"] = 16
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(main, ["evaluate", str(run)])
    assert result.exit_code == 1
    assert "does not fit the model" in result.output and "'block_l.0.0.1.weight'" in result.output
    assert "(8, 1, 3, 3) in the checkpoint, (16, 1, 3, 3) in the model" in result.output


@pytest.mark.parametrize("content", [b"", b"junk", b"PK\x03\x04 not a zip"])
def test_a_corrupt_checkpoint_is_one_clear_line(tmp_path, content):
    import torch

    from mirmodels.experiment import load_state_dict

    path = tmp_path / "best.pt"
    path.write_bytes(content)
    with pytest.raises(MirError, match=r"best.pt: not a readable PyTorch checkpoint, corrupt or truncated \(\w+"):
        load_state_dict(torch.nn.Linear(2, 1), path)


@pytest.mark.slow
def test_features_that_do_not_match_the_run_are_refused(runs, tmp_path):
    from mirmodels.evaluate import evaluate

    run = tmp_path / "run"
    shutil.copytree(runs["multiclass"], run)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["feature"]["params"]["n_mels"] = 24
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(MirError, match=r"shape \(1, 24, 16\), the run was trained on \(1, 32, 16\)"):
        evaluate(run)


@pytest.mark.slow
def test_missing_split_and_not_a_run(runs, tmp_path):
    from mirmodels.evaluate import evaluate

    with pytest.raises(MirError, match="'test' split is empty"):
        evaluate(runs["multiclass"], split="test")
    with pytest.raises(MirError, match="no such run directory"):
        evaluate(tmp_path / "nothing")


@pytest.mark.slow
def test_a_dataset_whose_classes_are_numbered_otherwise_is_refused(runs, tmp_path):
    """Output k means the run's class k: evaluating on a pair whose labels sort otherwise (another
    --data-root) would score shifted classes silently."""
    from mirmodels.evaluate import evaluate

    data = tmp_path / "data"
    shutil.copytree(runs["data"], data)
    doc = pyjama.load(data / "tiny.pyjama")
    renamed = sorted({v for labels in doc.labels("style") for v in labels})[-1]
    style = doc.definitions["style"]
    doc.define("style", style.type_extent, style.type_content, "free")
    for entry in doc.entries:
        entry["style"] = [dict(atom, value="aaa" if atom["value"] == renamed else atom["value"])
                          for atom in entry["style"]]
    pyjama.save(doc, data / "tiny.pyjama")
    with pytest.raises(MirError, match=r"'style' classes of .*tiny.pyjama are not the run's: class 0 is 'aaa' here"):
        evaluate(runs["multiclass"], data_root=data)


@pytest.mark.slow
@pytest.mark.parametrize("content, expected", [('{"problem": "multiclass"}', "missing key 'input_shape'"),
                                               ("[1, 2]", "expected a JSON object, got list")])
def test_an_edited_run_json_is_one_line(runs, tmp_path, content, expected):
    from mirmodels.cli import main

    run = tmp_path / "run"
    shutil.copytree(runs["multiclass"], run)
    (run / "run.json").write_text(content)
    for args in (["evaluate", str(run)], ["predict", str(run), str(_wav(runs, tmp_path))]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1 and result.output.startswith(f"error: {run / 'run.json'}: {expected}"), \
            result.output


# ----------------------------------------------------------------------------- predict


def _wav(runs, tmp_path) -> Path:
    from pyjama_tools.audio_store import AudioStore

    with AudioStore(runs["data"] / "tiny_audio.hdf5") as store:
        audio = store.read("synth_003.wav")
    path = tmp_path / "song.wav"
    soundfile.write(path, audio, 16000)
    return path


@pytest.mark.slow
def test_predict_multiclass_writes_json_csv_png(runs, tmp_path):
    from mirmodels.cli import main

    wav = _wav(runs, tmp_path)
    result = CliRunner().invoke(main, ["predict", str(runs["multiclass"]), str(wav), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    stem = tmp_path / "out" / "song"
    data = json.loads(Path(f"{stem}_predictions.json").read_text())
    assert data["predicted"] in data["labels"] and len(data["labels"]) == 4
    assert sum(data["file_probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    rows = Path(f"{stem}_predictions.csv").read_text().splitlines()
    assert rows[0].split(",")[:2] == ["start_sec", "end_sec"] and len(rows) - 1 == len(data["patches"])
    # the last patch ends with the audio (it ran one hop past it, like notes and segments did)
    assert data["patches"][-1]["end_sec"] == pytest.approx(data["duration_sec"])
    assert all(p["end_sec"] <= data["duration_sec"] for p in data["patches"])
    assert Path(f"{stem}_predictions.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_predict_multipitch_writes_notes(runs, tmp_path):
    from mirmodels.predict import predict

    wav = _wav(runs, tmp_path)
    result = predict(runs["multipitch"], wav, out_dir=tmp_path / "out", threshold=0.3)
    names = sorted(p.name for p in result.files)
    assert names == ["song_notes.pyjama", "song_predictions.csv", "song_predictions.json", "song_predictions.png"]
    doc = pyjama.load(tmp_path / "out" / "song_notes.pyjama")
    onsets, durations, pitches = doc.segments("song.wav", "pitchmidi")
    assert len(pitches) == len(result.data["notes"])
    assert np.all(durations > 0)
    assert np.all(onsets + durations <= result.data["duration_sec"] + 1e-9)  # no note past the end of the file


@pytest.mark.slow
def test_predict_bad_audio_is_one_line(runs, tmp_path):
    from mirmodels.cli import main

    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    result = CliRunner().invoke(main, ["predict", str(runs["multiclass"]), str(bad)])
    assert result.exit_code == 1 and result.output.startswith(f"error: {bad}: cannot decode")


def test_salience_to_notes_by_hand():
    frequency_hz = 440.0 * 2 ** ((np.array([57.0, 57.2, 69.0]) - 69) / 12)  # bins 0 and 1 round to MIDI 57
    time_sec = np.arange(6) * 0.1
    salience = np.zeros((3, 6))
    salience[0, 0:2] = 0.9
    salience[1, 2] = 0.8  # same MIDI pitch, next frame: one note
    salience[2, 4:6] = 0.7
    notes = salience_to_notes(salience, frequency_hz, time_sec, threshold=0.5)
    assert [(round(t, 6), round(d, 6), m) for t, d, m in notes] == [(0.0, 0.3, 57), (0.4, 0.2, 69)]
    # the last frame's note stops at the end of the audio, not one hop later
    notes = salience_to_notes(salience, frequency_hz, time_sec, threshold=0.5, end_sec=0.55)
    assert [(round(t, 6), round(d, 6), m) for t, d, m in notes] == [(0.0, 0.3, 57), (0.4, 0.15, 69)]
