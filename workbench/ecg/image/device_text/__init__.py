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

Modules: `read` (the entry point), `ocr` (engine, text bands, one OCR call, merged numbers), `tokens`
(look-alike repair, tokens), `parse` (labels -> measurements, paper settings, lead names), `statements`
(statement vocabulary and repair), `compare` (device vs workbench with cited tolerances), `types`.
"""
from __future__ import annotations

from .compare import AGREEMENT_TOLERANCES, compare_with_measurements
from .ocr import find_text_bands, get_ocr_engine, split_merged_numbers
from .parse import parse_device_text
from .read import read_device_text
from .statements import CANONICAL_STATEMENTS, normalize_statement
from .tokens import fix_digits
from .types import Box, DevicePrinted

# the names these helpers had when the package was one module (tests import them so)
_fix_digits = fix_digits
_split_merged_numbers = split_merged_numbers

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
