"""Beats: multi-lead R-peak detection, beat classes (dominant / premature / ectopic) and median beats.

R peaks come from neurokit2's detector run on every usable lead; the per-lead detections are fused by
voting so that one noisy or disconnected lead neither adds nor hides beats. Signals are edge-padded
before detection so beats in the first and last few hundred ms are found too (neurokit2 misses them).
Leads may cover only part of the time (a 3x4 paper ECG shows each lead for 2.5 s; missing samples are
NaN): each lead votes only where it has samples, and the median beat of a lead uses only its own beats.
"""
from __future__ import annotations

from dataclasses import dataclass

import neurokit2 as nk
import numpy as np

from .nan import missing_ok
from .filters import detection_filter

_PAD_S = 1.0
_CLUSTER_S = 0.08
_REFINE_S = 0.06


def _finite_runs(lead: np.ndarray, min_len: int) -> list[tuple[int, int]]:
    edges = np.flatnonzero(np.diff(np.r_[0, np.isfinite(lead).astype(np.int8), 0]))
    return [(a, b) for a, b in zip(edges[::2], edges[1::2]) if b - a >= min_len]


def _detect_one_lead(lead: np.ndarray, fs: float) -> np.ndarray:
    if not np.isfinite(lead).all():  # detect on each recorded stretch of at least 1 s
        found = [a + _detect_one_lead(lead[a:b], fs) for a, b in _finite_runs(lead, int(fs))]
        return np.concatenate(found) if found else np.empty(0, dtype=int)
    pad = int(_PAD_S * fs)
    padded = np.pad(lead, pad, mode="edge")
    offset = pad
    try:
        found = np.asarray(nk.ecg_findpeaks(padded, sampling_rate=int(round(fs)), method="neurokit")["ECG_R_Peaks"], dtype=int)
    except (ValueError, IndexError, ZeroDivisionError):  # neurokit2 raises on flat or degenerate input
        return np.empty(0, dtype=int)
    found = found - offset
    return found[(found >= 0) & (found < lead.size)]


def detect_r_peaks(signals: np.ndarray, fs: float, usable: np.ndarray | None = None, min_relative_energy: float = 0.1) -> np.ndarray:
    """Sample indices of QRS complexes, fused over leads.

    ``signals`` are diagnostic-filtered (n_samples, n_leads); ``usable`` masks leads to vote with.
    The fiducial point is the peak of summed QRS energy across leads, so all beats align the same way.
    Detections with less than ``min_relative_energy`` of the median beat's QRS energy are dropped: they
    are T waves or edge effects that several leads' detectors agreed on, not ventricular complexes.
    """
    n, n_leads = signals.shape
    leads = np.flatnonzero(usable) if usable is not None and np.any(usable) else np.arange(n_leads)
    detections = [_detect_one_lead(signals[:, j], fs) for j in leads]
    all_peaks = np.sort(np.concatenate(detections)) if detections else np.empty(0, int)
    if all_peaks.size == 0:
        return all_peaks
    present = np.isfinite(signals[:, leads])
    groups = np.split(all_peaks, np.flatnonzero(np.diff(all_peaks) > _CLUSTER_S * fs) + 1)
    centres = np.array([int(np.median(g)) for g in groups if len(g) >= _votes_needed(int(present[int(np.median(g))].sum()))], dtype=int)
    if centres.size == 0:
        return centres
    energy = np.sum(detection_filter(np.nan_to_num(signals[:, leads]), fs) ** 2, axis=1)
    half = int(_REFINE_S * fs)
    starts = np.maximum(centres - half, 0)
    refined = np.unique([s + int(np.argmax(energy[s: c + half + 1])) for s, c in zip(starts, centres)])
    # a refractory period of 200 ms: keep the stronger of two peaks closer than that
    keep: list[int] = []
    for p in refined:
        if keep and p - keep[-1] < 0.2 * fs:
            if energy[p] > energy[keep[-1]]:
                keep[-1] = p
        else:
            keep.append(int(p))
    beats = np.asarray(keep, dtype=int)
    if beats.size >= 3:
        beats = beats[energy[beats] >= min_relative_energy * np.median(energy[beats])]
    return beats


def _votes_needed(available: int) -> int:
    """Half of the leads recording at that moment (any one of one or two)."""
    return max(1, int(np.ceil(available / 2.0))) if available > 2 else 1


@dataclass
class BeatTable:
    """Per-beat facts used by rhythm rules and the median beat."""

    peaks: np.ndarray  # sample indices
    rr_s: np.ndarray  # RR before each beat (NaN for the first)
    correlation: np.ndarray  # QRS correlation with the dominant template
    premature: np.ndarray  # bool
    ventricular: np.ndarray  # bool: different, wide morphology (PVC-like)
    dominant: np.ndarray  # bool: used for the median beat

    @property
    def n(self) -> int:
        return int(self.peaks.size)


def _segments(signals: np.ndarray, peaks: np.ndarray, before: int, after: int) -> tuple[np.ndarray, np.ndarray]:
    """Stack windows [p-before, p+after) for peaks fully inside the record; returns (segments, kept mask)."""
    ok = (peaks - before >= 0) & (peaks + after <= signals.shape[0])  # NaN parts of a window are kept as NaN
    idx = peaks[ok][:, None] + np.arange(-before, after)[None, :]
    return signals[idx], ok  # (n_beats, n_win, n_leads)


def classify_beats(
    signals: np.ndarray, fs: float, peaks: np.ndarray, *, premature_ratio: float, same_morphology: float
) -> BeatTable:
    """Mark premature and ventricular-looking beats; the rest are dominant (used for the median beat).

    ``premature_ratio``: a beat is premature when its RR is below this fraction of the local median RR.
    ``same_morphology``: QRS correlation with the template at or above which a beat counts as dominant.
    """
    n = peaks.size
    rr = np.full(n, np.nan)
    if n > 1:
        rr[1:] = np.diff(peaks) / fs
    half = int(0.06 * fs)
    segs, ok = _segments(signals, peaks, half, half)
    corr = np.full(n, np.nan)
    if segs.shape[0] >= 1:
        with missing_ok():  # leads without samples at a beat are NaN there: they do not count
            template = np.nanmedian(segs, axis=0)
            centred_t = np.nan_to_num(template - np.nanmean(template, axis=0))
            centred_s = np.nan_to_num(segs - np.nanmean(segs, axis=1, keepdims=True))
        both = np.isfinite(segs) & np.isfinite(template)[None]
        flat_t = (centred_t[None] * both).reshape(segs.shape[0], -1)
        flat_s = (centred_s * both).reshape(segs.shape[0], -1)
        denom = np.linalg.norm(flat_s, axis=1) * np.linalg.norm(flat_t, axis=1) + 1e-12
        corr[ok] = np.sum(flat_s * flat_t, axis=1) / denom
    local = np.array([np.nanmedian(rr[max(1, i - 4): i + 5]) if n > 2 else np.nan for i in range(n)])
    premature = np.nan_to_num(rr < premature_ratio * local, nan=False).astype(bool)
    # ectopic ventricular beat: different QRS morphology arriving early (a lone odd shape on time is noise)
    ventricular = np.nan_to_num(corr < same_morphology, nan=False).astype(bool) & premature
    dominant = ~premature & ~ventricular & ~np.isnan(corr)
    if dominant.sum() < 2:  # irregular rhythms (AF): every beat may look premature; fall back on morphology
        dominant = ~ventricular & ~np.isnan(corr)
    return BeatTable(peaks=peaks, rr_s=rr, correlation=corr, premature=premature, ventricular=ventricular, dominant=dominant)


@dataclass
class MedianBeat:
    """Per-lead median beat aligned on the R fiducial at index ``r_index``."""

    waves: np.ndarray  # (n_win, n_leads) mV
    fs: float
    r_index: int
    n_beats: int
    noise: np.ndarray  # per-lead robust beat-to-beat residual (mV); NaN for a lead without a median beat
    beats: np.ndarray  # (n_beats, n_win, n_leads) the aligned beats used (NaN where a lead did not record)
    beats_per_lead: np.ndarray | None = None  # how many beats each lead's median is made of

    def ms_to_index(self, ms: float) -> int:
        return self.r_index + int(round(ms * self.fs / 1000.0))

    def index_to_ms(self, index: float) -> float:
        return (index - self.r_index) * 1000.0 / self.fs


def median_beat(signals: np.ndarray, fs: float, beats: BeatTable, *, before_s: float = 0.40, after_s: float = 0.65) -> MedianBeat | None:
    """Median of the dominant beats, sample by sample and lead by lead (None when < 2 beats fit)."""
    before, after = int(before_s * fs), int(after_s * fs)
    segs, ok = _segments(signals, beats.peaks, before, after)
    use = beats.dominant[ok]
    if use.sum() < 2:
        return None
    chosen = segs[use]
    # per lead, per sample: the median over the beats that recorded it (every beat on a signal file; the
    # 2-4 beats of a 3x4 paper ECG's 2.5 s strip, which may each cover only part of the window). A lead
    # whose QRS is covered by fewer than two beats gets no median beat (NaN).
    with missing_ok():
        waves = np.nanmedian(chosen, axis=0)
        noise = 1.4826 * np.nanmedian(np.abs(chosen - waves[None]), axis=(0, 1))
    qrs_beats = np.isfinite(chosen[:, before]).sum(axis=0)
    waves[:, qrs_beats < 2] = np.nan
    noise[qrs_beats < 2] = np.nan
    return MedianBeat(waves=waves, fs=fs, r_index=before, n_beats=int(use.sum()), noise=noise, beats=chosen,
                      beats_per_lead=qrs_beats)
