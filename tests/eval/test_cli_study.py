"""`workbench eval run / report` as a user runs them (subprocess, own local cluster), and the reference study on
every labelled record of ../shared/data/ecg with its validation doc written to a temporary path."""
from __future__ import annotations

import json
import subprocess
import sys

from workbench.eval.labels import LabelMap, load_label_map
from workbench.eval.study import run_shared_study

from .fixtures import cinc_subset

WORKBENCH = [sys.executable, "-m", "workbench.cli"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*WORKBENCH, *args], capture_output=True, text=True, timeout=240)


def test_cli_eval_run_then_report(tmp_path, ecg_data, dask_scheduler):
    folder = cinc_subset(tmp_path / "cinc", ecg_data / "cinc2021", ["E07500", "E07510", "HR06002"])
    out = tmp_path / "study"
    done = run("eval", "run", "--dataset", f"cinc2021:{folder}", "--dataset", f"ptbxl:{ecg_data / 'ptbxl'}",
               "--out", str(out), "--workers", "2", "--limit", "3", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["total"], summary["done"], summary["workers"], summary["errors"]) == (3, 3, 2, 0)
    assert list(out.glob("part-*.parquet"))
    again = run("eval", "run", "--dataset", f"cinc2021:{folder}", "--dataset", f"ptbxl:{ecg_data / 'ptbxl'}", "--out", str(out),
                "--scheduler", dask_scheduler)  # resumed on an existing cluster
    assert again.returncode == 0, again.stderr
    assert "1 analysed now (0 with an error), 3 already done, 4 in all" in again.stdout
    report = run("eval", "report", str(out), "--bootstrap", "200")
    assert report.returncode == 0, report.stderr
    html = (out / "report.html").read_text()
    assert "<script src=" not in html and "Plotly.newPlot" in html  # no CDN: plotly.js is inline
    assert len(html) > 3_000_000 and html.count("plotly.js v") >= 1
    assert "ROC curves" in html and "Confusion matrices" in html and "Calibration" in html
    metrics = json.loads((out / "metrics.json").read_text())
    assert {c["name"] for c in metrics["classes"]} >= {"NSR", "SB", "RBBB", "sc_NORM"}
    assert "| SB | `sinus_bradycardia` | 4 |" in (out / "summary.md").read_text()


def test_cli_refuses_a_bad_dataset_plainly(tmp_path):
    from click.testing import CliRunner

    from workbench.cli import main

    out = CliRunner().invoke(main, ["eval", "run", "--dataset", f"ptbxl:{tmp_path}", "--out", str(tmp_path / "o")])
    assert out.exit_code == 2
    assert "Dataset problem: The PTB-XL folder" in out.output and "Traceback" not in out.output


def test_reference_study_on_all_labelled_records(tmp_path, ecg_data, dask_scheduler):
    doc = tmp_path / "VALIDATION.md"
    result = run_shared_study(ecg_data.parent, tmp_path / "out", doc=doc, scheduler=dask_scheduler, n_boot=200, progress=False)
    run_ = result["run"]
    assert run_.total == 36 and run_.errors == 0 and run_.done == 36  # 25 CinC + 9 CPSC + 1 PTB + 1 PTB-XL
    text = doc.read_text()
    label_map = load_label_map()
    for class_id in label_map.class_ids:  # every label and superclass has its row
        assert f"| {LabelMap.display(class_id)} |" in text, class_id
    assert "AF per second" in text and "Split-conformal" in text and "all classes pooled" in text
    report = result["report"]
    af = next(r for r in report.metrics.classes if r.name == "AF")
    assert af.n == 35 and af.positives == 6  # 25 CinC (no AF) + 9 CPSC (6 AF) + PTB-XL 00001 (no AF)
    mi = next(r for r in report.metrics.classes if r.name == "sc_MI")
    assert mi.positives == 1  # PTB s0010_re
    assert report.af["records"] == 9 and report.af["sensitivity"] > 0.5
    assert (tmp_path / "out" / "report.html").is_file()
