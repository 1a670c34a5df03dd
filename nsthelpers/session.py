"""``nsthelpers.setup()``: the one call at the top of every notebook."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .settings import PROFILE_DESCRIPTIONS, default_device, default_weights, profile

RANDOM_WEIGHTS_NOTE = (
    "WARNING: NSTHELPERS_WEIGHTS=random: untrained weights. The pictures below are NOT meaningful "
    "(structure only), though every equality check still holds; checks about what the pictures show are "
    "skipped. Unset it to use the real VGG19 ('caffe')."
)


@dataclass(frozen=True)
class Session:
    """What a notebook runs with: device, weight set, run-size profile (``quick`` / ``cpu`` / ``gpu``)."""

    device: torch.device
    weights: str
    profile: str

    @property
    def quick(self) -> bool:
        """True in the ``quick`` profile (tiny pictures, few steps)."""
        return self.profile == "quick"

    @property
    def meaningful(self) -> bool:
        """False for random weights: pictures made with them show structure, not what VGG19 sees."""
        return self.weights != "random"


def setup(seed: int = 0, verbose: bool = True) -> Session:
    """Seed torch, resolve device, weights and profile from the environment, and print them.

    With ``NSTHELPERS_WEIGHTS=random`` it also prints what that means for the notebook.
    """
    torch.manual_seed(seed)
    device = default_device()
    session = Session(device, default_weights(), profile(device))
    if verbose:
        print(f"nsthelpers: device={session.device.type}, weights={session.weights}, "
              f"profile={session.profile} ({PROFILE_DESCRIPTIONS[session.profile]})")
        if not session.meaningful:
            print(RANDOM_WEIGHTS_NOTE)
    return session
