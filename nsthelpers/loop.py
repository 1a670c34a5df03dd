"""The optimisation loop: Adam or L-BFGS on the pixels of one image, against an :class:`~nsthelpers.Objective`.

Read :func:`_adam_loop` first: it is the whole algorithm (zero the gradient, evaluate the loss, step,
clamp to [0, 1]); everything else is bookkeeping that a long or interactive run needs. A :class:`Run`
holds that bookkeeping: the loss history (copied from the device only every ``callback_every`` steps, so
the GPU is not stalled by a sync per step), the callback and stopping rule, the last image with finite
losses, and checkpoints. One "step" is one objective evaluation, for both optimisers.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

import torch

from .checkpoint import Checkpoint
from .images import save_image
from .objective import Objective
from .specs import OPTIMIZERS, PRECISIONS, RunSpec

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
GRAPH_WARMUP_STEPS = 3  # ordinary steps before capture (cuDNN autotuning, lazy initialisation, Adam's state)


class StopOptimization(Exception):
    """Raised inside a callback (or returned as True) to end a run early and keep the image so far."""


@dataclass
class StepInfo:
    """What a callback receives every ``callback_every`` steps."""

    step: int
    steps: int
    losses: dict[str, float]
    image: torch.Tensor  # (1, 3, H, W) in [0, 1], detached, on the optimisation device


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


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for a precision choice: ``"auto"`` is bf16 on CUDA, fp32 elsewhere."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r}; choose one of {PRECISIONS}")
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return None


def resolve_cuda_graphs(cuda_graphs: bool | str, optimizer: str, device: torch.device) -> bool:
    """Whether a run records its step as a CUDA graph: ``"auto"`` means Adam on a CUDA device."""
    if cuda_graphs not in ("auto", True, False):
        raise ValueError(f"cuda_graphs={cuda_graphs!r}; choose 'auto', True or False")
    possible = optimizer == "adam" and device.type == "cuda" and hasattr(torch.cuda, "CUDAGraph")
    if cuda_graphs is True and not possible:
        raise ValueError(
            f"cuda_graphs=True needs optimizer='adam' on a CUDA device (got optimizer={optimizer!r} on "
            f"{device.type}); use cuda_graphs='auto' to use them only where they work"
        )
    return bool(cuda_graphs) and possible


def resolve_optimizer(optimizer: str, lr: float | None) -> float:
    """Check the optimiser name and learning rate; return the rate to use (its default for ``None``)."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer={optimizer!r}; choose one of {OPTIMIZERS}")
    lr = DEFAULT_LR[optimizer] if lr is None else lr
    if not (isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    return float(lr)


# ----------------------------------------------------------------------------------------- the run
@dataclass
class Run:
    """The state of one optimisation, shared by both loops: the picture, the losses, where it stands."""

    x: torch.Tensor                      # the pixels being optimised (requires grad)
    steps: int                           # evaluations asked for
    spec: RunSpec
    lr: float
    checkpoint: Checkpoint | None = None
    history: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in LOSS_TERMS})
    step: int = 0                        # evaluations done
    applied: int = 0                     # updates applied to x (Adam: one per step; L-BFGS: x is current)
    pending: list[torch.Tensor] = field(default_factory=list)  # loss terms not yet copied to the host
    stopped: StopReason = "finished"
    message: str = ""
    last_good: torch.Tensor | None = None  # the last image whose losses were all finite
    optimizer: torch.optim.Optimizer | None = None
    graphed: bool = False
    bar: Any = None
    offset: int = 0  # steps of earlier stages: the bar and the callbacks count on from there
    total: int = 0   # steps of all stages (this run's ``steps`` when it is the only one)

    def record(self, terms: torch.Tensor) -> None:
        """Book one evaluation's stacked loss terms (still on the device); every N steps flush, call back
        and apply the stopping rule (each may end the run by raising :class:`StopOptimization`)."""
        self.step += 1
        self.pending.append(terms)
        every = self.spec.callback_every
        if (self.offset + self.step) % every == 0 or self.step == self.steps:
            self.flush()
            if self.spec.callback is not None and self.spec.callback(self._info()):
                self.stopped = "callback"
                raise StopOptimization
            if self._stopped_improving():
                self.stopped = "converged"
                self.message = (f"the total loss fell by less than {self.spec.stop_below:.3g} of itself over the "
                                f"last {every} steps; stopped at step {self.step}")
                raise StopOptimization

    def flush(self) -> None:
        """Copy the pending losses to the host (one sync), check they are finite, remember a good image."""
        if not self.pending:
            return
        values = torch.stack(self.pending).cpu()  # (steps, 4) or, for a batch of N, (steps, 4, N)
        self.pending.clear()
        for row in values.tolist():
            for k, v in zip(LOSS_TERMS, row):
                self.history[k].append(v)
        finite = torch.isfinite(values).flatten(1).all(1).tolist()
        bad = next((i for i, ok in enumerate(finite) if not ok), None)
        if bad is not None:
            self._non_finite(values[bad], self.step - len(values) + bad + 1)
        self.last_good = self.x.detach().clone()
        if self.bar is not None:
            self.bar.n = self.offset + self.step
            self.bar.set_postfix({k: f"{self.history[k][-1]:.3g}" for k in LOSS_TERMS}, refresh=False)
            self.bar.refresh()

    def _non_finite(self, row: torch.Tensor, step: int) -> None:
        terms = [k for k, v in zip(LOSS_TERMS, row) if k != "total" and not bool(torch.isfinite(v).all())] or ["total"]
        self.stopped = "non-finite loss"
        self.message = (f"the {' and '.join(terms)} loss became non-finite at step {step}; likely causes: a "
                        f"learning rate too high (lr={self.lr}), extreme loss weights, or a broken input image. "
                        "Returned the last image whose losses were finite.")
        raise StopOptimization

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

    def save_checkpoint(self) -> None:
        """Flush, then write image, step, history and Adam's state (every ``checkpoint.every`` steps)."""
        if self.checkpoint is None or self.step % self.checkpoint.every:
            return
        self.flush()
        state = self.optimizer.state_dict() if isinstance(self.optimizer, torch.optim.Adam) else None
        self.checkpoint.save(self.x, self.step, self.history, state)

    def save_applied(self) -> None:
        """After Ctrl-C: save the work up to the last applied update, so nothing is lost."""
        with contextlib.suppress(StopOptimization):
            self.flush()
        self.pending.clear()
        trimmed = {k: v[: self.applied] for k, v in self.history.items()}
        state = self.optimizer.state_dict() if isinstance(self.optimizer, torch.optim.Adam) else None
        assert self.checkpoint is not None
        self.checkpoint.save(self.x, self.applied, trimmed, state)


def _autocast(device: torch.device, dtype: torch.dtype | None) -> Any:
    # cache_enabled=False: autocast's weight cache must not outlive a CUDA-graph capture
    return torch.autocast(device.type, dtype=dtype, cache_enabled=False) if dtype else contextlib.nullcontext()


def _stacked(losses: dict[str, torch.Tensor]) -> torch.Tensor:
    return torch.stack([losses[k].detach().float() for k in LOSS_TERMS])


# ----------------------------------------------------------------------------------------- the loops
def _adam_loop(run: Run, objective: Objective, autocast: Callable[[], Any], resumed: dict | None,
               use_graphs: bool) -> None:
    """Adam on the pixels: zero the gradient, evaluate, step, clamp to [0, 1]; a cosine learning rate."""
    x, spec = run.x, run.spec
    opt = run.optimizer = _make_adam(x, run.lr, use_graphs, resumed)
    graph = _AdamGraph(opt, x, objective, autocast) if use_graphs and str(x.device) not in _CAPTURE_FAILED else None

    def whole_step() -> torch.Tensor:
        """One step with no host sync and no Python-side state: what a CUDA graph records."""
        opt.zero_grad(set_to_none=True)  # .grad is None: backward writes (not adds) the gradient
        with autocast():
            losses = objective(x)
        losses["total"].sum().backward()  # a batch: the items' losses add, their gradients stay apart
        _update(opt, x)
        return _stacked(losses)

    while run.step < run.steps:
        _set_lr(opt, run.lr * _cosine(run.step, run.steps) if spec.lr_decay else run.lr)
        if graph is not None and graph.ready_to_capture(run.steps - run.step):
            run.graphed = graph.capture(whole_step)
            if not run.graphed:
                graph = None  # capture failed or disagreed: ordinary steps from here on
        if graph is not None and graph.active:
            run.record(graph.step())  # a replay: forward, backward and update, recorded after
        else:
            with graph.warmup() if graph is not None else contextlib.nullcontext():
                opt.zero_grad(set_to_none=True)
                with autocast():
                    losses = objective(x)
                losses["total"].sum().backward()
                run.record(_stacked(losses))  # may stop the run before this step's update
                _update(opt, x)
        run.applied = run.step
        run.save_checkpoint()


def _lbfgs_loop(run: Run, objective: Objective, autocast: Callable[[], Any]) -> None:
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
    # L-BFGS's curvature history is not checkpointed: a resumed run restarts it from the saved image.
    opt = run.optimizer = torch.optim.LBFGS(
        [run.x], lr=run.lr, max_iter=run.steps, max_eval=run.steps + 1, history_size=50,
        tolerance_grad=0.0, tolerance_change=0.0, line_search_fn="strong_wolfe")
    box_weight: list[float] = []  # set at the first evaluation (one host sync)
    best: list[Any] = []  # [value, pixels] of the best point evaluated so far

    def closure() -> torch.Tensor:
        if run.step >= run.steps:
            raise StopOptimization
        opt.zero_grad(set_to_none=True)
        with autocast():
            losses = objective(run.x)
        total = losses["total"].sum()
        box_weight[:] = box_weight or [BOX_WEIGHT * abs(float(total.detach()))]
        minimised = total + box_weight[0] * box_penalty(run.x)
        minimised.backward()
        value = float(minimised.detach())
        if not best or value < best[0]:
            best[:] = [value, run.x.detach().clone()]
        run.record(_stacked(losses))
        run.applied = run.step
        run.save_checkpoint()
        return minimised

    try:
        while run.step < run.steps:
            before = run.step
            opt.step(closure)
            if run.step == before:  # converged exactly: nothing left to do
                break
    finally:  # also when a callback, Stop or Ctrl-C ends the run
        if best:
            run.x.data.copy_(best[1])


def box_penalty(x: torch.Tensor) -> torch.Tensor:
    """Mean squared distance of the pixels outside [0, 1] to the box (0 inside it)."""
    return ((x - 1).clamp_min(0).pow(2) + (-x).clamp_min(0).pow(2)).mean()


def _cosine(step: int, steps: int) -> float:
    """The learning-rate factor at ``step``: a cosine from 1 down to 0.05."""
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / steps))


def _set_lr(opt: torch.optim.Optimizer, value: float) -> None:
    slot = opt.param_groups[0]["lr"]
    if torch.is_tensor(slot):
        slot.fill_(value)  # in place: a captured graph reads this tensor
    else:
        opt.param_groups[0]["lr"] = value


def _update(opt: torch.optim.Optimizer, x: torch.Tensor) -> None:
    opt.step()
    with torch.no_grad():
        x.clamp_(0, 1)


def _make_adam(x: torch.Tensor, lr: float, use_graphs: bool, resumed: dict | None) -> torch.optim.Adam:
    """Adam on ``x``; for CUDA graphs its learning rate is a device tensor and it is ``capturable``."""
    capturable = use_graphs and x.device.type == "cuda"
    opt = torch.optim.Adam([x], lr=torch.tensor(lr, device=x.device) if use_graphs else lr, capturable=capturable)
    if resumed is not None and resumed.get("optimizer"):
        lr_slot = opt.param_groups[0]["lr"]
        opt.load_state_dict(resumed["optimizer"])
        opt.param_groups[0].update(lr=lr_slot, capturable=capturable)
        if "step" in opt.state[x]:  # a capturable Adam keeps its step count on the device
            opt.state[x]["step"] = opt.state[x]["step"].to(x.device if capturable else "cpu", torch.float32)
    return opt


# ----------------------------------------------------------------------------------------- the entry point
def optimize(objective: Objective, init: torch.Tensor, spec: RunSpec | None = None, *, steps: int = 300,
             **options: Any) -> StyleResult:
    """Optimise the pixels of ``init`` (RGB in [0, 1]) to lower ``objective``.

    ``spec`` is a :class:`~nsthelpers.specs.RunSpec`; keywords override its fields (or build one), e.g.
    ``optimize(objective, photo, steps=100, optimizer="lbfgs")``. ``steps`` counts objective evaluations.

    Adam keeps pixels in [0, 1] after every step and, with ``lr_decay``, follows a cosine schedule
    to 5 % of ``lr``; L-BFGS uses a strong-Wolfe line search and a box penalty that keeps the pixels
    in [0, 1] (the result is still clipped, by at most a hair).
    ``precision="auto"`` runs VGG under bf16 autocast on CUDA (Gram matrices and losses stay fp32).
    ``cuda_graphs="auto"`` records one whole Adam step (forward, backward, update, clipping) as a CUDA
    graph after a few ordinary steps and replays it (one launch per step instead of hundreds); the first
    replay is checked against an ordinary evaluation, and a failed or disagreeing capture warns and goes
    on without graphs. L-BFGS never uses them (its line search decides on the host how many evaluations
    a step takes). With ``checkpoint_path`` the run saves itself every ``checkpoint_every`` steps and
    resumes from an existing file of the same problem.

    The run ends early, keeping the image so far, when the callback returns True or raises
    :class:`StopOptimization`, on KeyboardInterrupt, when the loss stops improving (``stop_below``), or
    when a loss turns non-finite (then the last image with finite losses is returned and ``message``
    names the term).
    """
    spec = dataclasses.replace(spec, **options) if spec is not None else RunSpec(**options)
    if not isinstance(steps, int) or isinstance(steps, bool) or steps <= 0:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    lr = resolve_optimizer(spec.optimizer, spec.lr)
    dtype = resolve_precision(spec.precision, init.device)
    use_graphs = resolve_cuda_graphs(spec.cuda_graphs, spec.optimizer, init.device)
    run = Run(_prepared_pixels(init, objective), steps, spec, lr, _checkpoint_for(spec, init, steps, lr, objective))
    resumed = run.checkpoint.load() if run.checkpoint is not None else None
    if resumed is not None:
        _resume(run, resumed)
    run.last_good = run.x.detach().clone()
    run.offset, run.total = spec.stage_span or (0, steps)
    run.bar = _progress_bar(run.total, run.offset + run.step, last=run.offset + steps >= run.total) if spec.progress else None
    t0 = time.perf_counter()
    _run_loop(run, objective, lambda: _autocast(init.device, dtype), resumed, use_graphs)
    return _result(run, objective, time.perf_counter() - t0, resumed, init)


def _prepared_pixels(init: torch.Tensor, objective: Objective) -> torch.Tensor:
    x = init.detach().clone().clamp_(0, 1)
    if init.device.type == "cuda":
        x = x.contiguous(memory_format=torch.channels_last)
        objective.model.to(memory_format=torch.channels_last)
    return x.requires_grad_(True)


def _checkpoint_for(spec: RunSpec, init: torch.Tensor, steps: int, lr: float,
                    objective: Objective) -> Checkpoint | None:
    if spec.checkpoint_path is None:
        return None
    every = spec.checkpoint_every or max(spec.callback_every, 50)
    fingerprint = {"shape": tuple(init.shape), "steps": steps, "optimizer": spec.optimizer, "lr": lr}
    describe = getattr(objective, "fingerprint", None)  # images and settings that define the picture
    if callable(describe):
        fingerprint.update(describe())
    return Checkpoint(Path(spec.checkpoint_path), every, fingerprint)


def _resume(run: Run, saved: dict) -> None:
    with torch.no_grad():
        run.x.copy_(saved["image"].to(run.x.device))
    run.step = run.applied = saved["step"]
    run.history = {k: list(saved["history"][k]) for k in LOSS_TERMS}


def _run_loop(run: Run, objective: Objective, autocast: Callable[[], Any], resumed: dict | None,
              use_graphs: bool) -> None:
    """Run the chosen loop; turn the ways a run can end early into a stop reason and a message."""
    cudnn_benchmark = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True
    try:
        if run.spec.optimizer == "adam":
            _adam_loop(run, objective, autocast, resumed, use_graphs)
        else:
            _lbfgs_loop(run, objective, autocast)
        with contextlib.suppress(StopOptimization):
            run.flush()
    except StopOptimization:
        if run.stopped == "finished" and run.step < run.steps:
            run.stopped = "callback"
        if run.stopped != "non-finite loss":
            with contextlib.suppress(StopOptimization):
                run.flush()
    except KeyboardInterrupt:
        run.stopped = "interrupted"
        run.message = f"interrupted at step {run.step}; returning the image so far"
        if run.checkpoint is not None:
            run.save_applied()
            if run.checkpoint.failed is None:
                run.message += f" (saved; re-run with the same checkpoint_path to resume from step {run.applied})"
        run.pending.clear()
    finally:
        torch.backends.cudnn.benchmark = cudnn_benchmark
        if run.bar is not None:
            run.bar.close()


def _result(run: Run, objective: Objective, elapsed: float, resumed: dict | None, init: torch.Tensor) -> StyleResult:
    """The returned picture (finite, clipped, on the CPU), scored once more so the numbers describe it."""
    picture = run.last_good if run.stopped == "non-finite loss" else run.x.detach()
    assert picture is not None
    picture = torch.nan_to_num(picture.float(), nan=0.0).clamp(0, 1).cpu().contiguous()
    new_steps = run.step - (resumed["step"] if resumed is not None else 0)
    timings = {"optimize_s": elapsed, "ms_per_step": 1000 * elapsed / max(new_steps, 1)}
    result = StyleResult(picture, run.history, run.step, timings, run.stopped, run.message)
    if run.stopped != "non-finite loss":
        # L-BFGS's best point can lie slightly outside [0, 1]: score the picture actually returned.
        with torch.no_grad():
            terms = objective(picture.to(init.device, init.dtype))
        result.final = {k: terms[k].tolist() for k in LOSS_TERMS}  # floats; for a batch, one per item
    result.settings["cuda_graphs"] = run.graphed
    if resumed is not None:
        result.settings["resumed_from_step"] = resumed["step"]
    return result


def _progress_bar(steps: int, initial: int = 0, last: bool = True) -> Any:
    """A tqdm bar; one that an earlier stage's bar continues (``last=False``) is cleared when it closes."""
    from tqdm.auto import tqdm

    return tqdm(total=steps, initial=initial, desc="stylize", unit="step", leave=last)


# ----------------------------------------------------------------------------------------- CUDA graphs
class CudaGraphBackend:
    """Records a step function once as a CUDA graph; each replay re-runs its kernels on the same memory."""

    def __init__(self) -> None:
        self.stream = torch.cuda.Stream()

    @contextlib.contextmanager
    def warmup(self) -> Any:
        """Run steps before capture on a side stream, as PyTorch's CUDA-graph recipe requires."""
        self.stream.wait_stream(torch.cuda.current_stream())
        try:
            with torch.cuda.stream(self.stream):
                yield
        finally:  # also when a callback stops the run during a warm-up step
            torch.cuda.current_stream().wait_stream(self.stream)

    def capture(self, fn: Callable[[], torch.Tensor]) -> tuple[Callable[[], None], torch.Tensor]:
        """Record ``fn`` (nothing runs yet); return the replay function and ``fn``'s output tensor."""
        graph = torch.cuda.CUDAGraph()
        # thread_local: a notebook's main thread may use CUDA while a LiveRun's worker thread captures
        with torch.cuda.graph(graph, capture_error_mode="thread_local"):
            out = fn()
        return graph.replay, out


# Devices on which a capture raised: later runs in this process skip the attempt (and its warning).
_CAPTURE_FAILED: set[str] = set()


def _graph_backend(device: torch.device) -> CudaGraphBackend:
    return CudaGraphBackend()


class _AdamGraph:
    """Adam's step as a CUDA graph: warm-up steps on a side stream, one checked capture, then replays."""

    def __init__(self, opt: torch.optim.Optimizer, x: torch.Tensor, objective: Objective,
                 autocast: Callable[[], Any]) -> None:
        self.backend = _graph_backend(x.device)
        self.opt, self.x, self.objective, self.autocast = opt, x, objective, autocast
        self.warmup_left = GRAPH_WARMUP_STEPS
        self.replay: Callable[[], torch.Tensor] | None = None
        self.first: torch.Tensor | None = None  # the checking replay's terms: that replay already updated x

    @property
    def active(self) -> bool:
        return self.replay is not None

    def ready_to_capture(self, steps_left: int) -> bool:
        return self.replay is None and self.warmup_left <= 0 and steps_left > 1

    @contextlib.contextmanager
    def warmup(self) -> Any:
        with self.backend.warmup():
            yield
        self.warmup_left -= 1

    def capture(self, whole_step: Callable[[], torch.Tensor]) -> bool:
        """Record and check the step; False (after a warning) when it cannot be used."""
        self.replay, self.first = _capture_step(self.backend, whole_step, self.x, self.opt, self.objective,
                                                self.autocast)
        return self.replay is not None

    def step(self) -> torch.Tensor:
        if self.first is not None:
            terms, self.first = self.first, None
            return terms
        assert self.replay is not None
        return self.replay()


def _capture_step(backend: Any, whole_step: Callable[[], torch.Tensor], x: torch.Tensor,
                  opt: torch.optim.Optimizer, objective: Objective, autocast: Callable[[], Any],
                  ) -> tuple[Callable[[], torch.Tensor] | None, torch.Tensor | None]:
    """Capture ``whole_step`` and replay it once, checked against an ordinary evaluation at the same image.

    Returns ``(replay, first)``: ``replay()`` runs one step and returns a copy of its loss terms, and
    ``first`` holds the terms of the checking replay, which already updated ``x``. If capture fails or
    the replayed loss disagrees, ``x`` and the optimiser state are restored, a warning says why, and
    ``(None, None)`` is returned.
    """
    saved_x = x.detach().clone()
    saved_state = {k: v.clone() if torch.is_tensor(v) else v for k, v in opt.state[x].items()}
    try:
        run, out = backend.capture(whole_step)
        with torch.no_grad(), autocast():
            expected = objective(x)["total"].detach().float()
        run()
        agree = torch.isfinite(out).all() & torch.isclose(out[0], expected, rtol=1e-2, atol=1e-6).all()
        reason = None if bool(agree) else (f"the replayed loss {float(out[0].sum()):.6g} differs from an "
                                           f"ordinary evaluation ({float(expected.sum()):.6g})")
    except Exception as exc:  # capture unsupported here: keep going without graphs
        reason = f"capture failed ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        _CAPTURE_FAILED.add(str(x.device))
        reason += "; later runs in this process will not try again"
    if reason is not None:
        with torch.no_grad():
            x.copy_(saved_x)
        opt.state[x].update(saved_state)
        opt.zero_grad(set_to_none=True)
        warnings.warn(f"CUDA graphs not used: {reason}; continuing with ordinary steps "
                      "(pass cuda_graphs=False to skip the attempt)", RuntimeWarning, stacklevel=4)
        return None, None

    def replay() -> torch.Tensor:
        run()
        return out.clone()  # the graph overwrites ``out`` at the next replay

    return replay, out.clone()
