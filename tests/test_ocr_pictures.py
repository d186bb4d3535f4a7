"""Text that Tesseract's page segmentation sets aside as a picture (onestop_docs.ocr._pictures).

A signature area crossed by a seal (con dấu) and a handwritten signature is classed as a
picture by Tesseract's automatic segmentation, and its printed lines (place and date, the
signer's title, "(Ký, ghi rõ họ tên)") are lost.  The page here is rendered with known
text, a grey seal drawn like a real one (two rings, a star, the agency's name around the
ring) and a thick scribble, plus scanner noise; the checks are on the rendered text.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import synth
from PIL import Image, ImageDraw, ImageFont

from onestop_docs.errors import InvalidArgumentError
from onestop_docs.ocr import _TSV_HEADER, _pictures, recognize
from onestop_docs.vntext import cer

BODY = [
    "Chúng tôi cam đoan những lời khai trên đây là đúng sự thật,",
    "việc kết hôn của chúng tôi là tự nguyện, không vi phạm quy định",
    "của Luật Hôn nhân và gia đình.",
]
SIGN = ["Hà Nội, ngày 23 tháng 01 năm 2024", "NGƯỜI YÊU CẦU", "(Ký, ghi rõ họ tên)"]
NAME = "Lý Khánh Vân"
HEAD = "\t".join(_TSV_HEADER)  # the header Tesseract writes, as the library parses it


def _seal(img: Image.Image, cx: int, cy: int, r: int, level: int, font_file: str) -> None:
    """A round seal: outer and inner ring, a star, the agency's name around the ring."""
    d = ImageDraw.Draw(img)
    lw = max(5, r // 30)
    d.ellipse((cx - r, cy - r, cx + r, cy + r), outline=level, width=lw)
    ri = r - int(r * 0.27)
    d.ellipse((cx - ri, cy - ri, cx + ri, cy + ri), outline=level, width=max(3, lw - 2))
    star = []
    for k in range(10):
        a = -math.pi / 2 + k * math.pi / 5
        rr = ri * 0.32 * (1.0 if k % 2 == 0 else 0.4)
        star.append((cx + rr * math.cos(a), cy - ri * 0.35 + rr * math.sin(a)))
    d.polygon(star, fill=level)
    text = "ỦY BAN NHÂN DÂN PHƯỜNG BẾN NGHÉ"
    fpx = max(20, int(r * 0.16))
    fnt = ImageFont.truetype(font_file, fpx)
    rt = (r + ri) / 2
    span = min(1.75 * math.pi, len(text) * fpx * 0.72 / rt)
    for i, ch in enumerate(text):
        if ch == " ":
            continue
        a = -math.pi / 2 - span / 2 + span * (i + 0.5) / len(text)
        glyph = Image.new("L", (fpx * 2, fpx * 2), 0)
        ImageDraw.Draw(glyph).text((fpx, fpx), ch, font=fnt, fill=255, anchor="mm")
        glyph = glyph.rotate(-math.degrees(a) - 90, resample=Image.Resampling.BILINEAR)
        img.paste(
            level, (int(cx + rt * math.cos(a) - fpx), int(cy + rt * math.sin(a) - fpx)), glyph
        )


def _signed_page(seed: int, dpi: int = 300) -> np.ndarray:
    """A 210 x 150 mm page: three body lines, then the signature area under seal and signature."""
    w, h = round(210 / 25.4 * dpi), round(150 / 25.4 * dpi)
    text = Image.new("L", (w, h), 255)
    d = ImageDraw.Draw(text)
    px = round(13 / 72 * dpi)
    font_file = synth.font_path("serif")
    fnt = ImageFont.truetype(font_file, px)
    y = round(20 / 25.4 * dpi)
    for line in BODY:
        d.text((round(25 / 25.4 * dpi), y), line, font=fnt, fill=0)
        y += round(px * 1.5)
    y += px
    cx = w - round(60 / 25.4 * dpi)
    y_sign = y
    for line in SIGN:
        d.text((cx, y), line, font=fnt, fill=0, anchor="ma")
        y += round(px * 1.4)
    y_name = y + 5 * px
    d.text((cx, y_name), NAME, font=fnt, fill=0, anchor="ma")
    rng = np.random.default_rng(seed)
    scribble = Image.new("L", (w, h), 255)
    ds = ImageDraw.Draw(scribble)
    for _ in range(3):
        xs = np.sort(rng.uniform(cx - 260, cx + 260, 8))
        ys = rng.uniform(y + 10, y_name - 20, 8)
        pts = [
            (float(xs[i] + t * (xs[i + 1] - xs[i])), float(ys[i] + t * (ys[i + 1] - ys[i])))
            for i in range(len(xs) - 1)
            for t in np.linspace(0, 1, 12, endpoint=False)
        ]
        ds.line(pts, fill=45, width=6, joint="curve")
    seal = Image.new("L", (w, h), 255)
    _seal(seal, cx - 260, y_sign + 160, 230, 95, font_file)
    page = np.minimum(np.minimum(np.asarray(text), np.asarray(scribble)), np.asarray(seal))
    return synth.add_noise(page, 10, rng)


@pytest.mark.ocr
@pytest.mark.parametrize("seed", [0, 1, 3])
def test_signature_area_under_seal_and_signature_is_read(seed: int) -> None:
    # Tesseract alone (0.1.x) returned the body and the signer's name here, none of the 16
    # words of the place/date, title and "(Ký, ghi rõ họ tên)" lines: CER 0.29.
    page = _signed_page(seed)
    res = recognize(page, dpi=300)
    words = res.text.split()
    truth = "\n".join([*BODY, *SIGN, NAME])
    wanted = " ".join(SIGN).split()
    assert sum(w in words for w in wanted) >= 6, res.text
    # What the second reading adds is text, not the seal's and signature's strokes.
    assert sum(w not in truth.split() for w in words) <= 3, res.text
    assert cer(truth, res.text) <= 0.2, res.text


def test_picture_blocks_are_the_blank_blocks_that_can_hold_text() -> None:
    rows = [
        "2\t1\t1\t0\t0\t0\t100\t50\t900\t60\t-1\t",  # text block
        "5\t1\t1\t1\t1\t1\t100\t50\t300\t60\t96\tCăn",
        "2\t1\t2\t0\t0\t0\t100\t200\t900\t500\t-1\t",  # picture: blank word
        "5\t1\t2\t1\t1\t1\t100\t200\t900\t500\t95\t ",
        "2\t1\t3\t0\t0\t0\t100\t800\t1900\t6\t-1\t",  # a rule: too thin
        "5\t1\t3\t1\t1\t1\t100\t800\t1900\t6\t95\t ",
        "2\t1\t4\t0\t0\t0\t10\t900\t50\t400\t-1\t",  # 4.2 mm wide: too narrow
        "5\t1\t4\t1\t1\t1\t10\t900\t50\t400\t95\t ",
    ]
    blocks = _pictures.picture_blocks("\n".join([HEAD, *rows]), dpi=300)
    assert [(b.key, b.x0, b.y0, b.x1, b.y1) for b in blocks] == [((1, 2), 100, 200, 1000, 700)]
    # At 150 dpi the same pixels are twice the millimetres: the narrow block (8.5 mm) counts.
    assert [b.key for b in _pictures.picture_blocks("\n".join([HEAD, *rows]), dpi=150)] == [
        (1, 2),
        (1, 4),
    ]


def test_splice_keeps_text_and_drops_strokes_and_repeats() -> None:
    page = "\n".join(
        [
            HEAD,
            "5\t1\t1\t1\t1\t1\t400\t100\t120\t40\t96\ttháng",
            "5\t1\t2\t1\t1\t1\t100\t200\t900\t500\t95\t ",
            "5\t1\t3\t1\t1\t1\t100\t200\t500\t300\t95\t ",
        ]
    )
    crop_a = "\n".join(
        [
            HEAD,
            # line 1: kept, kept, a repeat of the first reading's "tháng" (crop at 0, 90)
            "5\t1\t1\t1\t1\t1\t10\t120\t90\t40\t97\tNGƯỜI",
            "5\t1\t1\t1\t1\t2\t110\t120\t60\t40\t93\tYÊU",
            "5\t1\t1\t1\t1\t3\t398\t8\t126\t44\t96\ttháng",
            # line 2: strokes read as text
            "5\t1\t1\t1\t2\t1\t10\t220\t60\t40\t93\t+",
            "5\t1\t1\t1\t2\t2\t80\t220\t20\t40\t93\t9",
            "5\t1\t1\t1\t2\t3\t110\t220\t90\t40\t91\t_Phám",
            "5\t1\t1\t1\t2\t4\t210\t220\t90\t40\t52\tKý;yhi",
            "5\t1\t1\t1\t2\t5\t310\t220\t90\t40\t96\t(Ký,",
        ]
    )
    # The second picture block lies inside the first: its reading repeats "YÊU".
    crop_b = "\n".join([HEAD, "5\t1\t1\t1\t1\t1\t10\t30\t60\t40\t95\tYÊU"])
    out = _pictures.splice_words(page, {(1, 2): (0, 90, crop_a), (1, 3): (100, 180, crop_b)})
    words = [r.split("\t") for r in out.splitlines()[1:]]
    assert [w[11] for w in words] == ["tháng", "NGƯỜI", "YÊU", "(Ký,"]
    # Image coordinates; one new block per line of the second reading, after the last block.
    assert [(w[2], w[6], w[7]) for w in words[1:]] == [
        ("4", "10", "210"),
        ("4", "110", "210"),
        ("5", "310", "310"),
    ]


def test_read_pictures_is_validated() -> None:
    with pytest.raises(InvalidArgumentError, match="read_pictures"):
        recognize(np.full((40, 40), 255, np.uint8), dpi=300, read_pictures="yes")  # type: ignore[arg-type]


def test_splice_drops_a_word_that_took_in_strokes_and_places_lines_by_row() -> None:
    page = "\n".join(
        [
            HEAD,
            "2\t1\t1\t0\t0\t0\t300\t2600\t1200\t60\t-1\t",
            "5\t1\t1\t1\t1\t1\t300\t2600\t300\t60\t96\tnhiệm",
            "2\t1\t2\t0\t0\t0\t1300\t2590\t800\t470\t-1\t",  # the picture
            "5\t1\t2\t1\t1\t1\t1300\t2590\t800\t470\t95\t ",
            "2\t1\t3\t0\t0\t0\t300\t2730\t600\t250\t-1\t",  # "Nơi nhận:" and its list
            "5\t1\t3\t1\t1\t1\t300\t2730\t230\t51\t95\tNơi nhận:",
        ]
    )
    crop = "\n".join(
        [
            HEAD,
            # a line's end, above the list: read before it
            "5\t1\t1\t1\t1\t1\t300\t10\t95\t48\t94.7\tdài.",
            # the title beside "Nơi nhận:": "CÔNG" took in the seal's ring (93 px against 54)
            "5\t1\t1\t1\t2\t1\t480\t100\t140\t93\t93.1\tCÔNG",
            "5\t1\t1\t1\t2\t2\t660\t134\t86\t54\t93.1\tAN",
        ]
    )
    out = _pictures.splice_words(page, {(1, 2): (1300, 2600, crop)})
    words = [r.split("\t")[11] for r in out.splitlines()[1:] if r.startswith("5\t")]
    assert words == ["nhiệm", "dài.", "Nơi nhận:", "AN"]
