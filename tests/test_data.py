"""Tests for nsthelpers.data: bundled photos, generated textures, verified downloads with offline fallback.

No test touches the network: a guard refuses every socket connection that is not to 127.0.0.1,
and downloads are served by a local ``http.server`` started by the tests themselves.
"""
from __future__ import annotations

import hashlib
import http.server
import io
import socket
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from nsthelpers import data
from nsthelpers.data import (
    ARTWORKS,
    CONTENT_PHOTOS,
    TEXTURES,
    Artwork,
    ChecksumError,
    DownloadError,
    cache_dir,
    content_photo,
    fetch_artwork,
    generated_texture,
    style_image,
)


# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real network, no writes to the user's cache, no inherited NSTHELPERS_OFFLINE."""
    real_connect = socket.socket.connect

    def guarded_connect(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "localhost"):
            raise AssertionError(f"test tried to reach the network: {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setenv("NSTHELPERS_CACHE", str(tmp_path / "default-cache"))
    monkeypatch.delenv("NSTHELPERS_OFFLINE", raising=False)


class _Server:
    """A local HTTP server serving ``files`` (path -> bytes) and counting the requests."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                server.requests.append(self.path)
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server() -> _Server:
    srv = _Server()
    yield srv
    srv.close()


@pytest.fixture
def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/art.png"


def _png_bytes(seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (16, 24, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def test_art(monkeypatch: pytest.MonkeyPatch, server: _Server) -> tuple[Artwork, bytes]:
    """A fake artwork entry whose file is served by the local server."""
    payload = _png_bytes()
    server.files["/art.png"] = payload
    art = Artwork("test_art", "Test", "Nobody", "2024", server.url + "/art.png",
                  hashlib.sha256(payload).hexdigest(), "dots")
    monkeypatch.setitem(ARTWORKS, art.name, art)
    return art, payload


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ------------------------------------------------------------------------------------ content photos


@pytest.mark.parametrize("name", CONTENT_PHOTOS)
def test_content_photo_loads(name: str) -> None:
    img = content_photo(name)
    assert img.ndim == 4 and img.shape[:2] == (1, 3) and min(img.shape[2:]) >= 64
    assert img.dtype == torch.float32
    assert 0.0 <= float(img.min()) and float(img.max()) <= 1.0
    assert float(img.std()) > 0.05
    small = content_photo(name, max_size=64)
    assert max(small.shape[2:]) == 64 and small.shape[:2] == (1, 3)


def test_content_photos_include_the_classics() -> None:
    assert {"astronaut", "chelsea", "coffee", "rocket"} <= set(CONTENT_PHOTOS)
    assert content_photo().shape == (1, 3, 512, 512)  # astronaut is the default


def test_unknown_content_photo_lists_names() -> None:
    with pytest.raises(ValueError, match="astronaut.*chelsea"):
        content_photo("mona_lisa")


# ---------------------------------------------------------------------------------- generated textures


def test_texture_kinds() -> None:
    assert {"swirls", "mosaic", "stripes", "dots", "cracks"} <= set(TEXTURES)


@pytest.mark.parametrize("kind", TEXTURES)
def test_texture_shape_range_and_determinism(kind: str) -> None:
    a = generated_texture(kind, size=96, seed=3)
    assert a.shape == (1, 3, 96, 96) and a.dtype == torch.float32
    assert 0.0 <= float(a.min()) and float(a.max()) <= 1.0
    assert torch.equal(a, generated_texture(kind, size=96, seed=3))
    b = generated_texture(kind, size=96, seed=4)
    assert float((a - b).abs().mean()) > 0.05
    assert generated_texture(kind, size=40).shape == (1, 3, 40, 40)
    assert generated_texture(kind).shape == (1, 3, 256, 256)


@pytest.mark.parametrize("kind", TEXTURES)
def test_texture_is_colourful_with_multiscale_structure(kind: str) -> None:
    img = generated_texture(kind, size=256, seed=0)
    px = img[0].reshape(3, -1)
    assert (px.std(dim=1) > 0.08).all(), "every channel varies"
    # colourfulness (Hasler & Suesstrunk): spread of the opponent colour channels
    r, g, b = px
    rg, yb = r - g, 0.5 * (r + g) - b
    colourfulness = float(torch.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * torch.sqrt(rg.mean() ** 2 + yb.mean() ** 2))
    assert colourfulness > 0.1
    # structure at several scales: detail below 4 px, and variation between 32 px blocks
    fine = img - F.interpolate(F.avg_pool2d(img, 4), scale_factor=4, mode="nearest")
    coarse = F.avg_pool2d(img, 32)
    assert float(fine.std()) > 0.02
    assert float(coarse.std()) > 0.04


def test_texture_kinds_differ() -> None:
    imgs = {k: generated_texture(k, size=128, seed=0) for k in TEXTURES}
    for i, a in enumerate(TEXTURES):
        for b in TEXTURES[i + 1 :]:
            assert float((imgs[a] - imgs[b]).abs().mean()) > 0.08, (a, b)


def test_texture_is_fast_at_512() -> None:
    for kind in TEXTURES:
        t0 = time.perf_counter()
        generated_texture(kind, size=512)
        assert time.perf_counter() - t0 < 3.0, kind  # ~0.1-0.2 s on an idle laptop; generous for CI


def test_texture_bad_arguments() -> None:
    with pytest.raises(ValueError, match="swirls"):
        generated_texture("plaid")
    with pytest.raises(ValueError, match="too small"):
        generated_texture("dots", size=4)


# ------------------------------------------------------------------------------------------ artworks


def test_artwork_table() -> None:
    assert set(ARTWORKS) == {"starry_night", "the_scream", "shipwreck"}
    expected = {
        "starry_night": ("0592ab0f7b51b3ce72608a95e53880bd93971e5b48f93a0ce8dfd3cbccf3d098", "swirls"),
        "the_scream": ("f3075cddeb974a9ee1d6418f7f33fd05185a7ac7dcb4288bd2805d499a9dcaee", "stripes"),
        "shipwreck": ("4f7cf34e3cd4a5daaf3f421f059ca9a01aaa2a3afd7243d6670c9c8bc001a213", "cracks"),
    }
    for name, art in ARTWORKS.items():
        assert art.name == name
        assert (art.sha256, art.fallback_texture) == expected[name]
        assert art.fallback_texture in TEXTURES
        assert art.url == f"https://raw.githubusercontent.com/jcjohnson/neural-style/master/examples/inputs/{name}.jpg"
        assert art.filename == f"{name}.jpg"
    assert ARTWORKS["starry_night"].artist == "Vincent van Gogh"
    with pytest.raises(AttributeError):
        ARTWORKS["starry_night"].url = "http://elsewhere"  # type: ignore[misc]


def test_cache_dir_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NSTHELPERS_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("NSTHELPERS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "nsthelpers"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "nsthelpers"
    assert not (tmp_path / "home").exists()  # resolving does not create anything


def test_fetch_downloads_verifies_and_caches(server: _Server, test_art: tuple[Artwork, bytes],
                                             tmp_path: Path) -> None:
    art, payload = test_art
    folder = tmp_path / "cache"
    path = fetch_artwork(art.name, cache_dir=folder)
    assert path == folder / "test_art.png" and path.read_bytes() == payload
    assert server.requests == ["/art.png"]
    assert _files(folder) == ["test_art.png"]  # no temporary file left behind
    assert fetch_artwork(art.name, cache_dir=folder) == path
    assert len(server.requests) == 1, "a verified cached file is not downloaded again"


def test_fetch_uses_default_cache_dir(server: _Server, test_art: tuple[Artwork, bytes], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NSTHELPERS_CACHE", str(tmp_path / "env-cache"))
    assert fetch_artwork(test_art[0].name) == tmp_path / "env-cache" / "test_art.png"


def test_fetch_bad_checksum_keeps_nothing(server: _Server, tmp_path: Path) -> None:
    server.files["/fake.jpg"] = b"definitely not the starry night"
    folder = tmp_path / "cache"
    url = server.url + "/fake.jpg"
    with pytest.raises(ChecksumError) as info:
        fetch_artwork("starry_night", cache_dir=folder, url=url)
    msg = str(info.value)
    assert ARTWORKS["starry_night"].sha256 in msg
    assert hashlib.sha256(b"definitely not the starry night").hexdigest() in msg
    assert url in msg
    assert isinstance(info.value, ValueError)
    assert _files(folder) == []


def test_fetch_redownloads_corrupt_cache(server: _Server, test_art: tuple[Artwork, bytes],
                                         tmp_path: Path) -> None:
    art, payload = test_art
    folder = tmp_path / "cache"
    path = fetch_artwork(art.name, cache_dir=folder)
    path.write_bytes(b"truncated")
    assert fetch_artwork(art.name, cache_dir=folder) == path
    assert path.read_bytes() == payload
    assert len(server.requests) == 2
    assert _files(folder) == ["test_art.png"]


def test_fetch_server_down_raises_download_error(test_art: tuple[Artwork, bytes], closed_port_url: str,
                                                 tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    with pytest.raises(DownloadError, match="could not download") as info:
        fetch_artwork(test_art[0].name, cache_dir=folder, url=closed_port_url, timeout=5)
    assert isinstance(info.value, OSError)
    assert _files(folder) == []


def test_fetch_http_error_raises_download_error(server: _Server, test_art: tuple[Artwork, bytes],
                                                tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="404"):
        fetch_artwork(test_art[0].name, cache_dir=tmp_path, url=server.url + "/missing.png")
    assert _files(tmp_path) == []


def test_fetch_unknown_name() -> None:
    with pytest.raises(ValueError, match="starry_night"):
        fetch_artwork("mona_lisa")


# ------------------------------------------------------------------------------------------ style_image


def test_style_image_offline_env_uses_fallback_without_network(monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("urlopen must not be called when NSTHELPERS_OFFLINE=1")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setenv("NSTHELPERS_OFFLINE", "1")
    img = style_image("starry_night", max_size=64)
    assert torch.equal(img, generated_texture("swirls", size=64))
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert "starry_night" in lines[0] and "'swirls'" in lines[0] and lines[0].startswith("nsthelpers:")


def test_style_image_download_failure_falls_back(test_art: tuple[Artwork, bytes], closed_port_url: str,
                                                 monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    art = test_art[0]
    monkeypatch.setitem(ARTWORKS, art.name, Artwork(art.name, art.title, art.artist, art.year, closed_port_url,
                                                    art.sha256, "dots"))
    img = style_image(art.name, max_size=48, cache_dir=tmp_path)
    assert torch.equal(img, generated_texture("dots", size=48))
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "no network?" in lines[0] and "'dots'" in lines[0]
    with pytest.raises(DownloadError):
        style_image(art.name, cache_dir=tmp_path, offline_ok=False)


def test_style_image_checksum_failure_falls_back(server: _Server, test_art: tuple[Artwork, bytes],
                                                 tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server.files["/art.png"] = _png_bytes(seed=1)  # the server now has a different file
    img = style_image(test_art[0].name, max_size=32, cache_dir=tmp_path)
    assert img.shape == (1, 3, 32, 32)
    assert "checksum" in capsys.readouterr().err
    with pytest.raises(ChecksumError):
        style_image(test_art[0].name, cache_dir=tmp_path, offline_ok=False)
    assert _files(tmp_path) == []


def test_style_image_loads_downloaded_artwork(server: _Server, test_art: tuple[Artwork, bytes],
                                              tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    img = style_image(test_art[0].name, cache_dir=tmp_path)
    assert img.shape == (1, 3, 16, 24)
    expected = np.asarray(Image.open(io.BytesIO(test_art[1]))).astype(np.float32) / 255
    assert np.allclose(img[0].permute(1, 2, 0).numpy(), expected, atol=1e-6)
    assert capsys.readouterr().err == ""


def test_style_image_texture_and_path(tmp_path: Path) -> None:
    assert torch.equal(style_image("mosaic", max_size=64), generated_texture("mosaic", size=64))
    assert style_image("stripes").shape == (1, 3, 512, 512)
    path = tmp_path / "style.png"
    path.write_bytes(_png_bytes())
    assert style_image(path).shape == (1, 3, 16, 24)
    assert style_image(str(path), max_size=12).shape == (1, 3, 8, 12)
    with pytest.raises(ValueError, match="starry_night.*swirls"):
        style_image("no_such_style")


def test_module_exports() -> None:
    for name in data.__all__:
        obj = getattr(data, name)
        if callable(obj):
            assert obj.__doc__, name


# ------------------------------------------------------------------------------------ offline cache, labels


def test_offline_uses_a_verified_cached_painting(test_art: tuple[Artwork, bytes], monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    art, payload = test_art
    cache = tmp_path / "classroom-cache"
    cache.mkdir()
    (cache / art.filename).write_bytes(payload)
    monkeypatch.setenv("NSTHELPERS_CACHE", str(cache))
    monkeypatch.setenv("NSTHELPERS_OFFLINE", "1")
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: (_ for _ in ()).throw(AssertionError("network")))
    img = style_image(art.name)
    assert img.shape == (1, 3, 16, 24) and capsys.readouterr().err == ""
    assert data.style_label(art.name) == "Test (Nobody, 2024)"
    (cache / art.filename).write_bytes(payload[:-1] + b"x")  # damaged copy: not used, the stand-in is
    assert torch.equal(style_image(art.name, max_size=32), generated_texture("dots", size=32))
    assert data.style_label(art.name) == "dots (offline stand-in for Test)"


def test_style_labels_say_what_the_picture_is() -> None:
    assert data.style_label("starry_night") == "swirls (offline stand-in for The Starry Night)"
    assert data.style_label("mosaic") == "mosaic (generated texture)"
    assert data.style_label("/tmp/my_painting.jpg") == "my_painting.jpg"
