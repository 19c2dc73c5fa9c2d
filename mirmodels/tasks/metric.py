"""Metric learning (cover-song identification): embeddings trained with a mined triplet loss."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import Tensor

from pyjama_tools.core.errors import MirError
from mirmodels.losses import TripletLossParams, triplet_loss
from mirmodels.tasks._checks import shape_error
from mirmodels.tasks.base import Task, register_task


@dataclass(frozen=True)
class MetricOptions(TripletLossParams):
    """Options of the metric-learning task: ``margin`` (1), ``mining`` (``random`` | ``semihard`` |
    ``hard``), ``normalize`` (divide squared distances by the embedding size); see
    :mod:`mirmodels.losses`."""


@register_task("metric", "cover", "metric_learning")
class MetricTask(Task):
    """Embeddings (B, D) vs work index y (B,): triplet loss with online mining in each batch.

    Batches should hold several performances of each work (``mirfeat.patches.WorkBatchSampler``,
    e.g. 16 works x 4 performances); a batch without any valid triplet has loss 0.  Predictions are
    the embeddings themselves (float32).
    """

    model_names = ("cover",)  # config_cover.yaml names no problem: its MOVE model Cover learns embeddings
    target_kind = "clique"
    default_annot_key = "work-id"
    # the pair's own feature file <base>_feat.hdf5 (CREMA), cropped or zero-padded to 1800 frames
    feature_defaults = {"type": "crema", "cache": "{base}_feat.hdf5", "patch_L_frame": 1800, "patch_STEP_frame": 1800}
    # SGD 0.1 without momentum, patience 50, 16 works x 4 performances
    train_defaults = {"optimizer": "sgd", "lr": 0.1, "momentum": 0.0, "patience": 50, "works_per_batch": 16,
                      "performances_per_work": 4}
    checks_vocabulary = False  # work indices are not output units

    @staticmethod
    def complete_dataset_config(dataset) -> dict:
        """The tutorial splits works, not performances: a work's performances stay in one split."""
        return {"group_field": dataset.annot_key} if dataset.group_field is None else {}

    @staticmethod
    def make_dataset(prepared, keys, train: bool = True):
        """Whole files (:class:`mirfeat.patches.FileDataset`) cropped or padded to the patch length."""
        from mirfeat.patches import FileDataset

        if prepared.cache_path is None:
            raise MirError("feature.type: metric learning needs a time-frequency feature, not the waveform")
        return FileDataset(prepared.cache_path, keys, prepared.target, crop_or_pad=prepared.config.feature.patch_length)

    @staticmethod
    def batch_sampler(prepared, dataset, name: str, shuffle: bool, seed: int):
        """``train.works_per_batch`` works x ``performances_per_work`` (validation: up to the works it holds)."""
        from mirfeat.patches import WorkBatchSampler

        train, target = prepared.config.train, prepared.target
        work_ids = list(target.work_ids(list(dataset.keys)))  # the clique target's work of each file
        works = len(set(work_ids))
        if shuffle and works < train.works_per_batch:
            raise MirError(f"train.works_per_batch: {train.works_per_batch} is more than the {works} works "
                           f"of the {name!r} split")
        return WorkBatchSampler(work_ids, works_per_batch=min(train.works_per_batch, works),
                                performances_per_work=train.performances_per_work,
                                seed=seed if shuffle else seed + 1)

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
        """MR1, MRR, P@1/5/10 and mAP of the whole-file embeddings (each file queries all others; the
        clique target gives the work of each file)."""
        from mirmodels import metrics

        keys = list(predictions)
        embeddings = np.stack([predictions[k]["output"] for k in keys])
        return {"metrics": metrics.retrieval_scores(embeddings, np.asarray(target.work_ids(keys)))}

    @classmethod
    def write_prediction(cls, prediction, metadata, stem, threshold, files, feature_value=None, duration_sec=None):
        from mirmodels.writers import write_embedding

        return write_embedding(prediction, metadata, stem, files)
