"""PhysioNet WFDB folders: Challenge 2021 (SNOMED ``# Dx``), CPSC 2021 (AF episodes in ``.atr``) and the PTB
Diagnostic ECG Database (reason for admission). Headers are read as text (no signal is loaded when listing)."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...ecg.readers.comments import parse_comments
from ..labels import SUPERCLASS_PREFIX, load_label_map
from .base import DatasetError, EvalRecord, missing_list, register, require_dir


@dataclass(frozen=True)
class Header:
    path: Path
    fs: float
    n_samples: int
    files: tuple[str, ...]  # signal files named by the header
    comments: tuple[str, ...]

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs if self.fs else 0.0


def read_header(path: Path) -> Header:
    """The parts of a WFDB header a study needs; a damaged header is a DatasetError naming the file."""
    try:
        lines = path.read_text(errors="replace").splitlines()
        fields = lines[0].split()
        fs = float(fields[2].split("/")[0]) if len(fields) > 2 else 250.0
        n_samples = int(fields[3]) if len(fields) > 3 else 0
        n_sig = int(fields[1])
    except (OSError, IndexError, ValueError) as exc:
        raise DatasetError(f"{path.name} is not a readable WFDB header ({exc}).") from exc
    body = [ln for ln in lines[1:] if ln.strip() and not ln.lstrip().startswith("#")]
    files = tuple(dict.fromkeys(ln.split()[0] for ln in body[:n_sig]))
    comments = tuple(ln.lstrip()[1:].strip() for ln in lines if ln.lstrip().startswith("#"))
    return Header(path, fs, n_samples, files, comments)


def _headers(root: Path, what: str, pattern: str = "*.hea") -> list[Header]:
    require_dir(root, what)
    headers = [read_header(p) for p in sorted(root.glob(pattern))]
    if not headers:
        raise DatasetError(f"The {what} folder {root} contains no WFDB header ({pattern}).")
    missing = [f"{h.path.stem}: {f}" for h in headers for f in h.files if not (root / f).is_file()]
    if missing:
        raise DatasetError(f"The {what} folder {root} lacks signal files named by its headers: {missing_list(missing)}.")
    return headers


class _WFDBFolder:
    kind = ""

    def __init__(self, root: Path, records: list[EvalRecord]) -> None:
        self.root = root
        self.records = records

    def __iter__(self) -> Iterator[EvalRecord]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)


@register("cinc2021", "challenge")
class ChallengeFolder(_WFDBFolder):
    """PhysioNet/CinC Challenge 2021 records (``.hea`` + ``.mat``) labelled by their ``# Dx:`` SNOMED CT codes."""

    kind = "cinc2021"

    def __init__(self, root: Path, **_: Any) -> None:
        label_map = load_label_map()
        records, unlabelled = [], []
        for h in _headers(root, "Challenge 2021"):
            age, sex, codes, _ = parse_comments(h.comments)
            if not codes:
                unlabelled.append(h.path.name)
                continue
            records.append(EvalRecord(f"{self.kind}/{h.path.stem}", self.kind, str(h.path), label_map.truth_from_snomed(codes),
                                      age=age, sex=sex, extra={"dx": list(codes)}))
        if unlabelled:
            raise DatasetError(f"{len(unlabelled)} header(s) in {root} have no '# Dx:' line: {missing_list(unlabelled)}.",
                               hint="Challenge records carry their SNOMED CT codes there; remove unlabelled records.")
        super().__init__(root, records)


_CPSC_CLASSES = {"non atrial fibrillation": 0, "paroxysmal atrial fibrillation": 1, "persistent atrial fibrillation": 1}


@register("cpsc2021")
class CPSC2021Folder(_WFDBFolder):
    """CPSC 2021 (``.hea`` + ``.dat`` + ``.atr``): record-level AF from the header class and per-second truth from
    the ``.atr`` AFIB episodes (kept in ``extra`` as [start_s, end_s] spans with the record length)."""

    kind = "cpsc2021"

    def __init__(self, root: Path, **_: Any) -> None:
        from ...ecg.annotations import read_annotations

        headers = _headers(root, "CPSC 2021")
        missing = [h.path.with_suffix(".atr").name for h in headers if not h.path.with_suffix(".atr").is_file()]
        if missing:
            raise DatasetError(f"The CPSC 2021 folder {root} lacks annotation files: {missing_list(missing)}.")
        records = []
        for h in headers:
            text = " ".join(h.comments).lower()
            cls = next((c for c in _CPSC_CLASSES if c in text), None)
            if cls is None:
                raise DatasetError(f"{h.path.name} does not state its class (non / paroxysmal / persistent atrial fibrillation).")
            ann = read_annotations(h.path, "atr")
            episodes = [[round(a, 3), round(b, 3)] for a, b in ann.episodes("AFIB")]
            records.append(EvalRecord(f"{self.kind}/{h.path.stem}", self.kind, str(h.path), {"AF": _CPSC_CLASSES[cls]},
                                      extra={"class": cls, "af_truth_episodes": episodes, "n_seconds": int(h.duration_s)}))
        super().__init__(root, records)


@register("ptbdb", "ptb")
class PTBFolder(_WFDBFolder):
    """PTB Diagnostic ECG Database: superclass truth from the header's 'Reason for admission' (labels.toml)."""

    kind = "ptbdb"

    def __init__(self, root: Path, **_: Any) -> None:
        label_map = load_label_map()
        records = []
        for h in _headers(root, "PTB Diagnostic"):
            age, sex, _, _ = parse_comments(h.comments)
            reason = next((c.split(":", 1)[1].strip().lower() for c in h.comments if c.lower().startswith("reason for admission")), None)
            if reason is None:
                raise DatasetError(f"{h.path.name} has no 'Reason for admission' comment, the PTB diagnosis.")
            truth: dict[str, int] = {}
            superclass = label_map.ptbdb_reason.get(reason)
            if superclass == "NORM":
                truth = {SUPERCLASS_PREFIX + sc: int(sc == "NORM") for sc in label_map.superclasses}
            else:
                truth[SUPERCLASS_PREFIX + "NORM"] = 0
                if superclass:
                    truth[SUPERCLASS_PREFIX + superclass] = 1
            records.append(EvalRecord(f"{self.kind}/{h.path.stem}", self.kind, str(h.path), truth, age=age, sex=sex,
                                      extra={"reason": reason}))
        super().__init__(root, records)
