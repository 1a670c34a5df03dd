"""StyleLab (cached objectives, weights changed as attributes) and its widget front end."""
from __future__ import annotations

import math

import pytest
import torch

import nsthelpers as nst
from nsthelpers import data
from nsthelpers.widgets.lab import LAB_STYLES, StyleLab, describe_changes
from nsthelpers.widgets import StyleLabWidget

SIZE = 32


@pytest.fixture(scope="module")
def images():
    return {
        "photo": data.content_photo("astronaut", max_size=48),
        "swirls": data.generated_texture("swirls", 48, seed=0),
        "dots": data.generated_texture("dots", 48, seed=1),
    }


@pytest.fixture
def lab(random_vgg, images):
    return StyleLab(random_vgg, images["photo"], {"swirls": images["swirls"], "dots": images["dots"]}, device="cpu")


@pytest.fixture
def forward_calls(random_vgg):
    """Counts full VGG forward passes (every pass starts with conv1_1, shared by truncated models)."""
    calls = []
    handle = random_vgg.layers[0].register_forward_hook(lambda *a: calls.append(1))
    yield calls
    handle.remove()


def test_rerun_with_only_weights_changed_does_not_recompute_targets(lab, forward_calls):
    a = lab.run(style="swirls", size=SIZE, steps=3)
    first = len(forward_calls)                # targets (content + style image), then the optimisation
    assert lab.stats == {"targets_computed": 1, "cache_hits": 0, "runs": 1} and not a.settings["cached"]
    forward_calls.clear()
    b = lab.run(style="swirls", size=SIZE, steps=3, log10_ratio=7, tv_weight=10,
                style_layer_weights={"relu1_1": 0.0, "relu5_1": 3.0})
    assert first - len(forward_calls) == 2    # only the optimisation: the two target passes are saved
    assert len(forward_calls) >= 3            # (one pass per step, plus any final scoring of the image)
    assert lab.stats == {"targets_computed": 1, "cache_hits": 1, "runs": 2} and b.settings["cached"]
    assert b.settings["style_weight"] == pytest.approx(1e7)
    assert a.history["total"] != b.history["total"]
    assert len(lab.runs) == 2 and lab.runs[1][0]["log10_ratio"] == 7


def test_new_style_or_size_computes_new_targets_and_the_cache_is_bounded(random_vgg, images, forward_calls):
    lab = StyleLab(random_vgg, images["photo"], {"swirls": images["swirls"], "dots": images["dots"]}, max_cached=2)
    for style, size in [("swirls", SIZE), ("dots", SIZE), ("swirls", 48), ("swirls", SIZE)]:
        lab.run(style=style, size=size, steps=1)
    # the 4th run's objective (swirls, 32) was evicted by the 3rd (only 2 kept): 4 objectives built
    assert lab.stats["targets_computed"] == 4 and lab.stats["cache_hits"] == 0
    assert len(lab._objectives) == 2
    lab.run(style="swirls", size=SIZE, steps=1)
    assert lab.stats["targets_computed"] == 4 and lab.stats["cache_hits"] == 1
    lab.clear_cache()
    lab.run(style="swirls", size=SIZE, steps=1)
    assert lab.stats["targets_computed"] == 5


@pytest.mark.parametrize("optimizer,init", [("adam", "content"), ("lbfgs", "noise"), ("adam", "style")])
def test_a_lab_run_equals_stylize_with_the_same_settings(lab, random_vgg, images, optimizer, init):
    lab.run(style="dots", size=SIZE, steps=2)     # fill the cache with other weights first
    weights = {"relu1_1": 0.5, "relu2_1": 2.0, "relu3_1": 1.0, "relu4_1": 0.0, "relu5_1": 1.0}
    ours = lab.run(style="dots", size=SIZE, steps=4, optimizer=optimizer, init=init, log10_ratio=5.0,
                   tv_weight=3.0, style_layer_weights=weights)
    assert ours.settings["cached"]
    ref = nst.stylize(images["photo"], images["dots"], size=SIZE, steps=4, optimizer=optimizer, init=init,
                      style_weight=1e5, tv_weight=3.0, style_layer_weights=weights, weights=random_vgg, seed=0)
    for key in ("total", "content", "style", "tv"):
        assert ours.history[key] == pytest.approx(ref.history[key], rel=1e-6), key
    assert torch.allclose(ours.image, ref.image, atol=1e-6)


def test_weights_reach_the_objective_without_changing_the_cached_one(lab):
    off = lab.run(style="swirls", size=SIZE, steps=2, style_layer_weights=[0, 0, 0, 0, 0], tv_weight=0)
    assert off.history["style"] == [0.0, 0.0] and off.history["total"] == off.history["content"]
    objective = lab.objective("swirls", SIZE)  # the cached targets, with the package's weights: a run gives its own
    assert objective.tv_weight == lab.default_tv_weight and set(objective.style_layer_weights.values()) == {1.0}
    on = lab.run(style="swirls", size=SIZE, steps=1, log10_ratio=3.5, tv_weight=0)
    assert on.settings["style_weight"] == pytest.approx(10 ** 3.5)
    h = on.history
    assert h["total"][0] == pytest.approx(h["content"][0] + 10 ** 3.5 * h["style"][0], rel=1e-5) and h["style"][0] > 0
    assert objective.style_weight == pytest.approx(10 ** lab.default_log10_ratio)


def test_defaults_and_validation(random_vgg, caffe_vgg, images, lab):
    # the package's (balanced-layer) style weights: ImageNet-normalised for random weights, caffe's
    assert math.isclose(lab.default_log10_ratio, math.log10(nst.DEFAULT_STYLE_WEIGHT["imagenet"]))
    assert StyleLab(caffe_vgg, images["photo"], ["swirls"]).default_log10_ratio == pytest.approx(7.0)
    params = lab.default_params(size=64, steps=20)
    assert params["tv_weight"] == lab.default_tv_weight == nst.DEFAULT_TV_WEIGHT["imagenet"]  # random weights
    assert StyleLab(caffe_vgg, images["photo"], ["swirls"]).default_tv_weight == 1e8
    assert params["style"] == "swirls" and params["style_layer_weights"] == dict.fromkeys(nst.DEFAULT_STYLE_LAYERS, 1.0)
    assert set(LAB_STYLES) == set(data.ARTWORKS) | set(data.TEXTURES)
    with pytest.raises(ValueError, match="unknown style"):
        lab.run(style="mona_lisa", size=SIZE, steps=1)
    with pytest.raises(ValueError, match="init"):
        lab.run(style="swirls", size=SIZE, steps=1, init="photo")
    with pytest.raises(ValueError, match="optimizer"):
        lab.run(style="swirls", size=SIZE, steps=1, optimizer="sgd")
    with pytest.raises(ValueError, match="needs at least 16 px"):
        lab.run(style="swirls", size=8, steps=1)
    with pytest.raises(ValueError, match="style_layer_weights"):
        lab.run(style="swirls", size=SIZE, steps=1, style_layer_weights={"conv9_9": 1})
    with pytest.raises(ValueError, match="tv_weight"):
        lab.run(style="swirls", size=SIZE, steps=1, tv_weight=-1)
    with pytest.raises(ValueError, match="log10_ratio"):
        lab.run(style="swirls", size=SIZE, steps=1, log10_ratio=float("nan"))
    with pytest.raises(ValueError, match="VGG19Features"):
        StyleLab("caffe", images["photo"])


def test_named_styles_are_loaded_once(random_vgg, images, monkeypatch):
    loads = []
    real = data.style_image
    monkeypatch.setattr(data, "style_image", lambda name, max_size=None: loads.append(name) or real(name, max_size=max_size))
    lab = StyleLab(random_vgg, images["photo"], ["stripes", "dots"], style_max_size=48)
    assert lab.style_names == ["stripes", "dots"]
    lab.run(style="stripes", size=SIZE, steps=1)
    lab.run(style="stripes", size=48, steps=1)
    assert loads == ["stripes"] and lab.style_image("stripes").shape[-1] == 48


def test_describe_changes():
    old = {"style": "dots", "log10_ratio": 2.0, "style_layer_weights": {"relu1_1": 1.0, "relu2_1": 1.0}}
    new = {"style": "dots", "log10_ratio": 3.5, "style_layer_weights": {"relu1_1": 0.0, "relu2_1": 1.0}}
    assert describe_changes(old, new) == ["log10_ratio 2 → 3.5", "relu1_1 weight 1 → 0"]
    assert describe_changes(new, new) == [] and describe_changes(None, new) == ["first run"]


# ------------------------------------------------------------------------------------------- widget


def test_widget_runs_the_lab_and_keeps_the_previous_result(lab, forward_calls):
    ui = StyleLabWidget(lab, size=SIZE, steps=5, size_range=(SIZE, 64), every=2)
    assert ui.log10_ratio.description.startswith("log10") and ui.run_button.description == "Run"
    assert "nst-result" in ui.result_image._dom_classes and "nst-previous" in ui.previous_image._dom_classes
    assert set(ui.layer_weights) == set(lab.style_layers) and ui.style.options == ("swirls", "dots")
    content_png = ui.result_image.value
    assert content_png[:4] == b"\x89PNG" and ui.previous_image.value == b""

    ui.log10_ratio.value = 6.0
    ui.run_button.click()
    first = ui.wait(timeout=120)
    assert first.settings["params"]["log10_ratio"] == 6.0 and first.steps_done == 5
    assert ui.previous_image.value == content_png and ui.result_image.value != content_png
    assert ui.runs == 1 and "first run" in ui.result_label.value and not ui.console.outputs
    assert not ui.run_button.disabled and ui.stop_button.disabled and "targets computed" in ui.status.value
    first_png = ui.result_image.value

    first_calls = len(forward_calls)
    forward_calls.clear()
    ui.layer_weights["relu1_1"].value = 0.0
    ui.tv_weight.value = 100.0
    ui.run_button.click()
    second = ui.wait(timeout=120)
    assert first_calls - len(forward_calls) == 2 and "targets cached" in ui.status.value   # no new targets
    assert second.settings["params"]["style_layer_weights"]["relu1_1"] == 0.0
    assert second.settings["params"]["tv_weight"] == pytest.approx(100.0)
    assert ui.previous_image.value == first_png and ui.result_image.value != first_png
    assert "relu1_1 weight 1 → 0" in ui.result_label.value and "run 1" in ui.previous_label.value
    assert ui.loss_view.value[:4] == b"\x89PNG" and ui.result is second


def test_widget_params_follow_the_controls(lab):
    ui = StyleLabWidget(lab, size=SIZE, steps=5, size_range=(SIZE, 64))
    ui.style.value, ui.optimizer.value, ui.init.value = "dots", "lbfgs", "noise"
    ui.steps.value, ui.size.value, ui.coarse_steps.value = 10, 48, 5
    assert ui.params() == {"style": "dots", "size": 48, "steps": 10, "coarse_steps": 5, "optimizer": "lbfgs",
                           "init": "noise",
                           "log10_ratio": round(lab.default_log10_ratio, 1), "tv_weight": lab.default_tv_weight,
                           "style_layer_weights": dict.fromkeys(lab.style_layers, 1.0)}


def test_widget_errors_go_to_its_console(lab, monkeypatch):
    ui = StyleLabWidget(lab, size=SIZE, steps=4, size_range=(SIZE, 64))

    def broken(**kwargs):
        raise ValueError("no such thing")

    monkeypatch.setattr(lab, "run", broken)
    before = ui.result_image.value
    ui.run_button.click()
    with pytest.raises(RuntimeError):
        ui.wait(timeout=30)
    assert "failed" in ui.status.value and not ui.run_button.disabled
    assert any("no such thing" in o.get("text", "") for o in ui.console.outputs)
    assert ui.result_image.value == before and ui.runs == 0


def test_widget_stop_button(lab):
    ui = StyleLabWidget(lab, size=SIZE, steps=400, size_range=(SIZE, 64), max_steps=400, every=1)
    ui.run_button.click()
    ui.live.wait(timeout=120, until_step=2)
    ui.run_button.click()                        # ignored while running
    ui.stop_button.click()
    result = ui.wait(timeout=120)
    assert result.stopped == "callback" and result.steps_done < 400 and ui.runs == 1
    assert "callback" in ui.status.value


def test_coarse_steps_run_half_size_first_like_stylize_and_show_early(lab, random_vgg, images):
    seen = []
    ours = lab.run(style="dots", size=SIZE, steps=3, coarse_steps=4, optimizer="adam", log10_ratio=5.0,
                   callback=lambda info: seen.append((info.step, info.steps, tuple(info.image.shape[-2:]))),
                   callback_every=2)
    # the first pictures come from the half-size scale, long before the run's last step; steps count on
    assert seen[0] == (2, 7, (SIZE // 2, SIZE // 2)) and seen[-1] == (7, 7, (SIZE, SIZE))
    assert lab.stats["targets_computed"] == 2 and ours.steps_done == 7 and len(ours.history["total"]) == 7
    ref = nst.stylize(images["photo"], images["dots"], scales=[SIZE // 2, SIZE], steps=[4, 3], optimizer="adam",
                      style_weight=1e5, weights=random_vgg, seed=0)
    assert ours.history["total"] == pytest.approx(ref.history["total"], rel=1e-6)
    assert torch.allclose(ours.image, ref.image, atol=1e-6)


def test_widget_first_preview_arrives_before_the_run_ends(lab):
    ui = StyleLabWidget(lab, size=SIZE, steps=20, coarse_steps=10, size_range=(SIZE, 64), every=5)
    ui.run_button.click()
    ui.wait(timeout=120)
    snaps = ui.live.snapshots
    # the first picture is the end of the half-size painting stage (3 of its 10 steps), then every 5 steps
    assert [s.step for s in snaps[:3]] == [3, 5, 10] and snaps[0].seconds < snaps[-1].seconds and snaps[-1].step == 30
    assert ui.result.image.shape[-1] == SIZE
