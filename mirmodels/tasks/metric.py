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

    # ---- run hooks (see Task)
    one_patch_per_file = True  # as trained: FileDataset crops or pads each file to the patch length
    distributed_sampler = False  # WorkBatchSampler batches whole works; the data module shards them

    @classmethod
    def check_output_shape(cls, output_shape, input_shape, n_outputs, where="model") -> None:
        """(D,): one embedding per item."""
        shape = tuple(int(s) for s in output_shape)
        if len(shape) != 1:
            raise cls._output_shape_error(where, shape, input_shape, "(D,) (one embedding per item)")

    @classmethod
    def file_output(cls, outputs, starts, num_frames, patch_length):
        """The embedding of the file's one patch."""
        return outputs[0], outputs

    @classmethod
    def score(cls, predictions, target, **context):
        from mirmodels.evaluate import score_metric

        return score_metric(predictions, target, **context)

    @classmethod
    def write_prediction(cls, prediction, metadata, stem, threshold, files, feature_value=None, duration_sec=None):
        from mirmodels.predict import write_embedding

        return write_embedding(prediction, metadata, stem, files)
