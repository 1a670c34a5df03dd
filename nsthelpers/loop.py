"""Running Adam or L-BFGS on the pixels of an image against an :class:`~nsthelpers.objective.Objective`.

Records the loss history without a host sync per step (losses are copied every ``callback_every``
steps), calls a callback, stops cleanly on request, on Ctrl-C or on a non-finite loss, and can
checkpoint a long run so that an interrupted one resumes where it stopped.
"""
from __future__ import annotations

import contextlib
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from .images import save_image
from .objective import Objective

OPTIMIZERS = ("adam", "lbfgs")
PRECISIONS = ("auto", "fp32", "bf16")
# Adam's lr is for pixels in [0, 1] with a cosine decay to 5 %. Measured on CPU at 128² (caffe weights, time to
# the seed-003 reference loop's 200-step loss): lr 0.05 reached it in 35 steps (×4.5 faster than the reference),
# lr 0.02 in 60 (×2.5), L-BFGS in 35 (×4.2); lr 0.1 gave visibly grainier pictures. At 256² (`make bench`):
# lr 0.05 reached the reference's 200-step loss in 35 steps, ×5.0–6.1 faster in wall time over two runs (×5.1–6.2 in CPU time).
DEFAULT_LR = {"adam": 0.05, "lbfgs": 1.0}
LOSS_TERMS = ("total", "content", "style", "tv")
CHECKPOINT_FORMAT = "nsthelpers-checkpoint"


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
    stopped: str = "finished"  # "finished" | "callback" | "interrupted" | "non-finite loss"
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
    return lr


def optimize(
    objective: Objective,
    init: torch.Tensor,
    *,
    steps: int = 300,
    optimizer: str = "adam",
    lr: float | None = None,
    lr_decay: bool = True,
    precision: str = "auto",
    cuda_graphs: bool | str = "auto",
    callback: Callable[[StepInfo], bool | None] | None = None,
    callback_every: int = 10,
    checkpoint_path: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    progress: bool = False,
) -> StyleResult:
    """Optimise the pixels of ``init`` (RGB in [0, 1]) to lower ``objective``.

    Adam keeps pixels in [0, 1] after every step and, with ``lr_decay``, follows a cosine schedule
    to 5 % of ``lr``; L-BFGS uses a strong-Wolfe line search and the result is clipped at the end.
    One "step" is one objective evaluation (L-BFGS's line search counts its evaluations).

    ``precision="auto"`` runs VGG under bf16 autocast on CUDA (Gram matrices and losses stay fp32)
    and in fp32 elsewhere; ``"fp32"`` forces full precision, ``"bf16"`` forces autocast.

    ``cuda_graphs="auto"`` records one whole Adam step (forward, backward, update, clipping) as a
    CUDA graph after a few ordinary steps and replays it: one launch per step instead of hundreds,
    which is what limits small images on a fast GPU. The first replay is checked against an
    ordinary evaluation; if capture fails or disagrees, the run warns and goes on without graphs.
    ``False`` never uses them; ``True`` requires them (Adam on CUDA). L-BFGS never uses them (its
    line search decides on the host how many evaluations a step takes).

    With ``checkpoint_path``, the image, step, loss history and optimiser state are written there
    (atomically) every ``checkpoint_every`` steps; if the file already exists for this problem,
    the run resumes from it.

    The run ends early, keeping the image so far, when the callback returns True or raises
    :class:`StopOptimization`, on KeyboardInterrupt, or when a loss turns non-finite (then the last
    image with finite losses is returned and ``message`` names the term).
    """
    if not isinstance(steps, int) or isinstance(steps, bool) or steps <= 0:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    lr = resolve_optimizer(optimizer, lr)
    if callback_every <= 0:
        raise ValueError(f"callback_every must be ≥ 1, got {callback_every}")
    if checkpoint_every is not None and checkpoint_every <= 0:
        raise ValueError(f"checkpoint_every must be ≥ 1, got {checkpoint_every}")
    autocast_dtype = resolve_precision(precision, init.device)
    use_graphs = resolve_cuda_graphs(cuda_graphs, optimizer, init.device)
    checkpoint = Path(checkpoint_path) if checkpoint_path is not None else None
    if checkpoint is not None and checkpoint_every is None:
        checkpoint_every = max(callback_every, 50)

    x = init.detach().clone().clamp_(0, 1)
    if init.device.type == "cuda":
        x = x.contiguous(memory_format=torch.channels_last)
        objective.model.to(memory_format=torch.channels_last)
    x.requires_grad_(True)
    history: dict[str, list[float]] = {k: [] for k in LOSS_TERMS}
    pending: list[torch.Tensor] = []  # stacked loss terms not yet copied to the host
    # "completed": optimiser updates applied to x (Adam: one per step; L-BFGS: x is always current)
    state = {"step": 0, "completed": 0, "last_good": x.detach().clone(), "stop": "finished", "message": "",
             "opt": None, "graphed": False}
    fingerprint = {"shape": tuple(x.shape), "steps": steps, "optimizer": optimizer, "lr": lr}
    resumed = _load_checkpoint(checkpoint, fingerprint) if checkpoint is not None else None
    if resumed is not None:
        with torch.no_grad():
            x.copy_(resumed["image"].to(x.device))
        state["step"] = state["completed"] = resumed["step"]
        for k in LOSS_TERMS:
            history[k] = list(resumed["history"][k])
        state["last_good"] = x.detach().clone()
    bar = _progress_bar(steps, state["step"]) if progress else None

    def flush() -> None:
        """Copy pending losses to the host (one sync), check they are finite, remember a good image."""
        if not pending:
            return
        values = torch.stack(pending).cpu().tolist()
        pending.clear()
        for row in values:
            for k, v in zip(LOSS_TERMS, row):
                history[k].append(v)
        first_bad = next((i for i, row in enumerate(values) if not all(map(math.isfinite, row))), None)
        if first_bad is not None:
            row = values[first_bad]
            terms = [k for k, v in zip(LOSS_TERMS, row) if k != "total" and not math.isfinite(v)] or ["total"]
            step = state["step"] - len(values) + first_bad + 1
            state["stop"] = "non-finite loss"
            state["message"] = (
                f"the {' and '.join(terms)} loss became non-finite at step {step}; likely causes: a learning "
                f"rate too high (lr={lr}), extreme loss weights, or a broken input image. "
                "Returned the last image whose losses were finite."
            )
            raise StopOptimization
        state["last_good"] = x.detach().clone()
        if bar is not None:
            bar.n = state["step"]
            bar.set_postfix({k: f"{history[k][-1]:.3g}" for k in LOSS_TERMS}, refresh=False)
            bar.refresh()

    def autocast():
        # cache_enabled=False: autocast's weight cache must not outlive a CUDA-graph capture
        return (torch.autocast(x.device.type, dtype=autocast_dtype, cache_enabled=False) if autocast_dtype
                else contextlib.nullcontext())

    def record(terms: torch.Tensor) -> None:
        """Book one evaluation (its stacked loss terms, still on the device); flush and call back every N."""
        state["step"] += 1
        pending.append(terms)
        step = state["step"]
        if step % callback_every == 0 or step == steps:
            flush()
            if callback is not None:
                info = StepInfo(step, steps, {k: history[k][-1] for k in LOSS_TERMS}, x.detach().clamp(0, 1))
                if callback(info):
                    state["stop"] = "callback"
                    raise StopOptimization

    def forward_backward() -> dict[str, torch.Tensor]:
        with autocast():
            losses = objective(x)
        losses["total"].backward()
        return losses

    def stacked(losses: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.stack([losses[k].detach().float() for k in LOSS_TERMS])

    def evaluate() -> torch.Tensor:
        if state["step"] >= steps:
            raise StopOptimization
        losses = forward_backward()
        record(stacked(losses))
        return losses["total"]

    def save_checkpoint(opt_state: dict | None) -> None:
        flush()
        _save_checkpoint(checkpoint, fingerprint, x.detach(), state["step"], history, opt_state)

    t0 = time.perf_counter()
    cudnn_benchmark = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True
    try:
        if optimizer == "adam":
            capturable = use_graphs and x.device.type == "cuda"
            opt = state["opt"] = torch.optim.Adam(
                [x], lr=torch.tensor(lr, device=x.device) if use_graphs else lr, capturable=capturable)
            lr_slot = opt.param_groups[0]["lr"]
            if resumed is not None and resumed.get("optimizer"):
                opt.load_state_dict(resumed["optimizer"])
                opt.param_groups[0].update(lr=lr_slot, capturable=capturable)
                if "step" in opt.state[x]:  # a capturable Adam keeps its step count on the device
                    opt.state[x]["step"] = opt.state[x]["step"].to(x.device if capturable else "cpu", torch.float32)

            def set_lr(step: int) -> None:
                value = lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / steps))) if lr_decay else lr
                if torch.is_tensor(lr_slot):
                    lr_slot.fill_(value)  # in place: a captured graph reads this tensor
                else:
                    opt.param_groups[0]["lr"] = value

            def update() -> None:
                opt.step()
                with torch.no_grad():
                    x.clamp_(0, 1)

            def whole_step() -> torch.Tensor:
                """One step with no host sync and no Python-side state: what a CUDA graph records."""
                # .grad is None here, so backward writes (not adds) the gradient: a replay starts afresh
                opt.zero_grad(set_to_none=True)
                terms = stacked(forward_backward())
                update()
                return terms

            backend = _graph_backend(x.device) if use_graphs and str(x.device) not in _CAPTURE_FAILED else None
            warmup_left = GRAPH_WARMUP_STEPS
            replay, first = None, None
            while state["step"] < steps:
                set_lr(state["step"])
                if backend is not None and replay is None and warmup_left <= 0 and steps - state["step"] > 1:
                    replay, first = _capture_step(backend, whole_step, x, opt, objective, autocast)
                    if replay is None:
                        backend = None  # capture failed or disagreed: ordinary steps from here on
                    else:
                        state["graphed"] = True
                if first is not None:  # the checking replay was this step's update
                    terms, first = first, None
                    record(terms)
                elif replay is not None:
                    record(replay())
                else:
                    with backend.warmup() if backend is not None else contextlib.nullcontext():
                        opt.zero_grad(set_to_none=True)
                        evaluate()  # records (and may stop) before the update, unlike a replay
                        update()
                    warmup_left -= 1
                state["completed"] = state["step"]
                if checkpoint is not None and state["step"] % checkpoint_every == 0:
                    save_checkpoint(opt.state_dict())
        else:
            # L-BFGS's curvature history is not checkpointed: a resumed run restarts it from the saved image.
            opt = torch.optim.LBFGS([x], lr=lr, max_iter=steps, max_eval=steps + 1, history_size=50,
                                    tolerance_grad=0.0, tolerance_change=0.0, line_search_fn="strong_wolfe")

            def closure() -> torch.Tensor:
                opt.zero_grad(set_to_none=True)
                loss = evaluate()
                state["completed"] = state["step"]
                if checkpoint is not None and state["step"] % checkpoint_every == 0:
                    save_checkpoint(None)
                return loss

            while state["step"] < steps:
                before = state["step"]
                opt.step(closure)
                if state["step"] == before:  # converged exactly: nothing left to do
                    break
        with contextlib.suppress(StopOptimization):
            flush()
    except StopOptimization:
        if state["stop"] == "finished" and state["step"] < steps:
            state["stop"] = "callback"
        if state["stop"] != "non-finite loss":
            with contextlib.suppress(StopOptimization):
                flush()
    except KeyboardInterrupt:
        state["stop"] = "interrupted"
        state["message"] = f"interrupted at step {state['step']}; returning the image so far"
        if checkpoint is not None:
            # Save the work up to the last applied update, so nothing is lost.
            with contextlib.suppress(StopOptimization):
                flush()
            pending.clear()
            done = state["completed"]
            trimmed = {k: v[:done] for k, v in history.items()}
            opt_state = state["opt"].state_dict() if state["opt"] is not None else None
            _save_checkpoint(checkpoint, fingerprint, x.detach(), done, trimmed, opt_state)
            state["message"] += f" (saved; re-run with the same checkpoint_path to resume from step {done})"
        pending.clear()
    finally:
        torch.backends.cudnn.benchmark = cudnn_benchmark
        if bar is not None:
            bar.close()
    elapsed = time.perf_counter() - t0

    final = state["last_good"] if state["stop"] == "non-finite loss" else x.detach()
    final = torch.nan_to_num(final.float(), nan=0.0).clamp(0, 1).cpu().contiguous()
    done = state["step"]
    new_steps = done - (resumed["step"] if resumed is not None else 0)
    timings = {"optimize_s": elapsed, "ms_per_step": 1000 * elapsed / max(new_steps, 1)}
    result = StyleResult(final, history, done, timings, state["stop"], state["message"])
    if state["stop"] != "non-finite loss":
        # The history holds losses of the points the optimiser evaluated; L-BFGS's last point can lie
        # outside [0, 1]. Score the picture actually returned, so reported numbers describe it.
        with torch.no_grad():
            terms = objective(final.to(init.device, init.dtype))
        result.final = {k: float(terms[k]) for k in LOSS_TERMS}
    result.settings["cuda_graphs"] = state["graphed"]
    if resumed is not None:
        result.settings["resumed_from_step"] = resumed["step"]
    return result


GRAPH_WARMUP_STEPS = 3  # ordinary steps before capture (cuDNN autotuning, lazy initialisation, Adam's state)


class CudaGraphBackend:
    """Records a step function once as a CUDA graph; each replay re-runs its kernels on the same memory."""

    def __init__(self) -> None:
        self.stream = torch.cuda.Stream()

    @contextlib.contextmanager
    def warmup(self):
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


def _capture_step(backend, whole_step: Callable[[], torch.Tensor], x: torch.Tensor, opt: torch.optim.Optimizer,
                  objective: Objective, autocast: Callable) -> tuple[Callable[[], torch.Tensor] | None, torch.Tensor | None]:
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
        agree = torch.isfinite(out).all() & torch.isclose(out[0], expected, rtol=1e-2, atol=1e-6)
        reason = None if bool(agree) else (f"the replayed loss {float(out[0]):.6g} differs from an ordinary "
                                           f"evaluation ({float(expected):.6g})")
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
                      "(pass cuda_graphs=False to skip the attempt)", RuntimeWarning, stacklevel=3)
        return None, None

    def replay() -> torch.Tensor:
        run()
        return out.clone()  # the graph overwrites ``out`` at the next replay

    return replay, out.clone()


def _progress_bar(steps: int, initial: int = 0):
    from tqdm.auto import tqdm

    return tqdm(total=steps, initial=initial, desc="stylize", unit="step")


def _save_checkpoint(path: Path, fingerprint: dict, image: torch.Tensor, step: int,
                     history: dict[str, list[float]], opt_state: dict | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": CHECKPOINT_FORMAT, "fingerprint": fingerprint, "image": image.cpu().contiguous(),
               "step": step, "history": history, "optimizer": opt_state}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def _load_checkpoint(path: Path, fingerprint: dict) -> dict | None:
    if not path.exists():
        return None
    try:
        data = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise ValueError(f"checkpoint {path} is unreadable ({type(exc).__name__}); delete it to start afresh") from None
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not an nsthelpers checkpoint; choose another checkpoint_path")
    if data["fingerprint"] != fingerprint:
        raise ValueError(
            f"checkpoint {path} belongs to another run ({data['fingerprint']}, this one is {fingerprint}); "
            "delete it or choose another checkpoint_path"
        )
    return data
