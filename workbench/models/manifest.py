"""The model manifest (`models/models.toml`): what each model file is, where it must be, and whether the
file there is the right one. Files are checked (presence, size, SHA-256) before anything loads them, and a
problem is said in words that tell a clinic's IT admin what to put where."""
from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from ..config import get_settings
from ..errors import ConfigError, ModelError

Role = Literal["vlm", "mmproj", "vision_encoder"]
ROLES: tuple[str, ...] = ("vlm", "mmproj", "vision_encoder")
MANIFEST_NAME = "models.toml"
_HASH_CACHE = ".sha256-cache.json"  # hashing a 3 GB GGUF takes seconds: remember it per (size, mtime)


@dataclass(frozen=True)
class ModelEntry:
    name: str
    role: str
    file: str
    sha256: str = ""
    size_bytes: int = 0
    licence: str = ""
    source: str = ""
    prompt_template: str = ""
    optional: bool = False
    mmproj: str = ""  # for a vlm: the name of its projector entry (the image half of the model)


@dataclass
class ModelStatus:
    entry: ModelEntry
    path: Path
    installed: bool
    ok: bool
    sha256: str | None
    message: str

    def to_dict(self) -> dict:
        return {**asdict(self.entry), "path": str(self.path), "installed": self.installed, "ok": self.ok,
                "actual_sha256": self.sha256, "message": self.message}


def manifest_path(models_dir: Path | None = None) -> Path:
    return (models_dir or get_settings().models_dir) / MANIFEST_NAME


def load_manifest(models_dir: Path | None = None) -> list[ModelEntry]:
    """Entries of the manifest, validated (known roles, unique names, hex hashes)."""
    path = manifest_path(models_dir)
    if not path.is_file():
        raise ConfigError(f"The model manifest {path} is missing.", hint="Restore models/models.toml from the workbench release.")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"The model manifest {path} cannot be read: {exc}.") from exc
    entries = []
    for raw in data.get("model", []):
        try:
            entry = ModelEntry(**raw)
        except TypeError as exc:
            raise ConfigError(f"A model entry in {path} has unknown or missing fields ({exc}).") from exc
        if entry.role not in ROLES:
            raise ConfigError(f"Model '{entry.name}' in {path} has role '{entry.role}'; allowed: {', '.join(ROLES)}.")
        if entry.sha256 and (len(entry.sha256) != 64 or any(c not in "0123456789abcdef" for c in entry.sha256.lower())):
            raise ConfigError(f"Model '{entry.name}' in {path}: sha256 must be 64 hexadecimal characters.")
        entries.append(entry)
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise ConfigError(f"Model names repeat in {path}: {', '.join(sorted({n for n in names if names.count(n) > 1}))}.")
    return entries


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, cached next to it by (size, modification time)."""
    stat = path.stat()
    cache_file = path.parent / _HASH_CACHE
    key = f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}"
    try:
        cache = json.loads(cache_file.read_text()) if cache_file.is_file() else {}
    except (OSError, ValueError):
        cache = {}
    if key in cache:
        return cache[key]
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    cache[key] = digest.hexdigest()
    try:
        cache_file.write_text(json.dumps(cache, indent=1))
    except OSError:
        pass  # a read-only models folder still verifies, only slower next time
    return cache[key]


def check(entry: ModelEntry, models_dir: Path | None = None, *, hash_file: bool = True) -> ModelStatus:
    """Is the file there, complete and the expected one? Never raises for a bad file: says what is wrong."""
    folder = models_dir or get_settings().models_dir
    path = folder / entry.file
    if not path.is_file():
        return ModelStatus(entry, path, False, False, None,
                           f"not installed: put {entry.file} in {folder} ({entry.source or 'see models/README.md'}).")
    size = path.stat().st_size
    if entry.size_bytes and size != entry.size_bytes:
        kind = "truncated (incomplete copy or download)" if size < entry.size_bytes else "larger than expected"
        return ModelStatus(entry, path, True, False, None,
                           f"{entry.file} is {kind}: {size:,} bytes instead of {entry.size_bytes:,}. Copy the file again.")
    digest = file_sha256(path) if hash_file else None
    if entry.sha256 and digest is not None and digest != entry.sha256.lower():
        return ModelStatus(entry, path, True, False, digest,
                           f"{entry.file} is not the expected file (SHA-256 {digest[:12]}... instead of {entry.sha256[:12]}...). "
                           "Replace it with the file named in models/README.md, or update the manifest if this version was approved.")
    note = "verified" if entry.sha256 else "present (hash not pinned in the manifest)"
    return ModelStatus(entry, path, True, True, digest, note)


def require(role: str, models_dir: Path | None = None, *, name: str | None = None) -> ModelStatus:
    """The verified file for ``role`` (or the named model) before a runtime loads it; ModelError otherwise."""
    entries = [e for e in load_manifest(models_dir) if e.role == role and (name is None or e.name == name)]
    if not entries:
        raise ModelError(f"No model with role '{role}'" + (f" and name '{name}'" if name else "") + " is listed in models/models.toml.")
    statuses = [check(e, models_dir) for e in entries]
    good = [s for s in statuses if s.ok]
    if good:
        return good[0]
    raise ModelError(f"The {role} model cannot be used: {statuses[0].message}")
