"""Checks and helpers shared by every reader.

The path, size, duration and sampling-rate checks, unit factors to mV, default lead names and `finish`,
the common tail of every reader that builds the `ECGRecord`.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...config import get_settings
from ...errors import CorruptFileError, FileTooLargeError, InputError, SignalError
from ..leads import STANDARD_LEADS
from ..record import ECGRecord
from .comments import parse_coverage

_FS_RANGE = (50.0, 100_000.0)  # below 50 Hz the QRS complex is lost; no ECG device records that slowly
_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "microvolt": 1e-3, "v": 1e3, "volt": 1e3, "nv": 1e-6}


def resolve_path(path: str | Path) -> Path:
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


def check_size(file: Path) -> None:
    """Refuse oversized files before reading a byte of them (protects memory on a laptop)."""
    limit = get_settings().max_file_mb
    size = file.stat().st_size
    if size > limit * 1024**2:
        raise FileTooLargeError(
            f"{file.name} is {size / 1024**2:.0f} MB; the workbench accepts files up to {limit} MB.",
            hint="Cut out the part of interest, or raise max_file_mb in the settings.",
        )


def check_not_empty(file: Path) -> None:
    if file.stat().st_size == 0:
        raise CorruptFileError(f"{file.name} is empty (0 bytes): there is no recording in it.")


def check_duration(n_samples: float, fs: float, file: Path) -> None:
    """Refuse recordings longer than the configured maximum (checked before loading where possible)."""
    limit = get_settings().max_record_minutes
    minutes = n_samples / fs / 60.0
    if minutes > limit:
        length = f"{minutes:.0f} minutes" if minutes >= 1 else f"{minutes * 60:.1f} seconds"
        raise SignalError(
            f"{file.name} is {length} long; the workbench analyses at most {limit:g} minutes.",
            hint="Cut out the part of interest, or raise max_record_minutes in the settings.",
        )


def check_fs(fs: float, file: Path, where: str) -> float:
    if not (math.isfinite(fs) and _FS_RANGE[0] <= fs <= _FS_RANGE[1]):
        raise CorruptFileError(
            f"{file.name}: the {where} gives a sampling rate of {fs:g} Hz, which is impossible for an ECG "
            f"(expected {_FS_RANGE[0]:g} to {_FS_RANGE[1]:g} Hz)."
        )
    return float(fs)


def valid_fs_argument(fs: float) -> float:
    try:
        value = float(fs)
    except (TypeError, ValueError) as exc:
        raise InputError(f"The sampling rate {fs!r} is not a number.") from exc
    if not (math.isfinite(value) and _FS_RANGE[0] <= value <= _FS_RANGE[1]):
        raise InputError(f"The sampling rate {value:g} Hz is not plausible; give it in Hz, e.g. --fs 500.")
    return value


def merge_fs(file_fs: float | None, arg_fs: float | None, file: Path) -> float | None:
    """The file's own rate, or the argument; a conflict between the two is refused rather than guessed."""
    if file_fs is not None and arg_fs is not None and abs(file_fs - arg_fs) > 0.01 * file_fs:
        raise InputError(
            f"{file.name} states a sampling rate of {file_fs:g} Hz but {arg_fs:g} Hz was given.",
            hint="Leave out --fs, or correct the file.",
        )
    return file_fs if file_fs is not None else arg_fs


def finish(signals: np.ndarray, fs: float, leads: list[str], file: Path, source: str, **extra: Any) -> ECGRecord:
    """Common tail of every reader: inf -> NaN, refuse all-invalid or too long data, build the record."""
    sig = np.asarray(signals, dtype=np.float64)
    if sig.ndim == 2 and sig.size:
        sig = np.where(np.isfinite(sig), sig, np.nan)
        if np.isnan(sig).all():
            raise SignalError(f"{file.name} contains no valid samples: every value is missing (NaN) or infinite.")
        check_duration(sig.shape[0], fs, file)
    metadata = extra.get("metadata") or {}
    coverage = parse_coverage(metadata.get("comments", []))
    if coverage:
        extra["metadata"] = {**metadata, "coverage": coverage}
    try:
        return ECGRecord(signals=sig, fs=fs, leads=leads, source=source, path=str(file), **extra)
    except SignalError as exc:
        raise SignalError(f"{file.name}: {exc.message}", hint=exc.hint) from exc


def unit_factor(unit: str | None) -> float | None:
    """Factor to mV for a voltage unit, None for a non-voltage unit (e.g. mmHg); blank counts as mV."""
    key = (unit or "mV").strip().lower().replace(" ", "")
    return 1.0 if key == "" else _TO_MV.get(key)


def headerless_names(file: Path, n_cols: int, leads: Sequence[str] | None) -> list[str]:
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


def is_number(text: str) -> bool:
    """Whether the text parses as a number (tells a table's header row, or a WFDB signal line, from data)."""
    try:
        float(text)
    except ValueError:
        return False
    return True
