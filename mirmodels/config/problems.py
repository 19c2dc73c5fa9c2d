"""What the config asks the task registry (:mod:`mirmodels.tasks`): it never names a problem itself.

Each task class declares its problem's names (``aliases``), the tutorial's model names implying it
(``model_names``), the dataset keys implying it (``implied_by``), its default annotation field, its
``train`` and ``feature`` defaults and the dataset settings it implies. The registry is imported on
first use: ``import mirmodels.config`` does not load torch.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Callable

from mirmodels.config.fields import choice
from pyjama_tools.core.registry import Registry

__all__ = ["problem_names", "task_class", "problem_value", "implying_value", "implying_keys",
           "problem_implied_by", "problem_of_model"]


def _tasks() -> Registry[type]:
    from mirmodels.tasks import TASKS

    return TASKS


def problem_names() -> list[str]:
    """The registered problems, in registration order (the order a message lists them in)."""
    return list(_tasks())


def task_class(problem: str) -> type:
    """The task class of a (validated) problem name."""
    from mirmodels.tasks import get_task_class

    return get_task_class(problem)


def problem_value(value: Any) -> Any:
    """Check of ``dataset.problem``: a registered problem or one of its aliases (any case: the task
    registry resolves it), or null; else ``expected one of <problems> (did you mean <name or alias>?)``."""
    if value is None:
        return None
    tasks = _tasks()
    name = tasks.resolve(value)
    if name is None:
        raise ValueError(f"expected one of {', '.join(problem_names())}{tasks.hint(value, n=1)}")
    return name


def implying_keys() -> list[str]:
    """Dataset keys whose presence implies a problem (the tutorial's ``do_f0_annot``)."""
    return [key for cls in _tasks().values() for key in cls.implied_by]


def implying_value(key: str) -> Callable[[Any], Any]:
    """Check of a dataset ``key`` that implies a problem: one of the values its task allows, or null."""
    def check(value: Any) -> Any:
        allowed = next((cls.implied_by[key] for cls in _tasks().values() if key in cls.implied_by), ())
        return choice(allowed, optional=True)(value)
    return check


def problem_implied_by(dataset: Any) -> str | None:
    """The problem implied by a dataset key that is set (``do_f0_annot``), else None."""
    for name, cls in _tasks().items():
        if any(getattr(dataset, key, None) is not None for key in cls.implied_by):
            return name
    return None


def problem_of_model(model_name: Any) -> str | None:
    """The problem the tutorial's model name implies (its ``Cover``), else None."""
    wanted = str(model_name).lower()
    for name, cls in _tasks().items():
        if wanted in (m.lower() for m in cls.model_names):
            return name
    return None
