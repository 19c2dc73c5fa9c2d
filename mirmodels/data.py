"""From an experiment config to PyTorch datasets: paths, feature cache, target, splits, loaders.

:func:`prepare_data` does the work that must happen once before training (check the dataset
pair, build or reuse the feature cache, build the target, split the keys) and returns a
:class:`PreparedData`; :class:`ExperimentDataModule` (a LightningDataModule) builds the patch
datasets from it in each process.

What depends on the problem is asked of its task class (:mod:`mirmodels.tasks`), never by name:
``target_kind`` (the kind of :mod:`mirfeat.targets`), ``prepare_dataset`` (default
:func:`prepare_patch_data`), ``make_dataset`` (default :func:`patch_dataset`: patches of
:mod:`mirfeat.patches`, the waveform read from the audio store), ``batch_sampler``,
``labels_every_entry``, ``guess_annot_key``, ``adjust_target`` and ``checks_vocabulary``. The generic
patch data (:class:`~mirmodels.patch_data.PreparedData`, :func:`~mirmodels.patch_data.prepare_patch_data`,
:func:`~mirmodels.patch_data.patch_dataset`) is :mod:`mirmodels.patch_data`, which takes the task class as
an argument.
"""

from __future__ import annotations

import os
from typing import Any

import lightning as L
from torch.utils.data import DataLoader

from mirfeat.patches import collate
from mirmodels import patch_data
from mirmodels.config import ExperimentConfig
from mirmodels.patch_data import PreparedData
from mirmodels.tasks import get_task_class
from pyjama_tools.core.errors import MirError

__all__ = ["prepare_data", "prepare_patch_data", "check_same_classes", "ShardedBatchSampler", "ExperimentDataModule",
           "make_dataset"]


def prepare_data(config: ExperimentConfig, data_root: str | os.PathLike | None = None, jobs: int = 1,
                 quiet: bool = True, allow_missing_audio: bool = False) -> PreparedData:
    """The problem's task prepares the run's data (``prepare_dataset``; default :func:`prepare_patch_data`).

    Parameters and errors: those of :func:`prepare_patch_data`.
    """
    task = get_task_class(config.dataset.problem)
    return task.prepare_dataset(config, data_root, jobs=jobs, quiet=quiet, allow_missing_audio=allow_missing_audio)


def prepare_patch_data(config: ExperimentConfig, data_root: str | os.PathLike | None = None, jobs: int = 1,
                       quiet: bool = True, allow_missing_audio: bool = False) -> PreparedData:
    """:func:`mirmodels.patch_data.prepare_patch_data` with the task class of ``dataset.problem``."""
    return patch_data.prepare_patch_data(get_task_class(config.dataset.problem), config, data_root, jobs=jobs,
                                         quiet=quiet, allow_missing_audio=allow_missing_audio)


def check_same_classes(prepared: PreparedData, metadata: dict, where: str) -> None:
    """Refuse a dataset whose classes are not those of a run (``run.json``), in the run's order.

    The network's output ``k`` means the run's ``vocabulary[k]``; a dataset (another
    ``--data-root``, an edited .pyjama) whose target numbers its labels otherwise would be scored
    against, or trained on, shifted classes without a word. A task whose outputs are no classes
    (``checks_vocabulary`` False: metric learning's work indices) is exempt.

    Raises
    ------
    MirError
        Naming ``where`` (the run directory), the .pyjama, the field and the first differing class.
    """
    if not get_task_class(prepared.problem).checks_vocabulary:
        return
    trained = metadata.get("vocabulary")
    vocabulary = getattr(prepared.target, "vocabulary", None)
    current = None if vocabulary is None else [str(v) for v in vocabulary]
    if trained is None or current is None or list(trained) == current:
        return
    for index, (here, there) in enumerate(zip(current, trained)):
        if here != there:
            raise MirError(f"{where}: the {prepared.annot_key!r} classes of {prepared.annotation_path} are not the "
                           f"run's: class {index} is {here!r} here, {there!r} in the run")
    raise MirError(f"{where}: {prepared.annotation_path} gives {len(current)} {prepared.annot_key!r} classes, "
                   f"the run was trained on {len(trained)}")


def make_dataset(prepared: PreparedData, keys: list[str], train: bool = True):
    """The torch Dataset of ``keys`` for the run's problem: its task's ``make_dataset`` (default
    :func:`~mirmodels.patch_data.patch_dataset`; metric learning: whole files cropped or padded to the patch length)."""
    return get_task_class(prepared.problem).make_dataset(prepared, keys, train=train)


class ShardedBatchSampler:
    """Every ``world_size``-th batch of a batch sampler, starting at ``rank`` (DDP for samplers that
    build whole batches, like the metric-learning ``WorkBatchSampler``, which Lightning cannot
    shard itself). Every rank gets the same number of batches (the remainder is dropped), so no
    process waits for another in a collective."""

    def __init__(self, batch_sampler: Any, rank: int, world_size: int):
        self.batch_sampler = batch_sampler
        self.rank = int(rank)
        self.world_size = int(world_size)

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.batch_sampler, "set_epoch"):
            self.batch_sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.batch_sampler) // self.world_size

    def __iter__(self):
        batches = list(self.batch_sampler)
        usable = (len(batches) // self.world_size) * self.world_size
        return iter(batches[self.rank:usable:self.world_size])


class ExperimentDataModule(L.LightningDataModule):
    """Train / valid / test loaders of a prepared run.

    Parameters
    ----------
    prepared : PreparedData
    batch_size : int
        Items per batch (per process under DDP).
    num_workers : int
        DataLoader worker processes (files are opened lazily in each worker).
    seed : int
        Seed of the metric-learning batch sampler.
    """

    def __init__(self, prepared: PreparedData, batch_size: int = 32, num_workers: int = 0, seed: int = 0):
        super().__init__()
        self.prepared = prepared
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.datasets: dict[str, Any] = {}

    def setup(self, stage: str | None = None) -> None:
        for name, keys in self.prepared.splits.items():
            if keys and name not in self.datasets:
                self.datasets[name] = make_dataset(self.prepared, keys, train=name == "train")
        for name in ("train", "valid"):
            if len(self.datasets.get(name, ())) == 0:
                raise MirError(f"dataset: the {name!r} split gives no patch (files shorter than "
                               f"feature.patch_L_frame={self.prepared.config.feature.patch_length} frames?)")

    def _loader(self, name: str, shuffle: bool) -> DataLoader:
        if name not in self.datasets:
            self.setup()
        dataset = self.datasets.get(name)
        if dataset is None:
            raise MirError(f"dataset: no {name!r} split")
        persistent = self.num_workers > 0
        task = get_task_class(self.prepared.problem)
        sampler = task.batch_sampler(self.prepared, dataset, name, shuffle, self.seed)
        if sampler is not None:  # the task builds whole batches (metric learning: works x performances)
            trainer = getattr(self, "trainer", None)
            if shuffle and trainer is not None and trainer.world_size > 1:  # validation: every rank sees all
                sampler = ShardedBatchSampler(sampler, trainer.global_rank, trainer.world_size)
            return DataLoader(dataset, batch_sampler=sampler, num_workers=self.num_workers,
                              persistent_workers=persistent, collate_fn=collate)
        # the tutorial's tagging and chord loaders drop the last incomplete training batch
        drop_last = shuffle and self.prepared.config.train.drop_last
        if drop_last and len(dataset) < self.batch_size:
            raise MirError(f"train.batch_size: {self.batch_size} is more than the {len(dataset)} patches of the "
                           f"{name!r} split, and train.drop_last drops an incomplete batch: no batch would be left; "
                           "lower train.batch_size or set train.drop_last false")
        # patches.collate returns the batch PatchDataset already read into one tensor (no copy)
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=shuffle, num_workers=self.num_workers,
                          persistent_workers=persistent, drop_last=drop_last, collate_fn=collate)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("valid", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
