"""Rhythm over time for recordings longer than one 12-lead strip (Holter-like files).

The recording is cut into 10 s windows every 5 s; each 5 s slot takes the mean rule scores of the windows
covering it, slots with the same rhythm merge into episodes, and AF is stated for the recording when at
least 30 s of it meet the AF criteria (ESC 2020 AF guideline: an episode of >= 30 s on a single-lead
tracing is diagnostic; a full 10 s 12-lead ECG is diagnostic on its own and is handled as one window).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .tables import load_table

WINDOW_S = 10.0
STEP_S = 5.0
SINGLE_WINDOW_MAX_S = 15.0
AF_MIN_S = 30.0
#: rhythm rules in priority order, and what an episode of each is called
RHYTHMS = (("atrial_fibrillation", "atrial fibrillation"), ("atrial_flutter", "atrial flutter"),
           ("sinus_bradycardia", "sinus bradycardia"), ("sinus_tachycardia", "sinus tachycardia"), ("sinus_rhythm", "sinus rhythm"))

Scores = dict[str, float | None]


@dataclass
class Episode:
    start_s: float
    end_s: float
    rhythm: str
    code: str | None
    heart_rate: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"start_s": round(self.start_s, 2), "end_s": round(self.end_s, 2), "rhythm": self.rhythm, "code": self.code,
                "heart_rate": None if self.heart_rate is None else round(self.heart_rate, 1)}


def windows(n: int, fs: float) -> list[tuple[int, int]]:
    """Sample bounds of the analysis windows: the whole record when short, else 10 s every 5 s."""
    if n <= SINGLE_WINDOW_MAX_S * fs:
        return [(0, n)]
    size, step = int(WINDOW_S * fs), int(STEP_S * fs)
    starts = list(range(0, n - size + 1, step))
    if starts[-1] + size < n:  # the tail gets a last window ending exactly at the end
        starts.append(n - size)
    return [(a, a + size) for a in starts]


def rhythm_of(scores: Scores) -> tuple[str, str | None]:
    table = load_table("criteria")
    for name, label in RHYTHMS:
        if (scores.get(name) or 0) >= 0.5:
            return label, table[name]["code"]
    return "undetermined rhythm", None


def _slot_scores(bounds_s: list[tuple[float, float]], window_scores: list[Scores], start: float, end: float) -> Scores:
    covering = [s for (a, b), s in zip(bounds_s, window_scores) if a <= start + 1e-9 and end <= b + 1e-9]
    out: Scores = {}
    for name in window_scores[0]:
        values = [s[name] for s in covering if s.get(name) is not None]
        out[name] = float(np.mean(values)) if values else None
    return out


def follow_rhythm(bounds_s: list[tuple[float, float]], window_scores: list[Scores], heart_rates: list[float | None], duration_s: float) -> tuple[list[Episode], list[Scores]]:
    """Episodes of constant rhythm, and the rule scores of each 5 s slot."""
    slots: list[Scores] = []
    episodes: list[Episode] = []
    for k in range(math.ceil(duration_s / STEP_S - 1e-9)):
        start, end = k * STEP_S, min((k + 1) * STEP_S, duration_s)
        scores = _slot_scores(bounds_s, window_scores, start, end)
        slots.append(scores)
        rhythm, code = rhythm_of(scores)
        rates = [hr for (a, b), hr in zip(bounds_s, heart_rates) if a <= start and end <= b and hr is not None]
        hr = float(np.mean(rates)) if rates else None
        if episodes and episodes[-1].rhythm == rhythm:
            episodes[-1].end_s = end
        else:
            episodes.append(Episode(start, end, rhythm, code, hr))
    return episodes, slots


def af_score_over_recording(slots: list[Scores]) -> float:
    """>= 0.5 exactly when at least 30 s (six 5 s slots) meet the AF criteria; graded like the rule scores."""
    need = math.ceil(AF_MIN_S / STEP_S)
    af = sorted((s.get("atrial_fibrillation") or 0.0 for s in slots), reverse=True)
    if len(af) < need:  # shorter than 30 s in all: the duration criterion cannot be met
        return min(0.49, af[-1]) if af else 0.0
    return af[need - 1]
