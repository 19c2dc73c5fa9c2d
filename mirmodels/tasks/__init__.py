"""Lightning tasks, one per problem type, registered by name.

>>> from mirmodels.tasks import get_task_class
>>> task = get_task_class("metric")(model, optimizer="sgd", lr=0.1, margin=1.0, mining="semihard")
>>> trainer = lightning.Trainer(callbacks=[EarlyStopping("valid_loss", patience=10)])
>>> trainer.fit(task, train_loader, valid_loader)     # batches: {'X', 'y', 'key', 'start'}
>>> outputs = trainer.predict(task, loader)           # [{'output', 'key', 'start'}, ...]

=============  ===============================  ====================  ==========================
problem        model output                     y                     loss / prediction
=============  ===============================  ====================  ==========================
multiclass     (B, K) logits                    (B,) int64            CE / softmax
multilabel     (B, K) logits                    (B, K) float 0/1      BCE with logits / sigmoid
framelabel     (B, K, T) logits                 (B, T) int64, -100    CE per frame / softmax dim 1
multipitch     (B, F, T) or (B, 1, F, T)        (B, F, T) float 0/1   BCE with logits / sigmoid
metric         (B, D) embeddings                (B,) int64 work       triplet (mined) / embeddings
separation     (B, S, C, N) waveforms           (B, S, C, N) stems    1 - cosine / waveforms
=============  ===============================  ====================  ==========================

Task options (keyword arguments): ``Task.option_names()`` of each class.
"""

from mirmodels.tasks.base import TASKS, Task, TrainingError, get_task_class, register_task, task_names
# registered in this order: the order configs list the problems in
from mirmodels.tasks.multiclass import MulticlassTask
from mirmodels.tasks.multilabel import MultilabelTask
from mirmodels.tasks.framelabel import FramelabelTask
from mirmodels.tasks.multipitch import MultipitchTask
from mirmodels.tasks.metric import MetricTask
from mirmodels.tasks.separation import SeparationTask

__all__ = [
    "TASKS",
    "Task",
    "TrainingError",
    "get_task_class",
    "register_task",
    "task_names",
    "MulticlassTask",
    "MultilabelTask",
    "FramelabelTask",
    "MultipitchTask",
    "MetricTask",
    "SeparationTask",
]
