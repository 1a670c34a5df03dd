"""The optimisation loop of Gatys et al.: targets computed once, then Adam or L-BFGS on the pixels.

Three layers of API, from convenient to explicit:

* :func:`stylize` — images in, :class:`StyleResult` out.
* :class:`Objective` — the loss as a module, with content/style targets computed once (a style lab
  re-uses one objective for many runs).
* :func:`optimize` — runs Adam or L-BFGS on an image against an objective, records history,
  calls a callback, stops cleanly on request, on Ctrl-C, or on a non-finite loss.
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import torch
from torch import nn

from .gram import gram_matrix
from .images import load_image, match_size, resize_max_side, save_image
from .losses import content_loss, style_layer_loss, tv_loss
from .settings import default_device
from .vgg import VGG19Features, deepest_layer, layer_index, load_vgg19

DEFAULT_CONTENT_LAYERS: tuple[str, ...] = ("relu4_2",)
DEFAULT_STYLE_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
OPTIMIZERS = ("adam", "lbfgs")
INITS = ("content", "noise", "style")
# Activations of the Caffe model (0-255 input) are ~60x those of ImageNet-normalised models, so the
# style term (4th power of activations) vs the content term (2nd power) differs by ~60². These are the
# defaults that give a balanced picture for each preprocessing convention (see notebook 05).
DEFAULT_STYLE_WEIGHT = {"caffe": 1e2, "imagenet": 3e5}
DEFAULT_LR = {"adam": 0.02, "lbfgs": 1.0}
LOSS_TERMS = ("total", "content", "style", "tv")


class StopOptimization(Exception):
    """Raised inside a callback (or returned as True) to end a run early and keep the image so far."""


@dataclass
class StepInfo:
    """What a callback receives every ``callback_every`` steps."""

    step: int
    steps: int
    losses: dict[str, float]
    image: torch.Tensor  # (1, 3, H, W) in [0, 1], detached, on the optimisation device


@dataclass
class StyleResult:
    """Outcome of a run: the image (CPU, (1,3,H,W), in [0,1]), per-step loss history, timings."""

    image: torch.Tensor
    history: dict[str, list[float]]
    steps_done: int
    timings: dict[str, float]
    stopped: str = "finished"  # "finished" | "callback" | "interrupted" | "non-finite loss"
    message: str = ""
    settings: dict = field(default_factory=dict)

    @property
    def final_losses(self) -> dict[str, float]:
        """The last recorded value of each loss term."""
        return {k: v[-1] for k, v in self.history.items() if v}

    def save(self, path: str | Path) -> Path:
        """Write the image (PNG/JPEG by suffix)."""
        return save_image(self.image, path)


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
        tv_weight: float = 1.0,
        gram_normalize: str = "chw",
    ):
        super().__init__()
        self.content_layers = _check_layers(content_layers, "content_layers")
        self.style_layers = _check_layers(style_layers, "style_layers")
        if not self.content_layers and not self.style_layers:
            raise ValueError("content_layers and style_layers are both empty: name at least one layer")
        self.model = model.truncated(deepest_layer(self.content_layers + self.style_layers))
        self.layers = list(dict.fromkeys(self.content_layers + self.style_layers))
        self.gram_normalize = gram_normalize
        self.content_weight = float(content_weight)
        self.style_weight = float(DEFAULT_STYLE_WEIGHT[model.preprocess.convention] if style_weight is None else style_weight)
        self.tv_weight = float(tv_weight)
        self.style_layer_weights = _layer_weights(self.style_layers, style_layer_weights)
        self.set_targets(content, styles, style_blend)

    @torch.no_grad()
    def set_targets(self, content: torch.Tensor, styles: Sequence[torch.Tensor], style_blend: Sequence[float] | None = None) -> None:
        """(Re)compute the content activations and blended style Gram targets."""
        if not styles:
            raise ValueError("at least one style image is needed")
        blend = _blend_weights(len(styles), style_blend)
        feats = self.model(content, self.content_layers) if self.content_layers else {}
        self.content_targets = {n: feats[n].detach() for n in self.content_layers}
        grams: dict[str, torch.Tensor] = {}
        for w, style in zip(blend, styles):
            sf = self.model(style, self.style_layers) if self.style_layers else {}
            for n in self.style_layers:
                g = w * gram_matrix(sf[n], self.gram_normalize)
                grams[n] = g if n not in grams else grams[n] + g
        self.style_targets = grams

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = self.model(image, self.layers)
        zero = image.new_zeros((), dtype=torch.promote_types(image.dtype, torch.float32))
        c = sum((content_loss(feats[n], self.content_targets[n]) for n in self.content_layers), zero)
        s = sum(
            (self.style_layer_weights[n] * style_layer_loss(feats[n], self.style_targets[n], self.gram_normalize)
             for n in self.style_layers),
            zero,
        )
        t = tv_loss(image) if self.tv_weight else zero
        total = self.content_weight * c + self.style_weight * s + self.tv_weight * t
        return {"total": total, "content": c, "style": s, "tv": t}


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


def optimize(
    objective: Objective,
    init: torch.Tensor,
    *,
    steps: int = 300,
    optimizer: str = "adam",
    lr: float | None = None,
    lr_decay: bool = True,
    callback: Callable[[StepInfo], bool | None] | None = None,
    callback_every: int = 10,
    progress: bool = False,
) -> StyleResult:
    """Optimise the pixels of ``init`` (RGB in [0, 1]) to lower ``objective``.

    Adam keeps pixels in [0, 1] after every step and, with ``lr_decay``, follows a cosine schedule
    to 5 % of ``lr``; L-BFGS uses a strong-Wolfe line search and the result is clipped at the end.
    One "step" is one objective evaluation (L-BFGS's line search counts its evaluations).

    The run ends early, keeping the image so far, when the callback returns True or raises
    :class:`StopOptimization`, on KeyboardInterrupt, or when a loss turns non-finite (then the last
    image with finite losses is returned and ``message`` names the term).
    """
    if not isinstance(steps, int) or steps <= 0:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer={optimizer!r}; choose one of {OPTIMIZERS}")
    lr = DEFAULT_LR[optimizer] if lr is None else lr
    if not (isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if callback_every <= 0:
        raise ValueError(f"callback_every must be ≥ 1, got {callback_every}")

    x = init.detach().clone().clamp_(0, 1).requires_grad_(True)
    history: dict[str, list[float]] = {k: [] for k in LOSS_TERMS}
    pending: list[torch.Tensor] = []  # stacked loss terms not yet copied to the host
    state = {"step": 0, "last_good": x.detach().clone(), "stop": "finished", "message": ""}
    bar = _progress_bar(steps) if progress else None

    def flush() -> None:
        """Copy pending losses to the host (one sync), check they are finite, remember a good image."""
        if not pending:
            return
        values = torch.stack(pending).cpu().tolist()
        pending.clear()
        for row in values:
            for k, v in zip(LOSS_TERMS, row):
                history[k].append(v)
        first_bad = next((i for i, row in enumerate(values) if not all(map(math.isfinite, row))), None)
        if first_bad is not None:
            row = values[first_bad]
            terms = [k for k, v in zip(LOSS_TERMS, row) if k != "total" and not math.isfinite(v)] or ["total"]
            step = state["step"] - len(values) + first_bad + 1
            state["stop"] = "non-finite loss"
            state["message"] = (
                f"the {' and '.join(terms)} loss became non-finite at step {step}; likely causes: a learning "
                f"rate too high (lr={lr}), extreme loss weights, or a broken input image. "
                "Returned the last image whose losses were finite."
            )
            raise StopOptimization
        state["last_good"] = x.detach().clone()
        if bar is not None:
            bar.n = state["step"]
            bar.set_postfix({k: f"{history[k][-1]:.3g}" for k in LOSS_TERMS}, refresh=False)
            bar.refresh()

    def evaluate() -> torch.Tensor:
        if state["step"] >= steps:
            raise StopOptimization
        losses = objective(x)
        losses["total"].backward()
        state["step"] += 1
        pending.append(torch.stack([losses[k].detach().float() for k in LOSS_TERMS]))
        step = state["step"]
        if step % callback_every == 0 or step == steps:
            flush()
            if callback is not None:
                info = StepInfo(step, steps, {k: history[k][-1] for k in LOSS_TERMS}, x.detach().clamp(0, 1))
                if callback(info):
                    state["stop"] = "callback"
                    raise StopOptimization
        return losses["total"]

    t0 = time.perf_counter()
    try:
        if optimizer == "adam":
            opt = torch.optim.Adam([x], lr=lr)
            while state["step"] < steps:
                if lr_decay:
                    opt.param_groups[0]["lr"] = lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * state["step"] / steps)))
                opt.zero_grad(set_to_none=True)
                evaluate()
                opt.step()
                with torch.no_grad():
                    x.clamp_(0, 1)
        else:
            opt = torch.optim.LBFGS([x], lr=lr, max_iter=steps, max_eval=steps + 1, history_size=50,
                                    tolerance_grad=0.0, tolerance_change=0.0, line_search_fn="strong_wolfe")

            def closure() -> torch.Tensor:
                opt.zero_grad(set_to_none=True)
                return evaluate()

            while state["step"] < steps:
                before = state["step"]
                opt.step(closure)
                if state["step"] == before:  # converged exactly: nothing left to do
                    break
        try:
            flush()
        except StopOptimization:
            pass
    except StopOptimization:
        if state["stop"] == "finished" and state["step"] < steps:
            state["stop"] = "callback"
        if state["stop"] != "non-finite loss":
            try:
                flush()
            except StopOptimization:
                pass
    except KeyboardInterrupt:
        state["stop"] = "interrupted"
        state["message"] = f"interrupted at step {state['step']}; returning the image so far"
        pending.clear()
    finally:
        if bar is not None:
            bar.close()
    elapsed = time.perf_counter() - t0

    final = state["last_good"] if state["stop"] == "non-finite loss" else x.detach()
    final = torch.nan_to_num(final.float(), nan=0.0).clamp(0, 1).cpu()
    done = state["step"]
    timings = {"optimize_s": elapsed, "ms_per_step": 1000 * elapsed / max(done, 1)}
    return StyleResult(final, history, done, timings, state["stop"], state["message"])


def _progress_bar(steps: int):
    from tqdm.auto import tqdm

    return tqdm(total=steps, desc="stylize", unit="step")


def stylize(
    content,
    style,
    *,
    steps: int = 300,
    optimizer: str = "adam",
    content_layers: Sequence[str] = DEFAULT_CONTENT_LAYERS,
    style_layers: Sequence[str] = DEFAULT_STYLE_LAYERS,
    style_layer_weights: Sequence[float] | Mapping[str, float] | None = None,
    style_blend: Sequence[float] | None = None,
    content_weight: float = 1.0,
    style_weight: float | None = None,
    tv_weight: float = 1.0,
    init: str | torch.Tensor = "content",
    lr: float | None = None,
    size: int | None = None,
    style_scale: float = 1.0,
    weights: str | VGG19Features | None = None,
    device: str | torch.device | None = None,
    seed: int | None = 0,
    callback: Callable[[StepInfo], bool | None] | None = None,
    callback_every: int = 10,
    progress: bool = False,
) -> StyleResult:
    """Neural style transfer (Gatys et al.): paint ``content`` in the style of ``style``.

    Args:
        content: path, PIL image, ndarray or (1,3,H,W) tensor in [0, 1].
        style: the same kinds, or a list of them to blend (``style_blend`` weights).
        steps: objective evaluations. optimizer: ``"adam"`` or ``"lbfgs"``.
        content_layers, style_layers: VGG19 layer names (default relu4_2 / relu1_1 … relu5_1).
        style_layer_weights: one weight per style layer (list or {layer: weight}), default 1 each.
        content_weight, style_weight, tv_weight: loss weights (≥ 0). ``style_weight=None`` picks the
            default for the model's preprocessing (Caffe activations are ~60× larger).
        init: ``"content"``, ``"noise"``, ``"style"``, or an image tensor.
        lr: learning rate (default 0.02 for Adam on [0,1] pixels, 1 for L-BFGS).
        size: longer side of the result in pixels (content is resized; default: as loaded).
        style_scale: style images are resized so their longer side is ``style_scale`` × the content's.
        weights: a loaded :class:`VGG19Features` (re-used, fastest) or a name for :func:`load_vgg19`.
        device: ``"cpu"``, ``"cuda"``, ``"mps"``; default the best available.
        seed: seeds the noise init (runs on CPU are reproducible).
        callback: called every ``callback_every`` steps with a :class:`StepInfo`; return True to stop.
        progress: show a tqdm progress bar with the current losses.

    Returns:
        :class:`StyleResult` with ``image`` always finite and in [0, 1].
    """
    for name, value in (("content_weight", content_weight), ("tv_weight", tv_weight)):
        _check_weight(name, value)
    if style_weight is not None:
        _check_weight("style_weight", style_weight)
    if size is not None and (not isinstance(size, int) or size <= 0):
        raise ValueError(f"size must be a positive integer number of pixels, got {size!r}")
    if not (isinstance(style_scale, (int, float)) and style_scale > 0):
        raise ValueError(f"style_scale must be > 0, got {style_scale!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer={optimizer!r}; choose one of {OPTIMIZERS}")
    if isinstance(init, str) and init not in INITS:
        raise ValueError(f"init={init!r}; choose one of {INITS} or pass an image tensor")
    if not isinstance(steps, int) or isinstance(steps, bool) or steps <= 0:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    c_layers = _check_layers(content_layers, "content_layers")
    s_layers = _check_layers(style_layers, "style_layers")

    t0 = time.perf_counter()
    dev = default_device(device)
    content_img = load_image(content, size=size) if size is not None else load_image(content)
    min_side = _min_side_for(c_layers + s_layers)
    if min(content_img.shape[-2:]) < min_side:
        raise ValueError(
            f"the content image is {tuple(content_img.shape[-2:])} px; layer {deepest_layer(c_layers + s_layers)} "
            f"needs at least {min_side} px per side — use a larger size or shallower layers"
        )
    style_list = list(style) if isinstance(style, (list, tuple)) else [style]
    target_side = max(1, round(max(content_img.shape[-2:]) * style_scale))
    styles = [_at_least(resize_max_side(load_image(s), target_side), min_side) for s in style_list]
    model = weights if isinstance(weights, VGG19Features) else load_vgg19(weights, device=dev)
    model = model.to(dev)
    content_img = content_img.to(dev)
    styles = [s.to(dev) for s in styles]

    objective = Objective(
        model, content_img, styles,
        content_layers=c_layers, style_layers=s_layers, style_layer_weights=style_layer_weights,
        style_blend=style_blend, content_weight=content_weight, style_weight=style_weight, tv_weight=tv_weight,
    )
    start = _initial_image(init, content_img, styles[0], seed)
    setup_s = time.perf_counter() - t0
    result = optimize(objective, start, steps=steps, optimizer=optimizer, lr=lr, callback=callback,
                      callback_every=callback_every, progress=progress)
    result.timings["setup_s"] = setup_s
    result.settings = {
        "steps": steps, "optimizer": optimizer, "content_layers": c_layers, "style_layers": s_layers,
        "content_weight": objective.content_weight, "style_weight": objective.style_weight,
        "tv_weight": tv_weight, "init": init if isinstance(init, str) else "tensor",
        "lr": DEFAULT_LR[optimizer] if lr is None else lr, "weights": model.weights_name,
        "device": str(dev), "size": tuple(content_img.shape[-2:]), "seed": seed,
    }
    return result


def _at_least(image: torch.Tensor, min_side: int) -> torch.Tensor:
    """Upscale (aspect kept) so the shorter side is at least ``min_side`` — deep layers need room."""
    h, w = image.shape[-2:]
    if min(h, w) >= min_side:
        return image
    scale = min_side / min(h, w)
    return match_size(image, (max(min_side, round(h * scale)), max(min_side, round(w * scale))))


def _initial_image(init, content: torch.Tensor, style: torch.Tensor, seed: int | None) -> torch.Tensor:
    if isinstance(init, torch.Tensor):
        return match_size(load_image(init).to(content.device), tuple(content.shape[-2:]))
    if init == "content":
        return content.clone()
    if init == "style":
        return match_size(style, tuple(content.shape[-2:]))
    gen = torch.Generator().manual_seed(0 if seed is None else seed)
    noise = torch.rand(content.shape, generator=gen)
    return noise.to(content.device)
