"""Text boxes of a page picture with RapidOCR, read as well as it can on report pages.

RapidOCR finds the boxes; each box is then re-read from a crop with a margin of paper (never reaching into
the next box), which keeps more spaces between words and reads lone flag letters ("L", "H") that a tight
crop loses; spaces the recogniser still drops are put back where the paper between two characters is as
wide as a space. The angle classifier is not used: it turns "g/dL" upside down into "7p/6", and report
pages are upright (a small tilt is measured from the boxes and taken out of their centres instead).
Small marks the detector misses on a table line (a flag "L" or "*", a one-digit value) are found as ink
outside every box and read on their own (`read_marks`).

The engine is the one the ECG reader uses (`get_ocr_engine`), created once per process.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from statistics import median
from typing import Any

import cv2
import numpy as np

from ...ecg.image.device_text.ocr import get_ocr_engine
from .cells import clean_text, is_flag
from .rows import BBox

__all__ = ["PageText", "TextBox", "read_marks", "read_text"]

_MIN_SCORE = 0.5
_SMALL_TEXT_PX = 14.0  # below this box height the page is enlarged before detection
_TARGET_TEXT_PX = 26.0
_DET_SIDE = 1600  # detection runs on a copy at most this long (text stays > 14 px on an A4 page); reading
#                   uses the full-resolution picture


@dataclass
class TextBox:
    """One OCR box: text, score, the box in image pixels, and its centre with the page tilt taken out."""

    text: str
    score: float
    bbox: BBox  # x0, y0, x1, y1 in image pixels (as printed on the picture)
    h: float = 0.0  # text height (the box's short side, not inflated by a tilt)
    xc: float = 0.0  # centre after de-tilting
    yc: float = 0.0
    x0: float = 0.0  # left / right edge after de-tilting
    x1: float = 0.0

    @property
    def height(self) -> float:
        return self.h or (self.bbox[3] - self.bbox[1])


@dataclass
class PageText:
    """All boxes of a page and the page tilt (radians) that was taken out of their centres."""

    boxes: list[TextBox]
    angle: float = 0.0


# ====================================================================== OCR
_DET_LOCK = threading.Lock()
_BOX_THRESH = 0.3  # RapidOCR's 0.5 drops lone flag letters ("H" beside a result); the recogniser's score filters


def _detect(engine: Any, image: np.ndarray) -> list[np.ndarray]:
    """Text boxes (4 corners each). The engine is shared with the ECG reader: its detector threshold is
    lowered for this call only and put back."""
    post = getattr(getattr(engine, "text_det", None), "postprocess_op", None)
    with _DET_LOCK:
        saved = getattr(post, "box_thresh", None)
        try:
            if saved is not None:
                post.box_thresh = min(saved, _BOX_THRESH)
            found, _ = engine(image, use_cls=False, use_rec=False)
        finally:
            if saved is not None:
                post.box_thresh = saved
    return [np.asarray(q, dtype=np.float32).reshape(4, 2) for q in (found or [])]


def _side_room(quads: list[np.ndarray]) -> list[tuple[float, float]]:
    """Free paper left and right of each box before the next box on its line (half of each gap)."""
    lo, hi = np.array([q.min(axis=0) for q in quads]), np.array([q.max(axis=0) for q in quads])
    room = []
    for i in range(len(quads)):
        overlap = np.minimum(hi[:, 1], hi[i, 1]) - np.maximum(lo[:, 1], lo[i, 1])
        same = overlap > 0.5 * np.minimum(hi[:, 1] - lo[:, 1], hi[i, 1] - lo[i, 1])
        same[i] = False
        left = lo[i, 0] - hi[same & (hi[:, 0] <= hi[i, 0]) & (lo[:, 0] < lo[i, 0]), 0]
        right = lo[same & (lo[:, 0] >= lo[i, 0]) & (hi[:, 0] > hi[i, 0]), 0] - hi[i, 0]
        room.append((max(0.0, float(left.min()) / 2) if left.size else np.inf,
                     max(0.0, float(right.min()) / 2) if right.size else np.inf))
    return room


def _padded_crop(image: np.ndarray, quad: np.ndarray, room: tuple[float, float]) -> np.ndarray:
    """The box's text, straightened, with a margin of paper around it (the recogniser reads better: it keeps
    the spaces between words and reads single letters); the margin never reaches into the next box."""
    p0, p1, p2, p3 = quad
    width = max(np.linalg.norm(p1 - p0), np.linalg.norm(p2 - p3))
    height = max(np.linalg.norm(p3 - p0), np.linalg.norm(p2 - p1))
    if width < 1 or height < 1:
        return np.zeros((0, 0, 3), np.uint8)
    u, v = (p1 - p0) / max(1e-6, np.linalg.norm(p1 - p0)), (p3 - p0) / max(1e-6, np.linalg.norm(p3 - p0))
    pl, pr = (min(max(3.0, 0.4 * height), r) for r in room)
    py = max(2.0, 0.15 * height)
    src = np.array([p0 - pl * u - py * v, p1 + pr * u - py * v, p2 + pr * u + py * v, p3 - pl * u + py * v],
                   np.float32)
    w, h = int(round(width + pl + pr)), int(round(height + 2 * py))
    dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(image, matrix, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def _recognise(engine: Any, crops: list[np.ndarray], heights: list[float]) -> list[tuple[str, float]]:
    """(text, score) for each crop; ``heights`` are the text heights in the crops (for the spaces)."""
    rec = getattr(engine, "text_rec", None)
    if rec is None:  # any engine with RapidOCR's call convention, one crop at a time
        out = []
        for crop in crops:
            found, _ = engine(crop, use_det=False, use_cls=False)
            out.append((str(found[0][0]), float(found[0][1])) if found else ("", 0.0))
        return out
    results, _ = rec(crops, return_word_box=True)  # RapidOCR's recogniser: batched, with character positions
    out = []
    for crop, height, result in zip(crops, heights, results):
        text, score = str(result[0]), float(result[1])
        if len(result) > 2:
            text = _restore_spaces(crop, height, text, result[2])
        out.append((text, score))
    return out


_WORD_GAP = 0.17  # blank run between two characters, in box heights, that is a space (letters: <= 0.11)
_MIN_GAP_PX = 3.5  # small print: letters 3 px apart are common, a space is wider
_NARROW = set("lIij1!|tfr")  # narrow letters with wide margins: a space next to them must be wider


def _restore_spaces(crop: np.ndarray, height: float, text: str, info: Any) -> str:
    """Put back the spaces the recogniser dropped ("troponinT", "CKD-EPI2021", "Upto5.0").

    Each character's position comes from the recogniser's output columns; a blank stretch of paper wider
    than `_WORD_GAP` box heights between two characters is a space. Digits next to digits, dots or commas
    are never split (a "1" has wide margins: "11.0" must stay whole).
    """
    try:
        n_cols, words, cols = float(info[0]), info[1], info[2]
        chars = [c for word in words for c in word]
        pos = [p for word in cols for p in word]
    except (TypeError, IndexError, ValueError):
        return text
    if len(chars) != len(text) or len(chars) < 2 or n_cols <= 0:
        return text
    gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    pad = int(round((crop.shape[0] - height) / 2))
    band = gray[pad:crop.shape[0] - pad] if crop.shape[0] - 2 * pad > 4 else gray
    threshold, _ = cv2.threshold(band, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    blank = ~(band < threshold).any(axis=0)
    xs = [int((p + 0.5) * crop.shape[1] / n_cols) for p in pos]
    out = [chars[0]]
    for i in range(len(chars) - 1):
        a, b = chars[i], chars[i + 1]
        keep_whole = ((a.isdigit() or a in ".,") and (b.isdigit() or b in ".,")) or b in ")]},.:;%" or a in "([{"
        gap = max(_WORD_GAP * height, _MIN_GAP_PX) * (1.5 if a in _NARROW or b in _NARROW else 1.0)
        if a != " " and b != " " and not keep_whole and _longest_run(blank[xs[i]:xs[i + 1]]) >= gap:
            out.append(" ")
        out.append(b)
    return "".join(out)


def _longest_run(flags: np.ndarray) -> int:
    best = run = 0
    for value in flags:
        run = run + 1 if value else 0
        best = max(best, run)
    return best


def read_text(image: np.ndarray, *, engine: Any = None) -> PageText:
    """Text boxes of a page picture (RGB uint8), in image pixels, tilt-corrected centres filled in."""
    engine = engine if engine is not None else get_ocr_engine()
    img = np.ascontiguousarray(image[:, :, :3] if image.ndim == 3 else np.repeat(image[:, :, None], 3, axis=2))
    shrink = min(1.0, _DET_SIDE / max(img.shape[:2]))
    small = img if shrink == 1.0 else cv2.resize(img, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
    quads = [q / shrink for q in _detect(engine, small)]
    scale = 1.0
    heights = [float(np.linalg.norm(q[3] - q[0])) for q in quads]
    if heights and median(heights) < _SMALL_TEXT_PX:  # small print: enlarge so that the detector sees it
        scale = min(3.0, _TARGET_TEXT_PX / max(1.0, median(heights)))
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        quads = _detect(engine, img)
    crops = [_padded_crop(img, q, r) for q, r in zip(quads, _side_room(quads))] if quads else []
    keep = [i for i, c in enumerate(crops) if c.size]
    heights = [float(np.linalg.norm(quads[i][3] - quads[i][0])) for i in keep]
    read = _recognise(engine, [crops[i] for i in keep], heights) if keep else []
    boxes = []
    for i, (text, score) in zip(keep, read):
        text = _normalise(text)
        if not text or score < _MIN_SCORE:
            continue
        q = quads[i] / scale
        boxes.append(TextBox(text, score, (float(q[:, 0].min()), float(q[:, 1].min()), float(q[:, 0].max()),
                                           float(q[:, 1].max())), h=float(np.linalg.norm(q[3] - q[0]))))
    angle = _page_angle([quads[i] / scale for i in keep])
    for box in boxes:
        _detilt(box, angle)
    return PageText(boxes, angle)


_LOOKALIKES = str.maketrans({"★": "*", "☆": "*", "＊": "*", "∗": "*", "丨": "|", "：": ":", "（": "(",
                             "）": ")", "，": ",", "～": "~"})


def _normalise(text: str) -> str:
    """Single-spaced text with the recogniser's wide / CJK look-alikes of ASCII marks replaced."""
    return clean_text(text.translate(_LOOKALIKES))


def _page_angle(quads: list[np.ndarray]) -> float:
    """Median slope of the long boxes: the tilt of the page (radians)."""
    angles = []
    for q in quads:
        dx, dy = q[1] - q[0]
        if dx > 4 * max(1.0, float(np.linalg.norm(q[3] - q[0]))):
            angles.append(math.atan2(float(dy), float(dx)))
    return median(angles) if len(angles) >= 3 else 0.0


def _rotate(x: float, y: float, angle: float) -> tuple[float, float]:
    c, s = math.cos(-angle), math.sin(-angle)
    return c * x - s * y, s * x + c * y


def _detilt(box: TextBox, angle: float) -> None:
    """Fill the box's de-tilted centre and edges (rotation about the image origin)."""
    x0, y0, x1, y1 = box.bbox
    box.xc, box.yc = _rotate((x0 + x1) / 2, (y0 + y1) / 2, angle)
    half = (x1 - x0) / 2
    box.x0, box.x1 = box.xc - half, box.xc + half


# ====================================================================== marks the detector missed
def read_marks(image: np.ndarray, page: PageText, lines: list[list[TextBox]], *,
               engine: Any = None) -> list[TextBox]:
    """Short texts on the given lines that no box covers (a lone "L", "*", "1"), read one by one.

    Ink is found by a local threshold; pieces of ink on a line, outside every box, about as tall as the
    line's text (a quarter of it for "*"), close together, become one crop for the recogniser.
    """
    if not lines:
        return []
    engine = engine if engine is not None else get_ocr_engine()
    gray = image.min(axis=2) if image.ndim == 3 else image
    h_all = median(b.height for line in lines for b in line)
    block = max(3, int(2 * round(1.5 * h_all) + 1))
    ink = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 25)
    _, _, stats, centres = cv2.connectedComponentsWithStats(ink, connectivity=8)
    cx, cy = centres[:, 0], centres[:, 1]
    free = np.ones(len(stats), bool)
    free[0] = False  # the background
    for x0, y0, x1, y1 in (b.bbox for b in page.boxes):
        free &= ~((cx >= x0 - 2) & (cx <= x1 + 2) & (cy >= y0 - 2) & (cy <= y1 + 2))
    c, s = math.cos(-page.angle), math.sin(-page.angle)
    level = s * cx + c * cy  # de-tilted vertical position of each piece
    w, hh, area = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT], stats[:, cv2.CC_STAT_AREA]
    candidates: list[tuple[tuple[float, float, float, float], float]] = []
    for line in lines:
        yc, h = median(b.yc for b in line), median(b.height for b in line)
        pick = free & (np.abs(level - yc) <= 0.45 * h) & (hh >= 0.25 * h) & (hh <= 1.2 * h) & (w <= 3 * h) & (
            area >= 0.02 * h * h)
        pieces = sorted((float(stats[k, 0]), float(stats[k, 1]), float(stats[k, 0] + w[k]), float(stats[k, 1] + hh[k]))
                        for k in np.flatnonzero(pick))
        candidates += [(piece, h) for piece in _merge_pieces(pieces, 0.5 * h)]
    crops, kept = [], []
    for (x0, y0, x1, y1), h in candidates:
        pad = 0.35 * max(y1 - y0, 0.6 * h)
        ym = (y0 + y1) / 2
        a, b = int(max(0, x0 - pad)), int(min(gray.shape[1], x1 + pad))
        top, bottom = int(max(0, ym - 0.5 * h - pad)), int(min(gray.shape[0], ym + 0.5 * h + pad))
        if b - a >= 4 and bottom - top >= 4:
            crop = image[top:bottom, a:b, :3] if image.ndim == 3 else np.repeat(image[top:bottom, a:b, None], 3, 2)
            crops.append(np.ascontiguousarray(crop))
            kept.append(((x0, y0, x1, y1), h))
    found = []
    read = _recognise(engine, crops, [h for _, h in kept]) if crops else []
    for (bbox, h), (text, score) in zip(kept, read):
        text = _normalise(text)
        if text and score >= (0.6 if is_flag(text) or text.isdigit() else 0.8):
            box = TextBox(text, score, bbox, h=h)  # the line's height: a small "*" still joins its line
            _detilt(box, page.angle)
            found.append(box)
    return found


def _merge_pieces(pieces: list[BBox], gap: float) -> list[BBox]:
    """Pieces of ink on one line (sorted by x) joined when closer than ``gap``: one crop per short text."""
    merged: list[list[float]] = []
    for x0, y0, x1, y1 in pieces:
        if merged and x0 - merged[-1][2] <= gap:
            m = merged[-1]
            m[0], m[1], m[2], m[3] = min(m[0], x0), min(m[1], y0), max(m[2], x1), max(m[3], y1)
        else:
            merged.append([x0, y0, x1, y1])
    return [(a, b, c, d) for a, b, c, d in merged]
