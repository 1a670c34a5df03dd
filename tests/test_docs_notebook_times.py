"""``docs/notebook_times.py``: runs a notebook in a profile, records its time, rewrites TEACHING.md's table."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from docs_scripts import load_script

ROOT = Path(__file__).resolve().parents[1]

nt = load_script("notebook_times")


def write_notebook(path: Path, source: str) -> Path:
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}
    nb = {"cells": [cell], "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


def test_durations_and_cells():
    assert [nt.duration_text(s) for s in (4.4, 119.6, 120, 605)] == ["4 s", "120 s", "2.0 min", "10.1 min"]
    assert nt.entry_text(None) == "TBD"
    assert nt.entry_text({"seconds": 42.4, "ok": True}) == "42 s"
    assert nt.entry_text({"seconds": 42.4, "ok": False}) == "failed after 42 s"


def test_table_from_times():
    times = {"notebooks": {}}
    nt.record(times, "01_a", "quick", True, 41.26, "CPU (x, 2 cores)")
    nt.record(times, "02_b", "cpu", False, 700.0, "CPU (x, 2 cores)")
    nt.record(times, "99_gone", "gpu", True, 1.0, "CUDA (y)")  # a notebook no longer on disk is not shown
    assert times["notebooks"]["01_a"]["quick"]["seconds"] == 41.3
    table = nt.render_table(times, ["01_a", "02_b", "03_c"])
    lines = table.splitlines()
    assert lines[2] == "| `01_a` | 41 s | TBD | TBD |"
    assert lines[3] == "| `02_b` | TBD | failed after 11.7 min | TBD |"
    assert lines[4] == "| `03_c` | TBD | TBD | TBD |"
    assert "`quick`: CPU (x, 2 cores)," in lines[-1] and "CUDA" not in table


def test_markers(tmp_path):
    text = f"intro\n{nt.START}\nold\n{nt.END}\noutro\n"
    assert nt.replace_between_markers(text, "new") == f"intro\n{nt.START}\nnew\n{nt.END}\noutro\n"
    for broken in ("no markers", f"{nt.END}\n{nt.START}", f"{nt.START}{nt.START}{nt.END}"):
        with pytest.raises(ValueError, match="expected one"):
            nt.replace_between_markers(broken, "new")
    guide = tmp_path / "GUIDE.md"
    guide.write_text(text, encoding="utf-8")
    times = {"notebooks": {"01_a": {"cpu": {"seconds": 300, "ok": True, "date": "d", "machine": "m"}}}}
    nt.update_teaching(times, guide, [tmp_path / "01_a.ipynb"])
    assert "| `01_a` | TBD | 5.0 min | TBD |" in guide.read_text(encoding="utf-8")


def test_runs_notebooks_in_the_profile(tmp_path, monkeypatch):
    """A real run: the kernel sees the profile (quick mode unset) and this checkout; a failing cell is a failure."""
    monkeypatch.setenv("NSTHELPERS_QUICK", "1")
    probe = tmp_path / "probe.json"
    good = write_notebook(tmp_path / "01_probe.ipynb", (
        "import json, os, nsthelpers\n"
        f"json.dump({{'profile': os.environ.get('NSTHELPERS_PROFILE'), 'quick': os.environ.get('NSTHELPERS_QUICK'),"
        f" 'package': nsthelpers.__file__}}, open({str(probe)!r}, 'w'))"))
    bad = write_notebook(tmp_path / "02_bad.ipynb", "raise RuntimeError('boom')")
    times = {"notebooks": {}}
    problems = nt.time_notebooks([good, bad], "cpu", times, cell_timeout=120)
    seen = json.loads(probe.read_text())
    assert seen["profile"] == "cpu" and seen["quick"] is None
    assert Path(seen["package"]).resolve().parent == ROOT / "nsthelpers"
    assert times["notebooks"]["01_probe"]["cpu"]["ok"] is True
    probe_entry = times["notebooks"]["01_probe"]["cpu"]
    assert probe_entry["cpu_seconds"] > 0 and probe_entry["load"] >= 0 and probe_entry["cores"] >= 1   # kernel's CPU
    assert times["notebooks"]["02_bad"]["cpu"]["ok"] is False
    assert len(problems) == 1 and "02_bad.ipynb failed" in problems[0] and "boom" in problems[0]


def test_budget_of_the_profile_is_enforced(monkeypatch, tmp_path):
    monkeypatch.setattr(nt, "run_notebook", lambda path, profile, timeout: (True, 601.0, ""))
    times = {"notebooks": {}}
    problems = nt.time_notebooks([tmp_path / "01_slow.ipynb"], "cpu", times, cell_timeout=10)
    assert problems == ["01_slow.ipynb took 10.0 min, over its cpu budget of 5.0 min"]
    assert nt.time_notebooks([tmp_path / "01_slow.ipynb"], "gpu", times, cell_timeout=10) == []
    assert times["notebooks"]["01_slow"]["cpu"]["seconds"] == 601.0


def test_budgets_per_kind_of_notebook(monkeypatch, tmp_path):
    """cpu: notebook 00 2 min, a core notebook 5 min (one period's share), a deep dive 10 min; quick: 2 min each."""
    first, core, tuning = tmp_path / "00_first.ipynb", tmp_path / "05_loop.ipynb", tmp_path / "05b_tuning.ipynb"
    dive = tmp_path / "deep_dives" / "05_x_internals.ipynb"
    assert [nt.budget_s(p, "cpu") for p in (first, core, tuning, dive)] == [120.0, 300.0, 300.0, 600.0]
    assert {nt.budget_s(p, "quick") for p in (first, core, dive)} == {120.0}
    assert nt.budget_s(dive, "gpu") is None
    monkeypatch.setattr(nt, "run_notebook", lambda path, profile, timeout: (True, 250.0, ""))
    problems = nt.time_notebooks([first, core, dive], "cpu", {"notebooks": {}}, cell_timeout=10)
    assert problems == ["00_first.ipynb took 4.2 min, over its cpu budget of 2.0 min"]


def test_finds_the_core_path_and_the_deep_dives(tmp_path):
    for name in ("00_first.ipynb", "01_a.ipynb", "05b_tuning.ipynb", "05_loop.ipynb", "widget_demo.ipynb",
                 "deep_dives/01_x_internals.ipynb", "deep_dives/notes.ipynb",
                 "solutions/01_a_solutions.ipynb", "deep_dives/solutions/01_x_internals_solutions.ipynb"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}", encoding="utf-8")
    core = [p.name for p in nt.core_notebooks(tmp_path)]
    assert core == ["00_first.ipynb", "01_a.ipynb", "05_loop.ipynb", "05b_tuning.ipynb"]   # course order: sorted names
    assert [p.name for p in nt.deep_dive_notebooks(tmp_path)] == ["01_x_internals.ipynb"]
    every = nt.numbered_notebooks(tmp_path)
    assert [p.stem for p in every] == [p[:-6] for p in core] + ["01_x_internals"]
    assert nt.table_stems(every) == ["00_first", "01_a", "05_loop", "05b_tuning"]
    assert nt.deep_dive_stems(every) == ["01_x_internals"]


def test_table_shows_core_and_deep_dives(tmp_path):
    times = {"notebooks": {}}
    nt.record(times, "01_x_internals", "cpu", True, 540.0, "CPU (x, 2 cores)")
    nt.record(times, "00_first", "quick", True, 12.0, "CPU (x, 2 cores)")
    table = nt.render_table(times, ["00_first", "01_a"], ["01_x_internals"])
    lines = table.splitlines()
    assert lines[2:6] == ["| `00_first` | 12 s | TBD | TBD |", "| `01_a` | TBD | TBD | TBD |",
                          "| *deep dives* | | | |", "| `deep_dives/01_x_internals` | TBD | 9.0 min | TBD |"]
    assert nt.BUDGET_NOTE in table and "deep dive within 10 min" in nt.BUDGET_NOTE
    assert "*deep dives*" not in nt.render_table(times, ["00_first"])                 # no deep dives: no such row
    guide = tmp_path / "GUIDE.md"
    guide.write_text(f"{nt.START}\n{nt.END}\n", encoding="utf-8")
    nt.update_teaching(times, guide, [tmp_path / "00_first.ipynb", tmp_path / "deep_dives" / "01_x_internals.ipynb"])
    assert "| `deep_dives/01_x_internals` | TBD | 9.0 min | TBD |" in guide.read_text(encoding="utf-8")


def test_times_measured_on_a_busy_machine_are_marked():
    """A time measured while the load average was above the core count is an upper bound: marked †, explained."""
    times = {"notebooks": {}}
    nt.record(times, "01_a", "cpu", True, 330.0, "CPU (x, 2 cores)", load=25.04, cores=2, cpu_seconds=39.44)
    nt.record(times, "02_b", "cpu", True, 30.0, "CPU (x, 2 cores)", load=1.5, cores=2, cpu_seconds=20.0)
    assert times["notebooks"]["01_a"]["cpu"] | {"date": "d"} == {
        "seconds": 330.0, "ok": True, "date": "d", "machine": "CPU (x, 2 cores)", "load": 25.0, "cores": 2,
        "cpu_seconds": 39.4}
    table = nt.render_table(times, ["01_a", "02_b"])
    assert "| `01_a` | TBD | 5.5 min † | TBD |" in table and "| `02_b` | TBD | 30 s | TBD |" in table
    assert table.endswith(nt.BUSY_NOTE)
    assert nt.BUSY_NOTE not in nt.render_table(times, ["02_b"])         # no busy entry shown: no note
    nt.record(times, "03_c", "quick", True, 5.0, "m")                   # old entries have no load: not marked
    assert nt.entry_text(times["notebooks"]["03_c"]["quick"]) == "5 s"
