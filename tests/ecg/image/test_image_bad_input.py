"""Pictures that cannot or should not be digitized: each is refused with the exact error class, or judged
unusable with the exact verdict, quickly and without loading anything huge. Files are made by the tests.
"""
from __future__ import annotations

import io
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pypdf
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from tests.conftest import SHARED_DATA
from tests.helpers import assert_refused
from workbench.config import get_settings
from workbench.ecg.image.loading import WORKING_PIXELS, load_image, load_pages
from workbench.ecg.image.quality import (
    VERDICT_BLANK,
    VERDICT_BLUR,
    VERDICT_CONTRAST,
    VERDICT_NOT_ECG,
    assess_quality,
)
from workbench.errors import (
    CorruptFileError,
    FileTooLargeError,
    InputError,
    UnsupportedFormatError,
    WorkbenchError,
)

RNG = np.random.default_rng(11)
SCANS = SHARED_DATA / "images" / "scans"


def refused(exc_type: type[WorkbenchError], path: Path, *words: str, **kwargs: object) -> WorkbenchError:
    """Load ``path``; assert exactly ``exc_type``, a message naming the file and containing ``words``."""
    return assert_refused(load_pages, exc_type, path, *words, **kwargs)


def _real_scan(name: str = "ecg00029.jpg") -> np.ndarray:
    path = SCANS / name
    if not path.is_file():
        pytest.skip(f"real scan {path} not available")
    return load_image(path).image


# ====================================================================== not an ECG
def _gradient_with_blobs(width: int = 1600, height: int = 1200) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    image = np.stack([200 * x + 30, 150 * y + 60, 120 * (1 - x) + 80], axis=2).astype(np.uint8)
    pil = Image.fromarray(image)
    draw = ImageDraw.Draw(pil)
    for _ in range(12):
        cx, cy, r = int(RNG.integers(0, width)), int(RNG.integers(0, height)), int(RNG.integers(40, 250))
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=tuple(int(v) for v in RNG.integers(0, 255, 3)))
    return np.asarray(pil)


def _noise_photo(width: int = 1600, height: int = 1200) -> np.ndarray:
    """Stand-in for a photo of a cat: random colours at every pixel (texture, no lines, no grid)."""
    return RNG.integers(0, 256, (height, width, 3), dtype=np.uint8)


def _text_page(width: int = 1700, height: int = 2200) -> np.ndarray:
    page = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=28)
    words = "the patient was seen in clinic today blood pressure stable no chest pain follow up in two weeks".split()
    draw.text((120, 60), "Discharge letter", fill="black", font=ImageFont.load_default(size=60))
    for y in range(200, height - 150, 45):
        draw.text((120, y), " ".join(RNG.choice(words, 9)), fill="black", font=font)
    return np.asarray(page)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("make", [_gradient_with_blobs, _noise_photo, _text_page], ids=["gradient", "noise", "text"])
def test_non_ecg_pictures_are_not_usable(make) -> None:
    quality = assess_quality(make())
    assert not quality.usable
    assert quality.verdict == VERDICT_NOT_ECG, quality.metrics
    assert quality.problems


@pytest.mark.timeout(20)
@pytest.mark.parametrize("name", ["chelsea", "astronaut", "coffee", "camera", "rocket", "retina", "hubble_deep_field"])
def test_real_photos_are_not_usable(name: str) -> None:
    """Natural photos (scikit-image's samples). Soft ones are reported as blurred: for an ECG workbench a
    blurred ECG photo is the likelier input, and the problems list still says no ECG was recognised."""
    from skimage import data  # a declared test dependency: its bundled photos are the non-ECG pictures

    quality = assess_quality(getattr(data, name)())
    assert not quality.usable, quality.metrics
    assert quality.verdict in (VERDICT_NOT_ECG, VERDICT_BLUR)
    assert any("no ECG traces were recognised" in problem for problem in quality.problems)


@pytest.mark.timeout(10)
def test_blank_page() -> None:
    assert assess_quality(np.full((2200, 1700, 3), 255, np.uint8)).verdict == VERDICT_BLANK
    scanned = (235 + RNG.normal(0, 3, (2200, 1700))).clip(0, 255).astype(np.uint8)  # paper grain, uneven light
    scanned = (scanned - np.linspace(0, 20, 1700)[None, :]).astype(np.uint8)
    quality = assess_quality(scanned)
    assert not quality.usable and quality.verdict == VERDICT_BLANK


@pytest.mark.timeout(10)
def test_tiny_thumbnail(tmp_path: Path) -> None:
    thumbnail = Image.fromarray(_real_scan()).resize((64, 40))
    thumbnail.save(tmp_path / "thumb.png")
    quality = assess_quality(load_image(tmp_path / "thumb.png").image)
    assert not quality.usable
    assert quality.verdict == "too small (64 x 40 pixels)"


@pytest.mark.timeout(10)
@pytest.mark.parametrize("radius", [4, 10])
def test_blurred_ecg(radius: float) -> None:
    blurred = Image.fromarray(_real_scan()).filter(ImageFilter.GaussianBlur(radius))  # scan is 1200 px across
    quality = assess_quality(np.asarray(blurred))
    assert not quality.usable and quality.verdict == VERDICT_BLUR


def test_slightly_blurred_ecg_is_still_usable() -> None:
    quality = assess_quality(np.asarray(Image.fromarray(_real_scan()).filter(ImageFilter.GaussianBlur(1))))
    assert quality.usable, quality.metrics


@pytest.mark.timeout(10)
def test_faded_ecg() -> None:
    faded = (255 - 0.1 * (255 - _real_scan().astype(np.float32))).astype(np.uint8)
    quality = assess_quality(faded)
    assert not quality.usable and quality.verdict == VERDICT_CONTRAST


@pytest.mark.timeout(10)
def test_graph_paper_without_traces_is_usable_with_a_warning() -> None:
    """Documented limit of the quick gate: an ECG grid alone passes (the digitizer then finds no trace)."""
    paper = np.full((1700, 2200, 3), 255, np.uint8)
    paper[:, ::8], paper[::8] = (250, 180, 180), (250, 180, 180)
    paper[:, ::40], paper[::40] = (240, 120, 120), (240, 120, 120)
    quality = assess_quality(paper)
    assert quality.usable and any("traces are hard" in p for p in quality.problems)


def test_assess_quality_rejects_non_images() -> None:
    with pytest.raises(InputError):
        assess_quality(np.zeros((10, 10, 10, 3), np.uint8))
    with pytest.raises(InputError):
        assess_quality(np.zeros((0, 0, 3), np.uint8))


# ====================================================================== too large
def _big_png(path: Path, width: int, height: int) -> None:
    """A valid 1-bit PNG of any size, written row by row: a few KB on disk, nothing big in memory."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + b"\xff" * ((width + 7) // 8)
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", body) + chunk(b"IEND", b""))


@pytest.mark.timeout(10)
def test_20000_x_20000_png_is_refused_without_decoding(tmp_path: Path) -> None:
    path = tmp_path / "poster.png"
    _big_png(path, 20000, 20000)
    assert path.stat().st_size < 200_000
    start = time.perf_counter()
    refused(FileTooLargeError, path, "400 megapixels", "60 megapixels")
    assert time.perf_counter() - start < 1.0


@pytest.mark.timeout(10)
def test_image_just_above_the_pixel_limit_names_its_size(tmp_path: Path) -> None:
    path = tmp_path / "scan.png"
    _big_png(path, 8000, 8000)
    refused(FileTooLargeError, path, "8000 x 8000", "64 megapixels")


@pytest.mark.timeout(10)
def test_file_above_the_size_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_MAX_FILE_MB", "1")
    get_settings.cache_clear()
    path = tmp_path / "noise.bmp"
    Image.fromarray(_noise_photo(800, 600)).save(path)  # 1.4 MB uncompressed
    refused(FileTooLargeError, path, "1.4 MB", "up to 1 MB")


# ====================================================================== damaged or wrong files
@pytest.mark.timeout(10)
def test_truncated_jpeg(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.fromarray(_real_scan()).save(buffer, "JPEG", quality=90)
    path = tmp_path / "cut.jpg"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    refused(CorruptFileError, path, "damaged")


@pytest.mark.timeout(10)
def test_corrupt_jpeg_header(tmp_path: Path) -> None:
    path = tmp_path / "bad.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + bytes(RNG.integers(0, 256, 5000, dtype=np.uint8)))
    refused(CorruptFileError, path)


@pytest.mark.timeout(10)
def test_truncated_png(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.fromarray(_noise_photo(400, 300)).save(buffer, "PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(buffer.getvalue()[:20_000])
    refused(CorruptFileError, path)


@pytest.mark.timeout(10)
def test_password_protected_pdf(tmp_path: Path) -> None:
    plain = io.BytesIO()
    Image.fromarray(_real_scan()).save(plain, "PDF")
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(plain.getvalue())))
    writer.encrypt(user_password="secret", owner_password="owner")
    path = tmp_path / "locked.pdf"
    with path.open("wb") as handle:
        writer.write(handle)
    refused(InputError, path, "password protected")


@pytest.mark.timeout(60)
def test_50_page_pdf_loads_the_first_20_pages_only(tmp_path: Path) -> None:
    a4 = Image.new("L", (595, 842), 255)  # A4 at 72 dpi
    pages = [a4.copy() for _ in range(50)]
    for number, page in enumerate(pages):
        ImageDraw.Draw(page).text((100, 100), f"page {number + 1}", fill=0)
    path = tmp_path / "report.pdf"
    pages[0].save(path, "PDF", save_all=True, append_images=pages[1:], resolution=72)
    start = time.perf_counter()
    loaded = load_pages(path)
    elapsed = time.perf_counter() - start
    assert len(loaded) == 20 and [p.index for p in loaded] == list(range(20))
    assert all(p.page_count == 50 for p in loaded)
    assert "first 20 of 50 pages" in loaded[0].notes[0]
    assert loaded[0].size == pytest.approx((595 * 200 / 72, 842 * 200 / 72), abs=1)
    assert elapsed < 20, f"{elapsed:.1f} s for 20 pages"
    assert len(load_pages(path, max_pages=3)) == 3


@pytest.mark.timeout(10)
def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    refused(CorruptFileError, path, "empty")


@pytest.mark.timeout(10)
def test_zero_byte_pdf(tmp_path: Path) -> None:
    path = tmp_path / "empty.pdf"
    path.write_bytes(b"")
    refused(CorruptFileError, path, "empty")


@pytest.mark.timeout(10)
def test_damaged_pdf(tmp_path: Path) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.7\n" + bytes(RNG.integers(0, 256, 3000, dtype=np.uint8)))
    refused(CorruptFileError, path, "not a readable PDF")


@pytest.mark.timeout(10)
def test_text_file_named_png(tmp_path: Path) -> None:
    path = tmp_path / "ecg.png"
    path.write_text("Lead I, Lead II\n0.1, 0.2\n", encoding="utf-8")
    refused(UnsupportedFormatError, path, "text file", "PNG, JPEG")


@pytest.mark.timeout(10)
def test_binary_non_image(tmp_path: Path) -> None:
    path = tmp_path / "archive.jpg"
    path.write_bytes(b"PK\x03\x04" + bytes(RNG.integers(0, 256, 500, dtype=np.uint8)))
    refused(UnsupportedFormatError, path, "not an image")


@pytest.mark.timeout(10)
def test_iphone_heic_photo_gets_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "IMG_0001.HEIC"
    path.write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(200))
    err = refused(UnsupportedFormatError, path, "HEIC")
    assert "JPEG" in str(err)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_pages(tmp_path / "nothing.png")
    with pytest.raises(InputError, match="folder"):
        load_pages(tmp_path)


@pytest.mark.timeout(10)
def test_pdf_with_one_blank_page_loads_then_is_judged_blank(tmp_path: Path) -> None:
    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=595, height=842)
    path = tmp_path / "blank.pdf"
    with path.open("wb") as handle:
        writer.write(handle)
    pages = load_pages(path)
    assert len(pages) == 1 and pages[0].dpi == 200
    quality = assess_quality(pages[0].image)
    assert not quality.usable and quality.verdict == VERDICT_BLANK


@pytest.mark.timeout(20)
def test_poster_sized_pdf_page_is_rendered_at_a_lower_dpi(tmp_path: Path) -> None:
    """A 100 x 100 inch page at 200 dpi would be 400 megapixels: it is drawn smaller, and says so."""
    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=7200, height=7200)
    path = tmp_path / "poster.pdf"
    with path.open("wb") as handle:
        writer.write(handle)
    page = load_image(path)
    width, height = page.size
    assert width * height <= WORKING_PIXELS * 1.01
    assert page.dpi == pytest.approx(50, abs=0.5) and page.scale == pytest.approx(0.25, abs=0.01)
    assert page.original_size == (20000, 20000) and "Rendered at 50 dpi" in page.notes[0]
