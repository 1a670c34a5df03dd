"""Concept figures drawn with matplotlib: the VGG19 pipeline and where the style-transfer loss reads it.

Every number in a figure comes from :func:`nsthelpers.layer_table` (shapes for the given input size), so
the picture cannot disagree with the network.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from ..checks import layer_names
from ..specs import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS
from ..vgg import layer_table

STYLE_COLOUR, CONTENT_COLOUR, BLOCK_COLOUR = "#d95f02", "#1b9e77", "#c6dbef"


def block_summary(size: tuple[int, int] = (224, 224)) -> list[dict]:
    """One dict per VGG19 block: ``block``, ``convs`` (count), ``out_shape`` of its last conv (C, H, W)
    and the names of its layers, for an input of ``size`` = (H, W)."""
    blocks: dict[int, dict] = {}
    for row in layer_table(size):
        b = int(row.name[4])                       # conv4_2, relu4_2, pool4: block 4
        info = blocks.setdefault(b, {"block": b, "convs": 0, "names": []})
        info["names"].append(row.name)
        if row.kind.startswith("Conv"):
            info["convs"] += 1
            info["out_shape"] = tuple(row.out_shape)
    return [blocks[b] for b in sorted(blocks)]


def _box(ax, x: float, y: float, w: float, h: float, text: str, colour: str, fontsize: float = 8) -> None:
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                facecolor=colour, edgecolor="#333333", linewidth=0.8))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, start, end, colour="#333333", style="-|>", dashed=False, rad=0.0) -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=10, color=colour, linewidth=1.1,
                                 linestyle="--" if dashed else "-", connectionstyle=f"arc3,rad={rad}"))


def vgg19_pipeline(
    size: tuple[int, int] = (224, 224),
    content_layers: Sequence[str] = DEFAULT_CONTENT_LAYERS,
    style_layers: Sequence[str] = DEFAULT_STYLE_LAYERS,
    *,
    losses: bool = True,
) -> Figure:
    """VGG19's five blocks for an input of ``size``, box heights following H and widths the channels.

    With ``losses=True`` it also marks where the content and style terms read the network and draws
    the loop of style transfer: image → VGG19 → content / style terms → total loss → gradient → pixels.
    """
    content_layers = layer_names("content_layers", content_layers)
    style_layers = layer_names("style_layers", style_layers)
    blocks = block_summary(size)
    fig, ax = plt.subplots(figsize=(11, 4.2 if losses else 3.0))
    mid, x = 2.2, 0.0
    _box(ax, x, mid - 0.9, 1.1, 1.8, f"image\n3×{size[0]}×{size[1]}\nRGB in [0, 1]", "#eeeeee")
    _arrow(ax, (1.15, mid), (1.4, mid))
    _box(ax, 1.45, mid - 0.45, 1.05, 0.9, "preprocess\n(per weight\nset)", "#f2f2f2", 7)
    x, anchors = 2.75, {}
    h0 = blocks[0]["out_shape"][1]
    for info in blocks:
        c, h, w = info["out_shape"]
        height = 0.9 + 1.5 * h / h0
        width = 1.05 + 0.12 * math.log2(c / 64)
        _arrow(ax, (x - 0.2, mid), (x - 0.02, mid))
        _box(ax, x, mid - height / 2, width, height,
             f"block {info['block']}\n{info['convs']}× conv 3×3\n+ ReLU\n{c}×{h}×{w}", BLOCK_COLOUR, 7.5)
        ax.text(x + width + 0.17, mid + 0.22, "pool", ha="center", va="center", fontsize=6.5, color="#555555")
        for name in info["names"]:
            anchors[name] = (x + width / 2, mid - height / 2, mid + height / 2)
        x += width + 0.45
    if losses:
        _loss_part(ax, anchors, content_layers, style_layers, x)
    else:
        ax.text(x - 0.1, mid, "features only\n(no fully connected\nlayers)", ha="left", va="center", fontsize=7)
    ax.set_xlim(-0.2, x + 1.6)
    ax.set_ylim(-1.0 if losses else 0.6, 4.9 if losses else 3.8)
    ax.axis("off")
    fig.tight_layout()
    return fig


def _loss_part(ax, anchors, content_layers, style_layers, right: float) -> None:
    """Content term above the blocks, style term below, total loss and the gradient back to the pixels."""
    for name in style_layers:
        cx, bottom, _ = anchors[name]
        ax.plot(cx, bottom, "o", color=STYLE_COLOUR, markersize=5)
        _arrow(ax, (cx, bottom - 0.05), (cx, 0.55), STYLE_COLOUR)
    _box(ax, 2.75, -0.15, right - 3.15, 0.65, "style term: Gram matrices of " + ", ".join(style_layers)
         + "  vs the painting's", "#fde0c5", 8)
    for name in content_layers:
        cx, _, top = anchors[name]
        ax.plot(cx, top, "o", color=CONTENT_COLOUR, markersize=5)
        _arrow(ax, (cx, top + 0.05), (cx, 3.9), CONTENT_COLOUR)
    _box(ax, 2.75, 3.95, right - 3.15, 0.65, "content term: activations of " + ", ".join(content_layers)
         + "  vs the photo's", "#c7eae5", 8)
    _box(ax, right, 1.7, 1.3, 1.0, "total loss\nα·content\n+ β·style", "#ffffff", 8)
    _arrow(ax, (right - 0.35, 4.27), (right + 0.65, 2.75), CONTENT_COLOUR)
    _arrow(ax, (right - 0.35, 0.17), (right + 0.65, 1.65), STYLE_COLOUR)
    grad = "#7570b3"                                  # gradient path: down, left under everything, up
    ax.plot([right + 1.1, right + 1.1, 0.55, 0.55], [1.65, -0.55, -0.55, 0.0], "--", color=grad, linewidth=1.1)
    _arrow(ax, (0.55, 0.0), (0.55, 1.25), grad, dashed=True)
    ax.text(right * 0.5, -0.8, "gradient of the loss w.r.t. the pixels: only the image changes, VGG19 stays frozen",
            ha="center", fontsize=8, color=grad)
