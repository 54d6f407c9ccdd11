"""Data set adapters for validation studies: each yields `EvalRecord` (input + truth) and checks its folder
when opened. Open one with ``open_dataset("KIND:PATH")``; kinds: cinc2021, cpsc2021, ptbdb, ptbxl,
ecginstruct (JSONL), images (pictures + labels CSV), store (clinician-validated cases)."""
from __future__ import annotations

from .base import Dataset, DatasetError, EvalRecord, dataset_kinds, open_dataset, parse_spec

__all__ = ["Dataset", "DatasetError", "EvalRecord", "dataset_kinds", "open_dataset", "parse_spec"]
