"""Public-domain paintings: downloaded once by URL, checked against a SHA-256 and cached; a generated
texture in their place, with a one-line notice, when they cannot be had (or ``NSTHELPERS_OFFLINE=1``).
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

from torch import Tensor

from ..images import load_image
from .textures import TEXTURES, generated_texture

_TRUE = {"1", "true", "yes", "on"}


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
