"""The `workbench` command as a user runs it (real subprocess, real files)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

WORKBENCH = [sys.executable, "-m", "workbench.cli"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*WORKBENCH, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_analyze_prints_a_readable_summary(ecg_data):
    out = run("ecg", "analyze", str(ecg_data / "cinc2021" / "E07510.hea"))
    assert out.returncode == 0, out.stderr
    assert "Right bundle branch block" in out.stdout
    assert "not a diagnosis" in out.stdout
    assert "QRS duration" in out.stdout and "evidence:" in out.stdout


def test_analyze_json_with_overrides(ecg_data):
    out = run("ecg", "analyze", str(ecg_data / "cinc2021" / "E07506.hea"), "--json", "--age", "30", "--sex", "f")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["info"]["age"] == 30 and data["info"]["sex"] == "F"
    assert data["measurements"]["heart_rate"]["unit"] == "bpm"


def test_example_and_demo_write_and_analyse_the_bundled_example(tmp_path):
    out = run("ecg", "example", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    header, csv = (Path(line) for line in out.stdout.split())
    assert header.exists() and csv.exists()
    analysed = run("ecg", "analyze", str(csv), "--json")
    data = json.loads(analysed.stdout)
    assert {"first_degree_av_block", "st_elevation"} <= {f["rule"] for f in data["findings"]}


def test_bad_file_gives_one_plain_sentence_and_exit_code_2(tmp_path):
    bad = tmp_path / "scan.hea"
    bad.write_text("this is not an ECG header\n")
    out = run("ecg", "analyze", str(bad))
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert str(bad.name) in out.stderr


@pytest.mark.parametrize("args", [["ecg", "analyze", "/nonexistent/file.hea"], ["ecg", "analyze", "x.csv", "--sex", "Q"]])
def test_usage_errors_are_reported(args):
    out = run(*args)
    assert out.returncode != 0 and "Traceback" not in out.stderr
