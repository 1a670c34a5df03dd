"""The style lab's panel (notebook 06): sliders and buttons around :class:`~nsthelpers.widgets.lab.StyleLab`.
"""
from __future__ import annotations

import html
import traceback

import ipywidgets

from ..specs import INITS, OPTIMIZERS
from ..viz import figure_png, step_curves
from .lab import StyleLab, describe_changes
from .live import LiveRun
from .preview import history_curve, image_png, snapshot_curve


class StyleLabWidget(ipywidgets.VBox):
    """The style lab: controls for :meth:`nsthelpers.widgets.lab.StyleLab.run`, a **Run** button, the result next to
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
        """``lab``: a :class:`nsthelpers.widgets.lab.StyleLab`; ``size``/``steps``/``coarse_steps``: initial slider values
        (``size`` default: the lab's :attr:`~nsthelpers.widgets.lab.StyleLab.default_size`, the profile's, never larger
        than the photo); ``every``: steps between live refreshes; ``width``: display width of the images in pixels."""
        super().__init__()

        if not isinstance(lab, StyleLab):
            raise ValueError(f"lab must be a nsthelpers.widgets.lab.StyleLab, got {type(lab).__name__}")
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
        self.result_image = ipywidgets.Image(format="png", value=image_png(self.lab.content_at(size)), layout=box)
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
        """The keywords the next :meth:`~nsthelpers.widgets.lab.StyleLab.run` gets, read from the controls."""
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

        previous = self._previous_result if self._previous_result is not None and \
            self._previous_result.history["total"] else None

        def draw(axes) -> None:
            for ax, key in zip(axes, ("content", "style")):
                curves = {"this run": current(key)}
                if previous is not None:
                    curves["previous run"] = history_curve(previous, key)
                step_curves(ax, curves, ylabel=f"{key} loss (unweighted)", title=f"{key} loss")

        return figure_png(draw, ncols=2, figsize=(7.5, 2.8))

    def _on_update(self, run, info) -> None:
        self.result_image.value = image_png(run.latest_image)
        self.loss_view.value = self._loss_png(lambda key: snapshot_curve(run, key))
        self.status.value = f"step {info.step}/{info.steps}: total loss {info.losses['total']:.4g}"

    def _on_done(self, run) -> None:

        self.run_button.disabled, self.stop_button.disabled = False, True
        params, changes = self._pending
        if run.error is not None:
            self.status.value = f"<b>failed</b>: {html.escape(type(run.error).__name__)}"
            self.console.append_stderr("".join(traceback.format_exception(run.error)))
            return
        result = run.result
        kept = run.best_image if result.stopped != "finished" and run.best_image is not None else result.image
        self.result_image.value = image_png(kept)
        self.loss_view.value = self._loss_png(lambda key: history_curve(result, key))
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
    """A :class:`StyleLabWidget` over a new :class:`nsthelpers.widgets.lab.StyleLab` (``lab_kwargs`` go to StyleLab)."""

    return StyleLabWidget(StyleLab(model, content, styles, **lab_kwargs), size=size, steps=steps,
                          coarse_steps=coarse_steps, every=every)
