#!/usr/bin/env python3
"""The course as a static web site, built offline from the executed copies of the notebooks (``make book``).

    python docs/book.py                      # build/book/html/index.html: copy that folder to any web server
    python docs/book.py --out /tmp/site      # somewhere else
    python docs/book.py --executed DIR       # executed copies from another folder (the tests use this)

Nothing is executed: the pages show what ``make executed`` stored in ``executed/``. The builder is Sphinx with
MyST-NB and the Book theme (``docs/book/conf.py``), which reads notebooks and Markdown with no network at all;
Jupyter Book 2 (mystmd) was not chosen because its first build downloads the site theme and runs ``npm``.

The pages, in course order: notebook 00, the core path (01 to 11, 05b included), the deep dives, the solutions
of each, then TEACHING.md, GLOSSARY.md, REFERENCES.md and the gallery (``docs/gallery/``). A notebook whose
executed copy is missing is shown without outputs, with a note saying so (``make executed`` makes it).

Before Sphinx runs, each page is staged under ``build/book/src`` at its repository path, so the links between
notebooks and to GLOSSARY.md, REFERENCES.md and ``docs/figures`` keep working unchanged:

- each widget is replaced by a static snapshot of its stored state (:func:`widget_snapshot`): the pictures of
  its ``Image`` widgets and ``Output`` areas, its HTML and labels, and each control with its value, laid out as
  its boxes were. A rendered page thus shows the widget's last picture with nothing fetched (MyST-NB's own
  widget rendering loads the widget manager from a CDN, and a version made for ipywidgets 7);
- ``<a id="name"></a>`` anchors become MyST targets, so links such as ``GLOSSARY.md#profile`` resolve;
- a link to a folder of notebooks goes to its section of the contents page, and a link to a repository file
  that is not part of the site (a script, another README) becomes plain text naming the file.

After the build, every local link and picture of every page is checked (:func:`broken_links`), and so is that
no page loads a script, style sheet or picture from another site (:func:`remote_resources`).
"""
from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import unquote, urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "docs"))
import executed as executed_copies  # noqa: E402  (docs/executed.py: the course's notebooks and their copies)

CONF_DIR = REPO / "docs" / "book"
OUT = REPO / "build" / "book"
MARKDOWN_PAGES = ("TEACHING.md", "GLOSSARY.md", "REFERENCES.md", "docs/gallery/README.md")
ASSET_DIRS = ("docs/figures", "docs/gallery")
ASSET_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".svg")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
SNAPSHOT_NOTE = ("A snapshot of this widget as the notebook left it: run the notebook (<code>make lab</code>) "
                 "to move its controls.")


@dataclass(frozen=True)
class Section:
    """One part of the contents page: a caption and its pages (repository paths, without suffix)."""

    caption: str
    slug: str
    pages: tuple[str, ...]


def sections(source: Path | None = None) -> list[Section]:
    """The site's contents in course order: 00, the core path, the deep dives, the solutions, the references."""
    source = executed_copies.SOURCE if source is None else source

    def names(folder: Path) -> list[str]:
        return [p.relative_to(REPO).with_suffix("").as_posix() for p in sorted(folder.glob("*.ipynb"))]

    top = names(source)
    return [
        Section("Start here", "start-here", tuple(p for p in top if Path(p).name.startswith("00"))),
        Section("The core path", "the-core-path", tuple(p for p in top if not Path(p).name.startswith("00"))),
        Section("Deep dives", "deep-dives", tuple(names(source / "deep_dives"))),
        Section("Solutions", "solutions", tuple(names(source / "solutions"))),
        Section("Deep-dive solutions", "deep-dive-solutions", tuple(names(source / "deep_dives" / "solutions"))),
        Section("For teachers, and to look things up", "reference",
                tuple(p.removesuffix(".md") for p in MARKDOWN_PAGES)),
    ]


# --- widgets: a static snapshot of the stored state ---------------------------------------------------------

def _model_id(reference: Any) -> str:
    return str(reference).removeprefix("IPY_MODEL_")


def _value_text(state: dict) -> str | None:
    """A control's value as a reader would see it (the option's label for selections), or None."""
    labels = state.get("_options_labels")
    index = state.get("index")
    if labels is not None and index is not None:
        chosen = index if isinstance(index, (list, tuple)) else [index]
        return ", ".join(str(labels[i]) for i in chosen if isinstance(i, int) and 0 <= i < len(labels)) or "none"
    if "value" not in state:
        return None
    value = state["value"]
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return " to ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in value)
    return str(value)


def _image_tag(mime: str, data: str, alt: str, width: Any = None) -> str:
    size = f' width="{html.escape(str(width))}"' if str(width or "").isdigit() else ""
    return f'<img class="nst-w-image" src="data:{mime};base64,{data}" alt="{html.escape(alt)}"{size}>'


def _output_html(output: dict, state: dict, seen: set[str]) -> str:
    """One stored notebook output (inside an ``Output`` widget) as HTML."""
    if output.get("output_type") == "stream":
        return f'<pre class="nst-w-stream">{html.escape(executed_copies._text(output.get("text", "")))}</pre>'
    if output.get("output_type") == "error":
        return f'<pre class="nst-w-stream">{html.escape(output.get("ename", ""))}: ' \
               f'{html.escape(output.get("evalue", ""))}</pre>'
    data = output.get("data", {})
    if WIDGET_VIEW in data:
        return _model_html(data[WIDGET_VIEW].get("model_id", ""), state, seen)
    for mime in ("image/jpeg", "image/png", "image/gif"):
        if mime in data:
            return _image_tag(mime, executed_copies._text(data[mime]).replace("\n", ""), "a figure")
    if "image/svg+xml" in data:
        return executed_copies._text(data["image/svg+xml"])
    if "text/html" in data:
        return executed_copies._text(data["text/html"])
    if "text/plain" in data:
        return f'<pre class="nst-w-stream">{html.escape(executed_copies._text(data["text/plain"]))}</pre>'
    return ""


def _model_html(model_id: str, state: dict, seen: set[str]) -> str:
    """The static HTML of one widget model and its children (each model drawn at most once)."""
    model_id = _model_id(model_id)
    if model_id in seen or model_id not in state:
        return ""
    seen.add(model_id)
    model = state[model_id]
    name, s = str(model.get("model_name", "")), model.get("state", {})
    if s.get("layout") and state.get(_model_id(s["layout"]), {}).get("state", {}).get("display") == "none":
        return ""  # hidden in the notebook: hidden here
    description = html.escape(str(s.get("description") or ""))
    if name == "ImageModel":
        buffer = next((b for b in model.get("buffers", []) if b.get("path") == ["value"]), None)
        if buffer is None or buffer.get("encoding") != "base64" or not buffer.get("data"):
            return ""
        mime = "image/" + {"jpg": "jpeg", "svg": "svg+xml"}.get(str(s.get("format", "png")), str(s.get("format")))
        return _image_tag(mime, buffer["data"], description or "the widget's picture", s.get("width"))
    if name == "OutputModel":
        inner = "".join(_output_html(o, state, seen) for o in s.get("outputs", []))
        return f'<div class="nst-w-output">{inner}</div>' if inner else ""
    if "children" in s:
        titles = s.get("titles") or s.get("_titles") or {}
        parts = []
        for number, child in enumerate(s.get("children", [])):
            title = titles.get(str(number)) if isinstance(titles, dict) else (
                titles[number] if number < len(titles) else None)
            inner = _model_html(child, state, seen)
            if title:
                inner = f'<div class="nst-w-title">{html.escape(str(title))}</div>{inner}'
            parts.append(inner)
        kind = "hbox" if name == "HBoxModel" else "vbox"
        return f'<div class="nst-w-{kind}">{"".join(parts)}</div>'
    if name in ("HTMLModel", "HTMLMathModel"):
        label = f'<span class="nst-w-label">{description}</span> ' if description else ""
        return f'<div class="nst-w-html">{label}{s.get("value", "")}</div>'
    if name == "LabelModel":
        return f'<div class="nst-w-html">{html.escape(str(s.get("value", "")))}</div>'
    if name == "ButtonModel":
        return f'<span class="nst-w-button">{description or "button"}</span>'
    if name.endswith("StyleModel") or name == "LayoutModel":
        return ""
    value = _value_text(s)
    if value is None:
        return ""
    label = f'<span class="nst-w-label">{description}</span> ' if description else ""
    return f'<span class="nst-w-control">{label}<span class="nst-w-value">{html.escape(value)}</span></span>'


def widget_snapshot(view: dict, state: dict) -> str:
    """The HTML shown in place of the widget ``view`` (its output's widget-view data), from the stored ``state``.

    ``state`` is the ``state`` mapping of the notebook's widget-state metadata (model id to model). A widget
    whose state was not stored gets a note saying to run the notebook.
    """
    model_id = _model_id(view.get("model_id", ""))
    body = _model_html(model_id, state, set()) if model_id in state else ""
    if not body:
        return ('<div class="nst-widget nst-widget-missing"><p class="nst-w-note">An interactive widget: run the '
                'notebook (<code>make lab</code>) to use it.</p></div>')
    return f'<div class="nst-widget">{body}<p class="nst-w-note">{SNAPSHOT_NOTE}</p></div>'


def static_widgets(nb: dict) -> int:
    """Replace every widget output of ``nb`` by its snapshot and drop the widget state, in place; return how many."""
    metadata = nb.setdefault("metadata", {})
    state = metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    count = 0
    for cell in nb["cells"]:
        # the pictures executed.py puts after each widget (for GitHub) are in the snapshot already
        cell["outputs"] = [o for o in cell.get("outputs", [])
                           if executed_copies.SNAPSHOT_KEY not in o.get("metadata", {})]
        for output in cell["outputs"]:
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view is not None:
                output["data"] = {"text/html": widget_snapshot(view, state)}
                output.setdefault("metadata", {})
                count += 1
    metadata.pop("widgets", None)
    return count


# --- Markdown: anchors and links ----------------------------------------------------------------------------

ANCHOR = re.compile(r'^[ \t]*<a (?:id|name)="([^"]+)"></a>[ \t]*$', re.MULTILINE)
LINK = re.compile(r"(?<!!)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(([^)\s]+)\)")
HEADING = re.compile(r"^(#{1,6})(?=\s)", re.MULTILINE)
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)


def anchors_to_targets(text: str) -> str:
    """``<a id="name"></a>`` lines become MyST targets ``(name)=``, so that ``page.md#name`` links resolve."""
    return ANCHOR.sub(lambda m: f"({m.group(1)})=", text)


def promote_headings(text: str) -> str:
    """Raise every heading one level when the page has no level-1 heading (the gallery starts at ``##``)."""
    outside = FENCE.sub("", text)
    levels = [len(m.group(1)) for m in HEADING.finditer(outside)]
    if not levels or min(levels) == 1:
        return text
    shift = min(levels) - 1
    pieces, end = [], 0
    for fence in FENCE.finditer(text):  # code blocks keep their lines as they are
        pieces += [HEADING.sub(lambda m: m.group(1)[shift:], text[end:fence.start()]), fence.group(0)]
        end = fence.end()
    return "".join(pieces) + HEADING.sub(lambda m: m.group(1)[shift:], text[end:])


def rewrite_links(text: str, page: str, staged: set[str], folders: dict[str, str]) -> str:
    """Fix a page's local links for the site. ``page``: its repository path; ``staged``: every repository path
    the site holds (pages and pictures); ``folders``: a folder's repository path to its contents-page anchor."""
    here = Path(page).parent

    def fix(match: re.Match) -> str:
        label, target = match.group(1), match.group(2)
        parts = urlsplit(target)
        if parts.scheme or parts.netloc or not parts.path:
            return match.group(0)
        path = _normalise(here / unquote(parts.path))
        if path in staged:
            return match.group(0)
        if path.rstrip("/") in folders:
            index = Path(*([".."] * len(here.parts))) / "index.md" if here.parts else Path("index.md")
            return f"[{label}]({index.as_posix()}#{folders[path.rstrip('/')]})"
        return f"{label} (`{path}` in the repository)"

    return LINK.sub(fix, text)


def _normalise(path: Path) -> str:
    parts: list[str] = []
    for part in path.as_posix().split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


# --- staging ------------------------------------------------------------------------------------------------

def _write_if_changed(path: Path, text: str) -> None:
    """Write ``text`` unless the file already holds it (so that Sphinx rebuilds only what changed)."""
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def index_page(parts: list[Section]) -> str:
    """The contents page: a short welcome and one table of contents per section, in course order."""
    lines = [
        "# Neural style transfer, step by step", "",
        "A numbered series of Jupyter notebooks on neural style transfer (Gatys, Ecker & Bethge) with PyTorch "
        "and VGG19. These pages show the notebooks as they ran in the `cpu` profile with the real paintings: "
        "every figure and printed result, and each widget as a snapshot of its last picture. To run them and move "
        "the sliders, get the repository and type `make lab`.", "",
        "Start with notebook 00, then follow the core path, one class period per notebook; the deep dives go "
        "further. Each exercise is solved in the solutions pages.", "",
    ]
    for part in parts:
        if not part.pages:
            continue
        lines += [f"({part.slug})=", f"## {part.caption}", "", "```{toctree}", f":caption: {part.caption}",
                  ":maxdepth: 1", "", *part.pages, "```", ""]
    return "\n".join(lines)


def stage(executed_dir: Path, staging: Path) -> dict[str, list[str]]:
    """Write the site's sources into ``staging``; return ``{"missing": [...], "widgets": [...]}`` for the report."""
    parts = sections()
    notebooks = [page for part in parts[:5] for page in part.pages]
    folders = {"notebooks": parts[1].slug, "notebooks/deep_dives": parts[2].slug,
               "notebooks/solutions": parts[3].slug, "notebooks/deep_dives/solutions": parts[4].slug}
    assets = [p.relative_to(REPO).as_posix() for folder in ASSET_DIRS for p in sorted((REPO / folder).iterdir())
              if p.suffix.lower() in ASSET_SUFFIXES]
    staged = {f"{page}.ipynb" for page in notebooks} | set(MARKDOWN_PAGES) | set(assets)
    report: dict[str, list[str]] = {"missing": [], "stale": [], "widgets": []}
    for page in notebooks:
        source = REPO / f"{page}.ipynb"
        copy = executed_dir / source.relative_to(executed_copies.SOURCE)
        nb = json.loads((copy if copy.is_file() else source).read_text(encoding="utf-8"))
        if copy.is_file() and executed_copies.code_cells(nb) != executed_copies.code_cells(
                json.loads(source.read_text(encoding="utf-8"))):
            report["stale"].append(f"{page}.ipynb")
        if not copy.is_file():
            report["missing"].append(f"{page}.ipynb")
            nb["cells"].insert(1, {"cell_type": "markdown", "metadata": {}, "source": (
                "```{note}\nThis page shows the notebook without its outputs: its executed copy is missing "
                "(`make executed` makes it).\n```")})
        if static_widgets(nb):
            report["widgets"].append(f"{page}.ipynb")
        for cell in nb["cells"]:
            if cell["cell_type"] == "markdown":
                text = anchors_to_targets(executed_copies._text(cell["source"]))
                cell["source"] = rewrite_links(text, f"{page}.ipynb", staged, folders)
        _write_if_changed(staging / f"{page}.ipynb", json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    for page in MARKDOWN_PAGES:
        text = promote_headings(anchors_to_targets((REPO / page).read_text(encoding="utf-8")))
        _write_if_changed(staging / page, rewrite_links(text, page, staged, folders))
    for asset in assets:
        target = staging / asset
        if not target.is_file() or target.stat().st_size != (REPO / asset).stat().st_size:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / asset, target)
    _write_if_changed(staging / "index.md", index_page(parts))
    wanted = {f"{page}.ipynb" for page in notebooks} | set(MARKDOWN_PAGES) | set(assets) | {"index.md"}
    for old in [p for p in staging.rglob("*") if p.is_file()]:
        if old.relative_to(staging).as_posix() not in wanted:  # a page removed from the course
            old.unlink()
    return report


# --- checks of the built site -------------------------------------------------------------------------------

class _References(HTMLParser):
    """Every href/src of a page, with its tag."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.found.append((tag, name, value))
            elif name in ("id", "name") and value:
                self.ids.add(value)


def _parse(page: Path) -> _References:
    parser = _References()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def references(page: Path) -> list[tuple[str, str, str]]:
    """``(tag, attribute, value)`` of every link and resource of one HTML page."""
    return _parse(page).found


def _local_target(page: Path, value: str) -> Path | None:
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    return (page.parent / unquote(parts.path)).resolve()


def pages(site: Path) -> list[Path]:
    """The HTML pages of a built site (not the theme's template fragments under ``_static``)."""
    return sorted(p for p in site.rglob("*.html") if "_static" not in p.relative_to(site).parts)


def broken_links(site: Path) -> list[str]:
    """``page: link`` for every local link or resource of the site whose file does not exist."""
    broken = []
    ids: dict[Path, set[str]] = {}
    for page in pages(site):
        parsed = _parse(page)
        ids.setdefault(page.resolve(), parsed.ids)
        for _, _, value in parsed.found:
            target = _local_target(page, value)
            if target is None:
                fragment = urlsplit(value).fragment
                if value.startswith("#") and fragment and unquote(fragment) not in parsed.ids:
                    broken.append(f"{page.relative_to(site)}: {value} (no such anchor)")
                continue
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"{page.relative_to(site)}: {value}")
                continue
            fragment = unquote(urlsplit(value).fragment)
            if fragment and target.suffix == ".html":
                if target not in ids:
                    ids[target] = _parse(target).ids
                if fragment not in ids[target]:
                    broken.append(f"{page.relative_to(site)}: {value} (no such anchor)")
    return broken


def remote_resources(site: Path) -> list[str]:
    """``page: url`` for every script, style sheet, picture or frame a page would load from another site."""
    found = []
    for page in pages(site):
        for tag, attribute, value in references(page):
            loads = (tag in ("script", "img", "iframe", "source", "video", "audio", "embed") and attribute == "src"
                     or tag == "link" and attribute == "href")
            if loads and value.startswith(("http://", "https://", "//")):
                if tag == "link" and not re.search(r"\.(css|js|woff2?)(\?|$)", value):
                    continue  # <link rel="canonical"> and the like are not loaded
                found.append(f"{page.relative_to(site)}: {value}")
    return found


def site_bytes(site: Path) -> int:
    """The size of the built site."""
    return sum(p.stat().st_size for p in site.rglob("*") if p.is_file())


def build(executed_dir: Path = executed_copies.EXECUTED, out: Path = OUT, quiet: bool = True) -> dict[str, Any]:
    """Stage the pages and run Sphinx; return what the report prints. Raises ``RuntimeError`` when it fails."""
    if not any(executed_dir.rglob("*.ipynb")):
        raise RuntimeError(f"no executed copies in {executed_dir}: run `make executed` first "
                           "(it needs the paintings in NSTHELPERS_CACHE)")
    start = time.perf_counter()
    staged = stage(executed_dir, out / "src")
    site = out / "html"
    shutil.rmtree(site, ignore_errors=True)  # no page of a notebook since removed (Sphinx keeps its cache)
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-c", str(CONF_DIR), "-d", str(out / "doctrees"),
               "--keep-going", "-w", str(out / "warnings.txt"), *(["-q"] if quiet else []),
               str(out / "src"), str(site)]
    proc = subprocess.run(command, capture_output=quiet, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"sphinx-build failed ({proc.returncode}):\n{(proc.stderr or '')[-3000:]}")
    result = {
        "seconds": time.perf_counter() - start, "site": site, "bytes": site_bytes(site),
        "pages": len(pages(site)), "missing": staged["missing"], "stale": staged["stale"],
        "widgets": staged["widgets"],
        "broken": broken_links(site), "remote": remote_resources(site),
        "warnings": [w for w in (out / "warnings.txt").read_text().splitlines() if w.strip()],
    }
    return result


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--executed", type=Path, default=executed_copies.EXECUTED,
                        help="folder of the executed copies (default: executed/)")
    parser.add_argument("--out", type=Path, default=OUT, help="build folder; the site goes to OUT/html")
    parser.add_argument("--verbose", action="store_true", help="show Sphinx's progress")
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        result = build(args.executed.resolve(), args.out.resolve(), quiet=not args.verbose)
    except RuntimeError as exc:
        print(f"make book: {exc}", file=sys.stderr)
        return 1
    for warning in result["warnings"]:
        print(f"warning: {warning}")
    if result["missing"]:
        print(f"{len(result['missing'])} notebooks have no executed copy and are shown without outputs "
              f"(run `make executed`): {', '.join(result['missing'])}")
    if result["stale"]:
        print(f"{len(result['stale'])} executed copies are stale (their code differs from the notebook's; run "
              f"`make executed`): {', '.join(result['stale'])}")
    for problem in ("broken", "remote"):
        for line in result[problem]:
            print(f"{'broken link' if problem == 'broken' else 'loads from another site'}: {line}")
    print(f"{result['site'] / 'index.html'}: {result['pages']} pages, {result['bytes'] / 1e6:.1f} MB, "
          f"{len(result['widgets'])} notebooks with widget snapshots, built in {result['seconds']:.0f} s")
    return 1 if result["broken"] or result["remote"] else 0


if __name__ == "__main__":
    sys.exit(main())
