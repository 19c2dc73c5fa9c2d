"""The import graph of the three packages: one direction between packages, and no cycle anywhere.

Every import counts, a lazy one inside a function included (a lazy import hides a cycle from the
interpreter, not from the reader); only imports under ``if TYPE_CHECKING:`` are left out, since they
never run. Package ``__init__`` modules count as modules: importing ``mirfeat.cache`` runs it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pyjama_tools", "mirfeat", "mirmodels")  # each may import only those before it


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST):
    """Every Import / ImportFrom node of ``tree`` outside ``if TYPE_CHECKING:`` blocks."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from (n for child in node.orelse for n in _imports_of(child))
            continue
        yield from _imports_of(node)


def _imports_of(node: ast.AST):
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    else:
        yield from _imports(node)


def import_graph(modules: dict[str, Path] | None = None) -> dict[str, set[str]]:
    """``module -> modules of the three packages it imports`` (``from pkg import sub`` → ``pkg.sub``)."""
    modules = _modules() if modules is None else modules

    def owner(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [owner(alias.name) for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join(parts + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else owner(base) for a in node.names]
            graph[name].update(t for t in targets if t and t != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _describe(component: list[str], graph: dict[str, set[str]]) -> str:
    inside = set(component)
    return "; ".join(f"{m} -> {', '.join(sorted(graph[m] & inside))}" for m in component)


def test_no_import_cycle():
    graph = import_graph()
    found = cycles(graph)
    assert found == [], "import cycles:\n" + "\n".join(_describe(c, graph) for c in found)


def test_packages_import_in_one_direction():
    graph = import_graph()
    wrong = [f"{module} -> {target}" for module, targets in graph.items() for target in targets
             if PACKAGES.index(target.split(".")[0]) > PACKAGES.index(module.split(".")[0])]
    assert wrong == [], "imports against mirmodels -> mirfeat -> pyjama_tools: " + ", ".join(sorted(wrong))


def test_the_cycle_search_finds_a_lazy_cycle(tmp_path):
    """The check can fail: a cycle closed by an import inside a function is found; a TYPE_CHECKING one is not."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg import b\n")
    (package / "b.py").write_text("def f():\n    from pkg.a import x\n")
    (package / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n")
    (package / "d.py").write_text("from pkg import c\n")
    modules = {"pkg": package / "__init__.py", **{f"pkg.{n}": package / f"{n}.py" for n in "abcd"}}
    graph = import_graph(modules)
    assert cycles(graph) == [["pkg.a", "pkg.b"]]
    assert graph["pkg.c"] == set() and graph["pkg.d"] == {"pkg.c"}


#: The layers of mirmodels, low to high (a module's layer: its longest prefix here; the package itself,
#: ``mirmodels``, is one module, never a prefix). A module imports only modules of its own layer or below:
#: the library knows no problem, config or run; the tasks use the library; the config asks the task
#: registry; the run modules use the config.
MIRMODELS_LAYERS = (
    ("mirmodels", "mirmodels.metrics", "mirmodels.losses", "mirmodels.optim", "mirmodels.layers",
     "mirmodels.layer_size", "mirmodels.factory", "mirmodels.weights", "mirmodels.callbacks", "mirmodels.rundir",
     "mirmodels.network", "mirmodels.scoring", "mirmodels.writers", "mirmodels.inference", "mirmodels.prediction",
     "mirmodels.patch_data", "mirmodels.separate", "mirmodels.bsseval", "mirmodels.config.errors",
     "mirmodels.config.fields"),
    ("mirmodels.tasks",),
    ("mirmodels.config",),
    ("mirmodels.data", "mirmodels.outputs", "mirmodels.run_config", "mirmodels.resume", "mirmodels.trainer",
     "mirmodels.metrics_csv", "mirmodels.summary"),
    ("mirmodels.experiment",),
    ("mirmodels.evaluate",),
    ("mirmodels.predict",),
    ("mirmodels.cli",),
)


#: entries of MIRMODELS_LAYERS that name one module, not a prefix of modules
EXACT_MODULES = ("mirmodels",)


def _layer(module: str, layers: tuple = MIRMODELS_LAYERS) -> int | None:
    found = [(len(prefix), index) for index, prefixes in enumerate(layers) for prefix in prefixes
             if module == prefix or (prefix not in EXACT_MODULES and module.startswith(prefix + "."))]
    return max(found)[1] if found else None


def test_mirmodels_imports_down_its_layers():
    graph = import_graph()
    modules = [m for m in graph if m.split(".")[0] == "mirmodels"]
    assert [m for m in modules if _layer(m) is None] == [], "modules in no layer of MIRMODELS_LAYERS"
    upward = [f"{m} -> {t}" for m in modules for t in sorted(graph[m])
              if t.split(".")[0] == "mirmodels" and _layer(t) > _layer(m)]
    assert upward == [], "imports up the mirmodels layers: " + ", ".join(upward)


def test_the_layer_check_finds_a_module_in_no_layer():
    """The check can fail: a new top-level module is in no layer (the package ``mirmodels`` is no prefix),
    while a module under a listed package is placed by its longest prefix."""
    assert _layer("mirmodels") == 0
    assert _layer("mirmodels.new_module") is None and _layer("mirmodels.tasks_extra") is None
    assert _layer("mirmodels.config.fields") == 0 and _layer("mirmodels.config.load") == 2
    assert _layer("mirmodels.tasks.new_problem") == 1 and _layer("mirmodels.layers.new_brick") == 0
    layers = (("mirmodels", "mirmodels.a"), ("mirmodels.b",))
    assert [_layer(m, layers) for m in ("mirmodels", "mirmodels.a.x", "mirmodels.b", "mirmodels.c")] == [0, 0, 1, None]
