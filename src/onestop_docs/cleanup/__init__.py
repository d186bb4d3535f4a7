"""Page cleanup: thresholds, background normalization, borders, specks and blank pages.

Scan stations feed phone shots and cheap-scanner pages (uneven light, grey or yellow paper,
black scanner borders, dust, bleed-through, red stamps, blue signatures).  This module makes
the archive copy clean (colour is kept for colour input) and produces the binary ink mask
(True = ink) that deskew, duplicate hashing and OCR use.

The building blocks (:func:`otsu_threshold`, :func:`binarize`, :func:`normalize_background`,
:func:`find_content_box`, :func:`remove_borders`, :func:`despeckle`, :func:`detect_blank`)
are public; :func:`clean_page` runs them in order with safe defaults.  The loops live in
the Cython kernels of ``onestop_docs._native.cleanup`` and release the GIL, so a server can
clean two pages on two threads at once.

Conventions (see ``docs/cleanup.md``):

* Input pixels follow :mod:`onestop_docs._validate`: uint8 grey (H, W) or RGB (H, W, 3), or
  a :class:`~onestop_docs.imageio.Page`.  Float images are rejected, never rescaled.
* Resolution: an explicit ``dpi=`` wins, else the Page's dpi (mean of x and y), else
  :data:`DEFAULT_DPI`.  Every size default (window, tile, speck area) scales with it.
* Blank pages are flagged, never dropped: the archive keeps one image per physical page.

Examples
--------
>>> import numpy as np
>>> from onestop_docs.cleanup import CleanOptions, binarize, clean_page, otsu_threshold
>>> page = np.full((60, 80), 230, np.uint8)
>>> page[20:40, 30:34] = 20                      # one dark stroke
>>> otsu_threshold(page)
20
>>> mask = binarize(page, "sauvola", dpi=100)
>>> int(mask.sum()), mask.shape
(80, (60, 80))
>>> result = clean_page(page, CleanOptions(dpi=100))
>>> result.blank.is_blank, result.content_box
(False, Box(x0=0, y0=0, x1=80, y1=60))
"""

from __future__ import annotations

from ._binarize import binarize
from ._clean import (
    BlankCheck,
    CleanOptions,
    CleanResult,
    clean_page,
    detect_blank,
)
from ._regions import (
    BorderResult,
    DespeckleResult,
    despeckle,
    find_content_box,
    normalize_background,
    remove_borders,
)
from ._threshold import (
    DEFAULT_DPI,
    MAX_WINDOW,
    default_window,
    otsu_threshold,
)

__all__ = [
    "DEFAULT_DPI",
    "MAX_WINDOW",
    "BlankCheck",
    "BorderResult",
    "CleanOptions",
    "CleanResult",
    "DespeckleResult",
    "binarize",
    "clean_page",
    "default_window",
    "despeckle",
    "detect_blank",
    "find_content_box",
    "normalize_background",
    "otsu_threshold",
    "remove_borders",
]
