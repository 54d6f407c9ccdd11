"""Check the vision-language model's claims against the measurements, so that no unsupported claim goes unflagged.

    >>> from workbench.explain.claims import extract_claims, check_claims, claim_score
    >>> raw = extract_claims(answer["findings"], answer["report"])
    >>> verdicts = check_claims(raw, analyze(record), labs_frame)
    >>> claim_score(verdicts)["summary"]

The vocabulary (phrases -> finding codes) and the tolerances live in ``explain/tables/claim_vocabulary.toml``.
"""
from __future__ import annotations

from typing import Any

from ...pipeline.types import Claim
from .check import check_claims
from .extract import RawClaim, extract_claims, parse_leads, split_sentences
from .vocabulary import LEAD_AWARE, load_vocabulary

__all__ = ["LEAD_AWARE", "RawClaim", "check_claims", "claim_score", "extract_claims", "load_vocabulary", "parse_leads", "split_sentences"]

_STATUSES = ("supported", "contradicted", "not assessed")


def claim_score(claims: list[Claim]) -> dict[str, Any]:
    """Counts per status and the share supported among the assessed claims: how far the report can trust the model."""
    counts = {s: sum(c.status == s for c in claims) for s in _STATUSES}
    assessed = counts["supported"] + counts["contradicted"]
    share = None if assessed == 0 else counts["supported"] / assessed
    contradicted = [c.label for c in claims if c.status == "contradicted"]
    if not claims:
        summary = "The model made no checkable claim."
    else:
        summary = (f"{len(claims)} model claim{'s' if len(claims) != 1 else ''}: {counts['supported']} supported, "
                   f"{counts['contradicted']} contradicted, {counts['not assessed']} not assessed"
                   + (f" ({share:.0%} of assessed supported)" if share is not None else "")
                   + (f"; contradicted: {', '.join(contradicted)}" if contradicted else "") + ".")
    return {"total": len(claims), "counts": counts, "assessed": assessed, "supported_share": share,
            "contradicted": contradicted, "summary": summary}
