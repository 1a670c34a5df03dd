"""The reference NST loop (the baseline that benchmarks and deep_dives/05_x_speed.ipynb measure against), and its loss.

It reproduces a common pattern of blog and course code ("PyTorch + VGG19 + Adam at lr 0.003", with the
feature walk shown below), written the way that code writes it:

* the network is the *whole* ``vgg19().features`` — all 37 modules, in torchvision order, walked
  every step by ``for name, layer in model._modules.items()`` on a plain ``nn.Sequential``, with
  torchvision's ``ReLU(inplace=True)``. The in-place ReLU matters: the tensor stored under
  ``'conv4_2'`` (index 21) is overwritten by the next module (ReLU 22), so every captured
  "conv" feature is in fact the ReLU output (``relu1_1``, ``relu2_1``, …, ``relu4_2``, ``relu5_1``).
  The walk also runs conv5_2 … pool5, whose outputs nothing uses: that is part of the recipe's cost;
* features at ``{'0','5','10','19','21','28'}``; the Gram matrix ``F Fᵀ`` without normalisation;
* ``style_grams`` is built from *every* captured layer, so ``conv4_2`` (really relu4_2) is a style
  layer too: 6 style layers, each with weight 1 (the recipe has no per-layer style weights);
* content loss ``mean((F - P)²)`` at conv4_2; style loss ``Σ mean((G - A)²) / A.numel()``;
  ``total = 1 · content + 1e6 · style``;
* Adam, ``lr=0.003``, on the normalised image, initialised from the content, never clipped while
  optimising; the picture a user sees is ``im_convert``: de-normalised and clipped to [0, 1].

What is adapted (each only so that both loops can run in one process on the same inputs):

* the weights are whatever :func:`nsthelpers.load_vgg19` loaded (the same conv modules, shared,
  put into a 37-module ``nn.Sequential`` with in-place ReLUs), not a download of IMAGENET1K_V1;
* images arrive as RGB tensors in [0, 1] of a given size instead of being read with PIL and
  ``transforms.Resize``; the recipe's ``transforms.Normalize`` (ImageNet mean/std) is applied to them;
* for weights with another input convention (the default ``caffe`` ones: BGR, 0–255, mean
  subtracted) the network input is that model's own preprocessing of the same RGB picture, so the
  reference sees exactly what ``stylize`` sees. By default (``space="imagenet"``) the optimised
  variable stays the recipe's ImageNet-normalised image and is mapped to the model's input inside each
  step, so ``lr=0.003`` means what it means in the recipe; ``space="model"`` instead optimises the
  model's input directly (for caffe weights a 0–255 scale: the same lr then moves pixels ~58×
  less). For ImageNet-convention weights (``torchvision``, ``random``) both are the recipe exactly;
* the loop reports each step to an optional callback (for timing) instead of printing every 500.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.optim as optim
from torch import nn

from ..images import IMAGENET_MEAN, IMAGENET_STD
from ..vgg import VGG19Features, layer_index

LAYERS = {'0': 'conv1_1',
          '5': 'conv2_1',
          '10': 'conv3_1',
          '19': 'conv4_1',
          '21': 'conv4_2',
          '28': 'conv5_1'}
CONTENT_LAYER = 'conv4_2'
CONTENT_WEIGHT = 1
STYLE_WEIGHT = 1e6
LR = 0.003
SPACES = ("imagenet", "model")


# ------------------------------------------------------------------ the recipe's functions, verbatim
def get_features(image, model, layers=None):
    if layers is None:
        layers = LAYERS
    features = {}
    x = image
    for name, layer in model._modules.items():
        x = layer(x)
        if name in layers:
            features[layers[name]] = x
    return features


def gram_matrix(tensor):
    _, d, h, w = tensor.size()
    tensor = tensor.view(d, h * w)
    gram = torch.mm(tensor, tensor.t())
    return gram


def reference_loss_terms(target_features, content_features, style_grams,
                         content_weight=CONTENT_WEIGHT, style_weight=STYLE_WEIGHT):
    """The recipe's loss, as in its loop body: returns ``(total_loss, content_loss, style_loss)``."""
    content_loss = torch.mean((target_features['conv4_2'] - content_features['conv4_2']) ** 2)
    style_loss = 0
    for layer in style_grams:
        target_feature = target_features[layer]
        target_gram = gram_matrix(target_feature)
        style_gram = style_grams[layer]
        layer_style_loss = torch.mean((target_gram - style_gram) ** 2)
        style_loss += layer_style_loss / style_grams[layer].numel()
    total_loss = content_weight * content_loss + style_weight * style_loss
    return total_loss, content_loss, style_loss


# ------------------------------------------------------------------------------------ adaptation
def build_reference_vgg(model: VGG19Features) -> nn.Sequential:
    """The recipe's ``vgg19(...).features``: all 37 modules of ``model`` (convs and pools shared, so the
    same weights), with torchvision's ``ReLU(inplace=True)``, frozen, keyed '0' … '36'."""
    if len(model.layers) != 37:
        raise ValueError(f"the reference needs the full VGG19 features (37 modules), got {len(model.layers)}")
    modules = [nn.ReLU(inplace=True) if isinstance(m, nn.ReLU) else m for m in model.layers]
    vgg = nn.Sequential(*modules)
    for param in vgg.parameters():
        param.requires_grad_(False)
    return vgg.eval()


class ReferenceInput:
    """Maps between RGB in [0, 1], the reference's optimised variable, and the network's input."""

    def __init__(self, model: VGG19Features, space: str = "imagenet"):
        if space not in SPACES:
            raise ValueError(f"space={space!r}; use one of {SPACES}")
        self.preprocess = model.preprocess
        self.space = space
        dev = model.preprocess.mean.device
        self.mean = torch.tensor(IMAGENET_MEAN, device=dev).view(1, 3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD, device=dev).view(1, 3, 1, 1)
        # ImageNet-convention weights: the recipe's Normalize is the model's input, nothing to map.
        self.identity = space == "model" or model.preprocess.convention == "imagenet"

    def from_rgb(self, rgb: torch.Tensor) -> torch.Tensor:
        """The recipe's ``load_image`` normalisation (or the model's preprocessing, ``space="model"``)."""
        if self.space == "model":
            return self.preprocess(rgb)
        return (rgb - self.mean) / self.std

    def to_net(self, z: torch.Tensor) -> torch.Tensor:
        """What the first conv sees for the optimised variable ``z``."""
        if self.identity:
            return z
        return self.preprocess(z * self.std + self.mean)

    def to_rgb(self, z: torch.Tensor) -> torch.Tensor:
        """The recipe's ``im_convert``: de-normalise and clip to [0, 1] (kept as a (1,3,H,W) tensor)."""
        if self.space == "model":
            p = self.preprocess
            rgb = z * p.std + p.mean
            rgb = rgb.flip(1) if p.bgr else rgb
        else:
            rgb = z * self.std + self.mean
        return rgb.clamp(0, 1)


class ReferenceLoss:
    """The recipe's objective for one content/style pair: targets computed once, as in the recipe.

    ``score(rgb)`` is the reference loss of a picture a user sees (RGB, clipped to [0, 1]): the
    number the benchmark compares both loops by.
    """

    def __init__(self, model: VGG19Features, content: torch.Tensor, style: torch.Tensor, *,
                 space: str = "imagenet", content_weight=CONTENT_WEIGHT, style_weight=STYLE_WEIGHT):
        self.vgg = build_reference_vgg(model)
        self.input = ReferenceInput(model, space)
        self.content_weight = content_weight
        self.style_weight = style_weight
        self.content = self.input.from_rgb(content)
        style = self.input.from_rgb(style)
        # as in the recipe (no torch.no_grad there either: nothing requires grad, so no graph is kept)
        self.content_features = get_features(self.input.to_net(self.content), self.vgg)
        style_features = get_features(self.input.to_net(style), self.vgg)
        self.style_grams = {layer: gram_matrix(style_features[layer]) for layer in style_features}

    def terms(self, z: torch.Tensor):
        """``(total, content, style)`` for the optimised variable ``z`` (differentiable)."""
        target_features = get_features(self.input.to_net(z), self.vgg)
        return reference_loss_terms(target_features, self.content_features, self.style_grams,
                                    self.content_weight, self.style_weight)

    @torch.no_grad()
    def score(self, rgb: torch.Tensor) -> float:
        """Reference total loss of an RGB picture, after clipping it to [0, 1] as a user sees it."""
        z = self.input.from_rgb(rgb.to(self.content.device, torch.float32).clamp(0, 1))
        return float(self.terms(z)[0])


# The recipe's captured "conv" features are ReLU outputs (its in-place ReLUs overwrite them).
SAME_LOSS_LAYERS = {name: "relu" + name[4:] for name in LAYERS.values()}


def reference_objective(model: VGG19Features, content: torch.Tensor, style: torch.Tensor):
    """The recipe's loss as an :class:`~nsthelpers.objective.Objective`, for the package's fast loop.

    ``objective(rgb)["total"]`` equals :meth:`ReferenceLoss.score` for a picture in [0, 1]: content
    ``mean((F - P)²)`` at relu4_2; style over relu1_1, relu2_1, relu3_1, relu4_1, relu4_2, relu5_1
    (the recipe's six captured layers) of ``mean((G - A)²) / C²`` with unnormalised Gram matrices
    (``gram_normalize="none"``, per-layer weight ``1 / C²``); weights 1 and 1e6; no TV term. Running
    :func:`~nsthelpers.loop.optimize` on it compares the two *loops* on the very same loss.
    """
    from ..objective import Objective  # objective imports the VGG module; keep this module light

    style_layers = list(SAME_LOSS_LAYERS.values())
    convs = {n: model.layers[layer_index(n) - 1] for n in style_layers}
    channels = {n: conv.out_channels for n, conv in convs.items() if isinstance(conv, nn.Conv2d)}
    return Objective(model, content, [style], content_layers=[SAME_LOSS_LAYERS[CONTENT_LAYER]],
                     style_layers=style_layers, style_layer_weights={n: 1.0 / channels[n] ** 2 for n in style_layers},
                     gram_normalize="none", content_weight=CONTENT_WEIGHT, style_weight=STYLE_WEIGHT, tv_weight=0.0,
                     balance_layers=False)


@dataclass
class ReferenceRun:
    image: torch.Tensor  # (1, 3, H, W) RGB clipped to [0, 1] (im_convert), on the run's device
    final_loss: float  # the last step's total_loss, unclipped, as the recipe prints it
    steps: int


def run_reference(loss: ReferenceLoss, steps: int = 3000, *, lr: float = LR,
                  step_callback: Callable[[int], None] | None = None,
                  log_every: int | None = None, snapshot_every: int | None = None,
                  snapshot: Callable[[int, torch.Tensor], None] | None = None) -> ReferenceRun:
    """The recipe's optimisation loop: Adam on the normalised content image for ``steps`` steps.

    ``step_callback(i)`` is called after every step (the benchmark's clock; the recipe has none);
    ``snapshot(i, picture)`` every ``snapshot_every`` steps and at the last one, with the picture a
    user would see (RGB, clipped to [0, 1]); ``log_every`` prints as the recipe does every 500 (off by default).
    """
    content_features, style_grams, vgg = loss.content_features, loss.style_grams, loss.vgg
    to_net = loss.input.to_net
    target = loss.content.clone().requires_grad_(True)
    optimizer = optim.Adam([target], lr=lr)
    total_loss = None
    for i in range(1, steps + 1):
        target_features = get_features(to_net(target), vgg)
        total_loss, _, _ = reference_loss_terms(target_features, content_features, style_grams,
                                                loss.content_weight, loss.style_weight)
        optimizer.zero_grad()
        total_loss.backward()
        optimizer.step()
        if log_every and i % log_every == 0:
            print(f'Iteration: {i}, Total loss: {total_loss.item()}')
        if step_callback is not None:
            step_callback(i)
        if snapshot is not None and snapshot_every and (i % snapshot_every == 0 or i == steps):
            snapshot(i, loss.input.to_rgb(target.detach()))
    final = total_loss.detach().item() if total_loss is not None else float("nan")
    return ReferenceRun(loss.input.to_rgb(target.detach()), final, steps)
