"""Plotly figures of lab results (display only: values, flags and ranges come from the labs layer)."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

FLAG_COLOURS = {"H": "#d62728", "HH": "#7f0000", "L": "#1f77b4", "LL": "#08306b"}
NORMAL_COLOUR = "#2ca02c"


def trend_figure(frame: pd.DataFrame, analyte: str, *, patient: str | None = None) -> go.Figure:
    """One analyte over time in its canonical unit, with the reference band of the latest result shaded and
    each point coloured by its flag; hovering shows the value as printed and the report it came from."""
    rows = frame[(frame["analyte"] == analyte) & frame["canonical_value"].notna()]
    if patient is not None:
        rows = rows[rows["patient"] == patient]
    rows = rows.sort_values("collected_at", na_position="last", kind="stable")
    figure = go.Figure()
    if rows.empty:
        figure.update_layout(title=f"No numeric results for {analyte}")
        return figure
    unit = rows["canonical_unit"].iloc[-1]
    name = rows["name"].iloc[-1]
    x = rows["collected_at"] if rows["collected_at"].notna().all() else list(range(1, len(rows) + 1))
    latest = rows.iloc[-1]
    low, high = latest["ref_low"], latest["ref_high"]
    if pd.notna(low) or pd.notna(high):
        values = rows["canonical_value"]
        y0 = low if pd.notna(low) else min(0.0, values.min())
        y1 = high if pd.notna(high) else max(values.max(), y0) * 1.2
        figure.add_hrect(y0=y0, y1=y1, fillcolor=NORMAL_COLOUR, opacity=0.12, line_width=0,
                         annotation_text=f"reference ({latest['ref_source']})", annotation_position="top left")
    colours = [FLAG_COLOURS.get(flag, NORMAL_COLOUR) if isinstance(flag, str) else NORMAL_COLOUR for flag in rows["flag"]]
    hover = [f"{r.value_text} {r.unit}<br>{r.flag or 'in range'}<br>{r.source_file}" for r in rows.itertuples()]
    figure.add_trace(go.Scatter(x=x, y=rows["canonical_value"], mode="lines+markers", name=name,
                                marker={"size": 10, "color": colours}, line={"color": "#555555"},
                                hovertext=hover, hovertemplate="%{y} " + unit + "<br>%{hovertext}<extra></extra>"))
    figure.update_layout(title=f"{name} ({unit})", xaxis_title="collected", yaxis_title=unit, showlegend=False,
                         margin={"l": 60, "r": 20, "t": 50, "b": 50}, template="plotly_white")
    return figure
