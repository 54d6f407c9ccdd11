"""NumPy ``.npy`` arrays and ``.npz`` archives of samples (never unpickled: pickles can run code)."""
from __future__ import annotations

import math
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import CorruptFileError, InputError, SignalError
from ..record import ECGRecord
from .common import check_duration, check_fs, finish, headerless_names, merge_fs


def read_npy(file: Path, fs: float | None, leads: Sequence[str] | None) -> ECGRecord:
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


def read_npz(file: Path, fs: float | None, leads: Sequence[str] | None) -> ECGRecord:
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
            check_fs(file_fs, file, "'fs' array")
        names = leads if leads is not None else _npz_leads(archive)
        return _array_to_record(file, archive[key], merge_fs(file_fs, fs, file), names, {"npz_key": key}, "npz")


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
        check_duration(max(shape), rate, file)


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
    check_duration(array.shape[0], fs, file)
    names = headerless_names(file, array.shape[1], leads)
    meta["units_assumed"] = "mV"
    return finish(np.array(array, dtype=np.float64), fs, names, file, source, metadata=meta)
