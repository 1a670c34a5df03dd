"""The executed copies of the notebooks (``executed/``, ``make executed``, ``docs/executed.py``).

The first two tests check the committed copies: each notebook of the course has one whose code cells are its
notebook's, and all of them together stay under 15 MB. The rest check the script's functions on small
notebooks made here; one runs a two-cell notebook in a real kernel (a few seconds).
"""
from __future__ import annotations

import base64
import io
import json
import uuid
from pathlib import Path

import numpy as np
import pytest
from docs_scripts import load_script
from PIL import Image

ex = load_script("executed")


# --- the committed copies -----------------------------------------------------------------------------------

#: Notebooks whose executed copy was not made yet: the first `make executed` in the cpu profile takes longer than
#: one working session on a 2-core machine (the solutions of the deep dives run 5-30 minutes each), and four of
#: these stopped at a check that holds in the quick profile but not in the cpu profile with the real paintings:
#: solutions 05 (weights x10), 08 (SSIM window), deep dive 07_x's solutions (W2 against mean/cov) and deep dive
#: 05_x_engineering_practices (its fp16 cell ran past the 30-minute cell limit on the busy machine). The list may
#: only shrink: a copy made removes its notebook from it (the test below says so), and a new notebook without a
#: copy fails.
PENDING: frozenset[str] = frozenset()


def test_every_notebook_has_an_executed_copy_with_its_code():
    """notebooks/ (the core path, its solutions, the deep dives and theirs) and executed/ cannot drift apart."""
    notebooks = ex.sources()
    assert len(notebooks) >= 40 and notebooks[0].name.startswith("00_"), notebooks[:3]
    names = {p.relative_to(ex.SOURCE).as_posix() for p in notebooks}
    assert PENDING <= names, f"PENDING names notebooks that do not exist: {sorted(PENDING - names)}"
    made = sorted(n for n in PENDING if ex.copy_path(ex.SOURCE / n).is_file())
    assert not made, f"these copies exist now: remove them from PENDING in {Path(__file__).name}: {made}"
    problems = [f"{ex.copy_path(p).relative_to(ex.REPO)}: {why}" for p in notebooks
                if p.relative_to(ex.SOURCE).as_posix() not in PENDING and (why := ex.stale(p))]
    problems += [f"{p.relative_to(ex.REPO)}: its notebook is gone" for p in ex.orphans()]
    assert not problems, ("executed copies are missing or stale; run `make executed` (about the sum of the cpu-"
                          "profile times; it needs the paintings in NSTHELPERS_CACHE) and commit executed/:\n"
                          + "\n".join(problems))


def test_executed_copies_together_stay_under_15_mb():
    assert ex.LIMIT_BYTES == 15_000_000
    size = ex.total_bytes()
    assert size <= ex.LIMIT_BYTES, (f"executed/ holds {size / 1e6:.1f} MB: store figures smaller (docs/executed.py "
                                    "draws JPEG at 80 dpi; a notebook showing large pictures can show fewer)")


# --- the script, on notebooks made here ---------------------------------------------------------------------

def _code(source: str | list, outputs: list | None = None) -> dict:
    return {"cell_type": "code", "id": uuid.uuid4().hex[:8], "execution_count": 1 if outputs else None, "metadata": {},
            "outputs": outputs or [], "source": source}


def _markdown(source: str) -> dict:
    return {"cell_type": "markdown", "id": uuid.uuid4().hex[:8], "metadata": {}, "source": source}


def _notebook(*cells: dict) -> dict:
    return {"cells": list(cells), "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}}


def _save(path: Path, nb: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


@pytest.fixture
def course(tmp_path, monkeypatch):
    """An empty course: ``notebooks/`` and ``executed/`` in tmp_path, used by every function of the script."""
    monkeypatch.setattr(ex, "REPO", tmp_path)
    monkeypatch.setattr(ex, "SOURCE", tmp_path / "notebooks")
    monkeypatch.setattr(ex, "EXECUTED", tmp_path / "executed")
    monkeypatch.setattr(ex, "FAILED", tmp_path / "build" / "executed-failed")
    (tmp_path / "notebooks").mkdir()
    return tmp_path


def _png(size: int = 240, alpha: bool = False) -> bytes:
    """A noisy picture (so PNG cannot squeeze it) as PNG bytes."""
    pixels = np.random.default_rng(0).integers(0, 256, (size, size, 4 if alpha else 3), dtype=np.uint8)
    if alpha:
        pixels[..., 3] = 128
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def test_sources_come_in_course_order_and_copies_mirror_their_paths(course):
    for name in ("notebooks/01_b.ipynb", "notebooks/00_a.ipynb", "notebooks/solutions/01_b_solutions.ipynb",
                 "notebooks/deep_dives/01_x_c.ipynb", "notebooks/deep_dives/solutions/01_x_c_solutions.ipynb"):
        _save(course / name, _notebook())
    order = [p.relative_to(course).as_posix() for p in ex.sources()]
    assert order == ["notebooks/00_a.ipynb", "notebooks/01_b.ipynb", "notebooks/solutions/01_b_solutions.ipynb",
                     "notebooks/deep_dives/01_x_c.ipynb", "notebooks/deep_dives/solutions/01_x_c_solutions.ipynb"]
    assert ex.copy_path(course / "notebooks/solutions/01_b_solutions.ipynb") == \
        course / "executed/solutions/01_b_solutions.ipynb"
    with pytest.raises(SystemExit, match="not a notebook of the course"):
        ex.copy_path(course / "elsewhere.ipynb")


def test_stale_compares_code_cells_only(course):
    source = _save(course / "notebooks/01.ipynb", _notebook(_markdown("# One"), _code("x = 1"), _code("print(x)")))
    assert ex.stale(source) == "missing"
    ran = _notebook(_markdown("# One, older words"), _code("x = 1", [{"output_type": "stream", "name": "stdout",
                                                                      "text": "1\n"}]), _code(["print", "(x)"]))
    _save(ex.copy_path(source), ran)
    assert ex.stale(source) is None  # markdown differs, outputs are there, the source split in lines: all fine
    _save(source, _notebook(_markdown("# One"), _code("x = 2"), _code("print(x)")))
    assert ex.stale(source) == "code cell 1 differs"
    _save(source, _notebook(_markdown("# One"), _code("x = 1"), _code("print(x)"), _code("x")))
    assert ex.stale(source) == "2 code cells, the notebook has 3"


def test_refresh_markdown_takes_the_sources_words_and_keeps_the_outputs(course):
    output = {"output_type": "stream", "name": "stdout", "text": "1\n"}
    source = _save(course / "notebooks/01.ipynb",
                   _notebook(_markdown("# One, new words"), _markdown("A cell added"), _code("print(1)")))
    copy = _save(ex.copy_path(source), _notebook(_markdown("# One"), _code("print(1)", [output])))
    assert ex.refresh_markdown(source) is True
    cells = json.loads(copy.read_text())["cells"]
    assert [ex._text(c["source"]) for c in cells] == ["# One, new words", "A cell added", "print(1)"]
    assert cells[2]["outputs"] == [output]
    assert ex.refresh_markdown(source) is False  # nothing left to do
    _save(source, _notebook(_markdown("# Two"), _code("print(2)")))
    assert ex.refresh_markdown(source) is False  # code changed: stale, run again; the copy stays as it was
    assert json.loads(copy.read_text())["cells"] == cells


def test_compact_turns_large_pictures_into_jpeg_and_keeps_small_or_transparent_ones(course):
    big, small, clear = _png(), _png(size=8), _png(alpha=True)
    assert len(base64.b64encode(big)) > ex.PNG_KEPT_BYTES > len(base64.b64encode(small))
    b64 = lambda data: base64.b64encode(data).decode("ascii")  # noqa: E731
    figure = lambda data: {"output_type": "display_data", "metadata": {}, "data": {"image/png": b64(data)}}  # noqa: E731
    nb = _notebook(_code("plot()", [figure(big), figure(small), figure(clear)]))
    nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"version_major": 2, "state": {
        "img": {"model_name": "ImageModel", "state": {"format": "png"},
                "buffers": [{"path": ["value"], "encoding": "base64", "data": b64(big)}]},
        "out": {"model_name": "OutputModel", "state": {"outputs": [figure(big)]}},
    }}}
    assert ex.compact(nb) == 3
    kinds = [list(o["data"]) for o in nb["cells"][0]["outputs"]]
    assert kinds == [["image/jpeg"], ["image/png"], ["image/png"]]
    with Image.open(io.BytesIO(base64.b64decode(nb["cells"][0]["outputs"][0]["data"]["image/jpeg"]))) as image:
        assert image.format == "JPEG" and image.size == (240, 240)
    state = nb["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert state["img"]["state"]["format"] == "jpeg"
    assert base64.b64decode(state["img"]["buffers"][0]["data"])[:2] == b"\xff\xd8"  # a JPEG now
    assert list(state["out"]["state"]["outputs"][0]["data"]) == ["image/jpeg"]


def test_compact_leaves_an_empty_or_unreadable_widget_picture_alone():
    """An ``Image`` widget that never got a picture (or holds bytes PIL cannot read) stays as it is."""
    models = {f"m{i}": {"model_name": "ImageModel", "state": {"format": "png"},
                        "buffers": [{"path": ["value"], "encoding": "base64", "data": base64.b64encode(raw).decode()}]}
              for i, raw in enumerate([b"", b"not a picture" * 5000])}
    nb = _notebook(_code("x"))
    nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": models}}
    before = json.dumps(nb, sort_keys=True)
    assert ex.compact(nb) == 0 and json.dumps(nb, sort_keys=True) == before
    assert ex._jpeg(b"") is None


def test_painting_check_names_the_missing_paintings_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("NSTHELPERS_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # the default cache, ~/.cache/nsthelpers, is empty
    with pytest.raises(SystemExit) as unset:
        ex.painting_cache()
    assert "NSTHELPERS_CACHE is not set" in str(unset.value) and "starry_night.jpg" in str(unset.value)
    default = tmp_path / "home" / ".cache" / "nsthelpers"
    default.mkdir(parents=True)
    for name in ex.PAINTINGS:
        (default / name).write_bytes(b"x")
    assert ex.painting_cache() == default  # where a notebook run online put them
    (tmp_path / "starry_night.jpg").write_bytes(b"x")
    monkeypatch.setenv("NSTHELPERS_CACHE", str(tmp_path))
    with pytest.raises(SystemExit) as partial:
        ex.painting_cache()
    message = str(partial.value)
    assert "starry_night" not in message and "the_scream.jpg, shipwreck.jpg are not in" in message
    assert "set NSTHELPERS_CACHE" in message
    for name in ex.PAINTINGS:
        (tmp_path / name).write_bytes(b"x")
    assert ex.painting_cache() == tmp_path


def test_make_executed_refuses_to_run_without_the_paintings(course, monkeypatch):
    _save(course / "notebooks/01.ipynb", _notebook(_code("1 / 0")))
    monkeypatch.delenv("NSTHELPERS_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(course / "home"))
    with pytest.raises(SystemExit, match="NSTHELPERS_CACHE"):
        ex.main([])
    assert not (course / "executed").exists()  # checked before any kernel started


def test_check_reports_stale_missing_and_orphaned_copies(course, capsys):
    source = _save(course / "notebooks/01.ipynb", _notebook(_code("x = 1")))
    assert ex.main(["--check"]) == 1
    assert "executed/01.ipynb: missing; run `make executed`" in capsys.readouterr().out
    _save(ex.copy_path(source), _notebook(_code("x = 1")))
    assert ex.main(["--check"]) == 0
    _save(course / "executed/00_old_name.ipynb", _notebook())
    assert ex.main(["--check"]) == 1
    assert "executed/00_old_name.ipynb: its notebook is gone" in capsys.readouterr().out


def test_a_notebook_runs_into_a_compact_copy_with_widget_state(course, monkeypatch, capsys):
    """One real kernel: a JPEG figure from the inline backend, the widget's state stored, the run recorded."""
    for name in ex.PAINTINGS:
        (course / name).write_bytes(b"x")
    monkeypatch.setenv("NSTHELPERS_CACHE", str(course))
    source = _save(course / "notebooks/01.ipynb", _notebook(
        _markdown("# A figure and a slider"),
        _code("import os, matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0]); plt.show()\n"
              "print(os.environ['NSTHELPERS_PROFILE'], os.environ.get('NSTHELPERS_QUICK'))"),
        _code("import ipywidgets\nipywidgets.IntSlider(value=7, description='steps')")))
    assert ex.main([str(source)]) == 0, capsys.readouterr().out
    nb = json.loads(ex.copy_path(source).read_text())
    outputs = nb["cells"][1]["outputs"]
    assert any("image/jpeg" in o.get("data", {}) for o in outputs), outputs
    assert not any("image/png" in o.get("data", {}) for o in outputs)
    assert "cpu None" in "".join(ex._text(o.get("text", "")) for o in outputs if o["output_type"] == "stream")
    view = nb["cells"][2]["outputs"][0]["data"]["application/vnd.jupyter.widget-view+json"]
    state = nb["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert state[view["model_id"]]["state"]["value"] == 7
    assert ex.add_widget_pictures(nb) == 0  # a slider shows no picture: nothing added after it
    assert nb["metadata"]["nst_executed"]["profile"] == "cpu" and nb["metadata"]["nst_executed"]["seconds"] > 0
    assert ex.stale(source) is None


def test_a_failing_check_leaves_its_outputs_to_read_and_no_copy(course, monkeypatch, capsys):
    """One real kernel: the run stops at the failing check; the numbers printed before it are kept apart."""
    for name in ex.PAINTINGS:
        (course / name).write_bytes(b"x")
    monkeypatch.setenv("NSTHELPERS_CACHE", str(course))
    cells = [_code("shares = [0.12, 0.31]\nprint('TV shares', shares)"), _code("assert shares[0] > shares[-1]")]
    source = _save(course / "notebooks/solutions/06.ipynb", _notebook(*cells))
    assert ex.main([str(source)]) == 1
    out = capsys.readouterr().out
    failed = ex.failed_path(source)
    assert "FAILED: CellExecutionError" in out and str(failed.relative_to(course)) in out
    assert not ex.copy_path(source).exists()
    kept = json.loads(failed.read_text())
    assert "TV shares [0.12, 0.31]" in "".join(ex._text(o.get("text", "")) for o in kept["cells"][0]["outputs"])
    assert any(o["output_type"] == "error" for o in kept["cells"][1]["outputs"])
    cells[1]["source"] = "assert shares[0] < shares[-1]"  # the check fixed: a copy, and the failed outputs gone
    _save(source, _notebook(*cells))
    assert ex.main([str(source)]) == 0, capsys.readouterr().out
    assert ex.copy_path(source).is_file() and not failed.exists()


def test_widget_pictures_follow_each_widget_for_renderers_without_a_widget_manager():
    b64 = lambda data: base64.b64encode(data).decode("ascii")  # noqa: E731
    first, second = b64(_png(size=4)), b64(_png(size=5))
    state = {
        "box": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_img", "IPY_MODEL_out", "IPY_MODEL_gone"]}},
        "img": {"model_name": "ImageModel", "state": {"format": "png"},
                "buffers": [{"path": ["value"], "encoding": "base64", "data": first}]},
        "out": {"model_name": "OutputModel", "state": {"outputs": [
            {"output_type": "display_data", "metadata": {}, "data": {"image/png": second, "text/plain": "fig"}}]}},
        "gone": {"model_name": "ImageModel", "state": {"format": "png", "layout": "IPY_MODEL_hide"},
                 "buffers": [{"path": ["value"], "encoding": "base64", "data": first}]},
        "hide": {"model_name": "LayoutModel", "state": {"display": "none"}},
    }
    assert ex.widget_pictures("IPY_MODEL_box", state) == [("image/png", first), ("image/png", second)]
    view = {"output_type": "execute_result", "execution_count": 1, "metadata": {},
            "data": {ex.WIDGET_VIEW: {"model_id": "box"}, "text/plain": "HBox(...)"}}
    nb = _notebook(_code("lab", [view]))
    nb["metadata"]["widgets"] = {ex.WIDGET_STATE: {"state": state, "version_major": 2}}
    assert ex.add_widget_pictures(nb) == 2
    outputs = nb["cells"][0]["outputs"]
    assert outputs[0] == view and [o["data"]["image/png"] for o in outputs[1:]] == [first, second]
    assert all(o["metadata"] == {ex.SNAPSHOT_KEY: "box"} for o in outputs[1:])
    assert ex.add_widget_pictures(nb) == 2 and len(nb["cells"][0]["outputs"]) == 3  # again: the same, not twice


def test_make_executed_adds_widget_pictures_to_up_to_date_copies_without_running_them(course, monkeypatch, capsys):
    monkeypatch.delenv("NSTHELPERS_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(course / "home"))  # no paintings: running a kernel would stop with an error
    picture = base64.b64encode(_png(size=4)).decode("ascii")
    source = _save(course / "notebooks/01.ipynb", _notebook(_code("lab")))
    copy = _notebook(_code("lab", [{"output_type": "display_data", "metadata": {},
                                    "data": {ex.WIDGET_VIEW: {"model_id": "img"}, "text/plain": "Image()"}}]))
    copy["metadata"]["widgets"] = {ex.WIDGET_STATE: {"version_major": 2, "state": {"img": {
        "model_name": "ImageModel", "state": {"format": "png"},
        "buffers": [{"path": ["value"], "encoding": "base64", "data": picture}]}}}}
    _save(ex.copy_path(source), copy)
    assert ex.main([]) == 0
    assert "notebooks/01.ipynb: widget pictures added" in capsys.readouterr().out
    outputs = json.loads(ex.copy_path(source).read_text())["cells"][0]["outputs"]
    assert [list(o["data"]) for o in outputs] == [[ex.WIDGET_VIEW, "text/plain"], ["image/png", "text/plain"]]
    assert ex.main([]) == 0 and "widget pictures added" not in capsys.readouterr().out


def test_compact_makes_a_large_animation_smaller_once():

    rng = np.random.default_rng(0)
    frames = [Image.fromarray(rng.integers(0, 255, (160, 640, 3), dtype=np.uint8)) for _ in range(4)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=250, loop=0)
    gif = base64.b64encode(buffer.getvalue()).decode("ascii")
    assert len(gif) > ex.GIF_KEPT_BYTES
    nb = {"cells": [{"cell_type": "code", "source": "", "outputs": [
        {"output_type": "display_data", "metadata": {}, "data": {"image/gif": gif}},
        {"output_type": "stream", "name": "stdout", "text": "x"}]}], "metadata": {}}
    assert ex.compact(nb) == 1
    out = nb["cells"][0]["outputs"][0]
    smaller = base64.b64decode(out["data"]["image/gif"])
    with Image.open(io.BytesIO(smaller)) as image:
        assert image.n_frames == 4 and image.size == (480, 120) and image.info["duration"] == 250
    assert len(out["data"]["image/gif"]) < 0.75 * len(gif)
    assert "metadata" not in nb["cells"][0]["outputs"][1]   # a stream output gets no metadata (nbformat forbids it)
    assert ex.compact(nb) == 0                        # once: the marker stops a second reduction
