"""Damaged or absurd recordings give a typed error or a clearly flagged result, never a crash or a hang."""
from __future__ import annotations

import numpy as np
import pytest

from workbench.errors import SignalError, WorkbenchError
from workbench.ecg import ECGRecord, analyze, simulate_ecg


def _record(**changes) -> ECGRecord:
    return simulate_ecg(seed=11, **changes)


def test_all_zero_lead_is_flagged_and_excluded():
    rec = _record()
    rec.signals[:, rec.leads.index("V3")] = 0.0
    result = analyze(rec)
    assert "flat line (no signal)" in result.quality["leads"]["V3"]["problems"]
    assert "V3" not in result.quality["usable_leads"]
    assert any("V3" in w for w in result.quality["warnings"])
    assert result.finding("sinus_rhythm") is not None


def test_nan_and_inf_samples_are_flagged_not_fatal():
    rec = _record()
    rec.signals[1000:1100, 1] = np.nan
    rec.signals[2000:2005, 4] = np.inf
    result = analyze(rec)
    assert any("missing" in p for p in result.quality["leads"]["II"]["problems"])
    assert result.measurements["heart_rate"].value == pytest.approx(70, abs=3)


def test_disconnected_lead_mostly_nan():
    rec = _record()
    rec.signals[:4000, rec.leads.index("V6")] = np.nan
    result = analyze(rec)
    assert result.quality["leads"]["V6"]["usable"] is False


def test_one_second_record_is_flagged_with_reasons():
    result = analyze(_record(duration_s=1.0))
    assert result.quality["overall"] == "poor"
    assert any("1.0 s" in w for w in result.quality["warnings"])
    qt = result.measurements["qt_interval"]
    assert qt.value is None and qt.reason


def test_all_leads_flat_is_a_typed_error():
    rec = ECGRecord(np.zeros((5000, 12)), 500, ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"])
    with pytest.raises(SignalError, match="No lead carries a usable ECG"):
        analyze(rec)


def test_all_nan_is_a_typed_error():
    rec = ECGRecord(np.full((5000, 2), np.nan), 500, ["I", "II"])
    with pytest.raises(SignalError, match="no valid samples"):
        analyze(rec)


def test_absurd_amplitude_wrong_units_is_flagged():
    rec = _record()
    rec.signals[:, :6] *= 1000.0  # limb leads in microvolts read as millivolts
    result = analyze(rec)
    assert any("implausible amplitude" in p for p in result.quality["leads"]["II"]["problems"])
    assert "II" not in result.quality["usable_leads"]


def test_too_short_to_filter_is_a_typed_error():
    rec = ECGRecord(np.random.default_rng(0).normal(size=(100, 12)), 500, list(_record().leads))
    with pytest.raises(SignalError, match="at least"):
        analyze(rec)


def test_noise_only_gives_a_result_without_invented_measurements():
    rng = np.random.default_rng(1)
    rec = ECGRecord(rng.normal(0, 0.3, (5000, 12)), 500, list(_record().leads))
    try:
        result = analyze(rec)
    except WorkbenchError:
        return
    assert result.finding("sinus_rhythm") is None
    assert result.quality["overall"] != "good"


@pytest.mark.timeout(60)
def test_two_hour_record_is_refused_quickly():
    rec = ECGRecord(np.zeros((2 * 3600 * 50, 1), dtype=np.float32), 50, ["II"])
    with pytest.raises(SignalError, match="at most 60 min"):
        analyze(rec)


@pytest.mark.parametrize("age, sex", [(-5, None), (400, None), (None, "X")])
def test_absurd_patient_data_is_refused(age, sex):
    with pytest.raises(SignalError):
        analyze(_record(), age=age, sex=sex)


def test_high_and_low_sampling_rates_are_handled():
    low = simulate_ecg(fs=100, seed=2)
    high = simulate_ecg(fs=2000, seed=2, duration_s=10)
    for rec in (low, high):
        assert analyze(rec).measurements["heart_rate"].value == pytest.approx(70, abs=3)


@pytest.mark.parametrize("stated_fs", [100.0, 2500.0])
def test_wrong_sampling_rate_is_flagged(stated_fs):
    """500 Hz samples labelled with another rate give absurd rates: the result says to check the rate."""
    true = _record()
    mislabelled = ECGRecord(true.signals, stated_fs, list(true.leads))
    result = analyze(mislabelled)
    assert any("check the sampling rate" in w for w in result.quality["warnings"])


def test_left_right_arm_reversal_is_flagged():
    """LA/RA swapped: I inverted, II<->III, aVR<->aVL, aVF unchanged (Batchvarov, Europace 2007)."""
    rec = _record()
    lead = {name: rec.lead(name).copy() for name in rec.leads}
    swapped = dict(lead, I=-lead["I"], II=lead["III"], III=lead["II"], aVR=lead["aVL"], aVL=lead["aVR"])
    reversed_rec = ECGRecord(np.column_stack([swapped[name] for name in rec.leads]), rec.fs, list(rec.leads))
    warnings = analyze(reversed_rec).quality["warnings"]
    assert any("electrode reversal" in w for w in warnings)
    assert not any("electrode reversal" in w for w in analyze(rec).quality["warnings"])
