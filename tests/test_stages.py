"""A run's stages (nsthelpers.stages): paint, then relax, one plan object, one function that runs it, and the style
weight each stage runs at."""
import pytest
import torch

from nsthelpers import Objective, PictureSpec, optimize, stylize
from nsthelpers.stages import DEFAULT_RELAX_TO, Stage, stage_plan

LAYERS = dict(content_layers=["relu2_1"], style_layers=["relu1_1", "relu2_1"])


@pytest.fixture
def pair():
    g = torch.Generator().manual_seed(5)
    return torch.rand(1, 3, 32, 32, generator=g), torch.rand(1, 3, 32, 32, generator=g)


def test_the_first_scale_paints_then_the_rest_of_the_run_is_relaxed():
    picture = PictureSpec()  # paint_fraction 0.3, relax_to: the optimiser's default
    assert DEFAULT_RELAX_TO == {"lbfgs": 0.25, "adam": 1.0}
    assert stage_plan([(288, 40)], picture, "lbfgs") == [Stage(288, 12, 1.0), Stage(288, 28, 0.25)]
    assert stage_plan([(256, 40), (512, 20)], picture, "lbfgs") == [
        Stage(256, 12, 1.0), Stage(256, 28, 0.25), Stage(512, 20, 0.25)]
    assert stage_plan([(256, 40), (512, 20)], picture, "adam") == [Stage(256, 40, 1.0), Stage(512, 20, 1.0)]
    assert stage_plan([(64, 10)], PictureSpec(relax_to=1.0), "lbfgs") == [Stage(64, 10, 1.0)]
    assert stage_plan([(64, 10)], PictureSpec(relax_to=0.5, paint_fraction=0.5), "adam") == [
        Stage(64, 5, 1.0), Stage(64, 5, 0.5)]
    # too few steps to split: the first scale paints, finer ones are still relaxed
    assert stage_plan([(32, 1), (64, 1)], picture, "lbfgs") == [Stage(32, 1, 1.0), Stage(64, 1, 0.25)]


@pytest.mark.parametrize("bad", [dict(relax_to=0.0), dict(relax_to=1.5), dict(relax_to=float("nan")),
                                 dict(paint_fraction=0.0), dict(paint_fraction=1.0)])
def test_bad_relax_settings_are_refused_naming_the_option(pair, random_vgg, bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        stylize(*pair, steps=4, weights=random_vgg, **bad, **LAYERS)


def test_each_stage_runs_at_its_style_weight(pair, random_vgg):
    """The recorded totals are content + factor × style_weight × style + tv_weight × tv: full weight while
    painting (steps 1-3 of 10), a quarter of it afterwards."""
    content, style = pair
    r = stylize(content, style, steps=10, weights=random_vgg, style_weight=1e6, tv_weight=10.0, **LAYERS)
    h = r.history
    assert r.settings["stages"] == [(32, 3, 1.0), (32, 7, 0.25)] and r.steps_done == len(h["total"]) == 10
    for i in range(10):
        factor = 1.0 if i < 3 else 0.25
        expected = h["content"][i] + factor * 1e6 * h["style"][i] + 10.0 * h["tv"][i]
        assert h["total"][i] == pytest.approx(expected, rel=1e-5), i


def test_relaxing_is_two_runs_the_second_from_the_first_ones_picture(pair, random_vgg):
    """stylize's default equals, step for step, optimize at the full weight then at a quarter of it."""
    content, style = pair
    ours = stylize(content, style, steps=10, weights=random_vgg, style_weight=1e6, **LAYERS)
    objective = Objective(random_vgg, content, [style], style_weight=1e6, **LAYERS)
    painted = optimize(objective, content, steps=3, optimizer="lbfgs")
    objective.style_weight = 0.25e6
    relaxed = optimize(objective, painted.image, steps=7, optimizer="lbfgs")
    assert ours.history["total"] == pytest.approx(painted.history["total"] + relaxed.history["total"], rel=1e-5)
    assert torch.allclose(ours.image, relaxed.image, atol=1e-6)


def test_the_stages_at_one_size_share_one_objective(pair, random_vgg, monkeypatch):
    """Targets are computed once per size: two stages at 32 px and one at 64 px build two objectives."""
    import nsthelpers.transfer as transfer

    built = []

    class Counting(Objective):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(tuple(self.content_targets[self.content_layers[0]].shape[-2:]))

    monkeypatch.setattr(transfer, "Objective", Counting)
    content, style = pair
    big = torch.nn.functional.interpolate(content, size=(64, 64), mode="bilinear", align_corners=False)
    r = stylize(big, style, scales=[32, 64], steps=[10, 4], weights=random_vgg, style_weight=1e6, **LAYERS)
    assert r.settings["stages"] == [(32, 3, 1.0), (32, 7, 0.25), (64, 4, 0.25)]
    assert len(built) == 2 and built[0] != built[1]


def test_relaxing_keeps_more_of_the_photo_than_one_weight(pair, random_vgg):
    content, style = pair
    one = stylize(content, style, steps=12, weights=random_vgg, style_weight=1e7, relax_to=1.0, **LAYERS)
    relaxed = stylize(content, style, steps=12, weights=random_vgg, style_weight=1e7, **LAYERS)
    assert relaxed.final_losses["content"] < one.final_losses["content"]


def test_callbacks_and_the_bar_count_across_stages(pair, random_vgg):
    seen = []
    stylize(*pair, steps=20, weights=random_vgg, callback=lambda info: seen.append((info.step, info.steps)),
            callback_every=5, **LAYERS)
    # the painting stage ends at step 6; otherwise every 5 steps of the whole run
    assert seen == [(5, 20), (6, 20), (10, 20), (15, 20), (20, 20)]


def test_the_command_line_passes_the_relax_options_on(tmp_path, monkeypatch):
    import numpy as np
    from PIL import Image

    import nsthelpers.cli.commands as cli

    seen = {}

    def fake_stylize(content, style, **kwargs):
        seen.update(kwargs)
        raise ValueError("stop here")

    monkeypatch.setattr(cli, "stylize", fake_stylize)
    for name in ("c.png", "s.png"):
        Image.fromarray(np.zeros((40, 40, 3), dtype=np.uint8)).save(tmp_path / name)
    args = ["stylize", str(tmp_path / "c.png"), str(tmp_path / "s.png"), "-o", str(tmp_path / "o.png")]
    cli.main(args + ["--relax-to", "1", "--paint-fraction", "0.5"])
    assert seen["relax_to"] == 1.0 and seen["paint_fraction"] == 0.5
    seen.clear()
    cli.main(args)
    assert "relax_to" not in seen and "paint_fraction" not in seen  # the defaults are stylize's own


# ------------------------------------------------------------------------------ one plan, one function that runs it
def test_a_plan_is_one_object_of_sizes_and_stages():
    from nsthelpers.stages import StagePlan, scale_plan

    picture = PictureSpec(size=512, steps=40)
    plan = StagePlan.of(picture, 1000, "lbfgs")
    assert plan.scales == tuple(scale_plan(picture, 1000)) == ((256, 40), (512, 20))
    assert list(plan) == stage_plan(list(plan.scales), picture, "lbfgs") == [
        Stage(256, 12, 1.0), Stage(256, 28, 0.25), Stage(512, 20, 0.25)]
    assert len(plan) == 3 and plan[0] == Stage(256, 12, 1.0) and plan.final_side == 512


def test_no_caller_runs_stages_itself():
    """stylize, the lab and stylize_batch share nsthelpers.stages.run_stages: none defines a one_scale."""
    import re
    from pathlib import Path

    import nsthelpers

    sources = {p.name: p.read_text() for p in Path(nsthelpers.__file__).parent.rglob("*.py")}
    assert not [name for name, text in sources.items() if re.search(r"def _?one_scale\b", text)]
    for name in ("transfer.py", "lab.py", "batch.py"):
        assert "run_stages(" in sources[name] and "optimize(" not in sources[name], name


def test_stage_span_is_not_an_option_of_stylize(pair, random_vgg):
    import argparse
    import inspect

    from nsthelpers.cli.commands import build_parser

    with pytest.raises(TypeError, match="unknown option 'stage_span'"):
        stylize(*pair, steps=2, weights=random_vgg, stage_span=(0, 2), **LAYERS)
    assert "stage_span" not in inspect.signature(stylize).parameters and "stage_span" not in (stylize.__doc__ or "")
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert "stage_span" not in {a.dest for a in commands["stylize"]._actions}
    assert "steps" in {a.dest for a in commands["stylize"]._actions}


def test_options_are_checked_in_the_specs_before_any_work():
    from pathlib import Path

    import nsthelpers.transfer as transfer
    from nsthelpers import RunSpec

    with pytest.raises(ValueError, match="cuda_graphs=True needs optimizer='adam'"):
        RunSpec(cuda_graphs=True)  # L-BFGS
    with pytest.raises(ValueError, match="cuda_graphs=True needs optimizer='adam' on a CUDA device .* on cpu"):
        RunSpec(optimizer="adam", cuda_graphs=True).check_device(torch.device("cpu"))
    with pytest.raises(ValueError, match="lr"):
        RunSpec(lr=-1.0)
    assert "resolve_" not in Path(transfer.__file__).read_text()  # stylize checks nothing twice
