"""Read ECG files of any supported format into an `ECGRecord` (millivolts), refusing bad input politely.

The format is recognised from the file's content (magic bytes, header text), the extension being only a
fallback, because users rename files. Every problem surfaces as a `WorkbenchError` whose message names
the file and says what is wrong; library exceptions are wrapped (chained with ``from``), never leaked.
"""
from __future__ import annotations

import io
import math
import re
import warnings
import zipfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..config import get_settings
from ..errors import (
    CorruptFileError,
    FileTooLargeError,
    InputError,
    SignalError,
    UnsupportedFormatError,
    WorkbenchError,
)
from .leads import STANDARD_LEADS
from .record import ECGRecord

SUPPORTED_FORMATS: tuple[str, ...] = ("wfdb", "csv", "npy", "npz", "edf")

_FORMAT_ALIASES = {"challenge": "wfdb", "mat": "wfdb", "hea": "wfdb", "tsv": "csv", "txt": "csv"}
_SUFFIX_FORMAT = {
    ".hea": "wfdb", ".dat": "wfdb", ".mat": "wfdb", ".csv": "csv", ".tsv": "csv", ".txt": "csv",
    ".npy": "npy", ".npz": "npz", ".edf": "edf",
}
_FORMAT_NAMES = {
    "wfdb": "a WFDB record", "csv": "a CSV/TSV text table", "npy": "a NumPy .npy array",
    "npz": "a NumPy .npz archive", "edf": "an EDF file",
}
_SNIFF_BYTES = 64 * 1024
_FS_RANGE = (50.0, 100_000.0)  # below 50 Hz the QRS complex is lost; no ECG device records that slowly
# bytes per sample of the WFDB signal formats (the compressed FLAC formats 5xx have no fixed size)
_WFDB_BYTES = {"8": 1, "16": 2, "24": 3, "32": 4, "61": 2, "80": 1, "160": 2, "212": 1.5, "310": 4 / 3, "311": 4 / 3}
_WFDB_FORMATS = set(_WFDB_BYTES) | {"508", "516", "524"}
_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "microvolt": 1e-3, "v": 1e3, "volt": 1e3, "nv": 1e-6}


# ====================================================================== public API
def read_ecg(
    path: str | Path,
    *,
    fs: float | None = None,
    fmt: str | None = None,
    leads: Sequence[str] | None = None,
) -> ECGRecord:
    """Read one ECG file (or WFDB record given by header, signal file or stem) as an `ECGRecord` in mV.

    ``fs`` is needed only where the file does not state its sampling rate (NumPy, some CSV); ``leads``
    names the columns of a NumPy array or header-less CSV that is not a standard 12-lead table.
    """
    file = _resolve(path)
    _check_size(file)
    _check_not_empty(file)
    kind = _normalize_fmt(fmt) if fmt else detect_format(file)
    if fs is not None:
        fs = _valid_fs_argument(fs)
    try:
        return _READERS[kind](file, fs, leads)
    except WorkbenchError:
        raise
    except Exception as exc:  # last safety net: a library failed in a way not foreseen below
        raise CorruptFileError(f"Could not read {file.name} as {_FORMAT_NAMES[kind]}: {exc}") from exc


def detect_format(path: str | Path) -> str:
    """The format of a file from its content (one of `SUPPORTED_FORMATS`); the extension is a fallback."""
    file = _resolve(path)
    _check_not_empty(file)
    if file.suffix.lower() != ".hea" and _sibling_header(file) is not None:
        return "wfdb"
    with file.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    kind = _sniff(head, file)
    if kind is not None:
        return kind
    suffix = file.suffix.lower()
    if suffix in (".dat", ".mat"):
        raise InputError(
            f"{file.name} looks like the signal file of a WFDB record, but its header {file.stem}.hea "
            "is missing or does not name it.",
            hint="Copy the .hea file into the same folder.",
        )
    if suffix in _SUFFIX_FORMAT:
        raise CorruptFileError(
            f"{file.name} has the extension {suffix} but its content is not {_FORMAT_NAMES[_SUFFIX_FORMAT[suffix]]}: "
            "it may be damaged or not an ECG file at all."
        )
    raise UnsupportedFormatError(
        f"{file.name} is not a recognised ECG file format.",
        hint="Supported: WFDB (.hea + .dat/.mat), CSV/TSV text, NumPy .npy/.npz and EDF/EDF+.",
    )


def write_csv(record: ECGRecord, path: str | Path) -> Path:
    """Write a record as CSV (one column per lead, mV) with ``# fs=`` and patient comment lines."""
    out = Path(path)
    lines = [f"# fs={record.fs:g}", "# units: mV", *(f"# {c}" for c in _patient_comments(record))]
    header = "\n".join(lines) + "\n" + ",".join(record.leads)
    try:
        np.savetxt(out, record.signals, fmt="%.6g", delimiter=",", header=header, comments="")
    except OSError as exc:
        raise InputError(f"Cannot write {out}: {exc.strerror or exc}.") from exc
    return out


def write_wfdb(record: ECGRecord, path_without_ext: str | Path) -> Path:
    """Write a record as WFDB (format 16, mV, Age/Sex/Dx comments); returns the header path."""
    import wfdb

    target = Path(path_without_ext)
    if target.suffix.lower() in (".hea", ".dat"):
        target = target.with_suffix("")
    if not re.fullmatch(r"[-\w]+", target.name):
        raise InputError(f"'{target.name}' cannot be a WFDB record name: use only letters, digits, '-' and '_'.")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        wfdb.wrsamp(
            target.name, fs=record.fs, units=["mV"] * len(record.leads), sig_name=list(record.leads),
            p_signal=record.signals, fmt=["16"] * len(record.leads), comments=_patient_comments(record),
            write_dir=str(target.parent),
        )
    except Exception as exc:
        raise InputError(f"Cannot write the WFDB record {target}: {exc}") from exc
    return target.with_suffix(".hea")


# ====================================================================== checks shared by all readers
def _resolve(path: str | Path) -> Path:
    """The file to read: the path itself, or ``<path>.hea`` when a WFDB record is named by its stem."""
    file = Path(path).expanduser()
    if file.is_dir():
        raise InputError(f"{file} is a folder, not an ECG file.")
    if file.is_file():
        return file
    header = Path(f"{file}.hea")
    if header.is_file():
        return header
    raise InputError(f"The file {file} does not exist.", hint="Check the path and spelling.")


def _check_size(file: Path) -> None:
    """Refuse oversized files before reading a byte of them (protects memory on a laptop)."""
    limit = get_settings().max_file_mb
    size = file.stat().st_size
    if size > limit * 1024**2:
        raise FileTooLargeError(
            f"{file.name} is {size / 1024**2:.0f} MB; the workbench accepts files up to {limit} MB.",
            hint="Cut out the part of interest, or raise max_file_mb in the settings.",
        )


def _check_not_empty(file: Path) -> None:
    if file.stat().st_size == 0:
        raise CorruptFileError(f"{file.name} is empty (0 bytes): there is no recording in it.")


def _check_duration(n_samples: float, fs: float, file: Path) -> None:
    """Refuse recordings longer than the configured maximum (checked before loading where possible)."""
    limit = get_settings().max_record_minutes
    minutes = n_samples / fs / 60.0
    if minutes > limit:
        length = f"{minutes:.0f} minutes" if minutes >= 1 else f"{minutes * 60:.1f} seconds"
        raise SignalError(
            f"{file.name} is {length} long; the workbench analyses at most {limit:g} minutes.",
            hint="Cut out the part of interest, or raise max_record_minutes in the settings.",
        )


def _check_fs(fs: float, file: Path, where: str) -> float:
    if not (math.isfinite(fs) and _FS_RANGE[0] <= fs <= _FS_RANGE[1]):
        raise CorruptFileError(
            f"{file.name}: the {where} gives a sampling rate of {fs:g} Hz, which is impossible for an ECG "
            f"(expected {_FS_RANGE[0]:g} to {_FS_RANGE[1]:g} Hz)."
        )
    return float(fs)


def _valid_fs_argument(fs: float) -> float:
    try:
        value = float(fs)
    except (TypeError, ValueError) as exc:
        raise InputError(f"The sampling rate {fs!r} is not a number.") from exc
    if not (math.isfinite(value) and _FS_RANGE[0] <= value <= _FS_RANGE[1]):
        raise InputError(f"The sampling rate {value:g} Hz is not plausible; give it in Hz, e.g. --fs 500.")
    return value


def _merge_fs(file_fs: float | None, arg_fs: float | None, file: Path) -> float | None:
    """The file's own rate, or the argument; a conflict between the two is refused rather than guessed."""
    if file_fs is not None and arg_fs is not None and abs(file_fs - arg_fs) > 0.01 * file_fs:
        raise InputError(
            f"{file.name} states a sampling rate of {file_fs:g} Hz but {arg_fs:g} Hz was given.",
            hint="Leave out --fs, or correct the file.",
        )
    return file_fs if file_fs is not None else arg_fs


def _finish(signals: np.ndarray, fs: float, leads: list[str], file: Path, source: str, **extra: Any) -> ECGRecord:
    """Common tail of every reader: inf -> NaN, refuse all-invalid or too long data, build the record."""
    sig = np.asarray(signals, dtype=np.float64)
    if sig.ndim == 2 and sig.size:
        sig = np.where(np.isfinite(sig), sig, np.nan)
        if np.isnan(sig).all():
            raise SignalError(f"{file.name} contains no valid samples: every value is missing (NaN) or infinite.")
        _check_duration(sig.shape[0], fs, file)
    try:
        return ECGRecord(signals=sig, fs=fs, leads=leads, source=source, path=str(file), **extra)
    except SignalError as exc:
        raise SignalError(f"{file.name}: {exc.message}", hint=exc.hint) from exc


def _unit_factor(unit: str | None) -> float | None:
    """Factor to mV for a voltage unit, None for a non-voltage unit (e.g. mmHg); blank counts as mV."""
    key = (unit or "mV").strip().lower().replace(" ", "")
    return 1.0 if key == "" else _TO_MV.get(key)


# ====================================================================== format detection
def _normalize_fmt(fmt: str) -> str:
    key = fmt.strip().lower().lstrip(".")
    key = _FORMAT_ALIASES.get(key, key)
    if key not in SUPPORTED_FORMATS:
        raise UnsupportedFormatError(f"Unknown format '{fmt}'; choose one of: {', '.join(SUPPORTED_FORMATS)}.")
    return key


def _sniff(head: bytes, file: Path) -> str | None:
    """Recognise a format from the first bytes; None when nothing matches."""
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"PK\x03\x04"):
        return "npz"
    if head[:8] == b"0       " and len(head) >= 256 and head[252:256].strip().isdigit():
        return "edf"
    text = _as_text(head)
    is_header_name = file.suffix.lower() == ".hea"
    if text is None:
        if is_header_name:
            raise CorruptFileError(f"{file.name} should be a WFDB header (plain text) but contains binary data.")
        return None
    if _looks_like_wfdb_header(text):
        if not is_header_name:
            raise InputError(
                f"{file.name} looks like a WFDB header but is not named .hea.",
                hint=f"Rename it to {file.stem}.hea next to its signal file and open that.",
            )
        return "wfdb"
    if is_header_name:
        raise CorruptFileError(
            f"{file.name} is not a valid WFDB header: its first line should read "
            "'record-name number-of-signals sampling-rate number-of-samples'."
        )
    return "csv"


def _as_text(head: bytes) -> str | None:
    """The bytes as text when they look like text (no NUL, almost no control characters), else None."""
    if b"\x00" in head:
        return None
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    if controls > len(head) // 100:
        return None
    try:
        return head.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3:  # a multi-byte character cut by the sniff window
            return head[: exc.start].decode("utf-8").lstrip("\ufeff")
        text = head.decode("latin-1")
        return text if sum(ch.isprintable() or ch.isspace() for ch in text) > 0.95 * len(text) else None


def _looks_like_wfdb_header(text: str) -> bool:
    """A WFDB record line ``name nsig [fs[/cf][(base)] [nsamp ...]]`` followed by signal lines.

    Hand-checked because wfdb only parses files named .hea and a whitespace table could pass its parser.
    """
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        return False
    tokens = lines[0].split()
    if len(tokens) < 2 or not re.fullmatch(r"[-\w]+(/\d+)?", tokens[0]) or not tokens[1].isdigit():
        return False
    if len(tokens) >= 3 and not re.fullmatch(r"[-+\d.eE]+(/[-+\d.eE]+)?(\([-+\d.eE]+\))?", tokens[2]):
        return False
    if "/" in tokens[0] or int(tokens[1]) == 0:
        return True  # multi-segment layout, or a header without signals: let the reader explain
    if len(lines) < 2:
        return False
    sig = lines[1].split()
    return len(sig) >= 2 and not _is_number(sig[0]) and bool(re.match(r"\d", sig[1]))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _sibling_header(file: Path) -> Path | None:
    """The .hea of the WFDB record this signal file belongs to, when there is one naming it."""
    header = file.with_suffix(".hea")
    if not header.is_file():
        return None
    try:
        text = header.read_bytes()[:_SNIFF_BYTES].decode("utf-8", errors="replace")
    except OSError:
        return None
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    names = {ln.split()[0] for ln in lines[1:]}
    return header if file.name in names and _looks_like_wfdb_header(text) else None


# ====================================================================== WFDB (incl. PhysioNet Challenge .mat)
def _read_wfdb(file: Path, fs: float | None, leads: Sequence[str] | None) -> ECGRecord:
    import wfdb

    header_path = file if file.suffix.lower() == ".hea" else _sibling_header(file) or file.with_suffix(".hea")
    if not header_path.is_file():
        raise InputError(f"{file.name} needs its WFDB header {header_path.name} next to it, which is missing.")
    _check_size(header_path)
    header = _wfdb_header(header_path)
    record_fs = _check_fs(float(header.fs or 0), header_path, "header")
    _merge_fs(record_fs, fs, header_path)
    if header.sig_len:  # refuse an over-long record from its header alone, before touching the data
        _check_duration(header.sig_len, record_fs, header_path)
    files = _wfdb_signal_files(header, header_path)
    if not header.sig_len:
        _check_duration(_estimate_wfdb_length(header, files), record_fs, header_path)
    _check_wfdb_file_lengths(header, files, header_path)
    try:
        rec = wfdb.rdrecord(str(header_path.with_suffix("")), physical=True, return_res=64)
    except Exception as exc:
        raise CorruptFileError(f"The WFDB record {header_path.name} could not be read: {exc}") from exc
    return _wfdb_to_record(rec, header_path, files)


def _wfdb_header(header_path: Path) -> Any:
    """Parse the header with wfdb and check what wfdb leaves unchecked (signal count, formats, rate)."""
    import wfdb

    try:
        header = wfdb.rdheader(str(header_path.with_suffix("")))
    except Exception as exc:
        raise CorruptFileError(f"{header_path.name} is not a valid WFDB header ({exc}).") from exc
    if getattr(header, "seg_name", None):
        raise UnsupportedFormatError(
            f"{header_path.name} is a multi-segment WFDB record, which the workbench does not read.",
            hint="Convert it to a single-segment record first (e.g. with wfdb's rdrecord + wrsamp).",
        )
    n_listed = len(header.file_name or [])
    if not header.n_sig or n_listed != header.n_sig:
        raise CorruptFileError(
            f"{header_path.name} says the record has {header.n_sig} signals but describes {n_listed}: "
            "the header does not match its data."
        )
    bad = sorted({f for f in header.fmt if str(f) not in _WFDB_FORMATS})
    if bad:
        raise CorruptFileError(f"{header_path.name} uses signal format {', '.join(bad)}, which is not a WFDB format.")
    return header


def _wfdb_signal_files(header: Any, header_path: Path) -> list[Path]:
    """The signal files the header names, each checked to exist and not to be oversized."""
    files = [header_path.parent / name for name in dict.fromkeys(header.file_name)]
    for path in files:
        if not path.is_file():
            raise InputError(
                f"The signal file {path.name} named in {header_path.name} is missing.",
                hint="Copy it into the same folder as the header.",
            )
        _check_size(path)
    return files


def _frame_bytes(header: Any, file_name: str) -> float:
    """Bytes one sample frame takes in a given signal file (0 when unknown, e.g. FLAC)."""
    spf = header.samps_per_frame or [1] * header.n_sig
    return sum(
        _WFDB_BYTES.get(str(fmt), 0) * (spf[i] or 1)
        for i, (name, fmt) in enumerate(zip(header.file_name, header.fmt))
        if name == file_name
    )


def _byte_offset(header: Any, file_name: str) -> int:
    offsets = header.byte_offset or [None] * header.n_sig
    return max((offsets[i] or 0) for i, name in enumerate(header.file_name) if name == file_name)


def _estimate_wfdb_length(header: Any, files: list[Path]) -> int:
    """Samples in a record whose header omits the count, from the size of its first signal file."""
    per_frame = _frame_bytes(header, files[0].name)
    if not per_frame:
        return 0
    return int((files[0].stat().st_size - _byte_offset(header, files[0].name)) // per_frame)


def _check_wfdb_file_lengths(header: Any, files: list[Path], header_path: Path) -> None:
    """Refuse signal files shorter than the header promises (cut-off copies, wrong header)."""
    if not header.sig_len:
        return
    for path in files:
        per_frame = _frame_bytes(header, path.name)
        expected = _byte_offset(header, path.name) + math.ceil(header.sig_len * per_frame)
        actual = path.stat().st_size
        if per_frame and actual < expected:
            raise CorruptFileError(
                f"{path.name} holds {actual:,} bytes but {header_path.name} promises {expected:,} "
                f"({header.n_sig} signals x {header.sig_len:,} samples): the file is truncated or does not "
                "belong to this header."
            )


def _wfdb_to_record(rec: Any, header_path: Path, files: list[Path]) -> ECGRecord:
    """wfdb Record -> ECGRecord: voltage channels in mV, patient data from the comments."""
    names = rec.sig_name or _default_names(rec.n_sig)
    units = rec.units or ["mV"] * rec.n_sig
    keep, columns, skipped = [], [], []
    for i, (name, unit) in enumerate(zip(names, units)):
        factor = _unit_factor(unit)
        if factor is None:
            skipped.append(f"{name} ({unit})")
            continue
        keep.append(name)
        columns.append(rec.p_signal[:, i] * factor)
    if not columns:
        raise SignalError(f"{header_path.name} contains no voltage (ECG) signals: {', '.join(skipped)}.")
    age, sex, labels, comments = _parse_comments(rec.comments or [])
    challenge = any(p.suffix.lower() == ".mat" for p in files)
    meta = {"comments": comments, "record_name": rec.record_name, "units": list(units), "wfdb_fmt": list(rec.fmt)}
    if skipped:
        meta["skipped_signals"] = skipped
    return _finish(
        np.column_stack(columns), float(rec.fs), keep, header_path, "challenge" if challenge else "wfdb",
        age=age, sex=sex, labels=labels, metadata=meta,
    )


def _default_names(n: int) -> list[str]:
    return list(STANDARD_LEADS) if n == 12 else [f"ch{i + 1}" for i in range(n)]


# ====================================================================== header comments (WFDB and CSV)
_KEY_VALUE = re.compile(r"^\s*(age|sex|gender|dx)\s*[:=]\s*(.*?)\s*$", re.IGNORECASE)
_MITBIH_PATIENT = re.compile(r"^\s*(\d{1,3})\s+([MF])\b")


def _parse_comments(lines: Sequence[str]) -> tuple[float | None, str | None, list[str], list[str]]:
    """Age, sex, diagnosis codes and the remaining comment lines of a PhysioNet-style header."""
    age: float | None = None
    sex: str | None = None
    labels: list[str] = []
    other: list[str] = []
    for raw in lines:
        line = raw.strip().lstrip("#").strip()
        match = _KEY_VALUE.match(line)
        if match:
            key, value = match.group(1).lower(), match.group(2)
            if key == "age":
                age = _parse_age(value)
            elif key in ("sex", "gender"):
                sex = _parse_sex(value)
            else:
                labels = [c.strip() for c in value.split(",") if c.strip() and c.strip().lower() != "unknown"]
            continue
        mit = _MITBIH_PATIENT.match(line)  # MIT-BIH: "69 M 1085 1629 x1"
        if mit and age is None and sex is None:
            age, sex = _parse_age(mit.group(1)), mit.group(2)
        if line:
            other.append(line)
    return age, sex, labels, other


def _parse_age(value: str) -> float | None:
    try:
        age = float(value.split()[0]) if value.split() else math.nan
    except ValueError:
        return None
    return age if math.isfinite(age) and 0 <= age <= 130 else None


def _parse_sex(value: str) -> str | None:
    key = value.strip().lower()
    if key in ("m", "male", "man"):
        return "M"
    if key in ("f", "female", "woman"):
        return "F"
    return None


def _patient_comments(record: ECGRecord) -> list[str]:
    lines = []
    if record.age is not None:
        lines.append(f"Age: {record.age:g}")
    if record.sex is not None:
        lines.append(f"Sex: {'Male' if record.sex == 'M' else 'Female'}")
    if record.labels:
        lines.append(f"Dx: {','.join(record.labels)}")
    return lines


# ====================================================================== CSV / TSV text
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


def _read_csv(file: Path, fs: float | None, leads: Sequence[str] | None) -> ECGRecord:
    """Text table, one column per lead; rate from ``fs``, a ``# fs=`` comment or a time column."""
    text = _read_text(file)
    comments = [ln.strip().lstrip("#").strip() for ln in text.splitlines() if ln.lstrip().startswith("#")]
    body = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not body:
        raise CorruptFileError(f"{file.name} has no data rows, only comments or blank lines.")
    sep, decimal = _delimiter(body[:20])
    first = _split(body[0], sep)
    has_header = not all(_is_number(c.replace(decimal, ".")) for c in first if c)
    table = _parse_table(file, body[1:] if has_header else body, sep, decimal, len(first))
    names = first if has_header else _headerless_names(file, len(first), leads)
    return _csv_to_record(file, table, names, comments, fs)


def _read_text(file: Path) -> str:
    raw = file.read_bytes()
    if _as_text(raw[:_SNIFF_BYTES]) is None:
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


def _headerless_names(file: Path, n_cols: int, leads: Sequence[str] | None) -> list[str]:
    """Lead names for a table that does not name its columns: those given, or the standard 12 in order."""
    if leads is not None:
        if len(leads) != n_cols:
            raise InputError(f"{file.name} has {n_cols} leads but {len(leads)} lead names were given.")
        return list(leads)
    if n_cols == 12:
        return list(STANDARD_LEADS)
    raise InputError(
        f"{file.name} has {n_cols} leads and no lead names (no header row).",
        hint="Give the lead names (a first line such as 'I,II,V1', or leads=[...]) or store 12 leads in standard order I..V6.",
    )


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
        _check_fs(file_fs, file, "header comment" if comment_fs is not None else "time column")
    rate = _merge_fs(file_fs, fs, file)
    if rate is None:
        raise InputError(
            f"{file.name} does not say its sampling rate.",
            hint="Pass it with --fs (e.g. --fs 500), or add a first line '# fs=500' or a time column.",
        )
    age, sex, labels, other = _parse_comments(comments)
    return _finish(
        np.column_stack(keep_cols), rate, keep_names, file, "csv",
        age=age, sex=sex, labels=labels, metadata={"comments": other},
    )


def _lead_and_unit(name: str, default_unit: str, file: Path) -> tuple[str, float]:
    """'II (uV)' -> ('II', 0.001); plain names use the file's unit."""
    match = _UNIT_SUFFIX.match(name.strip())
    lead, unit = (match.group(1), match.group(2)) if match and match.group(1) else (name, default_unit)
    factor = _unit_factor(unit)
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


# ====================================================================== NumPy .npy / .npz
def _read_npy(file: Path, fs: float | None, leads: Sequence[str] | None) -> ECGRecord:
    """A 2-D array (samples x leads, or leads x samples); the rate must come from ``fs``."""
    try:
        array = np.load(file, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        if "object" in str(exc).lower() or "pickle" in str(exc).lower():
            raise CorruptFileError(
                f"{file.name} holds Python objects, not numbers; such files are not loaded because they can run code."
            ) from exc
        raise CorruptFileError(f"{file.name} is not a readable NumPy array file ({exc}).") from exc
    return _array_to_record(file, array, fs, leads, {}, "npy")


def _read_npz(file: Path, fs: float | None, leads: Sequence[str] | None) -> ECGRecord:
    """An archive with ``signals``/``signal``/``ecg`` and optional ``fs`` and ``leads`` arrays."""
    try:
        archive = np.load(file, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise CorruptFileError(f"{file.name} is not a readable NumPy .npz archive ({exc}).") from exc
    with archive:
        key = next((k for k in ("signals", "signal", "ecg") if k in archive.files), None)
        if key is None:
            raise InputError(
                f"{file.name} has no array named 'signals', 'signal' or 'ecg' (it holds: {', '.join(archive.files)})."
            )
        _check_npz_member(file, archive, key, fs)
        file_fs = float(np.asarray(archive["fs"]).ravel()[0]) if "fs" in archive.files else None
        if file_fs is not None:
            _check_fs(file_fs, file, "'fs' array")
        names = leads if leads is not None else _npz_leads(archive)
        return _array_to_record(file, archive[key], _merge_fs(file_fs, fs, file), names, {"npz_key": key}, "npz")


def _check_npz_member(file: Path, archive: Any, key: str, fs: float | None) -> None:
    """Refuse an array too long to analyse from its stored shape, before decompressing it (zip bombs)."""
    fmt = np.lib.format
    with archive.zip.open(f"{key}.npy") as member:
        version = fmt.read_magic(member)
        read_header = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}.get(version)
        if read_header is None:
            return
        shape, _, _ = read_header(member)
    rate = float(np.asarray(archive["fs"]).ravel()[0]) if "fs" in archive.files else fs
    if len(shape) == 2 and rate and math.isfinite(rate) and rate > 0:
        _check_duration(max(shape), rate, file)


def _npz_leads(archive: Any) -> list[str] | None:
    if "leads" not in archive.files:
        return None
    return [str(x) for x in np.asarray(archive["leads"]).ravel()]


def _array_to_record(
    file: Path, array: np.ndarray, fs: float | None, leads: Sequence[str] | None, meta: dict[str, Any], source: str
) -> ECGRecord:
    if array.dtype.kind not in "iuf":
        what = {"U": "text", "S": "text", "c": "complex numbers", "b": "true/false values"}.get(array.dtype.kind)
        raise SignalError(f"{file.name} holds {what or array.dtype}, not numeric samples.")
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise SignalError(
            f"{file.name} holds a {array.ndim}-dimensional array {array.shape}; an ECG must be a 2-D table "
            "of samples x leads."
        )
    if array.size == 0:
        raise SignalError(f"{file.name} holds an empty array {array.shape}: there are no samples.")
    if array.shape[0] < array.shape[1] and array.shape[0] <= 16:  # stored leads x samples
        array = array.T
        meta["transposed"] = True
    if fs is None:
        raise InputError(f"{file.name} does not say its sampling rate.", hint="Pass it with --fs (e.g. --fs 500).")
    _check_duration(array.shape[0], fs, file)
    names = _headerless_names(file, array.shape[1], leads)
    meta["units_assumed"] = "mV"
    return _finish(np.array(array, dtype=np.float64), fs, names, file, source, metadata=meta)



# ====================================================================== EDF / EDF+
def _read_edf(file: Path, fs: float | None, leads: Sequence[str] | None) -> ECGRecord:
    """EDF/EDF+ via edfio: voltage signals at the most common rate, physical values converted to mV."""
    import edfio

    try:
        with warnings.catch_warnings(record=True) as caught:  # edfio only warns about a cut-off file
            warnings.simplefilter("always")
            edf = edfio.read_edf(file, lazy_load_data=True)
            signals = list(edf.signals)
            duration = float(edf.duration)
    except Exception as exc:  # the detail stays in the chained exception: it is raw header bytes
        raise CorruptFileError(f"{file.name} is not a valid EDF file: its header is damaged or incomplete.") from exc
    truncation = [str(w.message) for w in caught if "truncat" in str(w.message).lower() or "records" in str(w.message)]
    if truncation:
        raise CorruptFileError(f"{file.name} is truncated: it holds less data than its header says ({truncation[0]}).")
    _check_duration(duration, 1.0, file)
    chosen, skipped = _edf_choose_signals(signals)
    if not chosen:
        raise SignalError(f"{file.name} contains no voltage (ECG) signals.")
    rate = _check_fs(float(chosen[0].sampling_frequency), file, "EDF header")
    _merge_fs(rate, fs, file)
    try:
        columns = [np.asarray(s.data, dtype=np.float64) * (_unit_factor(s.physical_dimension) or 1.0) for s in chosen]
    except Exception as exc:
        raise CorruptFileError(f"{file.name}: the EDF signal data could not be read ({exc}).") from exc
    n = min(len(c) for c in columns)
    names = [_edf_lead_name(s.label) for s in chosen]
    meta: dict[str, Any] = {"units": [s.physical_dimension for s in chosen]}
    if skipped:
        meta["skipped_signals"] = skipped
    signals_mv = np.column_stack([c[:n] for c in columns])
    return _finish(signals_mv, rate, names, file, "edf", sex=_edf_sex(edf), metadata=meta)


def _edf_choose_signals(signals: list[Any]) -> tuple[list[Any], list[str]]:
    """Voltage signals sharing the most common sampling rate; the others are listed as skipped."""
    volts = [s for s in signals if _unit_factor(s.physical_dimension) is not None]
    if not volts:
        return [], [s.label for s in signals]
    rate = Counter(float(s.sampling_frequency) for s in volts).most_common(1)[0][0]
    chosen = [s for s in volts if float(s.sampling_frequency) == rate]
    ids = {id(s) for s in chosen}
    skipped = [f"{s.label} ({s.physical_dimension}, {s.sampling_frequency:g} Hz)" for s in signals if id(s) not in ids]
    return chosen, skipped


def _edf_lead_name(label: str) -> str:
    return re.sub(r"^(ECG|EKG)[\s_-]*", "", label.strip(), flags=re.IGNORECASE) or label.strip()


def _edf_sex(edf: Any) -> str | None:
    try:
        sex = edf.patient.sex
    except Exception:  # plain EDF (not EDF+) has free-text patient fields
        return None
    return sex if sex in ("F", "M") else None


_READERS = {"wfdb": _read_wfdb, "csv": _read_csv, "npy": _read_npy, "npz": _read_npz, "edf": _read_edf}
