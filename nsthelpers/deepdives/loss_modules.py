"""The loss as layers: the PyTorch tutorial's ``ContentLoss`` / ``StyleLoss`` pattern on our VGG19.

The tutorial rebuilds VGG19's ``features`` as a new ``nn.Sequential`` and inserts, right after each
chosen layer, a module that passes its input through unchanged and stores its loss against a fixed
target in ``self.loss``. One forward pass of that network then computes every term; the caller sums
the ``.loss`` attributes. :class:`~nsthelpers.objective.Objective` computes the same numbers from a
dict of named activations instead (notebook 04 checks that value and gradient agree).

Two names for one layer: the tutorial counts convolutions (``conv_1``, ``relu_1``, ``pool_1``, ``conv_2``,
…), so its ``conv_4`` is the fourth convolution, conv2_2, not a layer of block 4.
:func:`conv_count_names` gives those names for comparison.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..checks import layer_names, layer_weights, weight
from ..gram import gram_matrix
from ..losses import content_loss, style_layer_loss
from ..vgg import LAYER_NAMES, VGG19Features, deepest_layer


class ContentLoss(nn.Module):
    """Identity layer that stores ``content_loss(input, target)`` in ``self.loss`` on every forward
    (a zero tensor before the first one)."""

    target: torch.Tensor

    def __init__(self, target: torch.Tensor):
        super().__init__()
        self.register_buffer("target", target.detach())
        self.loss = torch.zeros(())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.loss = content_loss(x, self.target)
        return x


class StyleLoss(nn.Module):
    """Identity layer that stores the MSE between the Gram matrix of its input and a fixed target Gram
    in ``self.loss`` (a zero tensor before the first forward)."""

    target: torch.Tensor

    def __init__(self, target_features: torch.Tensor, normalize: str = "chw"):
        super().__init__()
        self.normalize = normalize
        self.register_buffer("target", gram_matrix(target_features.detach(), normalize))
        self.loss = torch.zeros(())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.loss = style_layer_loss(x, self.target, self.normalize)
        return x


def conv_count_names(layers: Iterable[nn.Module]) -> list[str]:
    """The names the PyTorch tutorial gives a VGG layer stack: a counter that grows at every convolution,
    so ``conv_4`` is the 4th convolution (conv2_2) and ``pool_2`` the pool after the 2nd convolution."""
    names, i = [], 0
    for layer in layers:
        if isinstance(layer, nn.Conv2d):
            i += 1
            names.append(f"conv_{i}")
        elif isinstance(layer, nn.ReLU):
            names.append(f"relu_{i}")
        elif isinstance(layer, (nn.MaxPool2d, nn.AvgPool2d)):
            names.append(f"pool_{i}")
        else:
            raise ValueError(  # noqa: TRY004 - the project's bad-input error is ValueError
                f"conv_count_names: unexpected layer {layer!r}; expected Conv2d, ReLU or pooling")
    return names


@dataclass
class LossNetwork:
    """A rebuilt ``nn.Sequential`` with loss layers inside, and those loss layers by VGG19 layer name."""

    net: nn.Sequential
    content_losses: dict[str, ContentLoss]
    style_losses: dict[str, StyleLoss]

    def __call__(
        self,
        image: torch.Tensor,
        *,
        content_weight: float = 1.0,
        style_weight: float = 1.0,
        style_layer_weights: Mapping[str, float] | Sequence[float] | None = None,
    ) -> dict[str, torch.Tensor]:
        """Run the network once and sum the stored losses: ``{"total", "content", "style"}``."""
        content_weight = weight("content_weight", content_weight)
        style_weight = weight("style_weight", style_weight)
        per_layer = layer_weights(list(self.style_losses), style_layer_weights)
        self.net(image)                                   # every loss layer stores its .loss
        zero = image.new_zeros(())
        c = sum((m.loss for m in self.content_losses.values()), zero)
        s = sum((per_layer[n] * m.loss for n, m in self.style_losses.items()), zero)
        total: torch.Tensor = content_weight * c + style_weight * s
        return {"total": total, "content": c, "style": s}


def build_loss_network(
    model: VGG19Features,
    content: torch.Tensor,
    style: torch.Tensor,
    *,
    content_layers: Sequence[str],
    style_layers: Sequence[str],
    normalize: str = "chw",
) -> LossNetwork:
    """The tutorial's ``get_style_model_and_losses`` on our VGG19, with our layer names.

    Walks ``model``'s layers into a new ``nn.Sequential`` (preprocessing first); after each layer named in
    ``content_layers`` / ``style_layers`` it runs the VGG layers so far (without the loss layers) on the
    content / style image and inserts a :class:`ContentLoss` / :class:`StyleLoss` holding that target. The
    network ends at the deepest loss layer. The VGG modules are shared with ``model``, not copied.
    """
    content_layers = layer_names("content_layers", content_layers)
    style_layers = layer_names("style_layers", style_layers)
    if not content_layers and not style_layers:
        raise ValueError("content_layers and style_layers are both empty: name at least one layer")
    deepest = deepest_layer(content_layers + style_layers)
    if deepest not in model.layer_names:
        raise ValueError(f"layer {deepest!r} was truncated away; this model ends at {model.layer_names[-1]!r}")
    net = nn.Sequential()
    net.add_module("preprocess", model.preprocess)
    prefix = nn.Sequential(model.preprocess)        # the same layers without loss layers, for the targets
    content_losses: dict[str, ContentLoss] = {}
    style_losses: dict[str, StyleLoss] = {}
    with torch.no_grad():
        for name, layer in zip(LAYER_NAMES, model.layers):
            net.add_module(name, layer)
            prefix.append(layer)
            if name in content_layers:
                content_losses[name] = ContentLoss(prefix(content))
                net.add_module(f"content_loss_{name}", content_losses[name])
            if name in style_layers:
                style_losses[name] = StyleLoss(prefix(style), normalize)
                net.add_module(f"style_loss_{name}", style_losses[name])
            if name == deepest:
                break
    # in the order the caller named them, so a list of style_layer_weights lines up with style_layers
    return LossNetwork(net, {n: content_losses[n] for n in content_layers}, {n: style_losses[n] for n in style_layers})
