"""``stylize``: neural style transfer (Gatys et al.) from images to a finished picture.

Builds on :class:`~nsthelpers.objective.Objective` (the loss, targets computed once) and
:func:`~nsthelpers.loop.optimize` (the Adam / L-BFGS loop). Adds what a user of a whole run
wants: loading and resizing, colour preservation, several styles (blended or in masked regions),
coarse-to-fine scales for high resolution, a memory check before work and advice on out-of-memory.

Its options are the fields of :class:`~nsthelpers.specs.LossSpec`, :class:`~nsthelpers.specs.RunSpec`
and :class:`~nsthelpers.specs.PictureSpec`, passed as flat keywords.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import time
from typing import Any, Callable, Sequence

import torch

from . import checks, specs
from .color import luminance
from .images import load_image, resize_max_side
from .starts import upsample_with_detail
from .loop import DEFAULT_LR, StyleResult
from .memory import OutOfMemory, check_fits
from .objective import Objective
from .plan import LONG_RUN_S, check_plan_fits, describe_plan, estimate_seconds, plan_hw, seconds_per_evaluation
from .settings import default_device, default_size
from .specs import INITS, LossSpec, PictureSpec, RunSpec, split_options
from .stages import (
    DEFAULT_RELAX_TO,
    AtSize,
    Stage,
    StagePlan,
    raise_if_oom,
    relax_factor,
    run_stages,
    scale_plan,
    stage_plan,
    styles_at,
)
from .vgg import VGG19Features, load_vgg19

# DEFAULT_RELAX_TO, Stage, StagePlan, relax_factor, scale_plan and stage_plan live in
# nsthelpers.stages (the run's plan and the function that runs it); they are named here as before.

__all__ = ["DEFAULT_RELAX_TO", "INITS", "PREVIEW", "Stage", "StagePlan", "preview", "relax_factor", "scale_plan",
           "stage_plan", "stylize"]

def stylize(content: Any, style: Any, *, weights: str | VGG19Features | None = None,
            device: str | torch.device | None = None, **options: Any) -> StyleResult:
    """Neural style transfer (Gatys et al.): paint ``content`` in the style of ``style``.

    Args:
        content: path, PIL image, ndarray or (1,3,H,W) tensor in [0, 1].
        style: the same kinds, or a list of them (blended by ``style_blend``, or one per mask).
        weights: a loaded :class:`VGG19Features` (re-used, fastest) or a name for :func:`load_vgg19`.
        device: ``"cpu"``, ``"cuda"``, ``"mps"``; default the best available.
        **options: any field of the three specs (listed below), e.g. ``steps=100, style_weight=1e6``.

    Returns:
        :class:`StyleResult` with ``image`` always finite and in [0, 1].

    Raises:
        ValueError: a bad parameter (raised before any work, naming the parameter and what is allowed).
        TypeError: an unknown option (the message suggests the closest name).
        OutOfMemory: the run does not fit; the message names a size that should. The largest scale of the
            plan is checked before the first step.

    Size: without ``size`` the result's longer side is the profile's default
    (:data:`~nsthelpers.settings.DEFAULT_SIZES`: 512 px on a CPU, 1024 on a GPU), never larger than the
    photo: a phone photo (4032×3024) at its own size needs about 80 GiB (:func:`~nsthelpers.estimate_bytes`)
    and, if it fitted, about 40 min on 2 CPU cores; at 512 px it takes about a minute (benchmarks/README.md,
    "The default size"). ``size="full"`` keeps the photo's own size. With ``progress=True`` a run
    expected to take over a minute prints its plan and an estimate of its time first (from one timed
    evaluation at the first scale). If a finer scale fails (out of memory, Ctrl-C between scales), the
    picture of the last finished scale is returned, upsampled to the requested size, and ``stopped`` and
    ``message`` say so.
    """
    loss, run_spec, picture = split_options(**options)
    dev = default_device(device)
    run_spec.check_device(dev)
    t0 = time.perf_counter()
    photo = load_image(content)
    paintings = [load_image(s) for s in (style if isinstance(style, (list, tuple)) else [style])]
    model = (weights if isinstance(weights, VGG19Features) else load_vgg19(weights, device=dev)).to(dev)
    plan = _plan_that_fits(picture, photo.shape[-2:], loss, dev, run_spec)  # checked before any work
    at_size = functools.partial(_at_size, photo, paintings, model, dev, loss, picture)
    built: dict[int, AtSize] = {}  # one per size, built once; a long run's estimate times the first
    estimate = _announce(plan, at_size, built, photo.shape[-2:], dev, picture, run_spec) if run_spec.progress else None
    result = run_stages(plan, at_size, run_spec, dev, retry_smaller=picture.auto_downsize, built=built)
    _upsample_what_was_kept(result, photo, plan.final_side)
    result.timings["setup_s"] = time.perf_counter() - t0 - result.timings["optimize_s"]
    _record_settings(result, plan, loss, run_spec, picture, estimate, model.weights_name, dev)
    return result


stylize.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    list(inspect.signature(stylize).parameters.values())[:-1] + specs.signature_parameters())
stylize.__doc__ = (stylize.__doc__ or "") + "\n    Options:\n" + specs.options_doc("        ") + "\n"


def _plan_that_fits(picture: PictureSpec, content_hw: Sequence[int], loss: LossSpec, dev: torch.device,
                    run_spec: RunSpec) -> StagePlan:
    """The run's :class:`~nsthelpers.stages.StagePlan`, its largest scale checked against the free memory before
    any work. With ``auto_downsize`` a plan that does not fit is made again, ending at the size that does."""
    hw = (int(content_hw[0]), int(content_hw[1]))
    plan = StagePlan.of(picture, max(hw), run_spec.optimizer, dev)
    try:
        check_plan_fits(hw, [side for side, _ in plan.scales], loss.layers, dev)
    except OutOfMemory as exc:
        fit = exc.suggested_size
        if not picture.auto_downsize or fit < 32:
            raise
        sides = [side for side, _ in plan.scales]
        scales = picture.scales
        if isinstance(scales, tuple):  # the same scales, shrunk in proportion
            scales = tuple(max(16, round(s * fit / sides[-1])) for s in scales[:-1]) + (fit,)
        plan = StagePlan.of(dataclasses.replace(picture, size=fit, scales=scales), max(hw), run_spec.optimizer, dev)
        if run_spec.progress:
            print(f"auto_downsize: a result of {sides[-1]} px does not fit in memory; making one of {fit} px")
    return plan


def _upsample_what_was_kept(result: StyleResult, photo: torch.Tensor, final_side: int) -> None:
    """A finer scale that failed (out of memory, Ctrl-C) kept the last finished scale's picture: bring it to the
    size asked for, with the photo's finer detail added back."""
    final_hw = plan_hw(photo.shape[-2:], final_side)
    if result.stopped in ("out of memory", "interrupted") and tuple(result.image.shape[-2:]) != final_hw:
        small = tuple(result.image.shape[-2:])
        result.image = upsample_with_detail(result.image, resize_max_side(photo, final_side))
        result.message += (f", upsampled from {small[0]}×{small[1]} to {final_hw[0]}×{final_hw[1]} with the photo's "
                           "finer detail added back")


def _record_settings(result: StyleResult, plan: StagePlan, loss: LossSpec, run_spec: RunSpec, picture: PictureSpec,
                     estimate: tuple[float, float] | None, weights_name: str, dev: torch.device) -> None:
    """What the run was: its weights, plan, options (and the estimate, when one was printed)."""
    weights = result.settings.pop("loss_weights")
    result.settings.update(content_weight=weights.content_weight, style_weight=weights.style_weight,
                           tv_weight=weights.tv_weight)
    if estimate is not None:  # what the benchmark compares (benchmarks/estimate.py)
        result.settings["estimate_s"], result.timings["estimate_s"] = estimate
    scales = plan.scales
    result.settings.update({
        "steps": [n for _, n in scales] if len(scales) > 1 else scales[0][1],
        "scales": [s for s, _ in scales] if len(scales) > 1 else None,
        "optimizer": run_spec.optimizer, "content_layers": list(loss.content_layers),
        "style_layers": list(loss.style_layers), "init": picture.init if isinstance(picture.init, str) else "tensor",
        "lr": DEFAULT_LR[run_spec.optimizer] if run_spec.lr is None else run_spec.lr,
        "weights": weights_name, "device": str(dev), "size": tuple(result.image.shape[-2:]), "seed": picture.seed,
        "preserve_color": picture.preserve_color, "style_loss": loss.style_loss, "precision": run_spec.precision,
        "balance_layers": loss.balance_layers, "relax_to": relax_factor(picture.relax_to, run_spec.optimizer),
        "stages": [tuple(s) for s in plan],
    })


def _announce(plan: StagePlan, at_size: Callable[[int], AtSize], built: dict[int, AtSize], hw: Sequence[int],
              dev: torch.device, picture: PictureSpec, run_spec: RunSpec) -> tuple[float, float]:
    """Time one evaluation at the first scale (its objective kept in ``built`` for the run); print the plan and
    the estimate if the run takes over :data:`~nsthelpers.plan.LONG_RUN_S` (with what the profile's default
    size takes, when smaller). Returns the estimate and the seconds it took."""
    t0 = time.perf_counter()
    first = built[plan[0].side] = at_size(plan[0].side)
    x = first.first_picture(None).to(dev).requires_grad_(True)

    def evaluate() -> None:
        x.grad = None
        first.objective(x)["total"].sum().backward()

    try:
        per_eval = seconds_per_evaluation(evaluate)
    except Exception as exc:
        raise_if_oom(exc, plan_hw(hw, plan[0].side), dev)
        raise
    seconds = estimate_seconds(plan, hw, per_eval)
    if seconds > LONG_RUN_S:
        quick = default_size(max(hw), device=dev)
        alternative = None
        if quick < plan.final_side:
            explicit = isinstance(picture.scales, tuple)  # then the smaller size gets scales="auto"
            steps = picture.steps[0] if isinstance(picture.steps, tuple) else picture.steps
            smaller = dataclasses.replace(picture, size=quick, scales="auto" if explicit else picture.scales,
                                          steps=steps)
            alternative = (quick, estimate_seconds(StagePlan.of(smaller, max(hw), run_spec.optimizer, dev), hw, per_eval))
        print(describe_plan(plan, seconds, dev, alternative), flush=True)
    return seconds, time.perf_counter() - t0


def _at_size(content: torch.Tensor, styles: list[torch.Tensor], model: VGG19Features, dev: torch.device,
             loss: LossSpec, picture: PictureSpec, side: int) -> AtSize:
    """The photo and style images at ``side`` (the longer side), checked and memory-checked, and their objective."""
    content = resize_max_side(content, side) if side != max(content.shape[-2:]) else content
    hw = (int(content.shape[-2]), int(content.shape[-1]))
    checks.image_big_enough("content", hw, loss.layers)
    check_fits(hw, loss.layers, dev)
    styles = styles_at(styles, content, picture, checks.min_side_for(loss.layers))
    optimised = luminance(content) if picture.preserve_color == "luminance" else content
    try:
        objective = Objective(model, optimised.to(dev), [s.to(dev) for s in styles], loss)
    except Exception as exc:
        raise_if_oom(exc, hw, dev)
        raise
    return AtSize(objective, optimised, styles[0] if styles else optimised, picture, photo=content)


PREVIEW: dict[str, Any] = {"size": 128, "steps": 30, "optimizer": "lbfgs"}


def preview(content: Any, style: Any, **kwargs: Any) -> StyleResult:
    """A recognisable stylisation in seconds on a CPU: 128 px, 30 L-BFGS steps (override any of them).

    L-BFGS lowers the style loss fastest per step at small sizes (measured ×34 in 30 steps at 128 px
    with the caffe weights and one style weight, against ×11 for Adam), so a student sees the effect before
    tuning a full run.
    """
    return stylize(content, style, **{**PREVIEW, **kwargs})
