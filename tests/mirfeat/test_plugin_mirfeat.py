"""mirfeat's plug-ins: features and target kinds are added through their registries alone.

- the feature package has no import cycle: every module imports alone, ``base`` does not import the
  torch backend and the backend imports no feature module (each feature holds its torch variant);
- a target kind registered here with its own options is validated by ``TargetSpec``, which names no kind;
- a feature registered here with a torch variant runs through the torch backend.
"""

from __future__ import annotations

import ast
import os
import pkgutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import mirfeat.features
import mirfeat.targets
from mirfeat.features import base as feature_base
from mirfeat.features import build_feature
from mirfeat.features.base import BadAudioError, Feature, FeatureParams, FeatureValue, check_audio, register_feature
from mirfeat.targets import base as target_base
from mirfeat.targets import TargetSpec, build_target, register_target, target_kinds
from pyjama_tools.core.errors import MirError, ParameterError
from pyjama_tools.pyjama import PyjamaDoc, global_atoms

FEATURES_DIR = Path(mirfeat.features.__file__).parent
REPO = FEATURES_DIR.parents[1]
FEATURE_MODULES = sorted(f"mirfeat.features.{m.name}" for m in pkgutil.iter_modules([str(FEATURES_DIR)]))


# ----------------------------------------------------------------------------- helpers


def imported_modules(path: Path, package: str = "mirfeat.features") -> set[str]:
    """Every module ``path`` imports, at any depth (function bodies too); ``from pkg import sub``
    counts as ``pkg.sub`` when ``sub`` is a module of the package, else as ``pkg`` itself."""
    submodules = {m.name for m in pkgutil.iter_modules([str(FEATURES_DIR)])}
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                is_submodule = node.module == package and alias.name in submodules
                found.add(f"{node.module}.{alias.name}" if is_submodule else node.module)
    return found


def registers_a_feature(path: Path) -> bool:
    """True when the module decorates a class with ``register_feature``."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ClassDef):
            if any(isinstance(d, ast.Name) and d.id == "register_feature" for d in node.decorator_list):
                return True
    return False


@pytest.fixture
def scoped_features(monkeypatch):
    """The feature registry, scoped to one test (what the test registers goes with it)."""
    with feature_base.FEATURES.scoped() as features:
        yield features


@pytest.fixture
def scoped_targets(monkeypatch):
    """The target-kind registry, scoped to one test."""
    with target_base.TARGETS.scoped() as targets:
        yield targets


# ----------------------------------------------------------------------------- (a) no import cycle


#: the backend and the modules on either side of the old cycle run always; the others (1.5 s each) as slow
ALWAYS = {"mirfeat.features.base", "mirfeat.features.torch_backend", "mirfeat.features.torch_variant",
          "mirfeat.features.lms"}


@pytest.mark.parametrize("module", [m if m in ALWAYS else pytest.param(m, marks=pytest.mark.slow)
                                    for m in FEATURE_MODULES])
def test_every_feature_module_imports_alone(module):
    """Each module imports in a fresh interpreter; only the torch backend (and its self-check) import torch."""
    code = f"import sys, {module}; print('torch' in sys.modules)"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(module in ("mirfeat.features.torch_backend", "mirfeat.features.torch_check"))


def test_base_and_torch_backend_do_not_import_each_other():
    base_imports = imported_modules(FEATURES_DIR / "base.py")
    assert "mirfeat.features.torch_backend" not in base_imports
    feature_modules = {f"mirfeat.features.{path.stem}" for path in FEATURES_DIR.glob("*.py") if registers_a_feature(path)}
    assert {"mirfeat.features.lms", "mirfeat.features.cqt", "mirfeat.features.stft"} <= feature_modules
    backend_imports = imported_modules(FEATURES_DIR / "torch_backend.py")
    # the package itself imports every feature module, so it counts as one
    assert not backend_imports & (feature_modules | {"mirfeat.features"}), sorted(backend_imports)


# ----------------------------------------------------------------------------- (b) a toy target kind


class CountTarget(target_base.Target):
    """Toy kind: ``y`` = how many values an entry has, at most ``top_n`` (its one option)."""

    options = frozenset({"top_n"})

    def _compute(self, key, time_sec, frequency_hz) -> int:
        count = len(self.doc.values(key, self.spec.field))
        return count if self.spec.top_n is None else min(count, self.spec.top_n)

    def _expand(self, compact: int, start: int, stop: int) -> np.ndarray:
        return np.array(compact, dtype=np.int64)


def tag_doc() -> PyjamaDoc:
    doc = PyjamaDoc()
    doc.define("tag", "global")
    doc.add_entry("a", {"tag": global_atoms(["x", "y", "z"])})
    doc.add_entry("b", {"tag": global_atoms(["x"])})
    return doc


def test_spec_names_no_kind():
    spec_source = Path(mirfeat.targets.spec.__file__)
    strings = {node.value for node in ast.walk(ast.parse(spec_source.read_text()))
               if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    assert not strings & set(target_kinds())


def test_a_toy_kind_is_validated_through_the_registry(scoped_targets):
    register_target("count")(CountTarget)
    assert "count" in target_kinds()  # scoped_targets removes it after the test
    target = build_target(TargetSpec("count", "tag", top_n=2), tag_doc())
    assert int(target.for_file("a")) == 2 and int(target.for_file("b")) == 1
    # the option's own value check still holds for the new kind
    with pytest.raises(ParameterError, match="top_n 0 must be a positive integer"):
        TargetSpec("count", "tag", top_n=0)
    # an option the kind does not declare: one line naming the option and the kinds that take it
    with pytest.raises(ParameterError) as error:
        TargetSpec("count", "tag", chord_vocabulary="majmin")
    assert str(error.value) == "chord_vocabulary is for kind 'framelabel', not 'count'"
    with pytest.raises(ParameterError) as error:
        TargetSpec("count", "tag", pitch_unit="hz")
    assert str(error.value) == "pitch_unit is for kind 'pitch', not 'count'"
    # the kinds accepting top_n come from the registry: the toy is among them now
    with pytest.raises(ParameterError) as error:
        TargetSpec("multiclass", "tag", top_n=2)
    assert str(error.value) == "top_n is for kind 'count' or 'multilabel', not 'multiclass'"
    with pytest.raises(ParameterError, match=r"unknown target kind 'cuont' \(did you mean count\?\)"):
        TargetSpec("cuont", "tag")


# ----------------------------------------------------------------------------- (c) a toy torch feature


@dataclass(frozen=True)
class GainParams(FeatureParams):
    """The toy's one parameter."""

    gain: float = 2.0


class Gain(mirfeat.features.torch_variant.TorchVariant, Feature):
    """Toy feature: the waveform times ``gain``, with its torch variant beside the numpy one."""

    name = "toygain"
    Params = GainParams

    def axes(self, n_samples: int, sr: float):
        return np.arange(n_samples) / float(sr), None

    def compute(self, audio: np.ndarray, sr: float) -> FeatureValue:
        audio = check_audio(audio, self.name)
        return FeatureValue((self.params.gain * audio).reshape(1, 1, -1), self.axes(audio.size, sr)[0], None)

    def torch_value(self, audio, sr: float):
        return (self.params.gain * audio)[:, None, None, :]


def test_a_toy_feature_runs_through_the_torch_backend(scoped_features):
    torch = pytest.importorskip("torch")
    from mirfeat.features import torch_backend

    register_feature(Gain)
    feature = build_feature("toygain", {"gain": "3"})
    batch = np.random.default_rng(0).standard_normal((2, 100)).astype(np.float32)
    value = feature.compute_torch(torch.as_tensor(batch), 8000, device="cpu")
    assert value.dtype == torch.float32 and tuple(value.shape) == (2, 1, 1, 100)
    np.testing.assert_allclose(value[1].numpy(), feature.compute(batch[1], 8000).value, rtol=1e-6)
    np.testing.assert_allclose(torch_backend.compute_batch(feature, batch[0], 8000)[0].numpy(), 3 * batch[:1, None])
    # the backend's shared checks apply to it
    with pytest.raises(BadAudioError, match="toygain: audio holds NaN/inf"):
        feature.compute_torch(np.full(10, np.nan, dtype=np.float32), 8000)
    with pytest.raises(ParameterError, match="toygain: sample rate must be a positive number"):
        feature.compute_torch(batch, 0)
    # and the backend lists it among the features that have a torch variant
    with pytest.raises(ParameterError, match=r"chroma: no torch backend; features with one: .*toygain"):
        build_feature("chroma").compute_torch(batch, 22050)


def test_mirfeat_show_draws_a_feature_as_its_class_says(scoped_features):
    from mirfeat.show import display_of

    magnitude = np.array([[1.0, 0.1], [0.01, 0.0]])
    decibels = [[0.0, -20.0], [-40.0, -80.0]]
    for name in ("cqt", "hcqt", "stft"):
        np.testing.assert_allclose(display_of(name)(magnitude), decibels)
    np.testing.assert_array_equal(display_of("lms")(magnitude), magnitude)
    np.testing.assert_array_equal(display_of("crema")(magnitude), magnitude)  # not a registered feature

    class Loud(Gain):
        name = "loud"
        display = "decibels"

    register_feature(Loud)  # a new feature says how it is drawn; mirfeat show names no feature
    np.testing.assert_allclose(display_of("loud")(magnitude), decibels)
    Loud.display = "log"
    with pytest.raises(MirError, match=r"^feature 'loud': unknown display 'log'; known: decibels, linear$"):
        display_of("loud")
