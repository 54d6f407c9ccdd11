"""The case graph end to end on real records with generated lab reports: impressions and evidence, the test
VLM path (claims, heatmap, streamed tokens), missing inputs, a failing part, sign-off, the CLI JSON, crash
resume (SIGKILL) and two runs at once on one database."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.labs.documents.sample_reports import default_spec, troponin_series_specs, write_report_pdf
from workbench.pipeline.runner import CaseRunner, RunOptions
from workbench.pipeline.types import PatientContext
from workbench.store import CaseStore

pytestmark = pytest.mark.timeout(600)
CLI = [sys.executable, "-m", "workbench.cli"]


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("case_labs")
    out = {}
    for i, spec in enumerate(troponin_series_specs(("20", "58"))):
        out[f"rising{i}"] = folder / f"rising{i}.pdf"
        write_report_pdf(out[f"rising{i}"], spec)
    for i, spec in enumerate(troponin_series_specs(("4", "4"))):
        out[f"normal{i}"] = folder / f"normal{i}.pdf"
        write_report_pdf(out[f"normal{i}"], spec)
    out["panel"] = folder / "panel.pdf"
    write_report_pdf(out["panel"], default_spec())
    return out


@pytest.fixture()
def no_models(tmp_path, monkeypatch) -> None:
    """A clinic with no model installed (the manifest lists them, the files are absent)."""
    from workbench.config import PROJECT_ROOT, get_settings

    monkeypatch.setenv("WORKBENCH_MODELS_DIR", str(PROJECT_ROOT / "models"))
    get_settings.cache_clear()


@pytest.fixture()
def with_test_models(installed_models, monkeypatch) -> Path:
    from workbench.config import get_settings

    monkeypatch.setenv("WORKBENCH_MODELS_DIR", str(installed_models))
    get_settings.cache_clear()
    return installed_models


def rules(result) -> set[str]:
    return {item["rule"] for item in result.state["fusion"]["impressions"]}


def test_infarction_with_rising_troponin_is_an_emergency(tmp_path, ecg_data, reports, no_models):
    runner = CaseRunner(tmp_path / "cases.sqlite")
    patient = PatientContext("P-MI", age=81, sex="F", symptoms=["chest pain"], chest_pain_onset_hours=4)
    events = []
    result = runner.start(patient, ecg=ecg_data / "ptbdb" / "s0010_re.hea", labs=[reports["rising0"], reports["rising1"]],
                          on_event=events.append)
    assert result.status == "finished" and result.state["errors"] == []
    fusion = result.state["fusion"]
    assert fusion["urgency"] == "emergency" and "acute_mi" in rules(result)
    mi = next(i for i in fusion["impressions"] if i["rule"] == "acute_mi")
    text = " ".join(e["text"] for e in mi["evidence"])
    assert "20" in text and "58" in text and "ng/L" in text  # the troponin values
    assert "II" in text and "aVF" in text  # the leads of the measured abnormality
    assert "Fourth Universal Definition" in mi["citation"]
    assert {s["node"] for s in result.state["skipped"]} >= {"vlm", "heatmap", "claims"}  # routed around, said why
    # progress: both readers ran, fusion after them
    started = [e.node for e in events if e.kind == "node_started"]
    assert started.index("fuse") > max(started.index("ecg"), started.index("labs"))
    # stored: case, inputs, a finished run, the fusion output; report files with the disclaimer
    view = CaseStore(tmp_path / "cases.sqlite").get_case(result.case_id)
    assert len(view.inputs) == 3 and view.runs[-1].status == "finished"
    assert view.runs[-1].outputs["fusion"].data["value"]["urgency"] == "emergency"
    assert CaseStore(tmp_path / "cases.sqlite").list_cases()[0].urgency == "emergency"  # the case list shows it
    html = Path(result.report["html"]).read_text()
    assert "not a diagnosis" in html and "Acute myocardial infarction" in html and "data:image/jpeg;base64" in html
    assert Path(result.report["pdf"]).read_bytes().startswith(b"%PDF")


def test_normal_record_with_normal_labs_is_routine(tmp_path, ecg_data, reports, no_models):
    result = CaseRunner(tmp_path / "cases.sqlite").start(
        PatientContext("P-N", age=28, sex="M"), ecg=ecg_data / "cinc2021" / "HR06004.hea",
        labs=[reports["normal0"], reports["normal1"]])
    assert result.state["fusion"]["urgency"] == "routine"
    assert not rules(result) & {"acute_mi", "stemi_pattern", "acute_myocardial_injury", "ischaemic_st_t", "esc_rule_in"}
    assert result.state["narrative"]["author"].startswith("template")


def test_with_the_test_models_claims_heatmap_and_tokens(tmp_path, ecg_data, with_test_models):
    tokens = []
    result = CaseRunner(tmp_path / "cases.sqlite").start(
        PatientContext("P-VLM", age=60, sex="M"), ecg=ecg_data / "cinc2021" / "E07510.hea",
        options=RunOptions(vlm_max_tokens=48, narrative_max_tokens=24), on_event=lambda e: tokens.append(e) if e.kind == "token" else None)
    state = result.state
    assert state["errors"] == []
    assert state["vlm"]["timings"]["prompt_tokens"] >= 256 and len(state["vlm"]["models"]) == 2
    assert {e.node for e in tokens} >= {"vlm"} and tokens
    assert Path(state["heatmap"]["overlay_path"]).is_file()
    assert abs(sum(state["heatmap"]["attribution"].values()) - 1.0) < 1e-6  # leads + outside
    assert isinstance(state["claims"], list) and "counts" in state["claim_summary"]
    assert state["narrative"]["author"].startswith("vision-language model")
    assert "claim_summary" in state["narrative"]  # the model's narrative is claim-checked too


def test_a_failing_part_is_recorded_and_the_rest_is_kept(tmp_path, reports, no_models):
    broken = tmp_path / "broken.hea"
    broken.write_text("this is not a WFDB header\n")
    result = CaseRunner(tmp_path / "cases.sqlite").start(PatientContext("P-X", age=50, sex="M"), ecg=broken,
                                                         labs=[reports["panel"]])
    assert result.status == "finished"
    assert [e["node"] for e in result.state["errors"]] == ["ecg"]
    assert "Traceback" not in result.state["errors"][0]["message"]
    assert result.state["labs"]["results"] and result.state["fusion"]["impressions"]  # labs still fused
    assert "could not be completed" in Path(result.report["html"]).read_text()


def test_signoff_pauses_then_resumes_with_the_clinicians_answer(tmp_path, ecg_data, reports, no_models):
    runner = CaseRunner(tmp_path / "cases.sqlite")
    paused = runner.start(PatientContext("P-S", age=70, sex="M"), ecg=ecg_data / "cinc2021" / "E07500.hea",
                          options=RunOptions(require_signoff=True))
    assert paused.status == "interrupted" and paused.report is None and "question" in paused.waiting_for
    assert CaseStore(tmp_path / "cases.sqlite").run_status(paused.run_id) == "interrupted"
    done = CaseRunner(tmp_path / "cases.sqlite").resume(paused.run_id, signoff={"who": "Dr. Rao", "note": "seen"})
    assert done.status == "finished" and done.state["signoff"]["who"] == "Dr. Rao"
    assert "Signed off</b> by Dr. Rao" in Path(done.report["html"]).read_text()


def test_missing_inputs_are_refused_in_plain_words(tmp_path, no_models):
    from workbench.errors import InputError

    with pytest.raises(InputError, match="needs an ECG or at least one lab report"):
        CaseRunner(tmp_path / "cases.sqlite").start(PatientContext("P-0"))
    with pytest.raises(InputError, match="does not exist"):
        CaseRunner(tmp_path / "cases.sqlite").start(PatientContext("P-0"), ecg=tmp_path / "absent.hea")


def cli_env(models: Path | None = None) -> dict[str, str]:
    from workbench.config import PROJECT_ROOT

    return {**os.environ, "WORKBENCH_MODELS_DIR": str(models or PROJECT_ROOT / "models")}


def test_cli_case_run_json_is_the_documented_shape(tmp_path, ecg_data, reports):
    done = subprocess.run([*CLI, "case", "run", "--patient", "P-CLI", "--ecg", str(ecg_data / "ptbdb" / "s0010_re.hea"),
                           "--labs", str(reports["rising0"]), "--labs", str(reports["rising1"]), "--age", "81", "--sex", "F",
                           "--symptoms", "chest pain", "--risk-factors", "smoker, diabetes", "--json",
                           "--db", str(tmp_path / "cases.sqlite")], capture_output=True, text=True, timeout=300, env=cli_env())
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    for key in ("case_id", "run_id", "urgency", "impressions", "next_steps", "lifestyle", "claims", "errors", "report"):
        assert key in answer
    assert answer["urgency"] == "emergency"
    assert all({"code", "label", "urgency", "evidence", "citation"} <= set(i) for i in answer["impressions"])
    assert Path(answer["report"]["html"]).is_file() and Path(answer["report"]["pdf"]).is_file()
    shown = subprocess.run([*CLI, "case", "show", answer["case_id"], "--db", str(tmp_path / "cases.sqlite")],
                           capture_output=True, text=True, timeout=120, env=cli_env())
    assert shown.returncode == 0 and "urgency emergency" in shown.stdout


def _run_ids(db: Path) -> list[str]:
    store = CaseStore(db)
    return [run.id for case in store.list_cases() for run in store.get_case(case.case_id).runs]


def test_killed_run_resumes_from_its_checkpoint(tmp_path, ecg_data, reports, installed_models):
    """SIGKILL once the ECG has been measured (the model is still reading), then resume: nothing already done is
    redone, nothing stored is lost or duplicated."""
    db = tmp_path / "cases.sqlite"
    child = subprocess.Popen([*CLI, "case", "run", "--patient", "P-K", "--ecg", str(ecg_data / "cinc2021" / "E07510.hea"),
                              "--labs", str(reports["panel"]), "--age", "71", "--sex", "M", "--max-tokens", "64",
                              "--db", str(db)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=cli_env(installed_models))
    deadline = time.time() + 240
    killed = False
    while time.time() < deadline and child.poll() is None:
        time.sleep(0.2)
        if db.exists() and _run_ids(db):
            store = CaseStore(db)
            events = store.get_run(_run_ids(db)[0]).events
            if any(e.status == "node_finished" and e.node == "ecg" for e in events) and \
                    not any(e.node == "report" for e in events):
                child.send_signal(signal.SIGKILL)
                killed = True
                break
    child.wait(timeout=60)
    assert killed, "the run finished before it could be interrupted"
    (run_id,) = _run_ids(db)
    store = CaseStore(db)
    assert store.integrity_check()
    assert store.run_status(run_id) != "finished"
    done = subprocess.run([*CLI, "case", "resume", run_id, "--json", "--db", str(db)], capture_output=True, text=True,
                          timeout=400, env=cli_env(installed_models))
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["status"] == "finished" and Path(answer["report"]["html"]).is_file()
    run = CaseStore(db).get_run(run_id)
    ecg_runs = [e for e in run.events if e.status == "node_started" and e.node == "ecg"]
    assert len(ecg_runs) == 1  # measured once: the resume continued from the checkpoint
    assert len(CaseStore(db).get_case(answer["case_id"]).inputs) == 2  # inputs not duplicated
    assert all(len(CaseStore(db).output_history(run_id, kind)) == 1 for kind in ("ecg", "labs", "fusion"))


def test_two_runs_at_once_on_one_database(tmp_path, ecg_data, reports):
    db = tmp_path / "cases.sqlite"
    CaseStore(db).close()  # created and migrated once, as the kiosk does at start
    args = [[*CLI, "case", "run", "--patient", f"P-{i}", "--ecg", str(ecg_data / "cinc2021" / record), "--labs",
             str(reports["panel"]), "--json", "--db", str(db)] for i, record in enumerate(("E07500.hea", "E07502.hea"))]
    children = [subprocess.Popen(a, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env()) for a in args]
    outputs = [c.communicate(timeout=400) for c in children]
    assert [c.returncode for c in children] == [0, 0], [o[1][-500:] for o in outputs]
    answers = [json.loads(o[0]) for o in outputs]
    assert len({a["case_id"] for a in answers}) == 2
    store = CaseStore(db)
    assert len(store.list_cases()) == 2 and all(store.run_status(a["run_id"]) == "finished" for a in answers)
