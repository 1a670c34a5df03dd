"""Modules only the deep dives use (``notebooks/deep_dives/``): measurements and alternatives, not the engine.

``reference`` (the common blog recipe's loop, for comparison), ``speed`` (timing and speed-up figures),
``amp`` (mixed precision), ``peak_memory``, ``backbones`` (other networks than VGG19), ``finetune``
(fine-tuning VGG19 on textures), ``loss_modules`` (the loss-as-layers pattern) and ``quantization`` (the 8-bit
weights against float ones). Imports the core only.
"""
