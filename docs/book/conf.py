"""Sphinx configuration of the course site (``make book``; ``docs/book.py`` stages the pages and runs Sphinx).

Sphinx with MyST-NB renders the executed copies of the notebooks (``executed/``) without running them, with the
Book theme (the one Jupyter Book 1 uses). Nothing is fetched at build time, and nothing in the built pages asks
the reader's browser for a file from elsewhere: MathJax is served from the site itself (copied from the
``sphinx-mathjax-offline`` wheel), widgets are shown as static snapshots made by ``docs/book.py`` (MyST-NB's
default would load the widget manager from a CDN), and the theme's fonts and scripts are its own files.
"""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

project = "nst-notebooks"
html_title = "Neural style transfer, step by step"
author = "the nst-notebooks authors"
copyright = "the nst-notebooks authors; paintings in the public domain"

extensions = ["myst_nb"]
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
suppress_warnings = ["myst.header"]  # the notebooks' "## Exercises" may follow a "#" title directly

# MyST-NB: show what the executed copies hold; never run a notebook
nb_execution_mode = "off"
nb_ipywidgets_js: dict[str, dict[str, str]] = {}  # no widget manager from a CDN: docs/book.py makes snapshots
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "html_image", "html_admonition", "colon_fence"]
myst_heading_anchors = 3

# The Book theme, with nothing that needs a server or the network (no launch, repository or edit buttons)
html_theme = "sphinx_book_theme"
html_theme_options: dict[str, Any] = {
    "show_navbar_depth": 1,
    "show_toc_level": 2,
    "use_download_button": False,  # the notebooks are in the repository; here they would double the size
    "use_fullscreen_button": False,
    "home_page_in_toc": True,
    "navigation_with_keys": False,
}
html_context = {"default_mode": "auto"}  # light or dark as the reader's system is (the theme logs an error without it)
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_last_updated_fmt = None
html_copy_source = False
html_show_sourcelink = False

# MathJax 3 from the site itself (the files of the sphinx-mathjax-offline wheel: only those the pages use)
mathjax_path = "mathjax/tex-chtml.js"
MATHJAX_PARTS = ("tex-chtml.js", "output/chtml/fonts/woff-v2", "input/tex/extensions", "ui")


def _mathjax_source() -> Path:
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None or spec.origin is None:
        raise RuntimeError("the course site serves MathJax itself: pip install sphinx-mathjax-offline "
                           "(it is in the [dev] extra)")
    return Path(spec.origin).parent / "static" / "mathjax"


def _finish(app: Any, exception: BaseException | None) -> None:
    """Copy MathJax into the site, and drop the theme's source maps (3.4 MB only a developer's tools read)."""
    if exception is not None or app.builder.format != "html":
        return
    for source_map in (Path(app.outdir) / "_static").rglob("*.map"):
        source_map.unlink()
    source, target = _mathjax_source(), Path(app.outdir) / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        if (source / part).is_dir():
            shutil.copytree(source / part, target / part, dirs_exist_ok=True)
        else:
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / part, target / part)


def setup(app: Any) -> None:
    _mathjax_source()  # fail early, with the fix, when the files are missing
    app.connect("build-finished", _finish)
