"""An ECGInstruct-style JSONL file: one ECG image, an instruction and the reference answer per line.

Two line shapes are read: flat ``{"id", "image", "question", "answer"}`` (``reference``/``image_path``/``prompt``
accepted too) and ECGInstruct's LLaVA shape ``{"id", "image", "conversations": [{"from": "human", "value":
"<image>\\n..."}, {"from": "gpt", "value": "..."}]}``. Image paths are relative to the file's folder (or
``image_root``). Label truth comes from the reference text through the claim extractor: a finding the
reference states is positive, one it does not mention negative (reference reports are complete readings).
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..labels import load_label_map
from .base import DatasetError, EvalRecord, register


def _turns(item: dict[str, Any]) -> tuple[str | None, str | None]:
    conv = item.get("conversations")
    if isinstance(conv, list):
        human = next((t.get("value") for t in conv if isinstance(t, dict) and t.get("from") in ("human", "user")), None)
        answer = next((t.get("value") for t in conv if isinstance(t, dict) and t.get("from") in ("gpt", "assistant")), None)
        return human, answer
    return (item.get("question") or item.get("prompt") or item.get("instruction"),
            item.get("answer") or item.get("reference") or item.get("output"))


def reference_codes(text: str) -> set[str]:
    """Finding codes the text states (negated and numeric claims excluded)."""
    from ...explain.claims import extract_claims

    return {c.code for c in extract_claims(None, text) if c.code and not c.numeric}


@register("ecginstruct", "jsonl")
class InstructJSONL:
    kind = "ecginstruct"

    def __init__(self, path: Path, *, image_root: str | Path | None = None, **_: Any) -> None:
        self.root = Path(path)
        if not self.root.is_file():
            raise DatasetError(f"The instruction file {self.root} does not exist.")
        base = Path(image_root) if image_root else self.root.parent
        label_map = load_label_map()
        self.records: list[EvalRecord] = []
        seen: set[str] = set()
        for number, line in enumerate(self.root.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{self.root.name}, line {number}"
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{where} is not valid JSON ({exc.msg}).") from exc
            if not isinstance(item, dict):
                raise DatasetError(f"{where} is not a JSON object.")
            image = item.get("image") or item.get("image_path")
            question, answer = _turns(item)
            absent = [name for name, value in (("image", image), ("question", question), ("reference answer", answer)) if not value]
            if absent:
                raise DatasetError(f"{where} has no {' and no '.join(absent)}.")
            image_path = Path(image) if Path(image).is_absolute() else base / image
            if not image_path.is_file():
                raise DatasetError(f"{where}: the image {image_path} does not exist.")
            rid = str(item.get("id") or f"line{number}")
            if rid in seen:
                raise DatasetError(f"{where}: id {rid!r} is used twice.")
            seen.add(rid)
            question = str(question).replace("<image>", "").strip()
            self.records.append(EvalRecord(f"{self.kind}/{rid}", self.kind, str(image_path),
                                           label_map.truth_from_codes(reference_codes(str(answer))),
                                           question=question, reference=str(answer)))
        if not self.records:
            raise DatasetError(f"{self.root} holds no instruction.")

    def __iter__(self) -> Iterator[EvalRecord]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)
