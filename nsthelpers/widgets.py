"""ipywidgets front ends for the notebooks.

Each widget only wires controls to plain functions (in :mod:`nsthelpers.viz` and friends), which
the tests call directly; every widget can also be driven without a browser by setting its
controls' ``.value`` (the notebooks do this to check themselves).
"""
from __future__ import annotations

import html
from typing import Mapping, Sequence

import ipywidgets
import torch

# ----------------------------------------------------------------------------------------------
# Feature map explorer (notebook 02)
# ----------------------------------------------------------------------------------------------


class FeatureMapExplorer(ipywidgets.VBox):
    """Sliders over layer and channel; shows one channel's map (next to the input) or a grid of maps.

    A widget (display it directly). Every redraw calls plain functions only:
    :func:`nsthelpers.viz.show_channel` / :func:`~nsthelpers.viz.feature_grid` (rendered to PNG by
    :func:`~nsthelpers.viz.figure_to_png` into ``self.view``, an ``ipywidgets.Image``),
    :func:`~nsthelpers.viz.channel_summary` and :func:`~nsthelpers.viz.top_channels` (``self.info``).

    Controls: ``self.layer`` (SelectionSlider over the layer names), ``self.channel`` (IntSlider;
    its range follows the layer's channel count), ``self.mode`` (``"channel"`` or ``"grid"``:
    ``n`` consecutive channels from the slider's channel, or the last ``n`` near the end).
    Without a browser, set their ``.value``; ``self.state`` then says what is shown (``layer``,
    ``channel``, ``mode``, ``channels``) and ``self.updates`` counts redraws (one per change).
    """

    def __init__(
        self,
        activations: Mapping[str, torch.Tensor],
        image: torch.Tensor | None = None,
        *,
        n: int = 16,
        draw: bool = True,
    ) -> None:
        """``activations``: ``{layer: (1, C, H, W)}`` of one image; ``image`` (optional) is shown
        beside single-channel maps; ``n`` maps per grid; ``draw=False`` skips rendering the figure."""
        super().__init__()
        if not activations:
            raise ValueError("activations is empty: pass {layer name: (1, C, H, W) tensor}")
        self.activations = {name: a.detach().cpu() for name, a in activations.items()}
        self.image = None if image is None else image.detach().cpu()
        self.n = int(n)
        self.draw = draw
        self.state: dict = {}
        self.updates = 0
        first = next(iter(self.activations))
        self.layer = ipywidgets.SelectionSlider(options=list(self.activations), value=first, description="layer",
                                                continuous_update=False)
        self.channel = ipywidgets.IntSlider(value=0, min=0, max=self._channels(first) - 1, description="channel",
                                            continuous_update=False)
        self.mode = ipywidgets.ToggleButtons(options=[("one channel", "channel"), (f"grid of {self.n}", "grid")],
                                             value="channel")
        self.info = ipywidgets.HTML()
        self.view = ipywidgets.Image(format="png")
        self.children = [ipywidgets.HBox([self.layer, self.channel, self.mode]), self.info, self.view]
        self._syncing = False
        self.layer.observe(self._on_layer, names="value")
        self.channel.observe(self._on_change, names="value")
        self.mode.observe(self._on_change, names="value")
        self.refresh()

    def _channels(self, layer: str) -> int:
        return int(self.activations[layer].shape[-3])

    def _on_layer(self, _change=None) -> None:
        self._syncing = True  # the new range may clamp the channel: redraw once, below
        try:
            self.channel.max = self._channels(self.layer.value) - 1
        finally:
            self._syncing = False
        self.refresh()

    def _on_change(self, _change=None) -> None:
        if not self._syncing:
            self.refresh()

    def refresh(self) -> None:
        """Redraw for the current layer, channel and mode."""
        from . import viz

        layer, channel, mode = self.layer.value, int(self.channel.value), self.mode.value
        acts = self.activations[layer]
        c = self._channels(layer)
        start = max(0, min(channel, c - self.n))  # near the end, the grid still shows n maps
        channels = [channel] if mode == "channel" else list(range(start, min(start + self.n, c)))
        if self.draw:
            if mode == "channel":
                fig = viz.show_channel(acts, channel, self.image, layer=layer)
            else:
                fig = viz.feature_grid(acts, channels=channels,
                                       title=f"{layer}: channels {channels[0]}…{channels[-1]} of {c}")
            self.view.value = viz.figure_to_png(fig)
        strongest = ", ".join(str(k) for k in viz.top_channels(acts, 5))
        self.info.value = (f"{html.escape(viz.channel_summary(acts, channel, layer))}"
                           f"<br>strongest channels of {html.escape(layer)} (mean activation): {strongest}")
        self.state = {"layer": layer, "channel": channel, "mode": mode, "channels": channels}
        self.updates += 1


def feature_map_explorer(
    model: torch.nn.Module,
    image: torch.Tensor,
    layers: Sequence[str],
    *,
    n: int = 16,
    draw: bool = True,
) -> FeatureMapExplorer:
    """Run ``image`` through ``model`` once (no gradients) and return a :class:`FeatureMapExplorer`
    over ``layers``, e.g. ``feature_map_explorer(model, photo, ["relu1_1", "relu3_1", "relu5_1"])``."""
    from .features import extract_features

    with torch.no_grad():
        acts = extract_features(model, image, layers)
    return FeatureMapExplorer({name: acts[name] for name in layers}, image, n=n, draw=draw)


# ----------------------------------------------------------------------------------------------
# Gram entry explorer (notebook 03)
# ----------------------------------------------------------------------------------------------


class GramEntryExplorer:
    """Pick a layer and a Gram entry (i, j); see the two feature maps whose correlation it is.

    A thin front end over :func:`nsthelpers.viz.gram_pair` and :func:`nsthelpers.viz.gram_entry_figure`.
    Display it as the last expression of a cell (or ``display(explorer.ui)``). Without a browser,
    set ``explorer.layer.value``, ``explorer.i.value``, ``explorer.j.value``; ``explorer.state``
    then holds what is shown: ``{"layer", "i", "j", "value"}``, and ``explorer.updates`` counts redraws.
    """

    def __init__(
        self,
        activations: Mapping[str, torch.Tensor],
        normalize: str = "chw",
        *,
        draw: bool = True,
    ) -> None:
        """``activations``: ``{layer: (1, C, H, W) tensor}`` of one image; ``draw=False`` skips the figure."""
        import ipywidgets as W

        from .viz import gram_pair  # noqa: F401  (fail early if viz is broken)

        if not activations:
            raise ValueError("activations is empty: pass {layer name: (1, C, H, W) tensor}")
        self.activations = dict(activations)
        self.normalize = normalize
        self.draw = draw
        self.state: dict = {}
        self.updates = 0
        first = next(iter(self.activations))
        c = self._channels(first)
        self.layer = W.Dropdown(options=list(self.activations), value=first, description="layer")
        self.i = W.IntSlider(value=0, min=0, max=c - 1, description="channel i", continuous_update=False)
        self.j = W.IntSlider(value=min(1, c - 1), min=0, max=c - 1, description="channel j", continuous_update=False)
        self.value_label = W.HTML()
        self.output = W.Output()
        self.ui = W.VBox([W.HBox([self.layer, self.i, self.j]), self.value_label, self.output])
        self._syncing = False
        self.layer.observe(self._on_layer, names="value")
        self.i.observe(self._on_change, names="value")
        self.j.observe(self._on_change, names="value")
        self.refresh()

    def _channels(self, layer: str) -> int:
        return int(self.activations[layer].shape[-3])

    def _on_layer(self, _change=None) -> None:
        c = self._channels(self.layer.value)
        self._syncing = True  # moving the sliders' ranges must not redraw twice
        try:
            self.i.max = self.j.max = c - 1  # ipywidgets clamps value into the new range
        finally:
            self._syncing = False
        self.refresh()

    def _on_change(self, _change=None) -> None:
        if not self._syncing:
            self.refresh()

    def refresh(self) -> None:
        """Recompute the entry for the current layer/i/j and redraw."""
        from IPython.display import clear_output, display

        from .viz import gram_entry_figure, gram_pair

        layer, i, j = self.layer.value, int(self.i.value), int(self.j.value)
        feats = self.activations[layer]
        _, _, value = gram_pair(feats, i, j, self.normalize)
        self.state = {"layer": layer, "i": i, "j": j, "value": value}
        self.updates += 1
        self.value_label.value = (
            f"<b>{layer}</b>: G[{i}, {j}] = {value:.5g} "
            f"(normalize={self.normalize!r}, {feats.shape[-3]} channels)"
        )
        if self.draw:
            import matplotlib.pyplot as plt

            fig = gram_entry_figure(feats, i, j, self.normalize, layer=layer)
            with self.output:
                clear_output(wait=True)
                display(fig)
            plt.close(fig)

    def _repr_mimebundle_(self, **kwargs):
        return self.ui._repr_mimebundle_(**kwargs)


def gram_entry_explorer(
    activations: Mapping[str, torch.Tensor], normalize: str = "chw", *, draw: bool = True
) -> GramEntryExplorer:
    """Build a :class:`GramEntryExplorer` for ``{layer: (1, C, H, W) activations}`` of one image."""
    return GramEntryExplorer(activations, normalize, draw=draw)
