"""Where the text is and what the OCR engine reads there.

The engine (RapidOCR, loaded once per process), the bands of the page above and below the ECG grid,
one OCR call on those bands stacked at a common text size, and the split of numbers the recogniser
merged ("67   44" read as "6744") from the ink gaps in the image.
"""
from __future__ import annotations

import re
import threading
from typing import Any, Sequence

import cv2
import numpy as np

from .tokens import fix_digits
from .types import Box, to_box

#: median height (px) of the character blobs of a band (about the x-height plus ascenders: 0.6 of a text
#: box) at which the detector and recogniser read best; bands are scaled towards it, within these limits
_TEXT_PX = 16.0
_TEXT_PX_MIN, _TEXT_PX_MAX = 12.0, 22.0
_MAX_SIDE = 2000  # RapidOCR shrinks anything longer before detection: choose the scale ourselves
_BAND_GAP = 24  # white rows between bands stacked into one OCR canvas


# ----------------------------------------------------------------------------------------------------------
# OCR engine
# ----------------------------------------------------------------------------------------------------------

_ENGINE: Any = None
_ENGINE_LOCK = threading.Lock()


def get_ocr_engine() -> Any:
    """The module's RapidOCR engine, created on first use and kept for the process."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            try:
                from rapidocr_onnxruntime import RapidOCR
            except ImportError as exc:  # pragma: no cover - depends on the environment
                raise ImportError("reading printed ECG text needs the OCR package: pip install rapidocr_onnxruntime") from exc
            # detector at the input's own size (up to 2000 px) instead of enlarging it: the bands are
            # already scaled to a good text size, and enlarging a wide strip is most of the OCR time
            _ENGINE = RapidOCR(det_limit_type="max", det_limit_side_len=_MAX_SIDE)
        return _ENGINE


def _run_ocr(engine: Any, image: np.ndarray) -> list[tuple[str, np.ndarray, float]]:
    out = engine(image)
    result = out[0] if isinstance(out, tuple) else out
    items = []
    for entry in result or []:
        if len(entry) < 3:
            continue
        box, text, score = entry[0], str(entry[1]), float(entry[2])
        items.append((text, np.asarray(box, dtype=float).reshape(-1, 2), score))
    return items


# ----------------------------------------------------------------------------------------------------------
# Where the text is: bands above and below the trace area
# ----------------------------------------------------------------------------------------------------------

def _line_map(rgb: np.ndarray) -> tuple[np.ndarray, float]:
    """Thin dark structures (grid lines, traces, text) of a copy shrunk to ~1000 px wide; returns mask, scale."""
    gray = rgb.min(axis=2) if rgb.ndim == 3 else rgb  # pink grid lines are dark in green/blue
    h, w = gray.shape
    f = max(1, int(round(max(w, h) / 1000)))
    if f > 1:  # min-pooling keeps one-pixel grid lines that averaging would wash out
        gray = cv2.erode(gray, np.ones((f, f), np.uint8))[::f, ::f]
    background = cv2.dilate(gray, np.ones((15, 15), np.uint8))  # local paper brightness
    diff = background.astype(np.int16) - gray.astype(np.int16)
    return diff > 18, 1.0 / f


def _grid_rows(mask: np.ndarray) -> np.ndarray:
    """Rows whose line pixels reach across the whole width (in 32 of 32 column bins, 31 tolerated).

    Inside the ECG grid every row crosses the vertical grid lines all along the page, even in a tilted or
    curved photo; a line of printed text leaves empty stretches between its words and columns.
    """
    bins = np.array_split(np.arange(mask.shape[1]), 32)
    coverage = np.stack([mask[:, b].any(axis=1) for b in bins if b.size], axis=1).mean(axis=1)
    return coverage >= 0.95


def find_text_bands(image: np.ndarray) -> tuple[list[Box], Box | None]:
    """Regions of the page outside the ECG grid: (bands, grid_box) in image pixels.

    The grid is the tallest block of rows covered by grid lines across the whole width; the page above
    it (the header with the device's measurements) and below it (the footer with paper settings) are the
    bands. With no grid found (traces on plain paper), the top 25% and bottom 12% of the page are
    returned and grid_box is None. A page that is grid from edge to edge has no bands.
    """
    h, w = image.shape[:2]
    rgb = image if image.ndim == 3 else np.repeat(image[:, :, None], 3, axis=2)
    mask, s = _line_map(rgb[:, :, :3])
    rows = np.flatnonzero(_grid_rows(mask))
    fallback = [(0, 0, w, int(round(0.25 * h))), (0, int(round(0.88 * h)), w, h)]
    if rows.size < 4:
        return fallback, None
    gap = max(2, int(0.03 * mask.shape[0]))
    clusters = np.split(rows, np.flatnonzero(np.diff(rows) > gap) + 1)
    best = max(clusters, key=lambda c: (c[-1] - c[0], c.size))
    if (best[-1] - best[0]) < 0.2 * mask.shape[0]:
        return fallback, None
    top, bottom = int(best[0] / s), int(min(h, (best[-1] + 1) / s))
    bands = []
    min_band = max(8, int(0.02 * h))
    if top >= min_band:
        bands.append((0, 0, w, top))
    if h - bottom >= min_band:
        bands.append((0, bottom, w, h))
    return bands, (0, top, w, bottom)


def _text_height(gray: np.ndarray) -> float | None:
    """Median height of character-like dark blobs in a band, or None without text."""
    _, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    if binary.mean() > 0.5 * 255 or gray.max() - gray.min() < 40:
        return None
    n, _, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    hs = stats[1:, cv2.CC_STAT_HEIGHT]
    ws = stats[1:, cv2.CC_STAT_WIDTH]
    ok = (hs >= 5) & (hs <= 200) & (ws <= 3 * hs) & (ws >= 1)
    if ok.sum() < 3:
        return None
    return float(np.median(hs[ok]))


# ----------------------------------------------------------------------------------------------------------
# Reading the bands
# ----------------------------------------------------------------------------------------------------------

def _detector_min_side(engine: Any) -> int:
    """Short side below which the engine's detector enlarges its input (RapidOCR default: 736), else 0."""
    det = getattr(engine, "text_det", None)
    if det is not None and getattr(det, "limit_type", None) == "min":
        return int(getattr(det, "limit_side_len", 0) or 0)
    return 0


def read_bands(engine: Any, img: np.ndarray, bands: Sequence[Box], *, text_px: float = _TEXT_PX
                ) -> tuple[list[tuple[str, np.ndarray, float]], list[Box]]:
    """OCR the bands in one call: scaled to a common text size and stacked on one canvas."""
    crops, boxes, heights = [], [], []
    for x0, y0, x1, y1 in bands:
        crop = img[y0:y1, x0:x1]
        if crop.size == 0 or min(crop.shape[:2]) < 6:
            continue
        gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
        th = _text_height(gray)
        if th is None:
            continue
        # trim empty paper around the text: the detector's time grows with the pixels it sees
        ink = np.flatnonzero((gray < np.median(gray) - 40).any(axis=0)), np.flatnonzero((gray < np.median(gray) - 40).any(axis=1))
        if ink[0].size and ink[1].size:
            m = int(2 * th)
            x0, x1 = x0 + max(0, int(ink[0][0]) - m), x0 + min(crop.shape[1], int(ink[0][-1]) + 1 + m)
            y0, y1 = y0 + max(0, int(ink[1][0]) - m), y0 + min(crop.shape[0], int(ink[1][-1]) + 1 + m)
            crop = img[y0:y1, x0:x1]
        crops.append(crop)
        boxes.append((x0, y0, x1, y1))
        heights.append(th)
    if not crops:
        return [], []
    th = float(np.median(heights))
    scale = 1.0
    if th > _TEXT_PX_MAX or th < _TEXT_PX_MIN:
        scale = text_px / th
    width = max(c.shape[1] for c in crops)
    height = sum(c.shape[0] for c in crops) + _BAND_GAP * (len(crops) - 1)
    scale = min(scale, 2.5, _MAX_SIDE / (max(width, height) + 1))
    paper = np.median(np.concatenate([c.reshape(-1, 3)[::97] for c in crops]), axis=0).astype(np.uint8)
    parts, offsets, y = [], [], 0
    for crop in crops:
        if scale != 1.0:
            crop = cv2.resize(crop, None, fx=scale, fy=scale,
                              interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
        offsets.append(y)
        parts.append(crop)
        y += crop.shape[0] + _BAND_GAP
    canvas_w = max(p.shape[1] for p in parts)
    canvas_h = max(y - _BAND_GAP, _detector_min_side(engine))  # padding is cheaper than the detector's enlarging
    canvas = np.empty((canvas_h, canvas_w, 3), np.uint8)
    canvas[:] = paper
    for part, off in zip(parts, offsets):
        canvas[off:off + part.shape[0], :part.shape[1]] = part
    found = _run_ocr(engine, canvas)
    out = []
    for text, pts, score in found:
        yc = pts[:, 1].mean()
        k = max(0, int(np.searchsorted(offsets, yc, side="right")) - 1)
        if yc > offsets[k] + parts[k].shape[0]:
            continue  # text found in the padding: nothing there
        x0, y0 = boxes[k][:2]
        out.append((text, (pts - np.array([0.0, offsets[k]])) / scale + np.array([x0, y0], dtype=float), score))
    return out, boxes


_MERGED_NUMBER = re.compile(r"^[-+]?\d{2,}$")


def split_merged_numbers(gray: np.ndarray, items: list[tuple[str, Any, float]]) -> list[tuple[str, Box, float]]:
    """Split boxes like '6744' whose ink has word-sized gaps ('67   44') into one box per number.

    Printed numerals are tabular (equal width), so the digits are shared out in proportion to the ink
    widths of the pieces.
    """
    out: list[tuple[str, Box, float]] = []
    for text, pts, score in items:
        box = to_box(pts)
        t = fix_digits(text.strip())
        if not _MERGED_NUMBER.match(t):
            out.append((text, box, score))
            continue
        x0, y0, x1, y1 = box
        crop = gray[max(0, y0):y1, max(0, x0):x1]
        pieces = _ink_pieces(crop)
        if len(pieces) < 2:
            out.append((text, box, score))
            continue
        sign = t[0] if t[0] in "+-" else ""
        digits = t[len(sign):]
        widths = np.array([b - a for a, b in pieces], dtype=float)
        if sign:
            widths[0] = max(1.0, widths[0] - 0.6 * widths.sum() / max(1, len(digits)))
        counts = _share(len(digits), widths)
        if counts is None:
            out.append((text, box, score))
            continue
        k = 0
        for i, ((a, b), n) in enumerate(zip(pieces, counts)):
            part = (sign if i == 0 else "") + digits[k:k + n]
            k += n
            out.append((part, (max(0, x0) + a, y0, max(0, x0) + b, y1), score))
    return out


def _ink_pieces(crop: np.ndarray) -> list[tuple[int, int]]:
    if crop.size == 0:
        return []
    _, binary = cv2.threshold(crop, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    cols = binary.sum(axis=0) > 0
    idx = np.flatnonzero(cols)
    if idx.size == 0:
        return []
    min_gap = max(3, int(round(0.3 * crop.shape[0])))
    pieces, start, prev = [], idx[0], idx[0]
    for i in idx[1:]:
        if i - prev > min_gap:
            pieces.append((int(start), int(prev) + 1))
            start = i
        prev = i
    pieces.append((int(start), int(prev) + 1))
    return pieces


def _share(n: int, widths: np.ndarray) -> list[int] | None:
    if n < len(widths):
        return None
    raw = widths / widths.sum() * n
    counts = np.maximum(1, np.round(raw).astype(int))
    while counts.sum() > n:
        i = int(np.argmax(counts - raw))
        if counts[i] <= 1:
            return None
        counts[i] -= 1
    while counts.sum() < n:
        counts[int(np.argmin(counts - raw))] += 1
    return counts.tolist()
