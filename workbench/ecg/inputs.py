"""Any ECG file in, one analysis out: signal files are read, pictures and PDFs are digitized first."""
from __future__ import annotations

from pathlib import Path

from ..errors import UnsupportedFormatError
from .analysis import ECGAnalysis, analyze
from .readers import read_ecg
from .record import ECGRecord


_PICTURE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".pdf", ".heic"}


def load_ecg(path: str | Path, *, fs: float | None = None, page: int = 0) -> tuple[ECGRecord, object | None]:
    """(record, digitization) for a signal file or an image/PDF (digitization is None for signal files)."""
    from .image import digitize_file, is_image_file

    if is_image_file(path):
        digitized = digitize_file(path, page=page)
        return digitized.record, digitized
    if Path(path).suffix.lower() in _PICTURE_SUFFIXES:
        raise UnsupportedFormatError(f"{Path(path).name} is named like a picture but its content is not an image or PDF.",
                                     hint="Open it to check what it is, or export the ECG again as PNG, JPEG or PDF.")
    return read_ecg(path, fs=fs), None


def analyze_file(path: str | Path, *, age: float | None = None, sex: str | None = None, fs: float | None = None,
                 page: int = 0) -> ECGAnalysis:
    """Measure the ECG in ``path``; for a picture the result also says how it was digitized and how the
    workbench's measurements compare with those the recording device printed on the page."""
    record, digitized = load_ecg(path, fs=fs, page=page)
    result = analyze(record, age=age, sex=sex)
    if digitized is not None:
        image = digitized.to_dict()
        if digitized.device_printed is not None:
            from .image.device_text import compare_with_measurements

            image["device_comparison"] = compare_with_measurements(digitized.device_printed, result.to_dict()["measurements"])
        result.image = image
    return result
