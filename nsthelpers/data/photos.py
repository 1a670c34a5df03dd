"""Content photos: scikit-image's bundled data (no download), or the student's own (a path or an upload).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from ..images import ImageLoadError, load_image

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
