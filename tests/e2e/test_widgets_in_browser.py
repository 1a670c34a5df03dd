"""The widgets work in a real browser: JupyterLab + headless Chromium, driven like a reader would.

For each target notebook: open it in JupyterLab, Run > Run All Cells, drag a slider, press the **Run**
button, and check that the result image changed and that no error showed up anywhere (cell outputs,
widget areas, kernel messages from widget callbacks, the browser console). Only a real browser catches
``Error displaying widget: model not found`` (a jupyterlab_widgets/ipywidgets mismatch), controls that
render as plain text, or callbacks that fail when a human clicks.

The DOM conventions a notebook must follow are in ``tests/e2e/README.md``. A screenshot of each run is
saved as ``tests/artifacts/e2e_<notebook>.png`` (with the JupyterLab log and browser console on failure).

``NST_E2E_NOTEBOOKS=path[,path...]`` (repository-relative) restricts the run to some targets.
"""
from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab_driver import ERROR_PATTERNS, KernelErrors, errors_in

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Target:
    notebook: str          # repository-relative path
    slider: str            # the slider to drag: its description starts with this text
    run_all_timeout: float  # seconds for Run All Cells (kernel start and imports included)
    run_timeout: float      # seconds for one press of the Run button


TARGETS = [
    # A quick widget-rendering smoke test that needs no model (textures from nsthelpers.data).
    Target("tests/e2e/widget_demo.ipynb", slider="seed", run_all_timeout=120, run_timeout=30),
    # The style lab (issue 4): sliders for log10(style/content ratio), TV weight, ..., a Run button.
    Target("notebooks/06_style_lab.ipynb", slider="log10", run_all_timeout=300, run_timeout=240),
    # Its deep dive (issue 20): the same widget, timed from the click, with Stop pressed from code.
    Target("notebooks/deep_dives/06_x_lab_speed_and_batches.ipynb", slider="log10", run_all_timeout=300,
           run_timeout=240),
]


def _selected_targets() -> list:
    """``TARGETS``, or those named in ``NST_E2E_NOTEBOOKS``; a notebook not in ``TARGETS`` may be named
    as ``path=slider-prefix`` (default slider prefix ``log10``), e.g. to try a notebook in the making."""
    known = {t.notebook: t for t in TARGETS}
    targets = []
    for item in filter(None, (p.strip() for p in os.environ.get("NST_E2E_NOTEBOOKS", "").split(","))):
        path, _, slider = item.partition("=")
        targets.append(known.get(path) or Target(path, slider or "log10", run_all_timeout=300, run_timeout=240))
    return [pytest.param(t, id=Path(t.notebook).stem) for t in targets or TARGETS]


# ---------------------------------------------------------------------------------------------------------
# Page probes (JavaScript run in the page)
# ---------------------------------------------------------------------------------------------------------

OUTPUT = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output"
WIDGET_IMAGES = f"{OUTPUT} img.widget-image"

# Cell prompts, kernel status, all output text and whether widgets rendered, in one round trip.
NOTEBOOK_STATE_JS = r"""() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return null;
  const prompts = Array.from(panel.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt'))
                       .map(p => p.textContent.trim());
  const indicator = panel.querySelector('.jp-Notebook-ExecutionIndicator');
  const outputs = Array.from(panel.querySelectorAll('.jp-OutputArea-output')).map(o => ({
      mime: o.getAttribute('data-mime-type') || '', text: o.innerText || ''}));
  const dialogs = Array.from(document.querySelectorAll('.jp-Dialog')).map(d => d.innerText.replace(/\s+/g, ' '));
  return {prompts, kernel: indicator ? indicator.getAttribute('data-status') : null, outputs, dialogs,
          widgets: panel.querySelectorAll('.jp-OutputArea-output .jupyter-widgets').length};
}"""

# SHA-256 and size of every widget image's current bytes (ipywidgets 8 shows them through blob: URLs).
IMAGE_DIGESTS_JS = """async (selector) => {
  const hex = buf => Array.from(new Uint8Array(buf)).map(b => b.toString(16).padStart(2, '0')).join('');
  const out = [];
  for (const img of document.querySelectorAll(selector)) {
    let digest = '';
    if (img.src) {
      try {
        const buf = await (await fetch(img.src)).arrayBuffer();
        digest = buf.byteLength ? hex(await crypto.subtle.digest('SHA-256', buf)).slice(0, 16) + ':' + buf.byteLength : '';
      } catch (e) { digest = 'unreadable'; }
    }
    out.push({classes: Array.from(img.classList), digest});
  }
  return out;
}"""


class Session:
    """One notebook open in one browser tab, plus everything needed to explain a failure."""

    def __init__(self, page, lab, artifacts: Path, name: str) -> None:
        self.page, self.lab, self.artifacts, self.name = page, lab, artifacts, name
        self.console: list[str] = []
        self.kernel_errors = KernelErrors()
        self.kernel_errors.attach(page)
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))

    def state(self) -> dict:
        return self.page.evaluate(NOTEBOOK_STATE_JS)

    def check_no_errors(self, when: str) -> dict | None:
        state = self.state()
        if state is None:  # JupyterLab is still loading
            return None
        problems = [f"a dialog is open: {d}" for d in state["dialogs"]] + errors_in(state) + [f"kernel error: {e}" for e in self.kernel_errors.errors]
        problems += [c for c in self.console if ERROR_PATTERNS.search(c) or
                     (c.startswith(("error:", "pageerror:")) and re.search(r"widget|model", c, re.I))]
        assert not problems, f"{when}: errors in {self.name}:\n" + "\n---\n".join(problems)
        return state

    def wait_until(self, what: str, condition, timeout: float, poll: float = 0.5):
        """Poll ``condition(state)`` (failing early on any error) until it returns something truthy."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.check_no_errors(f"while waiting for {what}")
            value = condition(state)
            if value:
                return value
            if time.monotonic() > deadline:
                where = "JupyterLab did not load" if state is None else \
                    f"prompts {state['prompts']}, kernel {state['kernel']}"
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} in {self.name}; {where}")
            self.page.wait_for_timeout(poll * 1000)

    def wait_kernel_idle(self, timeout: float, settle: float = 1.0) -> None:
        """Idle for ``settle`` seconds in a row (a widget callback may start right after a cell ends)."""
        since = [None]

        def idle_long_enough(state):
            if state is None or state["kernel"] != "idle":
                since[0] = None
                return False
            since[0] = since[0] or time.monotonic()
            return time.monotonic() - since[0] >= settle

        self.wait_until("the kernel to be idle", idle_long_enough, timeout, poll=0.25)

    def wait_stable_result(self, timeout: float, settle: float = 2.0) -> str:
        """The result image's digest once it has not changed for ``settle`` seconds."""
        last = [None, 0.0]

        def stable(_state):
            digest = _result_digest(self.images())
            if digest != last[0]:
                last[:] = [digest, time.monotonic()]
                return None
            return digest if time.monotonic() - last[1] >= settle else None

        return self.wait_until("the result image to settle", stable, timeout, poll=0.5)

    def images(self) -> list[dict]:
        for _ in range(10):  # a blob URL can be revoked while it is read: read again
            images = self.page.evaluate(IMAGE_DIGESTS_JS, WIDGET_IMAGES)
            if all(img["digest"] != "unreadable" for img in images):
                return images
            self.page.wait_for_timeout(200)
        return images

    def save_debug(self) -> None:
        try:
            self.page.screenshot(path=str(self.artifacts / f"e2e_{self.name}_failure.png"))
        except Exception:  # the page may be gone; the logs still help
            pass
        (self.artifacts / f"e2e_{self.name}_console.log").write_text("\n".join(self.console))
        (self.artifacts / f"e2e_{self.name}_jupyterlab.log").write_text(self.lab.log_tail(400))


def _result_digest(images: list[dict]) -> str | None:
    """The ``nst-result`` image's digest; without that class, all widget images' digests together."""
    marked = [img["digest"] for img in images if "nst-result" in img["classes"]]
    return marked[-1] if marked else "|".join(img["digest"] for img in images)


def _drag_slider(page, slider) -> tuple[str, str]:
    """Drag the slider's handle with the mouse (towards the farther end); return the readout before and after."""
    readout = slider.locator(".widget-readout")
    before = readout.inner_text().strip()
    slider.scroll_into_view_if_needed()
    track = slider.locator(".noUi-target").bounding_box()
    handle = slider.locator(".noUi-handle").bounding_box()
    x, y = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
    middle = track["x"] + track["width"] / 2
    dx = max(40.0, 0.3 * track["width"]) * (1 if x < middle else -1)
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 6):
        page.mouse.move(x + dx * step / 5, y)
    page.mouse.up()
    page.wait_for_function("([el, old]) => el.innerText.trim() !== old", arg=[readout.element_handle(), before],
                           timeout=5000)
    return before, readout.inner_text().strip()


@pytest.mark.parametrize("target", _selected_targets())
def test_widgets_work_in_jupyterlab(target: Target, lab, browser, artifacts):
    source = ROOT / target.notebook  # an absolute path stays as it is
    if not source.exists():
        pytest.skip(f"{target.notebook} does not exist yet")
    name = source.stem
    for stale in artifacts.glob(f"e2e_{name}_*"):  # debug files of an earlier failed run
        stale.unlink()
    page = browser.new_page()
    session = Session(page, lab, artifacts, name)
    try:
        page.set_default_timeout(60_000)
        rel_path = lab.add_notebook(source)
        page.goto(lab.notebook_url(rel_path))
        # The toolbar says "idle" before any kernel exists: wait for the server to report the kernel
        # started and connected to this page (running cells earlier opens a "Select Kernel" dialog).
        session.wait_until("the kernel to start", lambda s: s is not None and lab.kernel_ready(rel_path),
                           target.run_all_timeout)
        session.wait_kernel_idle(target.run_all_timeout)

        # Run > Run All Cells, as a reader does.
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        session.wait_until("Run All Cells to finish",
                           lambda s: s["prompts"] and all(re.fullmatch(r"\[\d+\]:", p) for p in s["prompts"]),
                           target.run_all_timeout)
        session.wait_kernel_idle(target.run_all_timeout)
        state = session.check_no_errors("after Run All Cells")
        assert state["widgets"] > 0, "no widget was rendered"

        run_button = page.locator(f"{OUTPUT} button.jupyter-button", has_text=re.compile(r"^\s*Run\s*$"))
        assert run_button.count() >= 1, "no button labelled 'Run' in the widget output (see tests/e2e/README.md)"
        label = page.locator(".widget-label", has_text=re.compile("^" + re.escape(target.slider)))
        slider = page.locator(f"{OUTPUT} .widget-slider").filter(has=label)
        assert slider.count() >= 1, f"no slider whose description starts with {target.slider!r}"
        images = session.images()
        assert images, "no ipywidgets.Image in the widget output"
        before = _result_digest(images)
        assert before, "the result image is empty before Run"
        old_result = [img["digest"] for img in images if "nst-result" in img["classes"]]

        # Drag a slider, press Run, and wait for a new result image.
        readouts = _drag_slider(page, slider.first)
        run_button.first.click()
        after = session.wait_until("the result image to change after pressing Run",
                                   lambda s: (d := _result_digest(session.images())) != before and d,
                                   target.run_timeout)
        # A lab may run in a background thread (the kernel is idle meanwhile) and show live previews: the run
        # is over when the Run button is enabled again and the result stops changing.
        session.wait_until("the run to finish (the Run button enabled again)",
                           lambda s: run_button.first.is_enabled(), target.run_timeout)
        session.wait_kernel_idle(target.run_timeout)
        after = session.wait_stable_result(target.run_timeout)
        assert after != before, "the result image is back to what it was before Run"
        session.check_no_errors("after pressing Run")
        images = session.images()
        previous = [img["digest"] for img in images if "nst-previous" in img["classes"]]
        if previous and old_result:
            assert previous[-1] == old_result[-1], "the previous result should move to the nst-previous image"

        target_image = page.locator(f"{WIDGET_IMAGES}.nst-result").or_(page.locator(WIDGET_IMAGES)).last
        target_image.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / f"e2e_{name}.png"))
        print(f"{name}: slider {target.slider!r} {readouts[0]} -> {readouts[1]}; result image {before} -> {after}")
    except BaseException:
        session.save_debug()
        raise
    finally:
        page.close()
        lab.shut_down_kernels()
