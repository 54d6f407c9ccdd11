"""The report panel: the urgency banner, the impressions with their evidence and citations, the narrative (the
model's words streamed token by token while it writes), claim-check badges, next steps and lifestyle advice, the
decision-support disclaimer, and download buttons for the HTML and PDF reports. `RunProgress` shows the pipeline
steps as they start and finish. Display only: every word shown here was produced by the pipeline."""
from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anywidget
import ipywidgets as widgets
import traitlets

from ..pipeline.events import ProgressEvent
from .common import CLAIM_COLOURS, NODE_LABELS, chip, disclaimer_widget, esc, node_problem_text, urgency_colours

_DONE = {"node_finished": ("done", "#2e7d32", "✔"), "node_skipped": ("skipped", "#757575", "–"),
         "node_failed": ("failed", "#c62828", "✖"), "node_started": ("running", "#1565c0", "…"),
         "interrupted": ("waiting", "#ef6c00", "⏸")}

_DOWNLOAD_ESM = r"""
function render({ model, el }) {
  const button = document.createElement("button");
  button.className = "jupyter-widgets jupyter-button widget-button wb-download-button";
  button.type = "button";
  function update() {
    button.textContent = model.get("label");
    button.disabled = !model.get("available");
    button.title = model.get("available") ? "Download " + model.get("filename") : "Not available for this case";
  }
  button.addEventListener("click", () => model.send({ request: "download" }));
  model.on("msg:custom", (msg, buffers) => {
    if (!msg || msg.kind !== "file" || !buffers || !buffers.length) return;
    const blob = new Blob(buffers, { type: msg.mime });
    const url = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = url; link.download = msg.filename;
    document.body.appendChild(link); link.click(); link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 30000);
  });
  model.on("change:label", update); model.on("change:available", update);
  update();
  el.appendChild(button);
}
export default { render };
"""


class DownloadButton(anywidget.AnyWidget):
    """A button that sends a file to the browser as a download when clicked. The file is read only on the click
    (no megabytes of data URI in the page), from a path kept in Python and never sent to the browser."""

    _esm = _DOWNLOAD_ESM
    _css = ".wb-download-button { width: auto !important; min-width: 240px; height: 40px; margin: 4px 8px 4px 0; padding: 0 14px; font-size: 1em; }"
    label = traitlets.Unicode("Download").tag(sync=True)
    filename = traitlets.Unicode("").tag(sync=True)
    mime = traitlets.Unicode("application/octet-stream").tag(sync=True)
    available = traitlets.Bool(False).tag(sync=True)

    def __init__(self, label: str, mime: str, **kwargs: Any) -> None:
        super().__init__(label=label, mime=mime, **kwargs)
        self.path: Path | None = None
        self.on_msg(self._on_message)

    def set_file(self, path: str | Path | None) -> None:
        """Offer ``path`` for download (None or a missing file: the button is disabled)."""
        self.path = Path(path) if path else None
        self.available = bool(self.path and self.path.is_file())
        self.filename = self.path.name if self.path else ""

    def payload(self) -> bytes:
        """The bytes a click sends (empty when nothing is available)."""
        return self.path.read_bytes() if self.available and self.path and self.path.is_file() else b""

    def _on_message(self, _widget: Any, content: Mapping[str, Any], _buffers: Sequence[Any]) -> None:
        if isinstance(content, Mapping) and content.get("request") == "download":
            data = self.payload()
            if data:
                self.send({"kind": "file", "filename": self.filename, "mime": self.mime}, buffers=[data])


class RunProgress:
    """A progress bar and the list of pipeline steps with their state (CSS class ``wb-progress``)."""

    def __init__(self) -> None:
        self.bar = widgets.IntProgress(value=0, min=0, max=len(NODE_LABELS), description="Progress",
                                       layout=widgets.Layout(width="420px"))
        self.status = widgets.HTML(value="")
        self.steps = widgets.HTML(value="")
        self.nodes: dict[str, tuple[str, str]] = {}
        self.widget = widgets.VBox([widgets.HBox([self.bar, self.status]), self.steps],
                                   layout=widgets.Layout(display="none", width="100%"))
        self.widget.add_class("wb-progress")
        self._lock = threading.Lock()

    def start(self, text: str = "Analysing...") -> None:
        """Show the bar, empty, for a new run."""
        with self._lock:
            self.nodes.clear()
            self.bar.value, self.bar.bar_style = 0, "info"
            self.status.value = f"<b>{esc(text)}</b>"
            self.steps.value = ""
            self.widget.layout.display = "flex"

    def on_event(self, event: ProgressEvent) -> None:
        """Update from one pipeline event (tokens are ignored here)."""
        if event.kind not in _DONE:
            return
        with self._lock:
            self.nodes[event.node] = (event.kind, event.text)
            self.bar.value = min(self.bar.max, sum(1 for kind, _ in self.nodes.values() if kind != "node_started"))
            self._render()

    def _render(self) -> None:
        items = []
        for node, (kind, text) in self.nodes.items():
            word, colour, mark = _DONE[kind]
            detail = f" <span class='wb-note'>({esc(text)})</span>" if text and kind != "node_started" else ""
            items.append(f"<span style='color:{colour};margin-right:14px;white-space:nowrap'>{mark} "
                         f"{esc(NODE_LABELS.get(node, node))}: {word}{detail}</span>")
        self.steps.value = "<div style='display:flex;flex-wrap:wrap'>" + "".join(items) + "</div>"

    def finish(self, text: str, *, ok: bool = True) -> None:
        """Fill the bar (steps a run skips at planning send no event) and say how the run ended."""
        with self._lock:
            self.bar.value = self.bar.max
            self.bar.bar_style = "success" if ok else "danger"
            self.status.value = f"<b>{esc(text)}</b>"

    def note(self, text: str) -> None:
        """Replace the status line (e.g. while the displays are prepared)."""
        self.status.value = f"<b>{esc(text)}</b>"


def impressions_html(impressions: Sequence[Mapping[str, Any]]) -> str:
    """Each impression with its urgency, why, its evidence items and its citation."""
    if not impressions:
        return "<div class='wb-note'>No impression: nothing in the ECG, labs or form met a rule of the tables.</div>"
    blocks = []
    for item in impressions:
        background, _ = urgency_colours(item.get("urgency"))
        evidence = "".join(f"<li><span class='wb-chip' style='background:#78909c'>{esc(e.get('kind', ''))}</span> "
                           f"{esc(e.get('text', ''))}</li>" for e in item.get("evidence", []))
        blocks.append(
            f"<div style='border-left:6px solid {background};padding:6px 12px;margin:8px 0;background:#fafafa'>"
            f"<div style='font-size:1.1em'><b>{esc(item.get('label', ''))}</b> {chip(str(item.get('urgency', '')), background)}</div>"
            f"<div>{esc(item.get('urgency_reason', ''))}</div>"
            f"<ul style='margin:4px 0'>{evidence}</ul>"
            f"<div class='wb-cite'>Source: {esc(item.get('citation', ''))}</div></div>")
    return "".join(blocks)


def claims_html(claims: Sequence[Mapping[str, Any]] | None, summary: Mapping[str, Any] | None = None,
                title: str = "Model statements checked against the measurements") -> str:
    """Claim-check badges: supported (green), contradicted (red), not assessed (grey); hover for the reason."""
    if not claims:
        return ""
    badges = " ".join(chip(f"{c.get('label') or c.get('text', '')}: {c.get('status', '')}",
                           CLAIM_COLOURS.get(str(c.get("status")), "#757575"), str(c.get("reason", ""))) for c in claims)
    counts = (summary or {}).get("counts") or {}
    line = ", ".join(f"{n} {esc(k)}" for k, n in counts.items()) if counts else ""
    return (f"<h4 style='margin:6px 0'>{esc(title)}</h4><div>{badges}</div>"
            + (f"<div class='wb-note'>{line}</div>" if line else ""))


def recommendations_html(items: Sequence[Mapping[str, Any]] | None, kind: str, title: str) -> str:
    """The recommendations of one kind (next_step or lifestyle) as a list, each with its citation."""
    chosen = [r for r in (items or []) if r.get("kind") == kind]
    if not chosen:
        return ""
    lines = "".join(f"<li>{esc(r.get('text', ''))}<br><span class='wb-cite'>{esc(r.get('citation', ''))}</span></li>"
                    for r in chosen)
    return f"<h4 style='margin:6px 0'>{esc(title)}</h4><ul>{lines}</ul>"


class ReportPanel:
    """The report of one run (`show(state)`), fed live by `on_event` while the run goes. CSS classes for the kiosk:
    ``wb-urgency`` (banner), ``wb-impressions``, ``wb-disclaimer`` (when ``disclaimer`` is True; the apps put one
    at the top of the page instead)."""

    def __init__(self, *, disclaimer: bool = True, throttle_s: float = 0.08) -> None:
        self.throttle_s = throttle_s
        self.banner = widgets.HTML(value="<div class='wb-banner' style='background:#eceff1;color:#37474f'>"
                                         "No case analysed yet.</div>", layout=widgets.Layout(width="100%"))
        self.banner.add_class("wb-urgency")
        self.impressions = widgets.HTML(value="", layout=widgets.Layout(width="100%"))
        self.impressions.add_class("wb-impressions")
        self.narrative = widgets.HTML(value="", layout=widgets.Layout(width="100%"))
        self.narrative.add_class("wb-narrative")
        self.model_reading = widgets.HTML(value="", layout=widgets.Layout(width="100%"))
        self.claims = widgets.HTML(value="")
        self.claims.add_class("wb-claims")
        self.next_steps = widgets.HTML(value="")
        self.next_steps.add_class("wb-next-steps")
        self.lifestyle = widgets.HTML(value="")
        self.lifestyle.add_class("wb-lifestyle")
        self.other = widgets.HTML(value="")
        self.html_button = DownloadButton("Download report (HTML)", "text/html")
        self.pdf_button = DownloadButton("Download report (PDF)", "application/pdf")
        self.downloads = widgets.HBox([self.html_button, self.pdf_button], layout=widgets.Layout(display="none"))
        self.downloads.add_class("wb-downloads")
        parts: list[widgets.Widget] = [self.banner, self.impressions, self.narrative, self.model_reading, self.claims,
                                       self.next_steps, self.lifestyle, self.other, self.downloads]
        self.disclaimer = disclaimer_widget() if disclaimer else None
        if self.disclaimer is not None:
            parts.append(self.disclaimer)
        self.widget = widgets.VBox(parts, layout=widgets.Layout(width="100%"))
        self.widget.add_class("wb-report")
        self.widget.add_class("wb-panel")
        self.streamed: dict[str, str] = {}
        self._last_flush = 0.0
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ live
    def start(self) -> None:
        """Clear the panel for a new run."""
        with self._lock:
            self.streamed = {}
        self.banner.value = ("<div class='wb-banner' style='background:#eceff1;color:#37474f'>Analysing... the urgency "
                             "appears when the evidence has been combined.</div>")
        for item in (self.impressions, self.narrative, self.model_reading, self.claims, self.next_steps, self.lifestyle,
                     self.other):
            item.value = ""
        self.downloads.layout.display = "none"

    def on_event(self, event: ProgressEvent) -> None:
        """Append streamed model tokens (the narrative, and the model's own reading of the picture)."""
        if event.kind != "token":
            return
        with self._lock:
            self.streamed[event.node] = self.streamed.get(event.node, "") + event.text
            now = time.monotonic()
            if now - self._last_flush < self.throttle_s:
                return
            self._last_flush = now
        self._render_stream(final=False)

    def _render_stream(self, *, final: bool) -> None:
        cursor = "" if final else "<span style='opacity:.6'>▌</span>"
        narrative = self.streamed.get("narrate")
        if narrative is not None:
            self.narrative.value = (f"<h4 style='margin:6px 0'>Narrative (being written by the model)</h4>"
                                    f"<div style='white-space:pre-wrap'>{esc(narrative)}{cursor}</div>")
        reading = self.streamed.get("vlm")
        if reading is not None:
            self.model_reading.value = (f"<details open><summary><b>Model reading the ECG picture</b></summary>"
                                        f"<div style='white-space:pre-wrap' class='wb-note'>{esc(reading)}{cursor}</div></details>")

    # ------------------------------------------------------------------ final
    def show(self, state: Mapping[str, Any]) -> None:
        """Fill the panel from a finished (or stored) run state."""
        fusion = state.get("fusion") or {}
        urgency = fusion.get("urgency")
        background, colour = urgency_colours(urgency)
        patient = state.get("patient") or {}
        who = f"Patient {esc(patient.get('patient_id', ''))}" if patient.get("patient_id") else ""
        if urgency:
            self.banner.value = (f"<div class='wb-banner' style='background:{background};color:{colour}'>"
                                 f"Urgency: {esc(str(urgency).upper())}"
                                 f"<span style='font-weight:400;font-size:0.8em;margin-left:16px'>{who}</span></div>")
        else:
            self.banner.value = (f"<div class='wb-banner' style='background:{background};color:{colour}'>No urgency could "
                                 f"be stated: the evidence could not be combined. {who}</div>")
        self.impressions.value = ("<h4 style='margin:6px 0'>Impressions</h4>"
                                  + impressions_html(fusion.get("impressions", [])))
        narrative = state.get("narrative") or {}
        if narrative.get("text"):
            self.narrative.value = (f"<h4 style='margin:6px 0'>Narrative <span class='wb-note'>(written by "
                                    f"{esc(narrative.get('author', ''))})</span></h4>"
                                    f"<div style='white-space:pre-wrap'>{esc(narrative['text'])}</div>")
        else:
            self.narrative.value = ""
        vlm = state.get("vlm") or {}
        if vlm.get("report") or vlm.get("text"):
            self.model_reading.value = (f"<details><summary><b>Model reading the ECG picture</b></summary>"
                                        f"<div style='white-space:pre-wrap' class='wb-note'>"
                                        f"{esc(vlm.get('report') or vlm.get('text'))}</div></details>")
        else:
            self.model_reading.value = ""
        self.claims.value = claims_html(state.get("claims"), state.get("claim_summary")) + claims_html(
            narrative.get("claims"), narrative.get("claim_summary"), "Narrative statements checked against the measurements")
        recommendations = state.get("recommendations") or []
        self.next_steps.value = recommendations_html(recommendations, "next_step", "Next steps to consider")
        self.lifestyle.value = recommendations_html(recommendations, "lifestyle", "Lifestyle advice to discuss")
        self.other.value = self._notes(state)
        report = state.get("report") or {}
        self.html_button.set_file(report.get("html"))
        self.pdf_button.set_file(report.get("pdf"))
        self.downloads.layout.display = "flex" if report else "none"

    @staticmethod
    def _notes(state: Mapping[str, Any]) -> str:
        fusion = state.get("fusion") or {}
        lines = [esc(n) for n in fusion.get("notes", [])]
        lines += [esc(node_problem_text(e)) for e in state.get("errors", [])]
        lines += [f"{esc(NODE_LABELS.get(s.get('node', ''), s.get('node', '')))} not done: {esc(s.get('reason', ''))}"
                  for s in state.get("skipped", []) if s.get("node") != "signoff"]
        signoff = state.get("signoff")
        if signoff:
            lines.append(f"Signed off by {esc(signoff.get('who', ''))} at {esc(signoff.get('at', ''))}.")
        if not lines:
            return ""
        return "<details><summary><b>Notes on this run</b></summary><ul>" + "".join(f"<li>{x}</li>" for x in lines) + "</ul></details>"
