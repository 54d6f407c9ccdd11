"""The evaluation label map (``eval/tables/labels.toml``) as one typed object: SNOMED CT / PTB-XL SCP codes ->
workbench labels -> PTB-XL diagnostic superclasses, and how an engine result becomes one score per class.

Every study reads truth and predictions through this one map, so a label means the same thing in every data set.
"""
from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

SUPERCLASS_PREFIX = "sc_"


@dataclass(frozen=True)
class Label:
    """One evaluated finding: the engine rule that states it and the truth codes that mean it."""

    id: str
    rule: str
    snomed: tuple[str, ...]
    scp: tuple[str, ...]
    abbr: str
    superclass: str | None = None
    superclass_source: str = ""


@dataclass(frozen=True)
class LabelMap:
    labels: tuple[Label, ...]
    superclasses: tuple[str, ...]
    snomed_superclass: Mapping[str, dict[str, str]] = field(default_factory=dict)
    ptbdb_reason: Mapping[str, str] = field(default_factory=dict)
    norm_requires: str = "NSR"

    # ------------------------------------------------------------------ names
    @property
    def label_ids(self) -> list[str]:
        return [lab.id for lab in self.labels]

    @property
    def superclass_ids(self) -> list[str]:
        """Class keys of the superclasses (``sc_MI``...), distinct from label ids."""
        return [SUPERCLASS_PREFIX + s for s in self.superclasses]

    @property
    def class_ids(self) -> list[str]:
        """Every evaluated class: labels then superclasses (the columns of a study)."""
        return self.label_ids + self.superclass_ids

    def label(self, label_id: str) -> Label:
        return next(lab for lab in self.labels if lab.id == label_id)

    @staticmethod
    def display(class_id: str) -> str:
        return f"{class_id[len(SUPERCLASS_PREFIX):]} (superclass)" if class_id.startswith(SUPERCLASS_PREFIX) else class_id

    # ------------------------------------------------------------------ truth
    def truth_from_snomed(self, codes: Iterable[str]) -> dict[str, int]:
        """Challenge convention: a label is positive when one of its codes is in ``# Dx``, negative otherwise.
        Superclasses MI/STTC/CD/HYP likewise; NORM is only known to be 0 (when another superclass is positive),
        since no Challenge code says 'normal ECG'."""
        codes = {str(c).strip() for c in codes}
        truth = {lab.id: int(bool(codes & set(lab.snomed))) for lab in self.labels}
        positive = {lab.superclass for lab in self.labels if lab.superclass and truth[lab.id]}
        positive |= {row["superclass"] for code, row in self.snomed_superclass.items() if code in codes}
        for sc in self.superclasses:
            if sc != "NORM":
                truth[SUPERCLASS_PREFIX + sc] = int(sc in positive)
        if positive - {"NORM"}:
            truth[SUPERCLASS_PREFIX + "NORM"] = 0
        return truth

    def truth_from_scp(self, codes: Iterable[str], diagnostic_class: Mapping[str, str]) -> dict[str, int]:
        """PTB-XL: a label with SCP codes is positive when one is in ``scp_codes`` (any likelihood, as PTB-XL's own
        example code does); superclasses from the statements' ``diagnostic_class`` (all five known)."""
        codes = {str(c).strip() for c in codes}
        truth = {lab.id: int(bool(codes & set(lab.scp))) for lab in self.labels if lab.scp}
        classes = {diagnostic_class[c] for c in codes if diagnostic_class.get(c)}
        truth |= {SUPERCLASS_PREFIX + sc: int(sc in classes) for sc in self.superclasses}
        return truth

    def labels_for_code(self, code: str) -> list[str]:
        """Label ids whose engine finding code or truth SNOMED codes include ``code`` (claims, store verdicts)."""
        from ..ecg.tables import load_table

        criteria = load_table("criteria")
        return [lab.id for lab in self.labels
                if code in lab.snomed or criteria.get(lab.rule, {}).get("code") == code]

    def truth_from_codes(self, codes: Iterable[str]) -> dict[str, int]:
        """Every label: 1 when one of ``codes`` (SNOMED/finding codes or SCP codes or label ids) means it, else 0."""
        codes = {str(c).strip() for c in codes}
        found: set[str] = set()
        for code in codes:
            found |= set(self.labels_for_code(code))
        found |= {lab.id for lab in self.labels if lab.id in codes or codes & set(lab.scp)}
        return {lab.id: int(lab.id in found) for lab in self.labels}

    # ------------------------------------------------------------------ predictions
    def label_scores(self, rule_scores: Mapping[str, float | None]) -> dict[str, float]:
        """Engine rule scores -> one score per label (NaN where the rule could not be assessed)."""
        out = {}
        for lab in self.labels:
            value = rule_scores.get(lab.rule)
            out[lab.id] = float(value) if value is not None else math.nan
        return out

    def superclass_scores(self, label_scores: Mapping[str, float]) -> dict[str, float]:
        """Superclass score = the highest score of its labels (NaN counts as 0); NORM as said in labels.toml."""
        def val(x: float | None) -> float:
            return 0.0 if x is None or math.isnan(x) else float(x)

        out = {}
        for sc in self.superclasses:
            if sc == "NORM":
                continue
            members = [val(label_scores.get(lab.id)) for lab in self.labels if lab.superclass == sc]
            out[SUPERCLASS_PREFIX + sc] = max(members, default=0.0)
        abnormal = max(out.values(), default=0.0)
        out[SUPERCLASS_PREFIX + "NORM"] = min(val(label_scores.get(self.norm_requires)), 1.0 - abnormal)
        return {k: out[k] for k in self.superclass_ids}


@lru_cache(maxsize=None)
def load_label_map() -> LabelMap:
    """Parse ``eval/tables/labels.toml`` once per process."""
    with resources.files("workbench.eval").joinpath("tables", "labels.toml").open("rb") as handle:
        data = tomllib.load(handle)
    labels = tuple(Label(id=key, rule=row["rule"], snomed=tuple(row.get("snomed", [])), scp=tuple(row.get("scp", [])),
                         abbr=row.get("abbr", key), superclass=row.get("superclass"),
                         superclass_source=row.get("superclass_source", ""))
                   for key, row in data["label"].items())
    meta = data.get("meta", {})
    return LabelMap(labels=labels, superclasses=tuple(meta.get("superclasses", ["NORM", "MI", "STTC", "CD", "HYP"])),
                    snomed_superclass=dict(data.get("snomed_superclass", {})),
                    ptbdb_reason={k.lower(): v for k, v in data.get("ptbdb_reason", {}).items()},
                    norm_requires=meta.get("norm_requires", "NSR"))
