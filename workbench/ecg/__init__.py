"""ECG records, readers, measurements and findings.

    >>> from workbench.ecg import read_ecg, analyze
    >>> result = analyze(read_ecg("record.hea"))
    >>> result.to_dict()["findings"]
"""
from .analysis import ECGAnalysis, analyze, find_r_peaks
from .readers import read_ecg
from .record import ECGRecord
from .synthetic import SimulationSpec, simulate_ecg

__all__ = ["ECGAnalysis", "ECGRecord", "SimulationSpec", "analyze", "find_r_peaks", "read_ecg", "simulate_ecg"]
