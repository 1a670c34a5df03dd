"""Lighter loss networks (nsthelpers.deepdives.backbones): structure against torchvision's own forward, and the
clear error when the ImageNet weights are not in the cache."""
import urllib.error
import urllib.request

import pytest
import torch
import torchvision

from nsthelpers import WeightsUnavailableError
from nsthelpers.deepdives.backbones import BACKBONES, backbone_spec, load_backbone
from nsthelpers.images import IMAGENET_MEAN, IMAGENET_STD


def _normalised(x):
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


@pytest.fixture(scope="module")
def mobilenet():
    return load_backbone("torchvision:mobilenet_v3_large", device="cpu", pretrained=False, seed=0)


def test_mobilenet_stages_equal_torchvision_features(mobilenet, rng):
    torch.manual_seed(0)
    reference = torchvision.models.mobilenet_v3_large(weights=None).eval()   # same seed: same weights
    x = torch.rand(1, 3, 64, 64, generator=rng)
    assert mobilenet.layer_names == tuple(f"features.{i}" for i in range(17))
    out = mobilenet(x, ["features.3", "features.16"])
    with torch.no_grad():
        h = _normalised(x)
        expected = {}
        for i, block in enumerate(reference.features):
            h = block(h)
            expected[f"features.{i}"] = h
    torch.testing.assert_close(out["features.3"], expected["features.3"])
    torch.testing.assert_close(out["features.16"], expected["features.16"])
    assert out["features.3"].shape == (1, 24, 16, 16) and out["features.16"].shape == (1, 960, 2, 2)


def test_resnet_stages_equal_torchvision_forward(rng):
    net = load_backbone("resnet50", device="cpu", pretrained=False, seed=3)
    torch.manual_seed(3)
    ref = torchvision.models.resnet50(weights=None).eval()
    x = torch.rand(2, 3, 64, 48, generator=rng)
    out = net(x, ["relu", "layer2", "layer4"])
    with torch.no_grad():
        stem = ref.relu(ref.bn1(ref.conv1(_normalised(x))))
        l2 = ref.layer2(ref.layer1(ref.maxpool(stem)))
        l4 = ref.layer4(ref.layer3(l2))
    for name, want in [("relu", stem), ("layer2", l2), ("layer4", l4)]:
        torch.testing.assert_close(out[name], want)
    assert net.layer_names == ("relu", "maxpool", "layer1", "layer2", "layer3", "layer4")
    assert out["layer4"].shape == (2, 2048, 2, 2) and net.weights_name == "torchvision:resnet50:random"


def test_frozen_eval_truncated_and_differentiable(mobilenet, rng):
    mobilenet.train()                                             # stays in eval: batch norm uses ImageNet statistics
    assert not any(m.training for m in mobilenet.modules())
    assert not any(p.requires_grad for p in mobilenet.parameters())
    short = mobilenet.truncated("features.6")
    assert short.layer_names == tuple(f"features.{i}" for i in range(7))
    assert short.blocks[0] is mobilenet.blocks[0]                  # shares the weights
    x = torch.rand(1, 3, 32, 32, generator=rng, requires_grad=True)
    a = short(x, ["features.6"])["features.6"]
    torch.testing.assert_close(a, mobilenet(x, ["features.6"])["features.6"])
    (grad,) = torch.autograd.grad(a.square().mean(), x)
    assert grad.abs().sum() > 0 and all(p.grad is None for p in mobilenet.parameters())
    assert short.preprocess.convention == "imagenet"


def test_bad_names_are_clear(mobilenet):
    with pytest.raises(ValueError, match="torchvision:mobilenet_v3_large, torchvision:resnet50"):
        backbone_spec("torchvision:efficientnet")
    with pytest.raises(ValueError, match="features.0, features.1"):
        mobilenet(torch.rand(1, 3, 32, 32), ["relu4_2"])
    with pytest.raises(ValueError, match="non-empty list"):
        mobilenet(torch.rand(1, 3, 32, 32), "features.1")
    with pytest.raises(ValueError, match="unknown layer"):
        mobilenet.truncated("layer9")


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_offline_weights_give_the_clear_error(name, tmp_path, monkeypatch):
    """No file in the hub cache and no network: WeightsUnavailableError naming the file and the way out."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty hub cache (torch.hub.set_dir would stick globally)

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.raises(WeightsUnavailableError) as info:
        load_backbone(f"torchvision:{name}", device="cpu")
    text = str(info.value)
    assert str(tmp_path) in text and "weights='caffe'" in text
    assert ".pth" in text and name.split("_")[0] in text
    assert info.value.__cause__ is None and info.value.__suppress_context__    # no urllib traceback chained
