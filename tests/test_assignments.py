"""The graded assignments (assignments/): the key passes every check, the untouched student version fails every
check with its message (never a traceback from inside torch), the committed student versions are what nbgrader
makes of the keys today, and nbgrader's autograder scores a submission by those checks."""
from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import shutil
import sys
from pathlib import Path

import matplotlib
import nbformat
import pytest

import nsthelpers
from nsthelpers.grading.expected import CheckFailed

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "assignments"
ASSIGNMENTS = sorted(p.name for p in (HERE / "source").iterdir() if p.is_dir() and not p.name.startswith("."))
STUB = "raise NotImplementedError()"


def _notebook(kind: str, name: str) -> nbformat.NotebookNode:
    return nbformat.read(HERE / kind / name / f"{name}.ipynb", as_version=4)


def _grading(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


@pytest.fixture
def one_vgg(monkeypatch):
    """The demos load VGG19 once per test run, not once per notebook."""
    monkeypatch.setattr(nsthelpers, "load_vgg19", functools.cache(nsthelpers.load_vgg19))


def _run_cells(nb, skip_demos: bool) -> list[tuple[str, str, BaseException | None]]:
    """Execute a notebook's code cells in one namespace; (grade_id, printed text, exception) per cell."""
    namespace: dict = {"__name__": "__assignment__"}
    results = []
    for cell in nb.cells:
        if cell.cell_type != "code" or (skip_demos and "demo" in cell.metadata.get("tags", [])):
            continue
        out, error = io.StringIO(), None
        with contextlib.redirect_stdout(out):
            try:
                exec(compile(cell.source, f"<{_grading(cell).get('grade_id')}>", "exec"), namespace)
            except Exception as err:  # noqa: BLE001 - collected and judged by the test
                error = err
        results.append((_grading(cell).get("grade_id", ""), out.getvalue(), error))
    plt.close("all")
    return results


def test_there_are_at_least_six_assignments_each_with_a_key_and_a_student_version():
    assert len(ASSIGNMENTS) >= 6
    assert ASSIGNMENTS == sorted(p.name for p in (HERE / "release").iterdir() if p.is_dir())


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_the_key_passes_every_check(name, one_vgg):
    results = _run_cells(_notebook("source", name), skip_demos=False)
    errors = [(gid, repr(err)) for gid, _, err in results if err is not None]
    assert not errors, errors
    checks = [(gid, text) for gid, text, _ in results if gid.startswith("check_")]
    assert checks and all(text.startswith("✓") and "passed" in text for _, text in checks), checks


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_the_untouched_student_version_fails_every_check_with_its_message(name):
    nb = _notebook("release", name)
    graded = {_grading(c)["grade_id"] for c in nb.cells if _grading(c).get("grade")}
    results = {gid: err for gid, _, err in _run_cells(nb, skip_demos=True)}
    assert graded and graded <= set(results)
    for gid, err in results.items():
        if gid in graded:
            assert isinstance(err, CheckFailed), (gid, repr(err))
            assert "is not written yet: replace `raise NotImplementedError()`" in str(err)
            assert err.__suppress_context__ and err.__traceback__ is not None
        else:
            assert err is None, (gid, repr(err))   # imports and stubs run; only the checks fail


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_the_student_version_has_a_stub_for_every_function_and_a_locked_check_after_it(name):
    key, student = _notebook("source", name), _notebook("release", name)
    solutions = [c for c in student.cells if _grading(c).get("solution")]
    assert solutions and all(STUB in c.source and "BEGIN SOLUTION" not in c.source for c in solutions)
    for key_cell, cell in zip(key.cells, student.cells):
        if _grading(cell).get("solution"):
            body = key_cell.source.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0]
            assert body.strip() and body.strip() not in cell.source
    kinds = ["solution" if _grading(c).get("solution") else "check" if _grading(c).get("grade") else ""
             for c in student.cells]
    pairs = [(a, b) for a, b in zip(kinds, kinds[1:]) if a == "solution"]
    assert pairs and all(b == "check" for _, b in pairs), kinds      # each function is followed by its check
    assert all(_grading(c).get("locked") and _grading(c).get("points", 0) > 0
               for c in student.cells if _grading(c).get("grade"))


@pytest.mark.slow
def test_the_committed_student_versions_are_what_nbgrader_makes_of_the_keys(tmp_path):
    sys.path.insert(0, str(HERE))
    try:
        import build
    finally:
        sys.path.remove(str(HERE))
    shutil.copytree(HERE / "source", tmp_path / "source")
    fresh = build.build(tmp_path)
    assert [p.relative_to(tmp_path / "release") for p in fresh] == \
        sorted(p.relative_to(HERE / "release") for p in (HERE / "release").glob("*/*.ipynb"))
    for path in fresh:
        committed = HERE / "release" / path.relative_to(tmp_path / "release")
        assert json.loads(path.read_text()) == json.loads(committed.read_text()), \
            f"{committed.relative_to(ROOT)} is stale: run `make assignments` and commit assignments/release/"


@pytest.mark.slow
def test_nbgrader_autograde_gives_the_key_full_marks_and_the_stub_none(tmp_path, monkeypatch):
    name = "a3_tv"                                      # no VGG19: the quickest to run twice in a kernel
    shutil.copytree(HERE / "source" / name, tmp_path / "source" / name)
    shutil.copy(HERE / "nbgrader_config.py", tmp_path)
    for student, kind in (("key", "source"), ("blank", "release")):
        folder = tmp_path / "submitted" / student / name
        folder.mkdir(parents=True)
        shutil.copy(HERE / kind / name / f"{name}.ipynb", folder)
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))  # alembic
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(tmp_path)).load_config()
    api = NbGraderAPI(config=config)
    assert api.generate_assignment(name)["success"]
    for student in ("key", "blank"):
        result = api.autograde(name, student)
        assert result["success"], result
    with Gradebook(config.CourseDirectory.db_url) as gradebook:
        scores = {s: (gradebook.find_submission(name, s).score, gradebook.find_submission(name, s).max_score)
                  for s in ("key", "blank")}
    assert scores == {"key": (2.0, 2.0), "blank": (0.0, 2.0)}, scores
    graded = nbformat.read(tmp_path / "autograded" / "blank" / name / f"{name}.ipynb", as_version=4)
    failures = [o for c in graded.cells if _grading(c).get("grade")
                for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert failures and all(o["ename"] == "CheckFailed" and "is not written yet" in o["evalue"] for o in failures)
    # Jupyter shows the verdict alone (CheckFailed._render_traceback_), no frames of torch or of the checks
    assert all(o["traceback"] == [f"CheckFailed: {o['evalue']}"] for o in failures), failures
    assert api.generate_feedback(name, "blank")["success"]             # what the student gets back
    feedback = (tmp_path / "feedback" / "blank" / name / f"{name}.html").read_text()
    assert "tv_loss is not written yet" in feedback
