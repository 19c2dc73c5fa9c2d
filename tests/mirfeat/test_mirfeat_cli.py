"""The ``mirfeat cache / info / show`` commands: results, messages, and one-line errors (exit 1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from mirfeat.cache import FeatureCache
from mirfeat.cli import main
from mirfeat.show import _to_hz, feature_figure
from pyjama_tools import pyjama
from test_cache import make_store, tone_mix

KEY = "genre0+++clip 00.wav"


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.output


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return make_store(tmp_path / "toy_audio.hdf5", count=4, seconds=2.0)


@pytest.fixture
def lms_cache(store: Path, tmp_path: Path) -> Path:
    out = tmp_path / "toy_lms.hdf5"
    assert run("cache", store, out, "--feature", "lms", "--quiet").exit_code == 0
    return out


# ----------------------------------------------------------------------------- cache


def test_cache_config_param_override_noop_refusal_overwrite(store: Path, tmp_path: Path) -> None:
    config = tmp_path / "feature.yaml"
    config.write_text("feature:\n  type: hcqt\n  patch_L_frame: 64\n  params:\n    harmonics: [1, 2]\n"
                      "    n_octaves: 4\n    hop_length: 1024\n")
    out = tmp_path / "toy_hcqt.hdf5"
    result = run("cache", store, out, "--config", config, "--param", "hop_length=512", "--quiet",
                 "--dtype", "float16", "--compression", "lzf")
    assert result.exit_code == 0, result.output
    assert f"{out}: 4 computed, 0 skipped" in result.output
    cache = FeatureCache(out)
    assert cache.feature == "hcqt" and cache.dtype == "float16"
    assert cache.params["harmonics"] == [1.0, 2.0] and cache.params["hop_length"] == 512  # --param wins
    assert cache.shape(KEY)[:2] == (2, 240)

    before = out.stat().st_mtime_ns
    result = run("cache", store, out, "--config", config, "--param", "hop_length=512", "--quiet", "--dtype", "float16")
    assert result.exit_code == 0 and "already complete (4 keys), nothing to do" in result.output
    assert out.stat().st_mtime_ns == before

    result = run("cache", store, out, "--config", config, "--quiet", "--dtype", "float16")
    assert_one_line_error(result, "exists with different settings", "hop_length 512 → 1024", "--overwrite")
    assert out.stat().st_mtime_ns == before

    result = run("cache", store, out, "--config", config, "--quiet", "--overwrite")
    assert result.exit_code == 0 and "4 computed" in result.output
    assert FeatureCache(out).params["hop_length"] == 1024 and FeatureCache(out).dtype == "float32"


def test_cache_reports_skipped_bad_audio_and_strict_fails(tmp_path: Path) -> None:
    nan = tone_mix(1.0, [220.0], 3)
    nan[7] = np.inf
    store = make_store(tmp_path / "bad_audio.hdf5", count=2, extra={"bad+++inf.wav": nan})
    out = tmp_path / "bad_lms.hdf5"
    result = run("cache", store, out, "--feature", "lms", "--quiet", "--strict")
    assert_one_line_error(result, "bad+++inf.wav", "NaN/inf", "--strict")
    assert not out.exists()
    result = run("cache", store, out, "--feature", "lms", "--quiet")
    assert result.exit_code == 0
    # the strict run recorded the bad key in its journal; this run computes the 2 good files
    assert f"{out}: 2 computed, 1 skipped" in result.output
    assert "skipped bad+++inf.wav: lms: audio holds 1 NaN/inf samples" in result.output


def test_cache_bad_inputs_are_one_line(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.hdf5"
    assert_one_line_error(run("cache", tmp_path / "nope_audio.hdf5", out, "--feature", "lms"),
                          "nope_audio.hdf5: no such file")
    text = tmp_path / "text_audio.hdf5"
    text.write_text("not hdf5")
    assert_one_line_error(run("cache", text, out, "--feature", "lms"), "not a readable HDF5 file")
    assert_one_line_error(run("cache", store, out, "--feature", "mel"), "unknown feature 'mel'")
    assert_one_line_error(run("cache", store, out, "--feature", "lms", "--param", "n_mels"),
                          "--param 'n_mels': expected KEY=VALUE")
    assert_one_line_error(run("cache", store, out, "--feature", "lms", "--param", "n_mels=many"),
                          "n_mels='many'")
    assert_one_line_error(run("cache", store, out, "--feature", "lms", "--key", "genre0+++clip 9.wav"),
                          "no audio key 'genre0+++clip 9.wav'")
    assert_one_line_error(run("cache", store, out), "no feature given")
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("feature: {type: lms\n")
    assert_one_line_error(run("cache", store, out, "--config", bad_yaml), "bad.yaml: invalid YAML at line")
    assert_one_line_error(run("cache", store, out, "--feature", "lms", "--scheduler", "tcp://x:1"),
                          "needs backend 'dask'")
    assert not out.exists()


# ----------------------------------------------------------------------------- info


def test_info(lms_cache: Path, tmp_path: Path) -> None:
    result = run("info", lms_cache)
    assert result.exit_code == 0, result.output
    text = result.output
    assert "feature      lms" in text and "n_mels=128" in text and "hop_length=1024" in text
    assert "4 complete, 0 skipped" in text
    frames = sorted(FeatureCache(lms_cache).num_frames(k) for k in FeatureCache(lms_cache).keys())
    assert f"(1, 128, T); T min/median/max {frames[0]} / " in text and f"/ {frames[-1]};" in text
    assert "float32" in text and "on disk" in text and "toy_audio.hdf5 (4 keys" in text
    assert_one_line_error(run("info", tmp_path / "absent.hdf5"), "absent.hdf5: no such file")
    assert_one_line_error(run("info", tmp_path / "toy_audio.hdf5"), "not a feature cache")


# ----------------------------------------------------------------------------- show


def annotated_doc(tmp_path: Path) -> Path:
    """A .pyjama with one field of each extent for KEY (pitches in MIDI, as the published sets)."""
    doc = pyjama.PyjamaDoc()
    doc.define("genre", "global", "text")
    doc.define("chord", "segment", "text")
    doc.define("pitchmidi", "segment", "numeric")
    doc.define("f0multi", "breakpoint", "numeric", row_name=["violin", "bassoon"])
    doc.define("beat", "marker", "numeric")
    times = np.arange(0, 2.0, 0.01)
    f0 = np.vstack([np.full(times.size, 57.0), np.where(times < 1.0, 45.0, 0.0)])  # A3, A2 then silence
    doc.add_entry(KEY, {
        "genre": pyjama.global_atoms(["blues"]),
        "chord": pyjama.segment_atoms([0.0, 1.0], [1.0, 1.0], ["A:min", "C:maj"]),
        "pitchmidi": pyjama.segment_atoms([0.2, 1.1], [0.5, 0.6], [45, 57]),
        "f0multi": [pyjama.breakpoint_atom(times, f0)],
        "beat": pyjama.marker_atoms([0.5, 1.0, 1.5], [1, 2, 3]),
    })
    path = tmp_path / "toy.pyjama"
    pyjama.save(doc, path)
    return path


@pytest.mark.parametrize("field", ["chord", "pitchmidi", "f0multi", "beat", "genre"])
def test_show_writes_a_png_of_the_asked_size(store: Path, tmp_path: Path, field: str) -> None:
    cache = tmp_path / "toy_cqt.hdf5"
    assert run("cache", store, cache, "--feature", "hcqt", "--param", "harmonics=0.5,1,2", "--quiet").exit_code == 0
    doc = annotated_doc(tmp_path)
    png = tmp_path / f"{field}.png"
    result = run("show", cache, KEY, "--pyjama", doc, "--field", field, "-o", png,
                 "--width", "8", "--height", "3", "--dpi", "50")
    assert result.exit_code == 0, result.output
    assert png.stat().st_size > 1000
    with Image.open(png) as image:
        assert image.size == (400, 150) and image.format == "PNG"


def test_show_puts_pitches_at_their_frequency_bins(store: Path, tmp_path: Path) -> None:
    cache = tmp_path / "toy_cqt.hdf5"
    assert run("cache", store, cache, "--feature", "hcqt", "--param", "harmonics=0.5,1,2", "--quiet").exit_code == 0
    doc = annotated_doc(tmp_path)
    frequency = FeatureCache(cache).frequency_hz(KEY)
    # f0 rows: MIDI 57 = 220 Hz and MIDI 45 = 110 Hz sit on the bins whose centre is that frequency
    figure = feature_figure(cache, KEY, doc, "f0multi")
    violin, bassoon = figure.axes[0].lines[:2]
    bin_220 = int(np.argmin(np.abs(frequency - 220.0)))
    bin_110 = int(np.argmin(np.abs(frequency - 110.0)))
    np.testing.assert_allclose(violin.get_ydata(), bin_220, atol=0.2)
    low = np.asarray(bassoon.get_ydata())
    np.testing.assert_allclose(low[:100], bin_110, atol=0.2)
    assert np.isnan(low[100:]).all()  # silence (0) is not drawn
    assert "channel 1" in figure.axes[0].get_title()  # the h = 1 channel by default
    # notes: one horizontal line per note at its pitch, from onset to offset
    figure = feature_figure(cache, KEY, doc, "pitchmidi")
    segments = figure.axes[0].collections[0].get_segments()
    assert [tuple(np.round(s[:, 0], 3)) for s in segments] == [(0.2, 0.7), (1.1, 1.7)]
    np.testing.assert_allclose([s[0, 1] for s in segments], [bin_110, bin_220], atol=0.2)
    # chords: labelled bars in the strip under the feature
    figure = feature_figure(cache, KEY, doc, "chord")
    assert [t.get_text() for t in figure.axes[1].texts] == ["A:min", "C:maj"]
    assert "genre: blues" in feature_figure(cache, KEY, doc, "genre").axes[0].get_title()


def test_to_hz() -> None:
    np.testing.assert_allclose(_to_hz(np.array([69.0, 57.0, 0.0]))[:2], [440.0, 220.0])
    assert np.isnan(_to_hz(np.array([0.0]))).all()
    np.testing.assert_allclose(_to_hz(np.array([440.0, 0.0, 880.0]))[[0, 2]], [440.0, 880.0])  # already Hz
    # a bass f0 in Hz (all under 150) is not read as MIDI when the field's name says Hz, and the reverse
    np.testing.assert_allclose(_to_hz(np.array([55.0, 98.0]), "pitch_contour"), [55.0, 98.0])
    np.testing.assert_allclose(_to_hz(np.array([55.0, 98.0]), "pitch_hz"), [55.0, 98.0])
    np.testing.assert_allclose(_to_hz(np.array([69.0]), "note_midi"), [440.0])
    np.testing.assert_allclose(_to_hz(np.array([200.0]), "pitchmidi"), [440.0 * 2 ** (131 / 12)])


def test_show_waveform_and_errors(store: Path, lms_cache: Path, tmp_path: Path) -> None:
    wave = tmp_path / "toy_wave.hdf5"
    assert run("cache", store, wave, "--feature", "waveform", "--quiet").exit_code == 0
    doc = annotated_doc(tmp_path)
    png = tmp_path / "wave.png"
    result = run("show", wave, KEY, "--pyjama", doc, "--field", "chord", "-o", png, "--width", "6", "--height", "2")
    assert result.exit_code == 0, result.output
    with Image.open(png) as image:
        assert image.size == (600, 200)
    out = tmp_path / "x.png"
    assert_one_line_error(run("show", lms_cache, "genre0+++clip 0.wav", "-o", out), "no key 'genre0+++clip 0.wav'")
    assert_one_line_error(run("show", lms_cache, KEY, "--pyjama", doc, "--field", "chords", "-o", out),
                          "field 'chords' is not defined")
    assert_one_line_error(run("show", lms_cache, KEY, "--pyjama", doc, "-o", out), "--pyjama and --field go together")
    assert_one_line_error(run("show", wave, KEY, "--pyjama", doc, "--field", "f0multi", "-o", out),
                          "needs a feature with a frequency axis")
    assert_one_line_error(run("show", lms_cache, KEY, "--channel", "3", "-o", out), "channel=3")
    assert_one_line_error(run("show", lms_cache, KEY, "-o", tmp_path / "missing" / "x.png"), "no such folder")
    assert_one_line_error(run("show", lms_cache, KEY, "-o", out, "--dpi", "0"), "dpi=0")
    other = make_store(tmp_path / "other_audio.hdf5", count=6)
    other_cache = tmp_path / "other_lms.hdf5"
    assert run("cache", other, other_cache, "--feature", "lms", "--quiet").exit_code == 0
    # the document has no entry for this cache's key
    assert_one_line_error(run("show", other_cache, "genre1+++clip 05.wav", "--pyjama", doc, "--field", "chord",
                              "-o", out), "toy.pyjama", "'genre1+++clip 05.wav' is not in the .pyjama document")
    assert not out.exists()


def test_show_image_columns_sit_at_the_frame_times(store: Path, tmp_path: Path) -> None:
    """Column j of the drawn feature is centred on time_sec[j] (frame centres), so an overlay at
    time t lies over the frame computed around t."""
    cache = tmp_path / "toy_cqt.hdf5"
    assert run("cache", store, cache, "--feature", "cqt", "--quiet").exit_code == 0
    time_sec = FeatureCache(cache).time_sec(KEY)
    axes = feature_figure(cache, KEY).axes[0]
    image = axes.images[0]
    left, right, _, _ = image.get_extent()
    columns = image.get_array().shape[1]
    centres = left + (np.arange(columns) + 0.5) * (right - left) / columns
    np.testing.assert_allclose(centres, time_sec, atol=1e-9)
    assert axes.get_xlim() == (left, right)


def test_show_a_binned_feature_without_frequencies(store: Path, tmp_path: Path) -> None:
    """A (C, F, T) cache with F > 1 but no frequency_hz (the Da-TACOS converter's crema chroma)
    is drawn as an image over bin indices, not as a curve (which was a ValueError traceback)."""
    import h5py

    cache = tmp_path / "toy_cqt.hdf5"
    assert run("cache", store, cache, "--feature", "cqt", "--param", "n_octaves=2", "--quiet").exit_code == 0
    with h5py.File(cache, "a") as handle:
        for key in handle:
            del handle[key]["frequency_hz"]
    png = tmp_path / "binned.png"
    result = run("show", cache, KEY, "-o", png)
    assert result.exit_code == 0, result.output
    axes = feature_figure(cache, KEY).axes[0]
    assert axes.images[0].get_array().shape == FeatureCache(cache).shape(KEY)[1:]
    assert axes.get_ylabel() == "bin"


def test_a_folder_given_as_cache_is_one_clear_line(store: Path, tmp_path: Path) -> None:
    folder = tmp_path / "features"
    folder.mkdir()
    assert_one_line_error(run("cache", store, folder, "--feature", "lms", "--quiet"), "features: is a folder")
    assert_one_line_error(run("cache", store, folder, "--feature", "lms", "--quiet", "--overwrite"), "is a folder")
    assert_one_line_error(run("info", folder), "features: is a folder, not a feature cache file")


def test_show_other_harmonic_channels_use_their_own_frequencies(store: Path, tmp_path: Path) -> None:
    """Channel h of an HCQT holds h × frequency_hz[f] in bin f: its ticks say that frequency and a
    220 Hz f0 is drawn on the bin where that channel has 220 Hz (it was drawn on the h = 1 grid's bin,
    an octave off on the h = 0.5 channel, with ticks a factor 2 off)."""
    cache = tmp_path / "toy_cqt.hdf5"
    assert run("cache", store, cache, "--feature", "hcqt", "--param", "harmonics=0.5,1,2", "--quiet").exit_code == 0
    doc = annotated_doc(tmp_path)
    frequency = FeatureCache(cache).frequency_hz(KEY)
    for channel, harmonic in ((0, 0.5), (1, 1.0), (2, 2.0)):
        figure = feature_figure(cache, KEY, doc, "f0multi", channel=channel)
        axes = figure.axes[0]
        violin = axes.lines[0]
        expected_bin = int(np.argmin(np.abs(harmonic * frequency - 220.0)))
        np.testing.assert_allclose(violin.get_ydata(), expected_bin, atol=0.2, err_msg=f"channel {channel}")
        ticks = axes.get_yticks().round().astype(int)
        assert [t.get_text() for t in axes.get_yticklabels()] == [f"{harmonic * frequency[t]:.0f}" for t in ticks]
        assert f"channel {channel}, h={harmonic:g}" in axes.get_title()
    # the toy audio's 196 Hz tone: on channel 0 its energy is on the bin drawn for 196 Hz now, while the
    # h = 1 grid's bin for 196 Hz holds 98 Hz there (no partial within 10 bins)
    level = FeatureCache(cache).read(KEY)[0].mean(axis=1)
    drawn = int(np.argmin(np.abs(0.5 * frequency - 196.0)))
    old = int(np.argmin(np.abs(frequency - 196.0)))
    assert level[drawn] > 10 * level[old]
