"""Typed records of a case run: what the clinician entered, and what fusion, claim checking and the
recommendation tables produce. Every conclusion carries its evidence and its citation, so a report can always
say why."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Urgency = Literal["emergency", "urgent", "routine"]
URGENCY_ORDER: dict[str, int] = {"routine": 0, "urgent": 1, "emergency": 2}
ClaimStatus = Literal["supported", "not assessed", "contradicted"]
Sex = Literal["F", "M"]


@dataclass
class PatientContext:
    """The short intake form: enough for sex/age-specific criteria, the HEART score and lifestyle advice."""

    patient_id: str  # pseudonymous
    age: float | None = None
    sex: Sex | None = None
    symptoms: list[str] = field(default_factory=list)  # e.g. "chest pain", "dyspnoea", "syncope", "palpitations"
    chest_pain_onset_hours: float | None = None  # hours from onset to the first (0h) blood sample
    history_suspicion: Literal["low", "moderate", "high"] | None = None  # HEART 'History' component
    risk_factors: list[str] = field(default_factory=list)  # hypertension, hyperlipidaemia, diabetes, obesity,
    #   smoking, family_history, known_atherosclerosis (names as in pipeline/tables/risk_factors)
    medications: list[str] = field(default_factory=list)
    notes: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Evidence:
    """One fact behind a conclusion: an ECG finding (leads, values), a lab value, a score or a form answer."""

    kind: Literal["ecg", "lab", "score", "form", "model"]
    text: str  # plain sentence: "ST elevation 2.1 mm in II, III, aVF"
    code: str = ""  # SNOMED CT code of an ECG finding, LOINC of a lab value
    values: dict[str, Any] = field(default_factory=dict)  # the numbers, with units in the keys or text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Impression:
    """One item of the final impression (e.g. acute MI), with why and how urgent."""

    code: str  # SNOMED CT where one exists, else a workbench code ("wb:...")
    label: str
    urgency: Urgency
    urgency_reason: str
    evidence: list[Evidence]
    citation: str
    rule: str  # id of the fusion rule (table row) that produced it

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "label": self.label, "urgency": self.urgency, "urgency_reason": self.urgency_reason,
                "evidence": [e.to_dict() for e in self.evidence], "citation": self.citation, "rule": self.rule}


@dataclass
class Recommendation:
    """A next step (test, referral, monitoring) or a piece of lifestyle advice, phrased as decision support."""

    kind: Literal["next_step", "lifestyle"]
    text: str
    because: list[str]  # impression codes or risk factors that triggered it
    citation: str
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Claim:
    """A statement of the model, mapped to a finding code and checked against the measurements and labs."""

    text: str  # the phrase or JSON finding as the model wrote it
    code: str  # workbench finding code (SNOMED CT as in ecg/tables/criteria.toml) or "" when unmapped
    label: str
    status: ClaimStatus
    reason: str  # why supported / contradicted / not assessed, with the measured values
    source: Literal["findings", "text"] = "text"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def highest_urgency(items: list[Impression]) -> Urgency:
    """The case's urgency is that of its most urgent impression (routine when there is none)."""
    return max((i.urgency for i in items), key=URGENCY_ORDER.__getitem__, default="routine")
