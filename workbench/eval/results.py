"""Study results on disk: one Parquet file per finished batch, written atomically (temporary name, then rename),
all with the same columns, so an interrupted study leaves only whole files and resumes from their ids.

Columns: id, dataset, path, error (empty when the record was analysed), elapsed_s (wall) and cpu_s (CPU time of the
worker thread: the two differ when other processes compete for the cores), worker, and per class
``truth__C`` (NaN: unknown), ``score__C`` (NaN: not assessed), ``pred__C`` (0/1, NaN after an error), then the
generated ``text``, the ``reference`` text and ``extra_json`` (adapter truth and predictor output as JSON).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .datasets.base import EvalRecord
from .labels import LabelMap, load_label_map
from .predict import Prediction

PART_GLOB = "part-*.parquet"


def schema(label_map: LabelMap | None = None) -> pa.Schema:
    label_map = label_map or load_label_map()
    fields = [pa.field("id", pa.string()), pa.field("dataset", pa.string()), pa.field("path", pa.string()),
              pa.field("error", pa.string()), pa.field("elapsed_s", pa.float64()), pa.field("cpu_s", pa.float64()),
              pa.field("worker", pa.string())]
    for prefix in ("truth", "score", "pred"):
        fields += [pa.field(f"{prefix}__{c}", pa.float64()) for c in label_map.class_ids]
    fields += [pa.field("text", pa.string()), pa.field("reference", pa.string()), pa.field("extra_json", pa.string())]
    return pa.schema(fields)


def make_row(record: EvalRecord, prediction: Prediction | None, error: str, elapsed_s: float, worker: str,
             cpu_s: float = math.nan) -> dict[str, Any]:
    """One result row; on error every score and prediction is NaN and the truth is kept."""
    label_map = load_label_map()
    row: dict[str, Any] = {"id": record.id, "dataset": record.dataset, "path": record.path, "error": error,
                           "elapsed_s": round(elapsed_s, 4), "cpu_s": round(cpu_s, 4), "worker": worker}
    scores: dict[str, float] = {}
    stated: dict[str, float] = {}
    if prediction is not None:
        scores = dict(prediction.scores)
        scores |= label_map.superclass_scores(scores)
        stated = {k: float(v) for k, v in prediction.stated.items()}
        stated |= {k: float(v >= 0.5) for k, v in scores.items() if k in label_map.superclass_ids}
    for c in label_map.class_ids:
        row[f"truth__{c}"] = float(record.labels[c]) if c in record.labels else math.nan
        row[f"score__{c}"] = float(scores.get(c, math.nan))
        row[f"pred__{c}"] = stated.get(c, math.nan)
    extra = dict(record.extra) | (prediction.extra if prediction is not None else {})
    row["text"] = prediction.text if prediction is not None else ""
    row["reference"] = record.reference or ""
    row["extra_json"] = json.dumps(extra, default=str)
    return row


def to_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows as an Arrow table with the study schema (built on the worker: the client only writes it)."""
    return pa.Table.from_pylist(rows, schema=schema())


def write_part(out_dir: Path, rows: list[dict[str, Any]] | pa.Table) -> Path:
    """Write one batch's rows as ``part-<hash of ids>.parquet`` atomically; returns the file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    table = rows if isinstance(rows, pa.Table) else to_table(rows)
    digest = hashlib.sha1("\n".join(sorted(table.column("id").to_pylist())).encode()).hexdigest()[:16]
    final = out_dir / f"part-{digest}.parquet"
    tmp = out_dir / f".{final.name}.{os.getpid()}.tmp"
    pq.write_table(table, tmp)
    os.replace(tmp, final)
    return final


def finished_ids(out_dir: Path) -> set[str]:
    """Ids already in the folder's result files (temporary leftovers of a killed run are ignored)."""
    ids: set[str] = set()
    for path in sorted(Path(out_dir).glob(PART_GLOB)):
        ids |= set(pq.read_table(path, columns=["id"]).column("id").to_pylist())
    return ids


def read_results(out_dir: Path | str) -> Any:
    """All result rows of a study folder as one pandas DataFrame (one row per id, first written wins)."""
    import pandas as pd

    parts = sorted(Path(out_dir).glob(PART_GLOB))
    if not parts:
        from .datasets.base import DatasetError

        raise DatasetError(f"{out_dir} holds no study results ({PART_GLOB}).", hint="Run `workbench eval run` first.")
    frame = pd.concat([pq.read_table(p, schema=schema()).to_pandas() for p in parts], ignore_index=True)
    return frame.drop_duplicates("id", keep="first").sort_values("id").reset_index(drop=True)


def extras(frame: Any) -> list[dict[str, Any]]:
    return [json.loads(text) if text else {} for text in frame["extra_json"]]
