"""The package's one architectural rule, as nsthelpers/__init__.py states it (``SUBPACKAGE_TIERS``): the core
(the modules at the top of the package) imports no subpackage; a subpackage imports the core, its own modules
and subpackages of lower tiers, never one beside it; no module imports in a cycle; no module reaches into
another's private names; the independent judges (``measures``) import nothing from the package."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import nsthelpers

PACKAGE = Path(nsthelpers.__file__).resolve().parent
DOORS = {"nsthelpers", "nsthelpers.__main__"}
TIER = {name: tier for tier, names in enumerate(nsthelpers.SUBPACKAGE_TIERS, start=1) for name in names}


def module_name(path: Path) -> str:
    """``nsthelpers/viz/grams.py`` -> ``nsthelpers.viz.grams``; a package's ``__init__`` is the package."""
    parts = ("nsthelpers",) + path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if "__pycache__" not in p.parts}


def group(module: str) -> str:
    """``core`` for a top-level module, else the subpackage's name."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in TIER) else "core"


def imports(module: str) -> list[tuple[str, list[str]]]:
    """The package modules ``module`` imports (absolute names), each with the names it takes from it."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            if node.module:
                found.append((f"{base}.{node.module}", [a.name for a in node.names]))
            else:
                found += [(f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("nsthelpers"):
            found.append((node.module or "", [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names if a.name.startswith("nsthelpers")]
    return [(target if target in MODULES else target.rpartition(".")[0], names) for target, names in found]


def allowed(source: str, target: str) -> bool:
    """The rule: the core imports only the core; a subpackage the core, itself and lower tiers."""
    mine, theirs = group(source), group(target)
    if theirs in ("core", mine):
        return True
    return mine != "core" and TIER[theirs] < TIER[mine]


@pytest.mark.parametrize("module", sorted(set(MODULES) - DOORS))
def test_imports_follow_the_rule(module):
    for target, names in imports(module):
        assert target not in DOORS, f"{module} imports {target}: nothing inside the package imports its doors"
        assert allowed(module, target), (
            f"{module} ({group(module)}) imports {target} ({group(target)}): the core imports no subpackage, and "
            "a subpackage only the core and lower tiers (nsthelpers.SUBPACKAGE_TIERS)")
        private = [n for n in names if n.startswith("_")]
        assert not private, f"{module} imports private names {private} from {target}"


def test_no_module_imports_in_a_cycle():
    graph = {m: {t for t, _ in imports(m) if t != m} for m in set(MODULES) - DOORS}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            assert state.get(nxt) != 1, "import cycle: " + " -> ".join(path[path.index(nxt):] + [nxt])
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_the_rule_catches_a_core_module_importing_a_subpackage():
    assert not allowed("nsthelpers.transfer", "nsthelpers.viz.grams")
    assert not allowed("nsthelpers.viz.grams", "nsthelpers.video.flow")      # beside it
    assert not allowed("nsthelpers.data.photos", "nsthelpers.viz.grams")     # a higher tier
    assert not allowed("nsthelpers.cli.commands", "nsthelpers.widgets.lab")      # front ends stay apart
    assert allowed("nsthelpers.widgets.lab_panel", "nsthelpers.viz.curves")
    assert allowed("nsthelpers.viz.grams", "nsthelpers.images")
    assert group("nsthelpers.viz") == "viz" and group("nsthelpers.loop") == "core"


def test_every_subpackage_is_in_a_tier_and_every_tier_exists():
    subpackages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert subpackages == set(TIER), "list every subpackage in nsthelpers.SUBPACKAGE_TIERS"


def test_the_judges_import_nothing_from_the_package():
    assert imports("nsthelpers.measures") == []
