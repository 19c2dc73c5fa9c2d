"""Reading a UTF-8 text file (a .pyjama document, a split list, a metadata JSON) with one-line errors."""

from __future__ import annotations

import os
from pathlib import Path

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
