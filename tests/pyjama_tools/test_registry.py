"""core.registry.Registry, and every plug-in registry of the three packages built on it."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest

from pyjama_tools.core.errors import MirError, ParameterError
from pyjama_tools.core.registry import Registry, close_names, did_you_mean

ROOT = Path(__file__).resolve().parents[2]


# ----------------------------------------------------------------------------- the helper


def _colours() -> Registry:
    colours = Registry("colour")
    colours.add("red", 1)
    colours.add("green", 2, aliases=("verde",))
    colours.add("blue", 3)
    return colours


def test_register_by_decorator_uses_the_given_name_or_the_items_name():
    shapes = Registry("shape")

    @shapes.register("square", "box")
    class Square:
        pass

    @shapes.register()
    class Circle:
        name = "circle"

    assert shapes.lookup("square") is Square and shapes.lookup("box") is Square
    assert shapes.lookup("circle") is Circle
    assert shapes.names() == ["circle", "square"]  # aliases resolve but are not listed


def test_aliases_resolve_but_are_not_names():
    colours = _colours()
    assert colours.lookup("verde") == 2 and colours.resolve("verde") == "green"
    assert "verde" in colours and colours["verde"] == 2
    assert list(colours) == ["red", "green", "blue"] and len(colours) == 3
    assert colours.names() == ["blue", "green", "red"]


def test_fold_case_resolves_any_case_only_when_asked():
    exact, folded = Registry("optimizer"), Registry("optimizer", fold_case=True)
    for registry in (exact, folded):
        registry.add("adam", "A", aliases=("adam-w",))
    assert folded.lookup("ADAM") == "A" and folded.lookup("Adam-W") == "A" and folded.resolve("Adam") == "adam"
    assert "Adam" not in exact
    with pytest.raises(MirError, match=r"unknown optimizer 'Adam' \(did you mean adam\b"):
        exact.lookup("Adam")  # a case slip is still suggested


def test_a_taken_name_is_refused_unless_replace():
    colours = _colours()
    colours.add("red", 1)  # the same item again: accepted
    with pytest.raises(MirError, match=r"^colour name 'red' is already registered \(to 1\); pass replace=True$"):
        colours.add("red", 10)
    with pytest.raises(MirError, match="already registered"):
        colours.register("blue")(30)
    colours.add("red", 10, replace=True)
    assert colours.lookup("red") == 10


def test_an_alias_is_not_rebound_and_a_name_does_not_shadow_an_alias():
    colours = _colours()
    with pytest.raises(MirError, match=r"^colour alias 'verde' of 'red' is already registered as alias 'verde' "
                                       r"\(of 'green'\)$"):
        colours.add("red", 1, aliases=("verde",))
    with pytest.raises(MirError, match=r"^colour name 'verde' is already registered as alias 'verde'"):
        colours.add("verde", 4)
    with pytest.raises(MirError, match=r"^colour alias 'blue' of 'cyan' is already registered as name 'blue'$"):
        colours.add("cyan", 5, aliases=("blue",))
    with pytest.raises(MirError, match="already registered as alias"):
        colours.add("verde", 4, replace=True)  # replace is for the item of a name, not for taking an alias
    assert colours.lookup("verde") == 2 and "cyan" not in colours and colours.lookup("red") == 1
    colours.add("green", 2, aliases=("verde",))  # the same registration again: accepted


def test_fold_case_refuses_names_that_differ_only_in_case():
    folded = Registry("optimizer", fold_case=True)
    folded.add("adam", "A", aliases=("adam-w",))
    with pytest.raises(MirError, match=r"^optimizer name 'Adam' is already registered as name 'adam'$"):
        folded.add("Adam", "B")
    with pytest.raises(MirError, match=r"^optimizer alias 'ADAM-W' of 'sgd' is already registered as alias"):
        folded.add("sgd", "S", aliases=("ADAM-W",))
    exact = Registry("optimizer")
    exact.add("adam", "A")
    exact.add("Adam", "B")  # without fold_case the two names are distinct
    assert folded.names() == ["adam"] and exact.names() == ["Adam", "adam"]


def test_register_without_a_name_needs_a_name_attribute():
    shapes = Registry("shape")
    with pytest.raises(MirError, match=r"^shape .*register\(\) without a name needs an item with a string 'name'"):
        shapes.register()(object())
    assert shapes.names() == []


def test_scoped_undoes_the_registrations_of_its_block_in_place():
    colours = _colours()
    with colours.scoped() as scoped:
        assert scoped is colours
        colours.add("purple", 4, aliases=("violet",))
        colours.add("red", 10, replace=True)
        assert colours.lookup("violet") == 4
    assert "purple" not in colours and "violet" not in colours and colours.lookup("red") == 1
    with pytest.raises(RuntimeError), colours.scoped():
        colours.add("purple", 4)
        raise RuntimeError
    assert "purple" not in colours


def test_unknown_name_is_one_line_with_suggestion_known_names_and_where():
    colours = _colours()
    with pytest.raises(MirError) as caught:
        colours.lookup("gren", where="paint.yaml: colour: ")
    assert str(caught.value) == "paint.yaml: colour: unknown colour 'gren' (did you mean green?); known: blue, green, red"
    assert str(colours.unknown("purple")) == "unknown colour 'purple'; known: blue, green, red"
    assert colours.suggest("bleu") == ["blue"] and colours.hint("verd") == " (did you mean verde?)"
    with pytest.raises(MirError, match=r"unknown colour 3;"):
        colours.lookup(3)  # not a name at all: still one line


def test_lookup_raises_the_registrys_error_class():
    params = Registry("rule", error=ParameterError)
    params.add("field", 1)
    with pytest.raises(ParameterError, match=r"^unknown rule 'feild' \(did you mean field\?\); known: field$"):
        params.lookup("feild")


def test_mapping_api():
    colours = _colours()
    assert dict(colours) == {"red": 1, "green": 2, "blue": 3}
    assert colours.get("nope") is None and colours.get("verde") == 2
    with pytest.raises(KeyError):
        colours["nope"]
    assert sorted(colours.items()) == [("blue", 3), ("green", 2), ("red", 1)]
    assert repr(colours) == "Registry('colour': blue, green, red)"


def test_the_suggestion_cutoff_is_per_registry():
    loose, strict = Registry("layer", cutoff=0.5), Registry("layer")
    for registry in (loose, strict):
        registry.add("Conv2d", 1)
    assert loose.suggest("Cn") == ["Conv2d"] and strict.suggest("Cn") == []
    assert strict.suggest("Cn", cutoff=0.5) == ["Conv2d"]


def test_did_you_mean_outside_a_registry():
    assert did_you_mean("n_melz", ["n_mels", "n_fft"], n=1) == " (did you mean n_mels?)"
    assert did_you_mean("strat", ["channels", "start"], n=1, quote=True) == " (did you mean 'start'?)"
    assert did_you_mean("zzz", ["n_mels"]) == ""
    assert close_names("hop", ["HOP"]) == ["HOP"]  # a case slip counts as close


# ----------------------------------------------------------------------------- the project's registries


def _discovered() -> dict[str, Registry]:
    """Every module-level ``Registry`` of the three packages, by ``module.attribute`` (each once)."""
    found: dict[int, tuple[str, Registry]] = {}
    for package in ("pyjama_tools", "mirfeat", "mirmodels"):
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            if info.name.endswith(".__main__"):
                continue
            module = importlib.import_module(info.name)
            for attribute, value in vars(module).items():
                if isinstance(value, Registry):
                    found.setdefault(id(value), (f"{info.name}.{attribute}", value))
    return dict(found.values())


#: registries that must be among the discovered ones (a new one needs no line here)
KNOWN = {"CONVERTERS", "SPLIT_RULES", "WRITERS", "FEATURES", "TARGETS", "BACKENDS", "LAYERS", "ACTIVATIONS",
         "OPTIMIZERS", "MINERS", "TASKS", "RENDERERS"}


def test_every_registry_is_discovered_and_suggests_on_one_line():
    registries = _discovered()
    assert KNOWN <= {where.rsplit(".", 1)[1] for where in registries}, sorted(registries)
    for where, registry in registries.items():
        assert registry.names(), f"{where} is empty"
        name = max(registry.names(), key=len)
        misspelt = f"{name}q"
        assert misspelt not in registry, where
        with pytest.raises(MirError) as caught:
            registry.lookup(misspelt, where="here: ")
        message = str(caught.value)
        assert "\n" not in message, where
        assert message.startswith(f"here: unknown {registry.kind} {misspelt!r} (did you mean "), where
        assert name in message.split("(did you mean ")[1].split("?)")[0], where
        assert message.endswith(f"; known: {', '.join(registry.names())}"), where


def _raises(call) -> str:
    with pytest.raises(MirError) as caught:
        call()
    return str(caught.value)


def test_public_lookups_keep_their_names_and_give_the_registry_line():
    from pyjama_tools.converters import CONVERTERS, get_converter_class
    from mirmodels.layers import get_layer, layer_names, register_layer
    from mirmodels.layers.dense import activation
    from mirmodels.losses import TripletLossParams
    from mirmodels.optim import build_optimizer, check_optimizer_params

    assert get_converter_class("gtzan") is CONVERTERS["gtzan"]
    assert _raises(lambda: get_converter_class("gtzn")).startswith("unknown corpus 'gtzn' (did you mean gtzan")
    assert get_layer("Conv2d").name == "Conv2d" and "Conv2d" in layer_names()
    assert _raises(lambda: get_layer("conv2d")).startswith("unknown layer 'conv2d' (did you mean Conv2d")  # case slip
    assert _raises(lambda: activation("Relu")).startswith("unknown activation 'Relu' (did you mean ReLU")
    assert _raises(lambda: build_optimizer("Adamm", [])).startswith("unknown optimizer 'Adamm' (did you mean adam")
    check_optimizer_params("ADAM", 0.1)  # optimizers and miners are case-insensitive, as before
    assert TripletLossParams(mining="Batch-Hard").mining == "hard"
    assert _raises(lambda: TripletLossParams(mining="semihrad")).startswith(
        "mining: unknown mining strategy 'semihrad' (did you mean semihard")
    with pytest.raises(MirError, match="already registered"):
        register_layer("Conv2d")(object)


# ----------------------------------------------------------------------------- one did-you-mean helper

def test_difflib_is_used_only_by_core_registry():
    users = {
        path.relative_to(ROOT).as_posix()
        for package in ("pyjama_tools", "mirfeat", "mirmodels")
        for path in (ROOT / package).rglob("*.py")
        if "difflib" in path.read_text(encoding="utf-8")
    }
    users.discard("pyjama_tools/core/registry.py")
    assert users == set(), f"use core.registry (Registry, did_you_mean) instead of difflib in {sorted(users)}"
