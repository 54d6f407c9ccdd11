"""Agreement between the workbench and clinicians' verdicts in the case store (Cohen's kappa).

Each non-'unsure' verdict gives a pair (workbench: finding stated?, clinician: finding present?), the clinician's
side following `datasets.store.clinician_truth`. Kappa corrects the raw agreement for chance; when one side is
constant (e.g. only stated findings were validated and the workbench side is always 'stated'), kappa is 0 or
undefined whatever the agreement, so the raw agreement is reported next to it.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from .metrics import cohen_kappa


def verdict_pairs(validations: Iterable[dict[str, Any]], current_codes: Iterable[str] | None = None) -> list[tuple[int, int]]:
    """(workbench, clinician) pairs; with ``current_codes`` the workbench side is today's re-analysis."""
    codes = set(current_codes) if current_codes is not None else None
    pairs = []
    for v in validations:
        if v.get("clinician") is None:
            continue
        ours = v["code"] in codes if codes is not None else v["stated"]
        pairs.append((int(ours), int(v["clinician"])))
    return pairs


def kappa_summary(pairs: list[tuple[int, int]], unsure: int = 0) -> dict[str, Any]:
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    agree = sum(x == y for x, y in pairs)
    kappa = cohen_kappa(a, b) if pairs else math.nan
    note = ""
    if pairs and (len(set(a)) == 1 or len(set(b)) == 1):
        note = "one side is constant: kappa is 0 or undefined whatever the agreement; read the raw agreement"
    return {"n": len(pairs), "unsure": unsure, "agreement": agree / len(pairs) if pairs else math.nan, "kappa": kappa, "note": note}


def store_agreement(extras: Iterable[dict[str, Any]], *, rerun: bool = False) -> dict[str, Any]:
    """Kappa over every validated finding of the study's store records (extras of their result rows)."""
    pairs: list[tuple[int, int]] = []
    unsure = 0
    for extra in extras:
        validations = extra.get("validations") or []
        unsure += sum(v.get("clinician") is None for v in validations)
        pairs += verdict_pairs(validations, extra.get("codes") if rerun else None)
    return kappa_summary(pairs, unsure)
