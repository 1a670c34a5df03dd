"""``nsthelpers.setup()``: the one call at the top of every notebook."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .settings import default_device, default_weights, quick_mode


@dataclass(frozen=True)
class Session:
    """What a notebook runs with: device, weight set, quick mode."""

    device: torch.device
    weights: str
    quick: bool

    @property
    def meaningful(self) -> bool:
        """False for random weights: pictures made with them show structure, not what VGG19 sees."""
        return self.weights != "random"


def setup(seed: int = 0, verbose: bool = True) -> Session:
    """Seed torch, resolve device/weights/quick mode from the environment, and print them.

    Prints a warning line when ``NSTHELPERS_WEIGHTS=random``: pictures are then not meaningful.
    """
    torch.manual_seed(seed)
    session = Session(default_device(), default_weights(), quick_mode())
    if verbose:
        mode = "quick (small images, few steps)" if session.quick else "full quality"
        print(f"nsthelpers: device={session.device.type}, weights={session.weights}, mode={mode}")
        if not session.meaningful:
            print("WARNING: NSTHELPERS_WEIGHTS=random — untrained weights; the pictures below are NOT "
                  "meaningful (structure only). Unset it to use the real VGG19 ('caffe').")
    return session
