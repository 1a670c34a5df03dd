"""The Gram entry explorer (notebook 03), driven without a browser."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from nsthelpers import gram_matrix  # noqa: E402
from nsthelpers.widgets import GramEntryExplorer, gram_entry_explorer  # noqa: E402


@pytest.fixture
def acts(random_vgg):
    image = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(3))
    return random_vgg(image, ["relu1_1", "relu2_1"])


def test_explorer_shows_the_gram_entry_of_the_chosen_layer_and_channels(acts):
    ex = gram_entry_explorer(acts, draw=False)
    assert isinstance(ex, GramEntryExplorer)
    assert ex.state["layer"] == "relu1_1" and (ex.state["i"], ex.state["j"]) == (0, 1)
    assert ex.i.max == 63
    ex.i.value, ex.j.value = 5, 40
    g1 = gram_matrix(acts["relu1_1"])[0]
    assert (ex.state["i"], ex.state["j"]) == (5, 40)
    assert ex.state["value"] == pytest.approx(float(g1[5, 40]), rel=1e-5)
    assert "G[5, 40]" in ex.value_label.value

    ex.layer.value = "relu2_1"
    assert ex.i.max == ex.j.max == 127
    ex.j.value = 120
    g2 = gram_matrix(acts["relu2_1"])[0]
    assert ex.state == {"layer": "relu2_1", "i": 5, "j": 120, "value": pytest.approx(float(g2[5, 120]), rel=1e-5)}

    # back to a layer with fewer channels: j is clamped into range, one redraw per change
    before = ex.updates
    ex.layer.value = "relu1_1"
    assert ex.updates == before + 1
    assert ex.state["j"] == 63 and ex.j.value == 63
    assert ex.state["value"] == pytest.approx(float(g1[5, 63]), rel=1e-5)


def test_explorer_draws_and_normalisation_is_passed_on(acts):
    ex = gram_entry_explorer(acts, normalize="none", draw=True)
    g = gram_matrix(acts["relu1_1"], "none")[0]
    assert ex.state["value"] == pytest.approx(float(g[0, 1]), rel=1e-5)
    ex.j.value = 2
    assert ex.updates == 2
    assert "normalize='none'" in ex.value_label.value


def test_explorer_rejects_empty():
    with pytest.raises(ValueError, match="empty"):
        gram_entry_explorer({})


def _descendants(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _descendants(child)


def test_explorer_renders_into_an_image_not_an_output_widget(acts):
    # nbclient stalls until the cell timeout on large outputs captured by an ipywidgets.Output
    # (tests/test_widgets_under_nbclient.py runs the notebook cell itself with a real painting)
    import ipywidgets

    ex = gram_entry_explorer(acts, draw=True)
    first = ex.view.value
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    ex.i.value = 7
    assert ex.view.value != first and ex.view.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert not any(isinstance(w, ipywidgets.Output) for w in _descendants(ex.ui))
