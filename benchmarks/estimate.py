#!/usr/bin/env python
"""How close ``stylize``'s time estimate comes to the real time of the run.

    python benchmarks/estimate.py                       # CPU: 128, 192 and 256 px, two scales each
    python benchmarks/estimate.py --sizes 512 --steps 40    # the cpu profile's default plan for a photo
    python benchmarks/estimate.py --device cuda --sizes 512,1024,2048

Before its first step, a run with ``progress=True`` times one evaluation (forward and backward, after a
warm-up one) at its first scale and extrapolates it to the whole plan by the number of pixels
(:mod:`nsthelpers.plan`); that is what it prints before a run of more than a minute. Here each size is one
``nst.stylize`` of scikit-image's coffee photo (400×600, resized) in the generated 'swirls' texture with the
plan ``scales=[size // 2, size]`` and the default steps (``--steps`` at the first scale, half at the second),
with one loaded VGG19. Reported per size: the estimate, the real wall time of the run after the estimate
(its steps, its targets and scoring), and **real / estimate**; the aim is between 0.5 and 2. Results go to
``benchmarks/results/estimate-<device>-<date>.json`` and into ``benchmarks/README.md`` between markers.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("TQDM_DISABLE", "1")  # progress=True asks for the estimate; the bar is not wanted here

import nsthelpers as nst  # noqa: E402
from markers import replace_block  # noqa: E402  (benchmarks/markers.py, beside this script)
from nsthelpers.deepdives.speed import sync  # noqa: E402

BEGIN = "<!-- estimate-results:begin (written by benchmarks/estimate.py; edits here are overwritten) -->"
END = "<!-- estimate-results:end -->"


def measure(model: Any, dev: torch.device, size: int, steps: int) -> dict[str, Any]:
    """One run at ``size``: its estimate and its real time after the estimate."""
    content = nst.data.content_photo("coffee")
    style = nst.data.generated_texture("swirls", 256, seed=0)
    sync(dev)
    t0 = time.perf_counter()
    result = nst.stylize(content, style, weights=model, device=dev, size=size, scales=[size // 2, size],
                         steps=steps, progress=True)
    sync(dev)
    real = time.perf_counter() - t0 - result.timings["estimate_s"]
    estimate = result.settings["estimate_s"]
    return {"size": size, "hw": list(result.image.shape[-2:]), "steps": result.settings["steps"],
            "estimate_s": estimate, "real_s": real, "ratio": real / estimate,
            "estimating_s": result.timings["estimate_s"]}


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [f"### {meta['device_name']}, torch threads {meta['threads']}", "",
             f"{meta['date']}, torch {meta['torch']}, weights `{meta['weights']}`, `{meta['command']}`, "
             f"load average {meta['load']} at the start.", "",
             "| result | plan (side × steps) | estimate, s | real, s | **real / estimate** | estimating, s |",
             "| ---: | :--- | ---: | ---: | ---: | ---: |"]
    for r in rows:
        plan = " → ".join(f"{s // 2 if i == 0 else s} × {n}" for i, (s, n) in
                          enumerate(zip([r["size"], r["size"]], r["steps"])))
        lines.append(f"| {r['hw'][1]}×{r['hw'][0]} | {plan} | {r['estimate_s']:.3g} | {r['real_s']:.3g} "
                     f"| ×{r['ratio']:.2f} | {r['estimating_s']:.2g} |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default=None, help="cpu, cuda or mps (default: best available)")
    p.add_argument("--sizes", default=None, help="comma-separated final sizes (CPU 128,192,256; GPU 512,1024,2048)")
    p.add_argument("--steps", type=int, default=None, help="evaluations at the first scale (default: stylize's)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--weights", default="caffe")
    p.add_argument("--out", type=Path, default=HERE / "results")
    p.add_argument("--readme", type=Path, default=HERE / "README.md")
    p.add_argument("--no-readme", action="store_true")
    p.add_argument("--quick", action="store_true", help="a smoke run: 64 px, 2 steps, README untouched")
    args = p.parse_args(argv)
    if args.quick:
        args.sizes, args.steps, args.no_readme = "64", 2, True
    return args


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = nst.default_device(args.device)
    gpu = dev.type == "cuda"
    sizes = [int(s) for s in (args.sizes or ("512,1024,2048" if gpu else "128,192,256")).split(",")]
    steps = args.steps or nst.PictureSpec().steps
    model = nst.load_vgg19(args.weights, device=dev)
    load = f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "?"
    nst.stylize(nst.data.generated_texture("dots", 64), nst.data.generated_texture("swirls", 64), weights=model,
                device=dev, steps=1, scales=None)  # one-time costs (lazy initialisation) land in no row
    rows = []
    for size in sizes:
        rows.append(measure(model, dev, size, steps))
        r = rows[-1]
        print(f"{size} px: estimate {r['estimate_s']:.3g} s, real {r['real_s']:.3g} s: ×{r['ratio']:.2f}", flush=True)
    meta = {"date": _dt.date.today().isoformat(), "torch": torch.__version__, "weights": args.weights,
            "threads": torch.get_num_threads(), "device": dev.type, "load": load,
            "device_name": torch.cuda.get_device_name(dev) if gpu else f"CPU ({platform.machine()})",
            "command": "python benchmarks/estimate.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if args.quick else ""
    (args.out / f"estimate-{dev.type}-{meta['date']}{suffix}.json").write_text(
        json.dumps({"meta": meta, "results": rows}, indent=1))
    if not args.no_readme:
        replace_block(args.readme, BEGIN, END, markdown(rows, meta))
    return rows


if __name__ == "__main__":
    main()
