"""Peak memory of a block of code: ``with PeakMemory(device) as m: ...`` → ``m.peak_bytes``.

CUDA: ``torch.cuda.max_memory_allocated`` over ``memory_allocated`` at the start (tensors only: the
allocator's cache and the CUDA context are not counted). CPU (Linux): the process's peak resident set
size (VmHWM), reset at the start through ``/proc/self/clear_refs``, minus the RSS at the start; elsewhere
the growth of ``ru_maxrss`` (a lower bound: only a new process-wide peak counts). Shared by
``benchmarks/bench.py`` and the notebooks.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import sys
from pathlib import Path

import torch

from .speed import sync


def _proc_status() -> dict[str, int]:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmHWM:", "VmRSS:")):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0]) * 1024  # kB → bytes
    return out


def _reset_hwm() -> bool:
    """Reset this process's peak-RSS mark (Linux ≥ 4.0: write 5 to /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _malloc_trim() -> None:
    """Give freed heap memory back to the OS (glibc), so the next run's peak is not hidden in it."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)


def memory_method(dev: torch.device) -> str:
    """One sentence saying how :class:`PeakMemory` measures on ``dev``."""
    if dev.type == "cuda":
        return "torch.cuda.max_memory_allocated minus memory_allocated at the start (weights and inputs excluded)"
    if dev.type == "cpu":
        if Path("/proc/self/clear_refs").exists() and _reset_hwm():
            return ("process peak RSS (VmHWM, reset through /proc/self/clear_refs after malloc_trim) minus RSS "
                    "at the start (weights and inputs excluded)")
        return "increase of ru_maxrss over its value at the start (a lower bound: only new process-wide peaks count)"
    return "not measured on this device"


class PeakMemory:
    """``with PeakMemory(dev) as m: ...`` → ``m.peak_bytes``: peak extra memory over the start (None if unknown)."""

    def __init__(self, dev: torch.device):
        self.dev = torch.device(dev)
        self.peak_bytes: float | None = None

    def __enter__(self):
        gc.collect()
        sync(self.dev)
        if self.dev.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.dev)
            self.base = torch.cuda.memory_allocated(self.dev)
            self.how = "cuda"
        elif self.dev.type == "cpu" and Path("/proc/self/clear_refs").exists():
            _malloc_trim()
            if _reset_hwm():
                self.base = _proc_status()["VmRSS"]
                self.how = "hwm"
            else:
                self.base, self.how = self._maxrss(), "maxrss"
        elif self.dev.type == "cpu":
            self.base, self.how = self._maxrss(), "maxrss"
        else:
            self.how = None
        return self

    @staticmethod
    def _maxrss() -> int:
        import resource  # Unix only

        r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return r if sys.platform == "darwin" else r * 1024

    def __exit__(self, *exc):
        sync(self.dev)
        if self.how == "cuda":
            self.peak_bytes = torch.cuda.max_memory_allocated(self.dev) - self.base
        elif self.how == "hwm":
            self.peak_bytes = _proc_status()["VmHWM"] - self.base
        elif self.how == "maxrss":
            self.peak_bytes = self._maxrss() - self.base
        return False


__all__ = ["PeakMemory", "memory_method"]
