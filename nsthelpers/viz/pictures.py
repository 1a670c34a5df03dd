"""Rows of pictures, and a figure turned into PNG bytes (for widgets that show figures as images).
"""
from __future__ import annotations

import io
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from ..images import to_numpy


def image_row(
    images: Sequence,
    titles: Sequence[str] | None = None,
    *,
    size: float = 2.8,
    suptitle: str | None = None,
) -> Figure:
    """Show images side by side in one row, with an optional title over each.

    ``images`` holds (1, 3, H, W) / (3, H, W) tensors in [0, 1], (H, W, 3) arrays or PIL images.
    """
    images = list(images)
    if not images:
        raise ValueError("images is empty")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"{len(titles)} titles for {len(images)} images")
    fig, axes = plt.subplots(1, len(images), figsize=(size * len(images), size * 1.08), squeeze=False)
    for k, (ax, img) in enumerate(zip(axes[0], images)):
        if isinstance(img, torch.Tensor):
            arr = to_numpy(img if img.dim() == 4 else img.unsqueeze(0))
        else:
            arr = np.asarray(img)
        ax.imshow(np.clip(arr, 0, 1) if arr.dtype.kind == "f" else arr)
        ax.axis("off")
        if titles is not None:
            ax.set_title(titles[k], fontsize=10)
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    fig.tight_layout()
    return fig


def figure_to_png(fig: Figure, dpi: float | None = None) -> bytes:
    """Render ``fig`` to PNG bytes and close it (so it does not also appear below a notebook cell)."""
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    return buf.getvalue()
