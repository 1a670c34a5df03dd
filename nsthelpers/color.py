"""Colour handling for "preserve the content's colours" (Gatys, Bethge, Hertzmann & Shechtman, 2016).

Two methods:

* **luminance-only transfer**: stylise the luminance channel only (style luminance matched to the
  content's mean/std first), then put the content's chrominance back (YIQ colour space).
* **colour histogram matching**: before stylising, give the style image the content's colour
  statistics with a linear map that matches mean and covariance of RGB (the "Cholesky"/"PCA" transfer).
"""
from __future__ import annotations

import torch

_RGB_TO_YIQ = torch.tensor([
    [0.299, 0.587, 0.114],
    [0.595716, -0.274453, -0.321263],
    [0.211456, -0.522591, 0.311135],
])
PRESERVE_COLOR = ("luminance", "histogram")


def rgb_to_yiq(image: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB → YIQ (Y is luminance in [0, 1])."""
    m = _RGB_TO_YIQ.to(image.device, image.dtype)
    return torch.einsum("ij,njhw->nihw", m, image)


def yiq_to_rgb(image: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_yiq` (not clipped)."""
    m = torch.linalg.inv(_RGB_TO_YIQ.double()).to(image.device, image.dtype)
    return torch.einsum("ij,njhw->nihw", m, image)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """Luminance Y of an RGB image, as a 3-channel grey image (so VGG can read it)."""
    y = rgb_to_yiq(image)[:, :1]
    return y.expand(-1, 3, -1, -1).contiguous()


def match_luminance(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Grey style luminance shifted/scaled to the content luminance's mean and std (Gatys 2016 eq. 1)."""
    ys, yc = rgb_to_yiq(style)[:, :1], rgb_to_yiq(content)[:, :1]
    matched = (ys - ys.mean()) * (yc.std() / ys.std().clamp_min(1e-8)) + yc.mean()
    return matched.clamp(0, 1).expand(-1, 3, -1, -1).contiguous()


def combine_luminance(stylized: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """RGB image with the luminance of ``stylized`` and the chrominance (I, Q) of ``content``."""
    y = rgb_to_yiq(stylized)[:, :1]
    iq = rgb_to_yiq(content)[:, 1:]
    return yiq_to_rgb(torch.cat([y, iq], dim=1)).clamp(0, 1)


def _mean_cov(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    flat = image.reshape(3, -1).double()
    mean = flat.mean(dim=1, keepdim=True)
    centred = flat - mean
    return mean, centred @ centred.T / flat.shape[1]


def _sqrtm(cov: torch.Tensor) -> torch.Tensor:
    vals, vecs = torch.linalg.eigh(cov)
    return vecs @ torch.diag(vals.clamp_min(1e-10).sqrt()) @ vecs.T


def match_color_histogram(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """``style`` recoloured so its RGB mean and covariance equal ``content``'s (linear transfer).

    Uses the symmetric matrix-square-root map x' = C_c^½ C_s^-½ (x − μ_s) + μ_c, the variant Gatys et al.
    found to give the most natural results. Output clipped to [0, 1].
    """
    if style.shape[0] != 1 or content.shape[0] != 1:
        raise ValueError("match_color_histogram works on one image at a time: shapes (1, 3, H, W)")
    mu_s, cov_s = _mean_cov(style[0])
    mu_c, cov_c = _mean_cov(content[0])
    transform = _sqrtm(cov_c) @ torch.linalg.inv(_sqrtm(cov_s) + 1e-8 * torch.eye(3, dtype=torch.float64))
    flat = style[0].reshape(3, -1).double()
    out = transform @ (flat - mu_s) + mu_c
    return out.reshape(style.shape).to(style.dtype).clamp(0, 1)
