"""The engine behind the graded assignments' checks (``assignments/``; the checks: :mod:`grading_checks`).

Each check calls a student's function on fixed inputs and compares what it returns with
expected values computed offline from the bundled caffe VGG19 (``expected.npz``, written by
:func:`compute_expected`). When they differ, the check looks for the mistake that explains the difference:
a shape that tells which dimension was flattened, a constant factor that names a missing normalisation, a
probe picture on which the answer is known (a TV loss must not be zero on a checkerboard), or one of the
mistakes students really make, computed on the same inputs and compared with the student's result. A check
that fails raises :class:`CheckFailed` (an ``AssertionError``, so nbgrader's autograder scores the cell 0)
with that message; an error inside the student's code is reported as one line with the student's own line,
never as a stack trace from inside torch. A check that passes prints and returns one line.
"""
from __future__ import annotations

import functools
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from .. import color, data, losses
from ..video import flow
from ..feedforward.adain import adain as reference_adain
from ..gram import gram_matrix
from ..images import resize_max_side
from ..vgg import VGG19Features

__all__ = ["Case", "CheckFailed", "DATA_FILE", "Mistake", "RTOL", "balanced_style_loss", "call_student",
           "compute_expected", "demo_flow", "expected", "loop_loss", "matched_luminance", "named_mistake", "passed",
           "reference_run", "run_cases", "verdict"]

#: the expected values: small float arrays, one group per assignment ("gram/features", …)
DATA_FILE = Path(__file__).with_name("expected.npz")
#: largest relative error (‖yours − expected‖ / ‖expected‖) that passes; float32 round-off is ~1e-7
RTOL = 1e-5
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1")
#: the loop assignment's settings: Adam's learning rate and the number of steps the checks take
LOOP_LR, LOOP_STEPS = 0.05, 5


class CheckFailed(AssertionError):
    """A check failed; the message says what is wrong and where to look."""

    def _render_traceback_(self) -> list[str]:
        """What IPython (Jupyter) shows instead of a traceback: the verdict alone, not the checking code."""
        return [f"CheckFailed: {self}"]


# ------------------------------------------------------------------------------------------ engine
@dataclass(frozen=True)
class Mistake:
    """A mistake students make, as a function with the student's signature, and what to tell them."""

    message: str
    fn: Callable[..., Any]


@dataclass
class Case:
    """One call of the student's function: its inputs, the expected result and what a failure means."""

    what: str
    args: tuple
    want: torch.Tensor
    #: (ratio yours / expected, what it means) for results off by a constant factor
    factors: Sequence[tuple[float, str]] = ()
    #: result shape → what that shape means
    shapes: Mapping[tuple[int, ...], str] = field(default_factory=dict)
    #: said when the result is zero although the expected one is not
    if_zero: str = ""
    #: said when nothing more specific explains the difference
    otherwise: str = ""


_ERROR_HINTS = (
    ("a leaf Variable that requires grad is being used in an in-place operation",
     "change x in place only inside `with torch.no_grad():` (autograd must not record the clamp)"),
    ("does not require grad and does not have a grad_fn",
     "the loss does not depend on a tensor that requires grad: start from x.requires_grad_(True) and do not "
     "call .detach(), .item() or torch.tensor(...) on the way to the loss"),
    ("is invalid for input of size", "your code assumes one picture: keep the batch dimension, "
                                     "for example features.reshape(n, c, h * w)"),
    ("view size is not compatible", "use .reshape(...) instead of .view(...)"),
    ("Expected size for first two dimensions of batch2", "a Gram matrix is F @ Fᵀ: transpose the second factor"),
    ("mat1 and mat2 shapes cannot be multiplied", "a Gram matrix is F @ Fᵀ: (C, H·W) @ (H·W, C)"),
    ("must match the size of tensor", "two shapes do not fit together: print their .shape; the statistics of "
                                      "each channel are taken over its positions, dim=(2, 3), keepdim=True"),
    ("can't convert", "keep the values as torch tensors until the end"),
    ("Can't call numpy() on Tensor that requires grad", "call .detach() before .numpy()"),
)


def _your_line(err: BaseException) -> str:
    """The last line of the traceback that is the student's code, not torch's nor this module's."""
    here = Path(__file__).resolve()
    torch_dir = Path(torch.__file__).resolve().parent
    for frame in reversed(traceback.extract_tb(err.__traceback__)):
        path = Path(frame.filename).resolve()
        if path != here and torch_dir not in path.parents and frame.line:
            return f" (in your line `{frame.line.strip()}`)"
    return ""


def call_student(name: str, fn: Callable[..., Any], args: tuple, what: str) -> Any:
    """``fn(*args)``; a stub or an error becomes a :class:`CheckFailed` with a one-line explanation."""
    try:
        return fn(*args)
    except NotImplementedError:
        raise CheckFailed(f"{name} is not written yet: replace `raise NotImplementedError()` with your code, "
                          "run that cell, then run this check again.") from None
    except CheckFailed:
        raise
    except Exception as err:  # noqa: BLE001 - any error in the student's code is reported, not re-raised
        text = (str(err).strip().splitlines() or [""])[0]
        hint = next((h for key, h in _ERROR_HINTS if key in str(err)), "")
        message = f"{name} raised {type(err).__name__} on {what}{_your_line(err)}: {text}"
        raise CheckFailed(message + (f"\nHint: {hint}." if hint else "")) from None


def clone_args(value: Any) -> Any:
    """Fresh copies of the tensors in ``value`` (a tensor, or a tuple, list or dict of them)."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, dict):
        return {k: clone_args(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(clone_args(v) for v in value)
    return value


def relative_error(got: torch.Tensor, want: torch.Tensor) -> float:
    scale = float(want.norm())
    return float((got - want).norm()) / (scale if scale > 0 else 1.0)


def same_values(a: Any, b: torch.Tensor) -> bool:
    return (isinstance(a, torch.Tensor) and tuple(a.shape) == tuple(b.shape)
            and bool(torch.allclose(a.detach().float(), b, rtol=1e-4, equal_nan=True,
                                    atol=1e-6 * (float(b.nan_to_num(0, 0, 0).abs().max()) + 1e-12))))


def named_mistake(got: torch.Tensor, case: Case, mistakes: Sequence[Mistake]) -> str:
    for mistake in mistakes:
        try:
            theirs = mistake.fn(*clone_args(case.args))
        except Exception:  # noqa: BLE001 - a mistake that cannot run on these inputs explains nothing
            continue
        if same_values(got, theirs):
            return mistake.message
    return ""


def _factor(got: torch.Tensor, case: Case) -> str:
    want = case.want
    if float(want.abs().max()) == 0:
        return ""
    ratio = float((got * want).sum() / (want * want).sum())
    if ratio == 0 or relative_error(got, ratio * want) > 1e-4:
        return ""
    for value, meaning in case.factors:
        if abs(ratio / value - 1) < 1e-3:
            size = f"{value:g} times too large" if value > 1 else f"{1 / value:g} times too small"
            return f"yours is {size}: {meaning}"
    return f"yours is {ratio:.4g} × the expected value: a constant factor is wrong"


def verdict(name: str, got: Any, case: Case, mistakes: Sequence[Mistake]) -> str:
    """Empty when ``got`` is right; otherwise what is wrong with it."""
    want = case.want
    if got is None:
        return f"{name} returned None: did you forget `return`?"
    if not isinstance(got, torch.Tensor):
        return f"{name} should return a torch.Tensor, it returned a {type(got).__name__}"
    got = got.detach().float()
    if tuple(got.shape) != tuple(want.shape):
        meaning = case.shapes.get(tuple(got.shape)) or named_mistake(got, case, mistakes)
        return meaning or f"{name} returned shape {tuple(got.shape)}; expected {tuple(want.shape)}"
    if not bool(torch.isfinite(got).all()):
        return named_mistake(got, case, mistakes) or case.otherwise or f"{name} returned NaN or inf values"
    error = relative_error(got, want)
    if error <= RTOL:
        return ""
    if case.if_zero and float(got.abs().max()) == 0.0:
        return case.if_zero
    return (named_mistake(got, case, mistakes) or _factor(got, case) or case.otherwise
            or f"relative error {error:.2g} (at most {RTOL:g} passes)")


def run_cases(name: str, fn: Callable[..., Any], cases: Sequence[Case], mistakes: Sequence[Mistake]) -> str:
    """Call ``fn`` on every case; raise :class:`CheckFailed` at the first wrong result, else print one line."""
    for case in cases:
        got = call_student(name, fn, clone_args(case.args), case.what)
        problem = verdict(name, got, case, mistakes)
        if problem:
            raise CheckFailed(f"{name} on {case.what}: {problem}")
    return passed(name, len(cases))


def passed(name: str, n: int) -> str:
    message = f"✓ {name}: all {n} checks passed."
    print(message)
    return message


# ------------------------------------------------------------------------------------ expected values
@functools.lru_cache(maxsize=1)
def _stored() -> dict[str, np.ndarray]:
    if not DATA_FILE.exists():
        raise FileNotFoundError(f"{DATA_FILE} is missing: reinstall nsthelpers, or run assignments/make_expected.py")
    with np.load(DATA_FILE, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def expected(group: str) -> dict[str, torch.Tensor]:
    """The stored inputs and expected values of one assignment (``"gram"``, ``"losses"``, …), as float32
    tensors (fresh copies: a student's in-place change cannot spoil them)."""
    prefix = group + "/"
    out = {k[len(prefix):]: torch.from_numpy(v.astype(np.float32)) for k, v in _stored().items() if k.startswith(prefix)}
    if not out:
        raise KeyError(f"no expected values for {group!r} in {DATA_FILE}")
    return out


def _rounded(t: torch.Tensor) -> torch.Tensor:
    """Inputs are stored in float16 (half the size); expected values are computed from the rounded inputs."""
    return t.detach().half().float()


def _pictures(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The scikit-image astronaut and a generated swirl texture (no download), ``size`` px square."""
    photo = data.content_photo("astronaut", max_size=size)
    painting = resize_max_side(data.generated_texture("swirls", size=max(size, 32), seed=0), size)
    return _rounded(photo), _rounded(painting)


def demo_flow(h: int, w: int) -> torch.Tensor:
    """The warping assignment's flow: a shift of (1.5, −0.75) px plus a slight rotation and shear."""
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    dx = 1.5 + 0.15 * (ys - h / 2)
    dy = -0.75 - 0.1 * (xs - w / 2)
    return torch.stack([dx, dy])[None]


def loop_loss(target: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """The loop assignment's loss: the mean squared difference to ``target`` (which leaves [0, 1])."""
    return lambda x: ((x - target) ** 2).mean()


def reference_run(start: torch.Tensor, loss_fn: Callable[[torch.Tensor], torch.Tensor], steps: int, lr: float, *,
                  zero_grad: bool = True, fresh_optimizer: bool = False, after: bool = False,
                  ) -> tuple[torch.Tensor, list[float], list[torch.Tensor]]:
    """Adam on the pixels, clamped to [0, 1] after every step; the loss before each step (notebook 05).

    The keywords switch on the usual mistakes, for the diagnoses (:mod:`nsthelpers.grading.checks`): no
    ``zero_grad`` (gradients pile up), a new optimiser every step (``fresh_optimizer``: Adam forgets its moments),
    and logging the loss after the step instead of before it (``after``).
    """
    x = start.clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    history, states = [], []
    for _ in range(steps):
        if fresh_optimizer:
            opt = torch.optim.Adam([x], lr=lr)
        if zero_grad:
            opt.zero_grad()
        loss = loss_fn(x)
        loss.backward()
        opt.step()
        with torch.no_grad():
            x.clamp_(0, 1)
        history.append(loss_fn(x).item() if after else loss.item())
        states.append(x.detach().clone())
    return x.detach(), history, states


@torch.no_grad()
def compute_expected(model: VGG19Features) -> dict[str, np.ndarray]:
    """Every stored input and expected value, from ``model`` (the bundled caffe VGG19) and the package's own
    functions. ``assignments/make_expected.py`` writes them to :data:`DATA_FILE`; a test recomputes them."""
    out: dict[str, torch.Tensor] = {}
    photo12, paint12 = _pictures(12)
    feats = torch.cat([model(p, ["relu1_1"])["relu1_1"] for p in (photo12, paint12)])
    out["gram/features"] = feats.half()
    out["gram/gram"] = gram_matrix(_rounded(feats))
    photo32, paint32 = _pictures(32)
    f_x, f_p = model(paint32, ["relu4_2"])["relu4_2"], model(photo32, ["relu4_2"])["relu4_2"]
    out["losses/features"], out["losses/target"] = f_x.half(), f_p.half()
    out["losses/content_loss"] = losses.content_loss(_rounded(f_x), _rounded(f_p))
    x_feats, s_feats = model(photo12, STYLE_LAYERS), model(paint12, STYLE_LAYERS)
    for n in STYLE_LAYERS:
        out[f"losses/x_{n}"], out[f"losses/s_{n}"] = x_feats[n].half(), s_feats[n].half()
    out["losses/style_loss"] = balanced_style_loss(
        {n: _rounded(x_feats[n]) for n in STYLE_LAYERS}, {n: _rounded(s_feats[n]) for n in STYLE_LAYERS})
    photo16, paint16 = _pictures(16)
    out["tv/image"], out["tv/tv_loss"] = photo16, losses.tv_loss(photo16)
    target = _rounded(paint16 * 1.6 - 0.3)
    with torch.enable_grad():
        image, history, states = reference_run(photo16, loop_loss(target), LOOP_STEPS, LOOP_LR)
    out.update({"loop/start": photo16, "loop/target": target, "loop/image": image,
                "loop/history": torch.tensor(history), "loop/states": torch.cat(states)})
    y_photo, y_paint = color.rgb_to_yiq(photo16)[:, :1], color.rgb_to_yiq(paint16)[:, :1]
    out.update({"colour/content": photo16, "colour/style": paint16, "colour/luminance": y_photo,
                "colour/match": matched_luminance(y_paint, y_photo),
                "colour/combine": color.combine_luminance(paint16, photo16)})
    # the style at another size than the content (as in AdaIN's use), so that n and n − 1 give other statistics
    c41, s41 = model(photo32, ["relu4_1"])["relu4_1"], model(_pictures(24)[1], ["relu4_1"])["relu4_1"]
    out["adain/content"], out["adain/style"] = c41.half(), s41.half()
    out["adain/adain"] = reference_adain(_rounded(c41), _rounded(s41))
    out["warp/image"], out["warp/flow"] = photo16, demo_flow(16, 16)
    out["warp/warp"] = flow.warp(photo16, demo_flow(16, 16))
    return {k: v.detach().cpu().numpy() for k, v in out.items()}


def balanced_style_loss(feats: Mapping[str, torch.Tensor], style_feats: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """The balanced style loss: Σ_l mean((G_l − A_l)²) / mean(A_l²) (notebooks 03 and 05)."""
    terms = []
    for n in style_feats:
        a = gram_matrix(style_feats[n])
        terms.append(losses.style_layer_loss(feats[n], a) / a.pow(2).mean())
    return torch.stack(terms).sum()


def matched_luminance(style_y: torch.Tensor, content_y: torch.Tensor) -> torch.Tensor:
    """Gatys et al. 2016, eq. 1: the style's luminance shifted and scaled to the content's mean and std."""
    return (style_y - style_y.mean()) * (content_y.std() / style_y.std()) + content_y.mean()
