"""Training photos that work offline, and random crops of them for training feed-forward networks.

Johnson et al. trained on the 80 000 photos of MS-COCO; here we have what the installed packages ship:
scikit-image's colour photos, scikit-learn's two sample images and matplotlib's sample photo. That is
nine photos for training (:data:`TRAINING_PHOTOS`) and two held out (:data:`HELD_OUT_PHOTOS`), on which
results are shown. :class:`TrainingCrops` stretches the nine with random multi-scale crops, mirror flips
and colour jitter, but nine photos remain nine photos: a network trained on them has seen a coffee cup,
a rocket, a motorbike, flowers, a temple, a portrait, a retina, stained tissue and galaxies, and nothing else.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..checks import fraction, positive_int
from ..images import load_image


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def read() -> np.ndarray:
        import skimage.data

        image = getattr(skimage.data, name)()
        return image[0] if isinstance(image, tuple) else image  # stereo_motorcycle: (left, right, disparity)
    return read


def _sklearn(filename: str) -> Callable[[], np.ndarray]:
    def read() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return load_sample_image(filename)
    return read


def _matplotlib(filename: str) -> Callable[[], np.ndarray]:
    def read() -> np.ndarray:
        import matplotlib.cbook
        from PIL import Image

        with Image.open(matplotlib.cbook.get_sample_data(filename, asfileobj=False)) as image:
            return np.asarray(image.convert("RGB"))
    return read


#: every offline colour photo: name → (where it comes from, how to read it as an (H, W, 3) uint8 array)
PHOTO_SOURCES: dict[str, tuple[str, Callable[[], np.ndarray]]] = {
    "astronaut": ("scikit-image", _skimage("astronaut")),
    "chelsea": ("scikit-image", _skimage("chelsea")),
    "coffee": ("scikit-image", _skimage("coffee")),
    "rocket": ("scikit-image", _skimage("rocket")),
    "motorcycle": ("scikit-image", _skimage("stereo_motorcycle")),
    "hubble_deep_field": ("scikit-image", _skimage("hubble_deep_field")),
    "immunohistochemistry": ("scikit-image", _skimage("immunohistochemistry")),
    "retina": ("scikit-image", _skimage("retina")),
    "china": ("scikit-learn", _sklearn("china.jpg")),
    "flower": ("scikit-learn", _sklearn("flower.jpg")),
    "grace_hopper": ("matplotlib", _matplotlib("grace_hopper.jpg")),
}
#: shown as results only, never trained on
HELD_OUT_PHOTOS: tuple[str, ...] = ("astronaut", "chelsea")
TRAINING_PHOTOS: tuple[str, ...] = tuple(n for n in PHOTO_SOURCES if n not in HELD_OUT_PHOTOS)


def photo(name: str, max_size: int | None = None) -> torch.Tensor:
    """One of :data:`PHOTO_SOURCES` as a (1, 3, H, W) tensor in [0, 1] (longer side at most ``max_size``)."""
    if name not in PHOTO_SOURCES:
        raise ValueError(f"unknown photo {name!r}; choose one of {', '.join(PHOTO_SOURCES)}")
    return _photo(name, max_size).clone()


@functools.lru_cache(maxsize=32)
def _photo(name: str, max_size: int | None) -> torch.Tensor:
    return load_image(PHOTO_SOURCES[name][1](), max_size=max_size)  # decoded once per process


class TrainingCrops:
    """An endless stream of random square crops of ``size`` px from a few photos, for training.

    Each crop: a photo chosen at random; a square of side between ``size`` and the photo's shorter side
    (so the network sees each photo at several scales), resized to ``size``; a mirror flip half the time;
    colour jitter (brightness, contrast and saturation each scaled by a factor in 1 ± ``jitter``).
    ``photos`` are names of :data:`PHOTO_SOURCES` (default :data:`TRAINING_PHOTOS`) or tensors.
    The same ``seed`` gives the same crops.
    """

    def __init__(self, photos: Sequence[str | torch.Tensor] = TRAINING_PHOTOS, *, size: int = 128,
                 jitter: float = 0.2, seed: int = 0, max_side: int = 512):
        self.size = positive_int("size", size, what="pixels")
        self.jitter = fraction("jitter", jitter)
        if not photos:
            raise ValueError("photos is empty: give at least one photo name or tensor")
        self.photos = [photo(p, max_size=max_side) if isinstance(p, str) else p.detach().cpu().float() for p in photos]
        small = [tuple(p.shape[-2:]) for p in self.photos if min(p.shape[-2:]) < self.size]
        if small:
            raise ValueError(f"photos of {small} px are smaller than size={size}; use a smaller size")
        self.generator = torch.Generator().manual_seed(seed)

    def _uniform(self, low: float, high: float) -> float:
        return low + (high - low) * float(torch.rand((), generator=self.generator))

    def crop(self) -> torch.Tensor:
        """One random crop, (1, 3, size, size) in [0, 1]."""
        image = self.photos[int(torch.randint(len(self.photos), (), generator=self.generator))]
        h, w = image.shape[-2:]
        side = round(self._uniform(self.size, min(h, w)))
        top = int(torch.randint(h - side + 1, (), generator=self.generator))
        left = int(torch.randint(w - side + 1, (), generator=self.generator))
        patch = image[..., top:top + side, left:left + side]
        if side != self.size:
            patch = F.interpolate(patch, size=(self.size, self.size), mode="bilinear", antialias=True,
                                  align_corners=False)
        if float(torch.rand((), generator=self.generator)) < 0.5:
            patch = patch.flip(-1)
        return self.colour_jitter(patch)

    def colour_jitter(self, image: torch.Tensor) -> torch.Tensor:
        """Brightness, contrast and saturation each scaled by a random factor in 1 ± ``jitter``."""
        j = self.jitter
        image = image * self._uniform(1 - j, 1 + j)
        mean = image.mean()
        image = mean + (image - mean) * self._uniform(1 - j, 1 + j)
        grey = image.mean(dim=1, keepdim=True)
        image = grey + (image - grey) * self._uniform(1 - j, 1 + j)
        return image.clamp(0, 1)

    def batch(self, n: int) -> torch.Tensor:
        """``n`` crops stacked: (n, 3, size, size)."""
        return torch.cat([self.crop() for _ in range(positive_int("n", n))])

    def batches(self, n: int) -> Iterator[torch.Tensor]:
        """Batches of ``n`` crops, for ever."""
        while True:
            yield self.batch(n)
