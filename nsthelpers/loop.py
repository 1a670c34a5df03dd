"""The optimisation loop: Adam or L-BFGS on the pixels of one image, against an :class:`~nsthelpers.Objective`.

Read :func:`_adam_loop` first: it is notebook 05's ``adam_loop``, line for line (zero the gradient, evaluate the
loss, step, clamp to [0, 1]; a test keeps the two alike), with one object, the
:class:`~nsthelpers.step_hook.StepHook`, where a run on a GPU or a long run adds bf16 autocast, channels_last,
CUDA graphs and checkpoints. A :class:`Progress` holds the bookkeeping: the loss history (copied from the device only
every ``callback_every`` steps, so the GPU is not stalled by a sync per step), the callback and the stopping rule,
the image at the last check with finite losses. Each loop returns why it stopped. One "step" is one objective
evaluation, for both optimisers.
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

import torch

from . import checks
from .images import save_image
from .objective import Objective
from .specs import OPTIMIZERS, PRECISIONS, RunSpec
from .step_hook import NonFinite, StepHook, resolve_cuda_graphs, resolve_precision

__all__ = ["DEFAULT_LR", "LOSS_TERMS", "OPTIMIZERS", "PRECISIONS", "StepInfo", "StopOptimization", "StopReason",
           "StyleResult", "optimize", "resolve_cuda_graphs", "resolve_optimizer", "resolve_precision"]

# Adam's lr is for pixels in [0, 1] with a cosine decay to 5 %. Measured on CPU at 128² (caffe weights, time to
# the reference loop's 200-step loss): lr 0.05 reached it in 35 steps (×4.5 faster than the reference),
# lr 0.02 in 60 (×2.5), L-BFGS in 35 (×4.2); lr 0.1 gave visibly grainier pictures. At 256² (`make bench`):
# lr 0.05 reached the reference's 200-step loss in 35 steps, ×5.0–6.1 faster in wall time over two runs.
DEFAULT_LR = {"adam": 0.05, "lbfgs": 1.0}
LOSS_TERMS = ("total", "content", "style", "tv")
StopReason = Literal["finished", "callback", "interrupted", "non-finite loss", "converged", "out of memory"]
BOX_WEIGHT = 50.0  # L-BFGS's box penalty: pixels 0.01 outside [0, 1] everywhere cost 0.5 % of the first loss


class StopOptimization(Exception):
    """Raise it in a callback (or return True) to end a run early and keep the image so far: the caller asked to
    stop (``stopped == "callback"``). The loops return their other reasons to stop."""


@dataclass
class StepInfo:
    """What a callback receives every ``callback_every`` steps."""

    step: int
    steps: int
    losses: dict[str, float]
    image: torch.Tensor  # (1, 3, H, W) in [0, 1], detached, on the device: Adam's after the step's update,
    #                      L-BFGS's the point it evaluated


@dataclass
class StyleResult:
    """Outcome of a run: the image (CPU, (1,3,H,W), in [0,1]), per-step loss history, timings."""

    image: torch.Tensor
    history: dict[str, list[float]]
    steps_done: int
    timings: dict[str, float]
    stopped: StopReason = "finished"
    message: str = ""
    settings: dict = field(default_factory=dict)
    final: dict[str, float] = field(default_factory=dict)  # losses of ``image`` itself (after clipping)

    @property
    def final_losses(self) -> dict[str, float]:
        """Loss terms of the returned image (evaluated once more after clipping), else the last recorded."""
        return dict(self.final) if self.final else {k: v[-1] for k, v in self.history.items() if v}

    def save(self, path: str | Path) -> Path:
        """Write the image (PNG/JPEG by suffix)."""
        return save_image(self.image, path)


def resolve_optimizer(optimizer: str, lr: float | None) -> float:
    """The learning rate to use: ``lr``, or the optimiser's default for ``None`` (both checked by the RunSpec)."""
    return float(DEFAULT_LR[optimizer] if lr is None else lr)


# ----------------------------------------------------------------------------------------- the run
@dataclass
class Progress:
    """The state of one optimisation, shared by both loops: the picture, the losses, where it stands."""

    x: torch.Tensor                      # the pixels being optimised (requires grad)
    steps: int                           # evaluations asked for
    spec: RunSpec
    lr: float
    hook: StepHook                       # precision, CUDA graphs, checkpoints: what a GPU or a long run adds
    history: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in LOSS_TERMS})
    step: int = 0                        # evaluations done (Adam: updates applied too)
    pending: list[torch.Tensor] = field(default_factory=list)  # loss terms not yet copied to the host
    stopped: StopReason = "finished"
    message: str = ""
    last_good: torch.Tensor | None = None  # the image at the last check that found every loss finite
    good_step: int = 0
    bar: Any = None
    offset: int = 0  # steps of earlier stages: the bar and the callbacks count on from there
    total: int = 0   # steps of all stages (this run's ``steps`` when it is the only one)

    def record(self, losses: dict[str, torch.Tensor]) -> StopReason | None:
        """Notebook 05's ``history.append(loss.item())`` for every loss term, without a host sync per step:
        the terms stay on the device and every ``callback_every`` steps (and at the last) are copied at once,
        checked, shown to the callback and to the stopping rule; then the hook's work after a step (a
        checkpoint). Returns why the run must stop, or None. A callback ends the run by returning True (or
        raising :class:`StopOptimization`)."""
        self.step += 1
        self.pending.append(torch.stack([losses[k].detach().float() for k in LOSS_TERMS]))
        if (self.offset + self.step) % self.spec.callback_every == 0 or self.step == self.steps:
            if stop := self.flush():
                return stop
            if self.spec.callback is not None and self.spec.callback(self._info()):
                return "callback"
            if self._stopped_improving():
                self.message = (f"the total loss fell by less than {self.spec.stop_below:.3g} of itself over the "
                                f"last {self.spec.callback_every} steps; stopped at step {self.step}")
                return "converged"
        return self.hook.after(self)

    def flush(self) -> NonFinite | None:
        """Copy the pending losses to the host (one sync) and check they are finite; "non-finite loss" if not."""
        if not self.pending:
            return None
        values = torch.stack(self.pending).cpu()  # (steps, 4) or, for a batch of N, (steps, 4, N)
        self.pending.clear()
        for row in values.tolist():
            for k, v in zip(LOSS_TERMS, row):
                self.history[k].append(v)
        finite = torch.isfinite(values).flatten(1).all(1).tolist()
        bad = next((i for i, ok in enumerate(finite) if not ok), None)
        if bad is not None:
            return self._non_finite(values[bad], self.step - len(values) + bad + 1)
        self.last_good, self.good_step = self.x.detach().clone(), self.step
        if self.bar is not None:
            self.bar.n = self.offset + self.step
            self.bar.set_postfix({k: f"{self.history[k][-1]:.3g}" for k in LOSS_TERMS}, refresh=False)
            self.bar.refresh()
        return None

    def _non_finite(self, row: torch.Tensor, step: int) -> NonFinite:
        terms = [k for k, v in zip(LOSS_TERMS, row) if k != "total" and not bool(torch.isfinite(v).all())] or ["total"]
        self.message = (f"the {' and '.join(terms)} loss became non-finite at step {step}; likely causes: a "
                        f"learning rate too high (lr={self.lr}), extreme loss weights, or a broken input image. "
                        f"Returned the image as it was at step {self.good_step}, the last check that found every "
                        "loss finite.")
        return "non-finite loss"

    def _info(self) -> StepInfo:
        return StepInfo(self.offset + self.step, self.total, {k: self.history[k][-1] for k in LOSS_TERMS},
                        self.x.detach().clamp(0, 1))

    def _stopped_improving(self) -> bool:
        """The stopping rule: the best total of the last N steps is within ``stop_below`` of the best before."""
        n = self.spec.callback_every
        total = [sum(v) if isinstance(v, list) else v for v in self.history["total"]]  # a batch: all items
        if not self.spec.stop_below or len(total) < 2 * n or self.step >= self.steps:
            return False
        before, now = min(total[:-n]), min(total[-n:])
        return before - now < self.spec.stop_below * abs(before)

    def lr_at(self, step: int) -> float:
        """Notebook 05's ``cosine``: the rate at ``step``, from lr down to 5 % of it (constant without lr_decay)."""
        if not self.spec.lr_decay:
            return self.lr
        return self.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / self.steps)))


# ----------------------------------------------------------------------------------------- the loops
def _adam_loop(progress: Progress, objective: Callable[[torch.Tensor], dict[str, torch.Tensor]], hook: StepHook) -> StopReason:
    """Adam on the pixels: notebook 05's ``adam_loop``, line for line, with ``hook`` where a GPU run adds speed.

    ``objective`` returns every loss term (for a batch, one per item); ``progress.record`` books them."""
    x, lr_at = progress.x, progress.lr_at
    opt = torch.optim.Adam([x], lr=lr_at(0))
    hook.start(opt, progress)  # hook: Adam's state from a checkpoint; what a CUDA graph needs

    def adam_step() -> dict[str, torch.Tensor]:
        opt.zero_grad()
        losses = objective(x)
        losses["total"].sum().backward()  # a batch: the items' losses add, their gradients stay apart
        opt.step()
        with torch.no_grad():
            x.clamp_(0, 1)  # keep the pixels in [0, 1]
        return losses

    for step in range(progress.step, progress.steps):
        opt.param_groups[0]["lr"] = lr_at(step)
        losses = hook.step(adam_step)  # hook: adam_step(), or on a GPU its CUDA graph replayed
        if stop := progress.record(losses):
            return stop
    return "finished"


class _Stop(Exception):
    """Ends L-BFGS's ``opt.step`` from inside its closure, carrying the reason."""

    def __init__(self, reason: StopReason) -> None:
        super().__init__(reason)
        self.reason = reason


def _lbfgs_loop(progress: Progress, objective: Callable[[torch.Tensor], dict[str, torch.Tensor]], hook: StepHook) -> StopReason:
    """L-BFGS with a strong-Wolfe line search; each objective evaluation is one step.

    Adam's steps are small, so clamping to [0, 1] after each one is harmless. L-BFGS's line search tries
    long steps and trusts that the loss it sees belongs to the point it chose, so clamping behind its back
    misleads it; left alone, it drifts outside [0, 1] and the clipped picture it returns scores 30–40 %
    worse than its last step (128 px, from the photo). So it minimises the loss plus a box penalty, the
    mean squared distance of the pixels outside [0, 1], weighted :data:`BOX_WEIGHT` × the first loss
    (scale-free): the pixels stay inside, and the history describes the picture that is returned.
    The run returns the best point it evaluated (lowest loss plus penalty). A budget usually runs out
    inside a line search, with the pixels at a trial point that is never evaluated, or just after a long
    trial step; L-BFGS's answer is its best point, not whatever it was trying last.
    """
    x = progress.x
    opt = torch.optim.LBFGS([x], lr=progress.lr, max_iter=progress.steps, max_eval=progress.steps + 1, history_size=50,
                            tolerance_grad=0.0, tolerance_change=0.0, line_search_fn="strong_wolfe")
    hook.start(opt, progress)
    box_weight: list[float] = []  # set at the first evaluation (one host sync)
    best: list[Any] = []  # [value, pixels] of the best point evaluated so far

    def closure() -> torch.Tensor:
        if progress.step >= progress.steps:
            raise _Stop("finished")  # the budget ran out inside a line search
        opt.zero_grad()
        losses = objective(x)
        total = losses["total"].sum()
        box_weight[:] = box_weight or [BOX_WEIGHT * abs(float(total.detach()))]
        minimised = total + box_weight[0] * box_penalty(x)
        minimised.backward()
        value = float(minimised.detach())
        if not best or value < best[0]:
            best[:] = [value, x.detach().clone()]
        if stop := progress.record(losses):
            raise _Stop(stop)
        return minimised

    try:
        while progress.step < progress.steps:
            before = progress.step
            opt.step(closure)
            if progress.step == before:  # converged exactly: nothing left to do
                break
    except _Stop as stop:
        return stop.reason
    finally:  # also when a callback, StopOptimization or Ctrl-C ends the run
        if best:
            x.data.copy_(best[1])
    return "finished"


def box_penalty(x: torch.Tensor) -> torch.Tensor:
    """Mean squared distance of the pixels outside [0, 1] to the box (0 inside it)."""
    return ((x - 1).clamp_min(0).pow(2) + (-x).clamp_min(0).pow(2)).mean()


# ----------------------------------------------------------------------------------------- the entry point
def optimize(objective: Objective, init: torch.Tensor, spec: RunSpec | None = None, *, steps: int = 300,
             **options: Any) -> StyleResult:
    """Optimise the pixels of ``init`` (RGB in [0, 1]) to lower ``objective``.

    ``spec`` is a :class:`~nsthelpers.specs.RunSpec`; keywords override its fields (or build one), e.g.
    ``optimize(objective, photo, steps=100, optimizer="lbfgs")``; the spec checks every value. ``steps``
    counts objective evaluations.

    Adam keeps pixels in [0, 1] after every step and, with ``lr_decay``, follows a cosine schedule
    to 5 % of ``lr``; L-BFGS uses a strong-Wolfe line search and a box penalty that keeps the pixels
    in [0, 1] (the result is still clipped, by at most a hair).
    ``precision="auto"`` runs VGG under bf16 autocast on CUDA (Gram matrices and losses stay fp32).
    ``cuda_graphs="auto"`` records one whole Adam step (forward, backward, update, clipping) as a CUDA
    graph after a few ordinary steps and replays it (one launch per step instead of hundreds); the first
    replay is checked against an ordinary evaluation, and a failed or disagreeing capture warns and goes
    on without graphs. L-BFGS never uses them (its line search decides on the host how many evaluations
    a step takes). With ``checkpoint_path`` the run saves itself every ``checkpoint_every`` steps and
    resumes from an existing file of the same problem. All three sit in :class:`~nsthelpers.step_hook.StepHook`.

    The run ends early, keeping the image so far, when the callback returns True or raises
    :class:`StopOptimization` (``stopped == "callback"``), on KeyboardInterrupt (``"interrupted"``), when
    the loss stops improving (``stop_below``: ``"converged"``), or when a loss turns non-finite
    (``"non-finite loss"``: the image at the last check with finite losses is returned and ``message``
    names the term). An Adam run that stops early keeps the update of its last step.
    """
    spec = dataclasses.replace(spec, **options) if spec is not None else RunSpec(**options)
    steps = checks.positive_int("steps", steps)
    lr = resolve_optimizer(spec.optimizer, spec.lr)
    hook = StepHook.for_run(spec, init, steps, lr, objective)
    progress = Progress(hook.pixels(init, objective), steps, spec, lr, hook)
    hook.resume(progress)
    progress.last_good, progress.good_step = progress.x.detach().clone(), progress.step
    progress.offset, progress.total = spec.stage_span or (0, steps)
    progress.bar = _progress_bar(progress.total, progress.offset + progress.step, last=progress.offset + steps >= progress.total) if spec.progress else None
    t0 = time.perf_counter()
    _run_loop(progress, objective, hook)
    return _result(progress, objective, time.perf_counter() - t0, init)


def _run_loop(progress: Progress, objective: Objective, hook: StepHook) -> None:
    """Run the chosen loop with the hook around it; record how it ended."""
    loop = _adam_loop if progress.spec.optimizer == "adam" else _lbfgs_loop
    try:
        with hook:
            try:
                progress.stopped = loop(progress, hook.forward(objective), hook)
            except StopOptimization:  # raised by a callback or the objective: the caller asked to stop
                progress.stopped = "callback"
            except KeyboardInterrupt:
                progress.stopped = "interrupted"
                progress.message = f"interrupted at step {progress.step}; returning the image so far" + hook.interrupted(progress)
            if progress.stopped != "non-finite loss":
                progress.stopped = progress.flush() or progress.stopped
    finally:
        if progress.bar is not None:
            progress.bar.close()


def _result(progress: Progress, objective: Objective, elapsed: float, init: torch.Tensor) -> StyleResult:
    """The returned picture (finite, clipped, on the CPU), scored once more so the numbers describe it."""
    picture = progress.last_good if progress.stopped == "non-finite loss" else progress.x.detach()
    assert picture is not None
    picture = torch.nan_to_num(picture.float(), nan=0.0).clamp(0, 1).cpu().contiguous()
    resumed = progress.hook.resumed_from
    new_steps = progress.step - (resumed or 0)
    timings = {"optimize_s": elapsed, "ms_per_step": 1000 * elapsed / max(new_steps, 1)}
    result = StyleResult(picture, progress.history, progress.step, timings, progress.stopped, progress.message)
    if progress.stopped != "non-finite loss":
        # L-BFGS's best point can lie slightly outside [0, 1]: score the picture actually returned.
        with torch.no_grad():
            terms = objective(picture.to(init.device, init.dtype))
        result.final = {k: terms[k].tolist() for k in LOSS_TERMS}  # floats; for a batch, one per item
    result.settings.update(progress.hook.settings())
    return result


def _progress_bar(steps: int, initial: int = 0, last: bool = True) -> Any:
    """A tqdm bar; one that an earlier stage's bar continues (``last=False``) is cleared when it closes."""
    from tqdm.auto import tqdm

    return tqdm(total=steps, initial=initial, desc="stylize", unit="step", leave=last)
