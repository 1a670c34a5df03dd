"""Runtime switches read from environment variables, in one place.

``NSTHELPERS_WEIGHTS``  default weights for :func:`nsthelpers.load_vgg19`
                        (``caffe`` | ``torchvision`` | ``random`` | a file path).
``NSTHELPERS_PROFILE``  how big the notebooks' runs are (:data:`PROFILES`): ``quick`` (CI smoke test: tiny
                        pictures), ``cpu`` (a laptop: pictures of at least 256 px, every core notebook
                        within 5 minutes on 2 cores, a deep dive within 10), ``gpu`` (full quality, 512 px
                        and up). Default: ``gpu`` on a CUDA device, else ``cpu``.
``NSTHELPERS_QUICK``    ``1`` is the same as ``NSTHELPERS_PROFILE=quick`` (kept for old scripts).
``NSTHELPERS_DEVICE``   force ``cpu`` / ``cuda`` / ``mps``; by default the best available is used.
"""
from __future__ import annotations

import os
from typing import Literal, TypeVar, get_args

import torch

DEFAULT_WEIGHTS = "caffe"
Profile = Literal["quick", "cpu", "gpu"]
PROFILES: tuple[str, ...] = get_args(Profile)
#: what each profile means, as :func:`nsthelpers.setup` prints it
PROFILE_DESCRIPTIONS = {
    "quick": "smoke test: tiny pictures, few steps (CI)",
    "cpu": "a laptop: pictures of 256 px and up, each core notebook within 5 minutes on 2 cores",
    "gpu": "full quality: pictures of 512 px and up",
}
#: the longer side of a result when no size is given, per profile, for ``nst.stylize`` / ``nst stylize``, the
#: style lab (interactive: a picture every few seconds) and ``nst video`` (one optimisation per frame); never
#: larger than the photo (:func:`default_size`). ``stylize`` on ``cpu``: 512 px, the size peers end at
#: (neural-style's ``-image_size 512``), about a minute for a phone photo on 2 cores (benchmarks/README.md,
#: "The default size"); ``gpu``: twice the side (4× the pixels), not yet measured on a GPU. The lab's are the
#: sizes notebook 06 starts its size slider at. ``quick`` keeps the CI pictures of ``stylize`` and ``nst video``
#: as they are loaded (at most 256 px).
DEFAULT_SIZES: dict[str, dict[str, int]] = {
    "stylize": {"quick": 256, "cpu": 512, "gpu": 1024},
    "lab": {"quick": 64, "cpu": 256, "gpu": 512},
    "video": {"quick": 256, "cpu": 256, "gpu": 512},
}
#: the value of ``size`` that asks for the photo's own size
FULL_SIZE = "full"
_TRUE = {"1", "true", "yes", "on"}
T = TypeVar("T")


def profile(device: str | torch.device | None = None) -> str:
    """The run-size profile: ``NSTHELPERS_PROFILE``, else ``quick`` if ``NSTHELPERS_QUICK=1``, else from the
    device (``gpu`` on CUDA, ``cpu`` on a CPU or Apple MPS).

    Raises ``ValueError`` naming the choices for an unknown ``NSTHELPERS_PROFILE``.
    """
    chosen = os.environ.get("NSTHELPERS_PROFILE", "").strip().lower()
    if chosen:
        if chosen not in PROFILES:
            raise ValueError(f"NSTHELPERS_PROFILE={chosen!r}; choose one of {', '.join(PROFILES)}")
        return chosen
    if os.environ.get("NSTHELPERS_QUICK", "").strip().lower() in _TRUE:
        return "quick"
    return "gpu" if default_device(device).type == "cuda" else "cpu"


def quick_mode() -> bool:
    """True in the ``quick`` profile (``NSTHELPERS_PROFILE=quick`` or ``NSTHELPERS_QUICK=1``)."""
    return profile() == "quick"


def default_size(longer_side: int | None = None, *, kind: str = "stylize",
                 device: str | torch.device | None = None) -> int:
    """The longer side of a result when no size is given: :data:`DEFAULT_SIZES` for the profile (see
    :func:`profile`; ``device`` decides between ``cpu`` and ``gpu``), never larger than ``longer_side`` (the
    photo's). ``kind`` is ``"stylize"``, ``"lab"`` or ``"video"``.
    """
    if kind not in DEFAULT_SIZES:
        raise ValueError(f"kind={kind!r}; choose one of {', '.join(DEFAULT_SIZES)}")
    size = DEFAULT_SIZES[kind][profile(device)]
    return size if longer_side is None else max(1, min(size, int(longer_side)))


def resolve_size(size: int | str | None, longer_side: int, *, kind: str = "stylize",
                 device: str | torch.device | None = None) -> int:
    """The longer side a run works at: ``size`` pixels, the photo's own (``"full"``), or, for ``None``,
    :func:`default_size`. Raises ``ValueError`` naming the choices for anything else."""
    if size is None:
        return default_size(longer_side, kind=kind, device=device)
    if size == FULL_SIZE:
        return int(longer_side)
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise ValueError(f"size={size!r}; give a positive number of pixels, {FULL_SIZE!r} (the photo's own size) "
                         "or None (the profile's default)")
    return size


def default_weights() -> str:
    """The weight set used when none is named: ``NSTHELPERS_WEIGHTS`` or ``"caffe"``."""
    return os.environ.get("NSTHELPERS_WEIGHTS", "").strip() or DEFAULT_WEIGHTS


def pick(full: T, quick: T, *, cpu: T | None = None) -> T:
    """The value for the current profile: ``quick`` in ``quick``, ``cpu`` in ``cpu`` (``full`` when no
    ``cpu`` value is given), ``full`` in ``gpu``. Notebooks size their runs with it::

        SIZE = nst.pick(512, 64, cpu=256)
    """
    chosen = profile()
    if chosen == "quick":
        return quick
    if chosen == "cpu" and cpu is not None:
        return cpu
    return full


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
