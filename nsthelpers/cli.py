"""Command line: ``nst stylize CONTENT STYLE -o OUT.png`` (see ``nst stylize --help``)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from .color import PRESERVE_COLOR
from .images import ImageLoadError, load_image
from .memory import OutOfMemory
from .objective import STYLE_LOSSES
from .loop import PRECISIONS
from .objective import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS
from .loop import OPTIMIZERS
from .transfer import INITS, PREVIEW, stylize
from .vgg import WEIGHT_CHOICES, WeightsUnavailableError, load_vgg19, load_weights_file, save_features_file


def _layers(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows "(default: X)" except where the default is None (the help text explains it then)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default is argparse.SUPPRESS or isinstance(action.default, bool):
            return action.help or ""
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser for ``nst`` (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(
        prog="nst",
        description="Neural style transfer (Gatys et al.) with VGG19 — the nst-notebooks command line.",
        formatter_class=_Formatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser(
        "stylize", help="paint CONTENT in the style of STYLE and write a PNG",
        formatter_class=_Formatter,
        description="Paint CONTENT in the style of STYLE (several STYLE images are blended).",
    )
    p.add_argument("content", metavar="CONTENT", help="content image (any format Pillow reads)")
    p.add_argument("style", metavar="STYLE", nargs="+", help="style image(s); several are blended")
    p.add_argument("-o", "--output", required=True, default=argparse.SUPPRESS, help="where to write the result (.png, .jpg, …)")
    p.add_argument("--size", type=int, default=512, help="longer side of the result in pixels")
    p.add_argument("--steps", type=int, default=300, help="optimisation steps (objective evaluations)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="adam",
                   help="adam: steady, low memory; lbfgs: the classic choice, fewer steps to a low loss")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: 0.05 adam, 1.0 lbfgs)")
    p.add_argument("--content-weight", type=float, default=1.0, help="weight of the content loss")
    p.add_argument("--style-weight", type=float, default=None,
                   help="weight of the style loss (default: 100 for caffe weights, 3e5 for ImageNet-normalised ones)")
    p.add_argument("--tv-weight", type=float, default=None,
                   help="weight of the total-variation (smoothness) loss (default: 1e8 for caffe weights, 3e4 for ImageNet ones)")
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
    p.add_argument("--style-loss", choices=STYLE_LOSSES, default="gram",
                   help="gram: Gatys' Gram matrices; mean_cov: match feature means and covariances")
    p.add_argument("--masks", nargs="+", default=None, metavar="MASK",
                   help="one greyscale mask image per STYLE (white = where that style paints)")
    p.add_argument("--preserve-color", choices=PRESERVE_COLOR, default=None,
                   help="keep the content's colours: luminance-only transfer or colour histogram matching")
    p.add_argument("--scales", type=lambda t: [int(v) for v in t.split(",")], default=None,
                   help="coarse-to-fine longer sides, e.g. 256,512,1024 (overrides --size; --steps per scale)")
    p.add_argument("--checkpoint", default=None, metavar="PATH",
                   help="save progress to PATH every --checkpoint-every steps; re-running resumes from it")
    p.add_argument("--checkpoint-every", type=int, default=50, help="steps between checkpoints")
    p.add_argument("--auto-downsize", action="store_true",
                   help="if the image does not fit in memory, retry at a smaller size instead of failing")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="auto: bf16 autocast on CUDA, fp32 elsewhere")
    p.add_argument("--no-cuda-graphs", action="store_true",
                   help="do not record Adam's step as a CUDA graph (default: on CUDA, checked, with fallback)")
    p.add_argument("--weights", default=None,
                   help=f"VGG19 weights: {', '.join(WEIGHT_CHOICES)} or a .pth path "
                        "(default: $NSTHELPERS_WEIGHTS or caffe, the bundled original VGG19)")
    p.add_argument("--device", default=None, help="cpu, cuda or mps (default: best available)")
    p.add_argument("--seed", type=int, default=0, help="random seed (noise init)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--preview", action="store_true",
                   help="a quick look in seconds on a CPU: 128 px, 30 L-BFGS steps (overrides --size/--steps/--optimizer)")

    w = sub.add_parser("weights", help="manage VGG19 weight files (offline classrooms)",
                       formatter_class=_Formatter)
    wsub = w.add_subparsers(dest="weights_command", required=True, metavar="ACTION")
    e = wsub.add_parser(
        "export", formatter_class=_Formatter,
        help="write a small features-only weights file (with a checksum) that students load offline",
        description="Write the convolutional VGG19 weights to OUT with a checksum. Students then use "
                    "NSTHELPERS_WEIGHTS=OUT or --weights OUT, with no download.",
    )
    e.add_argument("output", metavar="OUT", help="file to write, e.g. vgg19-features.pth")
    e.add_argument("--weights", default=None, help="source weights: caffe, torchvision or a path "
                   "(default: $NSTHELPERS_WEIGHTS or caffe)")
    e.add_argument("--features-only", action="store_true", default=True,
                   help="only the 16 conv layers (the classifier is never needed for style transfer)")
    e.add_argument("--half", action="store_true", help="store float16: 40 MB instead of 80 MB; activations change by < 0.1%%")
    v = wsub.add_parser("verify", help="check a weights file's checksum and that it loads",
                        formatter_class=_Formatter)
    v.add_argument("path", metavar="FILE")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nst`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "stylize":
        return _stylize(args, parser)
    if args.command == "weights":
        return _weights(args)
    parser.error(f"unknown command {args.command!r}")
    return 2


def _stylize(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    out = Path(args.output)
    from .images import SAVE_FORMATS

    if out.suffix.lower() not in SAVE_FORMATS:
        parser.error(f"--output {out}: unknown image suffix; use one of {', '.join(sorted(SAVE_FORMATS))}")
    if args.preview:
        args.size, args.steps, args.optimizer, args.scales = PREVIEW["size"], PREVIEW["steps"], PREVIEW["optimizer"], None
    try:
        result = stylize(
            args.content, args.style if len(args.style) > 1 else args.style[0],
            steps=args.steps, optimizer=args.optimizer, lr=args.lr, size=args.size,
            content_weight=args.content_weight, style_weight=args.style_weight, tv_weight=args.tv_weight,
            init=args.init, content_layers=args.content_layers, style_layers=args.style_layers,
            style_layer_weights=args.style_layer_weights, style_blend=args.style_blend,
            style_scale=args.style_scale, weights=args.weights, device=args.device, seed=args.seed,
            style_loss=args.style_loss, preserve_color=args.preserve_color, scales=args.scales,
            masks=[load_image(m)[:, :1] for m in args.masks] if args.masks else None,
            checkpoint_path=args.checkpoint, checkpoint_every=args.checkpoint_every,
            auto_downsize=args.auto_downsize, precision=args.precision, progress=not args.quiet,
            cuda_graphs=False if args.no_cuda_graphs else "auto",
        )
    except (ValueError, ImageLoadError, WeightsUnavailableError, FileNotFoundError, OutOfMemory) as exc:
        print(f"nst: error: {exc}", file=sys.stderr)
        return 2
    path = result.save(out)
    losses = ", ".join(f"{k}={v:.4g}" for k, v in result.final_losses.items())
    print(f"wrote {path} ({result.steps_done} steps, {result.timings['optimize_s']:.1f} s; {losses})")
    if result.stopped != "finished":
        print(f"nst: stopped early ({result.stopped}): {result.message}", file=sys.stderr)
        return 1 if result.stopped == "non-finite loss" else 130
    return 0


def _weights(args: argparse.Namespace) -> int:
    try:
        if args.weights_command == "export":
            model = load_vgg19(args.weights, device="cpu")
            path = save_features_file(model, args.output, half=args.half)
            size_mb = path.stat().st_size / 1e6
            print(f"wrote {path} ({size_mb:.0f} MB, {'float16' if args.half else 'float32'}, from {model.weights_name}, "
                  f"{model.preprocess.convention} preprocessing). Students: NSTHELPERS_WEIGHTS={path} or --weights {path}")
            return 0
        state, convention = load_weights_file(args.path)
        print(f"{args.path}: OK ({len(state) // 2} conv layers, {convention} preprocessing)")
        return 0
    except (ValueError, WeightsUnavailableError, OSError) as exc:
        print(f"nst: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
