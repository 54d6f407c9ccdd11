"""The `workbench` command on pictures and PDFs, as a user runs it (real subprocess, real files)."""
from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench.ecg import read_ecg
from workbench.ecg.leads import STANDARD_LEADS

pytestmark = pytest.mark.timeout(300)

WORKBENCH = [sys.executable, "-m", "workbench.cli"]
DPI = 200  # the render command's default


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*WORKBENCH, *args], capture_output=True, text=True, timeout=180)


def analyze_json(path: Path) -> dict:
    out = run("ecg", "analyze", str(path), "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli_image")


@pytest.fixture(scope="module")
def page(ecg_data: Path, folder: Path) -> Path:
    """`workbench ecg render E07506.hea --layout 3x4+1 --out x.png --seed 1`."""
    path = folder / "x.png"
    out = run("ecg", "render", str(ecg_data / "cinc2021" / "E07506.hea"), "--layout", "3x4+1", "--out", str(path), "--seed", "1")
    assert out.returncode == 0, out.stderr
    assert str(path) in out.stdout and "3x4+1" in out.stdout
    return path


@pytest.fixture(scope="module")
def page_analysis(page: Path) -> dict:
    return analyze_json(page)


@pytest.fixture(scope="module")
def signal_analysis(ecg_data: Path) -> dict:
    return analyze_json(ecg_data / "cinc2021" / "E07506.hea")


def test_render_writes_a_png_page(page: Path) -> None:
    assert page.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(page) as im:
        assert im.format == "PNG" and im.mode == "RGB"
        assert im.size == (round(297 * DPI / 25.4), round(210 * DPI / 25.4))  # A4 landscape at 200 dpi


def test_analyze_image_json(page_analysis: dict, signal_analysis: dict) -> None:
    data = page_analysis
    assert data["record"]["source"] == "image"
    assert sorted(data["record"]["leads"]) == sorted(STANDARD_LEADS)
    image = data["image"]
    assert image["layout"]["name"] == "3x4+1"
    assert set(image["lead_confidence"]) == set(STANDARD_LEADS)
    assert all(0 <= v <= 1 for v in image["lead_confidence"].values())
    cal = image["calibration"]
    assert cal["px_per_mm"] == pytest.approx(DPI / 25.4, rel=0.02)
    assert cal["speed_mm_s"] == pytest.approx(25, rel=0.05) and cal["gain_mm_mv"] == pytest.approx(10, rel=0.05)
    assert cal["speed_source"] and cal["gain_source"]
    # the same document as for a signal file, plus the "image" section
    assert set(data) - {"image"} == set(signal_analysis)
    # the page shows E07506 (normal sinus rhythm, 60-75 bpm from the signal file)
    assert {f["rule"] for f in data["findings"]} >= {"sinus_rhythm"}
    assert data["measurements"]["heart_rate"]["value"] == pytest.approx(signal_analysis["measurements"]["heart_rate"]["value"], abs=3)


@pytest.fixture(scope="module")
def digitized_csv(page: Path, folder: Path) -> tuple[Path, subprocess.CompletedProcess]:
    """`workbench ecg digitize x.png --out y.csv`."""
    csv = folder / "y.csv"
    return csv, run("ecg", "digitize", str(page), "--out", str(csv))


@pytest.fixture(scope="module")
def csv_analysis(digitized_csv) -> dict:
    csv, written = digitized_csv
    assert written.returncode == 0, written.stderr
    return analyze_json(csv)


def test_digitize_to_csv_is_read_back(digitized_csv, csv_analysis: dict, page_analysis: dict) -> None:
    csv, out = digitized_csv
    assert out.returncode == 0, out.stderr
    assert csv.is_file() and "3x4+1" in out.stdout and "12 leads" in out.stdout
    lines = csv.read_text().splitlines()
    assert lines[0] == "# fs=500" and any(line.startswith("# Coverage: I 0-") for line in lines)
    assert next(line for line in lines if not line.startswith("#")).split(",") == list(STANDARD_LEADS)
    data = csv_analysis
    assert data["record"]["source"] == "csv"
    assert sorted(data["record"]["leads"]) == sorted(STANDARD_LEADS)
    assert data["record"]["fs"] == 500 and data["record"]["duration_s"] == pytest.approx(10.0)
    assert data["measurements"]["heart_rate"]["value"] == pytest.approx(page_analysis["measurements"]["heart_rate"]["value"], abs=1)


def test_digitized_csv_is_analysed_with_the_same_leads_as_the_image(csv_analysis: dict, page_analysis: dict) -> None:
    usable = {lead for lead, q in csv_analysis["quality"]["leads"].items() if q["usable"]}
    from_image = {lead for lead, q in page_analysis["quality"]["leads"].items() if q["usable"]}
    assert usable == from_image, (sorted(usable), sorted(from_image))


def test_digitize_to_wfdb(page: Path, folder: Path) -> None:
    header = folder / "y.hea"
    out = run("ecg", "digitize", str(page), "--out", str(header))
    assert out.returncode == 0, out.stderr
    assert header.is_file() and header.with_suffix(".dat").is_file()
    record = read_ecg(header)
    assert sorted(record.leads) == sorted(STANDARD_LEADS) and record.fs == 500
    assert record.duration_s == pytest.approx(10.0)
    assert np.isfinite(record.lead("II")).mean() >= 0.99  # the rhythm strip covers the whole 10 s
    assert np.isfinite(record.lead("V1")).mean() == pytest.approx(0.25, abs=0.02)  # one 2.5 s column
    analysed = run("ecg", "analyze", str(header))
    assert analysed.returncode == 0, analysed.stderr
    assert "not a diagnosis" in analysed.stdout


def test_analyze_a_pdf_page(page: Path, folder: Path) -> None:
    pdf = folder / "page.pdf"
    with Image.open(page) as im:
        im.convert("RGB").save(pdf, "PDF", resolution=200)
    assert pdf.read_bytes()[:5] == b"%PDF-"
    data = analyze_json(pdf)
    assert data["record"]["source"] == "image"
    assert data["image"]["layout"]["name"] == "3x4+1"
    assert set(data["image"]["lead_confidence"]) == set(STANDARD_LEADS)
    assert data["image"]["page"] == 1 and data["image"]["page_count"] == 1


# ---------------------------------------------------------------------------------------- bad inputs
def _blank(path: Path) -> None:
    Image.fromarray(np.full((1240, 1754, 3), 255, np.uint8)).save(path)


def _noise(path: Path) -> None:
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (1240, 1754, 3), dtype=np.uint8)).save(path)


def _text(path: Path) -> None:
    path.write_text("this is not a picture\n")


def _truncated_jpeg(path: Path) -> None:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (600, 800, 3), dtype=np.uint8)).save(buffer, "JPEG", quality=90)
    data = buffer.getvalue()
    path.write_bytes(data[: len(data) // 3])


BAD = {"blank.png": _blank, "noise.png": _noise, "text.png": _text, "truncated.jpg": _truncated_jpeg}


@pytest.mark.parametrize("command, name", [("analyze", name) for name in BAD] + [("digitize", "noise.png"), ("digitize", "truncated.jpg")])
def test_bad_image_gives_one_plain_sentence_and_exit_code_2(tmp_path: Path, name: str, command: str) -> None:
    path = tmp_path / name
    BAD[name](path)
    args = ["ecg", command, str(path)] + (["--out", str(tmp_path / "out.csv")] if command == "digitize" else [])
    out = run(*args)
    assert out.returncode == 2, (out.returncode, out.stderr)
    message = out.stderr.strip()
    assert message and "\n" not in message, out.stderr  # one line
    assert "Traceback" not in out.stderr and "Internal error" not in out.stderr
    assert name in message  # says which file
    assert out.stdout == ""
    assert not (tmp_path / "out.csv").exists()


def test_text_file_named_png_is_called_not_a_picture(tmp_path: Path) -> None:
    path = tmp_path / "text.png"
    _text(path)
    out = run("ecg", "analyze", str(path))
    assert out.returncode == 2
    message = out.stderr.replace(path.name, "")
    assert re.search(r"image|picture|PNG", message, re.IGNORECASE), out.stderr
