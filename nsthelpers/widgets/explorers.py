"""Explorers of one network's activations: feature maps (notebook 02) and Gram entries (notebook 03).

Both pick a layer and a channel with the same two controls (:class:`LayerChannelSync`).
"""
from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import ipywidgets
import torch

from .. import viz
from ..features import extract_features
from ..viz import figure_to_png, gram_entry_figure, gram_pair

if TYPE_CHECKING:
    from ..vgg import VGG19Features


# ----------------------------------------------------------------------------------------------
# Feature map explorer (notebook 02)
# ----------------------------------------------------------------------------------------------


class LayerChannelSync:
    """Shared wiring of the explorers: picking a layer re-ranges the channel slider(s) to that layer's
    channel count and redraws once (the clamping of slider values it causes does not redraw again)."""

    activations: Mapping[str, torch.Tensor]
    layer: Any  # the layer Dropdown of the explorer
    _syncing = False

    def refresh(self) -> None:
        raise NotImplementedError

    def _channel_sliders(self) -> list:
        raise NotImplementedError

    def _channels(self, layer: str) -> int:
        return int(self.activations[layer].shape[-3])

    def _wire(self, layer_widget, *others) -> None:
        layer_widget.observe(self._on_layer, names="value")
        for widget in others:
            widget.observe(self._on_change, names="value")

    def _on_layer(self, _change=None) -> None:
        self._syncing = True
        try:
            for slider in self._channel_sliders():
                slider.max = self._channels(self.layer.value) - 1  # ipywidgets clamps the value
        finally:
            self._syncing = False
        self.refresh()

    def _on_change(self, _change=None) -> None:
        if not self._syncing:
            self.refresh()


class FeatureMapExplorer(LayerChannelSync, ipywidgets.VBox):
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
        self._wire(self.layer, self.channel, self.mode)
        self.refresh()

    def _channel_sliders(self) -> list:
        return [self.channel]

    def refresh(self) -> None:
        """Redraw for the current layer, channel and mode."""

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
    model: VGG19Features,
    image: torch.Tensor,
    layers: Sequence[str],
    *,
    n: int = 16,
    draw: bool = True,
) -> FeatureMapExplorer:
    """Run ``image`` through ``model`` once (no gradients) and return a :class:`FeatureMapExplorer`
    over ``layers``, e.g. ``feature_map_explorer(model, photo, ["relu1_1", "relu3_1", "relu5_1"])``."""

    with torch.no_grad():
        acts = extract_features(model, image, layers)
    return FeatureMapExplorer({name: acts[name] for name in layers}, image, n=n, draw=draw)


# ----------------------------------------------------------------------------------------------
# Gram entry explorer (notebook 03)
# ----------------------------------------------------------------------------------------------


class GramEntryExplorer(LayerChannelSync):
    """Pick a layer and a Gram entry (i, j); see the two feature maps whose correlation it is.

    A thin front end over :func:`nsthelpers.viz.gram_pair` and :func:`nsthelpers.viz.gram_entry_figure`.
    Display it as the last expression of a cell (or ``display(explorer.ui)``). Without a browser,
    set ``explorer.layer.value``, ``explorer.i.value``, ``explorer.j.value``; ``explorer.state``
    then holds what is shown: ``{"layer", "i", "j", "value"}``, and ``explorer.updates`` counts redraws.

    The figure is rendered to PNG bytes in ``explorer.view`` (an ``ipywidgets.Image``), as in
    :class:`FeatureMapExplorer`, not captured by an ``ipywidgets.Output``: nbclient (``jupyter nbconvert
    --execute``, papermill) mimics an Output widget by sending each captured output back to the kernel
    on the shell channel, and with a large output (a real painting's maps make a PNG of about a
    megabyte) the cell then waits for its whole timeout before it completes.
    """

    def __init__(
        self,
        activations: Mapping[str, torch.Tensor],
        normalize: str = "chw",
        *,
        draw: bool = True,
    ) -> None:
        """``activations``: ``{layer: (1, C, H, W) tensor}`` of one image; ``draw=False`` skips the figure."""

        from ..viz import gram_pair  # noqa: F401  (fail early if viz is broken)

        if not activations:
            raise ValueError("activations is empty: pass {layer name: (1, C, H, W) tensor}")
        self.activations = dict(activations)
        self.normalize = normalize
        self.draw = draw
        self.state: dict = {}
        self.updates = 0
        first = next(iter(self.activations))
        c = self._channels(first)
        self.layer = ipywidgets.Dropdown(options=list(self.activations), value=first, description="layer")
        self.i = ipywidgets.IntSlider(value=0, min=0, max=c - 1, description="channel i", continuous_update=False)
        self.j = ipywidgets.IntSlider(value=min(1, c - 1), min=0, max=c - 1, description="channel j", continuous_update=False)
        self.value_label = ipywidgets.HTML()
        self.view = ipywidgets.Image(format="png")
        self.ui = ipywidgets.VBox([ipywidgets.HBox([self.layer, self.i, self.j]), self.value_label, self.view])
        self._wire(self.layer, self.i, self.j)
        self.refresh()

    def _channel_sliders(self) -> list:
        return [self.i, self.j]

    def refresh(self) -> None:
        """Recompute the entry for the current layer/i/j and redraw."""

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
            self.view.value = figure_to_png(gram_entry_figure(feats, i, j, self.normalize, layer=layer))

    def _repr_mimebundle_(self, **kwargs):
        return self.ui._repr_mimebundle_(**kwargs)


def gram_entry_explorer(
    activations: Mapping[str, torch.Tensor], normalize: str = "chw", *, draw: bool = True
) -> GramEntryExplorer:
    """Build a :class:`GramEntryExplorer` for ``{layer: (1, C, H, W) activations}`` of one image."""
    return GramEntryExplorer(activations, normalize, draw=draw)
