"""Generated form pages for the duplicate-detection tests (helpers only, no tests).

One template, many fillings.

``form_lines(rng, template)`` fills a Vietnamese administrative form (same labels and
layout, different names, ID numbers, dates and addresses); ``rescan(img, dpi, rng)``
simulates scanning the same paper again (skew, crop and shift, noise, JPEG, dark border,
binarization).
"""

from __future__ import annotations

import numpy as np
import synth

SURNAMES = [
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
]
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Ngọc", "Thanh", "Quang", "Thu", "Hoài", "Gia"]
GIVEN = [
    "An",
    "Bình",
    "Chi",
    "Dũng",
    "Giang",
    "Hà",
    "Hải",
    "Hạnh",
    "Hiếu",
    "Hoa",
    "Hùng",
    "Khánh",
    "Lan",
    "Linh",
    "Long",
    "Mai",
    "Nam",
    "Nga",
    "Phúc",
    "Quân",
    "Sơn",
    "Tâm",
    "Thảo",
    "Trang",
    "Tuấn",
    "Vy",
    "Yến",
    "Xuân Trường",
    "Bảo Ngọc",
]
PLACES = [
    "Hà Nội",
    "Hải Phòng",
    "Đà Nẵng",
    "Huế",
    "Cần Thơ",
    "Nghệ An",
    "Hà Tĩnh",
    "Quảng Ninh",
    "Thanh Hóa",
    "Bình Định",
    "Đồng Nai",
    "Lâm Đồng",
    "TP. Hồ Chí Minh",
]
STREETS = [
    "Lê Lợi",
    "Trần Phú",
    "Nguyễn Huệ",
    "Hai Bà Trưng",
    "Lý Thường Kiệt",
    "Điện Biên Phủ",
    "Phan Đình Phùng",
    "Quang Trung",
    "Bà Triệu",
    "Hùng Vương",
]

TEMPLATES = [
    (
        "TỜ KHAI ĐĂNG KÝ KHAI SINH",
        [
            "Họ, chữ đệm, tên:",
            "Ngày, tháng, năm sinh:",
            "Nơi sinh:",
            "Số định danh cá nhân:",
            "Họ tên người đi khai:",
            "Nơi cư trú:",
        ],
    ),
    (
        "ĐƠN ĐỀ NGHỊ CẤP BẢN SAO",
        [
            "Người đề nghị:",
            "Số CCCD:",
            "Ngày cấp:",
            "Địa chỉ:",
            "Giấy tờ đề nghị sao:",
            "Số lượng bản sao:",
        ],
    ),
    (
        "TỜ KHAI THAY ĐỔI THÔNG TIN CƯ TRÚ",
        [
            "Họ và tên:",
            "Ngày sinh:",
            "Số định danh:",
            "Nơi thường trú:",
            "Nội dung đề nghị:",
            "Chủ hộ:",
        ],
    ),
]


def _name(rng: np.random.Generator) -> str:
    return f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"


def _value(label: str, rng: np.random.Generator) -> str:
    low = label.lower()
    if "ngày" in low:
        return f"{rng.integers(1, 29):02d}/{rng.integers(1, 13):02d}/{rng.integers(1950, 2024)}"
    if "số" in low and "lượng" not in low:
        return "".join(str(d) for d in rng.integers(0, 10, 12))
    if "lượng" in low:
        return f"{rng.integers(1, 10):02d} bản"
    if "nơi" in low or "địa chỉ" in low:
        return f"Số {rng.integers(1, 300)} {rng.choice(STREETS)}, {rng.choice(PLACES)}"
    if "giấy tờ" in low or "nội dung" in low:
        return str(
            rng.choice(
                [
                    "Giấy khai sinh",
                    "Bằng tốt nghiệp",
                    "Sổ hộ khẩu",
                    "Chuyển đến nơi ở mới",
                    "Tách hộ",
                    "Xác nhận cư trú",
                ]
            )
        )
    return _name(rng)


def form_lines(rng: np.random.Generator, template: int = 0) -> list[str]:
    """The text lines of one filled copy of form ``template``."""
    title, labels = TEMPLATES[template % len(TEMPLATES)]
    lines = ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "", title, ""]
    lines += [f"{label} {_value(label, rng)}" for label in labels]
    lines += [
        "",
        "Tôi cam đoan những nội dung khai trên đây là đúng sự thật.",
        f"{rng.choice(PLACES)}, ngày {rng.integers(1, 29)} tháng {rng.integers(1, 13)} "
        f"năm {rng.integers(2015, 2026)}",
        "NGƯỜI KHAI",
        _name(rng),
    ]
    return lines


def render_form(lines: list[str], dpi: int) -> np.ndarray:
    """Render a form page (A5 portrait) at ``dpi``."""
    return synth.render_page(
        lines, dpi=dpi, paper="A5", font_pt=11, margin_mm=14, max_lines=len(lines)
    ).gray


def rescan(
    lines: list[str],
    rng: np.random.Generator,
    *,
    dpi: int | None = None,
    angles: list[float] | None = None,
) -> np.ndarray:
    """One simulated scan of the paper that carries ``lines``; the skew applied (degrees,
    counter-clockwise) is appended to ``angles`` when given."""
    dpi = int(dpi or rng.choice([150, 200, 300]))
    img = render_form(lines, dpi)
    h, w = img.shape
    # crop and shift by up to 2 % of the page
    dy, dx = (int(v) for v in rng.integers(-int(0.02 * h), int(0.02 * h) + 1, 2))
    canvas = np.full_like(img, 255)
    ys, yd = (dy, 0) if dy >= 0 else (0, -dy)
    xs, xd = (dx, 0) if dx >= 0 else (0, -dx)
    canvas[yd : h - ys if ys else h, xd : w - xs if xs else w] = img[ys : h - yd, xs : w - xd]
    img = canvas
    angle = float(rng.uniform(-3, 3))
    if angles is not None:
        angles.append(angle)
    img = synth.rotate(img, angle, fill=255)
    if rng.random() < 0.3:
        img = synth.dark_border(
            img, left=int(rng.integers(3, 0.03 * w)), top=int(rng.integers(0, 0.02 * h))
        )
    if rng.random() < 0.3:
        img = synth.uneven_light(img, float(rng.uniform(0.1, 0.4)))
    img = synth.add_noise(img, float(rng.uniform(0, 8)), rng)
    if rng.random() < 0.25:
        img = np.where(img < 128, 0, 255).astype(np.uint8)
    else:
        img = synth.jpeg(img, int(rng.integers(30, 91)))
    return img
