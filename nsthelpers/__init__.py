"""nsthelpers: the helper package behind the nst-notebooks series (neural style transfer with VGG19).

Notebooks import the names in ``__all__`` from here, and the subpackages by name.

**The core** is the modules at the top of the package, the path a reader follows: ``images`` (load, resize,
save) → ``vgg`` (VGG19 with named layers and its weights) → ``features``, ``gram``, ``losses`` (activations,
Gram matrices, loss terms) → ``specs`` (every option of a run, checked once) → ``targets`` (one module per style
statistic, its targets held as buffers) → ``objective`` (the loss as a module) → ``starts`` (where each scale
starts) → ``loop`` (``optimize``: Adam or L-BFGS on the pixels, the short loop to read first; ``step_hook``
holds what makes it fast on a GPU: CUDA graphs, bf16, channels_last, checkpoints) → ``stages`` (a run's plan,
scales × paint/relax stages, and the one function that runs it) → ``transfer`` (``stylize``: images in, picture
out) and ``batch`` (``stylize_batch``). Beside the path: ``settings`` (device, weights, run-size profile),
``checks`` (argument checks), ``color``, ``masks``, ``memory``, ``plan`` (memory and time before any work),
``checkpoint``, ``outputs`` (never losing a user's work), ``evaluate`` (scores), ``measures`` (the two
independent judges, which import nothing from the package) and ``session`` (``setup()``).

**The subpackages**, in tiers: ``data`` (sample images); then ``viz`` (figures), ``feedforward`` (networks that
paint in one pass), ``video`` and ``deepdives`` (modules only the deep dives use); then the front ends
``widgets`` (ipywidgets, the style lab, the live preview), ``cli`` (the ``nst`` command) and ``grading`` (the
assignments' checks).

**The rule** (:data:`SUBPACKAGE_TIERS`; ``tests/test_architecture.py`` enforces it): the core imports no
subpackage, and no module imports in a cycle; a subpackage imports the core, its own modules and the
subpackages of lower tiers, never one beside it. This file and ``__main__`` are the doors: they import from
anywhere, and nothing imports them.
"""
from __future__ import annotations

from . import data, evaluate, masks
from .features import extract_features, extract_features_with_hooks
from .gram import GRAM_NORMALIZATIONS, gram_matrix
from .images import (
    ImageLoadError,
    caffe_deprocess,
    caffe_preprocess,
    imagenet_denormalize,
    imagenet_normalize,
    load_image,
    match_size,
    resize_max_side,
    save_image,
    to_numpy,
    to_pil,
)
from .losses import content_loss, mean_cov, mean_cov_loss, style_layer_loss, style_loss, tv_loss
from .settings import PROFILES, default_device, default_size, default_weights, pick, profile, quick_mode
from .session import setup
from .color import combine_luminance, luminance, match_color_histogram, match_luminance, rgb_to_yiq, yiq_to_rgb
from .memory import OutOfMemory, estimate_bytes
from .gram import masked_gram
from .objective import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS, DEFAULT_STYLE_WEIGHT, DEFAULT_TV_WEIGHT, Objective
from .specs import LossSpec, PictureSpec, RunSpec
from .loop import StepInfo, StopOptimization, StyleResult, optimize
from .transfer import preview, stylize
from .batch import stylize_batch
from .vgg import (
    CONV_LAYERS,
    LAYER_INDEX,
    LAYER_NAMES,
    LayerInfo,
    VGG19Features,
    WeightsUnavailableError,
    deepest_layer,
    layer_index,
    layer_table,
    load_vgg19,
    normalise_vgg19,
    save_features_file,
)

__version__ = "0.1.0"

#: The subpackages in tiers, lowest first: a subpackage may import the core and the subpackages of lower tiers.
SUBPACKAGE_TIERS: tuple[tuple[str, ...], ...] = (
    ("data",),
    ("viz", "feedforward", "video", "deepdives"),
    ("widgets", "cli", "grading"),
)

__all__ = [
    "data", "evaluate", "masks", "CONV_LAYERS", "DEFAULT_CONTENT_LAYERS", "DEFAULT_STYLE_LAYERS", "DEFAULT_STYLE_WEIGHT",
    "DEFAULT_TV_WEIGHT", "GRAM_NORMALIZATIONS", "ImageLoadError",
    "LAYER_INDEX", "LAYER_NAMES", "LayerInfo", "Objective", "StepInfo", "StopOptimization", "StyleResult",
    "VGG19Features", "WeightsUnavailableError", "caffe_deprocess", "caffe_preprocess", "content_loss",
    "deepest_layer", "default_device", "default_weights", "extract_features", "extract_features_with_hooks",
    "gram_matrix", "imagenet_denormalize", "imagenet_normalize", "layer_index", "layer_table", "load_image",
    "load_vgg19", "normalise_vgg19", "match_size", "mean_cov", "mean_cov_loss", "optimize", "pick", "quick_mode",
    "resize_max_side", "save_features_file", "save_image", "setup", "style_layer_loss", "style_loss",
    "stylize", "to_numpy", "to_pil", "tv_loss", "combine_luminance", "luminance", "match_color_histogram",
    "match_luminance", "rgb_to_yiq", "yiq_to_rgb", "OutOfMemory", "estimate_bytes", "masked_gram", "preview",
    "LossSpec", "RunSpec", "PictureSpec", "PROFILES", "profile", "stylize_batch", "default_size",
]
