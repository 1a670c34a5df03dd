"""Loss curves: against steps (reconstructions, notebook 04) and time (05), and pyplot-free figures for
live widgets (06).
"""
from __future__ import annotations

import io
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure


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
