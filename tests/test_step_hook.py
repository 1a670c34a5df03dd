"""The hook around the loop's steps (nsthelpers.step_hook) on the CPU: precision, cuDNN's autotuner, checkpoints.

Its CUDA-graph path is exercised with stand-in graphs in tests/test_cuda_graphs.py and with real ones in
tests/test_cuda.py (on a GPU).
"""
from dataclasses import dataclass, field

import pytest
import torch

from nsthelpers.checkpoint import Checkpoint
from nsthelpers.step_hook import StepHook, resolve_precision

CPU = torch.device("cpu")


def test_precision_auto_is_bf16_on_cuda_only():
    assert resolve_precision("auto", CPU) is None and resolve_precision("fp32", torch.device("cuda")) is None
    assert resolve_precision("auto", torch.device("cuda")) is torch.bfloat16
    assert resolve_precision("bf16", CPU) is torch.bfloat16


def test_forward_runs_the_objective_under_autocast_only_when_asked():
    seen = []

    def objective(x):
        seen.append((torch.is_autocast_enabled("cpu"), (x @ x).dtype))
        return {"total": x.sum()}

    x = torch.rand(4, 4)
    assert StepHook(CPU).forward(objective) is objective
    StepHook(CPU, torch.bfloat16).forward(objective)(x)
    objective(x)
    assert seen == [(True, torch.bfloat16), (False, torch.float32)]


def test_the_hook_turns_on_cudnn_autotuning_for_the_run_and_restores_it():
    before = torch.backends.cudnn.benchmark
    with StepHook(CPU):
        assert torch.backends.cudnn.benchmark is True
    assert torch.backends.cudnn.benchmark is before


def test_pixels_are_a_clipped_copy_that_requires_grad():
    start = torch.tensor([[-0.5, 0.5], [1.5, 1.0]]).reshape(1, 1, 2, 2)
    x = StepHook(CPU).pixels(start, objective=None)
    assert x.requires_grad and x.data_ptr() != start.data_ptr() and x.tolist() == [[[[0.0, 0.5], [1.0, 1.0]]]]


@dataclass
class FakeRun:
    """What the hook reads of a run; ``flush`` answers as the run's copy of its losses would."""

    x: torch.Tensor
    step: int = 0
    steps: int = 10
    history: dict = field(default_factory=lambda: {"total": [], "content": [], "style": [], "tv": []})
    finding: str | None = None
    flushes: int = 0

    def flush(self):
        self.flushes += 1
        return self.finding


def test_a_checkpoint_every_n_steps_after_a_copy_of_the_losses_and_a_resume_loads_it(tmp_path):
    path = tmp_path / "run.ckpt"
    hook = StepHook(CPU, checkpoint=Checkpoint(path, 4, {"shape": (1, 3, 2, 2)}))
    progress = FakeRun(torch.rand(1, 3, 2, 2, requires_grad=True))
    opt = torch.optim.Adam([progress.x], lr=0.1)
    hook.start(opt, progress)
    progress.x.sum().backward()
    opt.step()
    for step in range(1, 9):
        progress.step = step
        progress.history["total"].append(float(step))
        assert hook.after(progress) is None
        assert path.exists() == (step >= 4) and progress.flushes == step // 4
    progress.finding = "non-finite loss"
    progress.step = 12
    assert hook.after(progress) == "non-finite loss"  # found by the copy: no save

    again = StepHook(CPU, checkpoint=Checkpoint(path, 4, {"shape": (1, 3, 2, 2)}))
    fresh = FakeRun(torch.zeros(1, 3, 2, 2, requires_grad=True))
    assert again.resume(fresh) == 8 and fresh.step == 8 and fresh.history["total"] == [float(s) for s in range(1, 9)]
    assert torch.equal(fresh.x, progress.x.detach())
    adam = torch.optim.Adam([fresh.x], lr=0.05)
    again.start(adam, fresh)
    assert adam.param_groups[0]["lr"] == 0.05  # the loop's rate, Adam's saved moments
    assert torch.equal(adam.state[fresh.x]["exp_avg"], opt.state[progress.x]["exp_avg"])
    assert again.settings() == {"cuda_graphs": False, "resumed_from_step": 8}


def test_after_ctrl_c_the_work_so_far_is_saved_and_the_message_says_where_to_resume(tmp_path):
    progress = FakeRun(torch.rand(1, 3, 2, 2), step=5)
    assert StepHook(CPU).interrupted(progress) == "" and progress.flushes == 0
    hook = StepHook(CPU, checkpoint=Checkpoint(tmp_path / "c.ckpt", 50, {}))
    assert "resume from step 5" in hook.interrupted(progress) and progress.flushes == 1
    assert (tmp_path / "c.ckpt").exists()


def test_without_graphs_a_step_is_the_function_itself():
    hook = StepHook(CPU)
    hook.start(torch.optim.Adam([torch.zeros(2, requires_grad=True)]), FakeRun(torch.zeros(2)))
    out = {"total": torch.tensor(1.0)}
    assert hook.step(lambda: out) is out and hook.settings() == {"cuda_graphs": False}


@pytest.mark.parametrize("asked", [True, "auto"])
def test_cuda_graphs_are_refused_or_skipped_where_they_cannot_work(asked):
    from nsthelpers.specs import RunSpec

    if asked is True:  # refused where the option is checked, once: in the spec
        with pytest.raises(ValueError, match="needs optimizer='adam' on a CUDA device"):
            RunSpec(optimizer="lbfgs", cuda_graphs=asked)
        with pytest.raises(ValueError, match="needs optimizer='adam' on a CUDA device"):  # Adam, but on the CPU
            StepHook.for_run(RunSpec(optimizer="adam", cuda_graphs=True), torch.rand(1, 3, 4, 4), 5, 1.0,
                             objective=None)
    else:
        spec = RunSpec(optimizer="lbfgs", cuda_graphs=asked)
        assert StepHook.for_run(spec, torch.rand(1, 3, 4, 4), 5, 1.0, objective=None).graphs is False
