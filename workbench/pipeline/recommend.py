"""Recommendations: next steps and lifestyle advice from the fusion result, the form and the labs.

Rows of ``tables/recommendations.toml`` say when they apply (impressions made, ESC category, risk factors, lab
values); each text is decision support ("Consider...", "Discuss..."), carries its citation and says which
impressions, risk factors or values triggered it, so a clinician can see why it is there and overrule it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .fusion import (FusionResult, LabValue, chest_pain_presentation, format_value, ischaemic_symptoms, latest_value,
                     patient_labs)
from .rule_tables import normalise_risk_factors, recommendation_table, risk_factor_vocabulary
from .types import URGENCY_ORDER, PatientContext, Recommendation


@dataclass
class _Context:
    fusion: FusionResult
    patient: PatientContext
    labs: pd.DataFrame | None
    risk_factors: list[str]


def recommend(fusion: FusionResult, patient: PatientContext, labs: pd.DataFrame | None) -> list[Recommendation]:
    """Next steps first, then lifestyle advice, each once, in table order."""
    table = recommendation_table()
    frame, _ = patient_labs(labs, patient)
    risk_factors = fusion.risk_factors or normalise_risk_factors(patient.risk_factors)[0]
    ctx = _Context(fusion, patient, frame, risk_factors)
    out: list[Recommendation] = []
    for rule_id, row in table["rules"].items():
        if "fn" in row:
            rec = _COMPUTED[row["fn"]](ctx, rule_id, row, table)
        else:
            rec = _from_conditions(ctx, rule_id, row)
        if rec is not None and all(r.text != rec.text for r in out):
            out.append(rec)
    return sorted(out, key=lambda r: r.kind != "next_step")  # stable


def _from_conditions(ctx: _Context, rule_id: str, row: dict[str, Any]) -> Recommendation | None:
    for cond in row["when"]:
        holds, because, fields = _holds(ctx, cond)
        if holds:
            text = row["text"].format_map(_Fields(fields))
            return Recommendation(row["kind"], text, list(dict.fromkeys(because)), row["citation"], rule_id)
    return None


class _Fields(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _holds(ctx: _Context, cond: dict[str, Any]) -> tuple[bool, list[str], dict[str, str]]:
    """(all keys of the condition hold, what triggered it, text fields of a matched lab value)."""
    because: list[str] = []
    fields: dict[str, str] = {}
    f = ctx.fusion
    if "impressions" in cond:
        minimum = URGENCY_ORDER[cond.get("impression_urgency", "routine")]
        hits = [i for i in f.impressions if i.rule in cond["impressions"] and URGENCY_ORDER[i.urgency] >= minimum]
        if not hits:
            return False, [], {}
        because += [i.code for i in hits]
    if "esc" in cond:
        if f.esc is None or f.esc.category not in cond["esc"]:
            return False, [], {}
        because.append(f"ESC 0h/1h {f.esc.category}")
    if cond.get("chest_pain"):
        if not chest_pain_presentation(ctx.patient):
            return False, [], {}
        because += ischaemic_symptoms(ctx.patient) or ["chest-pain presentation"]
    if cond.get("no_troponin"):
        if f.troponin is not None:
            return False, [], {}
        because.append("no troponin result")
    if "risk_factors" in cond:
        hits_rf = [rf for rf in ctx.risk_factors if rf in cond["risk_factors"]]
        if not hits_rf:
            return False, [], {}
        because += hits_rf
    if cond.get("any_risk_factor"):
        if not ctx.risk_factors:
            return False, [], {}
        because += ctx.risk_factors
    if "lab" in cond:
        lab = cond["lab"]
        value = latest_value(ctx.labs, lab["analyte"])
        if value is None or not _within(value.value, lab):
            return False, [], {}
        because.append(f"{value.analyte} {format_value(value.value)} {value.unit}")
        fields = {"value": format_value(value.value), "unit": value.unit, "name": value.name}
    return True, because, fields


def _within(x: float, bounds: dict[str, Any]) -> bool:
    return (x >= bounds.get("at_or_above", float("-inf")) and x > bounds.get("above", float("-inf"))
            and x < bounds.get("below", float("inf")) and x <= bounds.get("at_or_below", float("inf")))


# ============================================================================================== LDL-C goal
def ldl_risk_category(fusion: FusionResult, risk_factors: list[str], ldl: LabValue | None) -> tuple[str | None, list[str], bool]:
    """ESC/EAS 2019 risk category for the LDL-C goal from what the case knows: (category, reasons, provisional).

    Very high and high risk follow from documented disease, diabetes, kidney function or a markedly raised LDL-C;
    between moderate and low only SCORE2 decides, so that choice is provisional. None when nothing is known."""
    p = recommendation_table()["ldl"]
    egfr = None if fusion.egfr is None else fusion.egfr.value
    very_high = [risk_factor_vocabulary()[rf].label for rf in risk_factors if rf in p["very_high_risk_factors"]]
    very_high += [f"{i.label}" for i in fusion.impressions if i.rule in p["very_high_impressions"]]
    if egfr is not None and egfr < p["very_high_egfr_below"]:
        very_high.append(f"eGFR {egfr:.0f} < {p['very_high_egfr_below']:g} (severe CKD)")
    major = [rf for rf in risk_factors if rf in p["major_risk_factors"]]
    diabetic = any(rf in p["high_risk_factors"] for rf in risk_factors)
    if diabetic and len(major) >= p["very_high_diabetes_with_other_risk_factors"]:
        very_high.append(f"diabetes with {len(major)} major risk factors")
    if very_high:
        return "very_high", very_high, False
    high = [risk_factor_vocabulary()[rf].label.lower() for rf in risk_factors if rf in p["high_risk_factors"]]
    if egfr is not None and egfr < p["high_egfr_below"]:
        high.append(f"eGFR {egfr:.0f} < {p['high_egfr_below']:g} (moderate CKD)")
    if ldl is not None and ldl.value > p["high_ldl_above"]:
        high.append(f"LDL-C {format_value(ldl.value)} > {p['high_ldl_above']:g} mmol/L")
    if high:
        return "high", high, False
    if risk_factors:
        labels = [risk_factor_vocabulary()[rf].label.lower() for rf in risk_factors]
        return "moderate", labels + ["provisional: estimate SCORE2 to confirm"], True
    if ldl is not None:
        return "low", ["no risk factor recorded; provisional: estimate SCORE2 to confirm"], True
    return None, [], False


def _ldl_goal(ctx: _Context, rule_id: str, row: dict[str, Any], table: dict[str, Any]) -> Recommendation | None:
    p = table["ldl"]
    ldl = latest_value(ctx.labs, p["analyte"])
    category, reasons, _ = ldl_risk_category(ctx.fusion, ctx.risk_factors, ldl)
    if category is None:
        return None
    goal = p["goals_mmol_l"][category]
    measured = ""
    because = [f"{category.replace('_', ' ')} risk: {r}" for r in reasons]
    if ldl is not None:
        where = "at or above" if ldl.value >= goal else "below"
        shown = format_value(round(ldl.value, 2))
        measured = f"; measured LDL-C {shown} mmol/L is {where} the goal"
        because.append(f"{ldl.analyte} {shown} {ldl.unit}")
    reduction = f" and at least {p['reduction_pct']:g} % below baseline" if category in p["reduction_categories"] else ""
    text = row["text"].format(goal=f"{goal:.1f}", category=category.replace("_", " "), why="; ".join(reasons),
                              measured=measured, reduction=reduction)
    return Recommendation(row["kind"], text, list(dict.fromkeys(because)), row["citation"], rule_id)


_COMPUTED: dict[str, Callable[[_Context, str, dict[str, Any], dict[str, Any]], Recommendation | None]] = {"ldl_goal": _ldl_goal}
