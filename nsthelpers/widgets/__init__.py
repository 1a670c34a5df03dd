"""The interactive front ends: ipywidgets for the notebooks, the style lab and the live preview.

``explorers`` (feature maps, notebook 02; Gram entries, 03), ``preview`` (the live preview, 05), ``lab_panel``
(the style lab's controls, 06), ``blend`` (two styles mixed by a slider, 07), and the plain objects behind
them: ``lab`` (:class:`~nsthelpers.widgets.lab.StyleLab`, a lab without widgets) and ``live`` (an optimisation
run in the background, step by step). The widgets are re-exported here: notebooks call
``widgets.feature_map_explorer``.

Each widget only wires controls to plain functions (in :mod:`nsthelpers.viz` and the core), which the tests call
directly; every widget can also be driven without a browser by setting its controls' ``.value`` (the notebooks
do this to check themselves). A front end: imports the core, ``data`` and ``viz``.
"""
from __future__ import annotations

from .blend import BlendExplorer
from .explorers import FeatureMapExplorer, GramEntryExplorer, feature_map_explorer, gram_entry_explorer
from .lab_panel import StyleLabWidget, style_lab
from .preview import LivePreview

__all__ = [
    "BlendExplorer",
    "FeatureMapExplorer",
    "GramEntryExplorer",
    "LivePreview",
    "StyleLabWidget",
    "feature_map_explorer",
    "gram_entry_explorer",
    "style_lab",
]
