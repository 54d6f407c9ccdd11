"""Errors of the case database, in the workbench's plain-words style (see `workbench.errors`)."""
from __future__ import annotations

from ..errors import WorkbenchError


class StoreError(WorkbenchError):
    """The case database cannot be opened, read or written."""

    title = "Case database problem"


class CorruptDatabaseError(StoreError):
    """The database file is damaged or is not a workbench case database (nothing in it is changed)."""

    title = "Damaged case database"


class DatabaseBusyError(StoreError):
    """Another program held the database for longer than the wait limit."""

    title = "Case database busy"


class NotFoundError(StoreError, KeyError):
    """A patient, case or run id that is not in the database (also a `KeyError`, for dict-like callers)."""

    title = "Not in the case database"


class InvalidValueError(StoreError, ValueError):
    """A value the database would refuse (unknown verdict, empty id...), caught before anything is written."""

    title = "Invalid value"
