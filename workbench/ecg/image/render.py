"""Draw a record as a printed ECG page, and keep the exact ground truth of every drawn sample.

The digitizer, the quality gate and the OCR of header lines need labelled images; no public ECG image
comes with its signals, so we print our own: real records on realistic paper (1 mm pink grid, 5 mm
major lines, calibration pulses, lead labels, speed/gain footer, optional device measurements as header
text), optionally degraded like a phone photo or a bad scan (`augment`).

Geometry (all positions derive from millimetres on the page, pixel = mm * dpi / 25.4):

* A panel is one lead over one time span. Its key in ``RenderedECG.traces`` is the lead name
  (``"II"``), or ``"<lead>@rhythm"`` (``"II@rhythm"``) for a full-length rhythm strip, so lead II of the
  3x4 grid and the lead II rhythm strip of "3x4+1" do not collide.
* Time runs at the same x on every row: column k of a 3x4 page shows t = 2.5k .. 2.5(k+1) s at
  x = x(2.5k) .. x(2.5(k+1)), with x(t) = x(0) + t * speed * px_per_mm. ``LeadPanel.box`` spans that
  time range and the row band; ``baseline_y`` is the 0 mV row (whole millimetres on the grid).
* Each row starts with a calibration pulse (1 mV high, 200 ms wide) in the 5 + 0.2*speed mm just left of
  x(0) (the left edge of the first-column boxes). The pulse and the column ticks are ink but not trace:
  ``trace_mask`` holds only lead traces.
* Pixel coordinates are pixel centres: ``image[round(y), round(x)]`` is the pixel under a point.

Partial records: missing limb leads are derived from two of I/II/III; leads that still lack are left
blank and the layout is then named "partial" (its panels keep the positions of the requested layout).
Records longer than 10 s are cut to the first 10 s; shorter ones are drawn as far as they go (columns
with no data are left out, which also makes the layout "partial"). A record with none of the layout's
leads raises `InputError`.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import signal as sps

from ...errors import InputError
from ..filters import fill_gaps
from ..leads import STANDARD_LEADS
from ..record import ECGRecord
from .augment import augment as apply_augmentations
from .augment import check_names
from .types import LAYOUTS, PAGE_SECONDS, Calibration, Layout, LeadPanel, RenderedECG

#: paper sizes (width, height) in mm
PAPERS: dict[str, tuple[float, float]] = {"A4-landscape": (297.0, 210.0), "letter-landscape": (279.4, 215.9)}
#: pale pink minor and red major lines, like thermal ECG paper
DEFAULT_GRID_COLORS: tuple[tuple[int, int, int], tuple[int, int, int]] = ((249, 203, 208), (236, 140, 150))
DRAW_FS = 500.0  # every drawn sample is a polyline vertex: 0.05 mm apart at 25 mm/s, smooth at any dpi
HEADER_MM = 25.0  # the grid starts here; header text lines live above it
FOOTER_MM = 10.0  # room below the grid for the speed/gain line
_BASELINES = ("highpass", "offset", "none")
_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")


def render_ecg(
    record: ECGRecord,
    layout: str = "3x4+1",
    *,
    dpi: float = 200,
    paper: str | tuple[float, float] = "A4-landscape",
    speed_mm_s: float = 25.0,
    gain_mm_mv: float = 10.0,
    grid_colors: tuple[tuple[int, int, int], tuple[int, int, int]] = DEFAULT_GRID_COLORS,
    trace_color: tuple[int, int, int] = (0, 0, 0),
    trace_width_mm: float = 0.3,
    seed: int = 0,
    header_text: Mapping[str, object] | None = None,
    show_labels: bool = True,
    show_calibration: bool = True,
    augment: Sequence[str] | str = (),
    augment_strength: float = 1.0,
    baseline: str = "highpass",
) -> RenderedECG:
    """Print ``record`` in ``layout`` (a key of `LAYOUTS`) and return the page with its ground truth.

    ``header_text`` items become lines above the grid ("Vent. rate  72 BPM"; a value of None or "" prints
    the key alone, e.g. an interpretation line). ``augment`` names (see `augment.AUGMENTATIONS`) are
    applied after drawing, seeded by ``seed``; ``RenderedECG.transform`` maps clean-page pixel
    coordinates (``traces``, panel boxes, ``trace_mask``) onto the augmented image.

    ``baseline`` is what an electrocardiograph's baseline filter does before printing: "highpass"
    (default: each lead's median removed, then a zero-phase 0.5 Hz high-pass against wander), "offset"
    (median only) or "none" (values as recorded). ``RenderedECG.record`` holds the signals as drawn.
    """
    if baseline not in _BASELINES:
        raise InputError(f"Unknown baseline treatment {baseline!r}.", hint=f"Use one of: {', '.join(_BASELINES)}.")
    if layout not in LAYOUTS:
        raise InputError(f"Unknown ECG layout {layout!r}.", hint=f"Choose one of: {', '.join(LAYOUTS)}.")
    if not (isinstance(dpi, (int, float)) and 30 <= dpi <= 1200):
        raise InputError(f"Resolution {dpi!r} dpi is outside 30-1200 dpi.")
    if not (0 < speed_mm_s <= 100 and 0 < gain_mm_mv <= 100 and 0 < trace_width_mm <= 2):
        raise InputError("Paper speed, gain and trace width must be positive (speed, gain up to 100, width up to 2 mm).")
    page_w, page_h = _paper_mm(paper)
    augmentations = check_names(augment)
    rows, rhythm = LAYOUTS[layout]
    needed = {lead for row in rows for lead in row} | set(rhythm)
    rec = _prepare(record, needed, baseline)
    ppm = dpi / 25.4
    geo = _Geometry(page_w, page_h, speed_mm_s, gain_mm_mv, n_rows=len(rows) + len(rhythm))

    width_px, height_px = round(page_w * ppm), round(page_h * ppm)
    canvas = _grid(width_px, height_px, ppm, geo, grid_colors)

    # panels: (key, lead, row index, t0, nominal duration, rhythm?)
    col_s = PAGE_SECONDS / len(rows[0])
    specs = [(lead, lead, r, c * col_s, col_s, False) for r, row in enumerate(rows) for c, lead in enumerate(row)]
    specs += [(f"{lead}@rhythm", lead, len(rows) + i, 0.0, PAGE_SECONDS, True) for i, lead in enumerate(rhythm)]
    panels: list[LeadPanel] = []
    panel_rows: list[int] = []
    traces: dict[str, np.ndarray] = {}
    for key, lead, r, t0, dur, is_rhythm in specs:
        if not rec.has(lead):
            continue
        a = round(t0 * rec.fs)
        b = min(rec.n_samples, round((t0 + dur) * rec.fs))
        if b <= a:
            continue
        t = np.arange(a, b) / rec.fs
        xs = (geo.x0_mm + t * speed_mm_s) * ppm - 0.5
        ys = (geo.baselines_mm[r] - rec.lead(lead)[a:b] * gain_mm_mv) * ppm - 0.5
        traces[key] = np.column_stack([xs, ys])
        band = geo.bands_mm[r]
        box = (round((geo.x0_mm + t0 * speed_mm_s) * ppm), round(band[0] * ppm),
               round((geo.x0_mm + (t0 + (b - a) / rec.fs) * speed_mm_s) * ppm), round(band[1] * ppm))
        panels.append(LeadPanel(lead=lead, box=box, baseline_y=geo.baselines_mm[r] * ppm - 0.5, t0_s=t0,
                                duration_s=(b - a) / rec.fs, rhythm_strip=is_rhythm))
        panel_rows.append(r)

    scale = 4 if dpi <= 200 else 3 if dpi <= 300 else 2  # supersampling for anti-aliased, sub-pixel lines
    trace_alpha = _ink_alpha(list(traces.values()), width_px, height_px, scale, trace_width_mm * ppm)
    marks = _marks(panels, panel_rows, geo, ppm, show_calibration)
    mark_alpha = _ink_alpha(marks, width_px, height_px, scale, trace_width_mm * ppm)
    alpha = np.maximum(trace_alpha, mark_alpha)[..., None]
    canvas = canvas * (1.0 - alpha) + np.asarray(trace_color, np.float32) * alpha
    image = Image.fromarray(np.clip(canvas + 0.5, 0, 255).astype(np.uint8))
    _text(image, panels, geo, ppm, trace_color, header_text, show_labels)
    pixels = np.asarray(image).copy()

    transform = np.eye(3)
    if augmentations:
        pixels, transform = apply_augmentations(pixels, augmentations, seed=seed, strength=augment_strength)
    complete = len(panels) == len(specs)
    return RenderedECG(
        image=pixels,
        layout=Layout(name=layout if complete else "partial", panels=panels),
        calibration=Calibration(px_per_mm=ppm, speed_mm_s=float(speed_mm_s), gain_mm_mv=float(gain_mm_mv),
                                speed_source="rendered (ground truth)", gain_source="rendered (ground truth)"),
        record=rec,
        traces=traces,
        trace_mask=trace_alpha >= 0.25,
        transform=transform,
        augmentations=augmentations,
    )


class _Geometry:
    """Page layout in millimetres: where time 0 is, the grid rectangle, and each row's band and baseline."""

    def __init__(self, page_w: float, page_h: float, speed: float, gain: float, n_rows: int) -> None:
        self.speed, self.gain = speed, gain
        self.pulse_w_mm = 0.2 * speed
        self.cal_mm = self.pulse_w_mm + 5.0  # flat 2.5 mm, pulse, flat 2.5 mm
        block = self.cal_mm + PAGE_SECONDS * speed
        # time 0 on a 5 mm line so that major lines fall on whole 0.2 s steps, block roughly centred
        self.x0_mm = 5.0 * round(((page_w - block) / 2 + self.cal_mm) / 5.0)
        if self.x0_mm - self.cal_mm < 2.0 or self.x0_mm + PAGE_SECONDS * speed > page_w - 2.0:
            raise InputError(
                f"A {page_w:g} x {page_h:g} mm page cannot hold {PAGE_SECONDS:g} s at {speed:g} mm/s "
                f"({block:.0f} mm with the calibration pulse).", hint="Use a wider paper or a slower speed.")
        self.grid_x = (self.x0_mm - 5.0 * math.floor((self.x0_mm - 3.0) / 5.0),
                       self.x0_mm + 5.0 * math.floor((page_w - 3.0 - self.x0_mm) / 5.0))
        grid_h = 5.0 * math.floor((page_h - FOOTER_MM - HEADER_MM) / 5.0)
        if grid_h < 5.0 * n_rows:
            raise InputError(f"A {page_w:g} x {page_h:g} mm page is too short for {n_rows} rows of ECG.")
        self.grid_y = (HEADER_MM, HEADER_MM + grid_h)
        self.pitch_mm = grid_h / n_rows
        self.bands_mm = [(HEADER_MM + i * self.pitch_mm, HEADER_MM + (i + 1) * self.pitch_mm) for i in range(n_rows)]
        # baseline a little below the band centre (QRS complexes are mostly upright), on a 1 mm line
        self.baselines_mm = [float(round(top + 0.55 * self.pitch_mm)) for top, _ in self.bands_mm]
        self.label_rise_mm = min(max(0.3 * self.pitch_mm, 3.5), 6.0)  # label baseline above the trace baseline


def _paper_mm(paper: str | tuple[float, float]) -> tuple[float, float]:
    if isinstance(paper, str):
        if paper not in PAPERS:
            raise InputError(f"Unknown paper {paper!r}.", hint=f"Use one of {', '.join(PAPERS)} or (width_mm, height_mm).")
        return PAPERS[paper]
    try:
        w, h = (float(v) for v in paper)
    except (TypeError, ValueError):
        raise InputError(f"Paper must be a name or (width_mm, height_mm), not {paper!r}.") from None
    if not (50 <= w <= 2000 and 50 <= h <= 2000):
        raise InputError(f"Paper size {w:g} x {h:g} mm is not plausible.")
    return w, h


def _prepare(record: ECGRecord, needed: set[str], baseline: str) -> ECGRecord:
    """The drawn signals: layout leads only (limb leads derived if missing), first 10 s, 500 Hz, baseline treated."""
    rec = record.with_derived_limb_leads()
    leads = [lead for lead in STANDARD_LEADS if lead in needed and rec.has(lead)]
    if not leads:
        raise InputError(
            f"The recording has none of the leads this layout prints (it has {', '.join(rec.leads)}).",
            hint="A layout needs standard leads such as I, II, V1-V6.")
    rec = rec.select(leads)
    if rec.duration_s > PAGE_SECONDS + 1.0:  # keep a second beyond the page so resampling has no edge there
        rec = rec.window(0.0, PAGE_SECONDS + 1.0)
    if baseline != "none":  # remove DC first: resampling pads with zeros, and an offset would ring at the edges
        rec = replace(rec, signals=rec.signals - np.nan_to_num(np.nanmedian(rec.signals, axis=0)))
    rec = rec.resample(DRAW_FS)
    if rec.duration_s > PAGE_SECONDS:
        rec = rec.window(0.0, PAGE_SECONDS)
    if baseline == "none":
        return rec
    sig = rec.signals
    if baseline == "highpass" and rec.n_samples >= DRAW_FS:  # filtfilt needs about a second to pad
        filled, missing = fill_gaps(sig)
        sig = sps.sosfiltfilt(sps.butter(2, 0.5, btype="highpass", fs=DRAW_FS, output="sos"), filled, axis=0)
        sig[missing] = np.nan
    return replace(rec, signals=sig, metadata={**rec.metadata, "baseline": baseline})


def _line_coverage(n: int, positions: np.ndarray, width: float) -> np.ndarray:
    """Fraction of each of ``n`` pixels covered by lines of ``width`` px at ``positions`` (pixel centres)."""
    cover = np.zeros(n, np.float32)
    lo, hi = positions - width / 2, positions + width / 2
    for a, b in zip(lo, hi):
        for i in range(max(0, int(math.floor(a + 0.5))), min(n, int(math.floor(b + 0.5)) + 1)):
            cover[i] += max(0.0, min(i + 0.5, b) - max(i - 0.5, a))
    return np.minimum(cover, 1.0)


def _grid(width: int, height: int, ppm: float, geo: _Geometry, colors: tuple) -> np.ndarray:
    """White page with the mm grid, as float RGB; coverage-weighted lines so any dpi gives an even grid."""
    page = np.full((height, width, 3), 255.0, np.float32)
    (gx0, gx1), (gy0, gy1) = geo.grid_x, geo.grid_y
    xs_mm, ys_mm = np.arange(gx0, gx1 + 0.5), np.arange(gy0, gy1 + 0.5)
    for major, color, width_mm, min_px in ((False, colors[0], 0.1, 0.75), (True, colors[1], 0.2, 1.2)):
        sel_x = xs_mm[(np.round(xs_mm - gx0) % 5 == 0) == major] if major else xs_mm
        sel_y = ys_mm[(np.round(ys_mm - gy0) % 5 == 0) == major] if major else ys_mm
        w = max(width_mm * ppm, min_px)
        cx = _line_coverage(width, sel_x * ppm - 0.5, w)
        cy = _line_coverage(height, sel_y * ppm - 0.5, w)
        # lines stop at the grid rectangle
        inside_x = (np.arange(width) >= gx0 * ppm - 0.5 - w) & (np.arange(width) <= gx1 * ppm - 0.5 + w)
        inside_y = (np.arange(height) >= gy0 * ppm - 0.5 - w) & (np.arange(height) <= gy1 * ppm - 0.5 + w)
        cx *= inside_x
        cy *= inside_y
        alpha = np.maximum(cx[None, :] * inside_y[:, None], cy[:, None] * inside_x[None, :])[..., None]
        page = page * (1.0 - alpha) + np.asarray(color, np.float32) * alpha
    return page


def _ink_alpha(lines: list[np.ndarray], width: int, height: int, scale: int, width_px: float) -> np.ndarray:
    """0..1 ink coverage of polylines (pixel-centre coordinates, NaN breaks a line), drawn supersampled."""
    big = np.zeros((height * scale, width * scale), np.uint8)
    # OpenCV's anti-aliased stroke of thickness t is 2*ceil(t/2) + 1.6 px wide: pick the nearest to the wanted width
    thickness = max(1, 2 * round((width_px * scale - 1.63) / 2))
    shift = 3
    for pts in lines:
        v = scale * (pts + 0.5) - 0.5  # pixel-centre coordinates on the supersampled canvas
        v[:, 1] = np.clip(v[:, 1], -height * scale, 2 * height * scale)  # huge artefacts must not overflow
        ok = np.isfinite(v).all(axis=1)
        # split at non-finite samples: each finite run is its own polyline
        edges = np.flatnonzero(np.diff(np.r_[0, ok.astype(np.int8), 0]))
        runs = [np.round(v[s:e] * (1 << shift)).astype(np.int32) for s, e in zip(edges[::2], edges[1::2])]
        if runs:
            cv2.polylines(big, runs, False, 255, thickness, cv2.LINE_AA, shift)
    small = cv2.resize(big, (width, height), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32) / 255.0


def _marks(panels: list[LeadPanel], rows: list[int], geo: _Geometry, ppm: float, calibration: bool) -> list[np.ndarray]:
    """Calibration pulses (one per row with a trace) and column separator ticks, as polylines in pixels."""
    marks = []
    if calibration:
        for r in sorted(set(rows)):
            base, x = geo.baselines_mm[r], geo.x0_mm - geo.cal_mm
            top, right = base - geo.gain, x + 2.5 + geo.pulse_w_mm  # 1 mV high, 200 ms wide
            mm = [(x, base), (x + 2.5, base), (x + 2.5, top), (right, top), (right, base), (geo.x0_mm, base)]
            marks.append(np.asarray(mm) * ppm - 0.5)
    for p, r in zip(panels, rows):
        if p.t0_s > 0 and not p.rhythm_strip:  # short bar beside the label where a new lead begins
            x, y = geo.x0_mm + p.t0_s * geo.speed, geo.baselines_mm[r] - geo.label_rise_mm
            marks.append(np.asarray([(x, y - 3.0), (x, y + 0.5)]) * ppm - 0.5)
    return marks


@lru_cache(maxsize=16)
def _font(size_px: int, bold: bool) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    try:
        return ImageFont.truetype(str(_FONT_DIR / name), size_px)
    except OSError:
        try:
            return ImageFont.truetype(name, size_px)
        except OSError:
            return ImageFont.load_default(size=size_px)


def _text(image: Image.Image, panels: list[LeadPanel], geo: _Geometry, ppm: float,
          color: tuple[int, int, int], header: Mapping[str, object] | None, labels: bool) -> None:
    """Lead labels, the speed/gain footer and the header lines, as a printer would set them."""
    draw = ImageDraw.Draw(image)
    ink = tuple(int(c) for c in color)
    if labels:
        font = _font(max(8, round(3.3 * ppm)), True)
        for p in panels:
            x = (geo.x0_mm + p.t0_s * geo.speed + 1.5) * ppm
            y = p.baseline_y - geo.label_rise_mm * ppm
            draw.text((x, y), p.lead, fill=ink, font=font, anchor="ls")
    small = _font(max(8, round(3.0 * ppm)), False)
    footer = f"{geo.speed:g} mm/s  {geo.gain:g} mm/mV"
    draw.text((geo.grid_x[0] * ppm, (geo.grid_y[1] + 6.0) * ppm), footer, fill=ink, font=small, anchor="ls")
    if not header:
        return
    per_col, col_w, pitch = 5, 70.0, 3.5  # last line at 20 mm: clear of a 12x1 first-row calibration pulse
    capacity = per_col * max(1, int((geo.grid_x[1] - geo.grid_x[0]) // col_w))
    items = list(header.items())
    if len(items) > capacity:
        raise InputError(f"The header has {len(items)} lines; at most {capacity} fit above the grid.")
    for i, (key, value) in enumerate(items):
        x = (geo.grid_x[0] + (i // per_col) * col_w) * ppm
        y = (6.0 + (i % per_col) * pitch) * ppm
        draw.text((x, y), str(key), fill=(0, 0, 0), font=small, anchor="ls")
        if value is not None and str(value) != "":
            draw.text((x + 30.0 * ppm, y), str(value), fill=(0, 0, 0), font=small, anchor="ls")
