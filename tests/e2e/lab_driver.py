"""Drive a real JupyterLab with headless Chromium (Python Playwright): the plumbing behind
``test_widgets_in_browser.py``. The DOM conventions a notebook must follow are in ``README.md``.

Nothing here downloads anything: Chromium is the system's (``apt-get install chromium``, see
``ensure_chromium.sh``), launched through ``executable_path``; ``playwright install`` is never needed.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

CHROMIUM_CANDIDATES = (
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
)

# Root in a container needs --no-sandbox; the rest keeps Chromium off the (closed) network and quick.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
]

# User settings for the throw-away JupyterLab: no news/update checks or toasts, no autosave, and every
# cell kept in the DOM (the default windowing mode leaves off-screen cells unrendered).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {
        "checkForUpdates": False, "fetchNews": "false", "doNotDisturbMode": True,
    },
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/extensionmanager-extension/plugin": {"enabled": False},
}

# Text that must never show up in the notebook (widget manager failures, tracebacks).
ERROR_PATTERNS = re.compile(
    r"Traceback \(most recent call last\)|Error displaying widget|[Mm]odel not found|"
    r"Failed to load model class|Could not create a model|Failed to display widget"
)

# An exception shown as text ("ValueError: ...", "Error: ...") anywhere in an output or a widget's text.
ERROR_LINE = re.compile(r"(?<![\w.])(?:[\w.]*[a-z])?(?:Error|Exception): ")
# What a widget looks like when no widget manager renders it: its repr as text/plain.
WIDGET_AS_TEXT = re.compile(r"\s*(VBox|HBox|GridBox|Box|Button|\w+Slider|Dropdown|Image|Tab|Accordion|Output)\(")


def errors_in(state: dict) -> list[str]:
    """Error outputs, tracebacks, widget-manager failures and widgets shown as plain text.

    ``state["outputs"]``: one ``{"mime": data-mime-type, "text": innerText}`` per cell output in the page.
    """
    found = []
    for out in state["outputs"]:
        text = out["text"]
        if ERROR_PATTERNS.search(text) or ERROR_LINE.search(text):
            found.append(text[-1500:])
        elif out["mime"] == "text/plain" and WIDGET_AS_TEXT.match(text):
            found.append("a widget was shown as plain text (the JupyterLab widget manager is missing or does not "
                         f"match ipywidgets: check jupyterlab_widgets): {text[:200]}")
    return found


def find_chromium() -> str | None:
    """``NST_E2E_BROWSER`` if set, else the first Chromium/Chrome found on this machine."""
    explicit = os.environ.get("NST_E2E_BROWSER", "").strip()
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for path in CHROMIUM_CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    return shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterLab:
    """A JupyterLab server on 127.0.0.1 (random free port, random token) serving a temporary folder.

    Notebooks are copied into that folder before they are opened, so running them in the browser never
    touches the repository's files. Settings, workspaces and runtime files live there too.
    """

    def __init__(self, env: dict[str, str] | None = None, startup_timeout: float = 90.0) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="nst-e2e-lab-"))
        self.root = self.tmp / "root"
        self.root.mkdir()
        self.token = os.urandom(16).hex()
        self.port = free_port()
        self.log_path = self.tmp / "jupyterlab.log"
        self._write_settings()
        run_env = dict(os.environ)
        run_env.update(env or {})
        run_env.update({
            # a user's own Jupyter config, data (kernels, lab extensions) and state stay out of the test
            "JUPYTER_CONFIG_DIR": str(self.tmp / "config"),
            "JUPYTER_DATA_DIR": str(self.tmp / "data"),
            "JUPYTER_RUNTIME_DIR": str(self.tmp / "runtime"),
            "JUPYTERLAB_WORKSPACES_DIR": str(self.tmp / "workspaces"),
            "JUPYTERLAB_SETTINGS_DIR": str(self.tmp / "settings"),
            "PYTHONUNBUFFERED": "1",
        })
        cmd = [
            sys.executable, "-m", "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            "--ServerApp.password=",
            "--ServerApp.disable_check_xsrf=True",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.open_browser=False",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.news_url=",
            f"--LabApp.user_settings_dir={self.tmp / 'settings'}",
            f"--LabApp.workspaces_dir={self.tmp / 'workspaces'}",
            "--LabApp.extension_manager=readonly",
            "--ServerApp.terminals_enabled=False",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")  # CI containers run as root
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=run_env,
                                     cwd=self.root, stdin=subprocess.DEVNULL)
        try:
            self._wait_ready(startup_timeout)
        except BaseException:
            self.stop()
            raise

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _write_settings(self) -> None:
        for plugin, values in LAB_SETTINGS.items():
            package, name = plugin.rsplit("/", 1)
            path = self.tmp / "settings" / package / f"{name}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        url = f"{self.base_url}/api/status?token={self.token}"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with code {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.25)
        raise TimeoutError(f"JupyterLab did not answer on {self.base_url} within {timeout:.0f} s:\n{self.log_tail()}")

    def add_notebook(self, source: Path) -> str:
        """Copy ``source`` into the server's folder; return its path there (for :meth:`notebook_url`)."""
        dest = self.root / source.name
        shutil.copyfile(source, dest)
        return dest.name

    def notebook_url(self, rel_path: str) -> str:
        return f"{self.base_url}/lab/tree/{rel_path}?token={self.token}"

    def _api(self, path: str, method: str = "GET"):
        request = urllib.request.Request(f"{self.base_url}/api/{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def kernel_ready(self, rel_path: str) -> bool:
        """The notebook's kernel has started, is idle, and the browser is connected to it."""
        return any(s.get("path") == rel_path and s["kernel"]["execution_state"] == "idle"
                   and s["kernel"].get("connections", 1) > 0 for s in self._api("sessions"))

    def shut_down_kernels(self) -> None:
        for s in self._api("sessions"):
            self._api(f"sessions/{s['id']}", method="DELETE")

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: jupyter_server shuts its kernels down, then exits
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


class KernelErrors:
    """Collects kernel ``error`` messages seen on the page's kernel websockets, including errors raised in
    widget callbacks (JupyterLab shows those only in its log console, not in the cell)."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def attach(self, page) -> None:
        page.on("websocket", self._on_websocket)

    def _on_websocket(self, ws) -> None:
        if "/api/kernels/" in ws.url:
            ws.on("framereceived", self._on_frame)

    def _on_frame(self, payload) -> None:
        text = payload.decode("utf-8", errors="replace") if isinstance(payload, (bytes, bytearray)) else payload
        if re.search(r'"msg_type"\s*:\s*"error"', text) and '"ename"' in text:
            match = re.search(r'"ename"\s*:\s*"([^"]*)"\s*,\s*"evalue"\s*:\s*"((?:[^"\\]|\\.)*)"', text)
            self.errors.append(f"{match.group(1)}: {match.group(2)}" if match else text[:500])
