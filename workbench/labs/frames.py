"""Results and unparsed rows as tidy pandas tables (one row per result), the shape notebooks, the CLI's CSV
and the case store share."""
from __future__ import annotations

import pandas as pd

from .records import LabResult, UnparsedRow

RESULT_COLUMNS = [
    "patient", "collected_at", "analyte", "name", "loinc", "printed_name", "value_text", "value", "comparator", "unit",
    "canonical_value", "canonical_unit", "ref_low", "ref_high", "ref_source", "flag", "source_file", "page", "row",
    "table", "reader", "bbox", "notes",
]
UNPARSED_COLUMNS = ["text", "reason", "source_file", "page", "row", "table", "reader", "bbox"]


def results_frame(results: list[LabResult]) -> pd.DataFrame:
    rows = []
    for r in results:
        item = {k: v for k, v in r.to_dict().items() if k in RESULT_COLUMNS}
        item.update(source_file=r.source.file, page=r.source.page, row=r.source.row, table=r.source.table,
                    reader=r.source.reader, bbox=r.source.bbox, notes="; ".join(r.notes),
                    collected_at=r.collected_at)
        rows.append(item)
    frame = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    frame["collected_at"] = pd.to_datetime(frame["collected_at"])
    for column in ("page", "row", "table"):
        frame[column] = frame[column].astype("Int64")
    return frame


def unparsed_frame(unparsed: list[UnparsedRow]) -> pd.DataFrame:
    return pd.DataFrame([{"text": u.text, "reason": u.reason, "source_file": u.source.file, "page": u.source.page,
                          "row": u.source.row, "table": u.source.table, "reader": u.source.reader, "bbox": u.source.bbox}
                         for u in unparsed], columns=UNPARSED_COLUMNS)
