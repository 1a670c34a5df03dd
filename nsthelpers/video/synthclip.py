"""A synthetic video clip whose optical flow and occlusions are known exactly.

A camera pans across and zooms into a photo while a round sprite (a disc cut from a second picture)
slides over it. Every pixel of frame t belongs to one of two layers, and for each layer we know where it
was in frame t − 1:

* background: the camera maps frame pixel ``x`` to photo pixel ``X = c_t + s_t · (x − centre)``
  (``c_t`` pans, ``s_t`` shrinks: a zoom in), so it was at ``x' = centre + (X − c_{t−1}) / s_{t−1}``;
* sprite: it moves by ``q_t − q_{t−1}``, so its pixel was at ``x − q_t + q_{t−1}``.

The backward flow is ``x' − x`` (the convention of :mod:`nsthelpers.video.flow`). A pixel is **occluded**
(mask 0) where ``x'`` lies outside frame t − 1 (new scenery entering with the pan) or, for background,
under the sprite's disc in frame t − 1 (scenery the sprite uncovers).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..checks import positive_int, positive_number
from .flow import inside, pixel_grid


@dataclass
class SyntheticClip:
    """``frames[t]`` (1, 3, H, W); ``flows[t]`` (1, 2, H, W) backward flow of frame t; ``masks[t]``
    (1, 1, H, W), 1 where frame t's pixel is visible in frame t − 1; ``sprite[t]`` (1, 1, H, W), 1 on the
    sprite. Frame 0 has no previous frame: its flow is zero and its mask is 0 everywhere."""

    frames: list[torch.Tensor]
    flows: list[torch.Tensor]
    masks: list[torch.Tensor]
    sprite: list[torch.Tensor]

    def __len__(self) -> int:
        return len(self.frames)


def _sample(image: torch.Tensor, xy: torch.Tensor) -> torch.Tensor:
    """Bilinear samples of ``image`` (1, C, h, w) at pixel positions ``xy`` (1, 2, H, W)."""
    h, w = image.shape[-2:]
    grid = torch.stack([2 * xy[:, 0] / (w - 1) - 1, 2 * xy[:, 1] / (h - 1) - 1], dim=-1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)


def synthetic_clip(
    background: torch.Tensor,
    sprite_texture: torch.Tensor,
    *,
    frames: int = 10,
    size: tuple[int, int] = (96, 128),
    pan: tuple[float, float] = (0.012, 0.004),
    zoom: float = 0.985,
    sprite_radius: float = 0.17,
    sprite_path: tuple[tuple[float, float], tuple[float, float]] = ((0.28, 0.62), (0.72, 0.38)),
) -> SyntheticClip:
    """Render the clip with its true flows and occlusion masks.

    Args:
        background: the photo the camera looks at, (1, 3, h, w) in [0, 1].
        sprite_texture: the picture cut into the round sprite, (1, 3, h, w).
        frames: number of frames; size: (H, W) of each frame.
        pan: camera motion per frame as a fraction of the frame's (width, height) — towards the right/bottom.
        zoom: factor by which the camera's field of view shrinks each frame (< 1 zooms in).
        sprite_radius: radius as a fraction of the frame's height; sprite_path: its centre's start and end
            as fractions of (width, height).
    """
    n = positive_int("frames", frames)
    h, w = (positive_int("size", s, what="pixels") for s in size)
    positive_number("zoom", zoom)
    grid = pixel_grid(h, w)
    centre = torch.tensor([(w - 1) / 2, (h - 1) / 2]).view(1, 2, 1, 1)
    bg = _fit_background(background, h, w, n, pan, zoom)
    bh, bw = bg.shape[-2:]
    start = torch.tensor([(bw - 1) / 2 - (n - 1) / 2 * pan[0] * w, (bh - 1) / 2 - (n - 1) / 2 * pan[1] * h])
    cams = [(start + t * torch.tensor([pan[0] * w, pan[1] * h])).view(1, 2, 1, 1) for t in range(n)]
    scales = [zoom ** t for t in range(n)]
    radius = sprite_radius * h
    (x0, y0), (x1, y1) = sprite_path
    path = [torch.tensor([w * (x0 + (x1 - x0) * t / max(n - 1, 1)), h * (y0 + (y1 - y0) * t / max(n - 1, 1))]).view(1, 2, 1, 1)
            for t in range(n)]
    texture = F.interpolate(sprite_texture, size=(2 * int(radius) + 3,) * 2, mode="bilinear", antialias=True,
                            align_corners=False)
    tex_centre = (texture.shape[-1] - 1) / 2
    clip = SyntheticClip([], [], [], [])
    for t in range(n):
        on_sprite = ((grid - path[t]).pow(2).sum(1, keepdim=True) <= radius ** 2).float()
        scenery = _sample(bg, cams[t] + scales[t] * (grid - centre))
        disc = _sample(texture, grid - path[t] + tex_centre)
        clip.frames.append(on_sprite * disc + (1 - on_sprite) * scenery)
        clip.sprite.append(on_sprite)
        if t == 0:
            clip.flows.append(torch.zeros(1, 2, h, w))
            clip.masks.append(torch.zeros(1, 1, h, w))
            continue
        cam_before = centre + (cams[t] + scales[t] * (grid - centre) - cams[t - 1]) / scales[t - 1]
        flow = on_sprite * (path[t - 1] - path[t]) + (1 - on_sprite) * (cam_before - grid)
        hidden_before = ((grid + flow - path[t - 1]).pow(2).sum(1, keepdim=True) <= radius ** 2).float()
        clip.flows.append(flow)
        clip.masks.append(inside(flow) * (1 - (1 - on_sprite) * hidden_before))
    return clip


def _fit_background(background: torch.Tensor, h: int, w: int, n: int, pan, zoom: float) -> torch.Tensor:
    """The photo resized so that every frame's view (panned and zoomed) stays inside it."""
    span = max(1.0, zoom ** -(n - 1)) if zoom > 1 else 1.0
    need_w = (w - 1) * span + abs(pan[0]) * w * (n - 1) + 4
    need_h = (h - 1) * span + abs(pan[1]) * h * (n - 1) + 4
    bh, bw = background.shape[-2:]
    scale = max(need_w / bw, need_h / bh)
    return F.interpolate(background, size=(max(2, round(bh * scale)), max(2, round(bw * scale))), mode="bilinear",
                         antialias=True, align_corners=False).clamp(0, 1)
