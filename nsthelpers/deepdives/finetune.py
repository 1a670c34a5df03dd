"""Transfer learning with VGG19: classify the package's own generated textures.

The other classic use of a pretrained VGG: keep its convolutions, put a new head on top, and train on a small
dataset. Everything here runs offline and in minutes on a CPU:

* :func:`texture_dataset`: the five :data:`~nsthelpers.data.TEXTURES` families, each picture drawn with its
  own random parameters (a seed), optionally with shuffled colour channels so that colour alone does not
  give the class away;
* :class:`TextureClassifier`: a copy of VGG19's convolutions (``features[:train_from]`` frozen, the rest
  trainable, or all frozen: a *feature extractor*), global average pooling and a new linear head;
* :func:`train_classifier` and :func:`accuracy`.

The loss network itself is never modified: the classifier trains a copy.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import positive_int, positive_number
from ..data import TEXTURES, generated_texture
from ..vgg import VGG19Features

SPLIT_SEEDS = {"train": 0, "test": 1_000_000}   # seed offsets: the two splits never share a picture


def texture_dataset(n_per_class: int, size: int, *, split: str = "train", shuffle_colours: bool = True,
                    seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(images (N, 3, size, size), labels (N,))``: ``n_per_class`` pictures of every texture family.

    Picture ``i`` of family ``k`` is ``generated_texture(k, size, seed=offset + i)``, where the offset
    depends on ``split`` (``"train"`` or ``"test"``) and ``seed``. ``shuffle_colours`` permutes each
    picture's RGB channels at random (the families' palettes would otherwise give the answer away).
    """
    n_per_class = positive_int("n_per_class", n_per_class, what="pictures")
    if split not in SPLIT_SEEDS:
        raise ValueError(f"split={split!r}; choose one of {tuple(SPLIT_SEEDS)}")
    offset = SPLIT_SEEDS[split] + 10_000 * int(seed)
    gen = torch.Generator().manual_seed(offset)
    images, labels = [], []
    for label, kind in enumerate(TEXTURES):
        for i in range(n_per_class):
            img = generated_texture(kind, size, seed=offset + i)
            if shuffle_colours:
                img = img[:, torch.randperm(3, generator=gen)]
            images.append(img)
            labels.append(label)
    return torch.cat(images), torch.tensor(labels)


class TextureClassifier(nn.Module):
    """VGG19's convolutions (a copy), global average pooling and a new ``Linear(512, n_classes)`` head.

    ``train_from=10`` freezes ``features[:10]`` (conv1_1 … pool2) and fine-tunes the rest; ``None`` freezes
    every convolution (a fixed feature extractor: only the head learns).
    """

    def __init__(self, vgg: VGG19Features, n_classes: int = len(TEXTURES), *, train_from: int | None = 10):
        super().__init__()
        n_classes = positive_int("n_classes", n_classes, what="classes")
        self.preprocess = copy.deepcopy(vgg.preprocess)
        self.features = copy.deepcopy(vgg.layers)
        n = len(self.features)
        if train_from is not None and not (isinstance(train_from, int) and 0 <= train_from <= n):
            raise ValueError(f"train_from must be None or an index 0 … {n} into features, got {train_from!r}")
        for i, layer in enumerate(self.features):
            layer.requires_grad_(train_from is not None and i >= train_from)
        channels = [m.out_channels for m in self.features if isinstance(m, nn.Conv2d)][-1]
        self.head = nn.Linear(channels, n_classes)
        self.train_from = train_from

    def pooled(self, images: torch.Tensor) -> torch.Tensor:
        """Global average of the last feature map: one ``channels``-vector per picture."""
        return self.features(self.preprocess(images)).mean(dim=(2, 3))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Class logits ``(N, n_classes)`` for RGB pictures in [0, 1]."""
        return self.head(self.pooled(images))


def _batches(n: int, batch_size: int, gen: torch.Generator | None):
    order = torch.randperm(n, generator=gen) if gen is not None else torch.arange(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def train_classifier(model: TextureClassifier, images: torch.Tensor, labels: torch.Tensor, *, epochs: int,
                     batch_size: int = 16, lr: float = 1e-3, features_lr: float = 1e-5, seed: int = 0) -> list[float]:
    """Adam with cross-entropy: ``lr`` for the head, ``features_lr`` for the trainable convolutions (a
    smaller step, so that fine-tuning adjusts the pretrained filters instead of overwriting them).
    Returns the mean training loss of every epoch."""
    epochs = positive_int("epochs", epochs, what="epochs")
    batch_size = positive_int("batch_size", batch_size, what="pictures")
    lr, features_lr = positive_number("lr", lr), positive_number("features_lr", features_lr)
    device = next(model.head.parameters()).device
    tuned = [p for p in model.features.parameters() if p.requires_grad]
    groups = [{"params": list(model.head.parameters()), "lr": lr}] + ([{"params": tuned, "lr": features_lr}] if tuned else [])
    opt = torch.optim.Adam(groups)
    gen = torch.Generator().manual_seed(seed)
    history = []
    for _ in range(epochs):
        total = 0.0
        for idx in _batches(len(images), batch_size, gen):
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(images[idx].to(device)), labels[idx].to(device))
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        history.append(total / len(images))
    return history


@torch.no_grad()
def accuracy(model: TextureClassifier, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 64) -> float:
    """Fraction of pictures whose highest logit is their label."""
    device = next(model.head.parameters()).device
    right = 0
    for idx in _batches(len(images), batch_size, None):
        right += int((model(images[idx].to(device)).argmax(1).cpu() == labels[idx]).sum())
    return right / len(images)


__all__ = ["SPLIT_SEEDS", "TextureClassifier", "accuracy", "texture_dataset", "train_classifier"]
