"""Targets: every kind against a brute-force per-frame reference on random data, real corpus samples, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.io

from conftest import fixture_path
from mirfeat.chords import MAJMIN_CLASSES, majmin_index, reduce_to_majmin
from mirfeat.targets import IGNORE_INDEX, TargetSpec, build_target, nearest_breakpoint, target_kinds
from pyjama_tools.core.errors import MirError, ParameterError
from pyjama_tools.pyjama import PyjamaDoc, breakpoint_atom, global_atoms, segment_atoms

HOP = 512 / 22050


def frame_times(num_frames: int, hop: float = HOP) -> np.ndarray:
    return np.arange(num_frames) * hop


def cqt_bins(num_bins: int = 360, per_semitone: int = 5, fmin: float = 32.70) -> np.ndarray:
    return fmin * 2.0 ** (np.arange(num_bins) / (12.0 * per_semitone))


# ----------------------------------------------------------------------------- brute-force references


def ref_frame_labels(time_sec, onsets, durations, classes, no_label):
    """Per frame: among segments covering the frame centre, the one starting last (later entry on ties)."""
    out = []
    for t in time_sec:
        best, best_onset = no_label, -math.inf
        for onset, duration, cls in sorted(zip(onsets, durations, classes), key=lambda s: s[0]):
            if onset <= t < onset + duration and onset >= best_onset:
                best, best_onset = cls, onset
        out.append(best)
    return np.array(out, dtype=np.int64)


def ref_bin(pitch_midi, frequency_hz, tolerance=0.5):
    """Nearest bin in semitones by scanning every bin (lowest on ties), -1 when too far or silent."""
    if not np.isfinite(pitch_midi) or pitch_midi <= 0:
        return -1
    hz = 440.0 * 2 ** ((pitch_midi - 69) / 12)
    best, best_d = -1, math.inf
    for b, f in enumerate(frequency_hz):
        d = abs(12 * math.log2(hz / f))
        if d < best_d - 1e-12:
            best, best_d = b, d
    return best if best_d <= tolerance + 1e-9 else -1


def ref_salience_notes(time_sec, frequency_hz, onsets, durations, pitches, tolerance=0.5):
    y = np.zeros((len(frequency_hz), len(time_sec)), dtype=np.float32)
    for onset, duration, pitch in zip(onsets, durations, pitches):
        b = ref_bin(pitch, frequency_hz, tolerance)
        if b < 0:
            continue
        for t, centre in enumerate(time_sec):
            if onset <= centre < onset + duration:
                y[b, t] = 1
    return y


def ref_salience_breakpoints(time_sec, frequency_hz, bp_time, bp_value, tolerance=0.5):
    steps = [np.median(np.diff(x)) for x in (bp_time, time_sec) if len(x) > 1]
    half_hop = 0.5 * max(steps)
    y = np.zeros((len(frequency_hz), len(time_sec)), dtype=np.float32)
    for t, centre in enumerate(time_sec):
        distances = [abs(centre - b) for b in bp_time]
        j = int(np.argmin(distances))  # first on ties = earlier breakpoint
        if distances[j] > half_hop + 1e-9:
            continue
        for voice in range(bp_value.shape[0]):
            b = ref_bin(bp_value[voice, j], frequency_hz, tolerance)
            if b >= 0:
                y[b, t] = 1
    return y


# ----------------------------------------------------------------------------- documents


def random_doc(rng, num_entries=12):
    doc = PyjamaDoc()
    genres = ["blues", "jazz", "rock", "pop"]
    tags = [f"t{i}" for i in range(9)]
    doc.define("genre", "global", "text", "value_in_dictionary", dictionary=genres)
    doc.define("tag", "global")
    doc.define("section", "segment")
    doc.define("notes", "segment", "numeric")
    doc.define("f0", "breakpoint", "numeric", row_name=["v1", "v2", "v3"])
    doc.define("work-id", "global")
    for i in range(num_entries):
        n_seg = int(rng.integers(1, 12))
        onsets = np.sort(rng.uniform(0, 4, n_seg))
        durations = rng.uniform(0.01, 1.5, n_seg)  # overlaps and gaps
        sections = rng.choice(["A", "B", "C"], n_seg)
        n_notes = int(rng.integers(0, 25))
        note_on = rng.uniform(-0.2, 4.5, n_notes)
        note_dur = rng.uniform(0.0, 1.0, n_notes)
        note_pitch = rng.uniform(20, 110, n_notes)  # some fall outside the bins
        note_pitch[rng.random(n_notes) < 0.1] = 0
        bp_time = 0.023 + 0.01 * np.arange(int(rng.integers(1, 450)))
        bp_value = rng.uniform(30, 100, (3, len(bp_time)))
        bp_value[rng.random(bp_value.shape) < 0.3] = 0.0
        doc.add_entry(f"k{i}", {
            "genre": global_atoms([genres[int(rng.integers(len(genres)))]]),
            "tag": global_atoms(list(rng.choice(tags, int(rng.integers(0, 5)), replace=False))),
            "section": segment_atoms(onsets, durations, sections),
            "notes": segment_atoms(note_on, note_dur, note_pitch),
            "f0": [breakpoint_atom(bp_time, bp_value)],
            "work-id": global_atoms([str(int(rng.integers(0, 4)))]),
        })
    return doc


@pytest.fixture
def doc():
    return random_doc(np.random.default_rng(0))


# ----------------------------------------------------------------------------- kinds


def test_registry_lists_the_five_kinds():
    assert set(target_kinds()) >= {"multiclass", "multilabel", "framelabel", "pitch", "clique"}


def test_multiclass_against_reference(doc):
    target = build_target(TargetSpec("multiclass", "genre"), doc)
    assert target.vocabulary == ["blues", "jazz", "rock", "pop"]  # the field's dictionary, in order
    assert target.num_outputs == 4
    for key in doc.keys():
        y = target.for_patch(key, 5, 64)
        assert y.dtype == np.int64 and y.shape == ()
        assert target.vocabulary[int(y)] == doc.values(key, "genre")[0]
        assert int(target.for_file(key)) == int(y)


def test_multilabel_top_n_against_reference(doc):
    counts = {}
    for labels in doc.labels("tag"):
        for tag in set(labels):
            counts[tag] = counts.get(tag, 0) + 1
    vocabulary = doc.vocabulary("tag")
    expected = sorted(vocabulary, key=lambda t: (-counts.get(t, 0), vocabulary.index(t)))[:5]
    target = build_target(TargetSpec("multilabel", "tag", top_n=5), doc)
    assert target.vocabulary == expected
    for key in doc.keys():
        y = target.for_file(key)
        assert y.dtype == np.float32 and y.shape == (5,)
        reference = [1.0 if tag in doc.values(key, "tag") else 0.0 for tag in expected]
        np.testing.assert_array_equal(y, reference)
    full = build_target(TargetSpec("multilabel", "tag"), doc)
    assert full.num_outputs == len(vocabulary)


def test_multilabel_top_n_larger_than_vocabulary(doc):
    with pytest.raises(ParameterError, match="top_n 50"):
        build_target(TargetSpec("multilabel", "tag", top_n=50), doc)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_framelabel_against_reference(seed):
    rng = np.random.default_rng(seed)
    doc = random_doc(rng, 8)
    target = build_target(TargetSpec("framelabel", "section"), doc)
    assert target.vocabulary == ["A", "B", "C"] and target.no_label == IGNORE_INDEX
    time_sec = frame_times(230)
    for key in doc.keys():
        onsets, durations, values = doc.segments(key, "section")
        classes = [target.vocabulary.index(v) for v in values]
        expected = ref_frame_labels(time_sec, onsets, durations, classes, IGNORE_INDEX)
        y = target.for_file(key, time_sec)
        assert y.dtype == np.int64
        np.testing.assert_array_equal(y, expected)
        np.testing.assert_array_equal(target.for_patch(key, 17, 64, time_sec), expected[17:81])


CHORD_CASES = {"N": 24, "X": 24, "C:maj": 0, "Ab:min": 20, "E:maj": 4, "Bb:maj(*3)": 10, "C:min7": 12,
               "G:7": 7, "D:dim": 14, "E:aug": 4, "F:hdim7": 17, "A:maj/3": 9, "C:sus4": 0, "Db:5": 1,
               "B:min9": 23, "Cb:maj": 11, "F#:min/b3": 18}


def test_chord_reduction_cases():
    for label, index in CHORD_CASES.items():
        assert majmin_index(label) == index, label
    assert MAJMIN_CLASSES[20] == "G#:min" and MAJMIN_CLASSES[24] == "N" and len(MAJMIN_CLASSES) == 25
    labels = list(CHORD_CASES) * 3
    np.testing.assert_array_equal(reduce_to_majmin(labels), [CHORD_CASES[x] for x in labels])


def test_chord_framelabel_random_against_reference():
    rng = np.random.default_rng(3)
    doc = PyjamaDoc()
    doc.define("chord", "segment")
    labels = list(CHORD_CASES)
    bounds = np.sort(rng.uniform(0, 10, 30))
    onsets, durations = bounds[:-1], np.diff(bounds) * rng.uniform(0.5, 1.0, 29)  # gaps between chords
    values = list(rng.choice(labels, 29))
    doc.add_entry("song", {"chord": segment_atoms(onsets, durations, values)})
    target = build_target(TargetSpec("framelabel", "chord", chord_vocabulary="majmin"), doc)
    assert target.num_outputs == 25 and target.no_label == 24
    time_sec = frame_times(500)
    expected = ref_frame_labels(time_sec, onsets, durations, [CHORD_CASES[v] for v in values], 24)
    np.testing.assert_array_equal(target.for_file("song", time_sec), expected)


def test_chord_framelabel_real_rwc_lab():
    lab = fixture_path("rwc_popular", "annotations", "AIST.RWC-MDB-P-2001.CHORD", "RWC_Pop_Chords",
                       "N001-M01-T01.lab")
    rows = [line.split() for line in lab.read_text().splitlines() if line.strip()]
    start = np.array([float(r[0]) for r in rows])
    end = np.array([float(r[1]) for r in rows])
    doc = PyjamaDoc()
    doc.define("chord", "segment")
    doc.add_entry("N001-M01-T01", {"chord": segment_atoms(start, end - start, [r[2] for r in rows])})
    target = build_target(TargetSpec("framelabel", "chord", chord_vocabulary="majmin"), doc)
    time_sec = frame_times(int(48 / HOP))
    y = target.for_file("N001-M01-T01", time_sec)
    # truncated fixture: 0-0.104 N, 0.104-1.858 Ab:min, gap, 3.646-5.387 E:maj, gap, Bb:maj(*3), C:min7
    expected = ref_frame_labels(time_sec, start, end - start, [24, 20, 4, 10, 12], 24)
    np.testing.assert_array_equal(y, expected)
    assert set(np.unique(y)) == {4, 10, 12, 20, 24}
    assert y[int(2.5 / HOP)] == 24  # the gap between the annotated chords is no-chord


def test_chord_bad_label_names_entry():
    doc = PyjamaDoc()
    doc.define("chord", "segment")
    doc.add_entry("song", {"chord": segment_atoms([0.0], [1.0], ["H:foo"])})
    target = build_target(TargetSpec("framelabel", "chord", chord_vocabulary="majmin"), doc)
    with pytest.raises(MirError, match=r"entry 0 \('song'\), field 'chord'.*'H:foo'"):
        target.for_file("song", frame_times(10))


@pytest.mark.parametrize("seed", [0, 1])
def test_pitch_from_notes_against_reference(seed):
    doc = random_doc(np.random.default_rng(seed), 6)
    target = build_target(TargetSpec("pitch", "notes"), doc)
    time_sec = frame_times(220)
    for frequency_hz in (cqt_bins(), cqt_bins(40, per_semitone=1) * 2 ** (0.3 / 12), cqt_bins(30, 0.5)):
        target._cache.clear()
        for key in doc.keys():
            onsets, durations, pitches = doc.segments(key, "notes")
            expected = ref_salience_notes(time_sec, frequency_hz, onsets, durations, pitches)
            y = target.for_file(key, time_sec, frequency_hz)
            assert y.dtype == np.float32 and y.shape == (len(frequency_hz), 220)
            np.testing.assert_array_equal(y, expected, err_msg=key)
            np.testing.assert_array_equal(target.for_patch(key, 100, 64, time_sec, frequency_hz),
                                          expected[:, 100:164])
        assert target.num_outputs == len(frequency_hz)


@pytest.mark.parametrize("seed", [0, 1])
def test_pitch_from_breakpoints_against_reference(seed):
    doc = random_doc(np.random.default_rng(seed), 5)
    target = build_target(TargetSpec("pitch", "f0"), doc)
    for hop in (HOP, 0.004):  # frames sparser, then denser than the 10 ms breakpoints
        time_sec = frame_times(300, hop) + 0.002
        for frequency_hz in (cqt_bins(), cqt_bins(40, per_semitone=1) * 2 ** (0.3 / 12)):
            target._cache.clear()
            for key in doc.keys():
                bp_time, bp_value = doc.breakpoints(key, "f0")
                expected = ref_salience_breakpoints(time_sec, frequency_hz, bp_time, bp_value)
                np.testing.assert_array_equal(target.for_file(key, time_sec, frequency_hz), expected, err_msg=key)


def test_pitch_in_hz_matches_midi():
    doc = PyjamaDoc()
    doc.define("f0hz", "breakpoint", "numeric")
    doc.define("f0", "breakpoint", "numeric")
    times = np.arange(200) * 0.01
    midi = np.where(np.arange(200) % 7 == 0, 0.0, 60 + 10 * np.sin(times))
    hz = np.where(midi > 0, 440 * 2 ** ((midi - 69) / 12), 0.0)
    doc.add_entry("a", {"f0hz": [breakpoint_atom(times, hz)], "f0": [breakpoint_atom(times, midi)]})
    time_sec, bins = frame_times(80), cqt_bins()
    y_hz = build_target(TargetSpec("pitch", "f0hz", pitch_unit="hz"), doc).for_file("a", time_sec, bins)
    y_midi = build_target(TargetSpec("pitch", "f0"), doc).for_file("a", time_sec, bins)
    np.testing.assert_array_equal(y_hz, y_midi)
    assert y_midi.sum() > 50


def test_pitch_real_bach10_f0():
    mat = fixture_path("bach10", "Bach10_v1.1", "01-AchGottundHerr", "01-AchGottundHerr-GTF0s.mat")
    f0 = scipy.io.loadmat(str(mat))["GTF0s"].astype(float)
    times = 0.023 + 0.01 * np.arange(f0.shape[1])  # Bach10: 10 ms hop, first frame centred at 23 ms
    doc = PyjamaDoc()
    doc.define("f0multi", "breakpoint", "numeric", row_name=["violin", "clarinet", "saxophone", "bassoon"])
    doc.add_entry("01-AchGottundHerr", {"f0multi": [breakpoint_atom(times, f0)]})
    target = build_target(TargetSpec("pitch", "f0multi"), doc)
    time_sec = frame_times(int(times[-1] / HOP))
    y = target.for_file("01-AchGottundHerr", time_sec, cqt_bins())
    window = slice(200, 420)  # the brute force is slow: check a 5 s stretch
    expected = ref_salience_breakpoints(time_sec[window], cqt_bins(), times, f0)
    np.testing.assert_array_equal(y[:, window], expected)
    active = y.sum(axis=0)
    assert active.max() == 4 and np.median(active[active > 0]) == 4  # four voices most of the time


def test_pitch_real_maps_notes():
    txt = fixture_path("maps", "ENSTDkCl", "MUS", "MAPS_MUS-alb_se2_ENSTDkCl.txt")
    rows = [line.split("\t") for line in txt.read_text().splitlines()[1:] if line.strip()]
    onset = np.array([float(r[0]) for r in rows])
    offset = np.array([float(r[1]) for r in rows])
    pitch = np.array([float(r[2]) for r in rows])
    doc = PyjamaDoc()
    doc.define("pitchmidi", "segment", "numeric")
    doc.add_entry("alb_se2", {"pitchmidi": segment_atoms(onset, offset - onset, pitch)})
    target = build_target(TargetSpec("pitch", "pitchmidi"), doc)
    time_sec = frame_times(600)
    y = target.for_file("alb_se2", time_sec, cqt_bins())
    keep = onset < time_sec[-1]
    expected = ref_salience_notes(time_sec, cqt_bins(), onset[keep], (offset - onset)[keep], pitch[keep])
    np.testing.assert_array_equal(y, expected)
    # MIDI 62 with 5 bins per semitone from C1 (MIDI 24): bin (62 - 24) * 5 = 190
    assert y[190, int(1.0 / HOP)] == 1


def test_clique_work_ids(doc):
    target = build_target(TargetSpec("clique", "work-id"), doc)
    assert target.vocabulary == sorted({str(v[0]) for v in doc.labels("work-id")})
    ids = target.work_ids(doc.keys())
    for key, work in zip(doc.keys(), ids):
        assert target.vocabulary[work] == doc.values(key, "work-id")[0]
        assert int(target.for_patch(key, 0, 10)) == work


def test_clique_work_id_outside_the_dictionary_is_named(doc):
    doc.definitions["work-id"].dictionary = ["0", "1", "2"]  # a dictionary that misses work "3"
    target = build_target(TargetSpec("clique", "work-id"), doc)
    key = next(k for k in doc.keys() if doc.values(k, "work-id") == ["3"])
    with pytest.raises(MirError, match=rf"entry \d+ \({key!r}\), field 'work-id': value '3' is not in the vocabulary"):
        target.work_ids([key])
    doc.entry(key)["work-id"] = []
    with pytest.raises(MirError, match="a performance needs exactly one work id, found 0"):
        build_target(TargetSpec("clique", "work-id"), doc).prepare(key)


def test_one_target_on_two_grids_with_the_same_frames(doc):
    """A Target reused for two features: same frames, other bins (or other hop, same count) → recomputed."""
    target = build_target(TargetSpec("pitch", "notes"), doc)
    key = doc.keys()[3]
    time_sec = frame_times(200)
    fine, coarse = cqt_bins(360, 5), cqt_bins(72, 1)
    assert target.for_file(key, time_sec, fine).shape == (360, 200)
    y = target.for_patch(key, 0, 200, time_sec, coarse)
    assert y.shape == (72, 200)
    onsets, durations, pitches = doc.segments(key, "notes")
    np.testing.assert_array_equal(y, ref_salience_notes(time_sec, coarse, onsets, durations, pitches))
    labels = build_target(TargetSpec("framelabel", "section"), doc)
    slow = frame_times(200, hop=2 * HOP)
    labels.prepare(key, time_sec)
    onsets, durations, values = doc.segments(key, "section")
    classes = [labels.vocabulary.index(v) for v in values]
    np.testing.assert_array_equal(labels.for_file(key, slow),
                                  ref_frame_labels(slow, onsets, durations, classes, labels.no_label))


def test_nearest_breakpoint_half_hop():
    bp = np.array([0.0, 0.01, 0.02, 0.5])
    frames = np.array([0.004, 0.006, 0.026, 0.2, 0.495])
    # hop = max(median bp step 0.01, frame step ~0.1) → half hop ~0.11: 0.2 is 0.18 from any breakpoint
    np.testing.assert_array_equal(nearest_breakpoint(frames, bp), [0, 1, 2, -1, 3])


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("kwargs, match", [
    (dict(kind="pitchh", field="f0"), "did you mean pitch"),
    (dict(kind="pitch", field=""), "non-empty"),
    (dict(kind="multilabel", field="tag", top_n=0), "top_n 0"),
    (dict(kind="multiclass", field="genre", top_n=3), "top_n is for kind 'multilabel'"),
    (dict(kind="framelabel", field="chord", chord_vocabulary="sevenths"), "chord_vocabulary 'sevenths'"),
    (dict(kind="pitch", field="f0", pitch_unit="cents"), "pitch_unit 'cents'"),
    (dict(kind="pitch", field="f0", pitch_tolerance=-1), "pitch_tolerance -1"),
])
def test_bad_spec(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        TargetSpec(**kwargs)


def test_bad_field_and_extent(doc):
    with pytest.raises(MirError, match="field 'genres' is not defined"):
        build_target(TargetSpec("multiclass", "genres"), doc)
    with pytest.raises(MirError, match="extent 'global'; target kind 'framelabel' needs segment"):
        build_target(TargetSpec("framelabel", "genre"), doc)
    with pytest.raises(MirError, match="extent 'segment'; target kind 'multiclass' needs global"):
        build_target(TargetSpec("multiclass", "section"), doc)


def test_bad_entries_and_grids(doc):
    doc.add_entry("two", {"genre": global_atoms(["jazz", "rock"])})
    target = build_target(TargetSpec("multiclass", "genre"), doc)
    with pytest.raises(MirError, match=r"entry 12 \('two'\), field 'genre': multiclass needs exactly one value, found 2"):
        target.for_file("two")
    with pytest.raises(MirError, match="key 'nope' is not in the .pyjama document"):
        target.for_file("nope")
    pitch = build_target(TargetSpec("pitch", "notes"), doc)
    with pytest.raises(MirError, match="before|prepare a key first"):
        _ = pitch.num_outputs
    with pytest.raises(ParameterError, match="needs the feature's frequency_hz"):
        pitch.for_file("k0", frame_times(10), None)
    with pytest.raises(ParameterError, match="needs the feature's time_sec"):
        pitch.for_file("k0", None, cqt_bins())
    with pytest.raises(ParameterError, match="strictly increasing"):
        pitch.for_file("k0", frame_times(10)[::-1], cqt_bins())
    with pytest.raises(ParameterError, match=r"patch \[5, 69\) outside the 40 frames of 'k0'"):
        pitch.for_patch("k0", 5, 64, frame_times(40), cqt_bins())


def test_pitch_unit_from_field_name_and_values():
    """A field in Hz (JAMS pitch_contour / note_hz, or values no MIDI number reaches) is read as Hz by default.

    mirmodels builds its pitch target with the default unit: a JAMS bass line at 65.41 Hz (C2, MIDI 36)
    read as MIDI 65.41 lands 29 semitones up, on a real bin, and trains the network on wrong pitches.
    """
    times = np.arange(100) * 0.01
    midi = np.where(np.arange(100) % 9 == 0, 0.0, 36 + 2 * np.sin(times))  # a bass line around C2
    hz = np.where(midi > 0, 440 * 2 ** ((midi - 69) / 12), 0.0)  # 58-73 Hz: all under 150
    high_hz = np.where(midi > 0, 440 * 2 ** ((midi + 24 - 69) / 12), 0.0)  # 233-293 Hz: no MIDI number
    doc = PyjamaDoc()
    for name in ("pitch_contour", "note_hz", "f0", "f0x", "pitch_midi"):
        doc.define(name, "breakpoint", "numeric")
    doc.add_entry("a", {"pitch_contour": [breakpoint_atom(times, hz)], "note_hz": [breakpoint_atom(times, hz)],
                        "f0": [breakpoint_atom(times, midi)], "f0x": [breakpoint_atom(times, high_hz)],
                        "pitch_midi": [breakpoint_atom(times, midi)]})
    time_sec, bins = frame_times(40), cqt_bins()
    reference = build_target(TargetSpec("pitch", "f0", pitch_unit="midi"), doc).for_file("a", time_sec, bins)
    assert reference.sum() > 20
    for name in ("pitch_contour", "note_hz", "f0", "pitch_midi"):
        np.testing.assert_array_equal(build_target(TargetSpec("pitch", name), doc).for_file("a", time_sec, bins),
                                      reference, err_msg=name)
    two_octaves_up = build_target(TargetSpec("pitch", "f0x"), doc).for_file("a", time_sec, bins)
    np.testing.assert_array_equal(two_octaves_up[:24 * 5], 0)
    np.testing.assert_array_equal(two_octaves_up[24 * 5:], reference[:-24 * 5])
    # an explicit unit still wins over the name
    as_midi = build_target(TargetSpec("pitch", "pitch_contour", pitch_unit="midi"), doc).for_file("a", time_sec, bins)
    assert as_midi.sum() > 0 and not np.array_equal(as_midi, reference)
