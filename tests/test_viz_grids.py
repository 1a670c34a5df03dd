"""viz.image_grid and viz.style_distance_bars (notebooks 07 and 08)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from nsthelpers import viz  # noqa: E402


def test_image_grid_lays_out_rows_columns_labels_and_notes():
    imgs = [[torch.full((1, 3, 8, 8), (r * 3 + c) / 10) for c in range(3)] for r in range(2)]
    notes = [[f"n{r}{c}" for c in range(3)] for r in range(2)]
    fig = viz.image_grid(imgs, row_labels=["a", "b"], col_labels=["x", "y", "z"], notes=notes, suptitle="t")
    axes = fig.axes
    assert len(axes) == 6
    assert [ax.get_title() for ax in axes[:3]] == ["x", "y", "z"]
    assert axes[0].get_ylabel() == "a" and axes[3].get_ylabel() == "b"
    assert axes[5].get_xlabel() == "n12"
    shown = axes[4].get_images()[0].get_array()
    assert np.allclose(shown, 0.4)                        # row 1, column 1 → value (1·3 + 1)/10
    plt.close(fig)


def test_image_grid_rejects_bad_shapes():
    img = torch.zeros(1, 3, 4, 4)
    with pytest.raises(ValueError, match="same number"):
        viz.image_grid([[img, img], [img]])
    with pytest.raises(ValueError, match="col_labels"):
        viz.image_grid([[img, img]], col_labels=["one"])
    with pytest.raises(ValueError, match="notes"):
        viz.image_grid([[img, img]], notes=[["a"]])
    with pytest.raises(ValueError, match="empty"):
        viz.image_grid([])


def test_style_distance_bars_draw_one_bar_per_image_and_layer():
    d = {"result": {"relu1_1": 1.0, "relu2_1": 10.0}, "photo": {"relu1_1": 2.0, "relu2_1": 40.0}}
    fig = viz.style_distance_bars(d, title="t")
    ax = fig.axes[0]
    heights = sorted(p.get_height() for p in ax.patches)
    assert heights == [1.0, 2.0, 10.0, 40.0]
    assert ax.get_yscale() == "log" and [t.get_text() for t in ax.get_xticklabels()] == ["relu1_1", "relu2_1"]
    plt.close(fig)
    with pytest.raises(ValueError, match="expected"):
        viz.style_distance_bars({"a": {"relu1_1": 1.0}, "b": {"relu2_1": 1.0}})
