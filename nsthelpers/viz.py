"""Matplotlib figures for the notebooks: image rows, feature maps, Gram heatmaps, loss curves.

The numbers behind them (channel rankings, Gram entries, channel orders) live in :mod:`nsthelpers.analysis`.

Every function returns the :class:`matplotlib.figure.Figure` it drew (made with ``pyplot``, so a
notebook shows it with ``plt.show()``); none of them changes global matplotlib settings.
"""
from __future__ import annotations

import io
import math
from typing import Any, Iterable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from .analysis import (  # the numbers behind the figures (re-exported: notebooks call viz.top_channels etc.)
    band_similarity,  # noqa: F401  (re-exported)
    channel_correlation,
    channel_means,
    gram_pair,
    one_image_activations,
    order_channels,  # noqa: F401  (re-exported)
    top_channels,  # noqa: F401  (re-exported)
)
from .images import to_numpy


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

# --------------------------------------------------------------------------------------------
# Layer tables and feature maps (notebooks 01_vgg19_anatomy, 02_feature_maps)
# --------------------------------------------------------------------------------------------


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


def figure_to_png(fig: Figure, dpi: float | None = None) -> bytes:
    """Render ``fig`` to PNG bytes and close it (so it does not also appear below a notebook cell)."""
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    return buf.getvalue()


# ----------------------------------------------------------------------------------------------
# Gram matrices (notebook 03) and reconstructions (notebook 04)
# ----------------------------------------------------------------------------------------------


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


def loss_curves(
    histories: Sequence,
    labels: Sequence[str] | None = None,
    *,
    key: str = "total",
    relative: bool = False,
    log: bool = True,
    ax=None,
    title: str | None = None,
) -> Figure:
    """Loss against step for several runs on one (log-scale) axis.

    ``histories`` holds :class:`~nsthelpers.StyleResult` objects, their ``history`` dicts, or plain
    lists of numbers; ``key`` picks the term of a history dict. ``relative=True`` divides each
    curve by its first value, so runs with very different loss scales can be compared.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 3.8))
    else:
        fig = ax.figure
    labels = list(labels) if labels is not None else [f"run {k}" for k in range(len(histories))]
    if len(labels) != len(histories):
        raise ValueError(f"{len(labels)} labels for {len(histories)} histories")
    for h, label in zip(histories, labels):
        h = getattr(h, "history", h)
        values = np.asarray(h[key] if isinstance(h, Mapping) else h, dtype=float)
        if relative and len(values) and values[0] != 0:
            values = values / values[0]
        ax.plot(np.arange(1, len(values) + 1), values, label=label)
    ylabel = f"{key} loss / first value" if relative else f"{key} loss"
    return _finish_loss_axes(fig, ax, log=log, xlabel="step (objective evaluations)", ylabel=ylabel, title=title)


def _finish_loss_axes(fig: Figure, ax, *, log: bool, xlabel: str, ylabel: str, title: str | None) -> Figure:
    """Shared look of loss plots: optional log scale, labels, title, grid, legend."""
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=11)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------
# Loss against time, and pyplot-free figures for live widgets (notebooks 05 and 06)
# ----------------------------------------------------------------------------------------------


def loss_vs_time(
    results: Sequence,
    labels: Sequence[str] | None = None,
    *,
    key: str = "total",
    log: bool = True,
    ax=None,
    title: str | None = None,
) -> Figure:
    """Loss against wall-clock seconds for several :class:`~nsthelpers.StyleResult` runs on one axis.

    A run's measured optimisation time (``timings["optimize_s"]``) is spread evenly over its steps, so
    step ``k`` of ``n`` sits at ``k / n · optimize_s``: an optimiser whose steps are dearer (L-BFGS's
    line search and two-loop recursion) is stretched to the right. Compare with :func:`loss_curves`
    (per step) to see whether a method that wins per step also wins per second.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 3.8))
    else:
        fig = ax.figure
    results = list(results)
    labels = list(labels) if labels is not None else [f"run {k}" for k in range(len(results))]
    if len(labels) != len(results):
        raise ValueError(f"{len(labels)} labels for {len(results)} results")
    for r, label in zip(results, labels):
        values = np.asarray(r.history[key], dtype=float)
        seconds = r.timings["optimize_s"] * np.arange(1, len(values) + 1) / max(len(values), 1)
        ax.plot(seconds, values, label=f"{label} ({r.timings['ms_per_step']:.0f} ms/step)")
    return _finish_loss_axes(fig, ax, log=log, xlabel="seconds of optimisation", ylabel=f"{key} loss", title=title)


def step_curves(
    ax,
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    best: tuple[float, float] | None = None,
    log: bool = True,
    ylabel: str = "total loss",
    title: str | None = None,
):
    """Draw loss curves given as ``{label: (steps, values)}`` on ``ax`` and return ``ax``.

    For live views: the steps need not be consecutive (a live run records every N steps). The first
    curve is drawn solid, later ones (e.g. the previous run) dashed and lighter; ``best`` = ``(step, loss)``
    is marked with a dot. Non-positive values are dropped on a log axis.
    """
    for k, (label, (steps, values)) in enumerate(curves.items()):
        x, y = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
        if log:
            keep = y > 0
            x, y = x[keep], y[keep]
        style = {"color": "C0", "linewidth": 1.8} if k == 0 else {"color": f"C{k}", "linestyle": "--", "alpha": 0.7}
        ax.plot(x, y, label=label, **style)
    if best is not None and best[0] is not None and np.isfinite(best[1]) and (best[1] > 0 or not log):
        ax.plot([best[0]], [best[1]], "o", color="C3", markersize=5, label=f"best {best[1]:.3g} (step {best[0]})")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    if curves:
        ax.legend(fontsize=7)
    return ax


def figure_png(draw, *, ncols: int = 1, figsize: tuple[float, float] = (5.0, 3.0), dpi: int = 80) -> bytes:
    """Call ``draw(ax)`` on a new figure that pyplot does not track and return it as PNG bytes
    (with ``ncols > 1``: ``draw(axes)``, a list of ``ncols`` side-by-side axes).

    Safe in a background thread (no pyplot state is touched, and nothing appears under a notebook
    cell): live widgets use it to refresh an ``ipywidgets.Image`` while an optimisation runs.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, ncols, k + 1) for k in range(ncols)]
    draw(axes[0] if ncols == 1 else axes)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


# ----------------------------------------------------------------------------------------------
# Grids of results and per-layer style distances (notebooks 07_beyond and 08_evaluation)
# ----------------------------------------------------------------------------------------------


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


def speedup_bars(
    values: Mapping[str, float | None],
    reference: str,
    *,
    unit: str = "ms/step",
    notes: Mapping[str, str] | None = None,
    baselines: Mapping[str, float] | None = None,
    title: str | None = None,
    ax=None,
) -> Figure:
    """Horizontal bars of the speed-up ``values[reference] / value`` of every entry (a time: lower is faster).

    ``baselines[name]``, where given, replaces ``values[reference]`` for that entry: the reference's time
    measured in the same rounds (see :func:`nsthelpers.speed.ratios`). Each bar is labelled
    "×ratio (value unit)"; a dashed line marks ×1. Entries whose value is None get no bar and their
    ``notes`` text (default "n/a"). Returns the Figure.
    """
    from .speed import ratios as _ratios

    notes = notes or {}
    names = list(values)
    speedups = _ratios(values, reference, baselines=baselines)
    ratio = [speedups[n] for n in names]
    if ax is None:
        fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(names) + 1.2))
    else:
        fig = ax.figure
    y = np.arange(len(names))[::-1]
    colors = ["0.55" if n == reference else ("tab:green" if (r or 0) >= 1 else "tab:red") for n, r in zip(names, ratio)]
    ax.barh(y, [r or 0 for r in ratio], color=colors, height=0.6)
    top = max([r for r in ratio if r] + [1.0])
    for yi, n, r in zip(y, names, ratio):
        if r is None:
            text = notes.get(n, "n/a")
        else:
            v = values[n]
            text = f"×{r:.2f}  ({v:.3g} {unit})" + (f"  {notes[n]}" if n in notes else "")
        ax.text((r or 0) + 0.02 * top, yi, text, va="center", fontsize=8)
    ax.axvline(1.0, color="k", ls="--", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(names, fontsize=8)
    ax.set_xlim(0, top * 1.6)
    ax.set_xlabel(f"speed-up against '{reference}' (its {unit} / this {unit})", fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
