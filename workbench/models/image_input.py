"""The picture a vision-language model or vision encoder reads: any ECG input the workbench accepts (photo,
scan, PDF page, or a signal file drawn on standard paper), as an RGB array or PNG bytes."""
from __future__ import annotations

import functools
import io
from pathlib import Path

import numpy as np
from PIL import Image

from ..ecg.image.types import RenderedECG

#: longer side sent to the model; the Gemma 3 projector resizes to 896 px, more only inflates the request
MAX_SIDE_PX = 1792


def ecg_picture(path: str | Path, *, page: int = 0, fs: float | None = None) -> np.ndarray:
    """RGB uint8 picture of the ECG in ``path``; a signal file is rendered on paper (3x4 + rhythm strip)."""
    from ..ecg.image import is_image_file
    from ..errors import InputError

    if is_image_file(path):
        from ..ecg.image.loading import load_pages

        pages = load_pages(path, max_pages=page + 1)
        if page >= len(pages):
            raise InputError(f"{Path(path).name} has {len(pages)} page(s); page {page + 1} does not exist.")
        return pages[page].image
    return paper_rendering(path, fs=fs).image


def paper_rendering(path: str | Path, *, fs: float | None = None) -> RenderedECG:
    """A signal file drawn on standard paper (3x4 + rhythm strip), with its exact layout. Cached by file and
    modification time: the model reading, the heatmap and the report of one run all draw the same page."""
    file = Path(path)
    return _render(str(file.resolve()), file.stat().st_mtime_ns, fs)


@functools.lru_cache(maxsize=4)
def _render(path: str, mtime_ns: int, fs: float | None) -> RenderedECG:
    from ..ecg.image.render import render_ecg
    from ..ecg.readers import read_ecg

    rendered = render_ecg(read_ecg(path, fs=fs), layout="3x4+1")
    rendered.image.setflags(write=False)  # shared between callers
    return rendered


def to_png(image: np.ndarray, max_side: int = MAX_SIDE_PX) -> bytes:
    picture = Image.fromarray(image)
    picture.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return buffer.getvalue()
