"""The SQLite case store: schema and migrations, pragmas, file modes, inputs, append-only history, audit trail,
views, and plain-words refusals of bad databases and bad values."""
from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from workbench.config import get_settings
from workbench.errors import FileTooLargeError, InputError
from workbench.pipeline.types import Evidence, Impression, PatientContext
from workbench.store import (
    LATEST_VERSION,
    CaseStore,
    CorruptDatabaseError,
    DatabaseBusyError,
    InvalidValueError,
    NotFoundError,
    StoreError,
    connect,
    migrate,
)
from workbench.store.migrations import APPEND_ONLY_TABLES, MIGRATIONS

MODELS = {"ecg-vlm": "a" * 64, "encoder": "b" * 64}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def store(tmp_path: Path) -> CaseStore:
    s = CaseStore(tmp_path / "db" / "cases.sqlite", files_dir=tmp_path / "files")
    yield s
    s.close()


def new_run(store: CaseStore, patient: str = "P-001", **kwargs: object) -> tuple[str, str]:
    case_id = store.create_case(PatientContext(patient, age=61, sex="M", symptoms=["chest pain"]), "dr.a")
    run_id = store.start_run(case_id, pipeline_version="0.1.0", models=MODELS, settings={"threads": 2},
                             actor="dr.a", **kwargs)
    return case_id, run_id


def tables(conn: sqlite3.Connection, type_: str = "table") -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = ?", (type_,))}


# ====================================================================== schema and migrations
def test_fresh_database_has_the_latest_schema(store: CaseStore) -> None:
    conn = store._conn()
    assert store.schema_version == LATEST_VERSION == MIGRATIONS[-1].version
    assert {"patients", "cases", "inputs", "runs", "run_events", "outputs", "validations", "audit",
            "schema_migrations"} <= tables(conn)
    assert [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")] == \
        [m.version for m in MIGRATIONS]
    assert {f"{t}_no_update" for t in APPEND_ONLY_TABLES} <= tables(conn, "trigger")
    # applying again is a no-op
    assert migrate(conn) == LATEST_VERSION
    assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(MIGRATIONS)


def test_database_at_version_1_is_upgraded_keeping_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    conn = connect(path, migrate_schema=False)
    assert migrate(conn, target=1) == 1
    assert "runs_by_case" not in tables(conn, "index")
    conn.execute("INSERT INTO patients VALUES ('old-patient', '2024-01-01T00:00:00+00:00')")
    conn.execute("INSERT INTO cases VALUES ('c1', 'old-patient', '2024-01-01T00:00:00+00:00', "
                 "'{\"patient_id\": \"old-patient\"}')")
    conn.close()
    with CaseStore(path, files_dir=tmp_path / "files") as store:
        assert store.schema_version == LATEST_VERSION
        assert "runs_by_case" in tables(store._conn(), "index")
        assert [c.case_id for c in store.list_cases()] == ["c1"]
        assert store.get_case("c1").patient_context().patient_id == "old-patient"


def test_database_from_newer_code_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "cases.sqlite"
    CaseStore(path, files_dir=tmp_path / "f").close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 5}")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="newer version of the workbench") as info:
        CaseStore(path, files_dir=tmp_path / "f")
    assert "Update the workbench" in str(info.value)
    assert path.read_bytes() == before


def test_foreign_sqlite_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(CorruptDatabaseError, match="not a workbench case database"):
        CaseStore(path, files_dir=tmp_path / "f")
    conn = sqlite3.connect(path)
    assert tables(conn) == {"invoices"}
    conn.close()
    assert path.read_bytes() == before


def test_wal_foreign_keys_and_synchronous(store: CaseStore) -> None:
    conn = store._conn()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        conn.execute("INSERT INTO runs VALUES ('r', 'no-such-case', 'now', 'v', '{}', '{}')")


# ====================================================================== permissions
def test_database_and_stored_files_are_private(tmp_path: Path) -> None:
    old = os.umask(0)  # permissive umask: modes must not depend on it
    try:
        path = tmp_path / "new" / "cases.sqlite"
        with CaseStore(path, files_dir=tmp_path / "files") as store:
            src = tmp_path / "ecg.csv"
            src.write_text("t,I\n0,0.1\n")
            case_id, run_id = new_run(store)
            record = store.add_input(case_id, src, "ecg", "dr.a")
            store.save_output(run_id, "ecg", {"x": 1})
            for companion in ("", "-wal", "-shm"):
                assert mode(path.with_name(path.name + companion)) == 0o600, companion
            assert mode(path.parent) == 0o700
            assert mode(record.stored_path) == 0o600
            assert mode(record.stored_path.parent) == 0o700 and mode(tmp_path / "files") == 0o700
    finally:
        os.umask(old)


# ====================================================================== inputs
def test_inputs_are_content_addressed_and_deduplicated(store: CaseStore, tmp_path: Path) -> None:
    src = tmp_path / "labs.csv"
    src.write_bytes(b"analyte,value\ntroponin,52\n")
    sha = hashlib.sha256(src.read_bytes()).hexdigest()
    case_id, _ = new_run(store)
    first = store.add_input(case_id, src, "labs", "dr.a")
    assert first.sha256 == sha and first.original_name == "labs.csv" and first.size_bytes == src.stat().st_size
    assert first.stored_path == store.files_dir / "inputs" / sha[:2] / f"{sha}.csv"
    assert first.stored_path.read_bytes() == src.read_bytes()
    renamed = tmp_path / "same-content.csv"
    renamed.write_bytes(src.read_bytes())
    again = store.add_input(case_id, renamed, "labs", "dr.a")
    assert again == first  # same row returned, nothing written
    assert len(store.get_case(case_id).inputs) == 1
    assert sum(1 for e in store.audit_log() if e.entity == "input") == 1
    other_case = store.create_case(PatientContext("P-002"), "dr.a")
    other = store.add_input(other_case, src, "labs", "dr.a")
    assert other.id != first.id and other.stored_path == first.stored_path  # one copy on disk
    assert len(list((store.files_dir / "inputs").rglob(f"{sha}*"))) == 1
    assert store.integrity_check(files=True)


def test_bad_inputs_are_refused_before_anything_is_stored(store: CaseStore, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    case_id, _ = new_run(store)
    with pytest.raises(InputError, match="does not exist"):
        store.add_input(case_id, tmp_path / "missing.csv", "ecg", "dr.a")
    empty = tmp_path / "empty.csv"
    empty.touch()
    with pytest.raises(InputError, match="empty"):
        store.add_input(case_id, empty, "ecg", "dr.a")
    with pytest.raises(InvalidValueError, match="not a valid input kind"):
        store.add_input(case_id, empty, "xray", "dr.a")
    ok = tmp_path / "ok.csv"
    ok.write_text("1\n")
    with pytest.raises(NotFoundError, match="no case 'nope'"):
        store.add_input("nope", ok, "ecg", "dr.a")
    monkeypatch.setenv("WORKBENCH_MAX_FILE_MB", "1")
    get_settings.cache_clear()
    small = CaseStore(store.path, files_dir=store.files_dir)
    huge = tmp_path / "huge.dat"
    huge.write_bytes(b"\0" * (1024**2 + 1))
    with pytest.raises(FileTooLargeError, match="huge.dat is 1.0 MB; the workbench accepts files up to 1 MB"):
        small.add_input(case_id, huge, "ecg", "dr.a")
    small.close()
    assert not any((store.files_dir / "inputs").rglob("*"))
    assert store.get_case(case_id).inputs == []


# ====================================================================== append-only history
def _populate(store: CaseStore, tmp_path: Path) -> str:
    src = tmp_path / "ecg.csv"
    src.write_text("0\n")
    case_id, run_id = new_run(store)
    store.add_input(case_id, src, "ecg", "dr.a")
    store.add_event(run_id, "node_started", node="ecg")
    store.save_output(run_id, "ecg", {"v": 1})
    store.add_validation(run_id, "164865005", "agree", who="dr.a")
    return run_id


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
def test_append_only_tables_refuse_update_and_delete(store: CaseStore, tmp_path: Path, table: str) -> None:
    _populate(store, tmp_path)
    conn = store._conn()
    column = conn.execute(f"SELECT * FROM {table}").description[1][0]
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute(f"UPDATE {table} SET {column} = {column}")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute(f"DELETE FROM {table}")
    assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] >= 1


def test_insert_or_replace_cannot_overwrite_a_run(store: CaseStore) -> None:
    _, run_id = new_run(store)
    conn = store._conn()
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("INSERT OR REPLACE INTO runs VALUES (?, (SELECT case_id FROM runs), 'x', 'forged', '{}', '{}')",
                      (run_id,))
    assert store.get_run(run_id).run.pipeline_version == "0.1.0"


def test_every_write_is_audited_in_a_hash_chain(store: CaseStore, tmp_path: Path) -> None:
    store.add_patient("P-000", actor="admin")
    store.add_patient("P-000", actor="admin")  # idempotent: no second row, no audit
    run_id = _populate(store, tmp_path)
    store.add_event(run_id, "finished")
    log = store.audit_log()
    assert [(e.action, e.entity) for e in log] == [
        ("create", "patient"), ("create", "patient"), ("create", "case"), ("start", "run"), ("add", "input"),
        ("node_started", "run"), ("save", "output"), ("validate", "validation"), ("finished", "run")]
    assert log[0].actor == "admin" and log[0].entity_id == "P-000"
    assert log[-2].actor == "dr.a" and log[-2].details["verdict"] == "agree"
    assert [e.action for e in store.audit_log(run_id)] == ["start", "node_started", "finished"]
    assert store.integrity_check()
    # tampering needs the triggers dropped, and is then caught by the hash chain
    conn = store._conn()
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("UPDATE audit SET actor = 'someone else' WHERE id = 3")
    assert store.integrity_problems() == ["audit row 3 does not match the audit hash chain"]
    assert not store.integrity_check()


def test_outputs_supersede_and_keep_history(store: CaseStore) -> None:
    _, run_id = new_run(store)
    first = store.save_output(run_id, "report", {"text": "draft"})
    second = store.save_output(run_id, "report", {"text": "final"})
    store.save_output(run_id, "ecg", {"hr": 72.0, "qt": float("nan")})
    assert store.save_output(run_id, "report", {"text": "final"}) == second  # identical re-save: no duplicate
    assert store.latest_outputs(run_id) == {"report": {"text": "final"}, "ecg": {"hr": 72.0, "qt": None}}
    assert [o.id for o in store.output_history(run_id, "report")] == [first, second]
    assert len(store.output_history(run_id)) == 3
    with pytest.raises(InvalidValueError, match="must be a dict"):
        store.save_output(run_id, "report", ["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="cannot be saved"):
        store.save_output(run_id, "report", {"x": object()})


def test_validations_keep_history_and_latest_wins(store: CaseStore) -> None:
    _, run_id = new_run(store)
    a = store.add_validation(run_id, "164865005", "agree", who="dr.a")
    b = store.add_validation(run_id, "164865005", "disagree", corrected_label="Old inferior MI",
                             note="Q waves only,\nno ST change", who="dr.b")
    c = store.add_validation(run_id, "426783006", "unsure", who="dr.a")
    assert [v.id for v in store.validations(run_id)] == [a, b, c]
    latest = store.validations(run_id, latest_only=True)
    assert [(v.finding_code, v.verdict, v.who) for v in latest] == [("164865005", "disagree", "dr.b"),
                                                                      ("426783006", "unsure", "dr.a")]
    assert latest[0].corrected_label == "Old inferior MI" and "\n" in latest[0].note
    assert store.get_run(run_id).latest_validations["164865005"].id == b
    n_audit = len(store.audit_log())
    with pytest.raises(InvalidValueError, match="'maybe' is not a valid verdict; use one of: agree, disagree, unsure"):
        store.add_validation(run_id, "164865005", "maybe", who="dr.a")
    with pytest.raises(ValueError, match="name of the person validating is empty"):
        store.add_validation(run_id, "164865005", "agree", who=" ")
    assert len(store.audit_log()) == n_audit and len(store.validations(run_id)) == 3


def test_run_status_events_and_idempotent_start(store: CaseStore) -> None:
    case_id, run_id = new_run(store, run_id="thread-42")
    assert run_id == "thread-42" and store.run_status(run_id) == "started"
    again = store.start_run(case_id, pipeline_version="0.1.0", models=MODELS, settings={"threads": 2},
                            actor="dr.a", run_id="thread-42")
    assert again == run_id and len(store.get_case(case_id).runs) == 1
    for status, node in [("node_started", "ecg"), ("node_finished", "ecg"), ("interrupted", None), ("resumed", None),
                         ("finished", None)]:
        store.add_event(run_id, status, node=node, details={"ms": 12})
    assert store.run_status(run_id) == "finished"
    view = store.get_run(run_id)
    assert [e.status for e in view.events][:3] == ["started", "node_started", "node_finished"]
    assert view.events[1].node == "ecg" and view.events[1].details == {"ms": 12}
    assert view.run.models == MODELS and view.run.settings == {"threads": 2}
    with pytest.raises(InvalidValueError, match="already exists"):
        store.start_run(case_id, pipeline_version="0.2.0", models=MODELS, settings={}, actor="x", run_id=run_id)
    with pytest.raises(InvalidValueError, match="not a valid run status"):
        store.add_event(run_id, "done")


def test_unknown_ids_are_clear_errors(store: CaseStore) -> None:
    for call in (lambda: store.run_status("r-missing"), lambda: store.save_output("r-missing", "ecg", {}),
                 lambda: store.add_event("r-missing", "started"), lambda: store.latest_outputs("r-missing"),
                 lambda: store.add_validation("r-missing", "x", "agree", who="a")):
        with pytest.raises(NotFoundError, match="There is no run 'r-missing' in the case database") as info:
            call()
        assert isinstance(info.value, KeyError) and "pick the run from the list" in str(info.value)
    with pytest.raises(NotFoundError, match="no case 'c-missing'"):
        store.get_case("c-missing")
    with pytest.raises(NotFoundError):
        store.start_run("c-missing", pipeline_version="v", models={}, settings={}, actor="a")


# ====================================================================== views
def test_list_and_get_case_views(store: CaseStore) -> None:
    case_a, run_a = new_run(store, "P-A")
    mi = Impression("57054005", "Acute MI", "emergency", "STEMI criteria", [Evidence("ecg", "ST elevation")], "ESC", "r1")
    store.save_output(run_a, "fusion", {"impressions": [mi.to_dict()]})
    store.add_event(run_a, "finished")
    case_b = store.create_case(PatientContext("P-B", age=40, sex="F"), "dr.b")
    case_a2, run_a2 = new_run(store, "P-A")
    store.save_output(run_a2, "fusion", {"urgency": "routine", "impressions": []})
    cases = store.list_cases()
    assert [c.case_id for c in cases] == [case_a2, case_b, case_a]  # newest first
    by_id = {c.case_id: c for c in cases}
    assert (by_id[case_a].last_run_id, by_id[case_a].last_run_status, by_id[case_a].urgency) == \
        (run_a, "finished", "emergency")
    assert (by_id[case_b].n_runs, by_id[case_b].last_run_status, by_id[case_b].urgency) == (0, None, None)
    assert by_id[case_a2].urgency == "routine" and by_id[case_a2].last_run_status == "started"
    assert [c.case_id for c in store.list_cases("P-A")] == [case_a2, case_a]
    assert store.list_cases("nobody") == [] and len(store.list_cases(limit=1)) == 1

    view = store.get_case(case_a)
    assert view.patient_id == "P-A" and view.context["symptoms"] == ["chest pain"]
    assert view.patient_context() == PatientContext("P-A", age=61, sex="M", symptoms=["chest pain"])
    assert [r.id for r in view.runs] == [run_a] and view.runs[0].status == "finished"
    assert view.runs[0].outputs["fusion"].data["impressions"][0]["code"] == "57054005"


def test_create_case_with_own_id_is_idempotent(store: CaseStore) -> None:
    ctx = PatientContext("P-9")
    assert store.create_case(ctx, "dr.a", case_id="case-1") == "case-1"
    assert store.create_case(ctx, "dr.a", case_id="case-1") == "case-1"
    assert len(store.list_cases()) == 1
    with pytest.raises(InvalidValueError, match="another patient"):
        store.create_case(PatientContext("P-10"), "dr.a", case_id="case-1")
    with pytest.raises(InvalidValueError, match="patient id is empty"):
        store.create_case(PatientContext("  "), "dr.a")
    with pytest.raises(InvalidValueError, match="control characters"):
        store.add_patient("P\x00")


def test_default_paths_come_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_DB_PATH", str(tmp_path / "conf" / "cases.sqlite"))
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    with CaseStore() as store:
        assert store.path == tmp_path / "conf" / "cases.sqlite" and store.path.is_file()
        assert store.files_dir == tmp_path / "conf" / "inputs"  # patient files next to the database, not in the repo


def test_close_then_reuse_reopens(store: CaseStore) -> None:
    store.add_patient("P-1")
    store.close()
    store.add_patient("P-2")
    assert len(store.audit_log()) == 2


# ====================================================================== bad databases
def test_random_bytes_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "cases.sqlite"
    data = os.urandom(8192)
    path.write_bytes(data)
    with pytest.raises(CorruptDatabaseError) as info:
        CaseStore(path, files_dir=tmp_path / "f")
    message = str(info.value)
    assert str(path) in message and "damaged" in message and "Nothing in it was changed" in message
    assert "backup" in message and "Traceback" not in message
    assert path.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cases.sqlite"]


def test_damaged_pages_are_reported_not_crashed_on(tmp_path: Path) -> None:
    path = tmp_path / "cases.sqlite"
    with CaseStore(path, files_dir=tmp_path / "f") as store:
        for i in range(30):
            _, run_id = new_run(store, f"P-{i}")
            store.save_output(run_id, "ecg", {"pad": "x" * 3000})
        store._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = bytearray(path.read_bytes())
    raw[8192:len(raw) - 4096] = os.urandom(len(raw) - 8192 - 4096)
    path.write_bytes(bytes(raw))
    try:
        with CaseStore(path, files_dir=tmp_path / "f") as store:
            ok = store.integrity_check() and len(store.list_cases()) == 30
    except StoreError as exc:
        assert "damaged" in str(exc) or "refused" in str(exc)
        ok = False
    assert not ok


def test_database_locked_beyond_the_timeout(tmp_path: Path) -> None:
    path = tmp_path / "cases.sqlite"
    CaseStore(path, files_dir=tmp_path / "f").close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        store = CaseStore(path, files_dir=tmp_path / "f", timeout=0.3)
        assert store.list_cases() == []  # readers are not blocked by the writer (WAL)
        with pytest.raises(DatabaseBusyError, match="busy: another program kept it locked for more than 0.3 s"):
            store.add_patient("P-1")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    store.add_patient("P-1")
    store.close()


def test_path_that_is_a_folder(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a folder"):
        CaseStore(tmp_path, files_dir=tmp_path / "f")
