"""Gram matrices against an independent NumPy computation, for every normalisation."""
import numpy as np
import pytest
import torch

from nsthelpers import GRAM_NORMALIZATIONS, gram_matrix


def numpy_gram(f: np.ndarray, normalize: str) -> np.ndarray:
    """Independent reference: explicit sums over positions, one image (C, H, W)."""
    c, h, w = f.shape
    g = np.zeros((c, c))
    for i in range(c):
        for j in range(c):
            g[i, j] = float(np.sum(f[i] * f[j]))
    return g / {"none": 1, "hw": h * w, "chw": c * h * w, "gatys": 2 * c * h * w}[normalize]


@pytest.mark.parametrize("normalize", GRAM_NORMALIZATIONS)
def test_gram_matches_numpy_unbatched_and_batched(normalize, rng):
    feats = torch.randn(3, 5, 4, 6, generator=rng, dtype=torch.float64)
    batched = gram_matrix(feats, normalize)
    assert batched.shape == (3, 5, 5)
    for b in range(3):
        ref = numpy_gram(feats[b].numpy(), normalize)
        np.testing.assert_allclose(batched[b].numpy(), ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(gram_matrix(feats[b], normalize).numpy(), ref, rtol=1e-12, atol=1e-12)


def test_gatys_normalisation_gives_gatys_layer_loss(rng):
    """With 'gatys' scaling, the squared distance of Grams is E_l = 1/(4N²M²) Σ(G−A)² (Gatys eq. 4)."""
    a = torch.randn(1, 4, 3, 5, generator=rng, dtype=torch.float64)
    b = torch.randn(1, 4, 3, 5, generator=rng, dtype=torch.float64)
    n, m = 4, 15
    e_l = ((gram_matrix(a, "none") - gram_matrix(b, "none")) ** 2).sum() / (4 * n**2 * m**2)
    assert torch.allclose(((gram_matrix(a, "gatys") - gram_matrix(b, "gatys")) ** 2).sum(), e_l)


def test_gram_is_symmetric_psd_and_position_invariant(rng):
    f = torch.randn(1, 6, 5, 5, generator=rng, dtype=torch.float64)
    g = gram_matrix(f, "none")[0]
    assert torch.allclose(g, g.T)
    assert torch.linalg.eigvalsh(g).min() > -1e-9
    perm = torch.randperm(25, generator=rng)
    shuffled = f.reshape(1, 6, 25)[..., perm].reshape(1, 6, 5, 5)
    assert torch.allclose(gram_matrix(shuffled, "none")[0], g)


def test_half_precision_features_give_float32_gram():
    f = torch.full((1, 2, 64, 64), 300.0, dtype=torch.float16)  # F·Fᵀ = 300²·4096 overflows fp16
    g = gram_matrix(f, "none")
    assert g.dtype == torch.float32 and torch.isfinite(g).all()
    assert g[0, 0, 0].item() == pytest.approx(300.0**2 * 4096)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="normalize"):
        gram_matrix(torch.zeros(1, 2, 3, 3), "frobenius")
    with pytest.raises(ValueError, match="shape"):
        gram_matrix(torch.zeros(2, 3))


def test_gram_stays_float32_under_bf16_autocast(rng):
    f = torch.randn(1, 8, 16, 16, generator=rng)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        g = gram_matrix(f.bfloat16())
    assert g.dtype == torch.float32
    assert torch.allclose(g, gram_matrix(f.bfloat16().float()), rtol=1e-6)
