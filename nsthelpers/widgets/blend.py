"""The blend weight slider (notebook 07_beyond): two styles mixed by one weight.
"""
from __future__ import annotations

import html
from typing import Mapping, Sequence

import ipywidgets
import torch

from .preview import image_png


class BlendExplorer(ipywidgets.VBox):
    """A slider over the blend weight ``w`` of two styles; shows ``render(w)`` (an image).

    ``render`` is a plain function ``w -> (1, 3, H, W) image`` (for instance
    ``lambda w: nst.stylize(photo, [a, b], style_blend=[1 - w, w], ...).image``); results are kept in
    ``self.cache`` (``{w: image}``), which may be pre-filled, so moving back to a weight costs nothing.
    Controls: ``self.weight`` (a SelectionSlider over ``weights``). Without a browser set
    ``self.weight.value``; ``self.state`` then holds ``{"weight", "from_cache"}``, ``self.renders``
    counts calls of ``render`` and ``self.updates`` counts redraws. ``labels`` name the two styles.
    """

    def __init__(
        self,
        render,
        weights: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0),
        *,
        value: float | None = None,
        cache: Mapping[float, torch.Tensor] | None = None,
        labels: tuple[str, str] = ("style A", "style B"),
        draw: bool = True,
    ) -> None:
        super().__init__()
        weights = [float(w) for w in weights]
        if not weights or any(not 0.0 <= w <= 1.0 for w in weights):
            raise ValueError(f"weights must be a non-empty list of numbers in [0, 1], got {weights}")
        value = weights[0] if value is None else float(value)
        if value not in weights:
            raise ValueError(f"value={value} is not one of the weights {weights}")
        self.render = render
        self.cache: dict[float, torch.Tensor] = {float(k): v for k, v in (cache or {}).items()}
        self.labels = labels
        self.draw = draw
        self.state: dict = {}
        self.renders = 0
        self.updates = 0
        self.weight = ipywidgets.SelectionSlider(options=[(f"{w:g}", w) for w in weights], value=value,
                                                 description="blend w", continuous_update=False)
        self.info = ipywidgets.HTML()
        self.view = ipywidgets.Image(format="png")
        self.children = [self.weight, self.info, self.view]
        self.weight.observe(lambda _change: self.refresh(), names="value")
        self.refresh()

    def image_for(self, w: float) -> torch.Tensor:
        """The image for blend weight ``w``: from the cache, or computed with ``render`` (then cached)."""
        w = float(w)
        if w not in self.cache:
            self.cache[w] = self.render(w).detach().cpu()
            self.renders += 1
        return self.cache[w]

    def refresh(self) -> None:
        """Show the image for the slider's weight."""
        w = float(self.weight.value)
        from_cache = w in self.cache
        image = self.image_for(w)
        a, b = (html.escape(s) for s in self.labels)
        self.info.value = (f"target Gram = <b>{1 - w:.2f}</b> × G({a}) + <b>{w:.2f}</b> × G({b})"
                           f"{' (cached)' if from_cache else ' (computed now)'}")
        if self.draw:
            self.view.value = image_png(image)
        self.state = {"weight": w, "from_cache": from_cache}
        self.updates += 1
