"""CSV / TSV / XLSX results exports -> RawLabRow: synonyms, encodings, dates, accounting, bad inputs."""
from __future__ import annotations

import zipfile
from datetime import datetime

import pytest

from tests.helpers import assert_refused
from workbench.config import get_settings
from workbench.errors import CorruptFileError, FileTooLargeError, InputError, UnsupportedFormatError
from workbench.labs.structured import COLUMN_SYNONYMS, StructuredRows, read_table_file


def by_name(result: StructuredRows) -> dict:
    return {r.name: r for r in result.rows}


# ====================================================================== CSV with synonyms
SYNONYM_CSV = """City Diagnostics - results export
Generated 06/03/2024

Investigation,Observed Value,UOM,Biological Reference Interval,Flag,Sample Date,UHID,LOINC Code
CARDIAC MARKERS,,,,,,,
Troponin T (hs),48.0,ng/L,< 14,H,05/03/2024 10:30,UH-0042,67151-1
NT-proBNP,"1,234",pg/mL,< 125,H,05/03/2024 10:30,UH-0042,33762-6
,,,,,,,
ELECTROLYTES,,,,,,,
Potassium,5.6 H,mmol/L,3.5 - 5.1,,05/03/2024,UH-0042,2823-3
Sodium,NA,mmol/L,136-145,,05/03/2024,UH-0042,2951-2
Chloride,----,mmol/L,98-107,,05/03/2024,UH-0042,
,101,mmol/L,98-107,,05/03/2024,UH-0042,
HIV 1 & 2 Antibody,Non Reactive,,Non Reactive,,05/03/2024,UH-0042,
Investigation,Observed Value,UOM,Biological Reference Interval,Flag,Sample Date,UHID,LOINC Code
Creatinine,<0.3,mg/dL,0.7-1.3,L,sometime,UH-0042,2160-0
"""


def test_csv_with_synonym_headers(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(SYNONYM_CSV, encoding="utf-8")
    result = read_table_file(path)
    data_rows = 11  # non-blank rows below the header line
    assert result.total == data_rows and len(result.rows) == 5 and len(result.unparsed) == 6
    rows = by_name(result)
    trop = rows["Troponin T (hs)"]
    assert (trop.value_text, trop.unit_text, trop.ref_text, trop.flag_text) == ("48.0", "ng/L", "< 14", "H")
    assert (trop.loinc, trop.patient, trop.section) == ("67151-1", "UH-0042", "CARDIAC MARKERS")
    assert trop.collected_at == datetime(2024, 3, 5, 10, 30)
    assert (trop.source.file, trop.source.reader, trop.source.row, trop.source.table) == ("export.csv", "csv", 5, None)
    assert rows["NT-proBNP"].value_text == "1,234"  # exactly as printed; the quotes are CSV syntax
    k = rows["Potassium"]
    assert (k.value_text, k.ref_text, k.section, k.collected_at) == ("5.6 H", "3.5 - 5.1", "ELECTROLYTES",
                                                                     datetime(2024, 3, 5))
    assert rows["HIV 1 & 2 Antibody"].value_text == "Non Reactive"
    creat = rows["Creatinine"]
    assert creat.value_text == "<0.3" and creat.collected_at is None
    assert any("sometime" in note and "Creatinine" in note for note in result.notes)

    reasons = [u.reason for u in result.unparsed]
    assert sum("Section heading" in r for r in reasons) == 2
    assert any(r.startswith("Sodium: no result ('NA')") for r in reasons)
    assert any(r.startswith("Chloride: no result ('----')") for r in reasons)
    assert any("no test name" in r for r in reasons)
    assert any("headings are repeated" in r for r in reasons)
    sodium = next(u for u in result.unparsed if u.reason.startswith("Sodium"))
    assert sodium.text.startswith("Sodium | NA | mmol/L") and sodium.source.row == 10


def test_tsv_with_separate_reference_bounds(tmp_path):
    path = tmp_path / "results.tsv"
    path.write_text(
        "Test Name\tResult\tUnits\tRef Low\tRef High\tCollection Date\tCollection Time\tPatient ID\n"
        "Haemoglobin\t13.2\tg/dL\t13.0\t17.0\t2024-03-05\t08:15\tP1\n"
        "LDL Cholesterol\t162\tmg/dL\t\t100\t2024-03-05\t08:15\tP1\n"
        "eGFR\t58\tmL/min/1.73m2\t60\t\t2024-03-05\t\tP1\n"
        "Base excess\t-3.1\tmmol/L\t-2\t2\t2024-03-05\t\tP1\n", encoding="utf-8")
    result = read_table_file(path)
    rows = by_name(result)
    assert result.total == 4 and not result.unparsed
    assert [r.ref_text for r in result.rows] == ["13.0-17.0", "<= 100", ">= 60", "-2 to 2"]
    assert rows["Haemoglobin"].collected_at == datetime(2024, 3, 5, 8, 15)
    assert rows["eGFR"].collected_at == datetime(2024, 3, 5) and rows["eGFR"].unit_text == "mL/min/1.73m2"
    assert {r.patient for r in result.rows} == {"P1"} and result.rows[0].source.row == 1


def test_semicolon_csv_with_decimal_commas(tmp_path):
    path = tmp_path / "labor.csv"
    path.write_text("Analyt;Wert;Einheit;Referenzbereich\n"  # German headings are not synonyms ...
                    "Kalium;5,6;mmol/L;3,5-5,1\n", encoding="utf-8")
    assert_refused(read_table_file, InputError, path, "test name", "result", "Analyt, Wert")
    path.write_text("Analyte;Value;Unit;Reference range\nKalium;5,6;mmol/L;3,5-5,1\nNatrium;141;mmol/L;136-145\n",
                    encoding="utf-8")
    rows = by_name(read_table_file(path))
    assert (rows["Kalium"].value_text, rows["Kalium"].ref_text) == ("5,6", "3,5-5,1")
    assert rows["Natrium"].unit_text == "mmol/L"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1252", "latin-1", "utf-16"])
def test_encodings(tmp_path, encoding):
    path = tmp_path / f"enc-{encoding}.csv"
    text = "Test,Result,Unit,Normal Range,Date\nCreatinine,97,\u00b5mol/L,62 - 106,05/03/2024\n"
    if encoding == "cp1252":
        text = text.replace("62 - 106", "62 \u2013 106")  # en dash is byte 0x96 in Windows-1252
    path.write_bytes(text.encode(encoding))
    (row,) = read_table_file(path).rows
    assert (row.name, row.value_text, row.unit_text) == ("Creatinine", "97", "\u00b5mol/L")
    assert row.ref_text in ("62 - 106", "62 \u2013 106") and row.collected_at == datetime(2024, 3, 5)


def test_dayfirst_switch(tmp_path):
    path = tmp_path / "us.csv"
    path.write_text("test,value,unit,collected_at\nGlucose,5.4,mmol/L,03/05/2024\nUrea,4.1,mmol/L,12/31/2024\n")
    day_first = read_table_file(path)
    month_first = read_table_file(path, dayfirst=False)
    assert day_first.rows[0].collected_at == datetime(2024, 5, 3)
    assert month_first.rows[0].collected_at == datetime(2024, 3, 5)
    assert day_first.rows[1].collected_at == month_first.rows[1].collected_at == datetime(2024, 12, 31)


def test_header_matching_ignores_case_and_punctuation(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text("TEST-NAME,Result (SI),U.O.M.,Ref. Range,H/L,Date of Collection,M.R.N.,LOINC_code\n"
                    "Troponin I,0.05,ng/mL,<0.04,H,2024-03-05T09:00,123,10839-9\n")
    (row,) = read_table_file(path).rows
    assert (row.name, row.value_text, row.unit_text, row.ref_text, row.flag_text, row.patient, row.loinc) == (
        "Troponin I", "0.05", "ng/mL", "<0.04", "H", "123", "10839-9")
    assert row.collected_at == datetime(2024, 3, 5, 9, 0)


# ====================================================================== XLSX
def write_workbook(path):
    from openpyxl import Workbook

    book = Workbook()
    notes = book.active
    notes.title = "About"
    notes["A1"] = "Exported from LabSys; see the Results sheets."
    sheet = book.create_sheet("Results")
    sheet["A1"] = "Patient report"
    sheet.append([])
    sheet.append(["Parameter", "Result", "Units", "Normal Range", "Collected", "Patient", "LOINC"])
    sheet.append(["Haemoglobin", 13.2, "g/dL", "13-17", datetime(2024, 3, 5, 9, 30), 4711, "718-7"])
    sheet.append(["Creatinine", 1.2, "mg/dL", "0.7-1.3", 45356.5, 4711, "2160-0"])  # Excel serial, General
    sheet.append(["Troponin T", 14, "ng/L", "<14", "05/03/2024", 4711, "67151-1"])
    sheet.append(["HbA1c", 0.065, "", "< 5.7%", None, 4711, ""])
    sheet.append([None, None, None, None, None, None, None])
    sheet.append(["Sodium", None, "mmol/L", "136-145", None, 4711, ""])
    sheet["B5"].number_format = "0.00"  # 1.2 shown as 1.20
    sheet["B7"].number_format = "0.0%"  # 0.065 shown as 6.5%
    sheet["E4"].number_format = "dd/mm/yyyy hh:mm"
    second = book.create_sheet("Lipids")
    second.append(["Test", "Value", "Unit", "Reference Range"])
    second.append(["LDL-C", 3.456, "mmol/L", "Optimal: < 2.6 / Near optimal: 2.6-3.3"])
    second.append(["Platelets", 250000, "/cumm", "1,50,000 - 4,10,000"])
    second["B3"].number_format = "#,##0"
    book.save(path)


def test_xlsx_all_sheets_with_number_formats(tmp_path):
    path = tmp_path / "report.xlsx"
    write_workbook(path)
    result = read_table_file(path)
    assert result.sheets == ["About", "Results", "Lipids"]
    assert any("'About' was skipped" in n for n in result.notes)
    assert result.total == 5 + 2 and len(result.rows) == 6
    rows = by_name(result)
    hb = rows["Haemoglobin"]
    assert (hb.value_text, hb.unit_text, hb.ref_text, hb.patient, hb.loinc) == ("13.2", "g/dL", "13-17", "4711",
                                                                               "718-7")
    assert hb.collected_at == datetime(2024, 3, 5, 9, 30)
    assert (hb.source.reader, hb.source.table, hb.source.row) == ("xlsx", 1, 3)  # Excel row 4, 0-based 3
    assert rows["Creatinine"].value_text == "1.20"
    assert rows["Creatinine"].collected_at == datetime(2024, 3, 5, 12, 0)
    assert rows["Troponin T"].value_text == "14" and rows["Troponin T"].collected_at == datetime(2024, 3, 5)
    assert rows["HbA1c"].value_text == "6.5%" and rows["HbA1c"].collected_at is None
    assert rows["LDL-C"].value_text == "3.456" and rows["LDL-C"].source.table == 2
    assert rows["Platelets"].value_text == "250,000"
    (sodium,) = result.unparsed
    assert sodium.reason.startswith("Sodium: no result") and sodium.source.row == 8


def test_xlsx_without_result_columns(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["Name", "Age", "Ward"])
    book.active.append(["A. Patient", 64, "CCU"])
    path = tmp_path / "census.xlsx"
    book.save(path)
    err = assert_refused(read_table_file, InputError, path, "result", "columns found: Name, Age, Ward",
                         "observed value")
    assert "test name" not in err.message.split("(")[0]  # "Name" is accepted as the test-name column


# ====================================================================== bad inputs
def test_missing_columns_message_names_found_and_accepted(tmp_path):
    path = tmp_path / "wrong.csv"
    path.write_text("Foo,Bar,Units\nx,1,mg\n")
    err = assert_refused(read_table_file, InputError, path, "no test name or result column", "Foo, Bar, Units",
                         "investigation", "observed value")
    assert err.hint


@pytest.mark.parametrize(("content", "exc", "words"), [
    (b"", CorruptFileError, ("empty",)),
    (b"\n\n   \n", CorruptFileError, ("blank",)),
    (b"Test,Result,Unit\n\n", InputError, ("no result rows",)),
    (bytes(range(256)) * 20, CorruptFileError, ("binary",)),
    (b"%PDF-1.7\n%binary", UnsupportedFormatError, ("PDF",)),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, UnsupportedFormatError, (".xls",)),
    (b'{"resourceType": "Bundle"}', UnsupportedFormatError, ("JSON",)),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, UnsupportedFormatError, ("picture",)),
])
def test_bad_csv_inputs(tmp_path, content, exc, words):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    assert_refused(read_table_file, exc, path, *words)


def test_bad_xlsx_inputs(tmp_path):
    fake = tmp_path / "fake.xlsx"
    fake.write_text("Test,Result\nK,4\n")
    assert_refused(read_table_file, CorruptFileError, fake, "not one")
    other_zip = tmp_path / "archive.xlsx"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert_refused(read_table_file, UnsupportedFormatError, other_zip, "ZIP")
    broken = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("xl/workbook.xml", "<not really")
    assert_refused(read_table_file, CorruptFileError, broken, "damaged")
    truncated = tmp_path / "truncated.xlsx"
    write_workbook(truncated)
    truncated.write_bytes(truncated.read_bytes()[:300])
    assert_refused(read_table_file, CorruptFileError, truncated, "damaged")
    empty_book = tmp_path / "empty.xlsx"
    from openpyxl import Workbook

    Workbook().save(empty_book)
    assert_refused(read_table_file, CorruptFileError, empty_book, "no filled cells")


def test_missing_and_huge_files(tmp_path, monkeypatch):
    assert_refused(read_table_file, InputError, tmp_path / "nowhere.csv", "does not exist")
    assert_refused(read_table_file, InputError, tmp_path, "folder", names=(str(tmp_path),))
    big = tmp_path / "big.csv"
    big.write_text("Test,Result\n" + "Potassium,4.1\n" * 90000)  # ~1.3 MB
    monkeypatch.setenv("WORKBENCH_MAX_FILE_MB", "1")
    get_settings.cache_clear()
    assert_refused(read_table_file, FileTooLargeError, big, "1 MB", "max_file_mb")


def test_synonym_table_is_unambiguous():
    seen: dict[str, str] = {}
    for key, names in COLUMN_SYNONYMS.items():
        for name in names:
            norm = "".join(c for c in name.lower() if c.isalnum())
            assert seen.setdefault(norm, key) == key, f"{name!r} is a synonym of both {seen[norm]} and {key}"
