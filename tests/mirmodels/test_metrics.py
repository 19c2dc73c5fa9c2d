"""mirmodels.metrics: hand-computed values on tiny cases and brute-force loops on random data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pyjama_tools.core.errors import MirError
from mirmodels import metrics as m

# --------------------------------------------------------------------------- multiclass


def test_multiclass_by_hand():
    y_true = [0, 0, 1, 1, 2, 2]
    y_pred = [0, 1, 1, 1, 2, 0]
    s = m.multiclass_scores(y_true, y_pred, class_names=["blues", "jazz", "rock"])
    assert s["accuracy"] == pytest.approx(4 / 6)
    # recall 1/2, 2/2, 1/2 ; precision 1/2, 2/3, 1/1 ; f1 1/2, 4/5, 2/3
    assert s["macro_recall"] == pytest.approx((0.5 + 1 + 0.5) / 3)
    assert s["macro_precision"] == pytest.approx((0.5 + 2 / 3 + 1) / 3)
    assert s["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert s["per_class_recall"] == {"blues": 0.5, "jazz": 1.0, "rock": 0.5}
    assert s["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    json.dumps(s)


def test_multiclass_scores_argmax_and_absent_classes():
    scores = np.array([[0.9, 0.1, 0.0, 0.0], [0.2, 0.7, 0.1, 0.0], [0.1, 0.3, 0.6, 0.0]])
    s = m.multiclass_scores([0, 2, 2], scores, num_classes=4)
    # predictions 0, 1, 2: class 3 never occurs, class 1 only predicted -> recall over the true
    # classes {0, 2}; precision and F1 over the classes true or predicted {0, 1, 2} (scikit-learn's
    # macro): the wrong prediction of class 1 must lower the precision
    assert s["accuracy"] == pytest.approx(2 / 3)
    assert s["macro_recall"] == pytest.approx((1 + 0.5) / 2)
    assert s["macro_precision"] == pytest.approx((1 + 0 + 1) / 3)
    assert s["macro_f1"] == pytest.approx((1 + 0 + 2 / 3) / 3)
    assert s["per_class_recall"] == {"0": 1.0, "2": 0.5}
    assert len(s["confusion_matrix"]) == 4


def test_multiclass_against_brute_force():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 5, 300)
    y_pred = np.where(rng.random(300) < 0.6, y_true, rng.integers(0, 5, 300))
    s = m.multiclass_scores(y_true, y_pred)
    recalls, precisions = [], []
    for c in range(5):
        tp = sum(1 for t, p in zip(y_true, y_pred) if t == c and p == c)
        recalls.append(tp / sum(1 for t in y_true if t == c))
        precisions.append(tp / max(1, sum(1 for p in y_pred if p == c)))
    assert s["macro_recall"] == pytest.approx(np.mean(recalls))
    assert s["macro_precision"] == pytest.approx(np.mean(precisions))
    assert s["accuracy"] == pytest.approx(np.mean(y_true == y_pred))


def test_multiclass_bad_inputs():
    with pytest.raises(MirError, match="y_true has 2 items but y_pred has 3"):
        m.multiclass_scores([0, 1], [0, 1, 1])
    with pytest.raises(MirError, match=r"class indices must lie in \[0, 2\)"):
        m.multiclass_scores([0, 1], [0, 3], num_classes=2)
    with pytest.raises(MirError, match="no items"):
        m.multiclass_scores([], [])


# --------------------------------------------------------------------------- multilabel


def test_multilabel_by_hand():
    y_true = np.array([[1, 0, 0], [0, 0, 1], [1, 0, 0], [0, 0, 0]])
    y_score = np.array([[0.9, 0.5, 0.2], [0.1, 0.5, 0.3], [0.4, 0.5, 0.1], [0.6, 0.5, 0.5]])
    s = m.multilabel_scores(y_true, y_score, tag_names=["rock", "flute", "vocal"])
    # rock: AUC 3/4 pairs, AP (1/1 + 2/3)/2 ; vocal: AUC 2/3, AP 1/2 ; flute: one class only
    assert s["per_tag"]["rock"] == {"roc_auc": pytest.approx(0.75), "average_precision": pytest.approx(5 / 6)}
    assert s["per_tag"]["vocal"] == {"roc_auc": pytest.approx(2 / 3), "average_precision": pytest.approx(0.5)}
    assert s["skipped_tags"] == ["flute"]
    assert s["num_tags_scored"] == 2
    assert s["roc_auc_macro"] == pytest.approx((0.75 + 2 / 3) / 2)
    assert s["average_precision_macro"] == pytest.approx((5 / 6 + 0.5) / 2)
    json.dumps(s)


def test_multilabel_auc_against_brute_force():
    rng = np.random.default_rng(1)
    y_true = (rng.random((40, 4)) < 0.3).astype(int)
    y_score = rng.random((40, 4)) + 0.3 * y_true
    s = m.multilabel_scores(y_true, y_score)
    aucs = []
    for k in range(4):
        pos = y_score[y_true[:, k] == 1, k]
        neg = y_score[y_true[:, k] == 0, k]
        aucs.append(np.mean([1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg]))
    assert s["roc_auc_macro"] == pytest.approx(np.mean(aucs))


def test_multilabel_bad_inputs():
    with pytest.raises(MirError, match="expected the same shape"):
        m.multilabel_scores(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(MirError, match="0/1"):
        m.multilabel_scores(np.full((2, 2), 2), np.zeros((2, 2)))
    with pytest.raises(MirError, match="tag_names has 1 names for 2 tags"):
        m.multilabel_scores(np.eye(2), np.eye(2), tag_names=["a"])


# --------------------------------------------------------------------------- frame labels / chords


def test_framelabel_by_hand_and_per_file_lists():
    s = m.framelabel_scores([0, 1, -100, 1, 2], [0, 1, 2, 0, 2])
    # frames kept: true 0,1,1,2 vs pred 0,1,0,2
    assert s["num_frames"] == 4
    assert s["frame_accuracy"] == pytest.approx(0.75)
    assert s["macro_recall"] == pytest.approx((1 + 0.5 + 1) / 3)
    per_file = m.framelabel_scores([np.array([0, 1]), np.array([-100, 1, 2])], [np.array([0, 1]), np.array([2, 0, 2])])
    assert per_file["frame_accuracy"] == s["frame_accuracy"]
    assert per_file["macro_recall"] == s["macro_recall"]
    scores = np.eye(3)[[0, 1, 2, 0, 2]].T  # (K, T) class scores
    assert m.framelabel_scores([0, 1, -100, 1, 2], scores)["frame_accuracy"] == pytest.approx(0.75)
    with pytest.raises(MirError, match="every frame is ignored"):
        m.framelabel_scores([-100, -100], [0, 1])


def test_chord_vocabulary_matches_the_targets_mapping():
    assert m.CHORD_CLASSES_25[0] == "C:maj" and m.CHORD_CLASSES_25[13] == "C#:min" and m.CHORD_CLASSES_25[24] == "N"
    assert m.class_index_to_chord([0, 12, 24, 11]) == ["C:maj", "C:min", "N", "B:maj"]
    chords = pytest.importorskip("mirfeat.chords")
    assert tuple(chords.MAJMIN_CLASSES) == m.CHORD_CLASSES_25


def test_frames_to_segments_by_hand():
    intervals, labels = m.frames_to_segments(["A", "A", "B", "B", "B", "A"], np.arange(6) * 0.1)
    assert labels == ["A", "B", "A"]
    np.testing.assert_allclose(intervals, [[0.0, 0.15], [0.15, 0.45], [0.45, 0.55]])
    # irregular float times: consecutive segments share their boundary exactly
    times = np.cumsum(np.full(50, 0.023219954648526078))
    intervals, labels = m.frames_to_segments(["A", "B"] * 25, times)
    assert np.array_equal(intervals[1:, 0], intervals[:-1, 1]) and np.all(intervals[:, 1] > intervals[:, 0])
    with pytest.raises(MirError, match="labels has 2 frames but time_sec has 3"):
        m.frames_to_segments(["A", "B"], [0, 1, 2])


def test_chord_scores_from_frames_by_hand():
    # frames every 0.5 s -> C:maj [0, .75), C:min [.75, 1.75), N [1.75, 2.25) ; reference C:maj [0,1), C:min [1,2.5)
    s = m.chord_scores_from_frames([0, 0, 12, 12, 24], np.arange(5) * 0.5, [[0, 1], [1, 2.5]], ["C:maj", "C:min"])
    # wrong: [.75, 1) (C:min for C:maj, root right) and [1.75, 2.5) (N for C:min)
    assert s["majmin"] == pytest.approx(1.5 / 2.5)
    assert s["root"] == pytest.approx(1.75 / 2.5)
    # class scores (K, T) are arg-maxed; a custom vocabulary is honoured
    scores = np.eye(25)[[0, 0, 12, 12, 24]].T
    assert m.chord_scores_from_frames(scores, np.arange(5) * 0.5, [[0, 1], [1, 2.5]], ["C:maj", "C:min"]) == s
    vocab = ["N", "G:maj"]
    assert m.chord_scores_from_frames([1, 1], [0.0, 1.0], [[0, 1.5]], ["G:maj"], vocabulary=vocab)["majmin"] == 1.0


def test_chord_scores_bad_labels():
    with pytest.raises(MirError, match="chord scores"):
        m.chord_scores([[0, 1]], ["H:maj"], [[0, 1]], ["C:maj"])
    with pytest.raises(MirError, match="ref_intervals has 1 segments but ref_labels has 2"):
        m.chord_scores([[0, 1]], ["C:maj", "N"], [[0, 1]], ["C:maj"])


# --------------------------------------------------------------------------- multipitch


def test_salience_to_multipitch_by_hand():
    salience = np.array([[0.9, 0.1, 0.6], [0.2, 0.3, 0.7], [0.8, 0.0, 0.1]])
    times, freqs = m.salience_to_multipitch(salience, [100.0, 200.0, 400.0], [0.0, 0.01, 0.02])
    assert [f.tolist() for f in freqs] == [[100.0, 400.0], [], [100.0, 200.0]]
    with pytest.raises(MirError, match="expected"):
        m.salience_to_multipitch(salience, [100.0, 200.0], [0.0, 0.01, 0.02])


def test_midi_and_notes_to_multipitch():
    times, freqs = m.midi_to_multipitch([0.0, 0.01], [[69, 0], [57, 81]])
    assert [f.tolist() for f in freqs] == [[440.0, 220.0], [880.0]]
    times, freqs = m.notes_to_multipitch([0.0, 0.05, 0.0], [0.1, 0.1, 0.05], [69, 57, 69], [0.0, 0.04, 0.06, 0.12])
    assert [sorted(f.tolist()) for f in freqs] == [[440.0], [440.0], [220.0, 440.0], [220.0]]


def test_multipitch_and_chord_index_bad_inputs_are_one_line_errors():
    with pytest.raises(MirError, match="multi-pitch scores: Events should be in increasing order"):
        m.multipitch_scores([0.0, 0.02, 0.01], [[440.0], [], []], [0.0, 0.01, 0.02], [[440.0], [], []])
    with pytest.raises(MirError, match="class index -1 outside the vocabulary of 25 labels"):
        m.class_index_to_chord([3, -1])


def test_multipitch_scores_by_hand():
    t = np.array([0.0, 0.01])
    s = m.multipitch_scores(t, [np.array([440.0]), np.array([440.0, 220.0])], t, [np.array([440.0]), np.array([220.0])])
    # TP 2, FP 0, FN 1
    assert s["Precision"] == pytest.approx(1.0)
    assert s["Recall"] == pytest.approx(2 / 3)
    assert s["Accuracy"] == pytest.approx(2 / 3)
    json.dumps(s)
    with pytest.raises(MirError, match="ref_freqs has 1 frames but ref_time has 2"):
        m.multipitch_scores(t, [np.array([440.0])], t, [np.array([440.0]), np.array([220.0])])


def test_patchwise_average_is_the_mean_of_patch_scores():
    rng = np.random.default_rng(2)
    freq = 55.0 * 2 ** (np.arange(12) / 12)
    ref = (rng.random((3, 12, 8)) < 0.2).astype(np.float32)
    est = np.clip(ref + rng.normal(0, 0.4, ref.shape), 0, 1)
    s = m.patchwise_multipitch_scores(est, ref, freq)
    t = np.arange(8) * 0.01
    manual = [m.salience_scores(e, r, freq, t)["Accuracy"] for e, r in zip(est, ref)]
    assert s["Accuracy"] == pytest.approx(np.mean(manual))
    assert s["num_patches"] == 3
    # (N, 1, F, L) estimates are accepted
    assert m.patchwise_multipitch_scores(est[:, None], ref, freq)["Accuracy"] == pytest.approx(s["Accuracy"])


# --------------------------------------------------------------------------- retrieval


def test_retrieval_by_hand_easy():
    s = m.retrieval_scores(np.array([[0.0], [1.0], [3.0], [10.0]]), [0, 0, 1, 1])
    # first correct answers at ranks 1, 1, 3, 1 (one relevant each)
    assert s["MR1"] == pytest.approx(1.5)
    assert s["MRR"] == pytest.approx((1 + 1 + 1 / 3 + 1) / 4)
    assert s["P@1"] == pytest.approx(0.75)
    assert s["mAP"] == pytest.approx((1 + 1 + 1 / 3 + 1) / 4)
    assert s["num_queries"] == 4 and s["num_skipped"] == 0


def test_retrieval_by_hand_two_relevant():
    x = np.array([[0.0], [1.0], [2.5], [4.2], [7.0]])
    s = m.retrieval_scores(x, [0, 1, 0, 1, 0], ks=(1, 2, 5))
    # relevance of the rankings: q0 0101, q1 0010, q2 0011, q3 0010, q4 0101
    assert s["MR1"] == pytest.approx((2 + 3 + 3 + 3 + 2) / 5)
    assert s["MRR"] == pytest.approx((1 / 2 + 1 / 3 + 1 / 3 + 1 / 3 + 1 / 2) / 5)
    assert s["P@1"] == 0.0
    assert s["P@2"] == pytest.approx((1 / 2 + 0 + 0 + 0 + 1 / 2) / 5)
    assert s["P@5"] == pytest.approx((2 + 1 + 2 + 1 + 2) / 5 / 5)
    ap = [(1 / 2 + 2 / 4) / 2, 1 / 3, (1 / 3 + 2 / 4) / 2, 1 / 3, (1 / 2 + 2 / 4) / 2]
    assert s["mAP"] == pytest.approx(np.mean(ap))


def _brute_retrieval(x: np.ndarray, labels: np.ndarray, ks, cosine=False) -> dict:
    out = {"MR1": [], "MRR": [], "mAP": [], **{k: [] for k in ks}}
    for q in range(len(x)):
        others = [i for i in range(len(x)) if i != q]
        if cosine:
            dist = {i: 1 - x[q] @ x[i] / np.linalg.norm(x[q]) / np.linalg.norm(x[i]) for i in others}
        else:
            dist = {i: float(np.sum((x[q] - x[i]) ** 2)) for i in others}
        ranking = sorted(others, key=lambda i: dist[i])
        rel = [labels[i] == labels[q] for i in ranking]
        if not any(rel):
            continue
        first = rel.index(True) + 1
        out["MR1"].append(first)
        out["MRR"].append(1 / first)
        hits, precisions = 0, []
        for rank, r in enumerate(rel, start=1):
            if r:
                hits += 1
                precisions.append(hits / rank)
        out["mAP"].append(np.mean(precisions))
        for k in ks:
            out[k].append(sum(rel[:k]) / k)
    return {name: float(np.mean(v)) for name, v in out.items()} | {"n": len(out["MR1"])}


@pytest.mark.parametrize("method", ["sort", "count"])
@pytest.mark.parametrize("distance", ["sqeuclidean", "cosine"])
def test_retrieval_against_brute_force(distance, method):
    rng = np.random.default_rng(3)
    labels = np.concatenate([np.repeat(np.arange(8), 4), [8, 9]])  # two singletons (skipped queries)
    x = rng.normal(size=(len(labels), 5)) + 0.8 * rng.normal(size=(10, 5))[labels]
    s = m.retrieval_scores(x, labels, distance=distance, ks=(1, 5, 10), chunk_size=7, method=method)
    b = _brute_retrieval(x, labels, (1, 5, 10), cosine=distance == "cosine")
    assert s["num_queries"] == b["n"] == 32 and s["num_skipped"] == 2
    for name in ("MR1", "MRR", "mAP"):
        assert s[name] == pytest.approx(b[name])
    for k in (1, 5, 10):
        assert s[f"P@{k}"] == pytest.approx(b[k])


@pytest.mark.parametrize("method", ["sort", "count"])
def test_retrieval_ties_rank_by_index(method):
    # all distances 0: q0 ranks item 1 (other work) then item 2 -> first correct at 2;
    # q1 has no other performance of its work (skipped); q2 ranks item 0 first -> 1
    s = m.retrieval_scores(np.zeros((3, 2)), [0, 1, 0], method=method)
    assert s["MR1"] == pytest.approx(1.5) and s["num_queries"] == 2 and s["num_skipped"] == 1
    assert s["mAP"] == pytest.approx((1 / 2 + 1) / 2)


def test_retrieval_methods_agree_on_larger_random_data():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 60, 400)
    x = rng.normal(size=(400, 6)) + rng.normal(size=(60, 6))[labels]
    assert m.retrieval_scores(x, labels, method="sort") == m.retrieval_scores(x, labels, method="count")


def test_retrieval_bad_inputs():
    with pytest.raises(MirError, match="embeddings has 3 items but labels has 2"):
        m.retrieval_scores(np.zeros((3, 2)), [0, 1])
    with pytest.raises(MirError, match="no work has two performances"):
        m.retrieval_scores(np.eye(3), [0, 1, 2])
    with pytest.raises(MirError, match="distance='manhattan' is unknown"):
        m.retrieval_scores(np.eye(3), [0, 0, 1], distance="manhattan")
    with pytest.raises(MirError, match="NaN"):
        m.retrieval_scores(np.full((3, 2), np.nan), [0, 0, 1])
    with pytest.raises(MirError, match="method='fast' is unknown"):
        m.retrieval_scores(np.eye(3), [0, 0, 1], method="fast")
    with pytest.raises(MirError) as caught:
        m.retrieval_scores(np.eye(3), [0, 0, 1], distance="cosin")
    assert str(caught.value) == "distance='cosin' is unknown (did you mean 'cosine'?); known: sqeuclidean, euclidean, cosine"
    with pytest.raises(MirError) as caught:
        m.retrieval_scores(np.eye(3), [0, 0, 1], method="srt")
    assert str(caught.value) == "method='srt' is unknown (did you mean 'sort'?); known: auto, sort, count"
