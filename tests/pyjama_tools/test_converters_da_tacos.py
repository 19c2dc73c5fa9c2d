"""da-tacos converter: feature-only corpus → feature HDF5 in mirfeat's cache layout + .pyjama."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import fixture_path

from pyjama_tools import pyjama
from pyjama_tools.cli import main
from pyjama_tools.convert import convert
from pyjama_tools.core.errors import MirError

FRAME_SEC = 512 / 44100


def write_performance(root: Path, subset: str, work: str, perf: str, frames: int, seed: int,
                      feature: str = "crema", label: str | None = None) -> np.ndarray:
    """``da-tacos_<subset>_<feature>/W_x_<feature>/P_y_<feature>.h5`` as deepdish writes it."""
    folder = root / f"da-tacos_{subset}_{feature}" / f"{work}_{feature}"
    folder.mkdir(parents=True, exist_ok=True)
    array = np.random.default_rng(seed).random((12, frames), dtype=np.float32)
    with h5py.File(folder / f"{perf}_{feature}.h5", "w") as handle:
        handle.attrs["CLASS"] = np.bytes_(b"GROUP")
        handle.attrs["DEEPDISH_IO_VERSION"] = np.int64(12)
        handle.attrs["label"] = np.bytes_((label or work).encode())
        handle.attrs["track_id"] = np.bytes_(perf.encode())
        if feature == "crema":
            handle.create_dataset("crema", data=array)  # (12, T)
        else:  # cens or hpcp: (T, 12)
            handle.create_dataset({"cens": "chroma_cens"}.get(feature, feature), data=array.T.astype(np.float64))
    return array


def write_metadata(root: Path, subset: str, records: dict) -> None:
    folder = root / "da-tacos_metadata"
    folder.mkdir(exist_ok=True)
    (folder / f"da-tacos_{subset}_metadata.json").write_text(json.dumps(records))


def record(work: str, perf: str, artist: str) -> dict:
    return {"work_title": f"Title of {work}", "work_artist": "Someone", "perf_title": f"Title of {work}",
            "perf_artist": artist, "release_year": "1999", "work_id": work, "perf_id": perf, "instrumental": "No",
            "mb_performances": {"abc": {"length": "1000"}}}


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[Path, dict]:
    root = tmp_path / "da-tacos"
    arrays = {}
    layout = {"benchmark_subset": [("W_1", "P_10", 40), ("W_1", "P_11", 55), ("W_2", "P_20", 300)],
              "coveranalysis_subset": [("W_3", "P_30", 30)]}
    for subset, performances in layout.items():
        metadata: dict = {}
        for seed, (work, perf, frames) in enumerate(performances):
            arrays[f"{work}+++{perf}"] = write_performance(root, subset, work, perf, frames, seed)
            metadata.setdefault(work, {})[perf] = record(work, perf, f"Artist {perf}")
        write_metadata(root, subset, metadata)
    # another feature's folder beside it: ignored when converting crema
    write_performance(root, "benchmark_subset", "W_1", "P_10", 40, 0, feature="cens")
    return root, arrays


def test_synthesized_corpus(corpus, tmp_path):
    root, arrays = corpus
    report = convert("da-tacos", root, tmp_path / "out")
    assert report.entries == 4 and report.problems == []
    assert report.payload_path.name == "da-tacos_crema_feat.hdf5"
    doc = pyjama.load(report.pyjama_path)
    with h5py.File(report.payload_path, "r") as handle:
        assert sorted(handle.keys()) == sorted(arrays)
        assert pyjama.validate(doc, list(handle.keys())) == []
        assert handle.attrs["feature"] == "crema"
        params = json.loads(handle.attrs["params"])
        assert params["hop_length"] == 512 and params["sample_rate"] == 44100
        assert len(handle.attrs["params_hash"]) == 16 and handle.attrs["complete"]
        for key, array in arrays.items():
            group = handle[key]
            assert group.attrs["complete"] and "frequency_hz" not in group
            assert group["value"].dtype == np.float32 and group["value"].shape == (1, 12, array.shape[1])
            assert group["value"].chunks[2] <= 256
            np.testing.assert_array_equal(group["value"][0], array)
            np.testing.assert_allclose(group["time_sec"][()], np.arange(array.shape[1]) * FRAME_SEC)
    assert doc.values("W_1+++P_11", "work-id") == ["W_1"]
    assert doc.values("W_1+++P_11", "performance-id") == ["P_11"]
    assert doc.values("W_1+++P_11", "perf_artist") == ["Artist P_11"]
    assert doc.values("W_1+++P_11", "release_year") == ["1999"]
    assert doc.values("W_3+++P_30", "subset") == ["coveranalysis_subset"]
    result = CliRunner().invoke(main, ["validate", str(report.pyjama_path), "--audio", str(report.payload_path)])
    assert result.exit_code == 0, result.output


def test_payload_reads_with_mirfeat_cache(corpus, tmp_path):
    cache_module = pytest.importorskip("mirfeat.cache")
    root, arrays = corpus
    report = convert("da-tacos", root, tmp_path / "out")
    with cache_module.FeatureCache(report.payload_path) as cache:
        assert cache.feature == "crema" and sorted(cache.keys()) == sorted(arrays)
        np.testing.assert_array_equal(cache.read("W_2+++P_20", 100, 164)[0], arrays["W_2+++P_20"][:, 100:164])


def test_subset_and_feature_options(corpus, tmp_path):
    root, arrays = corpus
    report = convert("da-tacos", root, tmp_path / "a", subset="coveranalysis")
    assert pyjama.load(report.pyjama_path).keys() == ["W_3+++P_30"]
    result = CliRunner().invoke(main, ["da-tacos", str(root), str(tmp_path / "b"), "--feature", "cens",
                                       "--subset", "benchmark_subset", "--quiet"])
    assert result.exit_code == 0, result.output
    with h5py.File(tmp_path / "b" / "da-tacos_cens_feat.hdf5", "r") as handle:
        assert list(handle.keys()) == ["W_1+++P_10"]
        np.testing.assert_allclose(handle["W_1+++P_10/value"][0], arrays["W_1+++P_10"], rtol=1e-6)  # (T,12) → (12,T)
    with pytest.raises(MirError, match="no subset 'nonesuch'"):
        convert("da-tacos", root, tmp_path / "c", subset="nonesuch")
    result = CliRunner().invoke(main, ["da-tacos", str(root), str(tmp_path / "d"), "--feature", "chords"])
    assert result.exit_code == 2 and "mfcc" in result.output  # click's usage error lists the choices


def test_hpcp_rows_are_rotated_to_start_at_c(tmp_path):
    """Essentia's HPCP starts at A: a frame with energy in published row 3 (C) has it in row 0 after conversion."""
    root = tmp_path / "da-tacos"
    array = write_performance(root, "benchmark_subset", "W_1", "P_1", 20, 0, feature="hpcp")
    write_metadata(root, "benchmark_subset", {"W_1": {"P_1": record("W_1", "P_1", "A")}})
    report = convert("da-tacos", root, tmp_path / "out", feature="hpcp")
    with h5py.File(report.payload_path, "r") as handle:
        value = handle["W_1+++P_1/value"][0]
        assert json.loads(handle.attrs["params"])["rotated_semitones"] == 9
    for pitch_class, published_row in ((0, 3), (9, 0), (11, 2), (2, 5)):  # C, A, B, D
        np.testing.assert_allclose(value[pitch_class], array[published_row], rtol=1e-6)


def test_real_hpcp_lines_up_with_crema(tmp_path):
    """On the real performance, HPCP after rotation correlates with crema (both row 0 = C)."""
    root = fixture_path("da_tacos")
    crema = convert("da-tacos", root, tmp_path / "crema", feature="crema")
    hpcp = convert("da-tacos", root, tmp_path / "hpcp", feature="hpcp")
    with h5py.File(crema.payload_path, "r") as a, h5py.File(hpcp.payload_path, "r") as b:
        x, y = a["W_163992+++P_547131/value"][0], b["W_163992+++P_547131/value"][0]
    frames = min(x.shape[1], y.shape[1])
    correlation = np.corrcoef(x[:, :frames].ravel(), y[:, :frames].ravel())[0, 1]
    assert correlation > 0.5  # 0.63 here; unrotated 0.04


def test_real_fixture(tmp_path):
    root = fixture_path("da_tacos")
    report = convert("da-tacos", root, tmp_path / "out")
    assert report.entries == 1 and report.problems == []
    source = root / "da-tacos_coveranalysis_subset_crema" / "W_163992_crema" / "P_547131_crema.h5"
    with h5py.File(source, "r") as original, h5py.File(report.payload_path, "r") as converted:
        value = converted["W_163992+++P_547131/value"]
        assert value.shape == (1, 12, 15226)
        np.testing.assert_array_equal(value[0], original["crema"][()])
        assert converted["W_163992+++P_547131/time_sec"][-1] == pytest.approx(15225 * FRAME_SEC)
    metadata = json.loads((root / "da-tacos_metadata" / "da-tacos_coveranalysis_subset_metadata.json").read_text())
    expected = metadata["W_163992"]["P_547131"]
    doc = pyjama.load(report.pyjama_path)
    for name in ("work_title", "work_artist", "perf_title", "perf_artist", "release_year", "instrumental",
                 "perf_artist_mbid"):
        assert doc.values(0, name) == [expected[name]]
    result = CliRunner().invoke(main, ["validate", str(report.pyjama_path), "--audio", str(report.payload_path)])
    assert result.exit_code == 0 and "valid (1 entries)" in result.output


# ----------------------------------------------------------------------------- bad inputs


def test_bad_files_are_skipped(corpus, tmp_path):
    root, arrays = corpus
    bench = root / "da-tacos_benchmark_subset_crema"
    (bench / "W_2_crema" / "P_20_crema.h5").write_bytes(b"not an hdf5 file")
    write_performance(root, "benchmark_subset", "W_1", "P_12", 20, 5, label="W_9")  # label disagrees
    with h5py.File(bench / "W_1_crema" / "P_11_crema.h5", "a") as handle:  # a malformed crema (13 bins)
        del handle["crema"]
        handle.create_dataset("crema", data=np.zeros((13, 10), np.float32))
    (bench / "W_1_crema" / "readme.txt").write_text("stray")
    report = convert("da-tacos", root, tmp_path / "out")
    assert report.entries == 2  # W_1+++P_10 and W_3+++P_30
    problems = [str(p) for p in report.problems]
    assert any("P_20_crema.h5" in p and "not a readable HDF5 file" in p for p in problems)
    assert any("P_12_crema.h5" in p and "label='W_9'" in p for p in problems)
    assert any(p.startswith("W_1+++P_11: ") and "(13, 10)" in p for p in problems)
    assert any("readme.txt" in p for p in problems)
    doc = pyjama.load(report.pyjama_path)
    assert doc.keys() == ["W_1+++P_10", "W_3+++P_30"]
    with h5py.File(report.payload_path, "r") as handle:
        assert sorted(handle.keys()) == ["W_1+++P_10", "W_3+++P_30"]
        assert [k for k, _ in json.loads(handle.attrs["skipped"])] == ["W_1+++P_11"]


def test_malformed_and_incomplete_metadata(corpus, tmp_path):
    root, _ = corpus
    (root / "da-tacos_metadata" / "da-tacos_benchmark_subset_metadata.json").write_text('{"W_1": {')
    write_metadata(root, "coveranalysis_subset", {"W_3": {}})
    report = convert("da-tacos", root, tmp_path / "out")
    assert report.entries == 4  # ids kept from the folder names
    problems = [str(p) for p in report.problems]
    assert any("benchmark_subset_metadata.json" in p and "malformed JSON at line 1" in p for p in problems)
    assert any("W_3/P_30 not in the coveranalysis_subset metadata" in p for p in problems)
    doc = pyjama.load(report.pyjama_path)
    assert doc.values("W_3+++P_30", "work-id") == ["W_3"] and "perf_artist" not in doc.entry("W_3+++P_30")


def test_strict_cli_one_line_no_output(corpus, tmp_path):
    root, _ = corpus
    with h5py.File(root / "da-tacos_benchmark_subset_crema" / "W_1_crema" / "P_10_crema.h5", "a") as handle:
        handle["crema"][0, 0] = np.nan
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["da-tacos", str(root), str(out), "--strict", "--quiet"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: W_1+++P_10: ") and "NaN" in lines[0]
    assert not out.exists() or [p for p in out.iterdir() if not p.name.endswith(".lock")] == []


def test_no_feature_folder(tmp_path):
    (tmp_path / "src" / "da-tacos_metadata").mkdir(parents=True)
    result = CliRunner().invoke(main, ["da-tacos", str(tmp_path / "src"), str(tmp_path / "out")])
    assert result.exit_code == 1 and "no da-tacos_<subset>_crema/ folder" in result.output
