"""Analysis of one stretch of ECG (about 10 s): beats, median beat, fiducials, measurements, rhythm features."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .nan import missing_ok
from .nan import missing_ok
from scipy import signal as sps

from .beats import BeatTable, MedianBeat, classify_beats, median_beat
from .delineate import Fiducials, delineate
from .measurements import Measurement, interval_measurements, lead_measurements, rhythm_measurements
from .tables import load_table


@dataclass
class Segment:
    """Everything measured on one window; rules read ``measurements``, ``leads`` and ``features``."""

    start_s: float
    end_s: float
    beats: BeatTable
    median: MedianBeat | None
    fiducials: Fiducials
    measurements: dict[str, Measurement]
    leads: dict[str, dict[str, Measurement]]
    features: dict[str, float] = field(default_factory=dict)


def _p_consistency(mb: MedianBeat, fid: Fiducials, usable: np.ndarray) -> float:
    """Median correlation of each beat's P wave with the median P wave (near 1 in sinus rhythm, low in AF)."""
    window = fid.p_span(mb.fs)
    if window is None:
        return 0.0
    pad = int(0.02 * mb.fs)
    lo, hi = max(0, window[0] - pad), min(window[1] + pad, fid.qrs_on)  # never let the QRS onset in
    usable = usable & np.isfinite(mb.waves[lo:hi]).all(axis=0)  # leads that show this P wave on the median
    if not usable.any():
        return 0.0
    template = mb.waves[lo:hi, usable] - mb.waves[lo:hi, usable].mean(axis=0)
    with missing_ok():
        beats = np.nan_to_num(mb.beats[:, lo:hi, usable] - np.nanmean(mb.beats[:, lo:hi, usable], axis=1, keepdims=True))
    num = np.einsum("bij,ij->b", beats, template)
    den = np.linalg.norm(beats.reshape(beats.shape[0], -1), axis=1) * np.linalg.norm(template) + 1e-12
    return float(np.median(num / den))


_ATRIAL_LEADS = ("II", "III", "aVF", "V1")


def _atrial_activity(window: np.ndarray, fs: float, leads: list[str], mb: MedianBeat, beats: BeatTable) -> dict[str, float]:
    """Dominant atrial rate and its spectral concentration after QRST cancellation (flutter: sharp 4-5.7 Hz peak)."""
    cols = [leads.index(lead) for lead in _ATRIAL_LEADS if lead in leads]
    if not cols or beats.n < 3 or window.shape[0] < 4 * fs:
        return {}
    residual = window[:, cols].copy()
    for i, peak in enumerate(beats.peaks):
        nxt = beats.peaks[i + 1] - peak if i + 1 < beats.n else int(0.6 * fs)
        a = max(0, peak - int(0.1 * fs), peak - mb.r_index)
        b = min(window.shape[0], peak + min(int(0.7 * nxt), mb.waves.shape[0] - mb.r_index))
        residual[a:b] -= mb.waves[a - peak + mb.r_index: b - peak + mb.r_index][:, cols]
    freqs, power = sps.welch(residual, fs=fs, nperseg=min(residual.shape[0], int(4 * fs)), axis=0)
    power = power.sum(axis=1)
    band = (freqs >= 3.0) & (freqs <= 12.0)
    if not band.any() or power[band].sum() <= 0:
        return {}
    f_band, p_band = freqs[band], power[band]
    f0 = f_band[int(np.argmax(p_band))]
    # an organised (flutter) wave puts its power at f0 and its harmonics; fibrillation and noise spread it
    near = (np.abs(f_band - f0) <= 0.5) | (np.abs(f_band - 2 * f0) <= 0.5)
    return {"atrial_rate": float(60.0 * f0), "atrial_concentration": float(p_band[near].sum() / p_band.sum())}


def analyse_segment(filtered: np.ndarray, fs: float, leads: list[str], peaks: np.ndarray, start: int, stop: int, usable: np.ndarray) -> Segment:
    """Measure the window [start, stop) of the filtered record, given R peaks of the whole record and
    the mask of leads fit to delineate with."""
    constants = load_table("delineation")
    window = filtered[start:stop]
    local = peaks[(peaks >= start) & (peaks < stop)] - start
    beats = classify_beats(window, fs, local, premature_ratio=constants["beats"]["premature_ratio"], same_morphology=constants["beats"]["same_morphology"])
    measurements = rhythm_measurements(beats, fs)
    mb = median_beat(window, fs, beats, before_s=constants["beats"]["median_before_s"], after_s=constants["beats"]["median_after_s"])
    fid = Fiducials()
    lead_values: dict[str, dict[str, Measurement]] = {lead: {} for lead in leads}
    features: dict[str, float] = {
        "n_beats": float(beats.n),
        "premature_fraction": float(beats.premature.mean()) if beats.n else 0.0,
        "ventricular_beats": float(beats.ventricular.sum()),
        "supraventricular_premature_beats": float((beats.premature & ~beats.ventricular).sum()),
    }
    if mb is None:
        fid.reasons["median"] = "fewer than two comparable beats: no median beat"
        for name, unit in (("p_duration", "ms"), ("pr_interval", "ms"), ("qrs_duration", "ms"), ("qt_interval", "ms"), ("qtc_bazett", "ms"), ("qtc_fridericia", "ms"), ("p_axis", "deg"), ("qrs_axis", "deg"), ("t_axis", "deg")):
            measurements[name] = Measurement.missing(unit, fid.reasons["median"])
    else:
        rr_dom = beats.rr_s[beats.dominant & np.isfinite(beats.rr_s)]
        rr_s = float(np.median(rr_dom)) if rr_dom.size else float(np.nanmedian(beats.rr_s)) if beats.n > 1 else float("nan")
        fid = delineate(mb, leads, rr_s if np.isfinite(rr_s) else 1.0, constants["delineation"], usable)
        measurements.update(interval_measurements(mb, fid, leads, rr_s, constants["plausibility"]))
        lead_values = lead_measurements(mb, fid, leads, constants["plausibility"])
        features["p_consistency"] = _p_consistency(mb, fid, usable)
        features["median_beats"] = float(mb.n_beats)
        features.update(_atrial_activity(window, fs, leads, mb, beats))
    return Segment(start / fs, stop / fs, beats, mb, fid, measurements, lead_values, features)
