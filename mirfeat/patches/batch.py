"""A batch read straight into one tensor: :class:`PatchBatch` and its :func:`collate`."""

from __future__ import annotations

import functools
import math
from typing import Any
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import default_collate


@functools.cache
def cuda_available() -> bool:
    """Whether CUDA can use pinned batches (asked once per process)."""
    return bool(torch.cuda.is_available())


def batch_tensor(shape: tuple[int, ...], pin: bool) -> torch.Tensor:
    """An uninitialised float32 tensor for a batch: in shared memory inside a DataLoader worker
    (as torch's collate allocates it, so sending it to the main process copies nothing), else
    pinned when ``pin`` (then ``DataLoader(pin_memory=True)`` copies nothing either)."""
    if torch.utils.data.get_worker_info() is not None:
        try:
            storage = torch.UntypedStorage._new_shared(math.prod(shape) * 4)
            return torch.empty(0, dtype=torch.float32).set_(storage).view(shape)
        except (AttributeError, RuntimeError):  # pragma: no cover - private API moved: pickling shares it
            return torch.empty(shape, dtype=torch.float32)
    if pin:
        try:
            return torch.empty(shape, dtype=torch.float32, pin_memory=True)
        except RuntimeError:  # no usable CUDA after all
            pass
    # numpy's allocator, not torch's: numpy asks for transparent huge pages on large arrays and
    # its freed batches come back without page faults, where a fresh torch.empty of a (32, 6, 360,
    # 64) batch faulted in 300-3700 of its 4320 pages again (preads into it up to 3x slower, measured)
    return torch.from_numpy(np.empty(shape, dtype=np.float32))


class PatchBatch(list):
    """The items of one batch (a list of item dicts, for any collate), holding their collated batch.

    Each item is ``{'X', 'y', 'key', 'start'}`` as :meth:`PatchDataset.__getitem__` gives it, with
    X and y views of the batch tensors. :func:`collate` returns :attr:`collated` (the dict
    ``{'X': (B, ...), 'y': (B, ...), 'key': list of str, 'start': (B,) int64}``, what
    :func:`torch.utils.data.default_collate` would build) without copying; torch's default collate
    also works on it, stacking the views into new tensors (one more copy).
    """

    def __init__(self, collated: dict[str, Any]):
        self.collated = collated
        x, y = collated["X"], collated.get("y")
        items = []
        for j, (key, start) in enumerate(zip(collated["key"], collated["start"].tolist())):
            item: dict[str, Any] = {"X": x[j]}
            if y is not None:
                item["y"] = y[j]
            item["key"] = key
            item["start"] = start
            items.append(item)
        super().__init__(items)
        self._items = tuple(items)

    def intact(self) -> bool:
        """Whether the list still holds exactly the items it was built with (so :attr:`collated` is its batch)."""
        return len(self) == len(self._items) and all(a is b for a, b in zip(self, self._items))


def collate(batch: Sequence[Any]) -> Any:
    """Collate for the DataLoader: a :class:`PatchBatch` gives its batch as is (no copy); anything
    else goes to :func:`torch.utils.data.default_collate` (same output either way).

    Use ``DataLoader(dataset, batch_size=..., collate_fn=collate)`` with :class:`PatchDataset`.
    """
    if isinstance(batch, PatchBatch) and batch.intact():
        return dict(batch.collated)
    return default_collate(batch)
