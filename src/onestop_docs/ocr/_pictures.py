"""Text inside the regions Tesseract's page segmentation set aside as pictures.

Tesseract's automatic segmentation (``--psm 3``) classes a region whose ink does not look
like text lines as a picture and reads nothing in it.  On administrative pages that
region is typically the signature area: the place and date line, the signer's title,
"(Ký, ghi rõ họ tên)" and the signer's name, crossed by a handwritten signature and a
seal (con dấu).  In Tesseract's TSV such a block is one word with blank text spanning
the block (rules and frame lines come out the same way, but thin).

This module finds those blocks (:func:`picture_blocks`), and splices the words of a
second reading of each block's crop, read as one uniform block of text (``--psm 6``),
into the first TSV (:func:`splice_words`).  Only words that look like text are kept
(confidence at least :data:`MIN_CONFIDENCE`, :func:`plausible_word`, not much taller
than their line, not a repeat): the strokes of a signature or a seal's ring read as junk
words of low confidence, single letters or symbols.  See ``docs/ocr.md``, "Text under
signatures and seals", for the measurements.

Everything here works on the TSV text and the coordinates of the image Tesseract read;
callers are in :mod:`onestop_docs.ocr`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..vntext import normalize

#: A blank block is read again only when it is at least this tall (mm): a line of
#: 10 pt text is 3.5 mm; rules and frame lines are under 1 mm.
MIN_HEIGHT_MM = 4.0
#: ... and at least this wide (mm): a short word at 10 pt.
MIN_WIDTH_MM = 8.0
#: Margin (mm) added around the block's box for the second reading, so that letters on its
#: edge are whole.
MARGIN_MM = 0.5
#: Words of the second reading with a lower confidence (0..100) are dropped.
MIN_CONFIDENCE = 90.0
#: A word of the second reading more than this many times as tall as every other word of
#: its line is dropped (Vietnamese words alone range from x-height, "am", to a full stack
#: of ascender, tone mark and descender, "Lý").
MAX_HEIGHT_RATIO = 1.5
#: Punctuation a kept word may start or end with ("(Ký,", "tên)", "2024.").
_EDGE_PUNCT = "([{\"'“‘,.;:!?)]}\"'”’"
#: Inside a kept word, besides letters and digits: dates, codes and abbreviations
#: ("23/01/2024", "KT.", "QLHC-TTXH").
_INNER = frozenset("/.-,:")
#: A word of the second reading whose box shares at least this fraction of the smaller box
#: with a word of the first reading, or of an earlier second reading, repeats it and is
#: dropped (the margin reaches into neighbouring blocks, and picture blocks can overlap).
MAX_SHARED = 0.5


@dataclass(frozen=True)
class PictureBlock:
    """A block of Tesseract's TSV whose only words are blank, in image pixels.

    ``key`` is its ``(page_num, block_num)``; ``x0, y0, x1, y1`` the half-open box.
    """

    key: tuple[int, int]
    x0: int
    y0: int
    x1: int
    y1: int


def _rows(tsv: str) -> list[list[str]]:
    out = []
    for row in tsv.splitlines()[1:]:
        if not row.strip():
            continue
        cols = row.rstrip("\r").split("\t")
        if len(cols) == 11:
            cols.append("")
        out.append(cols)
    return out


def picture_blocks(tsv: str, *, dpi: float) -> list[PictureBlock]:
    """Blocks of ``tsv`` with no word text, large enough to hold a line of text.

    Malformed rows are skipped (the caller parses the TSV strictly afterwards).

    Examples
    --------
    >>> head = "\\t".join(["level", "page_num", "block_num", "par_num", "line_num",
    ...                   "word_num", "left", "top", "width", "height", "conf", "text"])
    >>> tsv = head + "\\n" + "\\n".join([
    ...     "2\\t1\\t1\\t0\\t0\\t0\\t100\\t200\\t900\\t500\\t-1\\t",
    ...     "5\\t1\\t1\\t1\\t1\\t1\\t100\\t200\\t900\\t500\\t95\\t ",
    ...     "2\\t1\\t2\\t0\\t0\\t0\\t100\\t800\\t1900\\t6\\t-1\\t",
    ...     "5\\t1\\t2\\t1\\t1\\t1\\t100\\t800\\t1900\\t6\\t95\\t "])
    >>> picture_blocks(tsv, dpi=300)
    [PictureBlock(key=(1, 1), x0=100, y0=200, x1=1000, y1=700)]
    """
    px_mm = dpi / 25.4
    boxes: dict[tuple[int, int], tuple[int, int, int, int]] = {}
    texted: set[tuple[int, int]] = set()
    for cols in _rows(tsv):
        if len(cols) != 12 or cols[0] not in ("2", "5"):
            continue
        try:
            key = (int(cols[1]), int(cols[2]))
            left, top, w, h = (int(c) for c in cols[6:10])
        except ValueError:
            continue
        if cols[0] == "2":
            boxes[key] = (left, top, left + w, top + h)
        elif cols[11].strip():
            texted.add(key)
    return [
        PictureBlock(key, *box)
        for key, box in boxes.items()
        if key not in texted
        and box[3] - box[1] >= MIN_HEIGHT_MM * px_mm
        and box[2] - box[0] >= MIN_WIDTH_MM * px_mm
    ]


def plausible_word(text: str) -> bool:
    """Whether a word of the second reading looks like text, not like strokes read as text.

    Its core (without :data:`_EDGE_PUNCT` at either end) has at least two letters or
    digits and nothing else but ``/ . - , :`` between them: a signature's loops come out
    as single letters ("h", "ơ", "9") and as letters glued to symbols ("_Phám", "=>", "+").

    Examples
    --------
    >>> [plausible_word(w) for w in ("(Ký,", "tên)", "23/01/2024", "AN", "9", "_Phám", "+")]
    [True, True, True, True, False, False, False]
    """
    core = text.strip(_EDGE_PUNCT)
    return sum(ch.isalnum() for ch in core) >= 2 and all(
        ch.isalnum() or ch in _INNER for ch in core
    )


def margin_px(dpi: float) -> int:
    """The crop margin in pixels at ``dpi``."""
    return max(1, round(MARGIN_MM * dpi / 25.4))


def _shared(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Their intersection as a fraction of the smaller of boxes ``a`` and ``b``."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    area = max(1, min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1])))
    return max(0, w) * max(0, h) / area


def splice_words(tsv: str, rereads: dict[tuple[int, int], tuple[int, int, str]]) -> str:
    """``tsv`` with the blank word of each re-read block replaced by the second reading's words.

    ``rereads`` maps a block key to ``(x, y, crop_tsv)``: the crop's top-left corner in the
    image and Tesseract's TSV of the crop.  Kept words (:data:`MIN_CONFIDENCE`,
    :func:`plausible_word`, at most :data:`MAX_HEIGHT_RATIO` times as tall as every other
    word of their line, not repeating a word already read) replace the blank word, in image
    coordinates and NFC.  Each line of the second reading gets a new block number of its
    own (after the TSV's last) and is put before the first block of the TSV that starts
    below its centre (at the end if none does).

    Examples
    --------
    >>> head = "\\t".join(["level", "page_num", "block_num", "par_num", "line_num",
    ...                   "word_num", "left", "top", "width", "height", "conf", "text"])
    >>> page = head + "\\n5\\t1\\t3\\t1\\t1\\t1\\t100\\t200\\t900\\t500\\t95\\t "
    >>> crop = head + "\\n" + "\\n".join([
    ...     "5\\t1\\t1\\t1\\t1\\t1\\t10\\t20\\t90\\t40\\t96.5\\tNGƯỜI",
    ...     "5\\t1\\t1\\t1\\t1\\t2\\t110\\t20\\t60\\t40\\t41.0\\tx=w",
    ...     "5\\t1\\t1\\t1\\t1\\t3\\t180\\t20\\t60\\t40\\t93.0\\t+"])
    >>> out = splice_words(page, {(1, 3): (95, 195, crop)}).splitlines()
    >>> len(out), out[1].split("\\t")
    (2, ['5', '1', '4', '1', '1', '1', '105', '215', '90', '40', '96.5', 'NGƯỜI'])
    """
    lines = tsv.splitlines()
    if not lines:
        return tsv
    first: list[tuple[int, int, int, int]] = []
    last_block = 0
    for cols in _rows(tsv):
        if len(cols) == 12 and cols[0] in ("2", "5"):
            try:
                left, top, w, h = (int(c) for c in cols[6:10])
                last_block = max(last_block, int(cols[2]))
            except ValueError:
                continue
            if cols[0] == "5" and cols[11].strip():
                first.append((left, top, left + w, top + h))
    # Each line of a second reading becomes a block of its own: psm 6 imposed one block on
    # the crop, so its lines are placed by the reading-order step one by one (a signer's
    # title beside "Nơi nhận:" is read on that row, as on the page).
    new_lines: dict[tuple[tuple[int, int], int, int, int], list[list[str]]] = {}
    line_block: dict[tuple[tuple[int, int], int, int, int], int] = {}
    for key, (x, y, crop_tsv) in rereads.items():
        for c in _rows(crop_tsv):
            if len(c) != 12 or c[0] != "5":
                continue
            text = normalize(c[11]).strip()
            try:
                conf = float(c[10])
                block, par, line, word = (int(v) for v in c[2:6])
                left, top, w, h = (int(v) for v in c[6:10])
            except ValueError:
                continue
            if conf < MIN_CONFIDENCE or not plausible_word(text):
                continue
            box = (left + x, top + y, left + x + w, top + y + h)
            # Picture blocks can overlap (a seal's block inside the signature's): a word
            # another reading already gave is not repeated.
            if any(_shared(box, b) >= MAX_SHARED for b in first):
                continue
            first.append(box)
            line_key = (key, block, par, line)
            if line_key not in new_lines:
                new_lines[line_key] = []
                line_block[line_key] = last_block + len(new_lines)
            place = (str(box[0]), str(box[1]), str(w), str(h))
            new_lines[line_key].append(
                [str(key[0]), str(line_block[line_key]), "1", "1", str(word), *place, c[10], text]
            )
    # A word much taller than all the other words of its line took in strokes of the seal
    # or the signature: its letters are suspect and its box would misplace the line.
    for line_key, ws in list(new_lines.items()):
        if len(ws) > 1:
            hs = [int(v[8]) for v in ws]
            kept = [
                v for i, v in enumerate(ws) if hs[i] <= MAX_HEIGHT_RATIO * max(hs[:i] + hs[i + 1 :])
            ]
            new_lines[line_key] = kept
    # Tesseract's order of the blocks is the tie-breaker of the reading-order step: a new
    # line goes before the first block (in that order) that starts below its centre, so
    # that a line no rule places (a line's end beside a list, say) keeps its row.
    pending = [
        ((min(int(v[6]) for v in ws) + max(int(v[6]) + int(v[8]) for v in ws)) / 2, ws)
        for ws in new_lines.values()
    ]
    out = [lines[0]]
    seen: set[tuple[str, str]] = set()
    for row in lines[1:]:
        cols = row.rstrip("\r").split("\t")
        if len(cols) >= 11 and cols[0] in ("2", "5") and (cols[1], cols[2]) not in seen:
            seen.add((cols[1], cols[2]))
            if cols[7].lstrip("-").isdigit():
                top = int(cols[7])
                out.extend("5\t" + "\t".join(v) for yc, ws in pending if yc < top for v in ws)
                pending = [(yc, ws) for yc, ws in pending if yc >= top]
        if len(cols) >= 11 and cols[0] == "5" and (len(cols) == 11 or not cols[11].strip()):
            try:
                if (int(cols[1]), int(cols[2])) in rereads:
                    continue  # the picture's blank word: its text is in the new lines
            except ValueError:
                pass
        out.append(row)
    out.extend("5\t" + "\t".join(v) for _, ws in pending for v in ws)
    return "\n".join(out)
