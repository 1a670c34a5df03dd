"""Saving a long optimisation as it goes, and resuming it: the image, step, loss history, optimiser state.

A checkpoint is written atomically (to a temporary file, then renamed), so an interrupted save never
leaves a broken file. It records a *fingerprint* of the problem (image shape, steps, optimiser, learning
rate): a file that belongs to another run is refused with a message instead of being resumed.
"""
from __future__ import annotations

import os
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
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


@dataclass
class Checkpoint:
    """Where and how often one run saves itself, and what identifies the run."""

    path: Path
    every: int
    fingerprint: dict[str, Any]

    def save(self, image: torch.Tensor, step: int, history: dict[str, list[float]],
             optimizer_state: dict | None) -> None:
        """Write the run's state (atomically)."""
        payload = {"format": CHECKPOINT_FORMAT, "fingerprint": self.fingerprint, "image": image.detach().cpu().contiguous(),
                   "step": step, "history": history, "optimizer": optimizer_state}
        torch_save_atomically(payload, self.path)

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
        if data["fingerprint"] != self.fingerprint:
            raise ValueError(
                f"checkpoint {self.path} belongs to another run ({data['fingerprint']}, this one is "
                f"{self.fingerprint}); delete it or choose another checkpoint_path"
            )
        return data
