"""Your own photo, first try: the default size, the plan checked before any work, the time estimate, and the
picture kept when a finer scale fails (issue 26). Large photos are simulated by lowering the memory the check
believes is free, and the profile's default size."""
from __future__ import annotations

import pytest
import torch
from PIL import Image

import nsthelpers.memory as memory_mod
import nsthelpers.plan as plan_mod
import nsthelpers.stages as stages_mod
import nsthelpers.transfer as transfer_mod
from nsthelpers import OutOfMemory, estimate_bytes, stylize
from nsthelpers.cli import main as nst_main
from nsthelpers.plan import describe_plan, estimate_seconds, format_seconds, seconds_per_evaluation
from nsthelpers.settings import DEFAULT_SIZES, default_size, resolve_size
from nsthelpers.specs import PictureSpec
from nsthelpers.stages import Stage, scale_plan

LAYERS = dict(content_layers=["relu2_1"], style_layers=["relu1_1", "relu2_1"])


@pytest.fixture
def photo():
    return torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(3))


@pytest.fixture
def style():
    return torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(4))


@pytest.fixture
def small_default(monkeypatch):
    """The quick profile's default size lowered to 32 px, so a 64-px photo stands for a phone photo."""
    monkeypatch.setitem(DEFAULT_SIZES["stylize"], "quick", 32)
    return 32


# ------------------------------------------------------------------------------------------ the default size
@pytest.mark.parametrize("profile,expected", [("cpu", 512), ("gpu", 1024), ("quick", DEFAULT_SIZES["stylize"]["quick"])])
def test_default_size_comes_from_the_profile_and_never_exceeds_the_photo(profile, expected, monkeypatch):
    monkeypatch.setenv("NSTHELPERS_PROFILE", profile)
    assert default_size(4032) == expected == DEFAULT_SIZES["stylize"][profile]
    assert default_size(300) == min(300, expected)
    assert scale_plan(PictureSpec(), 4032)[-1][0] == expected           # a phone photo: the profile's size
    assert scale_plan(PictureSpec(size="full"), 4032)[-1][0] == 4032    # the full size, one option away
    assert scale_plan(PictureSpec(size=700), 4032)[-1][0] == 700
    assert resolve_size(None, 200, kind="video") == min(200, DEFAULT_SIZES["video"][profile])


def test_a_phone_photos_default_plan_on_a_cpu_is_the_profiles_not_the_photos(monkeypatch):
    monkeypatch.setenv("NSTHELPERS_PROFILE", "cpu")
    assert scale_plan(PictureSpec(), 4032) == [(256, 40), (512, 20)]  # not 252 → 504 → … → 4032


def test_stylize_without_size_uses_the_default_and_full_keeps_the_photo(photo, style, random_vgg, small_default):
    r = stylize(photo, style, steps=2, weights=random_vgg, **LAYERS)
    assert tuple(r.image.shape[-2:]) == (24, 32) and r.settings["size"] == (24, 32)
    full = stylize(photo, style, steps=2, scales=None, size="full", weights=random_vgg, **LAYERS)
    assert tuple(full.image.shape[-2:]) == (48, 64)


@pytest.mark.parametrize("size", ["big", "Full ", 0, -5, 2.5])
def test_a_bad_size_is_refused_naming_the_choices(size, photo, style, random_vgg):
    with pytest.raises(ValueError, match="size"):
        stylize(photo, style, steps=1, size=size, weights=random_vgg, **LAYERS)


def test_size_and_scales_that_disagree_are_refused(photo, style, random_vgg):
    with pytest.raises(ValueError, match=r"coarse to fine.*use \[32, 64\]"):
        stylize(photo, style, steps=1, size=64, scales=[64, 32], weights=random_vgg, **LAYERS)
    with pytest.raises(ValueError, match="ends at 48.*drop size, or end the scales at 64"):
        stylize(photo, style, steps=1, size=64, scales=[32, 48], weights=random_vgg, **LAYERS)
    with pytest.raises(ValueError, match="is 64 px here but scales=.*ends at 48"):
        stylize(photo, style, steps=1, size="full", scales=[32, 48], weights=random_vgg, **LAYERS)
    agreed = stylize(photo, style, steps=1, size=64, scales=[32, 64], weights=random_vgg, **LAYERS)
    assert tuple(agreed.image.shape[-2:]) == (48, 64)


def _write(path, tensor):
    Image.fromarray((tensor[0].permute(1, 2, 0).numpy() * 255).astype("uint8")).save(path)
    return str(path)


def test_cli_size_full_default_and_disagreeing_scales(tmp_path, photo, style, capsys, small_default):
    content, paint = _write(tmp_path / "photo.png", photo), _write(tmp_path / "style.png", style)
    base = [content, paint, "--steps", "1", "--weights", "random", "--quiet", "--content-layers", "relu2_1",
            "--style-layers", "relu1_1,relu2_1", "-o"]
    assert nst_main(["stylize", *base, str(tmp_path / "a.png")]) == 0
    assert Image.open(tmp_path / "a.png").size == (32, 24)  # the profile's default, not the photo's 64
    assert nst_main(["stylize", *base, str(tmp_path / "b.png"), "--size", "full", "--scales", "none"]) == 0
    assert Image.open(tmp_path / "b.png").size == (64, 48)
    capsys.readouterr()
    assert nst_main(["stylize", *base, str(tmp_path / "c.png"), "--size", "64", "--scales", "64,32"]) == 2
    assert "coarse to fine" in capsys.readouterr().err and not (tmp_path / "c.png").exists()
    with pytest.raises(SystemExit):
        nst_main(["stylize", *base, str(tmp_path / "d.png"), "--size", "huge"])
    assert "give a number of pixels or 'full'" in capsys.readouterr().err


# ------------------------------------------------------------------------------ the plan checked before work
def _no_work(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("an optimisation started before the plan's memory check")

    monkeypatch.setattr(stages_mod, "optimize", forbidden)


def test_the_largest_scale_is_checked_before_any_work(photo, style, random_vgg, monkeypatch):
    # the coarse scales fit, the last one does not: the error comes before the first step
    budget = estimate_bytes((48, 64), ["relu5_1"]) * 1.5
    monkeypatch.setattr(memory_mod, "available_bytes", lambda device: budget)
    _no_work(monkeypatch)
    big = torch.rand(1, 3, 300, 400)
    with pytest.raises(OutOfMemory) as info:
        stylize(big, style, steps=1, size=400, scales=[50, 100, 200, 400], weights=random_vgg)
    fit = info.value.suggested_size
    assert "a 300×400 image needs" in str(info.value) and f"Use size={fit}" in str(info.value) and fit < 400


def test_the_advice_also_names_the_default_when_the_size_that_fits_is_slow(style, random_vgg, monkeypatch,
                                                                            small_default):
    budget = estimate_bytes((150, 200), ["relu5_1"])
    monkeypatch.setattr(memory_mod, "available_bytes", lambda device: budget)
    _no_work(monkeypatch)
    with pytest.raises(OutOfMemory) as info:
        stylize(torch.rand(1, 3, 300, 400), style, steps=1, size="full", weights=random_vgg)
    text, fit = str(info.value), info.value.suggested_size
    ratio = (fit * round(fit * 0.75)) / (32 * 24)
    assert fit > 32 and f"size={fit} is the largest that fits" in text
    assert f"about {ratio:.0f}× one at size=32, the default on cpu" in text


def test_auto_downsize_shrinks_the_plan_before_work(style, random_vgg, monkeypatch):
    budget = estimate_bytes((64, 64), ["relu5_1"])
    monkeypatch.setattr(memory_mod, "available_bytes", lambda device: budget)
    r = stylize(torch.rand(1, 3, 150, 200), style, steps=1, size=200, scales=[100, 200], weights=random_vgg,
                auto_downsize=True)
    fit = max(r.image.shape[-2:])
    assert fit < 200 and r.settings["scales"][-1] == fit and r.settings["scales"][0] < fit


def test_cli_gives_the_memory_advice_at_once_and_writes_nothing(tmp_path, photo, style, capsys, monkeypatch):
    content, paint = _write(tmp_path / "photo.png", photo), _write(tmp_path / "style.png", style)
    monkeypatch.setattr(memory_mod, "available_bytes", lambda device: estimate_bytes((24, 32), ["relu5_1"]))
    _no_work(monkeypatch)
    out = tmp_path / "out.png"
    assert nst_main(["stylize", content, paint, "--size", "9000", "--weights", "random", "--quiet", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "a 6750×9000 image needs about" in err and "Use size=" in err and not out.exists()


# ------------------------------------------------------------------------------------------- the estimate
def test_seconds_per_evaluation_reads_the_clock_after_a_warm_up():
    calls, ticks = [], iter([10.0, 16.0])
    assert seconds_per_evaluation(lambda: calls.append(1), clock=lambda: next(ticks), warmup=1, repeats=2) == 3.0
    assert len(calls) == 3  # one warm-up, two timed


def test_estimate_arithmetic_scales_with_pixels_and_counts_targets_and_scoring():
    stages = [Stage(32, 10, 1.0), Stage(32, 20, 0.25), Stage(64, 5, 0.25)]
    # 2 s per evaluation at 24×32; 64 px is 48×64, 4× the pixels: 8 s per evaluation
    expected = 2 * (10 + 1 / 3 + 2 / 3) + 2 * (20 + 1 / 3) + 8 * (5 + 1 / 3 + 2 / 3)
    assert estimate_seconds(stages, (480, 640), 2.0) == pytest.approx(expected)


@pytest.mark.parametrize("seconds,text", [(7.4, "about 7 s"), (41, "about 40 s"), (89, "about 90 s"),
                                          (370, "about 6 min"), (4 * 3600, "about 4.0 h")])
def test_durations_read_as_people_say_them(seconds, text):
    assert format_seconds(seconds) == text


def test_describe_plan_lists_scales_steps_estimate_and_the_smaller_size():
    stages = [Stage(256, 12, 1.0), Stage(256, 28, 0.25), Stage(512, 20, 0.25)]
    line = describe_plan(stages, 370, torch.device("cpu"), alternative=(256, 41))
    assert line == "plan: 256 px × 40 steps → 512 px × 20 steps; about 6 min on this CPU; size 256 takes about 40 s"


def test_a_long_run_prints_its_plan_and_estimate_from_a_fake_clock(photo, style, random_vgg, monkeypatch, capsys,
                                                                   small_default):
    clock = iter([0.0, 2.0])  # one timed evaluation at the first scale: 2 s
    monkeypatch.setattr(plan_mod, "now", lambda: next(clock))
    r = stylize(photo, style, steps=[10, 5], scales=[32, 64], size=64, relax_to=1, progress=True,
                weights=random_vgg, **LAYERS)
    expected = 2 * (10 + 1) + 8 * (5 + 1)  # 24×32, then 48×64 (4× the pixels)
    small = 2 * (10 + 1)                    # the default, 32 px: one scale of 10 steps (steps as given)
    out = capsys.readouterr().out
    assert (f"plan: 32 px × 10 steps → 64 px × 5 steps; {format_seconds(expected)} on this CPU; "
            f"size 32 takes {format_seconds(small)}") in out
    assert r.steps_done == 15


def test_a_short_run_prints_no_estimate(photo, style, random_vgg, monkeypatch, capsys):
    clock = iter([0.0, 0.01])
    monkeypatch.setattr(plan_mod, "now", lambda: next(clock))
    stylize(photo, style, steps=2, scales=[32, 64], progress=True, weights=random_vgg, **LAYERS)
    assert "plan:" not in capsys.readouterr().out


# -------------------------------------------------------------------------------------- nothing thrown away
def _scale_fails(monkeypatch, side: int, exc: BaseException):
    """``stylize``'s step at ``side`` raises ``exc`` (the earlier scales run as usual)."""
    real = stages_mod.optimize

    def optimize(objective, init, spec, *, steps):
        if max(init.shape[-2:]) == side:
            raise exc
        return real(objective, init, spec, steps=steps)

    monkeypatch.setattr(stages_mod, "optimize", optimize)


def test_out_of_memory_at_a_finer_scale_keeps_the_last_finished_scale(photo, style, random_vgg, monkeypatch):
    _scale_fails(monkeypatch, 64, torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    r = stylize(photo, style, steps=[4, 2], scales=[32, 64], weights=random_vgg, **LAYERS)
    assert r.stopped == "out of memory" and r.steps_done == 4
    assert tuple(r.image.shape[-2:]) == (48, 64) and torch.isfinite(r.image).all()  # the size asked for
    assert "out of memory at the 64-px scale" in r.message and "upsampled from 24×32 to 48×64" in r.message
    assert "\n" not in r.message


def test_memory_gone_before_a_finer_scale_keeps_the_picture(photo, style, random_vgg, monkeypatch):
    budgets = iter([2**40, 2**40, 1])  # the plan's check, the 32-px scale's, then the 64-px scale's
    monkeypatch.setattr(memory_mod, "available_bytes", lambda device: next(budgets))
    r = stylize(photo, style, steps=[3, 2], scales=[32, 64], relax_to=1, weights=random_vgg, **LAYERS)
    assert r.stopped == "out of memory" and "needs about" in r.message and tuple(r.image.shape[-2:]) == (48, 64)


def test_ctrl_c_between_scales_keeps_the_picture(photo, style, random_vgg, monkeypatch):
    real = transfer_mod.Objective

    def objective(model, content, styles, spec):
        if max(content.shape[-2:]) == 64:
            raise KeyboardInterrupt
        return real(model, content, styles, spec)

    monkeypatch.setattr(transfer_mod, "Objective", objective)
    r = stylize(photo, style, steps=[3, 2], scales=[32, 64], weights=random_vgg, **LAYERS)
    assert r.stopped == "interrupted" and "before the 64-px scale" in r.message
    assert tuple(r.image.shape[-2:]) == (48, 64)


def test_a_nan_at_a_finer_scale_keeps_a_finite_picture_at_the_size_asked_for(photo, style, random_vgg, monkeypatch):
    real = stages_mod.optimize

    def optimize(objective, init, spec, *, steps):
        if max(init.shape[-2:]) == 64:
            original = objective.forward

            def broken(x):
                terms = original(x)
                return {**terms, "total": terms["total"] * float("nan")}

            objective.forward = broken
        return real(objective, init, spec, steps=steps)

    monkeypatch.setattr(stages_mod, "optimize", optimize)
    r = stylize(photo, style, steps=[3, 2], scales=[32, 64], relax_to=1, weights=random_vgg, **LAYERS)
    assert r.stopped == "non-finite loss" and tuple(r.image.shape[-2:]) == (48, 64)
    assert torch.isfinite(r.image).all() and r.image.std() > 0.05  # the coarse picture, upsampled: not black


def test_cli_writes_the_kept_picture_and_says_so_in_one_line(tmp_path, photo, style, capsys, monkeypatch):
    content, paint = _write(tmp_path / "photo.png", photo), _write(tmp_path / "style.png", style)
    _scale_fails(monkeypatch, 64, torch.OutOfMemoryError("CUDA out of memory"))
    out = tmp_path / "out.png"
    code = nst_main(["stylize", content, paint, "--scales", "32,64", "--steps", "3,2", "--weights", "random",
                     "--quiet", "--content-layers", "relu2_1", "--style-layers", "relu1_1,relu2_1", "-o", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    # not the finished picture, so it is kept beside the output as NAME.partial.png (a re-run paints it again)
    kept = tmp_path / "out.partial.png"
    assert code == 1 and not out.exists() and Image.open(kept).size == (64, 48)
    assert len(err) == 1 and "stopped early (out of memory)" in err[0] and "upsampled from 24×32" in err[0]
    assert str(kept) in err[0]


# ------------------------------------------------------------------------------------ the lab and nst video
def test_the_lab_defaults_to_the_profiles_size_never_larger_than_the_photo(random_vgg, photo, style, monkeypatch):
    from nsthelpers.widgets.lab import StyleLab

    lab = StyleLab(random_vgg, photo, {"s": style}, content_layers=["relu2_1"], style_layers=["relu1_1"],
                   device="cpu")
    assert lab.default_size == min(64, DEFAULT_SIZES["lab"]["quick"]) and lab.default_params()["size"] == lab.default_size
    monkeypatch.setitem(DEFAULT_SIZES["lab"], "quick", 32)
    assert tuple(lab.run(style="s", steps=1).image.shape[-2:]) == (24, 32)
    full = lab.run(style="s", steps=1, size="full")
    assert tuple(full.image.shape[-2:]) == (48, 64) and full.settings["params"]["size"] == 64


def test_nst_video_defaults_to_the_profiles_size_never_larger_than_the_clip(tmp_path, monkeypatch):
    import nsthelpers as nst
    from nsthelpers import video
    from nsthelpers.video import synthclip

    clip = synthclip.synthetic_clip(nst.data.content_photo("coffee", max_size=96),
                                    nst.data.generated_texture("dots", 32), frames=2, size=(48, 64))
    source = video.write_video(tmp_path / "clip.mp4", clip.frames, fps=10)
    common = ["video", str(source), "swirls", "--steps", "1", "--weights", "random", "--device", "cpu", "--quiet",
              "--method", "frame"]
    assert nst_main([*common, "-o", str(tmp_path / "a.mp4")]) == 0   # the quick profile's 256 px: the clip's 64
    assert video.read_frames(tmp_path / "a.mp4")[0][0].shape[-2:] == (48, 64)
    monkeypatch.setitem(DEFAULT_SIZES["video"], "quick", 32)
    assert nst_main([*common, "-o", str(tmp_path / "b.mp4")]) == 0
    assert video.read_frames(tmp_path / "b.mp4")[0][0].shape[-2:] == (24, 32)
    assert nst_main([*common, "-o", str(tmp_path / "c.mp4"), "--size", "full"]) == 0
    assert video.read_frames(tmp_path / "c.mp4")[0][0].shape[-2:] == (48, 64)
