"""The one error of the experiment config."""

from __future__ import annotations

from pyjama_tools.core.errors import MirError

__all__ = ["ConfigError"]


class ConfigError(MirError):
    """An experiment config that cannot be used; the message names the file and the YAML path."""
