"""The experiment configs of examples/ (one per recipe of the book).

Every config is loaded with the real loader (:func:`mirmodels.config.load_config`), its network is
built for the input shape implied by its feature and patch length, and ONE training step (forward,
the problem's loss from :mod:`mirmodels.tasks`, backward, the config's optimizer) runs on a
synthetic batch with the right target shapes. Also: the book's published result is stated in each
config, every model path exists, the dataset base names are the converters' defaults, the
``mirmodels summary`` command builds each model, every recipe of the README is its three commands
(no snippet to copy), and ``pyjama-convert split`` writes the lists ``dataset.split: list`` reads.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from conftest import fixture_path
from mirmodels.config import ExperimentConfig, load_config
from mirmodels.experiment import build_network, check_output_shape
from mirmodels.tasks import get_task_class

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES_DIR = ROOT / "examples"
README = EXAMPLES_DIR / "README.md"
#: the lead's quickstart is tested elsewhere
NOT_RECIPES = {"quickstart.yaml"}
EXAMPLES = sorted(p.name for p in EXAMPLES_DIR.glob("*.yaml") if p.name not in NOT_RECIPES)
#: heavy at full size on a 2-core CPU (about 10 s each for build + one step): the full-size step is
#: marked slow, and the fast suite runs the same config on shorter patches (frames given here)
HEAVY = {"bach10_hcqt_unet.yaml": 16, "maps_hcqt_unet.yaml": 16, "cover1000_move.yaml": 400,
         "datacos_move.yaml": 400, "musdb18_unet.yaml": 129024, "musdb18_cunet.yaml": 129024}

#: The input shapes the book states for each recipe (checked against what the config implies).
BOOK_INPUT_SHAPES = {
    "gtzan_lms.yaml": (1, 128, 64),
    "gtzan_wave_conv1d.yaml": (1, 3200),
    "gtzan_wave_tcn.yaml": (1, 3200),
    "gtzan_wave_sincnet.yaml": (1, 3200),
    "mtt_lms.yaml": (1, 128, 64),
    "rwc_chords.yaml": (1, 72, 1024),
    "bach10_cqt_conv2d.yaml": (1, 360, 64),
    "bach10_hcqt_conv2d.yaml": (6, 360, 64),
    "bach10_hcqt_depthsep.yaml": (6, 360, 64),
    "bach10_hcqt_resnet.yaml": (6, 360, 64),
    "bach10_hcqt_convnext.yaml": (6, 360, 64),
    "bach10_hcqt_unet.yaml": (6, 360, 64),
    "maps_hcqt_conv2d.yaml": (6, 360, 64),
    "maps_hcqt_resnet.yaml": (6, 360, 64),
    "maps_hcqt_unet.yaml": (6, 360, 64),
    # the book's CREMA is 12 pitch classes stacked to 23 rows; our data gives the 12 rows (no
    # frequency axis: (rows, frames)) and the network stacks them
    # (examples/models/cover_move_chroma12.yaml, equivalence tested below)
    "cover1000_move.yaml": (12, 1800),
    "datacos_move.yaml": (12, 1800),
    # separation: stereo 4 s windows at 44.1 kHz; the conditioned input adds the one-hot source
    "musdb18_unet.yaml": (2, 176400),
    "musdb18_cunet.yaml": (2 + 4, 176400),
}

#: The book's training settings per recipe: (optimizer, lr, batch size, patience).
BOOK_TRAINING = {
    "gtzan": ("adam", 0.01, 128, 10),
    "mtt": ("adam", 0.01, 128, 10),
    "rwc": ("adam", 0.01, 32, 10),
    "bach10": ("adam", 0.001, 32, 10),
    "maps": ("adam", 0.001, 32, 10),
    "cover1000": ("sgd", 0.1, None, 50),
    "datacos": ("sgd", 0.1, None, 50),
    "musdb18": ("adam", 0.001, 32, 10),  # the notebook's batch of 32; lr and patience are ours
}

#: Features whose values do not come from mirfeat: name → rows of the value (Da-TACOS CREMA,
#: written by ``pyjama-convert da-tacos`` as (1, 12, T), without a frequency axis).
CONVERTER_FEATURE_ROWS = {"crema": 12}


def _load(name: str) -> ExperimentConfig:
    return load_config(EXAMPLES_DIR / name)


# ----------------------------------------------------------------------------- input shapes
# feature name → function(params of the built feature, patch length) → shape of one example


def _waveform_shape(params, length: int) -> tuple[int, ...]:
    return (1, length)  # (channel, samples), read from the audio store


def _lms_shape(params, length: int) -> tuple[int, ...]:
    return (1, params.n_mels, length)


def _cqt_shape(params, length: int) -> tuple[int, ...]:
    return (len(params.harmonics), 12 * params.bins_per_semitone * params.n_octaves, length)


def _chroma_shape(params, length: int) -> tuple[int, ...]:
    return (params.n_chroma, length)  # pitch classes are no frequency axis: (C x F, T), like the waveform


SHAPE_OF_FEATURE = {"waveform": _waveform_shape, "lms": _lms_shape, "cqt": _cqt_shape, "hcqt": _cqt_shape,
                    "chroma": _chroma_shape}


def input_shape(config: ExperimentConfig) -> tuple[int, ...]:
    """Shape of one example X as the run's dataset would give it (batch excluded)."""
    feature = config.feature
    if config.dataset.problem == "separation":  # stereo MUSDB18 (--stereo), plus the one-hot when conditioned
        return (2 + (config.dataset.n_out if config.train.task.get("conditioned") else 0), feature.patch_length)
    if feature.type in CONVERTER_FEATURE_ROWS:
        return (CONVERTER_FEATURE_ROWS[feature.type], feature.patch_length)
    from mirfeat.features import build_feature

    params = build_feature(feature.type, feature.params).params
    return SHAPE_OF_FEATURE[feature.type](params, feature.patch_length)


# ----------------------------------------------------------------------------- synthetic batches
# problem → function(generator, input shape, n_out) → (X, y) of the true dtypes and shapes


def _features(generator: torch.Generator, batch: int, shape: tuple[int, ...], signed: bool) -> torch.Tensor:
    x = torch.randn((batch, *shape), generator=generator)
    return x if signed else torch.log1p(100.0 * x.abs())  # magnitudes, compressed like LMS / CQT


def _multiclass(generator, shape, n_out):
    y = torch.tensor([0, n_out - 1], dtype=torch.int64)
    return _features(generator, 2, shape, signed=len(shape) == 2), y


def _multilabel(generator, shape, n_out):
    y = (torch.rand((2, n_out), generator=generator) < 0.1).float()
    y[:, 0] = 1.0  # every clip has at least one tag
    return _features(generator, 2, shape, signed=False), y


def _framelabel(generator, shape, n_out):
    frames = shape[-1]
    y = torch.randint(0, n_out, (2, frames), generator=generator, dtype=torch.int64)
    y[:, : frames // 8] = -100  # frames outside every segment (ignore_index)
    return _features(generator, 2, shape, signed=False), y


def _multipitch(generator, shape, n_out):
    bins, frames = shape[-2], shape[-1]
    y = torch.zeros((2, bins, frames))
    for voice in range(3):  # three voices holding a pitch each
        pitch = torch.randint(0, bins, (1,), generator=generator).item()
        y[:, pitch, voice * frames // 4:] = 1.0
    return _features(generator, 2, shape, signed=False), y


def _metric(generator, shape, n_out):
    # the smallest batch with a positive and a negative for every anchor: 2 works x 2 performances
    y = torch.tensor([0, 0, 1, 1], dtype=torch.int64)
    return torch.rand((4, *shape), generator=generator), y


def _separation(generator, shape, n_out):
    # conditioned input (2 + S channels): the mixture, then a one-hot source; output one source
    sources = 1 if shape[0] > 2 else n_out
    x = 0.1 * torch.randn((2, *shape), generator=generator)
    if shape[0] > 2:
        x[:, 2:] = 0.0
        x[0, 2], x[1, 2 + n_out - 1] = 1.0, 1.0
    return x, 0.1 * torch.randn((2, sources, 2, shape[-1]), generator=generator)


BATCH_OF_PROBLEM = {"multiclass": _multiclass, "multilabel": _multilabel, "framelabel": _framelabel,
                    "multipitch": _multipitch, "metric": _metric, "separation": _separation}


def _one_training_step(name: str, frames: int | None = None) -> None:
    config = _load(name)
    shape = input_shape(config)
    if frames is not None:  # shorter patches, for the fast suite
        shape = (*shape[:-1], frames)
    n_out = config.dataset.n_out
    assert isinstance(n_out, int), f"{name}: dataset.n_out should state the book's output size"
    torch.manual_seed(0)
    network = build_network(config, shape, n_out)
    assert tuple(network.input_shape) == shape
    problem = config.dataset.problem
    check_output_shape(problem, network.output_shape, shape, n_out if problem != "metric" else 0, where=name)

    train = config.train
    task = get_task_class(problem)(network, optimizer=train.optimizer, lr=train.lr,
                                   weight_decay=train.weight_decay, momentum=train.momentum, **train.task)
    optimizer = task.configure_optimizers()
    assert type(optimizer).__name__.lower() == train.optimizer
    assert optimizer.param_groups[0]["lr"] == pytest.approx(train.lr)

    generator = torch.Generator().manual_seed(1)
    x, y = BATCH_OF_PROBLEM[problem](generator, shape, n_out)
    before = {k: p.detach().clone() for k, p in network.named_parameters()}
    task.train()
    optimizer.zero_grad()
    loss = task.training_step({"X": x, "y": y, "key": [f"k{i}" for i in range(len(x))],
                               "start": torch.zeros(len(x), dtype=torch.int64)}, 0)
    assert loss.dim() == 0 and math.isfinite(float(loss.detach())), f"{name}: loss {loss}"
    assert float(loss.detach()) > 0, f"{name}: a zero loss teaches nothing"
    loss.backward()
    optimizer.step()

    moved = [k for k, p in network.named_parameters() if not torch.equal(p.detach(), before[k])]
    # (a bias right before a batch norm gets only a round-off gradient: it need not move)
    with_gradient = [k for k, p in network.named_parameters()
                     if p.grad is not None and bool(p.grad.abs().max() > 1e-6)]
    assert with_gradient, f"{name}: no parameter received a gradient"
    assert set(with_gradient) <= set(moved), f"{name}: {sorted(set(with_gradient) - set(moved))} did not move"
    first = next(iter(before))
    last = list(before)[-1]
    assert first in moved and last in moved, f"{name}: the first and last layers must learn"


# ----------------------------------------------------------------------------- tests


def test_every_recipe_has_a_config():
    assert set(EXAMPLES) == set(BOOK_INPUT_SHAPES), "a config was added or removed: update BOOK_INPUT_SHAPES"


@pytest.mark.parametrize("name", EXAMPLES)
def test_config_states_the_book_settings(name):
    config = _load(name)
    assert input_shape(config) == BOOK_INPUT_SHAPES[name]
    optimizer, lr, batch_size, patience = BOOK_TRAINING[name.split("_")[0]]
    assert (config.train.optimizer, config.train.lr, config.train.patience) == (optimizer, lr, patience)
    if batch_size is not None:
        assert config.train.batch_size == batch_size
    else:  # metric learning: 16 works x 4 performances, semi-hard mining, margin 1
        assert (config.train.works_per_batch, config.train.performances_per_work) == (16, 4)
        assert config.train.task == {"margin": 1.0, "mining": "semihard", "normalize": True}
    if config.feature.type != "waveform" and config.dataset.problem != "metric":
        assert config.feature.patch_hop < config.feature.patch_length  # overlapping patches, as in the book


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n.startswith("musdb18") else n
                                  for n in EXAMPLES])  # the separation U-Net needs 3 s windows: >10 s a step here
def test_one_training_step(name):
    _one_training_step(name, HEAVY.get(name))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(HEAVY))
def test_one_training_step_full_size(name):
    _one_training_step(name)


PUBLISHED = re.compile(r"^# book: .*\d", re.MULTILINE)


@pytest.mark.parametrize("name", EXAMPLES)
def test_config_states_the_published_result(name):
    text = (EXAMPLES_DIR / name).read_text(encoding="utf-8")
    assert PUBLISHED.search(text), f"{name}: no '# book: <metric> <value>' line"
    assert f"mirmodels fit examples/{name}" in text, f"{name}: the run command is missing"


@pytest.mark.parametrize("name", EXAMPLES)
def test_model_path_exists_and_dataset_base_is_a_converter_default(name):
    from pyjama_tools.converters import load_all

    config = _load(name)
    assert config.model_source is not None, f"{name}: name a model file of examples/models/"
    assert config.model_source.startswith("models/") and (EXAMPLES_DIR / config.model_source).is_file()
    bases = {cls.default_base for cls in load_all().values()} | {"cover1000"}  # Cover-1000: folder --name
    assert config.dataset.base in bases
    assert config.audio_path("DATA") == Path("DATA") / f"{config.dataset.base}_audio.hdf5"


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if "unet" in n else n for n in EXAMPLES])
def test_summary_command_builds_each_model(name):
    """``mirmodels summary examples/<name>.yaml`` follows the config's model path and builds it."""
    from mirmodels.cli import main

    config = _load(name)
    shape = input_shape(config)
    result = CliRunner().invoke(main, ["summary", str(EXAMPLES_DIR / name), "--input-shape",
                                       ",".join(map(str, shape)), "--var", f"n_out={config.dataset.n_out}"])
    assert result.exit_code == 0, result.output
    assert f"input {tuple(shape)}" in result.output
    rows = re.findall(r"^model\.block_l\S*\s+\S+\s+\(.*?\)\s+([\d,]+)$", result.output, re.MULTILINE)
    assert rows, result.output
    total = int(re.search(r"total parameters: ([\d,]+)", result.output).group(1).replace(",", ""))
    assert total == sum(int(r.replace(",", "")) for r in rows) > 0
    if config.dataset.problem in ("multiclass", "multilabel"):  # the last layer has dataset.n_out outputs
        assert f"output ({config.dataset.n_out},)" in result.output


def test_summary_command_names_a_wrong_input_shape():
    from mirmodels.cli import main

    # the chord model's frequency convolutions cannot run on 12 bins
    result = CliRunner().invoke(main, ["summary", str(EXAMPLES_DIR / "rwc_chords.yaml"), "--input-shape", "1,12,64"])
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and "Traceback" not in result.output
    assert "layer_l" in result.output


def test_move_for_12_rows_equals_the_book_move_on_the_23_row_stack():
    """cover_move_chroma12.yaml on chroma x == cover_move.yaml on [x; x[:11]] with the same weights."""
    from mirmodels.factory import build_model

    frames = 240
    book = build_model(EXAMPLES_DIR / "models" / "cover_move.yaml", (1, 23, frames))
    ours = build_model(EXAMPLES_DIR / "models" / "cover_move_chroma12.yaml", (1, 12, frames))
    book_state = book.state_dict()
    assert [tuple(v.shape) for v in ours.state_dict().values()] == [tuple(v.shape) for v in book_state.values()]
    ours.load_state_dict(dict(zip(ours.state_dict(), book_state.values())))
    book.eval(), ours.eval()
    x = torch.rand((3, 1, 12, frames), generator=torch.Generator().manual_seed(0))
    stacked = torch.cat([x, x[:, :, :11]], dim=2)
    with torch.no_grad():
        expected, got = book(stacked), ours(x)
    assert got.shape == (3, 32)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    # and it is transposition invariant up to the pooling: a rolled chroma gives the same embedding
    with torch.no_grad():
        rolled = ours(torch.roll(x, shifts=5, dims=2))
    torch.testing.assert_close(rolled, got, rtol=1e-5, atol=1e-6)


def test_a_config_that_breaks_the_book_shape_is_reported():
    """Patches too short for the model fail before training with one line naming the layer."""
    from pyjama_tools.core.errors import MirError

    config = load_config(EXAMPLES_DIR / "gtzan_lms.yaml", overrides=["feature.params.n_mels=64"])
    with pytest.raises(MirError, match=r"^\S*examples/models/autotag_lms.yaml: model.*layer_l\[1\].*Conv2d"):
        build_network(config, input_shape(config), config.dataset.n_out)


# ----------------------------------------------------------------------------- README


def test_readme_names_every_example_and_its_commands():
    text = README.read_text(encoding="utf-8")
    for name in EXAMPLES:
        stem = name.removesuffix(".yaml")
        assert f"mirmodels fit examples/{name}" in text, name
        assert f"mirmodels evaluate runs/{stem}" in text, name
    for corpus in ("gtzan", "mtt", "rwc-chord", "bach10", "maps", "da-tacos", "folder", "musdb18"):
        assert f"pyjama-convert {corpus} " in text, corpus


def test_every_readme_recipe_is_its_commands_without_a_snippet():
    """Each recipe (a bash block) is pyjama-convert, then mirmodels fit / evaluate: nothing to copy out."""
    text = README.read_text(encoding="utf-8")
    assert "```python" not in text and "split_lists.py" not in text
    blocks = re.findall(r"```bash\n(.*?)```", text, re.DOTALL)
    assert blocks
    for block in blocks:
        for line in block.splitlines():
            assert line.split()[0] in ("pyjama-convert", "mirmodels", "--set"), line


def _split(*args: str):
    from pyjama_tools.cli import main as convert_main

    return CliRunner().invoke(convert_main, ["split", *args])


def _synthetic_doc(path: Path, entries: int) -> list[str]:
    from pyjama_tools import pyjama

    doc = pyjama.PyjamaDoc()
    doc.define("stem", "global", "text", "free")
    keys = []
    for i in range(entries):
        key = f"piece{i // 5:02d}+++{'mix' if i % 5 == 0 else 'stem'}{i}.wav"
        doc.add_entry(key, {"stem": [pyjama.atom("mixture" if i % 5 == 0 else "violin")]})
        keys.append(key)
    pyjama.save(doc, path)
    return keys


def test_split_command_every_nth_and_where(tmp_path):
    keys = _synthetic_doc(tmp_path / "toy.pyjama", 100)
    done = _split(str(tmp_path / "toy.pyjama"), "--every", "20")
    assert done.exit_code == 0, done.output
    train = (tmp_path / "toy_train.txt").read_text().split()
    valid = (tmp_path / "toy_valid.txt").read_text().split()
    kept = keys[::20]  # 5 of 100
    assert valid == kept[::5] and train == [k for i, k in enumerate(kept) if i % 5]
    assert f"{tmp_path / 'toy_train.txt'}: 4 entries" in done.output

    done = _split(str(tmp_path / "toy.pyjama"), "--where", "stem=mixture", "--out-dir", str(tmp_path / "lists"))
    assert done.exit_code == 0, done.output
    mixes = keys[::5]  # 20 mixes
    assert (tmp_path / "lists" / "toy_valid.txt").read_text().split() == mixes[::5]
    assert (tmp_path / "lists" / "toy_train.txt").read_text().split() == [k for i, k in enumerate(mixes) if i % 5]
    done = _split(str(tmp_path / "toy.pyjama"), "--where", "stem=mixture", "--where", "stem=violin", "--every", "2",
                  "--group", "stem", "--out-dir", str(tmp_path / "grouped"))
    assert done.exit_code == 0, done.output  # the two stems are two groups: 'mixture' (first seen) is valid
    assert (tmp_path / "grouped" / "toy_valid.txt").read_text().split() == keys[::10]


@pytest.mark.parametrize("args, message", [
    (["--where", "stem"], "--where 'stem': expected KEY=VALUE"),
    (["--where", "nofield=x"], "where nofield: no such field; fields: filepath, stem"),
    (["--where", "stem=cello"], "where stem=cello: none of the 10 entries has it (its values: mixture, violin)"),
    (["--every", "10"], "the 'train' split would be empty (1 entries kept, rule 'index_mod5')"),
    (["--rule", "field"], "field 'split' is not defined"),
])
def test_split_command_bad_input_is_one_line_and_writes_nothing(tmp_path, args, message):
    _synthetic_doc(tmp_path / "toy.pyjama", 10)
    done = _split(str(tmp_path / "toy.pyjama"), *args)
    assert done.exit_code == 1 and message in done.output and len(done.output.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy.pyjama"]


def test_split_command_out_dir_that_is_a_file_is_one_line(tmp_path):
    _synthetic_doc(tmp_path / "toy.pyjama", 10)
    done = _split(str(tmp_path / "toy.pyjama"), "--out-dir", str(tmp_path / "toy.pyjama"))
    assert done.exit_code == 1 and len(done.output.strip().splitlines()) == 1, done.output
    assert f"{tmp_path / 'toy.pyjama'}: not a folder (--out-dir)" in done.output  # was "File exists"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy.pyjama"]


def test_split_lists_of_a_real_bach10_conversion_feed_rule_list(tmp_path):
    """The lists the command writes for our Bach10 piece are read back by rule 'list' as the same split."""
    source = fixture_path("bach10", "Bach10_v1.1")
    from mirfeat.splits import select_keys, split_keys
    from pyjama_tools import pyjama
    from pyjama_tools.convert import convert

    convert("bach10", source, tmp_path, sample_rate=None, quiet=True)
    done = _split(str(tmp_path / "bach10.pyjama"), "--where", "stem=mixture", "--where", "stem=violin")
    assert done.exit_code == 0, done.output
    doc = pyjama.load(tmp_path / "bach10.pyjama")
    lists = {"train": tmp_path / "bach10_train.txt", "valid": tmp_path / "bach10_valid.txt"}
    from_lists = split_keys(doc, rule="list", list_files=lists)
    from_config = split_keys(doc, keys=select_keys(doc, where={"stem": ["mixture", "violin"]}))
    assert from_lists == from_config == {"train": ["01-AchGottundHerr+++01-AchGottundHerr-violin.wav"],
                                         "valid": ["01-AchGottundHerr+++01-AchGottundHerr.wav"]}


def test_config_where_and_every_narrow_the_kept_entries(tmp_path):
    """dataset.where / dataset.every (the recipes' 1/20 of MTT, MAPS's pieces) before the split rule."""
    from mirfeat.splits import select_keys, split_keys
    from pyjama_tools import pyjama

    keys = _synthetic_doc(tmp_path / "toy.pyjama", 100)
    doc = pyjama.load(tmp_path / "toy.pyjama")
    config = _load("mtt_lms.yaml")
    assert config.dataset.every == 20 and config.dataset.split == "index_mod5"
    kept = select_keys(doc, keys, every=config.dataset.every)
    assert kept == keys[::20] and split_keys(doc, keys=kept)["valid"] == [keys[0]]
    bach10 = load_config(EXAMPLES_DIR / "bach10_hcqt_conv2d.yaml", overrides=["dataset.where={stem: mixture}"])
    assert select_keys(doc, keys, where=bach10.dataset.where) == keys[::5]


# ----------------------------------------------------------------------------- end to end (slow)
# The real runner (fit → evaluate) on small synthetic pairs written under the recipes' base names:
# one epoch of a few batches, to prove that each kind of config runs as written (splits, feature
# cache, dataset, network, task, evaluation); the scores of an untrained network are not checked.

QUICK = ["train.max_epochs=1", "train.num_workers=0", "train.accelerator=cpu", "train.limit_train_batches=2",
         "train.limit_val_batches=2", "train.logger=none"]


def _fit_and_evaluate(name: str, data: Path, run: Path, *overrides: str) -> dict:
    from mirmodels.evaluate import evaluate
    from mirmodels.experiment import fit

    result = fit(EXAMPLES_DIR / name, out=run, data_root=data, overrides=[*QUICK, *overrides], quiet=True)
    assert math.isfinite(result.best_valid_loss) and result.best_state_dict.is_file()
    assert tuple(result.metadata["input_shape"]) == tuple(
        (*BOOK_INPUT_SHAPES[name][:-1], _load(name).feature.patch_length))
    scores = evaluate(run, quiet=True).data
    assert scores["problem"] == _load(name).dataset.problem and scores["num_files"] > 0
    return scores


def _write_wav(path: Path, audio: np.ndarray, sample_rate: int = 22050) -> None:
    import soundfile

    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, audio.astype(np.float32), sample_rate)


def _tones(midi: np.ndarray, seconds_each: float, sample_rate: int = 22050) -> np.ndarray:
    t = np.arange(int(sample_rate * seconds_each)) / sample_rate
    return 0.3 * np.concatenate([np.sin(2 * np.pi * 440.0 * 2 ** ((m - 69) / 12) * t) for m in midi])


@pytest.mark.slow
def test_end_to_end_gtzan_lms_and_waveform(tmp_path):
    from pyjama_tools.convert import convert

    genres = "blues classical country disco hiphop jazz metal pop reggae rock".split()
    for g, genre in enumerate(genres):  # the 10 genres, 2 clips of 4 s each
        for i in range(2):
            clip = tmp_path / "raw" / "genres" / genre / f"{genre}.{i:05d}.wav"
            _write_wav(clip, _tones(np.full(4, 40 + 3 * g), 1.0))
    convert("gtzan", tmp_path / "raw", tmp_path / "data", quiet=True)
    scores = _fit_and_evaluate("gtzan_lms.yaml", tmp_path / "data", tmp_path / "run_lms", "train.batch_size=8")
    assert 0.0 <= scores["metrics"]["macro_recall"] <= 1.0
    scores = _fit_and_evaluate("gtzan_wave_conv1d.yaml", tmp_path / "data", tmp_path / "run_wave", "train.batch_size=8")
    assert scores["num_files"] == 4  # entries 0, 5, 10, 15


@pytest.mark.slow
def test_end_to_end_bach10_as_the_readme_says(tmp_path):
    from pyjama_tools.cli import main as convert_main

    data = tmp_path / "data"  # a 4-voice f0multi corpus under Bach10's base name
    done = CliRunner().invoke(convert_main, ["synth", str(data), "--files", "5", "--seconds-per-file", "3",
                                             "--name", "bach10", "--quiet"])
    assert done.exit_code == 0, done.output
    scores = _fit_and_evaluate("bach10_hcqt_conv2d.yaml", data, tmp_path / "run", "train.batch_size=4")
    assert scores["num_files"] == 1  # the 5 entries kept: number 0 is the validation set
    assert {"Precision", "Recall", "Accuracy"} <= set(scores["metrics"])
    assert {"Precision", "Recall", "Accuracy"} <= set(scores["metrics_patch_average_tutorial"])


@pytest.mark.slow
def test_end_to_end_rwc_chords(tmp_path):
    from pyjama_tools.cli import main as convert_main

    data = tmp_path / "data"  # chord segments, 25 s per file: one 1024-frame patch each
    done = CliRunner().invoke(convert_main, ["synth", str(data), "--files", "5", "--seconds-per-file", "25",
                                             "--name", "rwc-pop_chord", "--quiet"])
    assert done.exit_code == 0, done.output
    scores = _fit_and_evaluate("rwc_chords.yaml", data, tmp_path / "run", "train.batch_size=2")
    assert scores["num_files"] == 1


@pytest.mark.slow
def test_end_to_end_cover1000_move(tmp_path):
    from pyjama_tools.convert import convert

    rng = np.random.default_rng(0)
    for work in range(5):  # 5 works x 4 transposed performances of 4 s
        melody = rng.integers(48, 72, 8)
        for performance in range(4):
            _write_wav(tmp_path / "raw" / f"work{work}" / f"perf{performance}.wav", _tones(melody + performance, 0.5))
    convert("folder", tmp_path / "raw", tmp_path / "data", name="cover1000", field="work-id", quiet=True)
    scores = _fit_and_evaluate("cover1000_move.yaml", tmp_path / "data", tmp_path / "run",
                               "train.works_per_batch=2", "train.limit_train_batches=1")
    assert scores["num_files"] == 4  # work0 (group ordinal 0) is the validation set
    assert {"MR1", "MRR", "P@1", "mAP"} <= set(scores["metrics"])


def _write_datacos(root: Path, works: int, performances: int, frames: int) -> None:
    """The Da-TACOS layout (deepdish-style HDF5: root attrs label / track_id, dataset crema (12, T))."""
    import h5py

    rng = np.random.default_rng(0)
    folder = root / "da-tacos_benchmark_subset_crema"
    for w in range(works):
        chroma = rng.random((12, frames), dtype=np.float32)
        for p in range(performances):
            path = folder / f"W_{w}_crema" / f"P_{w}{p}_crema.h5"
            path.parent.mkdir(parents=True, exist_ok=True)
            with h5py.File(path, "w") as handle:
                handle.attrs["label"] = np.bytes_(f"W_{w}")
                handle.attrs["track_id"] = np.bytes_(f"P_{w}{p}")
                handle["crema"] = np.roll(chroma, p, axis=0)  # transposed performances


@pytest.mark.slow
def test_end_to_end_datacos_feature_only(tmp_path):
    from pyjama_tools.convert import convert

    _write_datacos(tmp_path / "raw", works=5, performances=4, frames=900)  # shorter than 1800: zero-padded
    convert("da-tacos", tmp_path / "raw", tmp_path / "data", subset="benchmark", feature="crema", quiet=True)
    assert (tmp_path / "data" / "da-tacos_crema_feat.hdf5").is_file()
    assert not (tmp_path / "data" / "da-tacos_audio.hdf5").exists()
    scores = _fit_and_evaluate("datacos_move.yaml", tmp_path / "data", tmp_path / "run",
                               "train.works_per_batch=2", "train.limit_train_batches=1")
    assert scores["num_files"] == 4 and {"MR1", "MRR", "P@1", "mAP"} <= set(scores["metrics"])


@pytest.mark.slow
def test_end_to_end_mtt_subset_as_the_readme_says(tmp_path):
    """The MagnaTagATune layout (TAB CSV, quoted cells, MP3), the 1/N subset (dataset.every), 50 tags → $n_out."""
    import soundfile

    from pyjama_tools.convert import convert

    if "MP3" not in soundfile.available_formats():
        pytest.skip("libsndfile without MP3 writing")
    rng = np.random.default_rng(0)
    tags = [f"tag{i}" for i in range(55)]
    rows = ["\t".join(["clip_id", *tags, "mp3_path"])]
    for clip in range(10):
        path = tmp_path / "raw" / "mp3" / "a" / f"clip{clip}.mp3"
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(path, _tones(np.full(4, 50 + clip), 1.0, 16000).astype(np.float32), 16000, format="MP3")
        cells = ['"1"' if rng.random() < 0.3 else '"0"' for _ in tags]
        rows.append("\t".join([str(clip), *cells, f"a/clip{clip}.mp3"]))
    (tmp_path / "raw" / "annotations_final.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    convert("mtt", tmp_path / "raw", tmp_path / "data", top_tags=50, quiet=True)
    scores = _fit_and_evaluate("mtt_lms.yaml", tmp_path / "data", tmp_path / "run", "train.batch_size=4",
                               "dataset.every=2")
    assert scores["num_files"] == 1  # 5 clips kept: clip 0 is the validation set
    assert "average_precision_micro" in scores["metrics"]


@pytest.mark.slow
def test_end_to_end_maps_split_by_piano(tmp_path):
    """Note segments (pitchmidi) and a piano per file: the validation piano's files stay together."""
    from pyjama_tools import pyjama
    from pyjama_tools.cli import main as convert_main

    data = tmp_path / "data"
    done = CliRunner().invoke(convert_main, ["synth", str(data), "--files", "6", "--seconds-per-file", "3",
                                             "--name", "maps", "--quiet"])
    assert done.exit_code == 0, done.output
    doc = pyjama.load(data / "maps.pyjama")
    doc.define("piano", "global", "text", "free")
    for index, entry in enumerate(doc.entries):  # pianos A, A, B, B, C, C
        entry["piano"] = [pyjama.atom("ABC"[index // 2])]
    pyjama.save(doc, data / "maps.pyjama")
    scores = _fit_and_evaluate("maps_hcqt_conv2d.yaml", data, tmp_path / "run", "train.batch_size=4")
    assert scores["num_files"] == 2  # both files of piano A
    assert {"Precision", "Recall", "Accuracy"} <= set(scores["metrics"])
