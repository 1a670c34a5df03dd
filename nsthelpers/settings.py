"""Runtime switches read from environment variables, in one place.

``NSTHELPERS_WEIGHTS``  default weights for :func:`nsthelpers.load_vgg19`
                        (``caffe`` | ``torchvision`` | ``random`` | a file path).
``NSTHELPERS_QUICK``    ``1`` shrinks image sizes and step counts so notebooks run on a 2-core CPU.
``NSTHELPERS_DEVICE``   force ``cpu`` / ``cuda`` / ``mps``; by default the best available is used.
"""
from __future__ import annotations

import os

import torch

DEFAULT_WEIGHTS = "caffe"
_TRUE = {"1", "true", "yes", "on"}


def quick_mode() -> bool:
    """True when ``NSTHELPERS_QUICK`` asks for the small, fast CPU configuration."""
    return os.environ.get("NSTHELPERS_QUICK", "").strip().lower() in _TRUE


def default_weights() -> str:
    """The weight set used when none is named: ``NSTHELPERS_WEIGHTS`` or ``"caffe"``."""
    return os.environ.get("NSTHELPERS_WEIGHTS", "").strip() or DEFAULT_WEIGHTS


def pick(full, quick):
    """Return ``quick`` in quick mode, else ``full`` (for sizes and step counts in notebooks)."""
    return quick if quick_mode() else full


def default_device(device: str | torch.device | None = None) -> torch.device:
    """Resolve a device: an explicit one, else ``NSTHELPERS_DEVICE``, else CUDA, MPS, CPU in that order.

    Raises ``ValueError`` naming the fix when the requested device is not available.
    """
    requested = device if device is not None else (os.environ.get("NSTHELPERS_DEVICE", "").strip() or None)
    if requested is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(requested)
    except RuntimeError as exc:
        raise ValueError(f"device={requested!r} is not a device name; use 'cpu', 'cuda' or 'mps'") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={requested!r} but CUDA is not available here; use device='cpu'")
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"device={requested!r} but Apple MPS is not available here; use device='cpu'")
    return dev
