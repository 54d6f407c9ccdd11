"""A PTB-XL folder: ``ptbxl_database.csv`` (one row per ECG: SCP codes with likelihoods, stratified fold, file
names) + ``scp_statements.csv`` (the 71 statements and their diagnostic superclasses) + the WFDB records."""
from __future__ import annotations

import ast
import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..labels import load_label_map
from .base import DatasetError, EvalRecord, missing_list, register, require_dir

DATABASE = "ptbxl_database.csv"
STATEMENTS = "scp_statements.csv"
_NEEDED = ("ecg_id", "scp_codes", "strat_fold")


def read_statements(path: Path) -> dict[str, str]:
    """SCP code -> diagnostic superclass ('' for form and rhythm statements), PTB-XL's own table."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise DatasetError(f"{path} cannot be read ({exc}).") from exc
    if not rows or "diagnostic_class" not in rows[0]:
        raise DatasetError(f"{path.name} has no 'diagnostic_class' column: it is not PTB-XL's scp_statements.csv.")
    key = next(iter(rows[0]))  # the unnamed first column holds the code
    return {row[key].strip(): (row.get("diagnostic_class") or "").strip() for row in rows}


def _database_file(root: Path) -> Path:
    """``ptbxl_database.csv``, or a single other table with its columns (e.g. an excerpt such as the shared
    ``ptbxl_00001_row.csv``)."""
    if (root / DATABASE).is_file():
        return root / DATABASE
    candidates = []
    for path in sorted(root.glob("*.csv")):
        if path.name == STATEMENTS:
            continue
        with path.open(newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), [])
        if all(c in header for c in _NEEDED):
            candidates.append(path)
    if len(candidates) != 1:
        raise DatasetError(f"The PTB-XL folder {root} has no {DATABASE}" + (f" (and {len(candidates)} tables look like it)" if candidates else "") + ".",
                           hint="Download PTB-XL completely (ptbxl_database.csv, scp_statements.csv, records100/ or records500/).")
    return candidates[0]


@register("ptbxl")
class PTBXLFolder:
    """PTB-XL records with truth from their SCP codes. ``rate``: 'lr' (100 Hz, default) or 'hr' (500 Hz);
    ``folds``: keep only these strat_fold values (e.g. '10' for the recommended test fold)."""

    kind = "ptbxl"

    def __init__(self, root: Path, *, rate: str = "lr", folds: str | list[int] | None = None, **_: Any) -> None:
        self.root = require_dir(Path(root), "PTB-XL")
        if rate not in ("lr", "hr"):
            raise DatasetError(f"PTB-XL rate must be 'lr' (100 Hz) or 'hr' (500 Hz), not {rate!r}.")
        if not (self.root / STATEMENTS).is_file():
            raise DatasetError(f"The PTB-XL folder {self.root} lacks {STATEMENTS} (the statements and their superclasses).")
        classes = read_statements(self.root / STATEMENTS)
        wanted = None if folds in (None, "") else {int(f) for f in (folds.split(",") if isinstance(folds, str) else folds)}
        database = _database_file(self.root)
        with database.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        column = f"filename_{rate}"
        if rows and column not in rows[0]:
            raise DatasetError(f"{database.name} has no {column} column (the record file names).")
        label_map = load_label_map()
        self.records: list[EvalRecord] = []
        missing, unknown = [], set()
        for row in rows:
            fold = int(float(row["strat_fold"]))
            if wanted is not None and fold not in wanted:
                continue
            try:
                scp = ast.literal_eval(row["scp_codes"])
            except (ValueError, SyntaxError) as exc:
                raise DatasetError(f"{database.name}, ecg_id {row['ecg_id']}: scp_codes {row['scp_codes']!r} is not a dict.") from exc
            unknown |= set(scp) - set(classes)
            header = self._header(row[column])
            if header is None:
                missing.append(row[column])
                continue
            age = float(row["age"]) if row.get("age") not in (None, "") else None
            sex = {"0": "M", "1": "F"}.get(str(row.get("sex", "")).split(".")[0])
            self.records.append(EvalRecord(
                f"{self.kind}/{int(float(row['ecg_id'])):05d}", self.kind, str(header), label_map.truth_from_scp(scp, classes),
                age=min(age, 90.0) if age is not None else None,  # PTB-XL writes 300 for ages > 89 (anonymised)
                sex=sex, extra={"strat_fold": fold, "scp_codes": {k: float(v) for k, v in scp.items()},
                                "report": row.get("report", "")}))
        if missing:
            raise DatasetError(f"The PTB-XL folder {self.root} lacks {len(missing)} record(s) named in {database.name}: {missing_list(missing)}.",
                               hint="Download the records (records100/ for 'lr', records500/ for 'hr') or choose folds that are present.")
        if unknown:
            raise DatasetError(f"{database.name} uses SCP codes that {STATEMENTS} does not define: {missing_list(sorted(unknown))}.")

    def _header(self, filename: str) -> Path | None:
        """The record's header at its database path, or next to the database (excerpts keep files flat)."""
        for candidate in (self.root / f"{filename}.hea", self.root / f"{Path(filename).name}.hea"):
            if candidate.is_file() and (candidate.with_suffix(".dat").is_file()):
                return candidate
        return None

    def __iter__(self) -> Iterator[EvalRecord]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)
