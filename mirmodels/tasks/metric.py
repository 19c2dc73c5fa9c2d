"""Metric learning (cover-song identification): embeddings trained with a mined triplet loss."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from mirmodels.losses import TripletLossParams, triplet_loss
from mirmodels.tasks._checks import shape_error
from mirmodels.tasks.base import Task, register_task


@dataclass(frozen=True)
class MetricOptions(TripletLossParams):
    """Options of the metric-learning task: ``margin`` (1), ``mining`` (``random`` | ``semihard`` |
    ``hard``), ``normalize`` (divide squared distances by the embedding size); see
    :mod:`mirmodels.losses`."""


@register_task("metric")
class MetricTask(Task):
    """Embeddings (B, D) vs work index y (B,): triplet loss with online mining in each batch.

    Batches should hold several performances of each work (``mirfeat.patches.WorkBatchSampler``,
    e.g. 16 works x 4 performances); a batch without any valid triplet has loss 0.  Predictions are
    the embeddings themselves (float32).
    """

    Options = MetricOptions

    def compute_loss(self, output: Tensor, y: Tensor) -> Tensor:
        y = y.reshape(-1)
        if output.dim() != 2 or output.shape[0] != y.shape[0]:
            raise shape_error("metric", "shape mismatch", output, y, "embeddings (batch, dim) and y (batch,)")
        p = self.options
        return triplet_loss(output, y, margin=p.margin, mining=p.mining, normalize=p.normalize)
