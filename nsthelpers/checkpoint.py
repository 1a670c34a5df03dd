"""Saving a long optimisation as it goes, and resuming it: the image, step, loss history, optimiser state.

A checkpoint is written atomically (to a temporary file, then renamed), so an interrupted save never
leaves a broken file. It records a *fingerprint* of the problem (image shape, steps, optimiser, learning
rate, and the objective's own: digests of the content and style images, the weights, layers and loss
settings): a file that belongs to another run is refused with a message naming what differs.
"""
from __future__ import annotations

import contextlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

CHECKPOINT_FORMAT = "nsthelpers-checkpoint"


def torch_save_atomically(payload: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to a temporary file beside ``path``, then rename it into place (folders created), so an
    interrupted save never leaves a broken file; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path


def load_error_reason(exc: BaseException) -> str:
    """One short line on why ``torch.load`` failed, without torch's paragraphs about ``weights_only``."""
    text = str(exc)
    if "WeightsUnpickler error:" in text:
        detail = next((ln.strip() for ln in text.split("WeightsUnpickler error:", 1)[1].splitlines() if ln.strip()), "")
        if detail.startswith("Unsupported global"):
            return "it holds Python objects, not only tensors"
        return f"not a PyTorch file, or a damaged one ({detail[:80]})"
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), type(exc).__name__)
    return f"{type(exc).__name__}: {first[:160]}"


_IMAGE_KEYS = ("content image", "style images", "masks")


def differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """What differs between two fingerprints, in words ("the content image", "style_weight 1e6 → 1e7")."""
    out = []
    for key in list(current) + [k for k in saved if k not in current]:
        old, new = saved.get(key, "<not recorded>"), current.get(key, "<not recorded>")
        if old == new:
            continue
        if key in _IMAGE_KEYS and key in saved and key in current:
            out.append(f"the {key}")
        else:
            out.append(f"{key} {old!r} (now {new!r})")
    return out


@dataclass
class Checkpoint:
    """Where and how often one run saves itself, and what identifies the run."""

    path: Path
    every: int
    fingerprint: dict[str, Any]
    failed: str | None = None  # why the last save failed (the run goes on; its picture is not lost)

    def save(self, image: torch.Tensor, step: int, history: dict[str, list[float]],
             optimizer_state: dict | None) -> bool:
        """Write the run's state (atomically); True when it was written. A failed write (a full disk, a folder
        made read-only) warns once and lets the run go on, rather than ending it and losing its picture."""
        payload = {"format": CHECKPOINT_FORMAT, "fingerprint": self.fingerprint, "image": image.detach().cpu().contiguous(),
                   "step": step, "history": history, "optimizer": optimizer_state}
        try:
            torch_save_atomically(payload, self.path)
        except OSError as exc:
            if self.failed is None:
                warnings.warn(f"could not write the checkpoint {self.path} ({exc.strerror or exc}); the run goes on "
                              "without it", stacklevel=2)
            self.failed = str(exc.strerror or exc)
            return False
        self.failed = None
        return True

    def load(self) -> dict[str, Any] | None:
        """The saved state of this run, or None when there is no file yet.

        Raises ``ValueError`` (naming the fix) for an unreadable file, a file that is not a checkpoint,
        or one that belongs to another run.
        """
        if not self.path.exists():
            return None
        try:
            data = torch.load(self.path, map_location="cpu", weights_only=False)
        except Exception as exc:
            raise ValueError(f"checkpoint {self.path} is unreadable ({type(exc).__name__}); "
                             "delete it to start afresh") from None
        if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{self.path} is not an nsthelpers checkpoint; choose another checkpoint_path")
        saved = data.get("fingerprint")
        if saved != self.fingerprint:
            diff = differences(saved if isinstance(saved, dict) else {}, self.fingerprint)
            raise ValueError(
                f"checkpoint {self.path} belongs to another run (another picture or other settings); it differs in: {'; '.join(diff)}. "
                "Delete it or choose another checkpoint path"
            )
        return data
