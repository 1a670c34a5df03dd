"""Stylising frames so that they do not flicker (Ruder, Dosovitskiy & Brox 2016), and measuring flicker.

Three ways to stylise frame t of a clip, given the backward flow and occlusion mask of frame t:

* ``"frame"``: each frame on its own, starting from the frame itself (what ``stylize`` does to a picture);
* ``"warm"``: start from the previous stylised frame warped by the flow (the frame itself where occluded);
* ``"temporal"``: the warm start plus a temporal loss, ``λ · mean(c · (x − ω)²)`` with ``ω`` the warped
  previous result and ``c`` the mask, so that the optimiser keeps what it may keep and repaints the rest.

:func:`warping_errors` measures flicker: the mean squared difference between each stylised frame and
its predecessor warped onto it, over the pixels the flow says are visible in both.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from ..checks import choice, positive_int, weight
from .flow import check_flow, warp
from ..loop import optimize
from ..objective import Objective
from ..vgg import VGG19Features

METHODS = ("frame", "warm", "temporal")
#: the temporal loss is a mean of squared [0, 1] pixel differences (≈ 1e-2 where two frames disagree); the
#: caffe VGG19's style and content terms are ~1e6-1e8, so the temporal weight must be of that order too
DEFAULT_TEMPORAL_WEIGHT = 1e10


def temporal_loss(image: torch.Tensor, warped_previous: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Ruder et al.'s short-term temporal loss: ``mean over pixels and channels of c · (x − ω)²``."""
    if image.shape != warped_previous.shape or mask.shape[-2:] != image.shape[-2:]:
        raise ValueError(f"image {tuple(image.shape)}, warped previous {tuple(warped_previous.shape)} and "
                         f"mask {tuple(mask.shape)} must have the same size")
    return (mask * (image - warped_previous).pow(2)).mean()


class TemporalObjective(nn.Module):
    """An :class:`~nsthelpers.Objective` plus ``temporal_weight · temporal_loss``; same keys, and ``"temporal"``."""

    def __init__(self, objective: Objective, warped_previous: torch.Tensor, mask: torch.Tensor,
                 temporal_weight: float = DEFAULT_TEMPORAL_WEIGHT):
        super().__init__()
        self.objective = objective
        self.model = objective.model  # the loop reads it (memory format on CUDA)
        self.warped_previous = warped_previous.detach()
        self.mask = mask.detach()
        self.temporal_weight = weight("temporal_weight", temporal_weight)

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        losses = dict(self.objective(image))
        losses["temporal"] = temporal_loss(image, self.warped_previous, self.mask)
        losses["total"] = losses["total"] + self.temporal_weight * losses["temporal"]
        return losses


def warm_start(frame: torch.Tensor, previous_result: torch.Tensor, flow: torch.Tensor,
               mask: torch.Tensor) -> torch.Tensor:
    """The previous stylised frame warped onto ``frame``, and ``frame`` itself where the mask is 0."""
    check_flow(flow, frame)
    warped = warp(previous_result.to(flow.device), flow)
    return mask * warped + (1 - mask) * frame


@dataclass
class FrameSettings:
    """How each frame is optimised (the same for every method, so that they can be compared)."""

    steps: int = 30
    optimizer: str = "lbfgs"
    lr: float | None = None
    temporal_weight: float = DEFAULT_TEMPORAL_WEIGHT
    objective: dict = field(default_factory=dict)  # keywords for Objective (weights, layers)

    def __post_init__(self) -> None:  # checked here, before a clip's first frame is painted
        positive_int("steps", self.steps)
        weight("temporal_weight", self.temporal_weight)


def stylise_frame(model: VGG19Features, frame: torch.Tensor, style: torch.Tensor, method: str,
                  settings: FrameSettings, previous: torch.Tensor | None = None,
                  flow: torch.Tensor | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
    """One frame by ``method`` (see the module docstring); ``previous`` is the stylised frame before it
    (None for the first frame, which every method starts from the frame itself). Returns (1, 3, H, W) on the CPU."""
    choice("method", method, METHODS)
    positive_int("steps", settings.steps)
    dev = next(iter(model.parameters())).device
    frame, style = frame.to(dev), style.to(dev)
    base = Objective(model, frame, [style], **settings.objective)
    objective: Objective | TemporalObjective = base
    init = frame
    if method != "frame" and previous is not None:
        if flow is None or mask is None:
            raise ValueError(f"method={method!r} needs the flow and occlusion mask of every frame after the first")
        flow, mask = flow.to(dev), mask.to(dev)
        init = warm_start(frame, previous, flow, mask)
        if method == "temporal":
            objective = TemporalObjective(base, warp(previous.to(dev), flow), mask, settings.temporal_weight)
    # optimize only calls the objective and reads its .model: a TemporalObjective serves as well
    result = optimize(objective, init.contiguous(), steps=settings.steps,  # type: ignore[arg-type]
                      optimizer=settings.optimizer, lr=settings.lr)
    if result.stopped == "interrupted":
        raise FrameInterrupted(result.image)
    if result.stopped not in ("finished", "callback", "converged"):
        raise ValueError(f"frame stylisation stopped: {result.stopped} ({result.message})")
    return result.image


class FrameInterrupted(KeyboardInterrupt):
    """Ctrl-C while a frame was being painted; :attr:`image` is that frame so far."""

    def __init__(self, image: torch.Tensor) -> None:
        super().__init__("interrupted while painting a frame")
        self.image = image


@dataclass
class ClipResult:
    """Stylised frames and the seconds each took."""

    frames: list[torch.Tensor]
    seconds: list[float]

    @property
    def seconds_per_frame(self) -> float:
        return sum(self.seconds) / max(len(self.seconds), 1)


def stylise_frames(model: VGG19Features, frames: Sequence[torch.Tensor], style: torch.Tensor, method: str,
                   settings: FrameSettings | None = None, flows: Sequence[torch.Tensor] | None = None,
                   masks: Sequence[torch.Tensor] | None = None, first: torch.Tensor | None = None,
                   on_frame: Callable[[int, torch.Tensor], None] | None = None) -> ClipResult:
    """Every frame by ``method``; ``flows[t]``/``masks[t]`` are frame t's backward flow and mask.
    ``first`` is a stylised first frame to start from (so several methods can share it)."""
    settings = settings or FrameSettings()
    out: list[torch.Tensor] = []
    seconds: list[float] = []
    for t, frame in enumerate(frames):
        t0 = time.perf_counter()
        if t == 0 and first is not None:
            image = first.detach().cpu()
        else:
            previous = out[-1] if out else None
            image = stylise_frame(model, frame, style, method, settings, previous,
                                  flows[t] if flows is not None else None, masks[t] if masks is not None else None)
        seconds.append(time.perf_counter() - t0)
        out.append(image)
        if on_frame is not None:
            on_frame(t, image)
    return ClipResult(out, seconds)


def warping_errors(frames: Sequence[torch.Tensor], flows: Sequence[torch.Tensor],
                   masks: Sequence[torch.Tensor]) -> list[float]:
    """For t = 1 … T−1: ``Σ c · (f_t − warp(f_{t−1}))² / (3 · Σ c)``, the mean squared change, per pixel
    and channel, of what the flow says should not change (visible pixels only). The flicker of a clip."""
    if not (len(frames) == len(flows) == len(masks)) or len(frames) < 2:
        raise ValueError(f"need as many flows and masks as frames, and at least 2 frames; got {len(frames)} "
                         f"frames, {len(flows)} flows, {len(masks)} masks")
    errors = []
    for t in range(1, len(frames)):
        mask = masks[t]
        if mask.sum() == 0:
            raise ValueError(f"the mask of frame {t} covers no pixel: no flicker can be measured there")
        diff = frames[t] - warp(frames[t - 1], flows[t])
        errors.append(float((mask * diff.pow(2)).sum() / (3 * mask.sum())))
    return errors
