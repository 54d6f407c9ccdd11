"""Every classification metric of workbench.eval.metrics against scikit-learn on fixed fixtures, edge cases
included (a class without positives, all-zero decisions, unknown truth)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from workbench.eval import metrics as m

RNG = np.random.default_rng(7)
N, K = 60, 4
Y = (RNG.random((N, K)) < [0.3, 0.5, 0.0, 0.15]).astype(int)  # class 2 has no positive
S = np.clip(Y * 0.35 + RNG.random((N, K)) * 0.7, 0, 1).round(2)  # rounded: ties
P = (S >= 0.5).astype(int)
P[:, 2:] = 0  # all-zero decisions for classes 2 (F1 then undefined) and 3 (F1 = 0: positives missed)


@pytest.mark.parametrize("c", range(K))
def test_binary_rates_match_sklearn(c):
    y, p = Y[:, c], P[:, c]
    ours = m.binary_metrics(y, p)
    nan = np.nan
    expected = {"sensitivity": skm.recall_score(y, p, zero_division=nan),
                "specificity": skm.recall_score(1 - y, 1 - p, zero_division=nan),
                "ppv": skm.precision_score(y, p, zero_division=nan),
                "npv": skm.precision_score(1 - y, 1 - p, zero_division=nan),
                "f1": skm.f1_score(y, p, zero_division=nan)}
    for name, value in expected.items():
        assert ours[name] == pytest.approx(value, nan_ok=True), name
    tn, fp, fn, tp = skm.confusion_matrix(y, p, labels=[0, 1]).ravel()
    assert (ours["tp"], ours["fp"], ours["fn"], ours["tn"]) == (tp, fp, fn, tn)


def test_undefined_rates_are_nan_not_zero():
    assert math.isnan(m.binary_metrics(Y[:, 2], P[:, 2])["sensitivity"])  # no positive case
    assert math.isnan(m.binary_metrics(Y[:, 3], P[:, 3])["ppv"])  # no positive decision


def test_confusion_matrices_match_multilabel_confusion_matrix():
    expected = skm.multilabel_confusion_matrix(Y, P)
    for c in range(K):
        tp, fp, fn, tn = m.confusion(Y[:, c], P[:, c])
        assert [[tn, fp], [fn, tp]] == expected[c].tolist()


@pytest.mark.parametrize("c", [0, 1, 3])
def test_auc_and_curves_match_sklearn(c):
    y, s = Y[:, c], S[:, c]
    assert m.roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s))
    fpr, tpr, thr = m.roc_curve(y, s)
    sk_fpr, sk_tpr, sk_thr = skm.roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    np.testing.assert_allclose(thr[1:], sk_thr[1:])
    precision, recall, pthr = m.pr_curve(y, s)
    sk_p, sk_r, sk_t = skm.precision_recall_curve(y, s)
    np.testing.assert_allclose(precision, sk_p)
    np.testing.assert_allclose(recall, sk_r)
    np.testing.assert_allclose(pthr, sk_t)
    assert m.average_precision(y, s) == pytest.approx(skm.average_precision_score(y, s))
    assert m.brier(y, s) == pytest.approx(skm.brier_score_loss(y, s))


def test_auc_of_a_class_without_positives_is_nan_and_left_out_of_the_macro():
    assert math.isnan(m.roc_auc(Y[:, 2], S[:, 2]))
    with pytest.warns(skm._ranking.UndefinedMetricWarning):  # sklearn's macro becomes NaN; ours leaves the class out
        assert math.isnan(skm.roc_auc_score(Y, S, average="macro"))
    macro, left_out = m.macro_auc(Y, S)
    assert left_out == 1
    assert macro == pytest.approx(np.mean([skm.roc_auc_score(Y[:, c], S[:, c]) for c in (0, 1, 3)]))


def test_macro_f1_and_hamming_loss_match_sklearn():
    macro, left_out = m.macro_f1(Y, P)
    assert macro == pytest.approx(skm.f1_score(Y, P, average="macro", zero_division=np.nan))
    assert left_out == 1  # class 2: no positive truth nor decision
    assert m.hamming_loss(Y, P) == pytest.approx(skm.hamming_loss(Y, P))


def test_unknown_truth_cells_are_left_out():
    Yn = Y.astype(float).copy()
    Yn[:10, 0] = np.nan
    assert m.hamming_loss(Yn, P) == pytest.approx(np.mean(Y[10:, 0] != P[10:, 0]) * (N - 10) / (N * K - 10)
                                                  + np.sum(Y[:, 1:] != P[:, 1:]) / (N * K - 10))
    result = m.evaluate(Yn, S, P, ["a", "b", "c", "d"], n_boot=50)
    assert result.classes[0].n == N - 10
    assert result.classes[0].values["auc"] == pytest.approx(skm.roc_auc_score(Y[10:, 0], S[10:, 0]))


def test_calibration_matches_sklearn():
    y, s = Y[:, 1], S[:, 1]
    cal = m.calibration(y, s, n_bins=5)
    prob_true, prob_pred = calibration_curve(y, s, n_bins=5, strategy="uniform")
    np.testing.assert_allclose(cal["observed"], prob_true)
    np.testing.assert_allclose(cal["predicted"], prob_pred)
    assert cal["count"].sum() == N


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kappa_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 3, 80)
    b = np.where(rng.random(80) < 0.6, a, rng.integers(0, 3, 80))
    assert m.cohen_kappa(a, b) == pytest.approx(skm.cohen_kappa_score(a, b))
    assert m.cohen_kappa(a[:40] > 0, b[:40] > 0) == pytest.approx(skm.cohen_kappa_score(a[:40] > 0, b[:40] > 0))


def test_kappa_edge_cases():
    assert math.isnan(m.cohen_kappa([1, 1, 1], [1, 1, 1]))  # both constant: undefined
    assert m.cohen_kappa([1, 1, 1, 1], [1, 0, 1, 1]) == pytest.approx(skm.cohen_kappa_score([1, 1, 1, 1], [1, 0, 1, 1]))


def test_bootstrap_is_seeded_and_contains_the_point_estimate():
    names = ["a", "b", "c", "d"]
    first = m.evaluate(Y, S, P, names, n_boot=500, seed=3)
    again = m.evaluate(Y, S, P, names, n_boot=500, seed=3)
    other = m.evaluate(Y, S, P, names, n_boot=500, seed=4)
    assert first.classes[0].ci == again.classes[0].ci and first.macro_ci == again.macro_ci
    assert first.classes[0].ci["auc"] != other.classes[0].ci["auc"]
    for r in first.classes:
        for name, (lo, hi) in r.ci.items():
            value = r.values[name]
            if not math.isnan(value):
                assert lo <= value <= hi, (r.name, name)
    for name, (lo, hi) in first.macro_ci.items():
        assert lo <= first.macro[name] <= hi, name
    assert "macro auc: 1 of 4 classes excluded (undefined)" in first.notes
    assert first.classes[2].note.startswith("no positive case")


def test_vectorised_bootstrap_equals_a_loop_over_resamples():
    W = m.bootstrap_weights(N, 20, seed=5)
    assert W.sum(axis=1).tolist() == [N] * 20
    y, s, p = Y[:, 0], S[:, 0], P[:, 0]
    aucs = m._boot_auc(W, y.astype(float), s)
    sens = m._boot_binary(W, y, p)["sensitivity"]
    for b in range(20):
        idx = np.repeat(np.arange(N), W[b].astype(int))
        assert aucs[b] == pytest.approx(skm.roc_auc_score(y[idx], s[idx]))
        assert sens[b] == pytest.approx(skm.recall_score(y[idx], p[idx]))
