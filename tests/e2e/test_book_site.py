"""The course site (``make book``) in a real browser: built from the executed copies, read with no network.

Builds the site from ``executed/`` (skipped when there is no executed copy yet), opens its first page in headless
Chromium from the files themselves (``file://``, as a teacher's copy on a USB stick or an LMS would be), and
follows the "next" link from the first page to the last. On every page: each picture has loaded (natural width
above zero, from a local file or the page itself), each local link points at a file of the site, nothing was
requested from another site, formulas are typeset (MathJax from the site), and the browser logged no error. The pages must come in course order
(``docs/book.py``'s ``sections``). A screenshot of a notebook page with a widget snapshot goes to
``tests/artifacts/book_<page>.png``.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from docs_scripts import load_script  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

book = load_script("book")
MAX_PAGES = 200

# Every picture of the page decoded (lazy ones included), then each one's source and natural width.
IMAGES_JS = """async () => {
    const images = Array.from(document.images);
    images.forEach((img) => { img.loading = "eager"; });
    await Promise.all(images.map((img) => img.decode().catch(() => null)));
    return images.map((img) => ({src: img.currentSrc || img.src, width: img.naturalWidth, complete: img.complete}));
}"""
LINKS_JS = "() => Array.from(document.querySelectorAll('a[href]')).map((a) => a.href)"
NEXT_JS = "() => { const a = document.querySelector('a.right-next'); return a ? a.href : null; }"


def _executed() -> Path:
    """``executed/``, or the folder named by ``NST_BOOK_EXECUTED`` (to try the site on other copies)."""
    return Path(os.environ.get("NST_BOOK_EXECUTED") or book.executed_copies.EXECUTED)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    executed = _executed()
    if not any(executed.rglob("*.ipynb")):
        pytest.skip(f"no executed copies in {executed}: `make executed` makes them (with the paintings in "
                    "NSTHELPERS_CACHE), then this test builds the site from them")
    result = book.build(executed, tmp_path_factory.mktemp("book"))
    assert result["broken"] == [], result["broken"]
    assert result["remote"] == [], result["remote"]
    return result["site"]


def _file_of(url: str) -> Path:
    return Path(unquote(urlsplit(url).path))


def test_the_site_reads_in_course_order_with_every_picture_and_link_working(site, browser, artifacts):
    expected = ["index.html"] + [f"{page}.html" for part in book.sections() for page in part.pages]
    page = browser.new_page()
    remote: list[str] = []
    errors: list[str] = []

    def route(request_route):
        if urlsplit(request_route.request.url).scheme in ("file", "data", "blob", "about"):
            request_route.continue_()
        else:  # the reader may be offline: the site must not need anything from elsewhere
            remote.append(request_route.request.url)
            request_route.abort()

    page.route("**/*", route)
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    visited: list[str] = []
    url: str | None = (site / "index.html").as_uri()
    screenshot = None
    while url is not None and len(visited) < MAX_PAGES:
        page.goto(url, wait_until="load")
        here = _file_of(page.url)
        name = here.relative_to(site).as_posix()
        assert name not in visited, f"the next links go round in a circle at {name}"
        visited.append(name)
        for image in page.evaluate(IMAGES_JS):
            assert urlsplit(image["src"]).scheme in ("file", "data"), f"{name}: a picture from elsewhere {image}"
            assert image["complete"] and image["width"] > 0, f"{name}: a picture did not load: {image['src'][:120]}"
        for link in page.evaluate(LINKS_JS):
            if urlsplit(link).scheme == "file":
                target = _file_of(link)
                assert target.is_file() or (target / "index.html").is_file(), f"{name}: broken link {link}"
        if page.locator("div.math, span.math").count():  # formulas typeset by the site's own MathJax
            page.wait_for_selector("mjx-container", timeout=30_000)
        if screenshot is None and page.locator(".nst-widget img").count():
            page.locator(".nst-widget").first.scroll_into_view_if_needed()
            screenshot = artifacts / f"book_{Path(name).stem}.png"
            page.screenshot(path=str(screenshot))
        url = page.evaluate(NEXT_JS)
    page.close()

    assert visited == expected, "the next links do not follow the course order"
    assert remote == [], f"the site asked the network for {remote[:5]}"
    assert errors == [], f"the browser logged errors: {errors[:5]}"
    if _widget_copies(_executed()):
        assert screenshot is not None and screenshot.stat().st_size > 10_000, "no widget snapshot with a picture"


def _widget_copies(executed: Path) -> list[Path]:
    """The executed copies that hold widget state (their pages must show a snapshot)."""
    return [p for p in executed.rglob("*.ipynb") if book.WIDGET_STATE in p.read_text(encoding="utf-8")]
