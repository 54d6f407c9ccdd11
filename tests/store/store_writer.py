"""A separate process that writes to a case store and reports, on stdout, each row after its commit.

Used by the crash and concurrency tests: ``python store_writer.py DB FILES_DIR TAG N [GO_FILE]``.
N < 0 writes until killed. With GO_FILE it prints ``ready`` and waits for that file to exist, so two writers
start writing at the same moment. Each reported line is ``<entity> <id> [<payload key>]``, flushed at once.
"""
from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path


def report(*parts: object) -> None:
    sys.stdout.write(" ".join(map(str, parts)) + "\n")
    sys.stdout.flush()


def main() -> int:
    db, files_dir, tag, n = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    go = Path(sys.argv[5]) if len(sys.argv) > 5 else None
    from workbench.pipeline.types import PatientContext
    from workbench.store import CaseStore

    store = CaseStore(db, files_dir=files_dir)
    if go is not None:
        report("ready")
        while not go.exists():
            time.sleep(0.005)
    scratch = files_dir.parent / f"scratch-{tag}"
    scratch.mkdir(parents=True, exist_ok=True)
    case_id = store.create_case(PatientContext(f"patient-{tag}", age=60, sex="F"), "writer")
    report("case", case_id)
    run_id = ""
    count = range(n) if n >= 0 else itertools.count()
    for i in count:
        if i % 25 == 0:
            run_id = store.start_run(case_id, pipeline_version="test", models={"m": "0" * 64}, settings={"i": i},
                                     actor="writer", run_id=f"{tag}-run-{i // 25}")
            report("run", run_id)
        if i % 20 == 0:
            src = scratch / f"ecg-{i}.csv"
            src.write_text(f"{tag},{i}\n" * (1 + i % 7))
            record = store.add_input(case_id, src, "ecg", "writer")
            report("input", record.id, record.sha256)
        key = f"{tag}:{i}"
        output_id = store.save_output(run_id, f"kind{i % 3}", {"key": key, "i": i, "pad": "x" * (i % 500)})
        report("output", output_id, key)
        event_id = store.add_event(run_id, "node_finished", node=f"node{i % 3}", details={"key": key})
        report("event", event_id, key)
        if i % 4 == 0:
            vid = store.add_validation(run_id, f"code{i % 5}", ("agree", "disagree", "unsure")[i % 3],
                                       note=key, who="writer")
            report("validation", vid, key)
    store.add_event(run_id, "finished")
    report("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
