"""Sample images for the notebooks: content photos, generated style textures, public-domain paintings.

Everything here can be shipped and run offline:

* **Content photos** come from scikit-image's bundled data (:data:`CONTENT_PHOTOS`,
  :func:`content_photo`); they are installed with ``scikit-image`` and never downloaded.
* **Generated textures** (:data:`TEXTURES`, :func:`generated_texture`) are painted by our own
  vectorised numpy/torch code, deterministically from a seed.
* **Public-domain paintings** (:data:`ARTWORKS`, :func:`fetch_artwork`) are downloaded once by URL,
  checked against a SHA-256 and cached on the user's machine (:func:`cache_dir`).
  :func:`style_image` falls back to a generated texture, with a one-line notice, when the download
  is impossible or when ``NSTHELPERS_OFFLINE=1`` asks it not to try.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from nsthelpers.images import ImageLoadError, load_image

__all__ = [
    "ARTWORKS",
    "CONTENT_PHOTOS",
    "TEXTURES",
    "Artwork",
    "ChecksumError",
    "DownloadError",
    "cache_dir",
    "chosen_photo",
    "content_photo",
    "fetch_artwork",
    "generated_texture",
    "style_image",
]

_TRUE = {"1", "true", "yes", "on"}

# --------------------------------------------------------------------------------------------
# Content photos (scikit-image bundled data; no download)
# --------------------------------------------------------------------------------------------

# name -> function in ``skimage.data``.  Only images shipped inside the scikit-image wheel are
# listed (the others are fetched with pooch on first use, which needs a network).
_SKIMAGE_PHOTOS: dict[str, str] = {
    "astronaut": "astronaut",  # Eileen Collins, NASA (public domain)
    "chelsea": "chelsea",  # Stefan van der Walt's cat (CC0)
    "coffee": "coffee",  # Rachel Michetti (CC0)
    "rocket": "rocket",  # SpaceX launch (public domain)
    "camera": "camera",  # photographer on a tripod, greyscale (CC0, Lav Varshney)
    "hubble_deep_field": "hubble_deep_field",  # NASA (public domain)
    "immunohistochemistry": "immunohistochemistry",  # stained tissue (no known copyright restrictions)
}

CONTENT_PHOTOS: tuple[str, ...] = tuple(_SKIMAGE_PHOTOS)
"""Names accepted by :func:`content_photo`: photos bundled with scikit-image (``camera`` is greyscale)."""


def content_photo(name: str = "astronaut", max_size: int | None = None) -> Tensor:
    """Load one of scikit-image's bundled photos as a ``(1, 3, H, W)`` float tensor in ``[0, 1]``.

    ``name`` is one of :data:`CONTENT_PHOTOS`; ``max_size`` (optional) shrinks the image so its
    longer side is at most that many pixels, as in :func:`nsthelpers.images.load_image`.
    Raises ``ValueError`` listing the valid names for an unknown ``name``.
    """
    if name not in _SKIMAGE_PHOTOS:
        raise ValueError(f"unknown content photo {name!r}; choose one of {', '.join(CONTENT_PHOTOS)}")
    import skimage.data  # imported lazily: it takes a moment and only this function needs it

    arr = np.asarray(getattr(skimage.data, _SKIMAGE_PHOTOS[name])())  # uint8; greyscale for "camera"
    return load_image(arr, max_size=max_size)


def chosen_photo(upload: Any = None, path: str | os.PathLike[str] | None = None, *, default: str = "chelsea",
                 max_size: int | None = None) -> tuple[Tensor, str]:
    """The photo a student chose, as a ``(1, 3, H, W)`` float tensor in ``[0, 1]``, and its name for titles.

    In this order: the last file uploaded with ``upload`` (an ``ipywidgets.FileUpload``, or its ``.value``:
    a sequence of dicts with ``"name"`` and ``"content"`` bytes), else the image file at ``path`` (an empty
    string counts as none), else the sample photo ``default`` (one of :data:`CONTENT_PHOTOS`), whose name
    reads ``"chelsea (sample photo)"``. ``max_size`` shrinks the photo as in :func:`content_photo`.

    Raises:
        ImageLoadError: the uploaded file is not an image (the message names it and what to upload instead).
        FileNotFoundError: ``path`` does not exist.
        ValueError: ``default`` is not a sample photo.
    """
    files = list(getattr(upload, "value", upload) or ())
    if files:
        name = str(files[-1].get("name") or "uploaded file")
        return _uploaded_image(name, bytes(files[-1]["content"]), max_size), name
    if path is not None and os.fspath(path).strip():
        return load_image(path, max_size=max_size), Path(path).name
    return content_photo(default, max_size=max_size), f"{default} (sample photo)"


def _uploaded_image(name: str, content: bytes, max_size: int | None) -> Tensor:
    """An uploaded file's bytes as an image, read like a file of that name (EXIF orientation included)."""
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / ("upload" + Path(name).suffix[:12])
        file.write_bytes(content)
        try:
            return load_image(file, max_size=max_size)
        except ImageLoadError as exc:
            raise ImageLoadError(
                f"the uploaded file {name!r} is not an image this notebook can read; upload a JPEG or PNG photo "
                "(a phone's HEIC photo: export it as JPEG first)") from exc


# --------------------------------------------------------------------------------------------
# Generated textures
# --------------------------------------------------------------------------------------------


def _hex_palette(*colours: str) -> np.ndarray:
    """``(n, 3)`` float array from ``"#rrggbb"`` strings."""
    return np.array([[int(c[i : i + 2], 16) / 255.0 for i in (1, 3, 5)] for c in colours], dtype=np.float32)


def _apply_palette(t: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Map values ``t`` in ``[0, 1]`` through a piecewise-linear colour ramp -> ``(..., 3)`` float32."""
    stops = np.linspace(0.0, 1.0, len(palette))
    out = np.empty(t.shape + (3,), dtype=np.float32)
    for ch in range(3):
        out[..., ch] = np.interp(t, stops, palette[:, ch])
    return out


def _upsample(grid: np.ndarray, size: int) -> np.ndarray:
    """Bicubic upsampling of a small random lattice ``(C, h, w)`` or ``(h, w)`` to ``size x size``."""
    t = torch.from_numpy(np.ascontiguousarray(grid, dtype=np.float32))
    squeeze = t.ndim == 2
    t = t[None, None] if squeeze else t[None]
    out = F.interpolate(t, size=(size, size), mode="bicubic", align_corners=False)[0]
    return (out[0] if squeeze else out).numpy()


def _fbm(rng: np.random.Generator, size: int, base: int = 4, octaves: int = 5, gain: float = 0.5) -> np.ndarray:
    """Fractal noise with lattices ``base, 2*base, ...`` (amplitude x ``gain`` per octave); zero mean, unit std.

    Built as a pyramid: each octave is upsampled to the next lattice and the finer noise added, so
    only one full-size upsampling is needed.
    """
    res = min(base, size)
    total = rng.standard_normal((res, res)).astype(np.float32)
    amp = 1.0
    for _ in range(octaves - 1):
        nxt = min(res * 2, size)
        amp *= gain
        total = _upsample(total, nxt) + amp * rng.standard_normal((nxt, nxt)).astype(np.float32)
        res = nxt
    total = _upsample(total, size) if res != size else total
    total -= total.mean()
    return total / (total.std() + 1e-8)


def _normalise(x: np.ndarray, k: float | None = None) -> np.ndarray:
    """Rescale to ``[0, 1]``: min..max, or mean -/+ ``k`` standard deviations (clipped) when ``k`` is given."""
    if k is None:
        a, b = float(x.min()), float(x.max())
    else:
        mu, sd = float(x.mean()), float(x.std())
        a, b = mu - k * sd, mu + k * sd
    return np.clip((x - a) / (b - a + 1e-8), 0.0, 1.0)


def _gauss(coord: np.ndarray, centre: float, sigma: float) -> np.ndarray:
    """1-D Gaussian bump ``exp(-(coord - centre)**2 / (2 sigma**2))`` as float32."""
    return np.exp(-((coord - centre) ** 2) / (2.0 * sigma * sigma)).astype(np.float32)


def _smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    """Hermite step from 0 at ``e0`` to 1 at ``e1`` (``e0 > e1`` gives a falling step)."""
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _voronoi(
    rng: np.random.Generator, size: int, cells: int, warp: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Jittered-grid Voronoi on a ``size x size`` image with ``cells x cells`` seeds.

    ``warp`` (optional) offsets the lookup coordinates, in grid-cell units, to bend the borders.
    Returns ``(f1, f2, cell_id)``: distance to the nearest and second-nearest seed (in units of
    one grid cell) and the id (``0 .. cells**2-1``) of the nearest seed, for every pixel.
    """
    pad = 2  # seeds beyond the border, so that warped lookups still find their neighbours
    n = cells + 2 * pad
    grid = np.arange(n, dtype=np.float32) - pad
    jitter = rng.random((2, n, n), dtype=np.float32)
    seed_y = (grid[:, None] + 0.1 + 0.8 * jitter[0]).ravel()
    seed_x = (grid[None, :] + 0.1 + 0.8 * jitter[1]).ravel()
    coord = (np.arange(size, dtype=np.float32) + 0.5) * (cells / size)
    gy, gx = np.meshgrid(coord, coord, indexing="ij")
    if warp is not None:
        lo, hi = 1e-3 - (pad - 1), cells + pad - 1 - 1e-3
        gy = np.clip(gy + warp[0], lo, hi, dtype=np.float32)
        gx = np.clip(gx + warp[1], lo, hi, dtype=np.float32)
    home = (np.floor(gy).astype(np.int32) + pad) * n + (np.floor(gx).astype(np.int32) + pad)
    f1 = np.full((size, size), np.inf, dtype=np.float32)
    f2 = np.full((size, size), np.inf, dtype=np.float32)
    best = home
    for off in (-n - 1, -n, -n + 1, -1, 0, 1, n - 1, n, n + 1):
        cand = home + off
        d = np.square(gy - seed_y[cand]) + np.square(gx - seed_x[cand])
        closer = d < f1
        f2 = np.where(closer, f1, np.minimum(f2, d))
        f1 = np.where(closer, d, f1)
        best = np.where(closer, cand, best)
    ids = ((best // n - pad) % cells) * cells + (best % n - pad) % cells
    return np.sqrt(f1), np.sqrt(f2), ids


def _texture_swirls(rng: np.random.Generator, size: int) -> np.ndarray:
    """Van-Gogh-like flowing strokes: line-integral convolution of noise dabs along a curl flow."""
    coord = (np.arange(size, dtype=np.float32) + 0.5) / size
    # stream function: smooth large-scale noise plus Gaussian vortices (sign = turning direction)
    psi = 0.3 * _fbm(rng, size, base=2, octaves=3, gain=0.5)
    n_vort = 7
    centres = rng.uniform(0.05, 0.95, (n_vort, 2))
    radii = rng.uniform(0.06, 0.16, n_vort)
    signs = rng.choice([-1.0, 1.0], n_vort)
    glow = np.zeros_like(psi)
    for i, ((cy, cx), r, s) in enumerate(zip(centres, radii, signs)):
        # separable Gaussians: an outer product is much cheaper than exp over the whole image
        psi += 1.5 * s * np.outer(_gauss(coord, cy, r), _gauss(coord, cx, r))
        if i < 3:  # the first few vortices glow like Van Gogh's stars
            glow = np.maximum(glow, np.outer(_gauss(coord, cy, 0.7 * r), _gauss(coord, cx, 0.7 * r)))
    gy, gx = np.gradient(psi)
    vy, vx = gx, -gy  # curl: the flow follows the level lines of psi
    norm = np.sqrt(vx**2 + vy**2) + 1e-12
    vx, vy = vx / norm, vy / norm

    # noise to smear: random dabs a few pixels wide, so the strokes have a width
    dabs = _upsample(rng.random((size // 2, size // 2)), size) if size >= 32 else rng.random((size, size))

    steps = 12
    step = 2.0 / size * (1.8 * size / 512 + 0.6)  # normalised units; strokes ~10% of the width
    # (vx, vy, noise) fields, velocity pre-scaled to one step: batch 0 traces forwards, batch 1 backwards
    fwd = np.stack([vx * step, vy * step, dabs])
    field = torch.from_numpy(np.stack([fwd, fwd * np.array([-1, -1, 1], dtype=np.float32)[:, None, None]]))
    c = torch.from_numpy(coord) * 2 - 1
    gy_t, gx_t = torch.meshgrid(c, c, indexing="ij")
    pos = torch.stack([gx_t, gy_t], dim=-1)[None].repeat(2, 1, 1, 1)  # (2, H, W, (x, y))
    acc = torch.from_numpy(dabs).clone()
    weight = 1.0
    with torch.no_grad():
        sample = field
        for k in range(1, steps + 1):
            pos += sample[:, :2].permute(0, 2, 3, 1)
            # nearest sampling is enough: the field is smooth and 2 x 12 samples are averaged
            sample = F.grid_sample(field, pos, mode="nearest", padding_mode="reflection", align_corners=False)
            w = 1.0 - k / (steps + 1)  # tent filter: strokes fade at their ends
            acc += w * (sample[0, 2] + sample[1, 2])
            weight += 2 * w
    lic = _normalise((acc / weight).numpy(), 2.2)

    # colour: deep blues swirling, with yellow/white ringed "stars" at some vortex cores
    tone = _normalise(0.9 * _fbm(rng, size, base=2, octaves=4) + 1.0 * (lic - 0.5) * 2, 2.0)
    blues = _hex_palette("#0a1440", "#16337a", "#2758a8", "#4f8fcf", "#a6cbe3", "#eef3e6")
    img = _apply_palette(tone, blues)
    yellows = _hex_palette("#a8701c", "#e3b43a", "#f7e27c", "#fff8d8")
    yellow = _apply_palette(0.65 * lic + 0.45 * glow, yellows)
    m = _smoothstep(0.4, 0.55, glow)[..., None]
    halo = (0.6 * (_smoothstep(0.1, 0.18, glow) - _smoothstep(0.22, 0.32, glow)) * lic)[..., None]
    img = img * (1 - halo) + halo * _hex_palette("#f4efc4")[0]
    return img * (1 - m) + yellow * m


def _texture_mosaic(rng: np.random.Generator, size: int) -> np.ndarray:
    """Stained glass: Voronoi cells with jewel-coloured fills, glassy shading, fine cracks and dark leading."""
    palette = _hex_palette("#b3172b", "#1f4fa3", "#e6ad1c", "#23875a", "#6b2a8f", "#e2661b", "#2f9fc7", "#c23a7a")
    cells = 9
    f1, f2, ids = _voronoi(rng, size, cells)
    colour_of = palette[rng.integers(0, len(palette), cells * cells)]
    colour_of = colour_of * rng.uniform(0.75, 1.15, (cells * cells, 1)).astype(np.float32)
    img = np.stack([np.take(colour_of[:, ch], ids) for ch in range(3)], axis=-1)
    # glass shading: lighter towards each cell's centre, with a mottled large-scale light
    light = 1.05 - 0.45 * _smoothstep(0.0, 0.9, f1) + 0.12 * _fbm(rng, size, base=3, octaves=4)
    img = img * light[..., None]
    # fine pieces: a second, denser Voronoi drawn as thin dark lines inside the cells
    g1, g2, _ = _voronoi(rng, size, cells * 3)
    fine_px = size / (cells * 3)
    fine = _smoothstep(0.6, 1.6, (g2 - g1) * fine_px)
    img = img * (0.55 + 0.45 * fine)[..., None]
    # lead lines between the big cells, anti-aliased, about 1/20 of a cell wide
    px = size / cells
    edge = _smoothstep(0.05 * px, 0.05 * px + 1.5, (f2 - f1) * px)
    lead = _hex_palette("#1b1614")[0]
    return img * edge[..., None] + lead * (1.0 - edge[..., None])


def _texture_stripes(rng: np.random.Generator, size: int) -> np.ndarray:
    """Wavy diagonal bands of several widths in hot Munch-like colours, streaked by fine brush lines."""
    coord = (np.arange(size, dtype=np.float32) + 0.5) / size
    yy, xx = np.meshgrid(coord, coord, indexing="ij")
    angle = np.pi / 4 + rng.uniform(-0.25, 0.25)
    u = xx * np.cos(angle) + yy * np.sin(angle)
    v = -xx * np.sin(angle) + yy * np.cos(angle)
    warp = 0.035 * _fbm(rng, size, base=2, octaves=2) + 0.02 * np.sin(2 * np.pi * (v * 2.5 + rng.random()))
    uw = u + warp
    # multi-frequency band index: a main frequency plus a slow modulation of the band widths
    phase = uw * 7.0 + 0.3 * np.sin(2 * np.pi * uw * 1.7 + rng.random() * 6.3) + 0.1 * _fbm(rng, size, 4, 3)
    palette = _hex_palette("#f28c28", "#d7381e", "#f6c945", "#254e8f", "#3aa6a0", "#f28c28")  # cyclic
    img = _apply_palette(phase - np.floor(phase), palette)
    # fine brush streaks along the bands, at two frequencies
    streak = 0.5 + 0.5 * np.sin(2 * np.pi * (uw * 60.0 + 0.8 * _fbm(rng, size, 8, 3)))
    streak2 = 0.5 + 0.5 * np.sin(2 * np.pi * (uw * 23.0 + 0.3 * v))
    shade = 0.78 + 0.18 * streak + 0.12 * streak2
    # thin dark lines between every other band, of constant width in pixels
    gy, gx = np.gradient(phase)
    dist = np.abs(phase / 2.0 - np.round(phase / 2.0)) * 2.0 / (np.sqrt(gx * gx + gy * gy) + 1e-6)
    dark = _smoothstep(0.4, 1.6, dist / max(1.0, size / 384))
    img = img * shade[..., None] * (0.35 + 0.65 * dark)[..., None]
    return img


def _texture_dots(rng: np.random.Generator, size: int) -> np.ndarray:
    """Pop-art halftone: cyan, magenta and yellow Ben-Day dot screens over a slowly varying image."""
    coord = np.arange(size, dtype=np.float32) + 0.5
    yy, xx = np.meshgrid(coord, coord, indexing="ij")
    period = max(6.0, size / 36)  # pixels between dots
    paper = np.array([0.98, 0.96, 0.9], dtype=np.float32)
    inks = _hex_palette("#00a3e0", "#e6007e", "#ffe100")
    img = np.broadcast_to(paper, (size, size, 3)).copy()
    for ch, angle in enumerate((np.deg2rad(15), np.deg2rad(75), 0.0)):
        density = _normalise(_fbm(rng, size, base=2, octaves=3), 1.6)
        density = 0.85 * _smoothstep(0.15, 0.95, density)
        c, s = np.cos(angle), np.sin(angle)
        gu = (xx * c + yy * s) / period
        gv = (-xx * s + yy * c) / period
        du, dv = gu - np.round(gu), gv - np.round(gv)
        r = np.sqrt(du * du + dv * dv) * period  # pixels to the nearest dot centre
        radius = np.sqrt(density) * period * 0.62
        cover = _smoothstep(0.7, -0.7, r - radius)[..., None]
        img *= 1.0 - cover * (1.0 - inks[ch])
    # bold comic outlines along contours of a large-scale field
    field = _fbm(rng, size, base=2, octaves=2)
    contour = np.abs(np.sin(np.pi * field * 2.0))
    gy, gx = np.gradient(field * 2.0)
    width = np.pi * np.sqrt(gx * gx + gy * gy) * max(1.5, size / 200)
    line = _smoothstep(0.5, 1.0, contour / (width + 1e-6))
    return img * line[..., None] + 0.08 * (1.0 - line[..., None])


def _texture_cracks(rng: np.random.Generator, size: int) -> np.ndarray:
    """Stormy marbling (domain-warped noise with pale veins) broken by a two-scale craquelure."""
    coord = (np.arange(size, dtype=np.float32) + 0.5) / size
    base = _fbm(rng, size, base=3, octaves=6, gain=0.55)
    qy, qx = _fbm(rng, size, base=2, octaves=4), _fbm(rng, size, base=2, octaves=4)
    c = torch.from_numpy(coord) * 2 - 1
    gy, gx = torch.meshgrid(c, c, indexing="ij")
    warp = 0.5
    grid = torch.stack([gx + warp * torch.from_numpy(qx), gy + warp * torch.from_numpy(qy)], dim=-1)[None]
    with torch.no_grad():
        field = F.grid_sample(torch.from_numpy(base)[None, None], grid, mode="bilinear",
                              padding_mode="reflection", align_corners=False)[0, 0].numpy()
    palette = _hex_palette("#1d2b3a", "#35586a", "#7e9c8f", "#d9c28a", "#c07a3a", "#7a3b22", "#f2e6cc")
    img = _apply_palette(_normalise(field, 2.0), palette)
    # pale veins along level lines of the marbled field, about one pixel wide at 384 px
    ph = field * 1.5
    d0, d1 = np.gradient(ph)
    dist = np.abs(ph - np.round(ph)) / (np.sqrt(d0 * d0 + d1 * d1) + 1e-6)
    vein = (0.7 * (1.0 - _smoothstep(0.3, 1.2, dist / max(1.0, size / 384))))[..., None]
    img = img * (1.0 - vein) + vein * _hex_palette("#f3ead8")[0]
    # craquelure: borders of a coarse and a fine Voronoi, bent by noise
    wy, wx = _fbm(rng, size, base=6, octaves=3), _fbm(rng, size, base=6, octaves=3)
    for cells, depth, width in ((5, 0.85, 1.6), (15, 0.55, 0.7)):
        f1, f2, _ = _voronoi(rng, size, cells, (0.2 * wy, 0.2 * wx))
        crack = _smoothstep(0.0, width * max(1.0, size / 384) + 0.6, (f2 - f1) * (size / cells))
        img = img * (1.0 - depth * (1.0 - crack))[..., None]
    return img


_TEXTURE_FUNCS: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "swirls": _texture_swirls,
    "mosaic": _texture_mosaic,
    "stripes": _texture_stripes,
    "dots": _texture_dots,
    "cracks": _texture_cracks,
}

TEXTURES: tuple[str, ...] = tuple(_TEXTURE_FUNCS)
"""Kinds accepted by :func:`generated_texture`."""


def generated_texture(kind: str, size: int = 256, seed: int = 0) -> Tensor:
    """Paint a colourful, multi-scale style texture as a ``(1, 3, size, size)`` float tensor in ``[0, 1]``.

    ``kind`` is one of :data:`TEXTURES`: ``"swirls"`` (flowing blue/yellow brush strokes),
    ``"mosaic"`` (stained-glass Voronoi cells), ``"stripes"`` (wavy diagonal bands),
    ``"dots"`` (pop-art halftone) or ``"cracks"`` (marble veins with craquelure).
    The same ``(kind, size, seed)`` always gives the same image; nothing is downloaded.
    """
    if kind not in _TEXTURE_FUNCS:
        raise ValueError(f"unknown texture {kind!r}; choose one of {', '.join(TEXTURES)}")
    size = int(size)
    if size < 16:
        raise ValueError(f"size={size} is too small for a texture; use at least 16")
    # independent stream per kind, so kinds never share random numbers
    rng = np.random.default_rng([int(seed) % 2**64, TEXTURES.index(kind)])
    img = _TEXTURE_FUNCS[kind](rng, size)
    img = np.clip(np.asarray(img, dtype=np.float32), 0.0, 1.0)
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None]


# --------------------------------------------------------------------------------------------
# Public-domain paintings: download once, verify, cache
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Artwork:
    """A public-domain painting that :func:`fetch_artwork` can download and verify.

    ``sha256`` is the hex digest of the exact file at ``url``; ``fallback_texture`` names the
    :func:`generated_texture` kind used in its place when it cannot be downloaded.
    """

    name: str
    title: str
    artist: str
    year: str
    url: str
    sha256: str
    fallback_texture: str

    @property
    def filename(self) -> str:
        """File name in the cache: ``name`` plus the URL's extension (e.g. ``starry_night.jpg``)."""
        return self.name + (Path(urllib.parse.urlsplit(self.url).path).suffix or ".img")


# The copies distributed with jcjohnson/neural-style's examples (MIT-licensed repository) of
# paintings that are in the public domain.
_BASE_URL = "https://raw.githubusercontent.com/jcjohnson/neural-style/master/examples/inputs/"

ARTWORKS: dict[str, Artwork] = {
    a.name: a
    for a in (
        Artwork("starry_night", "The Starry Night", "Vincent van Gogh", "1889", _BASE_URL + "starry_night.jpg",
                "0592ab0f7b51b3ce72608a95e53880bd93971e5b48f93a0ce8dfd3cbccf3d098", "swirls"),
        Artwork("the_scream", "The Scream", "Edvard Munch", "1893", _BASE_URL + "the_scream.jpg",
                "f3075cddeb974a9ee1d6418f7f33fd05185a7ac7dcb4288bd2805d499a9dcaee", "stripes"),
        Artwork("shipwreck", "The Shipwreck of the Minotaur", "J. M. W. Turner", "c. 1810",
                _BASE_URL + "shipwreck.jpg",
                "4f7cf34e3cd4a5daaf3f421f059ca9a01aaa2a3afd7243d6670c9c8bc001a213", "cracks"),
    )
}
"""Downloadable public-domain paintings, by name (see :func:`fetch_artwork`, :func:`style_image`)."""


class ChecksumError(ValueError):
    """A downloaded file's SHA-256 is not the expected one (the file is discarded)."""


class DownloadError(OSError):
    """A file could not be downloaded (no network, server error, timeout...)."""


def _default_cache_dir() -> Path:
    env = os.environ.get("NSTHELPERS_CACHE", "").strip()
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    root = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return root / "nsthelpers"


def cache_dir() -> Path:
    """Where downloads are cached: ``$NSTHELPERS_CACHE``, else ``$XDG_CACHE_HOME/nsthelpers``,
    else ``~/.cache/nsthelpers``.  The directory is created only when something is downloaded."""
    return _default_cache_dir()


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _reason(exc: BaseException) -> str:
    """Short human-readable cause of a network error."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__


def _download_verified(url: str, sha256: str, dest: Path, timeout: float = 10.0) -> Path:
    """Download ``url`` to ``dest`` unless ``dest`` already exists with the right SHA-256.

    The data goes to a temporary file next to ``dest``; it is moved into place (atomically, with
    ``os.replace``) only after its checksum matched, so ``dest`` is never partial or unverified.
    A cached file with the wrong checksum is downloaded again.
    """
    expected = sha256.lower()
    if dest.is_file():
        if _sha256_file(dest) == expected:
            return dest
        print(f"nsthelpers: cached {dest.name} is corrupt (checksum mismatch), downloading it again",
              file=sys.stderr)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            request = urllib.request.Request(url, headers={"User-Agent": "nsthelpers"})
            try:
                response = urllib.request.urlopen(request, timeout=timeout)
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                raise DownloadError(f"could not download {url}: {_reason(exc)}") from exc
            with response:
                while True:
                    try:
                        chunk = response.read(1 << 16)
                    except (OSError, http.client.HTTPException) as exc:
                        raise DownloadError(f"could not download {url}: {_reason(exc)}") from exc
                    if not chunk:
                        break
                    h.update(chunk)
                    out.write(chunk)
        got = h.hexdigest()
        if got != expected:
            raise ChecksumError(f"checksum mismatch for {url}: expected sha256 {expected}, got {got}")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def fetch_artwork(
    name: str, *, cache_dir: str | os.PathLike[str] | None = None, timeout: float = 10.0, url: str | None = None
) -> Path:
    """Return the path of the cached, checksum-verified file for ``ARTWORKS[name]``, downloading it if needed.

    Args:
        name: a key of :data:`ARTWORKS`.
        cache_dir: directory for the file (default: :func:`cache_dir`); created if missing.
        timeout: seconds to wait on the network before giving up.
        url: download from here instead of the artwork's URL (a mirror, or a local test server);
            the file must still have the artwork's SHA-256.

    Raises:
        ValueError: unknown ``name``.
        DownloadError: the download failed (no network, HTTP error, timeout).
        ChecksumError: the downloaded bytes do not have the expected SHA-256; nothing is kept.
    """
    if name not in ARTWORKS:
        raise ValueError(f"unknown artwork {name!r}; choose one of {', '.join(ARTWORKS)}")
    art = ARTWORKS[name]
    folder = Path(cache_dir).expanduser() if cache_dir is not None else _default_cache_dir()
    return _download_verified(url or art.url, art.sha256, folder / art.filename, timeout=timeout)


def _offline() -> bool:
    return os.environ.get("NSTHELPERS_OFFLINE", "").strip().lower() in _TRUE


def _cached_artwork(name: str, cache_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The verified cached file of ``ARTWORKS[name]``, or None (never downloads)."""
    art = ARTWORKS[name]
    folder = Path(cache_dir).expanduser() if cache_dir is not None else _default_cache_dir()
    path = folder / art.filename
    return path if path.is_file() and _sha256_file(path) == art.sha256.lower() else None


def style_label(name: str | os.PathLike[str], *, cache_dir: str | os.PathLike[str] | None = None) -> str:
    """What :func:`style_image` gives for ``name``, in words, for titles and legends.

    A painting that is cached reads ``"The Starry Night (Vincent van Gogh, 1889)"``; one that is not
    (offline, so :func:`style_image` returns its generated stand-in) reads
    ``"swirls (offline stand-in for The Starry Night)"``. Textures read ``"swirls (generated texture)"``,
    files their name. Call it after :func:`style_image`, which caches a painting it could download.
    """
    key = os.fspath(name)
    if key in ARTWORKS:
        art = ARTWORKS[key]
        if _cached_artwork(key, cache_dir) is not None:
            return f"{art.title} ({art.artist}, {art.year})"
        return f"{art.fallback_texture} (offline stand-in for {art.title})"
    if key in TEXTURES:
        return f"{key} (generated texture)"
    return Path(key).name


def style_image(
    name: str | os.PathLike[str] = "starry_night",
    max_size: int | None = None,
    *,
    offline_ok: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Tensor:
    """A style image as a ``(1, 3, H, W)`` float tensor in ``[0, 1]``.

    ``name`` may be:

    * a key of :data:`ARTWORKS` (``"starry_night"``, ``"the_scream"``, ``"shipwreck"``): the painting
      is downloaded once and cached (:func:`fetch_artwork`).  If that fails and ``offline_ok`` is
      true, one line is printed to stderr and the artwork's generated fallback texture is returned
      instead.  ``NSTHELPERS_OFFLINE=1`` skips the download attempt (same notice) but still uses a
      painting already in the cache.
    * a key of :data:`TEXTURES`: a generated texture, ``max_size`` (default 512) pixels square.
    * a path to an image file.

    ``max_size`` shrinks the image so its longer side is at most that many pixels.

    Raises:
        ValueError: ``name`` is none of the above.
        DownloadError, ChecksumError: the download failed and ``offline_ok`` is false.
    """
    key = os.fspath(name)
    if key in ARTWORKS:
        art = ARTWORKS[key]
        cached = _cached_artwork(key, cache_dir)
        if cached is not None:
            return load_image(cached, max_size=max_size)
        if _offline():
            reason = "NSTHELPERS_OFFLINE is set"
        else:
            try:
                return load_image(fetch_artwork(key, cache_dir=cache_dir), max_size=max_size)
            except DownloadError:
                if not offline_ok:
                    raise
                reason = "no network?"
            except ChecksumError:
                if not offline_ok:
                    raise
                reason = "checksum mismatch"
        print(f"nsthelpers: could not download {key!r} ({reason}); using the generated "
              f"{art.fallback_texture!r} texture instead", file=sys.stderr)
        return generated_texture(art.fallback_texture, size=max_size or 512)
    if key in TEXTURES:
        return generated_texture(key, size=max_size or 512)
    if Path(key).expanduser().is_file():
        return load_image(Path(key).expanduser(), max_size=max_size)
    raise ValueError(
        f"unknown style image {key!r}: use an artwork ({', '.join(ARTWORKS)}), "
        f"a texture ({', '.join(TEXTURES)}) or the path of an image file"
    )
