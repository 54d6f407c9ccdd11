"""A 12-lead ECG simulator with known truth, for the bundled example, tests and benchmarks.

Why not ``nk.ecg_simulate(method="multileads")``: its 12 leads are rescaled copies of one waveform
(every lead peaks at the same amplitude), so axes, R-wave progression, bundle-branch shapes and
territorial ST shifts cannot be represented. Here the heart is a moving dipole (a sum of Gaussian
wavelets along 3-D directions, in the spirit of McSharry et al., IEEE TBME 2003) projected on the
standard lead vectors, so each simulated abnormality shows up in the leads where it should.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

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
    heart_rate: float = 70.0  # ventricular rate
    rhythm: Literal["sinus", "af", "flutter"] = "sinus"
    conduction: Literal["normal", "rbbb", "lbbb"] = "normal"
    pr_ms: float = 160.0
    qrs_ms: float = 90.0
    qtc_ms: float = 410.0  # QT at 60/min; the simulated QT follows the rate (Bazett)
    qrs_axis_deg: float = 50.0
    r_amplitude_mv: float = 1.4
    t_amplitude_mv: float = 0.35
    p_amplitude_mv: float = 0.15
    pvc_every: int | None = None  # every n-th beat is a premature ventricular complex
    flutter_rate: float = 300.0  # atrial rate of flutter (per min); conduction = flutter_rate / heart_rate
    st_shift_mv: float = 0.0  # along st_direction
    st_direction: tuple[float, float] = (90.0, -0.2)  # (frontal degrees, anterior component): inferior by default
    noise_mv: float = 0.01
    seed: int = 0
    age: float | None = 60
    sex: str | None = "M"


def _beat_times(spec: SimulationSpec, rng: np.random.Generator) -> np.ndarray:
    rr = 60.0 / spec.heart_rate
    times, t = [], 0.35
    while t < spec.duration_s:
        times.append(t)
        jitter = rng.uniform(-0.3, 0.3) * rr if spec.rhythm == "af" else rng.normal(0, 0.01) * rr
        t += max(0.3, rr + jitter)
    return np.array(times)


class _Heart:
    """The dipole: Gaussian wavelets summed along 3-D directions over the time axis."""

    def __init__(self, n: int, fs: float) -> None:
        self.t = np.arange(n) / fs
        self.vector = np.zeros((n, 3))

    def wave(self, centre: float, width_s: float, amplitude: float, direction: np.ndarray) -> None:
        lo, hi = np.searchsorted(self.t, [centre - 5 * width_s, centre + 5 * width_s])
        self.vector[lo:hi] += amplitude * np.exp(-0.5 * ((self.t[lo:hi] - centre) / width_s) ** 2)[:, None] * direction[None, :]

    def plateau(self, start: float, stop: float, amplitude: float, direction: np.ndarray) -> None:
        lo, hi = np.searchsorted(self.t, [start, stop])
        shape = np.clip((self.t[lo:hi] - start) / 0.01, 0, 1) * np.clip((stop - self.t[lo:hi]) / 0.04, 0, 1)
        self.vector[lo:hi] += amplitude * shape[:, None] * direction[None, :]


def _qrs_t(heart: _Heart, spec: SimulationSpec, r: float, ventricular: bool) -> None:
    """One ventricular complex with its T wave; ``ventricular`` = an ectopic beat (wide, other axis)."""
    qrs_s = spec.qrs_ms / 1000
    rate_factor = np.sqrt(60.0 / spec.heart_rate)  # QT and T width shorten with rate (Bazett)
    narrow = min(qrs_s, 0.1)
    if ventricular:
        onset, width = r - 0.06, 0.035
        axis = spec.qrs_axis_deg + 150
        heart.wave(r, width, 1.6, _direction(axis, 0.6))
        heart.wave(onset + 0.36, 0.06 * rate_factor, 0.5, _direction(axis + 180, -0.6))  # discordant T
        return
    conduction = spec.conduction
    onset = r - (0.3 if conduction == "rbbb" else 0.45) * qrs_s
    septal = _direction(-20, -0.6) if conduction == "lbbb" else _direction(160, 0.8)  # LBBB: septum left-to-right reversed
    heart.wave(onset + 0.12 * qrs_s, 0.08 * qrs_s, 0.15, septal)
    if conduction == "lbbb":  # slow leftward-posterior activation: broad R in I/V6, QS in V1, no septal q
        heart.wave(r, 0.2 * qrs_s, spec.r_amplitude_mv, _direction(-10, -1.2))
        t_dir = _direction(170, 0.8)  # secondary (discordant) repolarisation
    else:
        heart.wave(r, 0.13 * narrow, spec.r_amplitude_mv, _direction(spec.qrs_axis_deg, -0.35))
        heart.wave(r + 0.3 * narrow, 0.13 * narrow, 0.35, _direction(-120, -0.5))  # terminal S
        t_dir = _direction(spec.qrs_axis_deg - 10, 0.3)
    if conduction == "rbbb":  # late rightward-anterior forces: R' in V1, wide S in I and V6
        heart.wave(onset + 0.8 * qrs_s, 0.12 * qrs_s, 0.7, _direction(175, 1.4))
    qt_s = spec.qtc_ms / 1000 * rate_factor
    t_peak = onset + qt_s - 0.11 * rate_factor
    heart.wave(t_peak, 0.045 * rate_factor, spec.t_amplitude_mv, t_dir)
    if spec.st_shift_mv:
        heart.plateau(onset + qrs_s - 0.005, t_peak, spec.st_shift_mv, _direction(*spec.st_direction))


def _atrial_activity(spec: SimulationSpec, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Extra atrial signal (n, 3) for AF (fibrillatory waves) and flutter (negative sawtooth in II/III/aVF)."""
    if spec.rhythm == "af":  # disorganised 4-9 Hz activity (several wavelets drifting in frequency), best seen in V1 and II
        waves = np.zeros(t.size)
        for _ in range(4):
            drift = np.cumsum(rng.normal(0, 0.05, t.size))
            freq = np.clip(rng.uniform(4.5, 8.5) + drift - drift.mean(), 4.0, 9.0)
            waves += rng.uniform(0.5, 1.0) * np.sin(np.cumsum(2 * np.pi * freq * np.gradient(t)) + rng.uniform(0, 2 * np.pi))
        return 0.03 * waves[:, None] * _direction(80, 1.0)[None, :]
    if spec.rhythm == "flutter":
        cycle = (t * spec.flutter_rate / 60.0) % 1.0
        saw = np.where(cycle < 0.8, cycle / 0.8, (1.0 - cycle) / 0.2) - 0.5  # slow descent, fast return
        return 0.25 * saw[:, None] * _direction(-90, 0.3)[None, :]
    return np.zeros((t.size, 3))


def simulate_ecg(spec: SimulationSpec | None = None, **overrides: object) -> ECGRecord:
    """A deterministic (given ``seed``) 12-lead record in mV with the abnormalities ``spec`` asks for."""
    spec = replace(spec or SimulationSpec(), **overrides)
    rng = np.random.default_rng(spec.seed)
    heart = _Heart(int(round(spec.duration_s * spec.fs)), spec.fs)
    rr = 60.0 / spec.heart_rate
    for i, r in enumerate(_beat_times(spec, rng)):
        ectopic = spec.pvc_every is not None and i % spec.pvc_every == spec.pvc_every - 1
        if ectopic:
            _qrs_t(heart, spec, r - 0.35 * rr, ventricular=True)  # early, then a compensatory pause
            continue
        if spec.rhythm == "sinus":
            onset = r - (0.3 if spec.conduction == "rbbb" else 0.45) * spec.qrs_ms / 1000
            heart.wave(onset - spec.pr_ms / 1000 + 0.05, 0.022, spec.p_amplitude_mv, _direction(55, 0.2))
        _qrs_t(heart, spec, r, ventricular=False)
    vector = heart.vector + _atrial_activity(spec, heart.t, rng)
    signals = vector @ _lead_matrix().T + rng.normal(0, spec.noise_mv, (heart.t.size, len(STANDARD_LEADS)))
    return ECGRecord(signals, spec.fs, list(STANDARD_LEADS), source="synthetic", age=spec.age, sex=spec.sex,
                     metadata={"simulation": dict(spec.__dict__)})
