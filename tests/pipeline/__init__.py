"""Helpers of the pipeline tests: lab tables built through the real normaliser, real analyses cached once per run,
and small hand-made analyses for findings no shared record shows."""
from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

import pandas as pd

from workbench.config import Settings
from workbench.ecg import ECGAnalysis, analyze, read_ecg
from workbench.ecg.findings import Finding
from workbench.ecg.measurements import Measurement
from workbench.ecg.tables import load_table
from workbench.labs.frames import results_frame
from workbench.labs.normalise import Patient, normalise_rows
from workbench.labs.records import RawLabRow, SourceRef

T0 = datetime(2026, 5, 4, 8, 0)
PATIENT = "P1"


def labs(*rows: tuple, sex: str | None = None, age: float | None = None) -> pd.DataFrame:
    """(name, value, unit, hours after T0[, printed range]) -> the results table, as the lab readers produce it."""
    raw = [RawLabRow(name=r[0], value_text=r[1], unit_text=r[2], ref_text=r[4] if len(r) > 4 else "",
                     source=SourceRef("report.csv", "csv", row=i), patient=PATIENT, collected_at=T0 + timedelta(hours=r[3]))
           for i, r in enumerate(rows)]
    results, unparsed = normalise_rows(raw, Patient(sex, age))
    assert not unparsed, unparsed
    return results_frame(results)


@cache
def real_analysis(path: str) -> ECGAnalysis:
    """A shared record analysed once per test run (default settings, not the developer's)."""
    return analyze(read_ecg(Path(path)), settings=Settings(mains_hz=50, analysis_fs=500, max_record_minutes=60.0))


def finding(rule: str, score: float = 0.9, **evidence: object) -> Finding:
    """An engine finding with the code, label and citation of the engine's own criteria table."""
    row = load_table("criteria")[rule]
    return Finding(row["code"], row["label"], score, dict(evidence), row["citation"], rule)


def fake_analysis(*findings: Finding, qrs_ms: float = 90.0, not_assessed: dict[str, str] | None = None) -> ECGAnalysis:
    """An analysis carrying only the given findings (for patterns no shared record shows: STEMI, AF, QTc > 500)."""
    return ECGAnalysis(record={}, measurements={"qrs_duration": Measurement(qrs_ms, "ms")}, leads={}, findings=list(findings),
                       scores={}, not_assessed=not_assessed or {}, quality={"overall": "good"}, info={})
