"""Split-conformal prediction sets for the finding scores, one class at a time (multi-label).

For each class the set is a subset of {absent, present}: 'present' is in the set when 1 - score is at most the
calibrated quantile q, 'absent' when the score is at most q. With q the ceil((n + 1)(1 - alpha)) / n empirical
quantile of the calibration records' nonconformity (1 - score for a positive, score for a negative), the true
label is in the set with probability >= 1 - alpha for a new exchangeable record (Vovk et al. 2005; Angelopoulos
& Bates 2021, sec. 1). ``mondrian=True`` calibrates positives and negatives separately, so the guarantee holds
within each true class (useful when positives are rare).

Why our own: MAPIE is not installed and cannot be here (offline); split conformal is a quantile, a dozen lines,
and tests/eval/test_conformal.py checks the coverage on 20,000 synthetic records.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def conformal_quantile(nonconformity: np.ndarray, alpha: float) -> float:
    """The finite-sample corrected (1 - alpha) quantile; inf when too few calibration points (set = everything)."""
    values = np.sort(np.asarray(nonconformity, dtype=float))
    n = values.size
    rank = math.ceil((n + 1) * (1 - alpha))
    return math.inf if n == 0 or rank > n else float(values[rank - 1])


@dataclass(frozen=True)
class ClassThresholds:
    """Calibrated quantiles of one class: one for all records, or (Mondrian) one per true label."""

    q_present: float  # include 'present' when 1 - score <= q_present
    q_absent: float  # include 'absent' when score <= q_absent
    n_calibration: int


def calibrate(y: Sequence[int], s: Sequence[float], alpha: float, *, mondrian: bool = False) -> ClassThresholds:
    """Quantiles of one class from calibration truth and scores."""
    y, s = np.asarray(y).astype(bool), np.asarray(s, dtype=float)
    if mondrian:
        return ClassThresholds(conformal_quantile(1 - s[y], alpha), conformal_quantile(s[~y], alpha), int(y.size))
    q = conformal_quantile(np.where(y, 1 - s, s), alpha)
    return ClassThresholds(q, q, int(y.size))


def prediction_sets(s: Sequence[float], t: ClassThresholds) -> tuple[np.ndarray, np.ndarray]:
    """(present in set, absent in set) boolean arrays for new scores."""
    s = np.asarray(s, dtype=float)
    return (1 - s) <= t.q_present, s <= t.q_absent


@dataclass(frozen=True)
class CoverageResult:
    """Empirical coverage of one class's sets on held-out records, next to the target 1 - alpha."""

    name: str
    alpha: float
    n_calibration: int
    n_test: int
    coverage: float
    singleton_rate: float  # sets that decide (one label)
    empty_rate: float
    q_present: float
    q_absent: float

    @property
    def target(self) -> float:
        return 1 - self.alpha


def coverage(y_test: Sequence[int], s_test: Sequence[float], t: ClassThresholds, name: str = "", alpha: float = math.nan) -> CoverageResult:
    y, s = np.asarray(y_test).astype(bool), np.asarray(s_test, dtype=float)
    present, absent = prediction_sets(s, t)
    covered = np.where(y, present, absent)
    size = present.astype(int) + absent.astype(int)
    n = y.size
    return CoverageResult(name, alpha, t.n_calibration, n, float(covered.mean()) if n else math.nan,
                          float((size == 1).mean()) if n else math.nan, float((size == 0).mean()) if n else math.nan,
                          t.q_present, t.q_absent)


def split_indices(n: int, calibration_share: float = 0.5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random split of record indices into calibration and test parts."""
    order = np.random.default_rng(seed).permutation(n)
    cut = int(round(n * calibration_share))
    return np.sort(order[:cut]), np.sort(order[cut:])


def split_conformal(Y: np.ndarray, S: np.ndarray, names: Sequence[str], alpha: float, *, seed: int = 0,
                    calibration_share: float = 0.5, mondrian: bool = False) -> list[CoverageResult]:
    """Per-class split conformal on a study: calibrate on a seeded half of the records with known truth, report
    the coverage on the other half. NaN scores (not assessed) count as 0."""
    Y, S = np.asarray(Y, dtype=float), np.nan_to_num(np.asarray(S, dtype=float), nan=0.0)
    out = []
    for c, name in enumerate(names):
        known = np.flatnonzero(~np.isnan(Y[:, c]))
        cal, test = split_indices(known.size, calibration_share, seed)
        cal, test = known[cal], known[test]
        t = calibrate(Y[cal, c], S[cal, c], alpha, mondrian=mondrian)
        out.append(coverage(Y[test, c], S[test, c], t, name, alpha))
    return out
