"""The picture a vision-language model or vision encoder reads: any ECG input the workbench accepts (photo,
scan, PDF page, or a signal file drawn on standard paper), as an RGB array or PNG bytes."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

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
    from ..ecg.image.render import render_ecg
    from ..ecg.readers import read_ecg

    return render_ecg(read_ecg(path, fs=fs), layout="3x4+1").image


def to_png(image: np.ndarray, max_side: int = MAX_SIDE_PX) -> bytes:
    picture = Image.fromarray(image)
    picture.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return buffer.getvalue()
