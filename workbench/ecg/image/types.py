"""Typed results shared by the image loader, quality gate, renderer and digitizer."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..record import ECGRecord

#: layouts the renderer draws and the digitizer recognises; value = (rows of leads, columns, rhythm strips)
LAYOUTS: dict[str, tuple[tuple[tuple[str, ...], ...], tuple[str, ...]]] = {
    # rows of lead names (columns left to right), then the rhythm-strip leads (full 10 s each)
    "3x4": ((("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6")), ()),
    "3x4+1": ((("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6")), ("II",)),
    "3x4+3": ((("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6")), ("V1", "II", "V5")),
    "6x2": ((("I", "V1"), ("II", "V2"), ("III", "V3"), ("aVR", "V4"), ("aVL", "V5"), ("aVF", "V6")), ()),
    "12x1": ((("I",), ("II",), ("III",), ("aVR",), ("aVL",), ("aVF",), ("V1",), ("V2",), ("V3",), ("V4",), ("V5",), ("V6",)), ()),
}
PAGE_SECONDS = 10.0


@dataclass
class Calibration:
    """Pixel scale and paper settings; ``*_source`` says whether a value was measured or assumed."""

    px_per_mm: float
    speed_mm_s: float = 25.0
    gain_mm_mv: float = 10.0
    speed_source: str = "assumed (standard 25 mm/s)"
    gain_source: str = "assumed (standard 10 mm/mV)"
    rotation_deg: float = 0.0
    px_per_mm_y: float | None = None  # vertical scale when it differs from the horizontal (photos)

    @property
    def px_per_s(self) -> float:
        return self.px_per_mm * self.speed_mm_s

    @property
    def px_per_mv(self) -> float:
        return (self.px_per_mm_y or self.px_per_mm) * self.gain_mm_mv

    def to_dict(self) -> dict[str, Any]:
        return {"px_per_mm": round(self.px_per_mm, 3), "px_per_mm_y": None if self.px_per_mm_y is None else round(self.px_per_mm_y, 3), "speed_mm_s": self.speed_mm_s, "gain_mm_mv": self.gain_mm_mv,
                "speed_source": self.speed_source, "gain_source": self.gain_source, "rotation_deg": round(self.rotation_deg, 2)}


@dataclass
class LeadPanel:
    """Where one lead's trace lies: its box (x0, y0, x1, y1) in image pixels, baseline row, and time span."""

    lead: str
    box: tuple[int, int, int, int]
    baseline_y: float
    t0_s: float
    duration_s: float
    rhythm_strip: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"lead": self.lead, "box": list(self.box), "baseline_y": round(self.baseline_y, 1), "t0_s": self.t0_s,
                "duration_s": self.duration_s, "rhythm_strip": self.rhythm_strip}


@dataclass
class Layout:
    name: str  # one of LAYOUTS, or "partial"
    panels: list[LeadPanel]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "panels": [p.to_dict() for p in self.panels]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Layout:
        """A layout back from `to_dict` (the digitizer's layout kept in a stored ECG analysis)."""
        panels = [LeadPanel(str(p["lead"]), tuple(int(v) for v in p["box"]), float(p["baseline_y"]), float(p["t0_s"]),
                            float(p["duration_s"]), bool(p.get("rhythm_strip", False))) for p in data.get("panels", [])]
        return cls(str(data.get("name", "partial")), panels)


@dataclass
class ImageQuality:
    """Verdict of the quality gate; ``usable`` False means: do not digitize, say ``verdict`` instead."""

    usable: bool
    verdict: str
    metrics: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"usable": self.usable, "verdict": self.verdict, "metrics": {k: round(float(v), 4) for k, v in self.metrics.items()},
                "problems": self.problems}


@dataclass
class RenderedECG:
    """A rendered page and its ground truth (for tests and the digitization benchmark)."""

    image: np.ndarray  # H x W x 3 uint8 RGB
    layout: Layout
    calibration: Calibration
    record: ECGRecord  # the signals drawn (mV), 500 Hz
    traces: dict[str, np.ndarray]  # per panel key "<lead>" or "<lead>@rhythm": (n, 2) x, y pixel of each drawn sample
    trace_mask: np.ndarray | None = None  # H x W bool: pixels covered by traces (before augmentation)
    #: 3x3 homography from clean-page pixel coordinates (traces, boxes, trace_mask) to ``image`` (identity if none)
    transform: np.ndarray = field(default_factory=lambda: np.eye(3))
    augmentations: list[str] = field(default_factory=list)  # names applied to ``image``, in order
