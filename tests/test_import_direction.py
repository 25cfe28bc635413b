"""The package's imports run one way (read from the source with ``ast``, not at run time).

Layers, lowest first: the shared core modules at the package top (errors, scheme, metrics,
atomic writes, ...), ``data``, ``models``, then ``annotation`` and ``evaluation``, then
``scoring`` and ``training``, then ``reporting``, then ``cli``. A module may import its own
layer or lower ones, never a higher one; ``evaluation`` never imports ``scoring``; and no two
modules import each other, directly or through others (every import counts, also those inside
functions). The package's own ``__init__`` (the public facade) is exempt from the layers.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

import stance

PACKAGE = Path(stance.__file__).parent
RANK = {"data": 1, "models": 2, "annotation": 3, "evaluation": 3, "scoring": 4, "training": 4,
        "reporting": 5, "cli": 6}
"""Subpackage layers; modules at the package top are the core (layer 0)."""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, here: str, is_package: bool, modules: set[str]) -> set[str]:
    """The ``stance`` modules that ``source`` (module ``here``) imports, at any depth.

    ``from x import y`` counts ``x.y`` when that is a module, else ``x``.
    """
    package = here if is_package else here.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: package.count(".") + 2 - node.level]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        found.update(n for n in names if n in modules)
    return found - {here}


def layer(module: str) -> int:
    parts = module.split(".")
    return RANK.get(parts[1], 0) if len(parts) > 1 else 0


def import_graph() -> dict[str, set[str]]:
    files = [p for p in PACKAGE.rglob("*.py") if "_resources" not in p.parts]
    modules = {module_name(p) for p in files}
    return {module_name(p): imports_of(p.read_text(encoding="utf-8"), module_name(p),
                                       p.name == "__init__.py", modules) for p in files}


GRAPH = import_graph()


def test_the_graph_sees_the_package():
    assert {"stance.cli.train", "stance.data.readers", "stance.scoring.score"} <= set(GRAPH)
    assert "stance.data.readers" in set().union(*GRAPH.values())
    assert sum(len(deps) for deps in GRAPH.values()) > 100


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if m != "stance"))
def test_no_module_imports_a_higher_layer(module: str):
    upward = sorted(d for d in GRAPH[module] if d != "stance" and layer(d) > layer(module))
    assert not upward, f"{module} (layer {layer(module)}) imports higher layers: {upward}"


def test_evaluation_never_imports_scoring():
    bad = sorted((m, d) for m, deps in GRAPH.items() if m.startswith("stance.evaluation")
                 for d in deps if d.startswith("stance.scoring"))
    assert not bad, bad


def test_no_import_cycle():
    graph = {m: deps - {"stance"} for m, deps in GRAPH.items() if m != "stance"}
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as err:
        pytest.fail(f"import cycle: {' -> '.join(err.args[1])}")


def test_the_reader_finds_absolute_relative_and_function_level_imports():
    modules = {"stance", "stance.data", "stance.data.readers", "stance.scoring",
               "stance.scoring.score", "stance.cli", "stance.cli.train"}
    source = ("from stance.scoring import score\n"
              "from . import readers\n"
              "def f():\n    import stance.cli.train\n")
    found = imports_of(source, "stance.data.build", False, modules)
    assert found == {"stance.scoring.score", "stance.data.readers", "stance.cli.train"}
    assert layer("stance.data.build") < layer("stance.scoring.score") < layer("stance.cli.train")
    assert layer("stance.errors") == 0
