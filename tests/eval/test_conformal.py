"""Split-conformal sets: the coverage guarantee on 20,000 synthetic records, and the small cases."""
from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.eval.conformal import calibrate, conformal_quantile, coverage, prediction_sets, split_conformal


def synthetic(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Multi-label truth with prevalences 5-40% and informative but imperfect scores in [0, 1]."""
    rng = np.random.default_rng(seed)
    prevalence = np.linspace(0.05, 0.4, k)
    Y = (rng.random((n, k)) < prevalence).astype(float)
    logits = rng.normal(0, 1.2, (n, k)) + np.where(Y == 1, 1.5, -1.5)
    return Y, 1 / (1 + np.exp(-logits))


@pytest.mark.parametrize("alpha", [0.1, 0.2])
@pytest.mark.parametrize("mondrian", [False, True])
def test_coverage_on_20k_records_is_within_0_02_of_the_target(alpha, mondrian):
    Y, S = synthetic(20_000, 4, seed=11)
    for result in split_conformal(Y, S, ["a", "b", "c", "d"], alpha, seed=3, mondrian=mondrian):
        assert result.n_calibration == result.n_test == 10_000
        assert abs(result.coverage - (1 - alpha)) <= 0.02, result
        assert result.coverage >= 1 - alpha - 0.02


def test_mondrian_covers_each_true_class():
    Y, S = synthetic(20_000, 1, seed=5)
    y, s = Y[:, 0], S[:, 0]
    t = calibrate(y[:10_000], s[:10_000], 0.1, mondrian=True)
    for label in (0, 1):
        keep = y[10_000:] == label
        assert coverage(y[10_000:][keep], s[10_000:][keep], t).coverage == pytest.approx(0.9, abs=0.03)


def test_quantile_is_the_finite_sample_rank():
    values = np.arange(1, 20) / 20  # 19 values
    assert conformal_quantile(values, 0.1) == pytest.approx(values[math.ceil(20 * 0.9) - 1])
    assert conformal_quantile(values[:5], 0.1) == math.inf  # too few points: the set must hold both labels
    assert conformal_quantile(np.array([]), 0.1) == math.inf


def test_sets_hold_both_labels_when_uncalibrated_and_decide_when_sure():
    t = calibrate([1, 0, 1, 0], [0.9, 0.1, 0.8, 0.2], 0.1)  # 4 points: q = inf
    present, absent = prediction_sets([0.5], t)
    assert present[0] and absent[0]
    t = calibrate(np.r_[np.ones(50), np.zeros(50)], np.r_[np.full(50, 0.9), np.full(50, 0.1)], 0.1)
    present, absent = prediction_sets([0.95, 0.05], t)
    assert present.tolist() == [True, False] and absent.tolist() == [False, True]


def test_unknown_truth_is_left_out_of_calibration_and_test():
    Y, S = synthetic(400, 2, seed=2)
    Y[:100, 0] = np.nan
    res = split_conformal(Y, S, ["a", "b"], 0.2)
    assert res[0].n_calibration + res[0].n_test == 300
    assert res[1].n_calibration + res[1].n_test == 400
