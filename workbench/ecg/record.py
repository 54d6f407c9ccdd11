"""The one ECG record type every reader returns and every analysis consumes."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from scipy import signal as sps

from ..errors import SignalError
from .leads import STANDARD_LEADS, normalize_lead_name, standard_order

Sex = Literal["F", "M"]


@dataclass(eq=False)
class ECGRecord:
    """A multi-lead recording in millivolts.

    ``signals`` has shape (n_samples, n_leads), columns in the order of ``leads`` (standard spellings).
    ``labels`` holds diagnosis codes found in the file (e.g. SNOMED CT ``# Dx:`` of PhysioNet headers),
    kept for evaluation only: analysis never reads them.
    """

    signals: np.ndarray
    fs: float
    leads: list[str]
    source: str = "unknown"
    path: str | None = None
    age: float | None = None
    sex: Sex | None = None
    labels: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        sig = np.asarray(self.signals, dtype=np.float64)
        if sig.ndim == 1:
            sig = sig[:, None]
        if sig.ndim != 2:
            raise SignalError(f"An ECG must be a table of samples x leads; got an array with {sig.ndim} dimensions.")
        self.leads = [normalize_lead_name(lead) for lead in self.leads]
        if sig.shape[1] != len(self.leads):
            raise SignalError(f"The recording has {sig.shape[1]} signal columns but {len(self.leads)} lead names.")
        if len(set(self.leads)) != len(self.leads):
            raise SignalError(f"Lead names are repeated: {', '.join(self.leads)}.")
        if not np.isfinite(self.fs) or not 1 <= float(self.fs) <= 100_000:
            raise SignalError(f"Sampling rate {self.fs} Hz is not plausible for an ECG.")
        if sig.shape[0] == 0:
            raise SignalError("The recording contains no samples.")
        self.signals = sig
        self.fs = float(self.fs)
        if self.sex is not None and self.sex not in ("F", "M"):
            raise SignalError(f"Sex must be 'F' or 'M', not {self.sex!r}.")

    # ------------------------------------------------------------------ basic views
    @property
    def n_samples(self) -> int:
        return int(self.signals.shape[0])

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs

    @property
    def time(self) -> np.ndarray:
        return np.arange(self.n_samples) / self.fs

    def has(self, lead: str) -> bool:
        return normalize_lead_name(lead) in self.leads

    def lead(self, name: str) -> np.ndarray:
        """The samples of one lead (mV)."""
        key = normalize_lead_name(name)
        if key not in self.leads:
            raise KeyError(f"Lead {name} is not in this recording ({', '.join(self.leads)}).")
        return self.signals[:, self.leads.index(key)]

    def as_dict(self) -> dict[str, np.ndarray]:
        return {lead: self.signals[:, i] for i, lead in enumerate(self.leads)}

    def summary(self) -> dict[str, Any]:
        return {
            "leads": list(self.leads),
            "fs": self.fs,
            "duration_s": round(self.duration_s, 3),
            "source": self.source,
            "path": self.path,
            "age": self.age,
            "sex": self.sex,
            "derived_leads": list(self.metadata.get("derived_leads", [])),
        }

    # ------------------------------------------------------------------ transformations (return new records)
    def select(self, leads: list[str]) -> ECGRecord:
        idx = [self.leads.index(normalize_lead_name(lead)) for lead in leads]
        return replace(self, signals=self.signals[:, idx], leads=[self.leads[i] for i in idx], metadata=dict(self.metadata))

    def reordered(self) -> ECGRecord:
        """Standard 12 leads first in textbook order, extras after."""
        return self.select(standard_order(self.leads))

    def window(self, start_s: float, end_s: float) -> ECGRecord:
        """A time slice [start_s, end_s) of the recording; ``metadata['offset_s']`` keeps its position."""
        a = max(0, int(round(start_s * self.fs)))
        b = min(self.n_samples, int(round(end_s * self.fs)))
        if b <= a:
            raise SignalError(f"Empty window {start_s:.2f}-{end_s:.2f} s in a {self.duration_s:.2f} s recording.")
        meta = dict(self.metadata)
        meta["offset_s"] = meta.get("offset_s", 0.0) + a / self.fs
        return replace(self, signals=self.signals[a:b], metadata=meta)

    def resample(self, fs: float) -> ECGRecord:
        """Polyphase resampling (anti-aliased) to ``fs`` Hz; a no-op when the rate already matches."""
        if abs(fs - self.fs) < 1e-9:
            return self
        from fractions import Fraction

        ratio = Fraction(fs / self.fs).limit_denominator(1000)
        sig = self.signals
        finite = np.isfinite(sig)
        if not finite.all():  # resample_poly spreads NaN over the whole filter length: carry a mask instead
            sig = np.where(finite, sig, 0.0)
        out = sps.resample_poly(sig, ratio.numerator, ratio.denominator, axis=0)
        if not finite.all():
            bad = sps.resample_poly((~finite).astype(float), ratio.numerator, ratio.denominator, axis=0) > 0.01
            out[bad] = np.nan
        return replace(self, signals=out, fs=float(fs), metadata=dict(self.metadata))

    def with_derived_limb_leads(self) -> ECGRecord:
        """Add any missing I/II/III/aVR/aVL/aVF computable from two of I, II, III (Einthoven, Goldberger).

        The added names are listed in ``metadata['derived_leads']``.
        """
        have = {lead: self.lead(lead) for lead in ("I", "II", "III") if self.has(lead)}
        if len(have) < 2 or all(self.has(lead) for lead in STANDARD_LEADS[:6]):
            return self
        lead_i = have.get("I", have.get("II", 0) - have.get("III", 0))
        lead_ii = have.get("II", have.get("I", 0) + have.get("III", 0))
        derived = {
            "I": lead_i,
            "II": lead_ii,
            "III": lead_ii - lead_i,
            "aVR": -(lead_i + lead_ii) / 2.0,
            "aVL": lead_i - lead_ii / 2.0,
            "aVF": lead_ii - lead_i / 2.0,
        }
        added = [lead for lead in STANDARD_LEADS[:6] if not self.has(lead)]
        signals = np.column_stack([self.signals] + [derived[lead] for lead in added])
        meta = dict(self.metadata)
        meta["derived_leads"] = list(meta.get("derived_leads", [])) + added
        return replace(self, signals=signals, leads=self.leads + added, metadata=meta).reordered()
