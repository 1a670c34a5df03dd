"""nsthelpers.masks: region masks for spatial style control."""
from __future__ import annotations

import pytest
import torch

from nsthelpers import Objective
from nsthelpers.masks import half_masks, radial_mask, split_masks


def test_hard_halves_cover_each_side_and_sum_to_one():
    left, right = half_masks(6, 10)
    assert left.shape == right.shape == (6, 10) and left.dtype == torch.float32
    assert torch.equal(left[:, :5], torch.ones(6, 5)) and torch.equal(left[:, 5:], torch.zeros(6, 5))
    assert torch.equal(left + right, torch.ones(6, 10))
    top, bottom = half_masks(8, 4, "top_bottom")
    assert torch.equal(top[:4], torch.ones(4, 4)) and torch.equal(top[4:], torch.zeros(4, 4))
    assert torch.equal(top + bottom, torch.ones(8, 4))


def test_feathered_seam_is_a_linear_ramp():
    left, right = half_masks(3, 20, feather=0.2)       # ramp 4 px wide around x = 10
    row = left[0]
    # pixel centres x = (i + 0.5) / 20; value = (0.5 - x) / 0.2 + 0.5, clipped to [0, 1]
    expected = torch.tensor([min(1.0, max(0.0, (0.5 - (i + 0.5) / 20) / 0.2 + 0.5)) for i in range(20)])
    assert torch.allclose(row, expected, atol=1e-6)
    assert row[0] == 1 and row[-1] == 0 and bool((row[1:] <= row[:-1]).all())
    assert 0 < row[9] < 1 and 0 < row[10] < 1
    assert torch.allclose(left + right, torch.ones(3, 20))


def test_split_position_sets_the_share():
    sky, ground = split_masks(40, 30, "top_bottom", position=0.75)
    assert sky.mean() == pytest.approx(0.75) and ground.mean() == pytest.approx(0.25)
    assert torch.equal(sky[:30], torch.ones(30, 30)) and torch.equal(sky[30:], torch.zeros(10, 30))


def test_radial_mask():
    m = radial_mask(21, 21, radius=0.25, feather=0.0)
    assert m[10, 10] == 1 and m[0, 0] == 0 and m[10, 0] == 0
    # hard mask: exactly the pixel centres within 0.25 * 21 of the centre (10.5, 10.5)
    ys, xs = torch.meshgrid(torch.arange(21) + 0.5, torch.arange(21) + 0.5, indexing="ij")
    inside = ((ys - 10.5) ** 2 + (xs - 10.5) ** 2).sqrt() / 21 <= 0.25
    assert torch.equal(m, inside.float())
    soft = radial_mask(21, 21, radius=0.25, feather=0.2)
    assert 0 <= float(soft.min()) and float(soft.max()) <= 1 and soft[10, 10] == 1
    assert ((soft > 0) & (soft < 1)).any()


def test_bad_arguments():
    with pytest.raises(ValueError, match="direction"):
        half_masks(4, 4, "diagonal")
    with pytest.raises(ValueError, match="position"):
        split_masks(4, 4, position=1.5)
    with pytest.raises(ValueError, match="positive integer"):
        half_masks(0, 4)
    with pytest.raises(ValueError, match="feather"):
        half_masks(4, 4, feather=-0.1)


def test_masks_plug_into_the_objective(random_vgg):
    g = torch.Generator().manual_seed(0)
    content, a, b = (torch.rand(1, 3, 24, 32, generator=g) for _ in range(3))
    masks = half_masks(24, 32, feather=0.1)
    obj = Objective(random_vgg, content, [a, b], masks=masks, content_layers=["relu2_1"],
                    style_layers=["relu1_1", "relu2_1"])
    with torch.no_grad():
        assert torch.isfinite(obj(content)["style"])
