"""Environment switches and device choice."""
import pytest
import torch

from nsthelpers import default_device, default_weights, pick, quick_mode, setup


def test_quick_mode_and_pick(monkeypatch):
    monkeypatch.setenv("NSTHELPERS_QUICK", "1")
    assert quick_mode() and pick(512, 64) == 64
    monkeypatch.setenv("NSTHELPERS_QUICK", "0")
    assert not quick_mode() and pick(512, 64) == 512


def test_weights_default_and_override(monkeypatch):
    monkeypatch.delenv("NSTHELPERS_WEIGHTS", raising=False)
    assert default_weights() == "caffe"
    monkeypatch.setenv("NSTHELPERS_WEIGHTS", "random")
    assert default_weights() == "random"


def test_device_choice(monkeypatch):
    monkeypatch.delenv("NSTHELPERS_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert default_device() == torch.device("cpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert default_device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert default_device() == torch.device("cuda")
    monkeypatch.setenv("NSTHELPERS_DEVICE", "cpu")
    assert default_device() == torch.device("cpu")
    assert default_device("cpu") == torch.device("cpu")


def test_unavailable_device_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        default_device("cuda")
    with pytest.raises(ValueError, match="not a device name"):
        default_device("gpu0")


def test_setup_warns_for_random_weights(monkeypatch, capsys):
    monkeypatch.setenv("NSTHELPERS_WEIGHTS", "random")
    session = setup()
    assert not session.meaningful and "NOT meaningful" in capsys.readouterr().out
    monkeypatch.setenv("NSTHELPERS_WEIGHTS", "caffe")
    assert setup().meaningful and "WARNING" not in capsys.readouterr().out


def test_profile_comes_from_the_device_unless_overridden(monkeypatch):
    from nsthelpers import profile

    for var in ("NSTHELPERS_PROFILE", "NSTHELPERS_QUICK", "NSTHELPERS_DEVICE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert profile() == "cpu" and pick(512, 64, cpu=256) == 256 and pick(512, 64) == 512
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert profile() == "gpu" and pick(512, 64, cpu=256) == 512
    monkeypatch.setenv("NSTHELPERS_PROFILE", "cpu")  # the override wins over the device
    assert profile() == "cpu"
    monkeypatch.setenv("NSTHELPERS_PROFILE", "QUICK ")
    assert profile() == "quick" and quick_mode() and pick(512, 64, cpu=256) == 64
    monkeypatch.setenv("NSTHELPERS_PROFILE", "laptop")
    with pytest.raises(ValueError, match="quick, cpu, gpu"):
        profile()


def test_quick_is_an_alias_and_setup_prints_the_profile(monkeypatch, capsys):
    monkeypatch.delenv("NSTHELPERS_PROFILE", raising=False)
    monkeypatch.setenv("NSTHELPERS_QUICK", "yes")
    monkeypatch.setenv("NSTHELPERS_WEIGHTS", "caffe")
    session = setup()
    assert session.profile == "quick" and session.quick
    assert "profile=quick (smoke test" in capsys.readouterr().out
    monkeypatch.setenv("NSTHELPERS_PROFILE", "gpu")  # an explicit profile beats the old switch
    assert setup(verbose=False).profile == "gpu"
