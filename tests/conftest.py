"""Shared fixtures: models are loaded once per session (loading caffe weights takes ~1 s)."""
from __future__ import annotations

import pytest
import torch

from nsthelpers import load_vgg19


@pytest.fixture(scope="session")
def random_vgg():
    return load_vgg19("random", device="cpu", seed=0)


@pytest.fixture(scope="session")
def caffe_vgg():
    return load_vgg19("caffe", device="cpu")


@pytest.fixture
def rng():
    return torch.Generator().manual_seed(1234)
