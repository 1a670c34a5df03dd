"""LiveRun (background optimisation with snapshots, best image, stop flag) and the LivePreview widget."""
from __future__ import annotations

import threading
import time

import pytest
import torch

import nsthelpers as nst
from nsthelpers import data
from nsthelpers.widgets.live import LiveRun
from nsthelpers.loop import StepInfo, StyleResult
from nsthelpers.widgets import LivePreview

# Total losses a fake optimiser reports at steps 1, 2, 3, ...: the minimum is at step 4 (value 1.0).
FAKE_LOSSES = [5.0, 3.0, 2.0, 1.0, 1.5, 4.0, 6.0, 7.0, 8.0, 9.0]


def fake_optimizer(steps: int = len(FAKE_LOSSES), *, callback=None, callback_every: int = 1, delay: float = 0.0,
                   gate: threading.Event | None = None, fail_at: int | None = None) -> StyleResult:
    """Behaves like nst.optimize: step k has image filled with k/100, loss FAKE_LOSSES[k-1] (cycled)."""
    history = {k: [] for k in ("total", "content", "style", "tv")}
    stopped = "finished"
    image = torch.zeros(1, 3, 4, 4)
    for step in range(1, steps + 1):
        if fail_at == step:
            raise ValueError("boom at step %d" % step)
        image = torch.full((1, 3, 4, 4), step / 100)
        total = FAKE_LOSSES[(step - 1) % len(FAKE_LOSSES)]
        for k in history:
            history[k].append(total if k == "total" else 0.0)
        if gate is not None:
            gate.wait(5)
        time.sleep(delay)
        if callback is not None and step % callback_every == 0:
            if callback(StepInfo(step, steps, {k: v[-1] for k, v in history.items()}, image)):
                stopped = "callback"
                break
    return StyleResult(image, history, step, {"optimize_s": 0.0, "ms_per_step": 0.0}, stopped)


def test_runs_in_background_and_tracks_the_best_snapshot():
    run = LiveRun(fake_optimizer, every=1).start()
    result = run.wait(timeout=30)
    assert result.stopped == "finished" and result.steps_done == len(FAKE_LOSSES)
    assert [s.step for s in run.snapshots] == list(range(1, 11))
    assert [s.losses["total"] for s in run.snapshots] == FAKE_LOSSES
    assert run.best_step == 4 and run.best_loss == 1.0
    assert torch.equal(run.best_image, torch.full((1, 3, 4, 4), 0.04))   # the image *of* step 4, a copy
    assert torch.equal(run.latest_image, torch.full((1, 3, 4, 4), 0.10))
    assert run.finished and not run.running and run.steps == 10


def test_every_controls_the_snapshots():
    run = LiveRun(fake_optimizer, every=3).start()
    run.wait(timeout=30)
    assert [s.step for s in run.snapshots] == [3, 6, 9]
    assert run.best_step == 3 and run.best_loss == 2.0   # the best of what was seen


def test_the_cell_returns_at_once_and_stop_ends_the_run_keeping_the_best_image():
    gate = threading.Event()
    run = LiveRun(fake_optimizer, 1000, every=1, gate=gate).start()
    time.sleep(0.05)
    assert run.running and run.result is None          # start() did not block
    gate.set()
    assert run.wait(timeout=30, until_step=5) is None  # reached step 5, still running
    assert run.last_step >= 5
    run.stop()
    result = run.wait(timeout=30)
    assert run.stop_requested and result.stopped == "callback"
    assert 5 <= result.steps_done < 1000
    assert run.best_loss == 1.0 and run.best_step == 4


def test_errors_reach_wait_and_on_done():
    seen = []
    run = LiveRun(fake_optimizer, every=1, fail_at=3, on_done=lambda r: seen.append(type(r.error))).start()
    with pytest.raises(RuntimeError, match="boom at step 3") as info:
        run.wait(timeout=30)
    assert isinstance(info.value.__cause__, ValueError)
    assert seen == [ValueError] and run.result is None and len(run.snapshots) == 2


def test_on_update_is_called_from_the_thread_for_every_snapshot():
    calls = []
    run = LiveRun(fake_optimizer, every=2,
                  on_update=lambda r, info: calls.append((info.step, threading.current_thread() is not threading.main_thread())))
    run.start().wait(timeout=30)
    assert calls == [(2, True), (4, True), (6, True), (8, True), (10, True)]


def test_timeout_and_argument_checks():
    gate = threading.Event()
    run = LiveRun(fake_optimizer, every=1, gate=gate).start()
    with pytest.raises(TimeoutError):
        run.wait(timeout=0.05)
    gate.set()
    run.wait(timeout=30)
    with pytest.raises(RuntimeError, match="already started"):
        run.start()
    with pytest.raises(ValueError, match="every"):
        LiveRun(fake_optimizer, every=0)
    with pytest.raises(ValueError, match="callback"):
        LiveRun(fake_optimizer, callback=print)
    with pytest.raises(RuntimeError, match="not started"):
        LiveRun(fake_optimizer).wait()


def test_with_the_real_stylize(random_vgg):
    photo = data.content_photo("astronaut", max_size=32)
    texture = data.generated_texture("swirls", 32)
    run = LiveRun(nst.stylize, photo, texture, steps=6, weights=random_vgg, every=2).start()
    result = run.wait(timeout=120)
    assert [s.step for s in run.snapshots] == [2, 4, 6]
    # the snapshots carry the history's values at those steps
    assert [s.losses["total"] for s in run.snapshots] == [result.history["total"][k - 1] for k in (2, 4, 6)]
    assert run.best_loss == min(result.history["total"][k - 1] for k in (2, 4, 6))
    assert run.best_image.shape == result.image.shape and run.best_image.device.type == "cpu"


# ------------------------------------------------------------------------------------------- widget


def test_live_preview_refreshes_and_its_stop_button_keeps_the_best_image():
    gate = threading.Event()
    preview = LivePreview(every=1, draw_losses=True)
    assert preview.stop_button.disabled and preview.status.value == "not started"
    preview.start(fake_optimizer, 1000, gate=gate, delay=0.001)
    assert not preview.stop_button.disabled
    gate.set()
    preview.wait(timeout=30, until_step=6)             # past the minimum at step 4
    preview.stop_button.click()                        # what a reader's click does
    result = preview.wait(timeout=30)
    assert result.stopped == "callback" and preview.stop_button.disabled
    assert preview.updates >= 6 and preview.image.value[:4] == b"\x89PNG" and preview.losses_view.value[:4] == b"\x89PNG"
    assert torch.equal(preview.final_image, preview.run.best_image) and preview.run.best_step == 4
    assert "kept the best image" in preview.status.value and "step 4" in preview.status.value
    with pytest.raises(RuntimeError, match="nothing is running"):
        LivePreview().wait()


def test_live_preview_finished_run_shows_the_result_and_can_start_again():
    preview = LivePreview(every=5, draw_losses=False)
    preview.start(fake_optimizer).wait(timeout=30)
    assert preview.updates == 2 and preview.losses_view.value == b""
    assert torch.equal(preview.final_image, preview.result.image)   # finished: the result, not the best snapshot
    assert preview.status.value.startswith("finished after 10 steps")
    first = preview.run
    preview.start(fake_optimizer, 5).wait(timeout=30)
    assert preview.run is not first and preview.result.steps_done == 5


def test_live_preview_shows_errors():
    preview = LivePreview(every=1)
    preview.start(fake_optimizer, fail_at=2)
    with pytest.raises(RuntimeError):
        preview.wait(timeout=30)
    assert "failed" in preview.status.value and "boom" in preview.status.value and preview.stop_button.disabled
