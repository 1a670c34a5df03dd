"""The ``nst`` command line: ``nst stylize`` and ``nst weights`` (``main``), ``nst fast`` (``fast``) and
``nst video`` (``video``). A front end: imports the core and the feature subpackages it runs.
"""
from __future__ import annotations

from .commands import main

__all__ = ["main"]
