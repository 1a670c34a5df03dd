"""Make the pictures shown in the first cells of notebooks 01–04 (small JPEGs in this folder).

    PYTHONPATH=. python docs/figures/make_figures.py            # 256-px runs, ~10 minutes on 2 CPU cores
    PYTHONPATH=. python docs/figures/make_figures.py --quick --out /tmp/figs   # tiny, for the test

Uses the real paintings when they are cached (``NSTHELPERS_CACHE``), else the generated stand-ins; every
title says which (``data.style_label``). Each figure is drawn by the same package calls as its notebook.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import torch

import nsthelpers as nst
from nsthelpers import data, viz
from nsthelpers.viz import diagrams

HERE = Path(__file__).resolve().parent
NAMES = ("01_vgg19_pipeline", "02_feature_maps", "03_gram_matrices", "04_reconstructions")


def _save(fig, path: Path, dpi: int) -> Path:
    fig.savefig(path, dpi=dpi, pil_kwargs={"quality": 82, "optimize": True}, bbox_inches="tight")
    plt.close(fig)
    return path


def pipeline_figure(out: Path, dpi: int) -> Path:
    """01: VGG19's blocks for a 224×224 input and where the loss reads them."""
    return _save(diagrams.vgg19_pipeline((224, 224)), out / f"{NAMES[0]}.jpg", dpi)


def feature_maps_figure(model, out: Path, size: int, dpi: int) -> Path:
    """02: the photo, the 9 strongest channels of relu1_1 and of relu3_1 (as notebook 02, section 1)."""
    photo = data.content_photo("astronaut", max_size=size)
    with torch.no_grad():
        acts = model(photo, ["relu1_1", "relu3_1"])
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.2))
    axes[0].imshow(nst.to_numpy(photo))
    axes[0].set_title(f"astronaut, {photo.shape[-1]}×{photo.shape[-2]}", fontsize=10)
    for ax, layer in zip(axes[1:], acts):
        a = acts[layer]
        ax.imshow(viz.feature_grid_array(a, channels=viz.top_channels(a, 9)), cmap="gray")
        ax.set_title(f"{layer}: 9 strongest of {a.shape[1]} channels, {a.shape[2]}×{a.shape[3]} each", fontsize=10)
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    return _save(fig, out / f"{NAMES[1]}.jpg", dpi)


def gram_figure(model, out: Path, size: int, dpi: int) -> Path:
    """03: the painting and its five style layers' Gram matrices, as cosine similarities with the channels
    reordered by clustering (notebook 03, sections 7 and 9: the reordering makes the blocks visible)."""
    painting = data.style_image("starry_night", max_size=size)
    with torch.no_grad():
        acts = model(painting, list(nst.DEFAULT_STYLE_LAYERS))
    fig, axes = plt.subplots(1, 1 + len(acts), figsize=(2.6 * (1 + len(acts)), 2.9))
    axes[0].imshow(nst.to_numpy(painting))
    axes[0].set_title(data.style_label("starry_night").replace(" (", "\n("), fontsize=9)
    axes[0].axis("off")
    for ax, (layer, a) in zip(axes[1:], acts.items()):
        g = nst.gram_matrix(a)[0]
        viz.gram_heatmap(g, ax, scale="corr", order=viz.order_channels(g), colorbar=False,
                         title=f"{layer} ({g.shape[0]}×{g.shape[0]})")
    fig.suptitle("Gram matrices as channel similarities, channels reordered", fontsize=10)
    fig.tight_layout()
    return _save(fig, out / f"{NAMES[2]}.jpg", dpi)


def reconstructions_figure(model, out: Path, size: int, steps: int, dpi: int) -> Path:
    """04: content reconstructions from three layers, textures from 1, 3 and 5 layers (nst.stylize, L-BFGS)."""
    photo = data.content_photo("astronaut", max_size=size)
    painting = data.style_image("starry_night", max_size=size)
    common = {"init": "noise", "steps": steps, "optimizer": "lbfgs", "weights": model, "seed": 0, "tv_weight": 0}
    content = {layer: nst.stylize(photo, photo, content_layers=[layer], style_layers=[], style_weight=0, **common)
               for layer in ("relu1_2", "relu3_2", "relu5_2")}
    layers = list(nst.DEFAULT_STYLE_LAYERS)
    style = {k: nst.stylize(painting, painting, content_layers=[], content_weight=0, style_layers=layers[:k], **common)
             for k in (1, 3, 5)}
    fig, axes = plt.subplots(2, 4, figsize=(12, 6.4))
    rows = [(photo, "photo", [(f"from {n}", r.image) for n, r in content.items()]),
            (painting, data.style_label("starry_night"),
             [(f"Gram of {', '.join(layers[:k]) if k < 3 else f'relu1_1 … {layers[k - 1]}'}", r.image)
              for k, r in style.items()])]
    for row, (original, title, results) in enumerate(rows):
        for ax, (name, image) in zip(axes[row], [(title, original)] + results):
            ax.imshow(nst.to_numpy(image))
            ax.set_title(name, fontsize=9)
            ax.axis("off")
    fig.suptitle(f"reconstructions from noise: {size} px, {steps} L-BFGS evaluations each", fontsize=10)
    fig.tight_layout()
    return _save(fig, out / f"{NAMES[3]}.jpg", dpi)


def make_all(out: Path, *, quick: bool = False, only: list[str] | None = None) -> dict[str, Path]:
    """Write the four JPEGs (or those named in ``only``) into ``out``; print the time each took."""
    out.mkdir(parents=True, exist_ok=True)
    model = nst.load_vgg19("caffe", device="cpu")
    size, steps, dpi = (64, 5, 50) if quick else (256, 120, 80)
    jobs = {
        NAMES[0]: lambda: pipeline_figure(out, dpi),
        NAMES[1]: lambda: feature_maps_figure(model, out, 64 if quick else 384, dpi),
        NAMES[2]: lambda: gram_figure(model, out, size, dpi),
        NAMES[3]: lambda: reconstructions_figure(model, out, size, steps, dpi),
    }
    written = {}
    for name, job in jobs.items():
        if only and name not in only:
            continue
        t0 = time.perf_counter()
        written[name] = job()
        print(f"{written[name]}: {time.perf_counter() - t0:.1f} s, {written[name].stat().st_size / 1024:.0f} KiB")
    return written


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=HERE, help="folder for the JPEGs (default: docs/figures)")
    parser.add_argument("--quick", action="store_true", help="tiny pictures, for tests")
    parser.add_argument("--only", nargs="*", choices=NAMES, help="make only these figures")
    args = parser.parse_args()
    make_all(args.out, quick=args.quick, only=args.only)
