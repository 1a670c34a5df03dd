"""Fixtures for the browser test: one JupyterLab server and one headless Chromium per session."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from lab_driver import CHROMIUM_ARGS, JupyterLab, find_chromium

# The notebooks here are fixtures opened by the browser test, not notebooks for nbval to run.
collect_ignore_glob = ["*.ipynb"]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
# The kernel runs in quick, offline mode (as `make test` does), whoever starts pytest.
KERNEL_ENV = {"NSTHELPERS_QUICK": "1", "NSTHELPERS_OFFLINE": "1", "TQDM_DISABLE": "1", "PYTHONHASHSEED": "0"}


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        pytest.skip("no Chromium found (looked for NST_E2E_BROWSER, /usr/bin/chromium, chromium-browser, Chrome): "
                    "`make test` installs Debian's chromium with apt when it runs as root or with sudo; "
                    "elsewhere install Chromium/Chrome and set NST_E2E_BROWSER=/path/to/it")
    return path


@pytest.fixture(scope="session")
def playwright_api():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
    with sync_api.sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def lab(chromium_path):
    server = JupyterLab(env=KERNEL_ENV)
    yield server
    server.stop()


@pytest.fixture(scope="session")
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
