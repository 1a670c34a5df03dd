"""The widget cells of notebooks 02 and 03 under nbclient, the client of ``jupyter nbconvert --execute``.

nbval and nbclient are different clients. nbclient mimics an ``ipywidgets.Output`` by sending every output
captured in it back to the kernel over the shell channel; when that output is large (a PNG of the real
painting's feature maps is about a megabyte), the cell's reply was only picked up when the cell timeout
expired: notebook 03's Gram entry explorer "ran" for exactly the timeout with the real paintings and in 0.2 s
with the generated stand-ins. nbclient does not raise in that case, so these tests time the widget cells.

Each notebook runs in the quick profile, from the top to its last widget cell, with a real painting from
/work/shared/images (or $NSTHELPERS_TEST_IMAGES) copied into a scratch NSTHELPERS_CACHE, as an online user
would have it. Without the paintings the tests skip and say why.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
IMAGES = Path(os.environ.get("NSTHELPERS_TEST_IMAGES", "/work/shared/images"))
PAINTINGS = ("starry_night.jpg", "the_scream.jpg")
WIDGET_TIMEOUT_S = 90  # one widget cell; a stall lasts exactly this long, a working cell takes seconds
OTHER_TIMEOUT_S = 600  # the other cells (forward passes at 128-160 px), generous for a loaded machine


def _is_widget_cell(cell) -> bool:
    return cell.cell_type == "code" and "explorer" in cell.source


@pytest.fixture
def painting_cache(tmp_path):
    missing = [name for name in PAINTINGS if not (IMAGES / name).is_file()]
    if missing:
        pytest.skip(f"real paintings not found ({', '.join(missing)} in {IMAGES}); set NSTHELPERS_TEST_IMAGES "
                    "to a folder holding them to run the widget cells with a real painting")
    cache = tmp_path / "cache"
    cache.mkdir()
    for name in PAINTINGS:
        shutil.copy(IMAGES / name, cache / name)
    return cache


@pytest.mark.slow
@pytest.mark.parametrize("name", ["02_feature_maps", "03_gram_matrices"])
def test_widget_cells_finish_under_nbclient_with_a_real_painting(name, painting_cache, monkeypatch):
    monkeypatch.setenv("NSTHELPERS_CACHE", str(painting_cache))
    monkeypatch.setenv("NSTHELPERS_PROFILE", "quick")
    monkeypatch.delenv("NSTHELPERS_QUICK", raising=False)
    monkeypatch.setenv("NSTHELPERS_OFFLINE", "1")  # nothing may be downloaded: the cache has what is needed
    monkeypatch.setenv("TQDM_DISABLE", "1")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    last = max(i for i, cell in enumerate(nb.cells) if _is_widget_cell(cell))
    nb.cells = nb.cells[: last + 1]
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "notebooks")}},
        timeout_func=lambda cell: WIDGET_TIMEOUT_S if _is_widget_cell(cell) else OTHER_TIMEOUT_S,
    )
    widget_seconds = {}
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            start = time.perf_counter()
            client.execute_cell(cell, index)
            if _is_widget_cell(cell):
                widget_seconds[index] = time.perf_counter() - start
    stderr = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
                     if o.get("name") == "stderr")
    assert "could not download" not in stderr, "the real painting was not used: " + stderr[:300]
    assert widget_seconds, f"{name} has no widget cell"
    slow = {i: round(s, 1) for i, s in widget_seconds.items() if s > 0.8 * WIDGET_TIMEOUT_S}
    assert not slow, (f"{name}: widget cells {slow} ran until about the {WIDGET_TIMEOUT_S}-s cell timeout: nbclient "
                      "stalls on large outputs captured by an ipywidgets.Output; render figures into an "
                      "ipywidgets.Image instead (as nsthelpers.widgets does)")
