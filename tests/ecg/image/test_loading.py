"""ECG pictures of every supported kind load as H x W x 3 uint8 RGB pages, and real ECGs pass the quality gate.

Real scans and renders are read in place from ``shared/data/images``; every other file is written by the
test itself in ``tmp_path`` (no mocks).
"""
from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import SHARED_DATA
from workbench.ecg.image.loading import WORKING_PIXELS, Page, detect_image_format, load_image, load_pages
from workbench.ecg.image.quality import VERDICT_USABLE, assess_quality

pytestmark = pytest.mark.timeout(60)

IMAGES = SHARED_DATA / "images"
_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp"}


def _real_images() -> list:
    files = sorted(p for sub in ("scans", "rendered") for p in (IMAGES / sub).glob("*")
                   if p.suffix.lower() in _SUFFIXES)
    if not files:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no real ECG images at {IMAGES}"))]
    return [pytest.param(p, id=f"{p.parent.name}/{p.name}") for p in files]


def _check_page(page: Page, size: tuple[int, int] | None = None) -> None:
    assert isinstance(page, Page)
    assert page.image.dtype == np.uint8 and page.image.ndim == 3 and page.image.shape[2] == 3
    assert page.image.flags["C_CONTIGUOUS"]
    if size is not None:
        assert page.size == size


# ====================================================================== real files
@pytest.mark.parametrize("path", _real_images())
def test_real_image_loads_as_rgb(path: Path) -> None:
    with Image.open(path) as im:
        size = im.size
    pages = load_pages(path)
    assert len(pages) == 1
    page = pages[0]
    _check_page(page, size)
    assert page.source == path and page.index == 0 and page.page_count == 1 and page.scale == 1.0
    assert page.format == {"jpg": "jpeg"}.get(path.suffix.lower()[1:], path.suffix.lower()[1:])


@pytest.mark.parametrize("path", _real_images())
def test_real_image_is_judged_usable(path: Path) -> None:
    quality = assess_quality(load_image(path).image)
    assert quality.usable, (quality.verdict, quality.metrics)
    assert quality.verdict == VERDICT_USABLE


def test_scan_count_matches_the_reference_set() -> None:
    scans = [p for p in (IMAGES / "scans").glob("*") if p.suffix.lower() in _SUFFIXES]
    if not scans:
        pytest.skip(f"no real ECG images at {IMAGES}")
    assert len(scans) == 26


def test_rgba_render_is_composited_on_white() -> None:
    path = IMAGES / "rendered" / "sel100-0-gt.png"
    if not path.is_file():
        pytest.skip("render not available")
    page = load_image(path)
    assert page.mode == "RGBA"
    assert page.dpi == pytest.approx(200, abs=0.1)
    assert page.image[5:50, 5:50].min() >= 250  # the transparent margin is white paper, not black


def test_quality_gate_is_fast_on_a_large_photo() -> None:
    path = IMAGES / "scans" / "ecg00005.jpg"
    if not path.is_file():
        pytest.skip("scan not available")
    image = np.asarray(Image.fromarray(load_image(path).image).resize((3000, 2000)))
    assess_quality(image)  # warm-up (imports, OpenCV thread pool)
    best = min(_timed(assess_quality, image) for _ in range(3))
    assert best < 0.3, f"assess_quality took {best:.3f} s on 3000 x 2000"


def _timed(func, *args) -> float:
    start = time.perf_counter()
    func(*args)
    return time.perf_counter() - start


# ====================================================================== colour modes
def _pattern(width: int = 240, height: int = 160) -> np.ndarray:
    """Left half red, right half blue, a black bar on top: orientation and colour are both checkable."""
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[:, : width // 2] = (220, 30, 30)
    rgb[:, width // 2:] = (30, 30, 220)
    rgb[: height // 8] = 0
    return rgb


def test_palette_png_with_transparency(tmp_path: Path) -> None:
    im = Image.fromarray(_pattern()).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    transparent = im.getpixel((0, 0))  # the black bar becomes transparent -> white paper
    im.save(tmp_path / "p.png", transparency=transparent)
    page = load_image(tmp_path / "p.png")
    _check_page(page, (240, 160))
    assert page.mode == "P"
    assert (page.image[:10] == 255).all()
    assert page.image[80, 20, 0] > 180 and page.image[80, 20, 2] < 80  # still red where opaque


def test_rgba_semi_transparent_is_blended_with_white(tmp_path: Path) -> None:
    rgba = np.zeros((100, 120, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[..., 3] = 128  # half-transparent red over white paper -> pink
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    page = load_image(tmp_path / "a.png")
    assert page.mode == "RGBA"
    assert tuple(page.image[50, 60]) == pytest.approx((255, 127, 127), abs=2)


@pytest.mark.parametrize("mode", ["L", "LA", "1"])
def test_greyscale_modes(tmp_path: Path, mode: str) -> None:
    grey = np.tile(np.linspace(0, 255, 200).astype(np.uint8), (100, 1))
    Image.fromarray(grey, "L").convert(mode).save(tmp_path / "g.png")
    page = load_image(tmp_path / "g.png")
    _check_page(page, (200, 100))
    assert page.mode == mode
    assert (page.image[..., 0] == page.image[..., 1]).all()
    assert page.image[50, 0, 0] < 20 and page.image[50, -1, 0] > 235


def test_16_bit_greyscale_is_scaled_not_clipped(tmp_path: Path) -> None:
    values = np.array([[0, 1000, 32768, 65535]], np.uint16).repeat(50, axis=0).repeat(50, axis=1)
    Image.fromarray(values).save(tmp_path / "g16.png")
    page = load_image(tmp_path / "g16.png")
    assert page.mode.startswith("I")
    assert page.image[25, [25, 75, 125, 175], 0].tolist() == [0, 4, 128, 255]


def test_16_bit_tiff(tmp_path: Path) -> None:
    values = (np.tile(np.linspace(0, 65535, 300), (120, 1))).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "g16.tif")
    page = load_image(tmp_path / "g16.tif")
    _check_page(page, (300, 120))
    assert page.format == "tiff"
    assert page.image[0, 0, 0] == 0 and page.image[0, -1, 0] == 255


@pytest.mark.parametrize("fmt,suffix", [("JPEG", "jpg"), ("TIFF", "tif")])
def test_cmyk(tmp_path: Path, fmt: str, suffix: str) -> None:
    Image.fromarray(_pattern()).convert("CMYK").save(tmp_path / f"c.{suffix}", fmt)
    page = load_image(tmp_path / f"c.{suffix}")
    _check_page(page, (240, 160))
    assert page.mode == "CMYK"
    red, blue = page.image[80, 40].astype(int), page.image[80, 200].astype(int)
    assert red[0] > red[2] + 100 and blue[2] > blue[0] + 100


def test_multi_page_tiff_gives_one_page_per_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (300 + 10 * i, 200), (40 * i, 0, 0)) for i in range(3)]
    frames[0].save(tmp_path / "m.tiff", save_all=True, append_images=frames[1:])
    pages = load_pages(tmp_path / "m.tiff")
    assert [p.index for p in pages] == [0, 1, 2]
    assert [p.size for p in pages] == [(300, 200), (310, 200), (320, 200)]
    assert all(p.page_count == 3 and p.format == "tiff" and not p.notes for p in pages)
    assert pages[2].image[0, 0].tolist() == [80, 0, 0]
    limited = load_pages(tmp_path / "m.tiff", max_pages=2)
    assert len(limited) == 2 and limited[0].page_count == 3
    assert "first 2 of 3" in limited[0].notes[0]


def test_webp(tmp_path: Path) -> None:
    Image.fromarray(_pattern()).save(tmp_path / "w.webp", lossless=True)
    page = load_image(tmp_path / "w.webp")
    _check_page(page, (240, 160))
    assert page.format == "webp"
    assert np.array_equal(page.image, _pattern())


def test_bmp_and_dpi_from_metadata(tmp_path: Path) -> None:
    Image.fromarray(_pattern()).save(tmp_path / "b.bmp", dpi=(150, 150))
    Image.fromarray(_pattern()).save(tmp_path / "d.png", dpi=(300, 300))
    assert load_image(tmp_path / "b.bmp").dpi == pytest.approx(150, abs=0.5)
    assert load_image(tmp_path / "d.png").dpi == pytest.approx(300, abs=0.5)
    assert load_image(tmp_path / "b.bmp").format == "bmp"


@pytest.mark.parametrize("orientation,turn", [(6, -1), (8, 1), (3, 2)])
def test_jpeg_exif_orientation_is_applied(tmp_path: Path, orientation: int, turn: int) -> None:
    """Phones store the sensor's pixels plus a rotation tag; the loader must show the picture upright."""
    stored = _pattern()
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation: 6 = turn 90 deg clockwise to view, 8 = counter-clockwise, 3 = 180
    Image.fromarray(stored).save(tmp_path / "r.jpg", quality=95, exif=exif.tobytes())
    page = load_image(tmp_path / "r.jpg")
    expected = np.rot90(stored, k=turn)  # np.rot90: k > 0 counter-clockwise
    assert page.image.shape == expected.shape
    assert np.abs(page.image.astype(int) - expected.astype(int)).mean() < 6


def test_pdf_pages_are_rendered_at_the_requested_dpi(tmp_path: Path) -> None:
    first = Image.fromarray(_pattern(400, 300))
    second = Image.new("RGB", (300, 400), "white")
    first.save(tmp_path / "two.pdf", "PDF", save_all=True, append_images=[second], resolution=72)
    pages = load_pages(tmp_path / "two.pdf", dpi=144)
    assert len(pages) == 2
    assert [p.size for p in pages] == [(800, 600), (600, 800)]  # 72 dpi points rendered at 144 dpi
    assert all(p.dpi == 144 and p.mode == "PDF" and p.format == "pdf" and p.page_count == 2 for p in pages)
    assert [p.index for p in pages] == [0, 1]
    _check_page(pages[0])
    assert pages[0].image[200, 100, 0] > 150 and pages[0].image[200, 100, 2] < 100  # red half on the left
    first_only = load_image(tmp_path / "two.pdf")  # default 200 dpi; PDFium rounds sizes up
    assert first_only.size == pytest.approx((400 * 200 / 72, 300 * 200 / 72), abs=1)
    assert first_only.page_count == 2 and "first 1 of 2 pages" in first_only.notes[0]


@pytest.mark.parametrize("real,name", [("PNG", "scan.jpg"), ("JPEG", "photo.png"), ("PDF", "page.png"),
                                       ("BMP", "image.tif"), ("TIFF", "noext")])
def test_type_comes_from_content_not_extension(tmp_path: Path, real: str, name: str) -> None:
    path = tmp_path / name
    Image.fromarray(_pattern()).save(path, real)
    assert detect_image_format(path) == {"PNG": "png", "JPEG": "jpeg", "PDF": "pdf", "BMP": "bmp", "TIFF": "tiff"}[real]
    _check_page(load_image(path))


def test_huge_image_is_shrunk_to_the_working_size(tmp_path: Path) -> None:
    grey = np.full((5000, 6000), 255, np.uint8)
    grey[2000:2100] = 0
    Image.fromarray(grey).save(tmp_path / "big.png", dpi=(600, 600))
    page = load_image(tmp_path / "big.png")
    width, height = page.size
    assert width * height <= WORKING_PIXELS and width / height == pytest.approx(6000 / 5000, rel=0.01)
    assert page.original_size == (6000, 5000) and page.scale == pytest.approx(width / 6000)
    assert page.dpi == pytest.approx(600 * page.scale, rel=0.01)
    assert "Shrunk from 6000 x 5000" in page.notes[0]


def test_huge_jpeg_is_decoded_reduced(tmp_path: Path) -> None:
    grey = np.full((6000, 8000), 255, np.uint8)
    grey[:, 3000:3050] = 0
    buffer = io.BytesIO()
    Image.fromarray(grey).save(buffer, "JPEG", quality=80)
    (tmp_path / "big.jpg").write_bytes(buffer.getvalue())
    page = load_image(tmp_path / "big.jpg")
    assert page.size[0] * page.size[1] <= WORKING_PIXELS
    assert page.original_size == (8000, 6000) and page.scale < 1
    column = round(3025 * page.scale)
    assert page.image[:, column].mean() < 60  # the dark stripe survives at its scaled position
