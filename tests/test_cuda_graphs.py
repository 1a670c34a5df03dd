"""The CUDA-graph path of Adam, exercised on the CPU with stand-in "graphs".

A real CUDA graph records a step function once and replays its kernels on the same memory. The
stand-ins below do the same thing in Python (``capture`` runs nothing; each replay writes the step's
output into one fixed tensor), so everything around the capture is tested without a GPU: the warm-up
steps, the check of the first replay, the tensor learning rate and its schedule, restoring the image
and Adam's state when a capture fails or disagrees, callbacks and stopping.
"""
import contextlib

import pytest
import torch

from nsthelpers import Objective, optimize, stylize
import nsthelpers.step_hook as step_hook
from nsthelpers import RunSpec
from nsthelpers.step_hook import GRAPH_WARMUP_STEPS, resolve_cuda_graphs


LAYERS = dict(content_layers=["relu2_2"], style_layers=["relu1_1", "relu2_1"])


class ReplayBackend:
    """Records ``fn``; each replay runs it and copies its output into one fixed tensor, like a graph."""

    def __init__(self, corrupt: bool = False, fail: bool = False):
        self.corrupt, self.fail = corrupt, fail
        self.captures = self.replays = self.warmups = 0

    @contextlib.contextmanager
    def warmup(self):
        self.warmups += 1
        yield

    def capture(self, fn):
        self.captures += 1
        if self.fail:
            raise RuntimeError("operation not permitted when stream is capturing")
        out = torch.full((4,), float("nan"))  # a real capture leaves its outputs unwritten

        def progress():
            self.replays += 1
            terms = fn()
            out.copy_(terms * 3 + 1 if self.corrupt else terms)

        return progress, out


@pytest.fixture
def problem(random_vgg):
    g = torch.Generator().manual_seed(11)
    content, style, start = (torch.rand(1, 3, 32, 32, generator=g) for _ in range(3))
    return Objective(random_vgg, content, [style], style_weight=1e7, **LAYERS), start


@pytest.fixture
def graphs(monkeypatch):
    """Turn the graph path on for the CPU with a given stand-in backend."""

    def use(backend: ReplayBackend) -> ReplayBackend:
        monkeypatch.setattr(step_hook, "_CAPTURE_FAILED", set())
        monkeypatch.setattr(step_hook, "resolve_cuda_graphs", lambda *args: True)
        monkeypatch.setattr(step_hook, "_graph_backend", lambda device: backend)
        return backend

    return use


def _assert_same_run(a, b):
    for k in ("total", "content", "style", "tv"):
        assert a.history[k] == pytest.approx(b.history[k], rel=1e-5, abs=1e-9), k
    assert torch.allclose(a.image, b.image, atol=1e-6)


def test_graph_path_follows_the_ordinary_trajectory(problem, graphs):
    objective, start = problem
    plain = optimize(objective, start, optimizer="adam", steps=12, cuda_graphs=False)
    backend = graphs(ReplayBackend())
    graphed = optimize(objective, start, optimizer="adam", steps=12, callback_every=5)
    # 3 ordinary warm-up steps, then the capture, whose checking replay is step 4, then 8 replays.
    assert backend.warmups == GRAPH_WARMUP_STEPS and backend.captures == 1
    assert backend.replays == 12 - GRAPH_WARMUP_STEPS
    assert graphed.settings["cuda_graphs"] is True and plain.settings["cuda_graphs"] is False
    assert graphed.steps_done == 12 and len(graphed.history["total"]) == 12
    _assert_same_run(graphed, plain)  # same losses at every step, so the lr schedule reached the replays


def test_lr_schedule_reaches_the_replayed_steps(problem, graphs):
    objective, start = problem
    graphs(ReplayBackend())
    decayed = optimize(objective, start, optimizer="adam", steps=10)
    graphs(ReplayBackend())
    constant = optimize(objective, start, optimizer="adam", steps=10, lr_decay=False)
    # identical for the first step, different once the cosine schedule has moved the rate
    assert decayed.history["total"][0] == constant.history["total"][0]
    assert decayed.history["total"][-1] != pytest.approx(constant.history["total"][-1], rel=1e-6)
    _assert_same_run(constant, optimize(objective, start, optimizer="adam", steps=10, lr_decay=False, cuda_graphs=False))


@pytest.mark.parametrize("backend,reason", [(ReplayBackend(corrupt=True), "differs from an ordinary evaluation"),
                                            (ReplayBackend(fail=True), "capture failed")])
def test_bad_capture_warns_and_the_run_goes_on_unchanged(problem, graphs, backend, reason):
    objective, start = problem
    plain = optimize(objective, start, optimizer="adam", steps=9, cuda_graphs=False)
    graphs(backend)
    with pytest.warns(RuntimeWarning, match=reason):
        fallback = optimize(objective, start, optimizer="adam", steps=9)
    assert backend.captures == 1 and fallback.settings["cuda_graphs"] is False
    # the checking replay's update was undone (image and Adam's moments restored): same trajectory
    _assert_same_run(fallback, plain)


def test_after_a_failed_capture_later_runs_do_not_try_again(problem, graphs, recwarn):
    objective, start = problem
    backend = graphs(ReplayBackend(fail=True))
    with pytest.warns(RuntimeWarning, match="will not try again"):
        optimize(objective, start, optimizer="adam", steps=8)
    again = optimize(objective, start, optimizer="adam", steps=8)
    assert backend.captures == 1 and again.settings["cuda_graphs"] is False
    assert not [w for w in recwarn if "CUDA graphs" in str(w.message)]  # no second warning
    # a replay that merely disagreed is not remembered: the next run tries again
    backend = graphs(ReplayBackend(corrupt=True))
    for _ in range(2):
        with pytest.warns(RuntimeWarning, match="differs"):
            optimize(objective, start, optimizer="adam", steps=8)
    assert backend.captures == 2


def test_callback_stops_a_graphed_run(problem, graphs):
    objective, start = problem
    graphs(ReplayBackend())
    seen = []
    r = optimize(objective, start, optimizer="adam", steps=20, callback_every=2,
                 callback=lambda info: seen.append(info.step) or info.step >= 8)
    assert r.stopped == "callback" and r.steps_done == 8 and seen == [2, 4, 6, 8]
    assert len(r.history["total"]) == 8 and r.final["total"] > 0
    # replays and ordinary steps stop alike: after the stopping step's update, the picture the callback saw
    plain = optimize(objective, start, optimizer="adam", steps=20, callback_every=2, cuda_graphs=False,
                     callback=lambda info: info.step >= 8)
    _assert_same_run(r, plain)


def test_too_short_a_run_is_never_captured(problem, graphs):
    objective, start = problem
    backend = graphs(ReplayBackend())
    r = optimize(objective, start, optimizer="adam", steps=GRAPH_WARMUP_STEPS + 1)
    assert backend.captures == 0 and r.settings["cuda_graphs"] is False and r.steps_done == GRAPH_WARMUP_STEPS + 1


def test_cuda_graphs_choice_is_checked():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_cuda_graphs("auto", "adam", cpu) is False
    assert resolve_cuda_graphs(False, "adam", cpu) is False
    assert resolve_cuda_graphs("auto", "lbfgs", cuda) is False
    with pytest.raises(ValueError, match="needs optimizer='adam' on a CUDA device"):
        resolve_cuda_graphs(True, "adam", cpu)
    with pytest.raises(ValueError, match="needs optimizer='adam'"):
        resolve_cuda_graphs(True, "lbfgs", cuda)
    with pytest.raises(ValueError, match="choose 'auto', True or False"):
        RunSpec(cuda_graphs="yes")  # the value itself is checked once, by the spec


def test_stylize_rejects_cuda_graphs_on_cpu_before_work(random_vgg):
    img = torch.rand(1, 3, 32, 32)
    with pytest.raises(ValueError, match="cuda_graphs=True needs"):
        stylize(img, img, steps=2, weights=random_vgg, device="cpu", cuda_graphs=True, **LAYERS)
