"""The neural-style-transfer loss as a module: content, style (Gram, masked Gram or mean/covariance), TV.

Targets (content activations, style Gram matrices) are computed once when the objective is built.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .gram import gram_matrix
from .losses import (
    content_loss,
    mean_cov,
    mean_cov_loss,
    mean_second_moment,
    style_layer_loss,
    tv_loss,
    w2_style_loss,
    w2_target,
)
from .vgg import VGG19Features, deepest_layer, layer_index

DEFAULT_CONTENT_LAYERS: tuple[str, ...] = ("relu4_2",)
DEFAULT_STYLE_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
# Activations of the Caffe model (0-255 input) are ~60x those of ImageNet-normalised models, so the
# style term (4th power of activations) vs the content term (2nd power) differs by ~60². These are the
# defaults that give a balanced picture for each preprocessing convention (see notebook 05).
DEFAULT_STYLE_WEIGHT = {"caffe": 1e2, "imagenet": 3e5}
# The TV term (mean squared difference of neighbouring [0, 1] pixels, ~0.01) does not scale with the
# activations, so its weight must: with caffe weights at 192 px (Tübingen / Starry Night, 100 Adam steps)
# 1e8 removes the pixel-level speckle and keeps the strokes, 1e9 blurs them, 1e10 washes the picture out,
# 1 does nothing at all. The ImageNet value is the caffe one over the ~60² ratio of the content terms.
DEFAULT_TV_WEIGHT = {"caffe": 1e8, "imagenet": 3e4}
STYLE_LOSSES = ("gram", "mean_cov", "w2")



def _check_layers(names: Sequence[str], what: str) -> list[str]:
    names = list(names)
    for n in names:
        try:
            layer_index(n)
        except ValueError as exc:
            raise ValueError(f"{what}: {exc}") from None
    return names


def _min_side_for(layers: Sequence[str]) -> int:
    """Smallest image side for which every named layer still has at least 1×1 activations."""
    deepest = deepest_layer(layers)
    block = int(deepest[-3]) if deepest.startswith(("conv", "relu")) else int(deepest[-1]) + 1
    return 2 ** (block - 1)


class Objective(nn.Module):
    """The NST loss for one content image and one or more style images, targets computed once.

    ``objective(image)`` returns ``{"total", "content", "style", "tv"}`` (0-dim tensors). Weights and
    per-layer style weights are plain attributes, so a lab can change them without recomputing targets.
    Several style images are blended by ``style_blend`` (weights of their Gram targets).
    """

    def __init__(
        self,
        model: VGG19Features,
        content: torch.Tensor,
        styles: Sequence[torch.Tensor],
        *,
        content_layers: Sequence[str] = DEFAULT_CONTENT_LAYERS,
        style_layers: Sequence[str] = DEFAULT_STYLE_LAYERS,
        style_layer_weights: Sequence[float] | Mapping[str, float] | None = None,
        style_blend: Sequence[float] | None = None,
        content_weight: float = 1.0,
        style_weight: float | None = None,
        tv_weight: float | None = None,
        gram_normalize: str = "chw",
        style_loss: str = "gram",
        masks: Sequence[torch.Tensor] | None = None,
    ):
        super().__init__()
        if style_loss not in STYLE_LOSSES:
            raise ValueError(f"style_loss={style_loss!r}; choose one of {STYLE_LOSSES}")
        if masks is not None and style_loss != "gram":
            raise ValueError("masks work with style_loss='gram' only")
        self.style_loss_type = style_loss
        self.content_layers = _check_layers(content_layers, "content_layers")
        self.style_layers = _check_layers(style_layers, "style_layers")
        if not self.content_layers and not self.style_layers:
            raise ValueError("content_layers and style_layers are both empty: name at least one layer")
        self.model = model.truncated(deepest_layer(self.content_layers + self.style_layers))
        self.layers = list(dict.fromkeys(self.content_layers + self.style_layers))
        self.gram_normalize = gram_normalize
        self.content_weight = float(content_weight)
        self.style_weight = float(DEFAULT_STYLE_WEIGHT[model.preprocess.convention] if style_weight is None else style_weight)
        self.tv_weight = float(DEFAULT_TV_WEIGHT[model.preprocess.convention] if tv_weight is None else tv_weight)
        self.style_layer_weights = _layer_weights(self.style_layers, style_layer_weights)
        self.masks = None if masks is None else _check_masks(masks, len(styles), tuple(content.shape[-2:]), content.device)
        self.set_targets(content, styles, style_blend)

    @torch.no_grad()
    def set_targets(self, content: torch.Tensor, styles: Sequence[torch.Tensor], style_blend: Sequence[float] | None = None) -> None:
        """(Re)compute the content activations and blended style Gram targets."""
        if not styles:
            raise ValueError("at least one style image is needed")
        blend = _blend_weights(len(styles), style_blend)
        feats = self.model(content, self.layers)
        self.content_targets = {n: feats[n].detach() for n in self.content_layers}
        if self.masks is not None:
            # one target per style image, each applied inside its own region (Gatys et al. 2017)
            self.layer_masks = {n: [F.interpolate(m, size=feats[n].shape[-2:], mode="area") for m in self.masks]
                                for n in self.style_layers}
            self.style_targets = {n: [] for n in self.style_layers}
            for style in styles:
                sf = self.model(style, self.style_layers)
                for n in self.style_layers:
                    self.style_targets[n].append(gram_matrix(sf[n], self.gram_normalize))
            return
        targets: dict[str, object] = {}
        for w, style in zip(blend, styles):
            sf = self.model(style, self.style_layers) if self.style_layers else {}
            for n in self.style_layers:
                if self.style_loss_type == "gram":
                    t = w * gram_matrix(sf[n], self.gram_normalize)
                    targets[n] = t if n not in targets else targets[n] + t
                elif self.style_loss_type == "w2":  # blend means and second raw moments, not covariances
                    mean, moment = mean_second_moment(sf[n])
                    prev = targets.get(n, (0.0, 0.0))
                    targets[n] = (prev[0] + w * mean, prev[1] + w * moment)
                else:
                    mean, cov = mean_cov(sf[n])
                    prev = targets.get(n, (0.0, 0.0))
                    targets[n] = (prev[0] + w * mean, prev[1] + w * cov)
        if self.style_loss_type == "w2":
            targets = {n: w2_target(*t) for n, t in targets.items()}
        self.style_targets = targets

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = self.model(image, self.layers)
        zero = image.new_zeros((), dtype=torch.promote_types(image.dtype, torch.float32))
        c = sum((content_loss(feats[n], self.content_targets[n]) for n in self.content_layers), zero)
        s = sum((self.style_layer_weights[n] * self._style_term(n, feats[n]) for n in self.style_layers), zero)
        t = tv_loss(image) if self.tv_weight else zero
        total = self.content_weight * c + self.style_weight * s + self.tv_weight * t
        return {"total": total, "content": c, "style": s, "tv": t}

    def _style_term(self, name: str, feats: torch.Tensor) -> torch.Tensor:
        target = self.style_targets[name]
        if self.masks is not None:
            return sum(masked_style_loss(feats, m, g, self.gram_normalize)
                       for m, g in zip(self.layer_masks[name], target))
        if self.style_loss_type == "mean_cov":
            return mean_cov_loss(feats, *target)
        if self.style_loss_type == "w2":
            return w2_style_loss(feats, target)
        return style_layer_loss(feats, target, self.gram_normalize)


def masked_gram(features: torch.Tensor, mask: torch.Tensor, normalize: str = "chw") -> torch.Tensor:
    """Gram matrix of the features inside a soft mask (1, 1, h, w): positions weighted by the mask,
    normalised by the mask's area instead of H·W (equals :func:`gram_matrix` for an all-ones mask)."""
    c = features.shape[1]
    gram = gram_matrix(features * mask, "none")  # fp32, outside autocast
    area = mask.float().sum().clamp_min(1e-8)
    scale = {"none": 1.0, "hw": area, "chw": c * area, "gatys": 2.0 * c * area}[normalize]
    return gram / scale


def masked_style_loss(features: torch.Tensor, mask: torch.Tensor, target_gram: torch.Tensor, normalize: str) -> torch.Tensor:
    """MSE between the masked Gram of ``features`` and a style's Gram, weighted by the mask's share of the image."""
    share = mask.float().mean()
    gram = masked_gram(features, mask, normalize)
    return share * F.mse_loss(gram, target_gram.expand_as(gram))


def _check_masks(masks, n_styles: int, hw: tuple[int, int], device) -> list[torch.Tensor]:
    masks = list(masks)
    if len(masks) != n_styles:
        raise ValueError(f"masks: got {len(masks)} masks for {n_styles} style images; give one mask per style")
    out = []
    for i, m in enumerate(masks):
        m = torch.as_tensor(m, dtype=torch.float32)
        while m.dim() < 4:
            m = m.unsqueeze(0)
        if m.shape[:2] != (1, 1):
            raise ValueError(f"masks[{i}] must be (H, W), (1, H, W) or (1, 1, H, W); got {tuple(m.shape)}")
        if not torch.isfinite(m).all() or m.min() < 0 or m.max() > 1:
            raise ValueError(f"masks[{i}] must hold values in [0, 1]")
        out.append(F.interpolate(m, size=hw, mode="bilinear", align_corners=False).to(device) if m.shape[-2:] != hw else m.to(device))
    if (sum(out) == 0).all():
        raise ValueError("masks cover no pixel: at least one mask must be non-zero somewhere")
    return out

def _layer_weights(layers: list[str], weights) -> dict[str, float]:
    if weights is None:
        return {n: 1.0 for n in layers}
    if isinstance(weights, Mapping):
        unknown = set(weights) - set(layers)
        if unknown:
            raise ValueError(f"style_layer_weights names {sorted(unknown)} which are not in style_layers {layers}")
        out = {n: float(weights.get(n, 1.0)) for n in layers}
    else:
        weights = list(weights)
        if len(weights) != len(layers):
            raise ValueError(f"style_layer_weights has {len(weights)} values for {len(layers)} style layers {layers}")
        out = {n: float(w) for n, w in zip(layers, weights)}
    bad = {n: w for n, w in out.items() if not (w >= 0 and math.isfinite(w))}
    if bad:
        raise ValueError(f"style_layer_weights must be finite and ≥ 0, got {bad}")
    return out


def _blend_weights(n: int, blend: Sequence[float] | None) -> list[float]:
    if blend is None:
        return [1.0 / n] * n
    blend = [float(b) for b in blend]
    if len(blend) != n or any(b < 0 or not math.isfinite(b) for b in blend) or sum(blend) <= 0:
        raise ValueError(f"style_blend must be {n} finite non-negative numbers with a positive sum, got {blend}")
    total = sum(blend)
    return [b / total for b in blend]


def _check_weight(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number ≥ 0, got {value!r}")
