"""The style lab's logic: run style transfer again and again with other weights, paying only for the optimisation.

A re-run that changes only loss weights (the style/content ratio, the TV weight, the per-layer style
weights) re-uses the :class:`~nsthelpers.objective.Objective` of the previous run: its targets (content
activations, style Gram matrices) are computed once per ``(style image, size, layers)``, and each run
gives it its own weights (:meth:`~nsthelpers.objective.Objective.with_weights`). :class:`StyleLab` holds
that cache; the ipywidgets front end (:class:`nsthelpers.widgets.StyleLabWidget`) only maps controls to
:meth:`StyleLab.run`'s keywords.

    lab = StyleLab(model, nst.data.content_photo("astronaut"))
    a = lab.run(style="starry_night", size=128, steps=50, log10_ratio=2)
    b = lab.run(style="starry_night", size=128, steps=50, log10_ratio=3)   # no new targets
    lab.stats  # {'targets_computed': 1, 'cache_hits': 1, 'runs': 2}
"""
from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any, Callable, Mapping, Sequence

import torch

from .. import data
from .. import checks
from ..images import load_image, resize_max_side
from ..starts import at_least
from ..loop import StepInfo, StyleResult
from ..objective import LossWeights, Objective, default_style_weight, default_tv_weight
from ..settings import default_device, default_size, resolve_size
from ..specs import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS, PictureSpec, RunSpec
from ..stages import AtSize, StagePlan, run_stages
from ..vgg import VGG19Features, deepest_layer

#: Style images offered by default: the three paintings (generated fallbacks offline), then the textures.
LAB_STYLES: tuple[str, ...] = (*data.ARTWORKS, *data.TEXTURES)

#: |log10_ratio| beyond this is refused: 10**30 × a loss already overflows float32 (3.4e38) for losses above 3e8.
MAX_LOG10_RATIO = 30


class StyleLab:
    """Style transfer for one content image with cached targets, for labs that re-run with new weights.

    Args:
        model: a loaded :class:`~nsthelpers.VGG19Features` (moved to ``device``).
        content: the content image (path, PIL, ndarray or (1,3,H,W) tensor); resized per run.
        styles: the style images to offer: names for :func:`nsthelpers.data.style_image` (default
            :data:`LAB_STYLES`: the paintings, offline their generated fallbacks, and the textures),
            or a mapping ``name -> image`` (anything :func:`nsthelpers.load_image` takes).
        content_layers, style_layers: fixed for the lab (the targets depend on them).
        device: default the best available. seed: for ``init="noise"``.
        max_cached: how many objectives (style × size) to keep; the oldest is dropped first.
        style_max_size: longer side at which named style images are loaded (then resized per run).

    ``stats`` counts ``targets_computed`` (objectives built), ``cache_hits`` and ``runs``;
    ``runs`` lists ``(params, result)`` of every finished run, oldest first.
    """

    def __init__(
        self,
        model: VGG19Features,
        content,
        styles: Sequence[str] | Mapping[str, Any] | None = None,
        *,
        content_layers: Sequence[str] = DEFAULT_CONTENT_LAYERS,
        style_layers: Sequence[str] = DEFAULT_STYLE_LAYERS,
        device: str | torch.device | None = None,
        seed: int = 0,
        max_cached: int = 8,
        style_max_size: int = 512,
    ) -> None:
        if not isinstance(model, VGG19Features):
            raise ValueError(f"model must be a loaded VGG19Features (nst.load_vgg19()), got {type(model).__name__}")
        self.device = default_device(device)
        self.model = model.to(self.device)
        self.content = load_image(content)
        self.content_layers = checks.layer_names("content_layers", content_layers)
        self.style_layers = checks.layer_names("style_layers", style_layers)
        if not self.style_layers:
            raise ValueError("style_layers is empty: the lab needs at least one style layer")
        self.min_side = checks.min_side_for(self.content_layers + self.style_layers)
        self._given = dict(styles) if isinstance(styles, Mapping) else {}
        self.style_names: list[str] = list(self._given) if isinstance(styles, Mapping) else list(styles or LAB_STYLES)
        if not self.style_names:
            raise ValueError("styles is empty: name at least one style image")
        self.seed = seed
        self.max_cached = max(1, int(max_cached))
        self.style_max_size = style_max_size
        self._style_images: dict[str, torch.Tensor] = {}
        self._objectives: OrderedDict[tuple, Objective] = OrderedDict()
        self.stats = {"targets_computed": 0, "cache_hits": 0, "runs": 0}
        self.runs: list[tuple[dict, StyleResult]] = []

    # ------------------------------------------------------------------ defaults and inputs
    @property
    def default_log10_ratio(self) -> float:
        """log10 of the package's default style weight for this model (content weight 1): 7 for caffe
        (1e7), about 3.5 for ImageNet-normalised weights (3e3); see :data:`~nsthelpers.objective.DEFAULT_STYLE_WEIGHT`."""
        return math.log10(default_style_weight(self.model.preprocess.convention))

    @property
    def default_tv_weight(self) -> float:
        """The package's default TV weight for this model: 1e8 for caffe, 3e4 for ImageNet-normalised weights."""
        return default_tv_weight(self.model.preprocess.convention)

    @property
    def default_size(self) -> int:
        """The size of a run when none is given: the profile's (``DEFAULT_SIZES["lab"]`` in
        :mod:`nsthelpers.settings`: 256 px on a CPU and 512 on a GPU, as notebook 06 starts), never larger
        than the photo."""
        return default_size(max(self.content.shape[-2:]), kind="lab", device=self.device)

    def default_params(self, *, size: int | str | None = None, steps: int = 100) -> dict:
        """The keywords of :meth:`run` with their default values (what a lab's controls start at); ``size``
        as :meth:`run` takes it, resolved to pixels."""
        return {
            "style": self.style_names[0], "size": resolve_size(size, max(self.content.shape[-2:]), kind="lab",
                                                               device=self.device), "steps": steps, "coarse_steps": 0,
            "optimizer": RunSpec().optimizer, "init": PictureSpec().init,
            "log10_ratio": round(self.default_log10_ratio, 2), "tv_weight": self.default_tv_weight,
            "style_layer_weights": {n: 1.0 for n in self.style_layers}, "lr": None,
        }

    def style_image(self, name: str) -> torch.Tensor:
        """The style image called ``name`` at its loaded size (loaded once, then kept)."""
        if name not in self.style_names:
            raise ValueError(f"unknown style {name!r}; this lab offers {', '.join(self.style_names)}")
        if name not in self._style_images:
            img = load_image(self._given[name]) if name in self._given else \
                data.style_image(name, max_size=self.style_max_size)
            self._style_images[name] = img
        return self._style_images[name]

    def content_at(self, size: int) -> torch.Tensor:
        """The content image with its longer side at ``size`` pixels (CPU)."""
        return resize_max_side(self.content, size)

    def style_at(self, name: str, size: int) -> torch.Tensor:
        """The style image resized like :func:`nsthelpers.stylize` does (longer side = content's, style_scale 1)."""
        content = self.content_at(size)
        return at_least(resize_max_side(self.style_image(name), max(content.shape[-2:])), self.min_side)

    # ------------------------------------------------------------------ the cache
    def cache_key(self, style: str, size: int) -> tuple:
        """What the targets depend on: style image, size, and the lab's layers."""
        return (style, int(size), tuple(self.content_layers), tuple(self.style_layers))

    def objective(self, style: str, size: int) -> Objective:
        """The cached :class:`Objective` for ``(style, size)``, built (targets computed) on first use."""
        key = self.cache_key(style, size)
        if key in self._objectives:
            self._objectives.move_to_end(key)
            self.stats["cache_hits"] += 1
            return self._objectives[key]
        content = self.content_at(size)
        if min(content.shape[-2:]) < self.min_side:
            raise ValueError(f"size={size} makes the content {tuple(content.shape[-2:])} px; layer "
                             f"{deepest_layer(self.content_layers + self.style_layers)} needs at least "
                             f"{self.min_side} px per side")
        objective = Objective(self.model, content.to(self.device), [self.style_at(style, size).to(self.device)],
                              content_layers=self.content_layers, style_layers=self.style_layers)
        self.stats["targets_computed"] += 1
        self._objectives[key] = objective
        while len(self._objectives) > self.max_cached:
            self._objectives.popitem(last=False)
        return objective

    def clear_cache(self) -> None:
        """Forget the cached objectives (their targets are recomputed on the next run)."""
        self._objectives.clear()

    # ------------------------------------------------------------------ running
    def run(
        self,
        *,
        style: str,
        size: int | str | None = None,
        steps: int = 100,
        coarse_steps: int = 0,
        optimizer: str | None = None,
        init: str = "content",
        log10_ratio: float | None = None,
        tv_weight: float | None = None,
        style_layer_weights: Mapping[str, float] | Sequence[float] | None = None,
        lr: float | None = None,
        precision: str = "auto",
        callback: Callable[[StepInfo], bool | None] | None = None,
        callback_every: int = 10,
    ) -> StyleResult:
        """One stylisation: the same result as :func:`nsthelpers.stylize` with ``content_weight=1``,
        ``style_weight=10**log10_ratio`` (default: the package's), ``tv_weight`` (default: the package's) and
        per-layer style weights ``style_layer_weights`` (``{layer: weight}``, missing layers 1) — but
        targets come from the cache. With ``coarse_steps`` it first runs that many steps at half the size
        (its pictures reach the callback within a second or two), then ``steps`` at ``size``: the same as
        ``stylize(scales=[size // 2, size], steps=[coarse_steps, steps])``. ``optimizer`` (default:
        :class:`~nsthelpers.specs.RunSpec`'s), ``lr``, ``precision``, ``callback`` and ``callback_every``
        are passed to :func:`nsthelpers.optimize`. ``size``: pixels, ``"full"`` (the photo's own) or None
        (:attr:`default_size`: the profile's, never larger than the photo).

        The returned result's ``settings`` hold these parameters (``params``, with ``size`` in pixels) and
        whether the targets were cached (``cached``).
        """
        size = resolve_size(size, max(self.content.shape[-2:]), kind="lab", device=self.device)
        optimizer = RunSpec().optimizer if optimizer is None else optimizer
        weights = self._weights(log10_ratio, tv_weight, style_layer_weights)
        run_spec = RunSpec(optimizer=optimizer, lr=lr, precision=precision, callback=callback,  # type: ignore[arg-type]
                           callback_every=callback_every)
        picture = PictureSpec(init=init, seed=self.seed)  # type: ignore[arg-type]
        scales = [(size // 2, checks.positive_int("coarse_steps", coarse_steps)), (size, steps)] if coarse_steps \
            else [(size, steps)]
        hits = self.stats["cache_hits"]
        loss_weights = LossWeights(1.0, 10.0 ** weights["log10_ratio"], weights["tv_weight"],
                                   weights["style_layer_weights"])

        def at_size(side: int) -> AtSize:
            objective = self.objective(style, side).with_weights(loss_weights)
            return AtSize(objective, self.content_at(side), self.style_at(style, side), picture)

        result = run_stages(StagePlan.of_scales(scales, picture, optimizer), at_size, run_spec, self.device)
        result.settings.pop("loss_weights")
        params = {"style": style, "size": size, "steps": steps, "coarse_steps": coarse_steps, "optimizer": optimizer,
                  "init": init, **weights, "lr": lr}
        result.settings.update({"params": params, "cached": self.stats["cache_hits"] > hits,
                                "content_weight": 1.0, "style_weight": 10.0 ** weights["log10_ratio"]})
        self.stats["runs"] += 1
        self.runs.append((params, result))
        return result

    def _weights(self, log10_ratio: float | None, tv_weight: float | None,
                 style_layer_weights: Mapping[str, float] | Sequence[float] | None) -> dict[str, Any]:
        """The loss weights of a run, checked, with the package's defaults filled in."""
        ratio = self.default_log10_ratio if log10_ratio is None else float(log10_ratio)
        if not math.isfinite(ratio) or abs(ratio) > MAX_LOG10_RATIO:
            raise ValueError(f"log10_ratio must be a number between {-MAX_LOG10_RATIO} and {MAX_LOG10_RATIO} "
                             f"(a style weight of 1e-{MAX_LOG10_RATIO} to 1e{MAX_LOG10_RATIO}), got {log10_ratio!r}")
        tv = checks.weight("tv_weight", self.default_tv_weight if tv_weight is None else tv_weight)
        return {"log10_ratio": ratio, "tv_weight": tv,
                "style_layer_weights": checks.layer_weights(self.style_layers, style_layer_weights)}


def describe_changes(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
    """Human-readable differences between two parameter dicts of :meth:`StyleLab.run`, e.g.
    ``["log10_ratio 2 → 3", "relu1_1 weight 1 → 0"]`` (empty when nothing changed; ``["first run"]`` without ``old``)."""
    if old is None:
        return ["first run"]

    def fmt(v: Any) -> str:
        return f"{v:.3g}" if isinstance(v, float) else str(v)

    out = []
    for key, value in new.items():
        before = old.get(key)
        if key == "style_layer_weights" and isinstance(value, Mapping) and isinstance(before, Mapping):
            out += [f"{n} weight {fmt(before.get(n))} → {fmt(w)}" for n, w in value.items() if before.get(n) != w]
        elif before != value:
            out.append(f"{key} {fmt(before)} → {fmt(value)}")
    return out
