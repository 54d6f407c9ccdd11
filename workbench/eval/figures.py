"""Plotly figures of a study: ROC and PR curves, per-class confusion matrices, calibration (reliability) plots and
conformal coverage. Figures only: the numbers come from `metrics` and `conformal`, so a figure never computes
something the tables do not show."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .conformal import CoverageResult
from .metrics import ClassResult

_LAYOUT = {"template": "plotly_white", "height": 480, "legend": {"font": {"size": 10}}}


def roc_figure(curves: Mapping[str, tuple[np.ndarray, np.ndarray, float]], title: str = "ROC curves") -> go.Figure:
    """One line per class: (fpr, tpr, auc); the chance diagonal dashed."""
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dash", "color": "grey"}, name="chance", showlegend=False)
    for name, (fpr, tpr, auc) in curves.items():
        fig.add_scatter(x=fpr, y=tpr, mode="lines", line={"shape": "linear"}, name=f"{name} (AUC {auc:.2f})")
    fig.update_layout(title=title, xaxis_title="1 - specificity (false positive rate)", yaxis_title="sensitivity", **_LAYOUT)
    fig.update_xaxes(range=[0, 1]).update_yaxes(range=[0, 1.02])
    return fig


def pr_figure(curves: Mapping[str, tuple[np.ndarray, np.ndarray, float]], title: str = "Precision-recall curves") -> go.Figure:
    """One step line per class: (precision, recall, average precision)."""
    fig = go.Figure()
    for name, (precision, recall, ap) in curves.items():
        fig.add_scatter(x=recall, y=precision, mode="lines", line={"shape": "vh"}, name=f"{name} (AP {ap:.2f})")
    fig.update_layout(title=title, xaxis_title="recall (sensitivity)", yaxis_title="precision (PPV)", **_LAYOUT)
    fig.update_xaxes(range=[0, 1]).update_yaxes(range=[0, 1.02])
    return fig


def confusion_figure(results: Sequence[ClassResult], columns: int = 6, title: str = "Confusion matrices") -> go.Figure:
    """A 2x2 matrix (truth rows, decision columns) per class, counts written in the cells."""
    results = [r for r in results if r.n]
    rows = max(1, math.ceil(len(results) / columns))
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=[r.name for r in results],
                        horizontal_spacing=0.03, vertical_spacing=0.08 if rows < 6 else 0.04)
    for i, r in enumerate(results):
        c = r.counts
        z = [[c["tn"], c["fp"]], [c["fn"], c["tp"]]]
        fig.add_trace(go.Heatmap(z=z, x=["pred 0", "pred 1"], y=["true 0", "true 1"], text=z, texttemplate="%{text}",
                                 colorscale="Blues", showscale=False), row=i // columns + 1, col=i % columns + 1)
    fig.update_layout(title=title, template="plotly_white", height=170 * rows + 80)
    fig.update_annotations(font_size=10)
    return fig


def calibration_figure(curves: Mapping[str, Mapping[str, object]], title: str = "Calibration (reliability)") -> go.Figure:
    """Observed share of positives against the mean score per bin; marker size grows with the bin count."""
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dash", "color": "grey"}, name="perfect", showlegend=False)
    for name, cal in curves.items():
        count = np.asarray(cal["count"], dtype=float)
        size = 6 + 14 * np.sqrt(count / count.max()) if count.size else []
        fig.add_scatter(x=cal["predicted"], y=cal["observed"], mode="lines+markers", marker={"size": size},
                        name=f"{name} (ECE {cal['ece']:.2f})", text=[f"n={int(n)}" for n in count])
    fig.update_layout(title=title, xaxis_title="mean score in bin", yaxis_title="observed share positive", **_LAYOUT)
    fig.update_xaxes(range=[0, 1]).update_yaxes(range=[0, 1.02])
    return fig


def coverage_figure(results: Sequence[CoverageResult], title: str = "Conformal coverage on held-out records") -> go.Figure:
    """Empirical coverage per class as bars, the target 1 - alpha as a line per alpha."""
    fig = go.Figure()
    for alpha in sorted({r.alpha for r in results}):
        part = [r for r in results if r.alpha == alpha and r.n_test]
        fig.add_bar(x=[r.name for r in part], y=[r.coverage for r in part], name=f"alpha {alpha:g}",
                    text=[f"n={r.n_test}" for r in part])
        fig.add_hline(y=1 - alpha, line_dash="dash", annotation_text=f"1 - alpha = {1 - alpha:g}")
    fig.update_layout(title=title, yaxis_title="empirical coverage", barmode="group", **_LAYOUT)
    fig.update_yaxes(range=[0, 1.05])
    return fig
