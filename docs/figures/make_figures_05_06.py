"""Make the pictures shown in the first cells of notebooks 05 and 06 (small JPEGs in this folder).

    PYTHONPATH=. python docs/figures/make_figures_05_06.py             # 256-px runs, a few minutes on 2 CPU cores
    PYTHONPATH=. python docs/figures/make_figures_05_06.py --quick --out /tmp/figs   # tiny, for the test

Uses the real paintings when they are cached (``NSTHELPERS_CACHE``), else the generated stand-ins; every
title says which (``data.style_label``). The runs are the package's defaults (``nst.stylize``, the style lab).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

import nsthelpers as nst  # noqa: E402
from nsthelpers import data  # noqa: E402
from nsthelpers.widgets.lab import StyleLab  # noqa: E402

HERE = Path(__file__).resolve().parent
NAMES = ("05_style_transfer_loop", "06_style_lab")
STYLE = "starry_night"


def save_jpeg(fig, path: Path, dpi: int) -> Path:
    """Write ``fig`` as a compact JPEG and close it."""
    fig.savefig(path, dpi=dpi, pil_kwargs={"quality": 82, "optimize": True}, bbox_inches="tight")
    plt.close(fig)
    return path


def _box(ax, xy: tuple[float, float], text: str, color: str, width: float = 0.17, height: float = 0.15) -> None:
    x, y = xy
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.01",
                                facecolor=color, edgecolor="0.3", linewidth=1))
    ax.text(x, y, text, ha="center", va="center", fontsize=8.5)


def _arrow(ax, start: tuple[float, float], end: tuple[float, float], text: str = "", bend: float = 0.0) -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, color="0.25",
                                 connectionstyle=f"arc3,rad={bend}"))
    if text:
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.04 + bend * 0.5, text, ha="center",
                fontsize=7.5, color="0.25")


def loop_figure(model, out: Path, size: int, steps: int, dpi: int) -> Path:
    """05: the loss pipeline (pixels → VGG19 → content, style and TV terms → gradient → pixels) and its result."""
    photo = data.content_photo("astronaut", max_size=size)
    painting = data.style_image(STYLE, max_size=size)
    result = nst.stylize(photo, painting, weights=model, steps=steps)
    fig = plt.figure(figsize=(13, 3.6))
    diagram = fig.add_axes((0.0, 0.0, 0.62, 1.0))
    diagram.set_xlim(0, 1)
    diagram.set_ylim(0, 1)
    diagram.axis("off")
    _box(diagram, (0.09, 0.6), "pixels x\n(starts as the photo)", "#fde9c8")
    _box(diagram, (0.31, 0.6), "VGG19\n(frozen)", "#d9e6f5")
    _box(diagram, (0.55, 0.88), "content: mse(F, P)\nat relu4_2", "#e3f1dc")
    _box(diagram, (0.55, 0.6), "style: Σ_l mse(G_l, A_l)\n/ mean(A_l²)", "#f6dede")
    _box(diagram, (0.55, 0.32), "TV: mean squared\nneighbour difference", "#ece3f3")
    _box(diagram, (0.84, 0.6), "total =\nα·content + β·style\n+ γ·TV", "#eeeeee", height=0.2)
    _arrow(diagram, (0.18, 0.6), (0.22, 0.6))
    for y in (0.88, 0.6):
        _arrow(diagram, (0.40, 0.6), (0.46, y))
    _arrow(diagram, (0.12, 0.52), (0.46, 0.32))  # TV reads the pixels themselves
    for y in (0.88, 0.6, 0.32):
        _arrow(diagram, (0.64, y), (0.75, 0.6))
    diagram.plot([0.84, 0.84, 0.09], [0.49, 0.1, 0.1], color="0.25", linewidth=1.2)
    _arrow(diagram, (0.09, 0.1), (0.09, 0.52))
    diagram.text(0.47, 0.13, "gradient ∂total/∂x (backward pass) → an L-BFGS or Adam step on the pixels, kept in [0, 1]",
                 ha="center", fontsize=8, color="0.2")
    for k, (img, title) in enumerate([(photo, "content photo"), (painting, data.style_label(STYLE)),
                                      (result.image, f"result ({result.image.shape[-1]} px, defaults)")]):
        ax = fig.add_axes((0.63 + 0.125 * k, 0.12, 0.12, 0.76))
        ax.imshow(nst.to_numpy(img))
        ax.set_title(title.replace(" (", "\n("), fontsize=8)
        ax.axis("off")
    return save_jpeg(fig, out / f"{NAMES[0]}.jpg", dpi)


def lab_figure(model, out: Path, size: int, steps: int, dpi: int) -> Path:
    """06: what the lab's knobs do: the default run, less style, deep layers only, 100× TV (StyleLab runs)."""
    photo = data.content_photo("astronaut", max_size=size)
    lab = StyleLab(model, photo, styles=[STYLE])
    r0 = lab.default_log10_ratio
    variants = {
        "defaults": {},
        f"log10 style/content {r0 - 2:.0f} (100× less style)": {"log10_ratio": r0 - 2},
        "deep layers only (relu4_1, relu5_1)": {"style_layer_weights": {"relu1_1": 0, "relu2_1": 0, "relu3_1": 0}},
        "TV weight × 100": {"tv_weight": 100 * lab.default_tv_weight},
    }
    results = {name: lab.run(style=STYLE, size=size, steps=steps, **kw) for name, kw in variants.items()}
    fig, axes = plt.subplots(1, 1 + len(results), figsize=(2.7 * (1 + len(results)), 3.1))
    axes[0].imshow(nst.to_numpy(lab.style_at(STYLE, size)))
    axes[0].set_title(data.style_label(STYLE).replace(" (", "\n("), fontsize=8)
    for ax, (name, r) in zip(axes[1:], results.items()):
        ax.imshow(nst.to_numpy(r.image))
        ax.set_title(name.replace(" (", "\n("), fontsize=8)
    for ax in axes:
        ax.axis("off")
    fig.suptitle(f"the style lab: one knob changed per picture ({size} px, {steps} L-BFGS steps each)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return save_jpeg(fig, out / f"{NAMES[1]}.jpg", dpi)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny runs (for the test)")
    parser.add_argument("--out", type=Path, default=HERE, help="folder for the JPEGs")
    args = parser.parse_args(argv)
    size, steps, dpi = (64, 4, 60) if args.quick else (256, 40, 90)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = nst.load_vgg19()
    for make in (lambda: loop_figure(model, args.out, size, steps, dpi), lambda: lab_figure(model, args.out, size, steps, dpi)):
        t0 = time.perf_counter()
        path = make()
        print(f"{path} ({path.stat().st_size // 1024} KiB) in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
