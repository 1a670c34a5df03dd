"""stylize's extras: masks, mean/cov loss, colour preservation, scales, checkpoints, precision, memory."""
import pytest
import torch

from nsthelpers import Objective, OutOfMemory, estimate_bytes, gram_matrix, masked_gram, optimize, rgb_to_yiq, stylize
from nsthelpers import memory as memory_mod

LAYERS = dict(content_layers=["relu2_1"], style_layers=["relu1_1", "relu2_1"])


@pytest.fixture
def pair():
    g = torch.Generator().manual_seed(11)
    return torch.rand(1, 3, 32, 32, generator=g), torch.rand(1, 3, 32, 32, generator=g)


def test_masked_gram_with_full_mask_equals_gram(rng):
    f = torch.randn(1, 4, 6, 5, generator=rng)
    assert torch.allclose(masked_gram(f, torch.ones(1, 1, 6, 5)), gram_matrix(f), atol=1e-6)
    half = torch.zeros(1, 1, 6, 5)
    half[..., :3, :] = 1
    assert torch.allclose(masked_gram(f, half), gram_matrix(f[..., :3, :]), atol=1e-6)


def test_masks_send_each_style_to_its_region(random_vgg):
    """Left half red-ish style, right half blue-ish: after optimisation the halves differ accordingly."""
    g = torch.Generator().manual_seed(2)
    content = torch.full((1, 3, 32, 32), 0.5)
    red = torch.rand(1, 3, 32, 32, generator=g) * 0.2 + torch.tensor([0.8, 0.1, 0.1]).view(1, 3, 1, 1)
    blue = torch.rand(1, 3, 32, 32, generator=g) * 0.2 + torch.tensor([0.1, 0.1, 0.8]).view(1, 3, 1, 1)
    left = torch.zeros(32, 32)
    left[:, :16] = 1
    r = stylize(content, [red, blue], masks=[left, 1 - left], steps=40, optimizer="lbfgs", weights=random_vgg,
                content_weight=0.0, style_weight=1e7, tv_weight=0.0, init="noise", **LAYERS)
    img = r.image[0]
    left_rb = img[0, :, 2:14].mean() - img[2, :, 2:14].mean()
    right_rb = img[0, :, 18:30].mean() - img[2, :, 18:30].mean()
    assert left_rb > 0.1 and right_rb < -0.1, (left_rb, right_rb)


def test_mask_validation(pair, random_vgg):
    with pytest.raises(ValueError, match="one mask per style"):
        stylize(*pair, masks=[torch.ones(32, 32)] * 2, steps=1, weights=random_vgg, **LAYERS)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        stylize(*pair, masks=[torch.full((32, 32), 2.0)], steps=1, weights=random_vgg, **LAYERS)


def test_mean_cov_style_loss_is_zero_at_the_style_and_decreases(pair, random_vgg):
    content, style = pair
    obj = Objective(random_vgg, content, [style], style_loss="mean_cov", **LAYERS)
    assert obj(style)["style"].item() == pytest.approx(0.0, abs=1e-10)
    r = stylize(content, style, style_loss="mean_cov", steps=15, optimizer="lbfgs", weights=random_vgg,
                style_weight=1e7, tv_weight=0.0, **LAYERS)
    assert r.history["style"][-1] < 0.2 * r.history["style"][0]


def test_preserve_color_luminance_keeps_content_chrominance(random_vgg):
    g = torch.Generator().manual_seed(4)
    content = torch.rand(1, 3, 32, 32, generator=g) * 0.3 + torch.tensor([0.2, 0.5, 0.3]).view(1, 3, 1, 1)
    style = torch.rand(1, 3, 32, 32, generator=g) * 0.3 + torch.tensor([0.7, 0.1, 0.6]).view(1, 3, 1, 1)
    r = stylize(content, style, preserve_color="luminance", steps=10, weights=random_vgg, style_weight=1e7, **LAYERS)
    iq_out, iq_con = rgb_to_yiq(r.image)[:, 1:], rgb_to_yiq(content)[:, 1:]
    plain = stylize(content, style, steps=10, weights=random_vgg, style_weight=1e7, **LAYERS)
    assert (iq_out - iq_con).abs().mean() < 0.02
    assert (iq_out - iq_con).abs().mean() < 0.5 * (rgb_to_yiq(plain.image)[:, 1:] - iq_con).abs().mean()


def test_preserve_color_histogram_changes_style_targets(pair, random_vgg):
    a = stylize(*pair, preserve_color="histogram", steps=2, weights=random_vgg, **LAYERS)
    b = stylize(*pair, steps=2, weights=random_vgg, **LAYERS)
    assert a.history["style"][0] != pytest.approx(b.history["style"][0])
    with pytest.raises(ValueError, match="preserve_color"):
        stylize(*pair, preserve_color="sepia", steps=1, weights=random_vgg)


def test_scales_run_coarse_to_fine(pair, random_vgg):
    content, style = pair
    sizes_seen = []
    r = stylize(torch.rand(1, 3, 64, 48), style, scales=[24, 48], steps=[4, 3], weights=random_vgg,
                callback=lambda info: sizes_seen.append(tuple(info.image.shape[-2:])), callback_every=1, **LAYERS)
    assert r.image.shape == (1, 3, 48, 36)
    assert sizes_seen[:4] == [(24, 18)] * 4 and sizes_seen[4:] == [(48, 36)] * 3
    assert len(r.history["total"]) == 7 and r.settings["scales"] == [24, 48]
    assert r.steps_done == 7 and r.timings["optimize_s"] > 0  # counted over both scales
    with pytest.raises(ValueError, match="one per scale"):
        stylize(content, style, scales=[24, 48], steps=[4], weights=random_vgg, **LAYERS)


def test_checkpoint_resume_continues_where_it_stopped(pair, random_vgg, tmp_path):
    content, style = pair
    ckpt = tmp_path / "run.ckpt"
    kwargs = dict(steps=12, optimizer="adam", weights=random_vgg, style_weight=1e7, tv_weight=0.0, **LAYERS)
    full = stylize(content, style, **kwargs)

    def interrupt(info):
        if info.step == 8:
            raise KeyboardInterrupt

    first = stylize(content, style, checkpoint_path=ckpt, checkpoint_every=4, callback=interrupt, callback_every=4, **kwargs)
    # interrupted in the callback after step 8 (its update made, as in notebook 05's loop): all 8 are saved
    assert first.stopped == "interrupted" and "resume from step 8" in first.message
    resumed = stylize(content, style, checkpoint_path=ckpt, checkpoint_every=4, **kwargs)
    assert resumed.settings["resumed_from_step"] == 8 and resumed.steps_done == 12
    assert len(resumed.history["total"]) == 12
    assert torch.allclose(resumed.image, full.image, atol=1e-5)  # Adam state restored: same trajectory
    with pytest.raises(ValueError, match="another run"):
        stylize(content, style, checkpoint_path=ckpt, **{**kwargs, "steps": 20})


def test_bf16_autocast_matches_fp32_within_tolerance(pair, random_vgg):
    content, style = pair
    obj = Objective(random_vgg, content, [style], style_weight=1e7, **LAYERS)
    start = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(8))  # all terms non-zero
    a = optimize(obj, start, steps=1, precision="fp32").history
    b = optimize(obj, start, steps=1, precision="bf16").history
    assert a["content"][0] > 0 and a["style"][0] > 0
    for k in ("content", "style", "tv"):
        assert b[k][0] == pytest.approx(a[k][0], rel=0.05, abs=1e-9)
    with pytest.raises(ValueError, match="precision"):
        optimize(obj, content, steps=1, precision="fp8")


def test_bf16_gradient_agrees_with_fp32(random_vgg):
    """The fast path's gradient (VGG under bf16 autocast, Gram and losses in fp32) points where fp32's does."""
    g = torch.Generator().manual_seed(21)
    content, style, image = (torch.rand(1, 3, 48, 48, generator=g) for _ in range(3))
    obj = Objective(random_vgg, content, [style], style_weight=1e7, balance_layers=False,
                    content_layers=["relu4_2"], style_layers=["relu1_1", "relu3_1", "relu5_1"])

    def gradient(dtype):
        x = image.clone().requires_grad_(True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype is torch.bfloat16):
            total = obj(x)["total"]
        total.backward()
        return total.detach(), x.grad

    (loss32, grad32), (loss16, grad16) = gradient(torch.float32), gradient(torch.bfloat16)
    assert loss16.dtype == torch.float32 and loss16 == pytest.approx(float(loss32), rel=0.03)
    cosine = torch.nn.functional.cosine_similarity(grad16.flatten(), grad32.flatten(), dim=0)
    assert cosine > 0.99 and float(grad16.norm() / grad32.norm()) == pytest.approx(1.0, abs=0.05)


def test_memory_estimate_grows_with_pixels_and_depth():
    small = estimate_bytes((256, 256), ["relu5_1"])
    big = estimate_bytes((512, 512), ["relu5_1"])
    shallow = estimate_bytes((512, 512), ["relu2_1"])
    assert 3.5 < (big - 64 * 2**20) / (small - 64 * 2**20) < 4.5
    assert shallow < big


def test_too_large_for_memory_fails_before_work_with_a_size_that_fits(pair, random_vgg, monkeypatch):
    content, style = pair
    budget = estimate_bytes((64, 64), ["relu5_1"])
    monkeypatch.setattr(memory_mod, "available_bytes", lambda device: budget)
    with pytest.raises(OutOfMemory) as info:
        stylize(torch.rand(1, 3, 200, 200), style, steps=1, weights=random_vgg)
    fit = info.value.suggested_size
    assert f"size={fit}" in str(info.value) and 16 <= fit < 200
    assert estimate_bytes((fit, fit), ["relu4_2", "relu5_1"]) <= 0.9 * budget
    r = stylize(torch.rand(1, 3, 200, 200), style, steps=1, weights=random_vgg, auto_downsize=True)
    assert max(r.image.shape[-2:]) <= fit


def test_oom_during_optimisation_becomes_clear_error(pair, random_vgg, monkeypatch):
    import nsthelpers.stages as stages_mod

    def oom(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(stages_mod, "optimize", oom)
    with pytest.raises(OutOfMemory, match=r"out of memory at 32×32 on cpu\. Use size=16"):
        stylize(*pair, steps=1, weights=random_vgg, **LAYERS)


def test_final_losses_describe_the_returned_clipped_image(pair, random_vgg):
    content, style = pair
    r = stylize(content, style, steps=15, optimizer="lbfgs", weights=random_vgg, style_weight=1e7, **LAYERS)
    # the last stage ran at the relaxed style weight, and its total is the one reported
    assert r.settings["relax_to"] == 0.25 and r.settings["style_weight"] == 1e7
    obj = Objective(random_vgg, content, [style], style_weight=1e7 * 0.25, **LAYERS)
    with torch.no_grad():
        ref = obj(r.image)
    for k in ("total", "content", "style", "tv"):
        assert r.final_losses[k] == pytest.approx(ref[k].item(), rel=1e-5)


def test_bf16_gradient_of_the_default_objective_agrees_with_fp32(caffe_vgg):
    """The GPU default (bf16 autocast) on the CPU default objective: balanced layers, caffe weights."""
    from nsthelpers import data

    content, style = data.content_photo("astronaut", max_size=64), data.generated_texture("swirls", 64)
    obj = Objective(caffe_vgg, content, [style])
    image = (content + 0.1 * torch.randn(content.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)

    def gradient(bf16):
        x = image.clone().requires_grad_(True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            total = obj(x)["total"]
        total.backward()
        return total.detach(), x.grad

    (loss32, grad32), (loss16, grad16) = gradient(False), gradient(True)
    assert float(loss16) == pytest.approx(float(loss32), rel=0.03)
    cosine = torch.nn.functional.cosine_similarity(grad16.flatten(), grad32.flatten(), dim=0)
    assert cosine > 0.99 and float(grad16.norm() / grad32.norm()) == pytest.approx(1.0, abs=0.05)
