"""Stored copies of input files, content-addressed: ``<root>/inputs/<sha256[:2]>/<sha256><suffix>``.

The copy is written to a temporary file, fsynced and renamed into place *before* its database row is committed,
so a row never points at a missing or half-written file; a crash in between leaves at most an unreferenced but
complete copy (adding the file again reuses it) or a ``.part`` file that `remove_stale_parts` deletes later.
The same content is stored once, whatever its name; copies are 0600 in 0700 folders.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import FileTooLargeError
from ..input_files import check_input_file
from .db import private_dir

_CHUNK = 1 << 20
_PART_PREFIX = ".incoming-"


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    relative_path: str  # POSIX path under the store root, as kept in the database
    size_bytes: int


def _suffix(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9_-]{1,15}", suffix) else ""


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def store_copy(src: Path, root: Path, *, max_bytes: int) -> StoredFile:
    """Copy ``src`` into the store under ``root`` (hashing while copying) and return where it lies."""
    src = check_input_file(src, holds="data to keep", max_bytes=max_bytes)
    incoming = root / "inputs"
    private_dir(incoming)
    fd, tmp_name = tempfile.mkstemp(dir=incoming, prefix=_PART_PREFIX, suffix=".part")  # mkstemp: mode 0600
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(fd, "wb") as out, open(src, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                size += len(chunk)
                if size > max_bytes:  # the file grew while being copied
                    raise FileTooLargeError(
                        f"{src.name} is larger than {max_bytes / 1024**2:.0f} MB; the workbench refuses it.",
                        hint="Export a smaller file, or raise max_file_mb in the settings.")
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        sha = digest.hexdigest()
        relative = f"inputs/{sha[:2]}/{sha}{_suffix(src.name)}"
        final = root / relative
        private_dir(final.parent)
        if final.is_file() and final.stat().st_size == size:
            tmp.unlink()  # same content already stored
        else:
            os.replace(tmp, final)
            _fsync_dir(final.parent)
        if final.stat().st_mode & 0o077:
            os.chmod(final, 0o600)
        return StoredFile(sha, relative, size)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def remove_stale_parts(root: Path, older_than_s: float = 3600.0) -> int:
    """Delete temporary copies left by a crash (old enough that no live writer still owns them)."""
    folder = root / "inputs"
    if not folder.is_dir():
        return 0
    removed = 0
    cutoff = time.time() - older_than_s
    for part in folder.glob(f"{_PART_PREFIX}*.part"):
        try:
            if part.stat().st_mtime < cutoff:
                part.unlink()
                removed += 1
        except OSError:
            continue
    return removed
