"""The claim checker: phrase extraction (negation, hedges, leads, numbers), then the verdicts on MEASURED cases -
real CinC 2021 / PTB records and simulated ECGs - where true claims built from the engine's own measurements must
raise no false alarm and injected false claims must be caught (contradicted-claim recall, printed and asserted)."""
from __future__ import annotations

import dataclasses
import random
import time
from collections import Counter, defaultdict
from pathlib import Path

import pandas as pd
import pytest

from workbench.ecg import analyze, read_ecg, simulate_ecg
from workbench.ecg.analysis import ECGAnalysis
from workbench.ecg.measurements import Measurement
from workbench.ecg.tables import load_table
from workbench.explain.claims import LEAD_AWARE, RawClaim, check_claims, claim_score, extract_claims, load_vocabulary, parse_leads
from workbench.pipeline.types import Claim


# ------------------------------------------------------------------------------------------------ extraction
def _summary(claims: list[RawClaim]) -> set[str]:
    """'kind[leads]=value?' per claim (leads only for lead-aware claims, '?' when hedged)."""
    by_id = load_vocabulary().by_id
    out = set()
    for c in claims:
        s = c.kind
        if c.kind in by_id and by_id[c.kind].check in LEAD_AWARE and c.leads:
            s += "[" + ",".join(c.leads) + "]"
        if c.value is not None:
            s += f"={c.value:g}" + (f"-{c.value_high:g}" if c.value_high is not None else "")
        if c.hedged:
            s += "?"
        out.add(s)
    return out


INF, ANT = "II,III,aVF", "V1,V2,V3,V4"
EXTRACTION_CASES = [
    # rhythm and rate
    ("Sinus rhythm at 72 bpm.", {"sinus_rhythm", "rate=72"}),
    ("Normal sinus rhythm, HR 110 bpm.", {"normal_sinus_rhythm", "rate=110"}),
    ("Heart rate of 48 beats per minute, sinus bradycardia.", {"rate=48", "sinus_bradycardia"}),
    ("The ventricular rate is approximately 150/min.", {"rate=150"}),
    ("Rate 60-70 bpm.", {"rate=60-70"}),
    ("Atrial flutter with 2:1 block, atrial rate 300/min, ventricular rate 150 bpm.", {"atrial_flutter", "rate=150"}),
    ("Atrial fibrillation with rapid ventricular response.", {"atrial_fibrillation", "tachycardia"}),
    ("Irregularly irregular rhythm consistent with AF.", {"atrial_fibrillation"}),
    ("Occasional PVCs and one PAC.", {"premature_ventricular", "premature_atrial"}),
    ("Sinus tachycardia with frequent ventricular ectopics.", {"sinus_tachycardia", "premature_ventricular"}),
    # intervals and axis
    ("PR 210 ms, QRS 130 ms, QTc 500 ms.", {"pr=210", "qrs=130", "qtc=500"}),
    ("PR interval of 0.24 s consistent with first-degree AV block.", {"pr=240", "first_degree_av_block"}),
    ("QT/QTc 400/480 ms.", {"qt=400", "qtc=480"}),
    ("QTc (Bazett) 470 ms; prolonged QT interval.", {"qtc=470", "long_qt"}),
    ("QRS duration of 0.13 s with RBBB morphology.", {"qrs=130", "complete_rbbb"}),
    ("Left axis deviation (axis -45°).", {"left_axis_deviation", "axis=-45"}),
    ("QRS axis of +120 degrees, right axis deviation.", {"axis=120", "right_axis_deviation"}),
    ("Normal QRS axis. P axis 60.", {"normal_axis"}),
    ("Incomplete right bundle branch block.", {"incomplete_rbbb"}),
    ("Complete left bundle branch block; IVCD excluded.", {"complete_lbbb"}),
    ("Nonspecific intraventricular conduction delay.", {"ivcd"}),
    # ischaemia with leads / territories
    ("Acute inferior STEMI.", {f"st_elevation[{INF}]"}),
    ("ST elevation in II, III and aVF with reciprocal depression in I and aVL.", {f"st_elevation[{INF}]", "st_depression[I,aVL]"}),
    ("ST-segment elevation in leads V1-V4.", {f"st_elevation[{ANT}]"}),
    ("Anterior MI.", {f"mi[{ANT}]"}),
    ("T wave inversion in V5-V6 and lateral ST depression.", {"t_inversion[V5,V6]", "st_depression[I,aVL,V5,V6]"}),
    ("Old inferior MI with Q waves in III and aVF.", {f"old_mi[{INF}]", "pathological_q[III,aVF]"}),
    ("Leads V1 to V3 show T inversion.", {"t_inversion[V1,V2,V3]"}),
    # hypertrophy, voltage, QT
    ("LVH by voltage criteria.", {"lvh"}),
    ("Low QRS voltage in the limb leads.", {"low_voltage"}),
    ("Long QT.", {"long_qt"}),
    ("Short QT interval.", {"short_qt"}),
    # whole-ECG and electrolytes
    ("Normal ECG.", {"normal_ecg"}),
    ("ECG within normal limits.", {"normal_ecg"}),
    ("Intervals within normal limits.", {"normal_intervals"}),
    ("Peaked T waves suggestive of hyperkalaemia.", {"peaked_t", "hyperkalaemia?"}),
    # negation: not claims
    ("No ST elevation.", set()),
    ("Without evidence of atrial fibrillation.", set()),
    ("There is no evidence of acute ischaemia.", set()),
    ("Absence of pathological Q waves.", set()),
    ("Rule out myocardial infarction.", set()),
    ("No ST elevation, depression or T wave inversion.", set()),
    ("Atrial fibrillation is not present.", set()),
    ("Sinus rhythm, not atrial flutter.", {"sinus_rhythm"}),
    ("No LVH but RBBB is present.", {"complete_rbbb"}),
    ("No ST elevation, T inversion in V1.", {"t_inversion[V1]"}),
    ("Hyperkalaemia is unlikely.", set()),
    ("I cannot see any ST elevation.", set()),
    # hedges: still claims, marked
    ("Possible LVH.", {"lvh?"}),
    ("Atrial fibrillation cannot be excluded.", {"atrial_fibrillation?"}),
    ("Cannot rule out inferior STEMI.", {f"st_elevation[{INF}]?"}),
    ("Probable old anterior infarct.", {f"old_mi[{ANT}]?"}),
    ("Findings suspicious for RBBB.", {"complete_rbbb?"}),
    ("Borderline first-degree AV block.", {"first_degree_av_block?"}),
    # findings the engine has no rule for are still claims
    ("Ventricular tachycardia.", {"ventricular_tachycardia"}),
    ("WPW pattern with delta waves.", {"wpw"}),
    # duplicates in one text count once
    ("Atrial fibrillation. AF with controlled rate.", {"atrial_fibrillation"}),
    # sentence splitting: "approx." and decimals do not end a sentence; a new sentence resets negation
    ("Rate approx. 75 bpm. PR 0.16 s. No AF. LBBB.", {"rate=75", "pr=160", "complete_lbbb"}),
]


@pytest.mark.parametrize("text, expected", EXTRACTION_CASES, ids=[c[0][:40] for c in EXTRACTION_CASES])
def test_phrase_extraction(text, expected):
    assert _summary(extract_claims(None, text)) == expected


def test_there_are_at_least_forty_extraction_cases():
    negation = sum(1 for _, e in EXTRACTION_CASES if not e)
    hedged = sum(1 for _, e in EXTRACTION_CASES if any(s.endswith("?") for s in e))
    assert len(EXTRACTION_CASES) >= 40 and negation >= 8 and hedged >= 6


def test_negated_claims_are_returned_flagged_when_asked():
    claims = extract_claims(None, "No ST elevation. LBBB.", include_negated=True)
    assert [(c.kind, c.negated) for c in claims] == [("st_elevation", True), ("complete_lbbb", False)]
    assert all(not c.negated for c in extract_claims(None, "No ST elevation. LBBB."))


@pytest.mark.parametrize("text, leads", [
    ("in V1-V4", ["V1", "V2", "V3", "V4"]), ("V1 to 3", ["V1", "V2", "V3"]), ("II, III and aVF", ["II", "III", "aVF"]),
    ("leads I/aVL", ["I", "aVL"]), ("I, aVL, V5-V6", ["I", "aVL", "V5", "V6"]), ("avf and AVL", ["aVL", "aVF"]),
    ("I think not", []), ("lead I", ["I"]),
])
def test_lead_lists(text, leads):
    assert parse_leads(text) == leads


def test_json_findings_map_by_label_then_code_and_win_over_text():
    findings = [
        {"code": "164931005", "label": "ST elevation", "leads": ["II", "III", "aVF"], "confidence": 0.9, "rationale": "STE 2 mm"},
        {"code": "164889003", "label": "something the vocabulary lacks", "leads": [], "confidence": 0.8, "rationale": ""},
        {"code": "", "label": "Left bundle branch block", "leads": "V1-V3", "confidence": 0.3, "rationale": "QRS 150 ms"},
        {"code": "999", "label": "Mystery pattern", "leads": [], "confidence": 0.9, "rationale": ""},
        {"code": "", "label": "No ST depression", "leads": [], "confidence": 0.9, "rationale": ""},
    ]
    claims = extract_claims(findings, "Inferior ST elevation. Atrial fibrillation. QRS 150 ms.")
    kinds = [(c.kind, c.source) for c in claims]
    assert kinds.count(("st_elevation", "findings")) == 1 and ("st_elevation", "text") not in kinds  # stated twice, counted once
    assert ("atrial_fibrillation", "findings") in kinds and ("atrial_fibrillation", "text") not in kinds  # mapped by its code
    lbbb = next(c for c in claims if c.kind == "complete_lbbb")
    assert lbbb.hedged and "confidence" in lbbb.hedge and lbbb.leads == ("V1", "V2", "V3")
    assert next(c for c in claims if c.kind == "qrs").source == "findings"  # the rationale's number, stated again in the text
    unmapped = next(c for c in claims if c.kind == "unmapped")
    assert unmapped.code == "999" and unmapped.label == "Mystery pattern"
    assert not any(c.kind == "st_depression" for c in claims)  # a denied JSON finding is no claim


def test_json_finding_without_leads_takes_them_from_the_text():
    claims = extract_claims([{"code": "164931005", "label": "STEMI", "leads": [], "confidence": 0.9, "rationale": ""}],
                            "ST elevation in V2-V4.")
    assert len(claims) == 1 and claims[0].source == "findings" and claims[0].leads == ("V2", "V3", "V4")


def test_vocabulary_covers_every_engine_label_and_code():
    """Every label the engine writes maps back onto that engine rule's code (so true claims round-trip)."""
    criteria = load_table("criteria")
    for name, table in criteria.items():
        if "label" not in table:
            continue
        claims = extract_claims([{"code": table["code"], "label": table["label"], "leads": [], "confidence": 0.9, "rationale": ""}], "")
        assert table["code"] in {c.code for c in claims}, (name, table["label"], [c.kind for c in claims])


# ------------------------------------------------------------------------------------------------ measured cases
SYNTHETIC = {
    "sim_af": {"rhythm": "af", "heart_rate": 95, "seed": 1},
    "sim_flutter": {"rhythm": "flutter", "heart_rate": 150, "flutter_rate": 300},
    "sim_rbbb": {"conduction": "rbbb", "qrs_ms": 140},
    "sim_lbbb": {"conduction": "lbbb", "qrs_ms": 150},
    "sim_st_inferior": {"st_shift_mv": 0.2, "st_direction": (90.0, -0.2)},
    "sim_st_anterior": {"st_shift_mv": 0.11, "st_direction": (90.0, 4.0), "seed": 5, "sex": "F", "age": 50},
    "sim_pvc": {"pvc_every": 4},
    "sim_brady": {"heart_rate": 45},
    "sim_tachy": {"heart_rate": 125},
    "sim_avb_long_qt": {"pr_ms": 280, "qtc_ms": 520, "sex": "F"},
    "sim_lad": {"qrs_axis_deg": -60},
    "sim_low_voltage": {"r_amplitude_mv": 0.35, "t_amplitude_mv": 0.1},
}


@pytest.fixture(scope="module")
def cases(ecg_data: Path) -> dict[str, ECGAnalysis]:
    """Every record analysed once: the 25 CinC 2021 records, PTB s0010_re (acute infero-lateral MI), and simulations."""
    started = time.perf_counter()
    out = {p.stem: analyze(read_ecg(p)) for p in sorted((ecg_data / "cinc2021").glob("*.hea"))}
    out["s0010_re"] = analyze(read_ecg(ecg_data / "ptbdb" / "s0010_re.hea"))
    out.update({name: analyze(simulate_ecg(**spec)) for name, spec in SYNTHETIC.items()})
    print(f"\nanalysed {len(out)} cases in {time.perf_counter() - started:.1f} s")
    assert sum(1 for k in out if not k.startswith("sim_") and k != "s0010_re") == 25
    return out


def _m(a: ECGAnalysis, name: str) -> float | None:
    m = a.measurements.get(name)
    return None if m is None else m.value


def _usable(a: ECGAnalysis) -> set[str]:
    return set(a.quality["usable_leads"])


def _leads_text(leads: list[str], style: int) -> str:
    """Lead lists the way people write them: 'V1-V4', 'II, III and aVF', 'leads V5/V6'."""
    precordial = [lead for lead in leads if lead.startswith("V") and lead[1:].isdigit()]
    if style % 3 == 0 and len(precordial) == len(leads) >= 3 and [int(x[1:]) for x in leads] == list(range(int(leads[0][1:]), int(leads[-1][1:]) + 1)):
        return f"{leads[0]}-{leads[-1]}"
    if style % 3 == 1 and len(leads) >= 2:
        return ", ".join(leads[:-1]) + " and " + leads[-1]
    return "leads " + "/".join(leads)


PHRASES = {
    "sinus_rhythm": ["Normal sinus rhythm.", "Sinus rhythm.", "The rhythm is regular: NSR."],
    "sinus_bradycardia": ["Sinus bradycardia.", "Sinus bradycardic rhythm.", "Bradycardia of sinus origin: sinus bradycardia."],
    "sinus_tachycardia": ["Sinus tachycardia.", "sinus tachycardic rhythm.", "The ECG shows sinus tachycardia."],
    "atrial_fibrillation": ["Atrial fibrillation.", "AF with an irregularly irregular ventricular response.", "Rhythm: AFib."],
    "atrial_flutter": ["Atrial flutter.", "Flutter waves are seen.", "Atrial flutter with variable block."],
    "premature_atrial": ["Premature atrial complexes.", "Occasional PACs.", "Atrial ectopic beats are present."],
    "premature_ventricular": ["Premature ventricular complexes.", "PVCs noted.", "Ventricular ectopics are seen."],
    "first_degree_av_block": ["First-degree AV block.", "1st degree AV block.", "Prolonged PR interval."],
    "complete_rbbb": ["Right bundle branch block.", "RBBB.", "Complete RBBB pattern."],
    "incomplete_rbbb": ["Incomplete right bundle branch block.", "Incomplete RBBB."],
    "complete_lbbb": ["Left bundle branch block.", "LBBB.", "Complete LBBB."],
    "ivcd": ["Nonspecific intraventricular conduction delay.", "IVCD."],
    "left_axis_deviation": ["Left axis deviation.", "Leftward axis deviation is present."],
    "right_axis_deviation": ["Right axis deviation.", "Rightward axis."],
    "lvh": ["LVH by voltage criteria.", "Left ventricular hypertrophy.", "Possible LVH."],
    "rvh": ["Right ventricular hypertrophy.", "RVH."],
    "low_voltage": ["Low QRS voltage.", "Low voltage QRS complexes."],
    "long_qt": ["Prolonged QT interval.", "QTc prolongation.", "Long QT."],
    "short_qt": ["Short QT interval.", "The QTc is short."],
    "st_elevation": ["ST elevation in {leads}.", "ST-segment elevation in {leads}.", "{Territory} ST elevation."],
    "st_depression": ["ST depression in {leads}.", "Horizontal ST-segment depression in {leads}.", "{Territory} ST depression."],
    "avr_elevation_diffuse_depression": ["ST elevation in aVR with widespread ST depression."],
    "t_inversion": ["T wave inversion in {leads}.", "Inverted T waves in {leads}.", "{Territory} T wave inversion."],
    "t_abnormal": ["T wave abnormality.", "Flattened T waves.", "Nonspecific T wave changes."],
    "pathological_q": ["Pathological Q waves in {leads}.", "Q waves in {leads}.", "{Territory} Q waves."],
    "sgarbossa": ["Sgarbossa criteria met."],
}


def true_claims(a: ECGAnalysis, rng: random.Random) -> list[tuple[list[dict] | None, str]]:
    """Claims that the measurements support, phrased in varied natural language and as JSON findings."""
    out: list[tuple[list[dict] | None, str]] = []
    for i, f in enumerate(a.findings):
        leads = [x for x in f.evidence.get("leads", []) if isinstance(x, str)] if isinstance(f.evidence.get("leads"), list) else []
        territory = (f.evidence.get("territory") or [""])[0]
        for j, phrase in enumerate(PHRASES[f.rule]):
            if "{leads}" in phrase and not leads or "{Territory}" in phrase and not territory:
                continue
            out.append((None, phrase.format(leads=_leads_text(leads, i + j), Territory=territory.capitalize())))
        out.append(([{"code": f.code, "label": f.label, "leads": leads, "confidence": round(f.score, 2), "rationale": ""}], ""))
    hr, pr, qrs, qtc_f, qtc_b, axis = (_m(a, n) for n in ("heart_rate", "pr_interval", "qrs_duration", "qtc_fridericia", "qtc_bazett", "qrs_axis"))
    if hr is not None:
        v = round(hr + rng.uniform(-5, 5))
        out += [(None, f"HR {v} bpm."), (None, f"Rate of {round(hr)}."), (None, f"Ventricular rate approximately {v} beats per minute.")]
    if pr is not None:
        out += [(None, f"PR {round(pr + rng.uniform(-10, 10))} ms."), (None, f"PR interval of {pr / 1000:.2f} s.")]
    if qrs is not None:
        out += [(None, f"QRS {round(qrs + rng.uniform(-10, 10))} ms."), (None, f"QRS duration {round(qrs)} ms.")]
    if qtc_f is not None:
        out += [(None, f"QTc {round(qtc_f + rng.uniform(-15, 15))} ms."), (None, f"QTc (Bazett) {round(qtc_b)} ms.")]
    if axis is not None:
        out += [(None, f"QRS axis {round(axis + rng.uniform(-8, 8)):+d}°."), (None, f"Frontal axis of {round(axis)} degrees.")]
        if -15 <= axis <= 75:
            out.append((None, "Normal QRS axis."))
    rules = {f.rule for f in a.findings}
    if rules == {"sinus_rhythm"}:
        out += [(None, "Normal ECG."), (None, "ECG within normal limits.")]
    abnormal = sorted(f.label for f in a.findings if f.rule != "sinus_rhythm")
    if abnormal:
        out.append((None, "Abnormal ECG."))
    return out


def _contiguous_usable(a: ECGAnalysis, leads: list[str]) -> bool:
    usable = [lead for lead in leads if lead in _usable(a)]
    return len(usable) >= 2


def false_claims(a: ECGAnalysis) -> list[tuple[str, str, list[dict] | None, str]]:
    """(type, expected kind, findings, text) for claims the measurements clearly contradict."""
    crit = load_table("criteria")
    out: list[tuple[str, str, list[dict] | None, str]] = []
    rules = {f.rule for f in a.findings}
    sinus = rules & {"sinus_rhythm", "sinus_bradycardia", "sinus_tachycardia"}
    irr, hr, dom = _m(a, "rr_irregularity"), _m(a, "heart_rate"), _m(a, "dominant_rate")
    pr, qrs, qtc_f, qtc_b, axis = (_m(a, n) for n in ("pr_interval", "qrs_duration", "qtc_fridericia", "qtc_bazett", "qrs_axis"))
    usable = _usable(a)
    lead = lambda name, key: a.leads.get(name, {}).get(key).value if name in usable and a.leads.get(name, {}).get(key) is not None else None  # noqa: E731

    # AF on a regular sinus record with P waves
    if sinus and "atrial_fibrillation" not in rules and irr is not None and irr < crit["atrial_fibrillation"]["irregularity_min"]:
        out += [("AF on regular sinus", "atrial_fibrillation", None, "Atrial fibrillation."),
                ("AF on regular sinus", "atrial_fibrillation", [{"code": "164889003", "label": "Atrial fibrillation", "leads": [], "confidence": 0.9, "rationale": ""}], "")]
    # normal sinus rhythm on AF
    if "atrial_fibrillation" in rules and not sinus:
        out.append(("NSR on AF", "normal_sinus_rhythm", None, "Normal sinus rhythm."))
    # STEMI where no lead reaches 0.5 mm
    st = [lead(x, "st_j_mm") for x in usable if x != "aVR"]
    st = [v for v in st if v is not None]
    if "st_elevation" not in a.not_assessed and st and max(st) < 0.5:
        if _contiguous_usable(a, ["II", "III", "aVF"]):
            out.append(("STEMI, max ST < 0.5 mm", "st_elevation", None, "Acute inferior STEMI."))
        if _contiguous_usable(a, ["V1", "V2", "V3", "V4"]):
            out += [("STEMI, max ST < 0.5 mm", "st_elevation", None, "ST elevation in V1-V4."),
                    ("STEMI, max ST < 0.5 mm", "st_elevation", [{"code": "164931005", "label": "ST elevation", "leads": ["V2", "V3", "V4"], "confidence": 0.8, "rationale": ""}], "")]
        out.append(("STEMI, max ST < 0.5 mm", "st_elevation", None, "Significant ST elevation."))
    # ST depression where no lead is depressed by 0.2 mm
    levels = [max(lead(x, "st_j_mm"), lead(x, "st_j60_mm") if lead(x, "st_j60_mm") is not None else -99) for x in usable if x != "aVR" and lead(x, "st_j_mm") is not None]
    if "st_depression" not in a.not_assessed and levels and min(levels) > -0.2 and _contiguous_usable(a, ["V4", "V5", "V6"]):
        out.append(("ST depression absent", "st_depression", None, "ST depression in V4-V6."))
    # T inversion in leads whose T is upright
    t = [lead(x, "t_amplitude") for x in ("V5", "V6")]
    if "t_inversion" not in a.not_assessed and all(v is not None and v > 0.1 for v in t):
        out.append(("T inversion on upright T", "t_inversion", None, "T wave inversion in V5 and V6."))
    # old inferior MI without Q waves
    qs = [(lead(x, "q_duration"), lead(x, "q_amplitude"), lead(x, "r_amplitude")) for x in ("II", "aVF")]
    if "pathological_q" not in a.not_assessed and all(q[0] is not None and q[0] < 20 and q[2] and q[2] > 0.1 and q[1] / q[2] < 0.1 for q in qs):
        out.append(("old MI without Q", "old_mi", None, "Old inferior MI."))
    # rate off by 25 bpm (away from the dominant rate)
    if hr is not None:
        sign = -1 if dom is not None and dom > hr else 1
        out.append(("rate off by 25 bpm", "rate", None, f"Heart rate {round(hr + sign * 25)} bpm."))
    if hr is not None and max(hr, dom or hr) < 90:
        out.append(("tachycardia at < 90 bpm", "sinus_tachycardia", None, "Sinus tachycardia."))
    if hr is not None and min(hr, dom or hr) > 70:
        out.append(("bradycardia at > 70 bpm", "bradycardia", None, "Bradycardia."))
    # conduction
    if qrs is not None and qrs < 110:
        out += [("LBBB with QRS < 110 ms", "complete_lbbb", None, "Left bundle branch block."),
                ("RBBB with narrow QRS", "complete_rbbb", None, "RBBB."),
                ("LBBB with QRS < 110 ms", "complete_lbbb", [{"code": "164909002", "label": "LBBB", "leads": [], "confidence": 0.7, "rationale": ""}], "")]
    if pr is not None and pr < 180:
        out.append(("AV block with PR < 180 ms", "first_degree_av_block", None, "First-degree AV block."))
    # QT
    if qtc_f is not None and qtc_f < 430:
        out.append(("long QT with QTc < 430", "long_qt", None, "Marked QT prolongation."))
    # values off the measurement
    if pr is not None:
        out.append(("PR off by 60 ms", "pr", None, f"PR interval {(pr + 60) / 1000:.2f} s."))
    if qrs is not None:
        out.append(("QRS off by 50 ms", "qrs", None, f"QRS {round(qrs + 50)} ms."))
    if qtc_f is not None and qtc_b is not None:
        out.append(("QTc off by 80 ms", "qtc", None, f"QTc {round(max(qtc_f, qtc_b) + 80)} ms."))
    if axis is not None:
        shifted = (axis + 70 + 180) % 360 - 180
        out.append(("axis off by 70 deg", "axis", None, f"QRS axis {round(shifted):+d}°."))
        if 0 < axis < 150:
            out.append(("LAD with axis > 0", "left_axis_deviation", None, "Left axis deviation."))
        if -60 < axis < 60:
            out.append(("RAD with axis < 60", "right_axis_deviation", None, "Right axis deviation."))
    # normal ECG on a clearly abnormal record
    if any(f.rule != "sinus_rhythm" and f.score >= 0.7 for f in a.findings):
        out += [("normal ECG on abnormal record", "normal_ecg", None, "Normal ECG."),
                ("normal ECG on abnormal record", "normal_ecg", None, "ECG within normal limits.")]
    # ectopy and hypertrophy that are not there
    if a.segment is not None and a.segment.features.get("ventricular_beats") == 0:
        out.append(("PVCs with none detected", "premature_ventricular", None, "Frequent PVCs."))
    s_v1, r_v5, r_v6, r_avl, s_v3 = (lead(*x) for x in (("V1", "s_amplitude"), ("V5", "r_amplitude"), ("V6", "r_amplitude"), ("aVL", "r_amplitude"), ("V3", "s_amplitude")))
    cornell_limit = crit["lvh"]["cornell_women_mv"] if a.info.get("sex") == "F" else crit["lvh"]["cornell_men_mv"]
    if None not in (s_v1, r_v5, r_v6, r_avl, s_v3) and s_v1 + max(r_v5, r_v6) < 3.0 and r_avl + s_v3 < cornell_limit - 0.35:
        out.append(("LVH without voltage", "lvh", None, "Left ventricular hypertrophy."))
    return out


@pytest.fixture(scope="module")
def verdicts(cases):
    """Every true and injected false claim checked once: {'true': [(case, text, Claim)], 'false': [(case, type, text, Claim)]}."""
    rng = random.Random(7)
    true, false = [], []
    for name, a in cases.items():
        for findings, text in true_claims(a, rng):
            for claim in check_claims(extract_claims(findings, text), a):
                true.append((name, text or str(findings), claim))
        for kind_of_error, kind, findings, text in false_claims(a):
            raw = [c for c in extract_claims(findings, text) if c.kind == kind]
            assert raw, (name, text, findings, kind, [c.kind for c in extract_claims(findings, text)])
            for claim in check_claims(raw, a):
                false.append((name, kind_of_error, text or str(findings), claim))
    return {"true": true, "false": false}


def test_true_claims_raise_no_false_alarm(verdicts):
    true = verdicts["true"]
    statuses = Counter(c.status for _, _, c in true)
    alarms = [(name, text, c.reason) for name, text, c in true if c.status == "contradicted"]
    print(f"\ntrue claims: {len(true)} checked, {statuses['supported']} supported, {statuses['not assessed']} not assessed, "
          f"{len(alarms)} contradicted (false alarms)")
    for name, text, reason in [(n, t, c.reason) for n, t, c in true if c.status == "not assessed"][:10]:
        print("   not assessed:", name, text, "->", reason[:160])
    assert len(true) >= 500
    assert not alarms, alarms[:5]
    assert statuses["supported"] / len(true) >= 0.95  # true claims are confirmed, not merely left open


def test_injected_false_claims_are_caught(verdicts):
    false = verdicts["false"]
    per_type: dict[str, list[bool]] = defaultdict(list)
    for _, kind_of_error, _, claim in false:
        per_type[kind_of_error].append(claim.status == "contradicted")
    recall = sum(sum(v) for v in per_type.values()) / len(false)
    print(f"\ninjected false claims: {len(false)} over {len({n for n, *_ in false})} cases, contradicted-claim recall {recall:.3f}")
    for kind_of_error, hits in sorted(per_type.items()):
        print(f"   {kind_of_error:32s} {sum(hits):3d}/{len(hits):3d}")
    missed = [(n, k, t, c.status, c.reason[:200]) for n, k, t, c in false if c.status != "contradicted"]
    for m in missed:
        print("   missed:", m)
    assert len(false) >= 300 and len(per_type) >= 15
    assert recall >= 0.95, missed[:5]
    assert all(any(ch.isdigit() for ch in c.reason) for *_, c in false if c.status == "contradicted")  # reasons quote measured values


def test_contradicted_reasons_quote_the_measurements(cases):
    a = cases["E07506"]  # normal sinus record
    stemi, af, lbbb, rate, lqt = check_claims(extract_claims(None, "Inferior STEMI. Atrial fibrillation. LBBB. HR 110 bpm. Long QT."), a)
    assert stemi.status == "contradicted" and "II" in stemi.reason and "mm" in stemi.reason and "UDMI" in stemi.reason
    assert af.status == "contradicted" and "irregularity" in af.reason and "P waves present" in af.reason
    assert lbbb.status == "contradicted" and f"QRS {a.measurements['qrs_duration'].value:.0f} ms" in lbbb.reason
    assert rate.status == "contradicted" and f"{a.measurements['heart_rate'].value:.0f}" in rate.reason
    assert lqt.status == "contradicted" and "QTc (Fridericia)" in lqt.reason


def test_lead_specific_claims_check_those_leads(cases):
    a = cases["sim_st_inferior"]  # ST elevation in II, III, aVF by construction
    inferior, anterior = check_claims(extract_claims(None, "ST elevation in II, III and aVF. ST elevation in V1-V4."), a)
    [single] = check_claims(extract_claims(None, "ST elevation in aVF."), a)
    [lateral] = check_claims(extract_claims(None, "Lateral ST elevation."), a)
    assert (inferior.status, anterior.status, single.status, lateral.status) == ("supported", "contradicted", "supported", "contradicted")
    assert "V1" in anterior.reason and inferior.label == "ST elevation (II, III, aVF)"


# ------------------------------------------------------------------------------------------------ not assessed
def _without(a: ECGAnalysis, *names: str) -> ECGAnalysis:
    measurements = dict(a.measurements)
    for name in names:
        measurements[name] = Measurement.missing(measurements[name].unit, "test: not measurable")
    return dataclasses.replace(a, measurements=measurements)


def test_missing_measurement_is_not_assessed(cases):
    a = _without(cases["E07506"], "pr_interval", "qtc_bazett", "qtc_fridericia", "qrs_axis")
    claims = check_claims(extract_claims(None, "PR 300 ms. QTc 520 ms. Axis +170°. Right axis deviation."), a)
    assert [c.status for c in claims] == ["not assessed"] * 4
    assert all("not measur" in c.reason for c in claims)


def test_unassessable_and_unknown_findings_are_not_assessed(cases):
    lbbb = cases["sim_lbbb"]
    stemi, vt = check_claims(extract_claims(None, "Anterior ST elevation. Ventricular tachycardia."), lbbb)
    assert stemi.status == "not assessed" and "left bundle branch block" in stemi.reason.lower()
    assert vt.status == "not assessed" and "no rule" in vt.reason
    [v4r] = check_claims(extract_claims(None, "ST elevation in V4R."), cases["E07506"])  # right-sided leads not recorded
    assert v4r.status == "not assessed" and "V4R" in v4r.reason
    [unmapped] = check_claims(extract_claims([{"code": "", "label": "Mystery pattern", "leads": [], "confidence": 0.9, "rationale": ""}], ""), lbbb)
    assert unmapped.status == "not assessed" and unmapped.code == "" and unmapped.source == "findings"


def _labs(value: float | None, analyte: str = "potassium", flag: str | None = None) -> pd.DataFrame:
    return pd.DataFrame([{"analyte": analyte, "canonical_value": value, "canonical_unit": "mmol/L", "ref_low": 3.5, "ref_high": 5.1, "flag": flag}])


@pytest.mark.parametrize("labs, status", [
    (None, "not assessed"), (_labs(6.2, flag="H"), "supported"), (_labs(5.6), "supported"), (_labs(4.1), "contradicted"),
    (_labs(2.3, analyte="magnesium"), "not assessed"), (pd.DataFrame(columns=["analyte", "canonical_value"]), "not assessed"),
])
def test_electrolyte_claims_check_the_labs(cases, labs, status):
    [claim] = check_claims(extract_claims(None, "Peaked T waves, suggestive of hyperkalaemia."), cases["E07506"], labs)[1:]
    assert claim.status == status and claim.code == "wb:hyperkalaemia" and "Hedged" in claim.reason
    if labs is not None and status != "not assessed":
        assert "potassium" in claim.reason and "mmol/L" in claim.reason


def test_rate_tolerance_can_be_set(cases):
    a = cases["E07506"]
    hr = a.measurements["heart_rate"].value
    raw = extract_claims(None, f"HR {round(hr + 14)} bpm.")
    assert check_claims(raw, a)[0].status == "contradicted"
    assert check_claims(raw, a, rate_tolerance_bpm=20)[0].status == "supported"


def test_otherwise_normal_excuses_only_what_the_model_named(cases):
    a = cases["E07500"]  # sinus bradycardia only
    assert {f.rule for f in a.findings} == {"sinus_bradycardia"}
    plain = check_claims(extract_claims(None, "Normal ECG."), a)[0]
    otherwise = check_claims(extract_claims(None, "Sinus bradycardia, otherwise normal ECG."), a)
    assert plain.status == "contradicted"
    assert [c.status for c in otherwise] == ["supported", "supported"]


# ------------------------------------------------------------------------------------------------ score
def test_claim_score_counts_and_summary():
    claims = [Claim("a", "1", "AF", "supported", "r"), Claim("b", "2", "LBBB", "contradicted", "r"),
              Claim("c", "3", "VT", "not assessed", "r"), Claim("d", "4", "RBBB", "supported", "r")]
    score = claim_score(claims)
    assert score["counts"] == {"supported": 2, "contradicted": 1, "not assessed": 1}
    assert score["assessed"] == 3 and score["supported_share"] == pytest.approx(2 / 3)
    assert score["contradicted"] == ["LBBB"]
    assert score["summary"] == "4 model claims: 2 supported, 1 contradicted, 1 not assessed (67% of assessed supported); contradicted: LBBB."
    empty = claim_score([])
    assert empty["supported_share"] is None and empty["total"] == 0 and "no checkable claim" in empty["summary"]
    only_open = claim_score([Claim("c", "3", "VT", "not assessed", "r")])
    assert only_open["supported_share"] is None and "%" not in only_open["summary"]


def test_borderline_measurements_are_not_assessed(cases):
    """s0010_re: ST 0.98 mm in III and 0.69 mm in aVF (limit 1 mm) and a QRS axis of -98 deg (LAD band -90 to -30):
    too close to call either way, so neither supported nor contradicted."""
    a = cases["s0010_re"]
    stemi, lad = check_claims(extract_claims(None, "Inferior STEMI. Left axis deviation."), a)
    assert stemi.status == "not assessed" and stemi.reason.startswith("Borderline") and "III" in stemi.reason
    assert lad.status == "not assessed" and "Borderline" in lad.reason
