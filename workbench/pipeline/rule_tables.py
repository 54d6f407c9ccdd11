"""The pipeline's rule tables (``pipeline/tables/*.toml``): fusion rules, recommendations and the risk-factor
vocabulary. Thresholds and citations live there, not in code; this module loads each table once and checks its
shape, so a bad edit fails at start-up with the row named instead of on a patient's case."""
from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from ..errors import ConfigError
from .types import URGENCY_ORDER

_CODE_RE = re.compile(r"^(\d{6,18}|wb:[a-z0-9][a-z0-9-]*)$")
_RULE_FIELDS = ("label", "code", "urgency", "urgency_reason", "citation")
_RECOMMENDATION_FIELDS = ("kind", "text", "citation")
_WHEN_KEYS = {"impressions", "impression_urgency", "esc", "chest_pain", "no_troponin", "risk_factors", "any_risk_factor", "lab",
              "always"}
_LAB_BOUNDS = {"at_or_above", "above", "below", "at_or_below"}


@lru_cache(maxsize=None)
def load_table(name: str) -> dict[str, Any]:
    """Parse ``workbench/pipeline/tables/<name>.toml`` once (a TOML error is a ConfigError naming the file)."""
    try:
        with resources.files(__package__).joinpath("tables", f"{name}.toml").open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"The pipeline rule table {name}.toml cannot be read: {exc}.") from exc


@lru_cache(maxsize=1)
def fusion_table() -> dict[str, Any]:
    """The fusion table with every ``[rules.<id>]`` row checked: label, code, urgencies and a citation."""
    table = load_table("fusion")
    rules = table.get("rules")
    if not isinstance(rules, dict) or not rules:
        raise ConfigError("fusion.toml: no [rules.<id>] rows.")
    for rule_id, row in rules.items():
        where = f"fusion.toml [rules.{rule_id}]"
        for key in _RULE_FIELDS:
            if not str(row.get(key, "")).strip():
                raise ConfigError(f"{where}: '{key}' is missing.")
        if not _CODE_RE.match(str(row["code"])):
            raise ConfigError(f"{where}: code '{row['code']}' is neither a SNOMED CT id nor 'wb:...'.")
        for key, value in row.items():
            if key.startswith("urgency") and not key.startswith("urgency_reason") and value not in URGENCY_ORDER:
                raise ConfigError(f"{where}: {key} '{value}' is not one of {sorted(URGENCY_ORDER)}.")
        for other in row.get("superseded_by", []):
            if other not in rules:
                raise ConfigError(f"{where}: superseded_by names an unknown rule '{other}'.")
    return table


@lru_cache(maxsize=1)
def recommendation_table() -> dict[str, Any]:
    """The recommendation table with every ``[rules.<id>]`` row checked (kind, text, citation, conditions)."""
    table = load_table("recommendations")
    rules = table.get("rules")
    if not isinstance(rules, dict) or not rules:
        raise ConfigError("recommendations.toml: no [rules.<id>] rows.")
    known_impressions = set(fusion_table()["rules"])
    for rule_id, row in rules.items():
        where = f"recommendations.toml [rules.{rule_id}]"
        for key in _RECOMMENDATION_FIELDS:
            if not str(row.get(key, "")).strip():
                raise ConfigError(f"{where}: '{key}' is missing.")
        if row["kind"] not in ("next_step", "lifestyle"):
            raise ConfigError(f"{where}: kind must be next_step or lifestyle.")
        if not re.match(r"^(Consider|Discuss)\b", row["text"]):
            raise ConfigError(f"{where}: decision support is phrased 'Consider...' or 'Discuss...', not as an order.")
        when = row.get("when", [])
        if not when and "fn" not in row:
            raise ConfigError(f"{where}: 'when' (a list of conditions) is missing.")
        for cond in when:
            unknown = set(cond) - _WHEN_KEYS
            if unknown:
                raise ConfigError(f"{where}: unknown condition(s) {sorted(unknown)}.")
            for name in cond.get("impressions", []):
                if name not in known_impressions:
                    raise ConfigError(f"{where}: impression rule '{name}' is not in fusion.toml.")
            if cond.get("impression_urgency", "routine") not in URGENCY_ORDER:
                raise ConfigError(f"{where}: impression_urgency must be one of {sorted(URGENCY_ORDER)}.")
            lab = cond.get("lab")
            if lab is not None and (not lab.get("analyte") or not set(lab) - {"analyte"} or set(lab) - {"analyte"} - _LAB_BOUNDS):
                raise ConfigError(f"{where}: lab = {{ analyte = [...], and at_or_above / above / below / at_or_below }}.")
            for name in cond.get("risk_factors", []):
                if name not in risk_factor_vocabulary():
                    raise ConfigError(f"{where}: risk factor '{name}' is not in risk_factors.toml.")
    return table


# --------------------------------------------------------------------------------------------- risk factors
@dataclass(frozen=True)
class RiskFactor:
    """One risk factor of the intake form, with the words that mean it."""

    name: str
    label: str
    heart: bool  # counted by the HEART score's 'Risk factors' component
    synonyms: tuple[str, ...]
    citation: str


def _norm_words(text: str) -> str:
    s = str(text).lower().replace("_", " ").replace("-", " ")
    s = re.sub(r"[^a-z0-9<>+ ]+", " ", s)
    return " ".join(s.split())


@lru_cache(maxsize=1)
def risk_factor_vocabulary() -> dict[str, RiskFactor]:
    """Canonical risk-factor names (as PatientContext.risk_factors uses them) -> their entry."""
    table = load_table("risk_factors")
    out: dict[str, RiskFactor] = {}
    seen: dict[str, str] = {}
    for name, row in table.get("factor", {}).items():
        if not row.get("label") or not row.get("citation"):
            raise ConfigError(f"risk_factors.toml [factor.{name}]: label and citation are needed.")
        synonyms = tuple(row.get("synonyms", []))
        for word in (name, row["label"], *synonyms):
            key = _norm_words(word)
            if seen.get(key, name) != name:
                raise ConfigError(f"risk_factors.toml: '{word}' means both {seen[key]} and {name}.")
            seen[key] = name
        out[name] = RiskFactor(name, row["label"], bool(row.get("heart", False)), synonyms, row["citation"])
    if not out:
        raise ConfigError("risk_factors.toml: no [factor.<name>] entries.")
    return out


@lru_cache(maxsize=1)
def _risk_factor_index() -> dict[str, str]:
    return {_norm_words(word): rf.name for rf in risk_factor_vocabulary().values()
            for word in (rf.name, rf.label, *rf.synonyms)}


def normalise_risk_factor(text: str) -> str | None:
    """The canonical name of a risk factor as typed on the form or the CLI ("HTN" -> "hypertension"), or None."""
    return _risk_factor_index().get(_norm_words(text))


def normalise_risk_factors(words: Iterable[str]) -> tuple[list[str], list[str]]:
    """(canonical names in form order without repeats, words not recognised) so the caller can say what it ignored."""
    known: list[str] = []
    unknown: list[str] = []
    for word in words:
        if not str(word).strip():
            continue
        name = normalise_risk_factor(word)
        if name is None:
            unknown.append(str(word))
        elif name not in known:
            known.append(name)
    return known, unknown
