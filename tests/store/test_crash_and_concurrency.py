"""Crash safety (SIGKILL in the middle of writing) and two processes writing to one database at once."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from workbench.store import CaseStore

WRITER = Path(__file__).with_name("store_writer.py")
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _writer(db: Path, files: Path, tag: str, n: int, go: Path | None = None) -> subprocess.Popen[str]:
    args = [sys.executable, str(WRITER), str(db), str(files), tag, str(n)] + ([str(go)] if go else [])
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())


def _parse(lines: list[str]) -> dict[str, list[tuple[str, ...]]]:
    out: dict[str, list[tuple[str, ...]]] = {}
    for line in lines:
        entity, *rest = line.split()
        out.setdefault(entity, []).append(tuple(rest))
    return out


def _committed_lines(proc: subprocess.Popen[str], first: list[str]) -> list[str]:
    """Lines the child finished writing (a last line cut by the kill has no newline and is dropped)."""
    rest = proc.stdout.read()
    lines = first + rest.splitlines(keepends=True)
    return [line.strip() for line in lines if line.endswith("\n") and line.strip()]


def _check_store(store: CaseStore, reported: dict[str, list[tuple[str, ...]]]) -> None:
    """Every reported row is there exactly once, with its audit row; nothing half-written or duplicated."""
    assert store.integrity_problems(files=True) == []
    conn = store._conn()
    table = {"output": "outputs", "event": "run_events", "validation": "validations", "input": "inputs"}
    for entity, rows in reported.items():
        if entity in table:
            for row in rows:
                assert conn.execute(f"SELECT count(*) FROM {table[entity]} WHERE id = ?", (int(row[0]),)
                                    ).fetchone()[0] == 1, (entity, row)
    for run in reported.get("run", []):
        assert store.run_status(run[0])
    # no duplicates: each payload key saved once
    keys = Counter(r[0] for r in conn.execute(
        "SELECT json_extract(json, '$.key') AS k FROM outputs WHERE k IS NOT NULL"))
    assert not [k for k, n in keys.items() if n > 1]
    assert keys.keys() >= {row[1] for row in reported.get("output", [])}
    # no partial transactions: each row has exactly one audit row, and each audit row its data row
    audited = Counter((e, i) for e, i in conn.execute("SELECT entity, entity_id FROM audit "
                                                       "WHERE entity IN ('output', 'validation', 'input')"))
    rows = [("output", str(i)) for (i,) in conn.execute("SELECT id FROM outputs")]
    rows += [("validation", str(i)) for (i,) in conn.execute("SELECT id FROM validations")]
    rows += [("input", str(i)) for (i,) in conn.execute("SELECT id FROM inputs")]
    assert Counter(rows) == audited
    events = conn.execute("SELECT count(*) FROM run_events").fetchone()[0]
    event_audits = conn.execute("SELECT count(*) FROM audit WHERE entity = 'run'").fetchone()[0]
    assert events == event_audits  # 'started' is audited as the run's start, the others one by one
    for (run_id,) in conn.execute("SELECT id FROM runs"):
        first = conn.execute("SELECT status FROM run_events WHERE run_id = ? ORDER BY id LIMIT 1", (run_id,)).fetchone()
        assert first == ("started",)


def test_sigkill_during_writes_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    db, files = tmp_path / "cases.sqlite", tmp_path / "files"
    CaseStore(db, files_dir=files).close()
    rng = random.Random(int(os.environ.get("STORE_CRASH_SEED", "20240611")))
    all_reported: dict[str, list[tuple[str, ...]]] = {}
    for round_ in range(4):
        proc = _writer(db, files, f"crash{round_}", -1)
        try:
            first: list[str] = []
            target = rng.randint(15, 150)  # reported rows before the kill
            while len(first) < target:
                line = proc.stdout.readline()
                assert line, proc.stderr.read()
                first.append(line)
            time.sleep(rng.uniform(0.0, 0.03))  # lands anywhere inside a transaction or a file copy
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            assert proc.returncode == -signal.SIGKILL
            lines = _committed_lines(proc, first)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.stdout.close()
            proc.stderr.close()
        for entity, rows in _parse(lines).items():
            all_reported.setdefault(entity, []).extend(rows)
        with CaseStore(db, files_dir=files) as store:  # restart
            _check_store(store, all_reported)
            # the store keeps working, including the run the killed process was writing
            run_id = all_reported["run"][-1][0]
            store.add_event(run_id, "interrupted")
            store.add_event(run_id, "resumed")
            new_id = store.save_output(run_id, "after-crash", {"round": round_})
            assert store.latest_outputs(run_id)["after-crash"] == {"round": round_}
            assert store.output_history(run_id, "after-crash")[-1].id == new_id
            assert store.run_status(run_id) == "resumed"
    assert len(all_reported["output"]) >= 4 * 5


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    db, files, go = tmp_path / "new" / "cases.sqlite", tmp_path / "files", tmp_path / "go"
    n = 200
    # both open a database that does not exist yet, so they also race to create and migrate it
    procs = [_writer(db, files, tag, n, go) for tag in ("A", "B")]
    try:
        for proc in procs:
            ready = proc.stdout.readline()
            assert ready.strip() == "ready", proc.stderr.read()
        started = time.monotonic()
        go.touch()
        outs = [proc.communicate(timeout=120) for proc in procs]
        elapsed = time.monotonic() - started
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for proc, (stdout, stderr) in zip(procs, outs):
        assert proc.returncode == 0, stderr
        assert "locked" not in stderr and "busy" not in stderr
        assert stdout.splitlines()[-1] == "done"
    reported = [_parse(stdout.splitlines()) for stdout, _ in outs]
    with CaseStore(db, files_dir=files) as store:
        merged: dict[str, list[tuple[str, ...]]] = {}
        for rep in reported:
            assert len(rep["output"]) == n and len(rep["event"]) == n
            for entity, rows in rep.items():
                merged.setdefault(entity, []).extend(rows)
        _check_store(store, merged)
        conn = store._conn()
        assert conn.execute("SELECT count(*) FROM outputs").fetchone()[0] == 2 * n
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == store.schema_version
        cases = store.list_cases()
        assert {c.patient_id for c in cases} == {"patient-A", "patient-B"}
        assert {c.last_run_status for c in cases} == {"finished"}
    # both were released at the same moment, so each waited for the other's write lock; neither came near the
    # 30 s limit (SQLite's lock is not fair: a tight-loop writer can make the other wait until it is done)
    assert elapsed < 25


def test_two_threads_share_one_store(tmp_path: Path) -> None:
    """The LangGraph worker thread and the UI thread use the same CaseStore object."""
    store = CaseStore(tmp_path / "cases.sqlite", files_dir=tmp_path / "files")
    case_id = store.create_case({"patient_id": "p"}, "ui")
    run_id = store.start_run(case_id, pipeline_version="t", models={}, settings={}, actor="ui")
    errors: list[BaseException] = []
    connections = set()

    def work(name: str) -> None:
        try:
            connections.add(id(store._conn()))
            for i in range(50):
                store.save_output(run_id, f"{name}{i}", {"i": i})
                store.add_validation(run_id, f"{name}-code", "agree", who=name)
                store.list_cases()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(name,)) for name in ("worker", "ui")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(connections) == 2
    assert len(store.latest_outputs(run_id)) == 100
    assert len(store.validations(run_id)) == 100 and len(store.validations(run_id, latest_only=True)) == 2
    assert store.integrity_check()
    store.close()
