"""The attention panel: where the vision encoder looked on the ECG picture, next to where the measurements found
something abnormal.

* the picture with the encoder heatmap on top (method map/rollout, colour map, opacity): a small anywidget with
  two stacked <img> whose top layer's CSS opacity follows the slider in the browser, so the slider is instant;
* the attention share of each lead panel as a bar chart (`explain.heatmap.lead_attribution`);
* the evidence map: the same lead layout with the leads that measured findings cite highlighted (an SVG);
* their concordance: the share of attention on those leads against their share of the page area.

Attention shows where information came from, not why; the panel says so, and it works (and says so) without an
encoder installed. Display only: the leads come from the findings, the numbers from the explain module."""
from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anywidget
import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
import traitlets

from ..ecg.image.types import Layout
from ..errors import WorkbenchError
from ..explain.concordance import Concordance, base_lead, concordance, flagged_leads, schematic_layout
from ..explain.heatmap import OUTSIDE
from ..explain.layout_for_heatmap import picture_and_layout
from .common import ecg_path_of, esc, plain_error, reuse_figure_widget

DISPLAY_WIDTH = 1100  # pixels of the pictures sent to the browser

_OVERLAY_ESM = r"""
function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "wb-overlay";
  const controls = document.createElement("label");
  controls.className = "wb-overlay-controls";
  const label = document.createElement("span");
  label.textContent = "Heatmap opacity ";
  const slider = document.createElement("input");
  slider.type = "range"; slider.min = "0"; slider.max = "1"; slider.step = "0.05";
  slider.setAttribute("aria-label", "heatmap opacity");
  const shown = document.createElement("span");
  controls.append(label, slider, shown);
  const frame = document.createElement("div");
  frame.className = "wb-overlay-frame";
  const base = document.createElement("img");
  base.className = "wb-overlay-base";
  base.alt = "ECG picture";
  const heat = document.createElement("img");
  heat.className = "wb-overlay-heat";
  heat.alt = "attention heatmap";
  frame.append(base, heat);
  const caption = document.createElement("div");
  caption.className = "wb-overlay-caption";
  root.append(controls, frame, caption);
  el.appendChild(root);
  function setOpacity(v) {
    heat.style.opacity = String(v);
    shown.textContent = " " + Math.round(v * 100) + " %";
  }
  function update() {
    const b = model.get("base_src") || "";
    const h = model.get("heat_src") || "";
    base.src = b;
    base.style.display = b ? "block" : "none";
    heat.src = h;
    heat.style.display = h ? "block" : "none";
    controls.style.display = h ? "" : "none";
    slider.value = String(model.get("opacity"));
    setOpacity(model.get("opacity"));
    caption.textContent = model.get("caption") || "";
  }
  slider.addEventListener("input", () => setOpacity(parseFloat(slider.value)));
  slider.addEventListener("change", () => { model.set("opacity", parseFloat(slider.value)); model.save_changes(); });
  const names = ["change:base_src", "change:heat_src", "change:opacity", "change:caption"];
  names.forEach((n) => model.on(n, update));
  update();
  return () => names.forEach((n) => model.off(n, update));
}
export default { render };
"""

_OVERLAY_CSS = """
.wb-overlay { max-width: 100%; }
.wb-overlay-controls { display: flex; align-items: center; gap: 6px; margin: 4px 0; font-size: 1em; }
.wb-overlay-controls input[type=range] { width: 240px; }
.wb-overlay-frame { position: relative; display: inline-block; max-width: 100%; line-height: 0; }
.wb-overlay-base { display: block; max-width: 100%; height: auto; }
.wb-overlay-heat { position: absolute; left: 0; top: 0; width: 100%; height: 100%; pointer-events: none; }
.wb-overlay-caption { color: #455a64; font-size: 0.9em; margin-top: 4px; }
"""


class HeatmapOverlay(anywidget.AnyWidget):
    """The picture with a heatmap layer on top; ``opacity`` (0..1) is the top layer's CSS opacity, changed in the
    browser by the widget's own slider without a round trip to Python. Images are data URIs."""

    _esm = _OVERLAY_ESM
    _css = _OVERLAY_CSS
    base_src = traitlets.Unicode("").tag(sync=True)
    heat_src = traitlets.Unicode("").tag(sync=True)
    opacity = traitlets.Float(0.45).tag(sync=True)
    caption = traitlets.Unicode("").tag(sync=True)

    @traitlets.validate("opacity")
    def _clip(self, proposal: Any) -> float:
        return float(min(1.0, max(0.0, proposal["value"])))


def image_data_uri(image: np.ndarray, *, max_width: int = DISPLAY_WIDTH, fmt: str = "JPEG", quality: int = 85) -> str:
    """An RGB picture as a data URI, shrunk to ``max_width`` (what a screen shows), JPEG by default (small)."""
    from PIL import Image

    picture = Image.fromarray(np.asarray(image, dtype=np.uint8))
    if picture.width > max_width:
        picture = picture.resize((max_width, max(1, round(picture.height * max_width / picture.width))),
                                 Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    picture.convert("RGB").save(buffer, format=fmt, **({"quality": quality} if fmt == "JPEG" else {}))
    mime = "image/jpeg" if fmt == "JPEG" else f"image/{fmt.lower()}"
    return f"data:{mime};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def _display_size(height: int, width: int, max_width: int = DISPLAY_WIDTH) -> tuple[int, int]:
    scale = min(1.0, max_width / float(width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def attribution_figure(attribution: Mapping[str, float], flagged: Mapping[str, Sequence[str]] | Sequence[str] = (),
                       *, width: int = 900, height: int = 320) -> go.Figure:
    """Share of attention per lead panel (bars), leads with measured abnormalities in red, 'outside' in grey."""
    cited = set(flagged.keys() if isinstance(flagged, Mapping) else flagged)
    names = [k for k in attribution if k != OUTSIDE] + ([OUTSIDE] if OUTSIDE in attribution else [])
    values = [100.0 * float(attribution[k]) for k in names]
    colours = ["#9e9e9e" if k == OUTSIDE else "#d32f2f" if base_lead(k) in cited else "#1e88e5" for k in names]
    hover = ["outside every lead panel (header, labels, margins)" if k == OUTSIDE else
             ("cited by a measured finding" if base_lead(k) in cited else "no measured abnormality") for k in names]
    figure = go.Figure(go.Bar(x=names, y=values, marker_color=colours, hovertext=hover, name="attention share",
                              hovertemplate="<b>%{x}</b>: %{y:.1f} %<br>%{hovertext}<extra></extra>"))
    figure.update_layout(title={"text": "Share of the encoder's attention by lead (red: leads with measured abnormalities)",
                                "x": 0.01, "font": {"size": 14}},
                         yaxis_title="% of attention", width=width, height=height, margin={"l": 50, "r": 10, "t": 40, "b": 40},
                         template="plotly_white", showlegend=False)
    return figure


def evidence_map_svg(layout: Layout, flagged: Mapping[str, Sequence[str]], image_size: tuple[int, int], *,
                     picture: np.ndarray | None = None, width: int = 440) -> str:
    """The lead layout as an SVG (an HTML string) with the panels of leads that measured findings cite shaded red
    (hover: which findings), over the faded picture when there is one, so it can sit beside the heatmap. SVG, not
    a plotly widget: it is a few kilobytes and needs no script."""
    h, w = image_size
    height = max(1, round(width * h / float(w)))
    sx, sy = width / float(w), height / float(h)
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' viewBox='0 0 {width} {height}' "
             f"role='img' aria-label='Evidence map' style='background:#fff;border:1px solid #cfd8dc'>"]
    if picture is not None:
        parts.append(f"<image href='{image_data_uri(picture, max_width=width * 2)}' x='0' y='0' width='{width}' "
                     f"height='{height}' preserveAspectRatio='none' opacity='0.35'/>")
    for panel in layout.panels:
        x0, y0, x1, y1 = panel.box[0] * sx, panel.box[1] * sy, panel.box[2] * sx, panel.box[3] * sy
        labels = list(flagged.get(panel.lead, []))
        name = f"{panel.lead} (rhythm)" if panel.rhythm_strip else panel.lead
        tip = f"{name}: " + ("; ".join(labels) if labels else "no measured abnormality")
        fill, stroke, sw = ("rgba(211,47,47,0.35)", "#b71c1c", 2) if labels else ("rgba(255,255,255,0)", "#90a4ae", 1)
        cls = "wb-evidence-lead wb-flagged" if labels else "wb-evidence-lead"
        parts.append(f"<g class='{cls}' data-lead='{esc(panel.lead)}'><title>{esc(tip)}</title>"
                     f"<rect x='{x0 + 1:.1f}' y='{y0 + 1:.1f}' width='{max(0.0, x1 - x0 - 2):.1f}' "
                     f"height='{max(0.0, y1 - y0 - 2):.1f}' fill='{fill}' stroke='{stroke}' stroke-width='{sw}'/>"
                     f"<text x='{(x0 + x1) / 2:.1f}' y='{(y0 + y1) / 2:.1f}' text-anchor='middle' dominant-baseline='middle' "
                     f"font-size='14' font-weight='700' fill='#263238'>{esc(panel.lead)}</text></g>")
    parts.append("</svg>")
    legend = ("<div class='wb-note'>Red: leads cited by a measured finding (hover a lead for which). "
              + ("" if flagged else "No measured finding cites specific leads.") + "</div>")
    return ("<div class='wb-evidence-map'><div style='font-weight:600;margin:2px 0'>Evidence map: leads with measured "
            "abnormalities</div>" + "".join(parts) + legend + "</div>")


# ------------------------------------------------------------------------------------------ the panel
class AttentionPanel:
    """Heatmap overlay, attribution bars, evidence map and concordance for one run state (`show(state)`). The
    container carries the CSS class ``wb-heatmap`` and is there even without an encoder (then it says so)."""

    def __init__(self, *, width: int = 1200) -> None:
        from ..explain.heatmap import colormaps

        self.width = int(width)
        self.state: dict[str, Any] | None = None
        self.encoder: Any = None
        self.encoder_problem = ""
        self._encoder_checked = False
        self._results: dict[str, Any] = {}
        self.picture: np.ndarray | None = None
        self.layout: Layout | None = None
        self.image_size: tuple[int, int] | None = None
        self.flagged: dict[str, list[str]] = {}
        self.attribution: dict[str, float] | None = None
        self.concordance: Concordance | None = None
        self.method = widgets.ToggleButtons(description="Method", options=[("Pooling head (map)", "map"),
                                                                           ("Attention rollout", "rollout")], value="map")
        self.colormap = widgets.Dropdown(description="Colours", options=colormaps(), value="jet",
                                         layout=widgets.Layout(width="220px"))
        self.overlay = HeatmapOverlay()
        self.message = widgets.HTML(value="<i>The attention heatmap appears here after the analysis.</i>")
        self.bars_box = widgets.VBox([])
        self.bars: go.FigureWidget | None = None
        self.evidence = widgets.HTML(value="")
        self.evidence_box = widgets.VBox([self.evidence], layout=widgets.Layout(width=f"{self.evidence_width + 10}px"))
        self.concordance_html = widgets.HTML(value="")
        self.concordance_html.add_class("wb-concordance")
        self.controls = widgets.HBox([self.method, self.colormap], layout=widgets.Layout(flex_flow="row wrap"))
        self.overlay_box = widgets.VBox([self.overlay], layout=widgets.Layout(width=f"{self.width - self.evidence_width - 20}px",
                                                                              display="none"))
        self.widget = widgets.VBox([
            self.message, self.controls,
            widgets.Box([self.overlay_box, self.evidence_box], layout=widgets.Layout(display="flex", flex_flow="row wrap",
                                                                                width="100%")),
            self.concordance_html, self.bars_box,
            widgets.HTML("<div class='wb-note'>Attention maps show where the encoder drew information from, not why a "
                         "finding was made; they are an aid for reviewing the model, not evidence.</div>")],
            layout=widgets.Layout(width="100%"))
        self.widget.add_class("wb-heatmap")
        self.widget.add_class("wb-panel")
        self.controls.layout.display = "none"
        self.method.observe(self._on_method, names="value")
        self.colormap.observe(self._on_colormap, names="value")

    # ------------------------------------------------------------------ encoder
    @property
    def evidence_width(self) -> int:
        """Width of the evidence map beside the heatmap (about a third of the panel)."""
        return max(320, min(460, self.width // 3))

    def _get_encoder(self) -> Any:
        if not self._encoder_checked:
            self._encoder_checked = True
            from ..models.encoder import shared_encoder

            name = ((self.state or {}).get("options") or {}).get("encoder_model")
            try:
                self.encoder = shared_encoder(name)
            except WorkbenchError as err:
                self.encoder, self.encoder_problem = None, str(err)
            except Exception as err:  # an unreadable model must not break the page
                self.encoder, self.encoder_problem = None, plain_error(err)
        return self.encoder

    def _say(self, text: str) -> None:
        self.message.value = f"<div class='wb-note'>{esc(text)}</div>"

    # ------------------------------------------------------------------ show
    def show(self, state: Mapping[str, Any]) -> None:
        """Draw the attention views for a run (what can be drawn: see the module docstring)."""
        self.state = dict(state)
        self._results.clear()
        self.overlay_box.layout.display = "none"
        self.attribution, self.concordance = None, None
        self.overlay.base_src, self.overlay.heat_src, self.overlay.caption = "", "", ""
        self.bars_box.children, self.evidence.value = [], ""
        self.concordance_html.value = ""
        self.controls.layout.display = "none"
        analysis = state.get("ecg")
        path = ecg_path_of(state)
        if not path or not analysis:
            self._say("No analysed ECG in this case, so there is no attention heatmap or evidence map.")
            return
        self.flagged = flagged_leads(analysis.get("findings", []))
        stored = state.get("heatmap") or {}
        stored_map = _stored_heatmap(stored)
        if stored_map is not None:  # the run's own map: redrawn without running the encoder again
            self._results[stored_map.method] = (stored_map, stored.get("attribution"))
        stored_overlay = stored.get("overlay_path") if stored.get("overlay_path") and Path(stored["overlay_path"]).is_file() else None
        encoder = self._get_encoder()
        if encoder is None and stored_map is None and stored_overlay is None:
            self._say("No vision encoder is installed, so no attention heatmap can be drawn (see models/README.md). "
                      "The evidence map shows the leads with measured abnormalities.")
            self._show_evidence_only(analysis)
            return
        try:
            self.picture, self.layout, layout_note = picture_and_layout(path)
        except Exception as exc:
            self._say(f"The ECG picture cannot be drawn. {plain_error(exc)}")
            self._show_evidence_only(analysis)
            return
        self.image_size = self.picture.shape[:2]
        self.overlay.base_src = image_data_uri(self.picture)
        self.overlay_box.layout.display = None
        if encoder is not None or stored_map is not None:
            self.controls.layout.display = None
            method = stored_map.method if stored_map is not None else self.method.value
            self.method.unobserve(self._on_method, names="value")
            self.method.value = method
            self.method.observe(self._on_method, names="value")
            source = (f"vision encoder {Path(getattr(encoder, 'path', '')).name}" if encoder is not None else
                      "the map stored with this run; the encoder is not installed here, so the method cannot be changed")
            self._say(f"Attention heatmap from {source} ({layout_note}).")
            try:
                self._draw_method(method)
            except Exception as exc:
                self._say(f"The attention heatmap could not be computed. {plain_error(exc)}")
        else:
            from PIL import Image

            stored_picture = np.asarray(Image.open(stored_overlay).convert("RGB"))
            self.overlay.heat_src = image_data_uri(stored_picture)
            self.overlay.caption = (f"Heatmap stored with the run ({stored.get('method', '?')} method); the encoder is "
                                    "not installed here, so the method and colours cannot be changed.")
            self._say("Showing the heatmap stored with this run.")
            self.attribution = stored.get("attribution")
        self._show_numbers()

    def _show_evidence_only(self, analysis: Mapping[str, Any]) -> None:
        image = analysis.get("image") or {}
        if image.get("layout"):
            layout = Layout.from_dict(image["layout"])
            width, height = (image.get("image_size") or [1000, 700])[:2]
            size = (int(height), int(width))
        else:
            size = (700, 1000)
            layout = schematic_layout("3x4+1", size)
        self.evidence.value = evidence_map_svg(layout, self.flagged, size, width=min(640, self.evidence_width + 200))
        self.concordance_html.value = ("<div class='wb-note'>Concordance between attention and measured abnormalities "
                                       "needs the attention heatmap.</div>")

    def _explain(self, method: str) -> tuple[Any, dict[str, float] | None]:
        """(heatmap, lead attribution) for a method: the run's stored map, else the encoder run on the picture."""
        if method not in self._results:
            encoder = self._get_encoder()
            if encoder is None:
                raise WorkbenchError(f"The {method} heatmap needs the vision encoder, which is not installed here.")
            from ..explain.heatmap import explain_image

            result = explain_image(encoder, self.picture, method=method, layout=self.layout)
            self._results[method] = (result.heatmap, result.attribution)
        return self._results[method]

    def _draw_method(self, method: str) -> None:
        heatmap, self.attribution = self._explain(method)
        self._draw_colours(heatmap)
        self.overlay.caption = (f"Method: {'attention-pooling head (map)' if method == 'map' else 'attention rollout'}; "
                                f"colours: {self.colormap.value}. Move the slider to fade the heatmap.")

    def _draw_colours(self, heatmap: Any) -> None:
        from ..explain.heatmap import overlay

        h, w = self.picture.shape[:2]
        dh, dw = _display_size(h, w)
        small = np.asarray(self._small_picture(dh, dw))
        colours = overlay(small, heatmap.upsample(dh, dw), self.colormap.value, opacity=1.0)
        self.overlay.heat_src = image_data_uri(colours, max_width=dw)

    def _small_picture(self, dh: int, dw: int) -> Any:
        from PIL import Image

        return Image.fromarray(self.picture).resize((dw, dh))

    def _show_numbers(self) -> None:
        picture = self.picture
        if self.layout is None:
            self.concordance_html.value = ("<div class='wb-note'>The lead layout of this picture was not found, so the "
                                           "attention per lead and its concordance cannot be measured.</div>")
            return
        self.evidence.value = evidence_map_svg(self.layout, self.flagged, self.image_size, picture=picture,
                                               width=self.evidence_width)
        if not self.attribution:
            self.concordance_html.value = "<div class='wb-note'>No attention per lead was stored with this run.</div>"
            return
        self.bars = reuse_figure_widget(self.bars, attribution_figure(self.attribution, self.flagged,
                                                                      width=min(self.width, 1000)))
        self.bars_box.children = [self.bars]
        self.concordance = concordance(self.attribution, self.layout, self.image_size, self.flagged)
        if self.concordance is None:
            self.concordance_html.value = ("<div><b>Concordance:</b> no measured finding cites specific leads, so "
                                           "attention cannot be compared with the measurements.</div>")
            return
        ratio = self.concordance.ratio
        self.concordance_html.value = (f"<div><b>Concordance: {ratio:.2f}</b> " if ratio is not None else "<div>") + \
            f"{esc(self.concordance.sentence())}</div>"

    # ------------------------------------------------------------------ controls
    def _on_method(self, change: Mapping[str, Any]) -> None:
        if self.picture is None:
            return
        try:
            self._draw_method(change["new"])
            self._show_numbers()
        except Exception as exc:
            self._say(f"The attention heatmap could not be computed. {plain_error(exc)}")

    def _on_colormap(self, change: Mapping[str, Any]) -> None:
        method = self.method.value
        if self.picture is None or method not in self._results:
            return
        self._draw_colours(self._results[method][0])
        self.overlay.caption = self.overlay.caption.split("; colours:")[0] + f"; colours: {change['new']}. " \
            "Move the slider to fade the heatmap."


def _stored_heatmap(stored: Mapping[str, Any]) -> Any:
    """The run's heatmap grid when the run stored one (runs before the grid was kept stored only a picture)."""
    from ..explain.heatmap import Heatmap

    if "heat" not in stored:
        return None
    try:
        return Heatmap.from_dict(stored)
    except (WorkbenchError, KeyError, TypeError, ValueError):
        return None


ATTENTION_FINDING_CODE = "wb:attention-map"


class AttentionSignoff:
    """The medical director's sign-off on one run's attention map: plausible / implausible / unsure with a note,
    stored as a validation of the pseudo-finding ``wb:attention-map`` (who = the name typed, when = now)."""

    CHOICES = (("Plausible", "agree"), ("Implausible", "disagree"), ("Unsure", "unsure"))

    def __init__(self, store: Any, run_id: str, *, who: widgets.Text | None = None) -> None:
        self.store, self.run_id = store, run_id
        self.who = who or widgets.Text(description="Reviewer", placeholder="your name")
        self.verdict = widgets.ToggleButtons(options=self.CHOICES, value=None, style={"button_width": "110px"})
        self.note = widgets.Text(placeholder="note (what the map shows)", layout=widgets.Layout(width="360px"))
        self.button = widgets.Button(description="Sign off", button_style="success", icon="check")
        self.status = widgets.HTML(value="")
        self.button.on_click(lambda _: self.save())
        self.widget = widgets.HBox([self.verdict, self.note, self.button, self.status],
                                   layout=widgets.Layout(flex_flow="row wrap", align_items="center"))
        self._show_last()

    def _show_last(self) -> None:
        try:
            last = {v.finding_code: v for v in self.store.validations(self.run_id, latest_only=True)}.get(ATTENTION_FINDING_CODE)
        except WorkbenchError:
            last = None
        if last is not None:
            self.status.value = (f"<span class='wb-note'>signed off: <b>{esc(last.verdict)}</b> by {esc(last.who)} at "
                                 f"{esc(last.created_at)}</span>")

    def save(self) -> bool:
        """Store the sign-off (needs a verdict and the reviewer's name); True when stored."""
        who = self.who.value.strip()
        if not who or not self.verdict.value:
            self.status.value = "<span style='color:#c62828'>Choose a verdict and enter your name to sign off.</span>"
            return False
        try:
            self.store.add_validation(self.run_id, ATTENTION_FINDING_CODE, self.verdict.value, note=self.note.value, who=who)
        except Exception as exc:
            self.status.value = f"<span style='color:#c62828'>{esc(plain_error(exc))}</span>"
            return False
        self._show_last()
        return True
