"""Results typed in by hand (the intake form): the same validation as a printed report, so a typing error
(K+ 45, troponin in the wrong unit) is refused in the same plain words."""
from __future__ import annotations

from datetime import datetime

from ..errors import InputError
from .catalogue import get_catalogue
from .normalise import Patient, normalise_row
from .records import LabResult, RawLabRow, SourceRef


def unit_choices(analyte: str) -> list[str]:
    """Units a form offers for an analyte, canonical first."""
    entry = get_catalogue().get(analyte)
    if entry is None:
        raise InputError(f"'{analyte}' is not an analyte of the catalogue.")
    return [entry.unit] + [unit for unit in entry.units if unit != entry.unit]


def manual_result(analyte: str, value_text: str, unit: str, *, patient: str = "", collected_at: datetime | None = None,
                  sex: str | None = None, age: float | None = None, ref_text: str = "", entered_by: str = "") -> LabResult:
    """One validated result; ``analyte`` is a catalogue key or any name the catalogue knows."""
    catalogue = get_catalogue()
    entry = catalogue.get(analyte) or catalogue.lookup(analyte, unit=unit)
    if entry is None:
        raise InputError(f"'{analyte}' is not an analyte of the catalogue.", hint="Choose it from the list.")
    raw = RawLabRow(name=entry.name, value_text=value_text, unit_text=unit, ref_text=ref_text, loinc=entry.primary_loinc,
                    source=SourceRef(file=f"entered by {entered_by}" if entered_by else "entered by hand", reader="manual"),
                    patient=patient, collected_at=collected_at)
    outcome = normalise_row(raw, Patient(sex, age), catalogue)
    if not isinstance(outcome, LabResult):
        raise InputError(f"This result cannot be accepted: {outcome.reason}.")
    return outcome
