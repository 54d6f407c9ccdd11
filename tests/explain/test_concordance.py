"""Concordance of attention with the measured findings: the share of attention on the cited leads' panels
against the share of the page they cover, on a schematic page where both are known exactly."""
from __future__ import annotations

import pytest

from workbench.ecg.image.types import Layout
from workbench.explain.concordance import base_lead, concordance, flagged_leads, schematic_layout


def test_concordance_compares_attention_with_page_area():
    layout = schematic_layout("3x4+1", (400, 400))
    # all attention on lead II's short panel (1/16 of the page), flagged: II
    share = {p.lead + (" (rhythm)" if p.rhythm_strip else ""): 0.0 for p in layout.panels}
    share.update({"II": 1.0, "outside": 0.0})
    result = concordance(share, layout, (400, 400), ["II"])
    assert result.attention_share == pytest.approx(1.0)
    assert result.area_share == pytest.approx(1 / 16 + 1 / 4, rel=0.02)  # the short panel and the rhythm strip
    assert result.ratio > 3 and "more than an even spread" in result.sentence()
    assert concordance(share, layout, (400, 400), []) is None
    assert flagged_leads([{"label": "RBBB", "evidence": {"leads": {"V1": {}, "I": {}}}}]) == {"V1": ["RBBB"], "I": ["RBBB"]}


def test_concordance_says_less_than_even_and_reads_a_stored_layout():
    layout = Layout.from_dict(schematic_layout("3x4+1", (400, 400)).to_dict())
    share = {p.lead + (" (rhythm)" if p.rhythm_strip else ""): 0.0 for p in layout.panels}
    share.update({"V1": 0.5, "outside": 0.5})  # nothing on II, the flagged lead
    result = concordance(share, layout, (400, 400), {"II": ["Q waves"]})
    assert result.attention_share == 0 and result.ratio == 0 and "less than an even spread" in result.sentence()
    assert base_lead("II (rhythm)") == "II" and flagged_leads([{"label": "AF", "evidence": {}}]) == {}
