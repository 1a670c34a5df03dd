"""The checks of the graded assignments (``assignments/``), one ``check_…`` per function a student writes.

Each check cell of an assignment calls one of these with the student's function. It passes quietly with one
printed line, or raises :class:`~nsthelpers.grading.CheckFailed` with what is wrong. Each check lists the
mistakes it recognises (``Mistake``: what a student wrote, as a function, and what to tell them);
``tests/test_grading.py`` feeds each one to its check.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F

from ..feedforward.adain import adain as reference_adain
from ..color import rgb_to_yiq, yiq_to_rgb
from ..video.flow import warp as reference_warp
from ..gram import gram_matrix
from .expected import (
    LOOP_LR,
    LOOP_STEPS,
    RTOL,
    STYLE_LAYERS,
    Case,
    CheckFailed,
    Mistake,
    call_student,
    expected,
    loop_loss,
    matched_luminance,
    passed,
    reference_run,
    relative_error,
    run_cases,
)

__all__ = ["check_adain", "check_adam_step", "check_combine_luminance", "check_content_loss", "check_gram_matrix",
           "check_luminance", "check_match_luminance", "check_run", "check_style_loss", "check_tv_loss", "check_warp"]

Fn = Callable[..., Any]


# ------------------------------------------------------------------------------------ Gram matrix
def _scrambled_gram(f: torch.Tensor) -> torch.Tensor:
    n, c, h, w = f.shape
    flat = f.reshape(n, h * w, c)          # reshape is not permute: the channels get mixed up
    return flat.transpose(1, 2) @ flat / (c * h * w)


def check_gram_matrix(fn: Fn) -> str:
    """``gram_matrix(features)``: (N, C, H, W) → (N, C, C), F Fᵀ / (C·H·W) per picture."""
    e = expected("gram")
    feats, want = e["features"], e["gram"]
    n, c, h, w = feats.shape
    factors = ((c * h * w, f"off by a factor of C·H·W = {c}·{h}·{w}: did you normalise? Divide F Fᵀ by C·H·W"),
               (c, f"off by a factor of C = {c}: you divided by H·W only; this course divides by C·H·W (notebook 03)"),
               (h * w, f"off by a factor of H·W = {h * w}: you divided by C only; divide by C·H·W"),
               (0.5, "you divided by 2·C·H·W (Gatys' 1/(2NM) belongs to the loss); divide by C·H·W"))

    def shapes(k: int) -> dict[tuple[int, ...], str]:
        return {(k, h * w, h * w): f"your Gram matrix is (H·W)×(H·W) = {h * w}×{h * w}, not C×C = {c}×{c}: which "
                                   "dimension did you flatten? Reshape to (N, C, H·W) and multiply F by Fᵀ, so that "
                                   "the sum runs over the positions",
                (k * c, k * c): "your Gram matrix is (N·C)×(N·C): you flattened the batch into the channels; keep "
                                "one C×C matrix per picture, shape (N, C, C)",
                (c, c): "you returned one C×C matrix; keep the batch dimension: one per picture, shape (N, C, C)",
                (k, c, h * w): "you multiplied element by element (*), not as matrices: use @ or torch.bmm",
                (k, c): "you returned one number per channel; a Gram matrix holds every pair of channels: (N, C, C)"}

    mistakes = [Mistake("you reshaped to (N, H·W, C), and reshape does not move the channels last: it scrambles "
                        "them. Reshape to (N, C, H·W) (or permute first) before multiplying", _scrambled_gram)]
    cases = [Case(f"a batch of two pictures' relu1_1 activations, shape {tuple(feats.shape)}", (feats,), want,
                  factors, shapes(n)),
             Case(f"the relu1_1 activations of one picture, shape (1, {c}, {h}, {w})", (feats[:1],), want[:1],
                  factors, shapes(1))]
    return run_cases("gram_matrix", fn, cases, mistakes)


# ------------------------------------------------------------------------------ content and style loss
def check_content_loss(fn: Fn) -> str:
    """``content_loss(features, target)``: mean((F − P)²), one number."""
    e = expected("losses")
    f, p = e["features"], e["target"]
    k = f.numel()
    factors = ((k, f"you summed the squared errors of all {k} numbers; take their mean (F.mse_loss)"),
               (k / 2, "you used Gatys' ½·Σ(F − P)²; this course's content loss is the mean: F.mse_loss(F, P)"),
               (0.5, "you halved the mean; the content loss is mean((F − P)²), without ½"))
    shapes = {tuple(f.shape): "you returned the squared error at every position; the loss is one number, their mean"}
    mistakes = [
        Mistake("you took absolute differences (L1); the content loss squares them", lambda a, b: (a - b).abs().mean()),
        Mistake("you took the square root of the mean (an RMS error); the content loss is the mean of the squares",
                lambda a, b: (a - b).pow(2).mean().sqrt()),
        Mistake("you squared the mean difference; square each difference first, then take the mean",
                lambda a, b: (a - b).mean() ** 2),
        Mistake("you did not square the differences, so positive and negative errors cancel",
                lambda a, b: (a - b).mean()),
    ]
    case = Case("the relu4_2 activations of the painting against the photo's (caffe VGG19, 32 px)", (f, p),
                e["content_loss"], factors, shapes)
    return run_cases("content_loss", fn, [case], mistakes)


def _shuffled(t: torch.Tensor) -> torch.Tensor:
    """The same activations at other positions (a fixed permutation): the Gram matrix does not change."""
    n, c, h, w = t.shape
    order = torch.randperm(h * w, generator=torch.Generator().manual_seed(0))
    return t.reshape(n, c, h * w)[..., order].reshape(n, c, h, w)


def _layer_term(a: dict, b: dict, n: str) -> torch.Tensor:
    target = gram_matrix(b[n])
    return F.mse_loss(gram_matrix(a[n]), target) / target.pow(2).mean()


_PIXELWISE = ("you compared the painting's activations position by position, as if comparing pixels, not their "
              "Gram matrices: compare gram_matrix(features[l]) with gram_matrix(style_features[l])")


def _style_mistakes() -> list[Mistake]:
    def each(term: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Fn:
        return lambda a, b: sum(term(a[n], b[n]) for n in b)

    g = gram_matrix
    return [
        Mistake(_PIXELWISE, each(lambda x, s: F.mse_loss(x, s))),
        Mistake(_PIXELWISE, each(lambda x, s: F.mse_loss(x, s) / s.pow(2).mean())),
        Mistake(_PIXELWISE, each(lambda x, s: F.mse_loss(x, s) / g(s).pow(2).mean())),
        Mistake("you did not balance the layers: divide each layer's term by mean(A²), the mean square of the "
                "painting's Gram matrix (the loss of a black picture, notebook 03)",
                each(lambda x, s: F.mse_loss(g(x), g(s)))),
        Mistake("you balanced with your picture's Gram matrix; divide by the painting's: mean(A²)",
                each(lambda x, s: F.mse_loss(g(x), g(s)) / g(x).pow(2).mean())),
        Mistake("you divided by the sum of A², not its mean",
                each(lambda x, s: F.mse_loss(g(x), g(s)) / g(s).pow(2).sum())),
        Mistake("you divided by mean(A)², the square of the mean; balance with the mean of the squares, mean(A²)",
                each(lambda x, s: F.mse_loss(g(x), g(s)) / g(s).mean() ** 2)),
    ] + [Mistake(f"you used only layer {n}: add the terms of every layer in style_features",
                 lambda a, b, n=n: _layer_term(a, b, n)) for n in STYLE_LAYERS]


def check_style_loss(fn: Fn) -> str:
    """``style_loss(features, style_features)``: Σ_l mean((G_l − A_l)²) / mean(A_l²) over the layers."""
    e = expected("losses")
    x = {n: e[f"x_{n}"] for n in STYLE_LAYERS}
    s = {n: e[f"s_{n}"] for n in STYLE_LAYERS}
    layers = len(STYLE_LAYERS)
    cases = [Case("the painting against itself with its positions shuffled (a Gram matrix does not care where "
                  "things are, so the loss must be 0)", ({n: _shuffled(v) for n, v in s.items()}, s),
                  torch.zeros(()), otherwise=_PIXELWISE),
             Case(f"the photo's {', '.join(STYLE_LAYERS)} activations against the painting's (caffe VGG19, 12 px)",
                  (x, s), e["style_loss"], factors=((1 / layers, f"you averaged the {layers} layers' terms; add them"),),
                  shapes={(layers,): "you returned one term per layer; add them into one number"})]
    return run_cases("style_loss", fn, cases, _style_mistakes())


# ------------------------------------------------------------------------------------------- TV loss
def _patterns(h: int = 6, w: int = 8) -> dict[str, torch.Tensor]:
    """Probe pictures whose TV loss is known; not square, so that averaging the two directions' differences
    together gives another value than averaging each direction."""
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    grey = lambda t: t.float().expand(1, 3, h, w).clone()  # noqa: E731
    flat = torch.tensor([0.2, 0.5, 0.9]).view(1, 3, 1, 1).expand(1, 3, h, w).clone()
    return {"flat": flat, "vertical": grey(xs % 2), "horizontal": grey(ys % 2), "checker": grey((xs + ys) % 2)}


def _tv_mistakes() -> list[Mistake]:
    dx = lambda x: x[..., :, 1:] - x[..., :, :-1]  # noqa: E731
    dy = lambda x: x[..., 1:, :] - x[..., :-1, :]  # noqa: E731
    return [
        Mistake("you took absolute differences (the L1 total variation); this course's TV loss squares them: "
                "mean(dx²) + mean(dy²)", lambda x: dx(x).abs().mean() + dy(x).abs().mean()),
        Mistake("you summed the squared differences; take the mean of each direction and add the two means",
                lambda x: dx(x).pow(2).sum() + dy(x).pow(2).sum()),
        Mistake("you took a square root (the isotropic TV of image denoising); this course's TV loss is "
                "mean(dx²) + mean(dy²), without a root",
                lambda x: (dx(x)[..., :-1, :].pow(2) + dy(x)[..., :, :-1].pow(2)).sqrt().mean()),
        Mistake("you used torch.roll, which also compares the last column (row) with the first: slice instead, "
                "x[..., :, 1:] − x[..., :, :-1]",
                lambda x: (x - x.roll(1, -1)).pow(2).mean() + (x - x.roll(1, -2)).pow(2).mean()),
        Mistake("you took one mean over both directions' differences together; take the mean of each direction, "
                "then add", lambda x: torch.cat([dx(x).flatten(), dy(x).flatten()]).pow(2).mean()),
    ]


def check_tv_loss(fn: Fn) -> str:
    """``tv_loss(image)``: mean of squared differences of horizontal neighbours plus the same for vertical ones."""
    p = _patterns()
    one = torch.tensor(1.0)
    half = ((0.5, "you averaged the two directions; add them"),)
    cases = [
        Case("a picture of one flat colour", (p["flat"],), torch.zeros(()),
             otherwise="your TV loss is not zero on a picture of one flat colour: you differenced along the channel "
                       "axis (dim 1); in (N, C, H, W) the picture's axes are -2 (height) and -1 (width)"),
        Case("vertical stripes (the columns alternate 0, 1, 0, …: only the width changes)", (p["vertical"],), one, half,
             if_zero="your TV loss is zero on vertical stripes, which change only along the width: difference "
                     "neighbours along the width too, x[..., :, 1:] − x[..., :, :-1]"),
        Case("horizontal stripes (the rows alternate: only the height changes)", (p["horizontal"],), one, half,
             if_zero="your TV loss is zero on horizontal stripes, which change only along the height: difference "
                     "neighbours along the height too, x[..., 1:, :] − x[..., :-1, :]"),
        Case("a checkerboard (each pixel differs from its four neighbours)", (p["checker"],), 2 * one, half,
             if_zero="your TV loss is zero on a checkerboard: did you difference neighbours along both axes? "
                     "Compare each pixel with the next one along the width and with the next one along the "
                     "height, not diagonally and not two apart"),
        Case("the astronaut photo, 16 px", (expected("tv")["image"],), expected("tv")["tv_loss"], half),
    ]
    return run_cases("tv_loss", fn, cases, _tv_mistakes())


# ---------------------------------------------------------------------------------- the pixel loop
def _returned_loss_problem(value: Any) -> str:
    if value is None:
        return "adam_step returned None: return the loss as a number, loss.item()"
    if isinstance(value, torch.Tensor):
        return ("return loss.item(), a Python float: a tensor keeps the whole graph of the step alive, and a "
                "long run's history would fill the memory")
    if not isinstance(value, float):
        return f"adam_step should return a float (loss.item()), it returned a {type(value).__name__}"
    return ""


def _step_problem(k: int, value: Any, before: torch.Tensor, x: torch.Tensor, e: dict) -> str:
    """What is wrong with step ``k`` (0-based) of the student's ``adam_step``: '' when nothing."""
    now = x.detach()
    if torch.equal(now, before):
        return ("x did not change: call loss.backward() and then optimizer.step(), in this order, on the x the "
                "optimizer was given")
    if float(now.min()) < 0 or float(now.max()) > 1:
        return (f"pixels left [0, 1] (from {float(now.min()):.3g} to {float(now.max()):.3g}): after the step, "
                "clamp them in place, with torch.no_grad(): x.clamp_(0, 1)")
    if relative_error(now, e["states"][k:k + 1]) > RTOL:
        no_zero = reference_run(e["start"], loop_loss(e["target"]), k + 1, LOOP_LR, zero_grad=False)[2][k]
        if relative_error(now, no_zero) < 1e-4:
            return ("the gradients add up from step to step: call optimizer.zero_grad() before loss.backward() "
                    "(PyTorch accumulates .grad)")
        return (f"x after the step differs from one Adam step (relative error {relative_error(now, e['states'][k:k + 1]):.2g}): "
                "zero the gradients, compute the loss of x, loss.backward(), optimizer.step(), then clamp")
    problem = _returned_loss_problem(value)
    if problem:
        return problem
    want, history = e["history"][k].item(), e["history"].tolist()
    if abs(value - want) > 1e-5 * abs(want):
        if k + 1 < len(history) and abs(value - history[k + 1]) < 1e-5 * abs(want):
            return "you returned the loss after the step; return the loss you called backward() on"
        return f"it returned {value:.6g}; the loss of x before this step is {want:.6g}"
    return ""


def check_adam_step(fn: Fn) -> str:
    """``adam_step(x, optimizer, loss_fn)``: one Adam step on the pixels ``x``, clamped to [0, 1]; returns the
    loss before the step as a float."""
    e = expected("loop")
    x = e["start"].clone().requires_grad_(True)
    optimizer = torch.optim.Adam([x], lr=LOOP_LR)
    loss_fn = loop_loss(e["target"])
    for k in range(3):
        before = x.detach().clone()
        value = call_student("adam_step", fn, (x, optimizer, loss_fn),
                             f"step {k + 1} of Adam (lr={LOOP_LR}) on a 16-px photo")
        problem = _step_problem(k, value, before, x, e)
        if problem:
            raise CheckFailed(f"adam_step, step {k + 1}: {problem}")
    return passed("adam_step", 3)


def _run_shape_problem(result: Any, steps: int) -> str:
    if not (isinstance(result, tuple) and len(result) == 2):
        return "run should return a pair (image, history): the final picture and the list of losses"
    image, history = result
    if not isinstance(image, torch.Tensor):
        return f"the image should be a torch.Tensor, it is a {type(image).__name__}"
    if image.requires_grad:
        return "return x.detach(): the picture you return should not carry gradients (to_pil and numpy refuse it)"
    if not isinstance(history, (list, tuple)) or len(history) != steps:
        return f"history should hold one loss per step ({steps} numbers), it holds {_count(history)}"
    if not all(isinstance(v, float) for v in history):
        return "history should hold floats: append loss.item() (a tensor keeps its whole graph alive)"
    return ""


def _count(history: Any) -> str:
    return f"{len(history)}" if hasattr(history, "__len__") else f"a {type(history).__name__}"


_RUN_MISTAKES = (
    ({"fresh_optimizer": True}, "did you create the optimizer inside the loop? Adam keeps running averages of the "
                                "gradients from step to step: create it once, before the loop"),
    ({"zero_grad": False}, "the gradients add up from step to step: call optimizer.zero_grad() before backward()"),
    ({"after": True}, "your history holds the losses after each step; record the loss you called backward() on"),
)


def check_run(fn: Fn) -> str:
    """``run(start, loss_fn, steps, lr)``: Adam on a copy of ``start``; returns (image, history of losses)."""
    e = expected("loop")
    given, loss_fn = e["start"].clone(), loop_loss(e["target"])
    what = f"{LOOP_STEPS} steps of Adam (lr={LOOP_LR}) from a 16-px photo"
    result = call_student("run", fn, (given, loss_fn, LOOP_STEPS, LOOP_LR), what)
    if not torch.equal(given, e["start"]):
        raise CheckFailed("run changed `start` in place (the caller's picture): begin with "
                          "x = start.clone().requires_grad_(True)")
    problem = _run_shape_problem(result, LOOP_STEPS)
    if not problem:
        image, history = result[0].detach().float(), torch.tensor(result[1])
        if relative_error(history, e["history"]) > RTOL or relative_error(image, e["image"]) > RTOL:
            problem = _loop_mistake(image, history, e)
    if problem:
        raise CheckFailed(f"run on {what}: {problem}")
    return passed("run", 1)


def _loop_mistake(image: torch.Tensor, history: torch.Tensor, e: dict) -> str:
    variants = [(dict(flags), message) for flags, message in _RUN_MISTAKES]
    variants.append(({}, "did you pass lr to the optimizer? Adam's own default (0.001) is not the lr you were given"))
    for flags, message in variants:
        lr = 1e-3 if not flags else LOOP_LR
        theirs, their_history, _ = reference_run(e["start"], loop_loss(e["target"]), LOOP_STEPS, lr, **flags)
        if relative_error(image, theirs) < 1e-4 and relative_error(history, torch.tensor(their_history)) < 1e-4:
            return message
    return (f"the result differs from {LOOP_STEPS} Adam steps (relative error {relative_error(image, e['image']):.2g}, "
            f"history {relative_error(history, e['history']):.2g}): use adam_step {LOOP_STEPS} times on "
            "x = start.clone().requires_grad_(True) with one Adam optimizer")


# ------------------------------------------------------------------------------- colour preservation
def check_luminance(fn: Fn) -> str:
    """``luminance(image)``: (N, 3, H, W) RGB → (N, 1, H, W), Y = 0.299 R + 0.587 G + 0.114 B."""
    e = expected("colour")
    image = e["content"]
    n, _, h, w = image.shape
    shapes = {(n, h, w): "keep the channel axis: return (N, 1, H, W) (slice with [:, :1] or use keepdim=True)",
              (n, 3, h, w): "return one channel, the luminance: shape (N, 1, H, W)"}
    mistakes = [
        Mistake("you averaged R, G and B equally; the eye is most sensitive to green: Y = 0.299 R + 0.587 G + 0.114 B",
                lambda x: x.mean(1, keepdim=True)),
        Mistake("your weights are in the order B, G, R; a tensor's channels are R, G, B: "
                "Y = 0.299 R + 0.587 G + 0.114 B",
                lambda x: 0.114 * x[:, :1] + 0.587 * x[:, 1:2] + 0.299 * x[:, 2:3]),
    ]
    return run_cases("luminance", fn, [Case("the astronaut photo, 16 px", (image,), e["luminance"], shapes=shapes)],
                     mistakes)


def check_match_luminance(fn: Fn) -> str:
    """``match_luminance(style_y, content_y)``: the style's luminance with the content's mean and std."""
    e = expected("colour")
    ys, yc = rgb_to_yiq(e["style"])[:, :1], rgb_to_yiq(e["content"])[:, :1]
    mistakes = [
        Mistake("you scaled by σ_style / σ_content; scale by σ_content / σ_style, so that the result gets the "
                "content's spread", lambda s, c: (s - s.mean()) * (s.std() / c.std()) + c.mean()),
        Mistake("you scaled by the ratio of the variances; use the standard deviations (.std())",
                lambda s, c: (s - s.mean()) * (c.var() / s.var()) + c.mean()),
        Mistake("subtract the style's mean before scaling: (Y_s − μ_s)·σ_c/σ_s + μ_c",
                lambda s, c: s * (c.std() / s.std()) + c.mean()),
        Mistake("add the content's mean at the end: (Y_s − μ_s)·σ_c/σ_s + μ_c",
                lambda s, c: (s - s.mean()) * (c.std() / s.std())),
        Mistake("you matched the content's luminance to the style's; the style's luminance takes the content's mean "
                "and std", lambda s, c: matched_luminance(c, s)),
    ]
    case = Case("the luminance of a swirl texture (style) and of the astronaut photo (content), 16 px",
                (ys, yc), e["match"])
    return run_cases("match_luminance", fn, [case], mistakes)


def _combined(y_from: torch.Tensor, iq_from: torch.Tensor, clamp: bool = True) -> torch.Tensor:
    out = yiq_to_rgb(torch.cat([rgb_to_yiq(y_from)[:, :1], rgb_to_yiq(iq_from)[:, 1:]], dim=1))
    return out.clamp(0, 1) if clamp else out


def check_combine_luminance(fn: Fn) -> str:
    """``combine_luminance(stylized, content)``: Y of ``stylized`` with I, Q of ``content``, RGB in [0, 1]."""
    e = expected("colour")
    stylized, content = e["style"], e["content"]
    n, _, h, w = content.shape
    mistakes = [
        Mistake("you took the luminance of the content and the colours (I, Q) of the stylised picture: the other way "
                "round", lambda s, c: _combined(c, s)),
        Mistake("your picture is the content photo: take Y from the stylised picture", lambda s, c: _combined(c, c)),
        Mistake("you returned the stylised picture unchanged: replace its I and Q with the content's",
                lambda s, c: s),
        Mistake("some values leave [0, 1]: clamp the RGB picture with .clamp(0, 1)",
                lambda s, c: _combined(s, c, clamp=False)),
    ]
    shapes = {(n, 1, h, w): "return an RGB picture (N, 3, H, W): convert Y, I, Q back with yiq_to_rgb",
              (n, 3, h, w, 3): "use yiq_to_rgb on the (N, 3, H, W) YIQ tensor"}
    case = Case("a swirl texture (the 'stylised' picture) and the astronaut photo, 16 px", (stylized, content),
                e["combine"], shapes=shapes)
    return run_cases("combine_luminance", fn, [case], mistakes)


# --------------------------------------------------------------------------------------------- AdaIN
def _stats(t: torch.Tensor, dims: tuple[int, ...], unbiased: bool = False, eps: float = 1e-5) -> tuple:
    return t.mean(dim=dims, keepdim=True), (t.var(dim=dims, keepdim=True, unbiased=unbiased) + eps).sqrt()


def _adain_with(content: torch.Tensor, style: torch.Tensor, dims: tuple[int, ...] = (2, 3), unbiased: bool = False,
                eps: float = 1e-5) -> torch.Tensor:
    (cm, cs), (sm, ss) = _stats(content, dims, unbiased, eps), _stats(style, dims, unbiased, eps)
    return ss * (content - cm) / cs + sm


def _adain_mistakes() -> list[Mistake]:
    return [
        Mistake("torch.std and torch.var divide by n − 1 by default; AdaIN uses the population statistics: "
                "var(dim=(2, 3), unbiased=False)", lambda c, s, eps=1e-5: _adain_with(c, s, unbiased=True, eps=eps)),
        Mistake("you took one mean and std for the whole tensor; AdaIN takes one per picture and channel: "
                "dim=(2, 3), keepdim=True", lambda c, s, eps=1e-5: _adain_with(c, s, dims=(0, 1, 2, 3), eps=eps)),
        Mistake("you mixed the pictures of the batch (dim 0); take the statistics of each picture apart: dim=(2, 3)",
                lambda c, s, eps=1e-5: _adain_with(c, s, dims=(0, 2, 3), eps=eps)),
        Mistake("you gave the painting the photo's statistics; the output keeps the content's layout and takes the "
                "style's mean and std: σ_s·(x − μ_c)/σ_c + μ_s", lambda c, s, eps=1e-5: _adain_with(s, c, eps=eps)),
        Mistake("a channel of the content is constant (its std is 0) and you divided by zero: add eps to the "
                "variance before the square root", lambda c, s, eps=1e-5: _adain_with(c, s, eps=0.0)),
        Mistake("subtract the content's mean before scaling: σ_s·(x − μ_c)/σ_c + μ_s",
                lambda c, s, eps=1e-5: _stats(s, (2, 3))[1] * c / _stats(c, (2, 3))[1] + _stats(s, (2, 3))[0]),
    ]


def check_adain(fn: Fn) -> str:
    """``adain(content, style, eps=1e-5)``: the content features with the style's per-channel mean and std."""
    e = expected("adain")
    g = torch.Generator().manual_seed(0)
    c2, s2 = torch.rand(2, 4, 3, 5, generator=g) * 3, torch.rand(2, 4, 2, 3, generator=g) + 1
    flat = torch.rand(1, 2, 3, 3, generator=g)
    flat[:, 0] = 0.5
    style = torch.rand(1, 2, 3, 3, generator=g)
    cases = [
        Case("the relu4_1 activations of the photo (content, 32 px) and the painting (style, 24 px), caffe VGG19",
             (e["content"], e["style"]), e["adain"]),
        Case("a batch of two contents (2, 4, 3, 5) and styles (2, 4, 2, 3)", (c2, s2), reference_adain(c2, s2)),
        Case("a content whose first channel is constant", (flat, style), reference_adain(flat, style),
             otherwise="a channel of the content is constant (its std is 0): add eps to the variance before the "
                       "square root"),
    ]
    return run_cases("adain", fn, cases, _adain_mistakes())


# ------------------------------------------------------------------------------------------- warping
def _warp_with(image: torch.Tensor, flow: torch.Tensor, *, sign: float = 1.0, swap_grid: bool = False,
               swap_flow: bool = False, pixels: bool = False, less: int = 1, align: bool = True, own: bool = True,
               padding: str = "border", mode: str = "bilinear") -> torch.Tensor:
    """:func:`nsthelpers.video.flow.warp` with one of the usual mistakes switched on."""
    n, _, h, w = flow.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    dx, dy = (flow[:, 1], flow[:, 0]) if swap_flow else (flow[:, 0], flow[:, 1])
    px, py = (xs if own else 0) + sign * dx, (ys if own else 0) + sign * dy
    if not pixels:
        px, py = 2 * px / (w - less) - 1, 2 * py / (h - less) - 1
    grid = torch.stack([py, px] if swap_grid else [px, py], dim=-1)
    return F.grid_sample(image, grid, mode=mode, padding_mode=padding, align_corners=align)


_WARP_MISTAKES = (
    ({"sign": -1.0}, "you sampled at x − flow(x): the backward flow says where each pixel was in the previous frame, "
                     "so sample the previous picture at x + flow(x)"),
    ({"swap_grid": True}, "grid_sample reads grid[..., 0] as x (along the width) and grid[..., 1] as y; you stacked "
                          "them the other way round"),
    ({"swap_flow": True}, "channel 0 of a flow is dx (along the width) and channel 1 is dy; you swapped them"),
    ({"pixels": True}, "grid_sample wants positions in [−1, 1], not in pixels: 2·x/(W − 1) − 1 and 2·y/(H − 1) − 1"),
    ({"less": 0}, "with align_corners=True, −1 and 1 are the centres of the first and last pixels: normalise with "
                  "2·x/(W − 1) − 1, not 2·x/W − 1"),
    ({"align": False}, "you normalised for align_corners=True (2·x/(W − 1) − 1) but called grid_sample with "
                       "align_corners=False: use align_corners=True"),
    ({"own": False}, "you used the flow itself as the positions; add it to each pixel's own coordinates: x + flow(x)"),
    ({"own": False, "pixels": True}, "you used the flow itself as the positions; add it to each pixel's own "
                                     "coordinates, x + flow(x), and bring them to [−1, 1]"),
    ({"padding": "zeros"}, "pixels that come from outside the frame are black: use padding_mode='border' (the nearest "
                           "border pixel)"),
    ({"mode": "nearest"}, "use bilinear interpolation (mode='bilinear'): a flow moves pixels by fractions of a pixel"),
)


def check_warp(fn: Fn) -> str:
    """``warp(image, flow)``: ``image`` sampled at x + flow(x) (bilinear, border), like :func:`nsthelpers.video.flow.warp`."""
    e = expected("warp")
    image = e["image"]
    shift = torch.zeros(1, 2, *image.shape[-2:])
    shift[:, 0] = 2.0
    mistakes = [Mistake(message, lambda i, f, flags=flags: _warp_with(i, f, **flags)) for flags, message in _WARP_MISTAKES]
    cases = [Case("a 16-px photo shifted by a flow of dx = 2, dy = 0 (each pixel takes the value 2 px to its right)",
                  (image, shift), reference_warp(image, shift)),
             Case("a 16-px photo and a smooth flow (a shift of 1.5, −0.75 px, a slight rotation and shear)",
                  (image, e["flow"]), e["warp"])]
    return run_cases("warp", fn, cases, mistakes)
