"""Memory: estimate what a run needs before starting it, and turn out-of-memory into advice."""
from __future__ import annotations

import math
from typing import Sequence

import torch

from .images import long_side_hw
from .vgg import deepest_layer, layer_index, layer_table


class OutOfMemory(MemoryError):
    """A run does not fit; ``suggested_size`` is a longer side in pixels that should."""

    def __init__(self, message: str, suggested_size: int):
        super().__init__(message)
        self.suggested_size = suggested_size


def estimate_bytes(hw: tuple[int, int], layers: Sequence[str], *, bytes_per_value: int = 4) -> int:
    """Rough peak memory of one optimisation step at image size ``hw``.

    Autograd keeps every activation up to the deepest layer (conv outputs and ReLU outputs), the
    backward pass needs about as much again, and the model weights up to that layer are resident.
    """
    last = layer_index(deepest_layer(layers))
    rows = layer_table(hw)[: last + 1]
    activations = sum(math.prod(r.out_shape) for r in rows)
    params = sum(r.params for r in rows)
    return int(bytes_per_value * (3 * activations + params) + 64 * 2**20)


def available_bytes(device: torch.device) -> int | None:
    """Free memory on ``device`` (CUDA: free device memory; CPU: MemAvailable on Linux), or None."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    if device.type == "cpu":
        try:
            with open("/proc/meminfo") as f:
                for line in f:
                    if line.startswith("MemAvailable:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            return None
    return None


def size_that_fits(hw: tuple[int, int], layers: Sequence[str], budget: int) -> int:
    """The largest longer side (multiple of 16, ≥ 16) whose estimate fits in ``budget`` bytes."""
    h, w = hw
    side = max(h, w)
    while side > 16:
        if estimate_bytes(long_side_hw(h, w, side), layers) <= budget:
            break
        side = max(16, int(side * 0.9) // 16 * 16)
    return side


def check_fits(hw: tuple[int, int], layers: Sequence[str], device: torch.device, *, headroom: float = 0.9) -> None:
    """Raise :class:`OutOfMemory` before any work if the estimate exceeds what ``device`` has free."""
    free = available_bytes(device)
    if free is None:
        return
    need = estimate_bytes(hw, layers)
    if need > headroom * free:
        fit = size_that_fits(hw, layers, int(headroom * free))
        raise OutOfMemory(
            f"a {hw[0]}×{hw[1]} image needs about {need / 2**30:.1f} GiB on {device.type}, but only "
            f"{free / 2**30:.1f} GiB is free. Use size={fit} (or smaller), or auto_downsize=True, "
            "or fewer/shallower layers.", fit)


def is_oom(exc: BaseException) -> bool:
    """True for CUDA/MPS/CPU allocation failures raised by torch."""
    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def free_cached(device: torch.device) -> None:
    """Return cached blocks to the driver after an OOM so a smaller retry can succeed."""
    if device.type == "cuda":
        torch.cuda.empty_cache()

