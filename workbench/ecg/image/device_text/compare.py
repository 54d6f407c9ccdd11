"""The device's printed numbers beside the workbench's, with agreement tolerances from a cited table."""
from __future__ import annotations

import math
from typing import Any

from .types import DevicePrinted

#: Per-quantity agreement tolerance between the device's printed value and the workbench's measurement.
#: Interval values: IEC 60601-2-25 (interpretive-program accuracy for global intervals against a reference),
#: as quoted in shared/clinical/criteria.md, "ECG paper and measurement conventions" (marked "verify" there):
#: mean difference / SD of about PR 10/10 ms, QRS 6/10 ms, QT 12/30 ms. The standard bounds a program's mean
#: error and its spread over a test set, not one recording; we use the SD as the per-recording tolerance, i.e.
#: a difference larger than one SD of an acceptable program is flagged. QTc inherits the QT tolerance.
#: Rate and axes are not in that table: the tolerances below are working values of this module (rate: one
#: beat per 12 s is 5 bpm; axes: the frontal axis is read in 15-30 deg steps on the hexaxial system, P and T
#: axes are less well defined than the QRS axis), stated as such.
AGREEMENT_TOLERANCES: dict[str, dict[str, Any]] = {
    "heart_rate": {"tolerance": 5.0, "unit": "bpm", "label": "Heart rate",
                   "source": "working tolerance of this module (not from a standard)"},
    "pr_interval": {"tolerance": 10.0, "unit": "ms", "label": "PR interval",
                    "source": "IEC 60601-2-25 PR SD 10 ms (criteria.md, ECG paper and measurement conventions)"},
    "qrs_duration": {"tolerance": 10.0, "unit": "ms", "label": "QRS duration",
                     "source": "IEC 60601-2-25 QRS SD 10 ms (criteria.md, ECG paper and measurement conventions)"},
    "qt_interval": {"tolerance": 30.0, "unit": "ms", "label": "QT interval",
                    "source": "IEC 60601-2-25 QT SD 30 ms (criteria.md, ECG paper and measurement conventions)"},
    "qtc": {"tolerance": 30.0, "unit": "ms", "label": "QTc",
            "source": "QT tolerance, IEC 60601-2-25 QT SD 30 ms (criteria.md, ECG paper and measurement conventions)"},
    "p_axis": {"tolerance": 20.0, "unit": "deg", "label": "P axis",
               "source": "working tolerance of this module (not from a standard)"},
    "qrs_axis": {"tolerance": 15.0, "unit": "deg", "label": "QRS axis",
                 "source": "working tolerance of this module (not from a standard)"},
    "t_axis": {"tolerance": 20.0, "unit": "deg", "label": "T axis",
               "source": "working tolerance of this module (not from a standard)"},
}


_QTC_KEYS = {"qtc_bazett": "bazett", "qtc_fridericia": "fridericia", "qtc_hodges": "hodges", "qtc_framingham": "framingham"}
_ORDER = ("heart_rate", "pr_interval", "qrs_duration", "qt_interval", "qtc_bazett", "qtc_fridericia", "qtc_hodges",
          "qtc_framingham", "p_axis", "qrs_axis", "t_axis")


def _value(measured: dict, key: str) -> float | None:
    v = measured.get(key)
    if isinstance(v, dict):
        v = v.get("value")
    elif v is not None and hasattr(v, "value"):
        v = v.value
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _workbench_qtc(measured: dict, correction: str) -> tuple[float | None, str | None]:
    direct = _value(measured, f"qtc_{correction}")
    if direct is not None:
        return direct, None
    qt, hr = _value(measured, "qt_interval"), _value(measured, "heart_rate")
    if qt is None or hr is None or hr <= 0:
        return None, None
    rr = 60.0 / hr
    if correction == "bazett":
        return qt / math.sqrt(rr), "workbench QT corrected with Bazett here"
    if correction == "fridericia":
        return qt / rr ** (1 / 3), "workbench QT corrected with Fridericia here"
    if correction == "hodges":
        return qt + 1.75 * (hr - 60.0), "workbench QT corrected with Hodges here"
    if correction == "framingham":
        return qt + 154.0 * (1.0 - rr), "workbench QT corrected with Framingham here"
    return None, None


def compare_with_measurements(printed: DevicePrinted, measured: dict) -> list[dict[str, Any]]:
    """One row per quantity the device printed: its value beside the workbench's, and whether they agree.

    ``measured``: the workbench's measurement dict (``analyze(record).to_dict()["measurements"]``: key ->
    ``{"value", "unit"}``), or key -> number. Row keys: name, label, device, workbench, difference
    (workbench - device; axes wrapped to +-180 deg), unit, tolerance, agrees (None when the workbench has
    no value), source (of the tolerance), note.
    """
    if isinstance(measured.get("measurements"), dict):  # a whole analysis dict was passed
        measured = measured["measurements"]
    rows: list[dict[str, Any]] = []
    keys = [k for k in _ORDER if k in printed.measurements] + [k for k in printed.measurements if k not in _ORDER]
    for key in keys:
        device = float(printed.measurements[key])
        note = None
        if key in _QTC_KEYS:
            spec = AGREEMENT_TOLERANCES["qtc"]
            correction = _QTC_KEYS[key]
            workbench, note = _workbench_qtc(measured, correction)
            label = f"QTc ({correction.capitalize()})"
            if key == "qtc_bazett" and printed.qtc_correction is None:
                note = "; ".join(n for n in (note, "device's correction not printed: assumed Bazett") if n)
        elif key in AGREEMENT_TOLERANCES:
            spec = AGREEMENT_TOLERANCES[key]
            workbench = _value(measured, key)
            label = spec["label"]
        else:
            continue
        diff = None if workbench is None else workbench - device
        if diff is not None and key.endswith("_axis"):
            diff = (diff + 180.0) % 360.0 - 180.0
        agrees = None if diff is None else bool(abs(diff) <= spec["tolerance"])
        if workbench is None:
            note = "; ".join(n for n in (note, "workbench did not measure it") if n)
        rows.append({"name": key, "label": label, "device": device,
                     "workbench": None if workbench is None else round(workbench, 1),
                     "difference": None if diff is None else round(diff, 1), "unit": spec["unit"],
                     "tolerance": spec["tolerance"], "agrees": agrees, "source": spec["source"], "note": note})
    return rows
