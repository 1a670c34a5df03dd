"""Generated style textures: painted by vectorised numpy code, deterministically from a seed (no download).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


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
