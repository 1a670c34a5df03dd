"""Gram matrices as figures: heatmaps, grids and one entry explained (notebook 03).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from ..images import to_numpy
from .analysis import (
    channel_correlation,
    gram_pair,
)


def gram_entry_figure(
    features: torch.Tensor,
    i: int,
    j: int,
    normalize: str = "chw",
    layer: str | None = None,
    cmap: str = "magma",
) -> Figure:
    """Three panels: channel ``i``, channel ``j`` and their product, whose (scaled) sum is ``G[i, j]``.

    The product map shows *where* the two channels agree; the Gram entry only keeps its total,
    which is why the Gram matrix forgets positions.
    """
    map_i, map_j, value = gram_pair(features, i, j, normalize)
    prefix = f"{layer} " if layer else ""
    fig, axes = plt.subplots(1, 3, figsize=(9.5, 3.4))
    panels = [
        (map_i, f"{prefix}channel {i}"),
        (map_j, f"{prefix}channel {j}"),
        (map_i * map_j, f"channel {i} × channel {j}"),
    ]
    for ax, (m, title) in zip(axes, panels):
        im = ax.imshow(m.numpy(), cmap=cmap)
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
    fig.suptitle(f"G[{i}, {j}] = sum(product) / scale = {value:.4g}   (normalize={normalize!r})", fontsize=11)
    fig.tight_layout()
    return fig


def gram_heatmap(
    gram: torch.Tensor,
    ax=None,
    *,
    title: str | None = None,
    order: Sequence[int] | None = None,
    scale: str = "raw",
    cmap: str = "viridis",
    colorbar: bool = True,
):
    """Draw one (C, C) Gram matrix as a heatmap (viridis, as many tutorials draw it) and return the image artist.

    ``order`` reorders rows and columns (e.g. from :func:`order_channels`); ``scale="corr"`` shows
    the cosine similarity of channels instead of raw values (:func:`channel_correlation`).
    """
    if scale not in ("raw", "corr"):
        raise ValueError(f"scale={scale!r}; choose 'raw' or 'corr'")
    g = channel_correlation(gram) if scale == "corr" else torch.as_tensor(gram).detach().cpu().double()
    if order is not None:
        p = torch.as_tensor(np.asarray(order), dtype=torch.long)
        g = g[p][:, p]
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    kw = {"vmin": -1.0 if g.min() < 0 else 0.0, "vmax": 1.0} if scale == "corr" else {}
    im = ax.imshow(g.numpy(), cmap=cmap, interpolation="nearest", **kw)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
    return im


def gram_grid(
    grams: Mapping[str, Mapping[str, torch.Tensor]],
    images: Mapping[str, torch.Tensor] | None = None,
    *,
    scale: str = "raw",
    cmap: str = "viridis",
    cell: float = 2.4,
) -> Figure:
    """Gram heatmaps: one row per image, one column per layer (``grams[row][layer]``), image first if given.

    Each heatmap has its own colour scale (the magnitudes differ by orders between layers).
    """
    rows = list(grams)
    if not rows:
        raise ValueError("grams is empty")
    layers = list(grams[rows[0]])
    extra = 1 if images is not None else 0
    fig, axes = plt.subplots(len(rows), len(layers) + extra, figsize=(cell * (len(layers) + extra), cell * len(rows)),
                             squeeze=False)
    for r, row in enumerate(rows):
        if images is not None:
            axes[r, 0].imshow(to_numpy(images[row]))
            axes[r, 0].set_title(row, fontsize=10)
            axes[r, 0].axis("off")
        for k, layer in enumerate(layers):
            g = grams[row][layer]
            gram_heatmap(g, axes[r, k + extra], title=f"{layer} ({g.shape[-1]}×{g.shape[-1]})", scale=scale,
                         cmap=cmap, colorbar=False)
    fig.tight_layout()
    return fig
