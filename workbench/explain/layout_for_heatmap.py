"""The picture an attention heatmap is drawn on, with the lead layout when it can be known: the digitizer
finds it on photos and scans; a signal file is drawn on paper by the renderer, which knows it exactly."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..ecg.image.types import Layout
from ..errors import InputError


def picture_and_layout(path: str | Path, *, page: int = 0) -> tuple[np.ndarray, Layout | None, str]:
    """(RGB picture, layout or None, a note saying where the layout came from or why there is none)."""
    from ..ecg.image import digitize_file, is_image_file

    if not is_image_file(path):
        from ..models.image_input import paper_rendering

        rendered = paper_rendering(path)
        return rendered.image, rendered.layout, "signal file drawn on standard paper (layout known)"
    from ..ecg.image.loading import load_pages

    pages = load_pages(path, max_pages=page + 1)
    if page >= len(pages):
        raise InputError(f"{Path(path).name} has {len(pages)} page(s); page {page + 1} does not exist.")
    try:
        digitized = digitize_file(path, page=page)  # with the printed lead names, as the ECG reading does: same layout, work shared
    except InputError as err:  # the heatmap still works on a picture whose leads cannot be found
        return pages[page].image, None, f"lead layout not found ({err})"
    return pages[page].image, digitized.layout, f"layout {digitized.layout.name} found by the digitizer"
