"""Transfer learning (nsthelpers.deepdives.finetune): the dataset's splits are disjoint, freezing is what it says, the
loss network is never touched, and the texture classifier learns."""
import pytest
import torch

from nsthelpers.data import TEXTURES
from nsthelpers.deepdives.finetune import (
    TextureClassifier,
    accuracy,
    texture_dataset,
    train_classifier,
)


def test_dataset_is_balanced_deterministic_and_splits_are_disjoint():
    x, y = texture_dataset(3, 32)
    assert x.shape == (3 * len(TEXTURES), 3, 32, 32) and y.tolist() == [k for k in range(len(TEXTURES)) for _ in range(3)]
    assert torch.equal(x, texture_dataset(3, 32)[0])
    test, _ = texture_dataset(3, 32, split="test")
    assert not any(torch.equal(a, b) for a in x for b in test)
    plain, _ = texture_dataset(3, 32, shuffle_colours=False)
    assert sorted(plain[0].flatten().tolist()) == sorted(x[0].flatten().tolist())   # the same picture, channels permuted
    with pytest.raises(ValueError, match="split"):
        texture_dataset(1, 32, split="val")


def test_freezing_and_the_loss_network_is_untouched(caffe_vgg):
    tuned = TextureClassifier(caffe_vgg, train_from=10)
    assert all(not p.requires_grad for p in tuned.features[:10].parameters())
    assert all(p.requires_grad for p in tuned.features[10:].parameters()) and tuned.head.out_features == len(TEXTURES)
    frozen = TextureClassifier(caffe_vgg, train_from=None)
    assert not any(p.requires_grad for p in frozen.features.parameters())
    before = [p.clone() for p in caffe_vgg.parameters()]
    x, y = texture_dataset(1, 32)
    train_classifier(tuned, x, y, epochs=1, features_lr=1e-2)
    assert all(torch.equal(a, b) for a, b in zip(before, caffe_vgg.parameters()))
    assert not torch.equal(tuned.features[10].weight, caffe_vgg.layers[10].weight)    # the copy was tuned
    assert torch.equal(tuned.features[0].weight, caffe_vgg.layers[0].weight)          # the frozen part was not
    with pytest.raises(ValueError, match="train_from"):
        TextureClassifier(caffe_vgg, train_from=99)


def test_texture_classifier_learns(caffe_vgg):
    """Quick-mode size: 8 training pictures per family at 32 px, 3 epochs. Chance is 1/5 = 0.2; the
    fine-tuned classifier must reach at least 0.6 on 50 held-out pictures (chance + 0.4)."""
    torch.manual_seed(0)
    xtr, ytr = texture_dataset(8, 32)
    xte, yte = texture_dataset(10, 32, split="test")
    model = TextureClassifier(caffe_vgg, train_from=10)
    losses = train_classifier(model, xtr, ytr, epochs=3)
    assert losses[-1] < losses[0]
    assert accuracy(model, xte, yte) >= 1 / len(TEXTURES) + 0.4
