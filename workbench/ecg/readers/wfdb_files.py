"""WFDB records (header ``.hea`` + signal files), including PhysioNet Challenge records with ``.mat`` signals.

The header is checked before any signal byte is read (signal count, formats, rate, promised length), so a
damaged or oversized record is refused with a clear message instead of a wfdb traceback or a full memory.
"""
from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import CorruptFileError, InputError, SignalError, UnsupportedFormatError
from ..leads import STANDARD_LEADS
from ..record import ECGRecord
from .comments import parse_comments, patient_comments
from .common import check_duration, check_fs, check_size, finish, merge_fs, unit_factor
from .sniff import sibling_header

# bytes per sample of the WFDB signal formats (the compressed FLAC formats 5xx have no fixed size)
_WFDB_BYTES = {"8": 1, "16": 2, "24": 3, "32": 4, "61": 2, "80": 1, "160": 2, "212": 1.5, "310": 4 / 3, "311": 4 / 3}
_WFDB_FORMATS = set(_WFDB_BYTES) | {"508", "516", "524"}


def read_wfdb(file: Path, fs: float | None, leads: Sequence[str] | None) -> ECGRecord:
    import wfdb

    header_path = file if file.suffix.lower() == ".hea" else sibling_header(file) or file.with_suffix(".hea")
    if not header_path.is_file():
        raise InputError(f"{file.name} needs its WFDB header {header_path.name} next to it, which is missing.")
    check_size(header_path)
    header = _wfdb_header(header_path)
    record_fs = check_fs(float(header.fs or 0), header_path, "header")
    merge_fs(record_fs, fs, header_path)
    if header.sig_len:  # refuse an over-long record from its header alone, before touching the data
        check_duration(header.sig_len, record_fs, header_path)
    files = _wfdb_signal_files(header, header_path)
    if not header.sig_len:
        check_duration(_estimate_wfdb_length(header, files), record_fs, header_path)
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
        check_size(path)
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
        factor = unit_factor(unit)
        if factor is None:
            skipped.append(f"{name} ({unit})")
            continue
        keep.append(name)
        columns.append(rec.p_signal[:, i] * factor)
    if not columns:
        raise SignalError(f"{header_path.name} contains no voltage (ECG) signals: {', '.join(skipped)}.")
    age, sex, labels, comments = parse_comments(rec.comments or [])
    challenge = any(p.suffix.lower() == ".mat" for p in files)
    meta = {"comments": comments, "record_name": rec.record_name, "units": list(units), "wfdb_fmt": list(rec.fmt)}
    if skipped:
        meta["skipped_signals"] = skipped
    return finish(
        np.column_stack(columns), float(rec.fs), keep, header_path, "challenge" if challenge else "wfdb",
        age=age, sex=sex, labels=labels, metadata=meta,
    )


def _default_names(n: int) -> list[str]:
    return list(STANDARD_LEADS) if n == 12 else [f"ch{i + 1}" for i in range(n)]


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
            p_signal=record.signals, fmt=["16"] * len(record.leads), comments=patient_comments(record),
            write_dir=str(target.parent),
        )
    except Exception as exc:
        raise InputError(f"Cannot write the WFDB record {target}: {exc}") from exc
    return target.with_suffix(".hea")
