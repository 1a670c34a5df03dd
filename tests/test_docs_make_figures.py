"""docs/figures/make_figures.py: the first-cell pictures of notebooks 01-04 are made by the project's code."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "docs" / "figures" / "make_figures.py"


def _load():
    spec = importlib.util.spec_from_file_location("make_figures", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run_writes_four_valid_jpegs(tmp_path):
    figures = _load()
    written = figures.make_all(tmp_path, quick=True)
    assert sorted(written) == sorted(figures.NAMES)
    for path in written.values():
        with Image.open(path) as im:
            im.verify()
        with Image.open(path) as im:
            assert im.format == "JPEG" and min(im.size) >= 100


@pytest.mark.parametrize("name", ["01_vgg19_anatomy", "02_feature_maps", "03_gram_matrices", "04_reconstructions"])
def test_each_notebook_shows_a_committed_small_figure(name):
    first_cell = (ROOT / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8").split('"source"', 2)[1]
    refs = re.findall(r"\]\(\.\./(docs/figures/[\w.]+\.jpg)\)", first_cell)
    assert len(refs) == 1, refs
    path = ROOT / refs[0]
    assert path.is_file() and path.stat().st_size < 200 * 1024
    with Image.open(path) as im:
        assert im.format == "JPEG"
