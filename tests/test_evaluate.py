"""nsthelpers.evaluate: SSIM, content distance and per-layer Gram distances, against independent computations."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from nsthelpers import LAYER_NAMES, Objective, evaluate
from nsthelpers.evaluate import Scores, content_distance, score, ssim, style_distance


def _img(seed: int, h: int = 32, w: int = 28) -> torch.Tensor:
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(seed))


def _smooth(seed: int, h: int = 40, w: int = 36) -> torch.Tensor:
    """A smooth image (so SSIM is far from 0 between it and a mildly noisy copy)."""
    y = torch.linspace(0, 1, h).view(h, 1)
    x = torch.linspace(0, 1, w).view(1, w)
    g = torch.Generator().manual_seed(seed)
    phase = torch.rand(3, generator=g) * 6
    chans = [0.5 + 0.4 * torch.sin(4 * x + 3 * y + p) for p in phase]
    return torch.stack(chans).unsqueeze(0).clamp(0, 1)


def _ssim_by_hand(a: np.ndarray, b: np.ndarray, win: int = 7, data_range: float = 1.0) -> float:
    """Wang et al.'s SSIM written out: every full win×win window, sample (co)variances, mean over windows and channels."""
    from numpy.lib.stride_tricks import sliding_window_view

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    per_channel = []
    for ch in range(a.shape[2]):
        wa = sliding_window_view(a[..., ch], (win, win)).reshape(-1, win * win)
        wb = sliding_window_view(b[..., ch], (win, win)).reshape(-1, win * win)
        mu_a, mu_b = wa.mean(1), wb.mean(1)
        var_a, var_b = wa.var(1, ddof=1), wb.var(1, ddof=1)
        cov = ((wa - mu_a[:, None]) * (wb - mu_b[:, None])).sum(1) / (win * win - 1)
        s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
        per_channel.append(s.mean())
    return float(np.mean(per_channel))


def _np(t: torch.Tensor) -> np.ndarray:
    return t[0].permute(1, 2, 0).double().numpy()


def test_ssim_equals_the_formula_written_out():
    a, b = _img(0), _img(1)
    noisy = (_smooth(2) + 0.1 * torch.randn(1, 3, 40, 36, generator=torch.Generator().manual_seed(3))).clamp(0, 1)
    assert ssim(a, b) == pytest.approx(_ssim_by_hand(_np(a), _np(b)), abs=1e-10)
    assert ssim(_smooth(2), noisy) == pytest.approx(_ssim_by_hand(_np(_smooth(2)), _np(noisy)), abs=1e-10)
    assert ssim(a, b, win_size=5) == pytest.approx(_ssim_by_hand(_np(a), _np(b), win=5), abs=1e-10)


def test_ssim_properties():
    a, b = _smooth(4), _smooth(5)
    assert ssim(a, a) == pytest.approx(1.0, abs=1e-12)
    assert ssim(a, b) == pytest.approx(ssim(b, a), abs=1e-12)
    g = torch.Generator().manual_seed(6)
    small = (a + 0.03 * torch.randn(a.shape, generator=g)).clamp(0, 1)
    large = (a + 0.3 * torch.randn(a.shape, generator=g)).clamp(0, 1)
    assert 1.0 > ssim(a, small) > ssim(a, large) > 0.0
    # tensors with or without the batch axis, and (H, W, 3) arrays, give the same number
    assert ssim(a[0], b[0]) == ssim(a, b) == ssim(_np(a), _np(b))


def test_ssim_rejects_mismatched_or_tiny_images():
    with pytest.raises(ValueError, match="same size"):
        ssim(_img(0, 32, 32), _img(1, 32, 30))
    with pytest.raises(ValueError, match="window"):
        ssim(_img(0, 5, 5), _img(1, 5, 5))


def _features_by_hand(model, image: torch.Tensor, layer: str) -> torch.Tensor:
    """Walk model.layers by torchvision index (not model.forward) up to ``layer``."""
    x = model.preprocess(image)
    for idx in range(LAYER_NAMES.index(layer) + 1):
        x = model.layers[idx](x)
    return x.double()


def test_content_distance_is_the_mse_of_activations(random_vgg):
    a, b = _img(7), _img(8)
    with torch.no_grad():
        expected = ((_features_by_hand(random_vgg, a, "relu2_2") - _features_by_hand(random_vgg, b, "relu2_2")) ** 2).mean()
    assert content_distance(random_vgg, a, b, "relu2_2") == pytest.approx(float(expected), rel=1e-5)
    assert content_distance(random_vgg, a, b, "relu2_2") == pytest.approx(content_distance(random_vgg, b, a, "relu2_2"), rel=1e-6)
    assert content_distance(random_vgg, a, a, "relu2_2") == 0.0
    with pytest.raises(ValueError, match="same size"):
        content_distance(random_vgg, a, _img(9, 24, 24))


def _gram_by_hand(f: torch.Tensor) -> np.ndarray:
    f = f[0].numpy().astype(np.float64)
    c, h, w = f.shape
    flat = f.reshape(c, h * w)
    return np.einsum("ik,jk->ij", flat, flat) / (c * h * w)


def test_style_distance_is_the_per_layer_gram_mse(random_vgg):
    image, style = _img(10), _img(11, 40, 36)        # different sizes are allowed
    layers = ["relu1_1", "relu2_1", "relu3_1"]
    got = style_distance(random_vgg, image, style, layers)
    assert list(got) == layers
    with torch.no_grad():
        for n in layers:
            gi = _gram_by_hand(_features_by_hand(random_vgg, image, n).float())
            gs = _gram_by_hand(_features_by_hand(random_vgg, style, n).float())
            assert got[n] == pytest.approx(float(((gi - gs) ** 2).mean()), rel=1e-4), n
    assert all(v == 0.0 for v in style_distance(random_vgg, style, style, layers).values())
    with pytest.raises(ValueError, match="empty"):
        style_distance(random_vgg, image, style, [])


def test_style_distances_sum_to_the_objectives_style_loss(random_vgg):
    content, style, image = _img(12), _img(13), _img(14)
    layers = ["relu1_1", "relu2_1", "relu3_1"]
    # the raw Gram losses (without balance_layers' per-layer scale) are what style_distance reports
    obj = Objective(random_vgg, content, [style], content_layers=["relu2_2"], style_layers=layers,
                    balance_layers=False)
    with torch.no_grad():
        from_objective = float(obj(image)["style"])
        content_term = float(obj(image)["content"])
    assert sum(style_distance(random_vgg, image, style, layers).values()) == pytest.approx(from_objective, rel=1e-5)
    assert content_distance(random_vgg, image, content, "relu2_2") == pytest.approx(content_term, rel=1e-5)


def test_score_bundles_the_three(random_vgg):
    image, content, style = _img(15), _img(16), _img(17)
    layers = ["relu1_1", "relu2_1"]
    s = score(random_vgg, image, content, style, content_layer="relu2_1", style_layers=layers)
    assert isinstance(s, Scores) and evaluate.Scores is Scores
    assert s.ssim == ssim(image, content)
    assert s.content == content_distance(random_vgg, image, content, "relu2_1")
    assert s.style == style_distance(random_vgg, image, style, layers)
    assert s.style_total == pytest.approx(sum(s.style.values()))
