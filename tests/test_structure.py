"""The package's structure: imports point one way (no cycles, module level or inside
functions) and the layers below never reach up (layers <- models <- convert <- checkpoint
<- factory <- engine / zoo / cli)."""

from __future__ import annotations

import ast
from pathlib import Path

import videoformer

PACKAGE = Path(videoformer.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module of the package this module imports, wherever the import statement is."""
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # ``from pkg import sub`` imports the submodule ``pkg.sub``; otherwise the module
            targets = [
                f"{module}.{a.name}" if f"{module}.{a.name}" in known else module
                for a in node.names
            ]
        else:
            continue
        out |= {t for t in targets if t in known and t != name}
    return out


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_sees_imports_inside_functions():
    graph = import_graph()
    assert "videoformer.checkpoint" in graph["videoformer.factory"]
    # engine.train imports its plots inside a function (Trainer.finish)
    assert "videoformer.engine.plots" in graph["videoformer.engine.train"]


def test_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_a_cycle_would_be_found():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


LOWER_LAYERS = {
    "videoformer.layers": {
        "videoformer.models",
        "videoformer.convert",
        "videoformer.checkpoint",
        "videoformer.factory",
        "videoformer.engine",
        "videoformer.data",
    },
    "videoformer.models": {
        "videoformer.convert",
        "videoformer.checkpoint",
        "videoformer.factory",
        "videoformer.engine",
        "videoformer.data",
    },
    "videoformer.convert": {"videoformer.checkpoint", "videoformer.factory", "videoformer.engine"},
    "videoformer.checkpoint": {"videoformer.factory", "videoformer.engine"},
    "videoformer.hub": {"videoformer.models", "videoformer.checkpoint", "videoformer.factory",
                        "videoformer.engine"},
    "videoformer.data": {
        "videoformer.layers",
        "videoformer.models",
        "videoformer.convert",
        "videoformer.checkpoint",
        "videoformer.factory",
        "videoformer.engine",
    },
}


def test_lower_layers_never_import_upper_ones():
    bad = []
    for module, deps in import_graph().items():
        for layer, forbidden in LOWER_LAYERS.items():
            if module == layer or module.startswith(layer + "."):
                bad += [
                    f"{module} -> {d}"
                    for d in deps
                    for f in forbidden
                    if d == f or d.startswith(f + ".")
                ]
    assert not bad, bad
