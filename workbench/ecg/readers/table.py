"""CSV/TSV text tables, one column per lead.

Separator, decimal mark, header row, units and sampling rate (from ``fs``, a ``# fs=`` comment or a time
column) are worked out from the text itself.
"""
from __future__ import annotations

import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import CorruptFileError, InputError
from ..record import ECGRecord
from .comments import parse_comments, patient_comments
from .common import check_fs, finish, headerless_names, is_number, merge_fs, unit_factor
from .sniff import SNIFF_BYTES, as_text

_FS_COMMENT = re.compile(
    r"\b(?:fs|sampling[ _-]?(?:rate|frequency)|sample[ _-]?rate)\s*(?:\((?:hz)\))?\s*[:=]?\s*([0-9]+(?:\.[0-9]*)?)",
    re.IGNORECASE,
)
_UNITS_COMMENT = re.compile(r"\bunits?\s*[:=]\s*([a-zµμ]+)", re.IGNORECASE)
_TIME_COLUMN = re.compile(
    r"(time|t|elapsed|timestamp|seconds|sec|ms)\s*[\(\[_ ]?\s*(s|sec|secs|seconds|ms|msec|milliseconds)?\s*[\)\]]?",
    re.IGNORECASE,
)
_INDEX_COLUMN = re.compile(r"(sample|samples|index|idx|n|#|sample ?#|sample_?no|unnamed: ?0)", re.IGNORECASE)
_UNIT_SUFFIX = re.compile(r"^(.*?)\s*[\(\[_ ]\s*(uv|µv|μv|mv|v)\s*[\)\]]?$", re.IGNORECASE)


def read_csv(file: Path, fs: float | None, leads: Sequence[str] | None) -> ECGRecord:
    """Text table, one column per lead; rate from ``fs``, a ``# fs=`` comment or a time column."""
    text = _read_text(file)
    comments = [ln.strip().lstrip("#").strip() for ln in text.splitlines() if ln.lstrip().startswith("#")]
    body = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not body:
        raise CorruptFileError(f"{file.name} has no data rows, only comments or blank lines.")
    sep, decimal = _delimiter(body[:20])
    first = _split(body[0], sep)
    has_header = not all(is_number(c.replace(decimal, ".")) for c in first if c)
    table = _parse_table(file, body[1:] if has_header else body, sep, decimal, len(first))
    names = first if has_header else headerless_names(file, len(first), leads)
    return _csv_to_record(file, table, names, comments, fs)


def _read_text(file: Path) -> str:
    raw = file.read_bytes()
    if as_text(raw[:SNIFF_BYTES]) is None:
        raise CorruptFileError(f"{file.name} should be a text table but contains binary data.")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _delimiter(lines: list[str]) -> tuple[str | None, str]:
    """Column separator of the first line (None = whitespace) and the decimal mark (',' only with ';')."""
    for sep in ("\t", ";", ","):
        if sep in lines[0]:
            return sep, "," if sep == ";" and any(re.search(r"\d,\d", ln) for ln in lines[1:]) else "."
    return None, "."


def _split(line: str, sep: str | None) -> list[str]:
    return [c.strip().strip('"').strip("'").strip() for c in (line.split(sep) if sep else line.split())]


def _parse_table(file: Path, rows: list[str], sep: str | None, decimal: str, n_cols: int) -> np.ndarray:
    """Numeric table; empty cells become NaN, anything else non-numeric is refused with its position."""
    import pandas as pd

    if not rows:
        raise CorruptFileError(f"{file.name} has a header row but no data rows.")
    text = "\n".join(rows)
    options: dict[str, Any] = {"sep": sep or r"\s+", "header": None, "skipinitialspace": True, "decimal": decimal}
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=np.float64, **options)  # fast path: all numeric
    except ValueError:
        frame = None  # some cell is not a number: the slow path below says which one
    except Exception as exc:  # ragged rows, bad quoting
        raise _irregular_table(file, exc) from exc
    if frame is not None and frame.shape[1] == n_cols:
        return frame.to_numpy(dtype=np.float64)
    return _parse_table_cells(file, text, options, n_cols)


def _parse_table_cells(file: Path, text: str, options: dict[str, Any], n_cols: int) -> np.ndarray:
    """Cell-by-cell parse, to name the first non-numeric cell; empty cells become NaN."""
    import pandas as pd

    decimal = options.pop("decimal")
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, **options)
    except Exception as exc:  # ragged rows, bad quoting
        raise _irregular_table(file, exc) from exc
    if frame.shape[1] != n_cols:
        raise CorruptFileError(
            f"{file.name}: the header row has {n_cols} columns but the data rows have {frame.shape[1]}."
        )
    cells = frame.apply(lambda col: col.str.strip().str.strip('"').str.replace(decimal, ".", regex=False))
    values = cells.apply(pd.to_numeric, errors="coerce")
    bad = values.isna() & ~cells.apply(lambda col: col.str.lower().isin(["", "nan", "na", "inf", "-inf", "+inf"]))
    if bad.to_numpy().any():
        row, col = np.argwhere(bad.to_numpy())[0]
        raise CorruptFileError(
            f"{file.name}: the value '{cells.iat[row, col]}' in data row {row + 1}, column {col + 1} is not a number.",
            hint="The table must hold only numbers below its header row.",
        )
    return values.to_numpy(dtype=np.float64)


def _irregular_table(file: Path, exc: Exception) -> CorruptFileError:
    detail = re.sub(r"^.*C error:\s*", "", str(exc).strip())
    return CorruptFileError(f"{file.name} is not a regular table (rows have different numbers of values): {detail}.")


def _csv_to_record(file: Path, table: np.ndarray, names: list[str], comments: list[str], fs: float | None) -> ECGRecord:
    if len(names) != table.shape[1]:
        raise InputError(f"{file.name}: {len(names)} lead names were given for {table.shape[1]} columns.")
    global_unit = next((m.group(1) for c in comments if (m := _UNITS_COMMENT.search(c))), "mV")
    time_fs: float | None = None
    keep_cols, keep_names = [], []
    for i, name in enumerate(names):
        time_match = _TIME_COLUMN.fullmatch(name.strip())
        if time_match and time_fs is None:
            time_fs = _fs_from_time(file, table[:, i], time_match)
            continue
        if _INDEX_COLUMN.fullmatch(name.strip()):
            continue
        lead, unit = _lead_and_unit(name, global_unit, file)
        keep_cols.append(table[:, i] * unit)
        keep_names.append(lead)
    if not keep_cols:
        raise CorruptFileError(f"{file.name} has no signal columns, only time or sample numbers.")
    comment_fs = next((float(m.group(1)) for c in comments if (m := _FS_COMMENT.search(c))), None)
    file_fs = comment_fs if comment_fs is not None else time_fs
    if file_fs is not None:
        check_fs(file_fs, file, "header comment" if comment_fs is not None else "time column")
    rate = merge_fs(file_fs, fs, file)
    if rate is None:
        raise InputError(
            f"{file.name} does not say its sampling rate.",
            hint="Pass it with --fs (e.g. --fs 500), or add a first line '# fs=500' or a time column.",
        )
    age, sex, labels, other = parse_comments(comments)
    return finish(
        np.column_stack(keep_cols), rate, keep_names, file, "csv",
        age=age, sex=sex, labels=labels, metadata={"comments": other},
    )


def _lead_and_unit(name: str, default_unit: str, file: Path) -> tuple[str, float]:
    """'II (uV)' -> ('II', 0.001); plain names use the file's unit."""
    match = _UNIT_SUFFIX.match(name.strip())
    lead, unit = (match.group(1), match.group(2)) if match and match.group(1) else (name, default_unit)
    factor = unit_factor(unit)
    if factor is None:
        raise InputError(f"{file.name}: unit '{unit}' of column '{name}' is not a voltage (use mV, uV or V).")
    return lead.strip() or name, factor


def _fs_from_time(file: Path, column: np.ndarray, match: re.Match[str]) -> float:
    """Sampling rate from a regular, increasing time column (seconds, or ms when so named or so spaced)."""
    step = np.diff(column)
    if column.size < 2 or not np.all(np.isfinite(step)) or np.any(step <= 0):
        raise CorruptFileError(f"{file.name}: the time column does not increase steadily, so the rate is unknown.")
    median = float(np.median(step))
    if np.max(np.abs(step - median)) > 0.05 * median:
        raise CorruptFileError(f"{file.name}: the time column is irregular (samples are not evenly spaced).")
    unit = (match.group(2) or match.group(1)).lower()
    in_ms = unit in ("ms", "msec", "milliseconds") or (unit not in ("s", "sec", "secs", "seconds") and median >= 0.5)
    rate = (1000.0 if in_ms else 1.0) / median
    return float(round(rate)) if abs(rate - round(rate)) < 1e-3 * rate else rate


def write_csv(record: ECGRecord, path: str | Path) -> Path:
    """Write a record as CSV (one column per lead, mV) with ``# fs=`` and patient comment lines."""
    out = Path(path)
    lines = [f"# fs={record.fs:g}", "# units: mV", *(f"# {c}" for c in patient_comments(record))]
    header = "\n".join(lines) + "\n" + ",".join(record.leads)
    try:
        np.savetxt(out, record.signals, fmt="%.6g", delimiter=",", header=header, comments="")
    except OSError as exc:
        raise InputError(f"Cannot write {out}: {exc.strerror or exc}.") from exc
    return out
