"""The numbers behind the notebooks' figures: which channels fire, what a Gram entry sums, channel orders.

Plain tensor and NumPy computations with no plotting (:mod:`nsthelpers.viz` draws them).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..gram import GRAM_NORMALIZATIONS, at_least_fp32

__all__ = ["band_similarity", "channel_correlation", "channel_means", "gram_pair", "one_image_activations",
           "order_channels", "top_channels"]

def one_image_activations(features: torch.Tensor) -> torch.Tensor:
    """(1, C, H, W) or (C, H, W) activations -> (C, H, W), detached, on the CPU, at least float32."""
    if features.dim() == 4:
        if features.shape[0] != 1:
            raise ValueError(f"expected the activations of one image, (1, C, H, W); got {tuple(features.shape)}")
        features = features[0]
    if features.dim() != 3:
        raise ValueError(f"expected activations (1, C, H, W) or (C, H, W); got {tuple(features.shape)}")
    features = features.detach().cpu()
    return at_least_fp32(features)


def channel_means(acts: torch.Tensor, border: int = 0) -> torch.Tensor:
    """Mean activation of every channel, (C,), ignoring ``border`` positions at each edge
    (useful for probe images, where zero padding makes the border respond like an edge)."""
    if not isinstance(acts, torch.Tensor):
        raise ValueError(f"expected an activation tensor (1, C, H, W) or (C, H, W), got {type(acts).__name__}")
    a = one_image_activations(acts).to(torch.float32)
    if border:
        if 2 * border >= min(a.shape[1:]):
            raise ValueError(f"border={border} leaves nothing of a {a.shape[1]}×{a.shape[2]} map")
        a = a[:, border:-border, border:-border]
    return a.mean(dim=(1, 2))


def top_channels(
    acts: torch.Tensor,
    k: int = 8,
    *,
    against: torch.Tensor | Sequence[torch.Tensor] | None = None,
    border: int = 0,
) -> list[int]:
    """The ``k`` channels with the largest mean activation, strongest first.

    With ``against`` (activations of the same layer for one or more other images), channels are
    ranked by *selectivity* instead: mean here minus the largest mean over the ``against`` images,
    so a channel that fires for everything does not win. Ties go to the lower channel number.
    ``border`` is passed to :func:`channel_means`.
    """
    score = channel_means(acts, border)
    if against is not None:
        others = [against] if isinstance(against, torch.Tensor) else list(against)
        if others:
            other = torch.stack([channel_means(o, border) for o in others])
            if other.shape[1] != score.shape[0]:
                raise ValueError(f"'against' has {other.shape[1]} channels, acts has {score.shape[0]}")
            score = score - other.max(dim=0).values
    order = torch.argsort(-score, stable=True)
    return [int(i) for i in order[: max(0, int(k))]]


def gram_pair(
    features: torch.Tensor, i: int, j: int, normalize: str = "chw"
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """The two feature maps behind Gram entry ``G[i, j]``, and the entry itself.

    ``G[i, j]`` is the sum over all positions of ``map_i * map_j`` (then scaled as
    :func:`nsthelpers.gram_matrix` does for ``normalize``): large when channels ``i`` and ``j``
    fire strongly at the *same* places, whatever those places are.

    Args:
        features: activations of one image at one layer, (1, C, H, W) or (C, H, W).
        i, j: channel indices in ``0 … C-1``.
        normalize: ``"none"``, ``"hw"``, ``"chw"`` or ``"gatys"`` (see :mod:`nsthelpers.gram`).

    Returns:
        ``(map_i, map_j, value)``: two (H, W) CPU tensors and ``G[i, j]`` as a Python float.
    """
    f = one_image_activations(features)
    c, h, w = f.shape
    for name, k in (("i", i), ("j", j)):
        if not 0 <= int(k) < c:
            raise ValueError(f"{name}={k} is not a channel of this layer; use 0 … {c - 1}")
    scale = {"none": 1.0, "hw": h * w, "chw": c * h * w, "gatys": 2.0 * c * h * w}.get(normalize)
    if scale is None:
        raise ValueError(f"normalize={normalize!r}; choose one of {GRAM_NORMALIZATIONS}")
    map_i, map_j = f[int(i)], f[int(j)]
    value = float((map_i.double() * map_j.double()).sum() / scale)
    return map_i, map_j, value


def channel_correlation(gram: torch.Tensor) -> torch.Tensor:
    """Cosine similarity between channels, ``G[i, j] / sqrt(G[i, i] G[j, j])``, from a (C, C) Gram matrix.

    Any normalisation of ``gram`` gives the same result. Channels that never fire (zero energy)
    get similarity 0 with every other channel and 1 with themselves.
    """
    g = torch.as_tensor(gram).detach().cpu().double()
    if g.dim() != 2 or g.shape[0] != g.shape[1]:
        raise ValueError(f"expected a square (C, C) Gram matrix, got shape {tuple(g.shape)}")
    d = g.diagonal().clamp(min=0).sqrt()
    denom = d[:, None] * d[None, :]
    corr = torch.where(denom > 0, g / denom.clamp(min=1e-300), torch.zeros_like(g))
    corr.fill_diagonal_(1.0)
    return corr.clamp(-1.0, 1.0)


def _spectral_order(sim: np.ndarray) -> np.ndarray:
    """Order by the Fiedler vector of the similarity graph's Laplacian (used when SciPy is missing)."""
    w = np.clip(sim, 0.0, None)
    np.fill_diagonal(w, 0.0)
    deg = w.sum(axis=1)
    inv = np.where(deg > 0, 1.0 / np.sqrt(np.maximum(deg, 1e-300)), 0.0)
    lap = np.eye(len(w)) - inv[:, None] * w * inv[None, :]
    _, vecs = np.linalg.eigh(lap)
    fiedler = vecs[:, 1] * inv if len(w) > 1 else vecs[:, 0]
    return np.argsort(fiedler, kind="stable")


def order_channels(gram: torch.Tensor, method: str = "auto") -> np.ndarray:
    """A channel order that puts similar channels next to each other, so blocks show in a heatmap.

    Channels are compared by cosine similarity (:func:`channel_correlation`), so a few
    high-energy channels do not dominate.

    Args:
        gram: (C, C) Gram matrix (any normalisation).
        method: ``"cluster"`` (average-linkage hierarchical clustering on ``1 - similarity`` with
            optimal leaf ordering; needs SciPy), ``"spectral"`` (sort by the Fiedler vector of the
            similarity graph; NumPy only), ``"energy"`` (by diagonal ``G[i, i]``, largest first),
            or ``"auto"`` (``"cluster"`` when SciPy is installed, else ``"spectral"``).

    Returns:
        a permutation of ``0 … C-1`` (int64 array): show ``gram[perm][:, perm]``.
    """
    corr = channel_correlation(gram).numpy()
    c = corr.shape[0]
    if method == "auto":
        try:
            import scipy.cluster.hierarchy  # noqa: F401

            method = "cluster"
        except ImportError:
            method = "spectral"
    if c <= 2:
        return np.arange(c, dtype=np.int64)
    if method == "cluster":
        from scipy.cluster.hierarchy import leaves_list, linkage
        from scipy.spatial.distance import squareform

        dist = np.clip(1.0 - corr, 0.0, 2.0)
        dist = (dist + dist.T) / 2
        np.fill_diagonal(dist, 0.0)
        tree = linkage(squareform(dist, checks=False), method="average", optimal_ordering=True)
        perm = leaves_list(tree)
    elif method == "spectral":
        perm = _spectral_order(corr)
    elif method == "energy":
        energy = torch.as_tensor(gram).detach().cpu().double().diagonal().numpy()
        perm = np.argsort(-energy, kind="stable")
    else:
        raise ValueError(f"method={method!r}; choose 'auto', 'cluster', 'spectral' or 'energy'")
    return np.asarray(perm, dtype=np.int64)


def band_similarity(gram: torch.Tensor, perm: Sequence[int] | None = None, width: int | None = None) -> float:
    """Mean cosine similarity between channels at most ``width`` places apart in the order ``perm``.

    A score for "structure near the diagonal": an order that groups similar channels raises it,
    a random order gives about the average similarity. ``width`` defaults to ``max(1, C // 16)``.
    """
    corr = channel_correlation(gram)
    c = corr.shape[0]
    if perm is not None:
        p = torch.as_tensor(np.asarray(perm), dtype=torch.long)
        if sorted(p.tolist()) != list(range(c)):
            raise ValueError("perm must be a permutation of 0 … C-1")
        corr = corr[p][:, p]
    width = max(1, c // 16) if width is None else int(width)
    idx = torch.arange(c)
    offset = (idx[:, None] - idx[None, :]).abs()
    band = (offset >= 1) & (offset <= width)
    if not band.any():
        return 1.0
    return float(corr[band].mean())

