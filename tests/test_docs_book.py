"""``docs/book.py`` (``make book``): the contents in course order, widget snapshots, link fixes, the site checks.

The site itself is built and read in a real browser by ``tests/e2e/test_book_site.py``.
"""
from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import pytest
from docs_scripts import load_script
from PIL import Image

book = load_script("book")
ROOT = Path(__file__).resolve().parents[1]


def test_contents_in_course_order():
    parts = book.sections()
    assert [p.caption for p in parts][:3] == ["Start here", "The core path", "Deep dives"]
    assert parts[0].pages == ("notebooks/00_first_style_transfer",)
    core = [Path(p).name for p in parts[1].pages]
    assert core[0].startswith("01_") and core == sorted(core)
    assert core.index("05b_tuning") == core.index("05_style_transfer_loop") + 1
    assert all(p.startswith("notebooks/deep_dives/") and "_x_" in p for p in parts[2].pages)
    assert all(p.endswith("_solutions") for part in parts[3:5] for p in part.pages)
    assert parts[-1].pages == ("TEACHING", "GLOSSARY", "REFERENCES", "docs/gallery/README")
    every = [p for part in parts for p in part.pages]
    assert len(every) == len(set(every)) == len(book.executed_copies.sources()) + 4


def _jpeg_b64() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), (200, 10, 10)).save(buffer, "JPEG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _lab_state() -> dict:
    """A lab of the course's shape: controls in a row, a Run button, a picture, a text line, an Output area."""
    def model(name, **state):
        return {"model_name": name, "model_module": "@jupyter-widgets/controls", "state": state}

    picture = _jpeg_b64()
    return {
        "lab": model("VBoxModel", children=["IPY_MODEL_row", "IPY_MODEL_img", "IPY_MODEL_info", "IPY_MODEL_out",
                                            "IPY_MODEL_hidden"]),
        "row": model("HBoxModel", children=["IPY_MODEL_layer", "IPY_MODEL_steps", "IPY_MODEL_tv", "IPY_MODEL_run",
                                            "IPY_MODEL_ratio"]),
        "layer": model("SelectionSliderModel", description="layer", index=2,
                       _options_labels=["relu1_1", "relu2_1", "relu3_1"]),
        "steps": model("IntSliderModel", description="steps", value=40),
        "tv": model("CheckboxModel", description="TV loss", value=True),
        "run": model("ButtonModel", description="Run"),
        "ratio": model("FloatLogSliderModel", description="log10 ratio", value=123456.789),
        "img": {"model_name": "ImageModel", "state": {"format": "jpeg", "width": "300"},
                "buffers": [{"path": ["value"], "encoding": "base64", "data": picture}]},
        "info": model("HTMLModel", value="<b>relu3_1</b>: 256 channels"),
        "out": {"model_name": "OutputModel", "state": {"outputs": [
            {"output_type": "stream", "name": "stdout", "text": "done in 3 s <fast>\n"},
            {"output_type": "display_data", "metadata": {}, "data": {"image/jpeg": picture, "text/plain": "fig"}},
        ]}},
        "hidden": model("LabelModel", value="secret", layout="IPY_MODEL_hidden_layout"),
        "hidden_layout": {"model_name": "LayoutModel", "state": {"display": "none"}},
    }


def test_widget_snapshot_shows_the_last_picture_and_every_control_value():
    html = book.widget_snapshot({"model_id": "lab"}, _lab_state())
    assert html.count("<img") == 2 and html.count(f"data:image/jpeg;base64,{_jpeg_b64()}") == 2
    assert 'width="300"' in html
    values = re.findall(r'nst-w-label">([^<]*)</span> <span class="nst-w-value">([^<]*)<', html)
    assert values == [("layer", "relu3_1"), ("steps", "40"), ("TV loss", "on"), ("log10 ratio", "1.235e+05")]
    assert "Run" in html and "<b>relu3_1</b>: 256 channels" in html
    assert "done in 3 s &lt;fast&gt;" in html  # printed text is escaped
    assert "secret" not in html  # hidden in the notebook, hidden here
    assert html.index("nst-w-hbox") < html.index("<img")  # the controls' row comes first, as in the lab
    assert "snapshot" in html and "make lab" in html


def test_a_widget_without_stored_state_says_to_run_the_notebook():
    html = book.widget_snapshot({"model_id": "gone"}, {})
    assert "<img" not in html and "run the notebook" in html


def test_static_widgets_replaces_widget_outputs_and_drops_the_state():
    view = {"model_id": "lab", "version_major": 2, "version_minor": 0}
    nb = {"cells": [{"cell_type": "code", "source": "lab", "metadata": {}, "execution_count": 3, "outputs": [
        {"output_type": "execute_result", "execution_count": 3, "metadata": {},
         "data": {book.WIDGET_VIEW: view, "text/plain": "VBox(children=...)"}}]}],
        "metadata": {"widgets": {book.WIDGET_STATE: {"state": _lab_state(), "version_major": 2}}}}
    ex = book.executed_copies
    assert ex.add_widget_pictures(nb) == 2  # the copy on GitHub: the lab's picture and its Output area's
    assert book.static_widgets(nb) == 1
    assert len(nb["cells"][0]["outputs"]) == 1  # in the site the snapshot shows them: no second copy
    data = nb["cells"][0]["outputs"][0]["data"]
    assert list(data) == ["text/html"] and "nst-widget" in data["text/html"] and "<img" in data["text/html"]
    assert "widgets" not in nb["metadata"]  # nothing left for a widget manager (from a CDN) to render


def test_anchors_become_targets_and_headings_start_at_one():
    assert book.anchors_to_targets('text\n<a id="gram-matrix"></a>\n**Gram matrix**') == \
        "text\n(gram-matrix)=\n**Gram matrix**"
    assert book.promote_headings("## Gallery\n\n### How\n```\n## not a heading\n```\n") == \
        "# Gallery\n\n## How\n```\n## not a heading\n```\n"
    assert book.promote_headings("# Title\n## Part\n") == "# Title\n## Part\n"


def test_links_to_pages_stay_folders_go_to_contents_other_files_become_text():
    staged = {"notebooks/01_a.ipynb", "GLOSSARY.md", "docs/figures/01.jpg"}
    folders = {"notebooks/deep_dives": "deep-dives"}
    text = ("[one](01_a.ipynb), [term](../GLOSSARY.md#profile), ![fig](../docs/figures/01.jpg), "
            "[dives](deep_dives/), [loop](../nsthelpers/loop.py), [web](https://pytorch.org/x.html), [top](#top)")
    fixed = book.rewrite_links(text, "notebooks/00_start.ipynb", staged, folders)
    assert fixed == ("[one](01_a.ipynb), [term](../GLOSSARY.md#profile), ![fig](../docs/figures/01.jpg), "
                     "[dives](../index.md#deep-dives), loop (`nsthelpers/loop.py` in the repository), "
                     "[web](https://pytorch.org/x.html), [top](#top)")
    assert book.rewrite_links("[x](notebooks/01_a.ipynb)", "TEACHING.md", staged, folders) == \
        "[x](notebooks/01_a.ipynb)"


def _page(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<html><head></head><body>{body}</body></html>", encoding="utf-8")


def test_site_checks_find_broken_links_missing_anchors_and_remote_resources(tmp_path):
    _page(tmp_path / "index.html", '<a href="notebooks/a.html#sec">a</a> <a href="https://example.org/">out</a>'
                                   ' <img src="_images/x.jpg"> <a href="#here">here</a> <p id="here"></p>')
    _page(tmp_path / "notebooks/a.html", '<h2 id="sec">S</h2><a href="../index.html">home</a>'
                                         '<link rel="canonical" href="https://example.org/a.html">')
    (tmp_path / "_images").mkdir()
    (tmp_path / "_images/x.jpg").write_bytes(b"x")
    _page(tmp_path / "_static/template.html", '<a href="{{ pathto(x) }}">theme fragment, not a page</a>')
    assert book.broken_links(tmp_path) == [] and book.remote_resources(tmp_path) == []
    _page(tmp_path / "notebooks/b.html", '<a href="gone.html">x</a><a href="a.html#nowhere">y</a>'
                                         '<a href="#nothing">z</a><img src="../_images/missing.png">'
                                         '<script src="https://cdn.example.org/lib.js"></script>'
                                         '<link rel="stylesheet" href="https://cdn.example.org/s.css">')
    assert book.broken_links(tmp_path) == [
        "notebooks/b.html: gone.html", "notebooks/b.html: a.html#nowhere (no such anchor)",
        "notebooks/b.html: #nothing (no such anchor)", "notebooks/b.html: ../_images/missing.png"]
    assert book.remote_resources(tmp_path) == ["notebooks/b.html: https://cdn.example.org/lib.js",
                                               "notebooks/b.html: https://cdn.example.org/s.css"]


def test_build_without_executed_copies_names_the_command(tmp_path):
    with pytest.raises(RuntimeError, match="make executed"):
        book.build(tmp_path / "empty", tmp_path / "out")


def test_readme_says_read_or_run_and_links_each_notebook_to_its_executed_copy():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    top = readme.split("## The package")[0]
    assert "make book" in top.split("## Two commands")[0] and "make lab" in top.split("## Two commands")[0]
    linked = set(re.findall(r"\]\((executed/[^)]+\.ipynb)\)", top))
    wanted = {f"executed/{p.relative_to(book.executed_copies.SOURCE).as_posix()}"
              for p in book.executed_copies.sources() if "solutions" not in p.parts}
    assert linked == wanted, {"not linked": wanted - linked, "no such notebook": linked - wanted}


def test_stage_writes_every_page_at_its_repository_path(tmp_path):
    """Staging only (no Sphinx): the committed executed copy of 02, a stale copy of 03, the rest missing."""
    import json
    import shutil

    executed = tmp_path / "executed"
    executed.mkdir()
    shutil.copy(ROOT / "executed" / "02_feature_maps.ipynb", executed)
    stale = json.loads((ROOT / "notebooks" / "03_gram_matrices.ipynb").read_text(encoding="utf-8"))
    next(c for c in stale["cells"] if c["cell_type"] == "code")["source"] = "# an older version of the cell"
    (executed / "03_gram_matrices.ipynb").write_text(json.dumps(stale), encoding="utf-8")
    src = tmp_path / "src"
    report = book.stage(executed, src)
    assert "notebooks/03_gram_matrices.ipynb" in report["stale"]
    assert "notebooks/00_first_style_transfer.ipynb" in report["missing"]
    assert "notebooks/02_feature_maps.ipynb" not in report["missing"]
    assert report["widgets"] == ["notebooks/02_feature_maps.ipynb"]
    page = json.loads((src / "notebooks/02_feature_maps.ipynb").read_text(encoding="utf-8"))
    assert "widgets" not in page["metadata"] and "nst-widget" in json.dumps(page)
    missing = json.loads((src / "notebooks/00_first_style_transfer.ipynb").read_text(encoding="utf-8"))
    assert "executed copy is missing" in missing["cells"][1]["source"]
    assert "(profile)=" in (src / "GLOSSARY.md").read_text(encoding="utf-8")
    assert (src / "docs/gallery/README.md").read_text(encoding="utf-8").startswith("# Gallery")
    assert (src / "docs/figures/02_feature_maps.jpg").is_file()
    index = (src / "index.md").read_text(encoding="utf-8")
    assert index.index("notebooks/00_first") < index.index("notebooks/01_vgg") < index.index("deep_dives/01_x") \
        < index.index("solutions/01_vgg") < index.index("TEACHING") < index.index("docs/gallery/README")
    assert len(list(src.rglob("*.ipynb"))) == len(book.executed_copies.sources())
