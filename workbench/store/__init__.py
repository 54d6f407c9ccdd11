"""The SQLite case store: patients, cases, inputs, pipeline runs, outputs, clinician validations and an
append-only audit trail (see `CaseStore`)."""
from __future__ import annotations

from .case_store import CaseStore
from .db import connect, migrate
from .errors import CorruptDatabaseError, DatabaseBusyError, InvalidValueError, NotFoundError, StoreError
from .migrations import LATEST_VERSION, RUN_STATUSES, VERDICTS
from .records import (
    AuditEntry,
    CaseSummary,
    CaseView,
    InputRecord,
    OutputRecord,
    RunEvent,
    RunRecord,
    RunView,
    ValidationRecord,
)

__all__ = [
    "AuditEntry", "CaseStore", "CaseSummary", "CaseView", "CorruptDatabaseError", "DatabaseBusyError", "InputRecord",
    "InvalidValueError", "LATEST_VERSION", "NotFoundError", "OutputRecord", "RUN_STATUSES", "RunEvent", "RunRecord",
    "RunView", "StoreError", "VERDICTS", "ValidationRecord", "connect", "migrate",
]
