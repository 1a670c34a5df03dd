"""The loop itself (nsthelpers.loop): the stopping rule, specs and overrides, what a run records."""
import dataclasses

import pytest
import torch

from nsthelpers import RunSpec, optimize


class Quadratic:
    """A stand-in objective: total = offset + scale · mean((x − 0.3)²); its minimum is a flat 0.3 picture."""

    def __init__(self, offset=0.0, scale=1.0):
        self.offset, self.scale, self.model = offset, scale, None

    def __call__(self, x):
        d = self.scale * (x - 0.3).pow(2).mean()
        zero = d * 0
        return {"total": self.offset + d, "content": d, "style": zero, "tv": zero}


START = torch.full((1, 3, 8, 8), 0.9)


def test_the_stopping_rule_ends_a_run_whose_loss_stopped_falling():
    # a large constant under a tiny improving term: the relative improvement is far below 1e-3 per 10 steps
    r = optimize(Quadratic(offset=100.0, scale=1e-3), START, steps=200, optimizer="adam", stop_below=1e-3,
                 callback_every=10)
    assert r.stopped == "converged" and r.steps_done == 20 and "fell by less than" in r.message
    assert len(r.history["total"]) == 20


def test_a_falling_loss_runs_every_step_and_the_rule_is_off_by_default():
    falling = optimize(Quadratic(), START, steps=60, optimizer="adam", lr=0.005, lr_decay=False, stop_below=1e-3,
                       callback_every=10)  # 0.9 → 0.6 in 60 steps: the loss falls by a fifth every 10
    assert falling.stopped == "finished" and falling.steps_done == 60
    flat = optimize(Quadratic(offset=100.0, scale=1e-3), START, steps=60, optimizer="adam", callback_every=10)
    assert flat.stopped == "finished" and flat.steps_done == 60 and RunSpec().stop_below == 0


def test_the_rule_compares_the_best_of_each_window_so_line_search_trials_do_not_stop_it():
    r = optimize(Quadratic(), START, steps=30, optimizer="lbfgs", stop_below=1e-3, callback_every=5)
    assert r.stopped in ("finished", "converged")
    best_before = min(r.history["total"][:-5])
    assert r.stopped == "finished" or best_before - min(r.history["total"][-5:]) < 1e-3 * best_before


def test_a_spec_and_keywords_combine_and_bad_values_are_refused():
    spec = RunSpec(optimizer="adam", lr=0.1, lr_decay=False)
    a = optimize(Quadratic(), START, spec, steps=5)
    b = optimize(Quadratic(), START, dataclasses.replace(spec, lr=0.01), steps=5)
    c = optimize(Quadratic(), START, spec, steps=5, lr=0.01)  # keywords override the spec's fields
    assert a.history != b.history and b.history == c.history
    # constant lr 0.1 on a 0.9 start: Adam's first steps move every pixel by lr (sign of the gradient)
    assert float(a.image.mean()) == pytest.approx(0.9 - 5 * 0.1, abs=0.02)
    for bad, match in [(dict(stop_below=2.0), "stop_below"), (dict(callback_every=0), "callback_every"),
                       (dict(optimizer="sgd"), "optimizer"), (dict(lr=-1.0), "lr")]:
        with pytest.raises(ValueError, match=match):
            optimize(Quadratic(), START, steps=3, **bad)
    with pytest.raises(TypeError):
        optimize(Quadratic(), START, steps=3, learning_rate=0.1)


def test_the_returned_picture_is_scored_after_clipping():
    # L-BFGS with a long first step overshoots below 0 on some pixels; the result is clipped and re-scored
    r = optimize(Quadratic(), torch.full((1, 3, 4, 4), 1.0), steps=3, optimizer="lbfgs", lr=1.0)
    assert 0 <= float(r.image.min()) and float(r.image.max()) <= 1
    assert r.final_losses["total"] == pytest.approx(float((r.image - 0.3).pow(2).mean()), rel=1e-6)


def test_the_box_penalty_is_the_mean_squared_distance_outside_the_box():
    from nsthelpers.loop import box_penalty

    x = torch.tensor([-0.5, 0.2, 1.5, 1.0])  # distances to [0, 1]: 0.5, 0, 0.5, 0
    assert box_penalty(x).item() == pytest.approx((0.25 + 0.25) / 4)
    assert box_penalty(torch.rand(2, 3, 5, 5)).item() == 0.0


class PullsOutOfTheBox(Quadratic):
    """total = 1 + mean((x − 1.5)²): the unconstrained minimum lies outside [0, 1]."""

    def __call__(self, x):
        d = (x - 1.5).pow(2).mean()
        zero = d * 0
        return {"total": 1 + d, "content": d, "style": zero, "tv": zero}


@pytest.mark.parametrize("box_weight, gap", [(0.0, (1.2, 1.3)), (None, (0.99, 1.01))])
def test_lbfgs_stays_in_the_box_so_the_returned_picture_scores_what_was_logged(monkeypatch, box_weight, gap):
    # Without the penalty L-BFGS walks to 1.5 (logged total 1), and clipping the result to 1 costs 0.25.
    # With it (weight 50 × the first total, 1.36) the iterate stops at ≈ 1.007: logged ≈ returned ≈ 1.25.
    import nsthelpers.loop as loop

    if box_weight is not None:
        monkeypatch.setattr(loop, "BOX_WEIGHT", box_weight)
    r = optimize(PullsOutOfTheBox(), START, steps=20, optimizer="lbfgs")
    ratio = r.final_losses["total"] / r.history["total"][-1]  # the point L-BFGS settled on
    assert gap[0] < ratio < gap[1]
    assert r.final_losses["total"] == pytest.approx(1.25, rel=1e-4)


def test_lbfgs_returns_the_best_point_it_evaluated_wherever_the_budget_ends():
    # a budget ends inside a line search, or just after a trial step; L-BFGS's answer is its best point
    seen = []
    # (lr, steps): long first steps make the last trial far worse than the best (e.g. 277 against 0.12)
    for lr, steps in [(1.0, 2), (1.0, 3), (1.0, 5), (1.0, 7), (5.0, 4), (5.0, 6), (50.0, 3), (50.0, 5)]:
        r = optimize(Quadratic(), START, steps=steps, optimizer="lbfgs", lr=lr,
                     callback=lambda info: seen.append(info.image.clone()), callback_every=1)
        totals = r.history["total"]
        best = min(range(len(totals)), key=totals.__getitem__)
        assert r.steps_done == steps and len(seen) == len(totals) == steps
        assert torch.equal(r.image, seen[best].clamp(0, 1).cpu())
        assert r.final_losses["total"] == pytest.approx(min(totals), rel=1e-6)
        assert lr == 1.0 or totals[-1] > 10 * min(totals)  # the cases where the last point is not the best
        seen.clear()
