"""Lightning tasks, one per problem type, registered by name.

>>> from mirmodels.tasks import get_task_class
>>> task = get_task_class("multiclass")(model, optimizer="adam", lr=1e-3)

Problems: ``multiclass``, ``multilabel``, ``framelabel``, ``multipitch``, ``metric``.
"""

from mirmodels.tasks.base import TASKS, Task, TrainingError, get_task_class, register_task, task_names
from mirmodels.tasks.framelabel import FramelabelTask
from mirmodels.tasks.metric import MetricTask
from mirmodels.tasks.multiclass import MulticlassTask
from mirmodels.tasks.multilabel import MultilabelTask
from mirmodels.tasks.multipitch import MultipitchTask

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
]
