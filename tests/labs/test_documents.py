"""Lab-report documents -> raw rows: generated PDFs of every layout, scans and photos by OCR, the two real CBC
report pictures, and the files a clinician might pick by mistake."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA
from tests.helpers import assert_refused
from workbench.config import get_settings
from workbench.errors import CorruptFileError, FileTooLargeError, InputError, UnsupportedFormatError
from workbench.labs.documents import DocumentRows, pdf_tables, read_document
from workbench.labs.documents.patient_header import parse_datetime, read_header_fields
from workbench.labs.documents.rows import Cell, GridState, Origin, header_roles, parse_grid, split_attached_flag
from workbench.labs.documents.sample_reports import (
    ExpectedRow,
    Layout,
    Result,
    ReportSpec,
    Section,
    default_spec,
    write_image_only_pdf,
    write_report_pdf,
    write_report_photo,
)
from workbench.labs.records import RawLabRow

pytestmark = pytest.mark.timeout(300)

LABS = SHARED_DATA / "labs"

LAYOUTS: dict[str, Layout] = {
    "ruled": Layout(),
    "borderless": Layout(ruled=False),
    "two_columns_ruled": Layout(columns=2, font_size=7.5),
    "two_columns_borderless": Layout(columns=2, ruled=False, font_size=7.5),
    "two_columns_borderless_units_in_value": Layout(columns=2, ruled=False, font_size=7.5, unit_in_value=True,
                                                    flag_style="suffix"),
    "multipage_ruled": Layout(rows_per_page=12),
    "multipage_borderless_units_in_value": Layout(
        ruled=False, rows_per_page=12, unit_in_value=True, flag_style="suffix",
        headers=("Investigation", "Observed value", "Units", "Biological reference interval", "Flag")),
    "prefix_flags_ruled": Layout(flag_style="prefix"),
    "prefix_flags_borderless_wrapped": Layout(ruled=False, flag_style="prefix", name_width_mm=40),
}
EXPECTED_READER = {"ruled": "camelot-lattice", "borderless": "camelot-stream"}

_READ: dict[Path, DocumentRows] = {}


def read(path: Path) -> DocumentRows:
    """`read_document`, once per file for the whole session (OCR takes seconds per page)."""
    if path not in _READ:
        _READ[path] = read_document(path)
    return _READ[path]


def fields(rows: list[RawLabRow]) -> list[tuple]:
    return [(r.name, r.value_text, r.unit_text, r.ref_text, r.flag_text, r.section, r.source.page) for r in rows]


def truth(rows: list[ExpectedRow]) -> list[tuple]:
    return [(e.name, e.value_text, e.unit_text, e.ref_text, e.flag_text, e.section, e.page) for e in rows]


@pytest.fixture(scope="session")
def documents(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lab_documents")


@pytest.fixture(scope="session")
def text_pdfs(documents: Path) -> dict[str, tuple[Path, list[ExpectedRow]]]:
    out = {}
    for name, layout in LAYOUTS.items():
        path = documents / f"{name}.pdf"
        out[name] = (path, write_report_pdf(path, default_spec(layout)))
    return out


@pytest.fixture(scope="session")
def scanned_pdf(documents: Path) -> tuple[Path, list[ExpectedRow]]:
    path = documents / "scan.pdf"
    return path, write_image_only_pdf(path, default_spec(Layout(rows_per_page=14)))


@pytest.fixture(scope="session")
def photo(documents: Path) -> tuple[Path, list[ExpectedRow]]:
    path = documents / "photo.jpg"
    return path, write_report_photo(path, default_spec(Layout(ruled=False)))


@pytest.fixture(scope="session")
def photo_two_columns(documents: Path) -> tuple[Path, list[ExpectedRow]]:
    path = documents / "photo_two_columns.jpg"
    return path, write_report_photo(path, default_spec(Layout(columns=2, font_size=8)))


# ====================================================================== text PDFs: exact
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_text_pdf_layouts_give_every_row_exactly(text_pdfs: dict, layout: str) -> None:
    path, expected = text_pdfs[layout]
    doc = read(path)
    assert fields(doc.rows) == truth(expected)
    assert doc.unparsed == []
    kind = "ruled" if LAYOUTS[layout].ruled else "borderless"
    assert doc.readers_used[0] == EXPECTED_READER[kind]
    assert doc.pages == 1 + max(e.page for e in expected)
    assert (doc.patient, doc.patient_id) == ("Maria Rossi", "MRN-0042137")
    assert doc.collected_at is not None and doc.collected_at.isoformat() == "2025-03-12T09:40:00"
    assert any("day first" in w for w in doc.warnings)  # 12/03 could be 3 December: said, not hidden
    for row in doc.rows:
        assert row.patient == "Maria Rossi" and row.collected_at == doc.collected_at
        assert row.source.file == str(path) and row.source.reader in doc.readers_used
        assert row.source.row is not None and row.source.table is not None and row.source.bbox is not None
        x0, y0, x1, y1 = row.source.bbox
        assert 0 <= x0 < x1 <= 595.3 and 0 <= y0 < y1 <= 841.9  # A4 in points, origin top left


def test_last_page_of_a_long_table_goes_to_pdfplumber(text_pdfs: dict) -> None:
    """Camelot stream sees no table in the single row left on page 3: the second reader reads it."""
    doc = read(text_pdfs["multipage_borderless_units_in_value"][0])
    assert doc.readers_used == ["camelot-stream", "pdfplumber"]
    assert [r.source.reader for r in doc.rows if r.source.page == 2] == ["pdfplumber"]
    last = doc.rows[-1]
    assert (last.name, last.value_text, last.flag_text, last.section) == ("Haematocrit", "0.36 L/L", "L",
                                                                         "Complete blood count")


@pytest.mark.parametrize("layout", ["ruled", "borderless", "two_columns_ruled", "multipage_borderless_units_in_value"])
def test_pdfplumber_alone_reads_every_layout(text_pdfs: dict, layout: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second reader is complete on its own (camelot failing on a page must cost nothing)."""
    monkeypatch.setattr(pdf_tables, "_camelot_grids", lambda *args, **kwargs: [])
    path, expected = text_pdfs[layout]
    doc = read_document(path)
    assert doc.readers_used == ["pdfplumber"]
    assert fields(doc.rows) == truth(expected)


def test_bbox_points_at_the_printed_row(text_pdfs: dict) -> None:
    import pdfplumber

    for layout in ("ruled", "borderless"):
        path, _ = text_pdfs[layout]
        doc = read(path)
        with pdfplumber.open(path) as pdf:
            page = pdf.pages[0]
            for row in doc.rows:
                text = page.within_bbox(row.source.bbox).extract_text()
                assert row.name.split()[0] in text and row.value_text in text, (layout, row.name, text)


# ====================================================================== OCR: scans and photos
def _value_share(doc: DocumentRows, expected: list[ExpectedRow]) -> float:
    """Share of expected rows whose value_text came back exactly, matched by position in reading order."""
    got = doc.rows
    if len(got) != len(expected):
        return 0.0
    return sum(g.value_text == e.value_text for g, e in zip(got, expected)) / len(expected)


def test_scanned_pdf_is_read_by_ocr(scanned_pdf: tuple[Path, list[ExpectedRow]]) -> None:
    path, expected = scanned_pdf
    doc = read(path)
    assert doc.readers_used == ["ocr"] and doc.pages == 2
    share = _value_share(doc, expected)
    print(f"scanned PDF: {share:.0%} of {len(expected)} rows with exact value_text")
    assert share >= 0.9  # measured: 100 %
    assert [r.source.page for r in doc.rows] == [e.page for e in expected]
    assert sum(r.section == e.section for r, e in zip(doc.rows, expected)) / len(expected) >= 0.9
    assert sum(r.flag_text == e.flag_text for r, e in zip(doc.rows, expected)) / len(expected) >= 0.85
    assert (doc.patient, doc.patient_id) == ("Maria Rossi", "MRN-0042137")
    assert doc.collected_at is not None and doc.collected_at.isoformat() == "2025-03-12T09:40:00"
    for row in doc.rows:  # OCR boxes are given back in page points for PDF pages
        x0, y0, x1, y1 = row.source.bbox
        assert 0 <= x0 < x1 <= 596 and 0 <= y0 < y1 <= 842


@pytest.mark.parametrize("which", ["photo", "photo_two_columns"])
def test_photo_jpeg_is_read_by_ocr(which: str, request: pytest.FixtureRequest) -> None:
    path, expected = request.getfixturevalue(which)
    doc = read(path)
    assert doc.readers_used == ["ocr"]
    share = _value_share(doc, expected)
    print(f"{which}: {share:.0%} of {len(expected)} rows with exact value_text")
    assert share >= 0.9  # measured: 100 % for both
    assert sum(r.section == e.section for r, e in zip(doc.rows, expected)) / len(expected) >= 0.9
    assert sum(r.flag_text == e.flag_text for r, e in zip(doc.rows, expected)) / len(expected) >= 0.85
    assert doc.patient == "Maria Rossi"


def test_table_without_header_row_in_a_tiff(documents: Path) -> None:
    """No header line at all: columns come from where the text starts, named from their content."""
    from PIL import Image

    photo = documents / "no_header.jpg"
    expected = write_report_photo(photo, default_spec(Layout(ruled=False, headers=("", "", "", "", ""))))
    path = documents / "no_header.tif"
    Image.open(photo).convert("L").save(path, compression="tiff_deflate")
    with pytest.raises(InputError, match="No table of lab results"):  # the text PDF of it has no header row
        read_document(write_pdf_without_header(documents))
    doc = read(path)
    assert any("columns were guessed" in w for w in doc.warnings)
    share = _value_share(doc, expected)
    print(f"table without header: {share:.0%} of {len(expected)} rows with exact value_text")
    assert share >= 0.9  # measured: 100 %
    assert [r.unit_text for r in doc.rows][:4] == ["ng/L", "pg/mL", "ng/mL", "ng/mL"]
    assert sum(r.flag_text == e.flag_text for r, e in zip(doc.rows, expected)) / len(expected) >= 0.85
    width, height = Image.open(path).size
    assert all(0 <= r.source.bbox[0] < r.source.bbox[2] <= width and r.source.bbox[3] <= height for r in doc.rows)


def write_pdf_without_header(folder: Path) -> Path:
    path = folder / "no_header.pdf"
    write_report_pdf(path, default_spec(Layout(ruled=False, headers=("", "", "", "", ""))))
    return path


# ====================================================================== the two real CBC reports
# Checked by eye on the pictures: (name contains, value, unit, reference range without spaces, flag, section)
CBC_1 = [
    ("Hemoglobin", "12.5", "g/dL", "13.0-17.0", "Low", "HEMOGLOBIN"),
    ("Total RBC", "5.2", "mill/cumm", "4.5-5.5", "", "RBC COUNT"),
    ("Packed Cell Volume", "57.5", "%", "40-50", "High", "BLOOD INDICES"),
    ("Mean Corpuscular Volume", "87.75", "fL", "83-101", "", "BLOOD INDICES"),
    ("MCH", "27.2", "pg", "27-32", "", "BLOOD INDICES"),
    ("MCHC", "32.8", "g/dL", "32.5-34.5", "", "BLOOD INDICES"),
    ("RDW", "13.6", "%", "11.6-14.0", "", "BLOOD INDICES"),
    ("Total WBC", "9000", "cumm", "4000-11000", "", "WBC COUNT"),
    ("Neutrophils", "60", "%", "50-62", "", "DIFFERENTIAL COUNT"),
    ("Lymphocytes", "31", "%", "20-40", "", "DIFFERENTIAL COUNT"),
    ("Eosinophils", "1", "%", "00-06", "", "DIFFERENTIAL COUNT"),
    ("Monocytes", "7", "%", "00-10", "", "DIFFERENTIAL COUNT"),
    ("Basophils", "1", "%", "00-02", "", "DIFFERENTIAL COUNT"),
    ("Neutrophils", "6000", "cells/mcL", "1500-7500", "", "ABSOLUTE COUNT"),
    ("Lymphocytes", "3100", "cells/mcL", "1300-3500", "", "ABSOLUTE COUNT"),
    ("Eosinophils", "100", "cells/mcL", "00-500", "", "ABSOLUTE COUNT"),
    ("Monocytes", "700", "cells/mcL", "200-950", "", "ABSOLUTE COUNT"),
    ("Basophils", "100", "cells/mcL", "00-300", "", "ABSOLUTE COUNT"),
    ("Platelet Count", "320000", "cumm", "150000-410000", "", "PLATELET COUNT"),
]
CBC_2 = [
    ("HEMOGLOBIN", "15", "g/dl", "13-17", "", ""),
    ("TOTAL LEUKOCYTE COUNT", "5,100", "cumm", "4,800-10,800", "", ""),
    ("NEUTROPHILS", "79", "%", "40-80", "", "DIFFERENTIAL LEUCOCYTE COUNT"),
    ("LYMPHOCYTE", "18", "%", "20-40", "L", "DIFFERENTIAL LEUCOCYTE COUNT"),
    ("EOSINOPHILS", "1", "%", "1-6", "", "DIFFERENTIAL LEUCOCYTE COUNT"),
    ("MONOCYTES", "1", "%", "2-10", "L", "DIFFERENTIAL LEUCOCYTE COUNT"),
    ("BASOPHILS", "1", "%", "<2", "", "DIFFERENTIAL LEUCOCYTE COUNT"),
    ("PLATELET COUNT", "3.5", "lakhs/cumm", "1.5-4.1", "", ""),  # printed flush left again: section over
    ("RBC COUNT", "5", "million/cumm", "4.5-5.5", "", ""),
    ("HEMATOCRIT", "42", "%", "40-50", "", ""),
    ("MCV", "84.0", "fL", "83-101", "", ""),
    ("MCH", "30.0", "Pg", "27-32", "", ""),
    ("MCHC", "35.7", "%", "31.5-34.5", "H", ""),
]


def _cbc_rows(doc: DocumentRows) -> list[tuple]:
    return [(r.name, r.value_text, r.unit_text, r.ref_text.replace(" ", ""), r.flag_text, r.section)
            for r in doc.rows]


@pytest.mark.parametrize("name, expected", [("cbc_report_1.jpg", CBC_1), ("cbc_report_2.png", CBC_2)])
def test_real_cbc_reports(name: str, expected: list[tuple]) -> None:
    path = LABS / name
    if not path.is_file():
        pytest.skip(f"shared lab report pictures not found at {LABS}")
    doc = read(path)
    got = _cbc_rows(doc)
    assert len(got) == len(expected), got
    for row, (part, value, unit, ref, flag, section) in zip(got, expected):
        assert part in row[0] and row[1:] == (value, unit, ref, flag, section), row
    assert doc.unparsed == []  # "Primary Sample Type : Blood", notes, signatures, "Page 1 of 2": not results
    assert doc.readers_used == ["ocr"] and doc.pages == 1


def test_real_cbc_report_headers() -> None:
    first, second = LABS / "cbc_report_1.jpg", LABS / "cbc_report_2.png"
    if not first.is_file():
        pytest.skip(f"shared lab report pictures not found at {LABS}")
    doc = read(first)  # the name has no label; the year is printed as "2X": no collection time, said so
    assert (doc.patient_id, doc.collected_at) == ("555", None)
    assert any("not a readable date" in w for w in doc.warnings)
    doc = read(second)
    assert (doc.patient, doc.patient_id) == ("Mr. Saubhik Bhaumik", "1001")
    assert doc.collected_at is not None and doc.collected_at.isoformat() == "2024-10-17T00:00:00"
    assert any("no time" in w for w in doc.warnings)
    assert all(r.patient == "Mr. Saubhik Bhaumik" for r in doc.rows)


def test_lazy_reading_gives_the_same_rows_as_reading_every_box(monkeypatch: pytest.MonkeyPatch) -> None:
    """The footer boxes left unread (notes, signatures below the table) change nothing that is returned."""
    from workbench.labs.documents import ocr_tables

    path = LABS / "cbc_report_2.png"
    if not path.is_file():
        pytest.skip(f"shared lab report pictures not found at {LABS}")

    def everything(doc: DocumentRows) -> tuple:
        rows = [(r.name, r.value_text, r.unit_text, r.ref_text, r.flag_text, r.section, r.source.bbox)
                for r in doc.rows]
        header = (doc.patient, doc.patient_id, doc.collected_at)
        return rows, [(u.text, u.reason) for u in doc.unparsed], header, doc.warnings

    lazy = read(path)
    monkeypatch.setattr(ocr_tables, "_LAZY", False)
    assert everything(read_document(path)) == everything(lazy)


def test_lab_ocr_engine_is_its_own_and_leaves_the_ecg_engine_alone() -> None:
    from workbench.ecg.image.device_text import get_ocr_engine
    from workbench.labs.documents.ocr_text import get_lab_ocr_engine

    ecg = get_ocr_engine()
    before = (ecg.text_det.postprocess_op.box_thresh, ecg.text_det.limit_side_len, ecg.text_det.limit_type)
    lab = get_lab_ocr_engine(1)
    assert lab is not ecg and lab is get_lab_ocr_engine(1)
    path = LABS / "cbc_report_2.png"
    if path.is_file():
        read(path)
    assert (ecg.text_det.postprocess_op.box_thresh, ecg.text_det.limit_side_len, ecg.text_det.limit_type) == before


def test_fused_hard_swish_models_compute_the_same() -> None:
    import numpy as np
    import onnx
    import onnxruntime as ort
    import rapidocr_onnxruntime

    from workbench.labs.documents.ocr_text import _fused_model

    models = Path(rapidocr_onnxruntime.__file__).parent / "models"
    rng = np.random.default_rng(0)
    for name, shape in (("ch_PP-OCRv4_rec_infer.onnx", (2, 3, 48, 320)),
                        ("ch_PP-OCRv4_det_infer.onnx", (1, 3, 320, 256))):
        path = str(models / name)
        fused = _fused_model(path)
        assert fused is not None
        ops = [n.op_type for n in onnx.load_from_string(fused).graph.node]
        assert "HardSigmoid" in ops and "Clip" not in ops
        x = rng.uniform(-1, 1, shape).astype(np.float32)
        plain = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        quick = ort.InferenceSession(fused, providers=["CPUExecutionProvider"])
        feed = {plain.get_inputs()[0].name: x}
        assert np.abs(plain.run(None, feed)[0] - quick.run(None, feed)[0]).max() < 1e-4


# ====================================================================== bad input
@pytest.fixture(scope="session")
def bad_files(documents: Path, text_pdfs: dict) -> Path:
    from pypdf import PdfReader, PdfWriter
    from reportlab.pdfgen import canvas

    folder = documents / "bad"
    folder.mkdir()
    rng = __import__("random").Random(5)
    (folder / "random.pdf").write_bytes(bytes(rng.randrange(256) for _ in range(4000)))
    (folder / "results.png").write_text("Sodium,134,mmol/L\nPotassium,6.4,mmol/L\n")
    (folder / "archive.bin").write_bytes(b"PK\x03\x04" + bytes(rng.randrange(256) for _ in range(500)))
    (folder / "empty.pdf").write_bytes(b"")
    ruled = text_pdfs["ruled"][0]
    data = ruled.read_bytes()
    (folder / "truncated.pdf").write_bytes(data[: len(data) // 2])
    page = canvas.Canvas(str(folder / "blank.pdf"))
    page.showPage()
    page.save()
    letter = canvas.Canvas(str(folder / "letter.pdf"))
    for k, line in enumerate(["Dear colleague,", "thank you for referring Mrs Rossi, 67, seen on 12/03/2025.",
                              "Her ECG showed sinus rhythm at 72 bpm.", "Kind regards, Dr. Moreau"]):
        letter.drawString(72, 780 - 16 * k, line)
    letter.showPage()
    letter.save()
    for name, user in (("locked.pdf", "secret"), ("owner_only.pdf", "")):
        writer = PdfWriter()
        writer.append(PdfReader(ruled))
        writer.encrypt(user_password=user, owner_password="owner")
        writer.write(folder / name)
    PdfWriter().write(folder / "no_pages.pdf")
    writer = PdfWriter()  # a report with a covering letter as page 2
    writer.append(PdfReader(ruled))
    writer.append(PdfReader(folder / "letter.pdf"))
    writer.write(folder / "with_letter.pdf")
    return folder


@pytest.mark.parametrize("name, error, words", [
    ("random.pdf", CorruptFileError, ("does not contain", "damaged")),
    ("truncated.pdf", CorruptFileError, ("not a readable PDF",)),
    ("no_pages.pdf", CorruptFileError, ("not a readable PDF",)),
    ("empty.pdf", CorruptFileError, ("empty",)),
    ("results.png", UnsupportedFormatError, ("text file",)),
    ("archive.bin", UnsupportedFormatError, ("neither a PDF nor a picture",)),
    ("locked.pdf", InputError, ("password",)),
    ("blank.pdf", InputError, ("blank",)),
    ("letter.pdf", InputError, ("No table of lab results",)),
])
def test_bad_documents_are_refused_in_plain_words(bad_files: Path, name: str, error: type, words: tuple) -> None:
    assert_refused(read_document, error, bad_files / name, *words)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    assert_refused(read_document, InputError, tmp_path / "nope.pdf", "does not exist")
    assert_refused(read_document, InputError, tmp_path, "folder", names=(str(tmp_path),))


def test_huge_file_is_refused_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_MAX_FILE_MB", "1")
    get_settings.cache_clear()
    path = tmp_path / "scan.pdf"
    path.write_bytes(b"%PDF-1.7\n" + os.urandom(1024 * 1024 + 10))
    assert_refused(read_document, FileTooLargeError, path, "up to 1 MB")


def test_owner_password_only_is_read(bad_files: Path, text_pdfs: dict) -> None:
    """Printing restrictions without an opening password do not stop a reader: the rows come out."""
    assert fields(read(bad_files / "owner_only.pdf").rows) == truth(text_pdfs["ruled"][1])


def test_page_without_table_is_a_warning_not_an_error(bad_files: Path, text_pdfs: dict) -> None:
    doc = read(bad_files / "with_letter.pdf")
    assert doc.pages == 2 and fields(doc.rows) == truth(text_pdfs["ruled"][1])
    assert any(w.startswith("Page 2: no results table") for w in doc.warnings)


# ====================================================================== the shared row logic, cell by cell
ORIGIN = Origin("grid.pdf", "manual", 0, 0)


def grid(*rows: tuple[str, ...]) -> list[list[Cell]]:
    return [[Cell(text) for text in row] for row in rows]


def test_grid_titles_sections_wrapped_names_flags_and_footers() -> None:
    parsed = parse_grid(grid(
        ("CITY LAB", "", "", "", ""),
        ("Patient Name: A. Test", "", "Collected on: 01/02/2025", "", ""),
        ("Parameter", "Result", "Units", "Normal range", ""),
        ("Lipid Profile", "", "", "", ""),
        ("Cholesterol, total", "5.9", "mmol/L", "Up to 5.0", "H"),
        ("LDL cholesterol (calculated,", "*3.8", "mmol/L", "< 3.0", ""),
        ("Friedewald)", "", "", "", ""),
        ("Parameter", "Result", "Units", "Normal range", ""),
        ("CARDIAC MARKERS", "", "", "", ""),
        ("Troponin T (hs)", "38 H", "ng/L", "0-14", ""),
        ("NT-proBNP", "1850 pg/mL High", "", "< 125", ""),
        ("", "12.5", "", "", ""),
        ("Sample No:", "445566", "", "", ""),
        ("Page 1 of 2", "", "", "", ""),
        ("Verified by Dr. X", "", "", "", ""),
        ("*** End of report ***", "", "", "", ""),
        ("Sodium", "140", "mmol/L", "136-145", ""),
    ), ORIGIN)
    assert parsed.has_header
    assert [(r.name, r.value_text, r.unit_text, r.ref_text, r.flag_text, r.section) for r in parsed.rows] == [
        ("Cholesterol, total", "5.9", "mmol/L", "Up to 5.0", "H", "Lipid Profile"),
        ("LDL cholesterol (calculated, Friedewald)", "3.8", "mmol/L", "< 3.0", "*", "Lipid Profile"),
        ("Troponin T (hs)", "38", "ng/L", "0-14", "H", "CARDIAC MARKERS"),
        ("NT-proBNP", "1850 pg/mL", "", "< 125", "High", "CARDIAC MARKERS"),
    ]
    assert [r.source.row for r in parsed.rows] == [4, 5, 9, 10]
    assert [(u.text, u.reason) for u in parsed.unparsed] == [
        ("12.5", "a value without a test name"),
        ("Sample No: 445566", "a label line, not a result"),
    ]  # the row below "End of report" is not read


def test_grid_two_tables_side_by_side_and_unlabelled_flag_column() -> None:
    parsed = parse_grid(grid(
        ("Test", "", "Value", "Unit", "Test", "", "Value", "Unit"),
        ("ELECTROLYTES", "", "", "", "Urea", "H", "48", "mg/dL"),
        ("Sodium", "L", "134", "mmol/L", "Creatinine", "", "0.9", "mg/dL"),
        ("Potassium", "", "4.1", "mmol/L", "", "", "", ""),
    ), ORIGIN, GridState(section="RENAL"))
    assert [(r.name, r.value_text, r.flag_text, r.section) for r in parsed.rows] == [
        ("Sodium", "134", "L", "ELECTROLYTES"),
        ("Potassium", "4.1", "", "ELECTROLYTES"),
        ("Urea", "48", "H", "ELECTROLYTES"),  # the right-hand table continues the left one
        ("Creatinine", "0.9", "", "ELECTROLYTES"),
    ]


def test_grid_without_header_is_not_a_results_table() -> None:
    parsed = parse_grid(grid(("Patient ID:", "123"), ("Collected on:", "01/02/2025 10:00")), ORIGIN)
    assert not parsed.has_header and parsed.rows == [] and parsed.unparsed == []


@pytest.mark.parametrize("cells, roles", [
    (("Investigation", "Observed Value", "Unit", "Biological Reference Interval"), ["name", "value", "unit", "ref"]),
    (("TEST", "VALUE", "UNIT", "REFERENCE"), ["name", "value", "unit", "ref"]),
    (("Test Name", "Result", "Flag", "Reference Value", "Units"), ["name", "value", "flag", "ref", "unit"]),
    (("", "Result", "Units", "Normal range"), ["name", "value", "unit", "ref"]),
    (("Test", "Result", "Previous result", "Method", "Ref. range"), ["name", "value", "skip", "skip", "ref"]),
    (("Complete Blood Count (CBC)",), None),
    (("Hemoglobin", "12.5", "g/dL", "13.0 - 17.0"), None),
])
def test_header_spellings(cells: tuple[str, ...], roles: list | None) -> None:
    assert header_roles(cells) == roles


@pytest.mark.parametrize("text, value, flag", [
    ("7.2 H", "7.2", "H"), ("*7.2", "7.2", "*"), ("H 7.2", "7.2", "H"), ("7.2*", "7.2", "*"),
    ("1850 pg/mL High", "1850 pg/mL", "High"), ("0.36 L/L L", "0.36 L/L", "L"), ("6.4 (H)", "6.4", "(H)"),
    ("0.36 L/L", "0.36 L/L", ""), ("< 3", "< 3", ""), ("Positive", "Positive", ""), ("5.6 mmol/L", "5.6 mmol/L", ""),
])
def test_flags_attached_to_the_value(text: str, value: str, flag: str) -> None:
    assert split_attached_flag(text) == (value, flag)


# ====================================================================== header fields
@pytest.mark.parametrize("text, iso", [
    ("12/03/2025 09:40", "2025-03-12T09:40:00"), ("2025-03-12T09:40", "2025-03-12T09:40:00"),
    ("12-Mar-2025 9:40 pm", "2025-03-12T21:40:00"), ("Mar 12, 2025 21:05", "2025-03-12T21:05:00"),
    ("03/25/2025 08:00", "2025-03-25T08:00:00"), ("12/03/202509:40", "2025-03-12T09:40:00"),
    ("17/10/2024", "2024-10-17T00:00:00"), ("02 Dec, 2X", None),
])
def test_collection_times(text: str, iso: str | None) -> None:
    when, _ = parse_datetime(text)
    assert (when.isoformat() if when else None) == iso


def test_header_fields_stop_at_the_next_label() -> None:
    got = read_header_fields(["Patient Name: Maria Rossi Patient ID: MRN-0042137",
                              "Age / Sex: 67 Y / F Sample Date: 2025-03-12 07:15 Reported on: 12/03/2025 14:10"])
    assert (got.patient, got.patient_id, got.collected_at.isoformat()) == ("Maria Rossi", "MRN-0042137",
                                                                            "2025-03-12T07:15:00")


def test_generator_spec_is_respected(documents: Path) -> None:
    """A small custom spec: the generator writes what it is given and returns it as ground truth."""
    spec = ReportSpec(sections=(Section("Cardiac", (Result("hs-Troponin I", "< 3", "ng/L", "< 26"),
                                                     Result("CK", "310", "U/L", "39-308", "H"))),),
                      patient_name="J. Doe", patient_id="42", collected_at=None, layout=Layout(ruled=False))
    path = documents / "custom.pdf"
    expected = write_report_pdf(path, spec)
    assert truth(expected) == [("hs-Troponin I", "< 3", "ng/L", "< 26", "", "Cardiac", 0),
                               ("CK", "310", "U/L", "39-308", "H", "Cardiac", 0)]
    doc = read_document(path)
    assert fields(doc.rows) == truth(expected)
    assert (doc.patient, doc.patient_id, doc.collected_at) == ("J. Doe", "42", None)
