"""What every data set adapter yields (`EvalRecord`) and how a ``KIND:PATH`` spec opens one.

Adapters check their folder when opened (not halfway through a study) and raise `DatasetError` naming what is
missing, so a mistyped path or an incomplete download fails in a second with a clear message.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ...errors import InputError


class DatasetError(InputError):
    """A data set folder or file cannot be used for a study (missing files, wrong columns...)."""

    title = "Dataset problem"


@dataclass(frozen=True)
class EvalRecord:
    """One input of a study and its truth. ``labels`` holds only what the source states (class id -> 0/1):
    a class absent from it is unknown for this record and left out of that class's metrics."""

    id: str  # unique in a study: "<kind>/<record>"
    dataset: str  # adapter kind
    path: str  # the input file (signal header, image...)
    labels: dict[str, int] = field(default_factory=dict)
    age: float | None = None
    sex: str | None = None
    question: str | None = None  # text tasks (ECGInstruct-style): the instruction
    reference: str | None = None  # ... and the reference answer
    extra: dict[str, Any] = field(default_factory=dict)  # adapter-specific truth (AF episodes, folds, verdicts)


class Dataset(Protocol):
    kind: str
    root: Path

    def __iter__(self) -> Iterator[EvalRecord]: ...

    def __len__(self) -> int: ...


_KINDS: dict[str, Callable[..., Dataset]] = {}


def register(kind: str, *aliases: str) -> Callable[[Callable[..., Dataset]], Callable[..., Dataset]]:
    def add(factory: Callable[..., Dataset]) -> Callable[..., Dataset]:
        for name in (kind, *aliases):
            _KINDS[name] = factory
        return factory

    return add


def dataset_kinds() -> list[str]:
    return sorted(_KINDS)


def parse_spec(spec: str) -> tuple[str, Path, dict[str, str]]:
    """``KIND:PATH`` or ``KIND:PATH?key=value&key=value`` -> (kind, path, options)."""
    if ":" not in spec:
        raise DatasetError(f"Dataset {spec!r} must be given as KIND:PATH, e.g. cinc2021:../shared/data/ecg/cinc2021.",
                           hint=f"Kinds: {', '.join(dataset_kinds())}.")
    kind, rest = spec.split(":", 1)
    path, _, query = rest.partition("?")
    options = dict(item.split("=", 1) for item in query.split("&") if "=" in item)
    return kind.strip().lower(), Path(path).expanduser(), options


def open_dataset(spec: str, **options: Any) -> Dataset:
    """The adapter for ``KIND:PATH`` (validated now); options from the spec's query and keywords."""
    from . import images, physionet, ptbxl, store, text  # noqa: F401  (register the kinds)

    kind, path, query = parse_spec(spec)
    if kind not in _KINDS:
        raise DatasetError(f"Unknown dataset kind {kind!r}.", hint=f"Kinds: {', '.join(dataset_kinds())}.")
    return _KINDS[kind](path, **(query | options))


def require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise DatasetError(f"The {what} folder {path} does not exist (or is not a folder).")
    return path


def missing_list(paths: list[str], limit: int = 5) -> str:
    """'a, b, c and 7 more': what is missing, without flooding the terminal."""
    shown = ", ".join(paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")
