"""nsthelpers.feedforward.fast: TransformerNet's shape and gradients, the perceptual-loss trainer, the network file."""
import pytest
import torch
from torch import nn

import nsthelpers as nst
from nsthelpers.feedforward import fast
from nsthelpers.objective import default_style_weight
from nsthelpers.feedforward.trainset import TrainingCrops


def test_transformer_net_keeps_any_size_and_stays_in_range():
    net = fast.TransformerNet(width=4, residual_blocks=2)
    for hw in [(32, 32), (37, 50), (8, 9)]:
        out = net(torch.rand(2, 3, *hw))
        assert out.shape == (2, 3, *hw)
        assert out.min() >= 0 and out.max() <= 1


def test_transformer_net_has_johnsons_layers_and_width_sets_the_size():
    net = fast.TransformerNet(width=8)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert convs[0].kernel_size == (9, 9) and convs[-1].kernel_size == (9, 9) and convs[-1].out_channels == 3
    assert [c.stride for c in convs[:3]] == [(1, 1), (2, 2), (2, 2)] and convs[2].out_channels == 32
    assert sum(isinstance(m, fast.ResidualBlock) for m in net.modules()) == 5
    assert sum(isinstance(m, nn.Upsample) and m.mode == "nearest" for m in net.modules()) == 2
    assert sum(isinstance(m, nn.ReflectionPad2d) for m in net.modules()) == len(convs)
    assert sum(isinstance(m, nn.InstanceNorm2d) for m in net.modules()) == 5 + 2 * 5
    n8 = sum(p.numel() for p in net.parameters())
    n16 = sum(p.numel() for p in fast.TransformerNet(width=16).parameters())
    assert 3.6 < n16 / n8 < 4.0  # conv weights grow with width², the 3-channel ends with width


def test_gradient_reaches_every_parameter_and_the_input():
    net = fast.TransformerNet(width=4, residual_blocks=2)
    x = torch.rand(1, 3, 24, 28, requires_grad=True)
    (net(x) * torch.linspace(-1, 1, 28)).sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
    assert x.grad.abs().sum() > 0


def test_bad_arguments_are_clear():
    with pytest.raises(ValueError, match="width"):
        fast.TransformerNet(width=0)
    with pytest.raises(ValueError, match="at least 8 px"):
        fast.TransformerNet(4)(torch.rand(1, 3, 6, 20))
    with pytest.raises(ValueError, match="RGB"):
        fast.TransformerNet(4)(torch.rand(3, 16, 16))
    with pytest.raises(ValueError, match="steps"):
        fast.train(torch.rand(1, 3, 32, 32), steps=0, model="random", device="cpu")
    with pytest.raises(ValueError, match="32 px"):
        fast.train(torch.rand(1, 3, 32, 32), size=16, model="random", device="cpu")


@pytest.fixture(scope="module")
def style():
    return nst.data.generated_texture("swirls", 64)


def _perceptual_loss(model, net, batch, style):
    with torch.no_grad():
        return float(nst.Objective(model, batch, [style], balance_layers=False)(net(batch))["total"].mean())


def test_training_lowers_the_perceptual_loss_on_held_out_crops(caffe_vgg):
    style = nst.data.generated_texture("swirls", 32)   # the trainer's style size is its crop size
    held_out = TrainingCrops(["astronaut"], size=32, seed=99).batch(2)
    torch.manual_seed(0)
    before = _perceptual_loss(caffe_vgg, fast.TransformerNet(4, 2), held_out, style)
    torch.manual_seed(0)
    start = fast.TransformerNet(4, 2)
    crops = TrainingCrops(size=32, seed=0)
    first = crops.batch(2)
    with torch.no_grad():
        first_loss = float(nst.Objective(caffe_vgg, first, [style], balance_layers=False)(start(first))["total"].mean())
    result = fast.train(style, photos=TrainingCrops(size=32, seed=0), steps=25, size=32, batch_size=2, lr=3e-3,
                        warmup_steps=0, style_weight=default_style_weight("caffe", balanced=False),
                        tv_weight=nst.DEFAULT_TV_WEIGHT["caffe"],
                        content_layers=nst.DEFAULT_CONTENT_LAYERS, net=start, model=caffe_vgg, device="cpu")
    assert result.steps == 25 and len(result.history["total"]) == 25
    # the trainer's loss is the Objective's: its first value is the untrained net's loss on the first batch
    assert result.history["total"][0] == pytest.approx(first_loss, rel=1e-5)
    after = _perceptual_loss(caffe_vgg, result.net, held_out, style)
    assert after < 0.85 * before, (before, after)   # measured: 0.73 × (25 steps, 4 s)


def test_callback_stops_training_early(random_vgg, style):
    seen = []
    result = fast.train(style, photos=TrainingCrops(size=32), steps=50, size=32, width=4, model=random_vgg,
                        device="cpu", callback=lambda step, losses, net: seen.append(losses) or step == 3)
    assert result.steps == 3 and len(seen) == 3 and set(seen[0]) == {"total", "content", "style", "tv"}


def test_warmup_steps_train_without_the_style_term(random_vgg, style):
    result = fast.train(style, photos=TrainingCrops(size=32), steps=4, size=32, width=4, warmup_steps=2,
                        model=random_vgg, device="cpu")
    h = result.history
    for step in range(4):
        expected = h["content"][step] + result.settings["tv_weight"] * h["tv"][step]
        if step >= 2:
            expected += result.settings["style_weight"] * h["style"][step]
        assert h["total"][step] == pytest.approx(expected, rel=1e-5)
    sw, tv = fast.johnson_weights(random_vgg, None, None)
    assert (sw, tv) == (result.settings["style_weight"], result.settings["tv_weight"])
    assert sw == pytest.approx(default_style_weight("imagenet", balanced=False) * fast.JOHNSON_STYLE_SCALE)


def test_the_style_goes_through_vgg_once_not_every_step(random_vgg):
    """As pytorch/examples' fast_neural_style: the style's targets are computed before the first step."""
    style = torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(3))  # 40 px: the crops are 32
    sizes = []
    hook = random_vgg.layers[0].register_forward_pre_hook(lambda module, args: sizes.append(args[0].shape[-1]))
    try:
        fast.train(style, photos=TrainingCrops(size=32), steps=4, size=32, style_size=40, width=4,
                   warmup_steps=1, model=random_vgg, device="cpu")
    finally:
        hook.remove()
    assert sizes.count(40) == 1 and sizes.count(32) >= 4


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(1)
    net = fast.TransformerNet(4, 2).eval()
    x = torch.rand(1, 3, 20, 24)
    exact = fast.load(fast.save(net, tmp_path / "exact.pth", {"style": "swirls"}, half=False), device="cpu")
    assert torch.equal(exact(x), net(x)) and exact.info == {"style": "swirls"} and exact.width == 4
    small = fast.load(fast.save(net, tmp_path / "half.pth"), device="cpu")
    assert (small(x) - net(x)).abs().max() < 5e-3     # float16 weights: the same picture to 1/200
    assert (tmp_path / "half.pth").stat().st_size < 0.6 * (tmp_path / "exact.pth").stat().st_size


def test_corrupt_foreign_and_wrong_kind_files_are_refused(tmp_path):
    path = fast.save(fast.TransformerNet(4, 1), tmp_path / "net.pth")
    payload = torch.load(path, weights_only=True)
    name = next(iter(payload["state_dict"]))
    payload["state_dict"][name] = payload["state_dict"][name] + 1       # a changed weight, old checksum
    torch.save(payload, tmp_path / "tampered.pth")
    with pytest.raises(ValueError, match="corrupt: its weights' checksum"):
        fast.load(tmp_path / "tampered.pth")
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 3: len(raw) // 3 + 64] = b"\x00" * 64                 # damaged bytes on disk
    (tmp_path / "damaged.pth").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="corrupt"):
        fast.load(tmp_path / "damaged.pth")
    (tmp_path / "short.pth").write_bytes(path.read_bytes()[:500])
    with pytest.raises(ValueError, match="not a readable network file"):
        fast.load(tmp_path / "short.pth")
    torch.save(fast.TransformerNet(4, 1).state_dict(), tmp_path / "plain.pth")
    with pytest.raises(ValueError, match="not an nsthelpers network file"):
        fast.load(tmp_path / "plain.pth")
    fast.write_network_file(tmp_path / "other.pth", "adain", {}, {"w": torch.zeros(2)})
    with pytest.raises(ValueError, match="holds a 'adain' network"):
        fast.load(tmp_path / "other.pth")
    with pytest.raises(FileNotFoundError):
        fast.load(tmp_path / "missing.pth")


def test_batches_give_the_same_pictures_in_the_same_order():
    torch.manual_seed(2)
    net = fast.TransformerNet(4, 1).eval()
    images = [torch.rand(1, 3, 16, 20), torch.rand(1, 3, 24, 24), torch.rand(1, 3, 16, 20), torch.rand(1, 3, 16, 20)]
    out = fast.stylise_batches(net, images, batch_size=2, device="cpu")
    assert [o.shape for o in out] == [i.shape for i in images]
    with torch.no_grad():
        for o, i in zip(out, images):
            assert torch.allclose(o, net(i), atol=1e-5)
