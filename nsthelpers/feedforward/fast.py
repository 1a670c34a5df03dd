"""Feed-forward style transfer (Johnson, Alahi & Fei-Fei 2016): a network that paints one style in one pass.

Gatys et al. optimise the pixels of every picture anew (hundreds of VGG19 passes). Johnson et al. train a
small image-to-image network once, on many photos, to lower the *same* loss ("perceptual loss": VGG19
content + style + TV); afterwards a picture costs one pass through the small network.

* :class:`TransformerNet` (the class name of PyTorch's ``fast_neural_style`` example, which it follows): 9×9 conv,
  two stride-2 convs, residual blocks, a nearest-upsample + conv decoder, instance norm and reflection padding;
  ``width`` channels in its first layer (32 in the paper). The paper itself used batch normalisation and
  fractionally-strided convolutions, and a VGG-16 loss network; instance norm is Ulyanov et al. (2016),
  upsample-then-convolve Odena et al. (2016).
* :func:`train`: the perceptual-loss trainer; its loss is an :class:`nsthelpers.Objective` built with one
  style's targets, evaluated on the network's outputs for a batch of photo crops (:mod:`nsthelpers.feedforward.trainset`).
* :func:`save` / :func:`load`: a trained network in a small file with a SHA-256 checksum over its weights
  (the same idea as ``nst weights export``); a corrupt or foreign file is refused with a clear message.
  :func:`read_network_file` / :func:`write_network_file` are the format, shared with :mod:`nsthelpers.feedforward.adain`.
* :func:`stylise_batches`: a list of pictures through a network, a few at a time.
"""
from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoint import torch_save_atomically
from ..checks import positive_int, positive_number, weight
from ..images import long_side_hw
from ..objective import Objective, default_style_weight, default_tv_weight
from ..settings import default_device
from ..specs import LossSpec
from .trainset import TrainingCrops
from ..vgg import VGG19Features, load_vgg19

NETWORK_FILE_FORMAT = "nsthelpers-network"
NETWORK_FILE_VERSION = 1
#: Johnson et al. compare content at relu2_2: a network learns to keep the photo's layout from it far
#: sooner than from the relu4_2 that Gatys-style optimisation (which starts from the photo) uses.
#: The style term is the raw Gram loss (``balance_layers=False``), as in the paper.
JOHNSON_CONTENT_LAYERS: tuple[str, ...] = ("relu2_2",)
#: A network looks for the best trade-off over all photos, not for a nearby one: with ``stylize``'s weights
#: (tuned for an optimisation that starts at the photo and stops after a few hundred steps) it learns to
#: paint texture and drop the photo. Against relu2_2 content, these fractions of the package's default
#: style and TV weights keep the photo (tuned on 96-128 px crops of the training photos, swirls texture).
JOHNSON_STYLE_SCALE = 3e-4
JOHNSON_TV_SCALE = 1e-2


# ------------------------------------------------------------------------------------------ the network
class ConvLayer(nn.Sequential):
    """Reflection padding then a convolution: no zero border for the style loss to paint dark edges into."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1):
        super().__init__(nn.ReflectionPad2d(kernel // 2), nn.Conv2d(c_in, c_out, kernel, stride))


def conv_norm_relu(c_in: int, c_out: int, kernel: int, stride: int = 1, upsample: bool = False) -> nn.Sequential:
    """[nearest 2× upsample], conv, instance norm (with a learned scale and shift), ReLU."""
    layers: list[nn.Module] = [nn.Upsample(scale_factor=2, mode="nearest")] if upsample else []
    layers += [ConvLayer(c_in, c_out, kernel, stride), nn.InstanceNorm2d(c_out, affine=True), nn.ReLU()]
    return nn.Sequential(*layers)


class ResidualBlock(nn.Module):
    """``x + IN(conv(ReLU(IN(conv(x)))))``: two 3×3 convs that learn a correction to their input."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            ConvLayer(channels, channels, 3), nn.InstanceNorm2d(channels, affine=True), nn.ReLU(),
            ConvLayer(channels, channels, 3), nn.InstanceNorm2d(channels, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class TransformerNet(nn.Module):
    """Johnson et al.'s image transformation network as PyTorch's example builds it (instance norm, upsample +
    conv): RGB in [0, 1] → stylised RGB in [0, 1], same size.

    ``width`` is the number of channels after the first 9×9 conv (the paper uses 32; the middle of the
    network has 4 × ``width``); ``residual_blocks`` is 5 in the paper. The output goes through a scaled
    tanh, as in the paper, so it is always a valid picture. Any size works: the input is reflection-padded
    to a multiple of 4 (two stride-2 convs, two 2× upsamplings) and the output cropped back.
    """

    def __init__(self, width: int = 32, residual_blocks: int = 5):
        super().__init__()
        self.width = positive_int("width", width)
        self.residual_blocks = positive_int("residual_blocks", residual_blocks)
        w = self.width
        self.encoder = nn.Sequential(conv_norm_relu(3, w, 9), conv_norm_relu(w, 2 * w, 3, stride=2),
                                     conv_norm_relu(2 * w, 4 * w, 3, stride=2))
        self.residuals = nn.Sequential(*[ResidualBlock(4 * w) for _ in range(self.residual_blocks)])
        self.decoder = nn.Sequential(conv_norm_relu(4 * w, 2 * w, 3, upsample=True),
                                     conv_norm_relu(2 * w, w, 3, upsample=True), ConvLayer(w, 3, 9))

    @property
    def config(self) -> dict[str, int]:
        """What :func:`save` records to rebuild the network."""
        return {"width": self.width, "residual_blocks": self.residual_blocks}

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if image.dim() != 4 or image.shape[1] != 3:
            raise ValueError(f"TransformerNet takes (N, 3, H, W) RGB images in [0, 1], got shape {tuple(image.shape)}")
        h, w = image.shape[-2:]
        pad_h, pad_w = -h % 4, -w % 4
        if min(h, w) < 8:
            raise ValueError(f"the image is {h}×{w} px; TransformerNet needs at least 8 px per side")
        x = F.pad(image, (0, pad_w, 0, pad_h), mode="reflect") if pad_h or pad_w else image
        y = self.decoder(self.residuals(self.encoder(x)))
        return (0.5 * (torch.tanh(y) + 1))[..., :h, :w]


# ------------------------------------------------------------------------------------------ training
@dataclass
class TrainResult:
    """A trained network with its loss history (one value per step and term), steps and seconds."""

    net: nn.Module
    history: dict[str, list[float]]
    steps: int
    seconds: float
    settings: dict = field(default_factory=dict)

    @property
    def ms_per_step(self) -> float:
        return 1000 * self.seconds / max(self.steps, 1)


def resolve_vgg(model: VGG19Features | str | None, device: torch.device) -> VGG19Features:
    """A loaded VGG19 (moved to ``device``) or the name of a weight set to load."""
    return (model if isinstance(model, VGG19Features) else load_vgg19(model, device=device)).to(device)


def check_training(steps: int, size: int, batch_size: int, lr: float) -> None:
    """The checks every trainer shares, raised before any work."""
    positive_int("steps", steps)
    positive_int("batch_size", batch_size)
    if positive_int("size", size, what="pixels") < 32:
        raise ValueError(f"size={size}: training crops need at least 32 px (VGG19's relu5_1 sees 1/16 of them)")
    positive_number("lr", lr)


def johnson_weights(model: VGG19Features, style_weight: float | None, tv_weight: float | None) -> tuple[float, float]:
    """The style and TV weights for training: given ones, else the package's defaults for the model's
    preprocessing and raw (unbalanced) Gram losses, scaled by :data:`JOHNSON_STYLE_SCALE` and :data:`JOHNSON_TV_SCALE`."""
    convention = model.preprocess.convention
    sw = (default_style_weight(convention, balanced=False) * JOHNSON_STYLE_SCALE if style_weight is None
          else weight("style_weight", style_weight))
    tv = default_tv_weight(convention) * JOHNSON_TV_SCALE if tv_weight is None else weight("tv_weight", tv_weight)
    return sw, tv


def train(
    style: torch.Tensor,
    *,
    photos: TrainingCrops | None = None,
    steps: int = 400,
    size: int = 128,
    batch_size: int = 2,
    width: int = 16,
    lr: float = 2e-3,
    warmup_steps: int = 100,
    style_size: int | None = None,
    content_layers: Sequence[str] = JOHNSON_CONTENT_LAYERS,
    content_weight: float = 1.0,
    style_weight: float | None = None,
    tv_weight: float | None = None,
    model: VGG19Features | str | None = None,
    net: TransformerNet | None = None,
    device: str | torch.device | None = None,
    seed: int = 0,
    callback: Callable[[int, dict[str, float], nn.Module], bool | None] | None = None,
    progress: bool = False,
) -> TrainResult:
    """Train a :class:`TransformerNet` for one style with Johnson et al.'s perceptual loss.

    Each step draws ``batch_size`` random crops of ``size`` px (``photos``, default the offline training
    photos), scores the network's output with an :class:`~nsthelpers.Objective` for that batch (the style's
    targets computed once, as pytorch/examples' fast_neural_style does), and takes one Adam step on the
    network's weights. The first ``warmup_steps`` use no style term: the network first learns to copy the photo (Gatys' optimisation gets that for free by starting from the photo). Weights
    default to :func:`johnson_weights`; the style is resized so its longer side is ``style_size`` (default
    ``size``). ``net`` continues training a network; ``callback(step, losses, net)`` may return True to stop.
    """
    check_training(steps, size, batch_size, lr)
    weight("content_weight", content_weight)
    if not isinstance(warmup_steps, int) or warmup_steps < 0:
        raise ValueError(f"warmup_steps must be an integer ≥ 0, got {warmup_steps!r}")
    dev = default_device(device)
    vgg = resolve_vgg(model, dev)
    sw, tv = johnson_weights(vgg, style_weight, tv_weight)
    torch.manual_seed(seed)
    net = (net if net is not None else TransformerNet(width)).to(dev).train()
    photos = photos if photos is not None else TrainingCrops(size=size, seed=seed)
    style_img = style_target(style, style_size or size).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    history: dict[str, list[float]] = {k: [] for k in ("total", "content", "style", "tv")}
    t0 = time.perf_counter()
    spec = LossSpec(content_layers=tuple(content_layers), content_weight=content_weight, style_weight=sw,
                    tv_weight=tv, balance_layers=False)
    style_targets = Objective.style_targets_for(vgg, [style_img], spec)
    for step, batch in zip(step_range(steps, progress), photos.batches(batch_size)):
        batch = batch.to(dev)
        objective = Objective(vgg, batch, spec=spec, style_targets=style_targets)
        objective = objective.with_weights(style_weight=0.0) if step < warmup_steps else objective
        losses = perceptual_step(net, opt, objective, batch)
        if record_step(history, losses, step, lr, callback, net):
            break
    net.eval()
    settings = {"style_size": style_size or size, "size": size, "batch_size": batch_size, "lr": lr,
                "warmup_steps": warmup_steps, "content_layers": list(content_layers), "content_weight": content_weight,
                "style_weight": sw, "tv_weight": tv, "weights": vgg.weights_name}
    return TrainResult(net, history, len(history["total"]), time.perf_counter() - t0, settings)


def style_target(style: torch.Tensor, side: int) -> torch.Tensor:
    """The style picture resized (antialiased) so that its longer side is ``side`` px, in [0, 1]."""
    return F.interpolate(style, size=_longer_side_hw(style, side), mode="bilinear", antialias=True,
                         align_corners=False).clamp(0, 1)


def perceptual_step(net: nn.Module, opt: torch.optim.Optimizer, objective: Objective,
                    batch: torch.Tensor) -> dict[str, torch.Tensor]:
    """One Adam step on ``net``'s weights lowering the batch's mean ``objective`` (Objective gives per-item losses)."""
    opt.zero_grad(set_to_none=True)
    losses = {k: v.mean() for k, v in objective(net(batch)).items()}
    losses["total"].backward()
    opt.step()
    return losses


def record_step(history: dict[str, list[float]], losses: dict[str, torch.Tensor], step: int, lr: float,
                callback: Callable[[int, dict[str, float], nn.Module], bool | None] | None, net: nn.Module) -> bool:
    """Append this step's losses; raise on a non-finite loss; True when ``callback(step, losses, net)`` asks to stop."""
    for k, values in history.items():
        values.append(float(losses[k].detach()))
    if not math.isfinite(history["total"][-1]):
        raise ValueError(f"the loss became non-finite at step {step + 1}; lower lr (now {lr}) or the style weight")
    return bool(callback is not None and callback(step + 1, {k: v[-1] for k, v in history.items()}, net))


def _longer_side_hw(image: torch.Tensor, side: int) -> tuple[int, int]:
    return long_side_hw(int(image.shape[-2]), int(image.shape[-1]), side)


def step_range(steps: int, progress: bool) -> Iterator[int]:
    """0 … steps − 1, with a tqdm bar when ``progress``."""
    if not progress:
        return iter(range(steps))
    from tqdm.auto import tqdm

    return iter(tqdm(range(steps), desc="train", unit="step"))


# ------------------------------------------------------------------------------------------ applying
@torch.no_grad()
def stylise_batches(net: nn.Module, images: Sequence[torch.Tensor], *, batch_size: int = 4,
                    device: str | torch.device | None = None) -> list[torch.Tensor]:
    """Each (1, 3, H, W) picture through ``net``; pictures of the same size share a batch of ``batch_size``.

    Returns CPU tensors in [0, 1], in the order given.
    """
    positive_int("batch_size", batch_size)
    dev = default_device(device)
    net = net.to(dev).eval()
    out: list[torch.Tensor | None] = [None] * len(images)
    by_size: dict[tuple[int, ...], list[int]] = {}
    for i, img in enumerate(images):
        by_size.setdefault(tuple(img.shape[-2:]), []).append(i)
    for indices in by_size.values():
        for start in range(0, len(indices), batch_size):
            chunk = indices[start:start + batch_size]
            result = net(torch.cat([images[i] for i in chunk]).to(dev)).clamp(0, 1).cpu()
            for i, r in zip(chunk, result):
                out[i] = r[None]
    return [o for o in out if o is not None]


# ------------------------------------------------------------------------------------------ the file
def weights_digest(state: dict[str, torch.Tensor]) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of a state dict, in sorted name order."""
    h = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        h.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        h.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return h.hexdigest()


def write_network_file(path: str | os.PathLike, kind: str, config: dict, state: dict[str, torch.Tensor],
                       info: dict | None = None, *, half: bool = True) -> Path:
    """Write ``state`` (float16 when ``half``) with its checksum, the network's kind and config, atomically."""
    stored = {k: (v.detach().cpu().half() if half and v.is_floating_point() else v.detach().cpu().clone())
              for k, v in state.items()}
    payload = {"format": NETWORK_FILE_FORMAT, "version": NETWORK_FILE_VERSION, "kind": kind, "config": dict(config),
               "info": dict(info or {}), "state_dict": stored, "sha256": weights_digest(stored)}
    return torch_save_atomically(payload, path)


def read_network_file(path: str | os.PathLike, kind: str | None = None) -> dict:
    """Read and verify a file written by :func:`write_network_file`; it must hold a network of ``kind``
    (``"transformer"``, ``"adain"``; None: any).

    Returns the payload with float32 weights. Raises ``FileNotFoundError`` for a missing file and
    ``ValueError`` naming the fix for an unreadable, foreign, corrupt (checksum) or wrong-kind file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no network file at {path}; train one with `nst fast train`")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 — zip / unpickling errors differ between torch versions
        raise ValueError(f"{path} is not a readable network file ({type(exc).__name__}); it may be truncated "
                         "or corrupt: copy it again or retrain it") from None
    if not isinstance(payload, dict) or payload.get("format") != NETWORK_FILE_FORMAT:
        raise ValueError(f"{path} is not an nsthelpers network file (made by `nst fast train` or fast.save)")
    digest = weights_digest(payload["state_dict"])
    if digest != payload.get("sha256"):
        raise ValueError(f"{path} is corrupt: its weights' checksum {digest[:12]}… differs from the recorded "
                         f"{str(payload.get('sha256'))[:12]}…; copy the file again or retrain it")
    if kind is not None and payload.get("kind") != kind:
        raise ValueError(f"{path} holds a {payload.get('kind')!r} network, not a {kind!r} one")
    payload["state_dict"] = {k: v.float() if v.is_floating_point() else v for k, v in payload["state_dict"].items()}
    return payload


def save(net: TransformerNet, path: str | os.PathLike, info: dict | None = None, *, half: bool = True) -> Path:
    """Write a trained :class:`TransformerNet` to ``path`` (float16 by default: half the size, same pictures)."""
    return write_network_file(path, "transformer", net.config, net.state_dict(), info, half=half)


def load(path: str | os.PathLike, device: str | torch.device | None = None) -> TransformerNet:
    """The :class:`TransformerNet` saved at ``path`` (checksum verified), in eval mode; ``net.info`` is what
    :func:`save` recorded (style, steps, size, command)."""
    payload = read_network_file(path, "transformer")
    net = TransformerNet(**payload["config"])
    net.load_state_dict(payload["state_dict"])
    net.info = payload["info"]
    return net.to(default_device(device)).eval()
