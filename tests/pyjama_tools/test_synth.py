"""The embedded synthetic corpus: deterministic, valid, and its annotations match its audio."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from pyjama_tools import pyjama
from pyjama_tools.audio_store import AudioStore
from pyjama_tools.cli import main
from pyjama_tools.core.errors import MirError, ParameterError
from pyjama_tools.synth import VOICES, SynthParams, generate, make_score, render_additive


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    generate(out, SynthParams(files=6, seconds_per_file=4.0, seed=3))
    return out


def test_pair_is_valid_and_has_every_task_field(corpus):
    doc = pyjama.load(corpus / "synth.pyjama")
    with AudioStore(corpus / "synth_audio.hdf5") as store:
        assert pyjama.validate(doc, store.keys()) == []
        assert len(store.keys()) == 6
        for key in store.keys():
            assert store.sample_rate(key) == 22050
            assert store.num_samples(key) == 4 * 22050
            assert np.max(np.abs(store.read(key))) <= 1.0
    for name in ("pitchmidi", "f0multi", "instrument", "style", "chord"):
        assert all(entry.get(name) for entry in doc.entries), name
    assert set(doc.vocabulary("style")) == {"arpeggio", "chorale", "duet", "solo"}


def test_same_seed_same_corpus_other_seed_other_corpus(tmp_path):
    a = generate(tmp_path / "a", SynthParams(files=2, seconds_per_file=3.0, seed=1))
    b = generate(tmp_path / "b", SynthParams(files=2, seconds_per_file=3.0, seed=1), jobs=2)
    c = generate(tmp_path / "c", SynthParams(files=2, seconds_per_file=3.0, seed=2))
    assert pyjama.load(a[0]) == pyjama.load(b[0])
    assert pyjama.load(a[0]) != pyjama.load(c[0])
    with AudioStore(a[1]) as sa, AudioStore(b[1]) as sb:
        for key in sa.keys():
            np.testing.assert_array_equal(sa.read(key), sb.read(key))


def test_f0_rows_agree_with_notes(corpus):
    doc = pyjama.load(corpus / "synth.pyjama")
    for key in doc.keys():
        time, f0 = doc.breakpoints(key, "f0multi")
        assert f0.shape == (len(VOICES), len(time))
        onset, duration, pitch = doc.segments(key, "pitchmidi")
        for t, d, p in zip(onset, duration, pitch):
            inside = (time >= t + 0.02) & (time < t + d - 0.02)
            if inside.any():
                # some voice holds this pitch (within the vibrato) over the whole note
                assert np.all(np.min(np.abs(f0[:, inside] - p), axis=0) < 0.25)
        # silence is 0 and only 0
        assert np.all((f0 == 0) | ((f0 > 30) & (f0 < 90)))


def test_audio_energy_sits_at_the_annotated_pitches():
    rng = np.random.default_rng(0)
    score = make_score(rng, 6.0)
    audio = render_additive(score, 22050, rng, -60.0)
    longest = max(score.notes, key=lambda n: n.duration)
    spectrum_time = longest.onset + longest.duration / 2 - 0.18
    active = [n for n in score.notes if n.onset + 0.05 <= spectrum_time and spectrum_time + 0.4 < n.onset + n.duration]
    assert longest in active
    frame = audio[int(spectrum_time * 22050): int(spectrum_time * 22050) + 8192] * np.hanning(8192)
    magnitude = np.abs(np.fft.rfft(frame))
    freqs = np.fft.rfftfreq(8192, 1 / 22050)
    for note in active:
        f0 = 440 * 2 ** ((note.pitch - 69) / 12)
        near = (freqs > f0 * 0.97) & (freqs < f0 * 1.03)
        assert magnitude[near].max() > 20 * np.median(magnitude), note


def test_bad_params_and_existing_output(tmp_path):
    with pytest.raises(ParameterError, match="files"):
        SynthParams(files=0)
    with pytest.raises(ParameterError, match="seconds_per_file"):
        SynthParams(seconds_per_file=0.5)
    generate(tmp_path, SynthParams(files=1, seconds_per_file=2.0))
    with pytest.raises(MirError, match="already exists"):
        generate(tmp_path, SynthParams(files=1, seconds_per_file=2.0))


def test_an_unknown_renderer_is_one_line_with_a_suggestion_and_writes_nothing(tmp_path):
    with pytest.raises(ParameterError) as caught:
        generate(tmp_path / "out", SynthParams(files=1, seconds_per_file=2.0), renderer="aditive")
    assert str(caught.value) == "unknown renderer 'aditive' (did you mean additive?); known: additive, fluidsynth"
    assert not (tmp_path / "out").exists()
    result = CliRunner().invoke(main, ["synth", str(tmp_path / "out"), "--renderer", "aditive"])
    assert result.exit_code == 1 and result.stderr.strip().splitlines() == [
        "error: unknown renderer 'aditive' (did you mean additive?); known: additive, fluidsynth"]


def test_cli(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["synth", str(tmp_path), "--files", "2", "--seconds-per-file", "2", "--quiet"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "synth.pyjama").exists() and (tmp_path / "synth_audio.hdf5").exists()
    again = runner.invoke(main, ["synth", str(tmp_path), "--files", "2", "--seconds-per-file", "2", "--quiet"])
    assert again.exit_code == 1
    assert "already exists" in again.output and "Traceback" not in again.output


def test_bad_output_folder_and_base_name_are_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for args, message in [([str(blocker)], f"error: {blocker}: cannot create the output folder (File exists)"),
                          ([str(tmp_path / "out"), "--name", "a/b"], "error: --name 'a/b': a base file name is "
                                                                      "expected (no folder part; put folders in OUT_DIR)")]:
        result = CliRunner().invoke(main, ["synth", *args, "--files", "1", "--seconds-per-file", "2", "--quiet"])
        assert result.exit_code == 1 and result.stderr.strip() == message
    assert not (tmp_path / "out").exists()
