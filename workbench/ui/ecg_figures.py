"""Plotly figures of an ECG: the leads on ECG paper (25 mm/s, 10 mm/mV, 1 mm / 5 mm grid) in the standard 3x4
layout with a lead II rhythm strip, the measured onsets/offsets and ST points, and each finding's evidence shaded
on the leads it cites; and, for a picture input, the original image with the traces the digitizer recovered.

Display only: the marks are the analysis' own fiducials and measurements, placed where the analysis found the
beats; nothing is measured or decided here. Figures are kept light (decimated to what a screen can show)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go

from ..ecg.image.types import LAYOUTS
from ..ecg.leads import STANDARD_LEADS
from ..ecg.record import ECGRecord
from ..explain.concordance import finding_leads

SPEED_MM_S = 25.0
GAIN_MM_MV = 10.0
PAGE_S = 10.0
ROW_MV = 3.0  # distance between the baselines of two rows (30 mm)
MINOR_COLOUR = "#f7c8cf"
MAJOR_COLOUR = "#e58f9b"
TRACE_COLOUR = "#111111"
#: colours of the evidence shading, one per finding (cycled)
EVIDENCE_COLOURS = ("rgba(229,57,53,0.16)", "rgba(30,136,229,0.16)", "rgba(142,36,170,0.16)", "rgba(0,137,123,0.18)",
                    "rgba(251,140,0,0.18)", "rgba(93,64,55,0.16)")
#: the analysis fiducials drawn as marks, with their names on hover
FIDUCIAL_NAMES = {"p_on": "P onset", "qrs_on": "QRS onset", "qrs_off": "QRS offset (J point)", "t_off": "T end"}
ST_OFFSET_MS = 60.0


@dataclass(frozen=True)
class Panel:
    """One lead drawn over one time span of the page, on one row."""

    lead: str
    row: int
    t0: float
    duration: float
    rhythm: bool = False

    @property
    def name(self) -> str:
        return f"{self.lead} (rhythm)" if self.rhythm else self.lead

    @property
    def baseline(self) -> float:
        return -ROW_MV * self.row


def page_panels(leads: Sequence[str], duration_s: float = PAGE_S) -> list[Panel]:
    """The standard 3x4 + lead II rhythm strip when the record has the 12 leads (or most of them); otherwise one
    full-length row per lead (up to 12), so single- or few-lead recordings are still drawn."""
    rows, rhythm = LAYOUTS["3x4+1"]
    standard = [lead for lead in STANDARD_LEADS if lead in leads]
    if len(standard) >= 8:
        col = PAGE_S / len(rows[0])
        panels = [Panel(lead, r, c * col, col) for r, row in enumerate(rows) for c, lead in enumerate(row)
                  if lead in leads and c * col < duration_s]
        strip = next((lead for lead in rhythm if lead in leads), standard[0])
        panels.append(Panel(strip, len(rows), 0.0, PAGE_S, rhythm=True))
        return panels
    return [Panel(lead, r, 0.0, PAGE_S, rhythm=False) for r, lead in enumerate(list(leads)[:12])]


def display_signals(record: ECGRecord, start_s: float, end_s: float, *, mains_hz: float = 50.0,
                    fs: float = 500.0) -> tuple[ECGRecord, float]:
    """The slice [start_s, end_s) at ``fs`` with baseline wander and hum removed (as printed on paper); returns
    the slice and its true start time. Filtered with a 2 s margin so the edges are clean."""
    from ..ecg.filters import diagnostic_filter

    rec = record.with_derived_limb_leads()
    margin = 2.0
    a = max(0.0, start_s - margin)
    b = min(rec.duration_s, end_s + margin)
    piece = rec.window(a, b).resample(fs)
    try:
        filtered = diagnostic_filter(piece.signals, piece.fs, mains_hz)
    except Exception:  # too short to filter: show the values as recorded, centred
        filtered = piece.signals - np.nanmedian(piece.signals, axis=0)
    cut0 = int(round((start_s - a) * fs))
    cut1 = cut0 + int(round((end_s - start_s) * fs))
    from dataclasses import replace

    return replace(piece, signals=filtered[cut0:cut1]), start_s


def _decimate(t: np.ndarray, y: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Every ``step``-th sample, but keeping the extreme of each block so QRS peaks keep their height."""
    if step <= 1 or y.size < 2 * step:
        return t, y
    n = (y.size // step) * step
    blocks = y[:n].reshape(-1, step)
    import warnings

    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN block (a lead not drawn there) stays NaN
        centred = np.abs(blocks - np.nanmean(blocks, axis=1, keepdims=True))
    centred = np.where(np.isfinite(centred), centred, -1.0)
    pick = np.argmax(centred, axis=1) + np.arange(blocks.shape[0]) * step
    return t[pick], y[pick]


def _page_window(record: ECGRecord, analysis: Mapping[str, Any] | None, start_s: float | None) -> float:
    if start_s is not None:
        return max(0.0, min(float(start_s), max(0.0, record.duration_s - PAGE_S)))
    window = ((analysis or {}).get("info") or {}).get("analysed_window_s")
    if window and record.duration_s > PAGE_S:
        return max(0.0, min(float(window[0]), record.duration_s - PAGE_S))
    return 0.0


def ecg_paper_figure(record: ECGRecord, analysis: Mapping[str, Any] | None = None, *, start_s: float | None = None,
                     highlight: str | None = "all", r_peaks_s: Sequence[float] | None = None,
                     display_fs: float = 250.0, mains_hz: float = 50.0, width: int = 1200) -> go.Figure:
    """The record on ECG paper as a plotly figure (see the module docstring).

    ``analysis``: `ECGAnalysis.to_dict()` (its fiducials, ST measurements, findings and analysed window); the page
    shows the analysed 10 s window. ``highlight``: "all" shades every finding's cited leads, a finding's rule
    name shades only that one, None none. ``r_peaks_s``: beat times (s from the record start) where the median
    beat's fiducials are marked; computed with the analysis' own detector when not given. ``width`` in pixels
    (fixed, since a widget drawn before it is shown cannot measure its container); the height follows from the
    paper's aspect (1 mV = 10 mm when 1 s = 25 mm)."""
    start = _page_window(record, analysis, start_s)
    end = min(record.duration_s, start + PAGE_S)
    shown, _ = display_signals(record, start, end, mains_hz=mains_hz)
    panels = page_panels(shown.leads, end - start)
    fs = shown.fs
    step = max(1, int(round(fs / display_fs)))
    figure = go.Figure()
    for panel in panels:
        a = int(round(panel.t0 * fs))
        b = min(shown.n_samples, int(round((panel.t0 + panel.duration) * fs)))
        if b <= a:
            continue
        values = shown.lead(panel.lead)[a:b]
        t = np.arange(a, b) / fs
        t, values = _decimate(t, values, step)
        custom = np.column_stack([(t + start) * 1000.0, values])
        figure.add_trace(go.Scatter(
            x=t, y=values + panel.baseline, mode="lines", name=panel.name, line={"color": TRACE_COLOUR, "width": 1.1},
            customdata=custom, showlegend=False,
            hovertemplate="<b>" + panel.name + "</b><br>%{customdata[0]:.0f} ms<br>%{customdata[1]:.2f} mV<extra></extra>"))
    if analysis:
        peaks = list(r_peaks_s) if r_peaks_s is not None else _r_peaks_s(record)
        _add_marks(figure, shown, panels, analysis, [p - start for p in peaks if start - 1.0 <= p <= end + 1.0], start)
    figure.update_layout(shapes=column_separators(panels) + evidence_shapes(panels, (analysis or {}).get("findings", []), highlight),
                         annotations=lead_labels(panels) + evidence_annotations(panels, (analysis or {}).get("findings", []), highlight))
    rows = max(p.row for p in panels) + 1 if panels else 1
    x_range = (-0.15, PAGE_S + 0.05)
    y_range = (-ROW_MV * (rows - 1) - 1.6, 1.6)
    margin = {"l": 10, "r": 10, "t": 40, "b": 36}
    px_per_s = (width - margin["l"] - margin["r"]) / (x_range[1] - x_range[0])
    height = int(round((y_range[1] - y_range[0]) * px_per_s * GAIN_MM_MV / SPEED_MM_S)) + margin["t"] + margin["b"]
    figure.update_layout(
        title={"text": f"ECG at 25 mm/s, 10 mm/mV: {start:.1f} to {end:.1f} s of the recording", "x": 0.01},
        width=width, height=height, margin=margin, plot_bgcolor="#fffafa", paper_bgcolor="#ffffff",
        dragmode="pan", hovermode="closest", showlegend=True,
        legend={"orientation": "h", "y": 0, "yanchor": "top", "x": 0, "font": {"size": 12}},
        xaxis={"range": list(x_range), "showticklabels": False, "zeroline": False,
               "dtick": 5 / SPEED_MM_S, "tick0": 0, "gridcolor": MAJOR_COLOUR, "gridwidth": 1, "showgrid": True,
               "minor": {"dtick": 1 / SPEED_MM_S, "showgrid": True, "gridcolor": MINOR_COLOUR, "gridwidth": 0.5},
               "constrain": "domain"},
        yaxis={"range": list(y_range), "showticklabels": False, "zeroline": False,
               "dtick": 5 / GAIN_MM_MV, "tick0": 0, "gridcolor": MAJOR_COLOUR, "gridwidth": 1, "showgrid": True,
               "minor": {"dtick": 1 / GAIN_MM_MV, "showgrid": True, "gridcolor": MINOR_COLOUR, "gridwidth": 0.5},
               "scaleanchor": "x", "scaleratio": GAIN_MM_MV / SPEED_MM_S,  # 1 mV = 10 mm when 1 s = 25 mm
               "constrain": "domain"},
        meta={"speed_mm_s": SPEED_MM_S, "gain_mm_mv": GAIN_MM_MV, "start_s": start, "panels": [p.name for p in panels]})
    return figure


def _r_peaks_s(record: ECGRecord) -> list[float]:
    from ..ecg.analysis import find_r_peaks

    try:
        return [float(p) / record.fs for p in find_r_peaks(record)]
    except Exception:  # no beat found (flat or very short record): no marks, the traces are still drawn
        return []


def _panel_at(panels: Sequence[Panel], lead: str, t: float) -> Panel | None:
    return next((p for p in panels if p.lead == lead and not p.rhythm and p.t0 <= t < p.t0 + p.duration), None)


def _value_at(shown: ECGRecord, lead: str, t: float) -> float | None:
    i = int(round(t * shown.fs))
    if not 0 <= i < shown.n_samples:
        return None
    value = float(shown.lead(lead)[i])
    return value if np.isfinite(value) else None


def _add_marks(figure: go.Figure, shown: ECGRecord, panels: Sequence[Panel], analysis: Mapping[str, Any],
               beats: Sequence[float], start: float) -> None:
    """Fiducial ticks (P onset, QRS onset/offset, T end) and ST points (J and J+60 ms) at each beat."""
    fid = (analysis.get("info") or {}).get("fiducials_ms") or {}
    lead_values = analysis.get("leads") or {}
    xs: list[float | None] = []
    ys: list[float | None] = []
    text: list[str | None] = []
    st_x, st_y, st_text, st_symbol = [], [], [], []
    for beat in beats:
        for panel in panels:
            for key, name in FIDUCIAL_NAMES.items():
                ms = fid.get(key)
                if ms is None:
                    continue
                t = beat + ms / 1000.0
                if not panel.t0 <= t < panel.t0 + panel.duration:
                    continue
                xs += [t, t, None]
                ys += [panel.baseline - 0.85, panel.baseline - 0.6, None]
                label = f"{name}: {(t + start) * 1000:.0f} ms (measured on the median beat)"
                text += [label, label, None]
            j_ms = fid.get("qrs_off")
            if j_ms is None or panel.rhythm:
                continue
            for offset, symbol, what in ((0.0, "circle-open", "J point"), (ST_OFFSET_MS, "diamond-open", "J+60 ms")):
                t = beat + (j_ms + offset) / 1000.0
                if not panel.t0 <= t < panel.t0 + panel.duration:
                    continue
                value = _value_at(shown, panel.lead, t)
                if value is None:
                    continue
                key = "st_j_mm" if offset == 0.0 else "st_j60_mm"
                measured = (lead_values.get(panel.lead) or {}).get(key) or {}
                mm = measured.get("value")
                st_x.append(t)
                st_y.append(value + panel.baseline)
                st_symbol.append(symbol)
                st_text.append(f"{panel.lead} {what}: {(t + start) * 1000:.0f} ms, {value:.2f} mV"
                               + (f"<br>ST measured (median beat): {mm:+.2f} mm" if mm is not None else ""))
    if xs:
        figure.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="measured onsets/offsets",
                                    line={"color": "rgba(21,101,192,0.7)", "width": 1}, hovertext=text,
                                    hovertemplate="%{hovertext}<extra></extra>"))
    if st_x:
        figure.add_trace(go.Scatter(x=st_x, y=st_y, mode="markers", name="ST points (J, J+60 ms)",
                                    marker={"color": "#d84315", "size": 7, "symbol": st_symbol, "line": {"width": 1.5}},
                                    hovertext=st_text, hovertemplate="%{hovertext}<extra></extra>"))


def column_separators(panels: Sequence[Panel]) -> list[dict[str, Any]]:
    """Short vertical bars between the columns of a row, as on a printed page."""
    return [{"type": "line", "x0": p.t0, "x1": p.t0, "y0": p.baseline - 0.5, "y1": p.baseline + 0.5,
             "line": {"color": "#000", "width": 1.2}, "layer": "above"} for p in panels if p.t0 > 0]


def lead_labels(panels: Sequence[Panel]) -> list[dict[str, Any]]:
    """Lead names at the start of each panel, as printed on a page."""
    return [{"x": p.t0 + 0.05, "y": p.baseline + 1.05, "text": f"<b>{p.lead}</b>", "showarrow": False,
             "xanchor": "left", "font": {"size": 13, "color": "#000"}} for p in panels]


def _selected(findings: Sequence[Mapping[str, Any]], highlight: str | None) -> list[Mapping[str, Any]]:
    if highlight is None:
        return []
    chosen = [f for f in findings if finding_leads(f)]
    return chosen if highlight == "all" else [f for f in chosen if f.get("rule") == highlight or f.get("code") == highlight]


def evidence_shapes(panels: Sequence[Panel], findings: Sequence[Mapping[str, Any]], highlight: str | None = "all") -> list[dict[str, Any]]:
    """A shaded box behind every panel of a lead that a (selected) finding cites, one colour per finding."""
    shapes = []
    for index, finding in enumerate(_selected(findings, highlight)):
        colour = EVIDENCE_COLOURS[index % len(EVIDENCE_COLOURS)]
        cited = set(finding_leads(finding))
        for panel in panels:
            if panel.lead in cited:
                inset = 0.04 * index
                shapes.append({"type": "rect", "x0": panel.t0 + 0.02 + inset, "x1": panel.t0 + panel.duration - 0.02 - inset,
                               "y0": panel.baseline - 1.4 + inset, "y1": panel.baseline + 1.4 - inset, "fillcolor": colour,
                               "line": {"width": 0}, "layer": "below", "name": f"evidence: {finding.get('label', '')}"})
    return shapes


def evidence_annotations(panels: Sequence[Panel], findings: Sequence[Mapping[str, Any]], highlight: str | None = "all") -> list[dict[str, Any]]:
    """The finding's name in each panel it shades (small, in the finding's colour)."""
    notes = []
    for index, finding in enumerate(_selected(findings, highlight)):
        colour = EVIDENCE_COLOURS[index % len(EVIDENCE_COLOURS)].replace("0.16", "1").replace("0.18", "1")
        for panel in panels:
            if panel.lead in set(finding_leads(finding)) and not panel.rhythm:
                notes.append({"x": panel.t0 + panel.duration - 0.05, "y": panel.baseline + 1.05 - 0.3 * index,
                              "text": str(finding.get("label", "")), "showarrow": False, "xanchor": "right",
                              "font": {"size": 10, "color": colour}})
    return notes


# ------------------------------------------------------------------------------------------ picture inputs
def digitized_overlay_figure(image: np.ndarray, pixel_map: Mapping[str, np.ndarray], *, max_width: int = 1400,
                             step: int = 2, width: int = 1200) -> go.Figure:
    """The original picture (downscaled to ``max_width``) with each lead's recovered trace drawn over it in colour,
    so a reader sees at a glance whether the digitizer followed the printed trace."""
    from PIL import Image

    h, w = image.shape[:2]
    scale = min(1.0, max_width / float(w))
    size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
    picture = Image.fromarray(np.asarray(image, dtype=np.uint8)).resize(size)
    figure = go.Figure()
    palette = ("#1e88e5", "#43a047", "#8e24aa", "#fb8c00", "#00897b", "#e53935")
    for index, (lead, points) in enumerate(pixel_map.items()):
        points = np.asarray(points, dtype=float)
        if points.ndim != 2 or points.shape[0] == 0:
            continue
        points = points[::max(1, step)] * scale
        figure.add_trace(go.Scatter(x=points[:, 0], y=points[:, 1], mode="lines", name=f"{lead} (recovered)",
                                    line={"color": palette[index % len(palette)], "width": 1.4}, opacity=0.85,
                                    hovertemplate=f"<b>{lead}</b> recovered trace<extra></extra>", connectgaps=False))
    figure.add_layout_image({"source": picture, "xref": "x", "yref": "y", "x": 0, "y": 0, "sizex": size[0],
                             "sizey": size[1], "sizing": "stretch", "layer": "below"})
    figure.update_layout(
        title={"text": "Original picture with the traces the digitizer recovered", "x": 0.01},
        width=width, height=int(round(size[1] * (width - 20) / size[0])) + 90, margin={"l": 10, "r": 10, "t": 40, "b": 40},
        dragmode="pan", plot_bgcolor="#ffffff", legend={"orientation": "h", "y": 0, "yanchor": "top"},
        xaxis={"range": [0, size[0]], "visible": False, "constrain": "domain"},
        yaxis={"range": [size[1], 0], "visible": False, "scaleanchor": "x", "constrain": "domain"})
    return figure
