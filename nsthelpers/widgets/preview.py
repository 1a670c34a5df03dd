"""The live preview (notebook 05): the picture and the loss curve while an optimisation runs.
"""
from __future__ import annotations

import html
import io

import ipywidgets
import torch

from ..images import to_pil
from ..viz import figure_png, step_curves
from .live import LiveRun


def image_png(image: torch.Tensor) -> bytes:
    """(1, 3, H, W) image in [0, 1] → PNG bytes for an ``ipywidgets.Image``."""


    buf = io.BytesIO()
    to_pil(image.detach().float().cpu()).save(buf, format="PNG")
    return buf.getvalue()


def snapshot_curve(run, key: str = "total") -> tuple[list[int], list[float]]:
    """(steps, ``key`` losses) of a :class:`~nsthelpers.widgets.live.LiveRun`'s snapshots so far."""
    snaps = list(run.snapshots)
    return [s.step for s in snaps], [s.losses[key] for s in snaps]


def history_curve(result, key: str = "total") -> tuple[list[int], list[float]]:
    """(steps, ``key`` losses) of every step of a finished :class:`~nsthelpers.StyleResult`."""
    values = list(result.history[key])
    return list(range(1, len(values) + 1)), values


class LivePreview(ipywidgets.VBox):
    """Watch an optimisation while it runs: the image and the loss curve refresh every ``every`` steps.

    ``preview.start(fn, *args, **kwargs)`` runs ``fn(*args, callback=..., callback_every=every, **kwargs)``
    (:func:`nsthelpers.stylize`, :func:`nsthelpers.optimize`, …) in a background thread through
    :class:`nsthelpers.widgets.live.LiveRun` and returns at once, so the cell ends and Jupyter can handle the
    **Stop** button (``self.stop_button``): it asks the run to stop at its next callback, and the preview
    then shows the best image seen (lowest total loss among the snapshots). Call ``preview.wait()``
    (e.g. in the next cell) to block until the run has ended; it returns the StyleResult.

    Without a browser: ``preview.stop()`` or ``preview.stop_button.click()``; ``preview.final_image``
    is the image kept (best snapshot when stopped, the result otherwise); ``preview.updates`` counts
    refreshes; ``preview.run`` is the :class:`~nsthelpers.widgets.live.LiveRun`.
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
        """Block until the run ends (or reaches ``until_step``); see :meth:`nsthelpers.widgets.live.LiveRun.wait`."""
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

        run = self.run
        best = (run.best_step, run.best_loss) if run is not None and run.best_step is not None else None
        self.losses_view.value = figure_png(lambda ax: step_curves(ax, {"total": curve}, best=best))

    def _on_update(self, run, info) -> None:
        self.image.value = image_png(run.latest_image)
        if self.draw_losses:
            self._draw_losses(snapshot_curve(run))
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
            self.image.value = image_png(final)
        if self.draw_losses and result.history["total"]:
            self._draw_losses(history_curve(result))
        if result.stopped == "callback":
            self.status.value = (f"stopped at step {result.steps_done}/{run.steps}: kept the "
                                 f"best image (total loss {run.best_loss:.4g}, step {run.best_step})")
        else:
            self.status.value = (f"{html.escape(result.stopped)} after {result.steps_done} steps in "
                                 f"{run.elapsed_s:.1f} s; final total loss {result.history['total'][-1]:.4g}")
