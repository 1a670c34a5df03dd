"""VGG19 layer naming, truncation, weight loading (caffe / torchvision / random / files), preprocessing."""
import socket
import urllib.error
import urllib.request

import pytest
import torch
import torchvision
from torch import nn

from nsthelpers import (
    LAYER_INDEX,
    LAYER_NAMES,
    WeightsUnavailableError,
    extract_features,
    extract_features_with_hooks,
    layer_table,
    load_vgg19,
    save_features_file,
)
from nsthelpers.images import caffe_preprocess, imagenet_normalize


def test_names_match_torchvision_module_types():
    tv = torchvision.models.vgg19(weights=None).features
    assert len(LAYER_NAMES) == len(tv) == 37
    kinds = {"conv": nn.Conv2d, "relu": nn.ReLU, "pool": nn.MaxPool2d}
    for name, idx in LAYER_INDEX.items():
        assert isinstance(tv[idx], kinds[name[:4]]), (name, idx, tv[idx])
    assert LAYER_INDEX["conv4_2"] == 21 and LAYER_INDEX["conv5_1"] == 28
    assert LAYER_INDEX["conv1_1"] == 0 and LAYER_INDEX["pool5"] == 36 and LAYER_INDEX["relu3_4"] == 17
    # channel counts agree too
    for name in ("conv1_2", "conv3_4", "conv5_4"):
        assert tv[LAYER_INDEX[name]].out_channels == load_vgg19("random", device="cpu")[name].out_channels


def test_forward_stops_at_deepest_requested_layer(random_vgg):
    calls = []
    hooks = [m.register_forward_hook(lambda m, i, o, idx=idx: calls.append(idx)) for idx, m in enumerate(random_vgg.layers)]
    try:
        out = random_vgg(torch.rand(1, 3, 32, 32), ["relu1_1", "conv3_1"])
    finally:
        for h in hooks:
            h.remove()
    assert set(out) == {"relu1_1", "conv3_1"}
    convs_and_pools = [i for i in range(LAYER_INDEX["conv3_1"] + 1) if not LAYER_NAMES[i].startswith("relu")]
    assert [i for i in calls if not LAYER_NAMES[i].startswith("relu")] == convs_and_pools  # nothing deeper ran
    assert out["conv3_1"].shape == (1, 256, 8, 8)


def test_truncated_model_holds_only_needed_layers(random_vgg):
    short = random_vgg.truncated("relu4_1")
    assert len(short.layers) == LAYER_INDEX["relu4_1"] + 1 == 21
    assert short.layer_names[-1] == "relu4_1"
    with pytest.raises(ValueError, match="truncated"):
        short(torch.rand(1, 3, 32, 32), ["conv5_1"])
    x = torch.rand(1, 3, 32, 32)
    assert torch.equal(short(x, ["relu4_1"])["relu4_1"], random_vgg(x, ["relu4_1"])["relu4_1"])


def test_conv_outputs_are_not_overwritten_by_relu(random_vgg):
    out = random_vgg(torch.rand(1, 3, 16, 16), ["conv1_1", "relu1_1"])
    assert (out["conv1_1"] < 0).any()  # a real conv output has negatives; an in-place ReLU would erase them
    assert torch.equal(out["relu1_1"], out["conv1_1"].clamp(min=0))


def test_hooks_and_single_pass_give_identical_tensors(random_vgg):
    x = torch.rand(1, 3, 32, 32)
    layers = ["conv1_1", "relu2_1", "conv4_2"]
    a, b = extract_features(random_vgg, x, layers), extract_features_with_hooks(random_vgg, x, layers)
    for n in layers:
        assert torch.equal(a[n], b[n])
    assert all(not m._forward_hooks for m in random_vgg.layers)


def test_unknown_layer_name_is_a_clear_error(random_vgg):
    with pytest.raises(ValueError, match="unknown VGG19 layer 'conv6_1'"):
        random_vgg(torch.rand(1, 3, 16, 16), ["conv6_1"])


def test_parameters_frozen_and_eval(random_vgg):
    assert not any(p.requires_grad for p in random_vgg.parameters())
    random_vgg.train()
    assert not random_vgg.training


def test_random_weights_are_seeded():
    a, b, c = (load_vgg19("random", device="cpu", seed=s) for s in (1, 1, 2))
    assert torch.equal(a["conv3_1"].weight, b["conv3_1"].weight)
    assert not torch.equal(a["conv3_1"].weight, c["conv3_1"].weight)


def _torchvision_random(seed=0):
    torch.manual_seed(seed)
    return torchvision.models.vgg19(weights=None).eval()


def test_torchvision_format_file_gives_identical_activations(tmp_path):
    tv = _torchvision_random()
    path = tmp_path / "vgg19-random.pth"
    torch.save(tv.state_dict(), path)  # full model: features.* and classifier.*
    ours = load_vgg19(str(path), device="cpu")
    x = torch.rand(1, 3, 48, 40)
    with torch.no_grad():
        ref = tv.features[: LAYER_INDEX["relu5_1"] + 1](imagenet_normalize(x))
        got = ours(x, ["relu5_1"])["relu5_1"]
    assert torch.equal(got, ref)
    assert ours.preprocess.convention == "imagenet"


def test_features_only_file_roundtrip_and_checksum(tmp_path, caffe_vgg):
    path = save_features_file(caffe_vgg, tmp_path / "vgg19-caffe-features.pth", half=True)
    assert path.stat().st_size < 45e6
    loaded = load_vgg19(str(path), device="cpu")
    assert loaded.preprocess.convention == "caffe"
    x = torch.rand(1, 3, 32, 32)
    a, b = caffe_vgg(x, ["relu3_1"])["relu3_1"], loaded(x, ["relu3_1"])["relu3_1"]
    assert torch.allclose(a, b, rtol=2e-2, atol=2e-2 * a.abs().max().item())
    obj = torch.load(path, weights_only=True)
    obj["state_dict"]["0.bias"][0] += 1  # corrupt one value
    torch.save(obj, path)
    with pytest.raises(ValueError, match="corrupt"):
        load_vgg19(str(path), device="cpu")


def test_wrong_files_give_clear_errors(tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="not a readable PyTorch weights file"):
        load_vgg19(str(junk), device="cpu")
    vgg16 = tmp_path / "vgg16.pth"
    torch.save(torchvision.models.vgg16(weights=None).state_dict(), vgg16)
    with pytest.raises(ValueError, match="VGG19"):
        load_vgg19(str(vgg16), device="cpu")
    with pytest.raises(ValueError, match="neither one of"):
        load_vgg19("imagenet-weights-that-do-not-exist", device="cpu")


def test_torchvision_weights_offline_give_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # empty hub cache

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.raises(WeightsUnavailableError) as info:
        load_vgg19("torchvision", device="cpu")
    msg = str(info.value)
    assert "548 MB" in msg and "weights='caffe'" in msg and str(tmp_path) in msg
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no urllib traceback chained


def test_caffe_weights_load_with_network_blocked(monkeypatch):
    def blocked(*args, **kwargs):
        raise AssertionError("caffe weights must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", blocked)
    monkeypatch.setattr(urllib.request, "urlopen", blocked)
    model = load_vgg19("caffe", device="cpu")
    assert model.weights_name == "caffe" and model.preprocess.convention == "caffe"
    w = model["conv1_1"].weight
    assert w.shape == (64, 3, 3, 3) and w.abs().sum() > 0
    # 8-bit quantised: each conv weight takes at most 256 distinct values
    assert torch.unique(model["conv3_1"].weight).numel() <= 256


def test_caffe_model_feeds_bgr_0_255_mean_subtracted_input(caffe_vgg):
    """What conv1_1 receives for a pure-red image: B = 0-103.939, G = 0-116.779, R = 255-123.68."""
    seen = {}
    handle = caffe_vgg["conv1_1"].register_forward_pre_hook(lambda m, args: seen.setdefault("x", args[0]))
    try:
        red = torch.zeros(1, 3, 8, 8)
        red[:, 0] = 1.0
        caffe_vgg(red, ["conv1_1"])
    finally:
        handle.remove()
    pixel = seen["x"][0, :, 3, 3]
    assert torch.allclose(pixel, torch.tensor([-103.939, -116.779, 255 - 123.68]), atol=1e-3)
    x = torch.rand(1, 3, 5, 7)
    assert torch.allclose(caffe_vgg.preprocess(x), caffe_preprocess(x), atol=1e-4)


def test_caffe_weights_respond_to_natural_images_like_vgg(caffe_vgg):
    """Real weights, right preprocessing: a smooth natural photo excites conv1_1 moderately, and the
    response is very different if the channel order is swapped (so a swap would be visible)."""
    import skimage.data

    from nsthelpers import load_image

    img = load_image(skimage.data.astronaut(), size=64)
    acts = caffe_vgg(img, ["relu1_1"])["relu1_1"]
    swapped = caffe_vgg(img.flip(1), ["relu1_1"])["relu1_1"]
    assert 1 < acts.mean().item() < 200
    rel = (acts - swapped).norm() / acts.norm()
    assert rel > 0.05


def test_layer_table_numbers():
    rows = layer_table((224, 224))
    assert len(rows) == 37
    assert sum(r.params for r in rows) == 20_024_384  # VGG19 conv parameters
    by = {r.name: r for r in rows}
    assert by["conv1_1"].out_shape == (64, 224, 224) and by["pool5"].out_shape == (512, 7, 7)
    assert by["conv1_1"].receptive_field == 3 and by["conv1_2"].receptive_field == 5
    assert by["pool1"].receptive_field == 6 and by["conv2_1"].receptive_field == 10
    assert by["conv5_4"].receptive_field == 252
    assert by["conv1_1"].flops == 2 * 3 * 9 * 64 * 224 * 224
    conv_gflops = sum(r.flops for r in rows if r.kind.startswith("Conv")) / 1e9
    assert 39 < conv_gflops < 40  # ~19.6 GMAC for VGG19 at 224²


def test_in_place_relu_fast_path_gives_same_values_and_gradients(random_vgg):
    """Asking for conv outputs disables the in-place ReLU; results and input gradients must not change."""
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(3), requires_grad=True)
    fast = random_vgg(x, ["relu3_1"])["relu3_1"]
    (g_fast,) = torch.autograd.grad(fast.square().sum(), x)
    convs = ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1"]
    slow = random_vgg(x, convs + ["relu3_1"])
    (g_slow,) = torch.autograd.grad(slow["relu3_1"].square().sum(), x)
    assert torch.equal(fast, slow["relu3_1"]) and torch.allclose(g_fast, g_slow, rtol=1e-6, atol=1e-9)
    assert (slow["conv3_1"] < 0).any()  # requested conv outputs stay un-rectified


def test_normalise_vgg19_sets_each_filters_mean_to_one_and_only_rescales(random_vgg):
    """Gatys et al.'s normalisation: every relu's mean over the images becomes 1, each activation is the original
    one divided by its filter's mean, and the original model is left as it was."""
    from nsthelpers import normalise_vgg19
    from nsthelpers.vgg import filter_means

    gen = torch.Generator().manual_seed(0)
    images = [torch.rand(1, 3, 32, 32, generator=gen), torch.rand(2, 3, 40, 24, generator=gen)]
    before = {k: v.clone() for k, v in random_vgg.state_dict().items()}
    norm = normalise_vgg19(random_vgg, images, dead=0.0)
    relus = [n for n in LAYER_NAMES if n.startswith("relu")]
    old, new = filter_means(random_vgg, images, relus), filter_means(norm, images, relus)
    for n in relus:
        alive = old[n] > 1e-4 * old[n].median()             # (float32: a mean of ~1e-9 is rounding)
        assert torch.allclose(new[n][alive], torch.ones(int(alive.sum())), rtol=1e-3), n
    probe = torch.rand(1, 3, 48, 48, generator=gen)
    a, b = random_vgg(probe, ["relu3_1", "pool5"]), norm(probe, ["relu3_1", "pool5"])
    for layer, relu in (("relu3_1", "relu3_1"), ("pool5", "relu5_4")):     # pooling commutes with the scale too
        m = torch.where(old[relu] > 0, old[relu], torch.ones(1)).view(1, -1, 1, 1)
        assert torch.allclose(b[layer] * m, a[layer], rtol=1e-3, atol=1e-4 * a[layer].abs().max().item()), layer
    assert all(torch.equal(v, random_vgg.state_dict()[k]) for k, v in before.items())
    assert norm.weights_name.endswith("normalised")


def test_normalise_vgg19_keeps_almost_dead_filters_and_rejects_bad_input(random_vgg):
    from nsthelpers import normalise_vgg19
    from nsthelpers.vgg import filter_means

    image = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    means = filter_means(random_vgg, [image], ["relu1_1"])["relu1_1"]
    norm = normalise_vgg19(random_vgg, [image], dead=0.999)    # almost every filter counts as dead: kept
    kept = means <= 0.999 * means.median()
    assert torch.equal(norm["conv1_1"].weight[kept], random_vgg["conv1_1"].weight[kept])
    with pytest.raises(ValueError, match="at least one image"):
        normalise_vgg19(random_vgg, [])
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        normalise_vgg19(random_vgg, [torch.rand(3, 32, 32)])
    with pytest.raises(ValueError, match="dead="):
        normalise_vgg19(random_vgg, [image], dead=1.5)
