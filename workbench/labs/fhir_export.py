"""Normalised results -> a FHIR R4 collection Bundle (one DiagnosticReport with contained Observations), so
that what the workbench read from a paper report can go back into a hospital system with LOINC codes and UCUM
units. Reading the Bundle back with `read_fhir` gives the same results table (tested)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .records import LabResult

_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
_UCUM = "http://unitsofmeasure.org"
_UCUM_CODES = {"10^9/L": "10*9/L", "10^12/L": "10*12/L", "mL/min/1.73 m2": "mL/min/{1.73_m2}"}


def _quantity_value(text: str) -> float | int:
    number = float(text)
    return int(number) if number.is_integer() and "." not in text else number


def _observation(index: int, r: LabResult) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "resourceType": "Observation", "id": f"obs{index}", "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "laboratory"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": r.loinc, "display": r.name}], "text": r.printed_name or r.name},
    }
    if r.patient:
        obs["subject"] = {"identifier": {"value": r.patient}}
    if r.collected_at is not None:
        # FHIR requires an offset with a time; the workbench keeps wall-clock times, which are the clinic's own
        obs["effectiveDateTime"] = r.collected_at.astimezone().isoformat()
    if r.value is None:
        obs["valueString"] = r.value_text
    else:
        quantity: dict[str, Any] = {"value": r.value, "unit": r.unit, "system": _UCUM,
                                    "code": _UCUM_CODES.get(r.unit, r.unit)}
        if r.comparator:
            quantity["comparator"] = r.comparator
        obs["valueQuantity"] = quantity
    if r.ref_low is not None or r.ref_high is not None:
        # the range is stored in the canonical unit: say so, so the reader converts it correctly
        bounds = {key: {"value": value, "unit": r.canonical_unit, "system": _UCUM,
                        "code": _UCUM_CODES.get(r.canonical_unit, r.canonical_unit)}
                  for key, value in (("low", r.ref_low), ("high", r.ref_high)) if value is not None}
        obs["referenceRange"] = [bounds]
    if r.flag:
        obs["interpretation"] = [{"coding": [{"system": _INTERPRETATION, "code": r.flag}]}]
    return obs


def to_fhir_bundle(results: Sequence[LabResult], *, report_name: str = "Laboratory results") -> dict[str, Any]:
    """A collection Bundle with one DiagnosticReport listing every result as a contained Observation."""
    observations = [_observation(i, r) for i, r in enumerate(results)]
    report = {"resourceType": "DiagnosticReport", "id": "report", "status": "final",
              "code": {"text": report_name}, "contained": observations,
              "result": [{"reference": f"#{o['id']}"} for o in observations]}
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": report}]}
