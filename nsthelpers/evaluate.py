"""Judging a stylised image: content preservation (SSIM, content loss) and style match (Gram distances).

Style transfer has no single "accuracy". Two questions are asked separately:

* **Is the content still there?** :func:`ssim` (structural similarity of the pixels, 1 = identical) and
  :func:`content_distance` (the content loss: mean squared difference of VGG activations at one layer).
* **Does it have the style?** :func:`style_distance`: per style layer, the mean squared difference of
  the Gram matrices (the style loss of :func:`nsthelpers.stylize`, layer by layer). Images of different
  sizes can be compared: the Gram matrix is normalised by C·H·W.

:func:`score` bundles the three for one result. All functions are read-only (no gradients).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .gram import gram_matrix
from .images import to_numpy
from .specs import DEFAULT_STYLE_LAYERS
from .vgg import VGG19Features

__all__ = ["Scores", "content_distance", "score", "ssim", "style_distance"]


def _as_hwc(image) -> np.ndarray:
    """(1, 3, H, W) / (3, H, W) tensor, or (H, W, 3) / (H, W) array → float64 (H, W, C) array."""
    if isinstance(image, torch.Tensor):
        t = image.detach()
        if t.dim() == 3:
            t = t.unsqueeze(0)
        if t.dim() != 4 or t.shape[0] != 1:
            raise ValueError(f"expected one image (1, C, H, W) or (C, H, W), got shape {tuple(image.shape)}")
        arr = to_numpy(t)
    else:
        arr = np.asarray(image)
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3:
        raise ValueError(f"expected an (H, W, C) or (H, W) array, got shape {arr.shape}")
    return arr


def ssim(a, b, *, data_range: float = 1.0, win_size: int = 7) -> float:
    """Structural similarity (Wang et al. 2004) of two images in [0, 1], averaged over RGB channels.

    A thin wrapper around :func:`skimage.metrics.structural_similarity` (uniform ``win_size`` window,
    K1 = 0.01, K2 = 0.03). 1.0 means identical; unrelated images score near 0. ``a`` and ``b`` are
    (1, 3, H, W) tensors or (H, W, 3) arrays of the same size.

    Raises:
        ValueError: different sizes, or an image smaller than the window.
    """
    from skimage.metrics import structural_similarity

    x, y = _as_hwc(a), _as_hwc(b)
    if x.shape != y.shape:
        raise ValueError(f"ssim needs two images of the same size, got {x.shape[:2]} and {y.shape[:2]} "
                         "(resize one with nst.match_size)")
    if min(x.shape[:2]) < win_size:
        raise ValueError(f"images of {x.shape[0]}×{x.shape[1]} px are smaller than the {win_size}×{win_size} SSIM window")
    return float(structural_similarity(x, y, data_range=data_range, channel_axis=-1, win_size=win_size))


def _device_of(model: VGG19Features) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


@torch.no_grad()
def content_distance(model: VGG19Features, a: torch.Tensor, b: torch.Tensor, layer: str = "relu4_2") -> float:
    """Content loss between two images of the same size: mean squared difference of ``layer``'s activations.

    The same number :func:`nsthelpers.content_loss` gives inside :func:`nsthelpers.stylize` (0 = the
    network sees the same content at that layer).
    """
    if a.shape[-2:] != b.shape[-2:]:
        raise ValueError(f"content_distance needs images of the same size, got {tuple(a.shape[-2:])} and "
                         f"{tuple(b.shape[-2:])} (resize one with nst.match_size)")
    dev = _device_of(model)
    fa = model(a.to(dev, torch.float32), [layer])[layer].float()
    fb = model(b.to(dev, torch.float32), [layer])[layer].float()
    return float(F.mse_loss(fa, fb))


@torch.no_grad()
def style_distance(
    model: VGG19Features,
    image: torch.Tensor,
    style: torch.Tensor,
    layers: Sequence[str] = DEFAULT_STYLE_LAYERS,
    *,
    normalize: str = "chw",
) -> dict[str, float]:
    """Gram distance per layer: ``{layer: mean((G(image) − G(style))²)}``.

    ``G`` is :func:`nsthelpers.gram_matrix` with ``normalize`` (default ``"chw"``, as in the style loss
    of :func:`nsthelpers.stylize`, whose unweighted style loss is the sum of these values). The two
    images may differ in size. 0 means the same feature correlations at that layer.
    """
    layers = list(layers)
    if not layers:
        raise ValueError("layers is empty: name at least one style layer")
    dev = _device_of(model)
    fi = model(image.to(dev, torch.float32), layers)
    fs = model(style.to(dev, torch.float32), layers)
    return {n: float(F.mse_loss(gram_matrix(fi[n].float(), normalize), gram_matrix(fs[n].float(), normalize)))
            for n in layers}


@dataclass
class Scores:
    """Scores of one result: SSIM and content loss against the content image, Gram distances to the style."""

    ssim: float
    content: float
    style: dict[str, float] = field(default_factory=dict)

    @property
    def style_total(self) -> float:
        """Sum of the per-layer Gram distances (the unweighted style loss)."""
        return float(sum(self.style.values()))


def score(
    model: VGG19Features,
    image: torch.Tensor,
    content: torch.Tensor,
    style: torch.Tensor,
    *,
    content_layer: str = "relu4_2",
    style_layers: Sequence[str] = DEFAULT_STYLE_LAYERS,
) -> Scores:
    """:func:`ssim` and :func:`content_distance` of ``image`` against ``content`` (same size), and
    :func:`style_distance` against ``style``, in one :class:`Scores`."""
    return Scores(
        ssim=ssim(image, content),
        content=content_distance(model, image, content, content_layer),
        style=style_distance(model, image, style, style_layers),
    )
