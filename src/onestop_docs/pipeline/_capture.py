"""The capture step of :func:`~onestop_docs.digitize` (chụp trang): a phone photo of a sheet
is rectified before cleanup, and gets its resolution from the sheet's paper size.

Off by default (flatbed scans fill the frame); ``DigitizeOptions(capture="auto")`` or the
CLI's ``--capture auto`` turns it on for uploads.  See ``docs/capture.md``.
"""

from __future__ import annotations

from dataclasses import replace

from ..imageio import MIN_DPI, Mode, Page
from ._types import DigitizeOptions

#: What a page report says for each answer of :func:`onestop_docs.capture.rectify` that
#: leaves the photo as it was taken.
_KEPT = {
    "no-page": "no page found in the photo",
    "two-pages": "two pages in one photo",
    "blank": "the sheet in the photo is blank",
}


def capture_page(page: Page, options: DigitizeOptions) -> tuple[Page, str | None, list[str]]:
    """Rectify ``page`` when it is a photo of a sheet: ``(page, capture status, warnings)``.

    The status is None when the step is off, else :attr:`CaptureResult.status
    <onestop_docs.capture.CaptureResult>`: ``"ok"`` and ``"incomplete"`` (corners of the
    sheet outside the photo; a warning says so) replace the page by the rectified sheet
    (RGB for an RGB page, else grey; curled text lines straightened by
    :func:`~onestop_docs.capture.dewarp` where its gates find the page curled) at the
    resolution of its paper size (``dpi_status="assumed"``: the size is
    snapped, A-series aspects to A4); ``"full-frame"`` (a scan, a screenshot) keeps the page
    silently; ``"no-page"``, ``"two-pages"``, ``"blank"`` and a sheet too small for
    :data:`~onestop_docs.imageio.MIN_DPI` keep it with a warning.

    Examples
    --------
    >>> import numpy as np
    >>> photo = np.full((1300, 1000), 60, np.uint8); photo[100:1200, 111:889] = 235
    >>> photo[300:310, 200:700] = 20
    >>> out, status, notes = capture_page(Page(photo), DigitizeOptions(capture="auto"))
    >>> status, out.dpi_status, round(out.dpi[0])
    ('ok', 'assumed', 94)
    """
    if options.capture == "off":
        return page, None, []
    from ..capture import rectify

    res = rectify(page.pixels, color=page.mode == "RGB", dewarp=True)
    if res.page is not None and res.dpi is not None and res.dpi < MIN_DPI:
        return page, res.status, [f"the sheet is too small in the photo ({res.dpi:.0f} dpi)"]
    if res.page is not None and res.dpi is not None:
        mode: Mode = "RGB" if res.page.ndim == 3 else "L"
        out = replace(
            page, pixels=res.page, mode=mode, dpi=(res.dpi, res.dpi), dpi_status="assumed"
        )
        notes = [
            f"photo rectified: the sheet taken as {res.paper}, {res.dpi:.0f} dpi from its size"
        ]
        if res.dewarped:
            notes.append("curled page: its text lines were straightened")
        if res.status == "incomplete":
            notes.append("page incomplete: part of the sheet is outside the photo")
        return out, res.status, notes
    if res.page is not None:
        return page, res.status, ["photo not rectified: the sheet fits no paper size"]
    if res.status in _KEPT:
        return page, res.status, [f"{_KEPT[res.status]}: the page is kept as taken"]
    return page, res.status, []
