"""Lighter loss networks: the convolutional features of torchvision's MobileNetV3-Large and ResNet-50.

``load_backbone("torchvision:mobilenet_v3_large")`` returns a frozen, eval-mode feature network with the
same interface as :class:`~nsthelpers.vgg.VGG19Features`: ``layer_names``, ``preprocess`` (ImageNet mean/std
on RGB in [0, 1]), ``model(image, layers) -> {name: activation}`` and ``truncated(deepest)``. Its layer names
are the torchvision modules whose outputs they are (``"features.6"``, ``"layer2"``), so they can be looked up
in torchvision's source.

The ImageNet weights come through torchvision's weights API and the torch hub cache; offline, without the
file in the cache, loading raises :class:`~nsthelpers.vgg.WeightsUnavailableError` saying where to put it.
``pretrained=False`` builds the same network with torchvision's random initialisation: the right shapes and
the right cost per step, for tests and timings, but not features worth stylising with.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..settings import default_device
from ..vgg import Preprocess, download_torchvision_state

PREFIX = "torchvision:"


@dataclass(frozen=True)
class BackboneSpec:
    """How to build one backbone: its torchvision builder and weights, and how to cut it into stages."""

    name: str
    builder: str                  # torchvision.models.<builder>
    weights: str                  # torchvision.models.<weights enum>.<member>
    stages: Callable[[Any], list[tuple[str, nn.Module]]]
    content_layers: tuple[str, ...]
    style_layers: tuple[str, ...]


def _mobilenet_stages(net: Any) -> list[tuple[str, nn.Module]]:
    return [(f"features.{i}", block) for i, block in enumerate(net.features)]


def _resnet_stages(net: Any) -> list[tuple[str, nn.Module]]:
    stem = nn.Sequential(net.conv1, net.bn1, net.relu)
    return [("relu", stem), ("maxpool", net.maxpool), ("layer1", net.layer1), ("layer2", net.layer2),
            ("layer3", net.layer3), ("layer4", net.layer4)]


BACKBONES: dict[str, BackboneSpec] = {
    # stage outputs at 1/2, 1/4, 1/8, 1/16 of the image for style, 1/8 for content (as relu4_2 in VGG19)
    "mobilenet_v3_large": BackboneSpec("mobilenet_v3_large", "mobilenet_v3_large", "MobileNet_V3_Large_Weights.IMAGENET1K_V1",
                                       _mobilenet_stages, ("features.6",),
                                       ("features.1", "features.3", "features.6", "features.12")),
    "resnet50": BackboneSpec("resnet50", "resnet50", "ResNet50_Weights.IMAGENET1K_V1", _resnet_stages,
                             ("layer2",), ("relu", "layer1", "layer2", "layer3")),
}


class BackboneFeatures(nn.Module):
    """A frozen feature network cut into named stages; one forward pass returns the requested outputs."""

    def __init__(self, stages: Sequence[tuple[str, nn.Module]], preprocess: Preprocess, weights_name: str):
        super().__init__()
        if not stages:
            raise ValueError("a feature network needs at least one stage")
        self.names: tuple[str, ...] = tuple(n for n, _ in stages)
        self.blocks = nn.ModuleList([m for _, m in stages])
        self.preprocess = preprocess
        self.weights_name = weights_name
        self.requires_grad_(False)
        self.eval()

    @property
    def layer_names(self) -> tuple[str, ...]:
        """The names of the stages this (possibly truncated) network holds, shallow to deep."""
        return self.names

    def index(self, name: str) -> int:
        """Position of a stage; ValueError naming the valid names for an unknown one."""
        try:
            return self.names.index(name)
        except ValueError:
            raise ValueError(f"unknown layer {name!r} for {self.weights_name}; this network has "
                             f"{', '.join(self.names)}") from None

    def train(self, mode: bool = True) -> BackboneFeatures:
        # always eval: batch-norm layers must use their ImageNet statistics, never the picture's
        return super().train(False)

    def truncated(self, deepest: str) -> BackboneFeatures:
        """A network sharing these weights that stops after stage ``deepest``."""
        last = self.index(deepest)
        return BackboneFeatures(list(zip(self.names[: last + 1], self.blocks[: last + 1])), self.preprocess,
                                self.weights_name)

    def forward(self, image: torch.Tensor, layers: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
        """Run ``image`` (RGB in [0, 1], (N, 3, H, W)) to the deepest requested stage; ``{name: output}``."""
        wanted = list(self.names if layers is None else layers)
        if isinstance(layers, str) or not wanted:
            raise ValueError(f"layers must be a non-empty list of names from {', '.join(self.names)}")
        last = max(self.index(n) for n in wanted)
        out: dict[str, torch.Tensor] = {}
        x = self.preprocess(image)
        for i in range(last + 1):
            x = self.blocks[i](x)
            if self.names[i] in wanted:
                out[self.names[i]] = x
        return out


def backbone_spec(name: str) -> BackboneSpec:
    """The spec for ``"torchvision:<model>"`` or ``"<model>"``; ValueError naming the choices."""
    key = name.removeprefix(PREFIX)
    if key not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of "
                         f"{', '.join(PREFIX + k for k in BACKBONES)}")
    return BACKBONES[key]


def _weights_enum(spec: BackboneSpec):
    import torchvision.models as tvm

    enum_name, member = spec.weights.split(".")
    return getattr(getattr(tvm, enum_name), member)


def _download_state(spec: BackboneSpec) -> dict[str, torch.Tensor]:
    """The ImageNet state dict from the torch hub cache (downloaded on first use, hash checked)."""
    return download_torchvision_state(_weights_enum(spec), f"{spec.name} weights")


def load_backbone(name: str, device: str | torch.device | None = None, *, pretrained: bool = True,
                  seed: int = 0) -> BackboneFeatures:
    """Load ``"torchvision:mobilenet_v3_large"`` or ``"torchvision:resnet50"`` as a frozen feature network.

    Args:
        name: a key of :data:`BACKBONES`, with or without the ``"torchvision:"`` prefix.
        device: where to put it (default: the best available).
        pretrained: ImageNet weights (torch hub cache; :class:`WeightsUnavailableError` offline), or
            torchvision's seeded random initialisation (``weights_name`` then ends in ``":random"``).
        seed: seed of the random initialisation.
    """
    import torchvision.models as tvm

    spec = backbone_spec(name)
    state = _download_state(spec) if pretrained else None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = getattr(tvm, spec.builder)(weights=None)
    if state is not None:
        net.load_state_dict(state)
    label = PREFIX + spec.name + ("" if pretrained else ":random")
    model = BackboneFeatures(spec.stages(net), Preprocess("imagenet"), label)
    return model.to(default_device(device))


__all__ = ["BACKBONES", "PREFIX", "BackboneFeatures", "BackboneSpec", "backbone_spec", "load_backbone"]
