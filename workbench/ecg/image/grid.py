"""ECG paper: ink separation, rotation, grid period (pixels per mm) and the trace mask.

The grid is found from the image itself: the ink profile along rows and columns is periodic with the
1 mm small box (and stronger every 5 mm), so its autocorrelation gives pixels per mm. Coloured grids are
told apart from the trace by saturation; grey grids by being long straight lines, which a morphological
opening with line-shaped kernels isolates (a trace is never straight for a tenth of the page).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.signal import find_peaks

#: plausible paper scales: 1 mm between 1.5 px (tiny screenshot) and 48 px (1200 dpi scan)
_MM_RANGE_PX = (1.5, 48.0)


def ink_map(rgb: np.ndarray) -> np.ndarray:
    """0..1 'how much trace ink' per pixel: darkness against the local paper brightness, colour discounted."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    # brightest nearby = the paper (uneven light removed); shading is smooth, so it is found on a small copy
    shrink = max(1, min(grey.shape) // 400)
    small = cv2.resize(grey, (grey.shape[1] // shrink, grey.shape[0] // shrink), interpolation=cv2.INTER_AREA)
    size = max(5, (min(small.shape) // 40) | 1)
    paper = cv2.GaussianBlur(cv2.dilate(small, np.ones((size, size), np.uint8)), (0, 0), size / 2.0)
    paper = cv2.resize(paper, (grey.shape[1], grey.shape[0]), interpolation=cv2.INTER_LINEAR)
    dark = np.clip(1.0 - grey / (paper + 1.0), 0.0, 1.0)
    # grid inks are coloured (red, pink, orange, green, sometimes blue); pens are black or dark blue.
    # The grid's colour is read from moderately dark pixels (mostly grid lines) and pixels tinted like it
    # lose their weight: on a warm or green grid that is 'red or green above blue', on a blue grid the reverse.
    channels = rgb.astype(np.float32)
    warm = np.maximum(channels[..., 0], channels[..., 1]) - channels[..., 2]
    sample = (slice(None, None, 3), slice(None, None, 3))  # statistics of the page colours need no full resolution
    lo, hi = np.percentile(dark[sample], [85, 97])
    gridish = (dark[sample] >= lo) & (dark[sample] <= hi)
    tint = warm if (not gridish.any() or np.median(warm[sample][gridish]) >= 0) else -warm
    return dark * np.clip(1.2 - 4.0 * np.clip(tint / 255.0, 0.0, 1.0), 0.0, 1.0)


def rotate(image: np.ndarray, degrees: float, *, fill: float | tuple = 255) -> tuple[np.ndarray, np.ndarray]:
    """Rotate about the centre keeping the whole page; returns (rotated, 2x3 affine matrix original->rotated)."""
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), degrees, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w, new_h = int(np.ceil(h * sin + w * cos)), int(np.ceil(h * cos + w * sin))
    matrix[0, 2] += new_w / 2.0 - w / 2.0
    matrix[1, 2] += new_h / 2.0 - h / 2.0
    border = fill if isinstance(fill, tuple) else (fill,) * (image.shape[2] if image.ndim == 3 else 1)
    out = cv2.warpAffine(image, matrix, (new_w, new_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=border)
    return out, matrix


def estimate_rotation(ink: np.ndarray, max_degrees: float = 16.0) -> float:
    """Angle that makes grid lines and trace baselines horizontal: the sharpest horizontal ink projection."""
    scale = 800.0 / max(ink.shape)
    small = cv2.resize(ink, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else ink

    def sharpness(angle: float) -> float:
        rotated, _ = rotate(small, angle, fill=0.0)
        profile = rotated.sum(axis=1)
        return float(np.sum(np.diff(profile) ** 2))

    coarse = np.arange(-max_degrees, max_degrees + 1e-9, 1.0)
    best = coarse[int(np.argmax([sharpness(a) for a in coarse]))]
    fine = np.arange(best - 1.0, best + 1.0 + 1e-9, 0.1)
    return float(fine[int(np.argmax([sharpness(a) for a in fine]))])


@dataclass
class GridEstimate:
    px_per_mm: float | None
    confidence: float  # 0..1: strength of the periodicity
    source: str  # "grid", "major grid only", or "none"
    x: float | None = None  # horizontal and vertical readings (they differ on a photo flattened by its corners)
    y: float | None = None


def _autocorrelation(profile: np.ndarray, max_lag: int) -> np.ndarray:
    x = profile - np.convolve(profile, np.ones(31) / 31, mode="same")  # remove slow shading
    x = x[16:-16] if x.size > 64 else x
    x = x - x.mean()
    n = 1 << int(np.ceil(np.log2(2 * x.size)))
    spectrum = np.fft.rfft(x, n)
    ac = np.fft.irfft(spectrum * np.conj(spectrum), n)[: max_lag + 1]
    return ac / (ac[0] + 1e-12)


def _refine(ac: np.ndarray, k: int) -> float:
    """Sub-sample position of the autocorrelation peak at lag ``k`` (parabola through 3 points)."""
    if 0 < k < ac.size - 1:
        a, b, c = ac[k - 1: k + 2]
        denom = a - 2 * b + c
        if denom < 0:
            return k + 0.5 * (a - c) / denom
    return float(k)


def _grid_from_profile(profile: np.ndarray) -> GridEstimate:
    """Minor (1 mm) and major (5 mm) periods from the autocorrelation of a row or column ink profile.

    A grid of thin lines has a comb-like spectrum (every harmonic as strong as the fundamental), so the
    period is read from the first autocorrelation peak, and the 1 mm reading is accepted only when the
    peak five periods away is the strongest of its neighbours (the thicker 5 mm lines).
    """
    max_lag = int(min(profile.size // 3, 5 * _MM_RANGE_PX[1] * 1.2))
    if max_lag < 10:
        return GridEstimate(None, 0.0, "none")
    ac = _autocorrelation(profile, max_lag)
    peaks, props = find_peaks(ac, height=0.05, prominence=0.02)
    peaks = peaks[peaks >= _MM_RANGE_PX[0]]
    if peaks.size == 0:
        return GridEstimate(None, 0.0, "none")
    first = int(peaks[0])
    period = _refine(ac, first)
    near5 = [int(k) for k in peaks if abs(k - 5 * period) <= max(1.5, 0.08 * 5 * period)]
    if near5:
        k5 = max(near5, key=lambda k: ac[k])
        between = [ac[int(round(m * period))] for m in (2, 3, 4) if int(round(m * period)) < ac.size]
        if not between or ac[k5] >= max(between):
            return GridEstimate(_refine(ac, k5) / 5.0, float(min(1.0, ac[first] + ac[k5])), "grid")
    # only one line family visible: take it as the 5 mm grid when 1 mm would be implausibly coarse
    if period / 5.0 >= _MM_RANGE_PX[0] and period > 12:
        return GridEstimate(period / 5.0, float(ac[first]), "major grid only")
    return GridEstimate(period, float(ac[first]), "grid (minor lines only)")


def _refine_far(profile: np.ndarray, px_per_mm: float) -> float:
    """Sharpen a px/mm reading on a far autocorrelation peak: an error of e pixels at a lag of n millimetres
    is e/n per mm, so the peak 50-100 mm away pins the scale to a fraction of a percent (timing on a 10 s
    page depends on it)."""
    long_lag = profile.size // 2
    ac = _autocorrelation(profile, long_lag)
    for mm in (100, 50, 25):
        lag = mm * px_per_mm
        if lag + 3 >= long_lag:
            continue
        lo, hi = int(lag * 0.98), int(np.ceil(lag * 1.02)) + 1
        k = lo + int(np.argmax(ac[lo:hi]))
        if ac[k] > 0.2:
            return _refine(ac, k) / mm
    return px_per_mm


def grid_period(rgb: np.ndarray) -> GridEstimate:
    """Pixels per mm from the periodic grid, combining the row and the column profiles."""
    grey = 255.0 - cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    # grid lines, coloured or grey, are what differs from the paper along whole rows/columns (median skips traces)
    profiles = [np.median(grey, axis=axis) for axis in (0, 1)]
    along_x, along_y = (_grid_from_profile(profile) for profile in profiles)
    for estimate, profile in zip((along_x, along_y), profiles):
        if estimate.px_per_mm is not None and estimate.source == "grid":
            estimate.px_per_mm = _refine_far(profile, estimate.px_per_mm)
    found = [e for e in (along_x, along_y) if e.px_per_mm is not None]
    if not found:
        return GridEstimate(None, 0.0, "none")
    full = [e for e in found if e.source == "grid"]
    if len(full) == 2 and abs(full[0].px_per_mm / full[1].px_per_mm - 1) < 0.12:
        best = GridEstimate(float(np.mean([e.px_per_mm for e in full])), max(e.confidence for e in full), "grid")
    else:
        best = max(full or found, key=lambda e: e.confidence)
    return GridEstimate(best.px_per_mm, best.confidence, best.source, along_x.px_per_mm, along_y.px_per_mm)


def _clear_broken_lines(binary: np.ndarray, strips: int = 8) -> None:
    """Grey grid lines that are dashed, dotted or slightly bent escape the opening. A grid line crosses
    the whole page: a row (column) inked over most of most page strips is cleared; a flat stretch of
    trace fills at most a strip or two and is kept."""
    h, w = binary.shape
    for axis, length in ((1, w), (0, h)):
        step = max(1, length // strips)
        fills = np.stack([binary[:, i: i + step].mean(axis=1) if axis == 1 else binary[i: i + step, :].mean(axis=0)
                          for i in range(0, length - step + 1, step)])
        lines = np.mean(fills > 0.5, axis=0) >= 0.75
        if axis == 1:
            binary[lines, :] = 0
        else:
            binary[:, lines] = 0


def trace_mask(ink: np.ndarray, px_per_mm: float, *, faint_tips: bool = False, thin_pen: bool = False) -> np.ndarray:
    """Boolean mask of trace pixels: ink minus long straight grid lines minus specks (grid dots, noise)."""
    # the pen level is read from the darkest ink; ``thin_pen`` reads it lower, for thin anti-aliased traces on
    # pages whose darkest marks are thick bars or text (tried when the first reading finds no trace rows)
    level = max(0.12, 0.45 * float(np.percentile(ink, 99.0 if thin_pen else 99.5)))
    # hysteresis: faint anti-aliased pixels (thin QRS tips at low resolution) count when they touch
    # clearly inked ones, so peaks keep their height
    # (only for following a trace already located: on photos the faint level also joins grid lines to
    # the trace, which would blur where the rows are)
    strong = ink > level
    if faint_tips:
        _, labels = cv2.connectedComponents((ink > 0.5 * level).astype(np.uint8), connectivity=8)
        keep = np.zeros(labels.max() + 1, dtype=bool)
        keep[np.unique(labels[strong])] = True
        keep[0] = False
        binary = keep[labels].astype(np.uint8)
    else:
        binary = strong.astype(np.uint8)
    h, w = binary.shape
    horizontal = cv2.morphologyEx(binary, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (max(15, w // 8), 1)))
    vertical = cv2.morphologyEx(binary, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, max(15, h // 3))))
    lines = cv2.dilate(horizontal | vertical, np.ones((3, 3), np.uint8))
    binary[lines > 0] = 0
    _clear_broken_lines(binary)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    min_extent = max(3.0, 1.5 * px_per_mm)
    keep = (np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]) >= min_extent)
    keep[0] = False
    return keep[labels]
