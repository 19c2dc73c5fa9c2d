"""Reading a UTF-8 text file (a .pyjama document, a split list, a metadata JSON) and JSON, with one-line errors."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pyjama_tools.core.errors import MirError


def read_text(path: str | os.PathLike) -> str:
    """The text of a UTF-8 file.

    Raises
    ------
    MirError
        ``PATH: no such file``, or ``PATH: cannot read (...)`` for any other I/O error or a file that
        is not UTF-8.
    """
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MirError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise MirError(f"{path}: cannot read ({error})") from None


def parse_json(text: str, where: str = "", what: str = "") -> Any:
    """The JSON value of ``text``.

    Raises
    ------
    MirError
        ``WHEREmalformed JSON at line L, column C: MESSAGE`` (``where`` is e.g. ``"PATH: "``), or
        ``WHEREJSON nested too deeply`` for arrays / objects nested thousands deep (``... to be WHAT`` when
        ``what`` names what the text should be, e.g. ``"a pyjama document"``).
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise MirError(f"{where}malformed JSON at line {error.lineno}, column {error.colno}: {error.msg}") from None
    except RecursionError:
        raise MirError(f"{where}JSON nested too deeply" + (f" to be {what}" if what else "")) from None


def read_json(path: str | os.PathLike) -> Any:
    """The JSON value of a UTF-8 file; every failure is one line naming ``path`` (see :func:`read_text`,
    :func:`parse_json`)."""
    return parse_json(read_text(path), f"{path}: ")
