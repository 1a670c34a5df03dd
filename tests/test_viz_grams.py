"""Gram-matrix figures and helpers of nsthelpers.viz (notebooks 03/04): numbers and behaviour."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # tests draw figures without a display (notebooks keep their inline backend)

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from nsthelpers import GRAM_NORMALIZATIONS, gram_matrix, viz  # noqa: E402


def block_features(rng: torch.Generator, channels: int = 30, blocks: int = 3, positions: int = 20):
    """(1, C, H, W) features whose channels come in ``blocks`` groups of near-copies of one signal.

    Signals are zero-mean, so channels of different groups are nearly uncorrelated while
    channels of one group have cosine similarity ≈ 0.9.
    """
    sources = torch.randn(blocks, positions * positions, generator=rng, dtype=torch.float64)
    labels = torch.arange(channels) % blocks
    feats = sources[labels] + 0.3 * torch.randn(channels, positions * positions, generator=rng, dtype=torch.float64)
    return feats.reshape(1, channels, positions, positions), labels


@pytest.mark.parametrize("normalize", GRAM_NORMALIZATIONS)
def test_gram_pair_value_is_the_gram_entry(normalize, rng):
    feats = torch.rand(1, 7, 5, 6, generator=rng, dtype=torch.float64)
    gram = gram_matrix(feats, normalize)[0]
    for i, j in [(0, 0), (2, 5), (6, 1), (3, 3)]:
        map_i, map_j, value = viz.gram_pair(feats, i, j, normalize)
        assert map_i.shape == map_j.shape == (5, 6)
        torch.testing.assert_close(map_i, feats[0, i])
        torch.testing.assert_close(map_j, feats[0, j])
        assert value == pytest.approx(float(gram[i, j]), rel=1e-12)
    # unbatched input and symmetry
    assert viz.gram_pair(feats[0], 4, 2, normalize)[2] == pytest.approx(viz.gram_pair(feats, 2, 4, normalize)[2])


def test_gram_pair_on_vgg_activations(random_vgg, rng):
    image = torch.rand(1, 3, 32, 32, generator=rng)
    acts = random_vgg(image, ["relu2_1"])["relu2_1"]
    gram = gram_matrix(acts)[0]
    _, _, value = viz.gram_pair(acts, 10, 100)
    assert value == pytest.approx(float(gram[10, 100]), rel=1e-5)


def test_gram_pair_rejects_bad_input(rng):
    feats = torch.rand(1, 4, 3, 3, generator=rng)
    with pytest.raises(ValueError, match="0 … 3"):
        viz.gram_pair(feats, 4, 0)
    with pytest.raises(ValueError, match="normalize"):
        viz.gram_pair(feats, 0, 1, "sum")
    with pytest.raises(ValueError, match="one image"):
        viz.gram_pair(torch.rand(2, 4, 3, 3), 0, 1)


def test_channel_correlation_is_cosine_similarity(rng):
    feats = torch.rand(1, 5, 4, 4, generator=rng, dtype=torch.float64)
    feats[0, 3] = 0  # a dead channel
    corr = viz.channel_correlation(gram_matrix(feats, "gatys")[0])
    flat = feats[0].reshape(5, -1)
    for i, j in [(0, 1), (2, 4)]:
        cos = float(flat[i] @ flat[j] / (flat[i].norm() * flat[j].norm()))
        assert float(corr[i, j]) == pytest.approx(cos, rel=1e-12)
    assert torch.all(corr.diagonal() == 1)
    assert float(corr[3, 0]) == 0.0 and float(corr[0, 3]) == 0.0


@pytest.mark.parametrize("method", ["auto", "cluster", "spectral"])
def test_order_channels_recovers_shuffled_blocks(method, rng):
    feats, labels = block_features(rng)
    shuffle = torch.randperm(feats.shape[1], generator=rng)
    gram = gram_matrix(feats[:, shuffle])[0]
    perm = viz.order_channels(gram, method)
    assert perm.dtype == np.int64
    assert sorted(perm.tolist()) == list(range(30))  # a permutation
    ordered_labels = labels[shuffle][torch.as_tensor(perm)].tolist()
    # every block is contiguous in the new order: the label changes exactly blocks-1 times
    changes = sum(a != b for a, b in zip(ordered_labels, ordered_labels[1:]))
    assert changes == 2, ordered_labels
    # and the structure near the diagonal increases a lot
    before, after = viz.band_similarity(gram), viz.band_similarity(gram, perm)
    assert after > 0.8 > 0.5 > before


def test_order_channels_energy_sorts_diagonal(rng):
    feats = torch.rand(1, 6, 4, 4, generator=rng) * torch.tensor([1.0, 5, 2, 9, 0.5, 3]).view(1, 6, 1, 1)
    gram = gram_matrix(feats)[0]
    perm = viz.order_channels(gram, "energy")
    diag = gram.diagonal()[torch.as_tensor(perm)]
    assert torch.all(diag[:-1] >= diag[1:])
    with pytest.raises(ValueError, match="method"):
        viz.order_channels(gram, "random")


def test_band_similarity_checks_perm(rng):
    gram = gram_matrix(torch.rand(1, 4, 3, 3, generator=rng))[0]
    assert viz.band_similarity(gram, [3, 2, 1, 0]) == pytest.approx(viz.band_similarity(gram))  # mirror order
    with pytest.raises(ValueError, match="permutation"):
        viz.band_similarity(gram, [0, 0, 1, 2])


def test_gram_entry_figure_shows_value_and_product(rng):
    feats = torch.rand(1, 6, 5, 5, generator=rng)
    fig = viz.gram_entry_figure(feats, 1, 4, layer="relu1_1")
    try:
        _, _, value = viz.gram_pair(feats, 1, 4)
        assert f"{value:.4g}" in fig._suptitle.get_text()
        image_axes = [ax for ax in fig.axes if ax.images and ax.get_title()]
        assert len(image_axes) == 3
        product = image_axes[2].images[0].get_array()
        np.testing.assert_allclose(np.asarray(product), (feats[0, 1] * feats[0, 4]).numpy(), rtol=1e-6)
        assert image_axes[0].get_title() == "relu1_1 channel 1"
    finally:
        plt.close(fig)


def test_gram_heatmap_and_grid(rng):
    gram = gram_matrix(torch.rand(1, 5, 4, 4, generator=rng))[0]
    perm = np.array([4, 2, 0, 1, 3])
    fig, ax = plt.subplots()
    im = viz.gram_heatmap(gram, ax, order=perm, title="t")
    np.testing.assert_allclose(np.asarray(im.get_array()), gram[perm][:, perm].double().numpy())
    im = viz.gram_heatmap(gram, ax, scale="corr", colorbar=False)
    assert np.asarray(im.get_array()).max() == pytest.approx(1.0)
    plt.close(fig)
    grams = {"a": {"l1": gram, "l2": gram[:3, :3]}, "b": {"l1": gram, "l2": gram[:3, :3]}}
    fig = viz.gram_grid(grams, {"a": torch.rand(1, 3, 8, 8), "b": torch.rand(1, 3, 8, 8)})
    assert len([ax for ax in fig.axes if ax.images]) == 6
    assert fig.axes[2].get_title() == "l2 (3×3)"
    plt.close(fig)


def test_image_row_and_loss_curves():
    imgs = [torch.rand(1, 3, 8, 10), torch.rand(3, 8, 10), np.random.rand(8, 10, 3)]
    fig = viz.image_row(imgs, ["a", "b", "c"])
    assert [ax.get_title() for ax in fig.axes] == ["a", "b", "c"]
    plt.close(fig)
    with pytest.raises(ValueError, match="titles"):
        viz.image_row(imgs, ["a"])
    hist = {"total": [100.0, 10.0, 1.0], "content": [1.0, 1.0, 1.0]}
    fig = viz.loss_curves([hist, [4.0, 2.0]], ["x", "y"], relative=True)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [1.0, 0.1, 0.01])
    np.testing.assert_allclose(ax.lines[1].get_ydata(), [1.0, 0.5])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["x", "y"]
    plt.close(fig)
    fig = viz.loss_curves([hist], key="content", log=False)
    assert fig.axes[0].get_yscale() == "linear"
    plt.close(fig)
