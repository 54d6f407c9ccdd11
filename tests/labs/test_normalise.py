"""Raw rows -> coded results: the report's range wins, units convert, flags follow the value, and every
row that cannot be trusted is kept as unparsed with its reason."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from workbench.labs.normalise import Patient, normalise_row, normalise_rows
from workbench.labs.records import LabResult, RawLabRow, SourceRef, UnparsedRow

SRC = SourceRef("report.pdf", "camelot-stream", page=0, row=3)


def row(name: str, value: str, unit: str = "", ref: str = "", flag: str = "", **extra) -> RawLabRow:
    return RawLabRow(name=name, value_text=value, unit_text=unit, ref_text=ref, flag_text=flag, source=SRC, **extra)


def result(*args, patient: Patient = Patient("F", 60), **kw) -> LabResult:
    out = normalise_row(row(*args, **kw), patient)
    assert isinstance(out, LabResult), getattr(out, "reason", out)
    return out


def refused(*args, patient: Patient = Patient("F", 60), **kw) -> str:
    out = normalise_row(row(*args, **kw), patient)
    assert isinstance(out, UnparsedRow), out
    assert out.source == SRC
    return out.reason


def test_troponin_in_ng_per_ml_is_converted_and_flagged_by_the_assay_url():
    r = result("Troponin T (hs)", "0.048", "ng/mL")
    assert (r.analyte, r.canonical_value, r.canonical_unit) == ("hs_ctnt", pytest.approx(48.0), "ng/L")
    assert (r.ref_high, r.ref_source, r.flag) == (14.0, "catalogue", "H")
    assert (r.value, r.unit, r.value_text, r.loinc) == (0.048, "ng/mL", "0.048", "67151-1")


def test_printed_range_wins_and_is_converted_to_the_canonical_unit():
    r = result("S. Creatinine", "1.4", "mg/dL", "0.6 - 1.1")
    assert r.ref_source == "report"
    assert r.ref_low == pytest.approx(0.6 * 88.42) and r.ref_high == pytest.approx(1.1 * 88.42)
    assert r.canonical_value == pytest.approx(1.4 * 88.42) and r.flag == "H"


def test_sex_specific_printed_range_uses_the_patients_sex():
    text = "M: 13-17 F: 12-15"
    assert result("Hemoglobin", "12.5", "g/dL", text, patient=Patient("F", 50)).flag is None
    assert result("Hemoglobin", "12.5", "g/dL", text, patient=Patient("M", 50)).flag == "L"


def test_critical_limits_give_double_flags():
    assert result("Potassium", "6.8", "mEq/L", "3.5-5.1").flag == "HH"
    assert result("Potassium", "2.3", "mmol/L", "3.5-5.1").flag == "LL"


def test_censored_values_are_flagged_only_when_the_whole_interval_is_outside():
    assert result("hs Troponin T", "<3", "ng/L", "0-14").flag is None
    assert result("NT-proBNP", "> 35000", "pg/mL", "< 125").flag == "H"
    r = result("hs Troponin T", "<3", "ng/L", "0-14")
    assert (r.comparator, r.value) == ("<", 3.0)


def test_printed_flag_that_disagrees_with_the_value_is_noted():
    r = result("Sodium", "140", "mmol/L", "135-145", "H")
    assert r.flag is None and "flags 'H'" in r.notes[0]


def test_unit_inferred_from_the_printed_range_or_assumed_canonical():
    r = result("Glucose", "95", "", "70-110")
    assert r.unit == "mg/dL" and r.canonical_value == pytest.approx(95 / 18.016, rel=1e-3)
    assert "inferred from the printed reference range" in r.notes[0]
    r = result("Potassium", "4.1")
    assert r.unit == "mmol/L" and "assumed mmol/L" in r.notes[0]


def test_qualitative_results_are_kept_as_text():
    r = result("HBsAg", "Non Reactive", ref="Non Reactive")
    assert r.value is None and r.value_text == "Non Reactive" and r.flag is None


@pytest.mark.parametrize("args, words", [
    (("S. Potassium", "45", "mmol/L", "3.5-5.1"), "impossible value"),
    (("Troponin T hs", "0.05", "ng/mL", "0-14"), "unit mismatch"),
    (("Glucose", "5.5", "furlongs"), "unit problem"),
    (("Zorblax factor", "12", "mg/dL"), "not an analyte"),
    (("Cardiac markers", "", ""), "not an analyte"),
    (("Sodium", "----", "mmol/L"), "no result printed"),
    (("Troponin", "12", "ng/L"), "ambiguous"),
])
def test_rows_that_cannot_be_trusted_are_kept_with_the_reason(args, words):
    assert words in refused(*args)


def test_fhir_loinc_code_is_trusted_and_times_are_wall_clock():
    when = datetime(2026, 3, 1, 9, 40, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    r = normalise_row(row("Some local name", "4.4", "mmol/L", loinc="2823-3", collected_at=when, patient="P1"))
    assert r.analyte == "potassium" and r.collected_at == datetime(2026, 3, 1, 9, 40) and r.patient == "P1"


def test_nothing_is_dropped():
    rows = [row("Sodium", "140", "mmol/L"), row("Nonsense", "1"), row("Potassium", "45", "mmol/L"), row("Urea", "NA")]
    results, unparsed = normalise_rows(rows, Patient())
    assert len(results) + len(unparsed) == len(rows) and len(results) == 1
