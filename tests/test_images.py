"""Tests for nsthelpers.images: loading every PIL mode, resizing, saving, normalisation."""
from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nsthelpers import images as im
from nsthelpers.images import (
    CAFFE_MEAN_BGR,
    IMAGENET_MEAN,
    IMAGENET_STD,
    ImageLoadError,
    caffe_deprocess,
    caffe_preprocess,
    imagenet_denormalize,
    imagenet_normalize,
    load_image,
    match_size,
    resize_max_side,
    save_image,
    to_numpy,
    to_pil,
)

EPS8 = 1.0 / 255.0


def _px(t: torch.Tensor, y: int, x: int) -> list[float]:
    """RGB values of one pixel of a (1, 3, H, W) tensor."""
    return t[0, :, y, x].tolist()


def _header(path: Path) -> tuple[str, str, dict]:
    """(mode, format, info) of an image file, closing it again."""
    with Image.open(path) as img:
        return img.mode, img.format, dict(img.info)


def _check_image_tensor(t: torch.Tensor, h: int, w: int) -> None:
    assert isinstance(t, torch.Tensor)
    assert t.shape == (1, 3, h, w)
    assert t.dtype == torch.float32
    assert float(t.min()) >= 0.0 and float(t.max()) <= 1.0


# --------------------------------------------------------------------------- #
# PIL modes from files
# --------------------------------------------------------------------------- #
def test_rgb_png_exact_values(tmp_path):
    arr = np.zeros((3, 4, 3), np.uint8)
    arr[0, 0] = (255, 128, 0)
    arr[2, 3] = (10, 20, 30)
    Image.fromarray(arr).save(tmp_path / "a.png")
    t = load_image(tmp_path / "a.png")
    _check_image_tensor(t, 3, 4)
    assert _px(t, 0, 0) == pytest.approx([1.0, 128 / 255, 0.0], abs=1e-6)
    assert _px(t, 2, 3) == pytest.approx([10 / 255, 20 / 255, 30 / 255], abs=1e-6)
    # str paths work too
    assert torch.equal(load_image(str(tmp_path / "a.png")), t)


def test_mode_L(tmp_path):
    Image.new("L", (5, 4), 100).save(tmp_path / "l.png")
    t = load_image(tmp_path / "l.png")
    _check_image_tensor(t, 4, 5)
    assert torch.allclose(t, torch.full_like(t, 100 / 255))


def test_mode_LA_composites_over_white(tmp_path):
    img = Image.new("LA", (2, 1))
    img.putpixel((0, 0), (200, 255))  # opaque grey
    img.putpixel((1, 0), (0, 0))  # fully transparent black
    img.save(tmp_path / "la.png")
    t = load_image(tmp_path / "la.png")
    _check_image_tensor(t, 1, 2)
    assert _px(t, 0, 0) == pytest.approx([200 / 255] * 3, abs=1e-6)
    assert _px(t, 0, 1) == pytest.approx([1.0, 1.0, 1.0], abs=1e-6)


def _palette_image() -> Image.Image:
    img = Image.new("P", (2, 2), 0)
    img.putpalette([255, 0, 0, 0, 0, 255] + [0, 0, 0] * 254)  # index 0 red, 1 blue
    img.putpixel((1, 1), 1)
    return img


def test_mode_P(tmp_path):
    _palette_image().save(tmp_path / "p.png")
    t = load_image(tmp_path / "p.png")
    _check_image_tensor(t, 2, 2)
    assert _px(t, 0, 0) == pytest.approx([1, 0, 0])
    assert _px(t, 1, 1) == pytest.approx([0, 0, 1])


def test_mode_P_with_transparency(tmp_path):
    img = _palette_image()
    img.info["transparency"] = 1  # blue index is transparent
    img.save(tmp_path / "pt.png", transparency=1)
    assert _header(tmp_path / "pt.png")[2].get("transparency") == 1
    t = load_image(tmp_path / "pt.png")
    assert _px(t, 0, 0) == pytest.approx([1, 0, 0])
    assert _px(t, 1, 1) == pytest.approx([1, 1, 1])  # transparent -> white, not blue


def test_mode_RGBA_over_white(tmp_path):
    img = Image.new("RGBA", (3, 1))
    img.putpixel((0, 0), (0, 0, 0, 0))  # fully transparent black
    img.putpixel((1, 0), (255, 0, 0, 255))  # opaque red
    img.putpixel((2, 0), (255, 0, 0, 128))  # half transparent red -> pink
    img.save(tmp_path / "rgba.png")
    t = load_image(tmp_path / "rgba.png")
    _check_image_tensor(t, 1, 3)
    assert _px(t, 0, 0) == pytest.approx([1, 1, 1], abs=1e-6)
    assert _px(t, 0, 1) == pytest.approx([1, 0, 0], abs=1e-6)
    a = 128 / 255
    assert _px(t, 0, 2) == pytest.approx([1, 1 - a, 1 - a], abs=1e-6)


def test_rgba_resize_keeps_transparent_area_white(tmp_path):
    arr = np.zeros((40, 40, 4), np.uint8)
    arr[:, 20:] = (0, 255, 0, 255)  # right half opaque green, left half transparent black
    Image.fromarray(arr).save(tmp_path / "half.png")
    t = load_image(tmp_path / "half.png", max_size=10)
    _check_image_tensor(t, 10, 10)
    assert _px(t, 5, 1) == pytest.approx([1, 1, 1], abs=0.02)  # no black bleeding in
    assert _px(t, 5, 8) == pytest.approx([0, 1, 0], abs=0.02)


def test_cmyk_jpeg(tmp_path):
    Image.new("RGB", (16, 16), (255, 0, 0)).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    assert _header(tmp_path / "cmyk.jpg")[0] == "CMYK"
    t = load_image(tmp_path / "cmyk.jpg")
    _check_image_tensor(t, 16, 16)
    assert _px(t, 8, 8) == pytest.approx([1, 0, 0], abs=0.06)


def test_16bit_png_keeps_full_precision(tmp_path):
    arr = np.array([[1000, 1010], [0, 65535]], dtype=np.uint16)
    Image.fromarray(arr).save(tmp_path / "g16.png")
    assert _header(tmp_path / "g16.png")[0] in ("I;16", "I")
    t = load_image(tmp_path / "g16.png")
    _check_image_tensor(t, 2, 2)
    a, b = t[0, 0, 0, 0].item(), t[0, 0, 0, 1].item()
    assert a == pytest.approx(1000 / 65535, abs=1e-7)
    assert b == pytest.approx(1010 / 65535, abs=1e-7)
    assert a != b  # would collapse to the same 8-bit value (3/255 vs 4/255 at best)
    assert _px(t, 1, 1) == pytest.approx([1, 1, 1])
    assert torch.equal(t[0, 0], t[0, 1]) and torch.equal(t[0, 0], t[0, 2])


def test_16bit_big_endian_and_int32_pil_modes():
    big = Image.fromarray(np.array([[1000, 1010]], dtype=">u2"))
    assert big.mode == "I;16B"
    t = load_image(big)
    assert t[0, 0, 0].tolist() == pytest.approx([1000 / 65535, 1010 / 65535], abs=1e-7)
    i32 = Image.fromarray(np.array([[1000, 70000]], dtype=np.int32))
    assert i32.mode == "I"
    t = load_image(i32)
    assert t[0, 0, 0].tolist() == pytest.approx([1000 / 65535, 1.0], abs=1e-7)  # clipped


def test_16bit_resize_stays_precise(tmp_path):
    Image.fromarray(np.full((30, 60), 1010, np.uint16)).save(tmp_path / "c16.png")
    t = load_image(tmp_path / "c16.png", max_size=20)
    _check_image_tensor(t, 10, 20)
    assert torch.allclose(t, torch.full_like(t, 1010 / 65535), atol=1e-6)


def test_mode_1(tmp_path):
    img = Image.new("1", (2, 2), 0)
    img.putpixel((1, 0), 1)
    img.save(tmp_path / "bw.png")
    t = load_image(tmp_path / "bw.png")
    assert _px(t, 0, 0) == [0.0, 0.0, 0.0]
    assert _px(t, 0, 1) == [1.0, 1.0, 1.0]


def test_mode_F_tiff(tmp_path):
    arr = np.array([[0.25, 0.75], [-1.0, 3.0]], dtype=np.float32)
    Image.fromarray(arr).save(tmp_path / "f.tif")
    assert _header(tmp_path / "f.tif")[0] == "F"
    t = load_image(tmp_path / "f.tif")
    assert t[0, 0].flatten().tolist() == pytest.approx([0.25, 0.75, 0.0, 1.0])


def test_pil_image_input_matches_path_and_is_not_modified(tmp_path):
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (9, 7, 3), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "r.png")
    from_path = load_image(tmp_path / "r.png")
    with Image.open(tmp_path / "r.png") as pil:
        from_pil = load_image(pil)
    from_np = load_image(arr)
    assert torch.equal(from_path, from_pil) and torch.equal(from_path, from_np)
    assert pil.size == (7, 9) and pil.mode == "RGB"
    assert torch.allclose(from_path[0].permute(1, 2, 0), torch.from_numpy(arr / 255).float())


# --------------------------------------------------------------------------- #
# EXIF orientation
# --------------------------------------------------------------------------- #
def _exif_jpeg(path: Path, w: int, h: int, orientation: int, block: int) -> None:
    """Blue w x h JPEG with a red block x 0..block, y 0..block, EXIF orientation set."""
    arr = np.zeros((h, w, 3), np.uint8)
    arr[:] = (0, 0, 255)
    arr[:block, :block] = (255, 0, 0)
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = orientation
    img.save(path, quality=95, exif=exif)


def test_exif_orientation_6_rotates(tmp_path):
    # orientation 6 = "rotate 90 degrees clockwise to display": the stored top-left
    # corner ends up top-right.
    _exif_jpeg(tmp_path / "rot.jpg", w=40, h=20, orientation=6, block=8)
    t = load_image(tmp_path / "rot.jpg")
    _check_image_tensor(t, 40, 20)  # H=40, W=20
    red = t[0, 0] - t[0, 2]  # +1 for red, -1 for blue
    assert red[1:7, 13:19].mean() > 0.8  # marker top-right
    assert red[1:7, 1:7].mean() < -0.8  # top-left is blue
    assert red[33:39, 13:19].mean() < -0.8  # bottom-right is blue


def test_exif_orientation_with_draft_and_max_size(tmp_path):
    _exif_jpeg(tmp_path / "rot_big.jpg", w=400, h=200, orientation=6, block=80)
    t = load_image(tmp_path / "rot_big.jpg", max_size=50)
    _check_image_tensor(t, 50, 25)
    red = t[0, 0] - t[0, 2]
    assert red[2:8, 17:23].mean() > 0.8
    assert red[2:8, 2:8].mean() < -0.8
    t = load_image(tmp_path / "rot_big.jpg", size=(30, 7))
    _check_image_tensor(t, 30, 7)


# --------------------------------------------------------------------------- #
# bad inputs
# --------------------------------------------------------------------------- #
def test_truncated_jpeg(tmp_path):
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "full.jpg")
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    limit = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageLoadError, match="cut.jpg") as info:
        load_image(tmp_path / "cut.jpg")
    assert "re-save" in str(info.value)
    assert Image.MAX_IMAGE_PIXELS == limit  # restored even when loading fails


def test_text_file_named_png(tmp_path):
    (tmp_path / "notes.png").write_text("this is not an image\n")
    with pytest.raises(ImageLoadError) as info:
        load_image(tmp_path / "notes.png")
    assert "notes.png" in str(info.value)
    assert "PNG/JPEG" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.jpg"):
        load_image(tmp_path / "nope.jpg")


def test_directory_is_not_an_image(tmp_path):
    with pytest.raises(ImageLoadError, match="directory"):
        load_image(tmp_path)


def test_unsupported_source_type():
    with pytest.raises(TypeError, match="file path"):
        load_image(12345)  # type: ignore[arg-type]


def test_one_pixel_image(tmp_path):
    Image.new("RGB", (1, 1), (0, 255, 0)).save(tmp_path / "one.png")
    t = load_image(tmp_path / "one.png")
    _check_image_tensor(t, 1, 1)
    assert _px(t, 0, 0) == [0.0, 1.0, 0.0]
    t = load_image(tmp_path / "one.png", size=4)
    _check_image_tensor(t, 4, 4)
    assert torch.allclose(t[0, 1], torch.ones(4, 4))
    assert load_image(np.zeros((1, 1), np.uint8)).shape == (1, 3, 1, 1)


# --------------------------------------------------------------------------- #
# huge images
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def huge_jpeg(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("huge") / "huge.jpg"
    img = Image.new("RGB", (10000, 10000), (200, 40, 90))
    img.save(path, quality=50)
    del img
    return path


def test_huge_jpeg_with_max_size(huge_jpeg):
    limit = Image.MAX_IMAGE_PIXELS
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        t = load_image(huge_jpeg, max_size=512)
    elapsed = time.perf_counter() - start
    _check_image_tensor(t, 512, 512)
    assert _px(t, 256, 256) == pytest.approx([200 / 255, 40 / 255, 90 / 255], abs=0.03)
    assert elapsed < 3.0  # decoded at 1/8 scale by Image.draft
    assert Image.MAX_IMAGE_PIXELS == limit  # protection is not switched off globally


def _proc_status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def test_huge_jpeg_peak_memory(huge_jpeg):
    # A full decode would need 300 MB (uint8 RGB) or 1.2 GB (float32); draft keeps it small.
    # Linux only: writing "5" to clear_refs resets the peak-RSS counter (VmHWM).
    try:
        Path("/proc/self/clear_refs").write_text("5")
        before = _proc_status_kb("VmRSS")
        assert _proc_status_kb("VmHWM") <= before + 1024
    except (OSError, KeyError, AssertionError):
        pytest.skip("peak RSS cannot be reset on this platform")
    t = load_image(huge_jpeg, max_size=512)
    grew_mb = (_proc_status_kb("VmHWM") - before) / 1024
    assert t.shape == (1, 3, 512, 512)
    assert grew_mb < 100, f"peak RSS grew by {grew_mb:.0f} MB while loading"


def test_max_pixel_limit_still_refuses_bombs(tmp_path, monkeypatch):
    Image.new("L", (200, 200)).save(tmp_path / "bomb.png")
    monkeypatch.setattr(im, "_LOAD_MAX_PIXELS", 100)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(ImageLoadError, match="bomb.png"):
        load_image(tmp_path / "bomb.png")
    assert Image.MAX_IMAGE_PIXELS == 100


# --------------------------------------------------------------------------- #
# size / max_size
# --------------------------------------------------------------------------- #
@pytest.fixture()
def wide_png(tmp_path) -> Path:
    arr = np.zeros((150, 300, 3), np.uint8)
    arr[:] = (30, 60, 90)
    Image.fromarray(arr).save(tmp_path / "wide.png")
    return tmp_path / "wide.png"


def test_max_size_shrinks_keeping_aspect(wide_png):
    t = load_image(wide_png, max_size=100)
    _check_image_tensor(t, 50, 100)
    assert _px(t, 25, 50) == pytest.approx([30 / 255, 60 / 255, 90 / 255], abs=1e-3)


def test_max_size_never_enlarges(wide_png):
    assert load_image(wide_png, max_size=1000).shape == (1, 3, 150, 300)
    assert load_image(wide_png, max_size=300).shape == (1, 3, 150, 300)


def test_size_int_sets_longer_side_up_or_down(wide_png):
    assert load_image(wide_png, size=600).shape == (1, 3, 300, 600)
    assert load_image(wide_png, size=61).shape == (1, 3, 30, 61)  # 30.5 rounds to even 30
    tall = np.zeros((300, 150), np.uint8)
    assert load_image(tall, size=100).shape == (1, 3, 100, 50)


def test_size_tuple_is_exact_height_width(wide_png):
    t = load_image(wide_png, size=(7, 13))
    _check_image_tensor(t, 7, 13)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"max_size": 0}, "max_size"),
        ({"max_size": -5}, "max_size"),
        ({"max_size": 12.5}, "max_size"),
        ({"max_size": True}, "max_size"),
        ({"size": 0}, "size"),
        ({"size": "512"}, "size"),
        ({"size": (10,)}, "size"),
        ({"size": (10, 0)}, r"size\[1\]"),
        ({"size": (-1, 10)}, r"size\[0\]"),
        ({"size": 64, "max_size": 64}, "not both"),
    ],
)
def test_size_validation(kwargs, name):
    with pytest.raises(ValueError, match=name):
        load_image(np.zeros((4, 4), np.uint8), **kwargs)


# --------------------------------------------------------------------------- #
# numpy and tensor inputs
# --------------------------------------------------------------------------- #
def test_ndarray_uint8_shapes():
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[1, 2] = (255, 51, 0)
    assert _px(load_image(rgb), 1, 2) == pytest.approx([1.0, 0.2, 0.0])
    gray = np.full((2, 3), 51, np.uint8)
    t = load_image(gray)
    _check_image_tensor(t, 2, 3)
    assert torch.allclose(t, torch.full_like(t, 0.2))
    assert torch.equal(load_image(gray[:, :, None]), t)


def test_ndarray_rgba_and_gray_alpha_over_white():
    rgba = np.zeros((1, 2, 4), np.uint8)
    rgba[0, 1] = (0, 0, 255, 255)
    t = load_image(rgba)
    assert _px(t, 0, 0) == pytest.approx([1, 1, 1]) and _px(t, 0, 1) == pytest.approx([0, 0, 1])
    rgba_f = rgba.astype(np.float32) / 255
    assert torch.allclose(load_image(rgba_f), t)
    la = np.array([[[0, 0], [0, 255]]], np.uint8)
    t = load_image(la)
    assert _px(t, 0, 0) == pytest.approx([1, 1, 1]) and _px(t, 0, 1) == pytest.approx([0, 0, 0])


def test_ndarray_uint16():
    arr = np.array([[1000, 1010, 65535]], np.uint16)
    t = load_image(arr)
    assert t[0, 2, 0].tolist() == pytest.approx([1000 / 65535, 1010 / 65535, 1.0], abs=1e-7)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_ndarray_float_is_clipped(dtype):
    arr = np.array([[[-0.5, 0.25, 1.5]]], dtype)
    assert _px(load_image(arr), 0, 0) == pytest.approx([0.0, 0.25, 1.0])


def test_ndarray_float_resize_clipped_and_constant_preserved():
    t = load_image(np.full((40, 20, 3), 0.3, np.float64), max_size=10)
    _check_image_tensor(t, 10, 5)
    assert torch.allclose(t, torch.full_like(t, 0.3), atol=1e-5)
    checker = (np.indices((40, 40)).sum(0) % 2).astype(np.float32)  # rings under LANCZOS
    t = load_image(checker, size=(17, 17))
    _check_image_tensor(t, 17, 17)


@pytest.mark.parametrize(
    "arr, pattern",
    [
        (np.array([[np.nan, 0.5]]), "NaN"),
        (np.array([[np.inf, 0.5]], np.float32), "NaN or inf"),
        (np.zeros((0, 5, 3), np.uint8), "empty"),
        (np.zeros((0,), np.float32), "empty"),
        (np.zeros((3, 8, 8), np.uint8), "channels-first"),
        (np.zeros((4, 4, 5), np.uint8), "expected"),
        (np.zeros((2, 2), np.int64), "dtype"),
    ],
)
def test_ndarray_errors(arr, pattern):
    with pytest.raises(ImageLoadError, match=pattern):
        load_image(arr)


def test_tensor_input_is_cloned_detached_float():
    src = torch.rand(3, 5, 6, dtype=torch.float64, requires_grad=True)
    t = load_image(src)
    _check_image_tensor(t, 5, 6)
    assert not t.requires_grad
    assert torch.allclose(t[0].double(), src.detach())
    src4 = torch.rand(1, 3, 5, 6)
    t4 = load_image(src4)
    t4.zero_()
    assert src4.abs().sum() > 0  # caller's tensor untouched
    assert load_image(torch.full((1, 3, 2, 2), 255, dtype=torch.uint8)).tolist() == torch.ones(1, 3, 2, 2).tolist()


def test_tensor_input_clamps_resizes_and_moves():
    src = torch.full((1, 3, 20, 40), 0.5)
    src[..., 0, 0] = 7.0
    t = load_image(src, max_size=10, device="cpu")
    _check_image_tensor(t, 5, 10)
    assert t.device.type == "cpu"
    assert t[0, :, 2:, 3:].sub(0.5).abs().max() < 1e-5


@pytest.mark.parametrize(
    "bad, pattern",
    [
        (torch.rand(2, 3, 4, 4), "one image"),
        (torch.rand(1, 4, 4, 4), "one image"),
        (torch.rand(4, 4), "one image"),
        (torch.tensor([[[[float("nan")]]]]).expand(1, 3, 1, 1), "NaN"),
        (torch.zeros(1, 3, 0, 4), "empty"),
        (torch.zeros(3, 2, 2, dtype=torch.int64), "dtype"),
    ],
)
def test_tensor_input_errors(bad, pattern):
    with pytest.raises(ImageLoadError, match=pattern):
        load_image(bad)


# --------------------------------------------------------------------------- #
# tensor resizing
# --------------------------------------------------------------------------- #
def test_match_size_to_tensor_and_tuple():
    x = torch.full((1, 3, 10, 20), 0.4)
    like = torch.zeros(1, 3, 7, 9)
    y = match_size(x, like)
    assert y.shape == (1, 3, 7, 9)
    assert torch.allclose(y, torch.full_like(y, 0.4))
    assert match_size(x, (30, 5)).shape == (1, 3, 30, 5)
    assert match_size(x[0], like).shape == (3, 7, 9)
    same = match_size(x, x)
    assert torch.equal(same, x) and same.data_ptr() != x.data_ptr()


def test_match_size_clamps():
    x = torch.full((1, 3, 8, 8), 2.0)
    x[..., 0, 0] = -3.0
    y = match_size(x, (4, 4))
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0
    assert float(y.max()) == 1.0


def test_resize_max_side():
    x = torch.rand(1, 3, 20, 40)
    assert resize_max_side(x, 10).shape == (1, 3, 5, 10)
    assert resize_max_side(x, 80).shape == (1, 3, 40, 80)
    assert resize_max_side(torch.rand(3, 40, 20), 10).shape == (3, 10, 5)
    assert resize_max_side(torch.rand(1, 3, 1, 100), 10).shape == (1, 3, 1, 10)  # min 1 px
    const = resize_max_side(torch.full((1, 3, 9, 9), 0.7), 4)
    assert torch.allclose(const, torch.full_like(const, 0.7), atol=1e-6)
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="max_side"):
            resize_max_side(x, bad)


# --------------------------------------------------------------------------- #
# output: to_pil / to_numpy / save_image
# --------------------------------------------------------------------------- #
def test_to_pil_clamps_rounds_and_handles_nan():
    x = torch.tensor([[[0.5, float("nan"), 2.0, -1.0]]]).expand(3, 1, 4).clone().requires_grad_()
    img = to_pil(x)
    assert img.mode == "RGB" and img.size == (4, 1)
    assert [img.getpixel((i, 0))[0] for i in range(4)] == [128, 0, 255, 0]
    assert to_pil(x.detach().unsqueeze(0)).tobytes() == img.tobytes()
    rgb = torch.zeros(1, 3, 1, 1)
    rgb[0, 0] = 1.0
    assert to_pil(rgb).getpixel((0, 0)) == (255, 0, 0)
    with pytest.raises(ValueError, match="batch"):
        to_pil(torch.rand(2, 3, 4, 4))


def test_to_numpy():
    x = torch.rand(1, 3, 4, 5)
    a = to_numpy(x)
    assert a.shape == (4, 5, 3) and a.dtype == np.float32
    assert np.allclose(a, x[0].permute(1, 2, 0).numpy())
    a[:] = 0
    assert x.abs().sum() > 0
    assert to_numpy(torch.full((3, 2, 2), 5.0)).max() == 1.0


def test_save_load_png_round_trip(tmp_path):
    x = torch.rand(1, 3, 17, 23)
    out = save_image(x, tmp_path / "sub" / "dir" / "out.png")
    assert isinstance(out, Path) and out == tmp_path / "sub" / "dir" / "out.png"
    assert out.is_file() and _header(out)[1] == "PNG"
    back = load_image(out)
    assert back.shape == x.shape
    assert (back - x).abs().max() <= EPS8 / 2 + 1e-6


@pytest.mark.parametrize("suffix, fmt", [(".jpg", "JPEG"), (".JPEG", "JPEG"), (".bmp", "BMP"), (".tif", "TIFF")])
def test_save_formats(tmp_path, suffix, fmt):
    x = torch.full((1, 3, 8, 8), 0.5)
    out = save_image(x, tmp_path / f"img{suffix}")
    assert _header(out)[1] == fmt
    assert torch.allclose(load_image(out), x, atol=0.02)


def test_save_unknown_suffix(tmp_path):
    with pytest.raises(ValueError, match=r"\.png.*\.jpg"):
        save_image(torch.rand(1, 3, 2, 2), tmp_path / "x.gif2")
    assert list(tmp_path.iterdir()) == []


def test_save_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "keep.png"
    save_image(torch.zeros(1, 3, 4, 4), target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.png"]  # no temp files left
    original = target.read_bytes()

    def crash(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG half written")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Image.Image, "save", crash)
    with pytest.raises(RuntimeError, match="disk on fire"):
        save_image(torch.ones(1, 3, 4, 4), target)
    assert target.read_bytes() == original  # old file intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.png"]  # temp removed


# --------------------------------------------------------------------------- #
# normalisation
# --------------------------------------------------------------------------- #
def test_imagenet_normalize_values_and_round_trip():
    assert IMAGENET_MEAN == (0.485, 0.456, 0.406) and IMAGENET_STD == (0.229, 0.224, 0.225)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1).expand(2, 3, 4, 5)
    assert torch.allclose(imagenet_normalize(mean), torch.zeros(2, 3, 4, 5), atol=1e-6)
    ones = imagenet_normalize(torch.ones(1, 3, 1, 1)).flatten().tolist()
    assert ones == pytest.approx([(1 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)], rel=1e-6)
    x = torch.rand(2, 3, 6, 7, dtype=torch.float64)
    y = imagenet_normalize(x)
    assert y.dtype == torch.float64
    assert torch.allclose(imagenet_denormalize(y), x, atol=1e-12)
    assert imagenet_normalize(x[0]).shape == (3, 6, 7)
    with pytest.raises(ValueError, match="3"):
        imagenet_normalize(torch.rand(1, 4, 2, 2))


def test_caffe_preprocess_red_pixel_exact():
    assert CAFFE_MEAN_BGR == (103.939, 116.779, 123.68)
    red = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64).view(1, 3, 1, 1)
    y = caffe_preprocess(red)
    # BGR order: blue 0, green 0, red 255 -- each minus its BGR mean
    assert y.flatten().tolist() == pytest.approx([0 - 103.939, 0 - 116.779, 255 - 123.68], abs=1e-9)
    assert torch.allclose(caffe_deprocess(y), red, atol=1e-12)


def test_caffe_preprocess_distinct_channels_and_round_trip():
    x = torch.tensor([0.2, 0.4, 0.6]).view(3, 1, 1)
    y = caffe_preprocess(x)
    expected = [0.6 * 255 - 103.939, 0.4 * 255 - 116.779, 0.2 * 255 - 123.68]
    assert y.flatten().tolist() == pytest.approx(expected, abs=1e-4)
    batch = torch.rand(2, 3, 5, 5)
    assert torch.allclose(caffe_deprocess(caffe_preprocess(batch)), batch, atol=1e-5)
    grad_in = torch.rand(1, 3, 2, 2, requires_grad=True)
    caffe_preprocess(grad_in).sum().backward()
    assert torch.allclose(grad_in.grad, torch.full_like(grad_in, 255.0))
