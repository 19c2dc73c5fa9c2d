"""Train / valid / test splits: :mod:`pyjama_tools.splits` (where ``pyjama-convert split`` reads them too),
under its former name."""

from pyjama_tools.splits import (
    SPLIT_NAMES,
    SPLIT_RULES,
    select_keys,
    split_keys,
    write_split_lists,
)

__all__ = ["SPLIT_NAMES", "SPLIT_RULES", "select_keys", "split_keys", "write_split_lists"]
