"""Global delineation of the median beat: P onset/peak/offset, QRS onset/offset, T peak/offset.

Why not ``nk.ecg_delineate``: it delineates one lead and one beat at a time and has known failure modes
(PR too short, invented P/T waves, QRS on/offsets misplaced on QR/RS shapes). Interpretive programs
measure global intervals on the multi-lead median beat instead (earliest QRS onset, latest QRS/T offset
over all leads), which is what this module does: QRS limits from the spatial velocity, the T end by the
trapezium-area method (Vazquez-Seisdedos et al., IEEE TBME 2011) on the spatial magnitude, and the P wave
from atrial-lead activity before QRS onset. Every fiducial point is checked for plausibility and left
missing, with the reason, rather than passed on when it is not credible.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .nan import missing_ok
from .nan import missing_ok
from scipy.ndimage import uniform_filter1d
from scipy.signal import find_peaks

from .beats import MedianBeat

_P_LEADS = ("II", "III", "aVF", "I", "V1", "V2")


@dataclass
class Fiducials:
    """Sample indices into the median beat (None when not found; ``reasons`` says why)."""

    qrs_on: int | None = None
    qrs_off: int | None = None
    t_peak: int | None = None
    t_off: int | None = None
    p_on: int | None = None
    p_peak: int | None = None
    p_off: int | None = None
    baseline: np.ndarray | None = None  # per-lead isoelectric level (mV)
    reasons: dict[str, str] = field(default_factory=dict)

    def p_span(self, fs: float) -> tuple[int, int] | None:
        """Samples of the P wave: its delineated limits, else 50 ms either side of its peak, else None."""
        if self.p_on is not None and self.p_off is not None:
            return self.p_on, self.p_off
        if self.p_peak is not None:
            half = int(0.05 * fs)
            stop = self.p_peak + half if self.qrs_on is None else min(self.p_peak + half, self.qrs_on)
            return max(0, self.p_peak - half), stop
        return None


def _run_below(x: np.ndarray, level: float, start: int, step: int, run: int, stop: int) -> int | None:
    """First index from ``start`` moving by ``step`` where x stays below ``level`` for ``run`` samples."""
    count = 0
    i = start
    while (step > 0 and i < stop) or (step < 0 and i > stop):
        count = count + 1 if x[i] < level else 0
        if count >= run:
            return i - step * (run - 1)
        i += step
    return None


def _qrs_limits(mb: MedianBeat, fid: Fiducials, rules: dict) -> None:
    fs = mb.fs
    smooth = max(1, int(0.008 * fs))
    velocity = uniform_filter1d(np.nansum(np.abs(np.diff(mb.waves, axis=0)), axis=1), smooth)
    r = mb.r_index
    peak_lo, peak_hi = r - int(0.06 * fs), r + int(0.06 * fs)
    v_max = float(velocity[peak_lo:peak_hi].max())
    floor = float(np.percentile(velocity, 10))
    level = floor + rules["qrs_velocity_fraction"] * (v_max - floor)
    run = max(2, int(0.008 * fs))
    peak = peak_lo + int(np.argmax(velocity[peak_lo:peak_hi]))
    on = _run_below(velocity, level, peak, -1, run, max(0, r - int(0.16 * fs)))
    off = _run_below(velocity, level, peak, +1, run, min(velocity.size - 1, r + int(0.20 * fs)))
    # at fast rates the T wave starts before velocity falls that low: stop at the first velocity trough
    # after the QRS peak that is already down near the baseline activity
    start = peak + int(0.03 * fs)
    stop = min(velocity.size - 1, r + int(0.20 * fs))
    troughs, _ = find_peaks(-velocity[start:stop])
    cap_level = floor + rules["qrs_trough_fraction"] * (v_max - floor)
    resume = int(0.04 * fs)  # ...unless fast QRS activity resumes after it (RSR' of bundle branch block)
    low_troughs = [start + int(i) for i in troughs if velocity[start + int(i)] < cap_level
                   and velocity[start + int(i): start + int(i) + resume].max() < rules["qrs_resume_fraction"] * v_max]
    if low_troughs and (off is None or low_troughs[0] < off):
        off = low_troughs[0]
    if on is None or off is None:
        fid.reasons["qrs"] = "QRS limits could not be found on the median beat"
        return
    fid.qrs_on, fid.qrs_off = on, off + 1


def _isoelectric(fid: Fiducials, all_waves: np.ndarray, fs: float, rules: dict) -> np.ndarray:
    """Per-lead reference level: the mean of the last ``baseline_ms`` before QRS onset.

    The QRS onset is the reference for ST deviation in the AHA/ACCF/HRS 2009 recommendations (part VI);
    it also stays defined in AF and at fast rates, where a flat PR or TP segment may not exist.
    """
    width = max(2, int(rules["baseline_ms"] * fs / 1000))
    start = max(0, fid.qrs_on - width)
    with missing_ok():  # a lead not recorded there (paper strip) gets NaN: no reference
        return np.nanmean(all_waves[start: fid.qrs_on + 1], axis=0)


def _t_wave(mb: MedianBeat, fid: Fiducials, baseline: np.ndarray, rr_s: float, rules: dict) -> None:
    fs = mb.fs
    rms = np.sqrt(np.nan_to_num(np.nanmean((mb.waves - baseline) ** 2, axis=1)))
    rms = uniform_filter1d(rms, max(1, int(0.02 * fs)))
    lo = fid.qrs_off + int(rules["t_search_after_j_ms"] * fs / 1000)
    reach_s = min(rules["t_search_max_ms"] / 1000, rr_s - rules["t_next_p_reserve_ms"] / 1000)
    hi = min(rms.size - 1, mb.r_index + int(reach_s * fs))
    if hi - lo < int(0.06 * fs):
        fid.reasons["t"] = "no room for a T wave between QRS end and the next beat"
        return
    t_peak = lo + int(np.argmax(rms[lo:hi]))
    noise = float(np.nanmedian(mb.noise))
    t_height = rms[t_peak] - rms[lo:hi].min()
    if t_height < max(rules["t_min_amplitude_mv"], 3 * noise / np.sqrt(max(mb.n_beats, 1))):
        fid.reasons["t"] = "T wave too flat to delineate"
        return
    # trapezium-area method: xm = steepest descent after the T peak, xr = a point safely after the T end
    tail = int(rules["t_tail_ms"] * fs / 1000)
    slope = np.diff(rms[t_peak:min(hi, t_peak + tail) + 1])
    xm = t_peak + int(np.argmin(slope)) if slope.size else t_peak
    xr = min(hi, xm + tail)
    xi = np.arange(xm, xr + 1)
    area = 0.5 * (rms[xm] - rms[xi]) * (2 * xr - xi - xm)
    t_off = int(xi[int(np.argmax(area))])
    fid.t_peak, fid.t_off = t_peak, t_off


def _p_wave(mb: MedianBeat, fid: Fiducials, baseline: np.ndarray, leads: list[str], rr_s: float, rules: dict) -> None:
    fs = mb.fs
    cols = [leads.index(lead) for lead in _P_LEADS if lead in leads] or list(range(len(leads)))
    waves = mb.waves[:, cols] - baseline[cols]
    rms = uniform_filter1d(np.sqrt(np.nan_to_num(np.nanmean(waves**2, axis=1))), max(1, int(0.02 * fs)))
    hi = fid.qrs_on - int(rules["p_gap_before_qrs_ms"] * fs / 1000)
    lo = max(0, fid.qrs_on - int(rules["p_search_ms"] * fs / 1000))
    if fid.t_off is not None:  # never look back into the previous beat's T wave
        lo = max(lo, fid.t_off - int(rr_s * fs) + int(0.02 * fs))
    if hi - lo < int(0.05 * fs):
        fid.reasons["p"] = "no room for a P wave before QRS onset"
        return
    noise = float(np.nanmedian(mb.noise[cols]))
    floor = max(rules["p_min_amplitude_mv"], 3 * noise / np.sqrt(max(mb.n_beats, 1)))
    # a P wave is a hump that stands out from the PR and TP segments around it, not a slope into QRS or T
    peaks, props = find_peaks(rms[lo:hi], prominence=floor, width=int(0.02 * fs))
    if peaks.size == 0:
        fid.reasons["p"] = "no distinct P wave on the median beat"
        return
    # of the clearly prominent humps, the P wave is the one nearest the QRS (earlier ones are T-wave tails)
    strong = np.flatnonzero(props["prominences"] >= rules["p_competing_prominence"] * props["prominences"].max())
    best = int(strong[-1])
    p_peak = lo + int(peaks[best])
    base = rms[p_peak] - props["prominences"][best]
    level = base + rules["p_edge_fraction"] * props["prominences"][best]
    on = _run_below(rms, level, p_peak, -1, 2, max(0, lo - int(0.05 * fs)))
    off = _run_below(rms, level, p_peak, +1, 2, fid.qrs_on)
    fid.p_peak = p_peak  # the P wave is there even when its limits cannot be trusted (rhythm still uses it)
    if on is None or off is None:
        fid.reasons["p"] = "P wave present but its limits are unclear (merged with T or QRS)"
        return
    duration_ms = (off - on) * 1000 / fs
    if not rules["p_duration_min_ms"] <= duration_ms <= rules["p_duration_max_ms"]:
        fid.reasons["p"] = f"P wave present but its limits give an implausible duration ({duration_ms:.0f} ms)"
        return
    fid.p_on, fid.p_off = on, off


def delineate(mb: MedianBeat, leads: list[str], rr_s: float, rules: dict, usable: np.ndarray | None = None) -> Fiducials:
    """Find the fiducial points of the median beat from the ``usable`` leads (flat or broken leads would
    dilute or distort the multi-lead curves); ``rules`` are the delineation constants table."""
    has_median = np.isfinite(mb.waves[mb.r_index])
    usable = has_median if usable is None else (np.asarray(usable, dtype=bool) & has_median)
    if not usable.any():
        usable = has_median if has_median.any() else np.ones(len(leads), dtype=bool)
    sub = replace(mb, waves=mb.waves[:, usable], noise=mb.noise[usable], beats=mb.beats[:, :, usable])
    sub_leads = [lead for lead, ok in zip(leads, usable) if ok]
    fid = Fiducials()
    _qrs_limits(sub, fid, rules)
    if fid.qrs_on is None:
        return fid
    fid.baseline = _isoelectric(fid, mb.waves, mb.fs, rules)
    _t_wave(sub, fid, fid.baseline[usable], rr_s, rules)
    _p_wave(sub, fid, fid.baseline[usable], sub_leads, rr_s, rules)
    return fid
