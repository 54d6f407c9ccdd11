"""Recommendations: keyed by impressions, ESC category, risk factors and lab values; LDL-C goal by risk; always
decision support with a citation and a reason."""
from __future__ import annotations

import re

import pytest

from workbench.pipeline.fusion import fuse
from workbench.pipeline.recommend import recommend
from workbench.pipeline.rule_tables import recommendation_table
from workbench.pipeline.types import PatientContext, Recommendation

from . import PATIENT, fake_analysis, finding, labs, real_analysis


@pytest.fixture(scope="module")
def mi_ecg(ecg_data):
    return real_analysis(str(ecg_data / "ptbdb" / "s0010_re.hea"))


def _form(**kw) -> PatientContext:
    return PatientContext(PATIENT, **kw)


def _run(analysis, table, form) -> list[Recommendation]:
    recs = recommend(fuse(analysis, table, form), form, table)
    for r in recs:
        assert re.match(r"^(Consider|Discuss)\b", r.text), r.text
        assert not re.search(r"\b(must|immediately start|prescribe)\b", r.text, re.I), r.text
        assert r.citation and r.because and r.rule in recommendation_table()["rules"]
        assert "{" not in r.text, r.text
        r.to_dict()
    kinds = [r.kind for r in recs]
    assert kinds == sorted(kinds, key=lambda k: k != "next_step")  # next steps first
    assert len({r.text for r in recs}) == len(recs)
    return recs


def _by_rule(recs: list[Recommendation]) -> dict[str, Recommendation]:
    return {r.rule: r for r in recs}


def test_acute_mi_next_steps(mi_ecg):
    table = labs(("hs-TnT", "20", "ng/L", 0), ("hs-TnT", "58", "ng/L", 1), sex="F", age=81)
    form = _form(age=81, sex="F", symptoms=["chest pain"], chest_pain_onset_hours=2, risk_factors=["smoker"])
    recs = _by_rule(_run(mi_ecg, table, form))
    assert "57054005" in recs["mi_pathway"].because and "cardiology" in recs["mi_pathway"].text
    assert "serial 12-lead ECGs" in recs["serial_ecgs"].text
    assert "ESC" in recs["mi_pathway"].citation
    assert "smoking" in recs["smoking_cessation"].because
    assert "troponin_at_presentation" not in recs and "repeat_troponin" not in recs


def test_esc_observe_incomplete_and_no_troponin():
    chest = _form(age=55, sex="M", symptoms=["chest pain"])
    observe = _by_rule(_run(None, labs(("hs-TnT", "10", "ng/L", 0), ("hs-TnT", "14", "ng/L", 1)), chest))
    assert "3 h troponin and echocardiography" in observe["esc_observe_next"].text
    incomplete = _by_rule(_run(None, labs(("hs-TnT", "8", "ng/L", 0)), chest))
    assert "1 h" in incomplete["esc_one_hour_troponin"].text and "ESC 0h/1h incomplete" in incomplete["esc_one_hour_troponin"].because
    no_trop = _by_rule(_run(None, None, chest))
    assert set(no_trop) == {"troponin_at_presentation"} and "chest pain" in no_trop["troponin_at_presentation"].because
    assert not _run(None, labs(("hs-TnT", "8", "ng/L", 0)), _form(age=55))  # no chest pain: no 1 h troponin advice


def test_single_high_troponin_asks_for_repeat():
    recs = _by_rule(_run(None, labs(("hs-TnT", "40", "ng/L", 0)), _form(age=60, sex="F")))
    assert "repeat_troponin" in recs and "wb:troponin-above-url" in recs["repeat_troponin"].because


def test_hyperkalaemia_severe_vs_moderate():
    severe = _by_rule(_run(None, labs(("Potassium", "6.8", "mmol/L", 0)), _form()))
    assert "repeating potassium urgently" in severe["hyperkalaemia_emergency"].text
    assert "continuous ECG monitoring" in severe["hyperkalaemia_emergency"].text
    moderate = _by_rule(_run(None, labs(("Potassium", "5.8", "mmol/L", 0)), _form()))
    assert "hyperkalaemia_emergency" not in moderate and "hyperkalaemia_review" in moderate
    with_wide_qrs = _by_rule(_run(fake_analysis(qrs_ms=150), labs(("Potassium", "5.8", "mmol/L", 0)), _form()))
    assert "hyperkalaemia_emergency" in with_wide_qrs  # ECG changes make it an emergency


def test_af_hf_kidney_qt_next_steps():
    ecg = fake_analysis(finding("atrial_fibrillation"), finding("long_qt", qtc_ms=520.0))
    table = labs(("NT-proBNP", "2500", "pg/mL", 0), ("Creatinine", "2.1", "mg/dL", 0), ("Magnesium", "0.5", "mmol/L", 0))
    recs = _by_rule(_run(ecg, table, _form(age=81, sex="F")))
    assert "CHA2DS2-VASc" in recs["af_anticoagulation"].text and recs["af_anticoagulation"].text.startswith("Consider assessing")
    assert "echocardiography" in recs["hf_echo"].text and "84114007" in recs["hf_echo"].because
    assert "iodinated contrast" in recs["egfr_below_30_next"].text and "renally cleared" in recs["egfr_below_30_next"].text
    assert "QT-prolonging" in recs["qt_high_risk_next"].text and "magnesium" in recs["hypomagnesaemia_next"].text


@pytest.mark.parametrize("risk, extra, ldl, goal, category, where", [
    (["known CAD"], [], "2.0", "1.4", "very high", "at or above"),
    (["diabetes"], [], "1.6", "1.8", "high", "below"),
    (["HTN"], [], "2.9", "2.6", "moderate", "at or above"),
    ([], [], "2.0", "3.0", "low", "below"),
    ([], [], "5.2", "1.8", "high", "at or above"),                       # LDL-C > 4.9 mmol/L: high risk
    ([], [("Creatinine", "2.6", "mg/dL", 0)], "2.0", "1.4", "very high", "at or above"),   # eGFR 27 < 30
    ([], [("Creatinine", "1.6", "mg/dL", 0)], "2.0", "1.8", "high", "at or above"),        # eGFR 49
    (["dm", "htn", "smoker", "obese"], [], "1.5", "1.4", "very high", "at or above"),      # DM + 3 major risk factors
])
def test_ldl_goal_by_risk(risk, extra, ldl, goal, category, where):
    table = labs(("LDL Cholesterol", ldl, "mmol/L", 0), *extra, sex="M", age=60)
    rec = _by_rule(_run(None, table, _form(age=60, sex="M", risk_factors=risk)))["ldl_goal"]
    assert rec.kind == "lifestyle" and f"below {goal} mmol/L" in rec.text and f"({category} risk" in rec.text
    assert f"measured LDL-C {ldl} mmol/L is {where} the goal" in rec.text
    assert ("50 % below baseline" in rec.text) is (category in ("very high", "high"))
    assert ("SCORE2" in rec.text) is (category in ("moderate", "low"))
    assert "ESC/EAS" in rec.citation


def test_ldl_goal_in_mg_dl_and_without_a_measurement():
    table = labs(("LDL Cholesterol", "130", "mg/dL", 0))
    rec = _by_rule(_run(None, table, _form(risk_factors=["diabetes"])))["ldl_goal"]
    assert "measured LDL-C 3.36 mmol/L" in rec.text and "below 1.8" in rec.text
    no_ldl = _by_rule(_run(None, None, _form(risk_factors=["smoker"])))["ldl_goal"]
    assert "below 2.6" in no_ldl.text and "measured" not in no_ldl.text
    assert "ldl_goal" not in _by_rule(_run(None, None, _form()))  # nothing known: no goal stated


@pytest.mark.parametrize("hba1c, rule", [("7.0", "hba1c_diabetes_range"), ("6.0", "hba1c_prediabetes"), ("5.2", None)])
def test_hba1c_thresholds(hba1c, rule):
    recs = _by_rule(_run(None, labs(("HbA1c", hba1c, "%", 0)), _form()))
    found = {r for r in recs if r.startswith("hba1c")}
    assert found == ({rule} if rule else set())
    if rule:
        assert f"HbA1c of {hba1c} %" in recs[rule].text


def test_lifestyle_keyed_by_risk_factor_words():
    recs = _by_rule(_run(None, None, _form(risk_factors=["Current smoker", "high blood pressure", "BMI > 30", "T2DM"])))
    assert {"smoking_cessation", "blood_pressure", "weight", "diabetes_control", "diet", "activity", "ldl_goal"} <= set(recs)
    assert "hypertension" in recs["blood_pressure"].because and "obesity" in recs["weight"].because
    assert "150-300 min" in recs["activity"].text


def test_no_inputs_no_advice():
    assert _run(None, None, PatientContext("X")) == []
