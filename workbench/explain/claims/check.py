"""Each claim of the model against the engine's measurements (and the labs): supported, contradicted or not
assessed, always with the measured values that decided it.

Policy: a finding the engine states supports the claim; a claim is contradicted only when the measurements it
needs exist and lie clearly (beyond the tolerances of claim_vocabulary.toml) on the other side of the cited
criterion; everything else - missing measurement, unusable lead, borderline value, a finding the engine has no
rule for - is 'not assessed', with why.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ...ecg.analysis import ECGAnalysis
from ...ecg.findings import Finding, contiguous_groups
from ...ecg.leads import STANDARD_LEADS, standard_order
from ...ecg.tables import load_table
from ...pipeline.types import Claim, ClaimStatus
from .extract import RawClaim
from .vocabulary import LEAD_AWARE, Entry, Vocabulary, load_vocabulary

Result = tuple[ClaimStatus, str]
_CRITERIA_LEADS = set(STANDARD_LEADS) | {"V3R", "V4R", "V5R", "V7", "V8", "V9"}


def _fmt(x: float | None, nd: int = 0) -> str:
    if x is None:
        return "n/a"
    return f"{x:.{nd}f}" if nd else f"{x:.0f}"


@dataclass
class _Context:
    """What the checks read: the analysis, labs, criteria and vocabulary, with small accessors."""

    analysis: ECGAnalysis
    labs: pd.DataFrame | None
    vocab: Vocabulary
    criteria: dict[str, Any]
    rate_tolerance: float
    claimed_codes: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.features: dict[str, float] = dict(self.analysis.segment.features) if self.analysis.segment is not None else {}
        self.usable = {lead for lead in self.analysis.quality.get("usable_leads", []) if lead in _CRITERIA_LEADS}
        self.stated: dict[str, Finding] = {f.rule: f for f in self.analysis.findings}
        self.clear = self.vocab.tolerance("clear_score")

    # measurements -------------------------------------------------------------------------------------------
    def value(self, name: str) -> float | None:
        if name.startswith("feature:"):
            v = self.features.get(name.split(":", 1)[1])
            return None if v is None or not math.isfinite(v) else float(v)
        m = self.analysis.measurements.get(name)
        return None if m is None or m.value is None else float(m.value)

    def missing_reason(self, name: str) -> str:
        m = self.analysis.measurements.get(name)
        return (m.reason if m is not None and m.reason else "not measured")

    def lead_value(self, lead: str, name: str) -> float | None:
        if lead not in self.usable:
            return None
        m = self.analysis.leads.get(lead, {}).get(name)
        return None if m is None or m.value is None else float(m.value)

    def quote(self, spec: str) -> str | None:
        """'QRS 92 ms', 'r prime amplitude V1 0.00 mV', 'P-wave consistency 0.93' - or None when not measured."""
        display = self.vocab.raw["display"]
        if ":" in spec and not spec.startswith("feature:"):
            lead, name = spec.split(":", 1)
            v = self.lead_value(lead, name)
            m = self.analysis.leads.get(lead, {}).get(name)
            unit = m.unit if m is not None else ""
            return None if v is None else f"{name.replace('_', ' ')} {lead} {v:.{0 if unit == 'ms' else 2}f} {unit}".strip()
        key = spec.split(":", 1)[-1]
        v = self.value(spec)
        if v is None:
            return None
        name, nd = display.get(key, [key.replace("_", " "), 2])
        m = self.analysis.measurements.get(key)
        unit = {"deg": "deg"}.get(m.unit, m.unit) if m is not None else ""
        return f"{name} {_fmt(v, int(nd))} {unit}".strip()

    def quotes(self, specs: list[str] | tuple[str, ...]) -> str:
        got = [q for q in (self.quote(s) for s in specs) if q]
        return "; ".join(got)

    # engine rules -------------------------------------------------------------------------------------------
    def score(self, rule: str) -> float | None:
        s = self.analysis.scores.get(rule)
        return None if s is None else float(s)

    def not_assessed(self, rule: str) -> str | None:
        return self.analysis.not_assessed.get(rule)

    def criterion(self, section: str, key: str) -> float:
        return float(self.criteria[section][key])


def _finding_text(f: Finding) -> str:
    """The engine's finding in one line: label, score and its leads."""
    leads = f.evidence.get("leads")
    where = f" in {', '.join(leads)}" if isinstance(leads, list) and leads and all(isinstance(x, str) for x in leads) else ""
    return f"{f.label}{where} (engine score {f.score:.2f}; {f.citation.split(';')[0]})"


# ------------------------------------------------------------------------------------------------ generic engine check
def _engine(claim: RawClaim, entry: Entry, ctx: _Context, measured: str = "") -> Result:
    """Supported if one of the entry's rules is stated; contradicted if all are assessed and clearly unmet."""
    stated = [ctx.stated[r] for r in entry.rules if r in ctx.stated]
    quotes = measured or ctx.quotes(entry.params.get("quote", ()))
    if stated:
        return "supported", "Stated by the engine: " + "; ".join(_finding_text(f) for f in stated) + (f". Measured: {quotes}." if quotes else ".")
    missing = {r: ctx.not_assessed(r) for r in entry.rules if ctx.not_assessed(r)}
    if missing:
        return "not assessed", "The engine could not assess it: " + "; ".join(f"{r}: {why}" for r, why in missing.items()) + "."
    scores = {r: ctx.score(r) for r in entry.rules}
    if not scores or any(s is None for s in scores.values()):
        return "not assessed", "No engine score for " + ", ".join(entry.rules) + "."
    shown = ", ".join(f"{r} {s:.2f}" for r, s in scores.items())
    if all(s <= ctx.clear for s in scores.values()):
        return "contradicted", (f"Not found by the engine: rule score {shown} (stated at >= 0.5; <= {ctx.clear} is clearly unmet)"
                                + (f". Measured: {quotes}." if quotes else "."))
    return "not assessed", f"Borderline: rule score {shown} (stated at >= 0.5), too close to the threshold to call" + (f". Measured: {quotes}." if quotes else ".")


def _band_distance(value: float, low: float | None, high: float | None) -> float:
    if low is not None and value < low:
        return low - value
    if high is not None and value > high:
        return value - high
    return 0.0


def _band_text(low: float | None, high: float | None, unit: str) -> str:
    if low is not None and high is not None:
        return f"{low:g}-{high:g} {unit}"
    return f">= {low:g} {unit}" if low is not None else f"<= {high:g} {unit}"


def _qtc_name(ctx: _Context, section: str) -> str:
    return "qtc_fridericia" if ctx.criteria[section].get("correction") == "fridericia" else "qtc_bazett"


def _sex_limit(ctx: _Context, section: str) -> float:
    sex = ctx.analysis.info.get("sex")
    key = {"F": "women_ms", "M": "men_ms"}.get(sex or "", "unknown_sex_ms")
    return ctx.criterion(section, key)


def _gate(claim: RawClaim, entry: Entry, ctx: _Context) -> Result:
    """A criterion with one deciding measurement (PR for AV block, QRS for bundle branch block, QTc for long QT):
    clearly outside the criterion's band -> contradicted; inside but other criteria unmet -> the engine decides."""
    gate = entry.params["gate"]
    section = gate.get("criteria", entry.rules[0])
    stated = [r for r in entry.rules if r in ctx.stated]
    missing = {r: ctx.not_assessed(r) for r in entry.rules if ctx.not_assessed(r)}
    if stated or (missing and len(missing) == len(entry.rules)):
        return _engine(claim, entry, ctx)
    name = _qtc_name(ctx, section) if gate["measurement"] == "qtc" else gate["measurement"]
    value = ctx.value(name)
    if value is None:
        return "not assessed", f"{ctx.vocab.raw['display'].get(name, [name])[0]} not measured: {ctx.missing_reason(name)}."

    def bound(key: str | None) -> float | None:
        if not key:
            return None
        return _sex_limit(ctx, section) if key == "sex_limit" else ctx.criterion(section, key)

    low, high = bound(gate.get("low")), bound(gate.get("high"))
    margin = ctx.vocab.tolerance(gate["margin"])
    unit = ctx.analysis.measurements[name].unit
    distance = _band_distance(value, low, high)
    quotes = ctx.quotes(entry.params.get("quote", ()))
    if distance > margin:
        extra = ""
        if gate["measurement"] == "qtc":
            other = ctx.value("qtc_bazett" if name == "qtc_fridericia" else "qtc_fridericia")
            if other is not None and _band_distance(other, low, high) == 0:
                extra = (f" (the other correction gives {other:.0f} ms; the engine's criterion uses {ctx.criteria[section]['correction']}, "
                         "less rate-biased than Bazett)")
        shown = ctx.vocab.raw["display"].get(name, [name])[0]
        return "contradicted", (f"{entry.label} needs {shown} {_band_text(low, high, unit)} ({ctx.criteria[section]['citation']}); "
                                f"measured {shown} {value:.0f} {unit}, {distance:.0f} {unit} outside (margin {margin:g} {unit}){extra}. Measured: {quotes}.")
    return _engine(claim, entry, ctx, quotes)


# ------------------------------------------------------------------------------------------------ rhythm
_SINUS_RULES = ("sinus_rhythm", "sinus_bradycardia", "sinus_tachycardia")


def _non_sinus_rhythm(ctx: _Context) -> Finding | None:
    return ctx.stated.get("atrial_fibrillation") or ctx.stated.get("atrial_flutter")


def _sinus(claim: RawClaim, entry: Entry, ctx: _Context) -> Result:
    """Sinus rhythm: P waves of sinus origin before each QRS (engine sinus rules at any rate)."""
    quotes = ctx.quotes(entry.params.get("quote", ()))
    stated = [ctx.stated[r] for r in _SINUS_RULES if r in ctx.stated]
    if stated:
        band = entry.params.get("rate_band")
        hr = ctx.value("heart_rate")
        if band and hr is not None:
            low, high = ctx.criterion(band[0], band[1]), ctx.criterion(band[0], band[2])
            distance = _band_distance(hr, low, high)
            margin = ctx.vocab.tolerance("rate_band_bpm")
            if distance > margin:
                return "contradicted", (f"Sinus rhythm, but not 'normal': heart rate {hr:.0f} bpm is outside {low:g}-{high:g} bpm by more than "
                                        f"{margin:g} bpm; the engine states {', '.join(f.label for f in stated)}. Measured: {quotes}.")
        return "supported", "Stated by the engine: " + "; ".join(_finding_text(f) for f in stated) + f". Measured: {quotes}."
    if all(ctx.not_assessed(r) for r in _SINUS_RULES):
        return "not assessed", f"Sinus rhythm could not be assessed: {ctx.not_assessed('sinus_rhythm')}."
    best = max(ctx.score(r) or 0.0 for r in _SINUS_RULES)
    other = _non_sinus_rhythm(ctx)
    band, hr = entry.params.get("rate_band"), ctx.value("heart_rate")
    if band and hr is not None:  # 'normal' sinus rhythm also claims a rate of 60-100 bpm
        low, high = ctx.criterion(band[0], band[1]), ctx.criterion(band[0], band[2])
        margin = ctx.vocab.tolerance("rate_band_bpm")
        if _band_distance(hr, low, high) > margin:
            return "contradicted", (f"Normal sinus rhythm means a sinus rate of {low:g}-{high:g} bpm ({ctx.criteria[band[0]]['citation']}); measured "
                                    f"heart rate {hr:.0f} bpm, more than {margin:g} bpm outside; best sinus score {best:.2f}. Measured: {quotes}.")
    if best <= ctx.clear and other is not None:
        return "contradicted", f"The engine states {_finding_text(other)}, not sinus rhythm (best sinus score {best:.2f}). Measured: {quotes}."
    p = ctx.value("feature:p_consistency")
    p_min = ctx.criterion("sinus_rhythm", "p_consistency_min")
    margin = ctx.vocab.tolerance("p_consistency")
    if best <= ctx.clear and p is not None and p < p_min - margin:
        return "contradicted", (f"No consistent P wave before each QRS: P-wave consistency {p:.2f} (sinus needs >= {p_min:g}, "
                                f"criteria.md sinus P before each QRS); best sinus score {best:.2f}. Measured: {quotes}.")
    return "not assessed", f"Sinus criteria neither clearly met nor clearly failed (best sinus score {best:.2f}). Measured: {quotes}."


def _rate_band(claim: RawClaim, entry: Entry, ctx: _Context) -> Result:
    """Brady-/tachycardia: the measured rate against the 60/100 bpm limits (and sinus origin when claimed)."""
    section, low_key, high_key = entry.params["band"]
    low = ctx.criterion(section, low_key) if low_key else None
    high = ctx.criterion(section, high_key) if high_key else None
    quotes = ctx.quotes(entry.params.get("quote", ()))
    stated = [ctx.stated[r] for r in entry.rules if r in ctx.stated]
    if stated:
        return "supported", "Stated by the engine: " + "; ".join(_finding_text(f) for f in stated) + f". Measured: {quotes}."
    rates = [v for v in (ctx.value("heart_rate"), ctx.value("dominant_rate")) if v is not None]
    if not rates:
        return "not assessed", f"Heart rate not measured: {ctx.missing_reason('heart_rate')}."
    distance = min(_band_distance(r, low, high) for r in rates)
    margin = ctx.vocab.tolerance("rate_band_bpm")
    band = f"< {high:g} bpm" if high is not None else f"> {low:g} bpm"
    shown = " / ".join(f"{r:.0f}" for r in rates)
    if distance > margin:
        return "contradicted", f"{entry.label} needs a rate {band} ({ctx.criteria[section]['citation']}); measured {shown} bpm (mean / dominant), more than {margin:g} bpm away."
    if distance == 0 and not entry.params.get("sinus"):
        return "supported", f"Measured heart rate {shown} bpm (mean / dominant) is {band}."
    if distance == 0:
        other = _non_sinus_rhythm(ctx)
        best = max(ctx.score(r) or 0.0 for r in _SINUS_RULES)
        if other is not None and best <= ctx.clear:
            return "contradicted", f"The rate is {band} ({shown} bpm) but the rhythm is not sinus: {_finding_text(other)}."
        return "not assessed", f"Rate {shown} bpm is {band} but sinus origin is not clear (best sinus score {best:.2f}). Measured: {quotes}."
    return "not assessed", f"Borderline: rate {shown} bpm is within {margin:g} bpm of the {band} limit."


def _af(claim: RawClaim, entry: Entry, ctx: _Context) -> Result:
    """AF: irregularly irregular RR without distinct P waves (the engine's AF rule, over the whole recording)."""
    rule = "atrial_fibrillation"
    quotes = ctx.quotes(entry.params.get("quote", ()))
    if rule in ctx.stated:
        f = ctx.stated[rule]
        burden = f" (AF burden {f.evidence['af_burden']:.0%})" if "af_burden" in f.evidence else ""
        return "supported", f"Stated by the engine: {_finding_text(f)}{burden}. Measured: {quotes}."
    if ctx.not_assessed(rule):
        return "not assessed", f"AF could not be assessed: {ctx.not_assessed(rule)}."
    score = ctx.score(rule) or 0.0
    p = ctx.criteria[rule]
    irr, disp, cons = ctx.value("rr_irregularity"), ctx.value("rr_cluster_dispersion"), ctx.value("feature:p_consistency")
    why = []
    if irr is not None and irr < p["irregularity_min"]:
        why.append(f"RR intervals regular (irregularity {irr:.3f} < {p['irregularity_min']})")
    if disp is not None and disp < p["dispersion_min"] and (irr is None or irr >= p["irregularity_min"]):
        why.append(f"RR changes patterned, not irregularly irregular (dispersion {disp:.3f} < {p['dispersion_min']})")
    if cons is not None and cons >= p["p_consistency_max"]:
        why.append(f"P waves present (P-wave consistency {cons:.2f} >= {p['p_consistency_max']})")
    sinus = [ctx.stated[r].label for r in _SINUS_RULES if r in ctx.stated]
    if sinus:
        why.append(f"the engine states {', '.join(sinus)}")
    if score <= ctx.clear and why:
        return "contradicted", f"Not atrial fibrillation: {'; '.join(why)}; engine AF score {score:.2f} ({p['citation']})."
    return "not assessed", f"Borderline: engine AF score {score:.2f} (stated at >= 0.5). Measured: {quotes}."


# ------------------------------------------------------------------------------------------------ axis
def _angle_diff(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


def _axis_band_distance(axis: float, low: float, high: float) -> float:
    if low <= axis <= high:
        return 0.0
    return min(_angle_diff(axis, low), _angle_diff(axis, high))


def _axis_band(claim: RawClaim, entry: Entry, ctx: _Context) -> Result:
    """Axis claims against the criteria.md bands (left < -30, right > +90, normal -30..+90, extreme -90..-180)."""
    bands = ctx.vocab.raw["axis_bands"]
    low, high = bands[entry.params["band"]]
    axis = ctx.value("qrs_axis")
    stated = [ctx.stated[r] for r in entry.rules if r in ctx.stated]
    if stated:
        return "supported", "Stated by the engine: " + "; ".join(_finding_text(f) for f in stated) + f". Measured: QRS axis {_fmt(axis)} deg."
    if axis is None:
        return "not assessed", f"QRS axis not measured: {ctx.missing_reason('qrs_axis')}."
    distance = _axis_band_distance(axis, low, high)
    margin = ctx.vocab.tolerance("axis_band_deg")
    if distance == 0:
        return "supported", f"Measured QRS axis {axis:.0f} deg lies in {low:g} to {high:g} deg ({bands['citation']})."
    if distance > margin:
        return "contradicted", f"{entry.label} means a QRS axis {low:g} to {high:g} deg ({bands['citation']}); measured {axis:.0f} deg, {distance:.0f} deg outside (margin {margin:g} deg)."
    return "not assessed", f"Borderline: measured QRS axis {axis:.0f} deg is within {margin:g} deg of the {low:g} to {high:g} deg band."


# ------------------------------------------------------------------------------------------------ territorial (lead-specific)
@dataclass
class _LeadRule:
    """Per-lead reading of a territorial criterion: meets (criterion), near (within the tolerance), the shown value."""

    rule: str
    value_name: str
    measure: Callable[[str], tuple[bool, bool, float] | None]
    generic_excluded: tuple[str, ...]
    requirement: str


def _ste_limit(ctx: _Context, lead: str) -> float:
    p = ctx.criteria["st_elevation"]
    sex, age = ctx.analysis.info.get("sex"), ctx.analysis.info.get("age")
    if lead in ("V2", "V3"):
        if sex == "F":
            return p["v2v3_women_mm"]
        if sex == "M":
            return p["v2v3_men_under_40_mm"] if age is not None and age < 40 else p["v2v3_men_40_mm"]
        return p["v2v3_unknown_mm"]
    if lead in ("V3R", "V4R", "V7", "V8", "V9"):
        return p["right_posterior_mm"]
    if lead == "aVR":
        return ctx.criteria["avr_elevation_diffuse_depression"]["avr_mm"]
    return p["default_mm"]


def _lead_rule(kind: str, ctx: _Context) -> _LeadRule:
    tol = ctx.vocab.tolerance
    c = ctx.criteria
    if kind == "st_elevation":
        margin = tol("st_elevation_mm")

        def ste(lead: str) -> tuple[bool, bool, float] | None:
            st = ctx.lead_value(lead, "st_j_mm")
            if st is None:
                return None
            limit = _ste_limit(ctx, lead)
            return st >= limit, st >= limit - margin, st

        return _LeadRule("st_elevation", "ST at J (mm)", ste, ("aVR",),
                         f"ST elevation at J >= {c['st_elevation']['default_mm']:g} mm (V2-V3 {_ste_limit(ctx, 'V2'):g} mm for this patient) "
                         f"in >= {c['st_elevation']['min_contiguous']} contiguous leads (UDMI 2018; margin {margin:g} mm)")
    if kind == "st_depression":
        depth, margin = c["st_depression"]["depth_mm"], tol("st_depression_mm")

        def std(lead: str) -> tuple[bool, bool, float] | None:
            j, j60 = ctx.lead_value(lead, "st_j_mm"), ctx.lead_value(lead, "st_j60_mm")
            if j is None:
                return None
            level = max(j, j60) if j60 is not None else j
            return j60 is not None and -level >= depth, -level >= depth - margin, j

        return _LeadRule("st_depression", "ST at J (mm)", std, ("aVR",),
                         f"horizontal/down-sloping ST depression >= {depth:g} mm at J and J+60 ms in >= {c['st_depression']['min_contiguous']} contiguous leads "
                         f"(UDMI 2018; margin {margin:g} mm)")
    if kind == "t_inversion":
        depth, margin = c["t_inversion"]["depth_mv"], tol("t_inversion_mv")

        def twi(lead: str) -> tuple[bool, bool, float] | None:
            t = ctx.lead_value(lead, "t_amplitude")
            if t is None:
                return None
            return t <= -depth, t <= -(depth - margin), t

        return _LeadRule("t_inversion", "T amplitude (mV)", twi, ("aVR", "III", "V1"),
                         f"T inversion > {depth * 10:g} mm ({depth:g} mV) in >= {c['t_inversion']['min_contiguous']} contiguous leads (UDMI 2018; margin {margin:g} mV)")
    p = c["pathological_q"]
    q_margin, ratio_margin = tol("q_wave_ms"), tol("q_wave_ratio")

    def q(lead: str) -> tuple[bool, bool, float] | None:
        qd, qa, r = (ctx.lead_value(lead, k) for k in ("q_duration", "q_amplitude", "r_amplitude"))
        if qd is None or qa is None:
            return None
        ratio = qa / r if r is not None and r > 0.05 else None
        deep = qa >= p["min_depth_mv"] or lead in p["depth_exempt_leads"]
        meets = deep and (qd >= p["duration_ms"] or (ratio is not None and ratio >= p["fraction_of_r"]))
        near = qd >= p["duration_ms"] - q_margin or (ratio is not None and ratio >= p["fraction_of_r"] - ratio_margin) or (ratio is None and qa > p["min_depth_mv"])
        return meets, near, qd

    return _LeadRule("pathological_q", "Q duration (ms)", q, tuple(p["excluded_leads"]),
                     f"Q >= {p['duration_ms']} ms or >= {p['fraction_of_r']:.0%} of R (>= {p['min_depth_mv']} mV deep outside V2-V3) in >= "
                     f"{p['min_contiguous']} contiguous leads (UDMI 2018)")


def _territorial(claim: RawClaim, entry: Entry, ctx: _Context) -> Result:
    """ST/T/Q claims, in the claimed leads when given ("ST elevation in V1-V4", "inferior STEMI"), else anywhere."""
    lr = _lead_rule(entry.check, ctx)
    why_missing = ctx.not_assessed(lr.rule)
    if why_missing:
        return "not assessed", f"The engine could not assess {lr.rule.replace('_', ' ')}: {why_missing}."
    claimed = [lead for lead in claim.leads]
    if lr.rule == "pathological_q" and claimed:
        kept = [lead for lead in claimed if lead not in lr.generic_excluded]
        if not kept:
            return "not assessed", f"Q waves in {', '.join(claimed)} alone are normal (UDMI 2018 excludes {', '.join(lr.generic_excluded)})."
        claimed = kept
    if claimed:
        candidates = [lead for lead in claimed if lead in ctx.usable]
        if not candidates:
            return "not assessed", f"The claimed leads {', '.join(claimed)} are not recorded or not usable (usable: {', '.join(standard_order(sorted(ctx.usable))) or 'none'})."
    else:
        candidates = [lead for lead in standard_order(sorted(ctx.usable)) if lead not in lr.generic_excluded]
    readings = {lead: r for lead in candidates if (r := lr.measure(lead)) is not None}
    finding = ctx.stated.get(lr.rule)
    where = f" in {', '.join(claimed)}" if claimed else ""
    if finding is not None and (not claimed or set(finding.evidence.get("leads", [])) & set(claimed)):
        return "supported", f"Stated by the engine: {_finding_text(finding)}."
    if not readings:
        return "not assessed", f"{lr.value_name} not measurable{where}."
    need = min(int(ctx.criteria[lr.rule]["min_contiguous"]), len(readings))
    contiguity = ctx.criteria["contiguity"]

    def best_group(leads: list[str]) -> list[str]:
        groups = contiguous_groups(standard_order(leads), contiguity) if leads else []
        return max(groups, key=len, default=[])

    meets = best_group([lead for lead, r in readings.items() if r[0]])
    near = best_group([lead for lead, r in readings.items() if r[1]])
    shown = ", ".join(f"{lead} {r[2]:.2f}" if abs(r[2]) < 10 else f"{lead} {r[2]:.0f}" for lead, r in readings.items())
    highest = lr.rule in ("st_elevation", "pathological_q")
    extreme = max(readings.items(), key=lambda kv: kv[1][2] if highest else -kv[1][2])
    word = {"st_elevation": "maximum", "st_depression": "lowest", "t_inversion": "lowest", "pathological_q": "longest"}[lr.rule]
    summary = f"{lr.value_name}{where or ' (usable leads)'}: {shown}; {word} {extreme[1][2]:.2f} in {extreme[0]}"
    if claimed and len(meets) >= need:
        return "supported", f"Measured in the claimed leads: criterion met in {', '.join(meets)}. {summary}. Criterion: {lr.requirement}."
    if len(near) < need:
        return "contradicted", f"No {'lead' if need == 1 else 'contiguous leads'} meet{'s' if need == 1 else ''} the criterion, even within the tolerance. {summary}. Criterion: {lr.requirement}."
    return "not assessed", f"Borderline: near the criterion in {', '.join(near)} but the engine does not state it. {summary}. Criterion: {lr.requirement}."


def _composite(claim: RawClaim, entry: Entry, ctx: _Context) -> Result:
    """MI / acute MI / ischaemia: supported by any of its ECG signs, contradicted only when every applicable sign is."""
    results = []
    for part in entry.params["composite"]:
        only_if = part.get("only_if")
        if only_if and only_if not in ctx.stated:
            continue
        sub = ctx.vocab.by_id[part["id"]]
        status, reason = _CHECKS[sub.check](claim, sub, ctx)
        results.append((sub.label, status, reason))
    if not results:
        return "not assessed", "None of its ECG signs applies to this record."
    text = " | ".join(f"{label}: {status} - {reason}" for label, status, reason in results)
    if any(s == "supported" for _, s, _ in results):
        return "supported", f"Supported by its ECG signs: {text}"
    if all(s == "contradicted" for _, s, _ in results):
        return "contradicted", f"None of its ECG signs is present: {text}"
    return "not assessed", f"Not all of its ECG signs could be assessed: {text}"


# ------------------------------------------------------------------------------------------------ whole-ECG statements
def _abnormal_findings(ctx: _Context, exclude_codes: set[str]) -> list[Finding]:
    normal = set(ctx.vocab.raw["normal_ecg"]["normal_rules"])
    return [f for f in ctx.analysis.findings if f.rule not in normal and f.code not in exclude_codes]


def _normal_ecg(claim: RawClaim, entry: Entry, ctx: _Context) -> Result:
    """'Normal ECG' is contradicted by any clearly stated abnormal finding ('otherwise normal' excuses the ones the
    model itself named)."""
    exclude = ctx.claimed_codes - {entry.code} if "otherwise" in claim.qualifiers else set()
    abnormal = _abnormal_findings(ctx, exclude)
    clear = [f for f in abnormal if f.score >= ctx.vocab.tolerance("normal_ecg_score")]
    if clear:
        return "contradicted", "The engine states abnormal findings: " + "; ".join(_finding_text(f) for f in clear) + "."
    if abnormal:
        return "not assessed", "Borderline abnormal findings stated: " + "; ".join(_finding_text(f) for f in abnormal) + "."
    ignore = set(ctx.vocab.raw["normal_ecg"]["ignore_not_assessed"])
    open_rules = {r: why for r, why in ctx.analysis.not_assessed.items() if r not in ignore}
    if open_rules:
        return "not assessed", "No abnormal finding stated, but not assessed: " + "; ".join(f"{r} ({why})" for r, why in open_rules.items()) + "."
    if not any(r in ctx.stated for r in ctx.vocab.raw["normal_ecg"]["rhythm_rules"]):
        return "not assessed", "No abnormal finding stated, but sinus rhythm is not stated either."
    excused = [f.label for f in ctx.analysis.findings if f.code in exclude]
    return "supported", ("The engine states sinus rhythm and no other finding" + (f" besides those the model named ({', '.join(excused)})" if excused else "")
                         + "; every rule was assessed.")


def _abnormal_ecg(claim: RawClaim, entry: Entry, ctx: _Context) -> Result:
    abnormal = _abnormal_findings(ctx, set())
    if abnormal:
        return "supported", "The engine states: " + "; ".join(_finding_text(f) for f in abnormal) + "."
    status, reason = _normal_ecg(claim, entry, ctx)
    if status == "supported":
        return "contradicted", "The engine finds a normal ECG: " + reason
    return "not assessed", reason


def _normal_intervals(claim: RawClaim, entry: Entry, ctx: _Context) -> Result:
    """'Normal intervals': PR 120-200 ms, QRS < 120 ms, QTc between the short- and long-QT limits."""
    c, tol = ctx.criteria, ctx.vocab.tolerance
    qtc = _qtc_name(ctx, "long_qt")
    checks = [("pr_interval", ctx.vocab.raw["normal_intervals"]["pr_low_ms"], c["first_degree_av_block"]["pr_above"], tol("pr_band_ms")),
              ("qrs_duration", None, c["complete_rbbb"]["qrs_min"], tol("qrs_band_ms")),
              (qtc, c["short_qt"]["below_ms"], _sex_limit(ctx, "long_qt"), tol("qtc_band_ms"))]
    bad, open_, ok = [], [], []
    for name, low, high, margin in checks:
        v = ctx.value(name)
        shown = ctx.vocab.raw["display"][name][0]
        if v is None:
            open_.append(f"{shown} not measured ({ctx.missing_reason(name)})")
            continue
        d = _band_distance(v, low, high)
        text = f"{shown} {v:.0f} ms (normal {_band_text(low, high, 'ms')})"
        (bad if d > margin else ok if d == 0 else open_).append(text)
    cite = ctx.vocab.raw["normal_intervals"]["citation"]
    if bad:
        return "contradicted", f"Outside the normal range: {'; '.join(bad)} ({cite})."
    if open_:
        return "not assessed", f"Not all intervals are clearly normal: {'; '.join(open_)}."
    return "supported", f"All intervals normal: {'; '.join(ok)}."


# ------------------------------------------------------------------------------------------------ labs
def _lab(claim: RawClaim, entry: Entry, ctx: _Context) -> Result:
    """Electrolyte claims are checked on the blood results: the ECG engine does not measure electrolytes."""
    spec = ctx.vocab.raw["labs"][entry.params["lab"]]
    analyte = spec["analyte"]
    if ctx.labs is None or len(ctx.labs) == 0 or "analyte" not in ctx.labs:
        return "not assessed", f"No laboratory results were given; {analyte} is needed and the ECG engine does not measure electrolytes."
    rows = ctx.labs[(ctx.labs["analyte"] == analyte) & ctx.labs["canonical_value"].notna()]
    if rows.empty:
        return "not assessed", f"No {analyte} result in the laboratory results; the ECG engine does not measure electrolytes."
    if "collected_at" in rows and rows["collected_at"].notna().any():
        rows = rows.sort_values("collected_at", na_position="first")
    row = rows.iloc[-1]
    value = float(row["canonical_value"])
    unit = str(row.get("canonical_unit") or "")
    if unit and unit != spec["unit"]:
        return "not assessed", f"{analyte} is reported in {unit}, not {spec['unit']}; it was not converted."
    flag = str(row.get("flag") or "") if pd.notna(row.get("flag")) else ""
    ref_low, ref_high = (float(row[k]) if k in row and pd.notna(row[k]) else None for k in ("ref_low", "ref_high"))
    high = spec["direction"] == "high"
    limit = (ref_high if high else ref_low) if (ref_high if high else ref_low) is not None else spec.get("threshold")
    ref = f"reference {_fmt(ref_low, 2)}-{_fmt(ref_high, 2)}" if ref_low is not None or ref_high is not None else "no reference range"
    shown = f"{analyte} {value:g} {spec['unit']} ({ref}, flag {flag or 'none'}; {len(rows)} result(s), latest used)"
    if flag in (("H", "HH") if high else ("L", "LL")) or (limit is not None and (value > limit if high else value < limit)):
        return "supported", f"Measured {shown}. {spec['citation']}."
    if limit is None:
        return "not assessed", f"Measured {shown}, but no limit to judge it against."
    return "contradicted", f"Measured {shown}: not {'above' if high else 'below'} {limit:g} {spec['unit']}. {spec['citation']}."


def _none(claim: RawClaim, entry: Entry, ctx: _Context) -> Result:
    return "not assessed", entry.params.get("none_reason") or f"The measurement engine has no rule for {entry.label.lower()}; it cannot be checked against the measurements."


_CHECKS: dict[str, Callable[[RawClaim, Entry, _Context], Result]] = {
    "engine": _engine, "gate": _gate, "sinus": _sinus, "rate_band": _rate_band, "af": _af, "axis_band": _axis_band,
    "st_elevation": _territorial, "st_depression": _territorial, "t_inversion": _territorial, "q_waves": _territorial,
    "composite": _composite, "normal_ecg": _normal_ecg, "abnormal_ecg": _abnormal_ecg, "normal_intervals": _normal_intervals,
    "lab": _lab, "none": _none,
}


# ------------------------------------------------------------------------------------------------ numeric values
def _value(claim: RawClaim, ctx: _Context) -> Result:
    """A stated number against the engine's: within the tolerance of any accepted measurement -> supported."""
    spec = ctx.vocab.numeric[claim.kind]
    tol = ctx.rate_tolerance if claim.kind == "rate" else ctx.vocab.tolerance(spec.tolerance)
    measured = {name: ctx.value(name) for name in spec.measurements}
    got = {n: v for n, v in measured.items() if v is not None}
    if not got:
        return "not assessed", f"{spec.label} not measured: {ctx.missing_reason(spec.measurements[0])}."
    lo, hi = claim.value, claim.value_high if claim.value_high is not None else claim.value
    assert lo is not None

    def distance(v: float) -> float:
        if spec.circular:
            return 0.0 if lo <= v <= hi else min(_angle_diff(v, lo), _angle_diff(v, hi))
        return _band_distance(v, lo, hi)

    best = min(distance(v) for v in got.values())
    shown = "; ".join(f"{ctx.vocab.raw['display'].get(n, [n])[0]} {v:.0f} {spec.unit}" for n, v in got.items())
    stated = f"{lo:g}" if hi == lo else f"{lo:g}-{hi:g}"
    rationale = ctx.vocab.tolerance_rationale(spec.tolerance)
    if best <= tol:
        return "supported", f"Claimed {stated} {spec.unit}; measured {shown} (within {tol:g} {spec.unit})."
    return "contradicted", f"Claimed {stated} {spec.unit}; measured {shown}: differs by {best:.0f} {spec.unit} (> {tol:g} {spec.unit}; {rationale})."


# ------------------------------------------------------------------------------------------------ entry point
def _label(claim: RawClaim, entry: Entry | None) -> str:
    if entry is not None and entry.check in LEAD_AWARE and claim.leads:
        return f"{entry.label} ({', '.join(claim.leads)})"
    return entry.label if entry is not None else claim.label


def check_claims(claims: list[RawClaim], analysis: ECGAnalysis, labs: pd.DataFrame | None = None, *,
                 rate_tolerance_bpm: float | None = None) -> list[Claim]:
    """Judge every claim against the measurements so that no unsupported statement of the model reaches the
    report unflagged; each verdict quotes the measured values behind it. Negated claims (``include_negated``)
    are skipped; ``rate_tolerance_bpm`` overrides the table's 10 bpm for stated rates."""
    vocab = load_vocabulary()
    ctx = _Context(analysis, labs, vocab, load_table("criteria"),
                   vocab.tolerance("rate_bpm") if rate_tolerance_bpm is None else float(rate_tolerance_bpm),
                   {c.code for c in claims if not c.negated})
    out = []
    for claim in claims:
        if claim.negated:
            continue
        entry = vocab.by_id.get(claim.kind)
        if claim.kind in vocab.numeric:
            status, reason = _value(claim, ctx)
        elif entry is not None:
            status, reason = _CHECKS[entry.check](claim, entry, ctx)
        else:
            status, reason = "not assessed", f"'{claim.label}' is not in the workbench's finding vocabulary; it cannot be checked."
        if claim.hedged:
            reason = f"Hedged claim ({claim.hedge}). {reason}"
        out.append(Claim(text=claim.text, code=claim.code, label=_label(claim, entry), status=status, reason=reason, source=claim.source))
    return out
