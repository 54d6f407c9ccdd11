"""The HEART score (History, ECG, Age, Risk factors, Troponin) of a chest-pain presentation.

Points and bands come from the ``[heart]`` section of ``tables/fusion.toml`` (criteria.md 'HEART score'). The score
is only totalled when all five components are known: a partial total would look reassuringly low, so the missing
components are named instead.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .rule_tables import fusion_table, normalise_risk_factors, risk_factor_vocabulary
from .types import Evidence, PatientContext

if TYPE_CHECKING:
    from ..ecg.analysis import ECGAnalysis

HeartCategory = Literal["low", "moderate", "high"]
COMPONENTS = ("History", "ECG", "Age", "Risk factors", "Troponin")


@dataclass
class HeartComponent:
    """One HEART component: its points (None = not known) and the facts it rests on."""

    name: str
    points: int | None
    basis: str  # why these points, or why the component is missing
    evidence: Evidence | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "points": self.points, "basis": self.basis,
                "evidence": None if self.evidence is None else self.evidence.to_dict()}


@dataclass
class HeartScore:
    """The five components, and the total and risk category when all five are known."""

    components: dict[str, HeartComponent]
    total: int | None
    category: HeartCategory | None
    citation: str
    missing: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.total is not None

    def describe(self) -> str:
        parts = ", ".join(f"{c.name} {c.points if c.points is not None else '?'}" for c in self.components.values())
        if self.total is None:
            return f"HEART score not computed: {', '.join(self.missing)} missing ({parts})"
        return f"HEART score {self.total} ({self.category} risk): {parts}"

    def evidence(self) -> list[Evidence]:
        """One score item with all components, then the facts behind each component."""
        values = {c.name: c.points for c in self.components.values()} | {"total": self.total, "category": self.category}
        items = [Evidence("score", self.describe(), "", values)]
        items += [Evidence("score", f"{c.name} {c.points}: {c.basis}", "", {"component": c.name, "points": c.points})
                  for c in self.components.values() if c.points is not None]
        items += [c.evidence for c in self.components.values() if c.evidence is not None]
        return items

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "category": self.category, "missing": self.missing, "citation": self.citation,
                "components": {k: c.to_dict() for k, c in self.components.items()}}


def heart_score(analysis: ECGAnalysis | None, patient: PatientContext, *, age: float | None = None,
                troponin_ng_l: float | None = None, troponin_url_ng_l: float | None = None, troponin_label: str = "troponin",
                risk_factors: list[str] | None = None) -> HeartScore:
    """HEART score from the ECG analysis, the form and the highest troponin (ng/L) with its assay's URL.

    ``age`` overrides ``patient.age`` (e.g. taken from the ECG file); ``risk_factors`` are canonical names
    (default: the form's words through the risk-factor vocabulary)."""
    table = fusion_table()["heart"]
    if risk_factors is None:
        risk_factors, _ = normalise_risk_factors(patient.risk_factors)
    age = patient.age if age is None else age
    components = {
        "History": _history(patient, table),
        "ECG": _ecg(analysis, table),
        "Age": _age(age, table),
        "Risk factors": _risk(risk_factors, table),
        "Troponin": _troponin(troponin_ng_l, troponin_url_ng_l, troponin_label, table),
    }
    missing = [name for name, c in components.items() if c.points is None]
    if missing:
        return HeartScore(components, None, None, table["citation"], missing)
    total = sum(c.points for c in components.values() if c.points is not None)
    category = next(c["name"] for c in table["categories"] if total <= c["at_most"])
    return HeartScore(components, total, category, table["citation"])


def _history(patient: PatientContext, table: dict[str, Any]) -> HeartComponent:
    level = patient.history_suspicion
    if level is None or level not in table["history"]:
        return HeartComponent("History", None, "history suspicion not recorded on the form")
    words = table["history_words"][level]
    return HeartComponent("History", int(table["history"][level]), f"history {words} (form)",
                          Evidence("form", f"History judged {words}", "", {"history_suspicion": level}))


def _ecg(analysis: ECGAnalysis | None, table: dict[str, Any]) -> HeartComponent:
    if analysis is None:
        return HeartComponent("ECG", None, "no ECG")
    found = {f.rule: f for f in analysis.findings}
    for points, rules, words in ((2, table["ecg_two"], "significant ST deviation"),
                                 (1, table["ecg_one"], "non-specific repolarisation / LBBB / LVH")):
        hits = [found[r] for r in rules if r in found]
        if hits:
            labels = "; ".join(_finding_text(f) for f in hits)
            return HeartComponent("ECG", points, f"{words}: {labels}",
                                  Evidence("ecg", labels, hits[0].code, {"rules": [f.rule for f in hits]}))
    blind = [r for r in table["ecg_required"] if r in analysis.not_assessed]
    if blind and len(blind) == len(table["ecg_required"]):
        reasons = "; ".join(f"{r}: {analysis.not_assessed[r]}" for r in blind)
        return HeartComponent("ECG", None, f"ST deviation could not be assessed ({reasons})")
    return HeartComponent("ECG", 0, "no ST deviation, LBBB, LVH or repolarisation abnormality detected",
                          Evidence("ecg", "ECG: none of the HEART ECG abnormalities detected", "", {}))


def _finding_text(f: Any) -> str:
    leads = f.evidence.get("leads") if isinstance(f.evidence, dict) else None
    if isinstance(leads, list) and leads:
        return f"{f.label} in {', '.join(map(str, leads))}"
    return str(f.label)


def _age(age: float | None, table: dict[str, Any]) -> HeartComponent:
    if age is None:
        return HeartComponent("Age", None, "age not known")
    for band in table["age_bands"]:
        if "below" not in band or age < band["below"]:
            points = int(band["points"])
            break
    return HeartComponent("Age", points, f"age {age:g} years", Evidence("form", f"Age {age:g} years", "", {"age_years": age}))


def _risk(names: list[str], table: dict[str, Any]) -> HeartComponent:
    vocabulary = risk_factor_vocabulary()
    counted = [n for n in names if n in vocabulary and vocabulary[n].heart]
    atherosclerosis = [n for n in names if n in vocabulary and not vocabulary[n].heart]
    labels = [vocabulary[n].label for n in counted + atherosclerosis]
    values = {"risk_factors": counted + atherosclerosis, "count": len(counted)}
    if atherosclerosis:
        points, basis = 2, f"known atherosclerotic disease ({', '.join(labels)})"
    elif len(counted) >= table["risk_two_from"]:
        points, basis = 2, f"{len(counted)} risk factors ({', '.join(labels)})"
    elif len(counted) >= table["risk_one_from"]:
        points, basis = 1, f"{len(counted)} risk factor(s) ({', '.join(labels)})"
    else:
        points, basis = 0, "no risk factors recorded on the form"
    return HeartComponent("Risk factors", points, basis, Evidence("form", f"Risk factors: {', '.join(labels) or 'none recorded'}", "", values))


def _troponin(value: float | None, url: float | None, label: str, table: dict[str, Any]) -> HeartComponent:
    if value is None:
        return HeartComponent("Troponin", None, "no troponin result")
    if url is None or url <= 0:
        return HeartComponent("Troponin", None, f"{label}: the assay's 99th-percentile URL is not known")
    ratio = value / url
    for band in table["troponin_bands"]:
        if "at_most_x_url" not in band or ratio <= band["at_most_x_url"]:
            points = int(band["points"])
            break
    text = f"highest {label} {value:g} ng/L = {ratio:.1f} x URL ({url:g} ng/L)"
    return HeartComponent("Troponin", points, text, Evidence("lab", text, "", {"troponin_ng_L": value, "url_ng_L": url, "x_url": round(ratio, 2)}))
