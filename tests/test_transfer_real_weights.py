"""End to end with the real (bundled, offline) caffe VGG19: style moves toward the target, content stays."""
import pytest
import torch
from skimage.metrics import structural_similarity

from nsthelpers import DEFAULT_TV_WEIGHT, stylize, to_numpy, tv_loss
from nsthelpers.data import content_photo, generated_texture

SSIM_MIN = 0.30  # measured 0.42 (the defaults: balanced, L-BFGS, paint then relax; 30 steps); noise scores ~0.01


@pytest.mark.slow
def test_caffe_stylisation_moves_style_and_keeps_content(caffe_vgg):
    content = content_photo("astronaut", max_size=128)
    style = generated_texture("swirls", 128, seed=0)
    r = stylize(content, style, steps=30, optimizer="lbfgs", weights=caffe_vgg)
    style_drop = r.history["style"][0] / r.history["style"][-1]
    assert style_drop > 5, style_drop  # measured ×9.8 (balanced layers: relu1_1 counts as much as relu4_1)
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
    assert roughness[1.0] == pytest.approx(roughness[0.0], rel=1e-2)  # why the default is not 1 (0.1 % apart)


@pytest.mark.slow
def test_the_defaults_reach_pastiche_on_both_independent_measures_within_their_budget(caffe_vgg):
    """128 px, astronaut × the generated swirls (no download): within stylize's default budget (40 L-BFGS
    evaluations) a picture at least as good as pastiche's 100 steps on both measures appears, judged by
    nsthelpers.measures (pastiche's own VGG19, scikit-image SSIM); the returned one is better on both."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import quality

    from nsthelpers.measures import Judge

    content = content_photo("astronaut", max_size=128)
    style = generated_texture("swirls", 256, seed=0)
    judge = Judge(content, style)
    theirs = judge(quality.run_pastiche(content, style, 100, 100).marks[-1][2])
    kept = {}
    ours = stylize(content, style, weights=caffe_vgg, callback=lambda info: kept.update({info.step: info.image.clone()}),
                   callback_every=5)
    # every 5 evaluations, and at the end of the painting stage (12 of 40, then relaxed)
    assert ours.steps_done == 40 and ours.settings["optimizer"] == "lbfgs"
    assert sorted(kept) == [5, 10, 12, 15, 20, 25, 30, 35, 40]
    judged = {step: judge(image) for step, image in kept.items()}
    good = [step for step, j in judged.items() if j.style <= theirs.style and j.ssim >= theirs.ssim]
    # measured: pastiche style 0.078, SSIM 0.281; ours first as good on both at 35 evaluations (of 40)
    assert good and min(good) <= 35, (theirs, judged)
    final = judge(ours.image)
    # measured 0.052 / 0.365: the returned picture is better than pastiche's on both, by a margin
    assert final.style < 0.8 * theirs.style and final.ssim > theirs.ssim + 0.05, (final, theirs)
