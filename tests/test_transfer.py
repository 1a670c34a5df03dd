"""The optimisation loop: loss goes down, runs are reproducible, stops and failures keep the image."""
import math

import pytest
import torch

from nsthelpers import Objective, StopOptimization, gram_matrix, optimize, stylize


@pytest.fixture
def pair():
    g = torch.Generator().manual_seed(5)
    return torch.rand(1, 3, 64, 64, generator=g), torch.rand(1, 3, 64, 64, generator=g)


# Random-weight activations are small: these weights make content and style both matter (for the raw Gram
# losses: balance_layers=False).
BALANCED = dict(tv_weight=0.0, style_weight=1e7, init="noise", seed=1, balance_layers=False)


@pytest.mark.parametrize("optimizer,min_factor", [("adam", 3.5), ("lbfgs", 8.0)])
def test_total_loss_falls_by_a_large_factor(optimizer, min_factor, pair, random_vgg):
    r = stylize(*pair, steps=30, optimizer=optimizer, weights=random_vgg, **BALANCED)
    h = r.history["total"]
    assert r.steps_done == 30 and len(h) == 30 and r.stopped == "finished"
    assert h[0] / h[-1] > min_factor, (h[0], h[-1])
    assert r.history["content"][-1] < r.history["content"][0]
    assert r.history["style"][-1] < r.history["style"][0]
    assert torch.isfinite(r.image).all() and r.image.min() >= 0 and r.image.max() <= 1
    assert r.image.shape == (1, 3, 64, 64) and r.image.device.type == "cpu"


def test_history_matches_an_independent_loss_evaluation(pair, random_vgg):
    """The recorded final losses are what the Objective says about the pre-step image."""
    content, style = pair
    obj = Objective(random_vgg, content, [style], style_weight=1e7, tv_weight=0.5)
    x0 = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(9))
    r = optimize(obj, x0, steps=1, optimizer="adam")
    with torch.no_grad():
        ref = obj(x0)
    for k in ("total", "content", "style", "tv"):
        assert r.history[k][0] == pytest.approx(ref[k].item(), rel=1e-5)
    expected = 1.0 * ref["content"] + 1e7 * ref["style"] + 0.5 * ref["tv"]
    assert r.history["total"][0] == pytest.approx(expected.item(), rel=1e-5)


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_seeded_runs_are_reproducible(optimizer, pair, random_vgg):
    a = stylize(*pair, steps=8, optimizer=optimizer, weights=random_vgg, **BALANCED)
    b = stylize(*pair, steps=8, optimizer=optimizer, weights=random_vgg, **BALANCED)
    c = stylize(*pair, steps=8, optimizer=optimizer, weights=random_vgg, **{**BALANCED, "seed": 2})
    assert torch.equal(a.image, b.image) and a.history == b.history
    assert not torch.equal(a.image, c.image)


def test_style_targets_are_computed_once(pair, random_vgg, monkeypatch):
    calls = {"n": 0}
    content, style = pair
    obj = Objective(random_vgg, content, [style])
    original = obj.model.forward

    def counting(image, layers=None):
        calls["n"] += 1
        return original(image, layers)

    monkeypatch.setattr(obj.model, "forward", counting)
    optimize(obj, content, steps=5)
    assert calls["n"] == 5 + 1  # one pass per step, none for the targets, one to score the returned image


def test_callback_can_stop_and_sees_progress(pair, random_vgg):
    seen = []

    def cb(info):
        seen.append((info.step, info.losses["total"]))
        assert info.image.min() >= 0 and info.image.max() <= 1
        return info.step >= 6

    r = stylize(*pair, steps=50, weights=random_vgg, callback=cb, callback_every=3, **BALANCED)
    assert [s for s, _ in seen] == [3, 6]
    assert r.stopped == "callback" and r.steps_done == 6 and len(r.history["total"]) == 6


def test_stop_exception_from_callback_keeps_image(pair, random_vgg):
    def cb(info):
        raise StopOptimization

    r = stylize(*pair, steps=50, optimizer="lbfgs", weights=random_vgg, callback=cb, callback_every=4, **BALANCED)
    assert r.stopped == "callback" and r.steps_done == 4 and torch.isfinite(r.image).all()


def test_keyboard_interrupt_returns_image_so_far(pair, random_vgg):
    def cb(info):
        raise KeyboardInterrupt

    r = stylize(*pair, steps=50, weights=random_vgg, callback=cb, callback_every=5, **BALANCED)
    assert r.stopped == "interrupted" and r.steps_done == 5 and "interrupted" in r.message
    assert r.image.shape == (1, 3, 64, 64)


def test_non_finite_loss_stops_and_names_the_term(pair, random_vgg):
    content, style = pair
    obj = Objective(random_vgg, content, [style], style_weight=1e7)
    original = obj.forward
    count = {"n": 0}

    def poisoned(image):
        out = original(image)
        count["n"] += 1
        if count["n"] >= 7:
            out["style"] = out["style"] * math.nan
            out["total"] = out["total"] + out["style"]
        return out

    obj.forward = poisoned
    r = optimize(obj, content, steps=40, callback_every=5)
    assert r.stopped == "non-finite loss" and "style" in r.message
    assert torch.isfinite(r.image).all()
    assert all(math.isfinite(v) for v in r.history["total"][:5])


def test_style_blend_weights_gram_targets(pair, random_vgg):
    content, style = pair
    other = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    obj = Objective(random_vgg, content, [style, other], style_blend=[3, 1], style_layers=["relu2_1"])
    fa = random_vgg(style, ["relu2_1"])["relu2_1"]
    fb = random_vgg(other, ["relu2_1"])["relu2_1"]
    expected = 0.75 * gram_matrix(fa) + 0.25 * gram_matrix(fb)
    assert torch.allclose(obj.style_targets["relu2_1"], expected, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(steps=0), "steps"),
        (dict(steps=-3), "steps"),
        (dict(content_weight=-1.0), "content_weight"),
        (dict(style_weight=float("nan")), "style_weight"),
        (dict(tv_weight=-0.1), "tv_weight"),
        (dict(style_layers=["conv9_1"]), "style_layers"),
        (dict(content_layers=["relu4_2x"]), "content_layers"),
        (dict(optimizer="sgd"), "optimizer"),
        (dict(init="zeros"), "init"),
        (dict(lr=0.0), "lr"),
        (dict(size=0), "size"),
        (dict(style_layer_weights=[1.0, 2.0]), "style_layer_weights"),
        (dict(style_layer_weights=[1, 1, -1, 1, 1]), "style_layer_weights"),
    ],
)
def test_bad_parameters_raise_before_work(kwargs, match, pair, random_vgg):
    with pytest.raises(ValueError, match=match):
        stylize(*pair, **{"steps": 5, "weights": random_vgg, **kwargs})


def test_image_too_small_for_deepest_layer(random_vgg):
    tiny = torch.rand(1, 3, 12, 12)
    with pytest.raises(ValueError, match="relu5_1 needs at least 16 px"):
        stylize(tiny, tiny, steps=2, weights=random_vgg)
    r = stylize(tiny, tiny, steps=2, weights=random_vgg, style_layers=["relu1_1", "relu2_1"], content_layers=["relu2_1"])
    assert r.image.shape == (1, 3, 12, 12)


def test_size_and_style_scale(pair, random_vgg):
    content, style = pair
    r = stylize(content, torch.rand(1, 3, 100, 50), steps=2, size=48, style_scale=0.5, weights=random_vgg)
    assert r.image.shape == (1, 3, 48, 48) and r.settings["size"] == (48, 48)
