"""The result of reading a page's device-printed text, and the pixel box it is located by."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in image pixels


@dataclass
class DevicePrinted:
    """What the recording device printed outside the traces, as read by OCR.

    ``measurements`` uses the workbench's keys (heart_rate in bpm, intervals in ms, axes in degrees). The
    device's QTc goes under ``qtc_bazett`` when the page names Bazett or names no correction (carts print
    Bazett unless set otherwise; ``qtc_correction_source`` says which case it was), and under
    ``qtc_fridericia`` / ``qtc_hodges`` / ``qtc_framingham`` when the page names that correction.
    """

    measurements: dict[str, float] = field(default_factory=dict)
    statements: list[str] = field(default_factory=list)
    speed_mm_s: float | None = None
    gain_mm_mv: float | None = None
    lead_labels: list[tuple[str, Box]] = field(default_factory=list)
    raw: list[tuple[str, Box, float]] = field(default_factory=list)
    seconds: float = 0.0
    qtc_correction: str | None = None
    qtc_correction_source: str = "not printed"
    regions: list[Box] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def found(self) -> bool:
        """True when the page carries device measurements or statements."""
        return bool(self.measurements or self.statements)

    def to_dict(self) -> dict[str, Any]:
        return {
            "measurements": dict(self.measurements), "statements": list(self.statements),
            "speed_mm_s": self.speed_mm_s, "gain_mm_mv": self.gain_mm_mv,
            "qtc_correction": self.qtc_correction, "qtc_correction_source": self.qtc_correction_source,
            "lead_labels": [{"lead": t, "box": list(b)} for t, b in self.lead_labels],
            "raw": [{"text": t, "box": list(b), "score": round(float(s), 3)} for t, b, s in self.raw],
            "regions": [list(r) for r in self.regions], "seconds": round(self.seconds, 3), "notes": list(self.notes),
        }


def to_box(points: np.ndarray) -> Box:
    """The integer box enclosing a set of points (e.g. the four corners of an OCR text box)."""
    p = np.asarray(points, dtype=float).reshape(-1, 2)
    return (int(math.floor(p[:, 0].min())), int(math.floor(p[:, 1].min())),
            int(math.ceil(p[:, 0].max())), int(math.ceil(p[:, 1].max())))
