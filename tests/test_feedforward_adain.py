"""nsthelpers.feedforward.adain: the AdaIN operation against numpy, the decoder, α and interpolation, training, the file."""
import numpy as np
import pytest
import torch

from nsthelpers.feedforward import adain, fast
from nsthelpers.feedforward.trainset import TrainingCrops


def test_adain_gives_the_content_the_style_features_mean_and_std(rng):
    content = torch.randn(2, 16, 9, 11, generator=rng) * 3 + 1
    style = torch.rand(2, 16, 7, 5, generator=rng) ** 2 * 40
    out = adain.adain(content, style).numpy().astype(np.float64)
    s, c = style.numpy().astype(np.float64), content.numpy().astype(np.float64)
    # independent computation: numpy's population mean and std over each channel's positions
    np.testing.assert_allclose(out.mean(axis=(2, 3)), s.mean(axis=(2, 3)), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=(2, 3)), s.std(axis=(2, 3)), rtol=1e-3)
    # and it keeps the content's pattern: per channel, an increasing affine map of the content
    for n in range(2):
        for ch in range(16):
            r = np.corrcoef(out[n, ch].ravel(), c[n, ch].ravel())[0, 1]
            assert r > 0.9999


def test_one_style_serves_a_batch_and_mismatches_are_refused():
    out = adain.adain(torch.randn(3, 4, 5, 5), torch.randn(1, 4, 6, 6) * 2)
    assert out.shape == (3, 4, 5, 5)
    with pytest.raises(ValueError, match="same batch size"):
        adain.adain(torch.randn(3, 4, 5, 5), torch.randn(2, 4, 5, 5))


@pytest.mark.parametrize("layer,channels,down", [("relu2_1", 128, 2), ("relu3_1", 256, 4), ("relu4_1", 512, 8)])
def test_decoder_mirrors_vgg_from_its_layer(layer, channels, down):
    decoder = adain.Decoder(layer, width=8)
    out = decoder(torch.rand(1, channels, 5, 6))
    assert out.shape == (1, 3, 5 * down, 6 * down)
    convs = [m for m in decoder.modules() if isinstance(m, torch.nn.Conv2d)]
    expected = {"relu2_1": 3, "relu3_1": 5, "relu4_1": 9}[layer]   # one per VGG19 conv up to the layer (9: the paper)
    assert len(convs) == expected and convs[0].in_channels == channels and convs[-1].out_channels == 3


@pytest.fixture(scope="module")
def tiny_model(random_vgg):
    torch.manual_seed(0)
    return adain.AdaINModel(random_vgg, adain.Decoder("relu2_1", width=4, feature_scale=0.5))


def test_alpha_and_style_weights_mix_the_targets_linearly(tiny_model, rng):
    content, s1, s2 = (torch.rand(1, 3, 32, 32, generator=rng) for _ in range(3))
    fc = tiny_model.encode(content)["relu2_1"]
    t1 = adain.adain(fc, tiny_model.encode(s1)["relu2_1"])
    t2 = adain.adain(fc, tiny_model.encode(s2)["relu2_1"])
    assert torch.allclose(tiny_model.target(content, s1, alpha=0.0), fc)
    assert torch.allclose(tiny_model.target(content, [s1], alpha=1.0), t1)
    assert torch.allclose(tiny_model.target(content, s1, alpha=0.3), 0.3 * t1 + 0.7 * fc, atol=1e-4)
    assert torch.allclose(tiny_model.target(content, [s1, s2], [3, 1]), 0.75 * t1 + 0.25 * t2, atol=1e-4)
    picture = tiny_model(content, [s1, s2], [0.5, 0.5], alpha=0.5)
    assert picture.shape == content.shape and picture.min() >= 0 and picture.max() <= 1
    with pytest.raises(ValueError, match="alpha"):
        tiny_model(content, s1, alpha=1.5)
    with pytest.raises(ValueError, match="style_blend"):
        tiny_model(content, [s1, s2], [1.0])


def test_training_lowers_the_adain_loss_on_held_out_pairs(caffe_vgg):
    styles = [torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(k)) ** (k + 1) for k in range(2)]
    held_photos = TrainingCrops(["chelsea"], size=32, seed=7).batch(2)
    held_styles = torch.cat(styles)[:, :, :32, :32]
    first = adain.train_decoder(styles, photos=TrainingCrops(size=32, seed=0), steps=1, size=32, batch_size=2,
                                layer="relu2_1", width=8, lr=3e-3, model=caffe_vgg, device="cpu")
    with torch.no_grad():
        before = adain.adain_losses(first.net, held_photos, held_styles, 10.0)
    result = adain.train_decoder(styles, photos=TrainingCrops(size=32, seed=1), steps=30, size=32, batch_size=2,
                                 lr=3e-3, decoder=first.net.decoder, model=caffe_vgg, device="cpu")
    with torch.no_grad():
        after = adain.adain_losses(result.net, held_photos, held_styles, 10.0)
    # the decoder's input scale makes the caffe VGG19's features (in the hundreds) about 1 on average
    with torch.no_grad():
        feats = caffe_vgg(held_photos, ["relu2_1"])["relu2_1"]
    assert 0.3 < float((feats * first.net.decoder.feature_scale).abs().mean()) < 3
    assert result.steps == 30 and set(result.history) == {"total", "content", "style"}
    assert float(after["total"]) < 0.5 * float(before["total"]), (before, after)


def test_save_load_round_trip_and_wrong_kind(tmp_path, tiny_model):
    path = adain.save(tiny_model, tmp_path / "decoder.pth", {"styles": ["swirls"]}, half=False)
    back = adain.load(path, model=tiny_model.encoder, device="cpu")
    x, s = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    assert torch.equal(back(x, s), tiny_model(x, s)) and back.decoder.feature_scale == tiny_model.decoder.feature_scale
    assert back.info["styles"] == ["swirls"] and back.info["weights"] == "random"
    with pytest.raises(ValueError, match="trained with the 'random' VGG19 weights"):
        adain.load(path, model="caffe", device="cpu")
    fast.save(fast.TransformerNet(4, 1), tmp_path / "johnson.pth")
    with pytest.raises(ValueError, match="holds a 'transformer' network, not a 'adain' one"):
        adain.load(tmp_path / "johnson.pth")
