"""Command line: ``nst stylize CONTENT STYLE -o OUT.png`` (see ``nst stylize --help``)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from .images import ImageLoadError
from .objective import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS
from .optimize import OPTIMIZERS
from .transfer import INITS, stylize
from .vgg import WEIGHT_CHOICES, WeightsUnavailableError


def _layers(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser for ``nst`` (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(
        prog="nst",
        description="Neural style transfer (Gatys et al.) with VGG19 — the nst-notebooks command line.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser(
        "stylize", help="paint CONTENT in the style of STYLE and write a PNG",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Paint CONTENT in the style of STYLE (several STYLE images are blended).",
    )
    p.add_argument("content", metavar="CONTENT", help="content image (any format Pillow reads)")
    p.add_argument("style", metavar="STYLE", nargs="+", help="style image(s); several are blended")
    p.add_argument("-o", "--output", required=True, default=argparse.SUPPRESS, help="where to write the result (.png, .jpg, …)")
    p.add_argument("--size", type=int, default=512, help="longer side of the result in pixels")
    p.add_argument("--steps", type=int, default=300, help="optimisation steps (objective evaluations)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="adam",
                   help="adam: steady, low memory; lbfgs: the classic choice, fewer steps to a low loss")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: 0.02 adam, 1.0 lbfgs)")
    p.add_argument("--content-weight", type=float, default=1.0, help="weight of the content loss")
    p.add_argument("--style-weight", type=float, default=None,
                   help="weight of the style loss (default: 100 for caffe weights, 3e5 for ImageNet-normalised ones)")
    p.add_argument("--tv-weight", type=float, default=1.0, help="weight of the total-variation (smoothness) loss")
    p.add_argument("--init", choices=INITS, default="content", help="starting image")
    p.add_argument("--content-layers", type=_layers, default=list(DEFAULT_CONTENT_LAYERS),
                   help="comma-separated VGG19 layers for content")
    p.add_argument("--style-layers", type=_layers, default=list(DEFAULT_STYLE_LAYERS),
                   help="comma-separated VGG19 layers for style")
    p.add_argument("--style-layer-weights", type=lambda t: [float(v) for v in t.split(",")], default=None,
                   help="comma-separated weight per style layer (default 1 each)")
    p.add_argument("--style-blend", type=lambda t: [float(v) for v in t.split(",")], default=None,
                   help="comma-separated weights when several STYLE images are given (default equal)")
    p.add_argument("--style-scale", type=float, default=1.0, help="style image size relative to the content")
    p.add_argument("--weights", default=None,
                   help=f"VGG19 weights: {', '.join(WEIGHT_CHOICES)} or a .pth path "
                        "(default: $NSTHELPERS_WEIGHTS or caffe, the bundled original VGG19)")
    p.add_argument("--device", default=None, help="cpu, cuda or mps (default: best available)")
    p.add_argument("--seed", type=int, default=0, help="random seed (noise init)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nst`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "stylize":
        return _stylize(args, parser)
    parser.error(f"unknown command {args.command!r}")
    return 2


def _stylize(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    out = Path(args.output)
    from .images import SAVE_FORMATS

    if out.suffix.lower() not in SAVE_FORMATS:
        parser.error(f"--output {out}: unknown image suffix; use one of {', '.join(sorted(SAVE_FORMATS))}")
    try:
        result = stylize(
            args.content, args.style if len(args.style) > 1 else args.style[0],
            steps=args.steps, optimizer=args.optimizer, lr=args.lr, size=args.size,
            content_weight=args.content_weight, style_weight=args.style_weight, tv_weight=args.tv_weight,
            init=args.init, content_layers=args.content_layers, style_layers=args.style_layers,
            style_layer_weights=args.style_layer_weights, style_blend=args.style_blend,
            style_scale=args.style_scale, weights=args.weights, device=args.device, seed=args.seed,
            progress=not args.quiet,
        )
    except (ValueError, ImageLoadError, WeightsUnavailableError, FileNotFoundError) as exc:
        print(f"nst: error: {exc}", file=sys.stderr)
        return 2
    path = result.save(out)
    losses = ", ".join(f"{k}={v:.4g}" for k, v in result.final_losses.items())
    print(f"wrote {path} ({result.steps_done} steps, {result.timings['optimize_s']:.1f} s; {losses})")
    if result.stopped != "finished":
        print(f"nst: stopped early ({result.stopped}): {result.message}", file=sys.stderr)
        return 1 if result.stopped == "non-finite loss" else 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
