"""Every option of a style-transfer run, in three typed objects with their defaults and their help texts.

* :class:`LossSpec`: *what* is optimised (layers, weights, style statistic, blend, masks); the
  :class:`~nsthelpers.objective.Objective` takes it.
* :class:`RunSpec`: *how* it is optimised (optimiser, learning rate, schedule, precision, CUDA graphs,
  stopping rule, callback, checkpoints); :func:`~nsthelpers.loop.optimize` takes it.
* :class:`PictureSpec`: the picture around the run (size, coarse-to-fine scales and steps, style scale,
  starting image, colour, seed, memory); :func:`~nsthelpers.transfer.stylize` uses it.

Users keep flat keywords (``nst.stylize(photo, painting, style_weight=1e6, size=384)``);
:func:`split_options` sorts them into the three objects once, and the command line
(:mod:`nsthelpers.cli`) and the style lab build their controls from the same fields, defaults and help
texts. Adding an option means adding one field (with its help) here and using it where it acts.
"""
from __future__ import annotations

import argparse
import dataclasses
import difflib
import inspect
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping, Sequence, get_args

import torch

from . import checks
from .gram import GRAM_NORMALIZATIONS
from .settings import DEFAULT_SIZES, FULL_SIZE

DEFAULT_CONTENT_LAYERS: tuple[str, ...] = ("relu4_2",)
DEFAULT_STYLE_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
StyleLossName = Literal["gram", "mean_cov", "w2"]
OptimizerName = Literal["adam", "lbfgs"]
Precision = Literal["auto", "fp32", "bf16"]
InitName = Literal["content", "noise", "style"]
ColorMode = Literal["luminance", "histogram"]
STYLE_LOSSES: tuple[str, ...] = get_args(StyleLossName)
OPTIMIZERS: tuple[str, ...] = get_args(OptimizerName)
PRECISIONS: tuple[str, ...] = get_args(Precision)
INITS: tuple[str, ...] = get_args(InitName)
PRESERVE_COLOR: tuple[str, ...] = get_args(ColorMode)


def option(help: str, *, cli: str | None = "", parse: Callable[[str], Any] | None = None,
           metavar: str | None = None, internal: bool = False) -> dict[str, Any]:
    """Field metadata: the help text, and how the command line spells the option.

    ``cli=""`` derives ``--the-name`` from the field name, ``cli=None`` keeps the option out of the CLI
    (it takes Python objects, such as a callback), any other string is the flag to use. ``parse`` turns
    the command-line text into the value (default: the field's type). ``internal``: set by the package
    itself, never an option of ``stylize`` or the command line (:func:`option_fields` leaves it out).
    """
    return {"help": help, "cli": None if internal else cli, "parse": parse, "metavar": metavar, "internal": internal}


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split(","))


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(","))


def _names(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in text.split(",") if s.strip())


def _int_or_ints(text: str) -> int | tuple[int, ...]:
    values = _ints(text)
    return values[0] if len(values) == 1 else values


def _on_off_auto(text: str) -> bool | str:
    choices: dict[str, bool | str] = {"on": True, "off": False, "auto": "auto"}
    value = choices.get(text.strip().lower())
    if value is None:
        raise ValueError(f"{text!r}: use auto, on or off")
    return value


def parse_size(text: str) -> int | str:
    """``--size``: a number of pixels, or ``full`` for the photo's own size."""
    low = text.strip().lower()
    if low == FULL_SIZE:
        return FULL_SIZE
    try:
        return int(low)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of pixels or {FULL_SIZE!r}") from None


def _scales(text: str) -> str | tuple[int, ...] | None:
    low = text.strip().lower()
    return low if low in ("auto", "none") else _ints(text)


@dataclass(frozen=True)
class LossSpec:
    """What the picture is optimised for: the NST loss (Gatys et al.) and its weights."""

    content_layers: tuple[str, ...] = field(default=DEFAULT_CONTENT_LAYERS, metadata=option(
        "VGG19 layers whose activations the picture keeps from the content photo", parse=_names, metavar="LAYERS"))
    style_layers: tuple[str, ...] = field(default=DEFAULT_STYLE_LAYERS, metadata=option(
        "VGG19 layers whose feature statistics the picture takes from the style image", parse=_names,
        metavar="LAYERS"))
    style_layer_weights: Mapping[str, float] | Sequence[float] | None = field(default=None, metadata=option(
        "one weight per style layer, a list or {layer: weight} (default 1 each)", parse=_floats, metavar="WEIGHTS"))
    balance_layers: bool = field(default=True, metadata=option(
        "divide each style layer's loss by its value for all-zero features (mean(A²) of the painting's Gram A), so every "
        "layer starts on the same scale; off, the raw Gram losses make relu4_1 dominate"))
    content_weight: float = field(default=1.0, metadata=option("weight of the content loss"))
    style_weight: float | None = field(default=None, metadata=option(
        "weight of the style loss (default: the model's, see DEFAULT_STYLE_WEIGHT)"))
    tv_weight: float | None = field(default=None, metadata=option(
        "weight of the total-variation (smoothness) loss (default: the model's, see DEFAULT_TV_WEIGHT)"))
    style_loss: StyleLossName = field(default="gram", metadata=option(
        "gram: Gatys' Gram matrices; mean_cov: feature means and covariances; "
        "w2: Wasserstein-2 distance between the features' Gaussians"))
    style_blend: tuple[float, ...] | None = field(default=None, metadata=option(
        "weights of several style images' targets (default equal)", parse=_floats, metavar="WEIGHTS"))
    masks: tuple[torch.Tensor, ...] | None = field(default=None, metadata=option(
        "one (H, W) mask in [0, 1] per style image: each style paints only its region", cli=None))
    gram_normalize: str = field(default="chw", metadata=option(
        "how Gram matrices are scaled (see nsthelpers.gram)", cli=None))

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "content_layers", tuple(checks.layer_names("content_layers", self.content_layers)))
        set_(self, "style_layers", tuple(checks.layer_names("style_layers", self.style_layers)))
        if not self.content_layers and not self.style_layers:
            raise ValueError("content_layers and style_layers are both empty: name at least one layer")
        checks.layer_weights(self.style_layers, self.style_layer_weights)
        set_(self, "content_weight", checks.weight("content_weight", self.content_weight))
        for name in ("style_weight", "tv_weight"):
            if getattr(self, name) is not None:
                set_(self, name, checks.weight(name, getattr(self, name)))
        checks.choice("style_loss", self.style_loss, STYLE_LOSSES)
        checks.choice("gram_normalize", self.gram_normalize, GRAM_NORMALIZATIONS)
        if self.masks is not None and self.style_loss != "gram":
            raise ValueError("masks work with style_loss='gram' only")
        if self.style_blend is not None:
            set_(self, "style_blend", tuple(self.style_blend))
        if self.masks is not None:
            set_(self, "masks", tuple(self.masks))

    @property
    def layers(self) -> list[str]:
        """Content and style layers, each once, in order."""
        return list(dict.fromkeys(self.content_layers + self.style_layers))


@dataclass(frozen=True)
class RunSpec:
    """How the pixels are optimised: one run of Adam or L-BFGS at one size."""

    optimizer: OptimizerName = field(default="lbfgs", metadata=option(
        "lbfgs: a curvature model and a line search, the fewest evaluations to a good picture; "
        "adam: small bounded steps, CUDA graphs and batches"))
    lr: float | None = field(default=None, metadata=option(
        "learning rate (default per optimiser, see DEFAULT_LR: Adam's is for pixels in [0, 1])"))
    lr_decay: bool = field(default=True, metadata=option(
        "Adam: decay the learning rate along a cosine to 5 %% of lr", cli=None))
    stop_below: float = field(default=0.0, metadata=option(
        "stop early when the total loss fell by less than this fraction over the last callback_every "
        "evaluations (0: run every step)"))
    precision: Precision = field(default="auto", metadata=option(
        "auto: bf16 autocast for VGG on CUDA, fp32 elsewhere"))
    cuda_graphs: bool | str = field(default="auto", metadata=option(
        "auto: on CUDA, Adam's whole step is recorded once as a CUDA graph and replayed (checked, with "
        "a fallback); off: never; on: required", parse=_on_off_auto, metavar="auto|on|off"))
    callback: Callable[..., bool | None] | None = field(default=None, metadata=option(
        "called every callback_every evaluations with a StepInfo; return True to stop", cli=None))
    callback_every: int = field(default=10, metadata=option(
        "evaluations between callbacks, loss copies to the host and stopping checks", cli=None))
    checkpoint_path: str | os.PathLike | None = field(default=None, metadata=option(
        "save progress there; re-running with the same path resumes", cli="--checkpoint", metavar="PATH"))
    checkpoint_every: int | None = field(default=None, metadata=option(
        "evaluations between checkpoints (default max(callback_every, 50))"))
    progress: bool = field(default=False, metadata=option("show a tqdm progress bar with the losses", cli=None))
    stage_span: tuple[int, int] | None = field(default=None, repr=False, metadata=option(
        "(steps before this run, steps in all): set by nsthelpers.stages.run_stages so that the bar and the "
        "callbacks' StepInfo count across a run's stages", internal=True))

    def __post_init__(self) -> None:
        checks.choice("optimizer", self.optimizer, OPTIMIZERS)
        if self.lr is not None:
            checks.positive_number("lr", self.lr)
        checks.fraction("stop_below", self.stop_below)
        checks.choice("precision", self.precision, PRECISIONS)
        if self.cuda_graphs not in ("auto", True, False):
            raise ValueError(f"cuda_graphs={self.cuda_graphs!r}; choose 'auto', True or False")
        if self.cuda_graphs is True and self.optimizer != "adam":
            raise ValueError(self._cuda_graphs_refused("optimizer=" + repr(self.optimizer)))
        checks.positive_int("callback_every", self.callback_every)
        if self.checkpoint_every is not None:
            checks.positive_int("checkpoint_every", self.checkpoint_every)

    def check_device(self, device: torch.device) -> None:
        """The options that depend on the device: ``cuda_graphs=True`` needs a CUDA device (and Adam)."""
        if self.cuda_graphs is True and (device.type != "cuda" or not hasattr(torch.cuda, "CUDAGraph")):
            raise ValueError(self._cuda_graphs_refused(f"optimizer={self.optimizer!r} on {device.type}"))

    @staticmethod
    def _cuda_graphs_refused(got: str) -> str:
        return (f"cuda_graphs=True needs optimizer='adam' on a CUDA device (got {got}); use cuda_graphs='auto' to "
                "use them only where they work")


@dataclass(frozen=True)
class PictureSpec:
    """The picture around the runs: sizes, steps per size, the style's scale, the start, colour, seed."""

    steps: int | tuple[int, ...] = field(default=40, metadata=option(
        "objective evaluations at the first (coarsest) scale, each finer scale half as many; or one number "
        "per scale", parse=_int_or_ints))
    size: int | str | None = field(default=None, metadata=option(
        f"longer side of the result in pixels, or {FULL_SIZE} for the photo's own size (default: the profile's, "
        f"{DEFAULT_SIZES['stylize']['cpu']} px on a CPU and {DEFAULT_SIZES['stylize']['gpu']} on a GPU, never larger "
        "than the photo: about a minute for a phone photo on 2 CPU cores, whose own 4032 px would need about 80 GiB "
        "and 40 min)", parse=parse_size,
        metavar="PX|full"))
    scales: str | tuple[int, ...] | None = field(default="auto", metadata=option(
        "coarse-to-fine longer sides, e.g. 256,512 (each starts from the last, upsampled, with the photo's "
        "fine detail added back); auto: halve from the final size while above 384 px; none: one size",
        parse=_scales))
    style_scale: float = field(default=1.0, metadata=option(
        "the style image's longer side, relative to the content's"))
    init: InitName | torch.Tensor = field(default="content", metadata=option("starting image"))
    preserve_color: ColorMode | None = field(default=None, metadata=option(
        "keep the content's colours: transfer luminance only, or recolour the style first"))
    scale_detail: bool = field(default=True, metadata=option(
        "coarse to fine: start each finer scale from the previous result upsampled plus the photo's detail "
        "that the coarser scale could not hold (off: the previous result, upsampled and blurred)"))
    relax_to: float | None = field(default=None, metadata=option(
        "paint, then relax: after the first paint_fraction of the first scale's steps, the style weight drops "
        "to this fraction of itself for the rest of the run, so the photo's structure comes back while the "
        "style is refined (1: one weight throughout; default: 0.25 with L-BFGS, 1 with Adam)"))
    paint_fraction: float = field(default=0.3, metadata=option(
        "the share of the first scale's steps run at the full style weight before relaxing"))
    seed: int | None = field(default=0, metadata=option("random seed (noise init)"))
    auto_downsize: bool = field(default=False, metadata=option(
        "if the image does not fit in memory, retry at a smaller size instead of failing"))

    def __post_init__(self) -> None:
        if self.size is not None and self.size != FULL_SIZE:
            if isinstance(self.size, str):
                raise ValueError(f"size={self.size!r}; give a number of pixels, {FULL_SIZE!r} (the photo's own "
                                 "size) or None (the profile's default)")
            checks.positive_int("size", self.size, what="pixels")
        checks.positive_number("style_scale", self.style_scale)
        if self.relax_to is not None and not 0 < checks.positive_number("relax_to", self.relax_to) <= 1:
            raise ValueError(f"relax_to must be in (0, 1] (1: no relaxing), got {self.relax_to!r}")
        checks.fraction("paint_fraction", self.paint_fraction, closed=False)
        if isinstance(self.init, str):
            if self.init not in INITS:
                raise ValueError(f"init={self.init!r}; choose one of {INITS} or pass an image tensor")
        if self.preserve_color is not None:
            checks.choice("preserve_color", self.preserve_color, PRESERVE_COLOR)
        if isinstance(self.scales, str) and self.scales not in ("auto", "none"):
            raise ValueError(f"scales={self.scales!r}; give longer sides like [256, 512], 'auto' or None")
        if isinstance(self.scales, (list, tuple)):
            if not self.scales or any(not isinstance(s, int) or isinstance(s, bool) or s <= 0 for s in self.scales):
                raise ValueError(f"scales must be positive integers (longer sides in pixels), got {list(self.scales)}")
            object.__setattr__(self, "scales", tuple(self.scales))
            if list(self.scales) != sorted(self.scales):
                raise ValueError(f"scales run from coarse to fine (each a larger longer side), got {list(self.scales)}; "
                                 f"use {sorted(self.scales)}")
            if isinstance(self.size, int) and self.scales[-1] != self.size:
                raise ValueError(f"size={self.size} but scales={list(self.scales)} ends at {self.scales[-1]}: the last "
                                 f"scale is the result's size; drop size, or end the scales at {self.size}")
        if isinstance(self.steps, (list, tuple)):
            object.__setattr__(self, "steps", tuple(self.steps))
        _check_steps(self.steps)


def _check_steps(steps: Any) -> None:
    values = list(steps) if isinstance(steps, tuple) else [steps]
    if not values or any(not isinstance(s, int) or isinstance(s, bool) or s <= 0 for s in values):
        raise ValueError(f"steps must be a positive integer or one per scale, got {steps!r}")


SPECS: tuple[type, ...] = (LossSpec, RunSpec, PictureSpec)


def option_fields(spec: type) -> list[dataclasses.Field]:
    """The fields of one spec class that are options of ``stylize`` and the command line (not the internal ones)."""
    return [f for f in dataclasses.fields(spec) if not f.metadata.get("internal")]


def split_options(**options: Any) -> tuple[LossSpec, RunSpec, PictureSpec]:
    """Sort flat keywords into the three specs (checking each value); unknown names are a clear error."""
    known = {f.name: spec for spec in SPECS for f in option_fields(spec)}
    unknown = [k for k in options if k not in known]
    if unknown:
        hints = [f"{k!r} (did you mean {close[0]!r}?)" if (close := difflib.get_close_matches(k, known, 1)) else repr(k)
                 for k in unknown]
        raise TypeError(f"unknown option {', '.join(hints)}; the options are {', '.join(known)}")
    parts: dict[type, dict[str, Any]] = {spec: {} for spec in SPECS}
    for name, value in options.items():
        parts[known[name]][name] = value
    return LossSpec(**parts[LossSpec]), RunSpec(**parts[RunSpec]), PictureSpec(**parts[PictureSpec])


def signature_parameters() -> list[inspect.Parameter]:
    """Keyword-only parameters for every spec field (for ``stylize``'s signature in help())."""
    return [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=f.type)
            for spec in SPECS for f in option_fields(spec)]


def options_doc(indent: str = "    ") -> str:
    """The ``Args`` lines for every spec field: name, default and help, grouped by spec."""
    lines = []
    for spec in SPECS:
        lines.append(f"{indent}{spec.__name__} ({(spec.__doc__ or '').splitlines()[0].rstrip('.')}):")
        for f in option_fields(spec):
            lines.append(f"{indent}    {f.name} (default {f.default!r}): {f.metadata['help'].replace('%%', '%')}.")
    return "\n".join(lines)
