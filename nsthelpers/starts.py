"""Where each scale's optimisation starts: the initial picture, the coarser scale's result upsampled with the
photo's detail, and a minimum size for pictures the deep layers must still see.
"""
from __future__ import annotations

import torch

from .images import load_image, match_size


def at_least(image: torch.Tensor, min_side: int) -> torch.Tensor:
    """Upscale (aspect kept) so the shorter side is at least ``min_side`` — deep layers need room."""
    h, w = image.shape[-2:]
    if min(h, w) >= min_side:
        return image
    scale = min_side / min(h, w)
    return match_size(image, (max(min_side, round(h * scale)), max(min_side, round(w * scale))))


def initial_image(init: str | torch.Tensor, content: torch.Tensor, style: torch.Tensor,
                  seed: int | None) -> torch.Tensor:
    """The picture an optimisation starts from: the content, the style resized to it, seeded uniform
    noise, or a given image resized to the content's size."""
    if isinstance(init, torch.Tensor):
        return match_size(load_image(init), tuple(content.shape[-2:]))
    if init == "content":
        return content.clone()
    if init == "style":
        return match_size(style, tuple(content.shape[-2:]))
    gen = torch.Generator().manual_seed(0 if seed is None else seed)
    return torch.rand(content.shape, generator=gen)


def upsample_with_detail(coarse: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """``coarse`` resized to ``content``'s size, plus the content's detail finer than ``coarse`` can hold.

    Coarse-to-fine style transfer starts each finer scale from the previous result, upsampled; alone that
    start is blurred, and the content term (a deep layer) does not bring the photo's edges back. Adding
    ``content − up(down(content))`` — the band of the photo that the coarse scale could not represent —
    starts the finer scale sharp. Clamped to [0, 1].
    """
    hw = tuple(content.shape[-2:])
    small_hw = tuple(coarse.shape[-2:])
    detail = content - match_size(match_size(content, small_hw), hw)
    return (match_size(coarse, hw) + detail).clamp(0, 1)
