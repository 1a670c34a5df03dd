"""The tutorial's loss-as-layers pattern (nsthelpers.deepdives.loss_modules) against Objective: value and gradient."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import nsthelpers as nst
from nsthelpers.deepdives.loss_modules import (
    ContentLoss,
    StyleLoss,
    build_loss_network,
    conv_count_names,
)

CONTENT = ["relu4_2"]
STYLE = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]


def _images(seed: int = 0, size: int = 48):
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(1, 3, size, size, generator=g) for _ in range(3)]   # content, style, image


def _grad(loss: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    (grad,) = torch.autograd.grad(loss, image)
    return grad


@pytest.mark.parametrize("weights_fixture", ["random_vgg", "caffe_vgg"])
def test_loss_network_matches_objective_value_and_gradient(weights_fixture, request):
    model = request.getfixturevalue(weights_fixture)
    content, style, start = _images()
    layer_w = [0.5, 1.0, 2.0, 0.25, 3.0]
    net = build_loss_network(model, content, style, content_layers=CONTENT, style_layers=STYLE)
    objective = nst.Objective(model, content, [style], content_layers=CONTENT, style_layers=STYLE,
                              style_layer_weights=layer_w, content_weight=2.0, style_weight=7.0, tv_weight=0,
                              balance_layers=False)   # the tutorial has no per-layer balancing
    x1 = start.clone().requires_grad_(True)
    x2 = start.clone().requires_grad_(True)
    ours = net(x1, content_weight=2.0, style_weight=7.0, style_layer_weights=layer_w)
    ref = objective(x2)
    for key in ("total", "content", "style"):
        torch.testing.assert_close(ours[key], ref[key], rtol=1e-5, atol=0)
    assert ours["total"] > 0 and ours["style"] > 0 and ours["content"] > 0
    g1, g2 = _grad(ours["total"], x1), _grad(ref["total"], x2)
    assert g1.abs().max() > 0
    torch.testing.assert_close(g1, g2, rtol=1e-4, atol=1e-6 * g2.abs().max().item())


def test_each_loss_layer_equals_the_hand_computed_term(random_vgg):
    content, style, image = _images(1)
    net = build_loss_network(random_vgg, content, style, content_layers=["conv3_1"], style_layers=["relu2_1", "pool1"])
    out = net(image)
    with torch.no_grad():
        feats = random_vgg(image, ["conv3_1", "relu2_1", "pool1"])
        target_c = random_vgg(content, ["conv3_1"])["conv3_1"]
        sf = random_vgg(style, ["relu2_1", "pool1"])
    expected_c = ((feats["conv3_1"] - target_c) ** 2).mean()
    expected_s = sum(((nst.gram_matrix(feats[n], "chw") - nst.gram_matrix(sf[n], "chw")) ** 2).mean()
                     for n in ("relu2_1", "pool1"))
    torch.testing.assert_close(out["content"], expected_c, rtol=1e-5, atol=0)
    torch.testing.assert_close(out["style"], expected_s, rtol=1e-5, atol=0)


def test_rebuilt_sequential_has_loss_layers_after_their_layers_and_ends_at_the_deepest(random_vgg):
    content, style, _ = _images()
    net = build_loss_network(random_vgg, content, style, content_layers=["relu2_2"], style_layers=["relu1_1", "relu3_1"])
    names = [n for n, _ in net.net.named_children()]
    assert names[0] == "preprocess"
    assert names[names.index("relu1_1") + 1] == "style_loss_relu1_1"
    assert names[names.index("relu2_2") + 1] == "content_loss_relu2_2"
    assert names[-2:] == ["relu3_1", "style_loss_relu3_1"]               # nothing after the deepest loss
    assert isinstance(net.net.style_loss_relu3_1, StyleLoss) and isinstance(net.net.content_loss_relu2_2, ContentLoss)
    assert net.net.relu3_1 is random_vgg["relu3_1"]                       # shared, not copied
    assert list(net.style_losses) == ["relu1_1", "relu3_1"]


def test_loss_layers_pass_their_input_through_unchanged(random_vgg):
    content, style, image = _images(2)
    net = build_loss_network(random_vgg, content, style, content_layers=["relu2_1"], style_layers=["relu2_1"])
    with torch.no_grad():
        out = net.net(image)
        ref = random_vgg(image, ["relu2_1"])["relu2_1"]
    assert torch.equal(out, ref)


def test_conv_count_names_is_the_tutorial_naming_and_its_conv_4_is_conv2_2(random_vgg):
    names = conv_count_names(random_vgg.layers)
    assert len(names) == len(nst.LAYER_NAMES)
    ours = dict(zip(names, nst.LAYER_NAMES))
    assert ours["conv_4"] == "conv2_2" and ours["conv_5"] == "conv3_1" and ours["conv_16"] == "conv5_4"
    assert ours["relu_1"] == "relu1_1" and ours["pool_2"] == "pool1" and ours["pool_16"] == "pool5"
    assert [ours[f"conv_{i}"] for i in range(1, 6)] == ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1"]
    with pytest.raises(ValueError, match="unexpected layer"):
        conv_count_names([nn.Conv2d(3, 3, 3), nn.BatchNorm2d(3)])


def test_bad_arguments_give_clear_errors(random_vgg):
    content, style, image = _images()
    with pytest.raises(ValueError, match="unknown VGG19 layer 'conv_4'"):
        build_loss_network(random_vgg, content, style, content_layers=["conv_4"], style_layers=[])
    with pytest.raises(ValueError, match="both empty"):
        build_loss_network(random_vgg, content, style, content_layers=[], style_layers=[])
    with pytest.raises(ValueError, match="truncated away"):
        build_loss_network(random_vgg.truncated("relu2_1"), content, style, content_layers=["relu4_2"], style_layers=[])
    net = build_loss_network(random_vgg, content, style, content_layers=["relu2_1"], style_layers=["relu1_1"])
    with pytest.raises(ValueError, match="style_layer_weights has 2 values"):
        net(image, style_layer_weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="style_weight must be a finite number"):
        net(image, style_weight=-1)


def test_style_and_content_of_different_sizes(random_vgg):
    g = torch.Generator().manual_seed(3)
    content, style = torch.rand(1, 3, 40, 48, generator=g), torch.rand(1, 3, 56, 36, generator=g)
    image = torch.rand(1, 3, 40, 48, generator=g)
    net = build_loss_network(random_vgg, content, style, content_layers=["relu2_1"], style_layers=["relu1_1", "relu3_1"])
    objective = nst.Objective(random_vgg, content, [style], content_layers=["relu2_1"], style_layers=["relu1_1", "relu3_1"],
                              style_weight=3.0, tv_weight=0, balance_layers=False)
    torch.testing.assert_close(net(image, style_weight=3.0)["total"], objective(image)["total"], rtol=1e-5, atol=0)
