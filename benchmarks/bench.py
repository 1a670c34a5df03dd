#!/usr/bin/env python
"""Speed benchmark: nsthelpers.stylize against the reference loop, a common pattern in style-transfer tutorials and blog posts (see nsthelpers/deepdives/reference.py).

One process, one device, the same VGG19 weights and the same content/style pictures for both:

1. ms/step and peak memory of each loop at every ``--sizes`` (sizes that run out of memory say OOM);
2. time to reach the reference's final loss: the reference runs ``--ref-steps`` steps, its final
   picture (clipped to [0, 1], as a user sees it) is scored with the reference loss → the target;
   then ``stylize`` (its defaults) runs with a callback that scores its current picture with the
   same reference loss every ``--check-every`` steps (scoring time is not counted) until it is at or
   below the target.

Writes ``benchmarks/results/<device>-<date>.json`` and the results section of
``benchmarks/README.md`` (between the ``bench-results`` markers). ``python benchmarks/bench.py -h``.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import gc
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import nsthelpers as nst  # noqa: E402
from nsthelpers.data import content_photo, generated_texture  # noqa: E402
from nsthelpers.images import match_size  # noqa: E402
from nsthelpers.deepdives.peak_memory import PeakMemory, memory_method  # noqa: E402
from nsthelpers.settings import default_device  # noqa: E402
from nsthelpers.deepdives.speed import sync, time_to_loss  # noqa: E402

from nsthelpers.deepdives import reference as ref  # noqa: E402

SCHEMA = 1
BEGIN = "<!-- bench-results:begin (written by benchmarks/bench.py; edits here are overwritten) -->"
END = "<!-- bench-results:end -->"
MIN_SIZE = 32  # the reference walks down to pool5: 32 px → 1×1

# Defaults per device kind: (sizes, warmup steps, timed steps, target size, ref steps, check every, stylize steps)
DEFAULTS = {
    "cuda": dict(sizes=[256, 512, 1024, 2048], warmup=10, timed=50, rounds=2, target_size=512, ref_steps=3000,
                 check_every=10, stylize_steps=300),
    "cpu": dict(sizes=[128, 256], warmup=1, timed=2, rounds=2, target_size=256, ref_steps=200,
                check_every=5, stylize_steps=300),
    "quick": dict(sizes=[64], warmup=1, timed=2, rounds=1, target_size=64, ref_steps=10,
                  check_every=2, stylize_steps=50),
}


# ----------------------------------------------------------------------------------- device facts
def device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    if dev.type == "mps":
        return f"Apple MPS ({platform.processor() or platform.machine()})"
    name = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    name = name or platform.processor() or platform.machine() or "unknown CPU"
    return f"{name}, {os.cpu_count()} logical cores, torch threads {torch.get_num_threads()}"


def is_oom(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    msg = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in msg or "can't allocate memory" in msg
                                               or "not enough memory" in msg)


# ---------------------------------------------------------------------------------- peak memory
# PeakMemory and memory_method live in nsthelpers.deepdives.peak_memory (the notebooks measure with them too).


def _mb(nbytes: float | None) -> float | None:
    return None if nbytes is None else round(max(nbytes, 0) / 2**20, 1)


def _free(dev: torch.device) -> None:
    gc.collect()
    if dev.type == "cuda":
        torch.cuda.empty_cache()


# ------------------------------------------------------------------------------------- pictures
def pictures(size: int, dev: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Content: scikit-image's astronaut; style: the generated 'swirls' texture; both size × size."""
    content = match_size(content_photo("astronaut"), (size, size))
    style = match_size(generated_texture("swirls", min(size, 512), seed=0), (size, size))
    return content.to(dev), style.to(dev)


# ------------------------------------------------------------------------------------- measuring
class Clock:
    """Wall time, and on the CPU also this process's CPU time (``time.process_time``).

    CPU time is what a loop costs regardless of other jobs on a shared machine (with one thread it
    barely moves when the neighbours get busy); on a GPU it means nothing and is not reported.
    """

    def __init__(self, dev: torch.device):
        self.dev = dev
        self.cpu = dev.type == "cpu"

    def now(self) -> tuple[float, float]:
        sync(self.dev)
        return time.perf_counter(), (time.process_time() if self.cpu else math.nan)

    @staticmethod
    def since(t0: tuple[float, float], t1: tuple[float, float]) -> tuple[float, float]:
        return t1[0] - t0[0], t1[1] - t0[1]


def _cpu_or_none(x: float) -> float | None:
    return None if math.isnan(x) else x


def _per_step(marks: dict, warmup: int, timed: int) -> dict:
    wall, cpu = Clock.since(marks[warmup], marks[warmup + timed])
    return {"ms_per_step": 1000 * wall / timed, "cpu_ms_per_step": _cpu_or_none(1000 * cpu / timed)}


def time_reference(model, content, style, dev, warmup: int, timed: int, space: str) -> dict:
    clock, marks = Clock(dev), {}

    def on_step(i: int) -> None:  # the device is synced only at the two marks
        if i == warmup or i == warmup + timed:
            marks[i] = clock.now()

    with PeakMemory(dev) as mem:
        loss = ref.ReferenceLoss(model, content, style, space=space)
        ref.run_reference(loss, warmup + timed, step_callback=on_step)
        del loss
    return {**_per_step(marks, warmup, timed), "peak_mb": _mb(mem.peak_bytes), "steps_timed": timed}


def time_stylize(model, content, style, dev, warmup: int, timed: int) -> dict:
    clock, marks = Clock(dev), {}

    def cb(info: nst.StepInfo) -> None:  # called every `warmup` steps, as often as it syncs anyway
        if info.step in (warmup, warmup + timed):
            marks[info.step] = clock.now()

    with PeakMemory(dev) as mem:
        result = nst.stylize(content, style, steps=warmup + timed, weights=model, device=dev,
                             callback=cb, callback_every=warmup)
        del result
    return {**_per_step(marks, warmup, timed), "peak_mb": _mb(mem.peak_bytes), "steps_timed": timed}


def guarded(fn, dev, *args):
    """``fn(*args)``, or ``"OOM"`` when it runs out of memory (anything else is re-raised)."""
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001
        if not is_oom(exc):
            raise
    _free(dev)  # outside the except block: the traceback no longer pins the run's tensors
    return "OOM"


def _ratio(a, b) -> float | None:
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or not b:
        return None
    return a / b


def _get(cell, key):
    return cell.get(key) if isinstance(cell, dict) else None


def _best_of(runs: list) -> dict | str:
    """Several rounds of one loop → the fastest round's ms/step, the largest peak, every round's ms/step."""
    if any(r == "OOM" for r in runs):
        return "OOM"
    best = min(runs, key=lambda r: r["ms_per_step"])
    peaks = [r["peak_mb"] for r in runs if r["peak_mb"] is not None]
    cpus = [r["cpu_ms_per_step"] for r in runs if r["cpu_ms_per_step"] is not None]
    return {"ms_per_step": best["ms_per_step"], "cpu_ms_per_step": min(cpus) if cpus else None,
            "peak_mb": max(peaks) if peaks else None, "steps_timed": best["steps_timed"],
            "rounds_ms_per_step": [r["ms_per_step"] for r in runs]}


def per_size(model, dev, size: int, warmup: int, timed: int, rounds: int, space: str, log) -> dict:
    """Alternate the two loops ``rounds`` times (so a busy spell on a shared machine hits both) and keep
    each loop's fastest round."""
    content, style = pictures(size, dev)
    ref_runs, sty_runs = [], []
    for _ in range(rounds):
        if "OOM" not in ref_runs:
            ref_runs.append(guarded(time_reference, dev, model, content, style, dev, warmup, timed, space))
            _free(dev)
        if "OOM" not in sty_runs:
            sty_runs.append(guarded(time_stylize, dev, model, content, style, dev, warmup, timed))
            _free(dev)
    r, s = _best_of(ref_runs), _best_of(sty_runs)
    row = {"size": size, "reference": r, "stylize": s,
           "speedup": _ratio(_get(r, "ms_per_step"), _get(s, "ms_per_step")),
           "speedup_cpu_time": _ratio(_get(r, "cpu_ms_per_step"), _get(s, "cpu_ms_per_step")),
           "memory_ratio": _ratio(_get(r, "peak_mb"), _get(s, "peak_mb"))}
    log(f"  {size:>5} px  reference {_fmt_cell(r, 'ms_per_step', ' ms/step')}, {_fmt_cell(r, 'peak_mb', ' MB')}"
        f"  |  stylize {_fmt_cell(s, 'ms_per_step', ' ms/step')}, {_fmt_cell(s, 'peak_mb', ' MB')}"
        f"  |  speed-up ×{_fmt(row['speedup'])}")
    return row


def time_to_target(model, dev, size: int, ref_steps: int, check_every: int, stylize_steps: int,
                   space: str, log) -> dict:
    clock = Clock(dev)
    content, style = pictures(size, dev)
    # 1. the reference, end to end (targets + ref_steps steps), then its user-visible result's loss
    t0 = clock.now()
    loss = ref.ReferenceLoss(model, content, style, space=space)
    run = ref.run_reference(loss, ref_steps)
    ref_s, ref_cpu = Clock.since(t0, clock.now())
    target = loss.score(run.image)
    initial = loss.score(content)
    log(f"  reference: {ref_steps} steps in {ref_s:.1f} s; loss {initial:.4g} → {target:.4g} "
        f"(clipped result; unclipped last step {run.final_loss:.4g})")

    # 2. each contender until its picture scores ≤ target; scoring time is subtracted, set-up counts
    def run_stylize(cb):  # stylize with its defaults: its own objective (the reference loss is only the ruler)
        return nst.stylize(content, style, steps=stylize_steps, weights=model, device=dev,
                           callback=cb, callback_every=check_every)

    def run_same_loss(cb):  # the package's loop (optimize's defaults) on the recipe's very loss
        objective = ref.reference_objective(model, content, style)
        return nst.optimize(objective, content, steps=stylize_steps, callback=cb, callback_every=check_every)

    out = {
        "size": size,
        "reference": {"steps": ref_steps, "seconds": ref_s, "cpu_seconds": _cpu_or_none(ref_cpu),
                      "ms_per_step": 1000 * ref_s / ref_steps, "target_loss": target, "initial_loss": initial,
                      "final_loss_unclipped": run.final_loss, "lr": ref.LR, "space": space},
    }
    for key, label, fn in (("stylize", "stylize (defaults)", run_stylize),
                           ("same_loss", "nsthelpers loop, the reference's loss", run_same_loss)):
        out[key] = _contender(fn, loss.score, target, dev, clock, stylize_steps, check_every,
                              ref_steps, ref_s, ref_cpu, label, log)
    # the default stylize's ratios at the top level (the figures the README's first row shows)
    out.update({k: out["stylize"].pop(k) for k in ("ratio", "ratio_cpu_time", "ratio_lower_bound", "step_ratio")})
    return out


def _contender(run_fn, score, target: float, dev, clock, max_steps: int, check_every: int, ref_steps: int,
               ref_s: float, ref_cpu: float, label: str, log) -> dict:
    t = time_to_loss(run_fn, score, target, device=dev)
    hit = t.reached
    secs, cpu = t.seconds, (t.cpu_seconds if clock.cpu else math.nan)
    if hit:
        log(f"  {label}: reached {target:.4g} at step {t.steps} in {secs:.1f} s → ×{ref_s / secs:.1f} faster "
            "than the reference")
    else:
        log(f"  {label}: did not reach {target:.4g} in {max_steps} steps ({secs:.1f} s); best {t.best:.4g}")
    return {"label": label, "reached": hit, "steps": t.steps, "seconds": secs, "cpu_seconds": _cpu_or_none(cpu),
            "ms_per_step": 1000 * secs / t.steps, "scoring_s_excluded": t.scoring_seconds, "best_loss": t.best,
            "max_steps": max_steps, "check_every": check_every,
            "settings": {k: v for k, v in t.result.settings.items() if k != "size"},
            "trace": [list(row) for row in t.trace],
            "ratio": ref_s / secs if hit else None,
            "ratio_cpu_time": _ratio(_cpu_or_none(ref_cpu), _cpu_or_none(cpu)) if hit else None,
            "ratio_lower_bound": None if hit else ref_s / secs,
            "step_ratio": ref_steps / t.steps if hit else None}


# ------------------------------------------------------------------------------------ reporting
def _fmt(x, nd: int = 3) -> str:
    if x is None:
        return "—"
    if isinstance(x, str):
        return x
    if x == 0 or (1e-3 <= abs(x) < 1e5):
        return f"{x:.{nd}g}" if abs(x) < 10 ** nd else f"{x:.0f}"
    return f"{x:.{nd}g}"


def _fmt_cell(cell, key: str, unit: str = "") -> str:
    if isinstance(cell, str):
        return cell
    v = cell.get(key) if cell else None
    return "n/a" if v is None else _fmt(v) + unit


def _x(v) -> str:
    return "×" + _fmt(v) if isinstance(v, (int, float)) else "—"


def markdown(res: dict) -> str:
    d = res["device"]
    cpu = d["type"] == "cpu"
    p = res["params"]
    lines = [
        f"### {d['type'].upper()}: {d['name']}",
        "",
        f"{res['date']}, torch {d['torch']}, weights `{res['weights']}`, `{res['command']}`. "
        f"ms/step: fastest of {p.get('rounds', 1)} alternating round(s) of {p['timed']} steps after "
        f"{p['warmup']} warm-up step(s). Ratios are reference / stylize: above 1, stylize is faster or smaller.",
        "",
    ]
    head = "| size | reference ms/step | stylize ms/step | **speed-up** |"
    rule = "| ---: | ---: | ---: | ---: |"
    if cpu:
        head += " speed-up in CPU time |"
        rule += " ---: |"
    lines += [head + " reference peak MB | stylize peak MB | **memory ratio** |", rule + " ---: | ---: | ---: |"]
    for row in res["sizes"]:
        r, s = row["reference"], row["stylize"]
        line = f"| {row['size']}² | {_fmt_cell(r, 'ms_per_step')} | {_fmt_cell(s, 'ms_per_step')} | {_x(row['speedup'])} |"
        if cpu:
            line += f" {_x(row.get('speedup_cpu_time'))} |"
        lines.append(line + f" {_fmt_cell(r, 'peak_mb')} | {_fmt_cell(s, 'peak_mb')} | {_x(row['memory_ratio'])} |")
    lines += ["", f"Peak memory: {res['memory_method']}."]
    t = res.get("time_to_target")
    if t == "OOM":
        lines += ["", f"Time to reach the reference's final loss at {p['target_size']}²: OOM."]
    elif t:
        rr, ss = t["reference"], t["stylize"]
        contenders = [{**ss, **{k: t.get(k) for k in ("ratio", "ratio_cpu_time", "ratio_lower_bound", "step_ratio")},
                       "label": ss.get("label", "stylize (defaults)")}]
        if t.get("same_loss"):
            contenders.append(t["same_loss"])
        head = "| loop | steps to the target | seconds | **time ratio** | step ratio |"
        rule = "| --- | ---: | ---: | ---: | ---: |"
        if cpu:
            head += " time ratio in CPU time |"
            rule += " ---: |"
        rows = [f"| reference (blog recipe) | {rr['steps']} | {_fmt(rr['seconds'])} | ×1 | ×1 |" + (" ×1 |" if cpu else "")]
        for c in contenders:
            if c["ratio"]:
                ratio = f"**{_x(c['ratio'])}**"
            else:
                ratio = f"> {_x(c['ratio_lower_bound'])} (not reached)" if c.get("ratio_lower_bound") else "—"
            steps = c["steps"] if c["reached"] else f"not in {c['max_steps']} (best {_fmt(c['best_loss'], 4)})"
            row = f"| {c['label']} | {steps} | {_fmt(c['seconds'])} | {ratio} | {_x(c.get('step_ratio'))} |"
            rows.append(row + (f" {_x(c.get('ratio_cpu_time'))} |" if cpu else ""))
        lines += [
            "",
            f"Time to reach the reference's final loss at {t['size']}²: the reference's {rr['steps']}-step result, "
            f"clipped to [0, 1] and scored with the reference loss, is the target ({_fmt(rr['initial_loss'], 4)} for "
            f"the content photo → {_fmt(rr['target_loss'], 4)}). Each contender's picture is scored the same way every "
            f"{ss['check_every']} steps (scoring time excluded; set-up included for all). `stylize (defaults)` optimises "
            "its own objective (normalised Grams, 5 style layers, TV); the `nsthelpers loop` row runs `nst.optimize` "
            "with its defaults on `reference.reference_objective`, which is the recipe's loss exactly (same value and "
            "gradient, tested). Over these runs: reference "
            f"{_fmt(rr.get('ms_per_step'))} ms/step, stylize {_fmt(ss.get('ms_per_step'))} ms/step.",
            "",
            head,
            rule,
            *rows,
        ]
    return "\n".join(lines)


def update_readme(readme: Path, results: list[dict]) -> None:
    """Replace the text between the markers with one section per result (marker pair appended if absent)."""
    body = "\n\n".join(markdown(r) for r in results)
    block = f"{BEGIN}\n{body}\n{END}"
    text = readme.read_text() if readme.exists() else "# Benchmarks\n"
    if BEGIN.split(" (")[0] in text and END in text:
        start = text.index(BEGIN.split(" (")[0])
        end = text.index(END) + len(END)
        text = text[:start] + block + text[end:]
    else:
        text = text.rstrip("\n") + "\n\n## Results\n\n" + block + "\n"
    readme.write_text(text)


def readme_results(current: dict, out_dir: Path) -> list[dict]:
    """This run, plus the newest full (non-quick) result of every other device found in ``out_dir``."""
    chosen = {current["device"]["name"]: current}
    files = sorted(out_dir.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for f in files:
        with contextlib.suppress(Exception):
            r = json.loads(f.read_text())
            if r.get("schema") == SCHEMA and not r.get("quick") and r["device"]["name"] not in chosen:
                chosen[r["device"]["name"]] = r
    return sorted(chosen.values(), key=lambda r: (r["device"]["type"] != "cuda", r["device"]["name"]))


# ---------------------------------------------------------------------------------------- main
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Benchmark nsthelpers.stylize against the reference loop (a common blog recipe) (same weights, images, device).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--device", default=None, help="cpu, cuda, mps (default: the best available)")
    p.add_argument("--weights", default="caffe", help="caffe, torchvision, random or a .pth path")
    p.add_argument("--sizes", default=None, help="comma-separated square sizes in px (default: GPU 256,512,1024,2048; "
                                                  "CPU 128,256; --quick 64)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps before the ms/step measurement")
    p.add_argument("--timed", type=int, default=None, help="timed steps per size (a multiple of --warmup)")
    p.add_argument("--rounds", type=int, default=None,
                   help="alternating rounds of the two loops per size; each loop's fastest round is kept")
    p.add_argument("--target-size", type=int, default=None, help="size of the time-to-target run (GPU 512, CPU 256)")
    p.add_argument("--ref-steps", type=int, default=None, help="reference steps that set the target (GPU 3000, CPU 200)")
    p.add_argument("--check-every", type=int, default=None, help="stylize steps between reference-loss checks")
    p.add_argument("--stylize-steps", type=int, default=None, help="stylize's step budget (its default, 300)")
    p.add_argument("--ref-space", choices=ref.SPACES, default="imagenet",
                   help="what the reference's Adam optimises (see reference.py)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's). On a CPU shared with other jobs, 1 avoids "
                        "OpenMP spin-waiting that can make every step several times slower")
    p.add_argument("--no-target", action="store_true", help="skip the time-to-target measurement")
    p.add_argument("--quick", action="store_true", help="a ~1-minute smoke run (results marked quick)")
    p.add_argument("--out", type=Path, default=HERE / "results", help="folder for the JSON results")
    p.add_argument("--readme", type=Path, default=None,
                   help="README whose results section is rewritten (default benchmarks/README.md; none with --quick)")
    p.add_argument("--no-readme", action="store_true", help="do not touch any README")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    dev = default_device(args.device)
    kind = "quick" if args.quick else ("cuda" if dev.type == "cuda" else "cpu")
    d = DEFAULTS[kind]
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else d["sizes"]
    warmup = args.warmup if args.warmup is not None else d["warmup"]
    timed = args.timed if args.timed is not None else d["timed"]
    rounds = args.rounds or d["rounds"]
    target_size = args.target_size or d["target_size"]
    ref_steps = args.ref_steps or d["ref_steps"]
    check_every = args.check_every or d["check_every"]
    stylize_steps = args.stylize_steps or d["stylize_steps"]
    if min(sizes + [target_size]) < MIN_SIZE:
        raise SystemExit(f"sizes must be ≥ {MIN_SIZE} px (the reference's walk goes down to pool5)")
    if warmup < 1 or timed < 1 or timed % warmup:
        raise SystemExit("--warmup must be ≥ 1 and --timed a positive multiple of it")

    threads_before = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        return _run(args, argv, dev, sizes, warmup, timed, rounds, target_size, ref_steps, check_every, stylize_steps)
    finally:
        torch.set_num_threads(threads_before)


def _run(args, argv, dev, sizes, warmup, timed, rounds, target_size, ref_steps, check_every, stylize_steps) -> dict:
    log = print
    name = device_name(dev)
    log(f"device: {dev} ({name}); weights {args.weights}; sizes {sizes}")
    model = nst.load_vgg19(args.weights, device=dev)
    res = {
        "schema": SCHEMA,
        "date": _dt.date.today().isoformat(),
        "created": _dt.datetime.now().isoformat(timespec="seconds"),
        "command": " ".join(["python benchmarks/bench.py", *(sys.argv[1:] if argv is None else argv)]),
        "quick": args.quick,
        "device": {"type": dev.type, "name": name, "torch": torch.__version__,
                   "cuda": torch.version.cuda if dev.type == "cuda" else None,
                   "threads": torch.get_num_threads()},
        "weights": model.weights_name,
        "reference": {"recipe": "the common blog recipe (nsthelpers.deepdives.reference)", "layers": ref.LAYERS, "content_weight": ref.CONTENT_WEIGHT,
                      "style_weight": ref.STYLE_WEIGHT, "lr": ref.LR, "space": args.ref_space},
        "images": {"content": "skimage astronaut", "style": "generated texture 'swirls' (seed 0)"},
        "params": {"warmup": warmup, "timed": timed, "rounds": rounds, "target_size": target_size, "ref_steps": ref_steps,
                   "check_every": check_every, "stylize_steps": stylize_steps},
        "memory_method": memory_method(dev),
        "sizes": [],
        "time_to_target": None,
    }
    # one untimed step of each loop first, so one-time costs (thread pools, kernel selection,
    # allocator set-up) land in neither loop's figures
    content, style = pictures(min(sizes), dev)
    time_reference(model, content, style, dev, 1, 1, args.ref_space)
    time_stylize(model, content, style, dev, 1, 1)
    del content, style
    _free(dev)
    log("ms/step and peak memory:")
    for size in sizes:
        res["sizes"].append(per_size(model, dev, size, warmup, timed, rounds, args.ref_space, log))
    if not args.no_target:
        log(f"time to reach the reference's final loss ({target_size} px, {ref_steps} reference steps):")
        res["time_to_target"] = guarded(time_to_target, dev, model, dev, target_size, ref_steps, check_every,
                                        stylize_steps, args.ref_space, log)
        if res["time_to_target"] == "OOM":
            log("  OOM")

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{dev.type}-{res['date']}{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps(res, indent=1) + "\n")
    log(f"wrote {path}")
    readme = args.readme if args.readme is not None else (None if args.quick else HERE / "README.md")
    if readme is not None and not args.no_readme:
        update_readme(readme, readme_results(res, args.out))
        log(f"updated {readme}")
    res["json_path"] = str(path)
    return res


if __name__ == "__main__":
    main()
