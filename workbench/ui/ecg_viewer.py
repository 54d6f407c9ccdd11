"""The ECG viewer panel: the 12 leads on ECG paper with zoom/pan and a hover readout in ms and mV, the measured
onsets/offsets and ST points, each finding's evidence shaded on the leads it cites (pick one finding or all),
the key measurements, and for a picture input the original image with the recovered traces over it."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go

from ..config import get_settings
from ..ecg.record import ECGRecord
from ..explain.concordance import finding_leads
from .common import ecg_path_of, esc, plain_error, reuse_figure_widget
from .ecg_figures import (PAGE_S, column_separators, digitized_overlay_figure, ecg_paper_figure, evidence_annotations,
                          evidence_shapes, lead_labels, page_panels)

#: measurements listed under the figure (key, label)
SUMMARY = (("heart_rate", "Heart rate"), ("pr_interval", "PR"), ("qrs_duration", "QRS"), ("qt_interval", "QT"),
           ("qtc_fridericia", "QTc (Fridericia)"), ("qtc_bazett", "QTc (Bazett)"), ("p_axis", "P axis"),
           ("qrs_axis", "QRS axis"), ("t_axis", "T axis"))


def load_record(path: str | Path, analysis: Mapping[str, Any] | None = None) -> tuple[ECGRecord, Any]:
    """(record, digitization or None): a signal file is read, a picture/PDF digitized again the same way the
    analysis did (the pixel positions of the traces are not kept in the case state)."""
    from ..ecg.inputs import load_ecg

    page = int(((analysis or {}).get("image") or {}).get("page", 1)) - 1
    return load_ecg(path, page=max(0, page))


def measurement_summary(analysis: Mapping[str, Any]) -> str:
    """The main measurements as one HTML line (the analysis' values, rounded for reading)."""
    values = analysis.get("measurements") or {}
    parts = []
    for key, label in SUMMARY:
        item = values.get(key) or {}
        if item.get("value") is not None:
            parts.append(f"<b>{esc(label)}</b> {item['value']:.0f} {esc(item.get('unit', ''))}")
    quality = analysis.get("quality") or {}
    text = " &middot; ".join(parts) or "No interval could be measured."
    if quality.get("overall"):
        text += f" &middot; signal quality: {esc(quality['overall'])}"
    warnings = "".join(f"<li>{esc(w)}</li>" for w in quality.get("warnings", []))
    return f"<div>{text}</div>" + (f"<ul class='wb-note'>{warnings}</ul>" if warnings else "")


class ECGViewer:
    """Shows the ECG of a run state (`show(state)`); the figure container carries the CSS class ``wb-ecg-plot``."""

    def __init__(self, *, width: int = 1200) -> None:
        self.width = int(width)
        self.state: dict[str, Any] | None = None
        self.record: ECGRecord | None = None
        self.digitized: Any = None
        self.figure: go.FigureWidget | None = None
        self.image_figure: go.FigureWidget | None = None
        self.highlight = widgets.Dropdown(description="Highlight", options=[("All findings", "all"), ("None", None)],
                                          value="all", layout=widgets.Layout(width="420px"))
        self.highlight.observe(self._on_highlight, names="value")
        self.message = widgets.HTML(value="<i>The ECG appears here after the analysis.</i>")
        self.summary = widgets.HTML(value="")
        self.plot = widgets.VBox([self.message], layout=widgets.Layout(width="100%"))
        self.plot.add_class("wb-ecg-plot")
        self.image_box = widgets.VBox([])
        self.widget = widgets.VBox([self.highlight, self.plot, self.summary, self.image_box],
                                   layout=widgets.Layout(width="100%"))
        self.widget.add_class("wb-panel")
        self._panels: list[Any] = []

    def _say(self, text: str) -> None:
        self.message.value = f"<div class='wb-note'>{esc(text)}</div>"
        self.plot.children = [self.message]

    def show(self, state: Mapping[str, Any]) -> None:
        """Draw the run's ECG (or say in plain words why there is none)."""
        self.state = dict(state)
        analysis = state.get("ecg")
        path = ecg_path_of(state)
        self.image_box.children = []
        self.summary.value = ""
        if not path:
            self._say("No ECG was given for this case.")
            return
        if not analysis:
            problem = next((e for e in state.get("errors", []) if e.get("node") == "ecg"), None)
            self._say("The ECG could not be analysed" + (f": {problem.get('message', '')}" if problem else "."))
            return
        findings = [f for f in analysis.get("findings", []) if finding_leads(f)]
        self.highlight.unobserve(self._on_highlight, names="value")
        self.highlight.options = [("All findings", "all"), ("None", None)] + [
            (f"{f.get('label', '')} ({', '.join(finding_leads(f))})", f.get("rule") or f.get("code")) for f in findings]
        self.highlight.value = "all"
        self.highlight.observe(self._on_highlight, names="value")
        self.summary.value = measurement_summary(analysis)
        if not Path(path).is_file():
            self._say(f"The ECG file {Path(path).name} is no longer available here; the measurements below are "
                      "from the stored analysis.")
            return
        try:
            self.record, self.digitized = load_record(path, analysis)
            figure = ecg_paper_figure(self.record, analysis, mains_hz=float(get_settings().mains_hz), width=self.width)
        except Exception as exc:  # a WorkbenchError in plain words; anything else a generic sentence
            self._say(f"The ECG cannot be drawn. {plain_error(exc)}")
            return
        self._panels = page_panels(self.record.with_derived_limb_leads().leads, min(PAGE_S, self.record.duration_s))
        self.figure = reuse_figure_widget(self.figure, figure)
        self.plot.children = [self.figure]
        if self.digitized is not None:
            self._show_picture(path, analysis)

    def _show_picture(self, path: str, analysis: Mapping[str, Any]) -> None:
        from ..ecg.image.loading import load_pages

        try:
            page = max(0, int((analysis.get("image") or {}).get("page", 1)) - 1)
            image = load_pages(path, max_pages=page + 1)[page].image
            self.image_figure = reuse_figure_widget(self.image_figure, digitized_overlay_figure(image, self.digitized.pixel_map,
                                                                                              width=self.width))
        except Exception as exc:
            self.image_box.children = [widgets.HTML(f"<div class='wb-note'>The original picture cannot be shown. "
                                                    f"{esc(plain_error(exc))}</div>")]
            return
        info = analysis.get("image") or {}
        calibration = info.get("calibration") or {}
        def number(value: Any) -> str:
            return f"{value:.3g}" if isinstance(value, (int, float)) else "?"

        lines = [f"Layout {esc((info.get('layout') or {}).get('name', '?'))}; paper speed "
                 f"{number(calibration.get('speed_mm_s'))} mm/s ({esc(calibration.get('speed_source', ''))}); gain "
                 f"{number(calibration.get('gain_mm_mv'))} mm/mV ({esc(calibration.get('gain_source', ''))})."]
        lines += [esc(w) for w in info.get("warnings", [])]
        self.image_box.children = [widgets.HTML("<h4 style='margin:6px 0'>Original picture</h4><div class='wb-note'>"
                                                + "<br>".join(lines) + "</div>"), self.image_figure]

    def _on_highlight(self, change: Mapping[str, Any]) -> None:
        self.set_highlight(change.get("new"))

    def set_highlight(self, which: str | None) -> None:
        """Shade the cited leads of one finding (its rule name), of all findings ("all"), or of none (None)."""
        if self.figure is None or not self.state:
            return
        findings = (self.state.get("ecg") or {}).get("findings", [])
        panels = self._panels
        with self.figure.batch_update():
            self.figure.layout.shapes = column_separators(panels) + evidence_shapes(panels, findings, which)
            self.figure.layout.annotations = lead_labels(panels) + evidence_annotations(panels, findings, which)
