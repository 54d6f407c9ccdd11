"""Lab results exported as tables (CSV, TSV, XLSX) -> `RawLabRow`, one row per test, text as printed.

Hospital and lab systems export results in long format: one row per test with columns such as
"Test Name | Result | Units | Reference Range | Flag | Collection Date | UHID". Column names vary, so they are
matched against `COLUMN_SYNONYMS` ignoring case, spaces and punctuation. Only a test-name column and a
result column are required: the unit may sit inside the value cell ("5.6 mmol/L") and is read later.

Every non-blank row below the header comes back either as a `RawLabRow` or as an `UnparsedRow` saying why
(no result, no test name, section heading, repeated header), so nothing is dropped silently. Dates are
read day-first by default (05/03/2024 = 5 March, as printed in India and the UK); pass ``dayfirst=False``
for month-first exports. Spreadsheet numbers are rendered with the cell's number format ("1.20" stays
"1.20"), so ``value_text`` is what the user saw.
"""
from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from ..errors import CorruptFileError, FileTooLargeError, InputError, UnsupportedFormatError
from ..input_files import check_input_file
from .parsing import parse_date, parse_value
from .records import RawLabRow, Reader, SourceRef, UnparsedRow


@dataclass
class StructuredRows:
    """What a structured reader found: result rows, rows it could not use (with the reason), and notes for
    the user (skipped sheets, unreadable dates). ``sheets`` names the XLSX sheets that `SourceRef.table`
    indexes (empty for CSV and FHIR)."""

    rows: list[RawLabRow] = field(default_factory=list)
    unparsed: list[UnparsedRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sheets: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Rows accounted for: read plus unparsed."""
        return len(self.rows) + len(self.unparsed)


#: accepted column names per role, best first (compared lower-case without spaces or punctuation)
COLUMN_SYNONYMS: dict[str, tuple[str, ...]] = {
    "analyte": ("analyte", "test name", "test", "investigation", "parameter", "analyte name", "name", "tests",
                "investigations", "parameters", "test description", "component", "examination", "lab test",
                "test parameter", "observation"),
    "value": ("value", "result", "observed value", "results", "result value", "observation value", "test result",
              "your value", "reading", "observed"),
    "unit": ("unit", "units", "uom", "unit of measure", "unit of measurement", "result unit", "result units"),
    "ref_range": ("ref range", "reference range", "normal range", "biological reference interval",
                  "biological reference range", "bio ref interval", "biological ref interval", "bio ref range",
                  "reference interval", "ref interval", "reference", "reference values", "reference value",
                  "normal values", "normal value", "range", "expected range", "expected values", "ref_range"),
    "ref_low": ("ref low", "reference low", "low", "lower limit", "normal low", "range low", "low limit",
                "lower reference limit", "min", "minimum", "lln"),
    "ref_high": ("ref high", "reference high", "high", "upper limit", "normal high", "range high", "high limit",
                 "upper reference limit", "max", "maximum", "uln"),
    "flag": ("flag", "flags", "abnormal flag", "abn flag", "h/l", "result flag", "interpretation", "indicator",
             "abnormal", "alert"),
    "collected_at": ("collected at", "collection date", "collected date", "collected", "collected on",
                     "sample date", "sample collected", "sample collection date", "sample collected on",
                     "specimen date", "date collected", "date of collection", "collection datetime", "date",
                     "date time", "test date", "result date", "report date", "reported date", "reported",
                     "observation date"),
    "collected_time": ("collection time", "sample time", "collected time", "time collected", "time"),
    "patient": ("patient id", "patient", "mrn", "uhid", "patient no", "patient number", "hospital no",
                "hospital number", "cr no", "subject id", "subject", "patient name"),
    "loinc": ("loinc", "loinc code", "loinc num", "loinc number", "loinc id"),
    "section": ("section", "category", "panel", "department", "dept", "group", "profile", "test group",
                "panel name"),
}
_REQUIRED = {"analyte": "test name", "value": "result"}
_HEADER_SCAN_ROWS = 30
_MAX_COLUMNS = 256  # a results export is narrow; a sheet that claims more columns is read this wide
_MAX_ROWS = 1_000_000


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


_SYNONYM_RANK = {key: {_norm(s): i for i, s in enumerate(syns)} for key, syns in COLUMN_SYNONYMS.items()}


# ====================================================================== text decoding (shared with fhir.py)
def decode_text(file: Path, data: bytes, *, hint: str = "Export the results again as CSV or XLSX.") -> str:
    """Bytes of a text export as str: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252/Latin-1.

    Raises `CorruptFileError` when the bytes are binary (NUL or many control characters), not text.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16", errors="replace")
    else:
        for encoding in ("utf-8-sig", "cp1252", "latin-1"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
    control = sum(1 for ch in text[:20000] if ord(ch) < 32 and ch not in "\t\r\n\f")
    if "\x00" in text or control > max(2, len(text[:20000]) // 100):
        raise CorruptFileError(f"{file.name} contains binary data, not text: it is damaged or not a results export.",
                               hint=hint)
    return text


# ====================================================================== public entry point
def read_table_file(path: str | Path, *, dayfirst: bool = True) -> StructuredRows:
    """Read a CSV/TSV/XLSX results export into raw rows (text as printed) plus the rows it could not use.

    ``dayfirst`` chooses how ambiguous numeric dates like 05/03/2024 are read (default: 5 March).
    Raises `InputError` (missing columns, no rows), `UnsupportedFormatError` (old .xls, PDF, JSON...),
    `CorruptFileError` (empty, binary, broken workbook) or `FileTooLargeError`.
    """
    file = check_input_file(path, holds="results", smaller="Export only the results needed")
    data = file.read_bytes()
    kind = _sniff_kind(file, data)
    if kind == "xlsx":
        return _read_xlsx(file, dayfirst)
    text = decode_text(file, data)
    if not text.strip():
        raise CorruptFileError(f"{file.name} holds only blank lines: there are no results in it.",
                               hint="Export the results again.")
    if text.lstrip()[:1] in "{[" and _is_json(text):
        raise UnsupportedFormatError(f"{file.name} is a JSON file, not a table of results.",
                                     hint="Open FHIR JSON files with the FHIR reader (read_fhir).")
    grid = _csv_grid(file, text)
    out = StructuredRows()
    reader: Reader = "csv"
    found = _find_header(grid)
    if found is None:
        raise _missing_columns(file, grid)
    _read_grid(file, reader, grid, found, None, dayfirst, out)
    _require_rows(file, out)
    return out


# ====================================================================== format sniffing
def _sniff_kind(file: Path, data: bytes) -> str:
    head = data[:8]
    suffix = file.suffix.lower()
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except zipfile.BadZipFile as exc:
            raise CorruptFileError(f"{file.name} is a damaged ZIP/Excel file and cannot be opened.",
                                   hint="Save the workbook again from Excel, or export it as CSV.") from exc
        if "xl/workbook.xml" in names:
            return "xlsx"
        if "content.xml" in names:
            raise UnsupportedFormatError(f"{file.name} is an OpenDocument spreadsheet (.ods), which is not supported.",
                                         hint="Save it as .xlsx or CSV.")
        raise UnsupportedFormatError(f"{file.name} is a ZIP archive, not a spreadsheet.",
                                     hint="Unpack it and open the CSV or XLSX inside.")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnsupportedFormatError(f"{file.name} is an old-style Excel (.xls) or a password-protected workbook, "
                                     "which cannot be read.", hint="Remove the password and save it as .xlsx or CSV.")
    if head.startswith(b"%PDF"):
        raise UnsupportedFormatError(f"{file.name} is a PDF, not a table export.",
                                     hint="Open PDF lab reports with the PDF report reader.")
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"II*\x00", b"MM\x00*")):
        raise UnsupportedFormatError(f"{file.name} is a picture, not a table export.",
                                     hint="Photos of lab reports go through the OCR reader.")
    if suffix in (".xlsx", ".xlsm"):
        raise CorruptFileError(f"{file.name} is named like an Excel workbook but is not one: it is damaged or "
                               "renamed.", hint="Save the workbook again from Excel, or export it as CSV.")
    return "text"


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _csv_grid(file: Path, text: str) -> list[list[str]]:
    sample = [line for line in text.splitlines()[:200] if line.strip()][:50]
    preferred = "\t" if file.suffix.lower() in (".tsv", ".tab") else ","
    best: tuple[int, int, int] | None = None
    delimiter = preferred
    for rank, candidate in enumerate(sorted("\t;,|", key=lambda d: d != preferred)):
        try:
            counts = [len(r) for r in csv.reader(sample, delimiter=candidate)]
        except csv.Error:
            continue
        modal = max(set(counts), key=counts.count) if counts else 1
        score = (sum(c == modal for c in counts) if modal > 1 else 0, modal, -rank)
        if best is None or score > best:
            best, delimiter = score, candidate
    try:
        return [list(r) for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    except csv.Error as exc:
        raise CorruptFileError(f"{file.name} is not a readable table ({exc}).",
                               hint="Export the results again as CSV.") from exc


# ====================================================================== xlsx
def _read_xlsx(file: Path, dayfirst: bool) -> StructuredRows:
    from openpyxl import load_workbook

    try:
        book = load_workbook(file, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types (KeyError, BadZipFile, XML errors) for broken files
        raise CorruptFileError(f"{file.name} could not be opened as an Excel workbook: it is damaged.",
                               hint="Save the workbook again from Excel, or export it as CSV.") from exc
    out = StructuredRows()
    first_grid: list[list[Any]] | None = None
    try:
        for index, sheet in enumerate(book.worksheets):
            out.sheets.append(sheet.title)
            grid = _sheet_grid(file, sheet)
            if not any(text.strip() for row in grid for text, _ in row):
                continue
            found = _find_header(grid)
            if found is None:
                first_grid = first_grid or grid
                out.notes.append(f"Sheet '{sheet.title}' was skipped: it has no test-name and result columns.")
                continue
            _read_grid(file, "xlsx", grid, found, index, dayfirst, out)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise CorruptFileError(f"{file.name} could not be read to the end: the workbook is damaged.",
                               hint="Save the workbook again from Excel, or export it as CSV.") from exc
    finally:
        book.close()
    if not out.rows and not out.unparsed:
        if first_grid is not None:
            raise _missing_columns(file, first_grid)
        raise CorruptFileError(f"{file.name} has no filled cells in any sheet: there are no results in it.",
                               hint="Export the results again.")
    return out


def _sheet_grid(file: Path, sheet: Any) -> list[list[tuple[str, Any]]]:
    """The sheet's cells as (text shown, raw value), at most `_MAX_COLUMNS` wide and `_MAX_ROWS` long."""
    width = min(sheet.max_column or _MAX_COLUMNS, _MAX_COLUMNS)
    grid: list[list[tuple[str, Any]]] = []
    for row in sheet.iter_rows(min_row=1, min_col=1, max_col=width):
        if len(grid) >= _MAX_ROWS:
            raise FileTooLargeError(f"{file.name} has more than {_MAX_ROWS:,} rows in sheet '{sheet.title}'.",
                                    hint="Export only the results needed.")
        grid.append([(_cell_text(c.value, getattr(c, "number_format", None)), c.value) for c in row])
    return grid


def _cell_text(value: Any, number_format: str | None) -> str:
    """A spreadsheet cell as the user saw it: numbers through their number format, dates as ISO text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return _format_number(float(value), number_format)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ", timespec="minutes")
    if isinstance(value, (date, time)):
        return value.isoformat()
    return str(value)


def _format_number(value: float, number_format: str | None) -> str:
    """Render a number the way Excel shows it for simple formats ("0.00", "#,##0", "0.0%", "0.00E+00")."""
    section = re.sub(r'\[[^\]]*\]|"[^"]*"|\\.|_.|\*.', "", (number_format or "General").split(";")[0])
    if section.lower() in ("general", "@", "") or not re.search(r"[0#?]", section):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.15g}"
    _, dot, after = section.partition(".")
    decimals = len(re.match(r"[0#?]*", after).group(0)) if dot else 0
    if "E" in section.upper():
        return f"{value:.{decimals}E}"
    percent = "%" in section
    grouping = "," if re.search(r"[#0?],[#0?]", section) else ""
    return f"{value * 100 if percent else value:{grouping}.{decimals}f}" + ("%" if percent else "")


def _excel_serial(value: float) -> datetime | None:
    if 10000 <= value < 2958466:  # 1927-05-18 .. 9999-12-31 in Excel's 1900 date system (smaller: not a date)
        return datetime(1899, 12, 30) + timedelta(days=value)
    return None


# ====================================================================== header and rows
def _header_map(cells: list[str]) -> dict[str, int]:
    """Column index per role for one candidate header row (best synonym wins, then the leftmost column)."""
    best: dict[str, tuple[int, int]] = {}
    for col, text in enumerate(cells):
        variants = {_norm(text), _norm(re.sub(r"\([^)]*\)|\[[^\]]*\]", "", text))} - {""}
        hits = [(rank[v], key) for key, rank in _SYNONYM_RANK.items() for v in variants if v in rank]
        if not hits:
            continue
        rank_, key = min(hits)
        if key not in best or (rank_, col) < best[key]:
            best[key] = (rank_, col)
    return {key: col for key, (_, col) in best.items()}


def _texts(row: list[Any]) -> list[str]:
    return [(c[0] if isinstance(c, tuple) else c).strip() for c in row]


def _find_header(grid: list[list[Any]]) -> tuple[int, dict[str, int]] | None:
    seen = 0
    for index, row in enumerate(grid):
        texts = _texts(row)
        if not any(texts):
            continue
        mapping = _header_map(texts)
        if all(key in mapping for key in _REQUIRED):
            return index, mapping
        seen += 1
        if seen >= _HEADER_SCAN_ROWS:
            break
    return None


def _missing_columns(file: Path, grid: list[list[Any]]) -> InputError:
    candidates = [_texts(row) for row in grid[:200] if any(_texts(row))][:_HEADER_SCAN_ROWS]
    header = max(candidates, key=lambda t: len(_header_map(t)), default=[])
    found = [t for t in header if t]
    mapping = _header_map(header)
    missing = [label for key, label in _REQUIRED.items() if key not in mapping]
    accepted = "; ".join(f"{label}: {', '.join(COLUMN_SYNONYMS[key][:8])}" for key, label in _REQUIRED.items()
                         if key not in mapping)
    shown = ", ".join(found[:12]) + (" ..." if len(found) > 12 else "") if found else "none"
    return InputError(f"{file.name} has no {' or '.join(missing)} column (columns found: {shown}). "
                      f"Accepted column names, in any case or spacing - {accepted}.",
                      hint="Rename the columns, or export the results with one row per test.")


def _require_rows(file: Path, out: StructuredRows) -> None:
    if not out.rows and not out.unparsed:
        raise InputError(f"{file.name} has column headings but no result rows below them.",
                         hint="Check that the export contains results.")


def _read_grid(file: Path, reader: Reader, grid: list[list[Any]], found: tuple[int, dict[str, int]],
               table: int | None, dayfirst: bool, out: StructuredRows) -> None:
    """Every non-blank row below the header -> one `RawLabRow` or one `UnparsedRow` (appended to ``out``)."""
    header_row, cols = found
    header = [h for h in (_norm(t) for t in _texts(grid[header_row])) if h]
    section = ""
    for r in range(header_row + 1, len(grid)):
        texts = _texts(grid[r])
        if not any(texts):
            continue
        source = SourceRef(file=file.name, reader=reader, row=r, table=table)
        shown = " | ".join(texts).rstrip(" |")
        name = _get(texts, cols, "analyte")
        if [h for h in (_norm(t) for t in texts) if h] == header:
            out.unparsed.append(UnparsedRow(shown, "The column headings are repeated here; not a result.", source))
        elif name and not any(t for i, t in enumerate(texts) if i != cols["analyte"]):
            section = name
            out.unparsed.append(UnparsedRow(shown, "Section heading without a result; used as the section of "
                                                   "the rows below it.", source))
        elif not name:
            out.unparsed.append(UnparsedRow(shown, "This row has no test name.", source))
        elif (parsed := parse_value(_get(texts, cols, "value"))).missing:
            out.unparsed.append(UnparsedRow(shown, f"{name}: {parsed.problem}.", source))
        else:
            out.rows.append(_raw_row(file, grid[r], texts, cols, source, section, dayfirst, out))


def _get(texts: list[str], cols: dict[str, int], key: str) -> str:
    col = cols.get(key)
    return texts[col] if col is not None and col < len(texts) else ""


def _raw(row: list[Any], cols: dict[str, int], key: str) -> Any:
    col = cols.get(key)
    if col is None or col >= len(row):
        return None
    return row[col][1] if isinstance(row[col], tuple) else row[col]


def _raw_row(file: Path, row: list[Any], texts: list[str], cols: dict[str, int], source: SourceRef, section: str,
             dayfirst: bool, out: StructuredRows) -> RawLabRow:
    name, date_text = _get(texts, cols, "analyte"), _get(texts, cols, "collected_at")
    collected = _collected_at(_raw(row, cols, "collected_at"), date_text, _raw(row, cols, "collected_time"),
                              _get(texts, cols, "collected_time"), dayfirst)
    if collected is None and date_text:
        where = f"sheet '{out.sheets[source.table]}', " if source.table is not None else ""
        out.notes.append(f"{file.name}, {where}row {(source.row or 0) + 1}: the date '{date_text}' could not be "
                         f"read; the {name} result is kept without a date.")
    return RawLabRow(
        name=name, value_text=_get(texts, cols, "value"), source=source, unit_text=_get(texts, cols, "unit"),
        ref_text=_get(texts, cols, "ref_range") or _join_range(_get(texts, cols, "ref_low"),
                                                                _get(texts, cols, "ref_high")),
        flag_text=_get(texts, cols, "flag"), section=_get(texts, cols, "section") or section,
        loinc=_get(texts, cols, "loinc"), collected_at=collected, patient=_get(texts, cols, "patient"))


def _join_range(low: str, high: str) -> str:
    """Separate low/high columns as one printed range: "3.5-5.1", ">= 60" or "<= 5.1"."""
    if low and high:
        return f"{low} to {high}" if low.startswith("-") or high.startswith("-") else f"{low}-{high}"
    if low:
        return f">= {low}"
    return f"<= {high}" if high else ""


def _collected_at(raw_date: Any, date_text: str, raw_time: Any, time_text: str, dayfirst: bool) -> datetime | None:
    if isinstance(raw_date, datetime):
        moment: datetime | None = raw_date
    elif isinstance(raw_date, date):
        moment = datetime.combine(raw_date, time())
    elif isinstance(raw_date, (int, float)) and not isinstance(raw_date, bool):
        moment = _excel_serial(float(raw_date))
    else:
        moment = parse_date(date_text, dayfirst=dayfirst)
    if moment is None or (not raw_time and not time_text) or moment.time() != time():
        return moment
    clock: time | None = None
    if isinstance(raw_time, datetime):
        clock = raw_time.time()
    elif isinstance(raw_time, time):
        clock = raw_time
    elif isinstance(raw_time, float) and 0 <= raw_time < 1:
        clock = (datetime.min + timedelta(days=raw_time)).time().replace(microsecond=0)
    else:
        parsed = parse_date(f"2000-01-01 {time_text}") or parse_date(f"01/01/2000 {time_text}")
        clock = parsed.time() if parsed else None
    return datetime.combine(moment.date(), clock, moment.tzinfo) if clock else moment
