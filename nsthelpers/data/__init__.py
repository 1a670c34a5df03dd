"""Sample images for the notebooks: content photos (``photos``), generated style textures (``textures``),
public-domain paintings (``paintings``); re-exported here.

Everything here can be shipped and run offline:

* **Content photos** come from scikit-image's bundled data (:data:`CONTENT_PHOTOS`,
  :func:`content_photo`); they are installed with ``scikit-image`` and never downloaded.
* **Generated textures** (:data:`TEXTURES`, :func:`generated_texture`) are painted by our own
  vectorised numpy/torch code, deterministically from a seed.
* **Public-domain paintings** (:data:`ARTWORKS`, :func:`fetch_artwork`) are downloaded once by URL,
  checked against a SHA-256 and cached on the user's machine (:func:`cache_dir`).
  :func:`style_image` falls back to a generated texture, with a one-line notice, when the download
  is impossible or when ``NSTHELPERS_OFFLINE=1`` asks it not to try.

A subpackage: imports the core (``images``).
"""
from __future__ import annotations

from .paintings import (
    ARTWORKS,
    Artwork,
    ChecksumError,
    DownloadError,
    cache_dir,
    fetch_artwork,
    style_image,
    style_label,
)
from .photos import CONTENT_PHOTOS, chosen_photo, content_photo
from .textures import TEXTURES, generated_texture

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
    "style_label",
]
