"""Every panel renders from a real RunResult (PTB s0010_re + rising troponin, no model installed), the ECG
figure has the paper grid, 12 leads + rhythm strip and the measured marks, the attention panel works with and
without the test encoder, and validations are saved to the store with who and when."""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import numpy as np
import plotly.graph_objects as go
import pytest

from workbench.pipeline.events import ProgressEvent
from workbench.ui.attention import AttentionPanel, AttentionSignoff
from workbench.ui.common import run_state_from_store
from workbench.ui.ecg_figures import ecg_paper_figure
from workbench.ui.ecg_viewer import ECGViewer
from workbench.ui.labs_panel import LabsPanel
from workbench.ui.report_panel import ReportPanel, RunProgress
from workbench.ui.validation_panel import CaseBrowser, ValidationPanel

LEADS_3X4 = ["I", "aVR", "V1", "V4", "II", "aVL", "V2", "V5", "III", "aVF", "V3", "V6"]


@pytest.fixture(scope="module")
def state(mi_case):
    return mi_case["result"].state


def test_report_panel_shows_urgency_impressions_evidence_advice_and_disclaimer(state):
    panel = ReportPanel()
    panel.show(state)
    assert "wb-urgency" in panel.banner._dom_classes and "EMERGENCY" in panel.banner.value
    assert "#b71c1c" in panel.banner.value  # emergency red
    text = panel.impressions.value
    assert "wb-impressions" in panel.impressions._dom_classes
    assert "Acute myocardial infarction" in text and "58" in text and "Fourth Universal Definition" in text
    assert "Consider" in panel.next_steps.value and "Lifestyle" in panel.lifestyle.value
    assert "not a diagnosis" in panel.disclaimer.value and "wb-disclaimer" in panel.disclaimer._dom_classes
    assert "template" in panel.narrative.value  # no model installed: the template narrative, said so
    assert panel.downloads.layout.display == "flex"
    assert panel.pdf_button.available and panel.pdf_button.payload().startswith(b"%PDF")
    assert b"not a diagnosis" in panel.html_button.payload()


def test_report_panel_streams_tokens_and_progress_lists_the_steps(mi_case):
    panel, progress = ReportPanel(throttle_s=0.0), RunProgress()
    panel.start()
    progress.start()
    for event in mi_case["events"]:  # the real events of the run
        progress.on_event(event)
    for piece in ("The ECG shows ", "ST depression", " in V2-V3."):
        panel.on_event(ProgressEvent("token", "narrate", piece))
    assert "The ECG shows ST depression in V2-V3." in panel.narrative.value and "▌" in panel.narrative.value
    assert "Measuring the ECG: done" in progress.steps.value and "Reading the lab reports: done" in progress.steps.value
    assert "Checking the model&#x27;s statements: skipped" in progress.steps.value  # with the reason
    assert 0 < progress.bar.value < progress.bar.max and "wb-progress" in progress.widget._dom_classes
    progress.finish("Analysis complete.")
    assert progress.bar.value == progress.bar.max and "Analysis complete." in progress.status.value
    panel.show({**mi_case["result"].state, "claims": [
        {"text": "ST depression", "code": "429622005", "label": "ST depression", "status": "supported", "reason": "measured"},
        {"text": "AF", "code": "164889003", "label": "Atrial fibrillation", "status": "contradicted", "reason": "sinus"}]})
    assert "ST depression: supported" in panel.claims.value and "Atrial fibrillation: contradicted" in panel.claims.value


def test_ecg_figure_has_paper_grid_twelve_leads_rhythm_strip_and_marks(state):
    from workbench.ecg import read_ecg

    figure = ecg_paper_figure(read_ecg(state["ecg_path"]), state["ecg"])
    names = [trace.name for trace in figure.data]
    assert names[:13] == LEADS_3X4 + ["II (rhythm)"]
    assert "measured onsets/offsets" in names and "ST points (J, J+60 ms)" in names
    x, y = figure.layout.xaxis, figure.layout.yaxis
    assert x.dtick == pytest.approx(0.2) and x.minor.dtick == pytest.approx(0.04)  # 5 mm / 1 mm at 25 mm/s
    assert y.dtick == pytest.approx(0.5) and y.minor.dtick == pytest.approx(0.1)  # 5 mm / 1 mm at 10 mm/mV
    assert y.scaleanchor == "x" and y.scaleratio == pytest.approx(0.4)
    strip = figure.data[12]
    assert strip.x[-1] - strip.x[0] > 9.9 and len(strip.x) <= 2600  # 10 s, decimated to ~250 points/s
    assert "ms" in strip.hovertemplate and "mV" in strip.hovertemplate
    assert figure.layout.meta["start_s"] == pytest.approx(state["ecg"]["info"]["analysed_window_s"][0])
    st = figure.data[names.index("ST points (J, J+60 ms)")]
    assert any("V2 J point" in t and "-1.16 mm" in t for t in st.hovertext)  # the measured ST of the cited lead
    shaded = {s.name for s in figure.layout.shapes if s.type == "rect"}
    assert "evidence: ST depression" in shaded and "evidence: Pathological Q waves" in shaded


def test_ecg_viewer_highlights_the_leads_a_finding_cites(state):
    viewer = ECGViewer()
    viewer.show(state)
    assert "wb-ecg-plot" in viewer.plot._dom_classes
    assert isinstance(viewer.plot.children[0], go.FigureWidget)
    assert "QTc (Fridericia)</b> 489 ms" in viewer.summary.value
    viewer.highlight.value = "st_depression"
    rects = [s for s in viewer.figure.layout.shapes if s.type == "rect"]
    assert rects and {s.name for s in rects} == {"evidence: ST depression"}
    boxes = sorted((round(s.x0, 1), round(s.y0, 1)) for s in rects)
    assert len(boxes) == 2  # V2 and V3 (third column), nothing else
    viewer.highlight.value = None
    assert not [s for s in viewer.figure.layout.shapes if s.type == "rect"]


def test_labs_panel_table_flags_trend_and_esc_verdict(state):
    panel = LabsPanel()
    panel.show(state)
    assert "wb-labs-table" in panel.table._dom_classes
    html = panel.table.value
    assert "hs-cTnT" in html or "troponin" in html.lower()
    assert "20 ng/L" in html and "58 ng/L" in html and "#d62728" in html  # H flags coloured red
    assert "rule-in" in panel.esc.value and "38 ng/L" in panel.esc.value
    assert panel.analyte.value == "hs_ctnt"
    assert list(panel.figure.data[0].y) == [20.0, 58.0]
    panel.analyte.value = "potassium"
    assert list(panel.figure.data[0].y) == [4.3, 4.3] and "Potassium" in panel.figure.layout.title.text
    assert "troponin_0h.pdf" in panel.files.value


def test_attention_panel_without_an_encoder_says_so_and_shows_the_evidence_map(state):
    panel = AttentionPanel()
    panel.show(state)
    assert "wb-heatmap" in panel.widget._dom_classes
    assert "No vision encoder is installed" in panel.message.value
    svg = panel.evidence.value
    flagged = set(re.findall(r"class='wb-evidence-lead wb-flagged' data-lead='([^']+)'", svg))
    assert flagged == {"I", "II", "aVF", "V1", "V2", "V3", "V5", "V6"}  # Q waves, ST depression, RBBB leads
    assert "Pathological Q waves" in svg
    assert panel.overlay.heat_src == "" and "needs the attention heatmap" in panel.concordance_html.value


def test_attention_panel_with_the_test_encoder_gives_bars_and_a_concordance(state, installed_models, monkeypatch):
    from workbench.config import get_settings

    monkeypatch.setenv("WORKBENCH_MODELS_DIR", str(installed_models))
    get_settings.cache_clear()
    panel = AttentionPanel()
    panel.show(state)
    assert panel.encoder is not None, panel.encoder_problem
    assert panel.overlay.base_src.startswith("data:image/jpeg;base64,")
    assert panel.overlay.heat_src.startswith("data:image/jpeg;base64,")
    bars = panel.bars.data[0]
    assert list(bars.x)[:12] == LEADS_3X4 and bars.x[-1] == "outside"
    assert sum(bars.y) == pytest.approx(100.0, abs=1e-6)
    assert {c for x, c in zip(bars.x, bars.marker.color) if x == "V2"} == {"#d32f2f"}  # cited lead in red
    c = panel.concordance
    assert c is not None and 0 < c.attention_share < 1 and 0 < c.area_share < 1 and c.ratio > 0
    assert "Concordance:" in panel.concordance_html.value and "of the encoder&#x27;s attention" in panel.concordance_html.value
    first = panel.overlay.heat_src
    panel.colormap.value = "viridis"
    assert panel.overlay.heat_src != first and "viridis" in panel.overlay.caption
    panel.method.value = "rollout"
    assert "rollout" in panel.overlay.caption and set(panel._results) == {"map", "rollout"}
    panel.overlay.opacity = 1.7
    assert panel.overlay.opacity == 1.0  # clipped to 0..1


def test_attention_panel_redraws_the_runs_stored_map_without_the_encoder(state, installed_models, monkeypatch):
    """The run's own grid is kept with the run: the panel shows it (colours, bars) without running or even having
    the encoder; changing the method needs the encoder and says so in plain words."""
    from workbench.config import get_settings
    from workbench.explain.heatmap import explain_image
    from workbench.models.encoder import VisionEncoder
    from workbench.explain.layout_for_heatmap import picture_and_layout

    monkeypatch.setenv("WORKBENCH_MODELS_DIR", str(installed_models))
    get_settings.cache_clear()
    picture, layout, _ = picture_and_layout(state["ecg_path"])
    result = explain_image(VisionEncoder.from_manifest(), picture, method="rollout", layout=layout)
    stored = {**state, "heatmap": result.to_dict()}
    monkeypatch.setenv("WORKBENCH_MODELS_DIR", str(installed_models / "nothing-here"))
    get_settings.cache_clear()
    panel = AttentionPanel()
    panel.show(stored)
    assert panel.encoder is None and "stored with this run" in panel.message.value
    assert panel.method.value == "rollout" and panel.controls.layout.display is None
    heatmap, attribution = panel._results["rollout"]
    assert np.allclose(heatmap.grid, result.heatmap.grid, atol=1e-4) and attribution == result.attribution
    assert panel.overlay.heat_src.startswith("data:image/jpeg;base64,") and panel.attribution == result.attribution
    assert list(panel.bars.data[0].x)[:12] == LEADS_3X4
    panel.method.value = "map"
    assert "needs the vision encoder" in panel.message.value and "Traceback" not in panel.message.value


def test_stored_heatmap_round_trips_and_refuses_a_damaged_grid(state, installed_models):
    from workbench.errors import InputError
    from workbench.explain.heatmap import Heatmap, explain_image
    from workbench.models.encoder import VisionEncoder

    result = explain_image(VisionEncoder.from_manifest(installed_models), np.full((300, 400, 3), 200, np.uint8))
    data = json.loads(json.dumps(result.to_dict()))
    again = Heatmap.from_dict(data)
    assert again.method == "map" and again.grid.shape == result.heatmap.grid.shape == tuple(data["grid"])
    assert np.allclose(again.mass, result.heatmap.mass, atol=1e-6) and again.mass.sum() == pytest.approx(1, abs=1e-4)
    with pytest.raises(InputError, match="damaged"):
        Heatmap.from_dict({**data, "mass": data["mass"][:-1]})


def test_validations_are_saved_with_who_and_when(mi_case, state):
    store = mi_case["store"]
    panel = ValidationPanel(store)
    panel.show(state)
    codes = [row.code for row in panel.rows]
    assert codes[0] == "57054005" and "429622005" in codes  # impressions first, then the measured findings
    panel.set_verdict("57054005", "agree")
    assert panel.save() == 0 and "Enter your name" in panel.status.value  # who is required
    panel.who.value = "Dr. Rao"
    panel.set_verdict("429622005", "disagree", corrected_label="ST depression, rate-related", note="recheck")
    before = datetime.now(timezone.utc).replace(microsecond=0)
    assert panel.save() == 2 and "Saved 2 verdict(s) by Dr. Rao" in panel.status.value
    stored = {v.finding_code: v for v in store.validations(state["run_id"], latest_only=True)}
    assert stored["57054005"].verdict == "agree" and stored["57054005"].who == "Dr. Rao"
    assert stored["429622005"].corrected_label == "ST depression, rate-related" and stored["429622005"].note == "recheck"
    assert datetime.fromisoformat(stored["429622005"].created_at) >= before
    assert "last: <b>disagree</b> by Dr. Rao" in panel.rows[codes.index("429622005")].last.value
    signoff = AttentionSignoff(store, state["run_id"])
    signoff.who.value, signoff.verdict.value = "Dr. Director", "agree"
    assert signoff.save() and "by Dr. Director" in signoff.status.value


def test_case_browser_reopens_a_case_with_its_stored_outputs(mi_case, state):
    opened = []
    browser = CaseBrowser(mi_case["store"], on_open=opened.append)
    assert browser.refresh() >= 1
    assert "P-MI-UI" in browser.cases.options[0][0] and "[emergency]" in browser.cases.options[0][0]
    reopened = browser.open(mi_case["result"].case_id)
    assert opened and reopened["run_id"] == state["run_id"]
    for key in ("fusion", "ecg", "labs", "recommendations", "narrative", "report"):
        assert reopened[key] == state[key], key
    assert reopened["ecg_path"] == state["ecg_path"]
    assert {s["node"] for s in reopened["skipped"]} >= {"claims"}  # skips recorded as node events
    panel = ReportPanel()
    panel.show(run_state_from_store(mi_case["store"], state["run_id"]))
    assert "EMERGENCY" in panel.banner.value and "Acute myocardial infarction" in panel.impressions.value


def test_a_picture_input_shows_the_original_with_the_recovered_traces(tmp_path):
    from PIL import Image

    from workbench.ecg.examples import EXAMPLE_SPEC
    from workbench.ecg.image.render import render_ecg
    from workbench.ecg.inputs import analyze_file
    from workbench.ecg.synthetic import simulate_ecg

    page = tmp_path / "scan.png"
    Image.fromarray(render_ecg(simulate_ecg(EXAMPLE_SPEC), "3x4+1", dpi=100).image).save(page)
    viewer = ECGViewer()
    viewer.show({"ecg_path": str(page), "ecg": analyze_file(page).to_dict()})
    assert [t.name for t in viewer.figure.data][:13] == LEADS_3X4 + ["II (rhythm)"]  # the digitized signals on paper
    picture = viewer.image_figure
    assert picture is not None and len(picture.layout.images) == 1  # the original page behind the traces
    recovered = [t.name for t in picture.data]
    assert len(recovered) >= 12 and all(name.endswith("(recovered)") for name in recovered)
    assert picture.layout.yaxis.range[0] > picture.layout.yaxis.range[1]  # image rows grow downwards
    assert "Layout 3x4+1" in viewer.image_box.children[0].value
