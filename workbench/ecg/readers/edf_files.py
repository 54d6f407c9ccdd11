"""EDF and EDF+ files, read with edfio."""
from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import CorruptFileError, SignalError
from ..record import ECGRecord
from .common import check_duration, check_fs, finish, merge_fs, unit_factor


def read_edf(file: Path, fs: float | None, leads: Sequence[str] | None) -> ECGRecord:
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
    check_duration(duration, 1.0, file)
    chosen, skipped = _edf_choose_signals(signals)
    if not chosen:
        raise SignalError(f"{file.name} contains no voltage (ECG) signals.")
    rate = check_fs(float(chosen[0].sampling_frequency), file, "EDF header")
    merge_fs(rate, fs, file)
    try:
        columns = [np.asarray(s.data, dtype=np.float64) * (unit_factor(s.physical_dimension) or 1.0) for s in chosen]
    except Exception as exc:
        raise CorruptFileError(f"{file.name}: the EDF signal data could not be read ({exc}).") from exc
    n = min(len(c) for c in columns)
    names = [_edf_lead_name(s.label) for s in chosen]
    meta: dict[str, Any] = {"units": [s.physical_dimension for s in chosen]}
    if skipped:
        meta["skipped_signals"] = skipped
    signals_mv = np.column_stack([c[:n] for c in columns])
    return finish(signals_mv, rate, names, file, "edf", sex=_edf_sex(edf), metadata=meta)


def _edf_choose_signals(signals: list[Any]) -> tuple[list[Any], list[str]]:
    """Voltage signals sharing the most common sampling rate; the others are listed as skipped."""
    volts = [s for s in signals if unit_factor(s.physical_dimension) is not None]
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
