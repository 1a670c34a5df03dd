"""nsthelpers.feedforward.trainset: the offline photos, and random multi-scale crops with flips and colour jitter."""
import pytest
import torch

from nsthelpers.feedforward import trainset
from nsthelpers.feedforward.trainset import TrainingCrops


def test_held_out_photos_are_never_trained_on_and_every_photo_is_in_colour():
    assert len(trainset.HELD_OUT_PHOTOS) == 2 and len(trainset.TRAINING_PHOTOS) == 9
    assert not set(trainset.HELD_OUT_PHOTOS) & set(trainset.TRAINING_PHOTOS)
    assert {src for src, _ in trainset.PHOTO_SOURCES.values()} == {"scikit-image", "scikit-learn", "matplotlib"}
    for name in trainset.PHOTO_SOURCES:
        image = trainset.photo(name, max_size=64)
        assert image.shape[:2] == (1, 3) and max(image.shape[-2:]) == 64
        assert (image[:, 0] - image[:, 1]).abs().mean() > 0.01, f"{name} looks grey"
    with pytest.raises(ValueError, match="unknown photo"):
        trainset.photo("nope")


def _ramp(h=120, w=200):
    """A photo whose red channel is x / (w - 1): crops reveal their scale (slope) and flips (sign)."""
    x = torch.linspace(0, 1, w).expand(h, w)
    return torch.stack([x, torch.full((h, w), 0.5), torch.full((h, w), 0.5)])[None]


def test_crops_come_at_several_scales_with_flips():
    crops = TrainingCrops([_ramp()], size=32, jitter=0.0, seed=0)
    slopes = []
    for _ in range(40):
        c = crops.crop()
        assert c.shape == (1, 3, 32, 32) and c.min() >= 0 and c.max() <= 1
        row = c[0, 0, 16]
        slopes.append(float(row[-5] - row[4]) / 23 * 199)   # photo pixels per crop pixel, signed
    sides = [abs(s) for s in slopes]
    assert all(0.98 < s < 120 / 32 + 0.02 for s in sides)   # a crop is 32 … 120 photo pixels wide
    assert min(sides) < 1.5 and max(sides) > 3.0            # and both ends of that range occur
    flipped = sum(s < 0 for s in slopes)
    assert 8 <= flipped <= 32


def test_colour_jitter_changes_brightness_contrast_saturation_within_bounds():
    grey_card = torch.tensor([0.3, 0.5, 0.7]).view(1, 3, 1, 1).expand(1, 3, 40, 40).contiguous()
    crops = TrainingCrops([grey_card], size=32, jitter=0.2, seed=3)
    means = torch.stack([crops.crop().mean((2, 3))[0] for _ in range(30)])
    brightness = means.mean(1) / 0.5                      # contrast and saturation keep the mean grey
    spread = (means[:, 2] - means[:, 0]) / 0.4            # blue − red: brightness × contrast × saturation
    assert brightness.min() >= 0.8 - 1e-4 and brightness.max() <= 1.2 + 1e-4 and brightness.std() > 0.05
    assert spread.min() >= 0.8 ** 3 - 1e-4 and spread.max() <= 1.2 ** 3 + 1e-4 and spread.std() > 0.05
    plain = TrainingCrops([grey_card], size=32, jitter=0.0, seed=3).crop()
    assert torch.allclose(plain.mean((2, 3))[0], torch.tensor([0.3, 0.5, 0.7]), atol=1e-5)


def test_same_seed_same_crops_other_seed_other_crops():
    a = TrainingCrops(size=48, seed=5).batch(3)
    b = TrainingCrops(size=48, seed=5).batch(3)
    c = TrainingCrops(size=48, seed=6).batch(3)
    assert a.shape == (3, 3, 48, 48) and torch.equal(a, b) and not torch.equal(a, c)


def test_bad_arguments_are_clear():
    with pytest.raises(ValueError, match="smaller than size"):
        TrainingCrops([torch.rand(1, 3, 20, 40)], size=32)
    with pytest.raises(ValueError, match="empty"):
        TrainingCrops([], size=32)
    with pytest.raises(ValueError, match="jitter"):
        TrainingCrops(size=32, jitter=2)
