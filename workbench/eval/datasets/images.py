"""A folder of ECG pictures with a labels CSV (``labels.csv`` unless ``csv=`` names another).

Columns: ``file`` (path relative to the folder, required), optional ``age``, ``sex`` (M/F), ``codes`` (SNOMED CT,
PTB-XL SCP codes or label ids separated by ``;``, ``,`` or spaces: every label is then known, positive when
coded) and optional 0/1 columns named like a class id (``AF``, ``sc_MI``...; blank = unknown) that override.
"""
from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ...ecg.inputs import _PICTURE_SUFFIXES
from ..labels import load_label_map
from .base import DatasetError, EvalRecord, missing_list, register, require_dir


@register("images")
class ImageFolder:
    kind = "images"

    def __init__(self, root: Path, *, csv_name: str | None = None, **options: Any) -> None:
        self.root = require_dir(Path(root), "ECG image")
        table = self.root / (csv_name or options.get("csv") or "labels.csv")
        if not table.is_file():
            raise DatasetError(f"The image folder {self.root} has no labels table {table.name}.",
                               hint="Add a CSV with a 'file' column and a 'codes' column or one 0/1 column per label.")
        with table.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
        columns = set(rows[0]) if rows else set()
        label_map = load_label_map()
        class_columns = [c for c in label_map.class_ids if c in columns]
        if "file" not in columns:
            raise DatasetError(f"{table.name} has no 'file' column (found: {', '.join(sorted(columns)) or 'nothing'}).")
        if "codes" not in columns and not class_columns:
            raise DatasetError(f"{table.name} has no label column: add 'codes' or columns named like {', '.join(label_map.label_ids[:4])}...")
        missing = [r["file"] for r in rows if not (self.root / r["file"]).is_file()]
        if missing:
            raise DatasetError(f"{table.name} names pictures missing from {self.root}: {missing_list(missing)}.")
        wrong = [r["file"] for r in rows if Path(r["file"]).suffix.lower() not in _PICTURE_SUFFIXES]
        if wrong:
            raise DatasetError(f"{table.name} names files that are not pictures or PDFs: {missing_list(wrong)}.")
        self.records: list[EvalRecord] = []
        for row in rows:
            labels: dict[str, int] = {}
            if row.get("codes") is not None:
                labels |= label_map.truth_from_codes(c for c in re.split(r"[;,\s]+", row["codes"]) if c)
            for column in class_columns:
                value = (row.get(column) or "").strip()
                if value:
                    if value not in ("0", "1"):
                        raise DatasetError(f"{table.name}, {row['file']}: column {column} must be 0, 1 or blank, not {value!r}.")
                    labels[column] = int(value)
            age = float(row["age"]) if (row.get("age") or "").strip() else None
            sex = (row.get("sex") or "").strip().upper()[:1] or None
            self.records.append(EvalRecord(f"{self.kind}/{Path(row['file']).with_suffix('').as_posix()}", self.kind,
                                           str(self.root / row["file"]), labels, age=age, sex=sex if sex in ("M", "F") else None))

    def __iter__(self) -> Iterator[EvalRecord]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)
