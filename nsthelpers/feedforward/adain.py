"""Arbitrary style in one pass: adaptive instance normalisation (Huang & Belongie 2017).

A Johnson network (:mod:`nsthelpers.feedforward.fast`) knows one style. AdaIN takes the style as an *input*: encode
the photo and the painting with VGG19 up to one layer, give the photo's features, channel by channel, the
painting's mean and standard deviation,

    AdaIN(x, y) = σ(y) · (x − μ(x)) / σ(x) + μ(y),

and decode the result back to pixels with a trained decoder. The decoder is the only trained part; it
learns to invert VGG19 features of *any* picture, so it is trained on photo crops with several styles.

* :func:`adain`, :func:`channel_mean_std`: the operation itself.
* :class:`Decoder`: VGG19 mirrored from ``relu4_1`` (the paper) or a shallower layer (cheaper on a CPU),
  nearest-neighbour upsampling instead of pooling, reflection padding.
* :class:`AdaINModel`: encoder + decoder; ``model(content, [styles], style_blend, alpha)`` with the
  content–style trade-off α and interpolation between styles.
* :func:`train_decoder`: the paper's loss (content: the decoded picture's features against the AdaIN
  target; style: per-channel means and standard deviations at relu1_1 … the encoder layer).
* :func:`save` / :func:`load`: the decoder in the checksummed file of :mod:`nsthelpers.feedforward.fast`.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import (
    blend_weights,
    choice,
    fraction,
    positive_int,
    positive_number,
    weight,
)
from .fast import (
    ConvLayer,
    TrainResult,
    check_training,
    read_network_file,
    record_step,
    resolve_vgg,
    step_range,
    write_network_file,
)
from ..settings import default_device
from .trainset import TrainingCrops
from ..vgg import VGG19Features

ENCODER_LAYERS = ("relu2_1", "relu3_1", "relu4_1")
#: VGG19's channels and convolutions per block
_VGG_CHANNELS = {1: 64, 2: 128, 3: 256, 4: 512}
_VGG_CONVS = {1: 2, 2: 2, 3: 4, 4: 4}


def channel_mean_std(features: torch.Tensor, eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image, per-channel mean and standard deviation (population, ``sqrt(var + eps)``), each (N, C, 1, 1)."""
    mean = features.mean(dim=(2, 3), keepdim=True)
    std = (features.var(dim=(2, 3), keepdim=True, unbiased=False) + eps).sqrt()
    return mean, std


def adain(content: torch.Tensor, style: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Content features (N, C, H, W) renormalised to the style features' per-channel mean and std."""
    if content.shape[:2] != style.shape[:2] and style.shape[0] != 1:
        raise ValueError(f"content features {tuple(content.shape)} and style features {tuple(style.shape)} "
                         "need the same batch size (or one style) and channels")
    c_mean, c_std = channel_mean_std(content, eps)
    s_mean, s_std = channel_mean_std(style, eps)
    return s_std * (content - c_mean) / c_std + s_mean


def style_layers_for(layer: str) -> list[str]:
    """relu1_1 … ``layer``: the layers whose statistics the decoder is trained to match."""
    return [f"relu{b}_1" for b in range(1, int(layer[4]) + 1)]


class Decoder(nn.Module):
    """VGG19 up to ``layer``, mirrored: each pooling becomes a nearest 2× upsampling, each conv a
    reflection-padded 3×3 conv with ReLU, and a last conv to RGB with a scaled tanh (output in [0, 1]). ``width`` is the channel count of the
    last block (64 as in VGG19 and the paper; fewer is cheaper); deeper blocks have 2×, 4× ``width``."""

    def __init__(self, layer: str = "relu3_1", width: int = 64, feature_scale: float = 1.0):
        super().__init__()
        self.layer = choice("layer", layer, ENCODER_LAYERS)
        self.width = positive_int("width", width)
        self.feature_scale = positive_number("feature_scale", feature_scale)
        deepest = int(layer[4])
        channels = {b: width * 2 ** (b - 1) for b in range(1, deepest)}
        modules: list[nn.Module] = []
        c_in = _VGG_CHANNELS[deepest]
        for block in range(deepest, 1, -1):
            out = channels[block - 1]
            modules += [ConvLayer(c_in, out, 3), nn.ReLU(), nn.Upsample(scale_factor=2, mode="nearest")]
            for _ in range(_VGG_CONVS[block - 1] - 1):
                modules += [ConvLayer(out, out, 3), nn.ReLU()]
            c_in = out
        modules.append(ConvLayer(c_in, 3, 3))
        self.layers = nn.Sequential(*modules)

    @property
    def config(self) -> dict:
        return {"layer": self.layer, "width": self.width, "feature_scale": self.feature_scale}

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        # Features are multiplied by ``feature_scale`` (set by train_decoder so that they start near 1: the
        # caffe VGG19's are in the hundreds, which saturates the tanh from the first step). The scaled tanh
        # keeps the picture in [0, 1]: unbounded, the decoder learns out-of-range pictures whose VGG19
        # features match (measured: black results once clamped).
        return 0.5 * (torch.tanh(self.layers(features * self.feature_scale)) + 1)


class AdaINModel(nn.Module):
    """VGG19 encoder (frozen) + :class:`Decoder`: ``model(content, styles, style_blend=None, alpha=1.0)``.

    ``styles`` is one (1, 3, h, w) picture or a list; ``style_blend`` interpolates between several styles
    (weights normalised to sum 1, default equal, as in ``stylize``); ``alpha`` in [0, 1] moves from the content's own features
    (0: the decoder's reconstruction of the photo) to the full AdaIN target (1).
    """

    def __init__(self, encoder: VGG19Features, decoder: Decoder):
        super().__init__()
        self.layer = decoder.layer
        self.encoder = encoder.truncated(self.layer)
        self.decoder = decoder

    def encode(self, image: torch.Tensor, layers: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
        return self.encoder(image, list(layers or [self.layer]))

    def target(self, content: torch.Tensor, styles, style_blend: Sequence[float] | None = None,
               alpha: float = 1.0) -> torch.Tensor:
        """The features the decoder is asked to draw: α · Σₖ wₖ AdaIN(f(c), f(sₖ)) + (1 − α) · f(c)."""
        styles = list(styles) if isinstance(styles, (list, tuple)) else [styles]
        mix = blend_weights(len(styles), style_blend)
        alpha = fraction("alpha", alpha)
        fc = self.encode(content)[self.layer]
        t = sum(w * adain(fc, self.encode(s)[self.layer]) for w, s in zip(mix, styles))
        return alpha * t + (1 - alpha) * fc

    @torch.no_grad()
    def forward(self, content: torch.Tensor, styles, style_blend: Sequence[float] | None = None,
                alpha: float = 1.0) -> torch.Tensor:
        dev = next(self.decoder.parameters()).device
        content = content.to(dev)
        styles = [s.to(dev) for s in (styles if isinstance(styles, (list, tuple)) else [styles])]
        h, w = content.shape[-2:]
        out = self.decoder(self.target(content, styles, style_blend, alpha))
        return F.interpolate(out, size=(h, w), mode="bilinear", align_corners=False).clamp(0, 1) \
            if out.shape[-2:] != (h, w) else out.clamp(0, 1)


def adain_losses(model: AdaINModel, content: torch.Tensor, style: torch.Tensor,
                 style_weight: float) -> dict[str, torch.Tensor]:
    """Huang & Belongie's training loss for one batch: ``{"total", "content", "style"}``."""
    layers = style_layers_for(model.layer)
    with torch.no_grad():
        fc = model.encode(content)[model.layer]
        fs = model.encode(style, layers)
        target = adain(fc, fs[model.layer])
    fo = model.encode(model.decoder(target), layers)
    content_term = F.mse_loss(fo[model.layer], target)
    style_term = content_term.new_zeros(())
    for name in layers:
        (om, osd), (sm, ssd) = channel_mean_std(fo[name]), channel_mean_std(fs[name])
        style_term = style_term + F.mse_loss(om, sm) + F.mse_loss(osd, ssd)
    return {"total": content_term + style_weight * style_term, "content": content_term, "style": style_term}


def train_decoder(
    styles: Sequence[torch.Tensor],
    *,
    photos: TrainingCrops | None = None,
    layer: str = "relu3_1",
    steps: int = 400,
    size: int = 96,
    batch_size: int = 4,
    width: int = 32,
    lr: float = 1e-3,
    style_weight: float = 10.0,
    model: VGG19Features | str | None = None,
    decoder: Decoder | None = None,
    device: str | torch.device | None = None,
    seed: int = 0,
    callback: Callable[[int, dict[str, float], nn.Module], bool | None] | None = None,
    progress: bool = False,
) -> TrainResult:
    """Train an AdaIN decoder on photo crops (``photos``) paired with random crops of ``styles``.

    Returns a :class:`~nsthelpers.feedforward.fast.TrainResult` whose ``net`` is an :class:`AdaINModel`.
    ``decoder`` continues training one. ``callback(step, losses, model)`` may return True to stop early.
    """
    check_training(steps, size, batch_size, lr)
    weight("style_weight", style_weight)
    if not styles:
        raise ValueError("styles is empty: give at least one style image")
    dev = default_device(device)
    torch.manual_seed(seed)
    vgg = resolve_vgg(model, dev)
    photos = photos if photos is not None else TrainingCrops(size=size, seed=seed)
    if decoder is None:
        decoder = Decoder(layer, width, feature_scale=_unit_scale(vgg, layer, photos.batch(batch_size).to(dev)))
    decoder = decoder.to(dev).train()
    net = AdaINModel(vgg, decoder)
    style_crops = TrainingCrops(list(styles), size=size, jitter=0.0, seed=seed + 1)
    opt = torch.optim.Adam(decoder.parameters(), lr=lr)
    history: dict[str, list[float]] = {"total": [], "content": [], "style": []}
    t0 = time.perf_counter()
    for step, content, style in zip(step_range(steps, progress), photos.batches(batch_size), style_crops.batches(batch_size)):
        opt.zero_grad(set_to_none=True)
        losses = adain_losses(net, content.to(dev), style.to(dev), style_weight)
        losses["total"].backward()
        opt.step()
        if record_step(history, losses, step, lr, callback, net):
            break
    decoder.eval()
    settings = {"layer": decoder.layer, "size": size, "batch_size": batch_size, "lr": lr, "style_weight": style_weight,
                "n_styles": len(styles), "weights": net.encoder.weights_name}
    return TrainResult(net, history, len(history["total"]), time.perf_counter() - t0, settings)


@torch.no_grad()
def _unit_scale(model: VGG19Features, layer: str, batch: torch.Tensor) -> float:
    """1 / the mean absolute activation at ``layer`` over a batch: the decoder's ``feature_scale``."""
    return float(1.0 / model(batch, [layer])[layer].abs().mean().clamp_min(1e-8))


def save(model: AdaINModel, path: str | os.PathLike, info: dict | None = None, *, half: bool = True) -> Path:
    """Write the decoder of ``model`` (the encoder is VGG19 itself; its weight set is recorded)."""
    info = {"weights": model.encoder.weights_name, **(info or {})}
    return write_network_file(path, "adain", model.decoder.config, model.decoder.state_dict(), info, half=half)


def load(path: str | os.PathLike, model: VGG19Features | str | None = None,
         device: str | torch.device | None = None) -> AdaINModel:
    """The :class:`AdaINModel` whose decoder is saved at ``path``; ``model`` is the VGG19 to encode with
    (default: the weight set the decoder was trained with). ``result.info`` is what :func:`save` recorded."""
    payload = read_network_file(path, "adain")
    info = payload["info"]
    dev = default_device(device)
    vgg = resolve_vgg(model if model is not None else info.get("weights"), dev)
    if vgg.weights_name != info.get("weights"):
        raise ValueError(f"{path} was trained with the {info.get('weights')!r} VGG19 weights, not "
                         f"{vgg.weights_name!r}; pass model={info.get('weights')!r}")
    decoder = Decoder(**payload["config"])
    decoder.load_state_dict(payload["state_dict"])
    net = AdaINModel(vgg, decoder.to(dev).eval())
    net.info = info
    return net

