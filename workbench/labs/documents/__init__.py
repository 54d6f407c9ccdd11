"""Lab-report documents (PDF, scans, photos) turned into raw result rows, with no analyte knowledge yet.

`read_document` looks at the file's content, not its name: a PDF page with a text layer goes to the PDF
table readers (`pdf_tables`), a PDF page without text is rendered and read by OCR, and pictures (JPEG,
PNG, TIFF, BMP...) are read by OCR (`ocr_tables`). Both end in the same row logic (`rows`), so a report
gives the same rows whether it arrives as a PDF or as a photo of the printout.

Refusals are typed (`InputError` and subclasses) with plain messages: damaged or password-protected
PDFs, files that are not documents, files over ``max_file_mb``, documents without any results table.
Problems that leave the rest readable (a blank page, a page without table, an unreadable collection
date) are listed in `DocumentRows.warnings` instead.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from ...input_files import check_input_file
from ...errors import CorruptFileError, FileTooLargeError, InputError, UnsupportedFormatError, WorkbenchError
from ..records import RawLabRow, Reader, UnparsedRow
from .patient_header import HeaderFields, read_header_fields
from .rows import GridState, Origin

__all__ = ["DocumentRows", "MAX_PAGES", "OCR_DPI", "read_document"]

log = logging.getLogger(__name__)

#: pages read at most; a lab report longer than this is most likely something else (the rest is skipped)
MAX_PAGES = 30
#: resolution at which PDF pages without text are rendered for OCR (9 pt print is ~25 px high)
OCR_DPI = 200
_MIN_TEXT_CHARS = 20  # fewer non-blank characters than this: the page has no usable text layer


@dataclass
class DocumentRows:
    """Everything read from one document: the rows, what could not be read, and how it was read."""

    file: Path
    rows: list[RawLabRow] = field(default_factory=list)
    unparsed: list[UnparsedRow] = field(default_factory=list)
    pages: int = 0  # pages (or frames) in the file
    readers_used: list[Reader] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    patient: str = ""  # name as printed in the header, "" when not printed
    patient_id: str = ""
    collected_at: datetime | None = None

    def _used(self, reader: Reader) -> None:
        if reader not in self.readers_used:
            self.readers_used.append(reader)


# ====================================================================== public API
def read_document(path: str | Path) -> DocumentRows:
    """Raw result rows of a lab report (PDF, or a picture: JPEG, PNG, TIFF, BMP, WebP, GIF).

    Raises `InputError` (or a subclass) when the file cannot be used or holds no results table at all.
    """
    file = check_input_file(path, holds="report", smaller="Save or scan the report at a lower resolution")
    kind = _sniff(file)
    try:
        out = _read_pdf(file) if kind == "pdf" else _read_images(file)
    except WorkbenchError:
        raise
    except MemoryError as exc:
        raise FileTooLargeError(f"{file.name} needs more memory to read than this computer has.") from exc
    except Exception as exc:  # last safety net: a PDF or image library failed in a way not foreseen
        log.info("reading %s failed", file.name, exc_info=True)
        raise CorruptFileError(f"{file.name} could not be read; it may be damaged ({type(exc).__name__}: {exc}).",
                               hint="Download or export the report again.") from exc
    _check_found(out)
    for row in out.rows:
        row.patient = out.patient or out.patient_id
        row.collected_at = out.collected_at
    return out


def _sniff(file: Path) -> str:
    """'pdf' or an image kind, from the first bytes; a file named .pdf that is no PDF counts as damaged."""
    from ...ecg.image.loading import detect_image_format

    try:
        return detect_image_format(file)
    except UnsupportedFormatError as exc:
        if "HEIC" in str(exc):
            raise
        with file.open("rb") as handle:
            head = handle.read(1024)
        if file.suffix.lower() == ".pdf":
            raise CorruptFileError(f"{file.name} is named like a PDF but does not contain one; it is damaged or "
                                   "was not saved completely.", hint="Download or export the report again.") from exc
        what = "a text file" if _is_text(head) else "neither a PDF nor a picture"
        raise UnsupportedFormatError(
            f"{file.name} is {what}; lab reports are read from PDF files or pictures (JPEG, PNG, TIFF, BMP).",
            hint="Spreadsheet and CSV exports go through the table import instead.") from exc


def _is_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _check_found(out: DocumentRows) -> None:
    """No row at all: say why in one sentence instead of returning an empty list."""
    if out.rows or out.unparsed:
        return
    blank = [w for w in out.warnings if "is blank" in w]
    name = out.file.name
    if blank and len(blank) >= min(out.pages, MAX_PAGES):
        pages = "its page is" if out.pages == 1 else f"all {out.pages} pages are"
        raise InputError(f"{name} holds nothing to read: {pages} blank.",
                         hint="Check that the right file was chosen and that the scan worked.")
    if any("no result could be read" in w for w in out.warnings):
        raise InputError(f"{name} has a results table, but no result could be read from it.")
    raise InputError(f"No table of lab results was found in {name}: no page has a header row such as "
                     "'Test | Result | Unit | Reference range'.",
                     hint="If it is a scan or photo, check that it is upright, sharp and shows the whole table.")


# ====================================================================== PDF
def _open_pdf(file: Path) -> Any:
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(file)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise InputError(f"{file.name} is password protected; the workbench cannot open it.",
                             hint="Save or print the report again as a PDF without a password.") from exc
        raise CorruptFileError(f"{file.name} is not a readable PDF; it is probably damaged or incomplete.",
                               hint="Download or export the report again.") from exc


def _read_pdf(file: Path) -> DocumentRows:
    import pdfplumber

    document = _open_pdf(file)
    out = DocumentRows(file=file)
    try:
        out.pages = len(document)
        if out.pages == 0:
            raise CorruptFileError(f"{file.name} is a PDF without any page.")
        if out.pages > MAX_PAGES:
            out.warnings.append(f"Only the first {MAX_PAGES} of {out.pages} pages were read.")
        try:
            plumber = pdfplumber.open(file)
        except Exception as exc:  # pdfminer cannot parse what PDFium can: read every page by OCR instead
            log.info("pdfplumber cannot open %s: %s", file.name, exc)
            plumber = None
        state = GridState()
        header_lines: list[str] = []
        try:
            for index in range(min(out.pages, MAX_PAGES)):
                page = document[index]
                try:
                    lines = _read_pdf_page(out, file, page, plumber.pages[index] if plumber else None, index, state)
                finally:
                    page.close()
                header_lines = header_lines or lines
        finally:
            if plumber is not None:
                plumber.close()
    finally:
        document.close()
    _fill_header(out, read_header_fields(header_lines))
    return out


def _read_pdf_page(out: DocumentRows, file: Path, page: Any, plumber_page: Any, index: int,
                   state: GridState) -> list[str]:
    """One page into ``out``: tables of the text layer, else OCR of the rendered page (a scan, or a text
    layer without any table over a big picture). Returns the page's header text lines."""
    from .pdf_tables import read_pdf_page

    text = _page_text(page)
    if plumber_page is not None and len("".join(text.split())) >= _MIN_TEXT_CHARS:
        found = read_pdf_page(file, index, plumber_page, state)
        if found.reader is not None:
            out.rows += found.rows
            out.unparsed += found.unparsed
            out._used(found.reader)
            return text.splitlines()
        if not _has_big_image(page):
            out.warnings.append(_no_table(index, found.tables_with_header))
            return text.splitlines()
    image = _render(file, page, index)
    return _ocr_page(out, image, Origin(str(file), "ocr", index), state, scale=72.0 / OCR_DPI)


def _page_text(page: Any) -> str:
    textpage = page.get_textpage()
    try:
        return textpage.get_text_bounded() or ""
    finally:
        textpage.close()


def _has_big_image(page: Any) -> bool:
    """True when a picture covers a third of the page or more (a scan with a partial text layer)."""
    import pypdfium2.raw as pdfium_c

    width, height = page.get_size()
    area = 0.0
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]):
        left, bottom, right, top = obj.get_pos()
        area += max(0.0, right - left) * max(0.0, top - bottom)
    return area >= 0.33 * width * height


def _render(file: Path, page: Any, index: int) -> np.ndarray:
    import pypdfium2 as pdfium

    try:
        bitmap = page.render(scale=OCR_DPI / 72, fill_color=(255, 255, 255, 255))
        return np.asarray(bitmap.to_pil().convert("RGB"))
    except pdfium.PdfiumError as exc:
        raise CorruptFileError(f"Page {index + 1} of {file.name} could not be drawn; the PDF is damaged.") from exc


def _no_table(index: int, with_header: int) -> str:
    if with_header:
        return f"Page {index + 1}: a results table was found, but no result could be read from it."
    return f"Page {index + 1}: no results table (no header row such as 'Test | Result | Unit')."


# ====================================================================== pictures
def _read_images(file: Path) -> DocumentRows:
    from ...ecg.image.loading import load_pages

    try:
        pages = load_pages(file, max_pages=MAX_PAGES)
    except FileTooLargeError as exc:
        raise FileTooLargeError(exc.message, hint="Save it at a lower resolution (300 dpi is plenty for a "
                                                  "printed report).") from exc
    out = DocumentRows(file=file, pages=pages[0].page_count if pages else 0)
    state = GridState()
    header_lines: list[str] = []
    for page in pages:
        out.warnings += [f"Page {page.index + 1}: {note}" for note in page.notes if "were skipped" not in note]
        lines = _ocr_page(out, page.image, Origin(str(file), "ocr", page.index), state, scale=1.0 / page.scale)
        header_lines += lines if not header_lines else []
    if pages and pages[0].notes and any("were skipped" in n for n in pages[0].notes):
        out.warnings.append(f"Only the first {MAX_PAGES} of {out.pages} pages were read.")
    _fill_header(out, read_header_fields(header_lines))
    return out


def _is_blank(image: np.ndarray) -> bool:
    gray = image.min(axis=2) if image.ndim == 3 else image
    return float((gray < 160).mean()) < 2e-4


def _ocr_page(out: DocumentRows, image: np.ndarray, origin: Origin, state: GridState, *, scale: float) -> list[str]:
    """OCR one page into ``out``; returns the text lines above its first table (the report header)."""
    from .ocr_tables import read_image_rows

    page = (origin.page or 0) + 1
    if _is_blank(image):
        out.warnings.append(f"Page {page} is blank.")
        return []
    found = read_image_rows(image, origin, state, scale=scale)
    if found.parsed.rows or found.parsed.unparsed:
        out._used("ocr")
    out.rows += found.parsed.rows
    out.unparsed += found.parsed.unparsed
    out.warnings += [f"Page {page}: {w}" for w in found.warnings]
    if not found.parsed.rows:
        out.warnings.append(_no_table(page - 1, found.parsed.has_header) if found.boxes else
                            f"Page {page}: no text was found by OCR.")
    return found.header_lines


def _fill_header(out: DocumentRows, fields: HeaderFields) -> None:
    out.patient, out.patient_id, out.collected_at = fields.patient, fields.patient_id, fields.collected_at
    out.warnings += fields.notes
