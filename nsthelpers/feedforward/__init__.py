"""Feed-forward style transfer: a network paints in one pass (notebook 10).

``fast`` (Johnson et al.'s transformer network, trained per style as in pytorch/examples), ``adain`` (Huang and
Belongie's arbitrary-style AdaIN) and ``trainset`` (the training photos). Imports the core only.
"""
