"""Run a stylisation in a background thread: snapshots every few steps, the best image so far, a stop flag.

While a notebook cell is executing, Jupyter does not handle widget events: a **Stop** button pressed
during a long ``stylize(...)`` call only acts after the call has returned. So a live preview must run the
optimisation in a background thread and let the cell return at once; the button then sets a flag that the
optimiser's callback reads at its next call (``callback(info) -> True`` stops the run and keeps the image).

:class:`LiveRun` is that plumbing, free of widgets (tests drive it directly); the ipywidgets front ends
(:class:`nsthelpers.widgets.LivePreview`, :class:`nsthelpers.widgets.StyleLabWidget`) only pass it
functions that redraw.

    run = LiveRun(nst.stylize, photo, painting, steps=300, weights=model, every=10).start()
    run.wait(until_step=50)     # ... the cell may also just return; the run goes on
    run.stop()                  # what the Stop button does
    result = run.wait()         # the StyleResult (result.stopped == "callback"); run.best_image
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch

from ..loop import StepInfo, StyleResult


@dataclass(frozen=True)
class Snapshot:
    """The losses recorded at one callback: ``step`` (objective evaluations so far), seconds since start."""

    step: int
    losses: dict[str, float]
    seconds: float


class LiveRun:
    """Call ``fn(*args, callback=..., callback_every=every, **kwargs)`` in a daemon thread.

    ``fn`` is :func:`nsthelpers.stylize`, :func:`nsthelpers.optimize`, :meth:`nsthelpers.widgets.lab.StyleLab.run`
    or anything with the same ``callback``/``callback_every`` keywords that returns a
    :class:`~nsthelpers.StyleResult`. At every callback the run records a :class:`Snapshot`, keeps a CPU
    copy of the image with the lowest total loss so far (``best_image``, ``best_loss``, ``best_step``; in a
    coarse-to-fine run, the best of the finest scale reached so far)
    and the latest image (``latest_image``), calls ``on_update(self, info)``, and returns whether
    :meth:`stop` was requested. ``on_done(self)`` is called in the thread after ``fn`` returned or
    raised, before :meth:`wait` returns.

    Attributes after the run: ``result`` (the StyleResult, or None if ``fn`` raised), ``error``
    (the exception, or None), ``snapshots``, ``stop_requested``, ``elapsed_s``.
    """

    def __init__(
        self,
        fn: Callable[..., StyleResult],
        *args: Any,
        every: int = 10,
        on_update: Callable[["LiveRun", StepInfo], None] | None = None,
        on_done: Callable[["LiveRun"], None] | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(every, int) or isinstance(every, bool) or every <= 0:
            raise ValueError(f"every must be a positive integer number of steps, got {every!r}")
        for reserved in ("callback", "callback_every"):
            if reserved in kwargs:
                raise ValueError(f"{reserved}= is set by LiveRun (use on_update= and every= instead)")
        self.fn, self.args, self.kwargs, self.every = fn, args, kwargs, every
        self.on_update, self.on_done = on_update, on_done
        self.result: StyleResult | None = None
        self.error: BaseException | None = None
        self.snapshots: list[Snapshot] = []
        self.best_image: torch.Tensor | None = None
        self.best_loss = float("inf")
        self.best_step: int | None = None
        self.latest_image: torch.Tensor | None = None
        self.elapsed_s = 0.0
        self.steps: int | None = None  # the steps the run was asked for (known from the first callback)
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._finished = False
        self._thread: threading.Thread | None = None
        self._t0 = 0.0

    # ------------------------------------------------------------------ control
    def start(self) -> "LiveRun":
        """Start the thread (once) and return ``self`` at once."""
        if self._thread is not None:
            raise RuntimeError("this LiveRun was already started; make a new one for another run")
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._main, name="nsthelpers-live-run", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the run to stop at its next callback (it then keeps the image it has)."""
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._stop.is_set()

    @property
    def running(self) -> bool:
        """True from :meth:`start` until ``fn`` has returned and ``on_done`` has run."""
        return self._thread is not None and not self._finished

    @property
    def finished(self) -> bool:
        """True once ``fn`` has returned (or raised) and ``on_done`` has run."""
        return self._finished

    @property
    def last_step(self) -> int:
        """Step of the latest snapshot (0 before the first)."""
        return self.snapshots[-1].step if self.snapshots else 0

    def wait(self, timeout: float | None = None, *, until_step: int | None = None) -> StyleResult | None:
        """Block until the run has finished (or, with ``until_step``, until a snapshot at that step or later).

        Returns the :class:`StyleResult` once finished (None while still running with ``until_step``).
        Raises ``TimeoutError`` after ``timeout`` seconds, and ``RuntimeError`` (from the original
        exception) if ``fn`` raised. Interrupting the wait (Ctrl-C, Jupyter's stop button) stops the
        run and waits for it to hand back its image.
        """
        if self._thread is None:
            raise RuntimeError("the run was not started: call .start() first")

        def ready() -> bool:
            return self._finished or (until_step is not None and self.last_step >= until_step)

        try:
            with self._cond:
                if not self._cond.wait_for(ready, timeout):
                    raise TimeoutError(f"the run did not {'reach step ' + str(until_step) if until_step else 'finish'} "
                                       f"within {timeout} s (at step {self.last_step}); call .stop() to end it")
        except KeyboardInterrupt:
            self.stop()
            with self._cond:
                self._cond.wait_for(lambda: self._finished)
        if not self._finished:
            return None
        self._thread.join()
        if self.error is not None:
            raise RuntimeError(f"the background run failed: {type(self.error).__name__}: {self.error}") from self.error
        return self.result

    # ------------------------------------------------------------------ thread side
    def callback(self, info: StepInfo) -> bool:
        """The optimiser's callback: record, track the best image, call ``on_update``; True means stop."""
        losses = {k: float(v) for k, v in info.losses.items()}
        image = info.image.detach().float().cpu().clone()
        total = losses.get("total", float("nan"))
        with self._cond:
            self.steps = info.steps
            self.latest_image = image
            if self.best_image is not None and image.shape != self.best_image.shape:
                self.best_loss = float("inf")  # a finer scale began: its losses do not compare with the coarser one's
            if total < self.best_loss:  # NaN never wins
                self.best_loss, self.best_step, self.best_image = total, info.step, image
            self.snapshots.append(Snapshot(info.step, losses, time.perf_counter() - self._t0))
            self._cond.notify_all()
        if self.on_update is not None:
            self.on_update(self, info)
        return self._stop.is_set()

    def _main(self) -> None:
        try:
            self.result = self.fn(*self.args, callback=self.callback, callback_every=self.every, **self.kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to wait() and on_done
            self.error = exc
        self.elapsed_s = time.perf_counter() - self._t0
        try:
            if self.on_done is not None:
                self.on_done(self)
        except BaseException as exc:  # noqa: BLE001
            self.error = self.error or exc
        finally:
            with self._cond:
                self._finished = True
                self._cond.notify_all()
