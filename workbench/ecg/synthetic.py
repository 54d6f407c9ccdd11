"""A 12-lead ECG simulator with known truth, for the bundled example, tests and benchmarks.

Why not ``nk.ecg_simulate(method="multileads")``: its 12 leads are rescaled copies of one waveform
(every lead peaks at the same amplitude), so axes, R-wave progression, bundle-branch shapes and
territorial ST shifts cannot be represented. Here the heart is a moving dipole (a sum of Gaussian
wavelets along 3-D directions, in the spirit of McSharry et al., IEEE TBME 2003) projected on the
standard lead vectors, so each simulated abnormality shows up in the leads where it should.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .leads import STANDARD_LEADS
from .record import ECGRecord

# lead vectors (x = patient's left, y = inferior, z = anterior)
_ANG = np.radians
_LIMB = {"I": 0, "II": 60, "III": 120, "aVR": -150, "aVL": -30, "aVF": 90}
_PRECORDIAL = {"V1": 120, "V2": 95, "V3": 75, "V4": 55, "V5": 30, "V6": 0}


def _lead_matrix() -> np.ndarray:
    rows = []
    for lead in STANDARD_LEADS:
        if lead in _LIMB:
            scale = 1.0 if lead in ("I", "II", "III") else np.sqrt(3) / 2
            a = _ANG(_LIMB[lead])
            rows.append(scale * np.array([np.cos(a), np.sin(a), 0.0]))
        else:
            a = _ANG(_PRECORDIAL[lead])
            rows.append(1.6 * np.array([np.cos(a), 0.25, np.sin(a)]))
    return np.array(rows)


def _direction(frontal_deg: float, anterior: float) -> np.ndarray:
    a = _ANG(frontal_deg)
    v = np.array([np.cos(a), np.sin(a), anterior])
    return v / np.linalg.norm(v)


@dataclass
class SimulationSpec:
    """What to simulate; every field is the truth a test can check against."""

    duration_s: float = 10.0
    fs: float = 500.0
    heart_rate: float = 70.0
    pr_ms: float = 160.0
    qrs_ms: float = 90.0
    qtc_ms: float = 410.0  # QT at 60/min; the simulated QT follows the rate (Bazett)
    qrs_axis_deg: float = 50.0
    r_amplitude_mv: float = 1.4
    t_amplitude_mv: float = 0.35
    p_amplitude_mv: float = 0.15
    atrial_fibrillation: bool = False
    right_bundle_branch_block: bool = False
    st_shift_mv: float = 0.0  # along st_direction
    st_direction: tuple[float, float] = (90.0, -0.2)  # (frontal degrees, anterior component): inferior by default
    noise_mv: float = 0.01
    seed: int = 0
    age: float | None = 60
    sex: str | None = "M"
    extra: dict = field(default_factory=dict)


def _beat_times(spec: SimulationSpec, rng: np.random.Generator) -> np.ndarray:
    rr = 60.0 / spec.heart_rate
    times, t = [], 0.35
    while t < spec.duration_s:
        times.append(t)
        jitter = rng.uniform(-0.3, 0.3) * rr if spec.atrial_fibrillation else rng.normal(0, 0.01) * rr
        t += max(0.3, rr + jitter)
    return np.array(times)


def simulate_ecg(spec: SimulationSpec | None = None, **overrides: object) -> ECGRecord:
    """A deterministic (given ``seed``) 12-lead record in mV with the abnormalities ``spec`` asks for."""
    spec = spec or SimulationSpec()
    for key, value in overrides.items():
        setattr(spec, key, value)
    rng = np.random.default_rng(spec.seed)
    n = int(round(spec.duration_s * spec.fs))
    t = np.arange(n) / spec.fs
    heart = np.zeros((n, 3))

    def wave(centre: float, width_s: float, amplitude: float, direction: np.ndarray) -> None:
        lo, hi = np.searchsorted(t, [centre - 5 * width_s, centre + 5 * width_s])
        heart[lo:hi] += amplitude * np.exp(-0.5 * ((t[lo:hi] - centre) / width_s) ** 2)[:, None] * direction[None, :]

    qrs_s = spec.qrs_ms / 1000
    main = _direction(spec.qrs_axis_deg, -0.35)
    for r in _beat_times(spec, rng):
        onset = r - 0.45 * qrs_s if not spec.right_bundle_branch_block else r - 0.3 * qrs_s
        if not spec.atrial_fibrillation:
            wave(onset - spec.pr_ms / 1000 + 0.05, 0.022, spec.p_amplitude_mv, _direction(55, 0.2))
        wave(onset + 0.12 * qrs_s, 0.08 * qrs_s, 0.15, _direction(160, 0.8))  # septal forces: q in I/V6, r in V1
        width = 0.13 * (min(qrs_s, 0.1))
        wave(r, width, spec.r_amplitude_mv, main)
        wave(r + 0.3 * min(qrs_s, 0.1), width, 0.35, _direction(-120, -0.5))  # terminal S
        if spec.right_bundle_branch_block:  # late rightward-anterior forces: R' in V1, wide S in I and V6
            wave(onset + 0.8 * qrs_s, 0.12 * qrs_s, 0.7, _direction(175, 1.4))
        rate_factor = np.sqrt(60.0 / spec.heart_rate)  # QT and T width shorten with rate (Bazett)
        qt_s = spec.qtc_ms / 1000 * rate_factor
        t_peak = onset + qt_s - 0.11 * rate_factor
        wave(t_peak, 0.045 * rate_factor, spec.t_amplitude_mv, _direction(spec.qrs_axis_deg - 10, 0.3))
        if spec.st_shift_mv:
            j = onset + qrs_s
            lo, hi = np.searchsorted(t, [j - 0.005, t_peak])
            ramp = np.clip((t[lo:hi] - (j - 0.005)) / 0.01, 0, 1) * np.clip((t_peak - t[lo:hi]) / 0.04, 0, 1)
            heart[lo:hi] += spec.st_shift_mv * ramp[:, None] * _direction(*spec.st_direction)[None, :]
    signals = heart @ _lead_matrix().T
    if spec.atrial_fibrillation:  # fibrillatory waves, 6 Hz with wandering phase, best seen in V1 and II
        phase = np.cumsum(2 * np.pi * (6.0 + rng.normal(0, 1.0, n) * 0.5) / spec.fs)
        f_wave = 0.05 * np.sin(phase)
        signals += np.outer(f_wave, _lead_matrix() @ _direction(80, 1.0))
    signals += rng.normal(0, spec.noise_mv, signals.shape)
    return ECGRecord(signals, spec.fs, list(STANDARD_LEADS), source="synthetic", age=spec.age, sex=spec.sex,
                     metadata={"simulation": {k: v for k, v in spec.__dict__.items() if k != "extra"}})
