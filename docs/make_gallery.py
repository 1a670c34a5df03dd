#!/usr/bin/env python3
"""Make the gallery of real results for the README, with ``nst.stylize`` and its defaults.

    python docs/make_gallery.py            # the gallery, into docs/gallery/ (`make gallery`)
    python docs/make_gallery.py --quick    # tiny sizes and 3 steps: a smoke test (CI runs it)

It paints the photos that may be shipped (scikit-image's astronaut, chelsea and coffee) in three styles:
the public-domain paintings when they are in the cache (``NSTHELPERS_CACHE``), else the generated textures
that stand in for them, labelled with ``data.style_label``. Then one picture each of colour preservation
(luminance and histogram), a two-style blend, a two-style mask and coarse-to-fine at high resolution.

Every picture is made by one ``nst.stylize`` call that passes only the size (and, in ``--quick``, the steps)
besides the option it shows, so the gallery shows the package's defaults as they are when it runs. The
script prints each call, the settings ``stylize`` resolved and the measured wall time, and writes them into
``gallery.json`` and ``README.md`` beside the pictures, plus ``README_snippet.md`` for the repository's
README. Pictures are small JPEGs; the quality is lowered step by step until the whole folder fits in
1.5 MB, and the script fails if it cannot.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere: import this checkout's package
    sys.path.insert(0, str(REPO))

import torch  # noqa: E402  (after the sys.path line above)
from PIL import Image  # noqa: E402

import nsthelpers as nst  # noqa: E402
from nsthelpers import data, masks  # noqa: E402

CONTENTS = ("astronaut", "chelsea", "coffee")
STYLES = tuple(data.ARTWORKS)  # starry_night, the_scream, shipwreck
LIMIT_BYTES = 1_500_000  # the whole folder: pictures, thumbnails, README and JSON
QUALITIES = (88, 82, 76, 70, 64, 58, 52)  # JPEG qualities tried in turn until the gallery fits
META_FILES = ("gallery.json", "README.md", "README_snippet.md")


@dataclass(frozen=True)
class Sizes:
    """How big the gallery's runs are: longer sides in pixels, and steps (None: stylize's default)."""

    grid: int
    thumb: int
    scales: tuple[int, ...]
    steps: int | None
    style_max: int


FULL = Sizes(grid=384, thumb=128, scales=(256, 512, 1024), steps=None, style_max=1024)
QUICK = Sizes(grid=64, thumb=32, scales=(32, 64), steps=3, style_max=96)


@dataclass
class Item:
    """One picture of the gallery and the ``stylize`` call that makes it."""

    file: str
    section: str  # "grid", "colour", "blend", "mask" or "hires"
    title: str
    content: str
    styles: tuple[str, ...]
    options: dict = field(default_factory=dict)  # keyword arguments for stylize (besides weights=)
    shown: dict = field(default_factory=dict)  # how an option is written in the printed call, if not repr()

    def call(self) -> str:
        """The call as a reader would type it (the loaded VGG19 is passed as ``weights=`` too)."""
        style = ", ".join(f'data.style_image("{s}")' for s in self.styles)
        style = f"[{style}]" if len(self.styles) > 1 else style
        opts = "".join(f", {k}={self.shown.get(k, repr(v))}" for k, v in self.options.items())
        return f'nst.stylize(data.content_photo("{self.content}"), {style}{opts})'


def plan(sizes: Sizes, content_hw: dict[str, tuple[int, int]]) -> list[Item]:
    """Every picture of the gallery, in order (``content_hw``: each photo's size at ``sizes.grid``)."""
    base = {"size": sizes.grid} if sizes.steps is None else {"size": sizes.grid, "steps": sizes.steps}
    items = [Item(f"{c}-{s}.jpg", "grid", f"{c} × {s}", c, (s,), dict(base)) for c in CONTENTS for s in STYLES]
    for mode in ("luminance", "histogram"):
        items.append(Item(f"colour-{mode}-chelsea-starry_night.jpg", "colour", f"preserve_color={mode!r}",
                          "chelsea", ("starry_night",), {**base, "preserve_color": mode}))
    items.append(Item("blend-astronaut-starry_night-the_scream.jpg", "blend", "blend of two styles, half and half",
                      "astronaut", ("starry_night", "the_scream"), {**base, "style_blend": [0.5, 0.5]}))
    h, w = content_hw["coffee"]
    split = f'masks.split_masks({h}, {w}, "left_right", feather=0.2)'
    items.append(Item("mask-coffee-starry_night-shipwreck.jpg", "mask", "left: first style, right: second",
                      "coffee", ("starry_night", "shipwreck"),
                      {**base, "masks": masks.split_masks(h, w, "left_right", feather=0.2)}, {"masks": split}))
    hires = {"scales": list(sizes.scales)} if sizes.steps is None else {"scales": list(sizes.scales), "steps": sizes.steps}
    items.append(Item(f"hires-astronaut-starry_night-{sizes.scales[-1]}.jpg", "hires",
                      f"coarse to fine: {' → '.join(map(str, sizes.scales))} px", "astronaut", ("starry_night",), hires))
    return items


def load_inputs(sizes: Sizes) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """The content photos at the grid size and the style images (paintings if cached, else stand-ins)."""
    contents = {c: nst.resize_max_side(data.content_photo(c), sizes.grid) for c in CONTENTS}
    styles = {s: data.style_image(s, max_size=sizes.style_max) for s in STYLES}
    return contents, styles


def jsonable(value):
    """Settings as JSON values: tuples as lists, devices and dtypes as strings, floats kept."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return str(value)


def render(item: Item, contents, styles, model) -> tuple[torch.Tensor, dict]:
    """Run the item's ``stylize`` call; return the picture and its record (call, settings, time)."""
    style = [styles[s] for s in item.styles]
    # coarse to fine starts from the photo as shipped (its scales set the sizes); the others from the grid size
    content = data.content_photo(item.content) if item.section == "hires" else contents[item.content]
    t0 = time.perf_counter()
    result = nst.stylize(content, style if len(style) > 1 else style[0], weights=model, **item.options)
    seconds = time.perf_counter() - t0
    h, w = result.image.shape[-2:]
    record = {
        "file": item.file, "section": item.section, "title": item.title, "content": item.content,
        "styles": list(item.styles), "style_labels": [data.style_label(s) for s in item.styles],
        "call": item.call(), "size": [int(w), int(h)], "seconds": round(seconds, 2),
        "steps_done": result.steps_done, "stopped": result.stopped,
        "timings": jsonable(result.timings), "settings": jsonable(result.settings),
    }
    return result.image, record


def thumbnails(sizes: Sizes, styles: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Small pictures of the inputs for the grid's first row and column."""
    thumbs = {f"content-{c}.jpg": nst.resize_max_side(data.content_photo(c), sizes.thumb) for c in CONTENTS}
    thumbs.update({f"style-{s}.jpg": nst.resize_max_side(img, sizes.thumb) for s, img in styles.items()})
    return thumbs


def encode(images: dict[str, torch.Tensor], budget: int) -> tuple[dict[str, bytes], int]:
    """JPEG bytes of every picture at the highest quality in QUALITIES whose total fits ``budget``."""
    total = 0
    for quality in QUALITIES:
        encoded = {}
        for name, image in images.items():
            buffer = io.BytesIO()
            nst.to_pil(image).save(buffer, "JPEG", quality=quality, optimize=True, progressive=True)
            encoded[name] = buffer.getvalue()
        total = sum(map(len, encoded.values()))
        if total <= budget:
            return encoded, quality
    raise ValueError(f"the gallery's pictures take {total / 1e6:.2f} MB even at JPEG quality {QUALITIES[-1]}, over "
                     f"the {budget / 1e6:.2f} MB left for them: use a smaller --size or fewer pictures")


def folder_bytes(folder: Path) -> int:
    """Bytes of all files directly in ``folder``."""
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def check_gallery(folder: Path, records: list[dict], limit: int = LIMIT_BYTES) -> None:
    """Raise ValueError unless every recorded picture is a JPEG of its stated size and the folder fits ``limit``."""
    for rec in records:
        with Image.open(folder / rec["file"]) as img:
            if img.format != "JPEG" or list(img.size) != rec["size"]:
                raise ValueError(f"{rec['file']}: {img.format} {img.size}, expected a JPEG of {rec['size']}")
    total = folder_bytes(folder)
    if total > limit:
        raise ValueError(f"{folder} holds {total / 1e6:.2f} MB, over the {limit / 1e6:.2f} MB limit: "
                         "use a smaller --size or fewer pictures")


def seconds_text(seconds: float) -> str:
    """A wall time in words: 0.4 s, 12 s, 3.5 min."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def cell(rec: dict, prefix: str, width: int, label: bool = False) -> str:
    """One result in a markdown table: the picture, then (its styles and) its time and device."""
    device = rec["settings"].get("device", "?")
    styles = " + ".join(rec["style_labels"]) + "<br>" if label else ""
    return (f'<img src="{prefix}{rec["file"]}" width="{width}"><br>'
            f'<sub>{styles}{seconds_text(rec["seconds"])} on {device}</sub>')


def grid_markdown(records: list[dict], meta: dict, prefix: str, width: int = 180) -> list[str]:
    """The contents × styles table, with thumbnails of the inputs in the first row and column."""
    grid = {(r["content"], r["styles"][0]): r for r in records if r["section"] == "grid"}
    head = ["| |"] + [f' <img src="{prefix}style-{s}.jpg" width="{width // 2}"><br>{meta["style_labels"][s]} |'
                      for s in STYLES]
    lines = ["".join(head), "|---" * (len(STYLES) + 1) + "|"]
    for c in CONTENTS:
        row = [f'| <img src="{prefix}content-{c}.jpg" width="{width // 2}"><br>{c} |']
        row += [f" {cell(grid[c, s], prefix, width)} |" for s in STYLES]
        lines.append("".join(row))
    return lines


def extras_markdown(records: list[dict], prefix: str, width: int = 240) -> list[str]:
    """The colour, blend, mask and high-resolution pictures in one row, titled."""
    extra = [r for r in records if r["section"] != "grid"]
    lines = ["| " + " | ".join(r["title"] for r in extra) + " |",
             "|---" * len(extra) + "|",
             "| " + " | ".join(cell(r, prefix, width, label=True) for r in extra) + " |"]
    return lines


def details_markdown(records: list[dict]) -> list[str]:
    """For every picture: the exact call, the settings stylize resolved, and the measured time."""
    lines = ["| picture | call | settings | time |", "|---|---|---|---|"]
    keys = ("steps", "scales", "optimizer", "lr", "style_weight", "tv_weight", "weights", "device", "precision")
    for r in records:
        settings = ", ".join(f"{k}={r['settings'][k]}" for k in keys if r["settings"].get(k) is not None)
        size = "×".join(map(str, r["size"]))
        lines.append(f"| `{r['file']}` ({size}) | `{r['call']}` | {settings} | {seconds_text(r['seconds'])} |")
    return lines


def gallery_markdown(meta: dict, prefix: str = "", full: bool = True) -> str:
    """``README.md`` of the gallery (``full``) or the snippet for the repository's README (``prefix`` = folder)."""
    records = meta["images"]
    intro = f"Made by `{meta['command']}` with `nst.stylize`'s defaults on {meta['machine']}; each picture shows its wall time."
    if not full:
        intro += f" Calls, settings and times: [{prefix}README.md]({prefix}README.md)."
    lines = ["## Gallery", "", intro, ""]
    lines += [*grid_markdown(records, meta, prefix), "", *extras_markdown(records, prefix), ""]
    if full:
        note = ("`nst.stylize` was passed the loaded VGG19 as `weights=` besides what the call shows; the settings "
                "are those it reports in `result.settings`.")
        lines += ["### How each picture was made", "", note, "", *details_markdown(records), ""]
    return "\n".join(lines)


def machine() -> str:
    """The device the gallery ran on, in words."""
    if torch.cuda.is_available():
        return f"CUDA ({torch.cuda.get_device_name(0)})"
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def make_gallery(out: Path, sizes: Sizes, command: str, limit: int = LIMIT_BYTES) -> dict:
    """Render, encode and write the whole gallery into ``out``; return its metadata (also in gallery.json)."""
    out.mkdir(parents=True, exist_ok=True)
    model = nst.load_vgg19()
    contents, styles = load_inputs(sizes)
    items = plan(sizes, {c: (int(img.shape[-2]), int(img.shape[-1])) for c, img in contents.items()})
    nst.stylize(contents[CONTENTS[0]], styles[STYLES[0]], weights=model, size=64, steps=2)  # warm-up, not timed
    pictures, records = {}, []
    for i, item in enumerate(items, 1):
        pictures[item.file], rec = render(item, contents, styles, model)
        records.append(rec)
        print(f"[{i}/{len(items)}] {item.file}  {rec['size'][0]}×{rec['size'][1]}  {rec['seconds']:.1f} s\n"
              f"    {rec['call']}\n    settings: {rec['settings']}", flush=True)
    pictures.update(thumbnails(sizes, styles))
    meta = {"command": command, "machine": machine(), "torch": torch.__version__, "nsthelpers": nst.__version__,
            "weights": model.weights_name, "style_labels": {s: data.style_label(s) for s in STYLES},
            "limit_bytes": limit, "images": records}
    texts = {"README.md": gallery_markdown(meta), "README_snippet.md": gallery_markdown(meta, f"{out_prefix(out)}", False)}
    reserve = sum(len(t.encode()) for t in texts.values()) + 65536  # room for the texts and gallery.json
    encoded, meta["jpeg_quality"] = encode(pictures, limit - reserve)
    meta["thumbnails"] = sorted(set(pictures) - {r["file"] for r in records})
    remove_earlier(out)
    for name, blob in encoded.items():
        (out / name).write_bytes(blob)
    for name, text in texts.items():
        (out / name).write_text(text + "\n", encoding="utf-8")
    meta["total_bytes"] = sum(map(len, encoded.values())) + sum(len(t.encode()) + 1 for t in texts.values())
    (out / "gallery.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    check_gallery(out, records, limit)
    return meta


def remove_earlier(out: Path) -> None:
    """Delete the pictures an earlier run listed in ``out/gallery.json`` (and nothing else)."""
    try:
        old = json.loads((out / "gallery.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    for name in [r.get("file", "") for r in old.get("images", [])] + list(old.get("thumbnails", [])):
        if name and Path(name).name == name:
            (out / name).unlink(missing_ok=True)


def out_prefix(out: Path) -> str:
    """The gallery folder as a link prefix from the repository root (``docs/gallery/``)."""
    try:
        return out.resolve().relative_to(REPO).as_posix() + "/"
    except ValueError:
        return out.resolve().as_posix() + "/"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "gallery", help="folder for the gallery")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and 3 steps (a smoke test)")
    parser.add_argument("--size", type=int, default=None, help="longer side of the grid's pictures")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.size is not None:
        sizes = Sizes(args.size, sizes.thumb, sizes.scales, sizes.steps, sizes.style_max)
    command = "python docs/make_gallery.py" + (" --quick" if args.quick else "") + (f" --size {args.size}" if args.size else "")
    command = "make gallery" if command == "python docs/make_gallery.py" else command
    try:
        meta = make_gallery(args.out, sizes, command)
    except ValueError as exc:
        print(f"make_gallery: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(meta['images'])} pictures to {args.out} ({meta['total_bytes'] / 1e6:.2f} MB, "
          f"JPEG quality {meta['jpeg_quality']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
