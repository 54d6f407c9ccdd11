"""Serial results of one patient: per-analyte time series, delta checks by reference change value, and the
ESC 0h/1h troponin algorithm (rising and falling troponin is what separates acute MI from chronic injury).

All functions take the tidy results table of `frames.results_frame` and return tables or typed verdicts.
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from .catalogue import Catalogue, EscCutoffs, get_catalogue

_TABLE = Path(__file__).parent / "tables" / "trends.toml"

EscCategory = Literal["rule-out", "observe", "rule-in", "incomplete", "not applicable"]


@cache
def _rules() -> dict[str, Any]:
    return tomllib.loads(_TABLE.read_text(encoding="utf-8"))


def series(frame: pd.DataFrame, analyte: str, patient: str | None = None) -> pd.DataFrame:
    """Time-ordered canonical values of one analyte (rows without a collection time come last, in file order)."""
    rows = frame[frame["analyte"] == analyte]
    if patient is not None:
        rows = rows[rows["patient"] == patient]
    return rows.sort_values("collected_at", na_position="last", kind="stable").reset_index(drop=True)


def reference_change_value(analyte: str) -> float | None:
    """RCV in percent (95 %, two-sided) for analytes with biological-variation data; None otherwise."""
    rules = _rules()["delta"]
    item = rules["analytes"].get(analyte)
    if item is None:
        return None
    return rules["z"] * math.sqrt(2.0) * math.hypot(item["cva"], item["cvi"])


@dataclass(frozen=True)
class DeltaCheck:
    patient: str
    analyte: str
    earlier: pd.Timestamp
    later: pd.Timestamp
    value_before: float
    value_after: float
    unit: str
    change_pct: float
    rcv_pct: float

    def describe(self) -> str:
        direction = "rose" if self.value_after > self.value_before else "fell"
        return (f"{self.analyte} {direction} from {self.value_before:g} to {self.value_after:g} {self.unit} "
                f"({self.change_pct:+.0f} %, beyond the {self.rcv_pct:.0f} % change expected from biological and "
                f"analytical variation)")


def delta_checks(frame: pd.DataFrame) -> list[DeltaCheck]:
    """Consecutive results whose change exceeds the reference change value: a real change, not noise."""
    checks: list[DeltaCheck] = []
    timed = frame.dropna(subset=["collected_at", "canonical_value"])
    for (patient, analyte), rows in timed.groupby(["patient", "analyte"], sort=True):
        rcv = reference_change_value(str(analyte))
        if rcv is None or len(rows) < 2:
            continue
        rows = rows.sort_values("collected_at")
        for before, after in zip(rows.itertuples(), rows.iloc[1:].itertuples()):
            if before.canonical_value <= 0 or before.collected_at == after.collected_at:
                continue
            change = 100.0 * (after.canonical_value - before.canonical_value) / before.canonical_value
            if abs(change) > rcv:
                checks.append(DeltaCheck(str(patient), str(analyte), before.collected_at, after.collected_at,
                                         before.canonical_value, after.canonical_value, after.canonical_unit, change, rcv))
    return checks


@dataclass(frozen=True)
class EscVerdict:
    """The ESC 0h/1h answer for one patient, with the numbers it used and why."""

    category: EscCategory
    reason: str
    analyte: str = ""
    value_0h: float | None = None
    value_1h: float | None = None
    delta: float | None = None
    hours_between: float | None = None
    cutoffs: EscCutoffs | None = None
    source: str = ""
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"ESC 0h/1h: {self.category} - {self.reason}"


def esc_0h_1h(frame: pd.DataFrame, *, patient: str | None = None, onset_hours: float | None = None,
              catalogue: Catalogue | None = None) -> EscVerdict:
    """Rule-out / observe / rule-in from the first two hs-troponin results of an assay with ESC cut-offs.

    ``onset_hours``: hours from chest-pain onset to the 0h sample; the single-sample 'very low' rule-out is only
    valid beyond 3 h (unknown onset: it is not used)."""
    catalogue = catalogue or get_catalogue()
    rules = _rules()["esc_0h_1h"]
    rows = frame if patient is None else frame[frame["patient"] == patient]
    rows = rows.dropna(subset=["canonical_value"])
    eligible = [key for key in rows["analyte"].unique() if _cutoffs(catalogue, str(key)) is not None]
    if not eligible:
        return EscVerdict("not applicable", "no high-sensitivity troponin from an assay with validated ESC 0h/1h "
                          "cut-offs (Elecsys hs-cTnT, Architect, Centaur or Access hs-cTnI)", source=rules["source"])
    analyte = str(eligible[0])
    cut = _cutoffs(catalogue, analyte)
    assert cut is not None
    timed = series(rows, analyte)
    first = timed.iloc[0]
    notes = ["cut-offs marked 'verify' in criteria.md: confirm against the assay insert"] if cut.verify else []
    base = dict(analyte=analyte, value_0h=float(first.canonical_value), cutoffs=cut, source=rules["source"])
    very_low_ok = onset_hours is not None and onset_hours > rules["very_low_min_onset_h"]
    if onset_hours is None:
        notes.append("chest-pain onset unknown: the single-sample 'very low' rule-out was not used")
    v0 = float(first.canonical_value)
    if v0 >= cut.high_0h:
        return EscVerdict("rule-in", f"0h {v0:g} ng/L >= {cut.high_0h:g}", **base, notes=tuple(notes))
    if very_low_ok and v0 < cut.very_low_0h:
        return EscVerdict("rule-out", f"0h {v0:g} ng/L < {cut.very_low_0h:g} with onset > "
                          f"{rules['very_low_min_onset_h']:g} h", **base, notes=tuple(notes))
    if len(timed) < 2 or pd.isna(first.collected_at) or pd.isna(timed.iloc[1].collected_at):
        return EscVerdict("incomplete", "a timed second sample at 1 h is needed", **base, notes=tuple(notes))
    second = timed.iloc[1]
    hours = (second.collected_at - first.collected_at).total_seconds() / 3600.0
    v1 = float(second.canonical_value)
    delta = abs(v1 - v0)
    timing = dict(value_1h=v1, delta=delta, hours_between=hours)
    if not rules["second_sample_min_h"] <= hours <= rules["second_sample_max_h"]:
        return EscVerdict("not applicable", f"the second sample was taken {hours * 60:.0f} min after the first; the 0h/1h "
                          f"algorithm needs about 1 h (use the 0h/2h or 0h/3h algorithm)", **base, **timing, notes=tuple(notes))
    if delta >= cut.delta_1h_yes:
        return EscVerdict("rule-in", f"1h change {delta:g} ng/L >= {cut.delta_1h_yes:g}", **base, **timing, notes=tuple(notes))
    if v0 < cut.low_0h and delta < cut.delta_1h_no:
        return EscVerdict("rule-out", f"0h {v0:g} < {cut.low_0h:g} ng/L and 1h change {delta:g} < {cut.delta_1h_no:g}",
                          **base, **timing, notes=tuple(notes))
    return EscVerdict("observe", f"0h {v0:g} ng/L, 1h change {delta:g} ng/L: neither rule-out nor rule-in", **base,
                      **timing, notes=tuple(notes))


def _cutoffs(catalogue: Catalogue, analyte: str) -> EscCutoffs | None:
    try:
        return catalogue.esc_0h_1h_cutoffs(analyte)
    except KeyError:
        return None
