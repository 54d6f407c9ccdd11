"""Reference annotations of WFDB records (beat labels, rhythm episodes), for benchmarks and evaluation."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import CorruptFileError, InputError

#: WFDB annotation codes that mark a heartbeat (all others are rhythm, noise or signal-quality marks)
BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")

_RECORD_SUFFIXES = {".hea", ".dat", ".mat", ".atr", ".qrs"}


@dataclass(eq=False)
class Annotations:
    """Beats (sample index + label) and rhythm episodes ``(start_s, end_s, rhythm)`` of one record."""

    samples: np.ndarray
    symbols: list[str]
    fs: float
    n_samples: int
    rhythm_episodes: list[tuple[float, float, str]] = field(default_factory=list)

    @property
    def beat_times_s(self) -> np.ndarray:
        return self.samples / self.fs

    def episodes(self, rhythm: str) -> list[tuple[float, float]]:
        """The (start_s, end_s) spans of one rhythm, e.g. ``episodes('AFIB')``."""
        return [(a, b) for a, b, name in self.rhythm_episodes if name == rhythm]


def read_annotations(record_path: str | Path, extension: str = "atr") -> Annotations:
    """Read ``<record>.<extension>`` with the record length from ``<record>.hea``.

    ``record_path`` may be the stem or any file of the record (.hea, .dat, .atr).
    """
    import wfdb

    extension = extension.lstrip(".")
    stem = _stem(Path(record_path))
    ann_file = stem.parent / f"{stem.name}.{extension}"
    header_file = stem.parent / f"{stem.name}.hea"
    for needed in (ann_file, header_file):
        if not needed.is_file():
            raise InputError(f"Annotations need {needed.name}, which is missing in {needed.parent}.")
    try:
        header = wfdb.rdheader(str(stem))
        ann = wfdb.rdann(str(stem), extension)
    except Exception as exc:
        raise CorruptFileError(f"The annotations {ann_file.name} could not be read ({exc}).") from exc
    fs = float(ann.fs or header.fs or 0)
    if fs <= 0:
        raise CorruptFileError(f"Neither {ann_file.name} nor {header_file.name} gives a sampling rate.")
    n_samples = int(header.sig_len or (max(ann.sample) + 1 if len(ann.sample) else 0))
    samples = np.asarray(ann.sample, dtype=np.int64)
    symbols = list(ann.symbol)
    beats = np.array([s in BEAT_SYMBOLS for s in symbols], dtype=bool)
    aux = list(ann.aux_note or [""] * len(symbols))
    return Annotations(
        samples=samples[beats],
        symbols=[s for s, b in zip(symbols, beats) if b],
        fs=fs,
        n_samples=n_samples,
        rhythm_episodes=_rhythm_episodes(samples, aux, fs, n_samples),
    )


def _stem(path: Path) -> Path:
    return path.with_suffix("") if path.suffix.lower() in _RECORD_SUFFIXES else path


def _rhythm_episodes(samples: np.ndarray, aux: list[str], fs: float, n_samples: int) -> list[tuple[float, float, str]]:
    """Each ``(RHYTHM`` aux note starts an episode that lasts until the next one or the end of the record."""
    changes = [
        (int(s), note.strip("\x00 ").lstrip("("))
        for s, note in zip(samples, aux)
        if note and note.strip("\x00 ").startswith("(")
    ]
    episodes = []
    for i, (start, rhythm) in enumerate(changes):
        end = changes[i + 1][0] if i + 1 < len(changes) else max(n_samples, start)
        if end - start > 1:  # CPSC marks the end of the last episode with a rhythm note on its final sample
            episodes.append((start / fs, end / fs, rhythm))
    return episodes
