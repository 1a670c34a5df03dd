"""The neural-style-transfer loss as a module: content, style (Gram, masked Gram or mean/covariance), TV.

Targets (content activations, style statistics) are computed once when the objective is built. What
the loss is made of comes from a :class:`~nsthelpers.specs.LossSpec`; ``Objective(model, photo,
[painting], style_weight=1e6)`` builds one from keywords.
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from . import checks
from .losses import tv_loss
from .specs import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS, STYLE_LOSSES, LossSpec
from .targets import ContentTargets, StyleTargets, digest
from .vgg import VGG19Features, deepest_layer

__all__ = ["DEFAULT_CONTENT_LAYERS", "DEFAULT_STYLE_LAYERS", "DEFAULT_STYLE_WEIGHT", "DEFAULT_STYLE_WEIGHT_UNBALANCED",
           "DEFAULT_TV_WEIGHT",
           "STYLE_LOSSES", "LossWeights", "Objective", "default_style_weight", "default_tv_weight"]

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


@dataclass(frozen=True)
class LossWeights:
    """The weights of an objective's terms: ``total = content_weight·content + style_weight·style + tv_weight·tv``,
    the style term a sum over layers weighted by ``style_layer_weights``. Each weight is a number, or for a
    batch an (N,) tensor (one weight per item)."""

    content_weight: Any = 1.0
    style_weight: Any = 1.0
    tv_weight: Any = 0.0
    style_layer_weights: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def style_times(self, factor: float) -> LossWeights:
        """These weights with the style weight × ``factor`` (the same object for 1)."""
        return self if factor == 1 else dataclasses.replace(self, style_weight=self.style_weight * factor)


def _weight_property(name: str) -> Any:
    """``objective.<name>``: the field of its :class:`LossWeights`; assigning replaces its weights with a copy
    with that field changed (the targets stay)."""

    def get(self: Objective) -> Any:
        return getattr(self.weights, name)

    def set_(self: Objective, value: Any) -> None:
        self.weights = dataclasses.replace(self.weights, **{name: value})

    return property(get, set_, doc=f"``weights.{name}``")


class Objective(nn.Module):
    """The NST loss for one content image and one or more style images, targets computed once.

    ``objective(image)`` returns ``{"total", "content", "style", "tv"}`` (0-dim tensors). It is made of small
    modules: :class:`~nsthelpers.targets.ContentTargets` (``objective.content``) and
    :class:`~nsthelpers.targets.StyleTargets` (``objective.style``: one statistic module per style layer,
    targets held as buffers). The weights (``content_weight``, ``style_weight``, ``tv_weight``,
    ``style_layer_weights``) form a :class:`LossWeights` (``objective.weights``); ``objective(image, weights)``
    scores with other weights, and :meth:`with_weights` gives the same objective (the same targets, nothing
    recomputed) with other weights. Several style images are blended by ``style_blend`` (weights of their
    targets), or each paints its own region with ``masks``.

    Args:
        model: a loaded VGG19 (:func:`nsthelpers.load_vgg19`).
        content: the content image (1, 3, H, W) in [0, 1] (or a batch), on the model's device.
        styles: the style images; may be empty when ``style_layers`` is (or when ``style_targets`` is given).
        spec: a :class:`~nsthelpers.specs.LossSpec`; keywords override its fields (or build one).
        style_targets: the style's targets computed before (:meth:`style_targets_for`), for many contents.
    """

    def __init__(self, model: VGG19Features, content: torch.Tensor, styles: Sequence[torch.Tensor] = (),
                 spec: LossSpec | None = None, *, style_targets: StyleTargets | None = None, **options: Any) -> None:
        super().__init__()
        spec = dataclasses.replace(spec, **options) if spec is not None else LossSpec(**options)
        self.spec = spec
        self.layers = spec.layers  # what forward asks the model for (deep dive 05_x adds the conv outputs)
        self.model = model.truncated(deepest_layer(self.layers))
        convention = model.preprocess.convention
        self.weights = LossWeights(
            spec.content_weight,
            float(default_style_weight(convention, spec.balance_layers) if spec.style_weight is None
                  else spec.style_weight),
            float(default_tv_weight(convention) if spec.tv_weight is None else spec.tv_weight),
            checks.layer_weights(spec.style_layers, spec.style_layer_weights))
        hw = (int(content.shape[-2]), int(content.shape[-1]))
        self.masks = None if spec.masks is None else _check_masks(spec.masks, len(styles), hw, content.device)
        if style_targets is not None and list(style_targets) != list(spec.style_layers):
            raise ValueError(f"style_targets are for the layers {list(style_targets)}, this objective's style layers "
                             f"are {list(spec.style_layers)}: build them with the same spec")
        self.set_targets(content, styles, spec.style_blend, style_targets=style_targets)

    @classmethod
    def style_targets_for(cls, model: VGG19Features, styles: Sequence[torch.Tensor], spec: LossSpec | None = None,
                          **options: Any) -> StyleTargets:
        """The style's targets alone (no content image), for ``Objective(..., style_targets=...)``: a trainer
        that scores many contents against one style computes them once. Masks need the content: not here."""
        spec = dataclasses.replace(spec, **options) if spec is not None else LossSpec(**options)
        if spec.masks is not None:
            raise ValueError("masks depend on the content image: build the Objective with the style images instead")
        return StyleTargets(model, styles, spec.style_layers, style_loss=spec.style_loss, blend=spec.style_blend,
                            balance=spec.balance_layers, normalize=spec.gram_normalize)

    @torch.no_grad()
    def set_targets(self, content: torch.Tensor, styles: Sequence[torch.Tensor] = (),
                    style_blend: Sequence[float] | None = None, *, style_targets: StyleTargets | None = None) -> None:
        """(Re)compute the content activations and the (blended) style targets."""
        spec = self.spec
        if spec.style_layers and not styles and style_targets is None:
            raise ValueError("at least one style image is needed (or pass style_layers=[])")
        self._content_image = content.detach()  # for fingerprint()
        feats = self.model(content, self.layers)
        self.content = ContentTargets(feats, spec.content_layers)
        if style_targets is None:
            layer_hw = {n: tuple(feats[n].shape[-2:]) for n in spec.style_layers} if self.masks is not None else None
            style_targets = StyleTargets(self.model, styles, spec.style_layers, style_loss=spec.style_loss,
                                         blend=style_blend, masks=self.masks, layer_hw=layer_hw,
                                         balance=spec.balance_layers, normalize=spec.gram_normalize)
        self.style = style_targets

    # ------------------------------------------------------------------ what the spec says, read-only
    @property
    def content_layers(self) -> list[str]:
        return list(self.spec.content_layers)

    @property
    def style_layers(self) -> list[str]:
        return list(self.spec.style_layers)

    @property
    def gram_normalize(self) -> str:
        return self.spec.gram_normalize

    # ------------------------------------------------------------------ the targets, as plain dicts
    @property
    def content_targets(self) -> dict[str, torch.Tensor]:
        """``{layer: the content's activations}``."""
        return self.content.targets()

    @property
    def style_targets(self) -> dict[str, Any]:
        """``{layer: target}``: a Gram matrix; ``(mean, cov)``; a W2 dict; with masks a list of Grams."""
        return self.style.targets()

    @property
    def layer_scale(self) -> dict[str, float]:
        """``{layer: 1 / its style loss for all-zero features}`` with ``balance_layers``, else 1 each."""
        return self.style.scale

    # ------------------------------------------------------------------ the weights (each one a field of ``weights``)
    content_weight = _weight_property("content_weight")
    style_weight = _weight_property("style_weight")
    tv_weight = _weight_property("tv_weight")
    style_layer_weights = _weight_property("style_layer_weights")

    def with_weights(self, weights: LossWeights | None = None, **changes: Any) -> Objective:
        """This objective with other weights: ``weights`` (default its own) with ``changes`` applied, e.g.
        ``objective.with_weights(style_weight=1e6)``. The model and the targets are shared, not copied or
        recomputed; this objective is left as it is."""
        view = copy.copy(self)
        view.weights = dataclasses.replace(self.weights if weights is None else weights, **changes)
        return view

    def fingerprint(self) -> dict[str, Any]:
        """What defines the picture this objective paints: digests of the content, style and mask images, and
        the weights, layers and loss settings. A checkpoint records it, so that it resumes only its own picture."""
        spec, w = self.spec, self.weights
        blend = self.style.blend_weights
        return {
            "content image": digest(self._content_image), "style images": self.style.digests(),
            "masks": None if self.masks is None else [digest(m) for m in self.masks],
            "style_blend": blend, "weights": self.model.weights_name, "content_layers": list(spec.content_layers),
            "style_layers": list(spec.style_layers), "style_loss": spec.style_loss,
            "gram_normalize": str(spec.gram_normalize), "content_weight": float(w.content_weight),
            "style_weight": float(w.style_weight), "tv_weight": float(w.tv_weight),
            "style_layer_weights": {k: float(v) for k, v in dict(w.style_layer_weights).items()},
        }

    def forward(self, image: torch.Tensor, weights: LossWeights | None = None) -> dict[str, torch.Tensor]:
        """The loss terms of ``image``: 0-dim tensors for one picture, (N,) vectors for a batch of N (each
        item scored against the same targets, with its own weights when the weights are (N,) tensors).
        ``weights`` (default :attr:`weights`) weigh the terms."""
        w = self.weights if weights is None else weights
        feats = self.model(image, self.layers)
        per_item = image.shape[0] > 1
        zero = image.new_zeros((image.shape[0],) if per_item else (), dtype=torch.promote_types(image.dtype, torch.float32))
        c = self.content(feats, zero, per_item)
        s = self.style(feats, w.style_layer_weights, zero, per_item)
        t = tv_loss(image, per_item)  # reported even at weight 0: how smooth the picture is
        total = w.content_weight * c + w.style_weight * s + w.tv_weight * t
        return {"total": total, "content": c, "style": s, "tv": t}


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
