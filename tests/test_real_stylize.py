"""End to end with the real (bundled, offline) caffe VGG19: style moves toward the target, content stays."""
import pytest
import torch
from skimage.metrics import structural_similarity

from nsthelpers import DEFAULT_TV_WEIGHT, stylize, to_numpy, tv_loss
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


@pytest.mark.slow
def test_default_tv_weight_smooths_with_caffe_weights(caffe_vgg):
    """The default TV weight is scaled to caffe's loss magnitudes: it visibly smooths, where tv_weight=1 does nothing."""
    content = content_photo("astronaut", max_size=64)
    style = generated_texture("swirls", 64, seed=0)
    runs = {tv: stylize(content, style, steps=25, weights=caffe_vgg, tv_weight=tv, init="noise") for tv in (None, 0.0, 1.0)}
    roughness = {tv: float(tv_loss(r.image)) for tv, r in runs.items()}
    assert runs[None].settings["tv_weight"] == DEFAULT_TV_WEIGHT["caffe"] == 1e8
    # measured ×0.85 here (25 steps from noise), ×0.44 at 192 px after 100 steps from the photo
    assert roughness[None] < 0.9 * roughness[0.0], roughness
    assert roughness[1.0] == pytest.approx(roughness[0.0], rel=1e-3)  # why the default is not 1
