"""nsthelpers: the helper package behind the nst-notebooks series (neural style transfer with VGG19).

Notebooks import only the names listed in ``__all__``.
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
from .settings import default_device, default_weights, pick, quick_mode
from .session import setup
from .color import combine_luminance, luminance, match_color_histogram, match_luminance, rgb_to_yiq, yiq_to_rgb
from .memory import OutOfMemory, estimate_bytes
from .objective import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS, DEFAULT_STYLE_WEIGHT, DEFAULT_TV_WEIGHT, Objective, masked_gram
from .loop import StepInfo, StopOptimization, StyleResult, optimize
from .transfer import preview, stylize
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
    "load_vgg19", "match_size", "mean_cov", "mean_cov_loss", "optimize", "pick", "quick_mode",
    "resize_max_side", "save_features_file", "save_image", "setup", "style_layer_loss", "style_loss",
    "stylize", "to_numpy", "to_pil", "tv_loss", "combine_luminance", "luminance", "match_color_histogram",
    "match_luminance", "rgb_to_yiq", "yiq_to_rgb", "OutOfMemory", "estimate_bytes", "masked_gram", "preview",
]
