"""nsthelpers.widgets.FeatureMapExplorer, driven without a browser (notebook 02)."""
import matplotlib

matplotlib.use("Agg")

import ipywidgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from nsthelpers import viz, widgets  # noqa: E402

LAYERS = ["relu1_1", "relu3_1"]


@pytest.fixture
def explorer(random_vgg):
    image = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    return widgets.feature_map_explorer(random_vgg, image, LAYERS, n=4)


def test_explorer_is_a_widget_with_initial_state(explorer):
    assert isinstance(explorer, ipywidgets.Widget)
    assert list(explorer.layer.options) == LAYERS
    assert (explorer.channel.min, explorer.channel.max) == (0, 63)
    assert explorer.state == {"layer": "relu1_1", "channel": 0, "mode": "channel", "channels": [0]}
    assert explorer.updates == 1
    assert explorer.view.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert "relu1_1: channel 0 of 64, map 32×32" in explorer.info.value
    assert plt.get_fignums() == []  # rendered figures are closed, not left for the notebook


def test_channel_slider_redraws_once(explorer):
    before = explorer.view.value
    explorer.channel.value = 5
    assert explorer.updates == 2
    assert explorer.state["channel"] == 5
    assert explorer.view.value != before
    assert "channel 5 of 64" in explorer.info.value


def test_layer_slider_resizes_channel_range_and_clamps(explorer):
    explorer.layer.value = "relu3_1"
    assert explorer.channel.max == 255 and explorer.updates == 2
    assert "relu3_1: channel 0 of 256, map 8×8" in explorer.info.value
    explorer.channel.value = 200
    explorer.layer.value = "relu1_1"  # 200 is not a relu1_1 channel: clamped, drawn once
    assert explorer.channel.value == 63 and explorer.channel.max == 63
    assert explorer.state == {"layer": "relu1_1", "channel": 63, "mode": "channel", "channels": [63]}
    assert explorer.updates == 4


def test_grid_mode_shows_n_channels(explorer):
    explorer.channel.value = 10
    single = explorer.view.value
    explorer.mode.value = "grid"
    assert explorer.state["channels"] == [10, 11, 12, 13]
    assert explorer.view.value != single
    explorer.channel.value = 62  # near the end: still four maps
    assert explorer.state["channels"] == [60, 61, 62, 63]


def test_info_names_the_strongest_channels(explorer):
    acts = explorer.activations["relu1_1"]
    top = viz.top_channels(acts, 5)
    assert f"strongest channels of relu1_1 (mean activation): {', '.join(map(str, top))}" in explorer.info.value


def test_draw_false_skips_rendering(random_vgg):
    acts = random_vgg(torch.rand(1, 3, 16, 16), LAYERS)
    e = widgets.FeatureMapExplorer(acts, draw=False)
    e.layer.value = "relu3_1"
    assert e.view.value == b"" and e.state["layer"] == "relu3_1" and e.updates == 2
    with pytest.raises(ValueError, match="empty"):
        widgets.FeatureMapExplorer({})
