"""Filtering for diagnostic ECG analysis, vectorised over all leads at once.

Zero-phase (forward-backward) filters, as the AHA/ACCF/HRS 2007 recommendations allow for ST-segment
fidelity: a 0.5 Hz high-pass applied bidirectionally does not distort the ST segment the way a causal
0.5 Hz filter would. scipy is used directly (not ``nk.ecg_clean``) because it filters the whole
samples x leads matrix in one call, which is several times faster than looping over 12 leads.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import signal as sps

from ..errors import SignalError

#: minimum samples for filtfilt padding of the 0.5 Hz section at any fs
_MIN_SECONDS = 0.8
#: dropouts at least this long are not bridged by interpolation
_LONG_GAP_S = 0.05


@lru_cache(maxsize=32)
def _diagnostic_sos(fs: float, mains_hz: float) -> np.ndarray:
    sections = [sps.butter(2, 0.5, btype="highpass", fs=fs, output="sos")]
    if mains_hz < fs / 2 - 1:
        b, a = sps.iirnotch(mains_hz, Q=25.0, fs=fs)
        sections.append(sps.tf2sos(b, a))
    high = min(150.0, 0.45 * fs)
    sections.append(sps.butter(4, high, btype="lowpass", fs=fs, output="sos"))
    return np.vstack(sections)


@lru_cache(maxsize=32)
def _detection_sos(fs: float) -> np.ndarray:
    return sps.butter(3, [5.0, min(30.0, 0.45 * fs)], btype="bandpass", fs=fs, output="sos")


def fill_gaps(signals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Linearly interpolate non-finite samples per lead; returns (filled copy, boolean mask of filled samples)."""
    out = np.array(signals, dtype=np.float64, copy=True)
    bad = ~np.isfinite(out)
    if not bad.any():
        return out, bad
    idx = np.arange(out.shape[0])
    for j in np.flatnonzero(bad.any(axis=0)):
        good = ~bad[:, j]
        out[:, j] = np.interp(idx, idx[good], out[good, j]) if good.any() else 0.0
    return out, bad


def _long_gaps(missing: np.ndarray, min_len: int) -> np.ndarray:
    """The part of ``missing`` (samples x leads) that lies in runs of at least ``min_len`` samples."""
    out = np.zeros_like(missing)
    for j in np.flatnonzero(missing.any(axis=0)):
        edges = np.flatnonzero(np.diff(np.r_[0, missing[:, j].astype(np.int8), 0]))
        for a, b in zip(edges[::2], edges[1::2]):
            if b - a >= min_len:
                out[a:b, j] = True
    return out


def diagnostic_filter(signals: np.ndarray, fs: float, mains_hz: float = 50.0) -> np.ndarray:
    """Remove baseline wander (0.5 Hz), mains hum (notch) and out-of-band noise, zero phase.

    Short dropouts are bridged; long stretches without samples (a lead printed for 2.5 s of a paper ECG,
    a disconnected electrode) stay NaN after filtering so nothing is measured on invented signal.
    """
    if signals.shape[0] < _MIN_SECONDS * fs:
        raise SignalError(f"The recording is {signals.shape[0] / fs:.2f} s long; at least {_MIN_SECONDS} s is needed.")
    filled, missing = fill_gaps(signals)
    out = sps.sosfiltfilt(_diagnostic_sos(float(fs), float(mains_hz)), filled, axis=0)
    if missing.any():
        out[_long_gaps(missing, int(_LONG_GAP_S * fs))] = np.nan
    return out


def detection_filter(signals: np.ndarray, fs: float) -> np.ndarray:
    """5-30 Hz band-pass that keeps QRS energy for beat detection (P/T waves suppressed)."""
    return sps.sosfiltfilt(_detection_sos(float(fs)), signals, axis=0)
