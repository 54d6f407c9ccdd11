"""Findings and measurements against simulated 12-lead ECGs whose truth is known by construction."""
from __future__ import annotations

import pytest

from workbench.ecg import analyze, simulate_ecg


def _rules(result) -> set[str]:
    return {f.rule for f in result.findings}


@pytest.mark.parametrize(
    "spec, expected, absent",
    [
        ({}, {"sinus_rhythm"}, {"atrial_fibrillation", "st_elevation", "long_qt", "complete_rbbb"}),
        ({"heart_rate": 45}, {"sinus_bradycardia"}, {"sinus_rhythm", "sinus_tachycardia"}),
        ({"heart_rate": 125}, {"sinus_tachycardia"}, {"sinus_rhythm", "atrial_fibrillation"}),
        ({"rhythm": "af", "heart_rate": 95, "seed": 1}, {"atrial_fibrillation"}, {"sinus_rhythm", "premature_atrial"}),
        ({"pr_ms": 280}, {"first_degree_av_block"}, set()),
        ({"conduction": "rbbb", "qrs_ms": 140}, {"complete_rbbb"}, {"complete_lbbb"}),
        ({"conduction": "lbbb", "qrs_ms": 150}, {"complete_lbbb"}, {"complete_rbbb", "ivcd"}),
        ({"pvc_every": 4}, {"premature_ventricular"}, {"atrial_fibrillation"}),
        ({"rhythm": "flutter", "heart_rate": 150, "flutter_rate": 300}, {"atrial_flutter"}, {"sinus_rhythm", "atrial_fibrillation"}),
        ({"qtc_ms": 520, "sex": "F"}, {"long_qt"}, set()),
        ({"qrs_axis_deg": -60}, {"left_axis_deviation"}, {"right_axis_deviation"}),
        ({"r_amplitude_mv": 0.35, "t_amplitude_mv": 0.1}, {"low_voltage"}, {"lvh"}),
    ],
)
def test_simulated_abnormality_is_found(spec, expected, absent):
    result = analyze(simulate_ecg(**spec))
    assert expected <= _rules(result), [f.rule for f in result.findings]
    assert not absent & _rules(result)


@pytest.mark.parametrize("hr", [45, 70, 110, 150])
def test_heart_rate_and_qt_follow_the_simulation(hr):
    result = analyze(simulate_ecg(heart_rate=hr, seed=hr))
    assert result.measurements["heart_rate"].value == pytest.approx(hr, abs=2)
    qtc = result.measurements["qtc_bazett"].value
    assert qtc == pytest.approx(410, abs=40)


def test_inferior_st_elevation_is_localised_and_sex_aware():
    result = analyze(simulate_ecg(st_shift_mv=0.2, st_direction=(90.0, -0.2)))
    ste = result.finding("st_elevation")
    assert ste is not None and ste.evidence["territory"] == ["inferior"]
    assert set(ste.evidence["leads"]) == {"II", "III", "aVF"}
    assert all(result.leads[lead]["st_j_mm"].value >= 1.0 for lead in ("II", "III", "aVF"))


def test_v2_v3_threshold_depends_on_sex_and_age():
    """UDMI: V2-V3 need >= 1.5 mm in women but >= 2.5 mm in men under 40 (criteria.md)."""
    anterior = {"st_shift_mv": 0.11, "st_direction": (90.0, 4.0), "seed": 5}
    woman = analyze(simulate_ecg(sex="F", age=50, **anterior))
    young_man = analyze(simulate_ecg(sex="M", age=30, **anterior))
    v2 = woman.leads["V2"]["st_j_mm"].value
    assert 1.5 <= v2 < 2.5
    assert woman.finding("st_elevation") is not None
    assert young_man.finding("st_elevation") is None or not {"V2", "V3"} <= set(young_man.finding("st_elevation").evidence["leads"])


def test_every_finding_cites_its_source_and_thresholds():
    result = analyze(simulate_ecg(pr_ms=280, qtc_ms=520, sex="F"))
    for finding in result.findings:
        assert finding.citation.startswith("criteria.md")
        assert finding.evidence
    assert result.finding("long_qt").evidence["threshold_ms"] == 460  # women's limit


def test_af_detection_rate_over_seeds():
    """AF vs sinus (with or without ectopy) over many random simulations: a rate, not one lucky seed."""
    af = [analyze(simulate_ecg(rhythm="af", heart_rate=hr, seed=seed)).finding("atrial_fibrillation") is not None
          for seed in range(8) for hr in (70, 110)]
    sinus = [analyze(simulate_ecg(heart_rate=hr, pvc_every=pvc, seed=seed)).finding("atrial_fibrillation") is not None
             for seed in range(8) for hr, pvc in ((60, None), (95, 5))]
    # measured 13/16 (0.81) when written: a spurious low P wave in some simulated f-wave patterns;
    # this guards against regressions, the real-data figures are in docs/BENCHMARKS.md
    assert sum(af) / len(af) >= 0.75
    assert not any(sinus)
