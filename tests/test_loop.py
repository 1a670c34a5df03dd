"""The loop itself (nsthelpers.loop): notebook 05's loop line for line, the stop reasons, the stopping rule, specs and
overrides, what a run records."""
import ast
import dataclasses
import inspect
import math
from pathlib import Path

import nbformat
import pytest
import torch

from nsthelpers import RunSpec, StopOptimization, loop, optimize, step_hook
from nsthelpers.step_hook import StepHook


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


# ----------------------------------------------------------------------- the loop is notebook 05's loop
NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "05_style_transfer_loop.ipynb"

# The lines of _adam_loop that differ from notebook 05's adam_loop on purpose: package line -> notebook line
# (None: no counterpart). Every other line must be the same, in the same order.
PACKAGE_TO_NOTEBOOK = {
    # optimize prepared the pixels (StepHook.pixels: a copy of the start that requires grad); run.lr_at is the
    # notebook's cosine (checked below)
    "x, lr_at = (progress.x, progress.lr_at)": "x = start.clone().requires_grad_(True)",
    "for step in range(progress.step, progress.steps):": "for step in range(steps):",  # a resumed run starts at its step
    "    losses = objective(x)": "    loss = nst_loss(x)",                  # the Objective returns every term
    "    losses['total'].sum().backward()": "    loss.backward()",          # a batch: the items' totals add
    "    if (stop := progress.record(losses)):": "    history.append(loss.item())",  # the Progress books every term,
    "        return stop": None,                                             # and says when the run must stop
    "return 'finished'": "return (x.detach(), history)",
}
NOTEBOOK_ONLY = {"history = []"}  # the Run holds the history


def _notebook_function(name: str) -> ast.FunctionDef:
    cell = next(c for c in nbformat.read(NOTEBOOK, as_version=4).cells
                if c.cell_type == "code" and f"def {name}(" in c.source)
    return next(n for n in ast.parse(cell.source).body if isinstance(n, ast.FunctionDef) and n.name == name)


def _without_hook(statements: list[ast.stmt], step_body: list[ast.stmt]) -> list[ast.stmt]:
    """The loop as the notebook writes it: the step function inlined where the hook runs it, hook calls gone."""
    out: list[ast.stmt] = []
    for s in statements:
        if isinstance(s, ast.FunctionDef):
            continue  # the step, inlined below
        if isinstance(s, ast.Assign) and ast.unparse(s.value).startswith("hook.step("):
            out += step_body
        elif not ast.unparse(s).startswith("hook."):
            if isinstance(s, ast.For):
                s.body = _without_hook(s.body, step_body)
            out.append(s)
    return out


def _lines(statements: list[ast.stmt]) -> list[str]:
    return ast.unparse(ast.Module(body=statements, type_ignores=[])).splitlines()  # no comments, one style


def test_adam_loop_is_notebook_05s_loop_line_for_line_apart_from_the_hook():
    package = ast.parse(inspect.getsource(loop._adam_loop)).body[0]
    assert isinstance(package, ast.FunctionDef)
    body = package.body[1:]  # without the docstring
    step = next(s for s in body if isinstance(s, ast.FunctionDef))
    step_body = [s for s in step.body if not isinstance(s, ast.Return)]
    ours = _lines(_without_hook(body, step_body))
    assert not [line for line in ours if "hook" in line]
    translated = [PACKAGE_TO_NOTEBOOK.get(line, line) for line in ours]
    notebook = [line for line in _lines(_notebook_function("adam_loop").body) if line not in NOTEBOOK_ONLY]
    assert [line for line in translated if line is not None] == notebook
    # and the schedule: the notebook's cosine is run.lr_at
    namespace: dict = {"math": math, "LR": 0.05}
    exec(ast.unparse(_notebook_function("cosine")), namespace)
    progress = loop.Progress(START, 40, RunSpec(), 0.05, StepHook(torch.device("cpu")))
    assert [progress.lr_at(s) for s in range(40)] == [namespace["cosine"](s, 40) for s in range(40)]


def _code_of(path: Path) -> str:
    """A module's code without docstrings, comments, imports or ``__all__``."""
    tree = ast.parse(path.read_text())
    tree.body = [s for s in tree.body if not isinstance(s, (ast.Import, ast.ImportFrom))
                 and not (isinstance(s, ast.Assign) and ast.unparse(s.targets[0]) == "__all__")]
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree)


def test_loop_py_holds_no_cuda_graph_precision_or_checkpoint_code():
    code = _code_of(Path(loop.__file__))
    for word in ("graph", "CUDAGraph", "capture", "replay", "stream", "autocast", "channels_last", "cudnn",
                 "Checkpoint", "checkpoint", "capturable"):
        assert word not in code, word
    assert "graph" in _code_of(Path(step_hook.__file__))  # (the check can fail: the hook's module has them)


def test_the_loops_return_why_they_stopped():
    def ending(optimizer, objective=None, steps=30, **options):
        objective = objective or Quadratic()
        spec = RunSpec(optimizer=optimizer, **options)
        hook = StepHook(torch.device("cpu"))
        progress = loop.Progress(hook.pixels(START, objective), steps, spec, loop.DEFAULT_LR[optimizer], hook)
        chosen = loop._adam_loop if optimizer == "adam" else loop._lbfgs_loop
        return chosen(progress, hook.forward(objective), hook), progress.step

    assert ending("adam") == ("finished", 30)
    assert ending("lbfgs", steps=3) == ("finished", 3)  # L-BFGS's budget ends inside its line search
    assert ending("adam", callback=lambda info: info.step == 20) == ("callback", 20)
    assert ending("lbfgs", callback=lambda info: True, callback_every=2) == ("callback", 2)
    assert ending("adam", Quadratic(offset=100.0, scale=1e-3), 200, stop_below=1e-3) == ("converged", 20)
    assert ending("adam", Quadratic(offset=math.nan), callback_every=5) == ("non-finite loss", 5)
    assert ending("lbfgs", Quadratic(offset=math.inf), callback_every=1) == ("non-finite loss", 1)


def test_stop_optimization_means_the_caller_asked_to_stop():
    class StopsAtTheFourthEvaluation(Quadratic):
        calls = 0

        def __call__(self, x):
            self.calls += 1
            if self.calls == 4:
                raise StopOptimization
            return super().__call__(x)

    for optimizer in ("adam", "lbfgs"):
        r = optimize(StopsAtTheFourthEvaluation(), START, steps=10, optimizer=optimizer)
        assert r.stopped == "callback" and r.steps_done == 3 and len(r.history["total"]) == 3 and r.message == ""


def test_an_adam_run_stopped_by_its_callback_returns_the_picture_the_callback_saw():
    seen = []
    r = optimize(Quadratic(), START, steps=20, optimizer="adam", callback_every=3,
                 callback=lambda info: seen.append(info.image.clone()) or info.step == 9)
    assert r.stopped == "callback" and r.steps_done == 9 and len(seen) == 3
    assert torch.equal(r.image, seen[-1])  # the picture after step 9's update, like notebook 05's loop


def test_each_run_option_is_checked_once_by_the_spec():
    for bad in (dict(lr=-1.0), dict(cuda_graphs="yes"), dict(precision="fp8"), dict(optimizer="sgd")):
        with pytest.raises(ValueError) as from_optimize:
            optimize(Quadratic(), START, steps=3, **bad)
        with pytest.raises(ValueError) as from_spec:
            RunSpec(**bad)
        assert str(from_optimize.value) == str(from_spec.value)
    code = _code_of(Path(loop.__file__)) + _code_of(Path(step_hook.__file__))
    assert "raise ValueError" not in _code_of(Path(loop.__file__))
    assert "choose 'auto', True or False" not in code and "must be a positive" not in code
