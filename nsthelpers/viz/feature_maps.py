"""Layer tables and feature maps (notebooks 01_vgg19_anatomy and 02_feature_maps).
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from ..images import to_numpy
from .analysis import (
    channel_means,
    one_image_activations,
)


def format_layer_table(rows: Iterable[Any], *, totals: bool = True) -> str:
    """Plain-text, fixed-width table of :func:`nsthelpers.layer_table` rows (or any rows with the
    same attributes: ``index, name, kind, out_shape, params, receptive_field, flops``).

    Columns: torchvision index, name, type, output shape C×H×W, parameters, receptive field in
    input pixels (``all`` when ``receptive_field <= 0``, e.g. for fully connected layers), and
    MFLOPs of one forward pass. With ``totals=True`` a last line sums parameters and GFLOPs.
    Every line has the same width, so the table prints the same everywhere (nbval-checkable).
    """
    rows = list(rows)
    header = ("idx", "name", "type", "output C×H×W", "params", "RF", "MFLOPs")
    body = []
    for r in rows:
        c, h, w = r.out_shape
        rf = str(r.receptive_field) if r.receptive_field > 0 else "all"
        body.append((str(r.index), r.name, r.kind, f"{c}×{h}×{w}", f"{r.params:,}", rf, f"{r.flops / 1e6:,.1f}"))
    if totals:
        n_conv = sum(1 for r in rows if r.name.startswith("conv"))
        n_fc = sum(1 for r in rows if r.name.startswith("fc"))
        what = ", ".join(s for s in (f"{n_conv} conv" if n_conv else "", f"{n_fc} fc" if n_fc else "") if s)
        body.append(("", "total", what, "", f"{sum(r.params for r in rows):,}", "",
                     f"{sum(r.flops for r in rows) / 1e6:,.1f}"))
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    left = {1, 2}  # name and type are left-aligned, numbers right-aligned

    def fmt(line: Sequence[str]) -> str:
        return "  ".join(s.ljust(wd) if i in left else s.rjust(wd) for i, (s, wd) in enumerate(zip(line, widths)))

    rule = "-" * len(fmt(header))
    lines = [fmt(header), rule, *(fmt(b) for b in body[: len(rows)])]
    if totals:
        lines += [rule, fmt(body[-1])]
    return "\n".join(lines)


def plot_layer_shapes(rows: Iterable[Any], *, kinds: Sequence[str] = ("conv",)) -> Figure:
    """Two panels over the layers whose names start with one of ``kinds``: channels C (bars) and
    spatial size H×W (log scale) — VGG trades resolution for channels block by block.

    ``rows`` are :func:`nsthelpers.layer_table` rows. Returns the Figure (axes[0]: channels,
    axes[1]: H×W).
    """
    sel = [r for r in rows if r.name.startswith(tuple(kinds))]
    if not sel:
        raise ValueError(f"no rows whose names start with {tuple(kinds)}")
    names = [r.name for r in sel]
    chans = [r.out_shape[0] for r in sel]
    spatial = [r.out_shape[1] * r.out_shape[2] for r in sel]
    block_colour = [f"C{int(n[4]) - 1}" if n[4:5].isdigit() else "C0" for n in names]
    fig, (ax_c, ax_s) = plt.subplots(1, 2, figsize=(11, 3.4))
    x = np.arange(len(sel))
    ax_c.bar(x, chans, color=block_colour)
    ax_c.set_ylabel("channels C")
    ax_c.set_title("channels grow …")
    ax_s.plot(x, spatial, "o-", color="0.3")
    ax_s.set_yscale("log")
    ax_s.set_ylabel("positions H×W")
    ax_s.set_title("… while the spatial grid shrinks")
    for ax in (ax_c, ax_s):
        ax.set_xticks(x)
        ax.set_xticklabels(names, rotation=90, fontsize=8)
    h0, w0 = sel[0].out_shape[1:]
    fig.suptitle(f"VGG19 layer shapes for a {h0}×{w0} input", fontsize=10)
    fig.tight_layout()
    return fig


def _as_chw(acts: torch.Tensor) -> torch.Tensor:
    """(1, C, H, W) or (C, H, W) activations → detached float32 CPU (C, H, W)."""
    if not isinstance(acts, torch.Tensor):
        raise ValueError(f"expected an activation tensor (1, C, H, W) or (C, H, W), got {type(acts).__name__}")
    return one_image_activations(acts).to(torch.float32)


def _scale01(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map [lo, hi] to [0, 1]; a constant map (hi == lo) becomes all zeros."""
    if hi <= lo:
        return np.zeros_like(x)
    return (x - lo) / (hi - lo)


def _pick_channels(n_channels: int, channels: Sequence[int] | None, n: int) -> list[int]:
    chosen = list(range(min(n, n_channels))) if channels is None else [int(c) for c in channels]
    bad = [c for c in chosen if not 0 <= c < n_channels]
    if bad:
        raise ValueError(f"channel(s) {bad} out of range: this layer has {n_channels} channels (0…{n_channels - 1})")
    if not chosen:
        raise ValueError("no channels to show")
    return chosen


def feature_grid_array(
    acts: torch.Tensor,
    channels: Sequence[int] | None = None,
    n: int = 16,
    ncols: int | None = None,
    *,
    normalize: str = "channel",
    pad: int = 1,
) -> np.ndarray:
    """Tile feature maps into one 2-D array (NaN between tiles), the picture behind :func:`feature_grid`.

    ``acts`` is (1, C, H, W) or (C, H, W). ``channels`` lists the channels to tile (default: the
    first ``n``), row by row, ``ncols`` per row (default: ``ceil(sqrt(count))``). Each tile is
    scaled to [0, 1]: ``normalize="channel"`` by its own min/max (shows patterns), ``"global"``
    by the min/max over all shown tiles (shows which channels are strong). Tile ``k`` starts at
    row ``(k // ncols) * (H + pad)``, column ``(k % ncols) * (W + pad)``.
    """
    a = _as_chw(acts)
    chosen = _pick_channels(a.shape[0], channels, n)
    if normalize not in ("channel", "global"):
        raise ValueError(f"normalize={normalize!r}; use 'channel' or 'global'")
    maps = a[chosen].numpy()
    count, h, w = maps.shape
    ncols = int(ncols) if ncols else int(math.ceil(math.sqrt(count)))
    nrows = int(math.ceil(count / ncols))
    grid = np.full((nrows * (h + pad) - pad, ncols * (w + pad) - pad), np.nan, dtype=np.float32)
    glo, ghi = float(maps.min()), float(maps.max())
    for k, m in enumerate(maps):
        lo, hi = (float(m.min()), float(m.max())) if normalize == "channel" else (glo, ghi)
        r, c = divmod(k, ncols)
        grid[r * (h + pad): r * (h + pad) + h, c * (w + pad): c * (w + pad) + w] = _scale01(m, lo, hi)
    return grid


def feature_grid(
    acts: torch.Tensor,
    n: int = 16,
    *,
    channels: Sequence[int] | None = None,
    ncols: int | None = None,
    normalize: str = "channel",
    title: str | None = None,
    cmap: str = "viridis",
    size: float = 6.0,
) -> Figure:
    """Figure: a grid of feature maps (one tile per channel, labelled with its channel number).

    Arguments as in :func:`feature_grid_array` (the image shown is exactly that array);
    ``size`` is the figure width in inches.
    """
    a = _as_chw(acts)
    chosen = _pick_channels(a.shape[0], channels, n)
    grid = feature_grid_array(a, chosen, ncols=ncols, normalize=normalize)
    ncols = int(ncols) if ncols else int(math.ceil(math.sqrt(len(chosen))))
    h, w = a.shape[1:]
    fig, ax = plt.subplots(figsize=(size, size * grid.shape[0] / grid.shape[1] + (0.4 if title else 0.1)))
    cm = plt.get_cmap(cmap).with_extremes(bad="white")
    ax.imshow(grid, cmap=cm, vmin=0, vmax=1, interpolation="nearest")
    fontsize = max(5.0, min(9.0, 60.0 / ncols))
    for k, ch in enumerate(chosen):
        r, c = divmod(k, ncols)
        ax.text(c * (w + 1) + 0.5, r * (h + 1) + 0.5, str(ch), color="white", fontsize=fontsize, va="top", ha="left",
                bbox=dict(facecolor="black", alpha=0.5, pad=0.5, linewidth=0))
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def show_channel(
    acts: torch.Tensor,
    channel: int,
    image: torch.Tensor | None = None,
    *,
    layer: str | None = None,
    cmap: str = "viridis",
    size: float = 3.2,
) -> Figure:
    """Figure: one channel's activation map with a colour bar, after the input ``image`` if given.

    The map is drawn over the same extent as the image, so positions line up even though deeper
    layers have fewer positions. The title gives layer, channel and the map's max and mean.
    Returns the Figure; its last image axes shows exactly ``acts[channel]``.
    """
    a = _as_chw(acts)
    (channel,) = _pick_channels(a.shape[0], [channel], 1)
    m = a[channel].numpy()
    panels = 2 if image is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(size * panels + 0.6, size), squeeze=False)
    axes = axes[0]
    extent = None
    if image is not None:
        img = to_numpy(image)
        axes[0].imshow(img)
        axes[0].set_title(f"input {img.shape[0]}×{img.shape[1]}", fontsize=9)
        axes[0].set_axis_off()
        extent = (-0.5, img.shape[1] - 0.5, img.shape[0] - 0.5, -0.5)
    ax = axes[-1]
    im = ax.imshow(m, cmap=cmap, interpolation="nearest", extent=extent)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    name = f"{layer} " if layer else ""
    ax.set_title(f"{name}ch {channel} ({m.shape[0]}×{m.shape[1]})\nmax {m.max():.3g}, mean {m.mean():.3g}", fontsize=9)
    ax.set_axis_off()
    fig.tight_layout()
    return fig


def channel_means_scatter(
    reference: torch.Tensor,
    others: Mapping[str, torch.Tensor],
    *,
    reference_label: str = "reference",
    layer: str | None = None,
    border: int = 0,
    size: float = 2.8,
) -> Figure:
    """One log-log panel per entry of ``others``: each channel's mean activation there (y) against
    its mean in ``reference`` (x), with the line y = x.

    Points on the line mean "same features, same strength"; a parallel shift means the same
    pattern at another scale; a cloud means different channels fire. Channels whose mean is 0 in
    either tensor cannot be drawn on log axes and are left out (the panel title counts the points
    drawn). ``border`` is passed to :func:`channel_means`.
    """
    if not others:
        raise ValueError("others is empty: pass {label: activations of the same layer}")
    ref = channel_means(reference, border).numpy()
    fig, axes = plt.subplots(1, len(others), figsize=(size * len(others), size + 0.4), squeeze=False)
    positive = ref[ref > 0]
    lo_hi = [float(positive.min()), float(positive.max())] if positive.size else [1e-3, 1.0]
    for ax, (label, acts) in zip(axes[0], others.items()):
        y = channel_means(acts, border).numpy()
        if y.shape != ref.shape:
            raise ValueError(f"{label!r} has {y.shape[0]} channels, the reference {ref.shape[0]}")
        keep = (ref > 0) & (y > 0)
        ax.scatter(ref[keep], y[keep], s=6, alpha=0.6)
        if keep.any():
            lo_hi = [min(lo_hi[0], float(y[keep].min())), max(lo_hi[1], float(y[keep].max()))]
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{label}\n({int(keep.sum())} of {ref.shape[0]} channels)", fontsize=9)
        ax.set_xlabel(f"mean, {reference_label}", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes[0]:
        ax.plot(lo_hi, lo_hi, "--", color="0.4", linewidth=1)
    axes[0, 0].set_ylabel("mean activation", fontsize=8)
    if layer:
        fig.suptitle(f"{layer}: mean activation per channel", fontsize=10)
    fig.tight_layout()
    return fig


def channel_summary(acts: torch.Tensor, channel: int, layer: str | None = None) -> str:
    """One line describing a channel: layer, channel of C, map size, mean/max, share of positions > 0."""
    a = _as_chw(acts)
    (channel,) = _pick_channels(a.shape[0], [channel], 1)
    m = a[channel]
    active = float((m > 0).float().mean()) * 100
    name = f"{layer}: " if layer else ""
    return (f"{name}channel {channel} of {a.shape[0]}, map {m.shape[0]}×{m.shape[1]}, "
            f"mean {float(m.mean()):.3g}, max {float(m.max()):.3g}, {active:.0f}% of positions > 0")


def channel_rows(
    acts: torch.Tensor | Mapping[str, torch.Tensor],
    channels: Mapping[str, Sequence[int]] | Sequence[int],
    images: Mapping[str, torch.Tensor] | None = None,
    *,
    cmap: str = "viridis",
    tile: float = 1.8,
) -> Figure:
    """Figure with one labelled row per key: optionally an image, then one map per listed channel.

    ``acts`` is one activation tensor shared by all rows, or a mapping row → activations;
    ``channels`` is one channel list for all rows, or a mapping row → channels; ``images``
    (optional) maps row → an RGB image shown first. Row keys come from whichever argument is a
    mapping (``images``, then ``channels``, then ``acts``). Each map is scaled by its own min/max;
    the title gives its channel and max. Example: a probe image per row and, next to it, the
    channels that prefer that probe, shown on a photo.
    """
    for source in (images, channels, acts):
        if isinstance(source, Mapping):
            keys = list(source)
            break
    else:
        raise ValueError("one of acts, channels, images must be a mapping row name → value")
    per_row = {key: list(channels[key]) if isinstance(channels, Mapping) else list(channels) for key in keys}
    ncols = max(len(v) for v in per_row.values()) + (1 if images is not None else 0)
    fig, axes = plt.subplots(len(keys), ncols, figsize=(tile * ncols, tile * len(keys) + 0.3), squeeze=False)
    for r, key in enumerate(keys):
        a = _as_chw(acts[key] if isinstance(acts, Mapping) else acts)
        col = 0
        if images is not None:
            axes[r, 0].imshow(to_numpy(images[key]))
            col = 1
        for ch in _pick_channels(a.shape[0], per_row[key], 0):
            m = a[ch].numpy()
            axes[r, col].imshow(m, cmap=cmap, interpolation="nearest")
            axes[r, col].set_title(f"ch {ch}, max {m.max():.3g}", fontsize=8)
            col += 1
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
        axes[r, 0].set_ylabel(key, fontsize=9)
    fig.tight_layout()
    return fig
