"""The one entry point for blood reports: files in (PDF, scan, photo, CSV/TSV/XLSX, FHIR JSON), coded and
unit-normalised results out, with every row that could not be used listed with its reason."""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd

from ..errors import WorkbenchError
from .frames import results_frame, unparsed_frame
from .normalise import Patient, normalise_rows
from .records import LabResult, RawLabRow, UnparsedRow

log = logging.getLogger(__name__)


@dataclass
class FileReport:
    """How one file went: what read it, what it printed about the patient, and any problem in plain words."""

    file: str
    kind: str = ""  # "document" | "table" | "fhir"
    readers: list[str] = field(default_factory=list)
    results: int = 0
    unparsed: int = 0
    patient: str = ""
    collected_at: datetime | None = None
    warnings: list[str] = field(default_factory=list)
    error: str = ""  # the file could not be read at all (nothing else from it)


@dataclass
class LabExtraction:
    results: list[LabResult]
    unparsed: list[UnparsedRow]
    files: list[FileReport]

    @property
    def frame(self) -> pd.DataFrame:
        return results_frame(self.results)

    @property
    def unparsed_frame(self) -> pd.DataFrame:
        return unparsed_frame(self.unparsed)

    @property
    def failed(self) -> list[FileReport]:
        return [f for f in self.files if f.error]


def extract_labs(paths: Iterable[str | Path], *, patient_id: str | None = None, sex: str | None = None,
                 age: float | None = None) -> LabExtraction:
    """Read every file; a file that cannot be read is reported in ``files`` and does not stop the others.

    ``patient_id`` overrides what the reports print (pseudonymous case ids); ``sex``/``age`` pick the
    reference ranges where the report prints none or prints sex-specific ones."""
    results: list[LabResult] = []
    unparsed: list[UnparsedRow] = []
    reports: list[FileReport] = []
    who = Patient(sex=sex.upper() if sex else None, age=age)
    for path in paths:
        report = FileReport(file=str(path))
        reports.append(report)
        try:
            rows, bad = _read(Path(path), report)
        except WorkbenchError as err:
            report.error = f"{err.title}: {err}"
            log.info("%s: %s", path, report.error)
            continue
        if patient_id:
            for row in rows:
                row.patient = patient_id
        good, refused = normalise_rows(rows, who)
        for item in bad + refused:
            unparsed.append(item)
        results.extend(good)
        report.results, report.unparsed = len(good), len(bad) + len(refused)
    return LabExtraction(results, unparsed, reports)


def _read(path: Path, report: FileReport) -> tuple[list[RawLabRow], list[UnparsedRow]]:
    """Pick the reader by the file's content, not its name."""
    kind = _kind(path)
    report.kind = kind
    if kind == "document":
        from .documents import read_document

        doc = read_document(path)
        report.readers, report.warnings = list(doc.readers_used), list(doc.warnings)
        report.patient, report.collected_at = doc.patient_id or doc.patient, doc.collected_at
        if doc.patient_id:  # an id, where printed, identifies the patient better than a name
            for row in doc.rows:
                row.patient = doc.patient_id
        return doc.rows, doc.unparsed
    if kind == "fhir":
        from .fhir import read_fhir

        table = read_fhir(path)
        report.readers = ["fhir"]
    else:
        from .structured import read_table_file

        table = read_table_file(path)
        report.readers = sorted({row.source.reader for row in table.rows} | {u.source.reader for u in table.unparsed})
    report.warnings = list(table.notes)
    return table.rows, table.unparsed


def _kind(path: Path) -> str:
    from ..ecg.image.loading import detect_image_format
    from ..errors import InputError
    from ..input_files import check_input_file

    check_input_file(path, holds="lab report", smaller="Export only the lab report needed")
    try:
        detect_image_format(path)
        return "document"
    except (InputError, OSError):
        pass
    with path.open("rb") as handle:
        head = handle.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    if path.suffix.lower() == ".pdf":
        return "document"  # a damaged PDF: the document reader says so in its own words
    return "fhir" if head[:1] in (b"{", b"[") else "table"
