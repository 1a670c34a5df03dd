"""Before any work: check that a run's largest scale fits in memory, and estimate how long the run will take.

``stylize`` calls both before its first step. The memory check (:func:`check_plan_fits`) is the estimate of
:func:`nsthelpers.memory.check_fits` for the largest scale of the plan, so a run that cannot finish stops at
once, with a size that fits and, when that one is slow, the profile's default size too. The time estimate
(:func:`estimate_seconds`) extrapolates one timed evaluation at the first scale to the whole plan by the
number of pixels: the cost of VGG19's convolutions grows with the pixels (``benchmarks/estimate.py`` measures
how close it comes to the real time).
"""
from __future__ import annotations

import time
from typing import Callable, Sequence

import torch

from .images import long_side_hw
from .memory import OutOfMemory, check_fits
from .settings import default_size

__all__ = ["LONG_RUN_S", "check_plan_fits", "describe_plan", "device_words", "estimate_seconds", "format_seconds", "now", "plan_hw",
           "seconds_per_evaluation"]

#: a run expected to take longer than this prints its plan and estimate first
LONG_RUN_S = 60.0
#: evaluations' worth of work around the steps: building a size's targets (a forward pass of the photo and of
#: the style image, each about a third of an evaluation's forward + backward) and scoring each stage's result
#: (one forward pass)
TARGETS_EVALS = 2 / 3
SCORE_EVALS = 1 / 3


def plan_hw(content_hw: Sequence[int], side: int) -> tuple[int, int]:
    """(H, W) of the content resized to the longer side ``side`` (as ``stylize`` resizes it)."""
    return long_side_hw(int(content_hw[0]), int(content_hw[1]), int(side))


def check_plan_fits(content_hw: Sequence[int], sides: Sequence[int], layers: Sequence[str],
                    device: torch.device) -> None:
    """Raise :class:`~nsthelpers.memory.OutOfMemory` before any work if the plan's largest scale does not fit.

    The advice names the largest size that fits; when the profile's default size (chosen to finish in
    minutes, :data:`nsthelpers.settings.DEFAULT_SIZES`) is smaller than that, it is named as well, with how
    many times more each step of the fitting size costs.
    """
    hw = plan_hw(content_hw, max(sides))
    try:
        check_fits(hw, layers, device)
    except OutOfMemory as exc:
        quick = default_size(max(content_hw), device=device)
        message = str(exc)
        if quick < exc.suggested_size:
            fit_hw, quick_hw = plan_hw(content_hw, exc.suggested_size), plan_hw(content_hw, quick)
            ratio = (fit_hw[0] * fit_hw[1]) / (quick_hw[0] * quick_hw[1])
            message += (f" size={exc.suggested_size} is the largest that fits, but each of its steps costs about "
                        f"{ratio:.0f}× one at size={quick}, the default on {device.type} (no size given), which "
                        "finishes in minutes.")
        raise OutOfMemory(message, exc.suggested_size) from None


def now() -> float:
    """The clock the estimate reads (``time.perf_counter``; tests replace it with a fake one)."""
    return time.perf_counter()


def seconds_per_evaluation(evaluate: Callable[[], object], *, clock: Callable[[], float] | None = None,
                           warmup: int = 1, repeats: int = 1) -> float:
    """Seconds one call of ``evaluate`` takes: ``warmup`` calls first (one-time costs: allocation, kernel
    selection), then the mean of ``repeats`` timed calls on ``clock`` (default :func:`now`)."""
    clock = clock or now
    for _ in range(warmup):
        evaluate()
    start = clock()
    for _ in range(repeats):
        evaluate()
    return (clock() - start) / max(repeats, 1)


def estimate_seconds(stages: Sequence[tuple[int, int, float]], content_hw: Sequence[int],
                     first_eval_s: float) -> float:
    """Seconds a plan of ``(side, steps, style_factor)`` stages takes, from ``first_eval_s``, the time of one
    evaluation (forward and backward) at the first stage's size.

    Each evaluation costs ``first_eval_s`` × its pixels / the first stage's pixels; each new size adds
    building its targets (:data:`TARGETS_EVALS`), each stage scoring its result (:data:`SCORE_EVALS`).
    """
    first_h, first_w = plan_hw(content_hw, stages[0][0])
    total, sizes = 0.0, set()
    for side, steps, _factor in stages:
        h, w = plan_hw(content_hw, side)
        per_eval = first_eval_s * (h * w) / (first_h * first_w)
        total += per_eval * (steps + SCORE_EVALS + (TARGETS_EVALS if side not in sizes else 0.0))
        sizes.add(side)
    return total


def format_seconds(seconds: float) -> str:
    """``"about 40 s"``, ``"about 6 min"``, ``"about 2.5 h"``: two significant figures at most."""
    if seconds < 90:
        step = 1 if seconds < 20 else 5
        return f"about {max(step, round(seconds / step) * step):.0f} s"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60):.0f} min"
    return f"about {seconds / 3600:.1f} h"


def device_words(device: torch.device) -> str:
    """How the estimate names the device: "this CPU", "this GPU", "this Mac's GPU"."""
    return {"cuda": "this GPU", "mps": "this Mac's GPU"}.get(device.type, "this CPU")


def describe_plan(stages: Sequence[tuple[int, int, float]], seconds: float, device: torch.device,
                  alternative: tuple[int, float] | None = None) -> str:
    """One line: the scales with their evaluations, the estimate, and (``alternative = (size, seconds)``) what
    a smaller size takes, e.g. ``plan: 256 px × 40 steps → 512 px × 20 steps; about 6 min on this CPU;
    size 512 takes about 40 s``."""
    per_side: dict[int, int] = {}
    for side, steps, _factor in stages:
        per_side[side] = per_side.get(side, 0) + steps
    scales = " → ".join(f"{side} px × {steps} steps" for side, steps in per_side.items())
    text = f"plan: {scales}; {format_seconds(seconds)} on {device_words(device)}"
    if alternative is not None:
        text += f"; size {alternative[0]} takes {format_seconds(alternative[1])}"
    return text
