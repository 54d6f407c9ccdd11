"""The analysis JSON round-trips to typed objects (pipeline checkpoints and the case store hold JSON only)."""
from __future__ import annotations

from workbench.ecg import analyze, read_ecg
from workbench.ecg.analysis import ECGAnalysis


def test_analysis_round_trips_through_its_json(ecg_data):
    analysis = analyze(read_ecg(ecg_data / "ptbdb" / "s0010_re.hea"))
    rebuilt = ECGAnalysis.from_dict(analysis.to_dict())
    assert rebuilt.to_dict() == analysis.to_dict()
    assert rebuilt.codes == analysis.codes and rebuilt.finding("pathological_q").evidence
    assert abs(rebuilt.measurements["heart_rate"].value - analysis.measurements["heart_rate"].value) < 1e-3  # JSON keeps 4 decimals
