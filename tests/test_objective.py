"""The loss as a module (nsthelpers.objective): balanced layers, specs, objectives without a style image."""
import dataclasses

import pytest
import torch
import torch.nn.functional as F

from nsthelpers import LossSpec, Objective, gram_matrix, stylize
from nsthelpers.objective import DEFAULT_STYLE_WEIGHT, DEFAULT_STYLE_WEIGHT_UNBALANCED, default_style_weight

LAYERS = ["relu1_1", "relu2_1", "relu3_1"]


@pytest.fixture
def trio():
    g = torch.Generator().manual_seed(11)
    return tuple(torch.rand(1, 3, 40, 40, generator=g) for _ in range(3))


def test_balanced_layers_divide_each_layer_by_its_target_grams_mean_square(random_vgg, trio):
    content, style, image = trio
    obj = Objective(random_vgg, content, [style], content_layers=["relu2_2"], style_layers=LAYERS,
                    style_layer_weights={"relu2_1": 2.0})
    sf, xf = random_vgg(style, LAYERS), random_vgg(image, LAYERS)
    expected = 0.0
    for n in LAYERS:
        target = gram_matrix(sf[n])
        assert obj.layer_scale[n] == pytest.approx(1.0 / float(target.pow(2).mean()), rel=1e-5)
        expected += (2.0 if n == "relu2_1" else 1.0) * float(F.mse_loss(gram_matrix(xf[n]), target)) / float(
            target.pow(2).mean())
    with torch.no_grad():
        assert float(obj(image)["style"]) == pytest.approx(expected, rel=1e-5)
    # a black picture's *features* (all zero) score exactly 1 per layer
    assert float(obj.style.layers["relu1_1"](torch.zeros_like(xf["relu1_1"]))) * obj.layer_scale["relu1_1"] == \
        pytest.approx(1.0)


def test_raw_layers_are_dominated_by_the_deep_ones_and_balance_evens_them(caffe_vgg):
    from nsthelpers import data

    content, style = data.content_photo("astronaut", max_size=64), data.generated_texture("swirls", 64)
    layers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
    raw = Objective(caffe_vgg, content, [style], balance_layers=False)
    balanced = Objective(caffe_vgg, content, [style])
    feats = caffe_vgg(content, layers)
    with torch.no_grad():
        raw_terms = {n: float(raw.style.layers[n](feats[n])) for n in layers}
        bal_terms = {n: float(balanced.style.layers[n](feats[n])) * balanced.layer_scale[n] for n in layers}
    assert max(raw_terms.values()) / min(raw_terms.values()) > 100       # raw: orders of magnitude apart
    assert max(bal_terms.values()) / min(bal_terms.values()) < 20        # balanced: the same order
    assert all(0 < v < 2 for v in bal_terms.values())                    # each relative to a black picture's


def test_default_style_weight_depends_on_the_balance():
    assert default_style_weight("caffe") == DEFAULT_STYLE_WEIGHT["caffe"]
    assert default_style_weight("caffe", balanced=False) == DEFAULT_STYLE_WEIGHT_UNBALANCED["caffe"]


def test_an_objective_needs_no_style_image_without_style_layers(random_vgg, trio):
    content, _, image = trio
    obj = Objective(random_vgg, content, content_layers=["relu3_1"], style_layers=[], tv_weight=0.0)
    with torch.no_grad():
        terms = obj(image)
        expected = F.mse_loss(random_vgg(image, ["relu3_1"])["relu3_1"], random_vgg(content, ["relu3_1"])["relu3_1"])
    assert float(terms["style"]) == 0 and float(terms["total"]) == pytest.approx(float(expected), rel=1e-6)
    with pytest.raises(ValueError, match="style image"):
        Objective(random_vgg, content, [], style_layers=["relu1_1"])


def test_a_spec_builds_the_objective_and_keywords_override_it(random_vgg, trio):
    content, style, image = trio
    spec = LossSpec(content_layers=("relu2_2",), style_layers=("relu1_1",), style_weight=5.0, tv_weight=0.0)
    a = Objective(random_vgg, content, [style], spec)
    b = Objective(random_vgg, content, [style], spec, style_weight=50.0)
    assert (a.style_weight, b.style_weight, b.content_layers) == (5.0, 50.0, ["relu2_2"])
    with pytest.raises(ValueError, match="content_layers and style_layers are both empty"):
        LossSpec(content_layers=(), style_layers=())
    with pytest.raises(ValueError, match="list of layer names"):
        LossSpec(style_layers="relu1_1")


def test_unknown_options_name_the_closest_one(random_vgg, trio):
    content, style, _ = trio
    with pytest.raises(TypeError, match="did you mean 'style_weight'"):
        stylize(content, style, weights=random_vgg, style_wieght=1.0)


def test_the_targets_are_buffers_of_one_module_per_style_statistic(random_vgg, trio):
    from nsthelpers.targets import GramTarget, MeanCovTarget, W2Target

    content, style, _ = trio
    for loss, kind, names in [("gram", GramTarget, {"gram"}), ("mean_cov", MeanCovTarget, {"mean", "cov"}),
                              ("w2", W2Target, {"mean", "cov", "cov_sqrt", "ridge"})]:
        obj = Objective(random_vgg, content, [style], content_layers=["relu2_2"], style_layers=LAYERS, style_loss=loss)
        assert all(type(obj.style.layers[n]) is kind for n in LAYERS)
        buffers = {name for name, _ in obj.named_buffers()}
        assert {f"style.layers.{n}.{b}" for n in LAYERS for b in names} | {"content.relu2_2"} <= buffers


def test_weights_are_given_to_the_objective_not_assigned_onto_it(random_vgg, trio):
    from nsthelpers.objective import LossWeights

    content, style, image = trio
    obj = Objective(random_vgg, content, [style], content_layers=["relu2_2"], style_layers=LAYERS, style_weight=1e3)
    other = obj.with_weights(style_weight=5.0, tv_weight=0.0)
    assert other.style is obj.style and other.content is obj.content        # the targets are shared, not rebuilt
    assert obj.style_weight == 1e3 and other.style_weight == 5.0            # the original keeps its weights
    with torch.no_grad():
        given = obj(image, LossWeights(1.0, 5.0, 0.0, obj.style_layer_weights))
        viewed = other(image)
    assert float(given["total"]) == pytest.approx(float(viewed["content"] + 5.0 * viewed["style"]), rel=1e-6)
    assert float(given["total"]) == float(viewed["total"])
    obj.style_weight = 7.0   # the notebooks' way still works: it replaces the objective's LossWeights
    assert obj.weights.style_weight == 7.0 and other.style_weight == 5.0


def test_style_targets_computed_once_serve_other_contents(random_vgg, trio):
    content, style, image = trio
    spec = LossSpec(content_layers=("relu2_2",), style_layers=tuple(LAYERS), balance_layers=False)
    targets = Objective.style_targets_for(random_vgg, [style], spec)
    shared = Objective(random_vgg, image, spec=spec, style_targets=targets)
    fresh = Objective(random_vgg, image, [style], spec)
    with torch.no_grad():
        assert {k: float(v) for k, v in shared(content).items()} == {k: float(v) for k, v in fresh(content).items()}
    with pytest.raises(ValueError, match="same spec"):
        Objective(random_vgg, image, spec=dataclasses.replace(spec, style_layers=("relu1_1",)), style_targets=targets)
