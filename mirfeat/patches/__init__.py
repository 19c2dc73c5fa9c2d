"""Patch index and torch ``Dataset``s that read lazily from a feature cache (or the audio store).

The patch rule is the tutorial's: a file of T frames gives ``floor((T - L) / S) + 1`` patches of
L frames every S frames (none when T < L). An item is ``{'X': float32 tensor (C, F, L), 'y': tensor,
'key': str, 'start': int}``; waveform features (no frequency axis) give X of shape (1, L).

Reading (why it is fast and safe):

- the HDF5 file is opened on first use **in each process** (:class:`pyjama_tools.core.hdf5.LazyHDF5`),
  never inherited across a fork, so any ``num_workers`` and ``persistent_workers`` work; the dataset
  pickles without handles;
- with the cache's usual layouts (uncompressed float32 or float16, chunks (C, F, chunk_frames)) a
  patch is one ``os.preadv`` per chunk it spans, at offsets taken once from HDF5's chunk index: a
  float32 window that is a whole chunk goes straight into its output, other windows through a reused
  chunk buffer (a chunk still in the buffer is not read again) and one copy (float16 → float32 by
  torch's vectorised cast); other layouts use one hyperslab read
  ``value[:, :, s:s+L]`` (``read_direct``) with the HDF5 chunk cache sized for the chunks one patch
  spans;
- a DataLoader batch is fetched through ``__getitems__``, which reads the batch's patches sorted by
  (file, start) (neighbouring patches share chunks) straight into the rows of ONE (B, ...) tensor
  (shared memory in a worker, pinned when CUDA is there) and returns a :class:`PatchBatch`: the
  item dicts in the order asked, holding that batch;
- ``in_memory=True`` loads every array once (for small sets), then patches are array slices.

:func:`collate` (``DataLoader(..., collate_fn=collate)``) returns a :class:`PatchBatch`'s batch as
it is, without copying: ``{'X': (B, ...), 'y': (B, ...), 'key': list of str, 'start': (B,) int64}``,
what :func:`torch.utils.data.default_collate` would build; torch's default collate works too, with
one more copy of X (it stacks the items).

Modules, one job each: :mod:`~mirfeat.patches.index` (the patch grid), :mod:`~mirfeat.patches.raw`
(reading feature files fast), :mod:`~mirfeat.patches.sources` (what a dataset reads: a feature
file, the tutorial's feature pairs, an audio store), :mod:`~mirfeat.patches.datasets`
(:class:`PatchDataset`, :class:`FileDataset`), :mod:`~mirfeat.patches.batch` (:class:`PatchBatch`,
:func:`collate`), :mod:`~mirfeat.patches.sampler` (:class:`WorkBatchSampler`),
:mod:`~mirfeat.patches.checks` (their parameter checks).
"""

from mirfeat.patches.batch import PatchBatch, collate
from mirfeat.patches.datasets import FileDataset, PatchDataset
from mirfeat.patches.index import patch_starts
from mirfeat.patches.sampler import WorkBatchSampler
from mirfeat.patches.sources import MAX_CHUNK_CACHE_BYTES, MAX_OPEN_DATASETS

__all__ = ["FileDataset", "PatchBatch", "PatchDataset", "WorkBatchSampler", "collate", "patch_starts",
           "MAX_CHUNK_CACHE_BYTES", "MAX_OPEN_DATASETS"]
