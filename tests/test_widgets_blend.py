"""widgets.BlendExplorer (notebook 07), driven without a browser."""
from __future__ import annotations

import pytest
import torch

from nsthelpers.widgets import BlendExplorer


def _render_counting(calls):
    def render(w):
        calls.append(w)
        return torch.full((1, 3, 8, 8), w)
    return render


def test_slider_renders_once_per_weight_and_uses_the_cache():
    calls = []
    ex = BlendExplorer(_render_counting(calls), weights=[0, 0.5, 1], cache={0.0: torch.zeros(1, 3, 8, 8)})
    assert ex.state == {"weight": 0.0, "from_cache": True} and ex.renders == 0 and calls == []
    assert ex.view.value[:8] == b"\x89PNG\r\n\x1a\n"
    ex.weight.value = 0.5
    assert ex.state == {"weight": 0.5, "from_cache": False} and calls == [0.5] and ex.renders == 1
    assert torch.equal(ex.cache[0.5], torch.full((1, 3, 8, 8), 0.5))
    assert "0.50" in ex.info.value and "computed" in ex.info.value
    ex.weight.value = 1.0
    ex.weight.value = 0.5                                  # back: from the cache, no new render
    assert calls == [0.5, 1.0] and ex.state == {"weight": 0.5, "from_cache": True}
    assert ex.updates == 4
    assert torch.equal(ex.image_for(1.0), torch.ones(1, 3, 8, 8))


def test_bad_weights_are_rejected():
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        BlendExplorer(lambda w: torch.zeros(1, 3, 4, 4), weights=[0, 2])
    with pytest.raises(ValueError, match="not one of"):
        BlendExplorer(lambda w: torch.zeros(1, 3, 4, 4), weights=[0, 1], value=0.5)
