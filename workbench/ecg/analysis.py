"""One entry point, `analyze`: an ECG record in, measurements + cited findings + quality out.

Records longer than ~15 s (Holter-like) are analysed in 10 s windows: morphology and intervals come from
the cleanest window, and rhythm is followed window by window into episodes (e.g. paroxysmal AF).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import DISCLAIMER, __version__
from ..config import Settings, get_settings
from ..errors import SignalError
from .beats import detect_r_peaks
from .filters import diagnostic_filter
from .leads import STANDARD_LEADS
from .episodes import AF_MIN_S, Episode, af_score_over_recording, follow_rhythm, windows
from .findings import Finding, RuleContext, evaluate_rules
from .measurements import Measurement
from .quality import LeadQuality, add_beat_noise, lead_quality, limb_reversal
from .record import ECGRecord
from .segment import Segment, analyse_segment
from .tables import load_table

log = logging.getLogger(__name__)

@dataclass
class ECGAnalysis:
    """The result of `analyze`; `to_dict()` is the documented JSON (docs/ECG_JSON.md)."""

    record: dict[str, Any]
    measurements: dict[str, Measurement]
    leads: dict[str, dict[str, Measurement]]
    findings: list[Finding]
    scores: dict[str, float | None]
    not_assessed: dict[str, str]
    quality: dict[str, Any]
    episodes: list[Episode] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    segment: Segment | None = field(default=None, repr=False)
    image: dict[str, Any] | None = None  # how a picture was digitized (layout, calibration, confidence, device text)

    def finding(self, rule: str) -> Finding | None:
        return next((f for f in self.findings if f.rule == rule), None)

    @property
    def codes(self) -> set[str]:
        return {f.code for f in self.findings}

    def to_dict(self) -> dict[str, Any]:
        out = {
            "record": self.record,
            "measurements": {k: m.to_dict() for k, m in self.measurements.items()},
            "leads": {lead: {k: m.to_dict() for k, m in values.items()} for lead, values in self.leads.items()},
            "findings": [f.to_dict() for f in self.findings],
            "scores": self.scores,
            "not_assessed": self.not_assessed,
            "quality": self.quality,
            "info": self.info,
            "disclaimer": DISCLAIMER,
        }
        if self.episodes is not None:
            out["episodes"] = [e.to_dict() for e in self.episodes]
        if self.image is not None:
            out["image"] = self.image
        return to_plain(out)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ECGAnalysis:
        """Rebuild an analysis from its JSON (without the signal segment), so pipeline checkpoints and the case
        store can hold plain JSON and later steps still get typed findings and measurements."""
        def measure(item: dict[str, Any]) -> Measurement:
            return Measurement(item.get("value"), item.get("unit", ""), item.get("reason"))

        return cls(
            record=data.get("record", {}),
            measurements={k: measure(v) for k, v in data.get("measurements", {}).items()},
            leads={lead: {k: measure(v) for k, v in values.items()} for lead, values in data.get("leads", {}).items()},
            findings=[Finding(f["code"], f["label"], f["score"], f.get("evidence", {}), f.get("citation", ""), f.get("rule", ""))
                      for f in data.get("findings", [])],
            scores=data.get("scores", {}), not_assessed=data.get("not_assessed", {}), quality=data.get("quality", {}),
            episodes=[Episode(**e) for e in data["episodes"]] if data.get("episodes") is not None else None,
            info=data.get("info", {}), image=data.get("image"))


def to_plain(obj: Any) -> Any:
    """Plain Python types only (numpy scalars in rule evidence become float/int/bool) so any consumer can serialise."""
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _segment_quality(seg: Segment) -> float:
    """Higher is better: many beats in the median, low residual noise."""
    if seg.median is None:
        return -np.inf
    return float(seg.median.n_beats - 20.0 * np.median(seg.median.noise))


def _context(seg: Segment, usable: set[str], age: float | None, sex: str | None) -> RuleContext:
    return RuleContext(seg.measurements, seg.leads, seg.features, age=age, sex=sex, usable_leads=usable)


def find_r_peaks(record: ECGRecord, *, settings: Settings | None = None) -> np.ndarray:
    """R-peak sample indices at the record's own sampling rate (the detector `analyze` uses)."""
    settings = settings or get_settings()
    rec = record.resample(settings.analysis_fs)
    filtered = diagnostic_filter(rec.signals, rec.fs, settings.mains_hz)
    usable = np.array([q.usable for q in lead_quality(rec.signals, filtered, rec.leads, load_table("delineation")["quality"], rec.fs, rec.metadata.get("coverage"))])
    peaks = detect_r_peaks(filtered, rec.fs, usable if usable.any() else None)
    return np.round(peaks * record.fs / rec.fs).astype(int)


def analyze(record: ECGRecord, *, age: float | None = None, sex: str | None = None, settings: Settings | None = None) -> ECGAnalysis:
    """Measure a record and state cited findings. ``age``/``sex`` override what the file says."""
    settings = settings or get_settings()
    age = age if age is not None else record.age
    sex = sex if sex is not None else record.sex
    if sex is not None and sex not in ("F", "M"):
        raise SignalError(f"Sex must be F or M, not {sex!r}.")
    if age is not None and not 0 <= age <= 130:
        raise SignalError(f"Age {age} is not plausible.")
    if record.duration_s > settings.max_record_minutes * 60:
        raise SignalError(f"The recording lasts {record.duration_s / 60:.0f} min; at most {settings.max_record_minutes:.0f} min can be analysed at once.",
                          hint="Split it into shorter parts (or raise WORKBENCH_MAX_RECORD_MINUTES).")
    if not np.isfinite(record.signals).any():
        raise SignalError("The recording contains no valid samples (all values are missing or infinite).")
    log.info("analysing %s: %d leads, %.1f s at %.0f Hz", record.path or record.source, len(record.leads), record.duration_s, record.fs)
    rec = record.with_derived_limb_leads().resample(settings.analysis_fs)
    fs, leads = rec.fs, rec.leads
    quality_rules = load_table("delineation")["quality"]
    filtered = diagnostic_filter(rec.signals, fs, settings.mains_hz)
    lead_q: list[LeadQuality] = lead_quality(rec.signals, filtered, leads, quality_rules, fs, rec.metadata.get("coverage"))
    usable_mask = np.array([q.usable for q in lead_q])
    if not usable_mask.any():
        problems = "; ".join(f"{q.lead}: {', '.join(q.problems)}" for q in lead_q)
        raise SignalError(f"No lead carries a usable ECG signal ({problems}).", hint="Check the electrodes and the file.")
    peaks = detect_r_peaks(filtered, fs, usable_mask)
    log.info("%d beats detected on %d usable leads", peaks.size, int(usable_mask.sum()))
    segments = [analyse_segment(filtered, fs, leads, peaks, a, b, usable_mask) for a, b in windows(rec.n_samples, fs)]
    main = max(segments, key=_segment_quality)
    add_beat_noise(lead_q, main.median, quality_rules)
    # per-lead criteria are defined for the standard and right/posterior chest leads, not Frank X/Y/Z
    clean = {q.lead for q in lead_q if q.usable and not any(p.startswith("noisy") for p in q.problems)}
    usable = {lead for lead in clean if _criteria_lead(lead)}
    findings, scores, not_assessed = evaluate_rules(_context(main, usable, age, sex))

    episodes = None
    if len(segments) > 1:
        window_scores = [evaluate_rules(_context(seg, usable, age, sex))[1] for seg in segments]
        episodes, slots = follow_rhythm([(seg.start_s, seg.end_s) for seg in segments], window_scores,
                                        [seg.measurements["heart_rate"].value for seg in segments], rec.duration_s)
        findings, scores = _recording_af(findings, scores, episodes, slots)

    warnings = _quality_warnings(rec, record.fs, main, lead_q)
    reversal = limb_reversal(main.leads, main.fiducials.p_on is not None)
    if reversal:
        warnings.append(reversal)
    quality = {
        "leads": {q.lead: q.to_dict() for q in lead_q},
        "usable_leads": [lead for lead in leads if lead in clean],
        "overall": "good" if not warnings and len(usable) >= min(12, len(leads)) else "acceptable" if main.median is not None else "poor",
        "warnings": warnings,
    }
    info = {
        "analysis_fs": fs, "original_fs": record.fs, "mains_hz": settings.mains_hz,
        "analysed_window_s": [round(main.start_s, 2), round(main.end_s, 2)],
        "n_beats": int(peaks.size), "median_beats": int(main.median.n_beats) if main.median else 0,
        "age": age, "sex": sex, "workbench_version": __version__,
        "fiducials_ms": _fiducials_ms(main),
    }
    return ECGAnalysis(record=rec.summary() | {"original_leads": record.leads}, measurements=main.measurements, leads=main.leads,
                       findings=sorted(findings, key=lambda f: -f.score), scores=scores, not_assessed=not_assessed,
                       quality=quality, episodes=episodes, info=info, segment=main)


def _recording_af(findings: list[Finding], scores: dict[str, float | None], episodes: list[Episode], slots: list[dict[str, float | None]]) -> tuple[list[Finding], dict[str, float | None]]:
    """Replace the AF verdict of the single best window with one over the whole recording (>= 30 s of AF)."""
    table = load_table("criteria")["atrial_fibrillation"]
    af_score = af_score_over_recording(slots)
    scores = dict(scores) | {"atrial_fibrillation": round(af_score, 4)}
    findings = [f for f in findings if f.rule != "atrial_fibrillation"]
    af_episodes = [e for e in episodes if e.rhythm == "atrial fibrillation"]
    if af_score >= 0.5:
        af_seconds = sum(e.end_s - e.start_s for e in af_episodes)
        total = episodes[-1].end_s - episodes[0].start_s
        findings.append(Finding(table["code"], table["label"], af_score,
                                {"episodes": [e.to_dict() for e in af_episodes], "af_seconds": round(af_seconds, 1),
                                 "af_burden": round(af_seconds / total, 3), "paroxysmal": af_seconds < 0.95 * total,
                                 "minimum_af_s": AF_MIN_S}, table["citation"] + "; >= 30 s of AF on a rhythm recording (ESC 2020)", "atrial_fibrillation"))
    return findings, scores


def _quality_warnings(rec: ECGRecord, original_fs: float, main: Segment, lead_q: list[LeadQuality]) -> list[str]:
    warnings = []
    if rec.duration_s < 8:
        warnings.append(f"Recording is only {rec.duration_s:.1f} s long (10 s expected): rhythm and interval measurements are unreliable.")
    if main.median is None:
        warnings.append("Fewer than two comparable beats were found: intervals and morphology could not be measured.")
    hr = main.measurements["heart_rate"].value
    fid = main.fiducials
    qrs = None if fid.qrs_on is None else (fid.qrs_off - fid.qrs_on) * 1000.0 / rec.fs  # before the plausibility filter
    limits = load_table("delineation")["plausibility"]
    if (hr is not None and not limits["hr_min_bpm"] <= hr <= limits["hr_max_bpm"]) or (qrs is not None and not limits["qrs_min_ms"] <= qrs <= limits["qrs_max_ms"]):
        warnings.append(f"Heart rate {hr or float('nan'):.0f} bpm and QRS {qrs or float('nan'):.0f} ms are not plausible at the stated sampling rate "
                        f"({original_fs:.0f} Hz): check the sampling rate of the file.")
    bad = [f"{q.lead} ({', '.join(q.problems)})" for q in lead_q if q.problems]
    if bad:
        warnings.append("Lead problems: " + "; ".join(bad))
    missing = [lead for lead in ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6") if lead not in rec.leads]
    if missing:
        warnings.append(f"Not recorded: {', '.join(missing)}; findings that need them are not assessed.")
    if rec.metadata.get("derived_leads"):
        warnings.append(f"Derived from the recorded limb leads (Einthoven/Goldberger): {', '.join(rec.metadata['derived_leads'])}.")
    return warnings


def _criteria_lead(lead: str) -> bool:
    return lead in STANDARD_LEADS or lead in ("V3R", "V4R", "V5R", "V7", "V8", "V9")


def _fiducials_ms(seg: Segment) -> dict[str, float | None]:
    mb, fid = seg.median, seg.fiducials
    if mb is None:
        return {}
    names = ("p_on", "p_peak", "p_off", "qrs_on", "qrs_off", "t_peak", "t_off")
    return {n: None if getattr(fid, n) is None else round(mb.index_to_ms(getattr(fid, n)), 1) for n in names}
