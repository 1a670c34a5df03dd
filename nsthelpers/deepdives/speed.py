"""Measuring speed: milliseconds per step, and the time an optimiser needs to reach a given loss.

Shared by the speed deep dive (``notebooks/deep_dives/05_x_speed.ipynb``: what each optimisation buys, measured live) and ``benchmarks/bench.py``.

* :func:`time_steps` / :func:`compare_steps`: median wall time of a step function after warm-up calls,
  with the device synchronised around every timed call (GPU work is asynchronous: without a sync you time
  the kernel *launches*, not the work). :func:`compare_steps` interleaves several functions round by
  round, so a busy spell on a shared machine slows all of them alike instead of one.
* :func:`time_to_loss`: run an optimisation whose callback scores the current picture every few steps;
  stop at the first score at or below a target; report steps and seconds with the scoring time excluded.

The clocks are parameters, so tests drive both with a fake clock.
"""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure


def sync(device: str | torch.device | None) -> None:
    """Wait until ``device`` has finished all queued work (CUDA, MPS); nothing to do on the CPU."""
    if device is None:
        return
    dev = torch.device(device)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elif dev.type == "mps":
        torch.mps.synchronize()


@dataclass(frozen=True)
class Timing:
    """The timed calls of one step function: ``ms`` is their median wall time, ``samples_ms`` all of them.

    ``cpu_ms`` is the median *process CPU time* per call (all of this process's threads): other jobs on a
    shared machine inflate wall time a lot and CPU time little, so on a CPU it is the steadier number to
    compare. On a GPU it only counts the host's work (launching kernels, waiting in a sync).
    """

    ms: float
    samples_ms: tuple[float, ...]
    cpu_ms: float = math.nan
    cpu_samples_ms: tuple[float, ...] = ()

    @property
    def spread(self) -> tuple[float, float]:
        """(fastest, slowest) sample in ms: how noisy the machine was."""
        return min(self.samples_ms), max(self.samples_ms)


def compare_steps(
    fns: Mapping[str, Callable[[], Any]],
    *,
    warmup: int = 1,
    repeats: int = 3,
    device: str | torch.device | None = None,
    clock: Callable[[], float] = time.perf_counter,
    cpu_clock: Callable[[], float] = time.process_time,
) -> dict[str, Timing]:
    """Median ms per call of each function in ``fns``, measured in interleaved rounds.

    Each function is called ``warmup`` times untimed (one-time costs: allocator growth, cuDNN's
    algorithm search, thread pools), then ``repeats`` rounds call every function once, in order, each
    call timed on its own between two device syncs (wall time with ``clock``, process CPU time with
    ``cpu_clock``).
    """
    if not fns:
        raise ValueError("fns is empty: pass {name: step_function}")
    if not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be an integer ≥ 0, got {warmup!r}")
    if not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be an integer ≥ 1, got {repeats!r}")
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    cpu_samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            sync(device)
            t0, c0 = clock(), cpu_clock()
            fn()
            sync(device)
            samples[name].append(1000.0 * (clock() - t0))
            cpu_samples[name].append(1000.0 * (cpu_clock() - c0))
    return {name: Timing(statistics.median(s), tuple(s), statistics.median(cpu_samples[name]), tuple(cpu_samples[name]))
            for name, s in samples.items()}


def time_steps(
    fn: Callable[[], Any],
    warmup: int = 1,
    repeats: int = 3,
    device: str | torch.device | None = None,
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Median milliseconds per call of ``fn`` after ``warmup`` untimed calls (device synced around each call)."""
    return compare_steps({"fn": fn}, warmup=warmup, repeats=repeats, device=device, clock=clock)["fn"].ms


@dataclass
class TimeToLoss:
    """Outcome of :func:`time_to_loss`.

    ``steps`` and ``seconds`` are measured at the first check whose score was ≤ ``target``; when the
    target was not reached they cover the whole run (then ``seconds`` is a lower bound of the time needed).
    ``seconds`` and ``cpu_seconds`` exclude the time spent scoring (``scoring_seconds``).
    """

    target: float
    reached: bool
    steps: int
    seconds: float
    cpu_seconds: float
    scoring_seconds: float
    scoring_cpu_seconds: float
    best: float
    trace: list[tuple[int, float]] = field(default_factory=list)
    result: Any = None

    @property
    def ms_per_step(self) -> float:
        """Wall milliseconds per optimisation step up to the target (scoring excluded)."""
        return 1000.0 * self.seconds / max(self.steps, 1)


def time_to_loss(
    run: Callable[[Callable[[Any], bool]], Any],
    score: Callable[[torch.Tensor], float],
    target: float,
    *,
    device: str | torch.device | None = None,
    clock: Callable[[], float] = time.perf_counter,
    cpu_clock: Callable[[], float] = time.process_time,
) -> TimeToLoss:
    """Time an optimisation until ``score(picture) <= target``, the scoring itself not counted.

    ``run(callback)`` starts the optimisation (set-up included in the time) and must call
    ``callback(info)`` every few steps with ``info.step`` (steps done) and ``info.image`` (the current
    picture), stopping when it returns True: :func:`nsthelpers.stylize` and :func:`nsthelpers.optimize`
    do, e.g. ``run = lambda cb: nst.stylize(content, style, callback=cb, callback_every=10)``.
    Whatever ``run`` returns is kept in ``result``; its ``steps_done`` (if any) counts the steps of a
    run that never reached the target.
    """
    state = _Scoring()
    trace: list[tuple[int, float]] = []

    def now() -> tuple[float, float]:
        sync(device)
        return clock(), cpu_clock()

    def callback(info: Any) -> bool:
        t, c = now()
        value = float(score(info.image))
        state.best = min(state.best, value)
        state.last_step = int(info.step)
        trace.append((int(info.step), value))
        if value <= target and state.hit is None:
            state.hit = (int(info.step), t - start - state.seconds, c - start_cpu - state.cpu_seconds)
        t2, c2 = now()
        state.seconds += t2 - t
        state.cpu_seconds += c2 - c
        return state.hit is not None

    start, start_cpu = now()
    result = run(callback)
    end, end_cpu = now()
    if state.hit is not None:
        steps, seconds, cpu_seconds = state.hit
    else:
        steps = int(getattr(result, "steps_done", state.last_step))
        seconds = end - start - state.seconds
        cpu_seconds = end_cpu - start_cpu - state.cpu_seconds
    return TimeToLoss(target=float(target), reached=state.hit is not None, steps=steps, seconds=seconds,
                      cpu_seconds=cpu_seconds, scoring_seconds=state.seconds,
                      scoring_cpu_seconds=state.cpu_seconds, best=state.best, trace=trace, result=result)


@dataclass
class _Scoring:
    """What :func:`time_to_loss` tracks: time spent scoring, the first hit, the best score, the last step."""

    seconds: float = 0.0
    cpu_seconds: float = 0.0
    hit: tuple[int, float, float] | None = None
    best: float = math.inf
    last_step: int = 0


def ratios(values: Mapping[str, float | None], reference: str, *,
           baselines: Mapping[str, float] | None = None) -> dict[str, float | None]:
    """Speed-up of every entry: the reference's time divided by the entry's (None where a value is missing).

    ``baselines`` gives, per entry, the reference's time measured *alongside* that entry (in the same
    interleaved rounds); entries without one use ``values[reference]``. On a machine whose load changes,
    a ratio against a reference measured at the same moment is the trustworthy one.
    """
    if reference not in values or not _positive(values[reference]):
        raise ValueError(f"the reference {reference!r} needs a positive value in values")
    baselines = baselines or {}
    out: dict[str, float | None] = {}
    for name, v in values.items():
        base = baselines.get(name, values[reference])
        out[name] = base / v if v is not None and base is not None and _positive(v) and _positive(base) else None
    return out


def speedup_table(values: Mapping[str, float | None], reference: str, *, unit: str = "ms/step",
                  baselines: Mapping[str, float] | None = None, notes: Mapping[str, str] | None = None) -> str:
    """A plain-text table: one row per entry with its value and its speed-up against the reference
    (see :func:`ratios`; above 1: faster than the reference). Missing values print as "n/a"; ``notes`` adds a
    last column."""
    speedups = ratios(values, reference, baselines=baselines)
    notes = notes or {}
    width = max(len(k) for k in values)
    lines = [f"{'':{width}s}  {unit:>10s}  {'speed-up':>10s}"]
    for name, v in values.items():
        r = speedups[name]
        if r is None or v is None:
            row = f"{name:{width}s}  {'n/a':>10s}  {'':>10s}"
        else:
            row = f"{name:{width}s}  {_num(v):>10s}  {'×' + format(r, '.2f'):>10s}"
        note = notes.get(name)
        lines.append(row + (f"  {note}" if note else ""))
    return "\n".join(lines)


def _positive(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v) and v > 0


def _num(v: float) -> str:
    return f"{v:.3g}" if v < 100 else f"{v:.0f}"


__all__ = ["sync", "Timing", "compare_steps", "time_steps", "TimeToLoss", "time_to_loss", "speedup_table",
           "ratios"]


def speedup_bars(
    values: Mapping[str, float | None],
    reference: str,
    *,
    unit: str = "ms/step",
    notes: Mapping[str, str] | None = None,
    baselines: Mapping[str, float] | None = None,
    title: str | None = None,
    ax=None,
) -> Figure:
    """Horizontal bars of the speed-up ``values[reference] / value`` of every entry (a time: lower is faster).

    ``baselines[name]``, where given, replaces ``values[reference]`` for that entry: the reference's time
    measured in the same rounds (see :func:`ratios`). Each bar is labelled
    "×ratio (value unit)"; a dashed line marks ×1. Entries whose value is None get no bar and their
    ``notes`` text (default "n/a"). Returns the Figure.
    """
    notes = notes or {}
    names = list(values)
    speedups = ratios(values, reference, baselines=baselines)
    ratio = [speedups[n] for n in names]
    if ax is None:
        fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(names) + 1.2))
    else:
        fig = ax.figure
    y = np.arange(len(names))[::-1]
    colors = ["0.55" if n == reference else ("tab:green" if (r or 0) >= 1 else "tab:red") for n, r in zip(names, ratio)]
    ax.barh(y, [r or 0 for r in ratio], color=colors, height=0.6)
    top = max([r for r in ratio if r] + [1.0])
    for yi, n, r in zip(y, names, ratio):
        if r is None:
            text = notes.get(n, "n/a")
        else:
            v = values[n]
            text = f"×{r:.2f}  ({v:.3g} {unit})" + (f"  {notes[n]}" if n in notes else "")
        ax.text((r or 0) + 0.02 * top, yi, text, va="center", fontsize=8)
    ax.axvline(1.0, color="k", ls="--", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(names, fontsize=8)
    ax.set_xlim(0, top * 1.6)
    ax.set_xlabel(f"speed-up against '{reference}' (its {unit} / this {unit})", fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
