"""Loading, resizing, saving and normalising images for neural style transfer.

Every image inside :mod:`nsthelpers` is a ``torch.float32`` tensor of shape
``(1, 3, H, W)``: one image, RGB channel order, values in ``[0, 1]``.  This module
converts to and from that convention:

* :func:`load_image` reads a file path, a ``PIL.Image``, a NumPy array or a tensor.
* :func:`match_size` and :func:`resize_max_side` resize tensors.
* :func:`to_pil`, :func:`to_numpy` and :func:`save_image` go back out.
* :func:`imagenet_normalize` / :func:`imagenet_denormalize` prepare inputs for
  torchvision's VGG19 weights, :func:`caffe_preprocess` / :func:`caffe_deprocess`
  for the original Caffe VGG19 weights used by Gatys et al.

Conventions worth knowing:

* **Transparency is composited over white.**  A fully transparent pixel becomes
  white ``(1, 1, 1)``; a half transparent red pixel becomes pink.  Style transfer
  has no notion of alpha, and white matches how most viewers show such images.
* **EXIF orientation is honoured**, so phone photos come out upright.
* **16-bit greyscale** images (PIL modes ``I;16``, ``I;16B``, ``I``) are scaled by
  ``1/65535`` so their full precision survives.  16-bit *colour* PNGs are reduced
  to 8 bits per channel by PIL itself when it opens them.
* This module is the bottom of the package's dependency graph: it imports no
  other ``nsthelpers`` module.
"""
from __future__ import annotations

import contextlib
import math
import numbers
import os
import re
import secrets
import warnings
from pathlib import Path
from typing import Iterator, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

__all__ = [
    "ImageLoadError",
    "load_image",
    "match_size",
    "resize_max_side",
    "to_pil",
    "to_numpy",
    "save_image",
    "imagenet_normalize",
    "imagenet_denormalize",
    "caffe_preprocess",
    "caffe_deprocess",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "CAFFE_MEAN_BGR",
    "SAVE_FORMATS",
]

#: Per-channel mean of ImageNet in RGB order, for torchvision models (inputs in [0, 1]).
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
#: Per-channel standard deviation of ImageNet in RGB order, for torchvision models.
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
#: Mean pixel of the original Caffe VGG models, in **BGR** order, on the 0-255 scale.
CAFFE_MEAN_BGR: tuple[float, float, float] = (103.939, 116.779, 123.68)

#: File suffixes :func:`save_image` accepts, mapped to the PIL format written.
SAVE_FORMATS: dict[str, str] = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}

# Pixel limit used while *we* open a file: big enough for a 30000 x 30000 photo,
# still finite so real decompression bombs are refused.
_LOAD_MAX_PIXELS = 30000 * 30000
_WHITE = 1.0
_ORIENTATION_TAG = 0x0112
_SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I"}

ImageSource = Union[str, "os.PathLike[str]", Image.Image, np.ndarray, torch.Tensor]


class ImageLoadError(ValueError):
    """An image could not be read or has an unusable shape, dtype or content.

    The message names the offending file (or input) and says how to fix it.
    """


# --------------------------------------------------------------------------- #
# size arithmetic
# --------------------------------------------------------------------------- #
def _check_positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _validate_size_args(max_size: object, size: object) -> tuple[int | None, int | tuple[int, int] | None]:
    if max_size is not None and size is not None:
        raise ValueError(
            "give either max_size (only shrink) or size (exact size), not both; "
            f"got max_size={max_size!r}, size={size!r}"
        )
    if max_size is not None:
        max_size = _check_positive_int(max_size, "max_size")
    if size is not None:
        if isinstance(size, (tuple, list)):
            if len(size) != 2:
                raise ValueError(f"size must be an int or an (H, W) pair, got {size!r}")
            size = (_check_positive_int(size[0], "size[0] (height)"), _check_positive_int(size[1], "size[1] (width)"))
        else:
            size = _check_positive_int(size, "size")
    return max_size, size


def long_side_hw(h: int, w: int, long_side: int) -> tuple[int, int]:
    """(H, W) with the longer side exactly ``long_side`` and the aspect kept (min 1 px): what
    :func:`resize_max_side` gives an H×W image. The package's one copy of this arithmetic."""
    if h >= w:
        return long_side, max(1, round(w * long_side / h))
    return max(1, round(h * long_side / w)), long_side


def _target_hw(h: int, w: int, max_size: int | None, size: int | tuple[int, int] | None) -> tuple[int, int]:
    if size is not None:
        if isinstance(size, tuple):
            return size
        return long_side_hw(h, w, size)
    if max_size is not None and max(h, w) > max_size:
        return long_side_hw(h, w, max_size)
    return h, w


# --------------------------------------------------------------------------- #
# PIL helpers
# --------------------------------------------------------------------------- #
@contextlib.contextmanager
def _raised_pixel_limit() -> Iterator[None]:
    """Temporarily allow images up to 30000 x 30000 px; restore PIL's limit afterwards.

    Decompression-bomb protection stays on (just with a higher ceiling), and the
    global is put back even when loading fails.  Not thread-safe (PIL's limit is
    a module global).
    """
    old = Image.MAX_IMAGE_PIXELS
    if old is not None and old < _LOAD_MAX_PIXELS:
        Image.MAX_IMAGE_PIXELS = _LOAD_MAX_PIXELS
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = old


def _orientation(img: Image.Image) -> int:
    try:
        value = img.getexif().get(_ORIENTATION_TAG, 1)
        return int(value) if int(value) in range(1, 9) else 1
    except Exception:  # broken EXIF must not stop the image from loading
        return 1


def _pil_to_float_array(img: Image.Image, max_size: int | None, size: int | tuple[int, int] | None,
                        name: str, allow_draft: bool) -> np.ndarray:
    """Decode, orient, resize and composite a PIL image into float32 (H, W, 3) in [0, 1].

    Resizing happens on the 8-bit (or single-channel float) PIL image *before*
    anything is expanded to float RGB, so huge inputs stay cheap.
    """
    orientation = _orientation(img)
    w0, h0 = img.size
    # size after EXIF rotation: orientations 5-8 swap width and height
    h_rot, w_rot = (w0, h0) if orientation in (5, 6, 7, 8) else (h0, w0)
    th, tw = _target_hw(h_rot, w_rot, max_size, size)

    if allow_draft:
        # JPEG can decode directly at 1/2, 1/4 or 1/8 scale; ask for at least the
        # target size so the final LANCZOS pass only ever shrinks.  No-op for other formats.
        scale = max(th / h_rot, tw / w_rot)
        if scale < 1:
            img.draft(None, (max(1, math.ceil(w0 * scale)), max(1, math.ceil(h0 * scale))))

    if orientation != 1:
        try:
            img = ImageOps.exif_transpose(img)
        except (OSError, SyntaxError, EOFError):
            raise  # a decoding problem, not an EXIF one
        except Exception:  # unusable EXIF: load the image unrotated rather than fail
            th, tw = _target_hw(h0, w0, max_size, size)

    if img.mode in _SIXTEEN_BIT_MODES or img.mode == "F":
        return _float_array_pipeline(_high_depth_array(img, name), (th, tw))
    img = _standard_mode(img)
    if img.size != (tw, th):
        # PIL premultiplies alpha for LA/RGBA while resampling, so colours of
        # transparent pixels do not bleed.  reducing_gap does a cheap box
        # reduction first for very large shrink factors.
        img = img.resize((tw, th), Image.Resampling.LANCZOS, reducing_gap=3.0)

    arr = np.asarray(img, dtype=np.uint8).astype(np.float32) / 255.0
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return _composite_over_white(arr)


def _high_depth_array(img: Image.Image, name: str) -> np.ndarray:
    """A 16-bit or float single-channel image as float32 (H, W, 1) in [0, 1] (resized later, per channel)."""
    arr = np.asarray(img)
    if img.mode == "F":
        arr = arr.astype(np.float32)
        if not np.isfinite(arr).all():
            raise ImageLoadError(f"{name}: float image contains NaN or inf; replace them before loading")
    else:
        arr = arr.astype(np.float32) / 65535.0
    return np.clip(arr, 0.0, 1.0)[:, :, None]


def _standard_mode(img: Image.Image) -> Image.Image:
    """Convert any PIL mode to one of L, LA, RGB, RGBA (palette transparency kept as alpha)."""
    mode = img.mode
    if mode == "1":
        return img.convert("L")
    if mode == "P":
        return img.convert("RGBA" if "transparency" in img.info else "RGB")
    if mode in ("PA", "RGBa"):
        return img.convert("RGBA")
    if mode == "La":
        return img.convert("LA")
    if mode not in ("L", "LA", "RGB", "RGBA"):
        return img.convert("RGB")  # CMYK, YCbCr, RGBX, LAB, HSV ...
    return img


def _composite_over_white(arr: np.ndarray) -> np.ndarray:
    """(H, W, C) float with C in 1..4 -> (H, W, 3); alpha (C == 2 or 4) goes over white."""
    c = arr.shape[2]
    if c in (2, 4):
        alpha = arr[:, :, -1:]
        arr = arr[:, :, :-1] * alpha + _WHITE * (1.0 - alpha)
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return np.ascontiguousarray(arr, dtype=np.float32)


def _float_array_pipeline(arr: np.ndarray, target_hw: tuple[int, int]) -> np.ndarray:
    """Float (H, W, C) in [0, 1] -> composite over white -> LANCZOS resize -> (H, W, 3) clipped."""
    c = arr.shape[2]
    if c in (2, 4):
        alpha = arr[:, :, -1:]
        arr = arr[:, :, :-1] * alpha + _WHITE * (1.0 - alpha)
    th, tw = target_hw
    if arr.shape[:2] != (th, tw):
        planes = []
        for ch in range(arr.shape[2]):  # PIL's float mode "F" has one channel
            plane = Image.fromarray(np.ascontiguousarray(arr[:, :, ch], dtype=np.float32))
            plane = plane.resize((tw, th), Image.Resampling.LANCZOS, reducing_gap=3.0)
            planes.append(np.asarray(plane, dtype=np.float32))
        arr = np.stack(planes, axis=2)
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    # LANCZOS can ring slightly outside [0, 1]
    return np.ascontiguousarray(np.clip(arr, 0.0, 1.0), dtype=np.float32)


# --------------------------------------------------------------------------- #
# per-source loaders
# --------------------------------------------------------------------------- #
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
# Bytes per pixel while a file is decoded whole: PIL's decoded image and one converted copy (4 bytes a
# pixel each), then the float32 RGB array and one copy of it (12 bytes each). 20000 x 20000 px -> 12.8 GB;
# a 1.2 MB PNG of that size measured 11.6 GB in issue 24.
#: Files above BOMB_PIXELS pixels whose decoded RGB bytes exceed BOMB_RATIO x their size are refused.
BOMB_PIXELS = 8000 * 8000
BOMB_RATIO = 250
_DECODE_BYTES_PER_PIXEL = 2 * 4
_FLOAT_BYTES_PER_PIXEL = 2 * 12


def _available_ram() -> int | None:
    """Bytes of memory available now (Linux: MemAvailable; elsewhere None: no check)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def decode_bytes(img: Image.Image, max_size: int | None = None, size: int | tuple[int, int] | None = None) -> int:
    """About how many bytes of memory :func:`load_image` needs to decode ``img`` (opened, not yet decoded),
    from the size its header declares: the whole picture decoded (a JPEG at a reduced scale when a smaller
    size is asked for), then the float32 RGB array at the size asked for."""
    w, h = img.size
    th, tw = _target_hw(h, w, max_size, size)
    decoded = w * h
    if img.format == "JPEG" and max(th / h, tw / w) < 1:  # Image.draft decodes at 1/2, 1/4 or 1/8
        reduce = 1
        while reduce < 8 and max(th / h, tw / w) * reduce * 2 <= 1:
            reduce *= 2
        decoded = math.ceil(w / reduce) * math.ceil(h / reduce)
    return decoded * _DECODE_BYTES_PER_PIXEL + th * tw * _FLOAT_BYTES_PER_PIXEL


def _check_fits_in_memory(img: Image.Image, name: str, max_size: int | None, size: int | tuple[int, int] | None,
                          file_bytes: int | None = None) -> None:
    """Refuse, from the header alone, an image whose decoding would not fit in the memory available, or a
    file that declares far more pixels than its size can hold (above :data:`BOMB_PIXELS` pixels and
    :data:`BOMB_RATIO` raw bytes per stored byte: a photo compresses by about 10, a PNG by 2-3)."""
    w, h = img.size
    if file_bytes and w * h > BOMB_PIXELS and w * h * 3 > BOMB_RATIO * file_bytes:
        raise ImageLoadError(
            f"{name} declares {w}x{h} pixels in a file of {file_bytes / 1e6:.1f} MB (x{w * h * 3 / file_bytes:.0f} "
            "when decoded): refused as a likely 'decompression bomb' before decoding. If it is a real picture, "
            "shrink it with an image editor first")
    need, free = decode_bytes(img, max_size, size), _available_ram()
    if free is not None and need > 0.8 * free:
        w, h = img.size
        raise ImageLoadError(
            f"{name} declares {w}x{h} pixels; decoding it needs about {need / 2**30:.1f} GiB of memory and "
            f"{free / 2**30:.1f} GiB are available, so it was refused before decoding (a small file this large is "
            "a 'decompression bomb'). Shrink it with an image editor first"
        )


def _load_path(src: str | os.PathLike, max_size: int | None, size: int | tuple[int, int] | None) -> np.ndarray:
    if isinstance(src, str) and _URL.match(src):
        raise ImageLoadError(f"{src!r} is a URL; load_image reads local files only: download it first "
                             "(e.g. `curl -O URL`, or a browser) and pass the file's path")
    path = Path(os.fspath(src)).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"image file not found: '{path}' (resolved to '{path.resolve()}'); check the path")
    if path.is_dir():
        raise ImageLoadError(f"'{path}' is a directory, not an image file; pass the path of one image")
    try:
        with _raised_pixel_limit(), Image.open(path) as img:
            _check_fits_in_memory(img, f"'{path}'", max_size, size, path.stat().st_size)
            return _pil_to_float_array(img, max_size, size, name=f"'{path}'", allow_draft=True)
    except ImageLoadError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(
            f"'{path}' has too many pixels and was refused as a possible decompression bomb "
            f"({exc}); shrink it with an image editor first"
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        # UnidentifiedImageError is an OSError; truncated files raise OSError on load
        raise ImageLoadError(
            f"'{path}' is not an image PIL can read (truncated or not an image file: {exc}); "
            "re-save it as PNG/JPEG"
        ) from exc


def _load_pil(img: Image.Image, max_size: int | None, size: int | tuple[int, int] | None) -> np.ndarray:
    name = f"PIL image ({img.mode}, {img.size[0]}x{img.size[1]})"
    if img.size[0] == 0 or img.size[1] == 0:
        raise ImageLoadError(f"{name} is empty (zero width or height); pass a non-empty image")
    _check_fits_in_memory(img, name, max_size, size)
    try:
        # no draft(): it would mutate the caller's image object
        return _pil_to_float_array(img, max_size, size, name=name, allow_draft=False)
    except ImageLoadError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageLoadError(f"{name} could not be decoded ({exc}); re-save it as PNG/JPEG") from exc


def _load_ndarray(arr: np.ndarray, max_size: int | None, size: int | tuple[int, int] | None) -> np.ndarray:
    desc = f"numpy array of shape {arr.shape} and dtype {arr.dtype}"
    if arr.size == 0:
        raise ImageLoadError(f"{desc} is empty; pass an image with at least 1x1 pixels")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        hint = ""
        if arr.ndim == 3 and arr.shape[0] in (1, 3, 4):
            hint = " (looks channels-first: use np.transpose(a, (1, 2, 0)))"
        raise ImageLoadError(f"{desc} is not an image; expected (H, W), (H, W, 1), (H, W, 3) or (H, W, 4){hint}")
    h, w = arr.shape[:2]
    target = _target_hw(h, w, max_size, size)

    if arr.dtype == np.uint8:
        # 8-bit: go through PIL like a file would (cheap resize in uint8)
        # (H, W) -> L, (H, W, 2) -> LA, (H, W, 3) -> RGB, (H, W, 4) -> RGBA
        img = Image.fromarray(np.ascontiguousarray(arr[:, :, 0] if arr.shape[2] == 1 else arr))
        return _pil_to_float_array(img, None, target if target != (h, w) else None, desc, allow_draft=False)
    if arr.dtype == np.uint16:
        farr = arr.astype(np.float32) / 65535.0
    elif arr.dtype == np.bool_:
        farr = arr.astype(np.float32)
    elif np.issubdtype(arr.dtype, np.floating):
        farr = arr.astype(np.float32)
        if not np.isfinite(farr).all():
            raise ImageLoadError(f"{desc} contains NaN or inf; fix them first, e.g. np.nan_to_num(a)")
        far = float(np.mean((farr > 1 + FLOAT_REFUSE_MARGIN) | (farr < -FLOAT_REFUSE_MARGIN)))
        _check_float_range(float(farr.min()), float(farr.max()), far, desc, "a")
        farr = np.clip(farr, 0.0, 1.0)
    else:
        raise ImageLoadError(
            f"{desc} has an unsupported dtype; use uint8 (0-255), uint16 (0-65535) or float in [0, 1], "
            "e.g. a.astype(np.uint8)"
        )
    return _float_array_pipeline(farr, target)


#: A float image with more than FLOAT_REFUSE_SHARE of its values beyond FLOAT_REFUSE_MARGIN around [0, 1]
#: is refused (0..255 data, a normalised tensor); a few stray values, or values a little outside, are
#: clipped with a warning (resampling overshoots by far less than the margin).
FLOAT_REFUSE_MARGIN = 0.5
FLOAT_REFUSE_SHARE = 0.01
FLOAT_WARN_MARGIN = 0.01


def _check_float_range(lo: float, hi: float, far: float, desc: str, var: str) -> None:
    """Refuse a float image far outside [0, 1] (``far``: the share of its values beyond the margin); warn
    when it is outside at all (it is then clipped)."""
    if far > FLOAT_REFUSE_SHARE:
        if lo >= -FLOAT_REFUSE_MARGIN and hi <= 255.5:
            hint = f"it looks like 0-255 values: pass {var} / 255"
        else:
            hint = "a normalised tensor? undo the normalisation (e.g. nst.imagenet_denormalize) first"
        raise ImageLoadError(f"{desc} has values from {lo:.4g} to {hi:.4g}, far outside [0, 1] where a float "
                             f"image lives; {hint}")
    if hi > 1 + FLOAT_WARN_MARGIN or lo < -FLOAT_WARN_MARGIN:
        warnings.warn(f"{desc} has values from {lo:.4g} to {hi:.4g}; they are clipped to [0, 1]", stacklevel=4)


def _load_tensor(t: torch.Tensor, max_size: int | None, size: int | tuple[int, int] | None) -> torch.Tensor:
    desc = f"tensor of shape {tuple(t.shape)} and dtype {t.dtype}"
    if t.numel() == 0:
        raise ImageLoadError(f"{desc} is empty; pass an image with at least 1x1 pixels")
    x = t.detach()
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4 or x.shape[0] != 1 or x.shape[1] not in (1, 3):
        raise ImageLoadError(f"{desc} is not one image; expected (3, H, W) or (1, 3, H, W)")
    if x.dtype == torch.uint8:
        x = x.to(torch.float32) / 255.0
    elif x.dtype == torch.bool:
        x = x.to(torch.float32)
    elif x.is_floating_point():
        x = x.to(torch.float32, copy=True)
        if not torch.isfinite(x).all():
            raise ImageLoadError(f"{desc} contains NaN or inf; fix them first, e.g. torch.nan_to_num(t)")
        far = float(((x > 1 + FLOAT_REFUSE_MARGIN) | (x < -FLOAT_REFUSE_MARGIN)).float().mean())
        _check_float_range(float(x.min()), float(x.max()), far, desc, "t")
        x = x.clamp_(0.0, 1.0)
    else:
        raise ImageLoadError(f"{desc} has an unsupported dtype; use float in [0, 1] or uint8")
    if x.shape[1] == 1:
        x = x.expand(1, 3, *x.shape[2:])
    h, w = x.shape[-2:]
    th, tw = _target_hw(int(h), int(w), max_size, size)
    if (th, tw) != (h, w):
        x = F.interpolate(x, size=(th, tw), mode="bicubic", align_corners=False, antialias=True).clamp_(0.0, 1.0)
    return x.contiguous().clone()


# --------------------------------------------------------------------------- #
# public API
# --------------------------------------------------------------------------- #
def load_image(
    src: ImageSource,
    max_size: int | None = None,
    size: int | tuple[int, int] | None = None,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """Load an image as a float32 tensor of shape ``(1, 3, H, W)``, RGB, values in ``[0, 1]``.

    Args:
        src: what to load:

            * a file path (``str`` / ``pathlib.Path``): any format PIL reads.  EXIF
              orientation is applied; modes ``1``, ``L``, ``LA``, ``P`` (with or
              without transparency), ``RGB``, ``RGBA``, ``CMYK``, ``I;16``/``I;16B``/``I``
              (16-bit, scaled by 1/65535) and ``F`` are converted to RGB.
            * a ``PIL.Image.Image`` (treated like a file, EXIF orientation included;
              the object is not modified).
            * a NumPy array ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)``
              (``(H, W, 2)`` is grey + alpha) of dtype ``uint8`` (0-255),
              ``uint16`` (0-65535) or float (in ``[0, 1]``: values outside are
              clipped with a warning; NaN/inf, or more than 1 % of values beyond
              ``[-0.5, 1.5]`` — 0-255 data, a normalised image — is an error).
            * a ``torch.Tensor`` ``(3, H, W)`` or ``(1, 3, H, W)`` in ``[0, 1]``
              (float, clamped as for arrays; ``uint8`` is divided by 255).  It is
              detached and cloned, and stays on its device unless ``device`` is given.
            * a URL is refused (download the file first).

            Transparent pixels are composited over **white**.
        max_size: shrink (never enlarge) so the longer side is at most this many
            pixels, keeping the aspect ratio.
        size: an ``int`` makes the longer side exactly this long (up or down,
            aspect kept); an ``(H, W)`` pair gives that exact shape.
        device: where to put the result (default: CPU, or the input tensor's device).

    Returns:
        A new ``torch.float32`` tensor ``(1, 3, H, W)`` with values in ``[0, 1]``.

    Raises:
        FileNotFoundError: the path does not exist.
        ImageLoadError: the file is not a readable image, its declared size would
            not fit in the memory available (checked from the header, before
            decoding), or the array/tensor has an unusable shape, dtype or values.
        ValueError: ``max_size`` and ``size`` were both given, or a size is not a
            positive int.

    Large files are cheap to load with ``max_size``: JPEGs are decoded at reduced
    scale (``Image.draft``) and everything is shrunk in 8-bit before it becomes float.
    """
    out = _load_any(src, *_validate_size_args(max_size, size))
    return out if device is None else out.to(device)


def _load_any(src: ImageSource, max_size: int | None, size: int | tuple[int, int] | None) -> torch.Tensor:
    if isinstance(src, torch.Tensor):
        return _load_tensor(src, max_size, size)
    if isinstance(src, (str, os.PathLike)):
        arr = _load_path(src, max_size, size)
    elif isinstance(src, Image.Image):
        arr = _load_pil(src, max_size, size)
    elif isinstance(src, np.ndarray):
        arr = _load_ndarray(src, max_size, size)
    else:
        raise TypeError(
            f"load_image() cannot read a {type(src).__name__}; pass a file path, a PIL image, "
            "a numpy array or a torch tensor"
        )
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1))).unsqueeze(0).contiguous()


def _as_4d(image: torch.Tensor, fn: str) -> tuple[torch.Tensor, bool]:
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"{fn}() expects a torch.Tensor, got {type(image).__name__}")
    if image.dim() == 3:
        return image.unsqueeze(0), True
    if image.dim() == 4:
        return image, False
    raise ValueError(f"{fn}() expects an image tensor (N, C, H, W) or (C, H, W), got shape {tuple(image.shape)}")


def _interp(x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    if tuple(x.shape[-2:]) == hw:
        return x.clone()
    dtype = x.dtype
    y = x if dtype in (torch.float32, torch.float64) else x.to(torch.float32)
    y = F.interpolate(y, size=hw, mode="bilinear", align_corners=False, antialias=True)
    return y.to(dtype) if dtype.is_floating_point else y


def match_size(image: torch.Tensor, like: torch.Tensor | Sequence[int]) -> torch.Tensor:
    """Resize ``image`` to the height and width of ``like`` and clamp to ``[0, 1]``.

    Args:
        image: ``(N, C, H, W)`` (usually ``(1, 3, H, W)``) or ``(C, H, W)`` tensor.
        like: a tensor whose last two dimensions give the target ``(H, W)``, or an
            ``(H, W)`` pair.

    Returns:
        A new tensor with the same leading dimensions as ``image`` and spatial size
        ``(H, W)`` of ``like``, resized with antialiased bilinear interpolation
        (aspect ratio is *not* preserved).
    """
    x, squeezed = _as_4d(image, "match_size")
    if isinstance(like, torch.Tensor):
        if like.dim() < 2:
            raise ValueError(f"match_size(): like must have at least 2 dims, got shape {tuple(like.shape)}")
        hw = (int(like.shape[-2]), int(like.shape[-1]))
    else:
        if len(like) != 2:
            raise ValueError(f"match_size(): like must be a tensor or an (H, W) pair, got {like!r}")
        hw = (_check_positive_int(like[0], "like[0] (height)"), _check_positive_int(like[1], "like[1] (width)"))
    y = _interp(x, hw).clamp_(0.0, 1.0)
    return y.squeeze(0) if squeezed else y


def resize_max_side(image: torch.Tensor, max_side: int) -> torch.Tensor:
    """Resize so the longer side is exactly ``max_side`` pixels, keeping the aspect ratio.

    Enlarges as well as shrinks.  The shorter side is rounded and at least 1 px.
    Uses antialiased bilinear interpolation, which never leaves the input's value
    range, so no clamping is done.

    Args:
        image: ``(N, C, H, W)`` or ``(C, H, W)`` tensor.
        max_side: target length of the longer side, a positive int.

    Returns:
        A new tensor with the same leading dimensions as ``image``.
    """
    max_side = _check_positive_int(max_side, "max_side")
    x, squeezed = _as_4d(image, "resize_max_side")
    hw = long_side_hw(int(x.shape[-2]), int(x.shape[-1]), max_side)
    y = _interp(x, hw)
    return y.squeeze(0) if squeezed else y


def _to_hwc_float(tensor: torch.Tensor, fn: str) -> torch.Tensor:
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{fn}() expects a torch.Tensor, got {type(tensor).__name__}")
    x = tensor.detach()
    if x.dim() == 4:
        if x.shape[0] != 1:
            raise ValueError(f"{fn}() takes one image; got a batch of {x.shape[0]} (index it: t[i])")
        x = x[0]
    if x.dim() == 2:
        x = x.unsqueeze(0)
    if x.dim() != 3 or x.shape[0] not in (1, 3):
        raise ValueError(f"{fn}() expects (1, 3, H, W) or (3, H, W), got shape {tuple(tensor.shape)}")
    x = x.to(device="cpu", dtype=torch.float32)
    if x.shape[0] == 1:
        x = x.expand(3, -1, -1)
    x = torch.nan_to_num(x, nan=0.0, posinf=1.0, neginf=0.0).clamp(0.0, 1.0)
    return x.permute(1, 2, 0).contiguous()


def to_pil(tensor: torch.Tensor) -> Image.Image:
    """Convert an image tensor to an 8-bit RGB ``PIL.Image``.

    Accepts ``(1, 3, H, W)`` or ``(3, H, W)`` (one-channel images are repeated to
    grey RGB).  The tensor is detached and copied to the CPU; values are clamped
    to ``[0, 1]`` (NaN becomes 0) and rounded to ``uint8``.
    """
    x = _to_hwc_float(tensor, "to_pil")
    arr = (x * 255.0).round().to(torch.uint8).numpy()
    return Image.fromarray(arr)  # (H, W, 3) uint8 -> mode "RGB"


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """Convert an image tensor to a float32 ``(H, W, 3)`` NumPy array in ``[0, 1]``.

    Ready for ``matplotlib.pyplot.imshow``.  Same input rules as :func:`to_pil`;
    the result never shares memory with the tensor.
    """
    return _to_hwc_float(tensor, "to_numpy").numpy().copy()


def save_image(tensor: torch.Tensor, path: str | os.PathLike) -> Path:
    """Save an image tensor to ``path`` and return it as a :class:`pathlib.Path`.

    The format comes from the suffix (``.png``, ``.jpg``/``.jpeg``, ``.webp``,
    ``.bmp``, ``.tif``/``.tiff``; JPEG/WebP at quality 95).  Parent directories
    are created.  The file is written to a temporary file in the same directory
    and then moved into place with :func:`os.replace`, so an interrupted save never
    leaves a half-written image behind.

    Raises:
        ValueError: the suffix is not one of the formats above.
    """
    out = Path(os.fspath(path)).expanduser()
    fmt = SAVE_FORMATS.get(out.suffix.lower())
    if fmt is None:
        allowed = ", ".join(SAVE_FORMATS)
        raise ValueError(f"cannot save '{out}': unknown image suffix {out.suffix!r}; use one of {allowed}")
    img = to_pil(tensor)
    out.parent.mkdir(parents=True, exist_ok=True)
    params = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    tmp = out.with_name(f".{out.name}.{secrets.token_hex(6)}.tmp")
    # os.open with 0o666 respects the umask, unlike tempfile's 0o600
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            img.save(fh, format=fmt, **params)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return out


def _channel_stats(x: torch.Tensor, values: tuple[float, float, float], fn: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.dim() < 3 or x.shape[-3] != 3:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{fn}() expects a (N, 3, H, W) or (3, H, W) tensor, got {shape}")
    if not x.is_floating_point():
        raise ValueError(f"{fn}() expects a float tensor, got {x.dtype}; use x.float() / 255 for uint8")
    return torch.tensor(values, dtype=x.dtype, device=x.device).view(3, 1, 1)


def imagenet_normalize(x: torch.Tensor) -> torch.Tensor:
    """``(x - IMAGENET_MEAN) / IMAGENET_STD`` per RGB channel, for torchvision VGG weights.

    ``x`` is ``(N, 3, H, W)`` or ``(3, H, W)`` RGB in ``[0, 1]``; the constants
    broadcast and follow ``x``'s device and dtype.  Autograd flows through.
    """
    mean = _channel_stats(x, IMAGENET_MEAN, "imagenet_normalize")
    std = _channel_stats(x, IMAGENET_STD, "imagenet_normalize")
    return (x - mean) / std


def imagenet_denormalize(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`imagenet_normalize`: ``x * IMAGENET_STD + IMAGENET_MEAN``.

    The result is not clamped; :func:`to_pil` and :func:`save_image` clamp.
    """
    mean = _channel_stats(x, IMAGENET_MEAN, "imagenet_denormalize")
    std = _channel_stats(x, IMAGENET_STD, "imagenet_denormalize")
    return x * std + mean


def caffe_preprocess(x: torch.Tensor) -> torch.Tensor:
    """Prepare RGB ``[0, 1]`` images for the original Caffe VGG weights.

    Returns ``y = BGR(x) * 255 - CAFFE_MEAN_BGR``: channel order reversed to
    B, G, R, scaled to 0-255, mean pixel subtracted.  ``x`` is ``(N, 3, H, W)`` or
    ``(3, H, W)``; autograd flows through.
    """
    mean = _channel_stats(x, CAFFE_MEAN_BGR, "caffe_preprocess")
    return x.flip(-3) * 255.0 - mean


def caffe_deprocess(y: torch.Tensor) -> torch.Tensor:
    """Exact inverse of :func:`caffe_preprocess`: ``RGB((y + CAFFE_MEAN_BGR) / 255)``.

    The result is not clamped; :func:`to_pil` and :func:`save_image` clamp.
    """
    mean = _channel_stats(y, CAFFE_MEAN_BGR, "caffe_deprocess")
    return ((y + mean) / 255.0).flip(-3)
