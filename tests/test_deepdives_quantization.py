"""nsthelpers.deepdives.quantization: optimal 1-D k-means, rounding cells, and the float stand-ins for the caffe weights."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from nsthelpers.deepdives.quantization import (
    kmeans_1d,
    quantisation_cells,
    relative_activation_error,
    requantize,
    rounding_noise,
    with_conv_weights,
)


def _sse(values, counts, labels):
    return sum(float((counts[labels == c] * (values[labels == c] - np.average(values[labels == c], weights=counts[labels == c])) ** 2).sum())
               for c in np.unique(labels))


def _brute_force(values, counts, k):
    """Best split of sorted points into k contiguous clusters, by trying every split."""
    n, best = len(values), (np.inf, None)
    for cuts in itertools.combinations(range(1, n), k - 1):
        labels = np.searchsorted(np.array(cuts), np.arange(n), side="right")
        best = min(best, (_sse(values, counts, labels), tuple(labels)), key=lambda t: t[0])
    return best


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_kmeans_1d_is_optimal_against_brute_force(k):
    rng = np.random.default_rng(k)
    values = np.sort(rng.choice(np.linspace(-1, 1, 400), size=9, replace=False))
    counts = rng.integers(1, 20, size=9).astype(float)
    labels, centroids = kmeans_1d(values, counts, k)
    best_sse, _ = _brute_force(values, counts, k)
    assert _sse(values, counts, labels) == pytest.approx(best_sse, rel=1e-9, abs=1e-12)
    assert len(centroids) == k and np.all(np.diff(centroids) > 0)
    for c in range(k):
        assert centroids[c] == pytest.approx(np.average(values[labels == c], weights=counts[labels == c]))


def test_kmeans_1d_with_as_many_clusters_as_values_is_the_identity_and_bad_input_is_refused():
    values, counts = np.array([-0.5, 0.1, 0.7]), np.array([3.0, 1.0, 2.0])
    labels, centroids = kmeans_1d(values, counts, 3)
    assert labels.tolist() == [0, 1, 2] and np.array_equal(centroids, values)
    with pytest.raises(ValueError, match="sorted ascending"):
        kmeans_1d(np.array([0.3, 0.1]), np.array([1.0, 1.0]), 1)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        kmeans_1d(values, counts, 0)
    with pytest.raises(ValueError, match="handles up to"):
        kmeans_1d(np.arange(5000.0), np.ones(5000), 2)


def test_requantize_keeps_shape_reduces_levels_and_is_idempotent_at_its_own_level_count():
    g = torch.Generator().manual_seed(0)
    table = torch.sort(torch.randn(256, generator=g)).values
    weight = table[torch.randint(0, 256, (32, 16, 3, 3), generator=g)]   # like a caffe layer: ≤ 256 values
    assert torch.equal(requantize(weight, 256), weight)                  # "the same way again": no change
    coarse = requantize(weight, 16)
    assert coarse.shape == weight.shape and torch.unique(coarse).numel() == 16
    err16 = (coarse - weight).norm() / weight.norm()
    err64 = (requantize(weight, 64) - weight).norm() / weight.norm()
    assert 0 < err64 < err16 < 0.2


def test_rounding_noise_stays_inside_each_cell_and_rounds_back():
    g = torch.Generator().manual_seed(1)
    table = torch.tensor([-1.0, -0.2, 0.0, 0.5, 2.0])
    weight = table[torch.randint(0, 5, (4000,), generator=g)]
    lower, upper = quantisation_cells(table)
    assert torch.allclose(lower, torch.tensor([-1.4, -0.6, -0.1, 0.25, 1.25]))
    assert torch.allclose(upper, torch.tensor([-0.6, -0.1, 0.25, 1.25, 2.75]))
    moved = rounding_noise(weight, g)
    nearest = table[(moved[:, None] - table[None, :]).abs().argmin(dim=1)]
    assert torch.equal(nearest, weight)                                  # rounding it again gives the original
    assert (moved != weight).float().mean() > 0.99                       # and it really moved
    spread = (moved - weight)[weight == 0.5]
    assert spread.min() < -0.2 and spread.max() > 0.7                    # fills the cell [0.25, 1.25]


def test_modified_copies_and_relative_activation_error(random_vgg):
    image = torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(2))
    same = with_conv_weights(random_vgg, lambda w: w.clone())
    assert relative_activation_error(random_vgg, same, image, ["relu1_1", "relu3_1"]) == {"relu1_1": 0.0, "relu3_1": 0.0}
    scaled = with_conv_weights(random_vgg, lambda w: 1.01 * w)
    err = relative_activation_error(random_vgg, scaled, image, ["conv1_1"])
    assert err["conv1_1"] > 0
    assert random_vgg["conv1_1"].weight.data_ptr() != scaled["conv1_1"].weight.data_ptr()   # a copy
    with torch.no_grad():
        a, b = random_vgg(image, ["conv1_1"])["conv1_1"], scaled(image, ["conv1_1"])["conv1_1"]
    assert err["conv1_1"] == pytest.approx(float((b - a).norm() / a.norm()), rel=1e-6)
