"""ECG findings from measurements, by cited rules whose thresholds are data (``tables/criteria.toml``).

Each rule returns a score in [0, 1] (0.5 at the published threshold; used for ROC analysis) and the
evidence it used: leads, measured values and the thresholds applied. A finding is stated when its score
is at least 0.5; rules that cannot be assessed (missing measurements) say why instead of guessing.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .leads import PRECORDIAL_LEADS, standard_order
from .measurements import Measurement
from .tables import load_table


@dataclass
class Finding:
    code: str
    label: str
    score: float
    evidence: dict[str, Any] = field(default_factory=dict)
    citation: str = ""
    rule: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "label": self.label, "score": round(self.score, 3), "rule": self.rule, "evidence": self.evidence, "citation": self.citation}


@dataclass
class RuleContext:
    """What rules may read: global measurements, per-lead values, rhythm features and the patient."""

    measurements: dict[str, Measurement]
    leads: dict[str, dict[str, Measurement]]
    features: dict[str, float]
    age: float | None = None
    sex: str | None = None
    usable_leads: set[str] = field(default_factory=set)

    def value(self, name: str) -> float | None:
        m = self.measurements.get(name)
        return None if m is None else m.value

    def lead_value(self, lead: str, name: str) -> float | None:
        if lead not in self.usable_leads:
            return None
        m = self.leads.get(lead, {}).get(name)
        return None if m is None else m.value


@dataclass
class RuleResult:
    score: float | None  # None = not assessable
    evidence: dict[str, Any]


RuleFn = Callable[[RuleContext, dict[str, Any]], RuleResult]
_RULES: dict[str, RuleFn] = {}


def rule(name: str) -> Callable[[RuleFn], RuleFn]:
    def register(fn: RuleFn) -> RuleFn:
        _RULES[name] = fn
        return fn

    return register


def ramp(value: float, threshold: float, scale: float) -> float:
    """Logistic score: 0.5 at ``threshold``, rising with ``value`` (use negative scale for 'below')."""
    return float(1.0 / (1.0 + np.exp(-np.clip((value - threshold) / scale, -50, 50))))


def _missing(reason: str) -> RuleResult:
    return RuleResult(None, {"not_assessed": reason})


def _r(x: float | None, nd: int = 2) -> float | None:
    return None if x is None else round(float(x), nd)


# ----------------------------------------------------------------------------------------- contiguity
def contiguous_groups(leads: list[str], table: dict[str, Any]) -> list[list[str]]:
    """Split positive leads into runs of anatomically contiguous leads (Cabrera limb order, V1..V6, territories)."""
    positive = set(leads)
    pairs: set[frozenset[str]] = set()
    for order in (table["limb_order"], table["precordial"]):
        for a, b in zip(order, order[1:]):
            if a in positive and b in positive:
                pairs.add(frozenset((a, b)))
    for members in table["territories"].values():
        hits = [lead for lead in members if lead in positive]
        pairs.update(frozenset((a, b)) for a in hits for b in hits if a < b)
    groups: list[set[str]] = []
    for lead in leads:
        linked = [g for g in groups if any(frozenset((lead, other)) in pairs for other in g)]
        merged = {lead}.union(*linked) if linked else {lead}
        groups = [g for g in groups if g not in linked] + [merged]
    return [sorted(g, key=leads.index) for g in groups]


def territory_of(leads: list[str], table: dict[str, Any]) -> list[str]:
    names = [name for name, members in table["territories"].items() if any(lead in members for lead in leads)]
    return names


def _contiguous_score(per_lead: dict[str, float], min_contiguous: int, contiguity: dict[str, Any]) -> tuple[float, list[str]]:
    """Score of the best run of contiguous leads: the ``min_contiguous``-th best lead score within it."""
    positive = [lead for lead, s in per_lead.items() if s >= 0.5]
    best, best_group = 0.0, []
    candidates = contiguous_groups(positive, contiguity) if positive else []
    for group in candidates:
        scores = sorted((per_lead[lead] for lead in group), reverse=True)
        if len(scores) >= min_contiguous and scores[min_contiguous - 1] > best:
            best, best_group = scores[min_contiguous - 1], group
    if not best_group:  # graded score below threshold: second-best lead anywhere, capped under 0.5
        ranked = sorted(per_lead.values(), reverse=True)
        best = min(0.49, ranked[min_contiguous - 1]) if len(ranked) >= min_contiguous else 0.0
    return best, best_group


# ----------------------------------------------------------------------------------------- rhythm
def _sinus_score(ctx: RuleContext, p: dict[str, Any]) -> tuple[float | None, dict[str, Any]]:
    """Probability-like score that the rhythm is sinus: consistent P waves with a sinus-range axis and PR."""
    consistency = ctx.features.get("p_consistency")
    if consistency is None:
        return None, {"not_assessed": "no median beat"}
    pr, axis = ctx.value("pr_interval"), ctx.value("p_axis")
    flutter = _atrial_flutter(ctx, load_table("criteria")["atrial_flutter"]).score or 0.0
    score = min(ramp(consistency, p["p_consistency_min"], 0.08), 1.0 - flutter)  # regular flutter waves mimic P waves
    if axis is not None:
        outside = max(0.0, p["p_axis_low"] - axis, axis - p["p_axis_high"])
        score *= ramp(-outside, -p["p_axis_tolerance"], 5.0)
    evidence = {"p_consistency": _r(consistency), "pr_interval_ms": _r(pr, 0), "p_axis_deg": _r(axis, 0)}
    return score, evidence


@rule("sinus_rhythm")
def _sinus_rhythm(ctx: RuleContext, p: dict[str, Any]) -> RuleResult:
    sinus, evidence = _sinus_score(ctx, p)
    hr = ctx.value("heart_rate")
    if sinus is None or hr is None:
        return _missing("heart rate or P waves not measurable")
    in_range = min(ramp(hr, p["hr_low"], p["scale_hr"]), ramp(hr, p["hr_high"], -p["scale_hr"]))
    return RuleResult(min(sinus, in_range), {**evidence, "heart_rate_bpm": _r(hr, 0), "thresholds": {"hr_bpm": [p["hr_low"], p["hr_high"]]}})


def _sinus_rate(ctx: RuleContext, p: dict[str, Any], threshold: float, scale: float) -> RuleResult:
    sinus, evidence = _sinus_score(ctx, load_table("criteria")["sinus_rhythm"])
    hr = ctx.value("heart_rate")
    if sinus is None or hr is None:
        return _missing("heart rate or P waves not measurable")
    return RuleResult(min(sinus, ramp(hr, threshold, scale)), {**evidence, "heart_rate_bpm": _r(hr, 0), "threshold_bpm": threshold})


@rule("sinus_bradycardia")
def _sinus_brady(ctx: RuleContext, p: dict[str, Any]) -> RuleResult:
    return _sinus_rate(ctx, p, p["hr_below"], -p["scale_hr"])


@rule("sinus_tachycardia")
def _sinus_tachy(ctx: RuleContext, p: dict[str, Any]) -> RuleResult:
    return _sinus_rate(ctx, p, p["hr_above"], p["scale_hr"])


@rule("atrial_fibrillation")
def _atrial_fibrillation(ctx: RuleContext, p: dict[str, Any]) -> RuleResult:
    irregularity = ctx.value("rr_irregularity")
    if irregularity is None:
        return _missing("too few beats to judge RR regularity")
    consistency = ctx.features.get("p_consistency", 0.0)
    dispersion = ctx.value("rr_cluster_dispersion") or 0.0
    irregular = ramp(irregularity, p["irregularity_min"], p["scale_irregularity"])
    unpatterned = ramp(dispersion, p["dispersion_min"], p["scale_dispersion"])
    no_p = ramp(consistency, p["p_consistency_max"], -p["scale_p"])
    return RuleResult(min(irregular, unpatterned, no_p), {
        "rr_irregularity": _r(irregularity, 3), "rr_cluster_dispersion": _r(dispersion, 3), "p_consistency": _r(consistency),
        "heart_rate_bpm": _r(ctx.value("heart_rate"), 0),
        "thresholds": {"rr_irregularity_min": p["irregularity_min"], "rr_cluster_dispersion_min": p["dispersion_min"], "p_consistency_max": p["p_consistency_max"]},
    })


@rule("atrial_flutter")
def _atrial_flutter(ctx: RuleContext, p: dict[str, Any]) -> RuleResult:
    rate, concentration = ctx.features.get("atrial_rate"), ctx.features.get("atrial_concentration")
    if rate is None or concentration is None:
        return _missing("atrial activity could not be isolated")
    hr = ctx.value("heart_rate")
    if hr is None:
        return _missing("ventricular rate unknown")
    in_band = min(ramp(rate, p["atrial_rate_low"], 5.0), ramp(rate, p["atrial_rate_high"], -5.0))
    organised = ramp(concentration, p["concentration_min"], p["scale_concentration"])
    # flutter waves outnumber QRS complexes (2:1 or more block); 1:1 'flutter' at this rate is not separable here
    blocked = ramp(rate / hr, p["min_atrial_to_ventricular"], 0.05)
    return RuleResult(min(in_band, organised, blocked), {"atrial_rate_per_min": _r(rate, 0), "ventricular_rate_bpm": _r(hr, 0),
                                                         "spectral_concentration": _r(concentration),
                                                         "thresholds": {"atrial_rate_per_min": [p["atrial_rate_low"], p["atrial_rate_high"]], "concentration_min": p["concentration_min"]}})


def _count_rule(ctx: RuleContext, p: dict[str, Any], feature: str) -> RuleResult:
    count = ctx.features.get(feature)
    if count is None:
        return _missing("no beats")
    if feature == "supraventricular_premature_beats":  # in AF every beat is 'premature': no PAC statement
        af = _atrial_fibrillation(ctx, load_table("criteria")["atrial_fibrillation"]).score or 0.0
        if af >= 0.5:
            return RuleResult(0.0, {"beats": int(count), "note": "not stated during atrial fibrillation"})
    score = ramp(count, p["min_beats"] - 0.5, 0.15)
    return RuleResult(score, {"beats": int(count), "of_beats": int(ctx.features.get("n_beats", 0))})


@rule("premature_atrial")
def _pac(ctx: RuleContext, p: dict[str, Any]) -> RuleResult:
    return _count_rule(ctx, p, "supraventricular_premature_beats")


@rule("premature_ventricular")
def _pvc(ctx: RuleContext, p: dict[str, Any]) -> RuleResult:
    return _count_rule(ctx, p, "ventricular_beats")


# ----------------------------------------------------------------------------------------- conduction
@rule("first_degree_av_block")
def _avb1(ctx: RuleContext, p: dict[str, Any]) -> RuleResult:
    pr = ctx.value("pr_interval")
    if pr is None:
        return _missing(ctx.measurements["pr_interval"].reason or "PR not measured")
    return RuleResult(ramp(pr, p["pr_above"], p["scale_pr"]), {"pr_interval_ms": _r(pr, 0), "threshold_ms": p["pr_above"]})


def _v1_terminal_r(ctx: RuleContext, p: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    """rsR' or a dominant late R in V1/V2."""
    evidence, found = {}, False
    for lead in ("V1", "V2"):
        r, s, rp = (ctx.lead_value(lead, k) for k in ("r_amplitude", "s_amplitude", "r_prime_amplitude"))
        if r is None:
            continue
        evidence[lead] = {"R_mV": _r(r), "S_mV": _r(s), "R_prime_mV": _r(rp)}
        found = found or (rp or 0) > p["r_prime_min_mv"] or (r > (s or 0) and r > p["dominant_r_min_mv"])
    return found, evidence


def _wide_s(ctx: RuleContext, minimum_ms: float) -> tuple[int, dict[str, Any]]:
    hits, evidence = 0, {}
    for lead in ("I", "V6"):
        sd = ctx.lead_value(lead, "s_duration")
        if sd is not None:
            evidence[lead] = {"S_duration_ms": _r(sd, 0)}
            hits += sd > minimum_ms
    return hits, evidence


@rule("complete_rbbb")
def _rbbb(ctx: RuleContext, p: dict[str, Any]) -> RuleResult:
    qrs = ctx.value("qrs_duration")
    if qrs is None:
        return _missing("QRS duration not measured")
    terminal_r, ev_v1 = _v1_terminal_r(ctx, p)
    wide_s, ev_s = _wide_s(ctx, p["s_duration_min"])
    morphology = 0.95 if terminal_r and wide_s >= 1 else 0.3 if terminal_r else 0.05
    return RuleResult(min(ramp(qrs, p["qrs_min"], p["scale_qrs"]), morphology),
                      {"qrs_duration_ms": _r(qrs, 0), "rsr_or_dominant_r_v1": terminal_r, "leads": {**ev_v1, **ev_s}, "threshold_ms": p["qrs_min"]})


@rule("incomplete_rbbb")
def _irbbb(ctx: RuleContext, p: dict[str, Any]) -> RuleResult:
    qrs = ctx.value("qrs_duration")
    if qrs is None:
        return _missing("QRS duration not measured")
    rsr = any((ctx.lead_value(lead, "r_prime_amplitude") or 0) > p["r_prime_min_mv"] for lead in ("V1", "V2"))
    in_range = min(ramp(qrs, p["qrs_min"], p["scale_qrs"]), ramp(qrs, p["qrs_max"], -p["scale_qrs"]))
    return RuleResult(in_range if rsr else min(in_range, 0.1), {"qrs_duration_ms": _r(qrs, 0), "rsr_prime_v1_v2": rsr, "thresholds_ms": [p["qrs_min"], p["qrs_max"]]})


def _lbbb_morphology(ctx: RuleContext, p: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    r1, s1, q1 = (ctx.lead_value("V1", k) for k in ("r_amplitude", "s_amplitude", "q_amplitude"))
    # QS (all negative: measured as a Q wave) or rS (small r, deep S) in V1
    qs_or_rs_v1 = r1 is not None and s1 is not None and max(s1, q1 or 0.0) > p["v1_negative_to_r_ratio"] * r1
    lateral = [lead for lead in ("I", "V5", "V6") if ctx.lead_value(lead, "q_amplitude") is not None]
    no_q = bool(lateral) and all(ctx.lead_value(lead, "q_amplitude") < p["q_absent_max_mv"] for lead in lateral)
    upright = [lead for lead in ("I", "aVL", "V5", "V6") if (ctx.lead_value(lead, "qrs_net") or -1) > 0]
    ok = qs_or_rs_v1 and no_q and len(upright) >= p["min_upright_lateral_leads"]
    return ok, {"qs_or_rs_v1": qs_or_rs_v1, "no_q_in": lateral if no_q else [], "broad_upright_r_in": upright}


@rule("complete_lbbb")
def _lbbb(ctx: RuleContext, p: dict[str, Any]) -> RuleResult:
    qrs = ctx.value("qrs_duration")
    if qrs is None:
        return _missing("QRS duration not measured")
    ok, evidence = _lbbb_morphology(ctx, p)
    return RuleResult(min(ramp(qrs, p["qrs_min"], p["scale_qrs"]), 0.95 if ok else 0.05), {"qrs_duration_ms": _r(qrs, 0), **evidence, "threshold_ms": p["qrs_min"]})


@rule("ivcd")
def _ivcd(ctx: RuleContext, p: dict[str, Any]) -> RuleResult:
    qrs = ctx.value("qrs_duration")
    if qrs is None:
        return _missing("QRS duration not measured")
    table = load_table("criteria")
    bbb = max(_rbbb(ctx, table["complete_rbbb"]).score or 0, _lbbb(ctx, table["complete_lbbb"]).score or 0)
    return RuleResult(min(ramp(qrs, p["qrs_min"], p["scale_qrs"]), 1 - bbb), {"qrs_duration_ms": _r(qrs, 0), "threshold_ms": p["qrs_min"], "bundle_branch_block_score": _r(bbb)})


@rule("left_axis_deviation")
def _lad(ctx: RuleContext, p: dict[str, Any]) -> RuleResult:
    axis = ctx.value("qrs_axis")
    if axis is None:
        return _missing("QRS axis not measured")
    # axes between -90 and -180 are 'extreme' (northwest), not left deviation
    return RuleResult(ramp(axis, p["axis_below"], -p["scale_deg"]) if axis > -90 else 0.0, {"qrs_axis_deg": _r(axis, 0), "threshold_deg": p["axis_below"]})


@rule("right_axis_deviation")
def _rad(ctx: RuleContext, p: dict[str, Any]) -> RuleResult:
    axis = ctx.value("qrs_axis")
    if axis is None:
        return _missing("QRS axis not measured")
    return RuleResult(ramp(axis, p["axis_above"], p["scale_deg"]) if axis <= 180 and axis > 0 else 0.0, {"qrs_axis_deg": _r(axis, 0), "threshold_deg": p["axis_above"]})


# ----------------------------------------------------------------------------------------- voltage
@rule("lvh")
def _lvh(ctx: RuleContext, p: dict[str, Any]) -> RuleResult:
    s_v1, r_v5, r_v6 = ctx.lead_value("V1", "s_amplitude"), ctx.lead_value("V5", "r_amplitude"), ctx.lead_value("V6", "r_amplitude")
    r_avl, s_v3 = ctx.lead_value("aVL", "r_amplitude"), ctx.lead_value("V3", "s_amplitude")
    scores, evidence = [], {}
    if s_v1 is not None and (r_v5 is not None or r_v6 is not None):
        sokolow = s_v1 + max(r_v5 or 0, r_v6 or 0)
        scores.append(ramp(sokolow, p["sokolow_mv"], p["scale_mv"]))
        evidence["sokolow_lyon_mV"] = _r(sokolow)
    if r_avl is not None and s_v3 is not None:
        limit = {"F": p["cornell_women_mv"], "M": p["cornell_men_mv"]}.get(ctx.sex or "", p["cornell_men_mv"])
        cornell = r_avl + s_v3
        # '>' threshold: the 0.5 point sits just above the limit
        scores.append(ramp(cornell, limit + 1e-3, p["scale_mv"]))
        evidence["cornell_mV"] = _r(cornell)
        evidence["cornell_limit_mV"] = limit if ctx.sex else f"{limit} (sex unknown: men's limit used)"
    if not scores:
        return _missing("precordial leads V1, V3, V5/V6 needed")
    score = max(scores)
    if ctx.age is not None and ctx.age < p["min_age"]:
        evidence["note"] = f"voltage criteria not applied below age {p['min_age']}"
        score = min(score, 0.3)
    return RuleResult(score, {**evidence, "thresholds": {"sokolow_mV": p["sokolow_mv"], "cornell_men_mV": p["cornell_men_mv"], "cornell_women_mV": p["cornell_women_mv"]}})


@rule("rvh")
def _rvh(ctx: RuleContext, p: dict[str, Any]) -> RuleResult:
    r1, s1, axis = ctx.lead_value("V1", "r_amplitude"), ctx.lead_value("V1", "s_amplitude"), ctx.value("qrs_axis")
    if r1 is None or s1 is None or axis is None:
        return _missing("V1 amplitudes and QRS axis needed")
    qrs = ctx.value("qrs_duration")
    if qrs is not None and qrs >= p["qrs_max"]:
        return _missing(f"voltage criteria do not apply with QRS >= {p['qrs_max']} ms (bundle branch block)")
    ratio = r1 / s1 if s1 > 1e-3 else 99.0
    score = min(ramp(r1, p["r_v1_mv"], p["scale_mv"]), ramp(ratio, p["rs_ratio_v1"], 0.1), ramp(axis, p["axis_above"], 4.0))
    return RuleResult(score, {"R_V1_mV": _r(r1), "R_S_ratio_V1": _r(ratio), "qrs_axis_deg": _r(axis, 0)})


@rule("low_voltage")
def _low_voltage(ctx: RuleContext, p: dict[str, Any]) -> RuleResult:
    limb = {lead: ctx.lead_value(lead, "qrs_peak_to_peak") for lead in ("I", "II", "III", "aVR", "aVL", "aVF")}
    prec = {lead: ctx.lead_value(lead, "qrs_peak_to_peak") for lead in PRECORDIAL_LEADS}
    limb = {k: v for k, v in limb.items() if v is not None}
    prec = {k: v for k, v in prec.items() if v is not None}
    scores = []
    if len(limb) >= 3:
        scores.append(ramp(max(limb.values()), p["limb_mv"], -p["scale_mv"]))
    if len(prec) >= 4:
        scores.append(ramp(max(prec.values()), p["precordial_mv"], -p["scale_mv"]))
    if not scores:
        return _missing("too few usable leads")
    return RuleResult(max(scores), {"max_limb_qrs_mV": _r(max(limb.values())) if limb else None, "max_precordial_qrs_mV": _r(max(prec.values())) if prec else None,
                                    "thresholds": {"limb_mV": p["limb_mv"], "precordial_mV": p["precordial_mv"]}})


# ----------------------------------------------------------------------------------------- QT
def _qtc(ctx: RuleContext, correction: str) -> float | None:
    return ctx.value("qtc_fridericia" if correction == "fridericia" else "qtc_bazett")


@rule("long_qt")
def _long_qt(ctx: RuleContext, p: dict[str, Any]) -> RuleResult:
    qtc = _qtc(ctx, p["correction"])
    if qtc is None:
        return _missing(ctx.measurements["qt_interval"].reason or "QT not measured")
    limit = {"F": p["women_ms"], "M": p["men_ms"]}.get(ctx.sex or "", p["unknown_sex_ms"])
    evidence = {"qtc_ms": _r(qtc, 0), "correction": p["correction"], "qtc_bazett_ms": _r(ctx.value("qtc_bazett"), 0), "threshold_ms": limit,
                "sex": ctx.sex or "unknown (lower limit used)", "high_risk": qtc > p["high_risk_ms"]}
    return RuleResult(ramp(qtc, limit - 1e-3, p["scale_ms"]), evidence)


@rule("short_qt")
def _short_qt(ctx: RuleContext, p: dict[str, Any]) -> RuleResult:
    qtc = _qtc(ctx, p["correction"])
    if qtc is None:
        return _missing(ctx.measurements["qt_interval"].reason or "QT not measured")
    return RuleResult(ramp(qtc, p["below_ms"], -p["scale_ms"]), {"qtc_ms": _r(qtc, 0), "correction": p["correction"], "threshold_ms": p["below_ms"]})


# ----------------------------------------------------------------------------------------- ischaemia
def _ste_limit(lead: str, ctx: RuleContext, p: dict[str, Any]) -> float:
    if lead in ("V2", "V3"):
        if ctx.sex == "F":
            return p["v2v3_women_mm"]
        if ctx.sex == "M":
            return p["v2v3_men_under_40_mm"] if ctx.age is not None and ctx.age < 40 else p["v2v3_men_40_mm"]
        return p["v2v3_unknown_mm"]
    if lead in ("V3R", "V4R", "V7", "V8", "V9"):
        return p["right_posterior_mm"]
    return p["default_mm"]


def _territorial(ctx: RuleContext, p: dict[str, Any], measure: Callable[[str], tuple[float, float] | None],
                 value_name: str, missing: str, **extra: Any) -> RuleResult:
    """Per-lead scores from ``measure`` (score, shown value), judged on the best run of contiguous leads."""
    scores, values = {}, {}
    for lead in standard_order(list(ctx.usable_leads)):  # a fixed order: the same evidence on every run
        got = measure(lead)
        if got is not None:
            scores[lead], values[lead] = got
    if not scores:
        return _missing(missing)
    contiguity = load_table("criteria")["contiguity"]
    score, group = _contiguous_score(scores, p["min_contiguous"], contiguity)
    shown = group or sorted(values, key=lambda lead: scores[lead], reverse=True)[:3]  # near misses when none qualifies
    return RuleResult(score, {"leads": group, value_name: {lead: values[lead] for lead in shown}, "territory": territory_of(group, contiguity), **extra})


@rule("st_elevation")
def _st_elevation(ctx: RuleContext, p: dict[str, Any]) -> RuleResult:
    def measure(lead: str) -> tuple[float, float] | None:
        st = ctx.lead_value(lead, "st_j_mm")
        if st is None or lead == "aVR":
            return None
        return ramp(st, _ste_limit(lead, ctx, p), p["scale_mm"]), round(st, 2)

    result = _territorial(ctx, p, measure, "st_j_mm", "ST level not measured")
    if result.score is not None:
        result.evidence["limits_mm"] = {lead: _ste_limit(lead, ctx, p) for lead in result.evidence["st_j_mm"]}
        if ctx.sex is None:
            result.evidence["note"] = "sex unknown: the lowest V2-V3 limit was used"
    return result


@rule("st_depression")
def _st_depression(ctx: RuleContext, p: dict[str, Any]) -> RuleResult:
    def measure(lead: str) -> tuple[float, float] | None:
        j, j60 = ctx.lead_value(lead, "st_j_mm"), ctx.lead_value(lead, "st_j60_mm")
        if j is None or j60 is None or lead == "aVR":
            return None
        # horizontal or down-sloping: depressed at J and still at J+60 ms (up-sloping J depression recovers)
        return ramp(-max(j, j60), p["depth_mm"], p["scale_mm"]), round(j, 2)

    return _territorial(ctx, p, measure, "st_j_mm", "ST level not measured", threshold_mm=-p["depth_mm"])


@rule("avr_elevation_diffuse_depression")
def _avr_pattern(ctx: RuleContext, p: dict[str, Any]) -> RuleResult:
    avr = ctx.lead_value("aVR", "st_j_mm")
    if avr is None:
        return _missing("aVR not available")
    depth = load_table("criteria")["st_depression"]["depth_mm"]
    depressed = [lead for lead in ctx.usable_leads if lead != "aVR" and (ctx.lead_value(lead, "st_j_mm") or 0) <= -depth]
    score = min(ramp(avr, p["avr_mm"], p["scale_mm"]), ramp(len(depressed), p["depressed_leads"] - 0.5, 0.3))
    return RuleResult(score, {"st_j_avr_mm": _r(avr), "depressed_leads": sorted(depressed), "thresholds": {"avr_mm": p["avr_mm"], "depressed_leads": p["depressed_leads"]}})


def _dominant_r(ctx: RuleContext, lead: str, p: dict[str, Any]) -> bool:
    r, s = ctx.lead_value(lead, "r_amplitude"), ctx.lead_value(lead, "s_amplitude")
    return r is not None and s is not None and r > p["prominent_r_mv"] and (s < 1e-3 or r / s > p["rs_ratio"])


@rule("t_inversion")
def _t_inversion(ctx: RuleContext, p: dict[str, Any]) -> RuleResult:
    def measure(lead: str) -> tuple[float, float] | None:
        t = ctx.lead_value(lead, "t_amplitude")
        if t is None or lead == "aVR" or not _dominant_r(ctx, lead, p):
            return None
        return ramp(-t, p["depth_mv"], p["scale_mv"]), round(t, 3)

    return _territorial(ctx, p, measure, "t_amplitude_mV", "no lead with a dominant R and a measurable T wave", threshold_mV=-p["depth_mv"])


@rule("t_abnormal")
def _t_abnormal(ctx: RuleContext, p: dict[str, Any]) -> RuleResult:
    def measure(lead: str) -> tuple[float, float] | None:
        t, r = ctx.lead_value(lead, "t_amplitude"), ctx.lead_value(lead, "r_amplitude")
        if t is None or r is None or lead not in p["upright_leads"] or r < p["min_r_mv"]:
            return None
        inverted = ramp(-t, p["inverted_mv"], p["scale_mv"])
        flat = ramp(t / r, p["flat_fraction_of_r"], -0.02)
        return max(inverted, flat), round(t, 3)

    return _territorial(ctx, p, measure, "t_amplitude_mV", f"no lead with a measurable T wave and R >= {p['min_r_mv']} mV")


@rule("pathological_q")
def _pathological_q(ctx: RuleContext, p: dict[str, Any]) -> RuleResult:
    def measure(lead: str) -> tuple[float, float] | None:
        qd, qa, r = (ctx.lead_value(lead, k) for k in ("q_duration", "q_amplitude", "r_amplitude"))
        if qd is None or qa is None or lead in p["excluded_leads"]:
            return None
        deep = ramp(qa, p["min_depth_mv"], 0.02) if lead not in p["depth_exempt_leads"] else 1.0
        wide = ramp(qd, p["duration_ms"], p["scale_ms"])
        relative = ramp(qa / r, p["fraction_of_r"], 0.03) if r and r > 0.05 else wide
        return min(deep, max(wide, relative)), round(qd, 0)

    return _territorial(ctx, p, measure, "q_duration_ms", "Q waves not measurable",
                        thresholds={"duration_ms": p["duration_ms"], "fraction_of_r": p["fraction_of_r"], "min_depth_mV": p["min_depth_mv"]})


@rule("sgarbossa")
def _sgarbossa(ctx: RuleContext, p: dict[str, Any]) -> RuleResult:
    lbbb = _lbbb(ctx, load_table("criteria")["complete_lbbb"]).score or 0.0
    if lbbb < 0.5:
        return _missing("applies only with left bundle branch block")
    points, hits = 0, {}
    for lead in sorted(ctx.usable_leads):
        st, net = ctx.lead_value(lead, "st_j_mm"), ctx.lead_value(lead, "qrs_net")
        if st is None or net is None:
            continue
        if net > 0 and st >= p["concordant_ste_mm"]:
            hits[lead], points = "concordant ST elevation", points + p["concordant_ste_points"]
        elif net < 0 and st <= -p["concordant_std_mm"] and lead in p["concordant_std_leads"]:
            hits[lead], points = "concordant ST depression", points + p["concordant_std_points"]
        elif net < 0 and st >= p["discordant_ste_mm"]:
            hits[lead], points = "excessively discordant ST elevation", points + p["discordant_ste_points"]
    return RuleResult(ramp(points, p["positive_points"] - 0.5, 0.2), {"points": points, "leads": hits, "threshold_points": p["positive_points"]})


# ----------------------------------------------------------------------------------------- entry point
def evaluate_rules(ctx: RuleContext) -> tuple[list[Finding], dict[str, float | None], dict[str, str]]:
    """Run every rule of the criteria table: (stated findings, score per rule, reasons for rules not assessed)."""
    table = load_table("criteria")
    findings, scores, not_assessed = [], {}, {}
    lbbb = (_lbbb(ctx, table["complete_lbbb"]).score or 0.0) >= 0.5
    secondary = table["secondary_repolarisation"]
    for name, fn in _RULES.items():
        params = table[name]
        if lbbb and name in secondary["rules"]:
            result = _missing("left bundle branch block: ST-T and Q-wave criteria do not apply (see Sgarbossa)")
        else:
            result = fn(ctx, params)
        scores[name] = None if result.score is None else round(result.score, 4)
        if result.score is None:
            not_assessed[name] = result.evidence.get("not_assessed", "not assessable")
        elif result.score >= 0.5:
            findings.append(Finding(params["code"], params["label"], result.score, result.evidence, params["citation"], name))
    return findings, scores, not_assessed
