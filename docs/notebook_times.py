#!/usr/bin/env python3
"""Time every notebook in one profile and keep TEACHING.md's run-time table in step.

    python docs/notebook_times.py --profile cpu                 # every notebook (`make test-cpu-profile`)
    python docs/notebook_times.py --profile quick notebooks/01_vgg19_anatomy.ipynb
    python docs/notebook_times.py --table-only                  # rewrite the table from docs/notebook_times.json

Each notebook is executed top to bottom with ``jupyter nbconvert --execute`` in a fresh kernel, with
``NSTHELPERS_PROFILE`` set to the profile (``NSTHELPERS_QUICK`` removed) and this checkout on ``PYTHONPATH``.
The wall time (kernel start included) goes into ``docs/notebook_times.json`` under the notebook and the
profile, with the date, the machine, its load average during the run and the CPU seconds the run used (a
figure other jobs on the machine hardly change; a time measured while the load was above the number of cores
is marked † in the table as an upper bound); the table between the markers in TEACHING.md is then rewritten from
the whole JSON, so profiles measured on different machines (a laptop for ``cpu``, a GPU for ``gpu``) add up.

The notebooks: the core path (``notebooks/NN_name.ipynb``, ``notebooks/05b_tuning.ipynb``: one class period
each; ``00_…`` is the first picture) and the deep dives (``notebooks/deep_dives/NN_x_topic.ipynb``). Times are
kept under the notebook's file stem (unique: deep dives have ``_x_`` in theirs).
The exit status is 1 when a notebook fails or takes longer than its budget (:func:`budget_s`: ``quick``:
2 minutes each; ``cpu``: 2 minutes for notebook 00, 5 for a core notebook, 10 for a deep dive; ``gpu``: none),
else 0.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
JSON_PATH = REPO / "docs" / "notebook_times.json"
TEACHING_PATH = REPO / "TEACHING.md"
PROFILES = ("quick", "cpu", "gpu")
# What the project promises per notebook, in seconds on 2 cores (None: no promise); see budget_s.
QUICK_BUDGET_S = 120.0
CPU_BUDGET_S = {"first": 120.0, "core": 300.0, "deep dive": 600.0}
START, END = "<!-- notebook-times:start -->", "<!-- notebook-times:end -->"
CORE = re.compile(r"^\d\d[a-z]?_.+\.ipynb$")          # 01_vgg19_anatomy.ipynb, 05b_tuning.ipynb
DEEP_DIVE = re.compile(r"^\d\d_x_.+\.ipynb$")         # deep_dives/01_x_vgg_internals.ipynb
DEEP_DIVES = "deep_dives"


def core_notebooks(folder: Path = REPO / "notebooks") -> list[Path]:
    """The core path (``NN_name.ipynb`` and ``05b_tuning.ipynb``, 00 included), in course order (sorted names)."""
    return sorted(p for p in folder.glob("*.ipynb") if CORE.match(p.name))


def deep_dive_notebooks(folder: Path = REPO / "notebooks") -> list[Path]:
    """The deep dives (``deep_dives/NN_x_topic.ipynb``), in order; their solutions are left out."""
    return sorted(p for p in (folder / DEEP_DIVES).glob("*.ipynb") if DEEP_DIVE.match(p.name))


def numbered_notebooks(folder: Path = REPO / "notebooks") -> list[Path]:
    """Every notebook of the course: the core path, then the deep dives (solutions are left out)."""
    return core_notebooks(folder) + deep_dive_notebooks(folder)


def is_deep_dive(path: Path) -> bool:
    """A notebook in the ``deep_dives/`` folder."""
    return path.parent.name == DEEP_DIVES


def budget_s(path: Path, profile: str) -> float | None:
    """The most seconds ``path`` may take in ``profile``: 2 minutes each in ``quick``; in ``cpu`` 2 minutes for
    notebook 00, 5 (one class period's share) for a core notebook, 10 for a deep dive; no limit in ``gpu``."""
    if profile == "quick":
        return QUICK_BUDGET_S
    if profile != "cpu":
        return None
    if is_deep_dive(path):
        return CPU_BUDGET_S["deep dive"]
    return CPU_BUDGET_S["first"] if path.name.startswith("00_") else CPU_BUDGET_S["core"]


def kernel_env(profile: str) -> dict[str, str]:
    """The environment a timed notebook runs in: the profile set, quick mode off, this checkout importable."""
    env = dict(os.environ)
    env.pop("NSTHELPERS_QUICK", None)
    env["NSTHELPERS_PROFILE"] = profile
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.setdefault("TQDM_DISABLE", "1")
    return env


def run_notebook(path: Path, profile: str, cell_timeout: int) -> tuple[bool, float, str]:
    """Execute ``path`` in a fresh kernel; return (ran without error, wall seconds, last lines of stderr)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", str(path),
               "--output-dir", tmp, "--output", path.stem, f"--ExecutePreprocessor.timeout={cell_timeout}"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=kernel_env(profile), cwd=REPO, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - t0
    tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
    return proc.returncode == 0, seconds, tail


def machine() -> str:
    """The machine in words, as the table's footnote names it."""
    try:
        import torch

        if torch.cuda.is_available():
            return f"CUDA ({torch.cuda.get_device_name(0)})"
    except ImportError:  # the table can be rewritten without torch
        pass
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def load_times(path: Path = JSON_PATH) -> dict:
    """The recorded times: ``{"notebooks": {stem: {profile: {"seconds", "ok", "date", "machine"}}}}``."""
    if not path.is_file():
        return {"notebooks": {}}
    times = json.loads(path.read_text(encoding="utf-8"))
    times.setdefault("notebooks", {})
    return times


def record(times: dict, stem: str, profile: str, ok: bool, seconds: float, where: str, *,
           load: float | None = None, cores: int | None = None, cpu_seconds: float | None = None) -> None:
    """Store one measurement (replacing the notebook's earlier one in that profile); ``load`` is the machine's
    load average during the run, ``cores`` its core count, ``cpu_seconds`` what the run's processes used."""
    entry: dict = {"seconds": round(seconds, 1), "ok": ok, "date": datetime.date.today().isoformat(), "machine": where}
    if load is not None and cores:
        entry.update(load=round(load, 1), cores=cores)
    if cpu_seconds is not None:
        entry["cpu_seconds"] = round(cpu_seconds, 1)
    times["notebooks"].setdefault(stem, {})[profile] = entry


def busy(entry: dict) -> bool:
    """Measured while the machine's load average was above its number of cores (the time is an upper bound)."""
    return bool(entry.get("cores")) and entry.get("load", 0) > entry["cores"]


def load_average() -> float | None:
    """The 1-minute load average, or None where the system has none (Windows)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def children_cpu_seconds() -> float | None:
    """User + system CPU seconds of this process's finished children so far (None without ``resource``)."""
    try:
        import resource
    except ImportError:
        return None
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def duration_text(seconds: float) -> str:
    """42 s, 3.5 min: how the table writes a run time."""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def entry_text(entry: dict | None) -> str:
    """One cell of the table: the time, ``failed after …``, or ``TBD`` when not measured."""
    if not entry:
        return "TBD"
    text = duration_text(entry["seconds"]) + (" †" if busy(entry) else "")
    return text if entry.get("ok", True) else f"failed after {text}"


BUSY_NOTE = ("† measured while the CPU was busy with other jobs (load average above its number of cores): an "
             "upper bound; `docs/notebook_times.json` records the load and the CPU seconds the run used.")


BUDGET_NOTE = ("Budgets: every notebook under 2 min in `quick`; in `cpu`, notebook 00 within 2 min, each core "
               "notebook within 5 min, each deep dive within 10 min (`make test-cpu-profile` fails beyond them).")


def render_table(times: dict, stems: list[str], deep_dives: list[str] | None = None) -> str:
    """The markdown table: one row per core notebook, then a *deep dives* row and one row per deep dive; one
    column per profile; then the budgets and where each profile was measured."""
    rows = ["| notebook | quick | cpu | gpu |", "|---|---|---|---|"]
    deep_dives = deep_dives or []
    labelled = [(f"`{stem}`", stem) for stem in stems]
    if deep_dives:
        labelled += [("*deep dives*", "")] + [(f"`{DEEP_DIVES}/{stem}`", stem) for stem in deep_dives]
    for label, stem in labelled:
        if not stem:
            rows.append(f"| {label} | | | |")
            continue
        measured = times["notebooks"].get(stem, {})
        rows.append(f"| {label} | " + " | ".join(entry_text(measured.get(p)) for p in PROFILES) + " |")
    where: dict[str, set[str]] = {}
    for measured in (times["notebooks"].get(stem, {}) for stem in stems + deep_dives):
        for profile, entry in measured.items():
            where.setdefault(profile, set()).add(f"{entry['machine']}, {entry['date']}")
    notes = [f"`{p}`: {'; '.join(sorted(where[p]))}" for p in PROFILES if p in where]
    footer = "Measured on: " + (" · ".join(notes) if notes else "nothing yet") + "."
    entries = [e for stem in stems + deep_dives for e in times["notebooks"].get(stem, {}).values()]
    if any(busy(e) for e in entries):
        footer += "\n\n" + BUSY_NOTE
    return "\n".join(rows) + "\n\n" + BUDGET_NOTE + "\n\n" + footer


def table_stems(notebooks: list[Path]) -> list[str]:
    """The core rows of the table: the core notebooks among ``notebooks``, in order (times of removed
    notebooks are not shown)."""
    return sorted(p.stem for p in notebooks if not is_deep_dive(p))


def deep_dive_stems(notebooks: list[Path]) -> list[str]:
    """The deep-dive rows of the table, in order."""
    return sorted(p.stem for p in notebooks if is_deep_dive(p))


def teaching_table(times: dict, notebooks: list[Path] | None = None) -> str:
    """The table for ``notebooks`` (default: every notebook of the course on disk)."""
    notebooks = numbered_notebooks() if notebooks is None else notebooks
    return render_table(times, table_stems(notebooks), deep_dive_stems(notebooks))


def replace_between_markers(text: str, table: str) -> str:
    """``text`` with everything between START and END replaced by ``table``; ValueError if a marker is missing."""
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise ValueError(f"expected one {START} … {END} pair in the teacher's guide")
    head, rest = text.split(START)
    _, tail = rest.split(END)
    return f"{head}{START}\n{table}\n{END}{tail}"


def update_teaching(times: dict, teaching: Path = TEACHING_PATH, notebooks: list[Path] | None = None) -> None:
    """Rewrite the run-time table in ``teaching`` from ``times``."""
    text = teaching.read_text(encoding="utf-8")
    teaching.write_text(replace_between_markers(text, teaching_table(times, notebooks)), encoding="utf-8")


def time_notebooks(paths: list[Path], profile: str, times: dict, cell_timeout: int) -> list[str]:
    """Run and record each notebook; return the problems (failures, budgets exceeded)."""
    problems, where = [], machine()
    for path in paths:
        budget = budget_s(path, profile)
        print(f"{path.name} ({profile}) ...", flush=True)
        load0, cpu0 = load_average(), children_cpu_seconds()
        ok, seconds, tail = run_notebook(path, profile, cell_timeout)
        load1, cpu1 = load_average(), children_cpu_seconds()
        load = None if load0 is None or load1 is None else (load0 + load1) / 2
        cpu = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
        record(times, path.stem, profile, ok, seconds, where, load=load, cores=os.cpu_count(), cpu_seconds=cpu)
        note = f" (load average {load:.1f} on {os.cpu_count()} cores)" if load is not None else ""
        print(f"    {'ok' if ok else 'FAILED'} in {duration_text(seconds)}{note}", flush=True)
        if not ok:
            problems.append(f"{path.name} failed:\n{tail}")
        elif budget is not None and seconds > budget:
            problems.append(f"{path.name} took {duration_text(seconds)}, over its {profile} budget of {duration_text(budget)}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time the notebooks in one profile; update TEACHING.md's table.")
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to time (default: the core path and the deep dives)")
    parser.add_argument("--profile", choices=PROFILES, default="cpu", help="NSTHELPERS_PROFILE for the runs")
    parser.add_argument("--table-only", action="store_true", help="run nothing; rewrite the table from the JSON")
    parser.add_argument("--json", type=Path, default=JSON_PATH, help="where the times are kept")
    parser.add_argument("--teaching", type=Path, default=TEACHING_PATH, help="the guide whose table is rewritten")
    parser.add_argument("--no-teaching", action="store_true", help="leave the guide's table alone")
    parser.add_argument("--cell-timeout", type=int, default=1800, help="seconds one cell may run")
    args = parser.parse_args(argv)
    times = load_times(args.json)
    problems: list[str] = []
    if not args.table_only:
        paths = [p.resolve() for p in args.notebooks] or numbered_notebooks()
        problems = time_notebooks(paths, args.profile, times, args.cell_timeout)
        args.json.write_text(json.dumps(times, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    if not args.no_teaching:
        update_teaching(times, args.teaching)
        print(f"updated {args.teaching} from {args.json}")
    for problem in problems:
        print(f"notebook_times: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
