"""benchmarks/: the seed-003 reference loss against an independent computation, and a tiny end-to-end bench run."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
import torch

from nsthelpers.vgg import Preprocess, VGG19Features

BENCH_DIR = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH_DIR))
import bench  # noqa: E402
from nsthelpers.deepdives import reference as ref  # noqa: E402



@pytest.fixture(autouse=True)
def one_thread():
    """32-px VGG passes are tiny: one thread avoids OpenMP spin-waiting when the CPU is shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


REF_TO_RELU = {"conv1_1": "relu1_1", "conv2_1": "relu2_1", "conv3_1": "relu3_1", "conv4_1": "relu4_1",
               "conv4_2": "relu4_2", "conv5_1": "relu5_1"}


def independent_loss(feats, content_feats, style_feats, cw=1.0, sw=1e6):
    """The seed's loss written out again in float64 with einsum: content at conv4_2, style at all six layers."""
    def gram(f):
        f = f.double()[0]
        return torch.einsum("chw,dhw->cd", f, f)

    content = ((feats["conv4_2"].double() - content_feats["conv4_2"].double()) ** 2).mean()
    style = sum(((gram(feats[k]) - gram(style_feats[k])) ** 2).mean() / gram(style_feats[k]).numel()
                for k in REF_TO_RELU)
    return (cw * content + sw * style).item(), content.item(), style.item()


def test_reference_loss_terms_on_tiny_tensors(rng):
    shapes = {"conv1_1": (1, 3, 4, 4), "conv2_1": (1, 4, 3, 3), "conv3_1": (1, 5, 2, 2), "conv4_1": (1, 2, 2, 2),
              "conv4_2": (1, 2, 2, 2), "conv5_1": (1, 3, 1, 1)}
    feats, cfeats, sfeats = ({k: torch.randn(s, generator=rng) for k, s in shapes.items()} for _ in range(3))
    grams = {k: ref.gram_matrix(v) for k, v in sfeats.items()}
    total, content, style = ref.reference_loss_terms(feats, cfeats, grams, 1, 1e6)
    exp_total, exp_content, exp_style = independent_loss(feats, cfeats, sfeats)
    assert content.item() == pytest.approx(exp_content, rel=1e-5)
    assert style.item() == pytest.approx(exp_style, rel=1e-5)
    assert total.item() == pytest.approx(exp_total, rel=1e-5)
    # a gram by hand on the smallest tensor: F Fᵀ, no normalisation
    f = sfeats["conv5_1"].view(3, 1)
    assert torch.allclose(grams["conv5_1"], f @ f.t())


def _check_reference_score(model, rng, space="imagenet"):
    content, style, image = (torch.rand(1, 3, 32, 32, generator=rng) for _ in range(3))
    loss = ref.ReferenceLoss(model, content, style, space=space)
    names = list(REF_TO_RELU.values())
    # the independent path: nsthelpers' own (not in-place) model, relu outputs by name
    f, cf, sf = (model(x, names) for x in (image, content, style))
    rename = lambda d: {k: d[v] for k, v in REF_TO_RELU.items()}  # noqa: E731
    expected = independent_loss(rename(f), rename(cf), rename(sf))[0]
    assert loss.score(image) == pytest.approx(expected, rel=1e-4)
    # scoring clips to [0, 1] first, as a user sees the picture
    assert loss.score(image * 3 - 1) == pytest.approx(loss.score((image * 3 - 1).clamp(0, 1)))
    # to_rgb inverts from_rgb
    assert torch.allclose(loss.input.to_rgb(loss.input.from_rgb(image)), image, atol=1e-5)
    return loss


def test_reference_score_matches_independent_computation(random_vgg, rng):
    """In-place ReLUs make the seed's 'conv' features the relu outputs; six style layers incl. conv4_2."""
    loss = _check_reference_score(random_vgg, rng)
    assert len(loss.vgg) == 37 and all(m.inplace for m in loss.vgg if isinstance(m, torch.nn.ReLU))
    assert list(loss.style_grams) == list(REF_TO_RELU)
    assert loss.input.identity  # ImageNet-convention weights: exactly the seed's normalised input


@pytest.mark.parametrize("space", ref.SPACES)
def test_reference_with_caffe_convention_sees_the_models_input(random_vgg, rng, space):
    caffe_like = VGG19Features(list(random_vgg.layers), Preprocess("caffe"), "random-caffe")
    loss = _check_reference_score(caffe_like, rng, space)
    assert loss.input.identity == (space == "model")


@pytest.mark.parametrize("convention", ["imagenet", "caffe"])
def test_reference_objective_is_the_seeds_loss(random_vgg, rng, convention):
    """The package's Objective set up as seed 003's loss: same value and same gradient as ReferenceLoss."""
    model = random_vgg if convention == "imagenet" else VGG19Features(list(random_vgg.layers), Preprocess("caffe"), "rc")
    content, style, image = (torch.rand(1, 3, 32, 32, generator=rng) for _ in range(3))
    loss = ref.ReferenceLoss(model, content, style)
    objective = ref.reference_objective(model, content, style)
    assert objective.tv_weight == 0 and objective.style_weight == 1e6 and objective.gram_normalize == "none"
    x = image.clone().requires_grad_(True)
    total = objective(x)["total"]
    assert float(total.detach()) == pytest.approx(loss.score(image), rel=1e-5)
    # the gradient with respect to the [0, 1] picture: through the seed's normalised variable z
    (grad,) = torch.autograd.grad(total, x)
    z = loss.input.from_rgb(image).requires_grad_(True)
    (grad_z,) = torch.autograd.grad(loss.terms(z)[0], z)
    grad_ref = grad_z / loss.input.std  # z = (rgb - mean) / std
    assert torch.allclose(grad, grad_ref, rtol=1e-3, atol=1e-6 * float(grad_ref.abs().max()))


def test_reference_loop_lowers_its_loss(random_vgg, rng):
    content, style = (torch.rand(1, 3, 32, 32, generator=rng) for _ in range(2))
    loss = ref.ReferenceLoss(random_vgg, content, style)
    steps = []
    run = ref.run_reference(loss, 3, lr=0.05, step_callback=steps.append)
    assert steps == [1, 2, 3]
    assert run.image.shape == content.shape and 0 <= run.image.min() and run.image.max() <= 1
    assert loss.score(run.image) < loss.score(content)


def _positive_numbers(obj, path="res"):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _positive_numbers(v, f"{path}.{k}")
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield path, obj


def test_quick_bench_end_to_end(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Benchmarks\n\nintro\n\n{bench.BEGIN}\nold table\n{bench.END}\n\n## After\nkept\n")
    res = bench.main(["--quick", "--weights", "random", "--device", "cpu", "--sizes", "32", "--target-size", "32",
                      "--ref-steps", "3", "--stylize-steps", "20", "--threads", "1",
                      "--out", str(tmp_path / "results"), "--readme", str(readme)])
    path = Path(res["json_path"])
    assert path.parent == tmp_path / "results" and path.name.startswith("cpu-") and path.name.endswith("-quick.json")
    data = json.loads(path.read_text())
    for key in ("schema", "date", "device", "weights", "reference", "params", "memory_method", "sizes",
                "time_to_target", "quick", "command"):
        assert key in data, key
    assert data["quick"] is True and data["weights"] == "random" and data["device"]["type"] == "cpu"
    assert data["device"]["name"]
    (row,) = data["sizes"]
    assert row["size"] == 32
    for loop in ("reference", "stylize"):
        assert row[loop]["ms_per_step"] > 0 and row[loop]["peak_mb"] is not None and row[loop]["peak_mb"] >= 0
        assert row[loop]["rounds_ms_per_step"] and min(row[loop]["rounds_ms_per_step"]) == row[loop]["ms_per_step"]
    assert row["speedup"] > 0
    t = data["time_to_target"]
    assert t["reference"]["steps"] == 3 and t["reference"]["seconds"] > 0
    assert t["reference"]["target_loss"] > 0 and t["reference"]["initial_loss"] > 0
    assert t["stylize"]["steps"] > 0 and t["stylize"]["seconds"] > 0 and t["stylize"]["trace"]
    assert (t["ratio"] or t["ratio_lower_bound"]) > 0
    if t["stylize"]["reached"]:
        assert t["step_ratio"] > 0 and t["ratio_cpu_time"] > 0
    assert row["speedup_cpu_time"] > 0 and row["reference"]["cpu_ms_per_step"] > 0
    same = t["same_loss"]  # the package's loop on the seed's own loss
    # lr 0.05 on [0, 1] pixels moves ~70x further per step than the seed's 0.003 on normalised ones
    assert same["reached"] and same["ratio"] > 0 and same["trace"] and same["trace"][-1][1] <= t["reference"]["target_loss"]
    assert "the reference's loss" in readme.read_text()
    for where, value in _positive_numbers({k: t[k] for k in ("reference",)}):
        assert math.isfinite(value) and value > 0, where
    text = readme.read_text()
    assert "old table" not in text and "intro" in text and "## After\nkept" in text
    assert "| 32² |" in text and "speed-up" in text and data["device"]["name"] in text


def test_out_of_memory_is_reported_not_raised():
    def oom():
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    def cpu_oom():
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory")

    def bug():
        raise RuntimeError("shape mismatch")

    cpu = torch.device("cpu")
    assert bench.guarded(oom, cpu) == "OOM" and bench.guarded(cpu_oom, cpu) == "OOM"
    with pytest.raises(RuntimeError, match="shape mismatch"):
        bench.guarded(bug, cpu)
    res = {"device": {"type": "cuda", "name": "GPU X", "torch": "2"}, "date": "2000-01-01", "weights": "caffe",
           "params": {"timed": 50, "warmup": 10, "target_size": 2048}, "command": "bench", "memory_method": "m",
           "sizes": [{"size": 2048, "reference": "OOM", "stylize": {"ms_per_step": 10.0, "peak_mb": 5.0},
                      "speedup": None, "memory_ratio": None}],
           "time_to_target": "OOM"}
    text = bench.markdown(res)
    assert "| 2048² | OOM | 10 | — |" in text and "2048²: OOM" in text
