"""Figures for the notebooks, and the numbers behind them.

``pictures`` (rows of pictures; a figure as PNG bytes), ``feature_maps`` (layer tables and feature maps, notebooks
01–02), ``grams`` (Gram matrices and reconstructions, 03–04), ``curves`` (loss against time; pyplot-free figures
for live widgets, 05–06), ``grids`` (grids of results and per-layer style distances, 07–08), ``analysis`` (the
numbers behind the figures: channel rankings, Gram entries, channel orders) and ``diagrams`` (concept figures).
The figure functions and the numbers behind them are re-exported here: notebooks call ``viz.feature_grid``.

Every figure function returns the :class:`matplotlib.figure.Figure` it drew (made with ``pyplot``, so a notebook
shows it with ``plt.show()``); none of them changes global matplotlib settings. A subpackage: imports the core.
"""
from __future__ import annotations

from .analysis import (
    band_similarity,
    channel_correlation,
    channel_means,
    gram_pair,
    one_image_activations,
    order_channels,
    top_channels,
)
from .curves import figure_png, loss_vs_time, step_curves, loss_curves
from .feature_maps import (
    channel_means_scatter,
    channel_rows,
    channel_summary,
    feature_grid,
    feature_grid_array,
    format_layer_table,
    plot_layer_shapes,
    show_channel,
)
from .grams import gram_entry_figure, gram_grid, gram_heatmap
from .grids import image_grid, style_distance_bars
from .pictures import figure_to_png, image_row

__all__ = [
    "band_similarity",
    "channel_correlation",
    "channel_means",
    "channel_means_scatter",
    "channel_rows",
    "channel_summary",
    "feature_grid",
    "feature_grid_array",
    "figure_png",
    "figure_to_png",
    "format_layer_table",
    "gram_entry_figure",
    "gram_grid",
    "gram_heatmap",
    "gram_pair",
    "image_grid",
    "image_row",
    "loss_curves",
    "loss_vs_time",
    "one_image_activations",
    "order_channels",
    "plot_layer_shapes",
    "show_channel",
    "step_curves",
    "style_distance_bars",
    "top_channels",
]
