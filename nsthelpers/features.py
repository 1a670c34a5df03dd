"""Extracting named VGG19 activations: one forward pass, or forward hooks (the same tensors)."""
from __future__ import annotations

from typing import Sequence

import torch

from .vgg import VGG19Features, layer_index


def extract_features(model: VGG19Features, image: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
    """``{name: activation}`` for ``layers`` in a single pass that stops at the deepest one.

    ``image`` is RGB in [0, 1], (N, 3, H, W); the model applies its own preprocessing.
    """
    return model(image, list(layers))


def extract_features_with_hooks(
    model: VGG19Features, image: torch.Tensor, layers: Sequence[str]
) -> dict[str, torch.Tensor]:
    """The same result as :func:`extract_features`, collected with ``register_forward_hook``.

    This is the other common way (many blog recipes use it): hooks on the modules, then one full forward pass.
    The hooks are always removed, even if the pass fails.
    """
    captured: dict[str, torch.Tensor] = {}
    handles = []
    try:
        for name in layers:
            module = model[name]

            def hook(_module, _inputs, output, name=name):
                captured[name] = output

            handles.append(module.register_forward_hook(hook))
        x = model.preprocess(image)
        last = max(layer_index(n) for n in layers)
        for idx in range(last + 1):
            x = model.layers[idx](x)
    finally:
        for h in handles:
            h.remove()
    return {name: captured[name] for name in layers}
