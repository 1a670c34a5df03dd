"""The argument checks every public entry point shares: one message style, raised before any work.

Each check returns the value it accepted (converted: an int, a float, a list), so callers write
``steps = positive_int("steps", steps)``. Every failure is a ``ValueError`` that names the parameter,
what it got and what is allowed.
"""
from __future__ import annotations

import math
from typing import Any, Collection, Iterable, Mapping, Sequence

from .vgg import deepest_layer, layer_index


def positive_int(name: str, value: Any, *, what: str = "") -> int:
    """``value`` as an int ≥ 1 (bools are refused). ``what`` names the unit, e.g. ``"pixels"``."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        unit = f" number of {what}" if what else ""
        raise ValueError(f"{name} must be a positive integer{unit}, got {value!r}")
    return int(value)


def choice(name: str, value: Any, choices: Collection[Any]) -> Any:
    """``value`` if it is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name}={value!r}; choose one of {tuple(choices)}")
    return value


def weight(name: str, value: Any) -> float:
    """``value`` as a finite float ≥ 0 (a loss weight)."""
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number ≥ 0, got {value!r}")
    return float(value)


def positive_number(name: str, value: Any) -> float:
    """``value`` as a finite float > 0 (a learning rate, a scale factor)."""
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def fraction(name: str, value: Any, *, closed: bool = True) -> float:
    """``value`` as a float in [0, 1] (``closed=False``: in (0, 1))."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (0 <= value <= 1 if closed else 0 < value < 1)
    if not ok:
        raise ValueError(f"{name} must be a number in {'[0, 1]' if closed else '(0, 1)'}, got {value!r}")
    return float(value)


def layer_names(name: str, names: Iterable[str], known: Sequence[str] | None = None) -> list[str]:
    """``names`` as a list, each a VGG19 layer (or one of ``known``, for another network)."""
    if isinstance(names, str):
        raise ValueError(f"{name} must be a list of layer names, got the string {names!r}; write [{names!r}]")
    names = list(names)
    for n in names:
        if known is not None:
            if n not in known:
                raise ValueError(f"{name}: unknown layer {n!r}; this network has {', '.join(known)}")
            continue
        try:
            layer_index(n)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    return names


def layer_weights(layers: Sequence[str], weights: Mapping[str, float] | Sequence[float] | None,
                  name: str = "style_layer_weights") -> dict[str, float]:
    """One finite weight ≥ 0 per layer: from ``{layer: weight}`` (missing layers 1), a list, or None (all 1)."""
    layers = list(layers)
    if weights is None:
        return {n: 1.0 for n in layers}
    if isinstance(weights, Mapping):
        unknown = set(weights) - set(layers)
        if unknown:
            raise ValueError(f"{name} names {sorted(unknown)} which are not in style_layers {layers}")
        out = {n: weights.get(n, 1.0) for n in layers}
    else:
        weights = list(weights)
        if len(weights) != len(layers):
            raise ValueError(f"{name} has {len(weights)} values for {len(layers)} style layers {layers}")
        out = dict(zip(layers, weights))
    bad = {n: w for n, w in out.items()
           if not (isinstance(w, (int, float)) and math.isfinite(w) and w >= 0)}
    if bad:
        raise ValueError(f"{name} must be finite and ≥ 0, got {bad}")
    return {n: float(w) for n, w in out.items()}


def blend_weights(n: int, blend: Sequence[float] | None) -> list[float]:
    """``n`` non-negative blend weights, normalised to sum 1 (None: equal)."""
    if blend is None:
        return [1.0 / n] * n
    values = [float(b) for b in blend]
    if len(values) != n or any(b < 0 or not math.isfinite(b) for b in values) or sum(values) <= 0:
        raise ValueError(f"style_blend must be {n} finite non-negative numbers with a positive sum, got {values}")
    total = sum(values)
    return [b / total for b in values]


def min_side_for(layers: Sequence[str]) -> int:
    """Smallest image side at which every named VGG19 layer still has at least 1×1 activations."""
    deepest = deepest_layer(layers)
    block = int(deepest[-3]) if deepest.startswith(("conv", "relu")) else int(deepest[-1]) + 1
    return int(2 ** (block - 1))


def image_big_enough(what: str, hw: Sequence[int], layers: Sequence[str]) -> None:
    """Raise if an image of ``hw`` pixels is too small for the deepest of ``layers``."""
    need = min_side_for(layers)
    if min(hw) < need:
        raise ValueError(
            f"the {what} image is {hw[0]}×{hw[1]} px; layer {deepest_layer(layers)} needs at least "
            f"{need} px per side — use a larger size or shallower layers"
        )
