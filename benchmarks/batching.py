#!/usr/bin/env python
"""Batching benchmark: one pair under N settings as one batched run, against N separate runs.

    python benchmarks/batching.py                    # CPU: 128 and 256 px, N = 4 (`make bench-batch`)
    python benchmarks/batching.py --device cuda      # GPU: 256 and 512 px

Both sides run the same Adam steps on the same pictures (scikit-image's astronaut and the generated
'swirls' texture) with the same N style weights, in one process with one loaded VGG19: N calls of
``nst.stylize(..., style_weight=w)``, then one ``nst.stylize_batch(..., variants=[{"style_weight": w}, …])``,
in alternating rounds (each side's fastest round counts). Reported per size: seconds per picture for each
side, the **speed-up** (separate / batched; above 1 the batch is faster) and how far apart the two sides'
final losses are (they optimise the same losses, so only rounding separates them). Results go to
``benchmarks/results/batching-<device>-<date>.json`` and into ``benchmarks/README.md`` between markers.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import nsthelpers as nst  # noqa: E402
from bench import pictures  # noqa: E402  (benchmarks/bench.py, beside this script)
from markers import replace_block  # noqa: E402  (benchmarks/markers.py, beside this script)
from nsthelpers.deepdives.speed import sync  # noqa: E402
from nsthelpers.objective import default_style_weight  # noqa: E402

BEGIN = "<!-- batching-results:begin (written by benchmarks/batching.py; edits here are overwritten) -->"
END = "<!-- batching-results:end -->"
FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)  # style weight = factor × the default, item by item


def timed(fn: Any, dev: torch.device) -> tuple[float, Any]:
    """Wall seconds of ``fn()`` (device synced before and after) and its result."""
    sync(dev)
    t0 = time.perf_counter()
    out = fn()
    sync(dev)
    return time.perf_counter() - t0, out


def measure(model: Any, dev: torch.device, size: int, n: int, steps: int, rounds: int) -> dict[str, Any]:
    """One size: N separate runs against one batched run, ``rounds`` alternating rounds each."""
    content, style = pictures(size, dev)  # the speed benchmark's pair: astronaut and 'swirls', size × size
    weights = [f * default_style_weight(model.preprocess.convention) for f in FACTORS[:n]]
    common = dict(weights=model, device=dev, optimizer="adam", steps=steps, scales=None, seed=0)

    def separate() -> list[Any]:
        return [nst.stylize(content, style, style_weight=w, **common) for w in weights]

    def batched() -> list[Any]:
        return nst.stylize_batch(content, style, variants=[{"style_weight": w} for w in weights], **common)

    nst.stylize(content, style, **{**common, "steps": 1})  # one-time costs (lazy initialisation) land in neither
    best = {"separate": float("inf"), "batched": float("inf")}
    results: dict[str, list[Any]] = {}
    for _ in range(rounds):
        for name, fn in (("separate", separate), ("batched", batched)):
            seconds, results[name] = timed(fn, dev)
            best[name] = min(best[name], seconds)
    gaps = [abs(b.final_losses["total"] - s.final_losses["total"]) / abs(s.final_losses["total"])
            for b, s in zip(results["batched"], results["separate"])]
    return {"size": size, "n": n, "steps": steps, "separate_s": best["separate"], "batched_s": best["batched"],
            "separate_s_per_picture": best["separate"] / n, "batched_s_per_picture": best["batched"] / n,
            "speedup": best["separate"] / best["batched"], "max_relative_loss_gap": max(gaps)}


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [f"### {meta['device_name']}, torch threads {meta['threads']}", "",
             f"{meta['date']}, torch {meta['torch']}, weights `{meta['weights']}`, `{meta['command']}`. "
             f"{rows[0]['n']} pictures of one pair with {rows[0]['n']} style weights, {rows[0]['steps']} Adam "
             f"steps each; fastest of {meta['rounds']} alternating round(s).", "",
             "| size | N | separate runs, s per picture | one batch, s per picture | **speed-up** | largest loss gap |",
             "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r['size']}² | {r['n']} | {r['separate_s_per_picture']:.3g} | {r['batched_s_per_picture']:.3g} "
                     f"| ×{r['speedup']:.2f} | {r['max_relative_loss_gap']:.1e} |")
    return "\n".join(lines)


def update_readme(readme: Path, text: str) -> None:
    replace_block(readme, BEGIN, END, text)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default=None, help="cpu, cuda or mps (default: best available)")
    p.add_argument("--sizes", default=None, help="comma-separated square sizes (CPU 128,256; GPU 256,512)")
    p.add_argument("--n", type=int, default=4, help=f"pictures per batch (1..{len(FACTORS)})")
    p.add_argument("--steps", type=int, default=None, help="Adam steps per picture (CPU 10, GPU 100)")
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds (each side's fastest counts)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--weights", default="caffe")
    p.add_argument("--out", type=Path, default=HERE / "results")
    p.add_argument("--readme", type=Path, default=HERE / "README.md")
    p.add_argument("--no-readme", action="store_true")
    p.add_argument("--quick", action="store_true", help="a smoke run: 64 px, N = 2, 2 steps, README untouched")
    args = p.parse_args(argv)
    if not 1 <= args.n <= len(FACTORS):
        p.error(f"--n must be between 1 and {len(FACTORS)}")
    if args.quick:
        args.sizes, args.n, args.steps, args.rounds, args.no_readme = "64", 2, 2, 1, True
    return args


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = nst.default_device(args.device)
    gpu = dev.type == "cuda"
    sizes = [int(s) for s in (args.sizes or ("256,512" if gpu else "128,256")).split(",")]
    steps = args.steps or (100 if gpu else 10)
    model = nst.load_vgg19(args.weights, device=dev)
    rows = []
    for size in sizes:
        rows.append(measure(model, dev, size, args.n, steps, args.rounds))
        r = rows[-1]
        print(f"{size}²: separate {r['separate_s_per_picture']:.3g} s/picture, batch {r['batched_s_per_picture']:.3g} "
              f"s/picture: ×{r['speedup']:.2f} (largest loss gap {r['max_relative_loss_gap']:.1e})", flush=True)
    meta = {"date": _dt.date.today().isoformat(), "torch": torch.__version__, "weights": args.weights,
            "threads": torch.get_num_threads(), "rounds": args.rounds, "device": dev.type,
            "device_name": torch.cuda.get_device_name(dev) if gpu else f"CPU ({platform.machine()})",
            "command": "python benchmarks/batching.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if args.quick else ""
    (args.out / f"batching-{dev.type}-{meta['date']}{suffix}.json").write_text(
        json.dumps({"meta": meta, "results": rows}, indent=1))
    if not args.no_readme:
        update_readme(args.readme, markdown(rows, meta))
    return rows


if __name__ == "__main__":
    main()
