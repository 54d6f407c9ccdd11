"""Image -> calibrated 12-lead `ECGRecord`: the one entry point for paper ECGs.

Steps: straighten the page, measure the grid (pixels per mm), separate the trace from grid and text,
find the rows and the layout, follow each trace, and convert pixels to mV and seconds. Every sample keeps
its pixel position in the original image, so findings can be drawn back onto the image.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from scipy.signal import savgol_filter

from ...errors import ImageQualityError
from ..leads import STANDARD_LEADS
from ..record import ECGRecord
from .extract import follow_trace
from .grid import GridEstimate, estimate_rotation, grid_period, ink_map, rotate, trace_mask
from .layout import Row, assign_layout, find_pulse, find_rows
from .page import flatten_sheet
from .calibrate import calibrate
from .types import PAGE_SECONDS, Calibration, Layout

log = logging.getLogger(__name__)

FS = 500.0


@dataclass
class DigitizedECG:
    record: ECGRecord
    layout: Layout
    calibration: Calibration
    confidence: dict[str, float]
    pixel_map: dict[str, np.ndarray]  # lead -> (n_samples, 2) x, y in the original image (NaN where not drawn)
    warnings: list[str] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
    device_printed: Any = None  # DevicePrinted when the page carries the recording device's own measurements

    def to_dict(self) -> dict[str, Any]:
        return {"layout": self.layout.to_dict(), "calibration": self.calibration.to_dict(),
                "lead_confidence": {k: round(v, 3) for k, v in self.confidence.items()}, "warnings": self.warnings, **self.extras}


def digitize(image: np.ndarray, *, layout_name: str | None = None, speed_mm_s: float | None = None,
             gain_mm_mv: float | None = None) -> DigitizedECG:
    """Digitize an RGB page (H x W x 3 uint8) into a 500 Hz record with one column per standard lead."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ImageQualityError("Expected a colour (RGB) image.")
    flat, to_flat = flatten_sheet(image)
    angle = estimate_rotation(ink_map(flat))
    straight, matrix = rotate(flat, angle)
    to_original = np.linalg.inv(np.vstack([matrix, [0.0, 0.0, 1.0]]) @ to_flat)  # straightened -> original pixels
    ink = ink_map(straight)
    grid = grid_period(straight)
    provisional = _provisional_scale(grid, straight.shape[1])
    mask = trace_mask(ink, provisional)
    rows = find_rows(mask, provisional)
    thin_pen = len(rows) < 3
    if thin_pen:
        thin_mask = trace_mask(ink, provisional, thin_pen=True)
        thin_rows = find_rows(thin_mask, provisional)
        if len(thin_rows) > len(rows) and (not rows or len(thin_rows) in (3, 4, 6, 12)):
            mask, rows = thin_mask, thin_rows
        else:
            thin_pen = False
    if not rows:
        raise ImageQualityError("No ECG traces were found in this image.")
    layout_guess = layout_name or ("partial" if len(rows) not in (3, 4, 6, 12) else "standard")
    pulses = [find_pulse(mask, r, provisional) for r in rows]
    calibration, notes = _calibrate(grid, rows, pulses, layout_guess != "partial", angle)
    if abs(calibration.px_per_mm / provisional - 1) > 0.3:  # the first scale was wrong: redo the scale-dependent steps
        mask = trace_mask(ink, calibration.px_per_mm, thin_pen=thin_pen)
        rows = find_rows(mask, calibration.px_per_mm)
        if not rows:
            raise ImageQualityError("No ECG traces were found in this image.")
        pulses = [find_pulse(mask, r, calibration.px_per_mm) for r in rows]
        calibration, notes = _calibrate(grid, rows, pulses, layout_guess != "partial", angle)
    calibration = _apply_printed(calibration, speed_mm_s, gain_mm_mv, notes)
    _anchor_time_axis(rows, calibration)
    layout = assign_layout(rows, layout_name)
    stroke = _stroke_width(mask)
    follow_mask = trace_mask(ink, calibration.px_per_mm, faint_tips=True, thin_pen=thin_pen)
    signals, pixel_map, confidence = _extract_panels(follow_mask, layout, calibration, stroke, to_original)
    _align_columns_to_rhythm_strip(signals, pixel_map, layout)
    leads = [lead for lead in STANDARD_LEADS if lead in signals] + [k for k in signals if k not in STANDARD_LEADS]
    record = ECGRecord(np.column_stack([signals[k] for k in leads]), FS, leads, source="image",
                       metadata={"coverage": {k: _coverage(signals[k]) for k in leads}, "digitized": True})
    warnings = notes
    if layout.name == "partial":
        warnings.append(f"{len(rows)} trace row(s) found: not a standard 12-lead layout; leads are named by row.")
    log.info("digitized: layout %s, %.2f px/mm, rotation %.1f deg", layout.name, calibration.px_per_mm, angle)
    return DigitizedECG(record, layout, calibration, confidence, pixel_map, warnings)


def _apply_printed(cal: Calibration, speed: float | None, gain: float | None, notes: list[str]) -> Calibration:
    """Paper settings printed on the page (read by OCR) win over what the image geometry suggested."""
    if speed and abs(speed - cal.speed_mm_s) / speed > 0.02:
        notes.append(f"Paper speed {speed:g} mm/s printed on the page is used.")
        cal.speed_mm_s, cal.speed_source = speed, "printed on the page"
    elif speed:
        cal.speed_source = f"{speed:g} mm/s printed on the page"
    if gain and not cal.gain_source.startswith("calibration pulse"):
        cal.gain_mm_mv, cal.gain_source = gain, "printed on the page"
    return cal


def _provisional_scale(grid: GridEstimate, width_px: int) -> float:
    """A first px/mm for finding rows: the grid reading (or its harmonic) nearest to a printed page's width
    (~280 mm); corrected later from the rows themselves."""
    page_guess = max(1.5, width_px / 280.0)
    if grid.px_per_mm is None:
        return page_guess
    return min((grid.px_per_mm * f for f in (1.0, 2.0, 5.0, 0.5, 0.2)), key=lambda c: abs(np.log(c / page_guess)))


def _calibrate(grid: GridEstimate, rows: list[Row], pulses: list, standard: bool, angle: float) -> tuple[Calibration, list[str]]:
    """Trim calibration pulses off the rows, align the rows' time axis, then scale the page."""
    heights = []
    for row, pulse in zip(rows, pulses):
        row.pulse = pulse
        if pulse:
            row.x0 = pulse[1] + 2  # the trace starts after the pulse
            heights.append(pulse[2])
    _align_rows(rows)
    page_px = float(max(r.x1 - r.x0 for r in rows))
    return calibrate(grid, page_px, float(np.median(heights)) if heights else None, standard_page=standard, rotation_deg=angle)


def _anchor_time_axis(rows: list[Row], cal: Calibration) -> None:
    """A full row ends at 10 s; its start is where the pulse's return to baseline merges with the trace,
    so the start is placed 10 s before the end (when the trace is that long)."""
    for row in rows:
        start = int(round(row.x1 - PAGE_SECONDS * cal.px_per_s))
        if abs(start - row.x0) < 0.05 * (row.x1 - row.x0) and (row.pulse is None or start >= row.pulse[1]):
            row.x0 = start


def _align_rows(rows: list[Row]) -> None:
    """Rows of one page share the time axis: use a common start (after pulses) and end."""
    start = int(np.median([r.x0 for r in rows]))
    end = int(np.max([r.x1 for r in rows]))
    for r in rows:
        if abs(r.x0 - start) < 0.05 * (end - start):
            r.x0 = start
        if abs(r.x1 - end) < 0.05 * (end - start):
            r.x1 = end


def _stroke_width(mask: np.ndarray) -> float:
    """Typical pen width: the median vertical run length of trace ink."""
    sample = mask[:, :: max(1, mask.shape[1] // 400)]
    edges = np.diff(np.vstack([np.zeros((1, sample.shape[1]), bool), sample, np.zeros((1, sample.shape[1]), bool)]).astype(np.int8), axis=0)
    starts, stops = np.nonzero(edges == 1), np.nonzero(edges == -1)
    lengths = stops[0] - starts[0] if starts[0].size == stops[0].size else np.array([2])
    return float(np.clip(np.median(lengths) if lengths.size else 2.0, 1.0, 8.0))


def _qrs_envelope(x: np.ndarray) -> np.ndarray:
    """Where the QRS complexes are: smoothed absolute slope (NaN-free, zero where nothing was drawn)."""
    slope = np.abs(np.diff(np.nan_to_num(x), prepend=0.0))
    slope[~np.isfinite(x)] = 0.0
    return np.convolve(slope, np.ones(10) / 10, mode="same")


def _align_columns_to_rhythm_strip(signals: dict[str, np.ndarray], pixels: dict[str, np.ndarray], layout: Layout,
                                   max_shift_s: float = 0.08) -> None:
    """Shift each column of a 3x4 page in time so its QRS complexes coincide with the rhythm strip's.

    The leads of one printed page are simultaneous, but a column's start is placed from pixel positions
    that are uncertain by a few pixels (tens of ms at screen resolution); the rhythm strip under the grid
    records the same beats, so the best cross-correlation of QRS slopes fixes each column's offset.
    """
    strip = next((p.lead for p in layout.panels if p.rhythm_strip), None)
    if strip is None or strip not in signals:
        return
    reference = _qrs_envelope(signals[strip])
    max_shift = int(max_shift_s * FS)
    columns: dict[float, list[str]] = {}
    for panel in layout.panels:
        if not panel.rhythm_strip and panel.lead in signals and panel.duration_s < PAGE_SECONDS:
            columns.setdefault(panel.t0_s, []).append(panel.lead)
    for leads in columns.values():
        envelope = sum(_qrs_envelope(signals[lead]) / (np.nanmax(np.abs(signals[lead])) + 1e-9) for lead in leads)
        scores = [float(np.dot(np.roll(envelope, k), reference)) for k in range(-max_shift, max_shift + 1)]
        shift = int(np.argmax(scores)) - max_shift
        if shift == 0:
            continue
        for lead in leads:
            signals[lead] = _shifted(signals[lead], shift)
            pixels[lead] = np.column_stack([_shifted(pixels[lead][:, 0], shift), _shifted(pixels[lead][:, 1], shift)])


def _shifted(x: np.ndarray, k: int) -> np.ndarray:
    out = np.full_like(x, np.nan)
    if k > 0:
        out[k:] = x[:-k]
    else:
        out[:k] = x[-k:]
    return out


def _smooth_pixels(y: np.ndarray, samples_per_px: float) -> np.ndarray:
    """Remove the pixel staircase (a trace drawn on a coarse grid of pixels steps by whole pixels) with a
    Savitzky-Golay fit over about three pixel columns, which keeps the peaks a moving average would flatten."""
    window = int(round(3 * samples_per_px)) | 1
    if window < 5 or y.size <= window:
        return y
    return savgol_filter(y, window, 2)


def _coverage(signal: np.ndarray) -> list[float]:
    finite = np.flatnonzero(np.isfinite(signal))
    return [round(finite[0] / FS, 3), round((finite[-1] + 1) / FS, 3)] if finite.size else [0.0, 0.0]


def _extract_panels(mask: np.ndarray, layout: Layout, cal: Calibration, stroke: float,
                    to_original: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, float]]:
    n = int(PAGE_SECONDS * FS)
    signals: dict[str, np.ndarray] = {}
    pixels: dict[str, np.ndarray] = {}
    confidence: dict[str, float] = {}
    for panel in layout.panels:
        x0, y0, x1, y1 = panel.box
        band = mask[y0:y1, x0:x1]
        if band.shape[1] < 5:
            continue
        xs, ys = follow_trace(band, panel.baseline_y - y0, max_jump_px=6 * cal.px_per_mm, stroke_px=stroke)
        coverage = len(set(np.round(xs).astype(int))) / band.shape[1] if xs.size else 0.0
        if xs.size < 10:
            continue
        t = panel.t0_s + xs / cal.px_per_s
        grid_t = np.arange(n) / FS
        inside = (grid_t >= panel.t0_s) & (grid_t < panel.t0_s + panel.duration_s) & (grid_t >= t[0]) & (grid_t <= t[-1])
        order = np.argsort(t, kind="stable")
        y_abs = _smooth_pixels(np.interp(grid_t[inside], t[order], ys[order]), FS / cal.px_per_s) + y0
        x_abs = x0 + (grid_t[inside] - panel.t0_s) * cal.px_per_s
        baseline = float(np.median(y_abs))  # isoelectric level: where the trace spends most of its time
        mv = np.full(n, np.nan)
        mv[inside] = (baseline - y_abs) / cal.px_per_mv
        pts = np.full((n, 2), np.nan)
        homogeneous = np.column_stack([x_abs, y_abs, np.ones(x_abs.size)])
        mapped = homogeneous @ to_original.T  # back to original image pixels
        pts[inside] = mapped[:, :2] / mapped[:, 2:3]
        key = panel.lead
        if key in signals and not panel.rhythm_strip:
            continue  # the rhythm strip already gave this lead its full 10 s
        if panel.rhythm_strip or key not in signals:
            signals[key], pixels[key] = mv, pts
            confidence[key] = float(np.clip(coverage, 0.0, 1.0))
    return signals, pixels, confidence
