"""The case database schema as an ordered list of migrations (embedded here, so packaging needs no .sql files).

Rules: never edit a released migration; add a new one with the next version number. `db.migrate` applies each
pending one in its own transaction and records it in ``PRAGMA user_version`` and ``schema_migrations``.

History matters in a clinical record, so every table except ``schema_migrations`` refuses UPDATE and DELETE
through triggers: corrections are new rows (a newer output, a newer validation, a new run event), and a case's
state is read from its latest rows.
"""
from __future__ import annotations

from dataclasses import dataclass

RUN_STATUSES: tuple[str, ...] = ("started", "node_started", "node_finished", "interrupted", "resumed", "failed",
                                 "finished")
VERDICTS: tuple[str, ...] = ("agree", "disagree", "unsure")
INPUT_KINDS: tuple[str, ...] = ("ecg", "labs")
#: tables whose rows can never be changed or removed once written
APPEND_ONLY_TABLES: tuple[str, ...] = ("patients", "cases", "inputs", "runs", "run_events", "outputs", "validations",
                                       "audit")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _append_only(table: str) -> str:
    return f"""
CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
BEGIN SELECT RAISE(ABORT, '{table} rows are append-only: add a new row instead of changing one'); END;
CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
BEGIN SELECT RAISE(ABORT, '{table} rows are append-only: they cannot be deleted'); END;
"""


_0001_INITIAL = f"""
CREATE TABLE schema_migrations (
    version     INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    applied_at  TEXT NOT NULL
);

CREATE TABLE patients (
    id          TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 128),  -- pseudonymous id, as entered
    created_at  TEXT NOT NULL
);

CREATE TABLE cases (
    id            TEXT PRIMARY KEY,                                     -- uuid4 hex
    patient_id    TEXT NOT NULL REFERENCES patients(id),
    created_at    TEXT NOT NULL,
    context_json  TEXT NOT NULL CHECK (json_valid(context_json))        -- PatientContext.to_dict()
);

CREATE TABLE inputs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id        TEXT NOT NULL REFERENCES cases(id),
    kind           TEXT NOT NULL CHECK (kind IN {_in(INPUT_KINDS)}),
    original_name  TEXT NOT NULL,
    sha256         TEXT NOT NULL CHECK (length(sha256) = 64),
    stored_path    TEXT NOT NULL,                                       -- relative to the store's files folder
    size_bytes     INTEGER NOT NULL CHECK (size_bytes >= 0),
    created_at     TEXT NOT NULL,
    UNIQUE (case_id, sha256)
);

CREATE TABLE runs (
    id                TEXT PRIMARY KEY,                                 -- caller's id (LangGraph thread id) or uuid4 hex
    case_id           TEXT NOT NULL REFERENCES cases(id),
    created_at        TEXT NOT NULL,
    pipeline_version  TEXT NOT NULL,
    models_json       TEXT NOT NULL CHECK (json_valid(models_json)),    -- model name -> sha256
    settings_json     TEXT NOT NULL CHECK (json_valid(settings_json))
);

CREATE TABLE run_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,                    -- order of events; status = last one
    run_id        TEXT NOT NULL REFERENCES runs(id),
    at            TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN {_in(RUN_STATUSES)}),
    node          TEXT,
    details_json  TEXT NOT NULL DEFAULT '{{}}' CHECK (json_valid(details_json))
);

CREATE TABLE outputs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,                      -- newest of a kind supersedes older ones
    run_id      TEXT NOT NULL REFERENCES runs(id),
    kind        TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 64),
    created_at  TEXT NOT NULL,
    sha256      TEXT NOT NULL CHECK (length(sha256) = 64),              -- of the canonical JSON
    json        TEXT NOT NULL CHECK (json_valid(json))
);

CREATE TABLE validations (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,                 -- newest per finding wins for display
    run_id           TEXT NOT NULL REFERENCES runs(id),
    finding_code     TEXT NOT NULL CHECK (length(finding_code) >= 1),
    verdict          TEXT NOT NULL CHECK (verdict IN {_in(VERDICTS)}),
    corrected_label  TEXT NOT NULL DEFAULT '',
    note             TEXT NOT NULL DEFAULT '',
    who              TEXT NOT NULL CHECK (length(who) >= 1),
    created_at       TEXT NOT NULL
);

CREATE TABLE audit (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    at            TEXT NOT NULL,
    actor         TEXT NOT NULL,
    action        TEXT NOT NULL,
    entity        TEXT NOT NULL,
    entity_id     TEXT NOT NULL,
    details_json  TEXT NOT NULL DEFAULT '{{}}' CHECK (json_valid(details_json)),
    prev_hash     TEXT NOT NULL,                                        -- hash of the previous audit row
    hash          TEXT NOT NULL UNIQUE                                  -- sha256 over prev_hash and this row
);
""" + "".join(_append_only(t) for t in APPEND_ONLY_TABLES)

_0002_INDEXES = """
CREATE INDEX cases_by_patient ON cases(patient_id, created_at);
CREATE INDEX runs_by_case ON runs(case_id, created_at);
CREATE INDEX run_events_by_run ON run_events(run_id, id);
CREATE INDEX outputs_by_run_kind ON outputs(run_id, kind, id);
CREATE INDEX validations_by_run ON validations(run_id, finding_code, id);
CREATE INDEX audit_by_entity ON audit(entity_id, id);
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial", _0001_INITIAL),
    Migration(2, "indexes for the case list and case views", _0002_INDEXES),
)

#: the schema version this code writes
LATEST_VERSION: int = MIGRATIONS[-1].version
