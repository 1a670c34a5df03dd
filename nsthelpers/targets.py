"""The targets of the NST loss as small modules: one per style statistic, the targets held as buffers.

Each style statistic is an ``nn.Module`` built once from the style image's features at one layer; calling
it on a picture's features gives that layer's style loss:

* :class:`GramTarget`: Gatys' Gram matrix (:func:`~nsthelpers.losses.style_layer_loss`);
* :class:`MeanCovTarget`: feature means and covariances (:func:`~nsthelpers.losses.mean_cov_loss`);
* :class:`W2Target`: the features' Gaussian, compared by the Wasserstein-2 distance
  (:func:`~nsthelpers.losses.w2_style_loss`);
* :class:`MaskedGramTarget`: one Gram per style image, each inside its own region (Gatys et al. 2017).

:class:`StyleTargets` holds one of them per style layer and :class:`ContentTargets` the content
activations, so the style's targets can be computed once and shared by many contents (``fast.train``
scores every batch against one :class:`StyleTargets`). :data:`STYLE_STATISTICS` is the one place a
``style_loss`` name is turned into a statistic.
"""
from __future__ import annotations

import hashlib
from typing import Any, Iterator, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from . import checks
from .gram import gram_matrix
from .losses import (
    content_loss,
    masked_style_loss,
    mean_cov,
    mean_cov_loss,
    mean_second_moment,
    style_layer_loss,
    w2_style_loss,
    w2_target,
)

__all__ = ["STYLE_STATISTICS", "ContentTargets", "GramTarget", "MaskedGramTarget", "MeanCovTarget",
           "StyleTargets", "W2Target", "digest"]


class GramTarget(nn.Module):
    """The Gram-matrix style loss of one layer: MSE between the picture's Gram and the style's (a buffer)."""

    gram: torch.Tensor

    def __init__(self, gram: torch.Tensor, normalize: str = "chw") -> None:
        super().__init__()
        self.normalize = normalize
        self.register_buffer("gram", gram)

    @classmethod
    def blend(cls, features: Sequence[torch.Tensor], weights: Sequence[float], normalize: str = "chw") -> GramTarget:
        """The blend of each style image's Gram matrix, ``weights`` summing to 1."""
        return cls(torch.stack([w * gram_matrix(f, normalize) for w, f in zip(weights, features)]).sum(0), normalize)

    def forward(self, features: torch.Tensor, per_item: bool = False) -> torch.Tensor:
        return style_layer_loss(features, self.gram, self.normalize, per_item)

    @property
    def target(self) -> torch.Tensor:
        """The target Gram matrix."""
        return self.gram


class MeanCovTarget(nn.Module):
    """The mean/covariance style loss of one layer: the style's per-channel means and covariance as buffers."""

    mean: torch.Tensor
    cov: torch.Tensor

    def __init__(self, mean: torch.Tensor, cov: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("cov", cov)

    @classmethod
    def blend(cls, features: Sequence[torch.Tensor], weights: Sequence[float], normalize: str = "chw") -> MeanCovTarget:
        """The blend of each style image's means and covariances."""
        stats = [mean_cov(f) for f in features]
        return cls(sum(w * m for w, (m, _) in zip(weights, stats)),  # type: ignore[arg-type]
                   sum(w * c for w, (_, c) in zip(weights, stats)))  # type: ignore[arg-type]

    def forward(self, features: torch.Tensor, per_item: bool = False) -> torch.Tensor:
        return mean_cov_loss(features, self.mean, self.cov, per_item)

    @property
    def target(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mean, cov)``."""
        return self.mean, self.cov


class W2Target(nn.Module):
    """The Wasserstein-2 style loss of one layer: the style's Gaussian (:func:`~nsthelpers.losses.w2_target`)."""

    mean: torch.Tensor
    cov: torch.Tensor
    cov_sqrt: torch.Tensor
    ridge: torch.Tensor

    def __init__(self, target: Mapping[str, torch.Tensor]) -> None:
        super().__init__()
        for key in ("mean", "cov", "cov_sqrt", "ridge"):
            self.register_buffer(key, target[key])

    @classmethod
    def blend(cls, features: Sequence[torch.Tensor], weights: Sequence[float], normalize: str = "chw") -> W2Target:
        """Blends means and second raw moments (a mixture's), not covariances."""
        moments = [mean_second_moment(f) for f in features]
        mean = torch.stack([w * m for w, (m, _) in zip(weights, moments)]).sum(0)
        second = torch.stack([w * s for w, (_, s) in zip(weights, moments)]).sum(0)
        return cls(w2_target(mean, second))

    def forward(self, features: torch.Tensor, per_item: bool = False) -> torch.Tensor:
        return w2_style_loss(features, self.target, per_item)

    @property
    def target(self) -> dict[str, torch.Tensor]:
        """``{"mean", "cov", "cov_sqrt", "ridge"}`` as :func:`~nsthelpers.losses.w2_style_loss` takes it."""
        return {"mean": self.mean, "cov": self.cov, "cov_sqrt": self.cov_sqrt, "ridge": self.ridge}


class MaskedGramTarget(nn.Module):
    """The masked Gram loss of one layer: each style image's Gram, matched inside its own mask (buffers)."""

    grams: torch.Tensor
    masks: torch.Tensor

    def __init__(self, grams: Sequence[torch.Tensor], masks: Sequence[torch.Tensor], normalize: str = "chw") -> None:
        super().__init__()
        self.normalize = normalize
        self.register_buffer("grams", torch.stack(list(grams)))
        self.register_buffer("masks", torch.stack(list(masks)))

    def forward(self, features: torch.Tensor, per_item: bool = False) -> torch.Tensor:
        return torch.stack([masked_style_loss(features, m, g, self.normalize, per_item)
                            for m, g in zip(self.masks, self.grams)]).sum(0)

    @property
    def target(self) -> list[torch.Tensor]:
        """One Gram matrix per style image."""
        return list(self.grams)


#: the style statistics by ``style_loss`` name (masks use :class:`MaskedGramTarget`, Gram matrices only)
STYLE_STATISTICS: dict[str, Any] = {"gram": GramTarget, "mean_cov": MeanCovTarget, "w2": W2Target}


class StyleTargets(nn.Module):
    """The style's targets, one statistic module per style layer, computed once from the style images.

    Args:
        model: the VGG19 (any :class:`~nsthelpers.vgg.VGG19Features`, truncated or not).
        styles: the style images (1, 3, H, W) in [0, 1], on the model's device.
        layers: the style layers.
        style_loss: a key of :data:`STYLE_STATISTICS`.
        blend: weights of the style images' statistics (default equal).
        masks: with ``layer_hw``: one mask per style image at the content's size; each style paints its region.
        layer_hw: the content's feature-map size at each layer (where the masks are resized to).
        balance: divide each layer's loss by its value for all-zero features (``scale``).
        normalize: the Gram normalisation.
    """

    def __init__(self, model: nn.Module, styles: Sequence[torch.Tensor], layers: Sequence[str], *,
                 style_loss: str = "gram", blend: Sequence[float] | None = None,
                 masks: Sequence[torch.Tensor] | None = None, layer_hw: Mapping[str, tuple[int, int]] | None = None,
                 balance: bool = True, normalize: str = "chw") -> None:
        super().__init__()
        if layers and not styles:
            raise ValueError("at least one style image is needed (or pass style_layers=[])")
        self.images = [s.detach() for s in styles]  # for fingerprints
        self.blend_weights = None if blend is None else [float(b) for b in blend]
        with torch.no_grad():
            feats = [model(s, list(layers)) for s in styles] if layers else []
            weights = checks.blend_weights(len(styles), blend) if styles else []
            self.layers = nn.ModuleDict()
            for n in layers:
                if masks is not None:
                    assert layer_hw is not None, "masks need the content's feature sizes (layer_hw)"
                    small = [F.interpolate(m, size=layer_hw[n], mode="area") for m in masks]
                    self.layers[n] = MaskedGramTarget([gram_matrix(f[n], normalize) for f in feats], small, normalize)
                else:
                    self.layers[n] = STYLE_STATISTICS[style_loss].blend([f[n] for f in feats], weights, normalize)
            self.scale = {n: self._balance(n, feats[0][n], layer_hw) if balance else 1.0 for n in layers}

    def _balance(self, name: str, features: torch.Tensor, layer_hw: Mapping[str, tuple[int, int]] | None) -> float:
        """1 / (the layer's style loss for all-zero features).

        For the Gram loss that is ``1 / mean(A²)`` of the target Gram A: each layer's loss is then
        measured relative to the loss of all-zero features (not of a black picture: after preprocessing
        black is minus the mean pixel, and the biases make its features non-zero), so every layer counts
        alike; raw, the Caffe VGG19's relu4_1 term dominates (56× the next layer's for the astronaut and
        The Starry Night at 256 px, notebook 05b).
        """
        hw = layer_hw[name] if layer_hw is not None else tuple(features.shape[-2:])
        zero_loss = float(self.layers[name](features.new_zeros((1, features.shape[1], *hw))))
        return 1.0 / zero_loss if zero_loss > 0 else 1.0

    def forward(self, features: Mapping[str, torch.Tensor], layer_weights: Mapping[str, Any],
                zero: torch.Tensor, per_item: bool = False) -> torch.Tensor:
        """The weighted, balanced sum over the layers of their style losses (``zero``: the empty sum)."""
        return sum((layer_weights[n] * self.scale[n] * term(features[n], per_item)
                    for n, term in self.layers.items()), zero)

    def __iter__(self) -> Iterator[str]:
        return iter(self.layers)

    def targets(self) -> dict[str, Any]:
        """The target of each layer (a Gram; ``(mean, cov)``; a W2 dict; a list of Grams with masks)."""
        return {n: term.target for n, term in self.layers.items()}

    def digests(self) -> list[str]:
        """Short digests of the style images (see :func:`digest`)."""
        return [digest(s) for s in self.images]


class ContentTargets(nn.Module):
    """The content image's activations at the content layers (buffers), and the content loss against them."""

    def __init__(self, features: Mapping[str, torch.Tensor], layers: Sequence[str]) -> None:
        super().__init__()
        self.names = list(layers)
        for n in self.names:
            self.register_buffer(n, features[n].detach())

    def forward(self, features: Mapping[str, torch.Tensor], zero: torch.Tensor, per_item: bool = False) -> torch.Tensor:
        return sum((content_loss(features[n], getattr(self, n), per_item) for n in self.names), zero)

    def targets(self) -> dict[str, torch.Tensor]:
        """``{layer: activations}``."""
        return {n: getattr(self, n) for n in self.names}


def digest(image: torch.Tensor) -> str:
    """A short SHA-256 of an image tensor's float32 values (the same picture gives the same digest)."""
    data = image.detach().to("cpu", torch.float32).contiguous()
    return hashlib.sha256(data.numpy().tobytes()).hexdigest()[:16]
