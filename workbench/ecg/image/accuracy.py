"""Digitization accuracy as the PhysioNet/CinC Challenge 2024 scores it (criteria.md, paper conventions):
per-lead SNR (dB) = 10 log10( sum x^2 / sum (x - x_hat)^2 ) after aligning the reconstruction by the best
time shift and removing its vertical offset. Only the samples the image shows are compared.
"""
from __future__ import annotations

import numpy as np

from ..record import ECGRecord


def lead_snr(reference: np.ndarray, reconstruction: np.ndarray, fs: float, max_shift_s: float = 0.2) -> float | None:
    """SNR in dB of one lead; None when the reconstruction shows fewer than 0.5 s."""
    best = None
    max_shift = int(max_shift_s * fs)
    for shift in range(-max_shift, max_shift + 1):
        shifted = np.roll(reconstruction, shift)
        if shift > 0:
            shifted[:shift] = np.nan
        elif shift < 0:
            shifted[shift:] = np.nan
        both = np.isfinite(shifted) & np.isfinite(reference)
        if both.sum() < 0.5 * fs:
            continue
        x, y = reference[both], shifted[both]
        if not np.any(x):  # a flat (all-zero) reference lead has no signal to compare against
            return None
        y = y - np.mean(y - x)  # vertical offset removed
        noise = np.sum((x - y) ** 2)
        snr = 10 * np.log10(np.sum(x**2) / noise) if noise > 0 else 99.0
        if best is None or snr > best:
            best = snr
    return best


def record_snr(reference: ECGRecord, reconstruction: ECGRecord) -> dict[str, float]:
    """Per-lead SNR of a digitized record against the signals that were drawn (both at the same rate)."""
    ref = reference.resample(reconstruction.fs)
    out = {}
    for lead in reconstruction.leads:
        if not ref.has(lead):
            continue
        n = min(ref.n_samples, reconstruction.n_samples)
        snr = lead_snr(ref.lead(lead)[:n], reconstruction.lead(lead)[:n], reconstruction.fs)
        if snr is not None:
            out[lead] = snr
    return out
