"""ipywidgets front ends for the notebooks.

Each widget only wires controls to plain functions (in :mod:`nsthelpers.viz` and friends), which
the tests call directly; every widget can also be driven without a browser by setting its
controls' ``.value`` (the notebooks do this to check themselves).
"""
from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import ipywidgets
import torch

if TYPE_CHECKING:
    from .live import LiveRun
    from .vgg import VGG19Features

# ----------------------------------------------------------------------------------------------
# Feature map explorer (notebook 02)
# ----------------------------------------------------------------------------------------------


class _LayerChannelSync:
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


class FeatureMapExplorer(_LayerChannelSync, ipywidgets.VBox):
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
    model: VGG19Features,
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


class GramEntryExplorer(_LayerChannelSync):
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
        self.view = W.Image(format="png")
        self.ui = W.VBox([W.HBox([self.layer, self.i, self.j]), self.value_label, self.view])
        self._wire(self.layer, self.i, self.j)
        self.refresh()

    def _channel_sliders(self) -> list:
        return [self.i, self.j]

    def refresh(self) -> None:
        """Recompute the entry for the current layer/i/j and redraw."""
        from .viz import figure_to_png, gram_entry_figure, gram_pair

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


# ----------------------------------------------------------------------------------------------
# Live preview (notebook 05) and the style lab (notebook 06)
# ----------------------------------------------------------------------------------------------


def _image_png(image: torch.Tensor) -> bytes:
    """(1, 3, H, W) image in [0, 1] → PNG bytes for an ``ipywidgets.Image``."""
    import io

    from .images import to_pil

    buf = io.BytesIO()
    to_pil(image.detach().float().cpu()).save(buf, format="PNG")
    return buf.getvalue()


def _snapshot_curve(run, key: str = "total") -> tuple[list[int], list[float]]:
    """(steps, ``key`` losses) of a :class:`~nsthelpers.live.LiveRun`'s snapshots so far."""
    snaps = list(run.snapshots)
    return [s.step for s in snaps], [s.losses[key] for s in snaps]


def _history_curve(result, key: str = "total") -> tuple[list[int], list[float]]:
    """(steps, ``key`` losses) of every step of a finished :class:`~nsthelpers.StyleResult`."""
    values = list(result.history[key])
    return list(range(1, len(values) + 1)), values


class LivePreview(ipywidgets.VBox):
    """Watch an optimisation while it runs: the image and the loss curve refresh every ``every`` steps.

    ``preview.start(fn, *args, **kwargs)`` runs ``fn(*args, callback=..., callback_every=every, **kwargs)``
    (:func:`nsthelpers.stylize`, :func:`nsthelpers.optimize`, …) in a background thread through
    :class:`nsthelpers.live.LiveRun` and returns at once, so the cell ends and Jupyter can handle the
    **Stop** button (``self.stop_button``): it asks the run to stop at its next callback, and the preview
    then shows the best image seen (lowest total loss among the snapshots). Call ``preview.wait()``
    (e.g. in the next cell) to block until the run has ended; it returns the StyleResult.

    Without a browser: ``preview.stop()`` or ``preview.stop_button.click()``; ``preview.final_image``
    is the image kept (best snapshot when stopped, the result otherwise); ``preview.updates`` counts
    refreshes; ``preview.run`` is the :class:`~nsthelpers.live.LiveRun`.
    """

    def __init__(self, *, every: int = 10, width: int = 256, draw_losses: bool = True) -> None:
        """``every``: steps between refreshes; ``width``: display width of the image in pixels;
        ``draw_losses=False`` skips the loss plot (faster refreshes)."""
        super().__init__()
        self.every = int(every)
        self.draw_losses = draw_losses
        self.run: LiveRun | None = None
        self.updates = 0
        self.image = ipywidgets.Image(format="png", layout=ipywidgets.Layout(width=f"{width}px"))
        self.image.add_class("nst-result")
        self.losses_view = ipywidgets.Image(format="png", layout=ipywidgets.Layout(width=f"{int(width * 1.6)}px"))
        self.stop_button = ipywidgets.Button(description="Stop", icon="stop", button_style="danger", disabled=True,
                                             tooltip="stop at the next refresh and keep the best image so far")
        self.status = ipywidgets.HTML("not started")
        self.stop_button.on_click(lambda _button: self.stop())
        self.children = [ipywidgets.HBox([self.stop_button, self.status]),
                         ipywidgets.HBox([self.image, self.losses_view])]

    def start(self, fn, *args, **kwargs) -> "LivePreview":
        """Start ``fn(*args, **kwargs)`` in the background (see the class docstring); returns ``self``."""
        from .live import LiveRun

        if self.run is not None and self.run.running:
            raise RuntimeError("a run is still going: call .stop() or .wait() before starting another")
        self.updates = 0
        self.run = LiveRun(fn, *args, every=self.every, on_update=self._on_update, on_done=self._on_done, **kwargs)
        self.stop_button.disabled = False
        self.status.value = "running…"
        self.run.start()
        return self

    def stop(self) -> None:
        """Ask the run to stop at its next refresh (it keeps the best image so far)."""
        if self.run is not None and self.run.running:
            self.run.stop()
            self.status.value = "stopping at the next refresh…"

    def wait(self, timeout: float | None = None, *, until_step: int | None = None):
        """Block until the run ends (or reaches ``until_step``); see :meth:`nsthelpers.live.LiveRun.wait`."""
        if self.run is None:
            raise RuntimeError("nothing is running: call .start(fn, ...) first")
        return self.run.wait(timeout, until_step=until_step)

    @property
    def result(self):
        """The finished run's StyleResult (None while running)."""
        return None if self.run is None else self.run.result

    @property
    def final_image(self) -> torch.Tensor | None:
        """The image the preview keeps: the best snapshot if the run was stopped, else the result's image."""
        run = self.run
        if run is None or run.result is None:
            return None
        if run.result.stopped != "finished" and run.best_image is not None:
            return run.best_image
        return run.result.image

    def _draw_losses(self, curve: tuple[list[int], list[float]]) -> None:
        from .viz import figure_png, step_curves

        run = self.run
        best = (run.best_step, run.best_loss) if run is not None and run.best_step is not None else None
        self.losses_view.value = figure_png(lambda ax: step_curves(ax, {"total": curve}, best=best))

    def _on_update(self, run, info) -> None:
        self.image.value = _image_png(run.latest_image)
        if self.draw_losses:
            self._draw_losses(_snapshot_curve(run))
        self.status.value = (f"step {info.step}/{info.steps}: total loss {info.losses['total']:.4g} "
                             f"(best {run.best_loss:.4g} at step {run.best_step})")
        self.updates += 1

    def _on_done(self, run) -> None:
        self.stop_button.disabled = True
        if run.error is not None:
            self.status.value = f"<b>failed</b>: {html.escape(type(run.error).__name__)}: {html.escape(str(run.error))}"
            return
        result = run.result
        final = self.final_image
        if final is not None:
            self.image.value = _image_png(final)
        if self.draw_losses and result.history["total"]:
            self._draw_losses(_history_curve(result))
        if result.stopped == "callback":
            self.status.value = (f"stopped at step {result.steps_done}/{run.steps}: kept the "
                                 f"best image (total loss {run.best_loss:.4g}, step {run.best_step})")
        else:
            self.status.value = (f"{html.escape(result.stopped)} after {result.steps_done} steps in "
                                 f"{run.elapsed_s:.1f} s; final total loss {result.history['total'][-1]:.4g}")


class StyleLabWidget(ipywidgets.VBox):
    """The style lab: controls for :meth:`nsthelpers.lab.StyleLab.run`, a **Run** button, the result next to
    the previous one, and the loss curves of both runs.

    Controls (set ``.value`` to drive the lab without a browser): ``style`` (Dropdown), ``optimizer``,
    ``init``, ``log10_ratio`` (FloatSlider, log10 of style weight / content weight), ``tv_weight``
    (FloatLogSlider from 1e-2 to 1e11: the TV loss is measured on [0, 1] pixels, ~0.01, while the content
    term is measured on VGG activations, ~1e6 with the Caffe weights, so TV needs a large weight: the
    default, :data:`nsthelpers.DEFAULT_TV_WEIGHT`, removes pixel-level speckle and ten times more blurs),
    ``layer_weights`` ({style layer: FloatSlider, 0 turns the layer off}), ``size``, ``steps`` and
    ``coarse_steps`` (steps at half the size first, so the first picture shows within seconds; 0: off). ``run_button.click()`` starts a run in a background thread (the result refreshes every
    ``every`` steps; ``stop_button`` ends it early); ``wait()`` blocks until it is done. The result image
    has the CSS class ``nst-result`` and the previous one ``nst-previous`` (see tests/e2e/README.md).
    Errors from a run are shown in ``console`` (an Output widget). ``params()`` is what the next run gets.
    """

    def __init__(self, lab, *, size: int | None = None, steps: int = 100, coarse_steps: int = 0,
                 size_range: tuple[int, int] = (64, 512), max_steps: int = 1000, every: int = 10,
                 width: int = 256) -> None:
        """``lab``: a :class:`nsthelpers.lab.StyleLab`; ``size``/``steps``/``coarse_steps``: initial slider values
        (``size`` default: the lab's :attr:`~nsthelpers.lab.StyleLab.default_size`, the profile's, never larger
        than the photo); ``every``: steps between live refreshes; ``width``: display width of the images in pixels."""
        super().__init__()
        from .lab import StyleLab

        if not isinstance(lab, StyleLab):
            raise ValueError(f"lab must be a nsthelpers.lab.StyleLab, got {type(lab).__name__}")
        self.lab, self.every = lab, int(every)
        size = lab.default_size if size is None else size
        self.live: LiveRun | None = None
        self._make_controls(size, steps, coarse_steps, size_range, max_steps)
        self._make_views(size, width)
        self.runs = 0
        self._shown_params: dict | None = None   # params of the run in the result image
        self._shown_result = None
        self._previous_result = None
        self.run_button.on_click(self._on_run)
        self.stop_button.on_click(lambda _button: self.stop())
        self.children = self._layout(width)

    def _make_controls(self, size: int, steps: int, coarse_steps: int, size_range: tuple[int, int],
                       max_steps: int) -> None:
        from .specs import INITS, OPTIMIZERS

        lab = self.lab
        defaults = lab.default_params(size=size, steps=steps)
        wide = {"description_width": "initial"}
        r0 = round(lab.default_log10_ratio)
        self.style = ipywidgets.Dropdown(options=lab.style_names, value=defaults["style"], description="style image",
                                         style=wide)
        self.optimizer = ipywidgets.Dropdown(options=list(OPTIMIZERS), value=defaults["optimizer"], description="optimizer")
        self.init = ipywidgets.Dropdown(options=list(INITS), value="content", description="init")
        self.log10_ratio = ipywidgets.FloatSlider(
            value=round(lab.default_log10_ratio, 1), min=r0 - 4, max=r0 + 4, step=0.1, readout_format=".1f",
            description="log10 style/content", continuous_update=False, style=wide)
        self.tv_weight = ipywidgets.FloatLogSlider(value=lab.default_tv_weight, base=10, min=-2, max=11, step=0.1, readout_format=".3g",
                                                   description="TV weight", continuous_update=False, style=wide)
        self.layer_weights = {
            name: ipywidgets.FloatSlider(value=1.0, min=0.0, max=5.0, step=0.1, readout_format=".1f",
                                         description=name, continuous_update=False)
            for name in lab.style_layers
        }
        self.size = ipywidgets.IntSlider(value=size, min=size_range[0], max=size_range[1], step=16,
                                         description="size (px)", continuous_update=False, style=wide)
        self.steps = ipywidgets.IntSlider(value=steps, min=5, max=max_steps, step=5, description="steps",
                                          continuous_update=False)
        self.coarse_steps = ipywidgets.IntSlider(value=coarse_steps, min=0, max=max_steps, step=5,
                                                 description="coarse steps (½ size)", continuous_update=False,
                                                 style=wide)
        self.run_button = ipywidgets.Button(description="Run", button_style="primary", icon="play",
                                            tooltip="stylise with these settings (targets are cached)")
        self.stop_button = ipywidgets.Button(description="Stop", icon="stop", disabled=True,
                                             tooltip="stop at the next refresh")

    def _make_views(self, size: int, width: int) -> None:
        box = ipywidgets.Layout(width=f"{width}px", height=f"{width}px", object_fit="contain")
        self.previous_image = ipywidgets.Image(format="png", value=b"", layout=box)
        self.result_image = ipywidgets.Image(format="png", value=_image_png(self.lab.content_at(size)), layout=box)
        self.previous_image.add_class("nst-previous")   # the e2e browser test looks for these classes
        self.result_image.add_class("nst-result")
        label = ipywidgets.Layout(height="92px", overflow="auto")    # same height: the images line up
        self.previous_label = ipywidgets.HTML("<b>previous</b>: none yet", layout=label)
        self.result_label = ipywidgets.HTML("<b>result</b>: the content photo (no run yet)", layout=label)
        self.loss_view = ipywidgets.Image(format="png", layout=ipywidgets.Layout(width=f"{int(width * 2.4)}px"))
        self.status = ipywidgets.HTML("ready")
        self.console = ipywidgets.Output()

    def _layout(self, width: int) -> list:
        column = ipywidgets.Layout(width=f"{width + 20}px")
        return [
            ipywidgets.HBox([self.style, self.optimizer, self.init]),
            ipywidgets.HBox([self.log10_ratio, self.tv_weight]),
            ipywidgets.HBox([self.size, self.steps, self.coarse_steps]),
            ipywidgets.HTML("per-layer style weights (0 turns a layer off):"),
            ipywidgets.GridBox(list(self.layer_weights.values()),
                               layout=ipywidgets.Layout(grid_template_columns="repeat(3, 320px)")),
            ipywidgets.HBox([self.run_button, self.stop_button, self.status]),
            ipywidgets.HBox([ipywidgets.VBox([self.previous_label, self.previous_image], layout=column),
                             ipywidgets.VBox([self.result_label, self.result_image], layout=column)]),
            self.loss_view,
            self.console,
        ]

    def params(self) -> dict:
        """The keywords the next :meth:`~nsthelpers.lab.StyleLab.run` gets, read from the controls."""
        return {
            "style": self.style.value, "size": int(self.size.value), "steps": int(self.steps.value),
            "coarse_steps": int(self.coarse_steps.value),
            "optimizer": self.optimizer.value, "init": self.init.value,
            "log10_ratio": round(float(self.log10_ratio.value), 3), "tv_weight": float(self.tv_weight.value),
            "style_layer_weights": {n: float(s.value) for n, s in self.layer_weights.items()},
        }

    @property
    def running(self) -> bool:
        """True while a run is in progress."""
        return self.live is not None and self.live.running

    @property
    def result(self):
        """The StyleResult shown as the result (None before the first run)."""
        return self._shown_result

    def wait(self, timeout: float | None = None):
        """Block until the current run is done and return its StyleResult (None if nothing was started)."""
        return None if self.live is None else self.live.wait(timeout)

    def stop(self) -> None:
        """Stop the current run at its next refresh."""
        if self.live is not None and self.running:
            self.live.stop()
            self.status.value = "stopping…"

    def _on_run(self, _button=None) -> None:
        import traceback

        from .lab import describe_changes
        from .live import LiveRun

        if self.running:
            return
        try:
            params = self.params()
            self.previous_image.value = self.result_image.value
            self.previous_label.value = self.result_label.value.replace("<b>result</b>", "<b>previous</b>", 1)
            self._previous_result = self._shown_result
            changes = describe_changes(self._shown_params, params)
            self._pending = (params, changes)
            self.run_button.disabled, self.stop_button.disabled = True, False
            self.status.value = "running: " + html.escape(", ".join(changes) or "same settings again")
            self.live = LiveRun(self.lab.run, every=self.every, on_update=self._on_update, on_done=self._on_done,
                                **params).start()
        except Exception:  # shown in the log, never lost in a browser console
            self.run_button.disabled, self.stop_button.disabled = False, True
            self.console.append_stderr(traceback.format_exc())

    def _loss_png(self, current) -> bytes:
        """Content and style loss (unweighted, so comparable when weights change) of this run and the previous one;
        ``current(key)`` gives this run's (steps, values)."""
        from .viz import figure_png, step_curves

        previous = self._previous_result if self._previous_result is not None and \
            self._previous_result.history["total"] else None

        def draw(axes) -> None:
            for ax, key in zip(axes, ("content", "style")):
                curves = {"this run": current(key)}
                if previous is not None:
                    curves["previous run"] = _history_curve(previous, key)
                step_curves(ax, curves, ylabel=f"{key} loss (unweighted)", title=f"{key} loss")

        return figure_png(draw, ncols=2, figsize=(7.5, 2.8))

    def _on_update(self, run, info) -> None:
        self.result_image.value = _image_png(run.latest_image)
        self.loss_view.value = self._loss_png(lambda key: _snapshot_curve(run, key))
        self.status.value = f"step {info.step}/{info.steps}: total loss {info.losses['total']:.4g}"

    def _on_done(self, run) -> None:
        import traceback

        self.run_button.disabled, self.stop_button.disabled = False, True
        params, changes = self._pending
        if run.error is not None:
            self.status.value = f"<b>failed</b>: {html.escape(type(run.error).__name__)}"
            self.console.append_stderr("".join(traceback.format_exception(run.error)))
            return
        result = run.result
        kept = run.best_image if result.stopped != "finished" and run.best_image is not None else result.image
        self.result_image.value = _image_png(kept)
        self.loss_view.value = self._loss_png(lambda key: _history_curve(result, key))
        self.runs += 1
        self._shown_params, self._shown_result = params, result
        final = result.final_losses
        cached = "targets cached" if result.settings.get("cached") else "targets computed"
        self.result_label.value = (
            f"<b>result</b> (run {self.runs})<br><small>content {final['content']:.3g} · style {final['style']:.3g}"
            f"</small><br><small>{html.escape(', '.join(changes) or 'same settings')}</small>")
        self.status.value = (f"{html.escape(result.stopped)}: {result.steps_done} steps in {run.elapsed_s:.1f} s "
                             f"({cached})")


def style_lab(model, content, styles=None, *, size: int | None = None, steps: int = 100, coarse_steps: int = 0,
              every: int = 10, **lab_kwargs) -> StyleLabWidget:
    """A :class:`StyleLabWidget` over a new :class:`nsthelpers.lab.StyleLab` (``lab_kwargs`` go to StyleLab)."""
    from .lab import StyleLab

    return StyleLabWidget(StyleLab(model, content, styles, **lab_kwargs), size=size, steps=steps,
                          coarse_steps=coarse_steps, every=every)


# ----------------------------------------------------------------------------------------------
# Blend weight slider (notebook 07_beyond)
# ----------------------------------------------------------------------------------------------


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
            self.view.value = _image_png(image)
        self.state = {"weight": w, "from_cache": from_cache}
        self.updates += 1
