"""Masks for spatial control (``stylize(..., masks=[...])``): which style paints where.

Every mask is a float (H, W) tensor in [0, 1]. The two-region helpers return masks that sum to 1 at
every pixel, with an optional soft seam (``feather``) so the styles blend instead of meeting at a hard edge.
"""
from __future__ import annotations

import torch

__all__ = ["half_masks", "radial_mask", "split_masks"]

DIRECTIONS = ("left_right", "top_bottom")


def _ramp(n: int, position: float, feather: float) -> torch.Tensor:
    """1-D profile over ``n`` pixel centres: 1 before ``position`` (a fraction of n), 0 after, with a
    linear ramp ``feather`` (fraction of n) wide centred on it."""
    coords = (torch.arange(n, dtype=torch.float32) + 0.5) / n
    if feather <= 0:
        return (coords < position).float()
    return ((position - coords) / feather + 0.5).clamp(0, 1)


def split_masks(h: int, w: int, direction: str = "left_right", position: float = 0.5,
                feather: float = 0.0) -> list[torch.Tensor]:
    """Two complementary (H, W) masks split at ``position`` (fraction of the width or height).

    ``direction="left_right"``: the first mask covers the left part (x < position·W), the second the rest;
    ``"top_bottom"``: the first covers the top part (e.g. sky), the second the bottom (ground).
    ``feather`` is the width of a linear seam, as a fraction of the image side (0 = hard edge).
    The two masks always sum to 1.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction={direction!r}; choose one of {DIRECTIONS}")
    for name, v in (("h", h), ("w", w)):
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise ValueError(f"{name} must be a positive integer number of pixels, got {v!r}")
    if not 0.0 <= position <= 1.0:
        raise ValueError(f"position must be in [0, 1], got {position!r}")
    if feather < 0:
        raise ValueError(f"feather must be ≥ 0, got {feather!r}")
    if direction == "left_right":
        first = _ramp(w, position, feather).expand(h, w)
    else:
        first = _ramp(h, position, feather)[:, None].expand(h, w)
    first = first.contiguous()
    return [first, 1.0 - first]


def half_masks(h: int, w: int, direction: str = "left_right", feather: float = 0.0) -> list[torch.Tensor]:
    """:func:`split_masks` at the middle: left/right (or top/bottom) halves that sum to 1."""
    return split_masks(h, w, direction, 0.5, feather)


def radial_mask(h: int, w: int, center: tuple[float, float] = (0.5, 0.5), radius: float = 0.3,
                feather: float = 0.1) -> torch.Tensor:
    """(H, W) mask: 1 inside a circle, 0 outside, with a linear ramp ``feather`` wide across the rim.

    ``center`` is (row, column) and ``radius``/``feather`` are fractions of the shorter side. Use it with
    its complement: ``masks=[m, 1 - m]`` paints the centre with the first style, the rest with the second.
    """
    if radius < 0 or feather < 0:
        raise ValueError(f"radius and feather must be ≥ 0, got {radius!r}, {feather!r}")
    side = min(h, w)
    ys = (torch.arange(h, dtype=torch.float32) + 0.5)[:, None]
    xs = (torch.arange(w, dtype=torch.float32) + 0.5)[None, :]
    dist = torch.sqrt((ys - center[0] * h) ** 2 + (xs - center[1] * w) ** 2) / side
    if feather == 0:
        return (dist <= radius).float()
    return ((radius - dist) / feather + 0.5).clamp(0, 1)
