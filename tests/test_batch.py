"""Batched stylisation: N items in one Adam optimisation equal N single runs, item by item."""
import pytest
import torch

import nsthelpers as nst
from nsthelpers.batch import stylize_batch

LAYERS = dict(content_layers=["relu2_2"], style_layers=["relu1_1", "relu2_1", "relu3_1"])


@pytest.fixture
def images():
    g = torch.Generator().manual_seed(7)
    return [torch.rand(1, 3, 40, 32, generator=g) for _ in range(3)], torch.rand(1, 3, 48, 48, generator=g)


def _close(a, b):
    assert torch.allclose(a.image, b.image, atol=2e-5), float((a.image - b.image).abs().max())
    for k in ("total", "content", "style", "tv"):
        assert a.history[k] == pytest.approx(b.history[k], rel=1e-4), k
        assert a.final_losses[k] == pytest.approx(b.final_losses[k], rel=1e-4), k


def test_several_contents_equal_their_single_runs(images, random_vgg):
    contents, style = images
    shared = dict(steps=6, style_weight=1e6, tv_weight=1.0, weights=random_vgg, scales=None, **LAYERS)
    batch = stylize_batch(contents, style, **shared)
    assert len(batch) == 3 and all(r.settings["batch"] == 3 for r in batch)
    for content, item in zip(contents, batch):
        _close(item, nst.stylize(content, style, optimizer="adam", **shared))


def test_one_pair_under_several_settings(images, random_vgg):
    contents, style = images
    variants = [{"style_weight": 1e4}, {"style_weight": 1e7, "tv_weight": 0.0},
                {"style_layer_weights": {"relu1_1": 0.0}, "seed": 3}]
    shared = dict(steps=5, init="noise", weights=random_vgg, scales=None, **LAYERS)
    batch = stylize_batch(contents[0], style, variants=variants, **shared)
    for variant, item in zip(variants, batch):
        assert item.settings["variant"] == variant
        _close(item, nst.stylize(contents[0], style, optimizer="adam", **{**shared, **variant}))
    for item in batch:  # each item's total is its own weighted sum
        f, w = item.final_losses, item.settings["variant"]
        sw, tw = w.get("style_weight", item.settings["style_weight"]), w.get("tv_weight", nst.DEFAULT_TV_WEIGHT["imagenet"])
        assert f["total"] == pytest.approx(f["content"] + sw * f["style"] + tw * f["tv"], rel=1e-5)


def test_batches_refuse_what_would_couple_or_mislead(images, random_vgg):
    contents, style = images
    with pytest.raises(ValueError, match="optimizer='adam'"):
        stylize_batch(contents, style, optimizer="lbfgs", weights=random_vgg, steps=2)
    with pytest.raises(ValueError, match="one per content"):
        stylize_batch(contents, style, variants=[{}, {}], weights=random_vgg, steps=2)
    with pytest.raises(ValueError, match="may set only"):
        stylize_batch(contents[0], style, variants=[{"steps": 3}], weights=random_vgg, steps=2)
    with pytest.raises(ValueError, match="preserve_color"):
        stylize_batch(contents, style, preserve_color="luminance", weights=random_vgg, steps=2)


def test_style_scale_is_honoured_and_auto_downsize_refused(images, random_vgg):
    """A batch paints the style at ``style_scale`` as stylize does (it used to ignore it silently)."""
    contents, style = images
    shared = dict(steps=4, style_weight=1e6, weights=random_vgg, scales=None, **LAYERS)
    scaled = stylize_batch(contents[0], style, style_scale=2.0, **shared)[0]
    _close(scaled, nst.stylize(contents[0], style, optimizer="adam", style_scale=2.0, **shared))
    plain = stylize_batch(contents[0], style, **shared)[0]
    assert plain.history["style"][0] != pytest.approx(scaled.history["style"][0], rel=1e-3)
    with pytest.raises(ValueError, match="auto_downsize is not available for batches"):
        stylize_batch(contents, style, auto_downsize=True, weights=random_vgg, steps=2)
