"""The package's module-level imports form layers: no cycles; metrics and the dataset
readers need no simulator."""

from __future__ import annotations

import ast
from pathlib import Path

import crlbench

ROOT = Path(crlbench.__file__).parent


def _graph() -> dict[str, set[str]]:
    """Module -> the crlbench modules it imports at module level (not under TYPE_CHECKING)."""
    mods = {}
    for p in ROOT.rglob("*.py"):
        name = ".".join(p.relative_to(ROOT.parent).with_suffix("").parts).removesuffix(".__init__")
        mods[name] = p
    graph: dict[str, set[str]] = {}
    for name, p in mods.items():
        deps: set[str] = set()
        for node in ast.parse(p.read_text()).body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            for n in node.body if isinstance(node, (ast.If, ast.Try)) else [node]:
                if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("crlbench"):
                    subs = [f"{n.module}.{a.name}" for a in n.names if f"{n.module}.{a.name}" in mods]
                    deps.update(subs)
                    if len(subs) < len(n.names):
                        deps.add(n.module)
                elif isinstance(n, ast.Import):
                    deps.update(a.name for a in n.names if a.name.startswith("crlbench"))
        graph[name] = {d for d in deps if d in mods and d != name}
    return graph


def test_no_import_cycles():
    graph = _graph()
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done

    def visit(v: str, path: list[str]) -> None:
        state[v] = 1
        for w in sorted(graph[v]):
            assert state.get(w) != 1, f"import cycle: {' -> '.join([*path[path.index(w) :], w])}"
            if w not in state:
                visit(w, [*path, w])
        state[v] = 2

    for v in sorted(graph):
        if v not in state:
            visit(v, [v])


def test_metrics_and_dataset_readers_do_not_import_simulators():
    graph = _graph()
    readers = ("crlbench.datasets.spec", "crlbench.datasets.storage", "crlbench.datasets.loaders")
    for name, deps in graph.items():
        if name.startswith(("crlbench.metrics", "crlbench.core", *readers)):
            assert not any(d.startswith("crlbench.simulators") for d in deps), (name, deps)
