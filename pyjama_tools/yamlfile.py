"""Reading YAML files (configs, models, feature settings) with one-line errors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from pyjama_tools.errors import MirError


def read_yaml(path: str | os.PathLike, what: str = "", error: type[MirError] = MirError) -> Any:
    """``yaml.safe_load`` of a file (``None`` when empty).

    Parameters
    ----------
    path : the YAML file
    what : what the file is, for the messages ("config", "model"); empty = plain "file"
    error : the :class:`MirError` subclass to raise

    Raises
    ------
    error
        A folder, a missing file, a syntax error (naming line and column) or a file that is not UTF-8,
        each as one line that starts with the path.
    """
    path = Path(path)
    kind = f"{what} file" if what else "file"
    if path.is_dir():
        raise error(f"{path}: is a folder, not a {what or 'YAML'} file")
    if not path.is_file():
        raise error(f"{path}: no such {kind}")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as problem:
        mark = getattr(problem, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        reason = getattr(problem, "problem", None) or str(problem).splitlines()[0]
        raise error(f"{path}: invalid YAML{where}: {reason}") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not a UTF-8 text file") from None
    except OSError as problem:
        raise error(f"{path}: cannot read ({problem.strerror})") from None
