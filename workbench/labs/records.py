"""Typed records that pass between the lab readers, the normaliser and the pipeline.

Flow (one way): a reader turns a document into ``RawLabRow`` objects (text exactly as printed, plus where it
was found); the normaliser maps each raw row onto the analyte catalogue and yields either a ``LabResult`` or
an ``UnparsedRow`` that says why. Nothing is dropped silently: every raw row ends up as one of the two.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Literal

Reader = Literal["camelot-lattice", "camelot-stream", "pdfplumber", "ocr", "csv", "xlsx", "fhir", "manual"]
Comparator = Literal["<", "<=", ">", ">="]
Flag = Literal["L", "H", "LL", "HH"]  # LL / HH = beyond the critical limit
RefSource = Literal["report", "catalogue"]


@dataclass(frozen=True)
class SourceRef:
    """Where a row came from, so a clinician can find it in the original document."""

    file: str
    reader: Reader
    page: int | None = None  # 0-based page of a PDF or multi-page image
    row: int | None = None  # 0-based row within the table / sheet / bundle
    table: int | None = None  # 0-based table on the page
    bbox: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1 in page points (PDF) or pixels (image)


@dataclass
class RawLabRow:
    """One result line as printed: no interpretation yet, only which text sits in which role."""

    name: str  # analyte name as printed ("S. Creatinine", "Troponin T (hs)")
    value_text: str  # value cell as printed ("1.2", "< 3", "Positive", "5.6 mmol/L")
    source: SourceRef
    unit_text: str = ""  # unit column, empty when the unit is inside the value cell or absent
    ref_text: str = ""  # reference range as printed ("0-14", "< 14", "14 - 52 ng/L", "Up to 5.0")
    flag_text: str = ""  # flag column as printed ("H", "L", "*", "High", "Critical")
    section: str = ""  # section header above the row ("Cardiac markers")
    loinc: str = ""  # when the source codes it (FHIR, some CSV exports)
    collected_at: datetime | None = None
    patient: str = ""


@dataclass
class LabResult:
    """One normalised result, mapped to the catalogue, with its canonical value and flag."""

    analyte: str  # catalogue key, e.g. "hs_ctnt"
    name: str  # catalogue display name
    loinc: str
    value_text: str
    value: float | None  # numeric value in ``unit``; None for qualitative results
    comparator: Comparator | None
    unit: str
    canonical_value: float | None
    canonical_unit: str
    ref_low: float | None  # in the canonical unit
    ref_high: float | None
    ref_source: RefSource | None
    flag: Flag | None
    source: SourceRef
    patient: str = ""
    collected_at: datetime | None = None
    printed_name: str = ""
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["collected_at"] = self.collected_at.isoformat() if self.collected_at else None
        return out


@dataclass
class UnparsedRow:
    """A row that could not be read or mapped, kept with the reason so that nothing vanishes."""

    text: str
    reason: str
    source: SourceRef
