"""Corpus converters, one module per corpus, registered by name.

Every module of this package is imported on first use, so a new corpus is one new module
that decorates its :class:`~pyjama_tools.converters.base.Converter` subclass with
:func:`~pyjama_tools.converters.base.register_converter`.
"""

from __future__ import annotations

import importlib
import pkgutil

from pyjama_tools.converters.base import (CONVERTERS, Converter, ConverterOption, Item, Problem,
                                          register_converter)
from pyjama_tools.converters.base import get_converter_class as _get_converter_class
from pyjama_tools.core.registry import Registry

_loaded = False


def load_all() -> Registry[type[Converter]]:
    """Import every converter module (once) and return the registry."""
    global _loaded
    if not _loaded:
        for module in pkgutil.iter_modules(__path__):
            if module.name != "base":
                importlib.import_module(f"{__name__}.{module.name}")
        _loaded = True
    return CONVERTERS


def get_converter_class(name: str) -> type[Converter]:
    """The converter registered as ``name`` (see ``pyjama-convert list``)."""
    load_all()
    return _get_converter_class(name)


__all__ = ["CONVERTERS", "Converter", "ConverterOption", "Item", "Problem", "register_converter",
           "get_converter_class", "load_all"]
