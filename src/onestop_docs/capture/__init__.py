"""Page capture (chụp trang bằng điện thoại): find the sheet in a phone photo, correct the
perspective to the sheet's true aspect, flatten the lighting and give the page a resolution.

A kiosk app or the upload path calls :func:`rectify` on a photo; flatbed scans do not need
it (their paper fills the frame: :func:`find_page` answers ``"full-frame"``).  The page is
rectified by its four corners; ``rectify(..., dewarp=True)`` also straightens curled text
lines with :func:`dewarp`, and ``color=True`` keeps an RGB photo in colour (see
``docs/capture.md``).

Examples
--------
>>> import numpy as np
>>> photo = np.full((600, 800), 60, np.uint8)          # dark table
>>> photo[100:524, 250:550] = 235                      # a sheet, 300 x 424 px
>>> photo[150:160, 280:500] = 20                       # one line of text
>>> res = rectify(photo)
>>> res.status, res.paper, abs(res.page.shape[0] - 424) < 6
('ok', 'A4', True)
"""

from __future__ import annotations

from ._dewarp import DewarpResult, dewarp
from ._find import PAPER_MM, PageQuad, Status, find_page
from ._rectify import CaptureResult, rectify

__all__ = [
    "PAPER_MM",
    "CaptureResult",
    "DewarpResult",
    "PageQuad",
    "Status",
    "dewarp",
    "find_page",
    "rectify",
]
