"""``docs/make_gallery.py --quick`` into a temporary folder: valid JPEGs of the stated sizes, within 1.5 MB.

The full gallery (``make gallery``) runs the same code with larger sizes and stylize's default steps.
"""
from __future__ import annotations

import json

import pytest
import torch
from docs_scripts import load_script
from PIL import Image

from nsthelpers import data

mg = load_script("make_gallery")


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    """One quick gallery, made offline with an empty painting cache (as in CI: stand-in textures)."""
    out = tmp_path_factory.mktemp("gallery")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NSTHELPERS_CACHE", str(tmp_path_factory.mktemp("empty-cache")))
        mp.setenv("NSTHELPERS_OFFLINE", "1")
        assert mg.main(["--quick", "--out", str(out)]) == 0
        labels = {s: data.style_label(s) for s in mg.STYLES}
    meta = json.loads((out / "gallery.json").read_text(encoding="utf-8"))
    return out, meta, labels


def test_every_picture_is_a_jpeg_of_its_stated_size(gallery):
    out, meta, _ = gallery
    assert len(meta["images"]) == len(mg.CONTENTS) * len(mg.STYLES) + 5  # grid + 2 colour, blend, mask, hires
    for rec in meta["images"]:
        with Image.open(out / rec["file"]) as img:
            assert img.format == "JPEG", rec["file"]
            assert list(img.size) == rec["size"], rec["file"]
            img.verify()
        longer = mg.QUICK.scales[-1] if rec["section"] == "hires" else mg.QUICK.grid
        assert max(rec["size"]) == longer, rec["file"]
        photo = data.content_photo(rec["content"])
        aspect = photo.shape[-1] / photo.shape[-2]
        assert abs(rec["size"][0] / rec["size"][1] - aspect) < 0.05, rec["file"]


def test_grid_covers_every_content_and_style(gallery):
    _, meta, _ = gallery
    pairs = {(r["content"], r["styles"][0]) for r in meta["images"] if r["section"] == "grid"}
    assert pairs == {(c, s) for c in mg.CONTENTS for s in mg.STYLES}
    assert {r["section"] for r in meta["images"]} == {"grid", "colour", "blend", "mask", "hires"}


def test_thumbnails_are_small_jpegs(gallery):
    out, meta, _ = gallery
    assert sorted(meta["thumbnails"]) == sorted([f"content-{c}.jpg" for c in mg.CONTENTS]
                                                + [f"style-{s}.jpg" for s in mg.STYLES])
    for name in meta["thumbnails"]:
        with Image.open(out / name) as img:
            assert img.format == "JPEG" and max(img.size) == mg.QUICK.thumb


def test_folder_fits_the_limit(gallery):
    out, meta, _ = gallery
    total = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    assert total <= mg.LIMIT_BYTES == 1_500_000
    assert meta["total_bytes"] <= total  # gallery.json is not counted in its own total


def test_calls_settings_and_times_are_recorded(gallery):
    out, meta, _ = gallery
    readme = (out / "README.md").read_text(encoding="utf-8")
    for rec in meta["images"]:
        assert rec["call"].startswith("nst.stylize(") and "steps=3" in rec["call"]
        # coarse to fine: the first scale gets the steps, each finer one half as many
        hires_steps = [3] + [1] * (len(mg.QUICK.scales) - 1)
        assert rec["settings"]["steps"] in (3, hires_steps)
        assert rec["steps_done"] == (sum(hires_steps) if rec["section"] == "hires" else 3)
        assert rec["seconds"] > 0 and rec["stopped"] == "finished"
        assert rec["file"] in readme and f"`{rec['call']}`" in readme
    hires = next(r for r in meta["images"] if r["section"] == "hires")
    assert f"scales={list(mg.QUICK.scales)}" in hires["call"]


def test_offline_styles_are_labelled_as_stand_ins(gallery):
    out, meta, labels = gallery
    assert meta["style_labels"] == labels
    assert all("offline stand-in" in label for label in labels.values())
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert all(label in readme for label in labels.values())
    snippet = (out / "README_snippet.md").read_text(encoding="utf-8")
    assert f'src="{mg.out_prefix(out)}astronaut-starry_night.jpg"' in snippet


def test_full_gallery_uses_stylize_defaults():
    """Without --quick, no call passes steps: the pictures show stylize's defaults as they are."""
    items = mg.plan(mg.FULL, {c: (256, 384) for c in mg.CONTENTS})
    assert all("steps" not in item.options for item in items)
    assert {item.options.get("size") for item in items if item.section != "hires"} == {mg.FULL.grid}
    assert next(i for i in items if i.section == "hires").options == {"scales": list(mg.FULL.scales)}


def test_size_limit_is_enforced(gallery):
    out, meta, _ = gallery
    with pytest.raises(ValueError, match="over the 0.00 MB left"):
        mg.encode({"x.jpg": torch.rand(1, 3, 64, 64)}, budget=100)
    with pytest.raises(ValueError, match="over the 0.01 MB limit"):
        mg.check_gallery(out, meta["images"], limit=10_000)
    wrong = [{**meta["images"][0], "size": [1, 1]}]
    with pytest.raises(ValueError, match="expected a JPEG"):
        mg.check_gallery(out, wrong)
