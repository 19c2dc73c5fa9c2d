"""A problem is one plug-in: the shared modules (config, data, outputs) ask the task class, never a name.

Three proofs: a toy task registered here (and removed after) is loaded, defaulted and prepared
through its own attributes and hooks alone; no module of :data:`FILES_WITHOUT_PROBLEM_NAMES`
holds a registered problem name or alias as a string literal (docstrings aside); and none imports a
problem's module of ``mirmodels/tasks/`` (only the registry package and ``tasks.base``).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from test_fit import LMS, TAGGER, make_pair

ROOT = Path(__file__).resolve().parents[2]

#: Every module of mirmodels outside mirmodels/tasks/: none may name a problem (the task registry answers).
FILES_WITHOUT_PROBLEM_NAMES = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "mirmodels").rglob("*.py")
                                     if "tasks" not in path.relative_to(ROOT / "mirmodels").parts)
#: literals equal to a problem alias that do not stand for the problem: (module, literal) → what they are
NOT_PROBLEMS = {("mirmodels/writers.py", "segment"): "the pyjama type extent of the notes field"}


def _problem_words() -> set[str]:
    """Every registered problem name, alias and implying model name, lower case."""
    from mirmodels.tasks import TASKS

    words: set[str] = set()
    for name, cls in TASKS.items():
        words.update([name, *cls.aliases, *cls.model_names])
    return {word.lower() for word in words}


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes of a module, its classes and functions."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def problem_literals(path: Path, words: set[str]) -> list[str]:
    """``file:line: 'literal'`` for each string literal of ``path`` that is one of ``words``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    skip = _docstrings(tree)
    name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    hits = [node for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in skip and node.value.strip().lower() in words]
    return [f"{name}:{node.lineno}: {node.value!r}" for node in sorted(hits, key=lambda n: (n.lineno, n.col_offset))]


def _python_files(entry: str) -> list[Path]:
    path = ROOT / entry
    assert path.exists(), f"{entry}: no such module or package"
    return sorted(path.rglob("*.py")) if path.is_dir() else [path]


def test_shared_modules_name_no_problem():
    words = _problem_words()
    assert {"multiclass", "metric", "segment", "cover", "separation"} <= words  # the registry is what is searched
    assert "mirmodels/experiment.py" in FILES_WITHOUT_PROBLEM_NAMES and len(FILES_WITHOUT_PROBLEM_NAMES) > 20
    found = [hit for entry in FILES_WITHOUT_PROBLEM_NAMES for path in _python_files(entry)
             for hit in problem_literals(path, words)
             if (entry, hit.rsplit(": ", 1)[1].strip("'")) not in NOT_PROBLEMS]
    found += [f"{entry}: looks a task hook up by problem name (getattr on TASKS)" for entry in FILES_WITHOUT_PROBLEM_NAMES
              if "getattr(TASKS" in (ROOT / entry).read_text(encoding="utf-8")]
    assert found == [], "problem names outside mirmodels/tasks/:\n" + "\n".join(found)


def test_the_search_finds_a_problem_name(tmp_path):
    """The check can fail: a dispatch on a name is found, a docstring naming one is not."""
    module = tmp_path / "dispatch.py"
    module.write_text('"""Talks about metric learning and multiclass."""\n\n'
                      'def f(problem):\n    """multiclass"""\n    return problem == "Multiclass"\n')
    assert problem_literals(module, _problem_words()) == [f"{module}:5: 'Multiclass'"]


#: what a module outside mirmodels/tasks/ may import of the tasks: the registry and the base class
TASK_IMPORTS_ALLOWED = ("mirmodels.tasks", "mirmodels.tasks.base")


def task_module_imports(path: Path) -> list[str]:
    """``file:line: module`` for each import of ``path`` that reaches a problem's module of
    ``mirmodels/tasks/`` (``mirmodels.tasks.<module>`` other than :data:`TASK_IMPORTS_ALLOWED`), however
    it is written: ``import mirmodels.tasks.x``, ``from mirmodels.tasks.x import y``,
    ``from mirmodels.tasks import x`` (``x`` a module of the package) or the relative forms."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    package = list(path.relative_to(ROOT).parent.parts) if path.is_relative_to(ROOT) else []
    task_modules = {p.stem for p in (ROOT / "mirmodels" / "tasks").glob("*.py")} - {"__init__"}
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            reached = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - (node.level - 1)] + ([base] if base else []))
            reached = [base] + [f"{base}.{alias.name}" for alias in node.names
                                if base == "mirmodels.tasks" and alias.name in task_modules]
        else:
            continue
        hits += [(node.lineno, module) for module in reached
                 if module.startswith("mirmodels.tasks.") and module not in TASK_IMPORTS_ALLOWED]
    return [f"{name}:{line}: {module}" for line, module in sorted(hits)]


def test_shared_modules_import_no_problem_module():
    """Outside mirmodels/tasks/ the tasks are reached through the registry (``mirmodels.tasks``) or the
    base class, never through a problem's module."""
    found = [hit for entry in FILES_WITHOUT_PROBLEM_NAMES for path in _python_files(entry)
             for hit in task_module_imports(path)]
    assert found == [], "imports of a problem's task module outside mirmodels/tasks/:\n" + "\n".join(found)


def test_the_task_import_search_finds_each_form(tmp_path):
    """The check can fail: every spelling of an import of a problem's module is found, the registry's and
    the base class's are not."""
    module = tmp_path / "shared.py"
    module.write_text("from mirmodels.tasks import TASKS, get_task_class\nfrom mirmodels.tasks.base import Task\n"
                      "import mirmodels.tasks\nfrom mirmodels.tasks.multipitch import guess_pitch_field\n"
                      "import mirmodels.tasks._checks\n"
                      "def f():\n    from mirmodels.tasks import metric, base\n")
    assert task_module_imports(module) == [f"{module}:4: mirmodels.tasks.multipitch",
                                           f"{module}:5: mirmodels.tasks._checks",
                                           f"{module}:7: mirmodels.tasks.metric"]


def test_importing_the_config_does_not_load_torch():
    code = "import sys, mirmodels.config; assert 'torch' not in sys.modules, 'torch loaded'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# ----------------------------------------------------------------------------- a toy plug-in


@pytest.fixture
def toy(monkeypatch):
    """A task "toy" (alias "toy-problem") with its own target kind, defaults and hooks, registered
    for the test only (the registry's tables are restored after)."""
    from torch.utils.data import BatchSampler, SequentialSampler

    from mirmodels.patch_data import patch_dataset
    from mirmodels.tasks import TASKS, Task, register_task

    scope = TASKS.scoped()  # the toy task is gone after the test
    scope.__enter__()

    class ToyTask(Task):
        """Multi-hot targets under another name, every knob its own."""

        model_names = ("ToyNet",)
        target_kind = "multilabel"
        default_annot_key = "instrument"
        train_defaults = {"optimizer": "sgd", "lr": 0.25, "batch_size": 3, "patience": 7}
        feature_defaults = {**LMS, "cache": "{base}_toy.hdf5"}
        labels_every_entry = True
        calls: list = []

        @staticmethod
        def complete_dataset_config(dataset):
            return {"group_field": "style"} if dataset.group_field is None else {}

        @staticmethod
        def make_dataset(prepared, keys, train=True):
            ToyTask.calls.append(("make_dataset", len(keys), train))
            return patch_dataset(prepared, keys, train=train)

        @staticmethod
        def batch_sampler(prepared, dataset, name, shuffle, seed):
            ToyTask.calls.append(("batch_sampler", name))
            return BatchSampler(SequentialSampler(range(len(dataset))), batch_size=2, drop_last=False)

    register_task("toy", "toy-problem")(ToyTask)
    yield ToyTask
    scope.__exit__(None, None, None)
    ToyTask.calls.clear()


def test_config_takes_the_toy_tasks_names_and_defaults(toy):
    from mirmodels.config import ConfigError, config_from_dict

    config = config_from_dict({"dataset": {"base": "tiny", "problem": "Toy-Problem"}, "model": TAGGER})
    assert config.dataset.problem == "toy"
    assert (config.dataset.annot_key, config.dataset.group_field) == ("instrument", "style")
    assert (config.feature.type, config.feature.cache, config.feature.patch_length) == ("lms", "tiny_toy.hdf5", 16)
    train = config.train
    assert (train.optimizer, train.lr, train.batch_size, train.patience) == ("sgd", 0.25, 3, 7)
    written = config_from_dict({"dataset": {"base": "tiny", "problem": "toy"}, "model": TAGGER,
                                "feature": LMS, "train": {"lr": 0.5}})
    assert (written.train.lr, written.train.optimizer, written.feature.cache) == (0.5, "sgd", None)
    # the tutorial's way: the model name implies the problem
    implied = config_from_dict({"dataset": {"base": "tiny"}, "model": {**TAGGER, "name": "toynet"}})
    assert implied.dataset.problem == "toy"
    with pytest.raises(ConfigError, match=r"^dataset.problem: expected one of multiclass, .*, separation, toy "
                                          r"\(did you mean toy\?\), got 'tyo'$"):
        config_from_dict({"dataset": {"base": "tiny", "problem": "tyo"}, "model": TAGGER})


def test_data_preparation_follows_the_toy_task(toy, tmp_path):
    from mirmodels.config import config_from_dict
    from mirmodels.data import ExperimentDataModule, prepare_data
    from pyjama_tools import pyjama

    root = make_pair(tmp_path, files=5, seconds=2.0)
    doc = pyjama.load(root / "tiny.pyjama")
    doc.entries[1]["instrument"] = []  # no tag: still an example for a task that labels every entry
    pyjama.save(doc, root / "tiny.pyjama")
    config = config_from_dict({"dataset": {"base": "tiny", "root": str(root), "problem": "toy"}, "model": TAGGER,
                               "feature": LMS})
    prepared = prepare_data(config)
    assert prepared.target.kind == "multilabel" and prepared.target.num_outputs > 1  # the toy's target kind
    assert prepared.metadata()["target_kind"] == "multilabel" and prepared.unlabelled == []
    assert ("make_dataset", 1, False) in toy.calls  # the probe of the input shape
    module = ExperimentDataModule(prepared, batch_size=99)
    loader = module.train_dataloader()
    assert ("batch_sampler", "train") in toy.calls and loader.batch_sampler.batch_size == 2
    assert ("make_dataset", len(prepared.splits["train"]), True) in toy.calls

    toy.labels_every_entry = False  # the same data, a task that leaves unlabelled entries out
    assert prepare_data(config).unlabelled == [doc.keys()[1]]
