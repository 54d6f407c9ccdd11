"""The first check of every input file (ECG pictures, lab reports, exports, files kept by the case store): it
exists, is a file, is not empty and is within the size limit. One place, so every reader refuses the same
things with the same plain words."""
from __future__ import annotations

from pathlib import Path

from .config import get_settings
from .errors import CorruptFileError, FileTooLargeError, InputError


def check_input_file(path: str | Path, *, holds: str = "data", smaller: str = "Export a smaller file",
                     max_bytes: int | None = None) -> Path:
    """``path`` as a readable input, else a typed error in plain words.

    ``holds``: what the file should contain ("picture", "report"...), for the empty-file message; ``smaller``:
    how to make a smaller one, for the too-large message; ``max_bytes``: the limit (default the ``max_file_mb``
    setting)."""
    file = Path(path)
    if not file.exists():
        raise InputError(f"The file {file} does not exist.", hint="Check the name and folder.")
    if not file.is_file():
        raise InputError(f"{file} is a folder, not a file.")
    limit = max_bytes if max_bytes is not None else get_settings().max_file_mb * 1024**2
    size = file.stat().st_size
    if size > limit:
        raise FileTooLargeError(f"{file.name} is {size / 1024**2:.1f} MB; the workbench accepts files up to "
                                f"{limit / 1024**2:.0f} MB.", hint=f"{smaller}, or raise max_file_mb in the settings.")
    if size == 0:
        raise CorruptFileError(f"{file.name} is empty (0 bytes): there is no {holds} in it.")
    return file
