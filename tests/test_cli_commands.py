"""`nst` command line, end to end on generated images with random weights."""
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from nsthelpers.cli.commands import build_parser, main


@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(0)
    content = tmp_path / "content.png"
    style = tmp_path / "style.jpg"
    Image.fromarray(rng.integers(0, 255, (40, 56, 3), dtype=np.uint8)).save(content)
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(style)
    return content, style


def test_stylize_writes_png_of_requested_size(images, tmp_path, capsys):
    content, style = images
    out = tmp_path / "out" / "result.png"
    code = main(["stylize", str(content), str(style), "-o", str(out), "--size", "48", "--steps", "3",
                 "--weights", "random", "--device", "cpu", "--quiet"])
    assert code == 0
    img = Image.open(out)
    assert img.size == (48, 34) and img.mode == "RGB"  # longer side 48, aspect 56:40 kept
    assert "wrote" in capsys.readouterr().out


def test_console_script_shows_progress_with_losses(images, tmp_path):
    content, style = images
    out = tmp_path / "r.png"
    proc = subprocess.run(
        [sys.executable, "-m", "nsthelpers.cli", "stylize", str(content), str(style), "-o", str(out),
         "--size", "32", "--steps", "10", "--optimizer", "lbfgs", "--weights", "random", "--device", "cpu",
         "--style-layers", "relu1_1,relu2_1", "--content-layers", "relu2_1"],
        capture_output=True, text=True, timeout=300, env={"PATH": "", "HOME": str(tmp_path)}  # no TQDM_DISABLE: the bar must show,
    )
    assert proc.returncode == 0, proc.stderr
    assert "stylize" in proc.stderr and "total=" in proc.stderr and "10/10" in proc.stderr  # tqdm bar
    assert out.exists()


def test_bad_input_is_one_clear_line_not_a_traceback(tmp_path, images, capsys):
    content, style = images
    bad = tmp_path / "notes.png"
    bad.write_text("this is not an image")
    code = main(["stylize", str(bad), str(style), "-o", str(tmp_path / "o.png"), "--weights", "random", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("nst: error:") and "notes.png" in err and "Traceback" not in err
    code = main(["stylize", str(content), str(style), "-o", str(tmp_path / "o.png"), "--steps", "0",
                 "--weights", "random", "--quiet"])
    assert code == 2 and "steps" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["stylize", str(content), str(style), "-o", str(tmp_path / "o.gifx")])


def test_help_documents_every_option_with_default():
    text = " ".join(build_parser()._subparsers._group_actions[0].choices["stylize"].format_help().split())
    for opt in ("--size", "--steps", "--optimizer", "--content-weight", "--style-weight", "--tv-weight",
                "--init", "--weights", "--device", "--seed", "--lr", "--style-layers", "--content-layers"):
        assert opt in text
    assert "(default: None)" not in text.split("--size")[0]  # required -o shows no fake default
    # the defaults shown are stylize's own (one source); --size's comes from the profile, and says why
    from nsthelpers.settings import DEFAULT_SIZES
    from nsthelpers.specs import PictureSpec, RunSpec

    assert f"(default: {PictureSpec().steps})" in text and f"(default: {RunSpec().optimizer})" in text
    size_help = text.split("--size PX|full longer side")[-1].split(" --")[0]
    assert f"{DEFAULT_SIZES['stylize']['cpu']} px on a CPU" in size_help and "never larger than the photo" in size_help
    assert "full for the photo's own size" in size_help


def test_weights_export_then_students_load_it_offline(tmp_path, capsys, monkeypatch):
    out = tmp_path / "class" / "vgg19-features.pth"
    assert main(["weights", "export", "--half", str(out), "--weights", "caffe"]) == 0
    assert "NSTHELPERS_WEIGHTS=" in capsys.readouterr().out
    assert 35e6 < out.stat().st_size < 45e6
    assert main(["weights", "verify", str(out)]) == 0
    assert "OK (16 conv layers, caffe preprocessing)" in capsys.readouterr().out
    monkeypatch.setenv("NSTHELPERS_WEIGHTS", str(out))
    from nsthelpers import load_vgg19

    model = load_vgg19(device="cpu")
    assert model.preprocess.convention == "caffe" and model.weights_name == str(out)
    out.write_bytes(out.read_bytes()[:1000])  # truncated copy
    assert main(["weights", "verify", str(out)]) == 2
    assert "not a readable PyTorch weights file" in capsys.readouterr().err


def test_stylize_cli_with_masks_colour_and_scales(images, tmp_path):
    content, style = images
    mask = tmp_path / "mask.png"
    half = np.zeros((40, 56), dtype=np.uint8)
    half[:, :28] = 255
    Image.fromarray(half).save(mask)
    mask2 = tmp_path / "mask2.png"
    Image.fromarray(255 - half).save(mask2)
    out = tmp_path / "masked.png"
    code = main(["stylize", str(content), str(style), str(content), "-o", str(out), "--masks", str(mask), str(mask2),
                 "--preserve-color", "histogram", "--scales", "24,40", "--steps", "2", "--weights", "random",
                 "--style-layers", "relu1_1,relu2_1", "--content-layers", "relu2_1", "--quiet"])
    assert code == 0 and Image.open(out).size == (40, 29)


def test_preview_flag_uses_small_fast_settings(images, tmp_path, monkeypatch):
    import nsthelpers.cli.commands as cli

    seen = {}

    def fake_stylize(content, style, **kwargs):
        seen.update(kwargs)
        raise ValueError("stop here")

    monkeypatch.setattr(cli, "stylize", fake_stylize)
    content, style = images
    main(["stylize", str(content), str(style), "-o", str(tmp_path / "p.png"), "--preview", "--size", "1024"])
    assert (seen["size"], seen["steps"], seen["optimizer"]) == (128, 30, "lbfgs")


def test_a_folder_of_contents_gives_one_picture_each_and_resumes(tmp_path, images, capsys):
    content, style = images
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a.png", "b.jpg"):
        Image.open(content).save(folder / name)
    (folder / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    args = ["stylize", str(folder), str(style), "-o", str(out), "--size", "32", "--steps", "2",
            "--weights", "random", "--device", "cpu", "--quiet"]
    assert main(args) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"] and Image.open(out / "a.png").size == (32, 23)
    capsys.readouterr()
    (out / "b.png").unlink()
    assert main(args) == 0  # a re-run keeps what is there and makes only what is missing
    printed = capsys.readouterr().out
    assert "kept" in printed and "a.png" in printed and f"wrote {out / 'b.png'}" in printed
    (tmp_path / "empty").mkdir()
    assert main(["stylize", str(tmp_path / "empty"), str(style), "-o", str(out), "--weights", "random"]) == 2
    assert "holds no images" in capsys.readouterr().err
