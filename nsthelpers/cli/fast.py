"""``nst fast train`` and ``nst fast apply``: train a feed-forward network, then stylise pictures with it.

    nst fast train STYLE -o net.pth [--steps N --size PX --width W]          # Johnson et al., one style
    nst fast train STYLE [STYLE …] --adain -o decoder.pth [--layer relu3_1]  # AdaIN decoder, several styles
    nst fast apply net.pth IMAGE_OR_FOLDER … -o OUT_DIR [--size PX --batch-size B]
    nst fast apply decoder.pth IMAGES … -o OUT_DIR --style STYLE [--alpha A]

STYLE is a painting (``starry_night``, ``the_scream``, ``shipwreck``), a generated texture (``swirls``,
``mosaic``, ``stripes``, ``dots``, ``cracks``) or an image file.
"""
from __future__ import annotations

import argparse
import functools
import shlex
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch
from torch import nn

from ..feedforward import adain, fast
from .. import checks, data, outputs
from ..images import ImageLoadError, load_image, save_image
from ..memory import OutOfMemory
from ..vgg import WeightsUnavailableError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
ERRORS = (ValueError, ImageLoadError, FileNotFoundError, WeightsUnavailableError, OutOfMemory, OSError)


def add_parser(subparsers) -> None:
    """Add ``fast`` (with ``train`` and ``apply``) to the ``nst`` command's subparsers."""
    fmt = argparse.ArgumentDefaultsHelpFormatter
    p = subparsers.add_parser("fast", help="feed-forward style transfer: train a network once, then one pass per picture",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="fast_command", required=True, metavar="ACTION")
    t = sub.add_parser("train", help="train a network for STYLE (or an AdaIN decoder for several)", formatter_class=fmt)
    t.add_argument("style", metavar="STYLE", nargs="+", help="painting, texture name or image file")
    t.add_argument("-o", "--output", required=True, help="network file to write (.pth)")
    t.add_argument("--adain", action="store_true", help="train an AdaIN decoder (any style at apply time)")
    t.add_argument("--steps", type=int, default=400, help="training steps (one batch each)")
    t.add_argument("--size", type=int, default=128, help="side of the square training crops in pixels")
    t.add_argument("--width", type=int, default=None, help="network width (default 16; AdaIN decoder 32)")
    t.add_argument("--batch-size", type=int, default=None, help="crops per step (default 2; AdaIN 4)")
    t.add_argument("--lr", type=float, default=None, help="Adam learning rate (default 2e-3; AdaIN 1e-3)")
    t.add_argument("--style-weight", type=float, default=None,
                   help="weight of the style term (default: the trainer's, see nsthelpers.feedforward.fast.johnson_weights; AdaIN 10)")
    t.add_argument("--tv-weight", type=float, default=None, help="weight of the TV term (default: the trainer's)")
    t.add_argument("--warmup-steps", type=int, default=100,
                   help="first steps with the content term only (TransformerNet)")
    t.add_argument("--save-every", type=int, default=None, metavar="N",
                   help="also write the network so far every N steps (a long run can be inspected or stopped)")
    t.add_argument("--layer", choices=adain.ENCODER_LAYERS, default="relu3_1", help="AdaIN encoder layer")
    t.add_argument("--overwrite", action="store_true", help="replace the network file if it exists")
    _common(t)
    a = sub.add_parser("apply", help="stylise images (files or folders) with a trained network", formatter_class=fmt)
    a.add_argument("network", metavar="NET", help="a file written by `nst fast train`")
    a.add_argument("images", metavar="IMAGE", nargs="+", help="image files or folders of them")
    a.add_argument("-o", "--output", required=True, help="folder for the results (PNG, same names)")
    a.add_argument("--size", type=int, default=None, help="longer side of the results (default: as loaded)")
    a.add_argument("--batch-size", type=int, default=4, help="images per pass (same-sized images share one)")
    a.add_argument("--style", default=None, help="style picture for an AdaIN decoder")
    a.add_argument("--alpha", type=float, default=None, help="AdaIN content-style trade-off in [0, 1] (default 1)")
    a.add_argument("--overwrite", action="store_true",
                   help="replace results already in OUT_DIR (default: keep them and make only the missing ones)")
    _common(a)
    p.set_defaults(handler=run)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", default=None, help="VGG19 weights (default: $NSTHELPERS_WEIGHTS or caffe)")
    p.add_argument("--device", default=None, help="cpu, cuda or mps (default: best available)")
    p.add_argument("--seed", type=int, default=0, help="random seed (crops, initial weights)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Run ``nst fast train`` or ``nst fast apply``; the exit status (errors: one line, status 2)."""
    try:
        return _train(args) if args.fast_command == "train" else _apply(args)
    except ERRORS as exc:
        print(f"nst: error: {exc}", file=sys.stderr)
        return 2


def train_command(args: argparse.Namespace) -> str:
    """The ``nst fast train`` command line that reproduces a run (every option spelt out)."""
    parts = ["nst", "fast", "train", *args.style, "-o", args.output, "--steps", args.steps, "--size", args.size,
             "--width", args.width, "--batch-size", args.batch_size, "--lr", args.lr, "--seed", args.seed]
    for flag, value in (("--style-weight", args.style_weight), ("--tv-weight", args.tv_weight)):
        if value is not None:
            parts += [flag, value]
    parts += ["--adain", "--layer", args.layer] if args.adain else ["--warmup-steps", args.warmup_steps]
    return " ".join(shlex.quote(str(p)) for p in parts)


def _train(args: argparse.Namespace) -> int:
    if not args.adain and len(args.style) != 1:
        raise ValueError(f"a TransformerNet learns one style, got {len(args.style)}; pass one STYLE or add --adain")
    if not str(args.output).endswith(".pth"):
        raise ValueError(f"-o {args.output}: name the network file *.pth")
    if args.save_every is not None:
        checks.positive_int("--save-every", args.save_every, what="steps")
    outputs.check_output_file(args.output, inputs=[*args.style, args.weights], overwrite=args.overwrite)
    args.width = args.width or (32 if args.adain else 16)
    args.batch_size = args.batch_size or (4 if args.adain else 2)
    args.lr = args.lr or (1e-3 if args.adain else 2e-3)
    styles = [data.style_image(s, max_size=max(2 * args.size, 256)) for s in args.style]
    labels = [data.style_label(s) for s in args.style]
    save: Callable[..., Path] = adain.save if args.adain else fast.save
    info = {"styles": list(args.style), "labels": labels, "size": args.size, "command": train_command(args)}
    common: dict = {"steps": args.steps, "size": args.size, "batch_size": args.batch_size, "width": args.width,
                    "lr": args.lr, "model": args.weights, "device": args.device, "seed": args.seed,
                    "progress": not args.quiet}
    if args.style_weight is not None:
        common["style_weight"] = args.style_weight
    latest: dict = {}

    def on_step(step: int, _losses: dict, net) -> None:
        latest.update(step=step, net=net)
        if args.save_every and step % args.save_every == 0:
            save(net, args.output, {**info, "steps": step, "finished": False})
    common["callback"] = on_step
    try:
        if args.adain:
            result = adain.train_decoder(styles, layer=args.layer, **common)
        else:
            result = fast.train(styles[0], tv_weight=args.tv_weight, warmup_steps=args.warmup_steps, **common)
    except KeyboardInterrupt:
        return _save_interrupted(latest, save, info, args.output)
    info = {**result.settings, **info, "steps": result.steps, "seconds": round(result.seconds, 1), "finished": True}
    path = outputs.save_or_keep(lambda p: save(result.net, p, info), Path(args.output), "trained network")
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB): {result.steps} steps in {result.seconds:.0f} s, "
          f"final loss {result.history['total'][-1]:.4g}")
    return 0


def _save_interrupted(latest: dict, save: Callable[..., Path], info: dict, output: str) -> int:
    """Ctrl-C during training: write the network so far (marked unfinished) and say so; status 130."""
    if not latest:
        print("nst: interrupted before the first training step; nothing to save", file=sys.stderr)
        return 130
    record = {**info, "steps": latest["step"], "finished": False}
    path = outputs.save_or_keep(lambda p: save(latest["net"].eval(), p, record), Path(output), "network so far")
    print(f"nst: interrupted at step {latest['step']}; the network so far is in {path} (unfinished: it paints, "
          "but less well than a finished one)", file=sys.stderr)
    return 130


def image_files(paths: Sequence[str]) -> list[Path]:
    """The image files named, with folders expanded to the images directly inside them (sorted)."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
            if not found:
                raise ValueError(f"folder {p} holds no images ({', '.join(IMAGE_SUFFIXES)})")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"no image or folder at {p}")
    return files


def _chunks(items: list[Path], n: int) -> Iterator[list[Path]]:
    for start in range(0, len(items), n):
        yield items[start:start + n]


def _apply_options(args: argparse.Namespace, kind: str) -> float:
    """Check --size, --style and --alpha against the network's kind before any work; returns alpha."""
    if args.size is not None:
        checks.positive_int("--size", args.size, what="pixels")
    if kind == "adain":
        if args.style is None:
            raise ValueError(f"{args.network} is an AdaIN decoder: name the style with --style STYLE")
        return checks.fraction("--alpha", 1.0 if args.alpha is None else args.alpha)
    if args.style is not None:
        raise ValueError(f"{args.network} paints the style it was trained on; drop --style")
    if args.alpha is not None:
        raise ValueError(f"{args.network} is a TransformerNet, which has no content-style trade-off; drop --alpha "
                         "(it is for AdaIN decoders)")
    return 1.0


def _apply(args: argparse.Namespace) -> int:
    """Stylise every image; results already in OUT_DIR are kept (unless --overwrite), an unreadable image is
    skipped and named, and the exit status is 2 when any was."""
    kind = fast.read_network_file(args.network)["kind"]
    files = image_files(args.images)
    out_dir = Path(args.output)
    targets = {f: out_dir / f"{name}.png" for f, name in zip(files, outputs.result_names(f.stem for f in files))}
    model: nn.Module
    alpha = _apply_options(args, kind)
    outputs.check_output_folder(out_dir, input_folders=[p for p in args.images if Path(p).is_dir()],
                                inputs=[*files, args.network, args.style, args.weights], targets=targets.values())
    todo = [f for f in files if args.overwrite or not targets[f].exists()]
    for f in files:
        if f not in todo:
            print(f"kept {targets[f]} (already there; --overwrite redoes it)")
    if kind == "adain":
        model = adain.load(args.network, model=args.weights, device=args.device)
        style = data.style_image(str(args.style), max_size=args.size or 512)
    else:
        model, style = fast.load(args.network, device=args.device), None
    out_dir.mkdir(parents=True, exist_ok=True)
    t0, written, failed = time.perf_counter(), 0, []
    for chunk in _chunks(todo, max(1, args.batch_size)):
        loaded = []
        for f in chunk:
            try:
                loaded.append((f, load_image(f, size=args.size) if args.size else load_image(f)))
            except (ImageLoadError, FileNotFoundError) as exc:
                print(f"nst: error: {f.name}: {exc} (skipped)", file=sys.stderr)
                failed.append(f.name)
        images = [img for _, img in loaded]
        if not images:
            continue
        if style is None:
            results = fast.stylise_batches(model, images, batch_size=args.batch_size, device=args.device)
        else:
            with torch.no_grad():
                results = [model(img, style, alpha=alpha).cpu() for img in images]
        for (f, _), r in zip(loaded, results):
            try:
                outputs.save_or_keep(functools.partial(save_image, r), targets[f], f"result for {f.name}")
                written += 1
            except outputs.OutputError as exc:  # kept elsewhere (or lost, and said so): the others go on
                print(f"nst: error: {exc}", file=sys.stderr)
                failed.append(f.name)
    seconds = time.perf_counter() - t0
    print(f"wrote {written} images to {out_dir} ({1000 * seconds / max(written, 1):.0f} ms per image, "
          "loading and saving included)")
    if failed:
        print(f"nst: {len(failed)} of {len(files)} images failed: {', '.join(failed)}", file=sys.stderr)
        return 2
    return 0


def standalone(add: Callable[[object], None], handler: Callable[[argparse.Namespace], int],
               argv: Sequence[str] | None) -> int:
    """Parse ``argv`` with a parser that holds only ``add``'s command, and run ``handler``."""
    parser = argparse.ArgumentParser(prog="nst")
    add(parser.add_subparsers(dest="command", required=True))
    return handler(parser.parse_args(argv))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m nsthelpers.cli.fast fast …``: the same commands before ``nst`` registers them."""
    return standalone(add_parser, run, argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
