"""Grids of results and per-layer style distances (notebooks 07_beyond and 08_evaluation).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from ..images import to_numpy


def image_grid(
    images: Sequence[Sequence],
    *,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    notes: Sequence[Sequence[str]] | None = None,
    size: float = 2.2,
    suptitle: str | None = None,
) -> Figure:
    """Show a rows × columns grid of images (e.g. style weight × steps), with optional labels and notes.

    ``images[r][c]`` is a (1, 3, H, W) / (3, H, W) tensor in [0, 1], an (H, W, 3) array or a PIL image;
    every row must have the same number of images. ``row_labels`` go on the left, ``col_labels`` on top,
    and ``notes[r][c]`` (e.g. ``"SSIM 0.61"``) is written under each image. Returns the Figure; its
    axes are ``fig.axes`` in row-major order.
    """
    rows = [list(r) for r in images]
    if not rows or not rows[0]:
        raise ValueError("images is empty: pass a list of rows, each a list of images")
    ncols = len(rows[0])
    if any(len(r) != ncols for r in rows):
        raise ValueError(f"every row needs the same number of images, got {[len(r) for r in rows]}")
    nrows = len(rows)
    for what, labels, n in (("row_labels", row_labels, nrows), ("col_labels", col_labels, ncols)):
        if labels is not None and len(labels) != n:
            raise ValueError(f"{what}: {len(labels)} labels for {n} {'rows' if what == 'row_labels' else 'columns'}")
    if notes is not None and (len(notes) != nrows or any(len(r) != ncols for r in notes)):
        raise ValueError("notes must have the same rows × columns shape as images")
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols + 0.4, size * nrows * 1.12 + 0.3), squeeze=False)
    for r in range(nrows):
        for c in range(ncols):
            ax, img = axes[r, c], rows[r][c]
            if isinstance(img, torch.Tensor):
                arr = to_numpy(img if img.dim() == 4 else img.unsqueeze(0))
            else:
                arr = np.asarray(img)
            ax.imshow(np.clip(arr, 0, 1) if arr.dtype.kind == "f" else arr)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0 and col_labels is not None:
                ax.set_title(col_labels[c], fontsize=9)
            if c == 0 and row_labels is not None:
                ax.set_ylabel(row_labels[r], fontsize=9)
            if notes is not None:
                ax.set_xlabel(notes[r][c], fontsize=8)
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    fig.tight_layout()
    return fig


def style_distance_bars(
    distances: Mapping[str, Mapping[str, float]],
    *,
    log: bool = True,
    title: str | None = None,
    ax=None,
) -> Figure:
    """Grouped bars: for each style layer, one bar per image (``{image label: {layer: distance}}``).

    Meant for :func:`nsthelpers.evaluate.style_distance` results (Gram distance to the style image per
    layer). Layers come from the first entry; a log axis (default) shows layers whose distances differ by
    orders of magnitude side by side. Returns the Figure.
    """
    if not distances:
        raise ValueError("distances is empty: pass {label: {layer: distance}}")
    labels = list(distances)
    layers = list(next(iter(distances.values())))
    for label in labels:
        if list(distances[label]) != layers:
            raise ValueError(f"{label!r} has layers {list(distances[label])}, expected {layers}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(1.3 * len(layers) + 2.5, 3.4))
    else:
        fig = ax.figure
    width = 0.8 / len(labels)
    x = np.arange(len(layers))
    for k, label in enumerate(labels):
        ax.bar(x + (k - (len(labels) - 1) / 2) * width, [distances[label][n] for n in layers], width, label=label)
    ax.set_xticks(x)
    ax.set_xticklabels(layers)
    if log:
        ax.set_yscale("log")
    ax.set_ylabel("Gram distance to the style")
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
