"""Synthetic test pages: Vietnamese text rendered with an installed font, plus degradations.

Every test that needs a scan generates it here instead of shipping binaries.  Ground truth
comes with the page: the clean ink mask, the text of each line and the box of each word.

Fonts come from Debian packages installed by ``.ci/run`` (fonts-dejavu-core,
fonts-liberation2, fonts-noto-core).  Angles follow the library's convention: positive =
content rotated counter-clockwise (text lines rising to the right).
"""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIRS = [Path("/usr/share/fonts/truetype"), Path("/usr/share/fonts/opentype")]
_FONT_CANDIDATES = {
    # Liberation 1.x (Debian fonts-liberation) lacks Vietnamese glyphs; Liberation 2 has them.
    "serif": [
        "liberation2/LiberationSerif-Regular.ttf",
        "noto/NotoSerif-Regular.ttf",
        "dejavu/DejaVuSerif.ttf",
    ],
    "sans": [
        "dejavu/DejaVuSans.ttf",
        "noto/NotoSans-Regular.ttf",
        "liberation2/LiberationSans-Regular.ttf",
    ],
    "serif-bold": [
        "liberation2/LiberationSerif-Bold.ttf",
        "noto/NotoSerif-Bold.ttf",
        "dejavu/DejaVuSerif-Bold.ttf",
    ],
}

PAPER_MM = {
    "A4": (210.0, 297.0),
    "A5": (148.0, 210.0),
    "A6": (105.0, 148.0),
    "letter": (215.9, 279.4),
}

#: Administrative Vietnamese with every tone mark and the letters ơ ư đ (NFC).
VI_LINES = [
    "ỦY BAN NHÂN DÂN TỈNH HÀ TĨNH",
    "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
    "Độc lập - Tự do - Hạnh phúc",
    "Số: 223/KH-UBND",
    "Hà Tĩnh, ngày 30 tháng 6 năm 2021",
    "KẾ HOẠCH",
    "Số hóa hồ sơ, kết quả giải quyết thủ tục hành chính",
    "Thực hiện Quyết định số 468/QĐ-TTg ngày 27/3/2021 của Thủ tướng Chính phủ",
    "về phê duyệt Đề án đổi mới việc thực hiện cơ chế một cửa, một cửa liên thông",
    "trong giải quyết thủ tục hành chính, Ủy ban nhân dân tỉnh ban hành Kế hoạch",
    "triển khai thực hiện trên địa bàn tỉnh như sau: bảo đảm người dân không phải",
    "nộp lại giấy tờ đã được số hóa; mỗi hồ sơ được cấp mã số và lưu trữ điện tử.",
    "Các sở, ban, ngành cấp tỉnh; Ủy ban nhân dân cấp huyện, cấp xã chịu trách nhiệm",
    "tổ chức tiếp nhận, số hóa và trả kết quả tại Bộ phận Một cửa theo quy định.",
    "Người dân được hướng dẫn tận tình, chu đáo; cán bộ kiểm tra đầy đủ thành phần.",
    "Dữ liệu đặc tả gồm: mã hồ sơ, mã thủ tục, số định danh cá nhân, ngày ban hành.",
    "Kết quả số hóa được ký số bởi cán bộ sao chụp tại góc trên bên trái trang đầu.",
    "Văn phòng Ủy ban nhân dân tỉnh theo dõi, đôn đốc, tổng hợp và báo cáo định kỳ.",
    "Trong quá trình thực hiện, nếu có khó khăn, vướng mắc, các đơn vị phản ánh kịp thời.",
    "Nơi nhận: Như trên; Chủ tịch, các Phó Chủ tịch UBND tỉnh; Lưu: VT, KSTTHC.",
    "TM. ỦY BAN NHÂN DÂN KT. CHỦ TỊCH PHÓ CHỦ TỊCH Nguyễn Văn Ạnh Đặng Thị Ưởng",
    "Ông bà ạ ị ọ ụ ẹ ỵ ấ ầ ẩ ẫ ậ ơ ờ ớ ở ỡ ợ ư ừ ứ ử ữ ự đ Đ ễ ệ ổ ỗ ộ",
]


def font_path(kind: str = "serif") -> str:
    """Return the path of an installed TrueType font of ``kind`` ("serif", "sans", "serif-bold")."""
    for rel in _FONT_CANDIDATES[kind]:
        for d in FONT_DIRS:
            p = d / rel
            if p.exists():
                return str(p)
    raise RuntimeError(
        f"no {kind} font installed: apt-get install fonts-dejavu-core fonts-liberation"
    )


@dataclass
class SynthPage:
    """A generated page with ground truth."""

    gray: np.ndarray  # uint8 (H, W), white paper, black text
    ink: np.ndarray  # bool (H, W): True where the clean text has ink (rendered value < 128)
    dpi: int
    lines: list[str]
    line_boxes: list[tuple[int, int, int, int]] = field(default_factory=list)  # x0, y0, x1, y1
    word_boxes: list[tuple[str, tuple[int, int, int, int]]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def render_page(
    lines: list[str] | None = None,
    *,
    dpi: int = 300,
    paper: str | tuple[float, float] = "A4",
    font_pt: float = 12.0,
    margin_mm: float = 20.0,
    font: str = "serif",
    line_spacing: float = 1.5,
    landscape: bool = False,
    max_lines: int | None = None,
) -> SynthPage:
    """Render Vietnamese text lines on a white page of the given paper size and resolution.

    The text repeats ``lines`` (default :data:`VI_LINES`) until the page is full, unless
    ``max_lines`` limits it.  All text is NFC.
    """
    w_mm, h_mm = PAPER_MM[paper] if isinstance(paper, str) else paper
    if landscape:
        w_mm, h_mm = h_mm, w_mm
    W, H = round(w_mm / 25.4 * dpi), round(h_mm / 25.4 * dpi)
    src = [unicodedata.normalize("NFC", s) for s in (lines or VI_LINES)]
    img = Image.new("L", (W, H), 255)
    draw = ImageDraw.Draw(img)
    size_px = max(6, round(font_pt / 72.0 * dpi))
    fnt = ImageFont.truetype(font_path(font), size_px)
    margin = round(margin_mm / 25.4 * dpi)
    step = round(size_px * line_spacing)
    y = margin
    out_lines: list[str] = []
    line_boxes: list[tuple[int, int, int, int]] = []
    word_boxes: list[tuple[str, tuple[int, int, int, int]]] = []
    space_w = draw.textlength(" ", font=fnt)
    i = 0
    while y + step < H - margin and (max_lines is None or len(out_lines) < max_lines):
        text = src[i % len(src)]
        i += 1
        # Trim the line to the text width.
        words = text.split(" ")
        kept: list[str] = []
        x = float(margin)
        for wd in words:
            wl = draw.textlength(wd, font=fnt)
            if x + wl > W - margin:
                break
            kept.append(wd)
            x += wl + space_w
        if not kept:
            break
        x = float(margin)
        for wd in kept:
            draw.text((x, y), wd, font=fnt, fill=0)
            bb = draw.textbbox((x, y), wd, font=fnt)
            word_boxes.append((wd, (int(bb[0]), int(bb[1]), int(bb[2]), int(bb[3]))))
            x += draw.textlength(wd, font=fnt) + space_w
        lb = draw.textbbox((margin, y), " ".join(kept), font=fnt)
        line_boxes.append((int(lb[0]), int(lb[1]), int(lb[2]), int(lb[3])))
        out_lines.append(" ".join(kept))
        y += step
    gray = np.asarray(img, dtype=np.uint8).copy()
    return SynthPage(
        gray=gray,
        ink=gray < 128,
        dpi=dpi,
        lines=out_lines,
        line_boxes=line_boxes,
        word_boxes=word_boxes,
    )


def rotate(
    img: np.ndarray,
    angle_deg: float,
    *,
    fill: int = 255,
    expand: bool = False,
    resample: int = Image.BICUBIC,
) -> np.ndarray:
    """Rotate counter-clockwise by ``angle_deg`` (the library's sign convention) with Pillow."""
    mode = "RGB" if img.ndim == 3 else "L"
    fillv = (fill, fill, fill) if mode == "RGB" else fill
    im = Image.fromarray(img, mode=mode).rotate(
        angle_deg, resample=resample, expand=expand, fillcolor=fillv
    )
    return np.asarray(im, dtype=np.uint8).copy()


def add_noise(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Additive Gaussian noise (grey levels)."""
    out = img.astype(np.float32) + rng.normal(0.0, sigma, img.shape).astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)


def add_specks(
    img: np.ndarray,
    n: int,
    rng: np.random.Generator,
    *,
    radius: int = 1,
    keep_out: np.ndarray | None = None,
    min_dist: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Add ``n`` isolated black dots of ``radius`` px; returns (image, speck mask).

    ``keep_out`` (bool) marks pixels where specks may not land within ``min_dist`` px
    (e.g. the text mask), so the specks are truly isolated.
    """
    out = img.copy()
    H, W = img.shape[:2]
    mask = np.zeros((H, W), bool)
    placed = 0
    tries = 0
    while placed < n and tries < n * 50:
        tries += 1
        cy, cx = int(rng.integers(radius, H - radius)), int(rng.integers(radius, W - radius))
        if keep_out is not None and min_dist > 0:
            y0, y1 = max(0, cy - min_dist), min(H, cy + min_dist + 1)
            x0, x1 = max(0, cx - min_dist), min(W, cx + min_dist + 1)
            if keep_out[y0:y1, x0:x1].any() or mask[y0:y1, x0:x1].any():
                continue
        yy, xx = np.ogrid[-radius : radius + 1, -radius : radius + 1]
        disk = (yy * yy + xx * xx) <= radius * radius
        sl = (slice(cy - radius, cy + radius + 1), slice(cx - radius, cx + radius + 1))
        mask[sl] |= disk
        placed += 1
    if out.ndim == 3:
        out[mask] = 0
    else:
        out[mask] = 0
    return out, mask


def uneven_light(img: np.ndarray, strength: float = 0.5, *, paper: int = 235) -> np.ndarray:
    """Multiply by a smooth illumination field (dark corner) and grey the paper."""
    H, W = img.shape[:2]
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    field_ = 1.0 - strength * (0.6 * xx / W + 0.4 * yy / H) ** 1.5
    base = img.astype(np.float32) * (paper / 255.0)
    if img.ndim == 3:
        field_ = field_[:, :, None]
    return np.clip(base * field_, 0, 255).astype(np.uint8)


def blur(img: np.ndarray, radius: float) -> np.ndarray:
    """Gaussian blur with Pillow."""
    mode = "RGB" if img.ndim == 3 else "L"
    return np.asarray(
        Image.fromarray(img, mode).filter(ImageFilter.GaussianBlur(radius)), dtype=np.uint8
    ).copy()


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """Round-trip through JPEG at ``quality``."""
    mode = "RGB" if img.ndim == 3 else "L"
    buf = io.BytesIO()
    Image.fromarray(img, mode).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())), dtype=np.uint8).copy()


def dark_border(
    img: np.ndarray,
    *,
    top: int = 0,
    bottom: int = 0,
    left: int = 0,
    right: int = 0,
    value: int = 20,
) -> np.ndarray:
    """Paint black scanner borders of the given widths (pixels)."""
    out = img.copy()
    H, W = out.shape[:2]
    if top:
        out[:top] = value
    if bottom:
        out[H - bottom :] = value
    if left:
        out[:, :left] = value
    if right:
        out[:, W - right :] = value
    return out


def ragged_border(
    img: np.ndarray,
    sides: str,
    rng: np.random.Generator,
    *,
    depth: float,
    wander: float,
    value: float = 25.0,
) -> np.ndarray:
    """Paint dark scanner borders along ``sides`` ("l", "t", "r", "b") whose depth (pixels)
    wanders along the side by a random walk (steps of 0.4 pixel) kept within ``wander``
    of ``depth``; the border's grey is ``value`` with noise of 3 levels."""
    out = img.astype(np.float64)
    h, w = out.shape
    yy, xx = np.mgrid[0:h, 0:w]
    dark = np.zeros((h, w), bool)
    for side in sides:
        d = depth + np.cumsum(rng.normal(0, 0.4, h if side in "lr" else w)).clip(-wander, wander)
        if side == "l":
            dark |= xx < d[:, None]
        elif side == "r":
            dark |= xx >= w - d[:, None]
        elif side == "t":
            dark |= yy < d[None, :]
        else:
            dark |= yy >= h - d[None, :]
    out[dark] = value + rng.normal(0, 3, int(dark.sum()))
    return np.clip(out, 0, 255).astype(np.uint8)


def to_color(gray: np.ndarray, *, paper_rgb: tuple[int, int, int] = (250, 246, 232)) -> np.ndarray:
    """Colour scan of a grey page: tinted paper, black ink."""
    g = gray.astype(np.float32) / 255.0
    rgb = np.stack([g * c for c in paper_rgb], axis=2)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def add_stamp(
    rgb: np.ndarray,
    center: tuple[int, int],
    radius: int,
    *,
    color: tuple[int, int, int] = (200, 30, 40),
    width: int = 6,
) -> np.ndarray:
    """Draw a red seal ring (con dấu) on a colour page."""
    im = Image.fromarray(rgb, "RGB")
    d = ImageDraw.Draw(im)
    cx, cy = center
    d.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), outline=color, width=width)
    d.ellipse(
        (cx - radius // 2, cy - radius // 2, cx + radius // 2, cy + radius // 2),
        outline=color,
        width=width // 2,
    )
    return np.asarray(im, dtype=np.uint8).copy()


def add_signature(
    rgb: np.ndarray,
    origin: tuple[int, int],
    *,
    size: int = 200,
    color: tuple[int, int, int] = (30, 50, 190),
    seed: int = 0,
) -> np.ndarray:
    """Draw a blue scribble (chữ ký) on a colour page."""
    rng = np.random.default_rng(seed)
    im = Image.fromarray(rgb, "RGB")
    d = ImageDraw.Draw(im)
    x0, y0 = origin
    pts = [
        (x0 + int(t), y0 + int(size * 0.25 * np.sin(t / size * 12) + rng.normal(0, 4)))
        for t in np.linspace(0, size, 40)
    ]
    d.line(pts, fill=color, width=max(2, size // 60))
    return np.asarray(im, dtype=np.uint8).copy()


def png_bytes(img: np.ndarray, dpi: int | None = None) -> bytes:
    """Encode as PNG (with dpi when given)."""
    mode = "RGB" if img.ndim == 3 else "L"
    buf = io.BytesIO()
    kw = {"dpi": (dpi, dpi)} if dpi else {}
    Image.fromarray(img, mode).save(buf, format="PNG", **kw)
    return buf.getvalue()


def perspective_coeffs(out_pts: np.ndarray, in_pts: np.ndarray) -> tuple[float, ...]:
    """The 8 coefficients of Pillow's ``Image.PERSPECTIVE`` transform (it maps each output
    pixel to an input pixel) that take the four ``out_pts`` to the four ``in_pts``, solved
    with numpy: independent of the project's own homography code."""
    a, b = [], []
    for (x, y), (u, v) in zip(out_pts, in_pts):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        b += [u, v]
    return tuple(float(c) for c in np.linalg.solve(np.array(a, float), np.array(b, float)))
