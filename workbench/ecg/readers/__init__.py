"""Read ECG files of any supported format into an `ECGRecord` (millivolts), refusing bad input politely.

Formats read: WFDB records (``.hea`` + ``.dat``, PhysioNet Challenge ``.mat``), CSV/TSV text tables,
NumPy ``.npy``/``.npz`` and EDF/EDF+. The format is recognised from the file's content (magic bytes,
header text), the extension being only a fallback, because users rename files (see `sniff`). Every
problem surfaces as a `WorkbenchError` whose message names the file and says what is wrong; library
exceptions are wrapped (chained with ``from``), never leaked.

One module per job: `common` (checks shared by all readers), `comments` (age/sex/Dx in header comments),
`sniff` (format detection), and one module per format: `wfdb_files`, `table`, `arrays`, `edf_files`.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from ...errors import CorruptFileError, WorkbenchError
from ..record import ECGRecord
from .arrays import read_npy, read_npz
from .common import check_not_empty, check_size, resolve_path, valid_fs_argument
from .edf_files import read_edf
from .sniff import FORMAT_NAMES, SUPPORTED_FORMATS, detect_format, normalize_fmt
from .table import read_csv, write_csv
from .wfdb_files import read_wfdb, write_wfdb

__all__ = ["SUPPORTED_FORMATS", "detect_format", "read_ecg", "write_csv", "write_wfdb"]

# the reader of each format in SUPPORTED_FORMATS: (file, fs argument, lead names argument) -> record
_READERS: dict[str, Callable[[Path, float | None, Sequence[str] | None], ECGRecord]] = {
    "wfdb": read_wfdb, "csv": read_csv, "npy": read_npy, "npz": read_npz, "edf": read_edf,
}


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
    file = resolve_path(path)
    check_size(file)
    check_not_empty(file)
    kind = normalize_fmt(fmt) if fmt else detect_format(file)
    if fs is not None:
        fs = valid_fs_argument(fs)
    try:
        return _READERS[kind](file, fs, leads)
    except WorkbenchError:
        raise
    except Exception as exc:  # last safety net: a library failed in a way the format readers did not foresee
        raise CorruptFileError(f"Could not read {file.name} as {FORMAT_NAMES[kind]}: {exc}") from exc
