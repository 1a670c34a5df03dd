"""The neural-style-transfer loss as a module: content, style (Gram, masked Gram or mean/covariance), TV.

Targets (content activations, style statistics) are computed once when the objective is built. What
the loss is made of comes from a :class:`~nsthelpers.specs.LossSpec`; ``Objective(model, photo,
[painting], style_weight=1e6)`` builds one from keywords.
"""
from __future__ import annotations

import dataclasses
import hashlib
from typing import Any, Sequence

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
    tv_loss,
    w2_style_loss,
    w2_target,
)
from .specs import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS, STYLE_LOSSES, LossSpec
from .vgg import VGG19Features, deepest_layer

__all__ = ["DEFAULT_CONTENT_LAYERS", "DEFAULT_STYLE_LAYERS", "DEFAULT_STYLE_WEIGHT", "DEFAULT_STYLE_WEIGHT_UNBALANCED",
           "DEFAULT_TV_WEIGHT",
           "STYLE_LOSSES", "Objective", "default_style_weight", "default_tv_weight"]

# With balanced layers (the default) each layer's style loss is a ratio (1 for all-zero features), so the
# style weight only has to match the content loss, mean((F − P)²) of relu4_2 activations: for the Caffe
# model (0–255 input) those are ~60× an ImageNet-normalised model's, hence 1e7 against 1e7 / 60² ≈ 3e3.
# 1e7 was chosen on three pairs at 288 px (3e6 … 3e7 give nearly the same pictures after 40 L-BFGS steps;
# benchmarks/README.md). stylize paints at this weight, then relaxes it (transfer.DEFAULT_RELAX_TO).
DEFAULT_STYLE_WEIGHT = {"caffe": 1e7, "imagenet": 3e3}
# Without balancing (``balance_layers=False``) the raw Gram losses are ~1e6 with Caffe activations (the 4th
# power of activations against the content's 2nd, so ~60² apart between the conventions).
DEFAULT_STYLE_WEIGHT_UNBALANCED = {"caffe": 1e2, "imagenet": 3e5}
# The TV term (mean squared difference of neighbouring [0, 1] pixels, ~0.01) does not scale with the
# activations, so its weight must: with caffe weights at 192 px (Tübingen / Starry Night, 100 Adam steps)
# 1e8 removes the pixel-level speckle and keeps the strokes, 1e9 blurs them, 1e10 washes the picture out,
# 1 does nothing at all. The ImageNet value is the caffe one over the ~60² ratio of the content terms.
DEFAULT_TV_WEIGHT = {"caffe": 1e8, "imagenet": 3e4}


def default_style_weight(convention: str, balanced: bool = True) -> float:
    """The package's style weight for a preprocessing convention (``"caffe"`` or ``"imagenet"``), with
    balanced style layers (the default) or raw ones."""
    return (DEFAULT_STYLE_WEIGHT if balanced else DEFAULT_STYLE_WEIGHT_UNBALANCED)[convention]


def default_tv_weight(convention: str) -> float:
    """The package's TV weight for a preprocessing convention (``"caffe"`` or ``"imagenet"``)."""
    return DEFAULT_TV_WEIGHT[convention]


class Objective(nn.Module):
    """The NST loss for one content image and one or more style images, targets computed once.

    ``objective(image)`` returns ``{"total", "content", "style", "tv"}`` (0-dim tensors). The weights
    (``content_weight``, ``style_weight``, ``tv_weight``, ``style_layer_weights``) are plain attributes,
    so a lab can change them without recomputing targets. Several style images are blended by
    ``style_blend`` (weights of their targets), or each paints its own region with ``masks``.

    Args:
        model: a loaded VGG19 (:func:`nsthelpers.load_vgg19`).
        content: the content image (1, 3, H, W) in [0, 1], on the model's device.
        styles: the style images; may be empty when ``style_layers`` is.
        spec: a :class:`~nsthelpers.specs.LossSpec`; keywords override its fields (or build one).
    """

    def __init__(self, model: VGG19Features, content: torch.Tensor, styles: Sequence[torch.Tensor] = (),
                 spec: LossSpec | None = None, **options: Any) -> None:
        super().__init__()
        spec = dataclasses.replace(spec, **options) if spec is not None else LossSpec(**options)
        self.spec = spec
        self.style_loss_type = spec.style_loss
        self.content_layers = list(spec.content_layers)
        self.style_layers = list(spec.style_layers)
        self.layers = spec.layers
        self.model = model.truncated(deepest_layer(self.layers))
        self.gram_normalize = spec.gram_normalize
        convention = model.preprocess.convention
        self.content_weight = spec.content_weight
        self.style_weight = float(default_style_weight(convention, spec.balance_layers)
                                  if spec.style_weight is None else spec.style_weight)
        self.tv_weight = float(default_tv_weight(convention) if spec.tv_weight is None else spec.tv_weight)
        self.style_layer_weights = checks.layer_weights(self.style_layers, spec.style_layer_weights)
        hw = (int(content.shape[-2]), int(content.shape[-1]))
        self.masks = None if spec.masks is None else _check_masks(spec.masks, len(styles), hw, content.device)
        self.set_targets(content, styles, spec.style_blend)

    @torch.no_grad()
    def set_targets(self, content: torch.Tensor, styles: Sequence[torch.Tensor] = (),
                    style_blend: Sequence[float] | None = None) -> None:
        """(Re)compute the content activations and the (blended) style targets."""
        if self.style_layers and not styles:
            raise ValueError("at least one style image is needed (or pass style_layers=[])")
        self._sources = (content.detach(), [s.detach() for s in styles], style_blend)  # for fingerprint()
        feats = self.model(content, self.layers)
        self.content_targets = {n: feats[n].detach() for n in self.content_layers}
        style_feats = [self.model(s, self.style_layers) for s in styles] if self.style_layers else []
        if self.masks is not None:
            # one target per style image, each applied inside its own region (Gatys et al. 2017)
            self.layer_masks = {n: [F.interpolate(m, size=feats[n].shape[-2:], mode="area") for m in self.masks]
                                for n in self.style_layers}
            self.style_targets = {n: [gram_matrix(f[n], self.gram_normalize) for f in style_feats]
                                  for n in self.style_layers}
        else:
            blend = checks.blend_weights(len(styles), style_blend) if styles else []
            self.style_targets = {n: self._blended_target([f[n] for f in style_feats], blend)
                                  for n in self.style_layers}
        self.layer_scale = {n: self._balance(n, feats[n]) for n in self.style_layers}

    def fingerprint(self) -> dict[str, Any]:
        """What defines the picture this objective paints: digests of the content, style and mask images, and
        the weights, layers and loss settings. A checkpoint records it, so that it resumes only its own picture."""
        content, styles, blend = self._sources
        return {
            "content image": _digest(content), "style images": [_digest(s) for s in styles],
            "masks": None if self.masks is None else [_digest(m) for m in self.masks],
            "style_blend": None if blend is None else [float(b) for b in blend],
            "weights": self.model.weights_name, "content_layers": list(self.content_layers),
            "style_layers": list(self.style_layers), "style_loss": self.style_loss_type,
            "gram_normalize": str(self.gram_normalize), "content_weight": float(self.content_weight),
            "style_weight": float(self.style_weight), "tv_weight": float(self.tv_weight),
            "style_layer_weights": {k: float(v) for k, v in dict(self.style_layer_weights).items()},
        }

    def _balance(self, name: str, feats: torch.Tensor) -> float:
        """1 / (the layer's style loss for all-zero features) with ``balance_layers``, else 1.

        For the Gram loss that is ``1 / mean(A²)`` of the target Gram A: each layer's loss is then
        measured relative to the loss of all-zero features (not of a black picture: after preprocessing
        black is minus the mean pixel, and the biases make its features non-zero), so every layer counts
        alike; raw, the Caffe VGG19's relu4_1 term dominates (56× the next layer's for the astronaut and
        The Starry Night at 256 px, notebook 05b).
        """
        if not self.spec.balance_layers:
            return 1.0
        zero_loss = float(self._style_term(name, torch.zeros_like(feats[:1])))
        return 1.0 / zero_loss if zero_loss > 0 else 1.0

    def _blended_target(self, feats: list[torch.Tensor], blend: list[float]) -> Any:
        """One layer's style target: the blend of each style image's Gram (or mean and covariance)."""
        if self.style_loss_type == "gram":
            return torch.stack([w * gram_matrix(f, self.gram_normalize) for w, f in zip(blend, feats)]).sum(0)
        if self.style_loss_type == "w2":  # blend means and second raw moments (a mixture's), not covariances
            moments = [mean_second_moment(f) for f in feats]
            mean = torch.stack([w * m for w, (m, _) in zip(blend, moments)]).sum(0)
            second = torch.stack([w * s for w, (_, s) in zip(blend, moments)]).sum(0)
            return w2_target(mean, second)
        stats = [mean_cov(f) for f in feats]
        return (sum(w * m for w, (m, _) in zip(blend, stats)), sum(w * c for w, (_, c) in zip(blend, stats)))

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """The loss terms of ``image``: 0-dim tensors for one picture, (N,) vectors for a batch of N (each
        item scored against the same targets, with its own weights when the weights are (N,) tensors)."""
        feats = self.model(image, self.layers)
        per_item = image.shape[0] > 1
        zero = image.new_zeros((image.shape[0],) if per_item else (), dtype=torch.promote_types(image.dtype, torch.float32))
        c = sum((content_loss(feats[n], self.content_targets[n], per_item) for n in self.content_layers), zero)
        s = sum((self.style_layer_weights[n] * self.layer_scale[n] * self._style_term(n, feats[n], per_item)
                 for n in self.style_layers), zero)
        t = tv_loss(image, per_item)  # reported even at weight 0: how smooth the picture is
        total = self.content_weight * c + self.style_weight * s + self.tv_weight * t
        return {"total": total, "content": c, "style": s, "tv": t}

    def _style_term(self, name: str, feats: torch.Tensor, per_item: bool = False) -> torch.Tensor:
        target: Any = self.style_targets[name]
        if self.masks is not None:
            return torch.stack([masked_style_loss(feats, m, g, self.gram_normalize, per_item)
                                for m, g in zip(self.layer_masks[name], target)]).sum(0)
        if self.style_loss_type == "mean_cov":
            return mean_cov_loss(feats, target[0], target[1], per_item)
        if self.style_loss_type == "w2":
            return w2_style_loss(feats, target, per_item)
        return style_layer_loss(feats, target, self.gram_normalize, per_item)



def _check_masks(masks: Sequence[Any], n_styles: int, hw: tuple[int, int], device: torch.device) -> list[torch.Tensor]:
    """Masks as (1, 1, H, W) float tensors in [0, 1] at the content's size, one per style image."""
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
        if m.shape[-2:] != hw:
            m = F.interpolate(m, size=hw, mode="bilinear", align_corners=False)
        out.append(m.to(device))
    if not bool(torch.stack(out).sum(0).gt(0).any()):
        raise ValueError("masks cover no pixel: at least one mask must be non-zero somewhere")
    return out


def _digest(image: torch.Tensor) -> str:
    """A short SHA-256 of an image tensor's float32 values (the same picture gives the same digest)."""
    data = image.detach().to("cpu", torch.float32).contiguous()
    return hashlib.sha256(data.numpy().tobytes()).hexdigest()[:16]
