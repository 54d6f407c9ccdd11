"""The claim vocabulary (``explain/tables/claim_vocabulary.toml``), parsed and compiled once.

Phrases, cues, territories and tolerances are data so a clinician can extend them without touching the
matching or checking logic.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

_FLAGS = re.IGNORECASE
#: checks that read the claimed leads (and territories); other claims ignore any lead the text happens to mention
LEAD_AWARE = frozenset({"st_elevation", "st_depression", "t_inversion", "q_waves", "composite"})


@dataclass(frozen=True)
class Entry:
    """One categorical claim: the phrases that state it, its code and how it is checked."""

    id: str
    code: str
    label: str
    check: str
    rules: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...]
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    exclude_before: re.Pattern[str] | None = None


@dataclass(frozen=True)
class NumericSpec:
    """A value the model may state (rate, PR, QRS, QT, QTc, axis) and the engine measurement it is checked against."""

    id: str
    code: str
    label: str
    measurements: tuple[str, ...]
    unit: str
    tolerance: str
    plausible: tuple[float, float]
    circular: bool = False


@dataclass(frozen=True)
class NumericPattern:
    regex: re.Pattern[str]
    exclude_before: re.Pattern[str] | None


@dataclass(frozen=True)
class Vocabulary:
    entries: tuple[Entry, ...]
    by_id: dict[str, Entry]
    by_code: dict[str, Entry]
    numeric: dict[str, NumericSpec]
    numeric_patterns: tuple[NumericPattern, ...]
    hedge_before: re.Pattern[str]
    hedge_after: re.Pattern[str]
    negation_before: re.Pattern[str]
    negation_after: re.Pattern[str]
    not_a_claim_before: re.Pattern[str]
    pseudo_negation: re.Pattern[str]
    terminators: re.Pattern[str]
    territories: dict[str, tuple[str, ...]]
    territory_patterns: tuple[tuple[str, re.Pattern[str]], ...]
    raw: dict[str, Any]

    def tolerance(self, name: str) -> float:
        return float(self.raw["tolerances"][name]["value"])

    def tolerance_rationale(self, name: str) -> str:
        return str(self.raw["tolerances"][name]["rationale"])


def _cue_alternation(cues: list[str]) -> str:
    """Cues as one regex alternation, with word boundaries where a cue starts/ends with a word character."""
    parts = []
    for cue in sorted(cues, key=len, reverse=True):
        left = r"\b" if re.match(r"\w", cue) else ""
        right = r"\b" if re.search(r"\w$", cue) else ""
        parts.append(f"{left}(?:{cue}){right}")
    return "|".join(parts)


def _compile(pattern: str, fragments: dict[str, str] | None = None) -> re.Pattern[str]:
    for name, value in (fragments or {}).items():
        pattern = pattern.replace("{" + name + "}", value)
    return re.compile(pattern, _FLAGS)


@lru_cache(maxsize=1)
def load_vocabulary() -> Vocabulary:
    """Parse and compile the claim vocabulary table (cached: the table is read once per process)."""
    with resources.files("workbench.explain").joinpath("tables", "claim_vocabulary.toml").open("rb") as handle:
        raw = tomllib.load(handle)
    entries = []
    for item in raw["claim"]:
        params = {k: v for k, v in item.items() if k not in ("id", "code", "label", "check", "rules", "patterns", "exclude_before")}
        entries.append(Entry(item["id"], item["code"], item["label"], item["check"], tuple(item.get("rules", ())),
                             tuple(_compile(p) for p in item["patterns"]), params,
                             _compile(item["exclude_before"]) if item.get("exclude_before") else None))
    ids = [e.id for e in entries]
    if len(ids) != len(set(ids)):
        raise ValueError("claim_vocabulary.toml: duplicate claim ids")
    by_code: dict[str, Entry] = {}
    for entry in entries:  # a bare JSON code reads as its first entry, or the one marked code_default
        if entry.params.get("code_default") or entry.code not in by_code:
            by_code[entry.code] = entry
    fragments = raw["numeric_fragments"]
    numeric = {n["id"]: NumericSpec(n["id"], n["code"], n["label"], tuple(n["measurements"]), n["unit"], n["tolerance"],
                                    (float(n["plausible"][0]), float(n["plausible"][1])), bool(n.get("circular", False)))
               for n in raw["numeric"]}
    numeric_patterns = tuple(NumericPattern(_compile(p["regex"], fragments), _compile(p["exclude_before"]) if p.get("exclude_before") else None)
                             for p in raw["numeric_pattern"])
    cues = raw["cues"]
    after = r"^[\s,]*(?:(?:is|are|was|were|has been|have been|being)\s+)?(?:{})"
    vocab = Vocabulary(
        entries=tuple(entries),
        by_id={e.id: e for e in entries},
        by_code=by_code,
        numeric=numeric,
        numeric_patterns=numeric_patterns,
        hedge_before=re.compile(_cue_alternation(cues["hedge_before"]), _FLAGS),
        hedge_after=re.compile(after.format(_cue_alternation(cues["hedge_after"])), _FLAGS),
        negation_before=re.compile(_cue_alternation(cues["negation_before"]), _FLAGS),
        negation_after=re.compile(after.format(_cue_alternation(cues["negation_after"])), _FLAGS),
        not_a_claim_before=re.compile(_cue_alternation(cues["not_a_claim_before"]), _FLAGS),
        pseudo_negation=re.compile(_cue_alternation(cues["pseudo_negation"]), _FLAGS),
        terminators=re.compile("|".join(cues["clause_terminators"]), _FLAGS),
        territories={k: tuple(v) for k, v in raw["territories"].items()},
        territory_patterns=tuple((k, re.compile(v, _FLAGS)) for k, v in raw["territory_patterns"].items()),
        raw=raw,
    )
    return vocab
