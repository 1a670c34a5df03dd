"""nsthelpers.viz.diagrams: the concept figures show the network's real shapes and the chosen loss layers."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

import nsthelpers as nst
from nsthelpers.viz import diagrams


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_block_summary_matches_the_layer_table():
    blocks = diagrams.block_summary((256, 320))
    assert [b["convs"] for b in blocks] == [2, 2, 4, 4, 4]
    shapes = {r.name: r.out_shape for r in nst.layer_table((256, 320))}
    for b in blocks:
        last_conv = [n for n in b["names"] if n.startswith("conv")][-1]
        assert b["out_shape"] == tuple(shapes[last_conv])
    assert blocks[4]["out_shape"] == (512, 16, 20) and blocks[0]["names"][-1] == "pool1"


def test_pipeline_figure_labels_every_block_with_its_shape_and_marks_the_loss_layers():
    fig = diagrams.vgg19_pipeline((256, 320), content_layers=["relu3_2"], style_layers=["relu1_1", "relu2_1"])
    text = "\n".join(_texts(fig))
    for b in diagrams.block_summary((256, 320)):
        c, h, w = b["out_shape"]
        assert f"{c}×{h}×{w}" in text
    assert "relu3_2" in text and "relu1_1, relu2_1" in text and "3×256×320" in text
    markers = [line for ax in fig.axes for line in ax.lines if line.get_marker() == "o"]
    assert len(markers) == 3                                 # one dot per loss layer
    plt.close(fig)
    plain = diagrams.vgg19_pipeline(losses=False)
    assert not any("style term" in t for t in _texts(plain))
    plt.close(plain)


def test_unknown_layers_are_refused():
    with pytest.raises(ValueError, match="unknown VGG19 layer 'conv_4'"):
        diagrams.vgg19_pipeline(style_layers=["conv_4"])
