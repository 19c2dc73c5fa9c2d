"""Train / valid / test splits: :mod:`pyjama_tools.splits` (where ``pyjama-convert split`` reads them too),
under its former name."""

from pyjama_tools.splits import select_keys, split_keys

__all__ = ["select_keys", "split_keys"]
