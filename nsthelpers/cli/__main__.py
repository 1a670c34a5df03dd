"""``python -m nsthelpers.cli``: the ``nst`` command line (also ``python -m nsthelpers``)."""
from __future__ import annotations

import sys

from .commands import main

if __name__ == "__main__":
    sys.exit(main())
