"""The package's shape: dependencies point one way (the module map in nsthelpers/__init__.py), no module
reaches into another's private names, and no function is too long to read at once."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "nsthelpers"

#: each module may import only modules of a lower layer
LAYERS = {
    "settings": 0, "images": 0, "gram": 0, "color": 0, "masks": 0, "data": 0, "speed": 0, "checkpoint": 0,
    "measures": 0,
    "vgg": 1, "losses": 1, "analysis": 1,
    "checks": 2, "features": 2, "memory": 2, "viz": 2,
    "specs": 3, "plan": 3,
    "targets": 3, "objective": 4, "evaluate": 4, "quantization": 3, "loss_modules": 4, "diagrams": 4,
    "loop": 5, "reference": 5,
    "stages": 6, "live": 6, "transfer": 7,
    "lab": 7, "batch": 7,
    "widgets": 8, "cli": 9, "__main__": 10,
    "session": 10, "__init__": 11,
    "peak_memory": 1, "backbones": 2, "finetune": 3, "amp": 5,
    "flow": 0, "trainset": 3, "synthclip": 3, "fast": 5, "adain": 6, "temporal": 6, "video": 7, "outputs": 0,
    "cli_fast": 7, "cli_video": 8,
    "grading": 7, "grading_checks": 8,
}


def _modules():
    return sorted(p for p in PACKAGE.glob("*.py"))


def _relative_imports(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                yield node.module.split(".")[0], [a.name for a in node.names]
            else:
                for alias in node.names:
                    yield alias.name, []


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.stem)
def test_dependencies_point_down_and_private_names_stay_private(path):
    assert path.stem in LAYERS, f"add {path.stem} to LAYERS (and to the module map in nsthelpers/__init__.py)"
    tree = ast.parse(path.read_text())
    for module, names in _relative_imports(tree):
        assert LAYERS[module] < LAYERS[path.stem], f"{path.stem} imports {module}, which is not below it"
        private = [n for n in names if n.startswith("_")]
        assert not private, f"{path.stem} imports private names {private} from {module}"


def test_the_judges_import_nothing_from_the_package():
    tree = ast.parse((PACKAGE / "measures.py").read_text())
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not list(_relative_imports(tree)) and not any(m and m.startswith("nsthelpers") for m in imported)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.stem)
def test_functions_are_short_enough_to_read(path):
    tree = ast.parse(path.read_text())
    long = [(n.name, n.end_lineno - n.lineno + 1) for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > 60]
    assert not long, f"{path.stem}: functions over 60 lines: {long}"


def test_the_adam_loop_reads_in_about_thirty_lines():
    tree = ast.parse((PACKAGE / "loop.py").read_text())
    adam = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "_adam_loop")
    assert adam.end_lineno - adam.lineno + 1 <= 35
