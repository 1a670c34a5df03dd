"""`nst fast train|apply` and `nst video`, end to end through their parsers (random weights, tiny sizes)."""
import argparse

import numpy as np
import pytest
import torch
from PIL import Image

import nsthelpers as nst
from nsthelpers import video
from nsthelpers.cli import fast as cli_fast, video as cli_video
from nsthelpers.feedforward import fast
from nsthelpers.video import synthclip


def nst_main(argv):
    """What `nst` does once the lead registers the two modules: one parser, dispatch to the handler."""
    parser = argparse.ArgumentParser(prog="nst")
    sub = parser.add_subparsers(dest="command")
    cli_fast.add_parser(sub)
    cli_video.add_parser(sub)
    args = parser.parse_args(argv)
    return args.handler(args)


@pytest.fixture(scope="module")
def transformer_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("nets") / "swirls.pth"
    code = nst_main(["fast", "train", "swirls", "-o", str(path), "--steps", "3", "--size", "32", "--width", "4",
                     "--weights", "random", "--device", "cpu", "--quiet"])
    assert code == 0
    return path


def test_fast_train_records_the_command_that_made_the_file(transformer_file, capsys):
    net = fast.load(transformer_file)
    assert net.width == 4 and net.info["steps"] == 3 and net.info["styles"] == ["swirls"]
    assert net.info["command"].startswith("nst fast train swirls -o ") and "--steps 3 --size 32 --width 4" in net.info["command"]
    assert net.info["labels"] == ["swirls (generated texture)"]


def test_fast_apply_a_folder_in_batches(transformer_file, tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k, (h, w) in enumerate([(30, 40), (30, 40), (30, 40), (40, 30), (30, 40)]):
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(folder / f"p{k}.png")
    (folder / "notes.txt").write_text("not an image: skipped")
    out = tmp_path / "out"
    code = nst_main(["fast", "apply", str(transformer_file), str(folder), "-o", str(out), "--batch-size", "2",
                     "--device", "cpu"])
    assert code == 0 and "wrote 5 images" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == [f"p{k}.png" for k in range(5)]
    assert Image.open(out / "p3.png").size == (30, 40) and Image.open(out / "p0.png").size == (40, 30)
    net = fast.load(transformer_file)
    one = nst.load_image(folder / "p1.png")
    with torch.no_grad():
        expected = nst.to_numpy(net(one).clamp(0, 1))
    got = np.asarray(Image.open(out / "p1.png"), dtype=np.float64) / 255
    assert np.abs(got - expected).max() <= 1 / 255 + 1e-6      # batched = one by one (up to 8-bit rounding)


def test_fast_train_adain_and_apply_with_a_style(tmp_path, capsys):
    decoder = tmp_path / "decoder.pth"
    assert nst_main(["fast", "train", "swirls", "dots", "--adain", "--layer", "relu2_1", "-o", str(decoder),
                     "--steps", "2", "--size", "32", "--width", "4", "--weights", "random", "--quiet"]) == 0
    info = fast.read_network_file(decoder)["info"]
    assert info["styles"] == ["swirls", "dots"] and info["steps"] == 2 and info["layer"] == "relu2_1"
    photo = tmp_path / "photo.png"
    Image.fromarray(np.full((24, 32, 3), 120, np.uint8)).save(photo)
    assert nst_main(["fast", "apply", str(decoder), str(photo), "-o", str(tmp_path / "o")]) == 2
    assert "AdaIN decoder: name the style with --style" in capsys.readouterr().err
    assert nst_main(["fast", "apply", str(decoder), str(photo), "-o", str(tmp_path / "o"), "--style", "mosaic",
                     "--alpha", "0.5"]) == 0
    assert Image.open(tmp_path / "o" / "photo.png").size == (32, 24)


def test_fast_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "broken.pth"
    bad.write_bytes(b"\x00" * 100)
    assert nst_main(["fast", "apply", str(bad), str(tmp_path), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nst: error:") and "not a readable network file" in err and "Traceback" not in err
    assert nst_main(["fast", "train", "swirls", "dots", "-o", str(tmp_path / "n.pth"), "--weights", "random"]) == 2
    assert "learns one style" in capsys.readouterr().err
    assert nst_main(["fast", "train", "swirls", "-o", str(tmp_path / "n.pth"), "--steps", "0", "--weights", "random"]) == 2
    assert "steps must be a positive integer" in capsys.readouterr().err


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory):
    clip = synthclip.synthetic_clip(nst.data.content_photo("coffee", max_size=128),
                                    nst.data.generated_texture("dots", 32), frames=10, size=(24, 32))
    return video.write_video(tmp_path_factory.mktemp("clips") / "clip.mp4", clip.frames, fps=10)


def _frames(path):
    return video.read_frames(path)[0]


def test_video_end_to_end_on_a_ten_frame_clip_then_resume(clip_file, tmp_path, capsys):
    out = tmp_path / "styled.mp4"
    argv = ["video", str(clip_file), "swirls", "-o", str(out), "--size", "32", "--steps", "2", "--weights", "random",
            "--device", "cpu", "--quiet", "--keep-frames"]
    assert nst_main(argv) == 0
    assert "10 frames (10 painted, 0 read back" in capsys.readouterr().out
    frames = _frames(out)
    assert len(frames) == 10 and frames[0].shape == (1, 3, 24, 32)
    for name in ["frame_00007.png", "frame_00008.png", "frame_00009.png"]:   # as if it had stopped after 7
        (video.frames_folder(out) / name).unlink()
    argv.insert(-1, "--overwrite")  # the first run's out exists: replacing it is asked for (tests/test_outputs.py)
    assert nst_main(argv) == 0
    assert "10 frames (3 painted, 7 read back" in capsys.readouterr().out
    assert len(_frames(out)) == 10
    other = [*argv[:-1], "--method", "warm"]
    assert nst_main(other) == 2 and "other settings" in capsys.readouterr().err


def test_video_with_a_fast_network(clip_file, transformer_file, tmp_path, capsys):
    out = tmp_path / "fast.gif"
    assert nst_main(["video", str(clip_file), "-o", str(out), "--fast", str(transformer_file), "--size", "32",
                     "--quiet"]) == 0
    with Image.open(out) as im:
        assert im.n_frames == 10
    assert nst_main(["video", str(clip_file), "-o", str(out), "--fast", str(transformer_file), "--method", "warm"]) == 2
    assert "optimisation method" in capsys.readouterr().err
    assert nst_main(["video", str(clip_file), "swirls", "-o", str(out), "--fast", str(transformer_file)]) == 2
    assert "drop STYLE" in capsys.readouterr().err


def test_unreadable_video_is_a_clear_error(clip_file, tmp_path, capsys):
    bad = tmp_path / "holiday.mp4"
    bad.write_bytes(b"\x00\x01 not a video" * 20)
    assert nst_main(["video", str(bad), "swirls", "-o", str(tmp_path / "o.mp4"), "--weights", "random", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nst: error: could not read") and "holiday.mp4" in err and "Traceback" not in err
    assert err.count("\n") == 1
    assert nst_main(["video", str(tmp_path / "none.mp4"), "swirls", "-o", str(tmp_path / "o.mp4"), "--weights", "random"]) == 2
    assert "no video at" in capsys.readouterr().err
    assert nst_main(["video", str(clip_file), "-o", str(tmp_path / "o.mp4")]) == 2
    assert "name a STYLE" in capsys.readouterr().err
