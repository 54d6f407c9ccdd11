"""Pixels -> mm, seconds and millivolts, with the source of every number said out loud.

Three clues, each with a weakness: the grid period is precise but can be read at a harmonic (2x, 5x);
the page of a standard layout spans 10 s, which fixes time exactly but not the grid; the calibration
pulse is 1 mV by definition, which fixes the gain when it is drawn and not clipped. Paper speed 25 mm/s
and gain 10 mm/mV are assumed only when nothing on the page says otherwise (criteria.md, paper conventions).
"""
from __future__ import annotations

import numpy as np

from ...errors import ImageQualityError
from .grid import GridEstimate
from .types import PAGE_SECONDS, Calibration

STANDARD_SPEED = 25.0
STANDARD_GAINS = (5.0, 10.0, 20.0)
_HARMONICS = (1.0, 2.0, 5.0, 0.5, 0.2, 2.5, 0.4, 3.0, 1 / 3, 5 / 3, 0.6)


def _harmonic_near(value: float | None, reference: float, tolerance: float) -> float | None:
    """The reading, or the harmonic of it, that agrees with ``reference`` within ``tolerance``; else None."""
    if value is None:
        return None
    best = min((value * f for f in _HARMONICS), key=lambda c: abs(np.log(c / reference)))
    return best if _near(best, reference, tolerance) else None


def _near(value: float, target: float, tolerance: float) -> bool:
    return abs(np.log(value / target)) <= np.log(1 + tolerance)


def calibrate(grid: GridEstimate, page_px: float | None, pulse_px: float | None, *, standard_page: bool,
              rotation_deg: float = 0.0) -> tuple[Calibration, list[str]]:
    """Scale of the page. ``page_px``: width of the trace rows in pixels; ``pulse_px``: pulse height in pixels."""
    notes: list[str] = []
    page_mm_per_px = page_px / (PAGE_SECONDS * STANDARD_SPEED) if (page_px and standard_page) else None
    if grid.px_per_mm is not None:
        px_per_mm, mm_source = grid.px_per_mm, f"grid ({grid.source})"
        reference = page_mm_per_px or (pulse_px / 10.0 if pulse_px else None)
        if reference is not None:
            best = min((grid.px_per_mm * f for f in _HARMONICS), key=lambda c: abs(np.log(c / reference)))
            if _near(best, reference, 0.3):
                px_per_mm = best
            else:
                px_per_mm, mm_source = reference, "page width (grid period inconsistent with the page)"
    elif pulse_px:
        px_per_mm, mm_source = pulse_px / 10.0, "calibration pulse (no grid found; assumes 10 mm/mV)"
    elif page_mm_per_px:
        px_per_mm, mm_source = page_mm_per_px, "page width (no grid found; assumes 10 s at 25 mm/s)"
    else:
        raise ImageQualityError("Neither an ECG grid nor a standard page layout was found, so the image cannot be scaled.")

    speed, speed_source = STANDARD_SPEED, "assumed (standard 25 mm/s)"
    if page_px and standard_page:
        measured = page_px / PAGE_SECONDS / px_per_mm
        if _near(measured, STANDARD_SPEED, 0.2):
            # the grid is the precise ruler; the page only confirms the speed (its ends are fuzzy by a few px)
            exact = grid.px_per_mm is not None and mm_source.startswith("grid")
            speed = STANDARD_SPEED if exact else measured
            speed_source = "25 mm/s, confirmed by a 10 s page on the grid" if exact else "page of 10 s (standard layout)"
        else:
            notes.append(f"The rows span {page_px / px_per_mm:.0f} mm, not the 250 mm of 10 s at 25 mm/s: 25 mm/s assumed.")

    gain, gain_source = 10.0, "assumed (standard 10 mm/mV)"
    if pulse_px:
        measured = pulse_px / px_per_mm
        nearest = min(STANDARD_GAINS, key=lambda g: abs(np.log(measured / g)))
        if _near(measured, nearest, 0.25):
            gain, gain_source = measured, f"calibration pulse ({measured:.1f} mm = 1 mV; nominal {nearest:.0f} mm/mV)"
        else:
            notes.append(f"The calibration pulse measures {measured:.1f} mm, not a standard gain: 10 mm/mV assumed.")
    # a photo flattened by its corners may be stretched differently along x and y: time uses the
    # horizontal grid reading, amplitude the vertical one, when each agrees with the overall scale
    x_scale = _harmonic_near(grid.x, px_per_mm, 0.12) if mm_source.startswith("grid") else None
    y_scale = _harmonic_near(grid.y, px_per_mm, 0.12) if mm_source.startswith("grid") else None
    if x_scale is not None:
        px_per_mm = x_scale
    if pulse_px and gain_source.startswith("calibration pulse"):
        y_scale = None  # the pulse already fixes px per mV
    elif y_scale is not None and y_scale != px_per_mm:
        gain_source += f"; vertical scale {y_scale:.2f} px/mm from the grid"
    calibration = Calibration(px_per_mm=float(px_per_mm), speed_mm_s=float(speed), gain_mm_mv=float(gain),
                              speed_source=speed_source, gain_source=gain_source, rotation_deg=rotation_deg,
                              px_per_mm_y=None if y_scale is None else float(y_scale))
    notes.insert(0, f"Scale {px_per_mm:.2f} px/mm from the {mm_source}; speed {speed_source}; gain {gain_source}.")
    return calibration, notes
