"""Clinician-validated cases of the case store: each run with verdicts becomes a record whose truth is what the
clinician said about the workbench's findings.

A verdict is about one finding code of the run's stored ECG analysis: ``agree`` keeps the workbench's call (a
stated finding is present, an unstated one absent), ``disagree`` reverses it, ``unsure`` gives no truth. The
record's input is the stored copy of the case's ECG file, so a study re-runs today's engine against it.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..labels import load_label_map
from .base import DatasetError, EvalRecord, register


def clinician_truth(stated: bool, verdict: str) -> int | None:
    """What the clinician holds true of a finding, given whether the workbench stated it and the verdict."""
    if verdict == "agree":
        return int(stated)
    if verdict == "disagree":
        return int(not stated)
    return None


@register("store", "cases")
class StoreCases:
    kind = "store"

    def __init__(self, path: Path, **_: Any) -> None:
        from ...store import CaseStore

        self.root = Path(path)
        if not self.root.is_file():
            raise DatasetError(f"The case database {self.root} does not exist.")
        label_map = load_label_map()
        store = CaseStore(self.root)
        try:
            self.records = list(self._records(store, label_map))
        finally:
            store.close()
        if not self.records:
            raise DatasetError(f"The case database {self.root} holds no run with a clinician's verdict and an ECG.",
                               hint="Validate findings in the case view first (agree / disagree per finding).")

    def _records(self, store: Any, label_map: Any) -> Iterator[EvalRecord]:
        for summary in store.list_cases():
            case = store.get_case(summary.case_id)
            ecg_inputs = [i for i in case.inputs if i.kind == "ecg"]
            for run in case.runs:
                verdicts = run.latest_validations
                output = run.outputs.get("ecg")
                if not verdicts or not ecg_inputs or output is None:
                    continue
                analysis = output.data.get("value", output.data)
                stated = {f.get("code") for f in analysis.get("findings", [])}
                labels: dict[str, int] = {}
                items = []
                for code, v in sorted(verdicts.items()):
                    truth = clinician_truth(code in stated, v.verdict)
                    items.append({"code": code, "verdict": v.verdict, "stated": code in stated, "clinician": truth,
                                  "who": v.who})
                    if truth is not None:
                        for label in label_map.labels_for_code(code):
                            labels[label] = max(labels.get(label, 0), truth)
                context = case.context
                yield EvalRecord(f"{self.kind}/{run.id}", self.kind, str(ecg_inputs[-1].stored_path), labels,
                                 age=context.get("age"), sex=context.get("sex"),
                                 extra={"case_id": case.case_id, "run_id": run.id, "validations": items})

    def __iter__(self) -> Iterator[EvalRecord]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)
