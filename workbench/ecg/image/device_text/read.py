"""`read_device_text`: find the text bands, OCR them, and parse what was read."""
from __future__ import annotations

import time
from typing import Any, Sequence

import cv2
import numpy as np

from .ocr import find_text_bands, get_ocr_engine, read_bands, split_merged_numbers
from .parse import lead_name, parse_device_text
from .types import Box, DevicePrinted, to_box


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
    items, read = read_bands(engine, img, bands)
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    out = parse_device_text(split_merged_numbers(gray, items))
    if find_lead_labels:
        # the trace area gives lead names only: stray characters between traces are not parsed as values
        area = grid_box or (0, 0, img.shape[1], img.shape[0])
        more, got = read_bands(engine, img, [area], text_px=12.0)
        read += got
        for text, pts, score in more:
            box = to_box(pts)
            out.raw.append((text, box, score))
            lead = lead_name(text)
            if lead is not None:
                out.lead_labels.append((lead, box))
    out.regions = read
    out.notes = notes + out.notes
    out.seconds = time.perf_counter() - t0
    return out
