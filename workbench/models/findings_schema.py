"""The JSON shape the vision-language model must answer in (enforced by llama.cpp's grammar), so the
pipeline gets parseable findings with the same vocabulary as the measurement engine."""
from __future__ import annotations

import json
from typing import Any

FINDINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "findings": {
            "type": "array",
            "maxItems": 12,
            "items": {
                "type": "object",
                "properties": {
                    "code": {"type": "string", "description": "SNOMED CT code when known"},
                    "label": {"type": "string"},
                    "leads": {"type": "array", "items": {"type": "string"}, "maxItems": 12},
                    "confidence": {"type": "number"},
                    "rationale": {"type": "string"},
                },
                "required": ["code", "label", "leads", "confidence", "rationale"],
            },
        },
        "report": {"type": "string"},
    },
    "required": ["findings", "report"],
}


def schema_json() -> str:
    return json.dumps(FINDINGS_SCHEMA)
