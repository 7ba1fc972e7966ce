"""The package's structure: imports point one way (no cycles, module level or inside
functions) and the layers below never reach up (specs <- layers <- models <- convert <-
weights <- inference <- engine <- cli; data stands alone beside them)."""

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
    assert "videoformer.weights.loading" in graph["videoformer.weights.factory"]
    # engine.train imports its plots inside a function (Trainer.finish)
    assert "videoformer.engine.plots" in graph["videoformer.engine.train"]


def test_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_a_cycle_would_be_found():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


ABOVE_MODELS = ("convert", "weights", "inference", "engine", "cli", "demo")
LOWER_LAYERS = {
    "specs": ("layers", "models", "data", *ABOVE_MODELS),
    "fields": ("specs", "layers", "models", "data", *ABOVE_MODELS),
    "seeding": ("specs", "layers", "models", "data", *ABOVE_MODELS),
    "layers": ("models", "data", *ABOVE_MODELS),
    "models": ("data", *ABOVE_MODELS),
    "convert": ("data", "weights", "inference", "engine", "cli", "demo"),
    "weights": ("inference", "engine", "cli", "demo"),
    "data": ("layers", "models", *ABOVE_MODELS),
    "inference": ("engine", "cli", "demo"),
    "engine": ("cli", "demo"),
}


def _layer_names() -> set[str]:
    return set(LOWER_LAYERS) | {f for forbidden in LOWER_LAYERS.values() for f in forbidden}


def test_every_layer_named_exists():
    modules = import_graph()
    missing = sorted(name for name in _layer_names() if f"videoformer.{name}" not in modules)
    assert not missing, f"the layer table names modules that do not exist: {missing}"


def _within(module: str, layer: str) -> bool:
    name = f"videoformer.{layer}"
    return module == name or module.startswith(name + ".")


def test_lower_layers_never_import_upper_ones():
    bad = []
    for module, deps in import_graph().items():
        for layer, forbidden in LOWER_LAYERS.items():
            if _within(module, layer):
                bad += [f"{module} -> {d}" for d in deps for f in forbidden if _within(d, f)]
    assert not bad, bad


def test_a_reach_up_would_be_found():
    assert _within("videoformer.weights.source", "weights")
    assert not _within("videoformer.weightsx", "weights")
