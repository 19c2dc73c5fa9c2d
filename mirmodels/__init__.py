"""mirmodels: networks written in YAML, trained with Lightning, scored with mir_eval and scikit-learn."""

__version__ = "0.1.0"

# Heavy parts (torch) load on first use: ``import mirmodels`` stays light.
_LAZY = {
    "build_model": ("mirmodels.factory", "build_model"),
    "ModelConfigError": ("mirmodels.factory", "ModelConfigError"),
    "register_layer": ("mirmodels.layers", "register_layer"),
    "summarize": ("mirmodels.summary", "summarize"),
    "format_summary": ("mirmodels.summary", "format_summary"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'mirmodels' has no attribute {name!r}")
