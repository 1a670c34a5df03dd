"""The assignments' checks (nsthelpers.grading.checks): right answers pass; each mistake a student makes, written
as a student would write it, gets the message that names it; errors are reported without torch's traceback."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import nsthelpers as nst
from nsthelpers.grading import expected as grading
from nsthelpers.grading import checks
from nsthelpers.feedforward.adain import adain as package_adain


# ------------------------------------------------------------------------------ right answers
def gram(f):
    n, c, h, w = f.shape
    flat = f.reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def style_loss(feats, style_feats):
    total = 0
    for name in style_feats:
        a = gram(style_feats[name])
        total = total + F.mse_loss(gram(feats[name]), a) / a.pow(2).mean()
    return total


def adam_step(x, optimizer, loss_fn):
    optimizer.zero_grad()
    loss = loss_fn(x)
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        x.clamp_(0, 1)
    return loss.item()


def run(start, loss_fn, steps, lr):
    x = start.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([x], lr=lr)
    history = [adam_step(x, optimizer, loss_fn) for _ in range(steps)]
    return x.detach(), history


def warp(image, flow):
    n, _, h, w = flow.shape
    ys, xs = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    px, py = xs + flow[:, 0], ys + flow[:, 1]
    grid = torch.stack([2 * px / (w - 1) - 1, 2 * py / (h - 1) - 1], dim=-1)
    return F.grid_sample(image, grid, align_corners=True, padding_mode="border")


RIGHT = {
    "check_gram_matrix": gram,
    "check_content_loss": lambda f, p: ((f - p) ** 2).mean(),
    "check_style_loss": style_loss,
    "check_tv_loss": nst.tv_loss,
    "check_adam_step": adam_step,
    "check_run": run,
    "check_luminance": lambda x: (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1),
    "check_match_luminance": lambda s, c: (s - s.mean()) / s.std() * c.std() + c.mean(),
    "check_combine_luminance": nst.combine_luminance,
    "check_adain": package_adain,
    "check_warp": warp,
}


def test_every_check_has_a_right_answer_here():
    assert sorted(RIGHT) == sorted(checks.__all__)


@pytest.mark.parametrize("name", sorted(RIGHT))
def test_a_right_answer_passes(name, capsys):
    message = getattr(checks, name)(RIGHT[name])
    assert message.startswith("✓") and "passed" in message
    assert message in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(RIGHT))
def test_a_stub_says_it_is_not_written_yet(name):
    def stub(*args, **kwargs):
        raise NotImplementedError()

    with pytest.raises(grading.CheckFailed, match="is not written yet: replace `raise NotImplementedError"):
        getattr(checks, name)(stub)


# ------------------------------------------------------------------------------ mistakes
def _gram_scaled(scale):
    def fn(f):
        n, c, h, w = f.shape
        flat = f.view(n, c, -1)
        return torch.bmm(flat, flat.transpose(1, 2)) / scale(c, h, w)
    return fn


def _gram_positions(f):
    n, c, h, w = f.shape
    flat = f.reshape(n, c, h * w)
    return flat.transpose(1, 2) @ flat / (c * h * w)


def _gram_batch_flattened(f):
    n, c, h, w = f.shape
    flat = f.reshape(n * c, h * w)
    return flat @ flat.T / (c * h * w)


def _gram_single(f):
    n, c, h, w = f.shape
    flat = f.view(c, h * w)                 # works for one picture only
    return (flat @ flat.T / (c * h * w))[None]


def _gram_elementwise(f):
    n, c, h, w = f.shape
    flat = f.reshape(n, c, h * w)
    return flat * flat / (c * h * w)


def _gram_scrambled(f):
    n, c, h, w = f.shape
    flat = f.reshape(n, -1, c)
    return torch.einsum("npc,npd->ncd", flat, flat) / (c * h * w)


def _style_pixels(feats, style_feats):
    return sum(F.mse_loss(feats[n], style_feats[n]) for n in style_feats)


def _style_unbalanced(feats, style_feats):
    return sum(F.mse_loss(gram(feats[n]), gram(style_feats[n])) for n in style_feats)


def _style_averaged(feats, style_feats):
    return style_loss(feats, style_feats) / len(style_feats)


def _style_own_gram(feats, style_feats):
    return sum(F.mse_loss(gram(feats[n]), gram(style_feats[n])) / gram(feats[n]).pow(2).mean() for n in style_feats)


def _style_last_layer(feats, style_feats):
    n = list(style_feats)[-1]
    a = gram(style_feats[n])
    return F.mse_loss(gram(feats[n]), a) / a.pow(2).mean()


def _tv_width_only(x):
    return (x[:, :, :, 1:] - x[:, :, :, :-1]).pow(2).mean()


def _tv_height_only(x):
    return (x[:, :, 1:, :] - x[:, :, :-1, :]).pow(2).mean()


def _tv_diagonal(x):
    return (x[..., 1:, 1:] - x[..., :-1, :-1]).pow(2).mean()


def _tv_channels(x):   # (N, C, H, W) indexed as if it were (N, H, W, C)
    return (x[:, 1:] - x[:, :-1]).pow(2).mean() + (x[:, :, 1:] - x[:, :, :-1]).pow(2).mean()


def _tv_l1(x):
    return (x[..., :, 1:] - x[..., :, :-1]).abs().mean() + (x[..., 1:, :] - x[..., :-1, :]).abs().mean()


def _tv_sum(x):
    return ((x[..., :, 1:] - x[..., :, :-1]) ** 2).sum() + ((x[..., 1:, :] - x[..., :-1, :]) ** 2).sum()


def _tv_roll(x):
    return ((x - torch.roll(x, 1, dims=3)) ** 2).mean() + ((x - torch.roll(x, 1, dims=2)) ** 2).mean()


def _tv_half(x):
    return nst.tv_loss(x) / 2


def _step_no_zero_grad(x, optimizer, loss_fn):
    loss = loss_fn(x)
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        x.clamp_(0, 1)
    return loss.item()


def _step_no_clamp(x, optimizer, loss_fn):
    optimizer.zero_grad()
    loss = loss_fn(x)
    loss.backward()
    optimizer.step()
    return loss.item()


def _step_rebinds(x, optimizer, loss_fn):
    optimizer.zero_grad()
    loss = loss_fn(x)
    loss.backward()
    optimizer.step()
    x = x.clamp(0, 1)                        # a new tensor; the caller's x is not clamped
    return loss.item()


def _step_clamp_with_grad(x, optimizer, loss_fn):
    optimizer.zero_grad()
    loss = loss_fn(x)
    loss.backward()
    optimizer.step()
    x.clamp_(0, 1)
    return loss.item()


def _step_returns_tensor(x, optimizer, loss_fn):
    optimizer.zero_grad()
    loss = loss_fn(x)
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        x.clamp_(0, 1)
    return loss


def _step_before_backward(x, optimizer, loss_fn):
    optimizer.zero_grad()
    loss = loss_fn(x)
    optimizer.step()
    loss.backward()
    with torch.no_grad():
        x.clamp_(0, 1)
    return loss.item()


def _step_loss_after(x, optimizer, loss_fn):
    adam_step(x, optimizer, loss_fn)
    return loss_fn(x).item()


def _run_in_place(start, loss_fn, steps, lr):
    x = start.requires_grad_(True)
    optimizer = torch.optim.Adam([x], lr=lr)
    history = [adam_step(x, optimizer, loss_fn) for _ in range(steps)]
    with torch.no_grad():
        return x.detach().clone(), history


def _run_optimizer_in_loop(start, loss_fn, steps, lr):
    x = start.clone().requires_grad_(True)
    history = []
    for _ in range(steps):
        optimizer = torch.optim.Adam([x], lr=lr)
        history.append(adam_step(x, optimizer, loss_fn))
    return x.detach(), history


def _run_default_lr(start, loss_fn, steps, lr):
    x = start.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([x])
    return x.detach(), [adam_step(x, optimizer, loss_fn) for _ in range(steps)]


def _run_not_detached(start, loss_fn, steps, lr):
    x = start.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([x], lr=lr)
    return x, [adam_step(x, optimizer, loss_fn) for _ in range(steps)]


def _run_short(start, loss_fn, steps, lr):
    x = start.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([x], lr=lr)
    return x.detach(), [adam_step(x, optimizer, loss_fn) for _ in range(steps - 1)]


def _run_tensor_history(start, loss_fn, steps, lr):
    image, history = run(start, loss_fn, steps, lr)
    return image, [torch.tensor(v) for v in history]


def _adain_std(c, s, eps=1e-5):                         # torch.std: n − 1 by default
    cm, cs = c.mean((2, 3), keepdim=True), c.std((2, 3), keepdim=True) + eps
    sm, ss = s.mean((2, 3), keepdim=True), s.std((2, 3), keepdim=True) + eps
    return (c - cm) / cs * ss + sm


def _adain_global(c, s, eps=1e-5):
    return (c - c.mean()) / (c.var(unbiased=False) + eps).sqrt() * (s.var(unbiased=False) + eps).sqrt() + s.mean()


def _adain_swapped(c, s, eps=1e-5):
    return package_adain(s, c, eps)


def _adain_no_eps(c, s, eps=1e-5):
    cm, cv = c.mean((2, 3), keepdim=True), c.var((2, 3), keepdim=True, unbiased=False)
    sm, sv = s.mean((2, 3), keepdim=True), s.var((2, 3), keepdim=True, unbiased=False)
    return (c - cm) / cv.sqrt() * sv.sqrt() + sm


def _adain_channels(c, s, eps=1e-5):
    cm, cs = c.mean(1, keepdim=True), (c.var(1, keepdim=True, unbiased=False) + eps).sqrt()
    sm, ss = s.mean(1, keepdim=True), (s.var(1, keepdim=True, unbiased=False) + eps).sqrt()
    return (c - cm) / cs * ss + sm


def _warp_flags(**kw):
    def fn(image, flow):
        n, _, h, w = flow.shape
        ys, xs = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
        sign = kw.get("sign", 1)
        px, py = xs + sign * flow[:, 0], ys + sign * flow[:, 1]
        if kw.get("swap_flow"):
            px, py = xs + flow[:, 1], ys + flow[:, 0]
        d = kw.get("d", 1)
        gx, gy = (px, py) if kw.get("pixels") else (2 * px / (w - d) - 1, 2 * py / (h - d) - 1)
        grid = torch.stack([gy, gx] if kw.get("yx") else [gx, gy], dim=-1)
        return F.grid_sample(image, grid, align_corners=kw.get("align", True), padding_mode=kw.get("pad", "border"),
                             mode=kw.get("mode", "bilinear"))
    return fn


MISTAKES = [
    ("check_gram_matrix", _gram_scaled(lambda c, h, w: 1), "off by a factor of C·H·W = 64·12·12: did you normalise?"),
    ("check_gram_matrix", _gram_scaled(lambda c, h, w: h * w), "off by a factor of C = 64: you divided by H·W only"),
    ("check_gram_matrix", _gram_scaled(lambda c, h, w: c), "you divided by C only"),
    ("check_gram_matrix", _gram_scaled(lambda c, h, w: 2 * c * h * w), "you divided by 2·C·H·W"),
    ("check_gram_matrix", _gram_positions, r"your Gram matrix is \(H·W\)×\(H·W\) = 144×144, not C×C = 64×64: "
                                           "which dimension did you flatten\\?"),
    ("check_gram_matrix", _gram_batch_flattened, "you flattened the batch into the channels"),
    ("check_gram_matrix", _gram_single, "(?s)raised RuntimeError on a batch of two.*your code assumes one picture"),
    ("check_gram_matrix", _gram_elementwise, r"element by element \(\*\), not as matrices"),
    ("check_gram_matrix", _gram_scrambled, "reshape does not move the channels last"),
    ("check_gram_matrix", lambda f: None, "returned None: did you forget `return`"),
    ("check_content_loss", lambda f, p: ((f - p) ** 2).sum(), "you summed the squared errors"),
    ("check_content_loss", lambda f, p: 0.5 * ((f - p) ** 2).sum(), "Gatys' ½·Σ"),
    ("check_content_loss", lambda f, p: torch.abs(f - p).mean(), r"absolute differences \(L1\)"),
    ("check_content_loss", lambda f, p: torch.sqrt(F.mse_loss(f, p)), "square root of the mean"),
    ("check_content_loss", lambda f, p: (f - p).mean(), "did not square the differences"),
    ("check_content_loss", lambda f, p: (f - p) ** 2, "squared error at every position"),
    ("check_style_loss", _style_pixels, "position by position, as if comparing pixels, not their Gram matrices"),
    ("check_style_loss", _style_unbalanced, "you did not balance the layers"),
    ("check_style_loss", _style_averaged, "you averaged the 3 layers' terms"),
    ("check_style_loss", _style_own_gram, "balanced with your picture's Gram matrix"),
    ("check_style_loss", _style_last_layer, "you used only layer relu3_1"),
    ("check_tv_loss", _tv_width_only, "zero on horizontal stripes.*along the height too"),
    ("check_tv_loss", _tv_height_only, "zero on vertical stripes.*along the width too"),
    ("check_tv_loss", _tv_diagonal, "your TV loss is zero on a checkerboard: did you difference neighbours along "
                                    "both axes?"),
    ("check_tv_loss", _tv_channels, "not zero on a picture of one flat colour: you differenced along the channel"),
    ("check_tv_loss", _tv_l1, r"absolute differences \(the L1 total variation\)"),
    ("check_tv_loss", _tv_sum, "you summed the squared differences"),
    ("check_tv_loss", _tv_roll, "torch.roll"),
    ("check_tv_loss", _tv_half, "you averaged the two directions"),
    ("check_adam_step", _step_no_zero_grad, "step 2: the gradients add up from step to step"),
    ("check_adam_step", _step_no_clamp, r"pixels left \[0, 1\]"),
    ("check_adam_step", _step_rebinds, r"pixels left \[0, 1\]"),
    ("check_adam_step", _step_clamp_with_grad, r"(?s)in-place operation.*with torch.no_grad\(\)"),
    ("check_adam_step", _step_clamp_with_grad, "in your line `x.clamp_"),
    ("check_adam_step", _step_returns_tensor, r"return loss.item\(\), a Python float"),
    ("check_adam_step", _step_before_backward, "x did not change"),
    ("check_adam_step", _step_loss_after, "you returned the loss after the step"),
    ("check_run", _run_in_place, "run changed `start` in place"),
    ("check_run", _run_optimizer_in_loop, "did you create the optimizer inside the loop"),
    ("check_run", _run_default_lr, "did you pass lr to the optimizer"),
    ("check_run", _run_not_detached, r"return x.detach\(\)"),
    ("check_run", _run_short, r"one loss per step \(5 numbers\), it holds 4"),
    ("check_run", _run_tensor_history, "history should hold floats"),
    ("check_run", lambda s, f, n, lr: s, r"should return a pair \(image, history\)"),
    ("check_luminance", lambda x: x.mean(dim=1, keepdim=True), "you averaged R, G and B equally"),
    ("check_luminance", lambda x: 0.299 * x[:, 2:] + 0.587 * x[:, 1:2] + 0.114 * x[:, :1], "order B, G, R"),
    ("check_luminance", lambda x: 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2], "keep the channel axis"),
    ("check_match_luminance", lambda s, c: (s - s.mean()) * s.std() / c.std() + c.mean(), "σ_style / σ_content"),
    ("check_match_luminance", lambda s, c: s / s.std() * c.std() + c.mean(), "subtract the style's mean"),
    ("check_match_luminance", lambda s, c: (s - s.mean()) / s.std() * c.std(), "add the content's mean"),
    ("check_match_luminance", lambda s, c: (c - c.mean()) / c.std() * s.std() + s.mean(),
     "you matched the content's luminance to the style's"),
    ("check_combine_luminance", lambda s, c: nst.combine_luminance(c, s), "the other way round"),
    ("check_combine_luminance", lambda s, c: s, "returned the stylised picture unchanged"),
    ("check_combine_luminance", lambda s, c: nst.rgb_to_yiq(s)[:, :1], "return an RGB picture"),
    ("check_combine_luminance", lambda s, c: nst.yiq_to_rgb(torch.cat([nst.rgb_to_yiq(s)[:, :1],
                                                                       nst.rgb_to_yiq(c)[:, 1:]], 1)),
     r"clamp the RGB picture"),
    ("check_adain", _adain_std, "divide by n − 1 by default"),
    ("check_adain", _adain_global, "one mean and std for the whole tensor"),
    ("check_adain", _adain_swapped, "you gave the painting the photo's statistics"),
    ("check_adain", _adain_no_eps, "add eps to the variance before the square root"),
    ("check_adain", _adain_channels, r"(?s)in your line .*Hint: two shapes do not fit together.*dim=\(2, 3\)"),
    ("check_warp", _warp_flags(sign=-1), "you sampled at x − flow"),
    ("check_warp", _warp_flags(yx=True), r"grid_sample reads grid\[..., 0\] as x"),
    ("check_warp", _warp_flags(swap_flow=True), "channel 0 of a flow is dx"),
    ("check_warp", _warp_flags(pixels=True), r"positions in \[−1, 1\], not in pixels"),
    ("check_warp", _warp_flags(d=0), r"2·x/\(W − 1\) − 1, not 2·x/W − 1"),
    ("check_warp", _warp_flags(align=False), "called grid_sample with align_corners=False"),
    ("check_warp", _warp_flags(pad="zeros"), "padding_mode='border'"),
    ("check_warp", _warp_flags(mode="nearest"), "bilinear interpolation"),
    ("check_warp", lambda image, flow: F.grid_sample(image, flow.permute(0, 2, 3, 1), align_corners=True,
                                                     padding_mode="border"),
     "used the flow itself as the positions"),
]


@pytest.mark.parametrize("name, wrong, message", MISTAKES, ids=[f"{m[0][6:]}-{k}" for k, m in enumerate(MISTAKES)])
def test_a_mistake_gets_the_message_that_names_it(name, wrong, message):
    with pytest.raises(grading.CheckFailed, match=message) as failed:
        getattr(checks, name)(wrong)
    assert failed.value.__cause__ is None and failed.value.__suppress_context__ or failed.value.__context__ is None


def test_an_error_in_the_students_code_is_one_line_with_their_line_not_torchs_traceback():
    def gram_wrong_product(f):
        flat = f.reshape(f.shape[0], f.shape[1], -1)
        return torch.bmm(flat, flat) / flat.numel()

    with pytest.raises(grading.CheckFailed) as failed:
        checks.check_gram_matrix(gram_wrong_product)
    text = str(failed.value)
    assert "raised RuntimeError" in text and "in your line `return torch.bmm(flat, flat)" in text
    assert "transpose the second factor" in text and "Traceback" not in text and "site-packages" not in text
    assert failed.value.__suppress_context__           # `raise … from None`: no chained torch traceback
    assert failed.value._render_traceback_() == [f"CheckFailed: {text}"]   # what Jupyter shows: the verdict alone


def test_a_result_off_by_an_unnamed_constant_says_so():
    with pytest.raises(grading.CheckFailed, match="yours is 3 × the expected value: a constant factor is wrong"):
        checks.check_content_loss(lambda f, p: 3 * F.mse_loss(f, p))


def test_the_checks_do_not_spoil_the_stored_values_when_a_student_changes_inputs_in_place():
    def gram_in_place(f):
        out = gram(f)
        f.mul_(0)
        return out

    checks.check_gram_matrix(gram_in_place)
    checks.check_gram_matrix(gram)


@pytest.mark.slow
def test_the_stored_expected_values_are_what_the_bundled_weights_give():
    fresh = grading.compute_expected(nst.load_vgg19("caffe"))
    with np.load(grading.DATA_FILE) as stored:
        assert sorted(stored.files) == sorted(fresh)
        for key in stored.files:
            assert stored[key].dtype == fresh[key].dtype and stored[key].shape == fresh[key].shape, key
            np.testing.assert_allclose(stored[key].astype(np.float64), fresh[key].astype(np.float64),
                                       rtol=1e-5, atol=1e-6, err_msg=key)
