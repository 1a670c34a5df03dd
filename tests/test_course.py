"""The course's layout conventions (issue 20; TEACHING.md, "The core path"): what makes the series a course.

* Notebook 00 (``notebooks/00_*.ipynb``, the first picture) exists and has at most 800 words of markdown; its
  course map links every core notebook, and every notebook it links exists.
* Every core notebook (``notebooks/NN_name.ipynb`` and ``notebooks/05b_tuning.ipynb``) fits one 50-minute
  period: at most 1,800 words of markdown.
* Deep dives are ``notebooks/deep_dives/NN_x_topic.ipynb``, NN a core notebook they extend.
* Every code cell that starts with ``# Check:`` (core notebooks, deep dives, all solutions) is collapsed:
  cell metadata ``{"jupyter": {"source_hidden": true}}``, what JupyterLab reads.
* ``docs/notebook_times.json`` records a successful ``cpu``-profile run of every core notebook, within 5 minutes
  (notebook 00: 2 minutes), and of every deep dive it lists within 10 minutes.

Words are the whitespace-separated tokens of all markdown cells' sources joined, as COURSE conventions define.
The budgets are written here, apart from ``docs/notebook_times.py``'s, so that raising one there fails here.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
DEEP_DIVES = NOTEBOOKS / "deep_dives"
TIMES = ROOT / "docs" / "notebook_times.json"

FIRST_WORDS = 800
CORE_WORDS = 1800
FIRST_CPU_S = 120.0
CORE_CPU_S = 300.0
DEEP_DIVE_CPU_S = 600.0

CORE = re.compile(r"^\d\d[a-z]?_.+\.ipynb$")
DEEP_DIVE = re.compile(r"^(\d\d)_x_[a-z0-9_]+\.ipynb$")
CHECK = "# Check:"
NBVAL_MARKER = re.compile(r"^#\s*NBVAL_[A-Z_]+\s*$")
MEASURE = "python docs/notebook_times.py --profile cpu"


def core_notebooks() -> list[Path]:
    return sorted(p for p in NOTEBOOKS.glob("*.ipynb") if CORE.match(p.name))


def deep_dives() -> list[Path]:
    return sorted(DEEP_DIVES.glob("*.ipynb"))


def solutions() -> list[Path]:
    return sorted((NOTEBOOKS / "solutions").glob("*.ipynb")) + sorted((DEEP_DIVES / "solutions").glob("*.ipynb"))


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def ids(paths: list[Path]) -> list[str]:
    return [rel(p) for p in paths]


def notebook_cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def source(cell: dict) -> str:
    text = cell.get("source", "")
    return text if isinstance(text, str) else "".join(text)


def markdown_words(cells: list[dict]) -> int:
    """Whitespace-separated tokens of all markdown cells' sources joined."""
    return len("\n".join(source(c) for c in cells if c["cell_type"] == "markdown").split())


def is_check_cell(cell: dict) -> bool:
    """A code cell whose first line (after blank lines and nbval markers) starts with ``# Check:``."""
    if cell["cell_type"] != "code":
        return False
    lines = [line for line in source(cell).splitlines() if line.strip() and not NBVAL_MARKER.match(line.strip())]
    return bool(lines) and lines[0].lstrip().startswith(CHECK)


def is_collapsed(cell: dict) -> bool:
    return cell.get("metadata", {}).get("jupyter", {}).get("source_hidden") is True


def uncollapsed_checks(cells: list[dict]) -> list[str]:
    """``cell N: first line`` of every check cell that is not collapsed (N: the 0-based index in the JSON)."""
    return [f"cell {k}: {source(c).strip().splitlines()[0][:90]}" for k, c in enumerate(cells)
            if is_check_cell(c) and not is_collapsed(c)]


def first_notebook() -> Path | None:
    found = sorted(NOTEBOOKS.glob("00_*.ipynb"))
    return found[0] if found else None


def load_times() -> dict:
    return json.loads(TIMES.read_text(encoding="utf-8")).get("notebooks", {}) if TIMES.is_file() else {}


def cpu_budget(path: Path) -> float:
    if path.parent == DEEP_DIVES:
        return DEEP_DIVE_CPU_S
    return FIRST_CPU_S if path.name.startswith("00_") else CORE_CPU_S


def cpu_time_problem(path: Path, times: dict) -> str | None:
    """What is wrong with the recorded cpu time of ``path`` (None: recorded, successful, within its budget)."""
    entry = times.get(path.stem, {}).get("cpu")
    if not entry:
        return f"{rel(path)}: no cpu-profile time in docs/notebook_times.json; measure it: {MEASURE} {rel(path)}"
    budget = cpu_budget(path)
    if not entry.get("ok", True):
        return f"{rel(path)}: its recorded cpu-profile run failed (after {entry['seconds']:.0f} s); fix it and {MEASURE}"
    busy = entry.get("cores") and entry.get("load", 0) > entry["cores"]
    if busy and entry.get("cpu_seconds") is not None:
        # Measured while other jobs shared the CPU: the wall time says little, but the CPU seconds the run's own
        # processes used hardly change with the load, and on an idle machine a run takes about that long (less
        # where torch keeps both cores busy). So that is the figure held to the budget.
        if entry["cpu_seconds"] > budget:
            return (f"{rel(path)}: its cpu-profile run used {entry['cpu_seconds']:.0f} CPU seconds (measured at load "
                    f"average {entry['load']:g} on {entry['cores']} cores), over its budget of {budget:.0f} s; cut it "
                    "(or move sections to a deep dive) and measure again, on an idle machine if you can.")
        return None
    if entry["seconds"] > budget:
        why = (f" It was measured at load average {entry['load']:g} on {entry['cores']} cores: measure it again on an "
               "idle machine." if busy else "")
        return (f"{rel(path)}: {entry['seconds']:.0f} s in the cpu profile ({entry.get('date', '?')}), over its "
                f"budget of {budget:.0f} s; cut it (or move sections to a deep dive) and measure again.{why}")
    return None


# ------------------------------------------------------------------------------------------ the checkers


def test_word_count_reads_only_markdown():
    cells = [{"cell_type": "markdown", "source": ["# Title\n", "two  words"]},
             {"cell_type": "code", "source": "not counted at all"}, {"cell_type": "markdown", "source": "three\nmore words"}]
    assert markdown_words(cells) == 7          # "#", "Title", "two", "words", "three", "more", "words"


def test_check_cells_are_recognised():
    def code(text, meta=None):
        return {"cell_type": "code", "source": text, "metadata": meta or {}}
    hidden = {"jupyter": {"source_hidden": True}}
    cells = [code("# Check: the loop equals stylize\nassert x"), code("# NBVAL_IGNORE_OUTPUT\n# Check: a\nassert y"),
             code("\n# Check: b\n", hidden), code("x = 1  # Check: not at the start"),
             {"cell_type": "markdown", "source": "# Check: markdown is text, not a check", "metadata": {}},
             code("# Check: outputs only\nprint(1)", {"jupyter": {"outputs_hidden": True}})]
    assert [is_check_cell(c) for c in cells] == [True, True, True, False, False, True]
    assert uncollapsed_checks(cells) == ["cell 0: # Check: the loop equals stylize",
                                         "cell 1: # NBVAL_IGNORE_OUTPUT", "cell 5: # Check: outputs only"]


def test_time_problems_name_the_notebook_and_the_fix():
    core, first, dive = NOTEBOOKS / "07_x.ipynb", NOTEBOOKS / "00_y.ipynb", DEEP_DIVES / "07_x_z.ipynb"
    entry = {"seconds": 301.0, "ok": True, "date": "d", "machine": "m"}
    times = {"07_x": {"cpu": entry}, "00_y": {"cpu": {**entry, "seconds": 119.0}}, "07_x_z": {"cpu": entry}}
    assert "over its budget of 300 s" in cpu_time_problem(core, times)
    assert cpu_time_problem(first, times) is None and cpu_time_problem(dive, times) is None
    assert "over its budget of 120 s" in cpu_time_problem(first, {"00_y": {"cpu": {**entry, "seconds": 121.0}}})
    assert "over its budget of 600 s" in cpu_time_problem(dive, {"07_x_z": {"cpu": {**entry, "seconds": 601.0}}})
    assert "no cpu-profile time" in cpu_time_problem(core, {}) and MEASURE in cpu_time_problem(core, {})
    assert "failed" in cpu_time_problem(core, {"07_x": {"cpu": {**entry, "seconds": 10.0, "ok": False}}})
    # on a busy machine the CPU seconds the run used are held to the budget, not its stretched wall time
    loaded = {"07_x": {"cpu": {**entry, "load": 25.0, "cores": 2, "cpu_seconds": 39.4}}}
    assert cpu_time_problem(core, loaded) is None
    too_much = {"07_x": {"cpu": {**entry, "load": 25.0, "cores": 2, "cpu_seconds": 301.0}}}
    assert "301 CPU seconds" in cpu_time_problem(core, too_much)
    assert "load average 25 on 2 cores" in cpu_time_problem(core, too_much)
    unknown = {"07_x": {"cpu": {**entry, "load": 25.0, "cores": 2}}}  # busy, CPU seconds not recorded: wall time
    assert "idle machine" in cpu_time_problem(core, unknown)
    assert "idle machine" not in cpu_time_problem(core, times)


# ------------------------------------------------------------------------------------------ notebook 00


def test_notebook_00_exists_and_stays_short():
    first = first_notebook()
    assert first is not None, "notebooks/00_first_style_transfer.ipynb is missing: the course starts with a picture"
    words = markdown_words(notebook_cells(first))
    assert words <= FIRST_WORDS, f"{first.name}: {words} words of markdown, over {FIRST_WORDS}; cut {words - FIRST_WORDS}"


def test_the_map_in_notebook_00_names_every_core_notebook_and_each_link_exists():
    first = first_notebook()
    assert first is not None, "notebooks/00_first_style_transfer.ipynb is missing"
    text = "\n".join(source(c) for c in notebook_cells(first) if c["cell_type"] == "markdown")
    targets = re.findall(r"\]\(([^)#\s]+?\.ipynb)(?:#[^)]*)?\)", text)
    missing = sorted(t for t in set(targets) if not (NOTEBOOKS / t).is_file())
    assert not missing, f"{first.name} links notebooks that do not exist: {missing}"
    linked = {(NOTEBOOKS / t).resolve() for t in targets}
    unmapped = [p.name for p in core_notebooks() if p != first and p.resolve() not in linked]
    assert not unmapped, f"{first.name}: the course map does not link {len(unmapped)} core notebook(s): {unmapped}"


# ------------------------------------------------------------------------------------------ the core path


@pytest.mark.parametrize("notebook", core_notebooks(), ids=ids(core_notebooks()))
def test_core_notebook_fits_one_period_in_words(notebook):
    words = markdown_words(notebook_cells(notebook))
    assert words <= CORE_WORDS, (f"{notebook.name}: {words} words of markdown, over the {CORE_WORDS} of one "
                                 f"50-minute period; cut {words - CORE_WORDS} or move sections to a deep dive")


def test_05_is_split_in_two():
    names = [p.name for p in core_notebooks()]
    assert "05b_tuning.ipynb" in names, f"notebook 05's tuning half, notebooks/05b_tuning.ipynb, is missing: {names}"


@pytest.mark.parametrize("notebook", deep_dives(), ids=ids(deep_dives()))
def test_deep_dive_is_named_after_the_core_notebook_it_extends(notebook):
    match = DEEP_DIVE.match(notebook.name)
    assert match, f"{rel(notebook)}: name a deep dive NN_x_topic.ipynb (lower case), NN the core notebook it extends"
    numbers = {p.name[:2] for p in core_notebooks()}
    assert match.group(1) in numbers, f"{rel(notebook)}: there is no core notebook {match.group(1)} for it to extend"


# ------------------------------------------------------------------------------------------ checks collapsed


ALL_WITH_CHECKS = core_notebooks() + deep_dives() + solutions()


@pytest.mark.parametrize("notebook", ALL_WITH_CHECKS, ids=ids(ALL_WITH_CHECKS))
def test_check_cells_are_collapsed(notebook):
    cells = notebook_cells(notebook)
    bad = uncollapsed_checks(cells)
    total = sum(is_check_cell(c) for c in cells)
    assert not bad, (f"{rel(notebook)}: {len(bad)} of its {total} '# Check:' cells are not collapsed; give each "
                     'the cell metadata {"jupyter": {"source_hidden": true}}:\n' + "\n".join(bad))


# ------------------------------------------------------------------------------------------ run times


@pytest.mark.parametrize("notebook", core_notebooks(), ids=ids(core_notebooks()))
def test_core_notebook_fits_one_period_in_cpu_time(notebook):
    problem = cpu_time_problem(notebook, load_times())
    assert problem is None, problem


def test_recorded_deep_dives_stay_within_ten_minutes():
    times = load_times()
    recorded = [p for p in deep_dives() if "cpu" in times.get(p.stem, {})]
    problems = [problem for p in recorded if (problem := cpu_time_problem(p, times))]
    assert not problems, "\n".join(problems)
