"""``nst video IN.mp4 STYLE -o OUT.mp4``: stylise a clip so that it does not flicker (Ruder et al. 2016).

    nst video clip.mp4 starry_night -o out.mp4                     # warm start + temporal loss (default)
    nst video clip.mp4 starry_night -o out.mp4 --method warm       # warm start only
    nst video clip.mp4 -o out.mp4 --fast notebooks/models/swirls.pth   # one network pass per frame

Flow between frames is OpenCV's Farneback flow; occluded pixels come from a forward–backward check.
Each finished frame is saved in OUT.frames/ at once: run the same command again after an interruption
and it carries on from there.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from torch import nn

from ..feedforward import adain, fast
from .. import checks, data, outputs
from .fast import ERRORS, standalone
from ..settings import DEFAULT_SIZES, resolve_size
from ..specs import parse_size
from ..video.temporal import DEFAULT_TEMPORAL_WEIGHT, METHODS, FrameSettings
from ..vgg import load_vgg19
from ..video import (
    OUTPUT_SUFFIXES,
    VideoError,
    decoder_errors,
    frames_folder,
    network_painter,
    optimisation_painter,
    probe,
    settings_record,
    stylise_video,
)


def add_parser(subparsers) -> None:
    """Add ``video`` to the ``nst`` command's subparsers."""
    p = subparsers.add_parser("video", help="stylise a video clip with temporal consistency",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", metavar="IN", help="video file (.mp4, .mov, .mkv, .avi, .webm)")
    p.add_argument("style", metavar="STYLE", nargs="?", default=None,
                   help="painting, texture name or image file (not with a --fast TransformerNet)")
    p.add_argument("-o", "--output", required=True, help="result (.mp4 or .gif)")
    p.add_argument("--method", choices=METHODS, default=None,
                   help="frame: each frame alone; warm: start from the previous result warped by the flow; "
                        "temporal (default): warm + a temporal loss on the pixels the flow can follow")
    p.add_argument("--fast", metavar="NET", default=None,
                   help="a network from `nst fast train`: one pass per frame instead of an optimisation")
    p.add_argument("--alpha", type=float, default=1.0, help="AdaIN content-style trade-off (with --fast DECODER)")
    p.add_argument("--size", type=parse_size, default=None, metavar="PX|full",
                   help="longer side of the output frames in pixels, or full for the clip's own size (default: the "
                        f"profile's, {DEFAULT_SIZES['video']['cpu']} px on a CPU and {DEFAULT_SIZES['video']['gpu']} "
                        "on a GPU, never larger than the clip: every frame is an optimisation of its own)")
    p.add_argument("--steps", type=int, default=30, help="optimisation steps per frame")
    p.add_argument("--optimizer", choices=("lbfgs", "adam"), default="lbfgs", help="optimiser for each frame")
    p.add_argument("--temporal-weight", type=float, default=DEFAULT_TEMPORAL_WEIGHT,
                   help="weight of the temporal loss (method temporal)")
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    p.add_argument("--keep-frames", action="store_true", help="keep OUT.frames/ (the PNG of every frame) at the end")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.add_argument("--weights", default=None, help="VGG19 weights (default: $NSTHELPERS_WEIGHTS or caffe)")
    p.add_argument("--device", default=None, help="cpu, cuda or mps (default: best available)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


def _painter(args: argparse.Namespace):
    """``(paint, fingerprint, needs_flow)`` for the chosen way of stylising each frame."""
    if args.fast is not None:
        if args.method not in (None, "frame"):
            raise ValueError(f"--method {args.method} is an optimisation method; with --fast every frame is one "
                             "pass through the network (drop --method, or drop --fast)")
        kind = fast.read_network_file(args.fast)["kind"]
        net: nn.Module
        if kind == "adain":
            if args.style is None:
                raise ValueError(f"{args.fast} is an AdaIN decoder: name the STYLE to paint")
            net, style = adain.load(args.fast, model=args.weights, device=args.device), data.style_image(args.style, max_size=args.size)
        else:
            if args.style is not None:
                raise ValueError(f"{args.fast} paints the style it was trained on; drop STYLE ({args.style})")
            net, style = fast.load(args.fast, device=args.device), None
        fingerprint = {"fast": str(args.fast), "style": args.style, "alpha": args.alpha}
        return network_painter(net, style, args.alpha), fingerprint, False
    if args.style is None:
        raise ValueError("name a STYLE (painting, texture or image file), or give a network with --fast")
    method = args.method or "temporal"
    settings = FrameSettings(steps=args.steps, optimizer=args.optimizer, temporal_weight=args.temporal_weight)
    model = load_vgg19(args.weights, device=args.device)
    style = data.style_image(args.style, max_size=args.size)
    fingerprint = {"method": method, "style": args.style, "weights": model.weights_name, **settings_record(settings)}
    return optimisation_painter(model, style, method, settings), fingerprint, method != "frame"


def _check_options(args: argparse.Namespace) -> None:
    """Every number and the output's suffix, before the clip is read or a frame painted."""
    if Path(args.output).suffix.lower() not in OUTPUT_SUFFIXES:
        raise VideoError(f"-o {args.output}: use one of {', '.join(OUTPUT_SUFFIXES)}")
    if isinstance(args.size, int):  # None: the profile's default; "full": the clip's own size
        checks.positive_int("--size", args.size, what="pixels")
    if args.max_frames is not None:
        checks.positive_int("--max-frames", args.max_frames, what="frames")
    if args.fast is None:
        FrameSettings(steps=args.steps, optimizer=args.optimizer, temporal_weight=args.temporal_weight)
    checks.fraction("--alpha", args.alpha)


def run(args: argparse.Namespace) -> int:
    """Run ``nst video``; the exit status (errors: one line, status 2; Ctrl-C: 130, frames kept)."""
    try:
        _check_options(args)
        info = probe(args.input)  # a bad video fails before any weights are loaded
        args.size = resolve_size(args.size, max(info.size), kind="video", device=args.device)
        paint, fingerprint, needs_flow = _painter(args)
        outputs.check_output_file(args.output, inputs=[args.input, args.style, args.fast, args.weights],
                                  overwrite=args.overwrite)
        errors = decoder_errors(args.input, args.max_frames)
        if errors:
            print(f"nst: warning: the decoder reported {len(errors)} error(s) in {args.input} (first: {errors[0]}); "
                  "the clip looks damaged, and damaged frames come out frozen or smeared. Re-encode or re-copy it "
                  "if the result looks wrong", file=sys.stderr)
        report = stylise_video(args.input, args.output, paint, fingerprint=fingerprint, needs_flow=needs_flow,
                               size=args.size, max_frames=args.max_frames, progress=not args.quiet,
                               keep_frames=args.keep_frames)
    except (VideoError, *ERRORS) as exc:
        print(f"nst: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"nst: interrupted; finished frames are kept in {frames_folder(args.output)} (the frame being painted "
              "as frame_N.partial.png): run the same command again to carry on", file=sys.stderr)
        return 130
    print(f"wrote {report.output}: {report.frames} frames ({report.computed} painted, {report.resumed} read back "
          f"from an earlier run), {report.seconds_per_frame:.2f} s per painted frame")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m nsthelpers.cli.video video …``: the command before ``nst`` registers it."""
    return standalone(add_parser, run, argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
