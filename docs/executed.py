#!/usr/bin/env python3
"""Executed copies of the notebooks, committed so that GitHub (and ``make book``) show every figure.

    python docs/executed.py                 # `make executed`: every notebook whose copy is missing or stale
    python docs/executed.py --all           # every notebook again
    python docs/executed.py --check         # exit 1 when a copy is missing or stale (what the test checks)
    python docs/executed.py notebooks/03_gram_matrices.ipynb

Each notebook under ``notebooks/`` (the core path, its solutions, the deep dives and theirs) runs top to bottom
in a fresh kernel in the ``cpu`` profile, with the real paintings from ``NSTHELPERS_CACHE`` (else
``~/.cache/nsthelpers``; checked before anything runs: an executed copy made with the generated stand-ins would
show the wrong pictures) and nothing downloaded. The copy goes to ``executed/`` under the same relative path, so links between notebooks keep
working; ``notebooks/`` stays without outputs for students.

A copy is *stale* when its code cells differ from its source notebook's (:func:`stale`); ``tests/`` fails on a
stale copy, so the two cannot drift apart unnoticed. Markdown edits do not make a copy stale: the copy's
markdown is refreshed from the source without running anything (:func:`refresh_markdown`).

Compact figures: matplotlib draws JPEG through the inline backend at 80 dpi, and large PNG outputs and the
pictures held in widget state (ipywidgets' ``Image``) are re-encoded as JPEG (:func:`compact`). Widget state is
stored, so a view with a widget manager (nbviewer, ``make book``'s snapshots) shows each widget's last picture;
for the others (GitHub) each widget is followed by the pictures it showed (:func:`add_widget_pictures`). All
copies together stay under :data:`LIMIT_BYTES`. A notebook whose run fails gets no copy; its outputs up to the
error go to ``build/executed-failed/`` (same relative path), so the failing check's numbers can be read.
"""
from __future__ import annotations

import argparse
import base64
import datetime
import io
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "notebooks"
EXECUTED = REPO / "executed"
FAILED = REPO / "build" / "executed-failed"  # a failed run's outputs up to the error (git-ignored), to read the finding
LIMIT_BYTES = 15_000_000
PAINTINGS = ("starry_night.jpg", "the_scream.jpg", "shipwreck.jpg")
CELL_TIMEOUT_S = 1800
JPEG_QUALITY = 80
PNG_KEPT_BYTES = 40_000  # PNG outputs smaller than this stay PNG (line art, small tables of colour)
GIF_KEPT_BYTES = 300_000  # larger animations are made smaller once (a marker in the output's metadata says so)
GIF_SCALE, GIF_COLOURS = 0.75, 128  # 3/4 of the size, 128 colours without dithering (no added flicker): about half
KERNEL_CONFIG = f"""\
c.InlineBackend.figure_formats = {{"jpeg"}}
c.InlineBackend.rc = {{"figure.dpi": 80}}
c.InlineBackend.print_figure_kwargs = {{"bbox_inches": "tight", "pil_kwargs": {{"quality": {JPEG_QUALITY}}}}}
"""


def sources(folder: Path | None = None) -> list[Path]:
    """Every notebook of the course in course order: 00 and the core path, its solutions, the deep dives, theirs."""
    folder = SOURCE if folder is None else folder
    groups = [folder, folder / "solutions", folder / "deep_dives", folder / "deep_dives" / "solutions"]
    return [p for g in groups for p in sorted(g.glob("*.ipynb"))]


def copy_path(source: Path) -> Path:
    """Where the executed copy of ``source`` lives: the same path under ``executed/``."""
    try:
        return EXECUTED / source.resolve().relative_to(SOURCE.resolve())
    except ValueError:
        raise SystemExit(f"{source} is not a notebook of the course: give a path under {SOURCE}") from None


def orphans() -> list[Path]:
    """Executed copies whose notebook is gone (renamed or removed): they would show a page of no notebook."""
    wanted = {copy_path(p) for p in sources()}
    return sorted(p for p in EXECUTED.rglob("*.ipynb") if p not in wanted and ".ipynb_checkpoints" not in p.parts)


def code_cells(nb: Any) -> list[str]:
    """The sources of a notebook's code cells, in order (what decides whether a copy is stale)."""
    return [_text(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def _text(source: Any) -> str:
    return "".join(source) if isinstance(source, list) else str(source)


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def stale(source: Path) -> str | None:
    """Why the executed copy of ``source`` is stale ("missing", "code cell 4 differs", ...), or None."""
    copy = copy_path(source)
    if not copy.is_file():
        return "missing"
    mine, theirs = code_cells(_read(source)), code_cells(_read(copy))
    if len(mine) != len(theirs):
        return f"{len(theirs)} code cells, the notebook has {len(mine)}"
    for number, (a, b) in enumerate(zip(mine, theirs), 1):
        if a != b:
            return f"code cell {number} differs"
    return None


def refresh_markdown(source: Path) -> bool:
    """Bring an up-to-date executed copy's other cells (markdown, raw) in line with ``source``; True when changed.

    The copy's code cells keep their outputs; every other cell, and the order of the cells, is taken from the
    source notebook, so markdown cells added, removed or edited since the run show up without running anything.
    Does nothing (returns False) when the code cells differ: then the copy is stale and must run again.
    """
    copy = copy_path(source)
    src, out = _read(source), _read(copy)
    if code_cells(src) != code_cells(out):
        return False
    ran = iter([c for c in out["cells"] if c["cell_type"] == "code"])
    cells = []
    for cell in src["cells"]:
        if cell["cell_type"] == "code":
            cells.append(next(ran))
        else:
            cells.append(cell)
    if _canonical(cells) == _canonical(out["cells"]):
        return False
    out["cells"] = cells
    _write(copy, out)
    return True


def _canonical(cells: list[dict]) -> str:
    """Cells as JSON with list sources joined, to compare what a reader sees (not how the file splits lines)."""
    return json.dumps([{**c, "source": _text(c.get("source", ""))} for c in cells], sort_keys=True)


def _write(path: Path, nb: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def painting_cache() -> Path:
    """The cache folder holding the real paintings; a clear error naming the fix when it does not.

    ``NSTHELPERS_CACHE``, or the package's default cache ``~/.cache/nsthelpers`` (where a notebook run once
    online has put them) when it is not set.
    """
    folder = os.environ.get("NSTHELPERS_CACHE", "").strip()
    where = Path(folder).expanduser() if folder else Path.home() / ".cache" / "nsthelpers"
    missing = [name for name in PAINTINGS if not (where / name).is_file()]
    if missing:
        named = f"NSTHELPERS_CACHE ({folder})" if folder else f"{where} (NSTHELPERS_CACHE is not set)"
        raise SystemExit(
            f"executed copies show the real paintings, and {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not in {named}. Put the paintings in a folder (run any "
            "notebook once online, or copy them) and set NSTHELPERS_CACHE to it.")
    return where


def kernel_environment(ipython_dir: Path) -> dict[str, str]:
    """The environment of the executing kernels: cpu profile, offline, this checkout, compact figures."""
    env = dict(os.environ)
    env.pop("NSTHELPERS_QUICK", None)
    env.update(NSTHELPERS_PROFILE="cpu", NSTHELPERS_OFFLINE="1", TQDM_DISABLE="1", IPYTHONDIR=str(ipython_dir))
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def _jpeg(data: bytes, quality: int = JPEG_QUALITY) -> bytes | None:
    """``data`` (PNG bytes) as JPEG, or None when it has transparency that JPEG would lose or is no picture PIL
    can read (an ``Image`` widget left empty holds no bytes at all)."""
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError):
        return None
    with image:
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            lowest = image.convert("RGBA").getchannel("A").getextrema()[0]
            if isinstance(lowest, (int, float)) and lowest < 255:
                return None
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, "JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


def _smaller_gif(data: bytes) -> bytes:
    """An animated GIF at :data:`GIF_SCALE` of its size with :data:`GIF_COLOURS` colours, same frames and timing."""
    from PIL import Image, ImageSequence

    with Image.open(io.BytesIO(data)) as gif:
        info = {k: gif.info[k] for k in ("duration", "loop") if k in gif.info}
        frames = []
        for frame in ImageSequence.Iterator(gif):
            rgb = frame.convert("RGB")
            size = (max(1, round(rgb.width * GIF_SCALE)), max(1, round(rgb.height * GIF_SCALE)))
            frames.append(rgb.resize(size, Image.Resampling.LANCZOS).quantize(
                colors=GIF_COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE))
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], optimize=True, **info)
    return buffer.getvalue()


def compact(nb: dict) -> int:
    """Re-encode large PNG outputs and widget pictures of ``nb`` as JPEG, and make large animated GIFs smaller
    (once), in place; return how many pictures changed."""
    state = nb.get("metadata", {}).get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    outputs = [o for cell in nb["cells"] for o in cell.get("outputs", [])]
    outputs += [o for model in state.get("state", {}).values() if model.get("model_name") == "OutputModel"
                for o in model.get("state", {}).get("outputs", [])]  # what Output widgets show
    count = 0
    for output in outputs:
        data = output.get("data", {})
        png = data.get("image/png")
        if png and len(png) > PNG_KEPT_BYTES:
            jpeg = _jpeg(base64.b64decode(_text(png)))
            if jpeg is not None:
                del data["image/png"]
                data["image/jpeg"] = base64.b64encode(jpeg).decode("ascii")
                count += 1
        gif = data.get("image/gif")
        if gif and len(_text(gif)) > GIF_KEPT_BYTES and not output.get("metadata", {}).get("nst_gif_reduced"):
            data["image/gif"] = base64.b64encode(_smaller_gif(base64.b64decode(_text(gif)))).decode("ascii")
            output.setdefault("metadata", {})["nst_gif_reduced"] = [GIF_SCALE, GIF_COLOURS]
            count += 1
    for model in state.get("state", {}).values():
        if model.get("model_name") != "ImageModel" or model.get("state", {}).get("format") != "png":
            continue
        for buffer in model.get("buffers", []):
            if buffer.get("path") == ["value"] and buffer.get("encoding") == "base64":
                jpeg = _jpeg(base64.b64decode(buffer["data"]))
                if jpeg is not None and len(jpeg) < 0.75 * len(buffer["data"]):
                    buffer["data"] = base64.b64encode(jpeg).decode("ascii")
                    model["state"]["format"] = "jpeg"
                    count += 1
    return count


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
SNAPSHOT_KEY = "nst_widget_snapshot"  # marks the picture outputs that add_widget_pictures put after a widget


def widget_pictures(model_id: str, state: dict, seen: set[str] | None = None) -> list[tuple[str, str]]:
    """``(mime type, base64 data)`` of every picture a stored widget shows, in layout order: its ``Image``
    widgets and the figures in its ``Output`` areas, children included, hidden ones left out."""
    seen = set() if seen is None else seen
    model_id = str(model_id).removeprefix("IPY_MODEL_")
    if model_id in seen or model_id not in state:
        return []
    seen.add(model_id)
    model = state[model_id]
    s = model.get("state", {})
    layout = state.get(str(s.get("layout", "")).removeprefix("IPY_MODEL_"), {}).get("state", {})
    if layout.get("display") == "none":
        return []
    if model.get("model_name") == "ImageModel":
        fmt = {"jpg": "jpeg"}.get(str(s.get("format", "png")), str(s.get("format", "png")))
        return [(f"image/{fmt}", b["data"]) for b in model.get("buffers", [])
                if b.get("path") == ["value"] and b.get("encoding") == "base64" and b.get("data")
                and fmt in ("png", "jpeg", "gif")]
    found: list[tuple[str, str]] = []
    for output in s.get("outputs", []) if model.get("model_name") == "OutputModel" else []:
        data = output.get("data", {})
        if WIDGET_VIEW in data:
            found += widget_pictures(data[WIDGET_VIEW].get("model_id", ""), state, seen)
        mime = next((m for m in ("image/jpeg", "image/png", "image/gif") if m in data), None)
        if mime:
            found.append((mime, _text(data[mime]).replace("\n", "")))
    for child in s.get("children", []):
        found += widget_pictures(child, state, seen)
    return found


def add_widget_pictures(nb: dict) -> int:
    """After each widget output, the pictures it showed when the notebook ran, as plain image outputs.

    Renderers without a widget manager (GitHub's among them) show a widget as nothing or as text such as
    ``VBox(children=...)``; the picture beside it shows what the reader would have seen. In place and idempotent
    (earlier pictures are replaced); returns how many pictures the notebook now has after its widgets.
    """
    state = nb.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    count = 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        outputs = []
        for output in cell.get("outputs", []):
            if SNAPSHOT_KEY in output.get("metadata", {}):
                continue
            outputs.append(output)
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                continue
            for mime, data in widget_pictures(view.get("model_id", ""), state):
                outputs.append({"output_type": "display_data", "metadata": {SNAPSHOT_KEY: view.get("model_id", "")},
                                "data": {mime: data, "text/plain": "<the widget's picture as the notebook left it: "
                                                                  "run the notebook to use the widget>"}})
                count += 1
        cell["outputs"] = outputs
    return count


def execute(source: Path, env: dict[str, str]) -> float:
    """Run ``source`` in a fresh kernel and write its compact executed copy; return the seconds it took."""
    import nbclient
    import nbformat

    nb = nbformat.read(source, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", store_widget_state=True,
                                     resources={"metadata": {"path": str(source.parent)}})
    start = time.perf_counter()
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        try:
            client.execute()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        seconds = time.perf_counter() - start
        out = json.loads(nbformat.writes(nb))
        compact(out)
        add_widget_pictures(out)
    except Exception:  # a failing cell, or a failure while compacting: the outputs so far are kept apart
        _write(failed_path(source), json.loads(nbformat.writes(nb)))
        raise
    out["metadata"]["nst_executed"] = {
        "profile": "cpu", "seconds": round(seconds, 1), "date": datetime.date.today().isoformat(),
        "machine": f"CPU ({platform.machine()}, {os.cpu_count()} cores)", "paintings": "real",
    }
    _write(copy_path(source), out)
    failed_path(source).unlink(missing_ok=True)  # an earlier failure's outputs are out of date now
    return seconds


def failed_path(source: Path) -> Path:
    """Where a failed run of ``source`` leaves its outputs up to the error: the same path under :data:`FAILED`."""
    return FAILED / copy_path(source).relative_to(EXECUTED)


def total_bytes(folder: Path = EXECUTED) -> int:
    """The size of every executed copy together."""
    return sum(p.stat().st_size for p in folder.rglob("*.ipynb"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to run (default: every stale one)")
    parser.add_argument("--all", action="store_true", help="run every notebook, stale or not")
    parser.add_argument("--check", action="store_true", help="only report missing or stale copies (exit 1 if any)")
    args = parser.parse_args(argv)
    chosen = [p.resolve() for p in args.notebooks] or sources()
    reasons = {p: stale(p) for p in chosen}
    gone = [] if args.notebooks else orphans()
    if args.check:
        for path, why in reasons.items():
            if why:
                print(f"{copy_path(path).relative_to(REPO)}: {why}; run `make executed`")
        for path in gone:
            print(f"{path.relative_to(REPO)}: its notebook is gone; run `make executed` (it removes the copy)")
        size = total_bytes()
        if size > LIMIT_BYTES:
            print(f"executed/: {size / 1e6:.1f} MB, over the {LIMIT_BYTES / 1e6:.0f} MB limit")
        return 1 if any(reasons.values()) or gone or size > LIMIT_BYTES else 0
    for path in gone:
        path.unlink()
        print(f"{path.relative_to(REPO)}: removed (its notebook is gone)")
    todo = [p for p in chosen if args.all or args.notebooks or reasons[p]]
    for path in chosen:
        if path not in todo and refresh_markdown(path):
            print(f"{path.relative_to(REPO)}: markdown refreshed")
        if path not in todo and reasons[path] is None:
            copy = _read(copy_path(path))
            before = _canonical(copy["cells"])
            add_widget_pictures(copy)
            compacted = compact(copy)
            if _canonical(copy["cells"]) != before:
                _write(copy_path(path), copy)
                print(f"{path.relative_to(REPO)}: widget pictures added" if not compacted else
                      f"{path.relative_to(REPO)}: {compacted} pictures made smaller")
    if not todo:
        print("every executed copy is up to date")
        return 0
    cache = painting_cache()
    failed = []
    with tempfile.TemporaryDirectory() as ipython_dir:
        profile = Path(ipython_dir) / "profile_default"
        profile.mkdir()
        (profile / "ipython_kernel_config.py").write_text(KERNEL_CONFIG)
        env = kernel_environment(Path(ipython_dir))
        env["NSTHELPERS_CACHE"] = str(cache)
        for number, path in enumerate(todo, 1):
            name = path.relative_to(REPO)
            print(f"[{number}/{len(todo)}] {name} ({reasons[path] or 'asked for'}) ...", flush=True)
            try:
                seconds = execute(path, env)
            except Exception as exc:  # one failing notebook must not lose the others' copies
                failed.append(name)
                print(f"    FAILED: {type(exc).__name__}: {str(exc)[-800:]}", flush=True)
                if failed_path(path).is_file():
                    print(f"    its outputs up to the error: {failed_path(path).relative_to(REPO)}", flush=True)
                continue
            print(f"    {seconds:.0f} s, {copy_path(path).stat().st_size / 1e6:.2f} MB", flush=True)
    size = total_bytes()
    print(f"executed/: {size / 1e6:.1f} MB in all (limit {LIMIT_BYTES / 1e6:.0f} MB)")
    if failed:
        print("failed: " + ", ".join(map(str, failed)))
    return 1 if failed or size > LIMIT_BYTES else 0


if __name__ == "__main__":
    sys.exit(main())
