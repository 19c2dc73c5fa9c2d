"""Metric learning: batches of K works × P performances (:class:`WorkBatchSampler`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler

from mirfeat.patches.checks import positive_int
from pyjama_tools.core.errors import ParameterError


class WorkBatchSampler(Sampler[list[int]]):
    """Batches of ``works_per_batch`` works × ``performances_per_work`` performances (K × P).

    Each epoch shuffles the works and cuts them into batches of K (an incomplete last batch is
    dropped); each work contributes P of its items, drawn without replacement when it has at least
    P, **with replacement** otherwise (a work with 2 performances and P = 4 repeats them, so every
    anchor has a positive; a work with a single performance only gives identical positives; leave
    such works out with ``min_performances=2``). The draw depends only on ``seed`` and the epoch
    (incremented on each ``iter``, or set with :meth:`set_epoch`).

    Parameters
    ----------
    work_ids : list of int
        Work of each dataset item (``CliqueTarget.work_ids(keys)``).
    works_per_batch : int
        K.
    performances_per_work : int
        P.
    seed : int
    min_performances : int
        Works with fewer items are never sampled.
    """

    def __init__(self, work_ids: Sequence[int], works_per_batch: int = 16, performances_per_work: int = 4,
                 seed: int = 0, min_performances: int = 1):
        self.works_per_batch = positive_int(works_per_batch, "works_per_batch")
        self.performances_per_work = positive_int(performances_per_work, "performances_per_work")
        self.min_performances = positive_int(min_performances, "min_performances")
        self.seed = int(seed)
        ids = np.asarray(list(work_ids))
        if ids.ndim != 1 or ids.size == 0:
            raise ParameterError("work_ids must be a non-empty list of work indices, one per item")
        works, inverse = np.unique(ids, return_inverse=True)
        members = [np.flatnonzero(inverse == w) for w in range(len(works))]
        self._members = [m for m in members if len(m) >= self.min_performances]
        if len(self._members) < self.works_per_batch:
            raise ParameterError(f"works_per_batch {self.works_per_batch} is more than the {len(self._members)} "
                                 f"works with at least {self.min_performances} performance(s)")
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Draw the batches of ``epoch`` on the next ``iter``."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self._members) // self.works_per_batch

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        order = rng.permutation(len(self._members))
        k, p = self.works_per_batch, self.performances_per_work
        for b in range(len(self)):
            batch: list[int] = []
            for w in order[b * k:(b + 1) * k]:
                members = self._members[w]
                batch.extend(int(i) for i in rng.choice(members, size=p, replace=len(members) < p))
            yield batch
