"""Does the encoder's attention fall on the leads where the measurements found something? The leads each
measured finding cites, the share of attention on them against the share of the page they cover, and a plain
sentence saying what that means. Attention shows where information came from, not why."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..ecg.image.types import LAYOUTS, Layout, LeadPanel
from .heatmap import OUTSIDE, lead_attribution

#: wording bands of the concordance ratio (attention share / page-area share): a reading aid for the sentence,
#: not a clinical threshold; 1.0 is what attention spread evenly over the page gives
MORE_THAN_EVEN = 1.2
LESS_THAN_EVEN = 0.8


def finding_leads(finding: Mapping[str, Any]) -> list[str]:
    """The leads a finding cites as its evidence (a list, or the keys of a per-lead dict), as the analysis wrote them."""
    leads = (finding.get("evidence") or {}).get("leads")
    if isinstance(leads, Mapping):
        return [str(k) for k in leads]
    if isinstance(leads, (list, tuple)):
        return [str(k) for k in leads]
    return []


def flagged_leads(findings: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """lead -> labels of the measured findings that cite it (findings without leads, e.g. a rhythm, cite none)."""
    out: dict[str, list[str]] = {}
    for finding in findings:
        for lead in finding_leads(finding):
            out.setdefault(lead, []).append(str(finding.get("label", "")))
    return out


def base_lead(name: str) -> str:
    """The lead of an attribution name: attribution names a rhythm strip apart from the short panel of the same
    lead ("V1 (rhythm)" -> "V1")."""
    return name.split(" (")[0]


def schematic_layout(name: str = "3x4+1", size: tuple[int, int] = (700, 1000)) -> Layout:
    """The lead panels of a standard page in a plain frame of ``size`` (height, width): the evidence map of a
    signal file when no picture is drawn (no encoder: drawing the page would only cost time)."""
    rows, rhythm = LAYOUTS[name]
    height, width = size
    n_rows = len(rows) + len(rhythm)
    row_h = height / n_rows
    panels = []
    for r, row in enumerate(rows):
        col_w = width / len(row)
        for c, lead in enumerate(row):
            panels.append(LeadPanel(lead, (round(c * col_w), round(r * row_h), round((c + 1) * col_w), round((r + 1) * row_h)),
                                    (r + 0.5) * row_h, c * 10.0 / len(row), 10.0 / len(row)))
    for i, lead in enumerate(rhythm):
        r = len(rows) + i
        panels.append(LeadPanel(lead, (0, round(r * row_h), width, round((r + 1) * row_h)), (r + 0.5) * row_h, 0.0, 10.0, True))
    return Layout(name, panels)


@dataclass(frozen=True)
class Concordance:
    """How much of the encoder's attention fell on the leads with measured abnormalities, against the share of the
    page those leads cover (what attention spread evenly over the page would give)."""

    attention_share: float
    area_share: float
    leads: tuple[str, ...]

    @property
    def ratio(self) -> float | None:
        return self.attention_share / self.area_share if self.area_share > 0 else None

    def sentence(self) -> str:
        """The number in one plain sentence, with what it means for a reader of the heatmap."""
        ratio = self.ratio
        head = (f"{self.attention_share:.0%} of the encoder's attention fell on the lead panels with measured "
                f"abnormalities ({', '.join(self.leads)}), which cover {self.area_share:.0%} of the page")
        if ratio is None:
            return head + "."
        if ratio >= MORE_THAN_EVEN:
            verdict = "the model looked at these leads more than an even spread would"
        elif ratio <= LESS_THAN_EVEN:
            verdict = "the model looked at these leads less than an even spread would: its attention lay elsewhere"
        else:
            verdict = "about what an even spread over the page would give"
        return f"{head}: {ratio:.2f} times the even share ({verdict})."


def concordance(attribution: Mapping[str, float], layout: Layout, image_size: tuple[int, int],
                flagged: Mapping[str, Sequence[str]] | Sequence[str]) -> Concordance | None:
    """Attention share vs page-area share of the flagged leads' panels (None when no finding cites a lead). Areas
    use the same pixel-ownership rule as the attribution (`lead_attribution` of a uniform map)."""
    leads = [lead for lead in (flagged.keys() if isinstance(flagged, Mapping) else flagged)]
    names = [p.lead for p in layout.panels]
    cited = [lead for lead in leads if lead in names]
    if not cited:
        return None
    height, width = image_size
    area = lead_attribution(np.ones((int(height), int(width)), np.float32), layout)
    attention = sum(v for k, v in attribution.items() if k != OUTSIDE and base_lead(k) in cited)
    covered = sum(v for k, v in area.items() if k != OUTSIDE and base_lead(k) in cited)
    return Concordance(float(attention), float(covered), tuple(cited))
