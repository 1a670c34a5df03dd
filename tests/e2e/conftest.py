"""Fixtures for the browser test: one JupyterLab server and one headless Chromium per test module
(module scope: they are stopped before pytest goes on to the nbval notebooks)."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from lab_driver import CHROMIUM_ARGS, JupyterLab, find_chromium

# The notebooks here are fixtures opened by the browser test, not notebooks for nbval to run.
collect_ignore_glob = ["*.ipynb"]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
# The kernel runs in quick, offline mode (as `make test` does), whoever starts pytest.
KERNEL_ENV = {"NSTHELPERS_QUICK": "1", "NSTHELPERS_OFFLINE": "1", "TQDM_DISABLE": "1", "PYTHONHASHSEED": "0",
              "OMP_WAIT_POLICY": "PASSIVE"}


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        pytest.skip("no Chromium found (looked for NST_E2E_BROWSER, /usr/bin/chromium, chromium-browser, Chrome): "
                    "`make test` installs Debian's chromium with apt when it runs as root or with sudo; "
                    "elsewhere install Chromium/Chrome and set NST_E2E_BROWSER=/path/to/it")
    try:  # e.g. Ubuntu's `chromium` is a snap stub that does not run in containers
        version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"{path} does not run ({exc}); install a working Chromium/Chrome and set NST_E2E_BROWSER")
    print(version.stdout.strip())
    return path


@pytest.fixture(scope="module")
def playwright_api():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
    with sync_api.sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def lab(chromium_path):
    server = JupyterLab(env=KERNEL_ENV)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser(playwright_api, chromium_path):
    """A headless Chromium with a fresh profile, launched from the system binary (no `playwright install`)."""
    profile = tempfile.mkdtemp(prefix="nst-e2e-chromium-")
    context = playwright_api.chromium.launch_persistent_context(
        profile,
        executable_path=chromium_path,
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": 1400, "height": 1000},
        env={**os.environ, "HOME": profile},
    )
    yield context
    context.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
