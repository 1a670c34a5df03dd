"""Project files agree with each other: environment.yml ↔ pyproject, README ↔ Makefile, CI ↔ make test."""
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_lists_exactly_the_pyproject_dependencies():
    project = _pyproject()["project"]
    wanted = set(project["dependencies"]) | set(project["optional-dependencies"]["dev"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_lists = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_lists) == 1
    listed = {d for d in pip_lists[0] if not d.startswith("-e")}
    assert listed == wanted, {"only in environment.yml": listed - wanted, "only in pyproject": wanted - listed}
    assert "-e ." in pip_lists[0]
    assert "python=3.11" in env["dependencies"]


def test_ci_runs_make_test_and_readme_names_both_commands():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
    readme = (ROOT / "README.md").read_text()
    assert "make lab" in readme and "make test" in readme
    makefile = (ROOT / "Makefile").read_text()
    assert "\nlab:" in makefile and "\ntest:" in makefile and "--nbval-lax" in makefile


def test_console_script_points_at_cli_main():
    assert _pyproject()["project"]["scripts"]["nst"] == "nsthelpers.cli:main"


def test_every_notebook_is_committed_without_outputs():
    """Only cells whose output nbval compares (``# NBVAL_CHECK_OUTPUT``) keep it, and never a picture."""
    import json

    notebooks = sorted((ROOT / "notebooks").rglob("*.ipynb"))
    assert notebooks, "no notebooks found"
    for nb_path in notebooks:
        nb = json.loads(nb_path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] != "code":
                continue
            checked = any(line.strip() == "# NBVAL_CHECK_OUTPUT" for line in "".join(cell["source"]).splitlines())
            outputs = cell.get("outputs", [])
            assert checked or (outputs == [] and cell.get("execution_count") is None), nb_path.name
            assert not any("image/png" in o.get("data", {}) for o in outputs), nb_path.name
