"""Fusion: the ECG analysis, the lab results and the intake form -> cited impressions, ordered by urgency.

The rules are rows of ``tables/fusion.toml`` (id, label, code, urgency, urgency_reason, citation and the rule's
thresholds); each row is evaluated by a small function registered here under the row's ``fn`` (default: its id).
A missing input never raises: the rules that need it are skipped and ``FusionResult.notes`` says what was not
assessed and why, so "nothing found" is never confused with "nothing looked at".
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from ..ecg.analysis import to_plain
from ..errors import ConfigError, InputError
from ..labs.catalogue import get_catalogue
from ..labs.egfr import EGFR, ckd_epi_2021, kdigo_category
from ..labs.trends import EscVerdict, delta_checks, esc_0h_1h, reference_change_value, series
from .heart_score import HeartScore, heart_score
from .rule_tables import fusion_table, normalise_risk_factors
from .types import URGENCY_ORDER, Evidence, Impression, PatientContext, Urgency, highest_urgency

if TYPE_CHECKING:
    from ..ecg.analysis import ECGAnalysis
    from ..ecg.findings import Finding

TroponinPattern = Literal["rising/falling", "stable", "single", "undetermined"]


# ============================================================================================== lab values
@dataclass(frozen=True)
class LabValue:
    """One numeric result in the catalogue's canonical unit, with the range it was judged against."""

    analyte: str
    name: str
    loinc: str
    value: float
    unit: str
    ref_low: float | None = None
    ref_high: float | None = None
    ref_source: str | None = None
    flag: str | None = None
    collected_at: datetime | None = None
    comparator: str | None = None

    def text(self) -> str:
        """"Potassium 6.8 mmol/L (ref 3.5-5.3, catalogue; flag HH; 2026-05-04 08:00)"."""
        value = f"{self.comparator or ''}{format_value(self.value)} {self.unit}".strip()
        extras = []
        if self.ref_low is not None or self.ref_high is not None:
            low = "" if self.ref_low is None else f"{self.ref_low:g}"
            high = "" if self.ref_high is None else f"{self.ref_high:g}"
            rng = f"{low}-{high}" if low and high else (f"< {high}" if high else f"> {low}")
            extras.append(f"ref {rng}" + (f", {self.ref_source}" if self.ref_source else ""))
        if self.flag:
            extras.append(f"flag {self.flag}")
        if self.collected_at is not None:
            extras.append(_when(self.collected_at))
        return f"{self.name} {value}" + (f" ({'; '.join(extras)})" if extras else "")

    def values(self) -> dict[str, Any]:
        return {"analyte": self.analyte, f"value_{_unit_key(self.unit)}": self.value, "unit": self.unit,
                "ref_low": self.ref_low, "ref_high": self.ref_high, "ref_source": self.ref_source, "flag": self.flag,
                "collected_at": None if self.collected_at is None else self.collected_at.isoformat()}

    def evidence(self) -> Evidence:
        return Evidence("lab", self.text(), self.loinc, self.values())


def format_value(value: float) -> str:
    """A lab value as a clinician reads it: 4 significant digits, and one decimal below 10 ("7.0 %", "185.7 umol/L")."""
    text = f"{value:.4g}"
    return f"{value:.1f}" if abs(value) < 10 and "." not in text and "e" not in text else text


def _unit_key(unit: str) -> str:
    return unit.replace("/", "_").replace(".", "").replace(" ", "") or "value"


def _when(moment: datetime) -> str:
    return pd.Timestamp(moment).strftime("%Y-%m-%d %H:%M")


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def _text(x: Any) -> str | None:
    return None if x is None or pd.isna(x) else str(x)


def lab_values(labs: pd.DataFrame | None, analyte: str) -> list[LabValue]:
    """Numeric results of one analyte, oldest first (results without a collection time last)."""
    if labs is None or labs.empty:
        return []
    out = []
    for row in series(labs, analyte).itertuples():
        value = _num(row.canonical_value)
        if value is None:
            continue
        moment = None if pd.isna(row.collected_at) else pd.Timestamp(row.collected_at).to_pydatetime()
        out.append(LabValue(str(row.analyte), str(row.name), _text(row.loinc) or "", value, str(row.canonical_unit),
                            _num(row.ref_low), _num(row.ref_high), _text(row.ref_source), _text(row.flag), moment,
                            _text(row.comparator)))
    return out


def latest_value(labs: pd.DataFrame | None, analytes: str | list[str]) -> LabValue | None:
    """The most recent numeric result of the first of ``analytes`` that was measured."""
    for analyte in [analytes] if isinstance(analytes, str) else analytes:
        values = lab_values(labs, analyte)
        timed = [v for v in values if v.collected_at is not None]
        if timed or values:
            return (timed or values)[-1]
    return None


_LAB_COLUMNS = ("patient", "collected_at", "analyte", "name", "loinc", "canonical_value", "canonical_unit", "comparator",
                "ref_low", "ref_high", "ref_source", "flag")


def patient_labs(labs: pd.DataFrame | None, patient: PatientContext) -> tuple[pd.DataFrame | None, str | None]:
    """The rows of this patient (and rows without a patient id); (None, why) when the table is of other patients."""
    if labs is None:
        return None, None
    if labs.empty:
        return None, "the lab table is empty"
    missing = [c for c in _LAB_COLUMNS if c not in labs.columns]
    if missing:
        raise InputError(f"The lab table lacks the column(s) {', '.join(missing)}.",
                         hint="Build it with workbench.labs.frames.results_frame.")
    ids = labs["patient"].fillna("").astype(str).str.strip()
    named = sorted(set(ids) - {""})
    if patient.patient_id in named:
        return labs[(ids == patient.patient_id) | (ids == "")], None
    if len(named) <= 1:
        return labs, None
    return None, (f"the lab table holds several patients ({', '.join(named)}) and none is '{patient.patient_id}': "
                  "labs not used")


# ============================================================================================== troponin
@dataclass
class TroponinStatus:
    """The troponin series of the case against its assay's 99th-percentile URL, and whether it rises/falls."""

    analyte: str
    name: str
    values: list[LabValue]
    url: float | None
    url_source: str
    pattern: TroponinPattern
    pattern_reasons: list[str] = field(default_factory=list)

    @property
    def peak(self) -> float:
        return max(v.value for v in self.values)

    @property
    def above_url(self) -> bool:
        return self.url is not None and self.peak > self.url

    def evidence(self) -> list[Evidence]:
        first = self.values[0]
        series_text = " -> ".join(f"{v.comparator or ''}{v.value:g}" + (f" ({_when(v.collected_at)})" if v.collected_at else "")
                                  for v in self.values)
        url = "URL unknown" if self.url is None else f"99th-percentile URL {self.url:g} ng/L ({self.url_source})"
        values = {"analyte": self.analyte, "values_ng_L": [v.value for v in self.values],
                  "collected_at": [None if v.collected_at is None else v.collected_at.isoformat() for v in self.values],
                  "url_ng_L": self.url, "url_source": self.url_source, "peak_ng_L": self.peak,
                  "peak_x_url": None if not self.url else round(self.peak / self.url, 2)}
        items = [Evidence("lab", f"{self.name} {series_text} ng/L; {url}", first.loinc, values)]
        if self.pattern_reasons:
            items.append(Evidence("lab", f"{self.pattern}: " + "; ".join(self.pattern_reasons), first.loinc,
                                  {"pattern": self.pattern}))
        return items


def _troponin(case: _Case) -> TroponinStatus | None:
    table = case.table["troponin"]
    candidates = [(a, lab_values(case.labs, a)) for a in table["analytes"]]
    candidates = [(a, v) for a, v in candidates if v]
    if not candidates:
        return None
    analyte, values = max(candidates, key=lambda c: len(c[1]))  # first listed wins a tie
    for other, _ in candidates:
        if other != analyte:
            case.notes.append(f"troponin: {other} results not combined with {analyte} (different assays are not comparable)")
    url, source = _troponin_url(analyte, values, case.sex)
    if url is None:
        case.notes.append(f"troponin: no 99th-percentile URL for {values[0].name} (assay not stated and no printed upper "
                          "limit): troponin-based UDMI rules not assessed")
    pattern, reasons = _troponin_pattern(case, analyte, values)
    return TroponinStatus(analyte, values[0].name, values, url, source, pattern, reasons)


def _troponin_url(analyte: str, values: list[LabValue], sex: str | None) -> tuple[float | None, str]:
    """The catalogue's (sex-specific) URL of the assay, else the report's printed upper limit."""
    threshold = get_catalogue().troponin_url(analyte, sex)
    if threshold is not None:
        who = {"F": "women", "M": "men"}.get(threshold.sex or "", "overall")
        return threshold.value, f"{threshold.assay}, {who}; {threshold.source}"
    printed = [v.ref_high for v in values if v.ref_high is not None and v.ref_source == "report"]
    if printed:
        return printed[-1], "upper limit printed on the report (assay not stated: confirm it is the 99th percentile)"
    return None, ""


def _troponin_pattern(case: _Case, analyte: str, values: list[LabValue]) -> tuple[TroponinPattern, list[str]]:
    """Rise/fall by the ESC 1h delta or by a change beyond the reference change value between serial results."""
    reasons = []
    esc = case.esc
    esc_delta_judged = esc is not None and esc.analyte == analyte and esc.delta is not None and esc.cutoffs is not None \
        and esc.category in ("rule-in", "rule-out", "observe")
    if esc_delta_judged and esc.delta >= esc.cutoffs.delta_1h_yes:  # type: ignore[union-attr,operator]
        reasons.append(f"ESC 0h/1h: 1h change {esc.delta:g} ng/L >= {esc.cutoffs.delta_1h_yes:g}")  # type: ignore[union-attr]
    assert case.labs is not None
    reasons += [d.describe() for d in delta_checks(case.labs) if d.analyte == analyte]
    if reasons:
        return "rising/falling", reasons
    timed = [v for v in values if v.collected_at is not None]
    if len(values) < 2:
        return "single", ["one troponin value"]
    if len(timed) >= 2 and (esc_delta_judged or reference_change_value(analyte) is not None):
        change = timed[-1].value - timed[0].value
        return "stable", [f"change {change:+g} ng/L between {_when(timed[0].collected_at)} and "  # type: ignore[arg-type]
                          f"{_when(timed[-1].collected_at)} is within the ESC 1h delta / reference change value"]  # type: ignore[arg-type]
    return "undetermined", [f"no validated change criterion (ESC 0h/1h delta or reference change value) for {analyte}, "
                            "or the samples are not timed"]


# ============================================================================================== result
@dataclass
class FusionResult:
    """Impressions (most urgent first) with the intermediate verdicts they used, and what could not be assessed."""

    impressions: list[Impression]
    heart: HeartScore | None
    esc: EscVerdict | None
    egfr: EGFR | None
    notes: list[str]
    troponin: TroponinStatus | None = None
    risk_factors: list[str] = field(default_factory=list)  # canonical names from the form

    @property
    def urgency(self) -> Urgency:
        """The case's urgency: that of its most urgent impression (routine when there is none)."""
        return highest_urgency(self.impressions)

    @property
    def rules(self) -> set[str]:
        """Ids of the fusion rules that made an impression (what recommendations are keyed by)."""
        return {i.rule for i in self.impressions}

    def impression(self, rule: str) -> Impression | None:
        """The impression of one fusion rule, or None when that rule did not fire."""
        return next((i for i in self.impressions if i.rule == rule), None)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form for the case store, the report and the CLI."""
        return {"urgency": self.urgency, "impressions": [i.to_dict() for i in self.impressions],
                "heart": None if self.heart is None else self.heart.to_dict(),
                "esc": None if self.esc is None else {"category": self.esc.category, "reason": self.esc.reason,
                                                      "analyte": self.esc.analyte, "source": self.esc.source},
                "egfr": None if self.egfr is None else {"value": round(self.egfr.value, 1), "category": self.egfr.category,
                                                        "label": self.egfr.label, "source": self.egfr.source},
                "risk_factors": self.risk_factors, "notes": self.notes}


# ============================================================================================== the case
def ischaemic_symptoms(patient: PatientContext) -> list[str]:
    """The form's symptoms that count as ischaemic for UDMI (chest pain and its equivalents, per fusion.toml)."""
    table = fusion_table()["ischaemia"]
    said = [str(s) for s in patient.symptoms if not any(str(s).lower().strip().startswith(n) for n in table["negations"])]
    return [s for s in said if any(w in s.lower() for w in table["symptoms"])]


def chest_pain_presentation(patient: PatientContext) -> bool:
    """ESC 0h/1h and HEART are for suspected ACS: the form records chest pain, its onset or a HEART history."""
    return bool(ischaemic_symptoms(patient)) or patient.chest_pain_onset_hours is not None or patient.history_suspicion is not None


@dataclass
class _Case:
    analysis: ECGAnalysis | None
    labs: pd.DataFrame | None
    patient: PatientContext
    table: dict[str, Any]
    age: float | None = None
    sex: str | None = None
    risk_factors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    troponin: TroponinStatus | None = None
    esc: EscVerdict | None = None
    egfr: EGFR | None = None
    egfr_evidence: list[Evidence] = field(default_factory=list)
    heart: HeartScore | None = None
    _np: tuple[str | None, list[Evidence], str] | None = None

    @property
    def findings(self) -> dict[str, Finding]:
        return {} if self.analysis is None else {f.rule: f for f in self.analysis.findings}

    @property
    def ischaemic_symptoms(self) -> list[str]:
        return ischaemic_symptoms(self.patient)

    @property
    def chest_pain_presentation(self) -> bool:
        return chest_pain_presentation(self.patient)

    def ischaemia_evidence(self) -> list[Evidence]:
        """UDMI evidence of ischaemia: ischaemic ECG findings and ischaemic symptoms on the form."""
        caveat = self.table["ischaemia"]["newness_caveat"]
        items = [_ecg_evidence(self.findings[r], note=caveat) for r in self.table["ischaemia"]["ecg_rules"] if r in self.findings]
        items += [Evidence("form", f"Symptom on the form: {s}", "", {"symptom": s}) for s in self.ischaemic_symptoms]
        return items


def _build_case(analysis: ECGAnalysis | None, labs: pd.DataFrame | None, patient: PatientContext) -> _Case:
    table = fusion_table()
    frame, why = patient_labs(labs, patient)
    case = _Case(analysis, frame, patient, table)
    if why:
        case.notes.append(why)
    info = analysis.info if analysis is not None else {}
    case.age = patient.age if patient.age is not None else info.get("age")
    case.sex = patient.sex if patient.sex is not None else info.get("sex")
    if patient.age is None and case.age is not None:
        case.notes.append(f"age {case.age:g} taken from the ECG file (not on the form)")
    if patient.sex is None and case.sex is not None:
        case.notes.append(f"sex {case.sex} taken from the ECG file (not on the form)")
    case.risk_factors, unknown = normalise_risk_factors(patient.risk_factors)
    if unknown:
        case.notes.append(f"risk factor(s) not recognised and ignored: {', '.join(unknown)}")
    if case.labs is not None:
        case.esc = _esc(case)
        case.troponin = _troponin(case)
        case.egfr, case.egfr_evidence = _egfr(case)
    case.heart = _heart(case)
    return case


def _esc(case: _Case) -> EscVerdict | None:
    assert case.labs is not None
    verdict = esc_0h_1h(case.labs, onset_hours=case.patient.chest_pain_onset_hours)
    if verdict.category == "not applicable":
        if any(a in set(case.labs["analyte"]) for a in case.table["troponin"]["analytes"]):
            case.notes.append(f"ESC 0h/1h not applicable: {verdict.reason}")
        return verdict
    case.notes += [f"ESC 0h/1h: {n}" for n in verdict.notes]
    if verdict.category == "incomplete":
        case.notes.append(f"ESC 0h/1h incomplete: {verdict.reason} (next step: a 1h troponin)")
    elif not case.chest_pain_presentation:
        case.notes.append(f"ESC 0h/1h gives '{verdict.category}', but the algorithm is for suspected NSTE-ACS and the form "
                          "records no chest pain: not used as an impression")
    return verdict


def _egfr(case: _Case) -> tuple[EGFR | None, list[Evidence]]:
    kidney = case.table["kidney"]
    creat = latest_value(case.labs, kidney["creatinine"])
    reported = latest_value(case.labs, kidney["egfr"])
    if creat is not None:
        if case.age is not None and case.sex in ("F", "M"):
            try:
                egfr = ckd_epi_2021(creat.value, case.age, case.sex)
            except InputError as err:
                case.notes.append(f"eGFR not computed: {err}")
            else:
                ev = [creat.evidence(), Evidence("lab", egfr.describe(), "", {"egfr_mL_min_1_73m2": round(egfr.value, 1),
                                                                              "kdigo": egfr.category, "source": egfr.source})]
                if reported is not None:
                    ev.append(reported.evidence())
                return egfr, ev
        else:
            case.notes.append("eGFR not computed from creatinine: age and sex are needed (CKD-EPI 2021)")
    if reported is not None:
        egfr = _reported_egfr(reported.value)
        return egfr, [reported.evidence(), Evidence("lab", f"reported eGFR {reported.value:g} mL/min/1.73 m2: "
                                                           f"{egfr.category}, {egfr.label}", reported.loinc,
                                                    {"kdigo": egfr.category})]
    return None, []


def _reported_egfr(value: float) -> EGFR:
    """A printed eGFR, placed in its KDIGO category."""
    return kdigo_category(value)


def _heart(case: _Case) -> HeartScore | None:
    if not case.chest_pain_presentation:
        case.notes.append("HEART score not computed: it is for chest pain, and the form records no chest pain, onset time "
                          "or history suspicion")
        return None
    t = case.troponin
    score = heart_score(case.analysis, case.patient, age=case.age, risk_factors=case.risk_factors,
                        troponin_ng_l=None if t is None else t.peak, troponin_url_ng_l=None if t is None else t.url,
                        troponin_label="troponin" if t is None else t.name)
    if score.total is None:
        case.notes.append(score.describe())
    return score


# ============================================================================================== evidence helpers
_PER_LEAD = {"st_j_mm": "mm", "q_duration_ms": "ms", "t_amplitude_mV": "mV"}
_SCALARS = {"qtc_ms": ("QTc", "ms"), "qrs_duration_ms": ("QRS", "ms"), "heart_rate_bpm": ("HR", "/min"),
            "pr_interval_ms": ("PR", "ms"), "sokolow_lyon_mV": ("Sokolow-Lyon", "mV"), "cornell_mV": ("Cornell", "mV"),
            "points": ("Sgarbossa points", ""), "st_j_avr_mm": ("ST in aVR", "mm"), "af_burden": ("AF burden", ""),
            "threshold_ms": ("limit", "ms")}


def _ecg_evidence(f: Finding, note: str = "") -> Evidence:
    """A finding as one sentence naming its leads and values: "ST elevation in II, III, aVF (inferior): II 2.1 mm, ..."."""
    ev = to_plain(f.evidence)
    text = f.label
    leads = ev.get("leads")
    if isinstance(leads, list) and leads:
        text += " in " + ", ".join(map(str, leads))
    elif isinstance(leads, dict) and leads:
        text += ": " + "; ".join(f"{lead} {what}" for lead, what in leads.items())
    if ev.get("territory"):
        text += f" ({', '.join(ev['territory'])})"
    for key, unit in _PER_LEAD.items():
        per_lead = ev.get(key)
        if isinstance(per_lead, dict) and per_lead:
            text += ": " + ", ".join(f"{lead} {v:g} {unit}" for lead, v in per_lead.items() if isinstance(v, (int, float)))
            break
    scalars = [f"{name} {ev[key]:g} {unit}".strip() for key, (name, unit) in _SCALARS.items()
               if isinstance(ev.get(key), (int, float)) and not isinstance(ev.get(key), bool)]
    if isinstance(ev.get("depressed_leads"), list):
        scalars.append("ST depression in " + ", ".join(ev["depressed_leads"]))
    if scalars:
        text += " [" + "; ".join(scalars) + "]"
    if note:
        text += f" ({note})"
    return Evidence("ecg", text, f.code, {"rule": f.rule, "score": round(float(f.score), 3), **ev})


def _impression(rule_id: str, row: dict[str, Any], evidence: list[Evidence], *, label: str | None = None,
                urgency: Urgency | None = None, reason: str | None = None) -> Impression:
    return Impression(str(row["code"]), label or row["label"], urgency or row["urgency"], reason or row["urgency_reason"],
                      evidence, row["citation"], rule_id)


# ============================================================================================== rules
RuleFn = Callable[[_Case, str, dict[str, Any]], Impression | None]
_RULES: dict[str, RuleFn] = {}


def _rule(name: str) -> Callable[[RuleFn], RuleFn]:
    def register(fn: RuleFn) -> RuleFn:
        _RULES[name] = fn
        return fn

    return register


@_rule("ecg_finding")
def _ecg_finding(case: _Case, rule_id: str, row: dict[str, Any]) -> Impression | None:
    """ECG-only impressions: any of the row's engine findings (with at least ``min_leads`` leads where given)."""
    hits = [case.findings[r] for r in row["findings"] if r in case.findings]
    if "min_leads" in row:
        hits = [f for f in hits if len(f.evidence.get("leads") or []) >= row["min_leads"]]
    if not hits:
        return None
    return _impression(rule_id, row, [_ecg_evidence(f) for f in hits])


@_rule("long_qt_high_risk")
def _long_qt_high_risk(case: _Case, rule_id: str, row: dict[str, Any]) -> Impression | None:
    """QTc above the high-risk limit (the engine's long-QT finding carries the QTc)."""
    f = next((case.findings[r] for r in row["findings"] if r in case.findings), None)
    qtc = None if f is None else _num(f.evidence.get("qtc_ms"))
    if qtc is None or not qtc > row["above_ms"]:
        return None
    return _impression(rule_id, row, [_ecg_evidence(f)])  # type: ignore[arg-type]


@_rule("acute_mi")
def _acute_mi(case: _Case, rule_id: str, row: dict[str, Any]) -> Impression | None:
    """UDMI: rise/fall with a value above the URL PLUS ischaemia evidence."""
    t = case.troponin
    if t is None or not t.above_url or t.pattern != "rising/falling":
        return None
    ischaemia = case.ischaemia_evidence()
    return _impression(rule_id, row, t.evidence() + ischaemia) if ischaemia else None


@_rule("acute_myocardial_injury")
def _acute_injury(case: _Case, rule_id: str, row: dict[str, Any]) -> Impression | None:
    t = case.troponin
    if t is None or not t.above_url or t.pattern != "rising/falling" or case.ischaemia_evidence():
        return None
    return _impression(rule_id, row, t.evidence() + _no_ischaemia_evidence(case))


@_rule("chronic_myocardial_injury")
def _chronic_injury(case: _Case, rule_id: str, row: dict[str, Any]) -> Impression | None:
    t = case.troponin
    if t is None or not t.above_url or t.pattern != "stable":
        return None
    ischaemia = case.ischaemia_evidence()
    if ischaemia:
        return _impression(rule_id, row, t.evidence() + ischaemia, reason=row["urgency_reason_ischaemia"])
    return _impression(rule_id, row, t.evidence() + _no_ischaemia_evidence(case))


@_rule("troponin_above_url_unconfirmed")
def _troponin_unconfirmed(case: _Case, rule_id: str, row: dict[str, Any]) -> Impression | None:
    t = case.troponin
    if t is None or not t.above_url or t.pattern not in ("single", "undetermined"):
        return None
    return _impression(rule_id, row, t.evidence() + case.ischaemia_evidence())


def _no_ischaemia_evidence(case: _Case) -> list[Evidence]:
    ecg = "no ischaemic ECG finding" if case.analysis is not None else "no ECG available"
    return [Evidence("form", f"No ischaemic symptom on the form; {ecg}", "", {"symptoms": list(case.patient.symptoms)})]


@_rule("esc_category")
def _esc_category(case: _Case, rule_id: str, row: dict[str, Any]) -> Impression | None:
    v = case.esc
    if v is None or v.category != row["category"] or not case.chest_pain_presentation:
        return None
    values = {"category": v.category, "analyte": v.analyte, "value_0h_ng_L": v.value_0h, "value_1h_ng_L": v.value_1h,
              "delta_ng_L": v.delta, "hours_between": v.hours_between, "onset_hours": case.patient.chest_pain_onset_hours}
    if v.cutoffs is not None:
        c = v.cutoffs
        values["cutoffs_ng_L"] = {"very_low_0h": c.very_low_0h, "low_0h": c.low_0h, "delta_1h_no": c.delta_1h_no,
                                  "high_0h": c.high_0h, "delta_1h_yes": c.delta_1h_yes}
    items = [Evidence("lab", v.describe() + (f" ({'; '.join(v.notes)})" if v.notes else ""), "", values)]
    return _impression(rule_id, row, items)


@_rule("heart_category")
def _heart_category(case: _Case, rule_id: str, row: dict[str, Any]) -> Impression | None:
    h = case.heart
    if h is None or h.category != row["category"]:
        return None
    return _impression(rule_id, row, h.evidence())


@_rule("electrolyte")
def _electrolyte(case: _Case, rule_id: str, row: dict[str, Any]) -> Impression | None:
    """An electrolyte beyond its limit; when its ECG sign is present the impression says it may explain it."""
    value = latest_value(case.labs, row["analytes"])
    if value is None:
        return None
    high = row["direction"] == "high"
    limit = row["above"] if high else row["below"]
    if limit == "reference":
        limit = value.ref_high if high else value.ref_low
        if limit is None:
            case.notes.append(f"{row['label']}: {value.name} has no reference range to judge it against")
            return None
    if not (value.value > limit if high else value.value < limit):
        return None
    urgencies: list[tuple[Urgency, str]] = [(row["urgency"], row["urgency_reason"])]
    severe = (high and "severe_at_or_above" in row and value.value >= row["severe_at_or_above"]) or \
             (not high and "severe_below" in row and value.value < row["severe_below"]) or \
             ("severe_flag" in row and value.flag == row["severe_flag"])
    if severe:
        urgencies.append((row["urgency_severe"], row["urgency_reason_severe"]))
    evidence = [value.evidence()]
    signs = []
    if case.analysis is None:
        case.notes.append(f"{row['label']}: no ECG, so its ECG signs were not assessed")
    else:
        for sign in row.get("ecg_signs", []):
            item = _ecg_sign(case, sign)
            if item is not None:
                signs.append(sign["text"])
                evidence.append(item)
        if row.get("unmeasured_signs"):
            case.notes.append(f"{row['label']}: {', '.join(row['unmeasured_signs'])} are not measured by the ECG engine")
    if signs:
        urgencies.append((row["urgency_with_ecg"], row["urgency_reason_with_ecg"]))
    urgency, reason = max(urgencies, key=lambda u: URGENCY_ORDER[u[0]])
    label = f"{row['label']}, which may explain the {' and '.join(signs)} on the ECG" if signs else row["label"]
    return _impression(rule_id, row, evidence, label=label, urgency=urgency, reason=reason)


def _ecg_sign(case: _Case, sign: dict[str, Any]) -> Evidence | None:
    assert case.analysis is not None
    if "finding" in sign:
        f = case.findings.get(sign["finding"])
        return None if f is None else _ecg_evidence(f)
    m = case.analysis.measurements.get(sign["measurement"])
    value = None if m is None else m.value
    if value is None or value < sign["at_or_above"]:
        return None
    return Evidence("ecg", f"{sign['name']} {value:.0f} {sign['unit']} >= {sign['at_or_above']:g} {sign['unit']}: "
                           f"{sign['text']} ({sign['citation']})", "",
                    {f"{sign['measurement']}_{sign['unit']}": round(float(value), 1), f"threshold_{sign['unit']}": sign["at_or_above"]})


def _natriuretic(case: _Case) -> tuple[str | None, list[Evidence], str]:
    """(status 'rule-in' | 'grey' | 'rule-out' | None, evidence, why) of the latest NT-proBNP, else BNP."""
    if case._np is not None:
        return case._np
    p = case.table["natriuretic_peptides"]
    nt, bnp = latest_value(case.labs, p["nt_probnp"]), latest_value(case.labs, p["bnp"])
    result: tuple[str | None, list[Evidence], str] = (None, [], "")
    if nt is not None:
        cut, band = _nt_rule_in(p["nt_rule_in"], case.age)
        if cut is None and nt.value > p["nt_rule_in"][-1]["above"]:
            cut, band = p["nt_rule_in"][-1]["above"], "any age"
        values = {"rule_out_below": p["nt_rule_out_below"], "rule_in_above": cut, "age_band": band}
        if nt.value < p["nt_rule_out_below"]:
            status, why = "rule-out", f"NT-proBNP {nt.value:g} < {p['nt_rule_out_below']:g} ng/L (acute rule-out)"
        elif cut is not None and nt.value > cut:
            status, why = "rule-in", f"NT-proBNP {nt.value:g} > {cut:g} ng/L (age-adjusted rule-in, {band})"
        else:
            status = "grey"
            why = (f"NT-proBNP {nt.value:g} ng/L between the rule-out ({p['nt_rule_out_below']:g}) and the "
                   + (f"age-adjusted rule-in ({cut:g}, {band})" if cut is not None else "rule-in (age unknown: age-adjusted rule-in not applied)"))
        result = (status, [nt.evidence(), Evidence("lab", why, nt.loinc, values)], why)
    elif bnp is not None:
        status = "rule-out" if bnp.value < p["bnp_rule_out_below"] else "grey"
        why = (f"BNP {bnp.value:g} {'<' if status == 'rule-out' else '>='} {p['bnp_rule_out_below']:g} ng/L "
               f"(acute rule-out{'' if status == 'rule-out' else ' not met'})")
        result = (status, [bnp.evidence(), Evidence("lab", why, bnp.loinc, {"rule_out_below": p["bnp_rule_out_below"]})], why)
    if result[0] == "rule-out":
        case.notes.append(f"heart failure: {result[2]}: acute heart failure unlikely ({p['citation'].split(':')[0]})")
    case._np = result
    return result


def _nt_rule_in(bands: list[dict[str, Any]], age: float | None) -> tuple[float | None, str]:
    if age is None:
        return None, "age unknown"
    for b in bands:
        if ("age_below" in b and age < b["age_below"]) or ("age_at_most" in b and age <= b["age_at_most"]) or \
                ("age_below" not in b and "age_at_most" not in b):
            return float(b["above"]), f"age {age:g}, band {b['band']}"
    return None, "no band"


@_rule("natriuretic_peptides")
def _np_rule(case: _Case, rule_id: str, row: dict[str, Any]) -> Impression | None:
    status, evidence, _ = _natriuretic(case)
    return _impression(rule_id, row, evidence) if status == row["status"] else None


@_rule("egfr_band")
def _egfr_band(case: _Case, rule_id: str, row: dict[str, Any]) -> Impression | None:
    e = case.egfr
    if e is None or not (e.value < row["below"] and e.value >= row.get("at_or_above", -math.inf)):
        return None
    return _impression(rule_id, row, list(case.egfr_evidence), label=f"{row['label']}: {e.category}, {e.label}")


# ============================================================================================== entry point
def fuse(analysis: ECGAnalysis | None, labs: pd.DataFrame | None, patient: PatientContext) -> FusionResult:
    """Apply every fusion rule to what is available; most urgent impression first, notes say what was skipped."""
    case = _build_case(analysis, labs, patient)
    rules = case.table["rules"]
    impressions = []
    for rule_id, row in rules.items():
        fn = _RULES.get(row.get("fn", rule_id))
        if fn is None:
            raise ConfigError(f"fusion.toml [rules.{rule_id}]: no function '{row.get('fn', rule_id)}' evaluates it.")
        found = fn(case, rule_id, row)
        if found is not None:
            impressions.append(found)
    fired = {i.rule for i in impressions}
    impressions = [i for i in impressions if not set(rules[i.rule].get("superseded_by", [])) & fired]
    impressions.sort(key=lambda i: -URGENCY_ORDER[i.urgency])  # stable: table order within one urgency
    case.notes = list(dict.fromkeys(case.notes + _missing_inputs(case)))
    return FusionResult(impressions, case.heart, case.esc, case.egfr, case.notes, case.troponin, case.risk_factors)


def _missing_inputs(case: _Case) -> list[str]:
    """Plain notes on what was not assessed for want of an input."""
    notes = []
    if case.analysis is None:
        notes.append("no ECG: STEMI-pattern and ECG-only rules, ischaemic ECG evidence and the ECG signs of electrolyte "
                     "disorders not assessed")
    else:
        if case.analysis.quality.get("overall") == "poor":
            notes.append("ECG quality is poor: ECG-based rules may miss or misstate findings")
        lbbb = "complete_lbbb" in case.findings
        for rule in case.table["ischaemia"]["ecg_rules"]:
            if rule in case.analysis.not_assessed and (rule != "sgarbossa" or lbbb):  # Sgarbossa is for LBBB only
                notes.append(f"ECG {rule.replace('_', ' ')} not assessed: {case.analysis.not_assessed[rule]}")
    if case.labs is None:
        notes.append("no labs: troponin-based rules (UDMI acute MI / myocardial injury, ESC 0h/1h), electrolytes, "
                     "natriuretic peptides and eGFR not assessed")
        return notes
    groups = {
        "troponin (UDMI acute MI / myocardial injury, ESC 0h/1h)": case.table["troponin"]["analytes"],
        "potassium": ["potassium"], "magnesium": ["magnesium"],
        "calcium": ["calcium_ionised", "calcium_adjusted", "calcium"],
        "natriuretic peptide (heart failure)": [case.table["natriuretic_peptides"]["nt_probnp"], case.table["natriuretic_peptides"]["bnp"]],
        "creatinine / eGFR": [case.table["kidney"]["creatinine"], case.table["kidney"]["egfr"]],
    }
    absent = [name for name, analytes in groups.items() if latest_value(case.labs, analytes) is None]
    if absent:
        notes.append(f"not in the labs, so not assessed: {'; '.join(absent)}")
    return notes
