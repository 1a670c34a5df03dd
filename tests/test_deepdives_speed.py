"""nsthelpers.deepdives.speed (ms/step and time-to-loss, driven by a fake clock) and speed.speedup_bars."""
from __future__ import annotations

import math
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")  # tests only; notebooks keep the inline backend
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from nsthelpers.deepdives import speed  # noqa: E402


class FakeClock:
    """A clock that only moves when the code under test says work happened."""

    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def work(self, seconds: float) -> None:
        self.t += seconds


def test_time_steps_is_the_median_after_warmup():
    clock = FakeClock()
    durations = iter([5.0, 5.0, 0.010, 0.030, 0.020])  # two slow warm-up calls, then 10, 30, 20 ms
    calls = []

    def step():
        calls.append(1)
        clock.work(next(durations))

    ms = speed.time_steps(step, warmup=2, repeats=3, device="cpu", clock=clock)
    assert len(calls) == 5
    assert ms == pytest.approx(20.0)  # median of 10, 30, 20: the warm-up calls are not counted


def test_compare_steps_interleaves_rounds_and_keeps_samples():
    clock = FakeClock()
    order = []

    def make(name, seconds):
        def step():
            order.append(name)
            clock.work(seconds)
        return step

    res = speed.compare_steps({"slow": make("slow", 0.2), "fast": make("fast", 0.05)}, warmup=1, repeats=3,
                              clock=clock, cpu_clock=FakeClock())
    # warm-up of each, then rounds alternate: a busy spell hits both functions alike
    assert order == ["slow", "fast", "slow", "fast", "slow", "fast", "slow", "fast"]
    assert res["slow"].ms == pytest.approx(200.0) and res["fast"].ms == pytest.approx(50.0)
    assert len(res["slow"].samples_ms) == 3 and res["fast"].spread == pytest.approx((50.0, 50.0))


def test_compare_steps_records_process_cpu_time_separately():
    wall, cpu = FakeClock(), FakeClock()

    def busy_neighbours():  # 10 ms of our own CPU work, stretched to 50 ms of wall time by other jobs
        cpu.work(0.010)
        wall.work(0.050)

    res = speed.compare_steps({"a": busy_neighbours}, warmup=1, repeats=3, clock=wall, cpu_clock=cpu)
    assert res["a"].ms == pytest.approx(50.0) and res["a"].cpu_ms == pytest.approx(10.0)
    assert res["a"].cpu_samples_ms == pytest.approx((10.0, 10.0, 10.0))


def test_compare_steps_uses_the_median_not_the_mean():
    clock = FakeClock()
    durations = iter([0.01, 0.01, 1.0, 0.01])  # one busy spell of 1 s among 10-ms calls

    def step():
        clock.work(next(durations))

    res = speed.compare_steps({"a": step}, warmup=0, repeats=4, clock=clock)
    assert res["a"].ms == pytest.approx(10.0)
    assert res["a"].spread == pytest.approx((10.0, 1000.0))


@pytest.mark.parametrize("kwargs", [dict(warmup=-1), dict(repeats=0), dict(repeats=1.5)])
def test_compare_steps_rejects_bad_counts(kwargs):
    with pytest.raises(ValueError):
        speed.compare_steps({"a": lambda: None}, **kwargs)
    with pytest.raises(ValueError, match="empty"):
        speed.compare_steps({})


def test_time_steps_on_a_real_cheap_function():
    x = torch.ones(64, 64)
    ms = speed.time_steps(lambda: x @ x, warmup=1, repeats=3, device=torch.device("cpu"))
    assert 0 < ms < 1000


def _fake_run(clock, scores, step_seconds=1.0, check_every=2, max_steps=20):
    """An 'optimiser' whose picture at step s is a number; the callback sees it every ``check_every`` steps."""

    def run(callback):
        for step in range(1, max_steps + 1):
            clock.work(step_seconds)
            if step % check_every == 0:
                if callback(SimpleNamespace(step=step, image=torch.tensor(scores(step)))):
                    return SimpleNamespace(steps_done=step)
        return SimpleNamespace(steps_done=max_steps)

    return run


def test_time_to_loss_excludes_scoring_and_stops_at_the_target():
    clock, cpu = FakeClock(), FakeClock()

    def score(image):
        clock.work(10.0)  # scoring is slow: it must not count
        cpu.work(3.0)
        return float(image)

    res = speed.time_to_loss(_fake_run(clock, lambda s: 100.0 - 10 * s), score, target=45.0, clock=clock,
                             cpu_clock=cpu)
    # scores: step 2 → 80, 4 → 60, 6 → 40 ≤ 45: reached at step 6 after 6 s of steps
    assert res.reached and res.steps == 6
    assert res.seconds == pytest.approx(6.0)
    assert res.cpu_seconds == pytest.approx(0.0)  # the fake optimiser uses no CPU clock, scoring is excluded
    assert res.scoring_seconds == pytest.approx(30.0) and res.scoring_cpu_seconds == pytest.approx(9.0)
    assert res.trace == [(2, 80.0), (4, 60.0), (6, 40.0)] and res.best == 40.0
    assert res.result.steps_done == 6  # the run stopped when the callback returned True
    assert res.ms_per_step == pytest.approx(1000.0)


def test_time_to_loss_not_reached_reports_the_whole_run():
    clock = FakeClock()
    res = speed.time_to_loss(_fake_run(clock, lambda s: 50.0 - s, max_steps=10), lambda im: float(im),
                             target=1.0, clock=clock, cpu_clock=FakeClock())
    assert not res.reached and res.steps == 10
    assert res.seconds == pytest.approx(10.0)  # a lower bound of the time needed
    assert res.best == 40.0 and len(res.trace) == 5


def test_time_to_loss_with_stylize_like_callbacks_on_a_real_optimisation():
    """A real (tiny) optimisation through nst.optimize-style callbacks: minimise ||x - 1||²."""
    target_img = torch.ones(1, 3, 4, 4)

    def run(callback):
        x = torch.zeros(1, 3, 4, 4, requires_grad=True)
        opt = torch.optim.Adam([x], lr=0.1)
        for step in range(1, 101):
            opt.zero_grad()
            ((x - target_img) ** 2).mean().backward()
            opt.step()
            if callback(SimpleNamespace(step=step, image=x.detach())):
                return SimpleNamespace(steps_done=step)
        return SimpleNamespace(steps_done=100)

    res = speed.time_to_loss(run, lambda im: float(((im - target_img) ** 2).mean()), target=0.25, device="cpu")
    assert res.reached and 1 < res.steps < 100 and res.seconds >= 0
    assert res.trace[-1][1] <= 0.25 < res.trace[-2][1]


def test_speedup_table_and_ratios():
    values = {"reference": 300.0, "truncated": 250.0, "fast": 100.0, "missing": None}
    text = speed.speedup_table(values, "reference", notes={"missing": "CUDA only"})
    lines = text.splitlines()
    assert "ms/step" in lines[0] and len(lines) == 5
    assert lines[1].split()[-1] == "×1.00" and lines[3].split()[-1] == "×3.00"
    assert "×1.20" in lines[2] and "n/a" in lines[4] and lines[4].endswith("CUDA only")
    assert speed.ratios(values, "reference") == {"reference": 1.0, "truncated": 1.2, "fast": 3.0, "missing": None}
    with pytest.raises(ValueError):
        speed.speedup_table({"a": 1.0}, "b")


def test_ratios_against_the_reference_measured_in_the_same_rounds():
    # the machine got twice as busy between two measurements: 'late' ran at 200 ms while the reference,
    # timed alongside it, ran at 400 ms. Against the early reference (300) it would look ×1.5 instead of ×2.
    values = {"reference": 300.0, "early": 150.0, "late": 200.0}
    r = speed.ratios(values, "reference", baselines={"late": 400.0})
    assert r == {"reference": 1.0, "early": 2.0, "late": 2.0}
    text = speed.speedup_table(values, "reference", baselines={"late": 400.0})
    assert text.splitlines()[3].split()[-1] == "×2.00"
    fig = speed.speedup_bars(values, "reference", baselines={"late": 400.0})
    assert [p.get_width() for p in fig.axes[0].patches] == pytest.approx([1.0, 2.0, 2.0])
    plt.close(fig)


def test_speedup_bars_draws_one_bar_per_measured_entry():
    values = {"reference": 300.0, "fast": 100.0, "slower": 600.0, "skipped": None}
    fig = speed.speedup_bars(values, "reference", notes={"skipped": "CUDA only"}, title="t")
    ax = fig.axes[0]
    widths = [p.get_width() for p in ax.patches]
    assert widths == pytest.approx([1.0, 3.0, 0.5, 0.0])
    texts = [t.get_text() for t in ax.texts]
    assert texts[1].startswith("×3.00") and "100 ms/step" in texts[1]
    assert texts[3] == "CUDA only"
    assert [t.get_text() for t in ax.get_yticklabels()] == list(values)  # top to bottom in the given order
    assert [p.get_y() for p in ax.patches] == sorted((p.get_y() for p in ax.patches), reverse=True)
    plt.close(fig)
    with pytest.raises(ValueError):
        speed.speedup_bars({"a": None}, "a")


def test_sync_accepts_cpu_and_none():
    speed.sync(None)
    speed.sync("cpu")
    assert not math.isnan(speed.time_steps(lambda: None, warmup=0, repeats=1))
