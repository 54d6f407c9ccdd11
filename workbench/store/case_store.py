"""`CaseStore`: patients, cases, inputs, pipeline runs, their outputs and clinician validations, with an audit
trail, in one SQLite file.

Nothing that matters for history is changed in place: a run's status is its newest event, a newer output of a
kind supersedes the older one (both kept), the newest validation of a finding wins. Every write is one
transaction that also appends a hash-chained audit row, so a killed process leaves both or neither. Each thread
(and each process) gets its own connection, so the LangGraph worker thread and the UI thread can share a store.
"""
from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from ..config import get_settings
from ..pipeline.types import PatientContext
from . import db
from .errors import InvalidValueError, NotFoundError, StoreError
from .files import file_sha256, remove_stale_parts, store_copy
from .migrations import INPUT_KINDS, RUN_STATUSES, VERDICTS
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
    canonical_json,
    latest_per_finding,
    sha256_text,
    urgency_of,
)

T = TypeVar("T")
GENESIS_HASH = "0" * 64
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tabs and line breaks allowed


def _text(value: object, what: str, *, max_len: int = 128, allow_empty: bool = False, multiline: bool = False) -> str:
    """A stripped, printable, bounded string, or a clear error naming the field."""
    if not isinstance(value, str):
        raise InvalidValueError(f"The {what} must be text, not {type(value).__name__}.")
    text = value.strip()
    if not text and not allow_empty:
        raise InvalidValueError(f"The {what} is empty.", hint=f"Enter a {what}.")
    if len(text) > max_len:
        raise InvalidValueError(f"The {what} is {len(text)} characters long; at most {max_len} are allowed.")
    if (_CONTROL_MULTILINE if multiline else _CONTROL).search(text):
        raise InvalidValueError(f"The {what} {text[:40]!r} contains control characters.")
    return text


def _choice(value: object, what: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InvalidValueError(f"{value!r} is not a valid {what}; use one of: {', '.join(allowed)}.")
    return str(value)


class CaseStore:
    """The case database. ``path`` defaults to ``settings.db_path``; stored input copies go under ``files_dir``
    (default: an ``inputs`` folder next to the database, so all patient data lives in one private place that is
    backed up together). ``timeout``: seconds to wait for another writer."""

    def __init__(self, path: Path | str | None = None, *, files_dir: Path | str | None = None,
                 timeout: float = 30.0) -> None:
        settings = get_settings()
        self.path = Path(path if path is not None else settings.db_path).expanduser()
        self.files_dir = Path(files_dir if files_dir is not None else self.path.parent / "inputs").expanduser()
        self.max_file_bytes = settings.max_file_mb * 1024**2
        self.timeout = timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._generation = 0
        self._connections: list[tuple[int, sqlite3.Connection]] = []
        self._conn()  # open now: a damaged, foreign or newer database is reported here, not at the first save
        remove_stale_parts(self.files_dir)

    # ------------------------------------------------------------------ connections
    def _conn(self) -> sqlite3.Connection:
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is None or local.pid != os.getpid() or local.generation != self._generation:
            conn = db.connect(self.path, timeout=self.timeout)
            local.conn, local.pid, local.generation = conn, os.getpid(), self._generation
            with self._lock:
                self._connections.append((os.getpid(), conn))
        return conn

    def close(self) -> None:
        """Close this process's connections (a later call reopens one)."""
        with self._lock:
            mine = [c for pid, c in self._connections if pid == os.getpid()]
            self._connections = []
            self._generation += 1
        for conn in mine:
            try:
                conn.close()
            except sqlite3.Error:
                pass

    def __enter__(self) -> CaseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return db.write(self._conn(), fn, timeout=self.timeout)
        except sqlite3.Error as exc:
            raise db.translate(exc, self.path, self.timeout) from exc

    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return db.read(self._conn(), fn, timeout=self.timeout)
        except sqlite3.Error as exc:
            raise db.translate(exc, self.path, self.timeout) from exc

    @property
    def schema_version(self) -> int:
        return self._read(db.schema_version)

    # ------------------------------------------------------------------ audit
    @staticmethod
    def _audit_hash(prev: str, at: str, actor: str, action: str, entity: str, entity_id: str, details: str) -> str:
        return sha256_text(prev + "\n" + json.dumps([at, actor, action, entity, entity_id, details]))

    def _audit(self, conn: sqlite3.Connection, actor: str, action: str, entity: str, entity_id: str,
               details: Mapping[str, Any] | None = None) -> None:
        row = conn.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
        prev = row[0] if row else GENESIS_HASH
        at = db.utc_now()
        details_json = canonical_json(dict(details or {}))
        digest = self._audit_hash(prev, at, actor, action, entity, entity_id, details_json)
        conn.execute("INSERT INTO audit (at, actor, action, entity, entity_id, details_json, prev_hash, hash) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (at, actor, action, entity, entity_id, details_json, prev,
                                                         digest))

    # ------------------------------------------------------------------ existence checks
    def _require(self, conn: sqlite3.Connection, table: str, key: str, what: str) -> None:
        if conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (key,)).fetchone() is None:
            raise NotFoundError(f"There is no {what} {key!r} in the case database {self.path}.",
                                hint=f"Check the {what} id, or pick the {what} from the list.")

    # ------------------------------------------------------------------ patients and cases
    def _ensure_patient(self, conn: sqlite3.Connection, patient_id: str, actor: str) -> None:
        cur = conn.execute("INSERT OR IGNORE INTO patients (id, created_at) VALUES (?, ?)", (patient_id, db.utc_now()))
        if cur.rowcount == 1:
            self._audit(conn, actor, "create", "patient", patient_id)

    def add_patient(self, patient_id: str, *, actor: str = "system") -> None:
        """Register a pseudonymous patient id (as entered); adding it again does nothing."""
        pid = _text(patient_id, "patient id")
        actor = _text(actor, "actor")
        self._write(lambda c: self._ensure_patient(c, pid, actor))

    def create_case(self, context: PatientContext | Mapping[str, Any], actor: str, *,
                    case_id: str | None = None) -> str:
        """Open a case for the patient in ``context`` (registered if new); returns the case id. Passing your own
        ``case_id`` makes a retried call after a crash return the same case instead of a second one."""
        ctx = context.to_dict() if isinstance(context, PatientContext) else dict(context)
        pid = _text(ctx.get("patient_id"), "patient id")
        ctx["patient_id"] = pid
        actor = _text(actor, "actor")
        cid = _text(case_id, "case id") if case_id is not None else uuid.uuid4().hex
        context_json = canonical_json(ctx)

        def tx(c: sqlite3.Connection) -> str:
            row = c.execute("SELECT patient_id FROM cases WHERE id = ?", (cid,)).fetchone()
            if row is not None:
                if row[0] != pid:
                    raise InvalidValueError(f"Case {cid!r} already exists for another patient.")
                return cid
            self._ensure_patient(c, pid, actor)
            c.execute("INSERT INTO cases (id, patient_id, created_at, context_json) VALUES (?, ?, ?, ?)",
                      (cid, pid, db.utc_now(), context_json))
            self._audit(c, actor, "create", "case", cid, {"patient_id": pid})
            return cid

        return self._write(tx)

    # ------------------------------------------------------------------ inputs
    def _input_record(self, row: sqlite3.Row | tuple) -> InputRecord:
        id_, case_id, kind, name, sha, rel, size, created = row
        return InputRecord(id_, case_id, kind, name, sha, self.files_dir / rel, size, created)

    _INPUT_COLUMNS = "id, case_id, kind, original_name, sha256, stored_path, size_bytes, created_at"

    def add_input(self, case_id: str, path: Path | str, kind: str, actor: str) -> InputRecord:
        """Keep a private copy of an ECG or lab file with the case. The same content added again to the case
        returns the existing record (nothing new is written)."""
        kind = _choice(kind, "input kind", INPUT_KINDS)
        actor = _text(actor, "actor")
        src = Path(path)
        self._read(lambda c: self._require(c, "cases", case_id, "case"))  # before copying anything
        try:
            stored = store_copy(src, self.files_dir, max_bytes=self.max_file_bytes)  # file first, then the row
        except OSError as exc:
            raise StoreError(f"Could not keep a copy of {src.name} in {self.files_dir} ({exc.strerror or exc}).",
                             hint="Check that the disk has free space and that you may write to this folder.") from exc

        def tx(c: sqlite3.Connection) -> InputRecord:
            self._require(c, "cases", case_id, "case")
            cur = c.execute(
                "INSERT INTO inputs (case_id, kind, original_name, sha256, stored_path, size_bytes, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (case_id, sha256) DO NOTHING",
                (case_id, kind, src.name, stored.sha256, stored.relative_path, stored.size_bytes, db.utc_now()))
            if cur.rowcount == 1:
                self._audit(c, actor, "add", "input", str(cur.lastrowid),
                            {"case_id": case_id, "kind": kind, "name": src.name, "sha256": stored.sha256})
            row = c.execute(f"SELECT {self._INPUT_COLUMNS} FROM inputs WHERE case_id = ? AND sha256 = ?",
                            (case_id, stored.sha256)).fetchone()
            return self._input_record(row)

        return self._write(tx)

    # ------------------------------------------------------------------ runs and events
    def start_run(self, case_id: str, *, pipeline_version: str, models: Mapping[str, str],
                  settings: Mapping[str, Any], actor: str, run_id: str | None = None) -> str:
        """Record a pipeline run (versions and model hashes are fixed from here on) and its 'started' event.
        With the caller's ``run_id`` (e.g. the LangGraph thread id) a repeated call returns the same run; the
        same id with different versions is refused, since it would misstate what produced the outputs."""
        version = _text(pipeline_version, "pipeline version")
        actor = _text(actor, "actor")
        rid = _text(run_id, "run id") if run_id is not None else uuid.uuid4().hex
        models_json = canonical_json({str(k): str(v) for k, v in dict(models).items()})
        settings_json = canonical_json(dict(settings))

        def tx(c: sqlite3.Connection) -> str:
            row = c.execute("SELECT case_id, pipeline_version, models_json, settings_json FROM runs WHERE id = ?",
                            (rid,)).fetchone()
            if row is not None:
                if tuple(row) != (case_id, version, models_json, settings_json):
                    raise InvalidValueError(
                        f"Run {rid!r} already exists with another case, pipeline version, models or settings.",
                        hint="Start a new run (new id) to use other versions or settings.")
                return rid
            self._require(c, "cases", case_id, "case")
            now = db.utc_now()
            c.execute("INSERT INTO runs (id, case_id, created_at, pipeline_version, models_json, settings_json) "
                      "VALUES (?, ?, ?, ?, ?, ?)", (rid, case_id, now, version, models_json, settings_json))
            c.execute("INSERT INTO run_events (run_id, at, status, node, details_json) VALUES (?, ?, 'started', "
                      "NULL, '{}')", (rid, now))
            self._audit(c, actor, "start", "run", rid, {"case_id": case_id, "pipeline_version": version})
            return rid

        return self._write(tx)

    def add_event(self, run_id: str, status: str, node: str | None = None,
                  details: Mapping[str, Any] | None = None, *, actor: str = "pipeline") -> int:
        """Append a status event to a run (the run's status is its newest event); returns the event id."""
        status = _choice(status, "run status", RUN_STATUSES)
        node = _text(node, "node name") if node is not None else None
        actor = _text(actor, "actor")
        details_json = canonical_json(dict(details or {}))

        def tx(c: sqlite3.Connection) -> int:
            self._require(c, "runs", run_id, "run")
            cur = c.execute("INSERT INTO run_events (run_id, at, status, node, details_json) VALUES (?, ?, ?, ?, ?)",
                            (run_id, db.utc_now(), status, node, details_json))
            event_id = int(cur.lastrowid)
            self._audit(c, actor, status, "run", run_id, {"event_id": event_id, "node": node})
            return event_id

        return self._write(tx)

    def run_status(self, run_id: str) -> str:
        """The run's newest event status ('started', ..., 'finished')."""
        def tx(c: sqlite3.Connection) -> str:
            self._require(c, "runs", run_id, "run")
            return c.execute("SELECT status FROM run_events WHERE run_id = ? ORDER BY id DESC LIMIT 1",
                             (run_id,)).fetchone()[0]

        return self._read(tx)

    # ------------------------------------------------------------------ outputs
    def save_output(self, run_id: str, kind: str, data: Mapping[str, Any], *, actor: str = "pipeline") -> int:
        """Append an output (ECG analysis, lab values, fusion, report...) as JSON; returns its id. It supersedes
        the run's earlier output of the same kind (kept as history); saving content identical to the current
        one returns the current id, so a step re-run after a resume adds no duplicate."""
        kind = _text(kind, "output kind", max_len=64)
        actor = _text(actor, "actor")
        if not isinstance(data, Mapping) and not hasattr(data, "to_dict"):
            raise InvalidValueError(f"The {kind} output must be a dict, not {type(data).__name__}.")
        text = canonical_json(data)
        if not text.startswith("{"):
            raise InvalidValueError(f"The {kind} output must be a dict (JSON object).")
        digest = sha256_text(text)

        def tx(c: sqlite3.Connection) -> int:
            self._require(c, "runs", run_id, "run")
            row = c.execute("SELECT id, sha256 FROM outputs WHERE run_id = ? AND kind = ? ORDER BY id DESC LIMIT 1",
                            (run_id, kind)).fetchone()
            if row is not None and row[1] == digest:
                return int(row[0])
            cur = c.execute("INSERT INTO outputs (run_id, kind, created_at, sha256, json) VALUES (?, ?, ?, ?, ?)",
                            (run_id, kind, db.utc_now(), digest, text))
            output_id = int(cur.lastrowid)
            self._audit(c, actor, "save", "output", str(output_id), {"run_id": run_id, "kind": kind, "sha256": digest})
            return output_id

        return self._write(tx)

    @staticmethod
    def _output(row: tuple) -> OutputRecord:
        id_, run_id, kind, created, sha, text = row
        return OutputRecord(id_, run_id, kind, created, sha, json.loads(text))

    _OUTPUT_COLUMNS = "id, run_id, kind, created_at, sha256, json"

    def _latest_outputs(self, c: sqlite3.Connection, run_id: str) -> dict[str, OutputRecord]:
        rows = c.execute(f"SELECT {self._OUTPUT_COLUMNS} FROM outputs WHERE id IN "
                         "(SELECT max(id) FROM outputs WHERE run_id = ? GROUP BY kind) ORDER BY id", (run_id,))
        return {r[2]: self._output(r) for r in rows}

    def latest_outputs(self, run_id: str) -> dict[str, dict[str, Any]]:
        """kind -> data of the run's newest output of that kind."""
        def tx(c: sqlite3.Connection) -> dict[str, dict[str, Any]]:
            self._require(c, "runs", run_id, "run")
            return {k: o.data for k, o in self._latest_outputs(c, run_id).items()}

        return self._read(tx)

    def output_history(self, run_id: str, kind: str | None = None) -> list[OutputRecord]:
        """Every output of the run (of one kind, if given), oldest first."""
        def tx(c: sqlite3.Connection) -> list[OutputRecord]:
            self._require(c, "runs", run_id, "run")
            rows = c.execute(f"SELECT {self._OUTPUT_COLUMNS} FROM outputs WHERE run_id = ? AND (? IS NULL OR kind = ?)"
                             " ORDER BY id", (run_id, kind, kind))
            return [self._output(r) for r in rows]

        return self._read(tx)

    # ------------------------------------------------------------------ validations
    def add_validation(self, run_id: str, finding_code: str, verdict: str, *, corrected_label: str = "",
                       note: str = "", who: str) -> int:
        """Record a clinician's verdict on one finding of a run; a later verdict on the same finding supersedes
        it for display, and both are kept. Returns the validation id."""
        verdict = _choice(verdict, "verdict", VERDICTS)
        code = _text(finding_code, "finding code")
        label = _text(corrected_label, "corrected label", max_len=256, allow_empty=True)
        note = _text(note, "note", max_len=10_000, allow_empty=True, multiline=True)
        who = _text(who, "name of the person validating")

        def tx(c: sqlite3.Connection) -> int:
            self._require(c, "runs", run_id, "run")
            cur = c.execute("INSERT INTO validations (run_id, finding_code, verdict, corrected_label, note, who, "
                            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (run_id, code, verdict, label, note, who, db.utc_now()))
            vid = int(cur.lastrowid)
            self._audit(c, who, "validate", "validation", str(vid),
                        {"run_id": run_id, "finding_code": code, "verdict": verdict})
            return vid

        return self._write(tx)

    _VALIDATION_COLUMNS = "id, run_id, finding_code, verdict, corrected_label, note, who, created_at"

    def _validations(self, c: sqlite3.Connection, run_id: str) -> list[ValidationRecord]:
        rows = c.execute(f"SELECT {self._VALIDATION_COLUMNS} FROM validations WHERE run_id = ? ORDER BY id", (run_id,))
        return [ValidationRecord(*r) for r in rows]

    def validations(self, run_id: str, *, latest_only: bool = False) -> list[ValidationRecord]:
        """The run's validations, oldest first; ``latest_only``: just the newest per finding."""
        def tx(c: sqlite3.Connection) -> list[ValidationRecord]:
            self._require(c, "runs", run_id, "run")
            items = self._validations(c, run_id)
            return sorted(latest_per_finding(items).values(), key=lambda v: v.id) if latest_only else items

        return self._read(tx)

    # ------------------------------------------------------------------ views
    def list_cases(self, patient_id: str | None = None, *, limit: int | None = None) -> list[CaseSummary]:
        """Cases, newest first, with their last run's status and the urgency of their newest fusion output."""
        sql = """
            SELECT c.id, c.patient_id, c.created_at,
                   (SELECT count(*) FROM runs r WHERE r.case_id = c.id),
                   lr.id,
                   (SELECT e.status FROM run_events e WHERE e.run_id = lr.id ORDER BY e.id DESC LIMIT 1),
                   (SELECT o.json FROM outputs o JOIN runs r ON r.id = o.run_id
                     WHERE r.case_id = c.id AND o.kind = 'fusion' ORDER BY o.id DESC LIMIT 1)
            FROM cases c
            LEFT JOIN runs lr ON lr.id = (SELECT r.id FROM runs r WHERE r.case_id = c.id
                                          ORDER BY r.created_at DESC, r.id DESC LIMIT 1)
            WHERE (? IS NULL OR c.patient_id = ?)
            ORDER BY c.created_at DESC, c.id DESC
            LIMIT ?"""

        def tx(c: sqlite3.Connection) -> list[CaseSummary]:
            rows = c.execute(sql, (patient_id, patient_id, -1 if limit is None else int(limit))).fetchall()
            return [CaseSummary(cid, pid, created, n, last, status, urgency_of(json.loads(fusion)) if fusion else None)
                    for cid, pid, created, n, last, status, fusion in rows]

        return self._read(tx)

    def _run_view(self, c: sqlite3.Connection, row: tuple) -> RunView:
        rid, case_id, created, version, models, settings = row
        run = RunRecord(rid, case_id, created, version, json.loads(models), json.loads(settings))
        events = [RunEvent(i, r, at, s, n, json.loads(d)) for i, r, at, s, n, d in c.execute(
            "SELECT id, run_id, at, status, node, details_json FROM run_events WHERE run_id = ? ORDER BY id", (rid,))]
        return RunView(run, events[-1].status if events else "started", events, self._latest_outputs(c, rid),
                       self._validations(c, rid))

    _RUN_COLUMNS = "id, case_id, created_at, pipeline_version, models_json, settings_json"

    def get_run(self, run_id: str) -> RunView:
        """One run with its status, events, latest outputs and validations."""
        def tx(c: sqlite3.Connection) -> RunView:
            self._require(c, "runs", run_id, "run")
            return self._run_view(c, c.execute(f"SELECT {self._RUN_COLUMNS} FROM runs WHERE id = ?",
                                               (run_id,)).fetchone())

        return self._read(tx)

    def get_case(self, case_id: str) -> CaseView:
        """Everything about a case, read as one consistent snapshot."""
        def tx(c: sqlite3.Connection) -> CaseView:
            self._require(c, "cases", case_id, "case")
            cid, pid, created, context = c.execute(
                "SELECT id, patient_id, created_at, context_json FROM cases WHERE id = ?", (case_id,)).fetchone()
            inputs = [self._input_record(r) for r in c.execute(
                f"SELECT {self._INPUT_COLUMNS} FROM inputs WHERE case_id = ? ORDER BY id", (case_id,))]
            runs = [self._run_view(c, r) for r in c.execute(
                f"SELECT {self._RUN_COLUMNS} FROM runs WHERE case_id = ? ORDER BY created_at, id", (case_id,)
            ).fetchall()]
            return CaseView(cid, pid, created, json.loads(context), inputs, runs)

        return self._read(tx)

    def audit_log(self, entity_id: str | None = None, *, limit: int | None = None) -> list[AuditEntry]:
        """The audit trail (of one entity, if given), oldest first."""
        def tx(c: sqlite3.Connection) -> list[AuditEntry]:
            rows = c.execute("SELECT id, at, actor, action, entity, entity_id, details_json, hash FROM audit "
                             "WHERE (? IS NULL OR entity_id = ?) ORDER BY id LIMIT ?",
                             (entity_id, entity_id, -1 if limit is None else int(limit))).fetchall()
            return [AuditEntry(i, at, actor, action, entity, eid, json.loads(d), h)
                    for i, at, actor, action, entity, eid, d, h in rows]

        return self._read(tx)

    # ------------------------------------------------------------------ checks
    def integrity_problems(self, *, files: bool = False) -> list[str]:
        """What is wrong with the database (empty when nothing): SQLite's own check, dangling references, a
        broken audit hash chain, and with ``files`` missing or altered stored input copies."""
        def tx(c: sqlite3.Connection) -> list[str]:
            problems = [r[0] for r in c.execute("PRAGMA integrity_check") if r[0] != "ok"]
            problems += [f"{t} row {rowid} refers to a missing {parent} row"
                         for t, rowid, parent, _ in c.execute("PRAGMA foreign_key_check")]
            prev = GENESIS_HASH
            for i, at, actor, action, entity, eid, d, p, h in c.execute(
                    "SELECT id, at, actor, action, entity, entity_id, details_json, prev_hash, hash FROM audit "
                    "ORDER BY id"):
                if p != prev or h != self._audit_hash(p, at, actor, action, entity, eid, d):
                    problems.append(f"audit row {i} does not match the audit hash chain")
                prev = h
            if files:
                for id_, rel, sha in c.execute("SELECT id, stored_path, sha256 FROM inputs ORDER BY id"):
                    stored = self.files_dir / rel
                    if not stored.is_file():
                        problems.append(f"input {id_}: stored copy {stored} is missing")
                    elif file_sha256(stored) != sha:
                        problems.append(f"input {id_}: stored copy {stored} has been altered")
            return problems

        return self._read(tx)

    def integrity_check(self, *, files: bool = False) -> bool:
        """True when `integrity_problems` finds nothing."""
        return not self.integrity_problems(files=files)


__all__ = ["CaseStore", "StoreError", "NotFoundError", "InvalidValueError"]
