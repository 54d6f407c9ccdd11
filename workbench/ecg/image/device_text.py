"""Read what the recording device printed on the page, and hold it against the workbench's own numbers.

Many printouts carry the cart's measurements and interpretation in a header above the traces, e.g.::

    Vent. rate   72 BPM    Normal sinus rhythm
    PR interval 160 ms     Left axis deviation
    QRS duration 90 ms     Abnormal ECG
    QT/QTc  380/410 ms
    P-R-T axes 50 20 40

and paper settings in a footer ("25 mm/s  10 mm/mV"). `read_device_text` finds the bands of the page
above and below the ECG grid, runs OCR on them only, stacked on one canvas at a set text size (a full
page is several seconds of OCR; the bands 0.3-2.5 s on one core, and no OCR at all on a page that is grid
from edge to edge), and parses the text into the workbench's measurement keys. Text printed inside the
grid is not read unless its region is passed in (``regions``); lead names inside the grid are read on
request (``find_lead_labels``, best effort: the detector misses many one- and two-letter labels). `compare_with_measurements`
then puts the device's numbers beside the workbench's, with agreement tolerances from a cited table, so a
clinician sees at a glance where the two disagree.

The parser is written for OCR output, not for clean text: label words glued together ("PRinterval",
"Vent.rate"), units stuck to numbers ("160ms"), O/0 and l/1 confusion, values split into a separate text
box to the right of the label, and space-separated numbers merged by the recogniser ("67   44" read as
"6744", split again from the ink gaps in the image).

OCR engine: RapidOCR (``rapidocr_onnxruntime``), loaded once per process on first use; any engine with
the same call convention (``engine(image) -> ([box, text, score], ...), timings``) can be passed in.
"""
from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any, Sequence

import cv2
import numpy as np

__all__ = [
    "AGREEMENT_TOLERANCES",
    "CANONICAL_STATEMENTS",
    "DevicePrinted",
    "compare_with_measurements",
    "find_text_bands",
    "get_ocr_engine",
    "normalize_statement",
    "parse_device_text",
    "read_device_text",
]

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in image pixels

# ----------------------------------------------------------------------------------------------------------
# Tables
# ----------------------------------------------------------------------------------------------------------

#: Per-quantity agreement tolerance between the device's printed value and the workbench's measurement.
#: Interval values: IEC 60601-2-25 (interpretive-program accuracy for global intervals against a reference),
#: as quoted in shared/clinical/criteria.md, "ECG paper and measurement conventions" (marked "verify" there):
#: mean difference / SD of about PR 10/10 ms, QRS 6/10 ms, QT 12/30 ms. The standard bounds a program's mean
#: error and its spread over a test set, not one recording; we use the SD as the per-recording tolerance, i.e.
#: a difference larger than one SD of an acceptable program is flagged. QTc inherits the QT tolerance.
#: Rate and axes are not in that table: the tolerances below are working values of this module (rate: one
#: beat per 12 s is 5 bpm; axes: the frontal axis is read in 15-30 deg steps on the hexaxial system, P and T
#: axes are less well defined than the QRS axis), stated as such.
AGREEMENT_TOLERANCES: dict[str, dict[str, Any]] = {
    "heart_rate": {"tolerance": 5.0, "unit": "bpm", "label": "Heart rate",
                   "source": "working tolerance of this module (not from a standard)"},
    "pr_interval": {"tolerance": 10.0, "unit": "ms", "label": "PR interval",
                    "source": "IEC 60601-2-25 PR SD 10 ms (criteria.md, ECG paper and measurement conventions)"},
    "qrs_duration": {"tolerance": 10.0, "unit": "ms", "label": "QRS duration",
                     "source": "IEC 60601-2-25 QRS SD 10 ms (criteria.md, ECG paper and measurement conventions)"},
    "qt_interval": {"tolerance": 30.0, "unit": "ms", "label": "QT interval",
                    "source": "IEC 60601-2-25 QT SD 30 ms (criteria.md, ECG paper and measurement conventions)"},
    "qtc": {"tolerance": 30.0, "unit": "ms", "label": "QTc",
            "source": "QT tolerance, IEC 60601-2-25 QT SD 30 ms (criteria.md, ECG paper and measurement conventions)"},
    "p_axis": {"tolerance": 20.0, "unit": "deg", "label": "P axis",
               "source": "working tolerance of this module (not from a standard)"},
    "qrs_axis": {"tolerance": 15.0, "unit": "deg", "label": "QRS axis",
                 "source": "working tolerance of this module (not from a standard)"},
    "t_axis": {"tolerance": 20.0, "unit": "deg", "label": "T axis",
               "source": "working tolerance of this module (not from a standard)"},
}

#: plausible printed values; numbers outside are OCR misreads and are dropped (with a note)
_PLAUSIBLE = {
    "heart_rate": (15, 350), "pr_interval": (40, 600), "qrs_duration": (30, 300), "qt_interval": (150, 800),
    "qtc": (150, 800), "p_axis": (-180, 360), "qrs_axis": (-180, 360), "t_axis": (-180, 360),
}
_SPEEDS = (5.0, 6.25, 10.0, 12.5, 25.0, 50.0, 100.0)
_GAINS = (2.5, 5.0, 10.0, 20.0, 40.0)

#: QTc correction names as printed -> canonical
_QTC_CORRECTIONS = {"b": "bazett", "baz": "bazett", "bazett": "bazett", "f": "fridericia", "fri": "fridericia",
                    "frid": "fridericia", "fridericia": "fridericia", "h": "hodges", "hod": "hodges", "hodges": "hodges",
                    "fr": "framingham", "fram": "framingham", "framingham": "framingham"}

#: Common statements of interpretive programs (GE 12SL / Philips / Mortara wording), used to repair OCR
#: output ("Abnommal ECG", "NonspecificST and Twave abnormality") by fuzzy matching.
CANONICAL_STATEMENTS: tuple[str, ...] = (
    "Normal sinus rhythm", "Sinus rhythm", "Sinus bradycardia", "Marked sinus bradycardia", "Sinus tachycardia",
    "Sinus arrhythmia", "Sinus rhythm with sinus arrhythmia", "Sinus bradycardia with sinus arrhythmia",
    "Atrial fibrillation", "Atrial flutter", "Atrial fibrillation with rapid ventricular response",
    "Atrial fibrillation with slow ventricular response", "Atrial flutter with variable A-V block",
    "Junctional rhythm", "Accelerated junctional rhythm", "Ectopic atrial rhythm", "Supraventricular tachycardia",
    "Ventricular tachycardia", "Atrial-sensed ventricular-paced rhythm", "Atrial-paced rhythm",
    "Ventricular-paced rhythm", "AV dual-paced rhythm", "Electronic ventricular pacemaker",
    "Electronic atrial pacemaker", "with premature ventricular or aberrantly conducted complexes",
    "with premature atrial complexes", "with occasional premature ventricular complexes",
    "with frequent premature ventricular complexes", "with 1st degree A-V block", "First degree AV block",
    "Second degree AV block, Mobitz I (Wenckebach)", "Second degree AV block, Mobitz II",
    "Complete heart block", "Left axis deviation", "Right axis deviation", "Indeterminate axis",
    "Left anterior fascicular block", "Left posterior fascicular block", "Right bundle branch block",
    "Left bundle branch block", "Incomplete right bundle branch block", "Incomplete left bundle branch block",
    "Right bundle branch block and left anterior fascicular block", "Bifascicular block",
    "Nonspecific intraventricular conduction delay", "Intraventricular conduction delay",
    "Left ventricular hypertrophy", "Left ventricular hypertrophy with repolarization abnormality",
    "Minimal voltage criteria for LVH, may be normal variant", "Voltage criteria for left ventricular hypertrophy",
    "Right ventricular hypertrophy", "Left atrial enlargement", "Right atrial enlargement",
    "Biatrial enlargement", "Possible left atrial enlargement", "Low voltage QRS", "Pulmonary disease pattern",
    "Inferior infarct, age undetermined", "Anterior infarct, age undetermined", "Septal infarct, age undetermined",
    "Anteroseptal infarct, age undetermined", "Lateral infarct, age undetermined", "Inferior infarct, possibly acute",
    "Anterior infarct, possibly acute", "Anterolateral infarct, possibly acute", "Cannot rule out anterior infarct",
    "Cannot rule out inferior infarct", "Acute MI / STEMI", "Nonspecific ST abnormality",
    "Nonspecific T wave abnormality", "Nonspecific ST and T wave abnormality",
    "ST elevation, consider early repolarization, pericarditis, or injury",
    "ST & T wave abnormality, consider inferior ischemia", "ST & T wave abnormality, consider anterior ischemia",
    "ST & T wave abnormality, consider lateral ischemia", "Prolonged QT", "Early repolarization",
    "Normal ECG", "Abnormal ECG", "Borderline ECG", "Otherwise normal ECG", "Normal sinus rhythm, normal ECG",
    "No previous ECGs available", "When compared with ECG of", "No significant change was found",
    "Poor data quality, interpretation may be adversely affected", "Artifact", "Wolff-Parkinson-White",
    "Unconfirmed analysis", "Unconfirmed report",
)

#: words that make an unmatched line an ECG statement rather than patient/administrative text
_STATEMENT_WORDS = frozenset("""
rhythm sinus ecg ekg block axis deviation infarct infarction ischemia ischaemia hypertrophy enlargement
abnormal abnormality normal borderline bradycardia tachycardia fibrillation flutter atrial ventricular
junctional paced pacemaker premature complexes repolarization repolarisation conduction delay bundle branch
fascicular voltage qrs qt st wave elevation depression lvh rvh lbbb rbbb stemi mi previous ecgs artifact
arrhythmia undetermined acute anterior inferior lateral septal anteroseptal possible probable consider
""".split())

#: extra vocabulary for restoring the spaces OCR drops between words
_EXTRA_WORDS = """
a an and or of the with may be is was in on to for by no not age data quality interpretation adversely affected
compared significant change found unconfirmed confirmed report analysis ms bpm p r t av a-v
""".split()

#: patient/administrative words: lines carrying them are not statements
_ADMIN_WORDS = frozenset("""
name id dob age sex male female room loc location technician referred confirmed order account page
test ind indication hz mm mv date time birth years yrs height weight race patient physician md dept
""".split())



# ----------------------------------------------------------------------------------------------------------
# Result
# ----------------------------------------------------------------------------------------------------------

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
# Reading
# ----------------------------------------------------------------------------------------------------------

#: median height (px) of the character blobs of a band (about the x-height plus ascenders: 0.6 of a text
#: box) at which the detector and recogniser read best; bands are scaled towards it, within these limits
_TEXT_PX = 16.0
_TEXT_PX_MIN, _TEXT_PX_MAX = 12.0, 22.0
_MAX_SIDE = 2000  # RapidOCR shrinks anything longer before detection: choose the scale ourselves
_BAND_GAP = 24  # white rows between bands stacked into one OCR canvas


def read_device_text(image: np.ndarray, *, ocr: Any = None, regions: Sequence[Box] | None = None,
                     find_lead_labels: bool = False) -> DevicePrinted:
    """OCR of the device's printed header/footer text and its parse into workbench measurement keys.

    ``image``: H x W x 3 uint8 RGB page (or grayscale). ``ocr``: an engine called as ``ocr(array)``
    returning ``([box, text, score], ...)`` (RapidOCR's convention); the module's cached RapidOCR by default.
    ``regions``: boxes (x0, y0, x1, y1) to read instead of the bands found by `find_text_bands`.
    ``find_lead_labels``: also read the trace area (shrunk) for lead-name boxes; costs 1-3 s more.
    Never raises on an image without text: the result is then empty (``found`` False).
    """
    t0 = time.perf_counter()
    img = np.asarray(image)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    img = img[:, :, :3]
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    engine = ocr if ocr is not None else get_ocr_engine()
    notes: list[str] = []
    grid_box = None
    if regions is None:
        bands, grid_box = find_text_bands(img)
        if grid_box is None:
            notes.append("no ECG grid found: read the top 25% and bottom 12% of the page")
    else:
        h, w = img.shape[:2]
        bands = [(max(0, int(x0)), max(0, int(y0)), min(w, int(x1)), min(h, int(y1))) for x0, y0, x1, y1 in regions]
    items, read = _read_bands(engine, img, bands)
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    out = parse_device_text(_split_merged_numbers(gray, items))
    if find_lead_labels:
        # the trace area gives lead names only: stray characters between traces are not parsed as values
        area = grid_box or (0, 0, img.shape[1], img.shape[0])
        more, got = _read_bands(engine, img, [area], text_px=12.0)
        read += got
        for text, pts, score in more:
            box = _box(pts)
            out.raw.append((text, box, score))
            lead = _lead_name(text)
            if lead is not None:
                out.lead_labels.append((lead, box))
    out.regions = read
    out.notes = notes + out.notes
    out.seconds = time.perf_counter() - t0
    return out


def _detector_min_side(engine: Any) -> int:
    """Short side below which the engine's detector enlarges its input (RapidOCR default: 736), else 0."""
    det = getattr(engine, "text_det", None)
    if det is not None and getattr(det, "limit_type", None) == "min":
        return int(getattr(det, "limit_side_len", 0) or 0)
    return 0


def _read_bands(engine: Any, img: np.ndarray, bands: Sequence[Box], *, text_px: float = _TEXT_PX
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


def _box(points: np.ndarray) -> Box:
    p = np.asarray(points, dtype=float).reshape(-1, 2)
    return (int(math.floor(p[:, 0].min())), int(math.floor(p[:, 1].min())),
            int(math.ceil(p[:, 0].max())), int(math.ceil(p[:, 1].max())))


_MERGED_NUMBER = re.compile(r"^[-+]?\d{2,}$")


def _split_merged_numbers(gray: np.ndarray, items: list[tuple[str, Any, float]]) -> list[tuple[str, Box, float]]:
    """Split boxes like '6744' whose ink has word-sized gaps ('67   44') into one box per number.

    Printed numerals are tabular (equal width), so the digits are shared out in proportion to the ink
    widths of the pieces.
    """
    out: list[tuple[str, Box, float]] = []
    for text, pts, score in items:
        box = _box(pts)
        t = _fix_digits(text.strip())
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


# ----------------------------------------------------------------------------------------------------------
# Parsing
# ----------------------------------------------------------------------------------------------------------

_LOOKALIKE = {"O": "0", "o": "0", "Q": "0", "D": "0", "l": "1", "I": "1", "|": "1", "S": "5", "B": "8", "Z": "2"}
_UNIT_AFTER = r"(?=(?:ms|msec|bpm|BPM|mm|/min|deg)\b)"


def _fix_digits(text: str) -> str:
    """Repair O/0, l/1, S/5 confusions in numbers ('1O0' -> '100', 'l60' -> '160', '6Oms' -> '60ms').

    A letter becomes a digit only inside a run of digits and look-alikes that holds a real digit, between
    two digits, or between a digit and a unit; words ('V5', 'aVL', 'II', 'BPM') are left alone.
    """
    text = text.replace("\u2212", "-").replace("\u2013", "-").replace("\u2014", "-").replace("\uff0f", "/")

    def whole(m: re.Match) -> str:
        s = m.group(0)
        if any(c.isdigit() for c in s) and all(c.isdigit() or c in _LOOKALIKE for c in s):
            return "".join(_LOOKALIKE.get(c, c) for c in s)
        return s

    text = re.sub(r"[A-Za-z0-9|]+", whole, text)
    text = re.sub(r"(?<=\d)[OoQDlI|SBZ](?=\d)", lambda m: _LOOKALIKE[m.group(0)], text)
    text = re.sub(r"(?<=\d)[OoQD]" + _UNIT_AFTER, "0", text)
    text = re.sub(r"(?<![A-Za-z0-9])[lI|Oo](?=\d+" + _UNIT_AFTER[3:], lambda m: _LOOKALIKE[m.group(0)], text)
    return text


_TOKEN = re.compile(r"[-+]?\d+(?:[.,]\d+)?|[A-Za-z][A-Za-z.'\-]*|/|:|\S")


@dataclass
class _Tok:
    text: str
    kind: str  # "num", "word", "sep"
    item: int  # index of the OCR box it came from
    used: bool = False


def _compact(s: str) -> str:
    return re.sub(r"[^a-z0-9]", "", s.lower())


#: label (lowercase, spaces and punctuation removed) -> the quantities the following numbers fill, in order
_LABELS: list[tuple[re.Pattern, tuple[str, ...]]] = [
    (re.compile(r"^(vent|ventr|ventricular|v)(rate|rat)$|^(heart)?rate$|^hr$"), ("heart_rate",)),
    (re.compile(r"^(pr|pq)(int|interval|intervai|inteval|interv|intv|i|dur|duration)?$"), ("pr_interval",)),
    (re.compile(r"^qrs(d|dur|duration|durat|int|interval)?$"), ("qrs_duration",)),
    (re.compile(r"^qtqtc[a-z]*$|^qtcqt$"), ("qt_interval", "qtc")),
    (re.compile(r"^qt(int|interval|dur)?$"), ("qt_interval",)),
    (re.compile(r"^qtc(b|f|h|baz|bazett|fri|frid|fridericia|hod|hodges|fram|framingham)?$"), ("qtc",)),
    (re.compile(r"^(prt|pqrst)(axes|axis|ax|axs|axe)?$|^(axes|axis)(prt|pqrst)?$"), ("p_axis", "qrs_axis", "t_axis")),
    (re.compile(r"^pax(is)?$"), ("p_axis",)),
    (re.compile(r"^(qrs|r)ax(is)?$"), ("qrs_axis",)),
    (re.compile(r"^tax(is)?$"), ("t_axis",)),
]


def _label_keys(words: str) -> tuple[str, ...] | None:
    c = _compact(words)
    if not c:
        return None
    for pat, keys in _LABELS:
        if pat.match(c):
            return keys
    return None


def _qtc_correction(text: str) -> str | None:
    c = text.lower()
    m = re.search(r"qtc\s*[:\-_(]?\s*(bazett|baz|fridericia|frid|fri|hodges|hod|framingham|fram|b|f|h)(?![a-z])", c)
    if m:
        return _QTC_CORRECTIONS[m.group(1)]
    m = re.search(r"\b(bazett|fridericia|hodges|framingham)\b", c)
    return m.group(1) if m else None


def parse_device_text(items: Sequence[tuple[str, Any, float]]) -> DevicePrinted:
    """Parse OCR boxes ``(text, box, score)`` into a `DevicePrinted` (no timing, no regions).

    ``box`` is (x0, y0, x1, y1) or four corner points. Boxes are grouped into text lines; along a line a
    recognised label ("Vent. rate", "PR interval", "QT/QTc", "P-R-T axes", ...) takes the numbers that
    follow it, in the same box or in boxes to its right. Text left over is a statement when it matches a
    known interpretive statement or uses ECG vocabulary.
    """
    boxes: list[tuple[str, Box, float]] = []
    for text, box, score in items:
        arr = np.asarray(box, dtype=float)
        b = tuple(int(round(v)) for v in arr) if arr.ndim == 1 and arr.size == 4 else _box(arr)
        boxes.append((str(text), b, float(score)))
    out = DevicePrinted(raw=list(boxes))
    lines = _group_lines(boxes)
    toks_by_line = [_tokens(line, boxes) for line in lines]
    for toks in toks_by_line:
        _parse_line(toks, out)
    corr = _qtc_correction("  ".join(t for t, _, _ in boxes))
    qtc = out.measurements.pop("qtc", None)
    if qtc is not None:
        out.measurements["qtc_bazett" if corr in (None, "bazett") else f"qtc_{corr}"] = qtc
    out.qtc_correction = corr
    out.qtc_correction_source = "printed" if corr else ("not printed: assumed Bazett" if qtc is not None else "not printed")
    used_boxes: set[int] = set()
    _paper_settings(boxes, out, used_boxes)
    for i, (t, b, _) in enumerate(boxes):
        lead = _lead_name(t)
        if lead is not None:
            out.lead_labels.append((lead, b))
            used_boxes.add(i)
    out.statements = _statements(lines, toks_by_line, boxes, used_boxes)
    return out


def _group_lines(boxes: list[tuple[str, Box, float]]) -> list[list[int]]:
    order = sorted(range(len(boxes)), key=lambda i: (boxes[i][1][1] + boxes[i][1][3]) / 2)
    lines: list[list[int]] = []
    centers: list[float] = []
    heights: list[float] = []
    for i in order:
        _, (x0, y0, x1, y1), _ = boxes[i]
        yc, h = (y0 + y1) / 2, max(1, y1 - y0)
        for k in range(len(lines) - 1, max(-1, len(lines) - 4), -1):
            if abs(yc - centers[k]) < 0.45 * min(h, heights[k]) + 1:
                lines[k].append(i)
                n = len(lines[k])
                centers[k] = (centers[k] * (n - 1) + yc) / n
                heights[k] = max(heights[k], h)
                break
        else:
            lines.append([i])
            centers.append(yc)
            heights.append(h)
    return [sorted(line, key=lambda i: boxes[i][1][0]) for line in lines]


def _tokens(line: list[int], boxes: list[tuple[str, Box, float]]) -> list[_Tok]:
    toks: list[_Tok] = []
    for i in line:
        fixed = _fix_digits(boxes[i][0])
        # OCR drops spaces: '160ms' -> '160 ms', 'QRS104' -> 'QRS 104', 'msQRS' -> 'ms QRS'
        fixed = re.sub(r"(?<=\d)(?=[A-Za-z])|(?<=[A-Za-z])(?=\d)|(?<=[a-z])(?=[A-Z])", " ", fixed)
        for m in _TOKEN.finditer(fixed):
            s = m.group(0)
            kind = "num" if re.match(r"^[-+]?\d", s) else ("word" if s[0].isalpha() else "sep")
            toks.append(_Tok(s, kind, i))
    return toks


_UNITS = {"ms", "msec", "bpm", "min", "deg", "degrees", "mm", "sec", "mv", "hz", "/min", "°"}


_NOT_VENTRICULAR = {"atrial", "atr", "a", "p"}


def _parse_line(toks: list[_Tok], out: DevicePrinted) -> None:
    """Walk a line's tokens: a label takes the numbers after it (and the units after those).

    The label is the longest run of recent words that names a quantity, so 'QRS duration', 'QT/QTc' and
    'P/QRS/T' win over the 'QRS' or 'QT' inside them. Up to two unknown words may stand between a label
    and its numbers ('QRS dur.', a misread word).
    """
    words: list[_Tok] = []  # recent words (and '/', ':') since the last number or break
    label: list[_Tok] = []
    keys: tuple[str, ...] | None = None
    values: list[_Tok] = []
    stray = 0  # unknown words since the label
    last_commit: list[_Tok] | None = None  # the values just committed: units after them belong to them

    def commit() -> None:
        nonlocal keys, values, label
        assert keys is not None
        if len(values) != len(keys):
            out.notes.append(f"{'/'.join(keys)}: {len(values)} of {len(keys)} values read after "
                             f"'{' '.join(t.text for t in label)}', ignored")
        else:
            for k, t in zip(keys, values):
                v = float(t.text.replace(",", "."))
                lo, hi = _PLAUSIBLE[k]
                if not lo <= v <= hi:
                    out.notes.append(f"{k}: printed value {v:g} is implausible (OCR misread?), ignored")
                    continue
                if k.endswith("_axis") and v > 180:
                    v -= 360
                out.measurements.setdefault(k, float(v))
            for t in label + values:
                t.used = True
        keys, values, label = None, [], []

    for tok in toks:
        if tok.kind == "num":
            if keys is not None and len(values) < len(keys):
                values.append(tok)
                if len(values) == len(keys):
                    commit()
                    last_commit = [tok]
            else:
                last_commit = None
            words = []
            continue
        if tok.kind == "sep":
            if tok.text == "/" and keys is not None and values:
                continue  # '380/410'
            if tok.text == "/" and last_commit:
                last_commit.append(tok)  # rate written '/min'
            if tok.text in "/:":
                words.append(tok)  # 'QT/QTc', 'P/QRS/T', 'HR:'
            else:
                words = []
            continue
        low = tok.text.lower().strip(".")
        if last_commit is not None and low in _UNITS:
            for t in last_commit + [tok]:
                t.used = True
            continue
        last_commit = None
        if keys is not None and values:
            commit()
        if keys is not None and low in _UNITS:
            continue  # 'HR (bpm) 72'
        words.append(tok)
        for start in range(len(words)):
            run = words[start:]
            if run[0].kind != "word":
                continue
            found = _label_keys(" ".join(t.text for t in run if t.kind == "word"))
            if found == ("heart_rate",) and start > 0 and _compact(words[start - 1].text) in _NOT_VENTRICULAR:
                found = None  # 'Atrial rate': not the ventricular rate the workbench reports
                keys, label = None, []
                break
            if found is not None:
                keys, label, values, stray = found, run, [], 0
                break
        else:
            if keys is not None:
                stray += 1
                if stray > 2:
                    keys, label = None, []
    if keys is not None and values:
        commit()


def _paper_settings(boxes: list[tuple[str, Box, float]], out: DevicePrinted, used_boxes: set[int]) -> None:
    for i, (text, _, _) in enumerate(boxes):
        t = _fix_digits(text).lower().replace(" ", "").replace(",", ".")
        for m in re.finditer(r"(\d+(?:\.\d+)?)mm/(mv|sec|s)", t):
            v = float(m.group(1))
            if m.group(2) == "mv":
                if v in _GAINS and out.gain_mm_mv is None:
                    out.gain_mm_mv = v
                    used_boxes.add(i)
            elif v in _SPEEDS and out.speed_mm_s is None:
                out.speed_mm_s = v
                used_boxes.add(i)


def _lead_name(text: str) -> str | None:
    t = text.strip(" .:,;'\"|_-")
    if not t or len(t) > 4:
        return None
    if t in ("I", "II", "III"):
        return t
    u = t.upper()
    if u in ("AVR", "AVL", "AVF"):
        return "aV" + u[2]
    if u in ("AVI",):
        return "aVL"
    m = re.fullmatch(r"V([1-6SGO])", u)
    if m:
        return "V" + {"S": "5", "G": "6"}.get(m.group(1), m.group(1))
    return None


# ---- statements ------------------------------------------------------------------------------------------

def _vocabulary() -> dict[str, float]:
    words: set[str] = set(_EXTRA_WORDS) | set(_STATEMENT_WORDS)
    for s in CANONICAL_STATEMENTS:
        words.update(w for w in re.split(r"[^a-z0-9\-]+", s.lower()) if w)
    return {w: 1.0 for w in words}


_VOCAB = _vocabulary()
_CANON_COMPACT = [(_compact(s), s) for s in CANONICAL_STATEMENTS]


def _segment(text: str) -> str:
    """Restore spaces the OCR dropped: 'NonspecificST and Twave' -> 'Nonspecific ST and T wave'."""

    def cost(piece: str) -> float:
        # known words are cheap, short ones less so (so that 'st' or 'in' is not carved out of any word);
        # an unknown run costs more than any split that finds a real word of 3+ letters in it
        if piece.lower() in _VOCAB:
            return 3.0 if len(piece) <= 2 else (2.0 if len(piece) == 3 else 1.0)
        if not any(c.isalpha() for c in piece):
            return 1.0
        return len(piece) + 3.0

    words: list[str] = []
    for chunk in text.split():
        n = len(chunk)
        best = [0.0] + [math.inf] * n
        back = [0] * (n + 1)
        for j in range(1, n + 1):
            for i in range(max(0, j - 30), j):
                c = best[i] + cost(chunk[i:j])
                if c < best[j]:
                    best[j], back[j] = c, i
        cuts, j = [], n
        while j > 0:
            cuts.append((back[j], j))
            j = back[j]
        pieces: list[str] = []
        for i, j in reversed(cuts):
            piece = chunk[i:j]
            if pieces and not any(c.isalnum() for c in piece):
                pieces[-1] += piece  # punctuation stays on its word
            else:
                pieces.append(piece)
        words.append(" ".join(pieces))
    return " ".join(words)


def normalize_statement(text: str) -> tuple[str, bool]:
    """(statement, is_known): OCR text repaired to a known statement when close enough, else re-spaced.

    'Close enough' is a few misread characters (at most 3, or 12% of the statement), never a missing
    word: 'Sinus rhythm with marked sinus arrhythmia' must not become 'Sinus rhythm with sinus arrhythmia'.
    """
    c = _compact(text)
    if not c:
        return "", False
    best, best_d = None, math.inf
    for cc, s in _CANON_COMPACT:
        if abs(len(cc) - len(c)) > max(3, 0.12 * len(cc)):
            continue
        matched = sum(m.size for m in SequenceMatcher(None, c, cc, autojunk=False).get_matching_blocks())
        d = len(c) + len(cc) - 2 * matched  # characters inserted + deleted (a substitution counts 2)
        if d <= max(3, 0.12 * len(cc)) and d < best_d:
            best, best_d = s, d
    if best is not None:
        return best, True
    cleaned = re.sub(r"^[*\s#>-]+|[*\s#<-]+$", "", text).strip()
    return _segment(cleaned), False


def _statements(lines: list[list[int]], toks_by_line: list[list[_Tok]], boxes: list[tuple[str, Box, float]],
                used_boxes: set[int]) -> list[str]:
    """Interpretation statements: the text of each line that the measurement parse did not use."""
    found: list[str] = []
    for line, toks in zip(lines, toks_by_line):
        # text left in each box: the whole box when none of it was used, else its unused tokens
        left: dict[int, str] = {}
        for i in line:
            mine = [t for t in toks if t.item == i]
            if i in used_boxes or not mine:
                continue
            if not any(t.used for t in mine):
                left[i] = boxes[i][0]
            else:
                left[i] = re.sub(r"\s+([,.;:])", r"\1", " ".join(t.text for t in mine if not t.used))
        groups: list[list[int]] = []
        for i in line:
            text = left.get(i, "")
            if not re.search(r"[A-Za-z]{2}", text):
                groups.append([])  # a used box or a bare number ends a phrase
                continue
            x0, y0, _, y1 = boxes[i][1]
            if groups and groups[-1]:
                prev = boxes[groups[-1][-1]][1]
                if x0 - prev[2] > 2.0 * max(y1 - y0, prev[3] - prev[1]):
                    groups.append([])
            if not groups:
                groups.append([])
            groups[-1].append(i)
        for g in groups:
            if not g:
                continue
            text = " ".join(left[i] for i in g).strip()
            statement, known = normalize_statement(text)
            if not statement:
                continue
            if not known:
                words = {w.lower().strip(".,:;()*") for w in (statement + " " + text).split()}
                if (":" in text or words & (_ADMIN_WORDS | _UNITS) or not (words & _STATEMENT_WORDS)
                        or len(_compact(statement)) < 4):
                    continue
            if statement not in found:
                found.append(statement)
    return found


# ----------------------------------------------------------------------------------------------------------
# Comparison
# ----------------------------------------------------------------------------------------------------------

_QTC_KEYS = {"qtc_bazett": "bazett", "qtc_fridericia": "fridericia", "qtc_hodges": "hodges", "qtc_framingham": "framingham"}
_ORDER = ("heart_rate", "pr_interval", "qrs_duration", "qt_interval", "qtc_bazett", "qtc_fridericia", "qtc_hodges",
          "qtc_framingham", "p_axis", "qrs_axis", "t_axis")


def _value(measured: dict, key: str) -> float | None:
    v = measured.get(key)
    if isinstance(v, dict):
        v = v.get("value")
    elif v is not None and hasattr(v, "value"):
        v = v.value
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _workbench_qtc(measured: dict, correction: str) -> tuple[float | None, str | None]:
    direct = _value(measured, f"qtc_{correction}")
    if direct is not None:
        return direct, None
    qt, hr = _value(measured, "qt_interval"), _value(measured, "heart_rate")
    if qt is None or hr is None or hr <= 0:
        return None, None
    rr = 60.0 / hr
    if correction == "bazett":
        return qt / math.sqrt(rr), "workbench QT corrected with Bazett here"
    if correction == "fridericia":
        return qt / rr ** (1 / 3), "workbench QT corrected with Fridericia here"
    if correction == "hodges":
        return qt + 1.75 * (hr - 60.0), "workbench QT corrected with Hodges here"
    if correction == "framingham":
        return qt + 154.0 * (1.0 - rr), "workbench QT corrected with Framingham here"
    return None, None


def compare_with_measurements(printed: DevicePrinted, measured: dict) -> list[dict[str, Any]]:
    """One row per quantity the device printed: its value beside the workbench's, and whether they agree.

    ``measured``: the workbench's measurement dict (``analyze(record).to_dict()["measurements"]``: key ->
    ``{"value", "unit"}``), or key -> number. Row keys: name, label, device, workbench, difference
    (workbench - device; axes wrapped to +-180 deg), unit, tolerance, agrees (None when the workbench has
    no value), source (of the tolerance), note.
    """
    if isinstance(measured.get("measurements"), dict):  # a whole analysis dict was passed
        measured = measured["measurements"]
    rows: list[dict[str, Any]] = []
    keys = [k for k in _ORDER if k in printed.measurements] + [k for k in printed.measurements if k not in _ORDER]
    for key in keys:
        device = float(printed.measurements[key])
        note = None
        if key in _QTC_KEYS:
            spec = AGREEMENT_TOLERANCES["qtc"]
            correction = _QTC_KEYS[key]
            workbench, note = _workbench_qtc(measured, correction)
            label = f"QTc ({correction.capitalize()})"
            if key == "qtc_bazett" and printed.qtc_correction is None:
                note = "; ".join(n for n in (note, "device's correction not printed: assumed Bazett") if n)
        elif key in AGREEMENT_TOLERANCES:
            spec = AGREEMENT_TOLERANCES[key]
            workbench = _value(measured, key)
            label = spec["label"]
        else:
            continue
        diff = None if workbench is None else workbench - device
        if diff is not None and key.endswith("_axis"):
            diff = (diff + 180.0) % 360.0 - 180.0
        agrees = None if diff is None else bool(abs(diff) <= spec["tolerance"])
        if workbench is None:
            note = "; ".join(n for n in (note, "workbench did not measure it") if n)
        rows.append({"name": key, "label": label, "device": device,
                     "workbench": None if workbench is None else round(workbench, 1),
                     "difference": None if diff is None else round(diff, 1), "unit": spec["unit"],
                     "tolerance": spec["tolerance"], "agrees": agrees, "source": spec["source"], "note": note})
    return rows
