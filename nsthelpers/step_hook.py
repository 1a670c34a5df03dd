"""What a fast or a long run adds around the loop's steps: precision, CUDA graphs and checkpoints, in one hook.

The loops in :mod:`nsthelpers.loop` are notebook 05's loop. Everything a run on a GPU, or a long run, needs
beyond it sits in one object, :class:`StepHook`, which the loops call in three places:

* ``hook.start(optimizer, progress)``, once the optimiser exists: Adam's state from a checkpoint being resumed, and,
  when the step will be a CUDA graph, a ``capturable`` Adam whose learning rate lives in a device tensor;
* ``hook.step(fn)``, for each Adam step: ``fn()`` itself (zero the gradient, evaluate, step, clamp); or, with
  CUDA graphs, a few calls of ``fn`` on a side stream, one checked recording of it, and then replays of the
  recording (one launch per step instead of hundreds);
* ``hook.after(progress)``, after a step's losses are booked: a checkpoint every ``checkpoint_every`` steps.

Before the loop, :meth:`StepHook.pixels` puts the image (and VGG) in channels_last on CUDA,
:meth:`StepHook.forward` runs the objective under bf16 autocast when the precision asks for it, and
``with hook:`` turns on cuDNN's autotuner for the run. After a Ctrl-C, :meth:`StepHook.interrupted` saves the
work so far.
"""
from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from typing import Any, Callable, Literal, Protocol

import torch

from .checkpoint import Checkpoint
from .specs import RunSpec

__all__ = ["GRAPH_WARMUP_STEPS", "StepHook", "resolve_cuda_graphs", "resolve_precision"]

GRAPH_WARMUP_STEPS = 3  # ordinary steps before capture (cuDNN autotuning, lazy initialisation, Adam's state)
Losses = dict[str, torch.Tensor]
NonFinite = Literal["non-finite loss"]  # what a copy of the losses to the host can find


class ProgressView(Protocol):
    """What the hook reads of :class:`nsthelpers.loop.Progress`: the pixels, where the run stands, its history."""

    x: torch.Tensor
    step: int
    steps: int
    history: dict[str, list[float]]

    def flush(self) -> NonFinite | None: ...


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for a (checked) precision choice: ``"auto"`` is bf16 on CUDA, fp32 elsewhere."""
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return None


def resolve_cuda_graphs(cuda_graphs: bool | str, optimizer: str, device: torch.device) -> bool:
    """Whether a run records its step as a CUDA graph: ``"auto"`` means Adam on a CUDA device.

    The choice itself is checked by :class:`~nsthelpers.specs.RunSpec`; this refuses ``True`` where graphs
    cannot work, which only the device can tell."""
    possible = optimizer == "adam" and device.type == "cuda" and hasattr(torch.cuda, "CUDAGraph")
    if cuda_graphs is True and not possible:
        raise ValueError(
            f"cuda_graphs=True needs optimizer='adam' on a CUDA device (got optimizer={optimizer!r} on "
            f"{device.type}); use cuda_graphs='auto' to use them only where they work"
        )
    return bool(cuda_graphs) and possible


class StepHook:
    """Precision, CUDA graphs and checkpoints around the steps of one run (see the module's docstring)."""

    def __init__(self, device: torch.device, dtype: torch.dtype | None = None, graphs: bool = False,
                 checkpoint: Checkpoint | None = None) -> None:
        self.device, self.dtype, self.checkpoint = device, dtype, checkpoint
        self.graphs = graphs and str(device) not in _CAPTURE_FAILED
        self.graphed = False  # whether the run's steps were replays of a recorded graph
        self.resumed_from: int | None = None
        self.saved_optimizer: dict | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.progress: ProgressView | None = None
        self.graph: _Graph | None = None
        self._forward: Callable[[torch.Tensor], Losses] | None = None
        self._benchmark: list[bool] = []

    @classmethod
    def for_run(cls, spec: RunSpec, init: torch.Tensor, steps: int, lr: float, objective: Any) -> StepHook:
        """The hook a run of ``spec`` needs on ``init``'s device."""
        dtype = resolve_precision(spec.precision, init.device)
        graphs = resolve_cuda_graphs(spec.cuda_graphs, spec.optimizer, init.device)
        return cls(init.device, dtype, graphs, _checkpoint_for(spec, init, steps, lr, objective))

    # ------------------------------------------------------------------------ before the loop
    def pixels(self, init: torch.Tensor, objective: Any) -> torch.Tensor:
        """The pixels to optimise: a clipped copy of ``init`` that requires grad; channels_last on CUDA."""
        x = init.detach().clone().clamp_(0, 1)
        if init.device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
            objective.model.to(memory_format=torch.channels_last)
        return x.requires_grad_(True)

    def forward(self, objective: Callable[[torch.Tensor], Losses]) -> Callable[[torch.Tensor], Losses]:
        """``objective``, run under bf16 autocast when the precision asks for it (Gram matrices stay fp32)."""
        dtype, device_type = self.dtype, self.device.type

        def autocast_forward(x: torch.Tensor) -> Losses:
            # cache_enabled=False: autocast's weight cache must not outlive a CUDA-graph capture
            with torch.autocast(device_type, dtype=dtype, cache_enabled=False):
                return objective(x)

        self._forward = objective if dtype is None else autocast_forward
        return self._forward

    def resume(self, progress: ProgressView) -> int | None:
        """Load a saved state of this run (image, step, history) into ``progress``; the step it resumes from."""
        saved = self.checkpoint.load() if self.checkpoint is not None else None
        if saved is None:
            return None
        with torch.no_grad():
            progress.x.copy_(saved["image"].to(progress.x.device))
        progress.step = saved["step"]
        progress.history = {k: list(saved["history"][k]) for k in progress.history}
        self.saved_optimizer, self.resumed_from = saved.get("optimizer"), saved["step"]
        return self.resumed_from

    def __enter__(self) -> StepHook:
        self._benchmark.append(torch.backends.cudnn.benchmark)
        torch.backends.cudnn.benchmark = True  # cuDNN tries its convolution algorithms once per shape
        return self

    def __exit__(self, *exc: object) -> None:
        torch.backends.cudnn.benchmark = self._benchmark.pop()

    # ------------------------------------------------------------------------ the three calls of the loops
    def start(self, optimizer: torch.optim.Optimizer, progress: ProgressView) -> None:
        """Once the optimiser exists: give Adam its saved state and what a CUDA graph needs."""
        self.optimizer, self.progress = optimizer, progress
        if not isinstance(optimizer, torch.optim.Adam):
            return  # L-BFGS's curvature history is not saved: a resumed run restarts it from the saved image
        capturable = self.graphs and progress.x.device.type == "cuda"
        optimizer.param_groups[0]["capturable"] = capturable  # its step count stays on the device
        if self.saved_optimizer:
            lr = optimizer.param_groups[0]["lr"]
            optimizer.load_state_dict(self.saved_optimizer)
            optimizer.param_groups[0].update(lr=lr, capturable=capturable)
            state = optimizer.state[progress.x]
            if "step" in state:
                state["step"] = state["step"].to(progress.x.device if capturable else "cpu", torch.float32)
        if self.graphs:
            assert self._forward is not None, "call hook.forward(objective) before the loop"
            self.graph = _Graph(optimizer, progress.x, self._forward)

    def step(self, fn: Callable[[], Losses]) -> Losses:
        """One step: ``fn()``, or with CUDA graphs a warm-up call, the checked capture, or a replay."""
        if self.graph is None:
            return fn()
        assert self.progress is not None
        losses = self.graph.step(fn, steps_left=self.progress.steps - self.progress.step)
        self.graphed = self.graph.replay is not None
        return losses

    def after(self, progress: ProgressView) -> NonFinite | None:
        """After a booked step: every ``checkpoint.every`` steps copy the losses to the host and save the run.
        Returns the stop reason the copy found (a non-finite loss), else None."""
        if self.checkpoint is None or progress.step % self.checkpoint.every:
            return None
        stop = progress.flush()
        if stop is None:
            self.checkpoint.save(progress.x, progress.step, progress.history, self._optimizer_state())
        return stop

    def interrupted(self, progress: ProgressView) -> str:
        """After Ctrl-C: save the work so far, if the run has a checkpoint; the words to add to the message."""
        if self.checkpoint is None:
            return ""
        progress.flush()
        self.checkpoint.save(progress.x, progress.step, progress.history, self._optimizer_state())
        if self.checkpoint.failed is not None:
            return ""
        return f" (saved; re-run with the same checkpoint_path to resume from step {progress.step})"

    def settings(self) -> dict[str, Any]:
        """What the run's result records of the hook: whether CUDA graphs were used; the step it resumed from."""
        resumed = {} if self.resumed_from is None else {"resumed_from_step": self.resumed_from}
        return {"cuda_graphs": self.graphed, **resumed}

    def _optimizer_state(self) -> dict | None:
        return self.optimizer.state_dict() if isinstance(self.optimizer, torch.optim.Adam) else None


def _checkpoint_for(spec: RunSpec, init: torch.Tensor, steps: int, lr: float, objective: Any) -> Checkpoint | None:
    if spec.checkpoint_path is None:
        return None
    every = spec.checkpoint_every or max(spec.callback_every, 50)
    fingerprint = {"shape": tuple(init.shape), "steps": steps, "optimizer": spec.optimizer, "lr": lr}
    describe = getattr(objective, "fingerprint", None)  # images and settings that define the picture
    if callable(describe):
        fingerprint.update(describe())
    return Checkpoint(Path(spec.checkpoint_path), every, fingerprint)


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


class _Graph:
    """Adam's step as a CUDA graph: warm-up steps on a side stream, one checked capture, then replays.

    A captured graph reads the learning rate from one device tensor, so each step copies the rate the loop
    set into it. If the capture fails or its first replay disagrees with an ordinary evaluation, the image
    and Adam's state are restored, a warning says why, and the run goes on with ordinary steps."""

    def __init__(self, opt: torch.optim.Optimizer, x: torch.Tensor, forward: Callable[[torch.Tensor], Losses]) -> None:
        self.backend = _graph_backend(x.device)
        self.opt, self.x, self.forward = opt, x, forward
        self.lr = torch.tensor(float(opt.param_groups[0]["lr"]), device=x.device)
        self.warmup_left = GRAPH_WARMUP_STEPS
        self.failed = False
        self.replay: Callable[[], None] | None = None
        self.out: torch.Tensor | None = None     # the graph's output: the stacked loss terms, overwritten by replays
        self.first: Losses | None = None         # the checking replay's terms: that replay already made its step
        self.names: list[str] = []

    def step(self, fn: Callable[[], Losses], steps_left: int) -> Losses:
        group = self.opt.param_groups[0]
        if not torch.is_tensor(group["lr"]):
            self.lr.fill_(group["lr"])  # in place: a captured graph reads this tensor
            group["lr"] = self.lr
        if self.replay is None and not self.failed and self.warmup_left <= 0 and steps_left > 1:
            self._capture(fn)
        if self.first is not None:
            first, self.first = self.first, None
            return first
        if self.replay is not None:
            assert self.out is not None
            self.replay()
            return dict(zip(self.names, self.out.clone()))  # a copy: the next replay overwrites the output
        if self.failed:
            return fn()
        with self.backend.warmup():
            losses = fn()
        self.warmup_left -= 1
        return losses

    def _stacked(self, fn: Callable[[], Losses]) -> torch.Tensor:
        losses = fn()
        self.names = list(losses)
        return torch.stack([losses[k].detach().float() for k in self.names])

    def _capture(self, fn: Callable[[], Losses]) -> None:
        """Capture ``fn`` and replay it once, checked against an ordinary evaluation at the same image."""
        x, opt = self.x, self.opt
        saved_x = x.detach().clone()
        saved_state = {k: v.clone() if torch.is_tensor(v) else v for k, v in opt.state[x].items()}
        try:
            replay, out = self.backend.capture(lambda: self._stacked(fn))
            with torch.no_grad():
                expected = self.forward(x)["total"].detach().float()
            replay()
            total = out[self.names.index("total")]
            agree = torch.isfinite(out).all() & torch.isclose(total, expected, rtol=1e-2, atol=1e-6).all()
            reason = None if bool(agree) else (f"the replayed loss {float(total.sum()):.6g} differs from an "
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
            self.failed = True
            warnings.warn(f"CUDA graphs not used: {reason}; continuing with ordinary steps "
                          "(pass cuda_graphs=False to skip the attempt)", RuntimeWarning, stacklevel=5)
            return
        self.replay, self.out = replay, out
        self.first = dict(zip(self.names, out.clone()))
