"""Fusion of ECG + labs + form: UDMI, ESC 0h/1h, HEART, electrolytes, natriuretic peptides, eGFR, ECG-only rules,
and the notes that say what could not be assessed."""
from __future__ import annotations

import re

import pytest

from workbench.pipeline.fusion import FusionResult, fuse
from workbench.pipeline.heart_score import heart_score
from workbench.pipeline.rule_tables import fusion_table, normalise_risk_factor, normalise_risk_factors
from workbench.pipeline.types import URGENCY_ORDER, PatientContext

from . import PATIENT, fake_analysis, finding, labs, real_analysis

ISCHAEMIA_RULES = {"acute_mi", "stemi_pattern", "sgarbossa_positive", "avr_multivessel_pattern", "ischaemic_st_t",
                   "acute_myocardial_injury", "troponin_above_url_unconfirmed", "esc_rule_in", "esc_observe"}


@pytest.fixture(scope="module")
def mi_ecg(ecg_data):
    """s0010_re (PTB): acute infero-lateral MI, woman of 81."""
    return real_analysis(str(ecg_data / "ptbdb" / "s0010_re.hea"))


@pytest.fixture(scope="module")
def normal_ecg(ecg_data):
    """HR06004 (CinC 2021): normal sinus rhythm, man of 28."""
    return real_analysis(str(ecg_data / "cinc2021" / "HR06004.hea"))


def _form(**kw) -> PatientContext:
    return PatientContext(PATIENT, **kw)


def _check_shape(result: FusionResult) -> None:
    """Every impression: a valid code, a citation, evidence; the list is ordered by urgency."""
    ranks = [URGENCY_ORDER[i.urgency] for i in result.impressions]
    assert ranks == sorted(ranks, reverse=True)
    for i in result.impressions:
        assert re.match(r"^(\d{6,18}|wb:[a-z0-9-]+)$", i.code), i.code
        assert i.citation and i.evidence and i.urgency_reason and i.rule in fusion_table()["rules"]
        assert all(e.text for e in i.evidence)
        i.to_dict()  # serialisable


# ------------------------------------------------------------------------------------------------ real records
def test_acute_inferolateral_mi_with_rising_hs_tnt_is_acute_mi(mi_ecg):
    table = labs(("hs-TnT", "20", "ng/L", 0), ("hs-TnT", "58", "ng/L", 1), sex="F", age=81)
    result = fuse(mi_ecg, table, _form(age=81, sex="F", symptoms=["chest pain"], chest_pain_onset_hours=2))
    _check_shape(result)
    assert result.urgency == "emergency"
    mi = result.impressions[0]
    assert mi.rule == "acute_mi" and mi.urgency == "emergency" and mi.code == "57054005"
    assert "Universal Definition" in mi.citation and "criteria.md" in mi.citation
    texts = " | ".join(e.text for e in mi.evidence)
    assert "20" in texts and "58" in texts and "URL 14 ng/L" in texts
    ecg = [e for e in mi.evidence if e.kind == "ecg"]
    assert ecg and any({"II", "aVF"} <= set(e.values.get("leads", [])) for e in ecg), texts
    assert any("inferior" in e.text and "lateral" in e.text for e in ecg)
    assert any(e.kind == "form" and "chest pain" in e.text for e in mi.evidence)
    assert result.troponin.pattern == "rising/falling" and result.esc.category == "rule-in"
    assert "ischaemic_st_t" not in result.rules  # folded into the acute MI impression
    assert "esc_rule_in" in result.rules


def test_normal_record_with_normal_labs_is_routine(normal_ecg):
    table = labs(("hs-TnT", "4", "ng/L", 0), ("hs-TnT", "4", "ng/L", 1), ("Potassium", "4.2", "mmol/L", 0),
                 ("Magnesium", "0.85", "mmol/L", 0), ("Calcium", "2.3", "mmol/L", 0), ("NT-proBNP", "40", "pg/mL", 0),
                 ("Creatinine", "0.9", "mg/dL", 0), ("LDL Cholesterol", "2.4", "mmol/L", 0), sex="M", age=28)
    result = fuse(normal_ecg, table, _form(age=28, sex="M", symptoms=["chest pain"], chest_pain_onset_hours=5,
                                           history_suspicion="low"))
    _check_shape(result)
    assert result.urgency == "routine"
    assert not result.rules & ISCHAEMIA_RULES
    assert result.rules == {"esc_rule_out", "heart_low"}
    assert result.heart.total == 0 and result.egfr.category == "G1"
    assert any("NT-proBNP 40 < 300" in n for n in result.notes)  # rule-out is a note, not an impression


# ------------------------------------------------------------------------------------------------ troponin / UDMI
def test_stable_high_troponin_without_symptoms_is_chronic_injury(normal_ecg):
    table = labs(("hs-TnT", "30", "ng/L", 0), ("hs-TnT", "31", "ng/L", 1), sex="M", age=70)
    result = fuse(normal_ecg, table, _form(age=70, sex="M"))
    imp = result.impression("chronic_myocardial_injury")
    assert imp is not None and imp.urgency == "urgent" and result.troponin.pattern == "stable"
    assert not result.rules & ISCHAEMIA_RULES
    assert any("not used as an impression" in n for n in result.notes)  # ESC is for chest pain only
    assert any("No ischaemic symptom" in e.text for e in imp.evidence)


def test_rising_troponin_without_ischaemia_is_acute_injury(normal_ecg):
    table = labs(("hs-TnT", "30", "ng/L", 0), ("hs-TnT", "45", "ng/L", 1), sex="M", age=70)
    result = fuse(normal_ecg, table, _form(age=70, sex="M", symptoms=["dyspnoea", "no chest pain"]))
    assert result.impression("acute_myocardial_injury").urgency == "urgent"
    assert "acute_mi" not in result.rules


def test_rising_troponin_with_chest_pain_and_no_ecg_is_acute_mi():
    table = labs(("hs-TnT", "30", "ng/L", 0), ("hs-TnT", "45", "ng/L", 1))
    result = fuse(None, table, _form(age=70, sex="M", symptoms=["Central chest pain"]))
    assert result.impression("acute_mi").urgency == "emergency"
    assert any(n.startswith("no ECG") for n in result.notes)


def test_single_troponin_above_url_asks_for_a_repeat():
    result = fuse(None, labs(("hs-TnT", "40", "ng/L", 0)), _form(age=60, sex="F"))
    imp = result.impression("troponin_above_url_unconfirmed")
    assert imp.urgency == "urgent" and "repeat troponin" in imp.urgency_reason
    assert result.troponin.pattern == "single"


def test_troponin_of_unknown_assay_uses_the_printed_upper_limit():
    result = fuse(None, labs(("hs-TnI", "45", "ng/L", 0, "0-20")), _form(age=60, sex="F"))
    assert result.troponin.url == 20 and "printed" in result.troponin.url_source
    assert "troponin_above_url_unconfirmed" in result.rules
    unknown = fuse(None, labs(("hs-TnI", "45", "ng/L", 0)), _form(age=60, sex="F"))
    assert unknown.troponin.url is None and not unknown.impressions
    assert any("no 99th-percentile URL" in n for n in unknown.notes)


@pytest.mark.parametrize("sex, above", [("F", True), ("M", False)])
def test_troponin_url_is_sex_specific(sex, above):
    table = labs(("hs-TnI Architect", "20", "ng/L", 0), sex=sex, age=60)
    result = fuse(None, table, _form(age=60, sex=sex))
    assert result.troponin.url == {"F": 15.6, "M": 34.2}[sex]
    assert ("troponin_above_url_unconfirmed" in result.rules) is above


# ------------------------------------------------------------------------------------------------ ESC 0h/1h
def test_esc_observe_is_urgent_and_incomplete_is_a_note():
    chest = _form(age=55, sex="M", symptoms=["chest pain"])
    observe = fuse(None, labs(("hs-TnT", "10", "ng/L", 0), ("hs-TnT", "14", "ng/L", 1)), chest)
    assert observe.impression("esc_observe").urgency == "urgent" and observe.esc.category == "observe"
    incomplete = fuse(None, labs(("hs-TnT", "8", "ng/L", 0)), chest)
    assert incomplete.esc.category == "incomplete" and not incomplete.rules & ISCHAEMIA_RULES
    assert any("1h troponin" in n for n in incomplete.notes)


def test_esc_rule_in_by_0h_value():
    result = fuse(None, labs(("hs-TnT", "60", "ng/L", 0)), _form(age=55, sex="M", symptoms=["chest tightness"]))
    assert result.impression("esc_rule_in").urgency == "urgent"


# ------------------------------------------------------------------------------------------------ electrolytes
def test_severe_hyperkalaemia_with_and_without_wide_qrs(mi_ecg, normal_ecg):
    assert mi_ecg.measurements["qrs_duration"].value >= 120 > normal_ecg.measurements["qrs_duration"].value
    k = labs(("Potassium", "6.8", "mmol/L", 0))
    wide = fuse(mi_ecg, k, _form(age=81, sex="F")).impression("hyperkalaemia")
    narrow = fuse(normal_ecg, k, _form(age=28, sex="M")).impression("hyperkalaemia")
    assert wide.urgency == narrow.urgency == "emergency"
    assert "may explain the wide QRS" in wide.label and "may explain" not in narrow.label
    assert {e.kind for e in wide.evidence} == {"lab", "ecg"} and {e.kind for e in narrow.evidence} == {"lab"}
    assert any("6.8 mmol/L" in e.text and "3.5-5.3" in e.text for e in wide.evidence)
    assert any("QRS duration" in e.text and "136" in e.text for e in wide.evidence)


def test_moderate_hyperkalaemia_urgency_depends_on_the_ecg(mi_ecg, normal_ecg):
    k = labs(("Potassium", "5.8", "mmol/L", 0))
    assert fuse(normal_ecg, k, _form()).impression("hyperkalaemia").urgency == "urgent"
    assert fuse(mi_ecg, k, _form()).impression("hyperkalaemia").urgency == "emergency"
    assert "hyperkalaemia" not in fuse(normal_ecg, labs(("Potassium", "5.5", "mmol/L", 0)), _form()).rules  # > 5.5 only


def test_hypomagnesaemia_with_long_qt(mi_ecg, normal_ecg):
    assert mi_ecg.finding("long_qt") is not None and normal_ecg.finding("long_qt") is None
    mg = labs(("Magnesium", "0.5", "mmol/L", 0))
    with_qt = fuse(mi_ecg, mg, _form(age=81, sex="F")).impression("hypomagnesaemia")
    assert with_qt.urgency == "urgent" and "QT prolongation" in with_qt.label
    assert any(e.kind == "ecg" and "QTc 489" in e.text for e in with_qt.evidence)
    plain = fuse(normal_ecg, mg, _form()).impression("hypomagnesaemia")
    assert plain.urgency == "routine" and all(e.kind == "lab" for e in plain.evidence)


@pytest.mark.parametrize("value, urgency, explains", [("2.3", "emergency", True), ("3.2", "urgent", True)])
def test_hypokalaemia_with_st_depression_and_long_qt(mi_ecg, value, urgency, explains):
    imp = fuse(mi_ecg, labs(("Potassium", value, "mmol/L", 0)), _form()).impression("hypokalaemia")
    assert imp.urgency == urgency and ("ST depression" in imp.label) is explains


def test_mild_hypokalaemia_without_ecg_signs_is_routine(normal_ecg):
    assert fuse(normal_ecg, labs(("Potassium", "3.2", "mmol/L", 0)), _form()).impression("hypokalaemia").urgency == "routine"


def test_calcium_against_its_reference_range(mi_ecg, normal_ecg):
    low = fuse(mi_ecg, labs(("Calcium", "1.9", "mmol/L", 0)), _form()).impression("hypocalcaemia")
    assert low.urgency == "urgent" and "long QT" in low.label
    high = fuse(normal_ecg, labs(("Calcium", "2.9", "mmol/L", 0)), _form()).impression("hypercalcaemia")
    assert high.urgency == "routine" and "2.15-2.55" in high.evidence[0].text
    assert not fuse(normal_ecg, labs(("Calcium", "2.3", "mmol/L", 0)), _form()).impressions


# ------------------------------------------------------------------------------------------------ heart failure
@pytest.mark.parametrize("age, cut", [(80, 1800), (60, 900), (40, 450)])
def test_nt_probnp_2500_is_rule_in_at_every_age_with_the_age_cut_off(age, cut):
    result = fuse(None, labs(("NT-proBNP", "2500", "pg/mL", 0)), _form(age=age))
    imp = result.impression("hf_np_rule_in")
    assert imp.urgency == "urgent" and imp.code == "84114007"
    assert any(e.values.get("rule_in_above") == cut for e in imp.evidence)


@pytest.mark.parametrize("value, age, rule", [
    ("1200", 80, "hf_np_grey_zone"), ("1200", 60, "hf_np_rule_in"), ("800", 75, "hf_np_grey_zone"),
    ("950", 75, "hf_np_rule_in"), ("460", 49, "hf_np_rule_in"), ("300", 40, "hf_np_grey_zone"),
    ("2000", None, "hf_np_rule_in"), ("1000", None, "hf_np_grey_zone"),
])
def test_nt_probnp_bands(value, age, rule):
    result = fuse(None, labs(("NT-proBNP", value, "pg/mL", 0)), _form(age=age))
    assert {r for r in result.rules if r.startswith("hf_")} == {rule}


def test_natriuretic_rule_out_is_a_note_and_bnp_has_no_age_bands():
    out = fuse(None, labs(("NT-proBNP", "250", "pg/mL", 0)), _form(age=70))
    assert not out.impressions and any("acute heart failure unlikely" in n for n in out.notes)
    assert fuse(None, labs(("BNP", "150", "pg/mL", 0)), _form(age=70)).rules == {"hf_np_grey_zone"}
    assert not fuse(None, labs(("BNP", "50", "pg/mL", 0)), _form(age=70)).impressions


# ------------------------------------------------------------------------------------------------ kidney
def test_egfr_from_creatinine_and_from_the_report():
    severe = fuse(None, labs(("Creatinine", "2.1", "mg/dL", 0)), _form(age=81, sex="F"))
    assert severe.egfr.category == "G4" and severe.impression("egfr_below_30").urgency == "routine"
    moderate = fuse(None, labs(("Creatinine", "1.6", "mg/dL", 0)), _form(age=60, sex="M"))
    assert 30 <= moderate.egfr.value < 60 and moderate.rules == {"egfr_30_59"}
    reported = fuse(None, labs(("eGFR", "25", "mL/min/1.73m2", 0)), _form())
    assert reported.egfr.category == "G4" and reported.rules == {"egfr_below_30"}
    no_sex = fuse(None, labs(("Creatinine", "2.1", "mg/dL", 0)), _form(age=60))
    assert no_sex.egfr is None and any("age and sex are needed" in n for n in no_sex.notes)


# ------------------------------------------------------------------------------------------------ ECG-only rules
def test_ecg_only_impressions_from_engine_findings():
    ste = finding("st_elevation", leads=["II", "III", "aVF"], st_j_mm={"II": 2.1, "III": 2.4, "aVF": 1.8}, territory=["inferior"])
    result = fuse(fake_analysis(ste, finding("atrial_fibrillation"), finding("long_qt", qtc_ms=520.0, threshold_ms=450)), None, _form())
    _check_shape(result)
    assert result.impression("stemi_pattern").urgency == "emergency"
    assert "II 2.1 mm" in result.impression("stemi_pattern").evidence[0].text
    assert result.impression("atrial_fibrillation").urgency == "urgent"
    assert result.impression("long_qt_high_risk").urgency == "urgent" and "long_qt" not in result.rules
    assert fuse(fake_analysis(finding("long_qt", qtc_ms=480.0)), None, _form()).rules == {"long_qt"}


def test_lbbb_sgarbossa_avr_lvh_q_waves():
    result = fuse(fake_analysis(finding("complete_lbbb"), finding("sgarbossa", points=5, leads={"V5": "concordant ST elevation"}),
                                qrs_ms=150), None, _form())
    assert result.impression("sgarbossa_positive").urgency == "emergency" and "lbbb" in result.rules
    assert "V5 concordant ST elevation" in result.impression("sgarbossa_positive").evidence[0].text
    avr = fuse(fake_analysis(finding("avr_elevation_diffuse_depression", st_j_avr_mm=1.5, depressed_leads=["I", "II", "V4", "V5", "V6", "aVL"])), None, _form())
    assert avr.impression("avr_multivessel_pattern").urgency == "emergency"
    assert fuse(fake_analysis(finding("lvh", sokolow_lyon_mV=4.1)), None, _form()).rules == {"lvh"}
    st_t = fuse(fake_analysis(finding("st_depression", leads=["V4", "V5"], st_j_mm={"V4": -1.0, "V5": -1.2})), None, _form())
    assert st_t.impression("ischaemic_st_t").urgency == "urgent"


# ------------------------------------------------------------------------------------------------ HEART score
@pytest.mark.parametrize("history, findings, age, risk, trop, total, category", [
    ("moderate", ["lvh"], 50, ["HTN", "smoker"], 30.0, 5, "moderate"),          # 1+1+1+1+1 (30/14 = 2.1 x URL)
    ("high", ["st_depression"], 70, ["CAD"], 50.0, 10, "high"),                  # 2+2+2+2+2 (3.6 x URL)
    ("low", [], 30, [], 10.0, 0, "low"),                                         # all 0
    ("low", [], 44.9, ["dm"], 14.0, 1, "low"),                                   # trop = URL scores 0
    ("low", ["t_inversion"], 45, ["htn", "dm", "obese"], 42.0, 5, "moderate"),   # 0+1+1+2+1 (exactly 3 x URL)
    ("moderate", ["complete_lbbb"], 65, ["family history", "hyperlipidemia"], 43.0, 7, "high"),  # 1+1+2+1+2
])
def test_heart_score_components(history, findings, age, risk, trop, total, category):
    score = heart_score(fake_analysis(*[finding(f) for f in findings]), _form(history_suspicion=history, risk_factors=risk),
                        age=age, troponin_ng_l=trop, troponin_url_ng_l=14.0)
    assert (score.total, score.category) == (total, category), score.describe()


def test_heart_score_in_fusion_and_its_missing_parts(normal_ecg):
    table = labs(("hs-TnT", "30", "ng/L", 0), sex="M", age=50)
    form = _form(age=50, sex="M", symptoms=["chest pain"], history_suspicion="moderate", risk_factors=["HTN", "smoker"])
    result = fuse(normal_ecg, table, form)
    assert result.heart.total == 4 and result.impression("heart_moderate").urgency == "urgent"  # 1+0+1+1+1
    assert any(e.kind == "score" and "HEART score 4" in e.text for e in result.impression("heart_moderate").evidence)
    partial = fuse(normal_ecg, None, _form(age=50, symptoms=["chest pain"]))
    assert partial.heart.total is None and partial.heart.missing == ["History", "Troponin"]
    assert any("HEART score not computed: History, Troponin missing" in n for n in partial.notes)
    assert not {"heart_low", "heart_moderate", "heart_high"} & partial.rules
    assert fuse(normal_ecg, None, _form(age=50)).heart is None  # not a chest-pain presentation


def test_risk_factor_vocabulary():
    assert normalise_risk_factor("HTN") == "hypertension" and normalise_risk_factor("High blood pressure") == "hypertension"
    assert normalise_risk_factor("Type 2 diabetes") == "diabetes" and normalise_risk_factor("Current smoker") == "smoking"
    assert normalise_risk_factor("family_history") == "family_history" and normalise_risk_factor("prior MI") == "known_atherosclerosis"
    assert normalise_risk_factors(["DM", "dm", "gout"]) == (["diabetes"], ["gout"])
    result = fuse(None, None, _form(risk_factors=["gout", "HTN"]))
    assert result.risk_factors == ["hypertension"] and any("gout" in n for n in result.notes)


# ------------------------------------------------------------------------------------------------ missing inputs
def test_missing_inputs_give_notes_not_errors(normal_ecg):
    nothing = fuse(None, None, PatientContext("X"))
    assert nothing.impressions == [] and nothing.urgency == "routine" and nothing.heart is None
    assert any(n.startswith("no ECG") for n in nothing.notes) and any(n.startswith("no labs") for n in nothing.notes)
    no_labs = fuse(normal_ecg, None, _form(age=28, sex="M"))
    assert any("troponin-based rules" in n for n in no_labs.notes) and no_labs.esc is None and no_labs.egfr is None
    no_ecg = fuse(None, labs(("Potassium", "6.8", "mmol/L", 0)), _form())
    assert no_ecg.impression("hyperkalaemia").urgency == "emergency"
    assert any("no ECG, so its ECG signs were not assessed" in n for n in no_ecg.notes)
    assert any("not in the labs" in n and "troponin" in n for n in no_ecg.notes)


def test_labs_of_other_patients_are_not_used():
    table = labs(("Potassium", "6.8", "mmol/L", 0))
    table.loc[len(table)] = table.iloc[0]
    table.loc[len(table) - 1, "patient"] = "P2"
    result = fuse(None, table, PatientContext("P3"))
    assert not result.impressions and any("several patients" in n for n in result.notes)
    assert fuse(None, table, PatientContext("P1")).rules == {"hyperkalaemia"}
