"""The GPU path on a real GPU: bf16 autocast, channels_last, cudnn.benchmark and Adam as one CUDA graph.

Marked ``cuda`` and skipped without CUDA (so on every CPU machine, CI included); ``make gpu-check`` runs them
on a GPU machine (``pytest -m cuda``). The CPU tests of the same code use stand-in graphs
(tests/test_cuda_graphs.py); these need the real thing: a capture that really records kernels and replays them.
"""
import warnings

import pytest
import torch

import nsthelpers as nst
import nsthelpers.step_hook as step_hook
from nsthelpers import Objective, optimize
from nsthelpers.data import content_photo, generated_texture
from nsthelpers.step_hook import GRAPH_WARMUP_STEPS

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (run by `make gpu-check`)"),
]
SIZE = 256


@pytest.fixture(scope="module")
def model():
    return nst.load_vgg19(device="cuda")


@pytest.fixture(scope="module")
def pair():
    photo = nst.resize_max_side(content_photo("astronaut"), SIZE).cuda()
    return photo, generated_texture("swirls", SIZE).cuda()


def _objective(model, pair):
    photo, style = pair
    return Objective(model, photo, [style])


def test_bf16_autocast_loss_agrees_with_fp32(model, pair):
    """One evaluation of the same picture (not the photo itself: its content term would be 0): bf16 autocast
    with channels_last within 5 % of fp32 on every term."""
    objective = _objective(model, pair)
    x = (0.5 * pair[0] + 0.25 * pair[1]).clamp(0, 1)
    with torch.no_grad():
        fp32 = {k: float(v) for k, v in objective(x).items()}
        with torch.autocast("cuda", dtype=torch.bfloat16):
            bf16 = {k: float(v) for k, v in objective(x.contiguous(memory_format=torch.channels_last)).items()}
    for term in ("content", "style", "total"):
        assert bf16[term] == pytest.approx(fp32[term], rel=0.05), (term, bf16, fp32)


def test_fast_path_picture_agrees_with_fp32(model, pair):
    """stylize's GPU defaults (bf16, channels_last) against fp32: both lower the loss alike, pictures close."""
    photo, style = pair
    runs = {p: nst.stylize(photo, style, weights=model, device="cuda", steps=40, scales=None, precision=p,
                           progress=False) for p in ("auto", "fp32")}
    fast, exact = runs["auto"], runs["fp32"]
    assert fast.settings["precision"] == "auto" and fast.stopped == "finished" == exact.stopped
    # both runs end far below where they started, and within 25 % of each other (L-BFGS paths diverge slowly)
    start = exact.history["total"][0]
    assert fast.final_losses["total"] < 0.5 * start and exact.final_losses["total"] < 0.5 * start
    assert fast.final_losses["total"] == pytest.approx(exact.final_losses["total"], rel=0.25)
    assert (fast.image - exact.image).abs().mean() < 0.05


def test_adam_cuda_graph_is_captured_once_and_replayed(model, pair, monkeypatch):
    """A real capture: one recording, then every later step a replay; same losses as ordinary steps."""
    counts = {"captures": 0, "replays": 0}
    real_backend = step_hook._graph_backend

    def counting_backend(device):
        backend = real_backend(device)
        capture = backend.capture

        def counted_capture(fn):
            counts["captures"] += 1
            replay, out = capture(fn)

            def counted_replay():
                counts["replays"] += 1
                replay()

            return counted_replay, out

        backend.capture = counted_capture
        return backend

    monkeypatch.setattr(step_hook, "_graph_backend", counting_backend)
    steps = 40
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # "CUDA graphs not used: ..." would fail the test
        graphed = optimize(_objective(model, pair), pair[0], steps=steps, optimizer="adam", cuda_graphs=True,
                           precision="fp32", progress=False)
    assert counts["captures"] == 1
    assert counts["replays"] >= steps - GRAPH_WARMUP_STEPS - 2, counts
    ordinary = optimize(_objective(model, pair), pair[0], steps=steps, optimizer="adam", cuda_graphs=False,
                        precision="fp32", progress=False)
    assert graphed.steps_done == ordinary.steps_done == steps
    assert graphed.history["total"][-1] == pytest.approx(ordinary.history["total"][-1], rel=1e-2)
    assert (graphed.image - ordinary.image).abs().max() < 2e-2


def test_gpu_profile_is_the_default_on_cuda(monkeypatch):
    from nsthelpers import settings

    monkeypatch.delenv("NSTHELPERS_PROFILE", raising=False)
    monkeypatch.delenv("NSTHELPERS_QUICK", raising=False)
    assert settings.profile("cuda") == "gpu"


def test_2048_px_step_fits(model):
    """One Adam step at 2048², bf16: memory the bench reports must be reachable by a single run."""
    photo = nst.resize_max_side(content_photo("astronaut"), 2048).cuda()
    objective = Objective(model, photo, [generated_texture("swirls", 512).cuda()])
    result = optimize(objective, photo, steps=3, optimizer="adam", progress=False)
    assert result.steps_done == 3 and torch.isfinite(torch.tensor(result.history["total"])).all()
