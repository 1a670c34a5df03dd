"""End to end with the real (bundled, offline) caffe VGG19: style moves toward the target, content stays."""
import pytest
import torch
from skimage.metrics import structural_similarity

from nsthelpers import stylize, to_numpy
from nsthelpers.data import content_photo, generated_texture

SSIM_MIN = 0.35  # measured 0.55 (L-BFGS, 30 steps); a noise image scores ~0.01


@pytest.mark.slow
def test_caffe_stylisation_moves_style_and_keeps_content(caffe_vgg):
    content = content_photo("astronaut", max_size=128)
    style = generated_texture("swirls", 128, seed=0)
    r = stylize(content, style, steps=30, optimizer="lbfgs", weights=caffe_vgg)
    style_drop = r.history["style"][0] / r.history["style"][-1]
    assert style_drop > 10, style_drop  # measured ×34
    ssim = structural_similarity(to_numpy(content), to_numpy(r.image), channel_axis=2, data_range=1.0)
    assert ssim > SSIM_MIN, ssim
    assert not torch.allclose(r.image, content, atol=0.05)  # it did change the picture
    assert r.settings["weights"] == "caffe"
