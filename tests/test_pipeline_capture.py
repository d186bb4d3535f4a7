"""The capture step of digitize: phone photos rectified before cleanup (DigitizeOptions.capture)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_capture import _photo, _turned_a4

from onestop_docs import errors
from onestop_docs.imageio import Page, save_page
from onestop_docs.pipeline import DigitizeOptions, digitize

CODE = "000.00.00.H27-260101-0001"
AGENCY = "000.00.00.H27"


def _upload(folder: Path, pixels: np.ndarray, dpi: float | None = None) -> Path:
    folder.mkdir()
    save_page(Page(pixels, dpi=None if dpi is None else (dpi, dpi)), folder / "photo.png")
    return folder


def test_photo_is_rectified_and_gets_the_resolution_of_its_sheet(tmp_path: Path) -> None:
    # A phone photo without a recorded resolution: the capture step finds the sheet, turns
    # it upright at the A4 aspect and takes the resolution from the A4 height.
    corners = _turned_a4(1240, 6.0, (600, 750))
    folder = _upload(tmp_path / "in", _photo(corners))
    rec = digitize(
        folder, out_dir=tmp_path / "out", dossier_code=CODE, agency=AGENCY,
        options=DigitizeOptions(ocr=False, capture="auto"),
    )  # fmt: skip
    page = rec.pages[0]
    assert page.capture == "ok"
    assert page.height / page.width == pytest.approx(2**0.5, rel=0.01)
    # the sheet's side in the photo is 1240 px: 1240 px over 297 mm
    assert page.dpi is not None and page.dpi[0] == pytest.approx(1240 / (297 / 25.4), rel=0.02)
    assert page.dpi_status == "assumed"
    assert any("rectified" in w for w in page.warnings)


def test_capture_is_off_by_default(tmp_path: Path) -> None:
    # Flatbed scans are the default: the same photo without a resolution fails the job, as
    # any page without one does.
    folder = _upload(tmp_path / "in", _photo(_turned_a4(1240, 6.0, (600, 750))))
    assert DigitizeOptions().capture == "off"
    with pytest.raises(errors.PipelineError):
        digitize(
            folder, out_dir=tmp_path / "out", dossier_code=CODE, agency=AGENCY,
            options=DigitizeOptions(ocr=False),
        )  # fmt: skip


def test_photo_with_a_cut_off_sheet_and_without_a_sheet_are_typed(tmp_path: Path) -> None:
    cut = _photo(_turned_a4(1420, 9.0, (600, 750)))
    rng = np.random.default_rng(3)
    texture = np.clip(rng.normal(120, 25, (900, 700)), 0, 255).astype(np.uint8)
    texture[400:410, 100:600] = 0  # some ink, so the page is not blank
    a = _upload(tmp_path / "a", cut)
    b = _upload(tmp_path / "b", texture, dpi=150)
    opts = DigitizeOptions(ocr=False, capture="auto")
    rec_a = digitize(a, out_dir=tmp_path / "oa", dossier_code=CODE, agency=AGENCY, options=opts)
    assert rec_a.pages[0].capture == "incomplete"
    assert any("incomplete" in w for w in rec_a.pages[0].warnings)
    rec_b = digitize(b, out_dir=tmp_path / "ob", dossier_code=CODE, agency=AGENCY, options=opts)
    assert rec_b.pages[0].capture in ("no-page", "full-frame")
    assert rec_b.pages[0].dpi == (150.0, 150.0)  # kept as taken
    with pytest.raises(errors.InvalidArgumentError):
        DigitizeOptions(capture="yes")  # type: ignore[arg-type]


def test_capture_step_keeps_an_rgb_upload_in_colour() -> None:
    from onestop_docs.pipeline._capture import capture_page

    photo = np.full((1300, 1000, 3), (60, 70, 80), np.uint8)
    photo[100:1200, 111:889] = (235, 230, 225)
    photo[300:310, 200:700] = (200, 30, 40)  # a red line of text
    photo[500:510, 200:700] = 20
    out, status, _ = capture_page(Page(photo, mode="RGB"), DigitizeOptions(capture="auto"))
    assert status == "ok" and out.mode == "RGB" and out.pixels.ndim == 3
    red = out.pixels[:, :, 0].astype(int) - out.pixels[:, :, 1]
    assert red.max() > 100  # the red line is still red
