"""Serial results: ESC 0h/1h for the assays in criteria.md, delta checks, eGFR (CKD-EPI 2021)."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from workbench.errors import InputError
from workbench.labs.egfr import ckd_epi_2021
from workbench.labs.frames import results_frame
from workbench.labs.normalise import Patient, normalise_rows
from workbench.labs.records import RawLabRow, SourceRef
from workbench.labs.trends import delta_checks, esc_0h_1h, reference_change_value, series

T0 = datetime(2026, 5, 4, 8, 0)


def frame(*values: tuple[str, str, str, float]):
    """(name, value, unit, hours after T0) -> the results table."""
    rows = [RawLabRow(name=n, value_text=v, unit_text=u, source=SourceRef("r.csv", "csv", row=i), patient="P1",
                      collected_at=T0 + timedelta(hours=h)) for i, (n, v, u, h) in enumerate(values)]
    results, unparsed = normalise_rows(rows, Patient("M", 58))
    assert not unparsed, unparsed
    return results_frame(results)


@pytest.mark.parametrize("values, onset, category", [
    ((("hs-TnT", "4", "ng/L", 0),), 5.0, "rule-out"),  # very low, onset > 3 h
    ((("hs-TnT", "4", "ng/L", 0),), None, "incomplete"),  # onset unknown: single-sample rule-out not used
    ((("hs-TnT", "10", "ng/L", 0), ("hs-TnT", "11", "ng/L", 1)), None, "rule-out"),  # < 12 and delta 1 < 3
    ((("hs-TnT", "10", "ng/L", 0), ("hs-TnT", "14", "ng/L", 1)), None, "observe"),  # delta 4: between 3 and 5
    ((("hs-TnT", "20", "ng/L", 0), ("hs-TnT", "26", "ng/L", 1)), None, "rule-in"),  # delta 6 >= 5
    ((("hs-TnT", "60", "ng/L", 0),), None, "rule-in"),  # 0h >= 52
    ((("hs-TnT", "0.020", "ng/mL", 0), ("hs-TnT", "0.026", "ng/mL", 1)), None, "rule-in"),  # units converted first
    ((("hs-TnT", "10", "ng/L", 0), ("hs-TnT", "11", "ng/L", 3)), None, "not applicable"),  # not a 1 h sample
    ((("hs-TnI Architect", "3", "ng/L", 0), ("hs-TnI Architect", "4", "ng/L", 1)), None, "rule-out"),
    ((("hs-TnI Architect", "30", "ng/L", 0), ("hs-TnI Architect", "37", "ng/L", 1)), None, "rule-in"),
    ((("Sodium", "140", "mmol/L", 0),), None, "not applicable"),
])
def test_esc_0h_1h(values, onset, category):
    verdict = esc_0h_1h(frame(*values), onset_hours=onset)
    assert verdict.category == category, verdict.reason


def test_esc_verdict_reports_its_numbers():
    verdict = esc_0h_1h(frame(("hs-TnT", "20", "ng/L", 0), ("hs-TnT", "26", "ng/L", 1)))
    assert (verdict.value_0h, verdict.value_1h, verdict.delta, verdict.hours_between) == (20, 26, 6, 1)
    assert verdict.cutoffs.delta_1h_yes == 5 and "ESC" in verdict.source


def test_delta_check_uses_the_reference_change_value():
    rcv = reference_change_value("potassium")
    assert rcv == pytest.approx(1.96 * 2 ** 0.5 * (4.0 ** 2 + 1.8 ** 2) ** 0.5)
    table = frame(("Potassium", "4.0", "mmol/L", 0), ("Potassium", "4.2", "mmol/L", 6), ("Potassium", "5.4", "mmol/L", 12))
    checks = delta_checks(table)
    assert len(checks) == 1 and checks[0].value_before == 4.2 and checks[0].value_after == 5.4
    assert "rose from 4.2 to 5.4 mmol/L" in checks[0].describe()
    assert list(series(table, "potassium")["canonical_value"]) == [4.0, 4.2, 5.4]


@pytest.mark.parametrize("scr_mg_dl, age, sex, expected", [
    # by hand from the equation in criteria.md, e.g. 0.9 mg/dL, 80 y, M: 142 x 0.9938^80 = 86.3
    (1.0, 50, "M", 92), (1.0, 50, "F", 69), (0.7, 30, "F", 119), (2.5, 70, "M", 27), (0.9, 80, "M", 86),
])
def test_ckd_epi_2021_matches_hand_computed_values(scr_mg_dl, age, sex, expected):
    assert round(ckd_epi_2021(scr_mg_dl * 88.42, age, sex).value) == expected


def test_egfr_refuses_what_it_cannot_compute():
    with pytest.raises(InputError, match="sex"):
        ckd_epi_2021(80, 50, "")
    with pytest.raises(InputError, match="adults"):
        ckd_epi_2021(80, 12, "F")
    assert ckd_epi_2021(2.5 * 88.42, 70, "M").category == "G4"


def test_trend_figure_has_points_band_and_flag_colours():
    from workbench.ui.lab_figures import FLAG_COLOURS, trend_figure

    table = frame(("Potassium", "4.0", "mmol/L", 0), ("Potassium", "5.4", "mmol/L", 12), ("Potassium", "6.9", "mmol/L", 24))
    figure = trend_figure(table, "potassium")
    trace = figure.data[0]
    assert list(trace.y) == [4.0, 5.4, 6.9]
    assert list(trace.marker.color)[1:] == [FLAG_COLOURS["H"], FLAG_COLOURS["HH"]]
    band = figure.layout.shapes[0]
    assert (band.y0, band.y1) == (table["ref_low"].iloc[-1], table["ref_high"].iloc[-1])
    assert "mmol/L" in figure.layout.title.text
    assert not trend_figure(table, "sodium").data  # nothing to draw: an empty figure that says so


def test_manual_entry_uses_the_same_validation():
    from workbench.labs.manual import manual_result, unit_choices

    assert unit_choices("hs_ctnt")[0] == "ng/L"
    r = manual_result("hs_ctnt", "0.052", "ug/L", patient="P1", sex="M")
    assert r.canonical_value == pytest.approx(52) and r.flag == "H" and r.source.reader == "manual"
    with pytest.raises(InputError, match="impossible value"):
        manual_result("potassium", "45", "mmol/L")
    with pytest.raises(InputError, match="not an analyte"):
        manual_result("unobtainium", "1", "mg/dL")
