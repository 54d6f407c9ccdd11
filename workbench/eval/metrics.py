"""Classification metrics of a study, in NumPy, with bootstrap confidence intervals.

Why our own and not scikit-learn's at run time: the bootstrap needs each metric on thousands of resamples at
once, which is a matrix product over resample weights here (one pass for all resamples) instead of thousands of
sklearn calls; and undefined values must be NaN with a reason (a class without positives has no sensitivity or
AUC), not a warning and a 0. tests/eval/test_metrics.py checks every function against scikit-learn.

Conventions: ``y`` truth 0/1, ``p`` decisions 0/1, ``s`` scores in [0, 1]. Multi-label inputs are (n, k) arrays
where NaN truth means 'unknown for this record' and removes the cell from that class's metrics.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

CI_LEVEL = 0.95
BINARY_METRICS = ("sensitivity", "specificity", "ppv", "npv", "f1")


# ====================================================================== binary, point estimates
def _div(num: np.ndarray | float, den: np.ndarray | float) -> np.ndarray | float:
    """num / den, NaN where den is 0 (the metric is undefined, e.g. sensitivity without positives)."""
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return out if out.ndim else float(out)


def confusion(y: Sequence[int], p: Sequence[int]) -> tuple[int, int, int, int]:
    """(tp, fp, fn, tn) of binary truth and decisions."""
    y, p = np.asarray(y).astype(bool), np.asarray(p).astype(bool)
    return int((y & p).sum()), int((~y & p).sum()), int((y & ~p).sum()), int((~y & ~p).sum())


def rates(tp: Any, fp: Any, fn: Any, tn: Any) -> dict[str, Any]:
    """Sensitivity, specificity, PPV, NPV and F1 from counts (scalars or arrays of resamples)."""
    return {"sensitivity": _div(tp, tp + fn), "specificity": _div(tn, tn + fp), "ppv": _div(tp, tp + fp),
            "npv": _div(tn, tn + fn), "f1": _div(2 * np.asarray(tp, float), 2 * np.asarray(tp, float) + fp + fn)}


def binary_metrics(y: Sequence[int], p: Sequence[int]) -> dict[str, float]:
    """Counts and rates of one class."""
    tp, fp, fn, tn = confusion(y, p)
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn} | rates(tp, fp, fn, tn)


def _auc_from_levels(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """AUC (Mann-Whitney, ties count 1/2) from positive/negative weights per score level (ascending), (..., K)."""
    below = np.cumsum(neg, axis=-1) - neg
    num = (pos * (below + 0.5 * neg)).sum(axis=-1)
    return _div(num, pos.sum(axis=-1) * neg.sum(axis=-1))


def _levels(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort order of ``s`` and the start index of each distinct score in the sorted array."""
    order = np.argsort(s, kind="mergesort")
    sorted_s = s[order]
    starts = np.flatnonzero(np.r_[True, sorted_s[1:] != sorted_s[:-1]])
    return order, starts


def roc_auc(y: Sequence[int], s: Sequence[float]) -> float:
    """Area under the ROC curve; NaN when only one class occurs (undefined)."""
    y, s = np.asarray(y).astype(bool), np.asarray(s, dtype=float)
    if y.size == 0:
        return math.nan
    order, starts = _levels(s)
    pos = np.add.reduceat(y[order].astype(float), starts)
    neg = np.add.reduceat((~y[order]).astype(float), starts)
    return float(_auc_from_levels(pos, neg))


def roc_curve(y: Sequence[int], s: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) at every distinct score, highest first, starting at (0, 0) with threshold inf
    (sklearn's ``roc_curve(drop_intermediate=False)``)."""
    y, s = np.asarray(y).astype(bool), np.asarray(s, dtype=float)
    order = np.argsort(-s, kind="mergesort")
    s_desc, y_desc = s[order], y[order]
    last = np.r_[np.flatnonzero(s_desc[1:] != s_desc[:-1]), s_desc.size - 1]
    tps, fps = np.cumsum(y_desc)[last], np.cumsum(~y_desc)[last]
    tpr = np.r_[0.0, _div(tps, y.sum()) if y.any() else np.full(tps.size, np.nan)]
    fpr = np.r_[0.0, _div(fps, (~y).sum()) if (~y).any() else np.full(fps.size, np.nan)]
    return fpr, tpr, np.r_[np.inf, s_desc[last]]


def pr_curve(y: Sequence[int], s: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, thresholds) as sklearn's ``precision_recall_curve``: thresholds ascending, the last
    point (precision 1, recall 0) added."""
    y, s = np.asarray(y).astype(bool), np.asarray(s, dtype=float)
    order = np.argsort(-s, kind="mergesort")
    s_desc, y_desc = s[order], y[order]
    last = np.r_[np.flatnonzero(s_desc[1:] != s_desc[:-1]), s_desc.size - 1]
    tps, fps = np.cumsum(y_desc)[last].astype(float), np.cumsum(~y_desc)[last].astype(float)
    precision = _div(tps, tps + fps)
    recall = _div(tps, tps[-1]) if tps[-1] > 0 else np.ones_like(tps)
    precision, recall, thr = precision[::-1], recall[::-1], s_desc[last][::-1]
    return np.r_[precision, 1.0], np.r_[recall, 0.0], thr


def average_precision(y: Sequence[int], s: Sequence[float]) -> float:
    """Step-wise area under the PR curve (sklearn's ``average_precision_score``); NaN without positives."""
    if not np.asarray(y).astype(bool).any():
        return math.nan
    precision, recall, _ = pr_curve(y, s)
    return float(-np.sum(np.diff(recall) * precision[:-1]))


def brier(y: Sequence[int], s: Sequence[float]) -> float:
    y, s = np.asarray(y, dtype=float), np.asarray(s, dtype=float)
    return float(np.mean((s - y) ** 2)) if y.size else math.nan


def calibration(y: Sequence[int], s: Sequence[float], n_bins: int = 10) -> dict[str, np.ndarray | float]:
    """Reliability diagram data on equal-width bins (empty bins dropped, as sklearn's ``calibration_curve``),
    with the count per bin and the expected calibration error (count-weighted |observed - predicted|)."""
    y, s = np.asarray(y, dtype=float), np.clip(np.asarray(s, dtype=float), 0.0, 1.0)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.searchsorted(edges[1:-1], s)  # a score on an edge goes to the lower bin, as sklearn
    count = np.bincount(bins, minlength=n_bins).astype(float)
    mean_s = np.bincount(bins, weights=s, minlength=n_bins)
    mean_y = np.bincount(bins, weights=y, minlength=n_bins)
    keep = count > 0
    observed, predicted = mean_y[keep] / count[keep], mean_s[keep] / count[keep]
    ece = float(np.sum(count[keep] * np.abs(observed - predicted)) / count.sum()) if count.sum() else math.nan
    return {"observed": observed, "predicted": predicted, "count": count[keep], "ece": ece}


def cohen_kappa(a: Sequence[Any], b: Sequence[Any]) -> float:
    """Cohen's kappa of two raters over the same items (any labels); NaN when chance agreement is 1 (both
    raters constant and equal: kappa is undefined)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.size == 0:
        return math.nan
    cats, codes = np.unique(np.r_[a, b], return_inverse=True)
    ia, ib = codes[:a.size], codes[a.size:]
    table = np.zeros((cats.size, cats.size))
    np.add.at(table, (ia, ib), 1.0)
    table /= table.sum()
    observed = np.trace(table)
    expected = float(table.sum(axis=1) @ table.sum(axis=0))
    return math.nan if math.isclose(expected, 1.0) else float((observed - expected) / (1.0 - expected))


# ====================================================================== multi-label
def _known(y: np.ndarray) -> np.ndarray:
    return ~np.isnan(np.asarray(y, dtype=float))


def hamming_loss(Y: np.ndarray, P: np.ndarray) -> float:
    """Share of wrong label decisions over the known cells (NaN truth or decision cells are skipped)."""
    Y, P = np.asarray(Y, dtype=float), np.asarray(P, dtype=float)
    known = _known(Y) & _known(P)
    return float(np.mean(Y[known] != P[known])) if known.any() else math.nan


def macro_f1(Y: np.ndarray, P: np.ndarray) -> tuple[float, int]:
    """(mean F1 over classes where it is defined, number of classes left out: no positive truth nor decision)."""
    f1 = np.empty(Y.shape[1])
    for c in range(Y.shape[1]):
        known = _known(Y[:, c]) & _known(P[:, c])
        f1[c] = rates(*confusion(Y[known, c], P[known, c]))["f1"]
    defined = ~np.isnan(f1)
    return (float(f1[defined].mean()) if defined.any() else math.nan), int((~defined).sum())


def macro_auc(Y: np.ndarray, S: np.ndarray) -> tuple[float, int]:
    """(mean AUC over classes where it is defined, number of classes left out: only one class present)."""
    auc = np.empty(Y.shape[1])
    for c in range(Y.shape[1]):
        known = _known(Y[:, c]) & _known(S[:, c])
        auc[c] = roc_auc(Y[known, c], S[known, c])
    defined = ~np.isnan(auc)
    return (float(auc[defined].mean()) if defined.any() else math.nan), int((~defined).sum())


# ====================================================================== bootstrap
def bootstrap_weights(n: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n) multiplicities of a seeded bootstrap (resampling records with replacement)."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(n_boot, n))
    offsets = (np.arange(n_boot) * n)[:, None]
    return np.bincount((draws + offsets).ravel(), minlength=n_boot * n).reshape(n_boot, n).astype(float)


def _boot_binary(W: np.ndarray, y: np.ndarray, p: np.ndarray) -> dict[str, np.ndarray]:
    y, p = y.astype(bool), p.astype(bool)
    tp, fp = W @ (y & p), W @ (~y & p)
    fn, tn = W @ (y & ~p), W @ (~y & ~p)
    return rates(tp, fp, fn, tn)


def _boot_auc(W: np.ndarray, y: np.ndarray, s: np.ndarray) -> np.ndarray:
    order, starts = _levels(s)
    Wy = W[:, order] * y[order]
    Wn = W[:, order] * (1.0 - y[order])
    return _auc_from_levels(np.add.reduceat(Wy, starts, axis=1), np.add.reduceat(Wn, starts, axis=1))


def interval(samples: np.ndarray, level: float = CI_LEVEL) -> tuple[float, float]:
    """Percentile interval of bootstrap samples, ignoring resamples where the metric was undefined."""
    samples = np.asarray(samples, dtype=float)
    samples = samples[~np.isnan(samples)]
    if samples.size == 0:
        return math.nan, math.nan
    lo, hi = np.percentile(samples, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


@dataclass
class ClassResult:
    """Metrics of one class with their 95% bootstrap intervals (NaN where undefined, with ``note``)."""

    name: str
    n: int
    positives: int
    not_assessed: int
    counts: dict[str, int]
    values: dict[str, float]
    ci: dict[str, tuple[float, float]]
    note: str = ""


@dataclass
class StudyMetrics:
    classes: list[ClassResult]
    macro: dict[str, float]
    macro_ci: dict[str, tuple[float, float]]
    notes: list[str] = field(default_factory=list)
    n_boot: int = 0
    seed: int = 0


def _chunks(n_boot: int, n: int, budget: int = 4_000_000) -> list[slice]:
    step = max(1, budget // max(n, 1))
    return [slice(i, min(i + step, n_boot)) for i in range(0, n_boot, step)]


def evaluate(Y: np.ndarray, S: np.ndarray, P: np.ndarray, names: Sequence[str], *, n_boot: int = 1000,
             seed: int = 0) -> StudyMetrics:
    """Per-class and macro metrics of a multi-label study with seeded bootstrap CIs (records resampled jointly
    for all classes, so macro intervals keep the correlation between classes).

    ``S`` NaN (not assessed) scores as 0 for AUC, as the benchmark does, and is counted per class."""
    Y, S, P = (np.asarray(a, dtype=float) for a in (Y, S, P))
    n, k = Y.shape
    results: list[ClassResult] = []
    boot: dict[str, list[np.ndarray]] = {m: [] for m in (*BINARY_METRICS, "auc")}
    W_all = bootstrap_weights(n, n_boot, seed) if n and n_boot else np.zeros((0, n))
    for c, name in enumerate(names):
        known = _known(Y[:, c]) & _known(P[:, c])
        y, p = Y[known, c].astype(int), P[known, c].astype(int)
        s = np.nan_to_num(S[known, c], nan=0.0)
        stats = binary_metrics(y, p)
        auc = roc_auc(y, s)
        values = {m: stats[m] for m in BINARY_METRICS} | {"auc": auc, "ap": average_precision(y, s), "brier": brier(y, s)}
        W = W_all[:, known]
        draws = {m: np.empty(W.shape[0]) for m in (*BINARY_METRICS, "auc")}
        for part in _chunks(W.shape[0], max(int(known.sum()), 1)):
            for m, v in _boot_binary(W[part], y, p).items():
                draws[m][part] = v
            draws["auc"][part] = _boot_auc(W[part], y.astype(float), s) if y.size else np.nan
        for m in draws:
            boot[m].append(draws[m])
        ci = {m: interval(draws[m]) if not math.isnan(values[m]) else (math.nan, math.nan) for m in draws}
        notes = []
        if y.size and not y.any():
            notes.append("no positive case: sensitivity and AUC undefined")
        elif y.size and y.all():
            notes.append("no negative case: specificity and AUC undefined")
        elif not y.size:
            notes.append("no record with known truth")
        results.append(ClassResult(name, int(y.size), int(y.sum()), int(np.isnan(S[known, c]).sum()),
                                   {key: stats[key] for key in ("tp", "fp", "fn", "tn")}, values, ci, "; ".join(notes)))
    macro, macro_ci, notes = {}, {}, []
    for m in (*BINARY_METRICS, "auc"):
        point = np.array([r.values[m] for r in results], dtype=float)
        defined = ~np.isnan(point)
        macro[m] = float(point[defined].mean()) if defined.any() else math.nan
        if defined.any() and W_all.shape[0]:
            stacked = np.vstack([boot[m][i] for i in np.flatnonzero(defined)])
            with warnings.catch_warnings():  # a resample where every class is undefined gives NaN, dropped below
                warnings.simplefilter("ignore", RuntimeWarning)
                macro_ci[m] = interval(np.nanmean(stacked, axis=0))
        else:
            macro_ci[m] = (math.nan, math.nan)
        if (~defined).any():
            notes.append(f"macro {m}: {int((~defined).sum())} of {len(results)} classes excluded (undefined)")
    macro["hamming_loss"] = hamming_loss(Y, P)
    return StudyMetrics(results, macro, macro_ci, notes, n_boot, seed)
