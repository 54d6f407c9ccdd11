"""Where the leads are on the page: trace rows, the 10 s time axis, calibration pulses, lead panels."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.signal import find_peaks

from .types import LAYOUTS, PAGE_SECONDS, LeadPanel, Layout

#: layout by number of trace rows (6 rows are read as 6x2 unless lead labels say 3x4+3)
_BY_ROWS = {3: "3x4", 4: "3x4+1", 6: "6x2", 12: "12x1"}


@dataclass
class Row:
    baseline_y: float
    y0: int  # band limits (may overlap neighbours: tall complexes reach into them)
    y1: int
    x0: int  # first and last inked column of the trace (after any calibration pulse)
    x1: int
    pulse: tuple[int, int, float] | None = None  # (x_left, x_right, height_px) of the calibration pulse


def _continuity(mask: np.ndarray, y: int, half: int) -> tuple[float, int, int]:
    """Share of columns between the first and last ink of the band that hold ink: ~1 for a trace, lower for text."""
    cols = np.flatnonzero(mask[max(0, y - half): y + half + 1].any(axis=0))
    if cols.size < 2:
        return 0.0, 0, 0
    return cols.size / (cols[-1] - cols[0] + 1), int(cols[0]), int(cols[-1])


def find_rows(mask: np.ndarray, px_per_mm: float, *, min_continuity: float = 0.7) -> list[Row]:
    """Trace rows: peaks of the horizontal ink projection (the isoelectric lines), at least 8 mm apart,
    whose ink runs continuously along the row (header text, footers and QR codes are dropped)."""
    profile = uniform_filter1d(mask.sum(axis=1).astype(float), max(3, int(px_per_mm)))
    if profile.max() <= 0:
        return []
    peaks, _ = find_peaks(profile, height=0.2 * profile.max(), distance=max(5, int(8 * px_per_mm)), prominence=0.1 * profile.max())
    half = max(2, int(6 * px_per_mm))
    kept = []
    edge = max(3, int(2 * px_per_mm))  # a page or scan border is a long line, never a trace row
    for y in peaks[(peaks > edge) & (peaks < mask.shape[0] - edge)]:
        continuity, x0, x1 = _continuity(mask, int(y), half)
        if continuity >= min_continuity and x1 - x0 >= 20 * px_per_mm:
            kept.append((int(y), x0, x1))
    rows = []
    for i, (y, x0, x1) in enumerate(kept):
        up = y - kept[i - 1][0] if i > 0 else (kept[1][0] - y if len(kept) > 1 else int(20 * px_per_mm))
        down = kept[i + 1][0] - y if i + 1 < len(kept) else up
        rows.append(Row(float(y), max(0, int(y - 0.75 * up)), min(mask.shape[0], int(y + 0.75 * down)), x0, x1))
    return rows


def find_pulse(mask: np.ndarray, row: Row, px_per_mm: float) -> tuple[int, int, float] | None:
    """A calibration pulse at the start of the row: two vertical strokes ~5 mm apart joined by a flat top."""
    band = mask[row.y0: row.y1, row.x0: row.x0 + int(15 * px_per_mm)]
    if band.size == 0:
        return None
    heights = band.sum(axis=0)
    tall = np.flatnonzero(heights >= 4 * px_per_mm)
    if tall.size < 2:
        return None
    groups = np.split(tall, np.flatnonzero(np.diff(tall) > 2) + 1)
    if len(groups) < 2:
        return None
    left, right = groups[0], groups[1]
    width_mm = (right.mean() - left.mean()) / px_per_mm
    if not 2.0 <= width_mm <= 12.0:
        return None
    # height = the longest unbroken vertical stroke (ink counts would add a neighbouring row's pulse)
    height = float(np.median([_longest_run(band[:, x]) for x in np.r_[left, right]]))
    return row.x0 + int(left[0]), row.x0 + int(right[-1]), height


def _longest_run(column: np.ndarray) -> int:
    edges = np.flatnonzero(np.diff(np.r_[0, column.astype(np.int8), 0]))
    return int((edges[1::2] - edges[::2]).max()) if edges.size else 0


def assign_layout(rows: list[Row], name: str | None = None) -> Layout:
    """Lead panels for the detected rows: a standard layout by row count, else 'partial' (one lead per row)."""
    name = name or _BY_ROWS.get(len(rows), "partial")
    if name == "partial":
        panels = [LeadPanel(f"row{i + 1}", (r.x0, r.y0, r.x1, r.y1), r.baseline_y, 0.0, PAGE_SECONDS) for i, r in enumerate(rows)]
        return Layout("partial", panels)
    grid_rows, rhythm = LAYOUTS[name]
    panels: list[LeadPanel] = []
    for row, leads in zip(rows, list(grid_rows) + [(lead,) for lead in rhythm]):
        is_rhythm = len(panels) >= sum(len(r) for r in grid_rows)
        span = (row.x1 - row.x0) / len(leads)
        seconds = PAGE_SECONDS / len(leads)
        for k, lead in enumerate(leads):
            x0 = int(round(row.x0 + k * span))
            x1 = int(round(row.x0 + (k + 1) * span))
            panels.append(LeadPanel(lead, (x0, row.y0, x1, row.y1), row.baseline_y, k * seconds, seconds, rhythm_strip=is_rhythm))
    return Layout(name, panels)
