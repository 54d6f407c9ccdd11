"""Realistic lab-report documents with known content, for the reader tests and the demo.

Real reports cannot be shipped (patient data), and the few public samples cover few layouts. This module
prints the layouts the readers must cope with - ruled or borderless tables, one or two result columns per
page, the header repeated on every page, wrapped analyte names, units in their own column or inside the
value cell, flags in their own column or attached to the value - and returns, for each document, the rows
a perfect reader would give back (`ExpectedRow`), so that tests compare field by field.

`write_report_pdf` writes a PDF with a text layer, `write_image_only_pdf` the same pages as pictures only
(a scan), `write_report_photo` one page as a slightly rotated, blurred JPEG (a phone photo).
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Literal

__all__ = ["ExpectedRow", "Layout", "ReportSpec", "Result", "Section", "default_spec", "indian_lab_spec",
           "troponin_series_specs", "us_chemistry_spec", "write_image_only_pdf", "write_report_pdf", "write_report_photo"]

FlagStyle = Literal["column", "suffix", "prefix"]


@dataclass(frozen=True)
class Result:
    """One printed result line."""

    name: str
    value: str
    unit: str = ""
    ref: str = ""
    flag: str = ""


@dataclass(frozen=True)
class Section:
    """A titled group of results ("Cardiac markers")."""

    title: str
    results: tuple[Result, ...]


@dataclass(frozen=True)
class Layout:
    """How the results table is printed."""

    ruled: bool = True  # grid lines around every cell (camelot lattice) or none (stream)
    columns: Literal[1, 2] = 1  # two result tables side by side on each page
    unit_in_value: bool = False  # "5.6 mmol/L" in the value cell instead of a unit column
    flag_style: FlagStyle = "column"  # own column, "7.2 H" (suffix) or "*7.2" / "H 7.2" (prefix)
    rows_per_page: int | None = None  # table rows (results and section titles) per table; None = all on one page
    font_size: float = 9.0
    headers: tuple[str, str, str, str, str] | None = None  # None: Test, Result, Unit, Reference range, Flag
    name_width_mm: float | None = None  # narrower name column = more wrapped names; None = a default per layout


@dataclass(frozen=True)
class ReportSpec:
    """A whole report: who, when, what was measured, and how it is laid out."""

    sections: tuple[Section, ...]
    patient_name: str = "Maria Rossi"
    patient_id: str = "MRN-0042137"
    collected_at: datetime | None = datetime(2025, 3, 12, 9, 40)
    lab_name: str = "Riverside General Hospital - Clinical Laboratory"
    title: str = "LABORATORY REPORT"
    layout: Layout = field(default_factory=Layout)


@dataclass(frozen=True)
class ExpectedRow:
    """What a perfect reader returns for one result (RawLabRow's text fields) and the page it is on."""

    name: str
    value_text: str
    unit_text: str
    ref_text: str
    flag_text: str
    section: str
    page: int


def default_spec(layout: Layout | None = None, **changes: object) -> ReportSpec:
    """A cardiology admission panel: cardiac markers, electrolytes, renal, lipids and a blood count.

    It mixes every range style ("0-14", "< 14", "14 - 52 ng/L", "Up to 5.0"), flag word (H, L, *, High,
    Critical) and a few long names that wrap in the name column.
    """
    sections = (
        Section("CARDIAC MARKERS", (
            Result("High-sensitivity cardiac troponin T (hs-cTnT)", "38", "ng/L", "< 14", "H"),
            Result("N-terminal pro-B-type natriuretic peptide (NT-proBNP)", "1850", "pg/mL", "< 125", "High"),
            Result("CK-MB", "4.1", "ng/mL", "0 - 5 ng/mL"),
            Result("Myoglobin", "81", "ng/mL", "25 - 72", "*"),
        )),
        Section("Electrolytes", (
            Result("Sodium", "134", "mmol/L", "136-145", "L"),
            Result("Potassium", "6.4", "mmol/L", "3.5-5.1", "Critical"),
            Result("Chloride", "101", "mmol/L", "98-107"),
            Result("Magnesium", "0.62", "mmol/L", "0.70-1.00", "L"),
            Result("Calcium, total", "2.31", "mmol/L", "2.15-2.55"),
        )),
        Section("Renal function", (
            Result("Creatinine", "1.42", "mg/dL", "0.70-1.30", "H"),
            Result("Urea", "48", "mg/dL", "17-43", "H"),
            Result("Estimated glomerular filtration rate (CKD-EPI 2021)", "52", "mL/min/1.73m2", "> 90", "L"),
        )),
        Section("Lipid profile", (
            Result("Total cholesterol", "5.9", "mmol/L", "Up to 5.0", "H"),
            Result("LDL cholesterol", "3.8", "mmol/L", "< 3.0", "H"),
            Result("HDL cholesterol", "1.02", "mmol/L", "> 1.00"),
            Result("Triglycerides", "2.1", "mmol/L", "< 1.7", "H"),
        )),
        Section("Complete blood count", (
            Result("Haemoglobin", "11.8", "g/dL", "13.0 - 17.0", "L"),
            Result("White blood cell count", "9.6", "x10^9/L", "4.0-11.0"),
            Result("Platelet count", "245", "x10^9/L", "150-410"),
            Result("Haematocrit", "0.36", "L/L", "0.40-0.50", "L"),
        )),
    )
    spec = ReportSpec(sections=sections, layout=layout or Layout())
    return replace(spec, **changes) if changes else spec


def indian_lab_spec(layout: Layout | None = None) -> ReportSpec:
    """An Indian private-lab style report: 'S.' prefixes, lakhs/cumm platelets, 'Biological Ref. Interval'."""
    sections = (
        Section("HAEMATOLOGY", (
            Result("Haemoglobin (Hb)", "10.9", "gm/dL", "M: 13-17 F: 12-15", "L"),
            Result("Total Leucocyte Count (TLC)", "11,800", "/cumm", "4000 - 11000", "H"),
            Result("Platelet Count", "1.9", "lakhs/cumm", "1.5 - 4.1"),
            Result("ESR (Westergren)", "32", "mm/hr", "0 - 20", "H"),
        )),
        Section("BIOCHEMISTRY", (
            Result("S. Creatinine", "1.1", "mg/dl", "0.6 - 1.2"),
            Result("Blood Urea", "34", "mg/dl", "15 - 45"),
            Result("S. Sodium", "138", "mEq/L", "135 - 145"),
            Result("S. Potassium", "3.2", "mEq/L", "3.5 - 5.1", "L"),
            Result("Fasting Blood Sugar (FBS)", "142", "mg/dl", "70 - 100", "H"),
            Result("Glycosylated Haemoglobin (HbA1c)", "7.4", "%", "4.0 - 5.6", "H"),
            Result("SGPT (ALT)", "56", "U/L", "Up to 40", "H"),
            Result("SGOT (AST)", "38", "U/L", "Up to 40"),
        )),
        Section("LIPID PROFILE", (
            Result("Total Cholesterol", "236", "mg/dl", "Desirable < 200", "H"),
            Result("LDL Cholesterol (Direct)", "162", "mg/dl", "< 100", "H"),
            Result("HDL Cholesterol", "36", "mg/dl", "> 40", "L"),
            Result("Triglycerides", "210", "mg/dl", "< 150", "H"),
        )),
    )
    return ReportSpec(sections=sections, patient_name="Mr. Ramesh Kumar", patient_id="UHID 20250311-77",
                      lab_name="Shree Diagnostics & Pathology Centre, Pune", title="TEST REPORT",
                      collected_at=datetime(2025, 3, 11, 8, 15), layout=layout or Layout(
                          headers=("Investigation", "Result", "Units", "Bio. Ref. Range", "Flag")))


def us_chemistry_spec(layout: Layout | None = None) -> ReportSpec:
    """A US hospital style metabolic panel in conventional units (mg/dL, mEq/L)."""
    sections = (
        Section("COMPREHENSIVE METABOLIC PANEL", (
            Result("Glucose", "182", "mg/dL", "70-99", "H"),
            Result("BUN", "28", "mg/dL", "7-20", "H"),
            Result("Creatinine", "1.6", "mg/dL", "0.7-1.3", "H"),
            Result("Sodium", "131", "mEq/L", "136-145", "L"),
            Result("Potassium", "5.9", "mEq/L", "3.5-5.1", "H"),
            Result("Chloride", "99", "mEq/L", "98-107"),
            Result("Carbon Dioxide (CO2)", "19", "mEq/L", "22-29", "L"),
            Result("Calcium", "8.1", "mg/dL", "8.6-10.3", "L"),
            Result("Magnesium", "1.6", "mg/dL", "1.7-2.2", "L"),
            Result("Albumin", "3.2", "g/dL", "3.5-5.0", "L"),
            Result("Total Bilirubin", "0.8", "mg/dL", "0.1-1.2"),
            Result("Alkaline Phosphatase", "96", "U/L", "44-147"),
        )),
        Section("CARDIAC", (
            Result("BNP", "612", "pg/mL", "< 100", "H"),
            Result("Troponin I, High Sensitivity (Abbott Architect)", "48", "ng/L", "<= 34.2", "H"),
        )),
    )
    return ReportSpec(sections=sections, patient_name="DOE, JOHN", patient_id="MRN 448120",
                      lab_name="Mercy County Hospital Laboratory", title="CHEMISTRY RESULTS",
                      collected_at=datetime(2025, 7, 4, 22, 5), layout=layout or Layout(ruled=False))


def troponin_series_specs(values_ng_l: tuple[str, ...] = ("9", "16"), hours: tuple[float, ...] = (0.0, 1.0),
                          start: datetime = datetime(2025, 3, 12, 9, 40)) -> list[ReportSpec]:
    """Serial hs-cTnT reports (0h, 1h ...) of one patient: the ESC 0h/1h algorithm's input."""
    from datetime import timedelta

    return [ReportSpec(sections=(Section("CARDIAC MARKERS", (
                Result("hs-Troponin T (Elecsys)", value, "ng/L", "< 14", "H" if float(value) >= 14 else ""),
                Result("Potassium", "4.3", "mmol/L", "3.5-5.1"),
            )),), title=f"CARDIAC MARKERS - SAMPLE {i + 1}", collected_at=start + timedelta(hours=h))
            for i, (value, h) in enumerate(zip(values_ng_l, hours))]


# ====================================================================== printed cells and ground truth
def _value_cell(result: Result, layout: Layout) -> str:
    text = f"{result.value} {result.unit}".strip() if layout.unit_in_value else result.value
    if result.flag and layout.flag_style == "suffix":
        text = f"{text} {result.flag}"
    elif result.flag and layout.flag_style == "prefix":
        text = f"{result.flag}{text}" if not result.flag.isalpha() else f"{result.flag} {text}"
    return text


def _expected(result: Result, section: str, layout: Layout, page: int) -> ExpectedRow:
    value = f"{result.value} {result.unit}".strip() if layout.unit_in_value else result.value
    unit = "" if layout.unit_in_value else result.unit
    return ExpectedRow(result.name, value, unit, result.ref, result.flag, section, page)


def _columns(layout: Layout) -> list[str]:
    """Roles of the printed columns, left to right."""
    cols = ["name", "value"]
    if not layout.unit_in_value:
        cols.append("unit")
    cols.append("ref")
    if layout.flag_style == "column":
        cols.append("flag")
    return cols


_ROLE_INDEX = {"name": 0, "value": 1, "unit": 2, "ref": 3, "flag": 4}


def _widths_mm(layout: Layout, cols: list[str]) -> list[float]:
    if layout.columns == 1:
        base = {"name": 66.0, "value": 24.0, "unit": 28.0, "ref": 34.0, "flag": 18.0}
        if layout.unit_in_value:
            base["value"] = 40.0
    else:
        base = {"name": 27.0, "value": 11.0, "unit": 21.0, "ref": 19.0, "flag": 12.0}
        if layout.unit_in_value:
            base["value"] = 30.0
        if layout.flag_style != "column":
            base["name"] += 5.0
            base["value"] += 7.0
    if layout.name_width_mm is not None:
        base["name"] = layout.name_width_mm
    return [base[c] for c in cols]


# ====================================================================== page content
def _chunks(spec: ReportSpec) -> tuple[list[list[tuple[str, Section | Result]]], list[ExpectedRow]]:
    """Table rows (section titles and results) cut into tables, and the expected rows with their page."""
    layout = spec.layout
    flat: list[tuple[str, Section | Result, str]] = []
    for section in spec.sections:
        flat.append(("section", section, section.title))
        flat.extend(("result", r, section.title) for r in section.results)
    per_table = layout.rows_per_page or (len(flat) if layout.columns == 1 else -(-len(flat) // 2))
    tables = [flat[i:i + per_table] for i in range(0, len(flat), per_table)]
    expected: list[ExpectedRow] = []
    for index, table in enumerate(tables):
        page = index // layout.columns
        expected.extend(_expected(item, title, layout, page) for kind, item, title in table if kind == "result")
    return [[(kind, item) for kind, item, _ in table] for table in tables], expected


def _table(rows: list[tuple[str, Section | Result]], layout: Layout):  # -> reportlab Table
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Table, TableStyle

    cols = _columns(layout)
    size = layout.font_size
    name_style = ParagraphStyle("name", fontName="Helvetica", fontSize=size, leading=size * 1.2)
    headers = layout.headers or ("Test", "Result", "Unit", "Reference range" if layout.columns == 1 else "Ref. range",
                                 "Flag")
    head = [headers[_ROLE_INDEX[c]] for c in cols]
    data: list[list[object]] = [head]
    styles: list[tuple] = [
        ("FONTNAME", (0, 0), (-1, -1), "Helvetica"), ("FONTSIZE", (0, 0), (-1, -1), size),
        ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"), ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    if layout.columns == 2:
        styles += [("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3)]
    for kind, item in rows:
        r = len(data)
        if kind == "section":
            assert isinstance(item, Section)
            data.append([item.title] + [""] * (len(cols) - 1))
            styles += [("SPAN", (0, r), (-1, r)), ("FONTNAME", (0, r), (-1, r), "Helvetica-Bold"),
                       ("TOPPADDING", (0, r), (-1, r), 6)]
            if layout.ruled:
                styles.append(("BACKGROUND", (0, r), (-1, r), colors.HexColor("#EEEEEE")))
            continue
        assert isinstance(item, Result)
        cells = {"name": Paragraph(item.name, name_style), "value": _value_cell(item, layout), "unit": item.unit,
                 "ref": item.ref, "flag": item.flag}
        data.append([cells[c] for c in cols])
        if item.flag:
            styles.append(("FONTNAME", (1, r), (1, r), "Helvetica-Bold"))
    if layout.ruled:
        styles.append(("GRID", (0, 0), (-1, -1), 0.5, colors.black))
    else:
        styles += [("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black)]
    table = Table(data, colWidths=[w * mm for w in _widths_mm(layout, cols)], repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle(styles))
    return table


def _story(spec: ReportSpec, tables: list[list[tuple[str, Section | Result]]]) -> list[object]:
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak, Paragraph, Spacer, Table, TableStyle

    layout = spec.layout
    title = ParagraphStyle("title", fontName="Helvetica-Bold", fontSize=12, leading=15, alignment=1)
    story: list[object] = []
    per_page = layout.columns
    pages = [tables[i:i + per_page] for i in range(0, len(tables), per_page)]
    for number, page_tables in enumerate(pages):
        if number:
            story.append(PageBreak())
        story += [Paragraph(spec.title, title), Spacer(1, 4 * mm)]
        if layout.columns == 1:
            story.append(_table(page_tables[0], layout))
        else:
            pair = [_table(t, layout) for t in page_tables] + ([""] if len(page_tables) == 1 else [])
            outer = Table([pair], colWidths=[91 * mm, 91 * mm], hAlign="LEFT")
            outer.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                       ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
            story.append(outer)
    return story


def _draw_page(spec: ReportSpec, total: int):  # -> onPage callback
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm

    width, height = A4

    def draw(canvas, doc) -> None:  # noqa: ANN001 - reportlab's callback signature
        page = doc.page  # 1-based
        canvas.saveState()
        canvas.setFont("Helvetica-Bold", 13)
        canvas.drawString(15 * mm, height - 15 * mm, spec.lab_name)
        canvas.setFont("Helvetica", 8)
        canvas.drawString(15 * mm, height - 20 * mm, "12 Harbour Road, Springfield  -  Tel. 0123 456 789  -  "
                                                     "Accredited medical laboratory no. 4711")
        canvas.line(15 * mm, height - 22 * mm, width - 15 * mm, height - 22 * mm)
        canvas.setFont("Helvetica", 9)
        collected = spec.collected_at.strftime("%d/%m/%Y %H:%M") if spec.collected_at else "not recorded"
        canvas.drawString(15 * mm, height - 28 * mm, f"Patient Name: {spec.patient_name}")
        canvas.drawString(110 * mm, height - 28 * mm, f"Patient ID: {spec.patient_id}")
        canvas.drawString(15 * mm, height - 33 * mm, "Age / Sex: 67 Y / F")
        canvas.drawString(110 * mm, height - 33 * mm, f"Collected on: {collected}")
        canvas.drawString(15 * mm, height - 38 * mm, "Referred by: Dr. L. Moreau (Cardiology)")
        canvas.drawString(110 * mm, height - 38 * mm, "Reported on: 12/03/2025 14:10")
        canvas.line(15 * mm, height - 41 * mm, width - 15 * mm, height - 41 * mm)
        canvas.setFont("Helvetica", 8)
        if page == total:
            canvas.drawCentredString(width / 2, 32 * mm, "*** End of report ***")
            canvas.drawString(15 * mm, 22 * mm, "Electronically verified by Dr. A. Bianchi, MD (Clinical Pathology)")
        canvas.drawString(15 * mm, 12 * mm, "Printed 12/03/2025 14:12")
        canvas.drawRightString(width - 15 * mm, 12 * mm, f"Page {page} of {total}")
        canvas.restoreState()

    return draw


# ====================================================================== writers
def _pdf_bytes(spec: ReportSpec) -> tuple[bytes, list[ExpectedRow], int]:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    tables, expected = _chunks(spec)
    total = -(-len(tables) // spec.layout.columns)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=45 * mm,
                            bottomMargin=38 * mm, title=spec.title, author=spec.lab_name)
    on_page = _draw_page(spec, total)
    doc.build(_story(spec, tables), onFirstPage=on_page, onLaterPages=on_page)
    if doc.page != total:  # a table did not fit on its page: the ground truth's page numbers would be wrong
        raise ValueError(f"the report needs {doc.page} pages instead of {total}: lower rows_per_page")
    return buffer.getvalue(), expected, total


def write_report_pdf(path: str | Path, spec: ReportSpec) -> list[ExpectedRow]:
    """Write ``spec`` as a text PDF; returns the rows a perfect reader extracts, in reading order."""
    data, expected, _ = _pdf_bytes(spec)
    Path(path).write_bytes(data)
    return expected


def _render_pages(data: bytes, dpi: float) -> list:  # -> list[PIL.Image.Image]
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(data)
    try:
        images = []
        for index in range(len(document)):
            page = document[index]
            images.append(page.render(scale=dpi / 72, fill_color=(255, 255, 255, 255)).to_pil().convert("RGB"))
            page.close()
        return images
    finally:
        document.close()


def write_image_only_pdf(path: str | Path, spec: ReportSpec, *, dpi: int = 200) -> list[ExpectedRow]:
    """Write ``spec`` as a scanned PDF: each page only a picture, no text layer (the OCR path)."""
    data, expected, _ = _pdf_bytes(spec)
    images = [im.convert("L") for im in _render_pages(data, dpi)]
    images[0].save(Path(path), "PDF", resolution=float(dpi), save_all=True, append_images=images[1:])
    return expected


def write_report_photo(path: str | Path, spec: ReportSpec, *, page: int = 0, dpi: int = 170, angle: float = 1.2,
                       blur: float = 0.7, quality: int = 82, seed: int = 7) -> list[ExpectedRow]:
    """Write one page of ``spec`` as a phone-photo-like JPEG (tilted, soft, uneven light, noisy).

    Returns the expected rows of that page only.
    """
    import numpy as np
    from PIL import Image, ImageFilter

    data, expected, total = _pdf_bytes(spec)
    if not 0 <= page < total:
        raise ValueError(f"page {page} does not exist (the report has {total} pages)")
    image = _render_pages(data, dpi)[page]
    image = image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(236, 232, 222))
    image = image.filter(ImageFilter.GaussianBlur(blur))
    rng = np.random.default_rng(seed)
    pixels = np.asarray(image, dtype=np.float32)
    h, w = pixels.shape[:2]
    light = np.linspace(1.0, 0.86, w, dtype=np.float32)[None, :, None] * np.linspace(1.0, 0.93, h,
                                                                                     dtype=np.float32)[:, None, None]
    tint = np.array([1.0, 0.98, 0.93], dtype=np.float32)
    pixels = pixels * light * tint + rng.normal(0.0, 4.0, pixels.shape).astype(np.float32)
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(Path(path), "JPEG", quality=quality)
    return [row for row in expected if row.page == page]
