"""Mixed precision on pixels, the PyTorch recipe: autocast, a GradScaler for fp16, unscale before clipping.

:func:`amp_adam` is Adam on the image (clamped to [0, 1] after every step, as :func:`nsthelpers.optimize`
does) with the network run under ``torch.autocast``:

* ``dtype=torch.float16``: fp16 has 5 exponent bits (normal numbers 6.1e-5 … 65504, subnormals down to
  6e-8), so gradients outside that window underflow to 0 or overflow to inf. A ``torch.amp.GradScaler``
  multiplies the loss by a scale before ``backward``, divides the gradients by it before the step, *skips*
  any step whose gradients hold inf/NaN and halves the scale, and doubles it again after
  ``growth_interval`` good steps;
* ``dtype=torch.bfloat16``: bf16 keeps fp32's 8 exponent bits (and only 8 bits of mantissa), so nothing
  underflows where fp32 would not and no scaler is needed;
* ``dtype=None``: plain fp32, the baseline.

``clip_norm`` clips the *image's* gradient norm, after ``scaler.unscale_`` (clipping scaled gradients
would clip at ``clip_norm × scale``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from ..checks import positive_int, positive_number

AMP_DTYPES = (None, torch.float16, torch.bfloat16)


@dataclass
class AmpRun:
    """What :func:`amp_adam` did: the picture, the loss and the scaler's scale after every step."""

    image: torch.Tensor
    losses: list[float] = field(default_factory=list)     # the unscaled total loss at each step
    scales: list[float] = field(default_factory=list)     # GradScaler's scale after each step (1 without one)
    skipped: int = 0                                      # steps skipped because the gradients overflowed
    seconds: float = 0.0                                  # wall time of the loop

    @property
    def ms_per_step(self) -> float:
        return 1000.0 * self.seconds / max(len(self.losses), 1)


def amp_adam(objective, init: torch.Tensor, *, steps: int, lr: float = 0.05, dtype: torch.dtype | None = torch.float16,
             loss_scaling: bool | None = None, init_scale: float = 2.0**16, growth_interval: int = 2000,
             clip_norm: float | None = None) -> AmpRun:
    """Adam on the pixels of ``init`` under autocast ``dtype``, with a GradScaler when ``loss_scaling``.

    ``objective(image)["total"]`` is the loss (an :class:`~nsthelpers.Objective`). ``loss_scaling`` defaults
    to True for fp16 and False otherwise; ``init_scale`` and ``growth_interval`` are GradScaler's.
    """
    steps = positive_int("steps", steps, what="steps")
    lr = positive_number("lr", lr)
    if dtype not in AMP_DTYPES:
        raise ValueError(f"dtype={dtype!r}; choose None (fp32), torch.float16 or torch.bfloat16")
    if clip_norm is not None:
        clip_norm = positive_number("clip_norm", clip_norm)
    scaling = (dtype == torch.float16) if loss_scaling is None else bool(loss_scaling)
    x = init.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    scaler = torch.amp.GradScaler(x.device.type, init_scale=init_scale, growth_interval=growth_interval,
                                  enabled=scaling)
    run, losses = AmpRun(image=x), []
    start = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        with torch.autocast(x.device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            loss = objective(x)["total"]
        scaler.scale(loss).backward()
        if clip_norm is not None:
            scaler.unscale_(opt)                          # clip the true gradient, not the scaled one
            torch.nn.utils.clip_grad_norm_([x], clip_norm)
        before = scaler.get_scale()
        scaler.step(opt)                                  # skipped when the gradients hold inf or NaN
        scaler.update()                                   # ... and then the scale is halved
        run.scales.append(scaler.get_scale())
        run.skipped += int(run.scales[-1] < before)
        with torch.no_grad():
            x.clamp_(0, 1)
        losses.append(loss.detach())
    if x.device.type == "cuda":
        torch.cuda.synchronize(x.device)
    run.seconds = time.perf_counter() - start
    run.losses = torch.stack(losses).float().tolist()
    run.image = x.detach()
    return run


__all__ = ["AMP_DTYPES", "AmpRun", "amp_adam"]
