"""Which format a file is in, recognised from its content (magic bytes, header text).

The content decides, because users rename files; the extension is consulted only when the content
matches no format, to tell the user what the file was expected to be.
"""
from __future__ import annotations

import re
from pathlib import Path

from ...errors import CorruptFileError, InputError, UnsupportedFormatError
from .common import check_not_empty, is_number, resolve_path

SUPPORTED_FORMATS: tuple[str, ...] = ("wfdb", "csv", "npy", "npz", "edf")

_FORMAT_ALIASES = {"challenge": "wfdb", "mat": "wfdb", "hea": "wfdb", "tsv": "csv", "txt": "csv"}
_SUFFIX_FORMAT = {
    ".hea": "wfdb", ".dat": "wfdb", ".mat": "wfdb", ".csv": "csv", ".tsv": "csv", ".txt": "csv",
    ".npy": "npy", ".npz": "npz", ".edf": "edf",
}
FORMAT_NAMES = {
    "wfdb": "a WFDB record", "csv": "a CSV/TSV text table", "npy": "a NumPy .npy array",
    "npz": "a NumPy .npz archive", "edf": "an EDF file",
}
SNIFF_BYTES = 64 * 1024


def detect_format(path: str | Path) -> str:
    """The format of a file from its content (one of `SUPPORTED_FORMATS`); the extension is a fallback."""
    file = resolve_path(path)
    check_not_empty(file)
    if file.suffix.lower() != ".hea" and sibling_header(file) is not None:
        return "wfdb"
    with file.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    kind = _sniff(head, file)
    if kind is not None:
        return kind
    suffix = file.suffix.lower()
    if suffix in (".dat", ".mat"):
        raise InputError(
            f"{file.name} looks like the signal file of a WFDB record, but its header {file.stem}.hea "
            "is missing or does not name it.",
            hint="Copy the .hea file into the same folder.",
        )
    if suffix in _SUFFIX_FORMAT:
        raise CorruptFileError(
            f"{file.name} has the extension {suffix} but its content is not {FORMAT_NAMES[_SUFFIX_FORMAT[suffix]]}: "
            "it may be damaged or not an ECG file at all."
        )
    raise UnsupportedFormatError(
        f"{file.name} is not a recognised ECG file format.",
        hint="Supported: WFDB (.hea + .dat/.mat), CSV/TSV text, NumPy .npy/.npz and EDF/EDF+.",
    )


def normalize_fmt(fmt: str) -> str:
    """The format a user named (``--fmt``), aliases such as ``tsv`` or ``mat`` allowed; unknown names are refused."""
    key = fmt.strip().lower().lstrip(".")
    key = _FORMAT_ALIASES.get(key, key)
    if key not in SUPPORTED_FORMATS:
        raise UnsupportedFormatError(f"Unknown format '{fmt}'; choose one of: {', '.join(SUPPORTED_FORMATS)}.")
    return key


def _sniff(head: bytes, file: Path) -> str | None:
    """Recognise a format from the first bytes; None when nothing matches."""
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"PK\x03\x04"):
        return "npz"
    if head[:8] == b"0       " and len(head) >= 256 and head[252:256].strip().isdigit():
        return "edf"
    text = as_text(head)
    is_header_name = file.suffix.lower() == ".hea"
    if text is None:
        if is_header_name:
            raise CorruptFileError(f"{file.name} should be a WFDB header (plain text) but contains binary data.")
        return None
    if _looks_like_wfdb_header(text):
        if not is_header_name:
            raise InputError(
                f"{file.name} looks like a WFDB header but is not named .hea.",
                hint=f"Rename it to {file.stem}.hea next to its signal file and open that.",
            )
        return "wfdb"
    if is_header_name:
        raise CorruptFileError(
            f"{file.name} is not a valid WFDB header: its first line should read "
            "'record-name number-of-signals sampling-rate number-of-samples'."
        )
    return "csv"


def as_text(head: bytes) -> str | None:
    """The bytes as text when they look like text (no NUL, almost no control characters), else None."""
    if b"\x00" in head:
        return None
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    if controls > len(head) // 100:
        return None
    try:
        return head.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3:  # a multi-byte character cut by the sniff window
            return head[: exc.start].decode("utf-8").lstrip("\ufeff")
        text = head.decode("latin-1")
        return text if sum(ch.isprintable() or ch.isspace() for ch in text) > 0.95 * len(text) else None


def _looks_like_wfdb_header(text: str) -> bool:
    """A WFDB record line ``name nsig [fs[/cf][(base)] [nsamp ...]]`` followed by signal lines.

    Hand-checked because wfdb only parses files named .hea and a whitespace table could pass its parser.
    """
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        return False
    tokens = lines[0].split()
    if len(tokens) < 2 or not re.fullmatch(r"[-\w]+(/\d+)?", tokens[0]) or not tokens[1].isdigit():
        return False
    if len(tokens) >= 3 and not re.fullmatch(r"[-+\d.eE]+(/[-+\d.eE]+)?(\([-+\d.eE]+\))?", tokens[2]):
        return False
    if "/" in tokens[0] or int(tokens[1]) == 0:
        return True  # multi-segment layout, or a header without signals: let the reader explain
    if len(lines) < 2:
        return False
    sig = lines[1].split()
    return len(sig) >= 2 and not is_number(sig[0]) and bool(re.match(r"\d", sig[1]))


def sibling_header(file: Path) -> Path | None:
    """The .hea of the WFDB record this signal file belongs to, when there is one naming it."""
    header = file.with_suffix(".hea")
    if not header.is_file():
        return None
    try:
        text = header.read_bytes()[:SNIFF_BYTES].decode("utf-8", errors="replace")
    except OSError:
        return None
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    names = {ln.split()[0] for ln in lines[1:]}
    return header if file.name in names and _looks_like_wfdb_header(text) else None
