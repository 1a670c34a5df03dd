"""Loss terms of neural style transfer: content, style (Gram, masked Gram or mean/covariance), total variation.

Each term is one number for the whole input, or with ``per_item=True`` one number per image of a batch
(shape (N,)): what a batched optimisation of N independent pictures needs.
"""
from __future__ import annotations

from typing import Mapping

import torch
import torch.nn.functional as F

from .gram import at_least_fp32, gram_matrix, masked_gram


def mse(a: torch.Tensor, b: torch.Tensor, per_item: bool = False) -> torch.Tensor:
    """Mean squared error; with ``per_item`` one mean per item of the leading (batch) dimension."""
    if not per_item:
        return F.mse_loss(a, b)
    return (a - b).pow(2).flatten(1).mean(1)


def content_loss(features: torch.Tensor, target: torch.Tensor, per_item: bool = False) -> torch.Tensor:
    """Mean squared error between the image's and the content image's activations at one layer."""
    return mse(at_least_fp32(features), at_least_fp32(target).expand_as(features), per_item)


def style_layer_loss(features: torch.Tensor, target_gram: torch.Tensor, normalize: str = "chw",
                     per_item: bool = False) -> torch.Tensor:
    """Mean squared error between the Gram matrix of ``features`` and a precomputed target Gram."""
    gram = gram_matrix(features, normalize)
    return mse(gram, target_gram.expand_as(gram), per_item)


def style_loss(
    features: Mapping[str, torch.Tensor],
    target_grams: Mapping[str, torch.Tensor],
    layer_weights: Mapping[str, float] | None = None,
    normalize: str = "chw",
) -> torch.Tensor:
    """Weighted sum over style layers of :func:`style_layer_loss`.

    ``layer_weights`` maps layer → weight (default 1 for every layer in ``target_grams``).
    """
    total = None
    for name, target in target_grams.items():
        w = 1.0 if layer_weights is None else float(layer_weights[name])
        term = w * style_layer_loss(features[name], target, normalize)
        total = term if total is None else total + term
    if total is None:
        raise ValueError("target_grams is empty: name at least one style layer")
    return total


def mean_cov(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean (N, C) and covariance (N, C, C) of (N, C, H, W) features (float32)."""
    n, c, h, w = features.shape
    flat = at_least_fp32(features.reshape(n, c, h * w))
    mean = flat.mean(dim=2)
    centred = flat - mean.unsqueeze(2)
    cov = torch.bmm(centred, centred.transpose(1, 2)) / (h * w)
    return mean, cov


def mean_cov_loss(features: torch.Tensor, target_mean: torch.Tensor, target_cov: torch.Tensor,
                  per_item: bool = False) -> torch.Tensor:
    """Style loss on first and second moments (mean and covariance) instead of the raw Gram matrix."""
    mean, cov = mean_cov(features)
    return mse(mean, target_mean.expand_as(mean), per_item) + mse(cov, target_cov.expand_as(cov), per_item)


def tv_loss(image: torch.Tensor, per_item: bool = False) -> torch.Tensor:
    """Total variation: mean squared difference between neighbouring pixels (smoothness prior)."""
    dx = at_least_fp32(image[..., :, 1:] - image[..., :, :-1])
    dy = at_least_fp32(image[..., 1:, :] - image[..., :-1, :])
    if per_item:
        return dx.pow(2).flatten(1).mean(1) + dy.pow(2).flatten(1).mean(1)
    return dx.pow(2).mean() + dy.pow(2).mean()


def masked_style_loss(features: torch.Tensor, mask: torch.Tensor, target_gram: torch.Tensor,
                      normalize: str = "chw", per_item: bool = False) -> torch.Tensor:
    """MSE between the masked Gram of ``features`` and a style's Gram, weighted by the mask's share of the image."""
    share = mask.float().mean()
    gram = masked_gram(features, mask, normalize)
    return share * mse(gram, target_gram.expand_as(gram), per_item)
