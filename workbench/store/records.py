"""Typed, read-only records returned by `CaseStore` (rows decoded, JSON parsed), and the JSON encoding used to
store outputs (canonical, so equal content gives equal hashes)."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..pipeline.types import URGENCY_ORDER, PatientContext
from .errors import InvalidValueError


# ====================================================================== JSON
def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [_plain(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, (str, int)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None  # NaN / inf -> null ("not measured"); JSON has no NaN
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "to_dict"):
        return _plain(obj.to_dict())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _plain(dataclasses.asdict(obj))
    if hasattr(obj, "item"):  # numpy scalars
        return _plain(obj.item())
    if hasattr(obj, "tolist"):  # numpy arrays
        return _plain(obj.tolist())
    raise InvalidValueError(f"A value of type {type(obj).__name__} cannot be saved in the case database.",
                            hint="Save plain numbers, text, lists and dicts (use to_dict()).")


def canonical_json(data: Any) -> str:
    """Standard JSON with sorted keys and no NaN, so the same content always gives the same text and hash."""
    return json.dumps(_plain(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ====================================================================== records
@dataclass(frozen=True)
class InputRecord:
    id: int
    case_id: str
    kind: str  # 'ecg' | 'labs'
    original_name: str
    sha256: str
    stored_path: Path  # absolute path of the stored copy
    size_bytes: int
    created_at: str


@dataclass(frozen=True)
class RunRecord:
    id: str
    case_id: str
    created_at: str
    pipeline_version: str
    models: dict[str, str]  # model name -> sha256
    settings: dict[str, Any]


@dataclass(frozen=True)
class RunEvent:
    id: int
    run_id: str
    at: str
    status: str
    node: str | None
    details: dict[str, Any]


@dataclass(frozen=True)
class OutputRecord:
    id: int
    run_id: str
    kind: str
    created_at: str
    sha256: str
    data: dict[str, Any]


@dataclass(frozen=True)
class ValidationRecord:
    id: int
    run_id: str
    finding_code: str
    verdict: str  # 'agree' | 'disagree' | 'unsure'
    corrected_label: str
    note: str
    who: str
    created_at: str


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: str
    actor: str
    action: str
    entity: str
    entity_id: str
    details: dict[str, Any]
    hash: str


@dataclass(frozen=True)
class RunView:
    """A run with its current status, event history, latest output of each kind and all validations."""

    run: RunRecord
    status: str
    events: list[RunEvent]
    outputs: dict[str, OutputRecord]  # kind -> newest output of that kind
    validations: list[ValidationRecord]  # full history, oldest first

    @property
    def id(self) -> str:
        return self.run.id

    @property
    def latest_validations(self) -> dict[str, ValidationRecord]:
        """finding code -> the newest verdict (what the UI shows)."""
        return latest_per_finding(self.validations)


@dataclass(frozen=True)
class CaseSummary:
    """One line of the case list."""

    case_id: str
    patient_id: str
    created_at: str
    n_runs: int
    last_run_id: str | None
    last_run_status: str | None
    urgency: str | None  # from the case's newest 'fusion' output, when it has one


@dataclass(frozen=True)
class CaseView:
    case_id: str
    patient_id: str
    created_at: str
    context: dict[str, Any]  # as stored (PatientContext.to_dict())
    inputs: list[InputRecord]
    runs: list[RunView] = field(default_factory=list)  # oldest first

    def patient_context(self) -> PatientContext:
        """The stored intake form as a `PatientContext` (fields unknown to this version are ignored)."""
        names = {f.name for f in dataclasses.fields(PatientContext)}
        return PatientContext(**{k: v for k, v in self.context.items() if k in names})


def latest_per_finding(items: list[ValidationRecord]) -> dict[str, ValidationRecord]:
    latest: dict[str, ValidationRecord] = {}
    for item in sorted(items, key=lambda v: v.id):
        latest[item.finding_code] = item
    return latest


def urgency_of(fusion: dict[str, Any]) -> str | None:
    """The urgency in a fusion output: its 'urgency' field, else the highest of its impressions' urgencies.
    The pipeline stores every output as ``{"value": ...}`` (lists and dicts alike), so that wrapper is opened."""
    if isinstance(fusion.get("value"), dict):
        fusion = fusion["value"]
    value = fusion.get("urgency")
    if isinstance(value, str) and value in URGENCY_ORDER:
        return value
    found = [i.get("urgency") for i in fusion.get("impressions") or [] if isinstance(i, dict)]
    found = [u for u in found if isinstance(u, str) and u in URGENCY_ORDER]
    return max(found, key=URGENCY_ORDER.__getitem__) if found else None
