"""Small generated data sets for the eval tests (written to temporary folders; the real data is read in place)."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from workbench.ecg.readers import write_csv, write_wfdb
from workbench.ecg.synthetic import simulate_ecg

PTBXL_ROWS = [  # ecg_id, scp_codes, strat_fold, age, sex
    (1, "{'NORM': 100.0, 'SR': 0.0}", 3, 56, 1),
    (2, "{'IMI': 80.0, 'CLBBB': 100.0, 'AFIB': 0.0}", 9, 300, 0),
    (3, "{'LVH': 50.0, 'NDT': 100.0, 'SR': 0.0}", 10, 61, 0),
]


def tiny_ptbxl(folder: Path, statements: Path) -> Path:
    """A PTB-XL-shaped folder: database CSV, scp_statements.csv (copied) and records100/00000/*.hea+.dat."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(statements, folder / "scp_statements.csv")
    with (folder / "ptbxl_database.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ecg_id", "patient_id", "age", "sex", "scp_codes", "strat_fold", "filename_lr", "filename_hr", "report"])
        for ecg_id, codes, fold, age, sex in PTBXL_ROWS:
            name = f"records100/00000/{ecg_id:05d}_lr"
            write_wfdb(simulate_ecg(fs=100, seed=ecg_id, age=None, sex=None), folder / name)
            writer.writerow([ecg_id, 100 + ecg_id, age, sex, codes, fold, name, name.replace("100", "500").replace("_lr", "_hr"), "x"])
    return folder


def png(path: Path, seed: int = 0) -> Path:
    """A small picture (content irrelevant to the adapters, which only check the file exists)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (32, 48, 3), dtype=np.uint8)).save(path)
    return path


def instruct_jsonl(folder: Path) -> Path:
    png(folder / "img" / "a.png", 1)
    png(folder / "img" / "b.png", 2)
    lines = [
        {"id": "a", "image": "img/a.png", "question": "<image>\nInterpret this ECG.",
         "answer": "Sinus rhythm with right bundle branch block. No ST elevation."},
        {"id": "b", "image": "img/b.png", "conversations": [
            {"from": "human", "value": "<image>\nWhat is the rhythm?"},
            {"from": "gpt", "value": "Atrial fibrillation with left ventricular hypertrophy."}]},
    ]
    path = folder / "instruct.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return path


def image_folder(folder: Path) -> Path:
    png(folder / "one.png", 1)
    png(folder / "sub" / "two.jpg", 2)
    (folder / "labels.csv").write_text("file,age,sex,codes,AF,sc_MI\n"
                                       "one.png,70,M,164889003;59118001,,\n"
                                       "sub/two.jpg,,F,NORM,0,1\n")
    return folder


def store_with_validations(folder: Path) -> tuple[Path, dict[str, str]]:
    """A case store with one validated run on a simulated RBBB ECG (CSV input, analysis stored as output).
    Returns the database path and the verdicts given (code -> verdict)."""
    from workbench.ecg import analyze
    from workbench.pipeline.types import PatientContext
    from workbench.store import CaseStore

    record = simulate_ecg(conduction="rbbb", qrs_ms=140, seed=4)
    ecg_file = write_csv(record, folder / "ecg.csv")
    analysis = analyze(record)
    assert {f.code for f in analysis.findings} == {"426783006", "59118001"}
    db = folder / "cases.db"
    store = CaseStore(db)
    case_id = store.create_case(PatientContext("P-1", age=60, sex="M"), "dr.a")
    store.add_input(case_id, ecg_file, "ecg", "dr.a")
    run_id = store.start_run(case_id, pipeline_version="0.1.0", models={}, settings={}, actor="dr.a")
    store.save_output(run_id, "ecg", {"value": analysis.to_dict()})
    verdicts = {"426783006": "agree",     # stated, agreed -> NSR present
                "59118001": "disagree",   # stated, rejected -> RBBB absent
                "164889003": "agree",     # not stated, agreed -> AF absent
                "111975006": "disagree",  # not stated, rejected -> long QT present
                "164873001": "unsure"}    # no truth
    for code, verdict in verdicts.items():
        store.add_validation(run_id, code, verdict, who="dr.b")
    # a second case without validations is not a study record
    other = store.create_case(PatientContext("P-2"), "dr.a")
    store.start_run(other, pipeline_version="0.1.0", models={}, settings={}, actor="dr.a")
    store.close()
    return db, verdicts


def cinc_subset(folder: Path, cinc: Path, names: list[str], corrupt: str | None = None) -> Path:
    """Some real CinC records copied to a temporary folder, plus optionally one whose signal file is garbage."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        for suffix in (".hea", ".mat"):
            shutil.copy(cinc / f"{name}{suffix}", folder)
    if corrupt:
        (folder / f"{corrupt}.hea").write_text((cinc / f"{names[0]}.hea").read_text().replace(names[0], corrupt))
        (folder / f"{corrupt}.mat").write_bytes(b"this is not a MATLAB file" * 10)
    return folder


class CountingPredictor:
    """The engine, leaving one file per call in ``calls_dir`` (counts calls across worker processes)."""

    def __init__(self, calls_dir: Path) -> None:
        self.calls_dir = str(calls_dir)

    def __call__(self, record):  # noqa: ANN001, ANN204
        import uuid

        from workbench.eval.predict import engine_predict

        Path(self.calls_dir, f"{uuid.uuid4().hex}.call").write_text(record.id)
        return engine_predict(record)

    def calls(self) -> list[str]:
        return sorted(p.read_text() for p in Path(self.calls_dir).glob("*.call"))
