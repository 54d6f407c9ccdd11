"""The labs panel: the results read from the reports (flags coloured), the rows that could not be used with their
reasons, per-file notes, a trend plot per analyte (`lab_figures.trend_figure`) and the ESC 0h/1h verdict the
pipeline reached. Display only: values, flags, ranges and the verdict all come from the labs layer and fusion."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pandas as pd
import plotly.graph_objects as go

from .common import esc, reuse_figure_widget
from .lab_figures import FLAG_COLOURS, trend_figure

#: background of the ESC 0h/1h verdict by category
ESC_COLOURS = {"rule-in": "#c62828", "observe": "#ef6c00", "rule-out": "#2e7d32", "incomplete": "#546e7a",
               "not applicable": "#78909c"}


def results_frame(labs: Mapping[str, Any] | None) -> pd.DataFrame:
    """The stored results (JSON records) back as a table with real timestamps (empty table without labs)."""
    rows = (labs or {}).get("results") or []
    frame = pd.DataFrame(rows)
    if not frame.empty and "collected_at" in frame:
        frame["collected_at"] = pd.to_datetime(frame["collected_at"], errors="coerce")
    return frame


def _reference(row: Mapping[str, Any]) -> str:
    low, high = row.get("ref_low"), row.get("ref_high")
    if pd.notna(low) and pd.notna(high):
        return f"{low:g} - {high:g}"
    if pd.notna(high):
        return f"< {high:g}"
    if pd.notna(low):
        return f"> {low:g}"
    return ""


def results_table_html(frame: pd.DataFrame) -> str:
    """The results as an HTML table (pandas), each flagged value coloured by its flag (H/HH red, L/LL blue)."""
    if frame.empty:
        return "<div class='wb-note'>No lab result was read.</div>"
    frame = frame.sort_values(["collected_at", "name"], na_position="last", kind="stable")
    table = pd.DataFrame({
        "Collected": [t.strftime("%Y-%m-%d %H:%M") if pd.notna(t) else "" for t in frame["collected_at"]],
        "Test": frame["name"].fillna(frame.get("printed_name")),
        "Result": [f"{v} {u}".strip() for v, u in zip(frame["value_text"].fillna(""), frame["unit"].fillna(""))],
        "Canonical": [f"{v:g} {u}" if pd.notna(v) else "" for v, u in zip(frame["canonical_value"], frame["canonical_unit"].fillna(""))],
        "Reference": [_reference(r) for r in frame.to_dict("records")],
        "Flag": frame["flag"].fillna(""),
        "Report": [Path(str(f)).name for f in frame["source_file"].fillna("")],
    })

    def colour(row: pd.Series) -> list[str]:
        flag = row["Flag"]
        style = f"color: {FLAG_COLOURS[flag]}; font-weight: 700" if flag in FLAG_COLOURS else ""
        return [style if col in ("Result", "Canonical", "Flag") else "" for col in row.index]

    styled = table.style.apply(colour, axis=1).hide(axis="index")
    return styled.to_html()


def unparsed_html(labs: Mapping[str, Any] | None) -> str:
    """Rows the readers saw but could not use, each with its reason (nothing vanishes silently)."""
    rows = (labs or {}).get("unparsed") or []
    if not rows:
        return ""
    items = "".join(f"<li><code>{esc(r.get('text', ''))}</code> - {esc(r.get('reason', ''))} "
                    f"<span class='wb-cite'>({esc(Path(str(r.get('source_file', ''))).name)})</span></li>" for r in rows)
    return f"<h4 style='margin:6px 0'>Rows not used ({len(rows)})</h4><ul>{items}</ul>"


def files_html(labs: Mapping[str, Any] | None) -> str:
    """Per report: what read it, how many results, warnings and errors in plain words."""
    files = (labs or {}).get("files") or []
    if not files:
        return ""
    items = []
    for f in files:
        line = f"<b>{esc(Path(str(f.get('file', ''))).name)}</b>: {f.get('results', 0)} result(s)"
        if f.get("error"):
            line += f" - <span style='color:#c62828'>{esc(f['error'])}</span>"
        for warning in f.get("warnings", []):
            line += f"<br><span class='wb-note'>{esc(warning)}</span>"
        items.append(f"<li>{line}</li>")
    return f"<h4 style='margin:6px 0'>Reports</h4><ul>{''.join(items)}</ul>"


def esc_html(fusion: Mapping[str, Any] | None) -> str:
    """The ESC 0h/1h verdict reached by the pipeline, as a coloured box (or why it was not applied)."""
    esc_verdict = (fusion or {}).get("esc")
    if not esc_verdict:
        return "<div class='wb-note'>ESC 0h/1h algorithm: not applied (no troponin series in this case).</div>"
    category = str(esc_verdict.get("category", ""))
    colour = ESC_COLOURS.get(category, "#546e7a")
    return (f"<div style='border-left:6px solid {colour};padding:6px 10px;background:#fafafa'>"
            f"<b>ESC 0h/1h algorithm: <span style='color:{colour}'>{esc(category)}</span></b> - "
            f"{esc(esc_verdict.get('reason', ''))}<br><span class='wb-cite'>{esc(esc_verdict.get('source', ''))}</span></div>")


class LabsPanel:
    """The labs of one run (`show(state)`); the results table carries the CSS class ``wb-labs-table``."""

    def __init__(self, *, width: int = 900) -> None:
        self.width = int(width)
        self.frame = pd.DataFrame()
        self.esc = widgets.HTML(value="")
        self.table = widgets.HTML(value="<i>Lab results appear here after the analysis.</i>",
                                  layout=widgets.Layout(width="100%", overflow="auto"))
        self.table.add_class("wb-labs-table")
        self.table.add_class("wb-table")
        self.unparsed = widgets.HTML(value="")
        self.files = widgets.HTML(value="")
        self.analyte = widgets.Dropdown(description="Trend of", options=[], layout=widgets.Layout(width="420px"))
        self.trend_box = widgets.VBox([])
        self.figure: go.FigureWidget | None = None
        self.analyte.observe(self._on_analyte, names="value")
        self.widget = widgets.VBox([self.esc, self.table, self.unparsed, self.analyte, self.trend_box, self.files],
                                   layout=widgets.Layout(width="100%"))
        self.widget.add_class("wb-panel")
        self.analyte.layout.display = "none"

    def show(self, state: Mapping[str, Any]) -> None:
        """Fill the panel from a run state."""
        labs = state.get("labs")
        problem = next((e for e in state.get("errors", []) if e.get("node") == "labs"), None)
        self.frame = results_frame(labs)
        self.esc.value = esc_html(state.get("fusion")) if labs else ""
        if labs is None:
            self.table.value = ("<div class='wb-note'>" + (f"The lab reports could not be read: {esc(problem.get('message', ''))}"
                                if problem else "No lab report was given for this case.") + "</div>")
        else:
            self.table.value = results_table_html(self.frame)
        self.unparsed.value = unparsed_html(labs)
        self.files.value = files_html(labs)
        analytes: list[tuple[str, str]] = []
        if not self.frame.empty:
            numeric = self.frame[self.frame["canonical_value"].notna()]
            for analyte, rows in numeric.groupby("analyte", sort=False):
                analytes.append((f"{rows['name'].iloc[-1]} ({len(rows)})", str(analyte)))
            analytes.sort(key=lambda item: -int(item[0].rsplit("(", 1)[1].rstrip(")")))  # series first
        self.analyte.unobserve(self._on_analyte, names="value")
        self.analyte.options = analytes
        self.analyte.value = analytes[0][1] if analytes else None
        self.analyte.observe(self._on_analyte, names="value")
        self.analyte.layout.display = None if analytes else "none"
        self.trend_box.children = []
        if analytes:
            self.show_trend(analytes[0][1])

    def _on_analyte(self, change: Mapping[str, Any]) -> None:
        if change.get("new"):
            self.show_trend(change["new"])

    def show_trend(self, analyte: str) -> None:
        """The trend plot of one analyte (all its results in this case, over time). One figure widget is reused:
        each new plotly widget carries the whole plotly.js bundle to the browser."""
        new = trend_figure(self.frame, analyte)
        new.update_layout(height=340, width=self.width)
        self.figure = reuse_figure_widget(self.figure, new)
        self.trend_box.children = [self.figure]
