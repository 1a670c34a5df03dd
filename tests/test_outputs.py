"""Never lose or overwrite a user's work (issue 24): every entry point, end to end where it is about the CLI.

Outputs: never one of the inputs, never an existing file without --overwrite (single-file and folder runs
agree), checked for writability before any work, kept somewhere safe when a save still fails, reported
only when complete. Partial work: marked as partial, never taken for a result. Checkpoints resume only
their own picture. Inputs that used to crash or mislead: decompression bombs, float images in 0..255,
URLs, negative option values, damaged weight files, damaged clips, Ctrl-C in every long command.
"""
from __future__ import annotations

import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import nsthelpers as nst
from nsthelpers import images, outputs, video
from nsthelpers.cli import commands as cli
from nsthelpers.cli import video as cli_video
from nsthelpers.feedforward import fast
from nsthelpers.video import frames, synthclip, temporal
from nsthelpers.cli import main
from nsthelpers.widgets.lab import StyleLab

FAST = ["--weights", "random", "--device", "cpu", "--quiet", "--style-layers", "relu1_1,relu2_1",
        "--content-layers", "relu2_1", "--scales", "none"]
UNWRITABLE = "/proc/nst_out.png"  # no one may create files in /proc, root included


def stylize_args(content, style, out, *extra, steps=2, size=32):
    return ["stylize", str(content), str(style), "-o", str(out), "--size", str(size), "--steps", str(steps),
            *FAST, *extra]


@pytest.fixture
def pair(tmp_path):
    rng = np.random.default_rng(0)
    content, style = tmp_path / "mine.png", tmp_path / "painting.jpg"
    Image.fromarray(rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)).save(content)
    Image.fromarray(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(style)
    return content, style


@pytest.fixture
def no_work(monkeypatch):
    """Make any optimisation fail the test: the refusals below must come before work starts."""
    def forbidden(*args, **kwargs):
        raise AssertionError("work started although the output was refused")
    monkeypatch.setattr(cli, "stylize", forbidden)
    monkeypatch.setattr(cli, "load_vgg19", forbidden)
    monkeypatch.setattr(fast, "train", forbidden)
    monkeypatch.setattr(video, "stylise_video", forbidden)
    monkeypatch.setattr(cli_video, "stylise_video", forbidden)


@pytest.fixture(scope="module")
def net_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("nets") / "swirls.pth"
    assert main(["fast", "train", "swirls", "-o", str(path), "--steps", "2", "--size", "32", "--width", "4",
                 "--weights", "random", "--device", "cpu", "--quiet"]) == 0
    return path


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory):
    clip = synthclip.synthetic_clip(nst.data.content_photo("coffee", max_size=128),
                                    nst.data.generated_texture("dots", 32), frames=6, size=(24, 32))
    return video.write_video(tmp_path_factory.mktemp("clips") / "myclip.mp4", clip.frames, fps=10)


def _bytes(path: Path) -> bytes:
    return path.read_bytes()


# ------------------------------------------------------------------ 1. the output is one of the inputs
def test_output_equal_to_an_input_is_refused_and_the_input_untouched(pair, net_file, clip_file, tmp_path, capsys,
                                                                      no_work):
    content, style = pair
    before = {p: _bytes(p) for p in (content, style)}
    assert main(stylize_args(content, style, content)) == 2
    assert "is also an input" in capsys.readouterr().err
    assert main(stylize_args(content, style, tmp_path / "." / style.name, "--overwrite")) == 2  # even with --overwrite
    assert "is also an input" in capsys.readouterr().err
    assert {p: _bytes(p) for p in (content, style)} == before
    clip_bytes = _bytes(clip_file)
    assert main(["video", str(clip_file), "-o", str(clip_file), "--fast", str(net_file), "--quiet"]) == 2
    assert "is also an input" in capsys.readouterr().err and _bytes(clip_file) == clip_bytes
    source = tmp_path / "w.pth"
    nst.save_features_file(nst.load_vgg19("random", device="cpu"), source)
    assert main(["weights", "export", str(source), "--weights", str(source), "--overwrite"]) == 2
    assert "is also an input" in capsys.readouterr().err


# ------------------------------------------------------------------ 2. an existing output is not replaced silently
def test_an_existing_output_needs_overwrite_in_every_command(pair, net_file, clip_file, tmp_path, capsys, no_work):
    content, style = pair
    png, pth, mp4 = (tmp_path / f"precious{suffix}" for suffix in (".png", ".pth", ".mp4"))
    for out, argv in ((png, stylize_args(content, style, png)),
                      (pth, ["fast", "train", "swirls", "-o", str(pth), "--weights", "random", "--quiet"]),
                      (mp4, ["video", str(clip_file), "-o", str(mp4), "--fast", str(net_file), "--quiet"]),
                      (pth, ["weights", "export", str(pth), "--weights", "random"])):
        out.write_bytes(b"the user's own file")
        assert main(argv) == 2
        assert "already exists; add --overwrite" in capsys.readouterr().err
        assert out.read_bytes() == b"the user's own file"
        out.unlink()


def test_overwrite_replaces_and_a_folder_run_keeps_existing_results(pair, tmp_path, capsys):
    content, style = pair
    out = tmp_path / "result.png"
    out.write_bytes(b"old")
    assert main(stylize_args(content, style, out, "--overwrite")) == 0
    assert Image.open(out).size == (32, 24)
    folder, results = tmp_path / "photos", tmp_path / "results"
    folder.mkdir()
    results.mkdir()
    Image.open(content).save(folder / "a.png")
    (results / "a.png").write_bytes(b"kept")
    assert main(stylize_args(folder, style, results)) == 0
    assert (results / "a.png").read_bytes() == b"kept" and "kept" in capsys.readouterr().out


# ------------------------------------------------------------------ 3. outputs checked before work; a failed save keeps the result
@pytest.mark.parametrize("where", ["file", "proc"])
def test_an_unwritable_output_is_refused_before_any_work(pair, net_file, clip_file, tmp_path, capsys, no_work, where):
    content, style = pair
    blocker = tmp_path / "text.jpg"
    blocker.write_text("a file, not a folder")
    out = blocker / "out.png" if where == "file" else Path(UNWRITABLE)
    runs = [stylize_args(content, style, out),
            ["fast", "train", "swirls", "-o", str(out.with_suffix(".pth")), "--weights", "random", "--quiet"],
            ["weights", "export", str(out.with_suffix(".pth")), "--weights", "random"],
            ["video", str(clip_file), "-o", str(out.with_suffix(".mp4")), "--fast", str(net_file), "--quiet"],
            ["fast", "apply", str(net_file), str(content), "-o", str(out.parent / "dir"), "--quiet"]]
    for argv in runs:
        t0 = time.perf_counter()
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("nst: error: cannot write") and "Traceback" not in err, (argv, err)
        assert time.perf_counter() - t0 < 30


def test_a_save_that_fails_after_the_run_keeps_the_result_and_says_where(pair, tmp_path, capsys, monkeypatch):
    content, style = pair
    out = tmp_path / "out.png"
    real_save = nst.save_image

    def disk_full(image, path):
        if Path(path) == out:
            raise OSError(28, "No space left on device", str(path))
        return real_save(image, path)
    monkeypatch.setattr("nsthelpers.loop.save_image", disk_full)
    assert main(stylize_args(content, style, out)) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and "kept in" in err
    kept = Path(err.split("kept in ")[1].split(":")[0])
    assert not out.exists() and Image.open(kept).size == (32, 24)
    kept.unlink()


def test_fast_train_and_weights_export_keep_what_they_made_when_the_save_fails(tmp_path, capsys, monkeypatch):
    from nsthelpers import checkpoint

    out = tmp_path / "net.pth"
    real = checkpoint.torch_save_atomically

    def failing(payload, path):
        if Path(path) in (out, tmp_path / "w.pth"):
            raise OSError(13, "Permission denied", str(path))
        return real(payload, path)
    monkeypatch.setattr(fast, "torch_save_atomically", failing)
    monkeypatch.setattr("nsthelpers.vgg.torch_save_atomically", failing)
    assert main(["fast", "train", "swirls", "-o", str(out), "--steps", "2", "--size", "32", "--width", "4",
                 "--weights", "random", "--device", "cpu", "--quiet"]) == 2
    err = capsys.readouterr().err
    kept = Path(err.split("kept in ")[1].split(":")[0])
    assert "trained network" in err and fast.load(kept).info["finished"] is True
    kept.unlink()
    assert main(["weights", "export", str(tmp_path / "w.pth"), "--weights", "random"]) == 2
    err = capsys.readouterr().err
    kept = Path(err.split("kept in ")[1].split(":")[0])
    assert "Traceback" not in err and nst.load_vgg19(str(kept), device="cpu") is not None
    kept.unlink()


# ------------------------------------------------------------------ 4. a folder run into its own input folder
def test_a_folder_run_may_not_write_into_the_folder_of_its_photos(pair, net_file, tmp_path, capsys, no_work):
    content, style = pair
    folder = tmp_path / "pngfold"
    folder.mkdir()
    Image.open(content).save(folder / "photo.png")
    photo = _bytes(folder / "photo.png")
    for extra in ([], ["--overwrite"]):
        assert main(stylize_args(folder, style, folder, *extra)) == 2
        assert "folder of the input pictures" in capsys.readouterr().err
        assert main(["fast", "apply", str(net_file), str(folder), "-o", str(folder), *extra]) == 2
        assert "folder of the input pictures" in capsys.readouterr().err
    assert _bytes(folder / "photo.png") == photo and sorted(p.name for p in folder.iterdir()) == ["photo.png"]
    # the style picture sits in the results folder under a result's name: refused too
    results = tmp_path / "res"
    results.mkdir()
    Image.open(style).save(results / "photo.png")
    assert main(stylize_args(folder, results / "photo.png", results, "--overwrite")) == 2
    assert "is also an input" in capsys.readouterr().err


# ------------------------------------------------------------------ 5. an interrupted folder run
def test_an_interrupted_folder_run_marks_the_unfinished_picture_and_the_rerun_finishes_it(pair, tmp_path, capsys,
                                                                                          monkeypatch):
    content, style = pair
    folder, out = tmp_path / "fold", tmp_path / "fold_out"
    folder.mkdir()
    for name in ("a", "b"):
        Image.open(content).save(folder / f"{name}.png")
    real = cli.stylize

    def ctrl_c_in_b(path, *args, **kwargs):
        if Path(path).stem == "b":
            def stop(info):
                if info.step >= 2:
                    raise KeyboardInterrupt
            kwargs.update(callback=stop, callback_every=1)
        return real(path, *args, **kwargs)
    monkeypatch.setattr(cli, "stylize", ctrl_c_in_b)
    argv = stylize_args(folder, style, out, steps=6, size=32) + ["--optimizer", "adam"]
    assert main(argv) == 130
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.partial.png"]
    assert "picture so far is in" in capsys.readouterr().err
    monkeypatch.setattr(cli, "stylize", real)
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert f"kept {out / 'a.png'}" in printed and f"wrote {out / 'b.png'}" in printed
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]


# ------------------------------------------------------------------ 6. a checkpoint of another picture
def test_a_checkpoint_resumes_only_its_own_picture(pair, tmp_path, capsys):
    content, style = pair
    ck, other = tmp_path / "ck1.pt", tmp_path / "other.png"
    Image.fromarray(np.random.default_rng(5).integers(0, 255, (30, 40, 3), dtype=np.uint8)).save(other)
    base = ["--optimizer", "adam", "--checkpoint", str(ck), "--checkpoint-every", "2"]
    assert main(stylize_args(content, style, tmp_path / "r1.png", *base, steps=4)) == 0 and ck.exists()
    assert main(stylize_args(other, style, tmp_path / "r2.png", *base, steps=4)) == 2
    err = capsys.readouterr().err
    assert "belongs to another run" in err and "the content image" in err and not (tmp_path / "r2.png").exists()
    assert main(stylize_args(content, style, tmp_path / "r3.png", *base, "--style-weight", "1e3", steps=4)) == 2
    assert "style_weight" in capsys.readouterr().err
    assert main(stylize_args(content, style, tmp_path / "r4.png", *base, steps=4)) == 0  # its own picture resumes


# ------------------------------------------------------------------ 7. decompression bombs
def _png_header_only(path: Path, width: int, height: int, padding: int = 0) -> Path:
    """A PNG that declares width x height pixels (its pixel data is a stub), ``padding`` bytes longer."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pad = chunk(b"prVt", bytes(padding)) if padding else b""  # an ancillary chunk decoders skip
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + pad + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
                     + chunk(b"IEND", b""))
    return path


def test_a_decompression_bomb_is_refused_from_its_header(pair, tmp_path, capsys, monkeypatch):
    content, style = pair
    bomb = _png_header_only(tmp_path / "bomb.png", 20000, 20000)  # 1.2 GB of pixels in a file of 200 bytes
    t0 = time.perf_counter()
    assert main(stylize_args(bomb, style, tmp_path / "o.png")) == 2
    assert "decompression bomb" in capsys.readouterr().err and time.perf_counter() - t0 < 10
    big = _png_header_only(tmp_path / "big.png", 20000, 20000, padding=6_000_000)  # compressed only x200
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    assert 10e9 < images.decode_bytes(Image.open(big)) < 20e9  # 11.6 GB measured in issue 24
    monkeypatch.undo()
    monkeypatch.setattr(images, "_available_ram", lambda: 8 * 2**30)
    with pytest.raises(nst.ImageLoadError, match="20000x20000.*needs about 11.9 GiB.*8.0 GiB are available"):
        nst.load_image(big)
    assert nst.load_image(content).shape == (1, 3, 30, 40)  # ordinary pictures still load


# ------------------------------------------------------------------ 8. video: success only when written; frames kept
def test_a_failed_encode_is_an_error_and_keeps_the_frames(clip_file, net_file, tmp_path, capsys, monkeypatch):
    out = tmp_path / "vimm.mp4"

    def encoder_that_fails(path, arrays, fps):  # what ffmpeg does when it cannot open its output
        raise OSError(1, "Operation not permitted", str(path))
    monkeypatch.setattr(frames, "_encode", encoder_that_fails)
    assert main(["video", str(clip_file), "-o", str(out), "--fast", str(net_file), "--size", "32", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "could not write" in err and "Operation not permitted" in err and "kept in" in err
    assert not out.exists() and len(list(video.frames_folder(out).glob("frame_*.png"))) == 6
    monkeypatch.setattr(frames, "_encode", lambda path, arrays, fps: path.write_bytes(b""))  # exits 0, writes nothing
    assert main(["video", str(clip_file), "-o", str(out), "--fast", str(net_file), "--size", "32", "--quiet"]) == 2
    assert "could not write" in capsys.readouterr().err and video.frames_folder(out).exists() and not out.exists()
    monkeypatch.undo()
    assert main(["video", str(clip_file), "-o", str(out), "--fast", str(net_file), "--size", "32", "--quiet"]) == 0
    assert "6 read back" in capsys.readouterr().out and len(video.read_frames(out)[0]) == 6


# ------------------------------------------------------------------ 9. a clip damaged in the middle
def test_a_clip_damaged_in_the_middle_is_warned_about(tmp_path, net_file, capsys):
    clip = synthclip.synthetic_clip(nst.data.content_photo("coffee", max_size=128),
                                    nst.data.generated_texture("dots", 32), frames=12, size=(72, 96))
    sound = video.write_video(tmp_path / "clip.mp4", clip.frames, fps=10)
    data = bytearray(sound.read_bytes())
    n = len(data)
    data[n // 4:n // 2] = bytes(n // 2 - n // 4)
    damaged = tmp_path / "clip_mid.mp4"
    damaged.write_bytes(bytes(data))
    assert video.decoder_errors(sound) == [] and video.decoder_errors(damaged)
    assert main(["video", str(damaged), "-o", str(tmp_path / "v.mp4"), "--fast", str(net_file), "--size", "32",
                 "--quiet"]) == 0
    assert "warning: the decoder reported" in capsys.readouterr().err


# ------------------------------------------------------------------ 10. float images far outside [0, 1]
def test_float_images_in_0_255_are_refused_and_slight_overshoot_warns(pair):
    content, _ = pair
    photo = nst.load_image(content)
    with pytest.raises(nst.ImageLoadError, match="0-255.*/ 255"):
        nst.load_image(photo * 255)
    with pytest.raises(nst.ImageLoadError, match="0-255"):
        nst.load_image(np.asarray(Image.open(content), dtype=np.float64))
    with pytest.raises(nst.ImageLoadError, match="normalis"):
        nst.load_image(nst.imagenet_normalize(photo))
    with pytest.warns(UserWarning, match="clipped"):
        assert float(nst.load_image(photo * 1.2).max()) == 1.0


# ------------------------------------------------------------------ the "unclear" list
def test_negative_values_urls_and_output_folders(pair, tmp_path, capsys):
    content, style = pair
    args = cli.build_parser().parse_args(["stylize", "c", "s", "s2", "-o", "o.png", "--style-blend", "-1,2"])
    assert args.style_blend == (-1.0, 2.0)
    assert main(stylize_args(content, style, tmp_path / "b.png") + ["--style-blend", "-1,2"]) == 2
    assert "style_blend" in capsys.readouterr().err
    assert main(stylize_args("https://example.com/cat.jpg", style, tmp_path / "u.png")) == 2
    assert "is a URL" in capsys.readouterr().err
    outdir = tmp_path / "outdir1"
    outdir.mkdir()
    assert main(stylize_args(content, style, outdir)) == 0
    assert (outdir / "mine.png").exists()
    assert main(stylize_args(content, style, f"{tmp_path}/newdir/")) == 0  # a trailing slash names a folder
    assert (tmp_path / "newdir" / "mine.png").exists()
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.open(content).save(folder / "a.png")
    with pytest.raises(SystemExit):
        main(stylize_args(folder, style, tmp_path / "results.png"))
    assert "name a folder" in capsys.readouterr().err and not (tmp_path / "results.png").exists()


def test_damaged_weight_files_get_one_clear_line(pair, tmp_path, capsys, no_work):
    content, style = pair
    noise = tmp_path / "noise.pth"
    noise.write_bytes(np.random.default_rng(0).integers(0, 255, 4000, dtype=np.uint8).tobytes())
    assert main(["weights", "verify", str(noise)]) == 2
    err = capsys.readouterr().err
    assert "weights_only" not in err and err.count("\n") == 1
    model = nst.load_vgg19("random", device="cpu")
    model.layers[0].weight.data.fill_(float("nan"))
    nan_file = nst.save_features_file(model, tmp_path / "nan.pth")
    with pytest.raises(ValueError, match="NaN or infinite.*damaged"):
        nst.load_vgg19(str(nan_file), device="cpu")
    assert main(["weights", "verify", str(nan_file)]) == 2  # not "OK"
    assert "0.weight (conv1_1) holds NaN" in capsys.readouterr().err


def test_ctrl_c_in_fast_train_saves_the_network_so_far(tmp_path, capsys, monkeypatch):
    calls = []
    real = fast.perceptual_step

    def step(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)
    monkeypatch.setattr(fast, "perceptual_step", step)
    out = tmp_path / "n.pth"
    assert main(["fast", "train", "swirls", "-o", str(out), "--steps", "10", "--size", "32", "--width", "4",
                 "--weights", "random", "--device", "cpu", "--quiet"]) == 130
    err = capsys.readouterr().err
    assert "interrupted at step 2" in err and "Traceback" not in err
    net = fast.load(out)
    assert net.info["finished"] is False and net.info["steps"] == 2


def test_fast_apply_skips_a_bad_image_and_refuses_meaningless_options(net_file, pair, tmp_path, capsys):
    content, _ = pair
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a", "c"):
        Image.open(content).save(folder / f"{name}.png")
    (folder / "b.jpg").write_bytes(b"not a picture")
    out = tmp_path / "out"
    assert main(["fast", "apply", str(net_file), str(folder), "-o", str(out), "--batch-size", "1", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "b.jpg" in err and "skipped" in err and "1 of 3 images failed" in err
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "c.png"]
    text = tmp_path / "text.jpg"
    text.write_text("x")
    assert main(["fast", "apply", str(net_file), str(content), "-o", str(text)]) == 2
    assert "is a file" in capsys.readouterr().err
    assert main(["fast", "apply", str(net_file), str(content), "-o", str(out), "--alpha", "7"]) == 2
    assert "drop --alpha" in capsys.readouterr().err
    (out / "a.png").write_bytes(b"mine")  # the same folder again: results already there are kept
    assert main(["fast", "apply", str(net_file), str(folder / "a.png"), "-o", str(out)]) == 0
    assert (out / "a.png").read_bytes() == b"mine"


def test_video_options_are_checked_before_the_first_frame(clip_file, tmp_path, capsys, no_work):
    for extra, word in ((["--max-frames", "0"], "--max-frames must be a positive integer"),
                        (["--temporal-weight", "-1"], "temporal_weight"),
                        (["--steps", "0"], "steps"),
                        (["--alpha", "2"], "--alpha")):
        assert main(["video", str(clip_file), "swirls", "-o", str(tmp_path / "v.mp4"), "--weights", "random",
                     "--quiet", *extra]) == 2
        assert word in capsys.readouterr().err
    assert not video.frames_folder(tmp_path / "v.mp4").exists()
    with pytest.raises(ValueError, match="max_frames"):
        video.iter_frames(clip_file, max_frames=0)


def test_ctrl_c_in_video_exits_130_and_keeps_the_half_painted_frame(clip_file, tmp_path, capsys, monkeypatch):
    real, calls = temporal.optimize, []

    def optimize(objective, init, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # Ctrl-C during the second frame, after two steps
            def stop(info):
                if info.step >= 2:
                    raise KeyboardInterrupt
            kwargs.update(callback=stop, callback_every=1)
        return real(objective, init, **kwargs)
    monkeypatch.setattr(temporal, "optimize", optimize)
    out = tmp_path / "v.mp4"
    argv = ["video", str(clip_file), "swirls", "-o", str(out), "--size", "32", "--steps", "4", "--optimizer", "adam",
            "--weights", "random", "--device", "cpu", "--quiet"]
    assert main(argv) == 130
    assert "interrupted; finished frames are kept" in capsys.readouterr().err
    names = sorted(p.name for p in video.frames_folder(out).glob("*.png"))
    assert names == ["frame_00000.png", "frame_00001.partial.png"] and not out.exists()
    monkeypatch.undo()
    assert main(argv) == 0 and "1 read back" in capsys.readouterr().out


def test_api_messages_name_the_real_problem(pair, random_vgg):
    content, style = pair
    with pytest.raises(ValueError, match="contents is empty"):
        nst.stylize_batch([], style)
    lab = StyleLab(random_vgg, nst.load_image(content), {"s": nst.load_image(style)}, device="cpu")
    with pytest.raises(ValueError, match="log10_ratio must be a number between"):
        lab.run(style="s", size=32, steps=1, log10_ratio=400)


def test_output_helpers(tmp_path):
    photo = tmp_path / "p.png"
    photo.write_bytes(b"x")
    link = tmp_path / "link.png"
    link.hardlink_to(photo)
    assert outputs.is_same_file(link, photo)
    with pytest.raises(outputs.OutputError, match="also an input"):
        outputs.check_output_file(link, inputs=[photo], overwrite=True)
    fresh = tmp_path / "new" / "deeper" / "out.png"
    assert outputs.check_output_file(fresh) == fresh and not (tmp_path / "new").exists()  # the probe leaves nothing
    assert outputs.partial_path(tmp_path / "a.png").name == "a.partial.png"


def test_a_checkpoint_path_is_checked_before_work_and_a_failing_one_does_not_end_the_run(pair, tmp_path, capsys,
                                                                                         monkeypatch, random_vgg):
    from nsthelpers import checkpoint

    content, style = pair
    blocker = tmp_path / "text.jpg"
    blocker.write_text("a file")
    real = cli.stylize
    monkeypatch.setattr(cli, "stylize", lambda *a, **k: pytest.fail("work started"))
    assert main(stylize_args(content, style, tmp_path / "o.png", "--checkpoint", str(blocker / "ck.pt"))) == 2
    assert "cannot write" in capsys.readouterr().err
    monkeypatch.setattr(cli, "stylize", real)

    def disk_full(payload, path):
        raise OSError(28, "No space left on device", str(path))
    monkeypatch.setattr(checkpoint, "torch_save_atomically", disk_full)
    with pytest.warns(UserWarning, match="could not write the checkpoint.*goes on"):
        result = nst.stylize(content, style, weights=random_vgg, device="cpu", size=32, steps=4, optimizer="adam",
                             scales=None, checkpoint_path=tmp_path / "ck.pt", checkpoint_every=2,
                             style_layers=["relu1_1"], content_layers=["relu2_1"])
    assert result.stopped == "finished" and result.steps_done == 4


def test_a_folder_of_the_users_own_files_beside_the_output_is_never_emptied(tmp_path):
    clip = synthclip.synthetic_clip(nst.data.content_photo("coffee", max_size=64),
                                    nst.data.generated_texture("dots", 16), frames=3, size=(16, 16))
    source = video.write_video(tmp_path / "c.mp4", clip.frames, fps=5)
    out = tmp_path / "out.mp4"
    mine = video.frames_folder(out)
    mine.mkdir()
    (mine / "holiday.jpg").write_bytes(b"a photo")
    with pytest.raises(video.VideoError, match="not frames of a stylised video"):
        video.stylise_video(source, out, lambda t, f, *rest: f, fingerprint={}, needs_flow=False, size=None,
                            progress=False)
    assert (mine / "holiday.jpg").read_bytes() == b"a photo"
    (mine / "holiday.jpg").unlink()
    video.stylise_video(source, out, lambda t, f, *rest: f, fingerprint={}, needs_flow=False, size=None,
                        progress=False)
    assert out.exists() and not mine.exists()


def test_two_photos_with_one_name_get_two_results(pair, tmp_path, capsys):
    content, style = pair
    folder, out = tmp_path / "photos", tmp_path / "out"
    folder.mkdir()
    Image.open(content).save(folder / "a.png")
    Image.open(content).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(folder / "a.jpg", quality=95)
    assert main(stylize_args(folder, style, out)) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "a_2.png"]
    assert "kept" not in capsys.readouterr().out


def test_the_written_clip_is_checked_without_refusing_a_still_one(tmp_path):
    still = [torch.full((1, 3, 16, 16), 0.5)] * 5  # a GIF merges identical frames: still a complete clip
    assert video.write_video(tmp_path / "still.gif", still, fps=5).stat().st_size > 0
    assert len(video.read_frames(video.write_video(tmp_path / "still.mp4", still, fps=5))[0]) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["still.gif", "still.mp4"]  # no temporary file left
