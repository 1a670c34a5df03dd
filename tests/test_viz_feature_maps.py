"""nsthelpers.viz: layer tables and feature-map figures (notebooks 01 and 02)."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from nsthelpers import LayerInfo, layer_table  # noqa: E402
from nsthelpers import viz  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _row(table: str, name: str) -> list[str]:
    (line,) = [ln for ln in table.splitlines() if ln.split()[1:2] == [name]]
    return line.split()


# ----------------------------------------------------------------------------- layer table
def test_layer_table_text_numbers():
    table = viz.format_layer_table(layer_table((224, 224)))
    lines = table.splitlines()
    assert len(lines) == 1 + 1 + 37 + 1 + 1  # header, rule, 37 layers, rule, totals
    assert len({len(ln) for ln in lines}) == 1  # fixed width
    assert lines[0].split()[:3] == ["idx", "name", "type"]
    assert _row(table, "conv1_1") == ["0", "conv1_1", "Conv2d", "3×3", "64×224×224", "1,792", "3", "173.4"]
    assert _row(table, "conv4_2")[0] == "21" and _row(table, "conv5_1")[0] == "28"
    assert _row(table, "conv5_4")[5:7] == ["2,359,808", "252"]
    assert _row(table, "pool5")[4:7] == ["512×7×7", "0", "268"]
    total = lines[-1].split()
    assert total[:3] == ["total", "16", "conv"] and total[3] == "20,024,384"
    assert total[-1] == "39,036.3"  # MFLOPs at 224×224 (~19.5 GMAC)


def test_layer_table_text_other_input_size_and_fc_rows():
    table = viz.format_layer_table(layer_table((256, 320)))
    assert _row(table, "pool5")[4] == "512×8×10"
    fc = [LayerInfo(0, "fc6", "Linear", (4096, 1, 1), 25088 * 4096 + 4096, 0, 2 * 25088 * 4096),
          LayerInfo(3, "fc7", "Linear", (4096, 1, 1), 4096 * 4096 + 4096, 0, 2 * 4096 * 4096)]
    text = viz.format_layer_table(fc)
    assert _row(text, "fc6")[3:6] == ["4096×1×1", "102,764,544", "all"]
    assert text.splitlines()[-1].split()[:5] == ["total", "2", "fc", "119,545,856", "239.1"]
    no_totals = viz.format_layer_table(fc, totals=False)
    assert len(no_totals.splitlines()) == 4 and "total" not in no_totals


def test_plot_layer_shapes_draws_channels_and_positions():
    rows = layer_table((224, 224))
    fig = viz.plot_layer_shapes(rows)
    assert isinstance(fig, Figure)
    ax_c, ax_s = fig.axes[:2]
    heights = [p.get_height() for p in ax_c.patches]
    assert heights == [64, 64, 128, 128] + [256] * 4 + [512] * 8
    assert list(ax_s.lines[0].get_ydata()) == [224 * 224] * 2 + [112 * 112] * 2 + [56 * 56] * 4 + [28 * 28] * 4 + [14 * 14] * 4
    with pytest.raises(ValueError, match="no rows"):
        viz.plot_layer_shapes(rows, kinds=("fc",))


# ----------------------------------------------------------------------------- grids
def _ramp_acts(c=5, h=3, w=4):
    """Channel k holds k * 100 + arange(h*w): every channel has its own range."""
    base = torch.arange(h * w, dtype=torch.float32).view(h, w)
    return torch.stack([k * 100 + base for k in range(c)])[None]


def test_feature_grid_array_layout_and_per_channel_scaling():
    acts = _ramp_acts()
    grid = viz.feature_grid_array(acts, channels=[4, 1, 2], ncols=2)
    assert grid.shape == (2 * 3 + 1, 2 * 4 + 1)
    expected = np.arange(12, dtype=np.float32).reshape(3, 4) / 11
    np.testing.assert_allclose(grid[0:3, 0:4], expected)  # channel 4, scaled to [0, 1]
    np.testing.assert_allclose(grid[0:3, 5:9], expected)  # channel 1
    np.testing.assert_allclose(grid[4:7, 0:4], expected)  # channel 2
    assert np.isnan(grid[3]).all() and np.isnan(grid[:, 4]).all()  # padding between tiles
    assert np.isnan(grid[4:7, 5:9]).all()  # no fourth tile
    # default: the first n channels, ceil(sqrt(n)) per row
    assert viz.feature_grid_array(acts, n=4).shape == (2 * 3 + 1, 2 * 4 + 1)
    assert viz.feature_grid_array(acts, n=99).shape == (2 * 3 + 1, 3 * 4 + 2)  # n clipped to the 5 channels


def test_feature_grid_array_global_scaling_and_constant_maps():
    acts = _ramp_acts(c=3)
    grid = viz.feature_grid_array(acts, channels=[0, 2], ncols=2, normalize="global", pad=0)
    lo, hi = 0.0, 211.0
    np.testing.assert_allclose(grid[:, :4], (np.arange(12).reshape(3, 4) - lo) / (hi - lo), rtol=1e-6)
    np.testing.assert_allclose(grid[:, 4:], (200 + np.arange(12).reshape(3, 4) - lo) / (hi - lo), rtol=1e-6)
    flat = torch.zeros(1, 2, 4, 4)
    assert (viz.feature_grid_array(flat, pad=0) == 0).all()  # constant maps: zeros, not NaN
    with pytest.raises(ValueError, match="out of range"):
        viz.feature_grid_array(acts, channels=[3])
    with pytest.raises(ValueError, match="normalize"):
        viz.feature_grid_array(acts, normalize="layer")
    with pytest.raises(ValueError):
        viz.feature_grid_array(torch.zeros(2, 3, 4, 4))  # a batch of two images


def test_feature_grid_figure_shows_the_grid_array_with_labels(random_vgg):
    acts = random_vgg(torch.rand(1, 3, 32, 32), ["relu2_1"])["relu2_1"]
    fig = viz.feature_grid(acts, n=9, title="relu2_1")
    ax = fig.axes[0]
    shown = np.ma.getdata(ax.images[0].get_array())
    np.testing.assert_array_equal(np.isnan(shown), np.isnan(viz.feature_grid_array(acts, n=9)))
    np.testing.assert_allclose(np.nan_to_num(shown), np.nan_to_num(viz.feature_grid_array(acts, n=9)))
    assert shown.shape == (3 * 16 + 2, 3 * 16 + 2)
    assert [t.get_text() for t in ax.texts] == [str(k) for k in range(9)]
    assert ax.get_title() == "relu2_1"
    fig2 = viz.feature_grid(acts, channels=[5, 7])
    assert [t.get_text() for t in fig2.axes[0].texts] == ["5", "7"]


def test_show_channel_draws_that_channel_next_to_the_image():
    acts = _ramp_acts(c=3, h=4, w=4)
    image = torch.rand(1, 3, 16, 16)
    fig = viz.show_channel(acts, 2, image, layer="relu9_9")
    images = [ax.images[0] for ax in fig.axes if ax.images and ax.get_title()]
    assert len(images) == 2  # input and map (plus a colour-bar axes)
    np.testing.assert_allclose(images[0].get_array(), image[0].permute(1, 2, 0).numpy(), atol=1e-6)
    np.testing.assert_array_equal(images[1].get_array(), acts[0, 2].numpy())
    assert images[1].get_extent() == [-0.5, 15.5, 15.5, -0.5]  # stretched over the input
    assert "relu9_9 ch 2" in fig.axes[1].get_title()
    alone = viz.show_channel(acts[0], 0)
    assert sum(1 for ax in alone.axes if ax.images and ax.get_title()) == 1
    with pytest.raises(ValueError, match="out of range"):
        viz.show_channel(acts, 3)


# ----------------------------------------------------------------------------- channel ranking
def test_channel_means_and_border():
    acts = torch.zeros(1, 2, 6, 6)
    acts[0, 0] = 1.0
    acts[0, 1, 0, :] = 36.0  # only the top border row fires
    assert torch.allclose(viz.channel_means(acts), torch.tensor([1.0, 6.0]))
    assert torch.allclose(viz.channel_means(acts, border=1), torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="border"):
        viz.channel_means(acts, border=3)


def test_top_channels_by_mean_and_by_selectivity():
    means = torch.tensor([1.0, 5.0, 3.0, 5.0, 0.0])
    acts = means.view(1, 5, 1, 1).expand(1, 5, 2, 2)
    assert viz.top_channels(acts, 3) == [1, 3, 2]  # tie between 1 and 3: lower number first
    assert viz.top_channels(acts, 99) == [1, 3, 2, 0, 4]
    other = torch.tensor([0.0, 5.0, 0.0, 1.0, 0.0]).view(1, 5, 1, 1)
    assert viz.top_channels(acts, 2, against=other) == [3, 2]  # channel 1 fires for both: not selective
    third = torch.tensor([0.0, 0.0, 3.5, 0.0, 0.0]).view(1, 5, 1, 1)
    assert viz.top_channels(acts, 2, against=[other, third]) == [3, 0]  # minus the max over others
    with pytest.raises(ValueError, match="channels"):
        viz.top_channels(acts, 2, against=torch.zeros(1, 4, 1, 1))


def test_top_channels_finds_planted_edge_detector(random_vgg):
    """A planted vertical-edge filter in conv1_1 wins the edge probe against a flat image."""
    model = random_vgg.truncated("relu1_1")
    conv = model["conv1_1"]
    saved = conv.weight.detach().clone(), conv.bias.detach().clone()
    try:
        with torch.no_grad():
            conv.weight.mul_(0.01)
            conv.weight[7] = torch.tensor([[-1.0, 0, 1]] * 3).expand(3, 3, 3)  # d/dx of the image
        edge = torch.zeros(1, 3, 32, 32)
        edge[..., 16:] = 1.0
        flat = torch.full((1, 3, 32, 32), 0.5)
        a_edge = model(edge, ["relu1_1"])["relu1_1"]
        a_flat = model(flat, ["relu1_1"])["relu1_1"]
        assert viz.top_channels(a_edge, 1, against=a_flat, border=1) == [7]
    finally:
        conv.weight.data, conv.bias.data = saved


def test_channel_summary_text():
    acts = torch.zeros(1, 2, 2, 2)
    acts[0, 1] = torch.tensor([[0.0, 2.0], [4.0, -2.0]])
    text = viz.channel_summary(acts, 1, "relu1_1")
    assert text == "relu1_1: channel 1 of 2, map 2×2, mean 1, max 4, 50% of positions > 0"


def test_channel_rows_layout():
    acts = _ramp_acts(c=6)
    images = {"a": torch.rand(1, 3, 8, 8), "b": torch.rand(1, 3, 8, 8)}
    fig = viz.channel_rows(acts, {"a": [0, 1, 2], "b": [5]}, images)
    assert len(fig.axes) == 2 * 4
    assert [ax.get_title() for ax in fig.axes[:4]] == ["", "ch 0, max 11", "ch 1, max 111", "ch 2, max 211"]
    assert fig.axes[0].get_ylabel() == "a" and fig.axes[4].get_ylabel() == "b"
    np.testing.assert_array_equal(fig.axes[5].images[0].get_array(), acts[0, 5].numpy())
    per_row = viz.channel_rows({"x": acts, "y": acts * 2}, [3])
    assert len(per_row.axes) == 2 and per_row.axes[1].get_title() == "ch 3, max 622"
    with pytest.raises(ValueError, match="mapping"):
        viz.channel_rows(acts, [1])


def test_figure_to_png_renders_and_closes():
    fig = viz.feature_grid(_ramp_acts(), n=4)
    number = fig.number
    png = viz.figure_to_png(fig)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
    assert number not in plt.get_fignums()


def test_channel_means_scatter_plots_means_against_reference():
    ref = torch.tensor([1.0, 2.0, 0.0, 4.0]).view(1, 4, 1, 1).expand(1, 4, 3, 3)
    fig = viz.channel_means_scatter(ref, {"x10": ref * 10, "same": ref}, layer="relu3_1")
    assert len(fig.axes) == 2
    pts = fig.axes[0].collections[0].get_offsets()
    np.testing.assert_allclose(np.asarray(pts), [[1, 10], [2, 20], [4, 40]])  # channel 2 (mean 0) left out
    assert fig.axes[0].get_title() == "x10\n(3 of 4 channels)"
    assert fig.axes[0].get_xscale() == "log" and fig.axes[1].get_yscale() == "log"
    diagonal = fig.axes[1].lines[0]
    assert list(diagonal.get_xdata()) == list(diagonal.get_ydata())
    with pytest.raises(ValueError, match="channels"):
        viz.channel_means_scatter(ref, {"bad": torch.ones(1, 3, 2, 2)})
    with pytest.raises(ValueError, match="empty"):
        viz.channel_means_scatter(ref, {})
