"""Several pictures in one batched optimisation: N contents at one size, or one pair under N settings.

A batch stacks the N pictures into one (N, 3, H, W) tensor: one forward and one backward pass per step
serve all of them, which is what makes batching pay on a GPU (a single 256-px run there is limited by
kernel launches, not arithmetic). The items stay independent: their losses are added, so each item's
gradient is its own loss's gradient, and Adam updates every pixel from its own gradient history alone —
a batched run follows each item's single run step for step (up to rounding). L-BFGS would not: its line
search and curvature model are shared by everything it optimises, so a batch would couple the pictures.
Batches therefore use Adam.

    results = nst.stylize_batch(photo, painting, variants=[{"style_weight": w} for w in (1e5, 1e6, 1e7)])
"""
from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import torch

from . import checks
from .images import load_image, match_size, resize_max_side
from .loop import StyleResult
from .objective import LossWeights, Objective
from .settings import default_device
from .specs import LossSpec, PictureSpec, RunSpec, split_options
from .stages import AtSize, StagePlan, run_stages, styles_at
from .vgg import VGG19Features, load_vgg19

__all__ = ["PER_ITEM_OPTIONS", "stylize_batch"]

#: what a variant may set for its own item
PER_ITEM_OPTIONS = ("content_weight", "style_weight", "tv_weight", "style_layer_weights", "seed")


def stylize_batch(contents: Any, style: Any, *, variants: Sequence[dict[str, Any]] | None = None,
                  weights: str | VGG19Features | None = None, device: str | torch.device | None = None,
                  **options: Any) -> list[StyleResult]:
    """Stylise N pictures in one batched Adam optimisation; returns one :class:`StyleResult` per item.

    Args:
        contents: one content image, or a list of N (each is resized to the first one's shape at ``size``).
        style: the style image (or a list, blended), shared by all items.
        variants: N dicts of per-item settings among :data:`PER_ITEM_OPTIONS` (the rest of the options
            are shared); with one content, N variants give N pictures of the same pair.
        weights, device, **options: as for :func:`nsthelpers.stylize` (``optimizer`` must be Adam;
            colour preservation, masks and checkpoints are not available for batches).

    Each result has its own image, per-step history and final losses; ``settings["batch"]`` is the
    batch size and ``settings["variant"]`` the item's variant. The timings are the whole batch's.
    """
    options.setdefault("optimizer", "adam")
    if isinstance(contents, (list, tuple)) and not contents:
        raise ValueError("contents is empty: give at least one content image")
    loss, run_spec, picture = split_options(**options)
    images = [load_image(c) for c in (contents if isinstance(contents, (list, tuple)) else [contents])]
    items = _variants(variants, len(images))
    _check_batchable(loss, run_spec, picture)
    dev = default_device(device)
    run_spec.check_device(dev)
    styles = [load_image(s) for s in (style if isinstance(style, (list, tuple)) else [style])]
    model = (weights if isinstance(weights, VGG19Features) else load_vgg19(weights, device=dev)).to(dev)
    seeds = [item.get("seed", picture.seed) for item in items]

    def at_size(side: int) -> AtSize:
        batch = _stacked_contents(images, side, len(items))
        checks.image_big_enough("content", tuple(batch.shape[-2:]), loss.layers)
        side_styles = styles_at(styles, batch, picture, checks.min_side_for(loss.layers))
        objective = Objective(model, batch.to(dev), [s.to(dev) for s in side_styles], loss)
        return AtSize(objective.with_weights(_per_item_weights(objective.weights, items, dev)), batch, side_styles[0],
                      picture, seeds=seeds)

    plan = StagePlan.of(picture, max(images[0].shape[-2:]), run_spec.optimizer, dev)
    return _split(run_stages(plan, at_size, run_spec, dev), items)


def _variants(variants: Sequence[dict[str, Any]] | None, n_contents: int) -> list[dict[str, Any]]:
    items = [dict(v) for v in variants] if variants is not None else [{} for _ in range(n_contents)]
    if n_contents > 1 and len(items) != n_contents:
        raise ValueError(f"variants: got {len(items)} for {n_contents} content images; give one per content "
                         "(or pass one content image)")
    if not items:
        raise ValueError("variants is empty: give at least one (or leave it out)")
    for i, item in enumerate(items):
        unknown = set(item) - set(PER_ITEM_OPTIONS)
        if unknown:
            raise ValueError(f"variants[{i}] sets {sorted(unknown)}; a variant may set only {PER_ITEM_OPTIONS} "
                             "(the other options are shared by the batch)")
    return items


def _check_batchable(loss: LossSpec, run_spec: RunSpec, picture: PictureSpec) -> None:
    """Refuse what a batch cannot do, naming the way out."""
    if run_spec.optimizer != "adam":
        raise ValueError("a batch needs optimizer='adam': L-BFGS's line search would couple the pictures "
                         "(run them one by one with nst.stylize instead)")
    if loss.masks is not None or picture.preserve_color is not None or run_spec.checkpoint_path is not None:
        raise ValueError("masks, preserve_color and checkpoint_path are not available for batches; "
                         "run those pictures one by one with nst.stylize")
    if picture.auto_downsize:
        raise ValueError("auto_downsize is not available for batches: give a size that fits (nst.estimate_bytes "
                         "tells what one picture needs; a batch of N needs about N times that), or run the pictures "
                         "one by one with nst.stylize")


def _stacked_contents(images: list[torch.Tensor], side: int, n: int) -> torch.Tensor:
    """The contents at this scale as one (n, 3, H, W) batch (all resized to the first one's shape)."""
    first = resize_max_side(images[0], side)
    resized = [first] + [match_size(img, tuple(first.shape[-2:])) for img in images[1:]]
    return torch.cat(resized if len(resized) == n else resized * n)


def _per_item_weights(weights: LossWeights, items: list[dict[str, Any]], dev: torch.device) -> LossWeights:
    """The batch's weights: one weight per item (a (N,) tensor) wherever a variant sets its own."""
    changes: dict[str, Any] = {}
    for key in ("content_weight", "style_weight", "tv_weight"):
        if any(key in item for item in items):
            default = getattr(weights, key)
            changes[key] = torch.tensor([checks.weight(key, item.get(key, default)) for item in items], device=dev)
    if any("style_layer_weights" in item for item in items):
        layers = list(weights.style_layer_weights)
        per_item = [checks.layer_weights(layers, item.get("style_layer_weights", weights.style_layer_weights))
                    for item in items]
        changes["style_layer_weights"] = {n: torch.tensor([w[n] for w in per_item], device=dev) for n in layers}
    return dataclasses.replace(weights, **changes)


def _split(batch: StyleResult, items: list[dict[str, Any]]) -> list[StyleResult]:
    """One result per item, each with its own image, history and final losses."""
    def pick(value: Any, i: int) -> Any:
        return value[i] if isinstance(value, list) else value  # a batch of one records plain numbers

    used = batch.settings.pop("loss_weights")
    raw = {k: getattr(used, k) for k in ("content_weight", "style_weight", "tv_weight")}
    out = []
    for i, item in enumerate(items):
        history = {k: [pick(row, i) for row in rows] for k, rows in batch.history.items()}
        final = {k: pick(v, i) for k, v in batch.final.items()}
        weights = {k: float(v[i]) if torch.is_tensor(v) and v.dim() else float(v) for k, v in raw.items()}
        settings = {**batch.settings, **weights, "batch": len(items), "variant": item}
        out.append(StyleResult(batch.image[i:i + 1].clone(), history, batch.steps_done, dict(batch.timings),
                               batch.stopped, batch.message, settings, final))
    return out
