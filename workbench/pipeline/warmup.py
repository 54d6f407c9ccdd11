"""Load, before the first case, what that case would otherwise wait for: the signal and document libraries, the
OCR engines and the vision encoder. The kiosk's pre-started kernels call it, so the first patient of a page
gets the answer as fast as the second (PTB s0010_re with two lab PDFs: the readers of a first run finished
after 2.95 s without it, 1.43 s with it).

The vision-language model is not loaded here: it takes gigabytes, and each pre-started kernel would hold its
own copy. It loads on the first case that uses it (`models.vlm.shared_vlm`)."""
from __future__ import annotations

import importlib
import logging
import time

from ..errors import WorkbenchError
from .runner import RunOptions

log = logging.getLogger(__name__)

#: modules whose import takes noticeable time (neurokit2 alone ~1.6 s), in the order a case needs them
MODULES = ("workbench.pipeline.graph", "workbench.ecg.beats", "workbench.ecg.analysis", "workbench.ecg.image",
           "workbench.labs.extract", "workbench.labs.documents.pdf_tables", "camelot", "pdfplumber",
           "workbench.explain.heatmap", "workbench.store.report_export", "reportlab.platypus")


def warm_up(options: RunOptions | None = None) -> dict[str, float]:
    """Import the readers, create the OCR engines and open the vision encoder (when installed and used).
    Returns seconds per step; a step that fails is logged and skipped (the case will then say what is wrong)."""
    options = options or RunOptions()
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    for name in MODULES:
        importlib.import_module(name)
    seconds["imports"] = time.perf_counter() - start
    steps = [("ecg_ocr", _ecg_ocr), ("lab_ocr", _lab_ocr)]
    if options.use_heatmap:
        steps.append(("vision_encoder", lambda: _encoder(options.encoder_model)))
    for label, step in steps:
        mark = time.perf_counter()
        try:
            step()
        except (WorkbenchError, ImportError) as err:
            log.info("warm-up: %s not prepared (%s)", label, err)
            continue
        seconds[label] = time.perf_counter() - mark
    log.info("warm-up done in %.2f s: %s", time.perf_counter() - start, seconds)
    return seconds


def _ecg_ocr() -> None:
    from ..ecg.image.device_text.ocr import get_ocr_engine

    get_ocr_engine()


def _lab_ocr() -> None:
    from ..labs.documents.ocr_text import get_lab_ocr_engine

    get_lab_ocr_engine()


def _encoder(name: str | None) -> None:
    from ..models.encoder import shared_encoder

    shared_encoder(name)
