"""docs/figures/make_figures_05_06.py: the first-cell pictures of notebooks 05 and 06 are made by the project's code."""
from __future__ import annotations

import re

import pytest
from docs_scripts import ROOT, load_script
from PIL import Image


def test_quick_run_writes_both_jpegs(tmp_path, monkeypatch):
    monkeypatch.setenv("NSTHELPERS_OFFLINE", "1")
    figures = load_script("figures/make_figures_05_06")
    figures.main(["--quick", "--out", str(tmp_path)])
    for name in figures.NAMES:
        path = tmp_path / f"{name}.jpg"
        with Image.open(path) as im:
            im.verify()
        with Image.open(path) as im:
            assert im.format == "JPEG" and min(im.size) >= 100


@pytest.mark.parametrize("name", ["05_style_transfer_loop", "06_style_lab"])
def test_each_notebook_shows_a_committed_small_figure(name):
    first_cell = (ROOT / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8").split('"source"', 2)[1]
    refs = re.findall(r"\]\(\.\./(docs/figures/[\w.]+\.jpg)\)", first_cell)
    assert refs == [f"docs/figures/{name}.jpg"], refs
    path = ROOT / refs[0]
    assert path.is_file() and path.stat().st_size < 200 * 1024
    with Image.open(path) as im:
        assert im.format == "JPEG"
