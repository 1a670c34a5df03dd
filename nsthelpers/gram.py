"""Gram matrices: the channel-by-channel correlations that Gatys et al. use as a style representation.

For features ``F`` of shape (C, H·W) — one row per channel — the Gram matrix is ``G = F Fᵀ`` (C × C).
The literature scales it in different ways; each has a name here:

``"none"``   G = F Fᵀ                      (Gatys et al. eq. 3; many blog recipes)
``"hw"``     G / (H·W)                     (per-position average; size-independent magnitudes)
``"chw"``    G / (C·H·W)                   (the PyTorch tutorial; this package's default)
``"gatys"``  G / (2·N·M), N=C, M=H·W       (so that ``((G_a - G_b)**2).sum()`` is exactly Gatys'
                                            layer loss E_l = 1/(4 N² M²) Σ (G - A)²)
"""
from __future__ import annotations

import torch

GRAM_NORMALIZATIONS = ("none", "hw", "chw", "gatys")


def at_least_fp32(t: torch.Tensor) -> torch.Tensor:
    """Upcast fp16/bf16 (mixed-precision activations) to fp32; leave fp32/fp64 as they are."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


def gram_matrix(features: torch.Tensor, normalize: str = "chw") -> torch.Tensor:
    """Gram matrix of feature maps.

    Args:
        features: (N, C, H, W) for a batch, or (C, H, W) for one image.
        normalize: one of ``GRAM_NORMALIZATIONS`` (see the module docstring).

    Returns:
        (N, C, C) for batched input, (C, C) for unbatched input. Computed in float32 at least,
        so fp16/bf16 activations do not overflow.
    """
    if normalize not in GRAM_NORMALIZATIONS:
        raise ValueError(f"normalize={normalize!r}; choose one of {GRAM_NORMALIZATIONS}")
    if features.dim() not in (3, 4):
        raise ValueError(f"features must be (N, C, H, W) or (C, H, W), got shape {tuple(features.shape)}")
    unbatched = features.dim() == 3
    if unbatched:
        features = features.unsqueeze(0)
    n, c, h, w = features.shape
    flat = at_least_fp32(features.reshape(n, c, h * w))
    with torch.autocast(flat.device.type, enabled=False):  # autocast would run bmm in bf16 again
        gram = torch.bmm(flat, flat.transpose(1, 2))
    scale = {"none": 1.0, "hw": h * w, "chw": c * h * w, "gatys": 2.0 * c * h * w}[normalize]
    if scale != 1.0:
        gram = gram / scale
    return gram[0] if unbatched else gram


def masked_gram(features: torch.Tensor, mask: torch.Tensor, normalize: str = "chw") -> torch.Tensor:
    """Gram matrix of the features inside a soft mask (1, 1, h, w): positions weighted by the mask,
    normalised by the mask's area instead of H·W (equals :func:`gram_matrix` for an all-ones mask)."""
    c = features.shape[1]
    gram = gram_matrix(features * mask, "none")  # fp32, outside autocast
    area = mask.float().sum().clamp_min(1e-8)
    scales: dict[str, float | torch.Tensor] = {"none": 1.0, "hw": area, "chw": c * area, "gatys": 2.0 * c * area}
    scale = scales[normalize]
    return gram / scale
