"""The typed state of one case run. Values are plain JSON (dicts, lists, strings, numbers) so that LangGraph's
SQLite checkpoints hold no pickles and a run resumed after a crash sees exactly what was saved."""
from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict


class NodeProblem(TypedDict):
    node: str
    title: str  # "Input problem", "Model problem", "Internal error"
    message: str  # plain words for the clinician


class Skipped(TypedDict):
    node: str
    reason: str  # "no ECG was given", "no vision-language model is installed"


class CaseState(TypedDict, total=False):
    # what the run was asked to do (set once by the caller)
    case_id: str
    run_id: str
    patient: dict[str, Any]  # PatientContext.to_dict()
    ecg_path: str | None
    lab_paths: list[str]
    options: dict[str, Any]  # see pipeline.runner.RunOptions
    # one key per node, so parallel nodes never write the same key
    inputs: list[dict[str, Any]]
    plan: list[str]  # the reader nodes ingest decided to run (the others are listed in `skipped` with why)
    ecg: dict[str, Any] | None  # ECGAnalysis.to_dict()
    vlm: dict[str, Any] | None  # Generation.to_dict() plus the model's report text
    heatmap: dict[str, Any] | None  # method, per-lead attribution, overlay image path
    labs: dict[str, Any] | None  # results, unparsed rows and per-file notes
    fusion: dict[str, Any] | None  # impressions, HEART, ESC 0h/1h, eGFR, notes
    claims: list[dict[str, Any]] | None
    claim_summary: dict[str, Any] | None
    recommendations: list[dict[str, Any]] | None
    narrative: dict[str, Any] | None  # text and who wrote it (model or template)
    signoff: dict[str, Any] | None  # who signed, when, note; None while not signed
    report: dict[str, Any] | None  # paths of the HTML and PDF files
    # accumulated by every node (LangGraph merges parallel writes with operator.add)
    errors: Annotated[list[NodeProblem], operator.add]
    skipped: Annotated[list[Skipped], operator.add]
