"""The ``clique`` kind: the work of each performance (``work-id``), for metric learning (cover songs)."""

from __future__ import annotations

from mirfeat.targets.base import register_target
from mirfeat.targets.tags import MulticlassTarget


@register_target("clique")
class CliqueTarget(MulticlassTarget):
    """Work (clique) of each performance for metric learning: ``y`` = int64 0-d work index.

    ``vocabulary`` lists the distinct work ids (as str) in sorted order (or the field's dictionary);
    :meth:`work_ids` gives the per-item work indices a :class:`~mirfeat.patches.WorkBatchSampler` needs.
    """

    value_name = "a performance needs exactly one work id"

    def work_ids(self, keys: list[str]) -> list[int]:
        """Work index of each key, in order."""
        return [self._compact(key, None, None)[1] for key in keys]
