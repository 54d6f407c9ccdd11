"""Quality gate for ECG pictures: is this image worth digitizing, and if not, why (in plain words)?

All measurements are made on a copy shrunk to at most `WORK_SIZE` pixels across, for speed (~0.1 s on a
3000 x 2000 photo) and because it is the right scale to judge readability: 1200 px across a 25 cm wide
ECG is ~5 px/mm, so a picture that is sharp at this scale has traces sharp to ~0.5 mm.

The picture becomes "ink": how much darker each pixel is than the paper around it (the paper level is the
lightest value within ~40 px, which removes shadows and the uneven light of phone photos). Two inks are
used: the darkest colour channel (pink, red or green grids count) for the blank-page and grid tests, and
the grey level (what traces are drawn with; coloured grids are light in it) for everything else.

Checks, in order; the first failing one gives the verdict:

* size: fewer than `MIN_LONG_SIDE` px on the long side or `MIN_SHORT_SIDE` on the short side;
* blank page: the darkest 0.1 % of pixels are barely darker than the paper (`any_ink` < `BLANK_CONTRAST`);
* blur: `edge_width_px` (contrast / steepest gradient: 2 for a crisp edge, ~2.5 x the blur's sigma for a
  blurred one) above `MAX_EDGE_WIDTH` (tested before contrast, as blur also fades thin lines);
* contrast: the darkest marks are faint (`contrast` < `MIN_CONTRAST`);
* ECG content: neither a periodic grid (`grid_score`: autocorrelation of the row and column ink profiles
  in 4 x 4 tiles) nor trace-like curves (`trace_cover`: total width of long, thin, spiky dark curves in
  image widths, i.e. "how many full-width strips of trace") on a mostly-paper page (`ink_fraction`).
  When neither is found on a somewhat soft picture (`edge_width_px` > `SHARP_EDGE_WIDTH`), blur is given
  as the verdict, because blur hides grid and traces alike and a blurred ECG photo is the likelier input.

A missing grid alone is only a warning (some printouts have faint, colourless or no grid), and so is a
grid on which no trace could be isolated (the digitizer will tell). Known limits: blank ECG paper passes
(a grid, no traces); pictures rotated by more than a few degrees with a dark, dense grid may fail.

Thresholds were set on the 26 real scans and 5 renders in ``shared/data/images`` (all usable) against
generated pictures (noise, blobs, text pages, tables) and 15 natural photos from scikit-image (all
refused). Figures on the real pictures: contrast 0.54-0.99, edge width 1.96-2.26 px, grid score 0.20-0.87
(0.003 for the trace-only render), trace cover 0.37-3.95, ink fraction 0.01-0.20. Non-ECG pictures: grid
score <= 0.33, trace cover <= 0.14. A blur of sigma 1 working px keeps 30 of the 31 usable; sigma 4
makes all of them "too blurred".
"""
from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

from ...errors import InputError
from .types import ImageQuality

__all__ = ["assess_quality"]

WORK_SIZE = 1200  # px across the working copy
MIN_LONG_SIDE = 400  # smallest real scan is 640 x 289
MIN_SHORT_SIDE = 150
BLANK_CONTRAST = 0.05  # in 0..1 ink units (13 grey levels); blank scans measure <= 0.02, real ECGs >= 0.53
MIN_CONTRAST = 0.12  # 30 grey levels: traces fainter than this are lost in paper texture and JPEG noise
SHARP_EDGE_WIDTH = 3.0  # working px; every real scan measures 2.0-2.3 (a crisp edge gives 2)
MAX_EDGE_WIDTH = 6.0  # ~ a Gaussian blur of 2-2.5 working px (~0.5 mm of paper): QRS details smear
GRID_MIN = 0.40  # tiles' median autocorrelation peak; real grids 0.2-0.9 (photos of curved paper low), others <= 0.3
TRACE_MIN = 0.30  # image widths of trace; real ECGs 0.37-3.95, non-ECG pictures <= 0.14
TRACE_LEVEL = 0.4  # ink above this fraction of the contrast is "pen"; the lighter rest is grid and paper
MIN_PIECE = 0.10  # a trace piece spans at least this fraction of the width (a 3x4 lead spans 0.25)
MAX_THICK, MAX_THICK_PX = 0.014, 10.0  # pen line thickness limit (fraction of height, working px): traces 1-9 px
MAX_INK = 0.12  # dark-pixel fraction; a drawing on paper is mostly paper (real ECGs 0.01-0.10 but one dense grid
#                 render 0.20, which its grid carries); textured photos and noise are not (0.15-0.49)

VERDICT_USABLE = "usable"
VERDICT_BLANK = "blank page"
VERDICT_CONTRAST = "too little contrast"
VERDICT_BLUR = "too blurred to read the traces"
VERDICT_NOT_ECG = "no ECG grid or traces found (this does not look like an ECG)"
NOT_FOUND = "No ECG grid paper and no ECG traces were recognised in this picture."


def assess_quality(image: np.ndarray) -> ImageQuality:
    """Judge whether an RGB (or grey) picture can be digitized; metrics and warnings are recorded."""
    rgb = _as_rgb(image)
    height, width = rgb.shape[:2]
    metrics: dict[str, float] = {"width_px": float(width), "height_px": float(height)}
    if max(width, height) < MIN_LONG_SIDE or min(width, height) < MIN_SHORT_SIDE:
        return ImageQuality(False, f"too small ({width} x {height} pixels)", metrics,
                            [f"The picture has only {width} x {height} pixels; scan or photograph the ECG at "
                             f"a higher resolution (at least {MIN_LONG_SIDE} pixels across, better 1500 or more)."])
    scale = min(1.0, WORK_SIZE / max(width, height))
    red, green, blue = cv2.split(rgb)
    colour_ink = _ink(_darkness(255 - cv2.min(cv2.min(red, green), blue), scale))  # any ink, coloured grids too
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    ink = _ink(_darkness(grey, scale, invert=True))  # grey level: what traces are drawn with
    metrics.update(work_scale=scale, contrast=float(np.percentile(ink, 99.9)),
                   any_ink=float(np.percentile(colour_ink, 99.9)))
    contrast = metrics["contrast"]
    if metrics["any_ink"] < BLANK_CONTRAST:
        return ImageQuality(False, VERDICT_BLANK, metrics, ["Nothing is drawn or printed on this page."])
    edge_width = _edge_width(ink, contrast)
    metrics["edge_width_px"] = edge_width
    blur_advice = ("The picture is out of focus or shaken; hold the camera still, parallel to the paper, "
                   "and let it focus before taking the photo.")
    if edge_width > MAX_EDGE_WIDTH:  # before the contrast test: blur also fades thin lines
        return ImageQuality(False, VERDICT_BLUR, metrics, [blur_advice])
    if contrast < MIN_CONTRAST:
        return ImageQuality(False, VERDICT_CONTRAST, metrics,
                            ["The lines are too faint against the paper; rescan darker or photograph in better light."])
    grid, period = _grid_score(colour_ink)
    pen = _ink(_darkness(grey, scale, invert=True, keep_lines=True)) if scale < 1 else ink
    cover, segments = _trace_cover(pen, float(np.percentile(pen, 99.9)))
    ink_fraction = float(np.mean(ink > max(TRACE_LEVEL * contrast, 0.08)))
    metrics.update(grid_score=grid, grid_period_px=period / scale if period else 0.0, trace_cover=cover,
                   trace_segments=float(segments), ink_fraction=ink_fraction)
    traces = cover >= TRACE_MIN and ink_fraction <= MAX_INK
    if grid < GRID_MIN and not traces:
        if edge_width > SHARP_EDGE_WIDTH:  # blur is the likelier reason: it hides grid and traces alike
            return ImageQuality(False, VERDICT_BLUR, metrics, [
                blur_advice, f"{NOT_FOUND[:-1]}, possibly because of the blur."])
        return ImageQuality(False, VERDICT_NOT_ECG, metrics, [NOT_FOUND])
    problems = []
    if edge_width > SHARP_EDGE_WIDTH:
        problems.append("The picture is slightly blurred; small details (P waves, notches) may be lost.")
    if grid < GRID_MIN:
        problems.append("No clear ECG grid was found: the time and voltage scale may have to be assumed "
                        "(25 mm/s, 10 mm/mV) or entered by hand.")
    if not traces:
        problems.append("The traces are hard to separate from the grid; check the digitized leads carefully.")
    return ImageQuality(True, VERDICT_USABLE, metrics, problems)


# ====================================================================== measurements
def _as_rgb(image: np.ndarray) -> np.ndarray:
    """Any picture array (grey, RGB, RGBA; uint8, uint16, float 0..1, bool) as contiguous uint8 RGB."""
    array = np.asarray(image)
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim == 3 and array.shape[2] in (3, 4):
        array = array[..., :3]
    elif array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    else:
        raise InputError(f"Expected a picture (height x width x 3 colours), got an array of shape {array.shape}.")
    if array.size == 0:
        raise InputError("The picture is empty (0 pixels).")
    if array.dtype != np.uint8:
        top = 65535.0 if array.dtype == np.uint16 else (1.0 if np.issubdtype(array.dtype, np.floating) else 255.0)
        array = np.clip(np.nan_to_num(array.astype(np.float64)) / top * 255.0, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(array)


def _darkness(channel: np.ndarray, scale: float, invert: bool = False, keep_lines: bool = False) -> np.ndarray:
    """One channel shrunk to the working size, as darkness 0 (white) .. 1 (black).

    Shrinking comes after the per-pixel colour reduction: min() of already averaged pixels would add a moire.
    """
    if invert:
        channel = 255 - channel
    if scale < 1:
        height, width = channel.shape
        if keep_lines:  # spread dark pixels over the block that shrinks into one, so 1-px lines stay dark
            size = int(np.ceil(1 / scale))
            channel = cv2.dilate(channel, np.ones((size, size), np.uint8))
        channel = cv2.resize(channel, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    return channel.astype(np.float32) / 255.0


def _ink(dark: np.ndarray) -> np.ndarray:
    """Darkness above the local paper level, so shadows and uneven light of a photo are not ink.

    The paper level is the lightest value within ~40 px (min filter on a 1/4 copy, then smoothed): a median
    would sit on the grid lines of fine ECG paper and hide the traces' contrast.
    """
    h, w = dark.shape
    coarse = cv2.resize(dark, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA)
    paper = cv2.erode(coarse, np.ones((9, 9), np.uint8))
    paper = cv2.blur(paper, (9, 9))
    paper = cv2.resize(paper, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(dark - paper, 0.0, 1.0)


def _edge_width(ink: np.ndarray, contrast: float) -> float:
    """Width in px over which the sharpest edges rise: contrast / steepest gradient (2 for a crisp edge)."""
    gx = cv2.Sobel(ink, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(ink, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    steepest = float(np.percentile(np.hypot(gx, gy), 99.9))
    return contrast / steepest if steepest > 1e-6 else float("inf")


def _grid_score(dark: np.ndarray, tiles: int = 4) -> tuple[float, int]:
    """Median over tiles of the weaker of the row/column periodicities, and the typical period in px.

    ECG paper gives both profiles (mean ink per column, per row) a strong autocorrelation peak at the
    grid spacing; text has periodic rows but not columns, photos and noise neither. Tiles keep a slightly
    rotated or curved photo of the paper periodic locally.
    """
    h, w = dark.shape
    scores, periods = [], []
    for i in range(tiles):
        for j in range(tiles):
            tile = dark[i * h // tiles:(i + 1) * h // tiles, j * w // tiles:(j + 1) * w // tiles]
            max_lag = min(60, min(tile.shape) // 3)
            col, col_lag = _periodicity(tile.mean(axis=0), max_lag)
            row, row_lag = _periodicity(tile.mean(axis=1), max_lag)
            scores.append(min(col, row))
            periods += [col_lag, row_lag]
    found = [p for p in periods if p]
    return float(np.median(scores)), int(np.median(found)) if found else 0


def _periodicity(profile: np.ndarray, max_lag: int) -> tuple[float, int]:
    """Highest autocorrelation peak at a lag of 4..max_lag px, and its lag (0, 0 when flat or aperiodic)."""
    detail = profile - ndimage.uniform_filter1d(profile, 15, mode="nearest")
    if max_lag < 6 or float(detail.std()) < 2e-3:  # < 0.5 grey level of structure: nothing periodic to see
        return 0.0, 0
    detail = detail - detail.mean()
    spectrum = np.fft.rfft(detail, 2 * len(detail))
    corr = np.fft.irfft(spectrum * np.conj(spectrum))[:max_lag + 2]
    corr = corr / corr[0]
    lags = np.arange(4, max_lag + 1)
    peaks = lags[(corr[lags] > corr[lags - 1]) & (corr[lags] >= corr[lags + 1])]
    if peaks.size == 0:
        return 0.0, 0
    best = peaks[np.argmax(corr[peaks])]
    return max(0.0, float(corr[best])), int(best)


def _trace_cover(ink: np.ndarray, contrast: float) -> tuple[float, int]:
    """Total width (in image widths) of trace-like curves, and their number.

    A trace is a long thin dark curve drawn as a function of time: it spans > 10 % of the width with few
    gaps and has regular tall narrow excursions (QRS complexes: at least 3, and at least ~6 per image
    width, i.e. a heart rate above ~36/min at 25 mm/s) rising far above its usual thickness. Straight grid
    lines, table rules and specks (grid dots, paper texture) are removed first; letters, words, object
    outlines and blobs of a photo fail the length, thinness or spike tests.
    """
    h, w = ink.shape
    mask = (ink > max(TRACE_LEVEL * contrast, 0.08)).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    lines = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((1, max(15, w // 5)), np.uint8))
    lines |= cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((max(15, h // 5), 1), np.uint8))
    mask &= 1 - lines
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    specks = stats[:, cv2.CC_STAT_AREA] < 12
    specks[0] = False
    mask[specks[labels]] = 0
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((5, 9), np.uint8))  # bridge small breaks in a trace
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    covered, segments = 0, 0
    for label in np.flatnonzero((stats[:, 2] >= MIN_PIECE * w) & (stats[:, 3] >= 0.015 * h)):
        if label == 0:
            continue
        x, y, cw, ch, _area = stats[label]
        if _is_trace((labels[y:y + ch, x:x + cw] == label), h, w):
            covered += cw
            segments += 1
    return covered / w, segments


def _is_trace(component: np.ndarray, h: int, w: int) -> bool:
    """Trace test for one connected piece: thin runs in every column, with QRS-like spikes (see above)."""
    count = component.sum(axis=0)
    filled = count > 0
    if filled.mean() < 0.85:
        return False
    runs = np.count_nonzero(np.diff(component.astype(np.int8), axis=0) == 1, axis=0) + component[0]
    thickness = float(np.median(count[filled] / runs[filled]))  # several rows of leads may share a piece
    if thickness > min(MAX_THICK_PX, max(5.0, MAX_THICK * h)):  # pen lines are 1-8 px here; photo edges and blobs wider
        return False
    tall = count - runs * thickness >= max(3 * thickness, 0.03 * h)
    spikes = int(np.count_nonzero(np.diff(tall.astype(np.int8)) == 1) + tall[0])
    return spikes >= max(3, 6 * component.shape[1] / w)
