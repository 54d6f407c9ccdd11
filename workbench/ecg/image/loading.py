"""Open ECG pictures (photos, scans, screenshots, PDF printouts) as RGB pages, refusing bad files politely.

The file type is recognised from its first bytes, not its name, because users rename files and phones
save under odd extensions. Every limit is checked before the expensive step it protects: the file size
before reading, the pixel count from the image header before decoding, the page count before rendering
a PDF. Library errors never escape: they become the workbench's typed errors (`InputError` and its
subclasses) whose messages name the file and say, in plain words, what is wrong.

Pages of a PDF beyond ``max_pages`` are *skipped, not refused*: ECG exports sometimes come inside a long
report, and a clinician would rather see the first pages (with a note that the rest were not read) than
nothing. The note is in `Page.notes` and `Page.page_count` holds the true number of pages.
"""
from __future__ import annotations

import logging
import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps, ImageSequence

from ...input_files import check_input_file
from ...errors import CorruptFileError, FileTooLargeError, InputError, UnsupportedFormatError, WorkbenchError

if TYPE_CHECKING:
    import pypdfium2

__all__ = ["MAX_PIXELS", "WORKING_PIXELS", "Page", "detect_image_format", "load_image", "load_pages"]

log = logging.getLogger(__name__)

#: images above this many pixels are refused: decoding them would need gigabytes of memory
MAX_PIXELS = 60_000_000
#: images above this are shrunk to it; 25 MP is still > 15 px/mm on an A4 page, far finer than ECG detail
WORKING_PIXELS = 25_000_000

_PIL_FORMATS = {"png": ("PNG",), "jpeg": ("JPEG", "MPO"), "bmp": ("BMP",), "tiff": ("TIFF",),
                "webp": ("WEBP",), "gif": ("GIF",)}
_FORMAT_NAMES = {"png": "PNG", "jpeg": "JPEG", "bmp": "BMP", "tiff": "TIFF", "webp": "WebP", "gif": "GIF",
                 "pdf": "PDF"}
_SUPPORTED = "PNG, JPEG, BMP, TIFF, WebP, GIF or PDF"


@dataclass
class Page:
    """One picture to digitize: a page of a PDF, a frame of a TIFF, or the whole image file."""

    image: np.ndarray  # H x W x 3 uint8 RGB
    source: Path
    index: int = 0  # 0-based page / frame number in the file
    dpi: float | None = None  # pixels per inch of `image` (file metadata or PDF render dpi), None if unknown
    mode: str = "RGB"  # the file's own colour mode ("P", "RGBA", "I;16", "CMYK"...; "PDF" for rendered pages)
    format: str = ""  # detected file type: png, jpeg, bmp, tiff, webp, gif, pdf
    page_count: int = 1  # pages / frames in the file (may exceed the number loaded)
    scale: float = 1.0  # < 1 when a huge image (or PDF page) was shrunk to the working size
    original_size: tuple[int, int] = (0, 0)  # (width, height) upright, before shrinking (PDF: at the asked dpi)
    notes: list[str] = field(default_factory=list)  # plain-words remarks (shrunk, pages skipped...)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels, the PIL convention."""
        return int(self.image.shape[1]), int(self.image.shape[0])


# ====================================================================== public API
def load_pages(path: str | Path, *, max_pages: int = 20, dpi: int = 200) -> list[Page]:
    """All pages of an image or PDF file (at most ``max_pages``), as RGB arrays.

    PDF pages are rendered at ``dpi`` (lowered for a page so large it would exceed `WORKING_PIXELS`);
    multi-frame TIFFs give one page per frame. Raises `InputError` subclasses for anything unusable.
    """
    if max_pages < 1:
        raise InputError(f"max_pages must be at least 1 (got {max_pages}).")
    if not 20 <= dpi <= 1200:
        raise InputError(f"The PDF rendering resolution must be between 20 and 1200 dpi (got {dpi}).")
    file = check_input_file(path, holds="picture", smaller="Save the picture at a lower resolution")
    kind = detect_image_format(file)
    try:
        if kind == "pdf":
            return _load_pdf(file, max_pages, dpi)
        return _load_raster(file, kind, max_pages)
    except WorkbenchError:
        raise
    except MemoryError as exc:
        raise FileTooLargeError(f"{file.name} needs more memory to open than this computer has.") from exc
    except Exception as exc:  # last safety net: a decoder failed in a way not foreseen below
        raise CorruptFileError(f"{file.name} could not be read as a {_FORMAT_NAMES[kind]} file; "
                               f"it may be damaged ({exc}).") from exc


def load_image(path: str | Path) -> Page:
    """The first page of an image or PDF file (the usual case: one ECG per file)."""
    return load_pages(path, max_pages=1)[0]


def detect_image_format(path: str | Path) -> str:
    """The file's type from its first bytes: png, jpeg, bmp, tiff, webp, gif or pdf.

    Raises `UnsupportedFormatError` for anything else (with a hint for the common near-misses).
    """
    file = Path(path)
    with file.open("rb") as handle:
        head = handle.read(1024)
    kind = _sniff(head)
    if kind is not None:
        return kind
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"heim", b"avif"):
        raise UnsupportedFormatError(f"{file.name} is a HEIC/AVIF photo, which the workbench cannot open.",
                                     hint="Export or share it as JPEG (on a phone: 'Most compatible' format).")
    what = "a text file" if _looks_like_text(head) else "not an image"
    raise UnsupportedFormatError(f"{file.name} is {what}; the workbench reads ECG pictures as {_SUPPORTED}.",
                                 hint="Scan or save the ECG as one of these formats.")


def _sniff(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"BM") and len(head) >= 26:
        return "bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if b"%PDF-" in head:  # the header may follow a little junk (some mail gateways add it)
        return "pdf"
    return None


def _looks_like_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _too_many_pixels(file: Path, width: int, height: int, what: str = "image") -> FileTooLargeError:
    return FileTooLargeError(
        f"The {what} in {file.name} is {width} x {height} pixels ({width * height / 1e6:.0f} megapixels); "
        f"the workbench accepts pictures up to {MAX_PIXELS // 1_000_000} megapixels.",
        hint="Save it at a lower resolution (300 dpi is plenty for an ECG).")


# ====================================================================== raster images
def _load_raster(file: Path, kind: str, max_pages: int) -> list[Page]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(file, formats=_PIL_FORMATS[kind])  # reads the header only
    except Image.DecompressionBombError as exc:
        # Pillow refuses > 2 x its own limit while opening, before we can read the size; its message has the count
        found = re.search(r"\((\d+) pixels\)", str(exc))
        mp = f"about {int(found.group(1)) / 1e6:.0f} megapixels" if found else "far too many pixels"
        raise FileTooLargeError(f"The image in {file.name} is {mp}; the workbench accepts pictures up to "
                                f"{MAX_PIXELS // 1_000_000} megapixels.",
                                hint="Save it at a lower resolution (300 dpi is plenty for an ECG).") from exc
    except (OSError, SyntaxError, ValueError) as exc:  # UnidentifiedImageError is an OSError
        raise CorruptFileError(f"{file.name} looks like a {_FORMAT_NAMES[kind]} file but cannot be opened; "
                               "it is probably damaged or incomplete.") from exc
    with im:
        total = getattr(im, "n_frames", 1) if kind == "tiff" else 1
        pages: list[Page] = []
        frames = ImageSequence.Iterator(im) if kind == "tiff" else [im]
        for index, frame in enumerate(frames):
            if index >= max_pages:
                break
            pages.append(_decode_frame(file, kind, frame, index, total))
    _note_skipped(pages, total, max_pages, "frames")
    return pages


def _decode_frame(file: Path, kind: str, frame: Image.Image, index: int, total: int) -> Page:
    width, height = frame.size
    if width * height > MAX_PIXELS:
        raise _too_many_pixels(file, width, height)
    if width < 1 or height < 1:
        raise CorruptFileError(f"{file.name} declares an empty image ({width} x {height} pixels).")
    mode = frame.mode
    scale = _working_scale(width, height)
    if kind == "jpeg" and scale < 1:
        # let libjpeg decode at 1/2, 1/4 or 1/8 size directly: a huge photo never exists at full size in memory
        frame.draft("RGB", (max(1, int(width * scale)), max(1, int(height * scale))))
    try:
        frame.load()
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptFileError(f"{file.name} is damaged or incomplete (it ends before the picture does); "
                               "copy or download it again.") from exc
    dpi = _file_dpi(frame)
    image = _to_rgb(_upright(frame))
    notes: list[str] = []
    if image.width * image.height > WORKING_PIXELS:
        factor = _working_scale(image.width, image.height)
        image = image.resize((max(1, int(image.width * factor)), max(1, int(image.height * factor))),
                             Image.Resampling.LANCZOS)
    if _swapped(frame, image):
        width, height = height, width
    shrink = image.width / width
    if shrink < 0.999:
        notes.append(f"Shrunk from {width} x {height} to {image.width} x {image.height} pixels "
                     "to fit the working size.")
        dpi = dpi * shrink if dpi else None
    return Page(image=_as_array(image), source=file, index=index, dpi=dpi, mode=mode, format=kind,
                page_count=total, scale=shrink, original_size=(width, height), notes=notes)


def _upright(frame: Image.Image) -> Image.Image:
    """Apply the EXIF orientation tag (phones store the sensor's pixels plus "turn me"); bad EXIF is ignored."""
    try:
        return ImageOps.exif_transpose(frame)
    except Exception:  # a damaged EXIF block must not cost the picture itself
        log.info("ignoring unreadable EXIF orientation", exc_info=True)
        return frame


def _swapped(frame: Image.Image, image: Image.Image) -> bool:
    """True when EXIF orientation turned the picture by 90 degrees (width and height swapped)."""
    w, h = frame.size
    return w != h and (image.width > image.height) != (w > h)


def _working_scale(width: int, height: int) -> float:
    pixels = width * height
    return 1.0 if pixels <= WORKING_PIXELS else math.sqrt(WORKING_PIXELS / pixels)


def _file_dpi(im: Image.Image) -> float | None:
    dpi = im.info.get("dpi")
    try:
        value = float(dpi[0] if isinstance(dpi, tuple) else dpi)
    except (TypeError, ValueError, IndexError):
        return None
    return round(value, 2) if 10 <= value <= 10_000 else None  # 0 or absurd values mean "not recorded"


def _to_rgb(im: Image.Image) -> Image.Image:
    """Any Pillow mode as 8-bit RGB: transparency on white paper, 16-bit grey rescaled, CMYK converted."""
    mode = im.mode
    if mode == "P" and "transparency" in im.info:
        im, mode = im.convert("RGBA"), "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))  # screenshots with alpha: show as on paper
        return Image.alpha_composite(paper, rgba).convert("RGB")
    if mode.startswith("I") or mode == "F":
        # convert("L") would clip 16-bit values at 255 (a white page); scale the real range instead
        values = np.asarray(im, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or (mode == "I" and 255 < values.max() <= 65535) else None
        if top is None:
            low, high = float(values.min()), float(values.max())
            values = (values - low) / (high - low or 1.0) * 255.0
        else:
            values = values / top * 255.0
        return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), "L").convert("RGB")
    return im if mode == "RGB" else im.convert("RGB")


def _as_array(image: Image.Image) -> np.ndarray:
    array = np.asarray(image, dtype=np.uint8)
    return np.ascontiguousarray(array[..., :3] if array.ndim == 3 else np.repeat(array[..., None], 3, axis=2))


def _note_skipped(pages: list[Page], total: int, max_pages: int, what: str) -> None:
    if total > max_pages and pages:
        note = f"Only the first {max_pages} of {total} {what} were loaded; the rest were skipped."
        log.info("%s: %s", pages[0].source.name, note)
        for page in pages:
            page.notes.append(note)


# ====================================================================== PDF
def _load_pdf(file: Path, max_pages: int, dpi: int) -> list[Page]:
    import pypdfium2 as pdfium  # imported here: only PDF users pay for loading PDFium

    try:
        document = pdfium.PdfDocument(file)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise InputError(f"{file.name} is password protected; the workbench cannot open it.",
                             hint="Save or print it again as a PDF without a password.") from exc
        raise CorruptFileError(f"{file.name} is not a readable PDF; it is probably damaged or incomplete.") from exc
    try:
        total = len(document)
        if total == 0:
            raise CorruptFileError(f"{file.name} is a PDF without any page.")
        pages = [_render_pdf_page(file, document, index, total, dpi) for index in range(min(total, max_pages))]
    finally:
        document.close()
    _note_skipped(pages, total, max_pages, "pages")
    return pages


def _render_pdf_page(file: Path, document: pypdfium2.PdfDocument, index: int, total: int, dpi: int) -> Page:
    import pypdfium2 as pdfium

    page = document[index]
    try:
        width_pt, height_pt = page.get_size()
        if not (width_pt > 0 and height_pt > 0):
            raise CorruptFileError(f"Page {index + 1} of {file.name} has no size; the PDF is damaged.")
        pixels = (width_pt * dpi / 72) * (height_pt * dpi / 72)
        render_dpi = float(dpi) if pixels <= WORKING_PIXELS else dpi * math.sqrt(WORKING_PIXELS / pixels)
        notes = [] if render_dpi == dpi else [f"Rendered at {render_dpi:.0f} dpi instead of {dpi} (very large page)."]
        try:
            bitmap = page.render(scale=render_dpi / 72, fill_color=(255, 255, 255, 255))
            image = bitmap.to_pil()
        except pdfium.PdfiumError as exc:
            raise CorruptFileError(f"Page {index + 1} of {file.name} could not be drawn; the PDF is damaged.") from exc
    finally:
        page.close()
    image = _to_rgb(image)
    return Page(image=_as_array(image), source=file, index=index, dpi=round(render_dpi, 2), mode="PDF", format="pdf",
                page_count=total, scale=render_dpi / dpi, notes=notes,
                original_size=(round(width_pt * dpi / 72), round(height_pt * dpi / 72)))
