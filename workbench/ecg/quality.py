"""Signal quality per lead: disconnected, flat, clipped, noisy; and likely limb-electrode reversal."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .beats import MedianBeat


@dataclass
class LeadQuality:
    lead: str
    usable: bool
    problems: list[str] = field(default_factory=list)
    noise_mv: float | None = None

    def to_dict(self) -> dict:
        return {"usable": self.usable, "problems": self.problems, "noise_mv": None if self.noise_mv is None else round(self.noise_mv, 4)}


def _clipped_fraction(raw: np.ndarray) -> float:
    """Share of samples sitting on the recording's extreme values in runs (ADC saturation)."""
    finite = raw[np.isfinite(raw)]
    if finite.size < 10 or np.ptp(finite) == 0:
        return 0.0
    hi, lo = finite.max(), finite.min()
    at_edge = (np.abs(raw - hi) < 1e-9) | (np.abs(raw - lo) < 1e-9)
    runs = at_edge[1:] & at_edge[:-1]
    return float(runs.mean())


def lead_quality(raw: np.ndarray, filtered: np.ndarray, leads: list[str], rules: dict, fs: float = 500.0,
                 coverage: dict[str, list[float]] | None = None) -> list[LeadQuality]:
    """Problems visible on the signal itself, before any beat is found.

    ``coverage`` gives, per lead, the [start, end] seconds the source actually shows (a paper ECG prints
    each lead for part of the page); samples outside it are expected to be missing and are not a problem.
    """
    out = []
    for j, lead in enumerate(leads):
        q = LeadQuality(lead=lead, usable=True)
        a, b = (int(round(t * fs)) for t in (coverage or {}).get(lead, [0.0, raw.shape[0] / fs]))
        shown = raw[a:max(b, a + 1), j]
        nan_fraction = float(np.mean(~np.isfinite(shown)))
        if nan_fraction >= rules["disconnected_nan_fraction"]:
            q.problems.append(f"disconnected ({nan_fraction:.0%} of samples missing)")
        elif nan_fraction > 0:
            q.problems.append(f"{nan_fraction:.1%} of samples missing (interpolated)")
        span = float(np.nanmax(filtered[:, j]) - np.nanmin(filtered[:, j])) if np.isfinite(filtered[:, j]).any() else 0.0
        if span < rules["flat_peak_to_peak_mv"]:
            q.problems.append("flat line (no signal)")
        elif span > rules["implausible_peak_to_peak_mv"]:
            q.problems.append(f"implausible amplitude ({span:.0f} mV peak to peak: wrong units or a broken electrode)")
        clipped = _clipped_fraction(raw[:, j])
        if clipped >= rules["clipped_fraction"]:
            q.problems.append(f"clipped ({clipped:.1%} of samples at the amplifier limit)")
        q.usable = not any(p.startswith(("disconnected", "flat", "implausible")) for p in q.problems)
        out.append(q)
    return out


def add_beat_noise(quality: list[LeadQuality], mb: MedianBeat | None, rules: dict) -> None:
    """Beat-to-beat residual around the median beat: high residual = noisy lead."""
    if mb is None:
        return
    for j, q in enumerate(quality):
        q.noise_mv = float(mb.noise[j]) if np.isfinite(mb.noise[j]) else None
        if not np.isfinite(mb.noise[j]):
            continue  # too few beats in this lead to judge its noise
        amplitude = float(np.nanmax(mb.waves[:, j]) - np.nanmin(mb.waves[:, j]))
        if q.usable and (mb.noise[j] > rules["noisy_residual_mv"] or mb.noise[j] > rules["noisy_residual_fraction_of_qrs"] * amplitude):
            q.problems.append(f"noisy (beat-to-beat residual {mb.noise[j]:.2f} mV)")


def limb_reversal(lead_values: dict[str, dict], p_found: bool) -> str | None:
    """LA/RA reversal makes lead I globally negative (P, QRS and T) and aVR upright (Batchvarov, Europace 2007)."""
    lead_i, avr = lead_values.get("I"), lead_values.get("aVR")
    if not lead_i or not avr or lead_i.get("qrs_net") is None or avr.get("qrs_net") is None:
        return None
    if lead_i["qrs_net"].value is None or avr["qrs_net"].value is None:
        return None  # not measured (e.g. a lead printed too briefly on a paper ECG)
    neg_i = lead_i["qrs_net"].value < 0 and (lead_i["t_amplitude"].value or 0) < 0
    if p_found:
        neg_i = neg_i and (lead_i["p_amplitude"].value or 0) < 0
    if neg_i and avr["qrs_net"].value > 0 and (avr["t_amplitude"].value or 0) > 0:
        return "Lead I is inverted (P, QRS and T) with upright aVR: possible left/right arm electrode reversal; check placement before reading."
    return None
