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


# ----------------------------------------------------------------------------- Wasserstein-2 style loss
def _spd(c: int, rng, rank: int | None = None) -> torch.Tensor:
    a = torch.randn(c, rank or c + 2, generator=rng, dtype=torch.float64)
    return a @ a.T / a.shape[1]


def test_sqrtm_psd_matches_scipy(rng):
    import numpy as np
    import scipy.linalg

    from nsthelpers.losses import sqrtm_psd

    batch = torch.stack([_spd(7, rng), _spd(7, rng, rank=3)])      # full rank, and singular (rank 3)
    roots = sqrtm_psd(batch)
    for a, r in zip(batch, roots):
        expected = np.real(scipy.linalg.sqrtm(a.numpy()))
        np.testing.assert_allclose(r.numpy(), expected, atol=1e-6)
        torch.testing.assert_close(r @ r, a, atol=1e-10, rtol=1e-8)
    with pytest.raises(ValueError, match="square"):
        sqrtm_psd(torch.ones(2, 3))


def test_sqrtm_psd_gradient_finite_at_repeated_eigenvalues(rng):
    """Repeated eigenvalues make autograd through eigh divide by λ_i − λ_j = 0; the Daleckii–Krein
    backward does not, and matches finite differences (gradcheck, float64)."""
    from nsthelpers.losses import sqrtm_psd

    q, _ = torch.linalg.qr(torch.randn(5, 5, generator=rng, dtype=torch.float64))
    a = (q * torch.tensor([1.0, 1.0, 1.0, 4.0, 9.0], dtype=torch.float64)) @ q.T   # eigenvalue 1 three times
    a.requires_grad_(True)
    weights = torch.randn(5, 5, generator=rng, dtype=torch.float64)
    (grad,) = torch.autograd.grad((sqrtm_psd(a) * weights).sum(), a)
    assert torch.isfinite(grad).all()
    sym = lambda m: (m + m.T) / 2     # perturb within symmetric matrices, where the function is defined
    assert torch.autograd.gradcheck(lambda m: sqrtm_psd(sym(m)), (a,), eps=1e-6, atol=1e-6)


def test_gaussian_w2_against_closed_forms_and_scipy(rng):
    import numpy as np
    import scipy.linalg

    from nsthelpers.losses import gaussian_w2, sqrtm_psd

    def target(mean, cov):
        return {"mean": mean, "cov": cov, "cov_sqrt": sqrtm_psd(cov)}

    # 1-D: (μ1 − μ2)² + (σ1 − σ2)²
    one = gaussian_w2(torch.tensor([[1.0]], dtype=torch.float64), torch.tensor([[[4.0]]], dtype=torch.float64),
                      target(torch.tensor([[-2.0]], dtype=torch.float64), torch.tensor([[[9.0]]], dtype=torch.float64)))
    assert one.item() == pytest.approx(3.0**2 + (2.0 - 3.0) ** 2, rel=1e-12)
    # commuting (diagonal) covariances: Σ (√a_i − √b_i)²
    a, b = torch.tensor([1.0, 4.0, 0.25], dtype=torch.float64), torch.tensor([9.0, 1.0, 0.25], dtype=torch.float64)
    zero = torch.zeros(1, 3, dtype=torch.float64)
    diag = gaussian_w2(zero, torch.diag(a)[None], target(zero, torch.diag(b)[None]))
    assert diag.item() == pytest.approx(((a.sqrt() - b.sqrt()) ** 2).sum().item(), rel=1e-12)
    # general: against scipy's sqrtm, written out in numpy
    m1, m2 = (torch.randn(1, 6, generator=rng, dtype=torch.float64) for _ in range(2))
    s1, s2 = _spd(6, rng)[None], _spd(6, rng)[None]
    r2 = np.real(scipy.linalg.sqrtm(s2[0].numpy()))
    expected = (np.sum((m1 - m2).numpy() ** 2) + np.trace(s1[0].numpy()) + np.trace(s2[0].numpy())
                - 2 * np.trace(np.real(scipy.linalg.sqrtm(r2 @ s1[0].numpy() @ r2))))
    assert gaussian_w2(m1, s1, target(m2, s2)).item() == pytest.approx(expected, rel=1e-10)
    # a distance: symmetric, zero on itself
    assert gaussian_w2(m2, s2, target(m1, s1)).item() == pytest.approx(expected, rel=1e-8)
    assert abs(gaussian_w2(m1, s1, target(m1, s1)).item()) < 1e-10


def test_w2_style_loss_value_and_gradient(rng):
    """The layer loss is W2²/C of the ridge-regularised Gaussians (numpy), zero at the style's own features,
    and its gradient with respect to the features matches finite differences in float64."""
    import numpy as np
    import scipy.linalg

    from nsthelpers.losses import mean_second_moment, w2_style_loss, w2_target

    style = torch.rand(1, 4, 3, 5, generator=rng, dtype=torch.float64)       # 15 positions, 4 channels
    feats = torch.rand(1, 4, 3, 5, generator=rng, dtype=torch.float64, requires_grad=True)
    target = w2_target(*mean_second_moment(style), eps=1e-3)

    def gaussian(f):
        flat = f.detach()[0].reshape(4, -1).numpy()
        cov = np.cov(flat, bias=True) + float(target["ridge"]) * np.eye(4)
        return flat.mean(1), cov
    (m1, s1), (m2, s2) = gaussian(feats), gaussian(style)
    r2 = np.real(scipy.linalg.sqrtm(s2))
    w2 = np.sum((m1 - m2) ** 2) + np.trace(s1 + s2 - 2 * np.real(scipy.linalg.sqrtm(r2 @ s1 @ r2)))
    assert w2_style_loss(feats, target).item() == pytest.approx(w2 / 4, rel=1e-8)
    assert abs(w2_style_loss(style, target).item()) < 1e-10
    assert torch.autograd.gradcheck(lambda f: w2_style_loss(f, target), (feats,), eps=1e-6, atol=1e-6)


def test_w2_gradient_finite_when_positions_are_fewer_than_channels(rng):
    """A deep layer at a small image has fewer positions than channels: the covariance is singular, and
    without the ridge tr(M^½)'s gradient (½ M^-½) would be infinite."""
    from nsthelpers.losses import mean_second_moment, w2_style_loss, w2_target

    style = torch.rand(1, 32, 2, 2, generator=rng)                              # 4 positions, 32 channels
    feats = torch.rand(1, 32, 2, 2, generator=rng, requires_grad=True)
    loss = w2_style_loss(feats, w2_target(*mean_second_moment(style)))
    (grad,) = torch.autograd.grad(loss, feats)
    assert torch.isfinite(loss) and torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_objective_w2_blends_means_and_second_moments(random_vgg, rng):
    from nsthelpers.losses import mean_second_moment, w2_style_loss

    a, b = (torch.rand(1, 3, 32, 32, generator=rng) for _ in range(2))
    layers = ["relu1_1", "relu2_1"]
    obj = Objective(random_vgg, a, [a, b], style_layers=layers, content_layers=[], style_blend=[0.25, 0.75],
                    style_loss="w2", tv_weight=0.0)
    fa, fb = random_vgg(a, layers), random_vgg(b, layers)
    for n in layers:
        (ma, sa), (mb, sb) = mean_second_moment(fa[n]), mean_second_moment(fb[n])
        mean, moment = 0.25 * ma + 0.75 * mb, 0.25 * sa + 0.75 * sb
        t = obj.style_targets[n]
        cov = moment - mean[:, :, None] * mean[:, None, :]
        torch.testing.assert_close(t["mean"], mean)
        torch.testing.assert_close(t["cov"] - t["ridge"] * torch.eye(cov.shape[-1]), cov, rtol=1e-4, atol=1e-5)
        # the mixture's covariance holds the spread between the two means: not the blend of covariances
        linear = 0.25 * (sa - ma[:, :, None] * ma[:, None, :]) + 0.75 * (sb - mb[:, :, None] * mb[:, None, :])
        assert (cov - linear).abs().max() > 1e-3 * cov.abs().max()
    x = torch.rand(1, 3, 32, 32, generator=rng)
    fx = random_vgg(x, layers)
    by_hand = sum(obj.layer_scale[n] * w2_style_loss(fx[n], obj.style_targets[n]) for n in layers)   # balanced layers
    torch.testing.assert_close(obj(x)["style"], by_hand)
    one = Objective(random_vgg, a, [a], style_layers=layers, content_layers=[], style_loss="w2", tv_weight=0.0)
    assert one(a)["style"].item() < 1e-4 * one(x)["style"].item()      # zero (up to fp32) at the style itself
