"""Loss values against independent formulas; gradients w.r.t. the image against finite differences."""
import pytest
import torch

from nsthelpers import content_loss, gram_matrix, mean_cov, mean_cov_loss, style_loss, tv_loss
from nsthelpers import Objective


def test_content_loss_is_mse(rng):
    a, b = torch.randn(1, 4, 3, 3, generator=rng), torch.randn(1, 4, 3, 3, generator=rng)
    assert content_loss(a, b).item() == pytest.approx(((a - b) ** 2).sum().item() / 36, rel=1e-6)


def test_style_loss_weighted_sum_of_gram_mse(rng):
    f = {n: torch.randn(1, 3, 4, 4, generator=rng) for n in ("a", "b")}
    t = {n: torch.randn(1, 3, 3, generator=rng) for n in ("a", "b")}
    w = {"a": 2.0, "b": 0.5}
    expected = sum(w[n] * ((gram_matrix(f[n]) - t[n]) ** 2).mean() for n in f)
    assert style_loss(f, t, w).item() == pytest.approx(expected.item(), rel=1e-6)


def test_tv_loss_formula():
    img = torch.tensor([[[[0.0, 1.0], [3.0, 7.0]]]])
    # dx: (1-0), (7-3) → mean(1, 16) = 8.5 ; dy: (3-0), (7-1) → mean(9, 36) = 22.5
    assert tv_loss(img).item() == pytest.approx(31.0)


def test_mean_cov_matches_numpy(rng):
    f = torch.randn(1, 3, 4, 5, generator=rng, dtype=torch.float64)
    mean, cov = mean_cov(f)
    flat = f[0].reshape(3, -1).numpy()
    import numpy as np

    np.testing.assert_allclose(mean[0].numpy(), flat.mean(1), rtol=1e-6)
    np.testing.assert_allclose(cov[0].numpy(), np.cov(flat, bias=True), rtol=1e-5)
    assert mean_cov_loss(f, mean, cov).item() == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("term", ["content", "style", "tv"])
def test_gradients_match_finite_differences(term, random_vgg, rng):
    """Directional derivatives ⟨∇L, v⟩ from autograd vs central differences, in float64."""
    model = random_vgg.double() if next(random_vgg.parameters()).dtype != torch.float64 else random_vgg
    content = torch.rand(1, 3, 16, 16, generator=rng, dtype=torch.float64)
    style = torch.rand(1, 3, 16, 16, generator=rng, dtype=torch.float64)
    weights = {"content": (1.0, 0.0, 0.0), "style": (0.0, 1.0, 0.0), "tv": (0.0, 0.0, 1.0)}[term]
    obj = Objective(model, content, [style], content_layers=["relu3_1"], style_layers=["relu1_1", "relu2_1", "conv3_1"],
                    content_weight=weights[0], style_weight=weights[1], tv_weight=weights[2])
    x = torch.rand(1, 3, 16, 16, generator=rng, dtype=torch.float64, requires_grad=True)
    loss = obj(x)["total"]
    assert loss.dtype == torch.float64 or term != "tv"
    (grad,) = torch.autograd.grad(loss, x)
    assert grad.abs().sum() > 0
    for _ in range(3):
        v = torch.randn(x.shape, generator=rng, dtype=torch.float64)
        v /= v.norm()
        eps = 1e-5
        with torch.no_grad():
            fd = (obj(x + eps * v)["total"] - obj(x - eps * v)["total"]) / (2 * eps)
        analytic = (grad * v).sum()
        assert analytic.item() == pytest.approx(fd.item(), rel=1e-4, abs=1e-9 * loss.item())
    random_vgg.float()


def test_tv_loss_kinds_against_a_hand_computation():
    """L2 (the default) and L1 total variation of a 2×3 image, worked out by hand; per item for a batch."""
    img = torch.tensor([[[[0.0, 0.5, 0.25], [1.0, 0.5, 0.0]]]])
    # horizontal differences: 0.5, -0.25 | -0.5, -0.5 ; vertical differences: 1.0, 0.0, -0.25
    l2 = (0.25 + 0.0625 + 0.25 + 0.25) / 4 + (1.0 + 0.0 + 0.0625) / 3
    l1 = (0.5 + 0.25 + 0.5 + 0.5) / 4 + (1.0 + 0.0 + 0.25) / 3
    assert tv_loss(img).item() == pytest.approx(l2)
    assert tv_loss(img, kind="l2").item() == pytest.approx(l2)
    assert tv_loss(img, kind="l1").item() == pytest.approx(l1)
    flat = torch.full((1, 1, 2, 3), 0.3)
    batch = torch.cat([img, flat])
    assert tv_loss(batch, per_item=True, kind="l1").tolist() == pytest.approx([l1, 0.0])
    assert tv_loss(batch, per_item=True, kind="l2").tolist() == pytest.approx([l2, 0.0])


def test_tv_loss_l1_keeps_a_sharp_edge_cheaper_than_l2_does():
    """A step of height 1 costs L1 the same whether sharp or spread over k pixels; L2 prefers spreading."""
    n = 12
    sharp = torch.zeros(1, 1, 2, n)  # two equal rows: no vertical differences
    sharp[..., n // 2:] = 1.0
    ramp = torch.clamp((torch.arange(n, dtype=torch.float32) - n // 2 + 4) / 4, 0, 1).expand(1, 1, 2, n)
    steps = ramp[0, 0, 0].diff()
    assert steps.tolist().count(0.25) == 4 and steps.sum().item() == 1.0  # the same step in 4 quarters
    assert tv_loss(sharp, kind="l1").item() == pytest.approx(tv_loss(ramp, kind="l1").item())
    assert tv_loss(ramp, kind="l2").item() == pytest.approx(tv_loss(sharp, kind="l2").item() / 4)


def test_tv_loss_kind_is_checked():
    with pytest.raises(ValueError, match="kind='l3'; choose one of"):
        tv_loss(torch.zeros(1, 3, 4, 4), kind="l3")
