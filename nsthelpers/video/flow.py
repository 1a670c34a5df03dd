"""Optical flow for video style transfer: warping, OpenCV's Farneback flow, occlusion by a consistency check.

Conventions (used by the whole package): a flow is a (N, 2, H, W) tensor in pixels, channel 0 the
horizontal step ``dx``, channel 1 the vertical step ``dy``. The **backward flow** of frame t says where
each of its pixels was in frame t − 1: ``frame_t(x) ≈ frame_{t-1}(x + flow(x))``. :func:`warp` applies
that rule to any picture of frame t − 1 (for example its stylised version), so the warped picture lines
up with frame t. An **occlusion mask** is 1 where the rule holds and 0 where it cannot: pixels that were
hidden in frame t − 1 (behind a moving object) or outside it.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F


def check_flow(flow: torch.Tensor, image: torch.Tensor | None = None) -> None:
    """Raise a clear ValueError unless ``flow`` is (N, 2, H, W) (matching ``image``'s batch and size)."""
    if flow.dim() != 4 or flow.shape[1] != 2:
        raise ValueError(f"a flow is (N, 2, H, W) in pixels (dx, dy); got shape {tuple(flow.shape)}")
    if image is not None and (image.shape[0] not in (1, flow.shape[0]) or image.shape[-2:] != flow.shape[-2:]):
        raise ValueError(f"flow {tuple(flow.shape)} and image {tuple(image.shape)} must have the same size")


def pixel_grid(h: int, w: int, device=None) -> torch.Tensor:
    """(1, 2, H, W): each pixel's own (x, y) coordinates."""
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32, device=device),
                            torch.arange(w, dtype=torch.float32, device=device), indexing="ij")
    return torch.stack([xs, ys])[None]


def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``image`` sampled at ``x + flow(x)`` (bilinear; positions outside take the nearest border pixel).

    With the backward flow of frame t, ``warp(picture_of_frame_t_minus_1, flow)`` lines up with frame t.
    """
    check_flow(flow, image)
    h, w = flow.shape[-2:]
    if min(h, w) < 2:
        raise ValueError(f"warp needs at least 2×2 pixels, got {h}×{w}")
    pos = pixel_grid(h, w, flow.device) + flow
    grid = torch.stack([2 * pos[:, 0] / (w - 1) - 1, 2 * pos[:, 1] / (h - 1) - 1], dim=-1)
    image = image.expand(flow.shape[0], -1, -1, -1) if image.shape[0] == 1 else image
    return F.grid_sample(image.to(grid.dtype), grid, mode="bilinear", padding_mode="border", align_corners=True)


def inside(flow: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) mask: 1 where ``x + flow(x)`` lies inside the frame, 0 where it leaves it."""
    check_flow(flow)
    h, w = flow.shape[-2:]
    pos = pixel_grid(h, w, flow.device) + flow
    ok = (pos[:, 0] >= 0) & (pos[:, 0] <= w - 1) & (pos[:, 1] >= 0) & (pos[:, 1] <= h - 1)
    return ok[:, None].float()


def endpoint_error(estimate: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """Mean Euclidean distance in pixels between two flows (over the pixels where ``mask`` is 1)."""
    check_flow(estimate)
    check_flow(truth, estimate)
    dist = (estimate - truth).norm(dim=1, keepdim=True)
    if mask is None:
        return float(dist.mean())
    mask = mask.expand_as(dist)
    if mask.sum() == 0:
        raise ValueError("the mask covers no pixel")
    return float((dist * mask).sum() / mask.sum())


def _grey_uint8(image: torch.Tensor) -> np.ndarray:
    if image.dim() != 4 or image.shape[:2] != (1, 3):
        raise ValueError(f"expected one RGB frame (1, 3, H, W), got shape {tuple(image.shape)}")
    rgb = image[0].detach().cpu().clamp(0, 1)
    grey = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    return (grey * 255).round().to(torch.uint8).numpy()


#: OpenCV's Farneback parameters: pyramid scale, levels, window, iterations, poly_n, poly_sigma, flags
FARNEBACK = {"pyr_scale": 0.5, "levels": 4, "winsize": 15, "iterations": 3, "poly_n": 5, "poly_sigma": 1.2,
             "flags": 0}


def farneback(frame: torch.Tensor, previous: torch.Tensor, **options) -> torch.Tensor:
    """Dense optical flow (Farnebäck 2003, OpenCV) from ``frame`` to ``previous``: the backward flow of
    ``frame`` in this module's convention, (1, 2, H, W). ``options`` override :data:`FARNEBACK`."""
    import cv2

    params = {**FARNEBACK, **options}
    # Typed as Any: OpenCV's stubs for this call change between releases (4.x wanted an ignore, 5.x does not),
    # so lint must not depend on which one is installed.
    calc: Any = cv2.calcOpticalFlowFarneback
    flow = calc(_grey_uint8(frame), _grey_uint8(previous), None, **params)
    return torch.from_numpy(flow).permute(2, 0, 1)[None].float()


def consistency_mask(backward: torch.Tensor, forward: torch.Tensor, *, alpha1: float = 0.01,
                     alpha2: float = 0.5) -> torch.Tensor:
    """Occlusion mask of frame t from its backward flow (t → t − 1) and the forward flow (t − 1 → t).

    Following a pixel back and then forward should return it to where it started. Where the round trip
    misses by more than ``alpha1 · (|b|² + |f|²) + alpha2`` (in pixels², the test of Sundaram et al. 2010
    used by Ruder et al. 2016), or the backward flow leaves the frame, the pixel is marked occluded (0).
    """
    check_flow(backward)
    check_flow(forward, backward)
    f_back = warp(forward, backward)  # the forward flow at the place each pixel came from
    miss = (backward + f_back).pow(2).sum(1, keepdim=True)
    allowed = alpha1 * (backward.pow(2).sum(1, keepdim=True) + f_back.pow(2).sum(1, keepdim=True)) + alpha2
    return (miss <= allowed).float() * inside(backward)


def flow_to_rgb(flow: torch.Tensor, max_magnitude: float | None = None) -> torch.Tensor:
    """A (1, 3, H, W) picture of a flow: hue = direction, brightness = length (``max_magnitude`` px = full)."""
    check_flow(flow)
    dx, dy = flow[0, 0], flow[0, 1]
    magnitude = torch.sqrt(dx ** 2 + dy ** 2)
    top = float(max_magnitude if max_magnitude is not None else magnitude.max().clamp_min(1e-6))
    hue = (torch.atan2(dy, dx) / (2 * torch.pi)) % 1.0
    value = (magnitude / top).clamp(0, 1)
    k = (hue[None] * 6 + torch.tensor([5.0, 3.0, 1.0]).view(3, 1, 1)) % 6     # HSV → RGB, saturation 1
    rgb = value * (1 - (torch.minimum(k, 4 - k).clamp(0, 1)))
    return rgb[None]
