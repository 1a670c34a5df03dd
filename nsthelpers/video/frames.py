"""Video in and out, and stylising a whole clip in a way that survives interruption.

* :func:`iter_frames` / :func:`read_frames`: frames of a video file through imageio-ffmpeg (the ffmpeg
  binary ships inside the wheel), resized so the longer side is ``size`` (even sides, as H.264 needs).
  An unreadable file raises :class:`VideoError` saying so, not ffmpeg's log.
* :func:`write_video`: frames to ``.mp4`` (H.264) or ``.gif`` (Pillow).
* :func:`stylise_video`: a clip stylised frame by frame (``"frame"``, ``"warm"``, ``"temporal"`` — see
  :mod:`nsthelpers.video.temporal` — with Farneback flow and a forward–backward occlusion mask, since a real
  clip's true flow is unknown), or through a trained network (:mod:`nsthelpers.feedforward.fast`, :mod:`nsthelpers.feedforward.adain`).
  Each finished frame is written at once as a PNG in a folder beside the output; run again with the same
  settings and the frames already there are read back instead of recomputed.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import subprocess
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..checks import positive_int
from .flow import consistency_mask, farneback
from ..images import ImageLoadError, load_image, long_side_hw, save_image
from .temporal import METHODS, FrameInterrupted, FrameSettings, stylise_frame
from ..vgg import VGG19Features

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm")
OUTPUT_SUFFIXES = (".mp4", ".gif")


class VideoError(ValueError):
    """A video that cannot be read or written; the message names the file and the fix."""


@dataclass(frozen=True)
class VideoInfo:
    """What the file says about itself: frames per second, (width, height), duration in seconds."""

    fps: float
    size: tuple[int, int]
    duration: float

    @property
    def frames_estimate(self) -> int | None:
        return round(self.fps * self.duration) if self.fps and self.duration else None


def even_size(h: int, w: int, longer: int | None) -> tuple[int, int]:
    """(H, W) with the longer side ``longer`` (aspect kept; None: as is), both even (H.264 needs that)."""
    if longer is not None:
        h, w = (max(2, side) for side in long_side_hw(h, w, positive_int("size", longer, what="pixels")))
    return h - h % 2, w - w % 2


def _open(path: Path) -> tuple[Generator[bytes, None, None], VideoInfo]:
    import imageio_ffmpeg

    if not path.is_file():
        raise FileNotFoundError(f"no video at {path}")
    try:
        reader = imageio_ffmpeg.read_frames(str(path))
        meta = next(reader)
    except (OSError, RuntimeError, StopIteration) as exc:
        raise VideoError(f"could not read {path} as a video ({_ffmpeg_reason(exc)}); is it a video file "
                         f"({', '.join(VIDEO_SUFFIXES)})? Convert it with ffmpeg, or check that it is complete") from None
    return reader, VideoInfo(float(meta.get("fps") or 0), tuple(meta["size"]), float(meta.get("duration") or 0))


def _ffmpeg_reason(exc: BaseException) -> str:
    text = str(exc)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith(("ffmpeg version", "  "))]
    useful = [ln for ln in lines if ":" in ln and "configuration" not in ln and "built with" not in ln]
    return (useful[-1] if useful else lines[0] if lines else type(exc).__name__)[:200]


def probe(path: str | os.PathLike) -> VideoInfo:
    """What a video file says about itself; raises :class:`VideoError` (or FileNotFoundError) if it is unreadable."""
    reader, info = _open(Path(path))
    reader.close()
    return info


def iter_frames(path: str | os.PathLike, *, size: int | None = None,
                max_frames: int | None = None) -> tuple[Iterator[torch.Tensor], VideoInfo]:
    """``(frames, info)``: an iterator of (1, 3, H, W) frames in [0, 1] and what the file says about itself."""
    path = Path(path)
    if max_frames is not None:
        positive_int("max_frames", max_frames, what="frames")
    reader, info = _open(path)
    w0, h0 = info.size
    hw = even_size(h0, w0, size)

    def frames() -> Iterator[torch.Tensor]:
        count = 0
        try:
            for raw in reader:
                if max_frames is not None and count >= max_frames:
                    break
                arr = np.frombuffer(raw, dtype=np.uint8).reshape(h0, w0, 3)
                frame = torch.from_numpy(arr.copy()).permute(2, 0, 1)[None].float().contiguous() / 255
                if tuple(frame.shape[-2:]) != hw:
                    frame = F.interpolate(frame, size=hw, mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)
                count += 1
                yield frame
        except (OSError, RuntimeError) as exc:
            raise VideoError(f"{path} stopped being readable after {count} frames ({_ffmpeg_reason(exc)})") from None
        finally:
            reader.close()
        if count == 0:
            raise VideoError(f"{path} holds no video frames")
    return frames(), info


def decoder_errors(path: str | os.PathLike, max_frames: int | None = None, timeout: float = 600) -> list[str]:
    """The errors ffmpeg's decoder reports for ``path`` (its first ``max_frames`` frames); empty for a sound clip.

    A clip damaged in the middle still decodes: the decoder conceals the damage by repeating or smearing
    earlier pictures, and says so only in its log. This decodes the clip once more, discarding the pictures."""
    import imageio_ffmpeg

    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path)]
    command += (["-frames:v", str(max_frames)] if max_frames else []) + ["-map", "0:v:0", "-f", "null", "-"]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, errors="replace", timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [re.sub(r"^\[\w+ @ 0x[0-9a-fA-F]+\]\s*", "", line.strip()) for line in proc.stderr.splitlines() if line.strip()]


def read_frames(path: str | os.PathLike, *, size: int | None = None,
                max_frames: int | None = None) -> tuple[list[torch.Tensor], VideoInfo]:
    """All frames of a video (see :func:`iter_frames`) as a list, with the file's :class:`VideoInfo`."""
    frames, info = iter_frames(path, size=size, max_frames=max_frames)
    return list(frames), info


def _uint8(frame: torch.Tensor) -> np.ndarray:
    return (frame[0].detach().cpu().clamp(0, 1).permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()


def write_video(path: str | os.PathLike, frames: Sequence[torch.Tensor] | Iterator[torch.Tensor],
                fps: float = 8.0) -> Path:
    """Write (1, 3, H, W) frames as ``.mp4`` (H.264, yuv420p; odd sides lose their last row or column) or
    as an endlessly looping ``.gif``. Returns the path."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise VideoError(f"cannot write {path.name}: use one of {', '.join(OUTPUT_SUFFIXES)}")
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps!r}")
    arrays = [_uint8(f) for f in frames]
    if not arrays:
        raise ValueError("no frames to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    # written beside the output under a temporary name, checked, then renamed: the output appears only complete
    tmp = path.with_name(f".{path.stem}.{secrets.token_hex(4)}.tmp{suffix}")
    try:
        _encode(tmp, arrays, fps)
        # a GIF merges identical frames, so it may hold fewer; an MP4 holds them all (one short: a rounding)
        written = len(read_frames(tmp)[0]) if suffix != ".gif" else _gif_frames(tmp)
        if written < (1 if suffix == ".gif" else len(arrays) - 1):
            raise VideoError(f"the encoder wrote {written} of {len(arrays)} frames")
        os.replace(tmp, path)
    except (OSError, RuntimeError, VideoError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else _ffmpeg_reason(exc)
        raise VideoError(f"could not write {path} ({reason})") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return path


def _encode(path: Path, arrays: list[np.ndarray], fps: float) -> None:
    if path.suffix.lower() == ".gif":
        from PIL import Image

        images = [Image.fromarray(a) for a in arrays]
        images[0].save(path, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
        return
    import imageio_ffmpeg

    h, w = (s - s % 2 for s in arrays[0].shape[:2])
    writer = imageio_ffmpeg.write_frames(str(path), (w, h), fps=fps, macro_block_size=2, ffmpeg_log_level="error")
    writer.send(None)
    try:
        for a in arrays:
            writer.send(np.ascontiguousarray(a[:h, :w]).tobytes())
    finally:
        writer.close()


def _gif_frames(path: Path) -> int:
    from PIL import Image

    with Image.open(path) as im:
        return int(getattr(im, "n_frames", 1))


# ------------------------------------------------------------------------------------ a whole clip
@dataclass
class VideoReport:
    """What :func:`stylise_video` did: frames in all, computed now, read back from an earlier run; seconds."""

    output: Path
    frames: int
    computed: int
    resumed: int
    seconds: float

    @property
    def seconds_per_frame(self) -> float:
        return self.seconds / max(self.computed, 1)


def frames_folder(output: str | os.PathLike) -> Path:
    """Where :func:`stylise_video` keeps finished frames: ``OUT.frames/`` beside ``OUT``."""
    output = Path(output)
    return output.with_name(output.name + ".frames")


def _check_resume(folder: Path, fingerprint: dict) -> None:
    record = folder / "settings.json"
    if folder.exists() and not folder.is_dir():
        raise VideoError(f"{folder} is a file; stylise_video keeps its frames in a folder of that name: move the "
                         "file or choose another output")
    if folder.is_dir() and not record.exists() and any(p for p in folder.iterdir() if not _is_frame_file(p)):
        raise VideoError(f"{folder} holds files that are not frames of a stylised video; move them or choose "
                         "another output (that folder is emptied and removed at the end)")
    if record.exists():
        try:
            previous = json.loads(record.read_text())
        except (OSError, json.JSONDecodeError):
            previous = None
        if previous != fingerprint:
            raise ValueError(f"{folder} holds frames of a run with other settings ({previous}); delete the folder "
                             "or choose another output to start afresh")
    folder.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(fingerprint, indent=1))


def _is_frame_file(path: Path) -> bool:
    return path.is_file() and (path.name == "settings.json" or (path.name.startswith("frame_") and path.suffix == ".png"))


def _remove_frames(folder: Path) -> None:
    """Delete what :func:`stylise_video` wrote in ``folder``, then the folder if that leaves it empty."""
    for path in folder.iterdir():
        if _is_frame_file(path):
            path.unlink()
    with contextlib.suppress(OSError):
        folder.rmdir()


def _read_done(path: Path, hw: tuple[int, ...]) -> torch.Tensor | None:
    """A frame written by an earlier run, or None when it is missing or unusable (then it is recomputed)."""
    if not path.exists():
        return None
    try:
        image = load_image(path)
    except (ImageLoadError, OSError, ValueError):
        return None
    return image if tuple(image.shape[-2:]) == hw else None


def stylise_video(
    source: str | os.PathLike,
    output: str | os.PathLike,
    paint: Callable[[int, torch.Tensor, torch.Tensor | None, torch.Tensor | None, torch.Tensor | None], torch.Tensor],
    *,
    fingerprint: dict,
    needs_flow: bool,
    size: int | None = 256,
    max_frames: int | None = None,
    progress: bool = True,
    keep_frames: bool = False,
) -> VideoReport:
    """Read ``source``, paint every frame, write ``output``; frames finished by an earlier run with the same
    ``fingerprint`` are read back from :func:`frames_folder` instead of painted again.

    ``paint(t, frame, previous_result, flow, mask)`` returns the stylised frame; with ``needs_flow`` the
    flow is Farneback's backward flow of the frame and the mask its forward–backward consistency check.
    """
    output = Path(output)
    if output.suffix.lower() not in OUTPUT_SUFFIXES:
        raise VideoError(f"output {output.name}: use one of {', '.join(OUTPUT_SUFFIXES)}")
    frames, info = iter_frames(source, size=size, max_frames=max_frames)
    folder = frames_folder(output)
    _check_resume(folder, {**fingerprint, "source": str(Path(source).resolve()), "size": size, "max_frames": max_frames})
    total = min(filter(None, (info.frames_estimate, max_frames)), default=None)
    bar = _progress(total, progress)
    t0, computed, resumed, count = time.perf_counter(), 0, 0, 0
    previous_frame = previous_result = None
    for t, frame in enumerate(frames):
        target = folder / f"frame_{t:05d}.png"
        result = _read_done(target, tuple(frame.shape[-2:]))
        was_done = result is not None
        if result is None:
            flow = mask = None
            if needs_flow and previous_frame is not None:
                flow = farneback(frame, previous_frame)
                mask = consistency_mask(flow, farneback(previous_frame, frame))
            try:
                result = paint(t, frame, previous_result, flow, mask)
            except FrameInterrupted as stop:  # keep the half-painted frame to look at; a re-run paints it again
                save_image(stop.image, target.with_name(f"{target.stem}.partial.png"))
                raise
            save_image(result, target)  # atomic: an interrupted run never leaves half a frame
            computed += 1
        else:
            resumed += 1
        previous_frame, previous_result, count = frame, result, t + 1
        bar.update(1)
        bar.set_postfix_str(f"frame {t} {'read back' if was_done else 'painted'}")
    bar.close()
    seconds = time.perf_counter() - t0
    try:
        write_video(output, (load_image(folder / f"frame_{t:05d}.png") for t in range(count)), fps=info.fps or 8.0)
    except VideoError as exc:  # the frames stay: a re-run reads them back and only encodes again
        raise VideoError(f"{exc}; the {count} painted frames are kept in {folder}: make room or make {output.name} "
                         "writable, then run the same command again (it reads them back and only encodes)") from None
    if not keep_frames:
        _remove_frames(folder)
    return VideoReport(output, count, computed, resumed, seconds)


def _progress(total: int | None, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="video", unit="frame", disable=not enabled)


def optimisation_painter(model: VGG19Features, style: torch.Tensor, method: str, settings: FrameSettings):
    """The ``paint`` function of :func:`stylise_video` for an optimisation ``method`` of :data:`METHODS`."""
    if method not in METHODS:
        raise ValueError(f"method={method!r}; choose one of {METHODS}")

    def paint(t, frame, previous, flow, mask):
        return stylise_frame(model, frame, style, method, settings, previous, flow, mask)
    return paint


def network_painter(net: nn.Module, style: torch.Tensor | None = None, alpha: float = 1.0):
    """The ``paint`` function of :func:`stylise_video` for a trained network (an AdaIN model needs ``style``)."""
    device = next(net.parameters()).device

    @torch.no_grad()
    def paint(t, frame, previous, flow, mask):
        if style is not None:
            return net(frame.to(device), style, alpha=alpha).cpu()
        return net(frame.to(device)).clamp(0, 1).cpu()
    return paint


def settings_record(settings: FrameSettings) -> dict:
    """``settings`` as plain JSON values (for the resume fingerprint)."""
    return json.loads(json.dumps(asdict(settings), default=str))
