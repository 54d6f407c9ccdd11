"""ECG images: from a photo, scan or PDF page to a calibrated 12-lead record, and a renderer to prove it.

    >>> from workbench.ecg.image import digitize_file
    >>> result = digitize_file("scan.jpg")      # quality gate, digitizer, device header
    >>> result.record                            # ECGRecord, source "image", 500 Hz
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from ...errors import ImageQualityError, InputError
from .digitize import DigitizedECG, digitize
from .loading import detect_image_format, load_pages
from .quality import assess_quality

log = logging.getLogger(__name__)

__all__ = ["DigitizedECG", "digitize", "digitize_file", "is_image_file"]


def is_image_file(path: str | Path) -> bool:
    """True when the file's content is a picture or a PDF (the digitizer's inputs)."""
    try:
        detect_image_format(path)
    except (InputError, OSError):
        return False
    return True


_KEEP = 4  # results kept: a case's ECG node, heatmap node and viewer read the same picture, seconds each time
_RESULTS: OrderedDict[tuple, tuple[bool, DigitizedECG]] = OrderedDict()
_LOCKS: dict[tuple, threading.Lock] = {}
_GUARD = threading.Lock()


def digitize_file(path: str | Path, *, page: int = 0, layout: str | None = None, read_text: bool = True) -> DigitizedECG:
    """Load one page, refuse it in plain words when it is unusable, digitize it and read the device header.

    The last few results are kept by file (path, size, modification time), page and layout; a caller asking for
    a file another thread is digitizing waits for that result instead of repeating the work. A result made
    with ``read_text`` also answers calls without it. Treat the result as read-only: it may be shared."""
    file = Path(path).resolve()
    stat = file.stat() if file.is_file() else None
    if stat is None:
        return _digitize_file(path, page=page, layout=layout, read_text=read_text)  # the loader words the error
    key = (str(file), stat.st_size, stat.st_mtime_ns, page, layout)
    with _GUARD:
        lock = _LOCKS.setdefault(key, threading.Lock())
    with lock:
        kept = _RESULTS.get(key)
        if kept is not None and (kept[0] or not read_text):
            _RESULTS.move_to_end(key)
            return kept[1]
        try:
            result = _digitize_file(path, page=page, layout=layout, read_text=read_text)
        except Exception:
            with _GUARD:
                if key not in _RESULTS:
                    _LOCKS.pop(key, None)
            raise
        with _GUARD:
            _RESULTS[key] = (read_text, result)
            while len(_RESULTS) > _KEEP:
                old, _ = _RESULTS.popitem(last=False)
                _LOCKS.pop(old, None)
        return result


def _digitize_file(path: str | Path, *, page: int, layout: str | None, read_text: bool) -> DigitizedECG:
    pages = load_pages(path, max_pages=page + 1)
    if page >= len(pages):
        raise InputError(f"{Path(path).name} has {len(pages)} page(s); page {page + 1} does not exist.")
    picture = pages[page]
    quality = assess_quality(picture.image)
    if not quality.usable:
        raise ImageQualityError(f"{Path(path).name}: {quality.verdict}.", hint=" ".join(quality.problems) or None)
    printed = None
    if read_text:
        from .device_text import read_device_text  # OCR engine loads on first use only

        printed = read_device_text(picture.image)
    settings = {"speed_mm_s": printed.speed_mm_s if printed else None, "gain_mm_mv": printed.gain_mm_mv if printed else None}
    result = digitize(picture.image, layout_name=layout, **settings)
    if layout is None and read_text and result.layout.name in ("6x2", "partial"):
        # six rows are either 6x2 or 3x4 with three rhythm strips, and strips are named by their printed
        # labels: read the lead names on the page
        from .device_text import read_device_text

        labels = read_device_text(picture.image, find_lead_labels=True).lead_labels
        if result.layout.name == "6x2" and _six_rows_are_3x4_plus_3(labels, picture.image.shape[1]):
            result = digitize(picture.image, layout_name="3x4+3", **settings)
        elif result.layout.name == "partial":
            _name_rows_from_labels(result, labels)
    result.record.path = str(path)
    result.extras.update({"quality": quality.to_dict(), "page": page + 1, "page_count": picture.page_count,
                          "image_size": list(picture.size), "notes": list(picture.notes)})
    if printed is not None and printed.found:
        result.extras["device_printed"] = printed.to_dict()
        result.device_printed = printed
    result.record.metadata["digitization"] = result.to_dict()
    return result


def _six_rows_are_3x4_plus_3(labels: list, width: int) -> bool:
    """aVR/aVL/aVF printed in the second quarter of the page means a 3x4 grid (+3 rhythm strips);
    in 6x2 they head the left column."""
    xs = [0.5 * (box[0] + box[2]) / width for name, box in labels if name in ("aVR", "aVL", "aVF")]
    return bool(xs) and float(np.median(xs)) > 0.2


def _name_rows_from_labels(result: DigitizedECG, labels: list) -> None:
    """A strip of one or a few leads takes the lead name printed at the start of its row, when one is."""
    renames: dict[str, str] = {}
    for panel in result.layout.panels:
        x0, y0, x1, y1 = panel.box
        inside = [name for name, box in labels
                  if y0 <= 0.5 * (box[1] + box[3]) <= y1 and 0.5 * (box[0] + box[2]) <= x0 + 0.25 * (x1 - x0)]
        if len(inside) == 1 and inside[0] not in renames.values():
            renames[panel.lead] = inside[0]
    if not renames:
        return
    for panel in result.layout.panels:
        panel.lead = renames.get(panel.lead, panel.lead)
    result.record.leads = [renames.get(lead, lead) for lead in result.record.leads]
    for table in (result.confidence, result.pixel_map, result.record.metadata.get("coverage", {})):
        for old, new in renames.items():
            if old in table:
                table[new] = table.pop(old)
