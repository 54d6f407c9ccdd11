"""Measurements on the median beat: global intervals and axes, and per-lead amplitudes and ST levels.

Every value carries its unit; a value that cannot be measured is ``None`` with the reason, never a guess.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .beats import BeatTable, MedianBeat
from .delineate import Fiducials

#: hexaxial reference directions (degrees) and Goldberger scaling of the augmented leads
_LIMB_GEOMETRY = {"I": (0, 1.0), "II": (60, 1.0), "III": (120, 1.0), "aVR": (-150, np.sqrt(3) / 2), "aVL": (-30, np.sqrt(3) / 2), "aVF": (90, np.sqrt(3) / 2)}


@dataclass
class Measurement:
    """A measured value with its unit, or None with the reason it is missing."""

    value: float | None
    unit: str
    reason: str | None = None

    @classmethod
    def missing(cls, unit: str, reason: str) -> Measurement:
        return cls(None, unit, reason)

    def to_dict(self) -> dict:
        out: dict = {"value": None if self.value is None else round(float(self.value), 4), "unit": self.unit}
        if self.value is None:
            out["reason"] = self.reason
        return out

    def __float__(self) -> float:
        return float("nan") if self.value is None else float(self.value)


def _ms(samples: float, fs: float) -> float:
    return samples * 1000.0 / fs


def rhythm_measurements(beats: BeatTable, fs: float) -> dict[str, Measurement]:
    """Rate and RR statistics over all beats (not only the dominant ones)."""
    rr = beats.rr_s[1:]
    rr = rr[np.isfinite(rr)]
    if rr.size < 1:
        reason = "fewer than two beats detected"
        return {k: Measurement.missing(u, reason) for k, u in (("heart_rate", "bpm"), ("dominant_rate", "bpm"), ("rr_mean", "ms"), ("rr_sd", "ms"),
                                                               ("rr_irregularity", "ratio"), ("rr_cluster_dispersion", "ratio"))}
    # the underlying (sinus) rate: intervals between two consecutive dominant beats, ectopic cycles left out
    pairs = beats.dominant[1:] & beats.dominant[:-1] & np.isfinite(beats.rr_s[1:])
    dominant_rr = beats.rr_s[1:][pairs]
    out = {
        "heart_rate": Measurement(60.0 / rr.mean(), "bpm"),
        "dominant_rate": Measurement(60.0 / np.median(dominant_rr), "bpm") if dominant_rr.size else Measurement.missing("bpm", "no two consecutive dominant beats"),
        "rr_mean": Measurement(rr.mean() * 1000, "ms"),
        "rr_sd": Measurement(rr.std(ddof=1) * 1000 if rr.size > 1 else 0.0, "ms"),
    }
    if rr.size >= 3:
        # median successive RR change relative to the median RR: high when every beat differs (AF),
        # low when a regular rhythm is broken only by a few premature beats
        out["rr_irregularity"] = Measurement(float(np.median(np.abs(np.diff(rr))) / np.median(rr)), "ratio")
        out["rr_cluster_dispersion"] = Measurement(_two_cluster_dispersion(rr), "ratio")
    else:
        out["rr_irregularity"] = Measurement.missing("ratio", "fewer than four beats")
        out["rr_cluster_dispersion"] = Measurement.missing("ratio", "fewer than four beats")
    return out


def _two_cluster_dispersion(rr: np.ndarray) -> float:
    """RR scatter left after splitting the intervals at their largest gap into short and long ones.

    Bigeminy, group beating and blocked beats are irregular but 'regularly irregular': their RR values
    fall into one or two tight clusters (low value). AF has no such structure (high value).
    """
    ordered = np.sort(rr)
    cut = int(np.argmax(np.diff(ordered))) + 1
    groups = [ordered[:cut], ordered[cut:]] if 2 <= cut <= ordered.size - 2 else [ordered]
    deviation = np.concatenate([np.abs(g - np.median(g)) for g in groups])
    return float(deviation.mean() / np.median(rr))


def _axis(areas: dict[str, float]) -> float | None:
    rows, values = [], []
    for lead, area in areas.items():
        angle, scale = _LIMB_GEOMETRY[lead]
        rows.append([scale * np.cos(np.radians(angle)), scale * np.sin(np.radians(angle))])
        values.append(area)
    if len(rows) < 2:
        return None
    (x, y), *_ = np.linalg.lstsq(np.array(rows), np.array(values), rcond=None)
    if np.hypot(x, y) < 1e-9:
        return None
    return float(np.degrees(np.arctan2(y, x)))


def _wave_axis(mb: MedianBeat, leads: list[str], base: np.ndarray, start: int | None, stop: int | None, name: str) -> Measurement:
    if start is None or stop is None or stop <= start:
        return Measurement.missing("deg", f"{name} wave not delineated")
    areas = {lead: float((mb.waves[start:stop, leads.index(lead)] - base[leads.index(lead)]).sum() / mb.fs) for lead in _LIMB_GEOMETRY if lead in leads}
    areas = {lead: area for lead, area in areas.items() if np.isfinite(area)}  # leads not recorded there do not vote
    if len(areas) < 2:
        return Measurement.missing("deg", "needs at least two limb leads")
    angle = _axis(areas)
    return Measurement(angle, "deg") if angle is not None else Measurement.missing("deg", f"{name} vector too small")


def interval_measurements(mb: MedianBeat, fid: Fiducials, leads: list[str], rr_s: float, limits: dict) -> dict[str, Measurement]:
    """P duration, PR, QRS, QT, QTc (Bazett, Fridericia) and the frontal P/QRS/T axes."""
    fs = mb.fs
    out: dict[str, Measurement] = {}

    def checked(name: str, samples: float | None, lo: float, hi: float, why_missing: str) -> Measurement:
        if samples is None:
            return Measurement.missing("ms", why_missing)
        value = _ms(samples, fs)
        if not lo <= value <= hi:
            return Measurement.missing("ms", f"{name} of {value:.0f} ms is outside the plausible {lo:.0f}-{hi:.0f} ms and was rejected")
        return Measurement(value, "ms")

    p_reason = fid.reasons.get("p", "P wave not found")
    qrs_reason = fid.reasons.get("qrs", "QRS not delineated")
    t_reason = fid.reasons.get("t", "T wave not delineated")
    has_p = fid.p_on is not None and fid.qrs_on is not None
    out["p_duration"] = checked("P duration", (fid.p_off - fid.p_on) if has_p else None, 0, 1e9, p_reason)
    out["pr_interval"] = checked("PR", (fid.qrs_on - fid.p_on) if has_p else None, limits["pr_min_ms"], limits["pr_max_ms"], p_reason)
    has_qrs = fid.qrs_on is not None and fid.qrs_off is not None
    out["qrs_duration"] = checked("QRS", (fid.qrs_off - fid.qrs_on) if has_qrs else None, limits["qrs_min_ms"], limits["qrs_max_ms"], qrs_reason)
    has_qt = has_qrs and fid.t_off is not None
    out["qt_interval"] = checked("QT", (fid.t_off - fid.qrs_on) if has_qt else None, limits["qt_min_ms"], limits["qt_max_ms"], t_reason)
    qt = out["qt_interval"].value
    if qt is None or not np.isfinite(rr_s) or rr_s <= 0:
        reason = out["qt_interval"].reason or "RR interval unknown"
        out["qtc_bazett"] = Measurement.missing("ms", reason)
        out["qtc_fridericia"] = Measurement.missing("ms", reason)
    else:
        out["qtc_bazett"] = Measurement(qt / np.sqrt(rr_s), "ms")
        out["qtc_fridericia"] = Measurement(qt / np.cbrt(rr_s), "ms")
    base = fid.baseline if fid.baseline is not None else np.zeros(len(leads))
    p_span = fid.p_span(fs)
    out["p_axis"] = _wave_axis(mb, leads, base, *p_span, "P") if p_span else Measurement.missing("deg", p_reason)
    out["qrs_axis"] = _wave_axis(mb, leads, base, fid.qrs_on, fid.qrs_off, "QRS") if has_qrs else Measurement.missing("deg", qrs_reason)
    out["t_axis"] = _wave_axis(mb, leads, base, fid.qrs_off, fid.t_off, "T") if has_qt else Measurement.missing("deg", t_reason)
    return out


def _lobes(x: np.ndarray, positive: bool, threshold: float) -> list[tuple[int, int]]:
    """(start, stop) of runs where x is beyond +threshold (or -threshold)."""
    mask = x > threshold if positive else x < -threshold
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(int), 0]))
    return list(zip(edges[::2], edges[1::2]))


def lead_measurements(mb: MedianBeat, fid: Fiducials, leads: list[str], limits: dict) -> dict[str, dict[str, Measurement]]:
    """Per-lead Q/R/S/R' amplitudes and durations, ST at J and J+60 ms, T amplitude (baseline = PR segment)."""
    fs = mb.fs
    out: dict[str, dict[str, Measurement]] = {}
    if fid.qrs_on is None or fid.qrs_off is None:
        return {lead: {} for lead in leads}
    on, off = fid.qrs_on, fid.qrs_off
    j60 = off + int(round(limits["st_offset_ms"] * fs / 1000))
    gain = limits["gain_mm_per_mv"]
    for j, lead in enumerate(leads):
        x = mb.waves[:, j] - fid.baseline[j]
        qrs = x[on:off]
        if not np.isfinite(qrs).all():
            out[lead] = {name: Measurement.missing(unit, "this lead does not show a complete QRS (too few beats recorded)")
                         for name, unit in _LEAD_UNITS.items()}
            continue
        thr = max(0.02, 0.05 * float(np.ptp(qrs)))
        pos, neg = _lobes(qrs, True, thr), _lobes(qrs, False, thr)
        first_pos = pos[0][0] if pos else qrs.size
        q_lobe = neg[0] if neg and neg[0][0] < first_pos else None
        m: dict[str, Measurement] = {
            "r_amplitude": Measurement(float(qrs.max()) if pos else 0.0, "mV"),
            "qrs_peak_to_peak": Measurement(float(np.ptp(qrs)), "mV"),
            "qrs_net": Measurement(float(qrs.max() + qrs.min()), "mV"),
        }
        if q_lobe is not None:
            m["q_amplitude"] = Measurement(float(-qrs[q_lobe[0]:q_lobe[1]].min()), "mV")
            q_end = q_lobe[1] if pos else qrs.size  # QS complex: the Q wave is the whole QRS
            m["q_duration"] = Measurement(_ms(q_end, fs), "ms")
        else:
            m["q_amplitude"] = Measurement(0.0, "mV")
            m["q_duration"] = Measurement(0.0, "ms")
        after_r = [lobe for lobe in neg if lobe[0] >= first_pos]
        m["s_amplitude"] = Measurement(float(-qrs[after_r[0][0]:].min()) if after_r else 0.0, "mV")
        m["s_duration"] = Measurement(_ms(sum(b - a for a, b in after_r), fs) if after_r else 0.0, "ms")
        second_r = [lobe for lobe in pos[1:] if after_r and lobe[0] > after_r[0][0]]
        m["r_prime_amplitude"] = Measurement(float(max(qrs[a:b].max() for a, b in second_r)) if second_r else 0.0, "mV")
        m["st_j"] = _value(x, off, "mV")
        m["st_j_mm"] = _value(x, off, "mm", gain)
        if j60 < x.size and (fid.t_off is None or j60 < fid.t_off) and np.isfinite(x[j60]):
            m["st_j60"] = Measurement(float(x[j60]), "mV")
            m["st_j60_mm"] = Measurement(float(x[j60]) * gain, "mm")
        else:
            m["st_j60"] = Measurement.missing("mV", "J+60 ms falls beyond the T wave")
            m["st_j60_mm"] = Measurement.missing("mm", "J+60 ms falls beyond the T wave")
        # without a T end (T too flat to delineate) the largest deflection of the ST-T window still tells
        # how flat the T wave is, which is itself a finding
        t_end = fid.t_off if fid.t_off is not None else min(x.size, off + int(limits["st_t_window_ms"] * fs / 1000))
        m["t_amplitude"] = _largest(x[off + int(0.04 * fs): t_end], "T wave not recorded in this lead's strip")
        p_span = fid.p_span(fs)
        if p_span is not None:
            m["p_amplitude"] = _largest(x[p_span[0]:p_span[1]], "P wave not recorded in this lead's strip")
        else:
            m["p_amplitude"] = Measurement.missing("mV", fid.reasons.get("p", "P wave not found"))
        out[lead] = m
    return out


_LEAD_UNITS = {"r_amplitude": "mV", "qrs_peak_to_peak": "mV", "qrs_net": "mV", "q_amplitude": "mV", "q_duration": "ms",
               "s_amplitude": "mV", "s_duration": "ms", "r_prime_amplitude": "mV", "st_j": "mV", "st_j_mm": "mm",
               "st_j60": "mV", "st_j60_mm": "mm", "t_amplitude": "mV", "p_amplitude": "mV"}


def _value(x: np.ndarray, index: int, unit: str, scale: float = 1.0) -> Measurement:
    if index >= x.size or not np.isfinite(x[index]):
        return Measurement.missing(unit, "not recorded at this point of the beat in this lead")
    return Measurement(float(x[index]) * scale, unit)


def _largest(segment: np.ndarray, reason: str) -> Measurement:
    """The signed sample of largest magnitude (a wave's peak), or missing if the segment was not recorded."""
    if segment.size == 0 or not np.isfinite(segment).any():
        return Measurement.missing("mV", reason)
    return Measurement(float(segment[int(np.nanargmax(np.abs(segment)))]), "mV")
