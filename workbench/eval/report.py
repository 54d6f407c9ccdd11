"""A study's results folder -> metrics, Markdown tables and one self-contained HTML report (plotly's JS inline, so
the report opens offline: no CDN).

Everything is computed from the Parquet rows written by `batch.run_study`; rerunning the report never reruns the
analysis. Pooled over data sets: each record counts for the classes its source states (unknown truth is left out).
"""
from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .agreement import store_agreement
from .conformal import CoverageResult, split_conformal
from .labels import LabelMap, load_label_map
from .metrics import StudyMetrics, calibration, evaluate, pr_curve, roc_curve
from .results import extras, read_results
from .text_metrics import text_metrics

ALPHAS = (0.1, 0.2)


def seconds_in(episodes: Sequence[Sequence[float]], n_seconds: int) -> np.ndarray:
    """Per-second mask: second k counts when its midpoint lies inside one of the episodes."""
    mid = np.arange(n_seconds) + 0.5
    mask = np.zeros(n_seconds, dtype=bool)
    for start, end in episodes:
        mask |= (mid >= start) & (mid < end)
    return mask


def af_seconds(frame: Any) -> dict[str, Any] | None:
    """Pooled per-second AF agreement of records with ``.atr`` truth (CPSC 2021), or None when there are none."""
    truth, pred = [], []
    for extra, error in zip(extras(frame), frame["error"]):
        if "af_truth_episodes" not in extra or error:
            continue
        n = int(extra.get("n_seconds", 0))
        truth.append(seconds_in(extra["af_truth_episodes"], n))
        pred.append(seconds_in(extra.get("af_pred_episodes", []), n))
    if not truth:
        return None
    t, p = np.concatenate(truth), np.concatenate(pred)
    tp, fn, fp, tn = int((t & p).sum()), int((t & ~p).sum()), int((~t & p).sum()), int((~t & ~p).sum())
    return {"records": len(truth), "seconds": int(t.size), "tp": tp, "fn": fn, "fp": fp, "tn": tn,
            "sensitivity": tp / (tp + fn) if tp + fn else math.nan, "specificity": tn / (tn + fp) if tn + fp else math.nan}


@dataclass
class StudyReport:
    """Everything a report shows, computed once from the results folder."""

    out_dir: str
    manifest: dict[str, Any]
    datasets: list[dict[str, Any]]
    metrics: StudyMetrics
    conformal: list[CoverageResult]
    af: dict[str, Any] | None
    text: dict[str, Any] | None
    kappa: dict[str, Any] | None
    errors: list[tuple[str, str]]
    curves: dict[str, Any] = field(default_factory=dict, repr=False)
    calibration: dict[str, Any] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ Markdown
    def label_table(self) -> str:
        """Per-class metrics with 95% bootstrap intervals: the table of docs/VALIDATION.md."""
        label_map = load_label_map()
        header = ["class", "rule", "n", "pos", "TP", "FN", "FP", "TN", "sensitivity [95% CI]", "specificity [95% CI]",
                  "PPV", "NPV", "F1", "AUC [95% CI]", "not assessed", "note"]
        rows = []
        for r in self.metrics.classes:
            rule = f"`{label_map.label(r.name).rule}`" if r.name in label_map.label_ids else "derived"
            c = r.counts
            rows.append([LabelMap.display(r.name), rule, r.n, r.positives, c["tp"], c["fn"], c["fp"], c["tn"],
                         _ci(r.values["sensitivity"], r.ci["sensitivity"]), _ci(r.values["specificity"], r.ci["specificity"]),
                         _f(r.values["ppv"]), _f(r.values["npv"]), _f(r.values["f1"]), _ci(r.values["auc"], r.ci["auc"]),
                         r.not_assessed or "", r.note])
        return md_table(header, rows)

    def macro_table(self) -> str:
        m, ci = self.metrics.macro, self.metrics.macro_ci
        rows = [[name, _ci(m[name], ci[name])] for name in ("auc", "f1", "sensitivity", "specificity", "ppv", "npv")]
        rows.append(["Hamming loss", _f(m["hamming_loss"])])
        return md_table(["macro metric", "value [95% CI]"], rows) + "\n\n" + "\n".join(f"- {n}" for n in self.metrics.notes)

    def conformal_table(self) -> str:
        rows = [[LabelMap.display(r.name), f"{r.alpha:g}", f"{r.target:.2f}", r.n_calibration, r.n_test, _f(r.coverage),
                 _f(r.singleton_rate), _f(r.empty_rate)] for r in self.conformal if r.n_test]
        return md_table(["class", "alpha", "1 - alpha", "n calibration", "n test", "empirical coverage", "singleton sets",
                         "empty sets"], rows)

    def dataset_table(self) -> str:
        rows = [[d["dataset"], d["records"], d["errors"], _f(d["mean_s"], 3)] for d in self.datasets]
        return md_table(["data set", "records", "errors", "mean seconds per record"], rows)

    def to_markdown(self) -> str:
        parts = ["### Records\n", self.dataset_table(), "\n### Per class (pooled over data sets)\n", self.label_table(),
                 "\n### Macro averages\n", self.macro_table()]
        if self.af:
            a = self.af
            parts += ["\n### AF per second (.atr episodes)\n",
                      md_table(["records", "seconds", "TP", "FN", "FP", "TN", "sensitivity", "specificity"],
                               [[a["records"], a["seconds"], a["tp"], a["fn"], a["fp"], a["tn"], _f(a["sensitivity"], 3), _f(a["specificity"], 3)]])]
        parts += ["\n### Split-conformal prediction sets\n", self.conformal_table()]
        if self.text:
            t = self.text
            parts += ["\n### Generated text vs references\n",
                      md_table(["reports", "BLEU-4", "BLEU-4 (add-one smoothed)", "ROUGE-L F", "finding precision", "finding recall"],
                               [[t["n"], _f(t["bleu4"]), _f(t["bleu4_smoothed"]), _f(t["rouge_l"]), _f(t["finding_precision"]), _f(t["finding_recall"])]])]
        if self.kappa:
            parts += ["\n### Agreement with clinicians (case store)\n",
                      md_table(["workbench side", "validated findings", "unsure (left out)", "raw agreement", "Cohen's kappa", "note"],
                               [[side, k["n"], k["unsure"], _f(k["agreement"]), _f(k["kappa"]), k["note"]] for side, k in self.kappa.items()])]
        if self.errors:
            parts += ["\n### Records that failed\n", md_table(["record", "error"], [[i, e] for i, e in self.errors])]
        return "\n".join(parts) + "\n"

    # ------------------------------------------------------------------ HTML and JSON
    def figures(self) -> list[Any]:
        from . import figures

        figs = [figures.roc_figure(self.curves["roc"]), figures.pr_figure(self.curves["pr"]),
                figures.calibration_figure(self.calibration), figures.confusion_figure(self.metrics.classes)]
        if self.conformal:
            figs.append(figures.coverage_figure(self.conformal))
        return figs

    def to_html(self) -> str:
        """One file, plotly.js inline in the first figure (works offline), the Markdown tables as HTML."""
        blocks = []
        for i, fig in enumerate(self.figures()):
            blocks.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0), config={"displaylogo": False}))
        title = f"Validation study: {html.escape(', '.join(self.manifest.get('datasets', [])))}"
        return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>Validation study</title>"
                "<style>body{font-family:sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;font-size:12px}"
                "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}td:first-child{text-align:left}</style></head><body>"
                f"<h1>{title}</h1><p>Predictor: {html.escape(str(self.manifest.get('predictor', '')))}; workbench "
                f"{html.escape(str(self.manifest.get('workbench_version', '')))}; bootstrap {self.metrics.n_boot} resamples, seed "
                f"{self.metrics.seed}. Decision support only, not a diagnosis.</p>"
                + markdown_tables_to_html(self.to_markdown()) + "".join(blocks) + "</body></html>")

    def to_json(self) -> dict[str, Any]:
        return _plain({"out_dir": self.out_dir, "manifest": self.manifest, "datasets": self.datasets,
                       "classes": [asdict(r) for r in self.metrics.classes], "macro": self.metrics.macro,
                       "macro_ci": self.metrics.macro_ci, "notes": self.metrics.notes,
                       "conformal": [asdict(r) | {"target": r.target} for r in self.conformal],
                       "af_seconds": self.af, "text": self.text, "kappa": self.kappa, "errors": self.errors})


def build_report(out_dir: str | Path, *, n_boot: int = 1000, seed: int = 0, alphas: Sequence[float] = ALPHAS) -> StudyReport:
    """Compute every table of a study folder."""
    label_map = load_label_map()
    frame = read_results(out_dir)
    manifest_path = Path(out_dir) / "study.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    ok = frame[frame["error"].fillna("") == ""]
    classes = [c for c in label_map.class_ids if ok[f"truth__{c}"].notna().any()]
    Y = ok[[f"truth__{c}" for c in classes]].to_numpy(float)
    S = ok[[f"score__{c}" for c in classes]].to_numpy(float)
    P = ok[[f"pred__{c}" for c in classes]].to_numpy(float)
    metrics = evaluate(Y, S, P, classes, n_boot=n_boot, seed=seed)
    conformal = [r for a in alphas for r in split_conformal(Y, S, classes, a, seed=seed)]
    curves: dict[str, dict[str, Any]] = {"roc": {}, "pr": {}}
    cal: dict[str, Any] = {}
    for i, c in enumerate(classes):
        known = ~np.isnan(Y[:, i])
        y, s = Y[known, i], np.nan_to_num(S[known, i], nan=0.0)
        r = metrics.classes[i]
        if 0 < y.sum() < y.size:
            fpr, tpr, _ = roc_curve(y, s)
            precision, recall, _ = pr_curve(y, s)
            curves["roc"][LabelMap.display(c)] = (fpr, tpr, r.values["auc"])
            curves["pr"][LabelMap.display(c)] = (precision, recall, r.values["ap"])
            cal[LabelMap.display(c)] = calibration(y, s)
    datasets = [{"dataset": name, "records": int(len(part)), "errors": int((part["error"].fillna("") != "").sum()),
                 "mean_s": float(part["elapsed_s"].mean())} for name, part in frame.groupby("dataset")]
    texts = ok[ok["reference"].fillna("") != ""]
    text = text_metrics(list(texts["text"]), list(texts["reference"])) if len(texts) else None
    store_rows = ok[ok["dataset"] == "store"]
    kappa = None
    if len(store_rows):
        ex = extras(store_rows)
        kappa = {"at validation (stored analysis)": store_agreement(ex), "re-analysis now": store_agreement(ex, rerun=True)}
    errors = [(i, e) for i, e in zip(frame["id"], frame["error"].fillna("")) if e]
    return StudyReport(str(out_dir), manifest, datasets, metrics, conformal, af_seconds(ok), text, kappa, errors, curves, cal)


def write_report(out_dir: str | Path, *, html_path: str | Path | None = None, n_boot: int = 1000, seed: int = 0,
                 report: StudyReport | None = None) -> dict[str, Path]:
    """report.html, metrics.json and summary.md in the study folder (HTML where asked)."""
    out = Path(out_dir)
    report = report or build_report(out, n_boot=n_boot, seed=seed)
    paths = {"html": Path(html_path) if html_path else out / "report.html", "json": out / "metrics.json", "markdown": out / "summary.md"}
    paths["html"].write_text(report.to_html(), encoding="utf-8")
    paths["json"].write_text(json.dumps(report.to_json(), indent=2), encoding="utf-8")
    paths["markdown"].write_text(report.to_markdown(), encoding="utf-8")
    return paths


# ====================================================================== formatting
def _f(x: float | None, nd: int = 2) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{nd}f}"


def _ci(value: float, ci: tuple[float, float]) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    if math.isnan(ci[0]):
        return _f(value)
    return f"{value:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]"


def md_table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "/") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown_tables_to_html(text: str) -> str:
    """The report's own Markdown (headings, tables, bullet notes) as HTML; nothing more general is needed."""
    out, table = [], []

    def flush() -> None:
        if table:
            cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in table if not line.startswith("|---")]
            head = "".join(f"<th>{html.escape(c)}</th>" for c in cells[0])
            body = "".join("<tr>" + "".join(f"<td>{html.escape(c.strip('`'))}</td>" for c in row) + "</tr>" for row in cells[1:])
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
            table.clear()

    for line in text.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush()
        if line.startswith("### "):
            out.append(f"<h2>{html.escape(line[4:])}</h2>")
        elif line.startswith("- "):
            out.append(f"<p>&bull; {html.escape(line[2:])}</p>")
        elif line.strip():
            out.append(f"<p>{html.escape(line)}</p>")
    flush()
    return "\n".join(out)


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return None if math.isnan(float(obj)) or math.isinf(float(obj)) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj
