"""Mixed precision (nsthelpers.deepdives.amp): GradScaler skips overflowing fp16 steps and lowers its scale; bf16 needs
no scaler; clipping the frozen network's gradients changes nothing."""
import pytest
import torch

import nsthelpers as nst
from nsthelpers.deepdives.amp import amp_adam


@pytest.fixture(scope="module")
def objective(caffe_vgg):
    gen = torch.Generator().manual_seed(0)
    content, style = torch.rand(1, 3, 48, 48, generator=gen), torch.rand(1, 3, 48, 48, generator=gen)
    return nst.Objective(caffe_vgg, content, [style], style_layers=["relu1_1", "relu2_1", "relu3_1"],
                         content_layers=["relu3_1"]), content


def test_overflowing_fp16_step_is_skipped_and_the_scale_lowered(objective):
    obj, start = objective
    one = amp_adam(obj, start, steps=1, dtype=torch.float16, init_scale=2.0**16)
    # the caffe-scale loss (~1e8) times 65536 overflows fp16 in the backward pass: no update, scale halved
    assert one.skipped == 1 and one.scales == [2.0**15]
    assert torch.equal(one.image, start.clamp(0, 1))
    run = amp_adam(obj, start, steps=12, dtype=torch.float16, init_scale=2.0**16)
    assert run.skipped >= 2 and run.scales == sorted(run.scales, reverse=True)
    assert all(b in (a / 2, a) for a, b in zip(run.scales, run.scales[1:]))
    # a scale small enough to fit: no step skipped, the image moves, the loss falls
    fits = amp_adam(obj, start, steps=12, dtype=torch.float16, init_scale=1.0)
    assert fits.skipped == 0 and not torch.equal(fits.image, start)
    assert fits.losses[-1] < 0.9 * fits.losses[0]
    # the scale grows again after growth_interval good steps
    grows = amp_adam(obj, start, steps=3, dtype=torch.float16, init_scale=1.0, growth_interval=1)
    assert grows.scales == [2.0, 4.0, 8.0] and grows.skipped == 0


def test_bf16_without_scaler_tracks_fp32(objective):
    obj, start = objective
    fp32 = amp_adam(obj, start, steps=8, dtype=None)
    bf16 = amp_adam(obj, start, steps=8, dtype=torch.bfloat16)
    assert bf16.scales == [1.0] * 8 and bf16.skipped == 0          # no scaler: nothing to skip
    final = lambda r: float(obj(r.image)["total"])
    assert final(bf16) == pytest.approx(final(fp32), rel=0.05)
    assert final(fp32) < 0.9 * float(obj(start)["total"])


def test_clipping_the_frozen_networks_gradients_is_a_no_op(objective):
    """The common advice clip_grad_norm_(model.parameters(), 1.0): the network is frozen, so its parameters
    have no gradients, the clipped norm is 0 and the picture is bit-for-bit the same."""
    obj, start = objective

    def adam(clip_model: bool) -> tuple[torch.Tensor, list[float]]:
        x = start.clone().requires_grad_(True)
        opt = torch.optim.Adam([x], lr=0.05)
        norms = []
        for _ in range(4):
            opt.zero_grad(set_to_none=True)
            obj(x)["total"].backward()
            if clip_model:
                norms.append(float(torch.nn.utils.clip_grad_norm_(obj.model.parameters(), 1.0)))
            opt.step()
        return x.detach(), norms

    plain, _ = adam(False)
    clipped, norms = adam(True)
    assert all(p.grad is None and not p.requires_grad for p in obj.model.parameters())
    assert norms == [0.0] * 4 and torch.equal(plain, clipped)


def test_clip_norm_clips_the_unscaled_image_gradient(objective):
    """clip_norm equals an inline loop that clips the image's gradient; with a (power-of-two, hence exact)
    loss scale in fp32 the result is the same, so the clip acts on the unscaled gradient."""
    obj, start = objective
    c = 1e3                                         # far below the gradient's norm (~1e7): every step is clipped
    x = start.clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=0.05)
    for _ in range(3):
        opt.zero_grad(set_to_none=True)
        obj(x)["total"].backward()
        assert float(torch.nn.utils.clip_grad_norm_([x], c)) > 10 * c
        opt.step()
        with torch.no_grad():
            x.clamp_(0, 1)
    clipped = amp_adam(obj, start, steps=3, dtype=None, clip_norm=c)
    scaled = amp_adam(obj, start, steps=3, dtype=None, clip_norm=c, loss_scaling=True, init_scale=2.0**10)
    unclipped = amp_adam(obj, start, steps=3, dtype=None)
    torch.testing.assert_close(clipped.image, x.detach(), rtol=0, atol=1e-6)
    torch.testing.assert_close(scaled.image, clipped.image, rtol=0, atol=1e-6)
    assert scaled.scales == [2.0**10] * 3 and (unclipped.image - clipped.image).abs().max() > 1e-4
    # a threshold above the true norm but below norm × scale: clipped only if the clip saw scaled gradients
    x0 = start.clone().requires_grad_(True)
    (g0,) = torch.autograd.grad(obj(x0)["total"], x0)
    loose = amp_adam(obj, start, steps=3, dtype=None, clip_norm=10 * float(g0.norm()), loss_scaling=True,
                     init_scale=2.0**10)
    torch.testing.assert_close(loose.image, unclipped.image, rtol=0, atol=1e-6)


def test_bad_arguments_are_clear(objective):
    obj, start = objective
    with pytest.raises(ValueError, match="dtype"):
        amp_adam(obj, start, steps=1, dtype=torch.float64)
    with pytest.raises(ValueError, match="steps"):
        amp_adam(obj, start, steps=0)
    with pytest.raises(ValueError, match="clip_norm"):
        amp_adam(obj, start, steps=1, clip_norm=-1.0)
