"""Whole-pipeline accuracy: generated reports in many layouts (text PDFs, a scan) and the two real CBC images,
field by field against truth tables written by hand; FHIR round trip; bad inputs; the CLI."""
from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.labs.catalogue import get_catalogue
from workbench.labs.documents.sample_reports import (Layout, default_spec, indian_lab_spec, troponin_series_specs,
                                                      us_chemistry_spec, write_image_only_pdf, write_report_pdf)
from workbench.labs.extract import extract_labs
from workbench.labs.fhir_export import to_fhir_bundle
from workbench.labs.parsing import parse_reference_range
from workbench.labs.trends import esc_0h_1h

TRUTH = Path(__file__).parent / "truth"
FIELDS = ("analyte", "value", "ref_low", "ref_high", "flag")  # value, ref_low, ref_high: in the canonical unit
COLUMN = {"value": "canonical_value"}

# the analyte each printed name means and the flag the value deserves (male, 58 y), written by hand
EXPECTED = {
    "default": [("hs_ctnt", "H"), ("nt_probnp", "H"), ("ck_mb_mass", None), ("myoglobin", "H"), ("sodium", "L"),
                ("potassium", "H"), ("chloride", None), ("magnesium", "L"), ("calcium", None), ("creatinine", "H"),
                ("urea", "H"), ("egfr", "L"), ("total_cholesterol", "H"), ("ldl_c", "H"), ("hdl_c", None),
                ("triglycerides", "H"), ("haemoglobin", "L"), ("wbc", None), ("platelets", None), ("haematocrit", "L")],
    "indian": [("haemoglobin", "L"), ("wbc", "H"), ("platelets", None), ("esr", "H"), ("creatinine", None), ("urea", None),
               ("sodium", None), ("potassium", "L"), ("glucose_fasting", "H"), ("hba1c", "H"), ("alt", "H"), ("ast", None),
               ("total_cholesterol", "H"), ("ldl_c", "H"), ("hdl_c", "L"), ("triglycerides", "H")],
    "us": [("glucose", "H"), ("bun", "H"), ("creatinine", "H"), ("sodium", "L"), ("potassium", "H"), ("chloride", None),
           ("bicarbonate", "L"), ("calcium", "L"), ("magnesium", "L"), ("albumin", "L"), ("bilirubin_total", None),
           ("alp", None), ("bnp", "H"), ("hs_ctni_architect", "H")],
    "troponin_0h": [("hs_ctnt", None), ("potassium", None)],
    "troponin_1h": [("hs_ctnt", "H"), ("potassium", None)],
}
LAYOUTS = {
    "ruled": ("default", default_spec()),
    "borderless": ("default", default_spec(Layout(ruled=False))),
    "two_columns": ("default", default_spec(Layout(columns=2))),
    "multi_page": ("default", default_spec(Layout(rows_per_page=9))),
    "units_in_values": ("default", default_spec(Layout(unit_in_value=True, flag_style="suffix"))),
    "indian_lab": ("indian", indian_lab_spec()),
    "us_mg_dl": ("us", us_chemistry_spec()),
    "troponin_0h": ("troponin_0h", troponin_series_specs()[0]),
    "troponin_1h": ("troponin_1h", troponin_series_specs()[1]),
}


def canonical(analyte: str, value: float | None, unit: str) -> float | None:
    if value is None:
        return None
    return get_catalogue().convert(value, unit, analyte)[0]


def field_accuracy(truth: list[dict], frame) -> tuple[float, list[str]]:
    """Share of correct fields; each truth row is matched to the extracted row of the same analyte, in order."""
    rows = [r for r in frame.to_dict("records")]
    correct, misses = 0, []
    for want in truth:
        got = next((r for r in rows if r["analyte"] == want["analyte"]), None)
        if got is None:
            misses.append(f"{want['analyte']}: missing")
            continue
        rows.remove(got)
        for name in FIELDS:
            a, b = want[name], got[COLUMN.get(name, name)]
            same = (a is None and (b is None or (isinstance(b, float) and math.isnan(b)))) or \
                   (a is not None and b is not None and (a == b if isinstance(a, str) else math.isclose(a, b, rel_tol=1e-6)))
            correct += same
            if not same:
                misses.append(f"{want['analyte']}.{name}: want {a!r}, got {b!r}")
    return correct / (len(truth) * len(FIELDS)), misses


def truth_from_spec(kind: str, spec) -> list[dict]:
    results = [result for section in spec.sections for result in section.results]
    assert len(results) == len(EXPECTED[kind])
    truth = []
    for result, (analyte, flag) in zip(results, EXPECTED[kind]):
        printed = parse_reference_range(result.ref).for_sex("M")
        unit = printed.unit or result.unit
        truth.append({"analyte": analyte, "value": canonical(analyte, float(result.value.replace(",", "")), result.unit),
                      "ref_low": canonical(analyte, printed.low, unit), "ref_high": canonical(analyte, printed.high, unit),
                      "flag": flag})
    return truth


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("lab_reports")


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_generated_reports_field_accuracy(layout, folder):
    kind, spec = LAYOUTS[layout]
    path = folder / f"{layout}.pdf"
    write_report_pdf(path, spec)
    extraction = extract_labs([path], sex="M", age=58)
    accuracy, misses = field_accuracy(truth_from_spec(kind, spec), extraction.frame)
    assert accuracy >= 0.99, misses
    assert not extraction.unparsed, [u.reason for u in extraction.unparsed]


def test_scanned_report_through_ocr(folder):
    spec = default_spec()
    path = folder / "scan.pdf"
    write_image_only_pdf(path, spec)
    extraction = extract_labs([path], sex="M", age=58)
    assert extraction.files[0].readers == ["ocr"]
    accuracy, misses = field_accuracy(truth_from_spec("default", spec), extraction.frame)
    assert accuracy >= 0.95, misses


def read_truth(name: str) -> list[dict]:
    lines = [line for line in (TRUTH / name).read_text().splitlines() if not line.startswith("#")]
    truth = []
    for row in csv.DictReader(lines):
        value = lambda key: float(row[key]) if row[key] else None  # noqa: E731
        truth.append({"analyte": row["analyte"], "value": canonical(row["analyte"], value("value"), row["unit"]),
                      "ref_low": canonical(row["analyte"], value("ref_low"), row["unit"]),
                      "ref_high": canonical(row["analyte"], value("ref_high"), row["unit"]),
                      "flag": row["flag"] or None})
    return truth


@pytest.mark.parametrize("image, truth, age", [("cbc_report_1.jpg", "cbc_report_1.csv", 21),
                                               ("cbc_report_2.png", "cbc_report_2.csv", 27)])
def test_real_cbc_reports_field_accuracy(image, truth, age, ecg_data):
    extraction = extract_labs([ecg_data.parent / "labs" / image], sex="M", age=age)
    expected = read_truth(truth)
    accuracy, misses = field_accuracy(expected, extraction.frame)
    assert accuracy >= 0.95, misses
    assert len(extraction.results) == len(expected), [u.text for u in extraction.unparsed]


def test_fhir_bundle_round_trips_to_the_same_table(folder):
    path = folder / "round.pdf"
    write_report_pdf(path, default_spec())
    first = extract_labs([path], sex="M", age=58)
    bundle = folder / "round.json"
    bundle.write_text(json.dumps(to_fhir_bundle(first.results)))
    second = extract_labs([bundle], sex="M", age=58)
    columns = ["analyte", "loinc", "value", "comparator", "unit", "canonical_value", "canonical_unit", "ref_low",
               "ref_high", "flag", "patient", "collected_at"]
    assert not second.unparsed
    assert first.frame[columns].equals(second.frame[columns])


def test_serial_troponin_reports_give_the_esc_verdict(folder):
    paths = []
    for i, spec in enumerate(troponin_series_specs(("9", "16"))):
        paths.append(folder / f"trop{i}.pdf")
        write_report_pdf(paths[-1], spec)
    frame = extract_labs(paths).frame
    assert frame["patient"].nunique() == 1
    verdict = esc_0h_1h(frame)
    assert (verdict.category, verdict.value_0h, verdict.value_1h, verdict.hours_between) == ("rule-in", 9, 16, 1)


def test_bad_files_are_reported_and_do_not_stop_the_others(folder, tmp_path):
    good = folder / "good.pdf"
    write_report_pdf(good, troponin_series_specs()[0])
    empty_csv = tmp_path / "empty.csv"
    empty_csv.write_text("")
    cat = tmp_path / "cat.png"
    from skimage import data
    from PIL import Image

    Image.fromarray(data.chelsea()).save(cat)
    bad_csv = tmp_path / "odd.csv"
    bad_csv.write_text("analyte,value,unit\nPotassium,45,mmol/L\nTroponin T hs,0.05,ng/mL\nFrobnicase,3,U/L\n")
    extraction = extract_labs([empty_csv, cat, good, bad_csv], patient_id="P7")
    errors = {Path(f.file).name: f.error for f in extraction.files}
    assert errors["good.pdf"] == "" and errors["odd.csv"] == ""
    assert "empty" in errors["empty.csv"].lower() or "blank" in errors["empty.csv"].lower()
    assert errors["cat.png"]  # no table of results in a photo of a cat
    assert len(extraction.results) == 3 and set(extraction.frame["patient"]) == {"P7"}  # 2 from the PDF, 1 from the CSV
    reasons = " | ".join(u.reason for u in extraction.unparsed)
    assert "impossible value" in reasons and "not an analyte" in reasons
    # troponin 0.05 ng/mL with no printed range is a valid conversion (50 ng/L), not an error
    assert "unit mismatch" not in reasons


def test_cli_writes_both_csv_files(folder, tmp_path):
    report = folder / "cli.pdf"
    write_report_pdf(report, default_spec())
    out = tmp_path / "labs.csv"
    done = subprocess.run([sys.executable, "-m", "workbench.cli", "labs", "extract", str(report), "--patient", "P1",
                           "--sex", "M", "--csv", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    header = out.read_text().splitlines()[0].split(",")
    for column in ("analyte", "loinc", "value_text", "value", "comparator", "unit", "canonical_value", "canonical_unit",
                   "ref_low", "ref_high", "ref_source", "flag", "source_file", "page", "row"):
        assert column in header
    assert len(out.read_text().splitlines()) == 21
    assert out.with_suffix(".unparsed.csv").read_text().startswith("text,reason")
    assert "not a diagnosis" in done.stdout


def test_cli_json_and_exit_code_when_nothing_can_be_read(tmp_path):
    missing = tmp_path / "absent.pdf"
    done = subprocess.run([sys.executable, "-m", "workbench.cli", "labs", "extract", str(missing), "--json"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    answer = json.loads(done.stdout)
    assert answer["results"] == [] and "does not exist" in answer["files"][0]["error"]
