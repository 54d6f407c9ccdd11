"""The case narrative: a template built from the structured evidence (always available), or the model's own
text written from that same evidence and its earlier image reading. Both start from the impressions, so the
model can phrase but not invent: its text is still claim-checked in the report."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import DISCLAIMER

NARRATIVE_PROMPT = (
    "You are assisting a clinician. Write a short clinical narrative (4 to 6 sentences) for this case, using ONLY "
    "the structured evidence below and your own reading of the ECG image. Do not add diagnoses that are not listed. "
    "Say the urgency and the most important next step. End with: 'Decision support only - not a diagnosis.'\n\n{evidence}"
)


def _evidence_lines(state: dict[str, Any]) -> list[str]:
    patient = state.get("patient", {})
    lines = [f"Patient: {patient.get('age') or 'age unknown'} y, sex {patient.get('sex') or 'unknown'}; symptoms: "
             f"{', '.join(patient.get('symptoms') or []) or 'none recorded'}."]
    ecg = state.get("ecg") or {}
    if ecg:
        rate = (ecg.get("measurements", {}).get("heart_rate") or {}).get("value")
        findings = ", ".join(f["label"] for f in ecg.get("findings", [])) or "no abnormal finding"
        lines.append(f"ECG measured: heart rate {rate:.0f} bpm; {findings}." if rate else f"ECG measured: {findings}.")
    fusion = state.get("fusion") or {}
    for item in fusion.get("impressions", []):
        evidence = "; ".join(e["text"] for e in item.get("evidence", [])[:4])
        lines.append(f"Impression ({item['urgency']}): {item['label']} - {evidence}.")
    steps = [r["text"] for r in state.get("recommendations") or [] if r["kind"] == "next_step"][:3]
    if steps:
        lines.append("Suggested next steps: " + " ".join(steps))
    return lines


def template_narrative(state: dict[str, Any]) -> str:
    """Plain sentences from the evidence, in the order a clinician reads a case."""
    fusion = state.get("fusion") or {}
    urgency = fusion.get("urgency", "routine")
    lines = _evidence_lines(state)
    if not fusion.get("impressions"):
        lines.append("No impression was reached from the inputs given.")
    missing = [f"{s['node']} ({s['reason']})" for s in state.get("skipped", []) if s["node"] in ("ecg", "labs")]
    if missing:
        lines.append("Not available: " + "; ".join(missing) + ".")
    lines.append(f"Overall urgency: {urgency}. {DISCLAIMER}")
    return " ".join(lines)


def model_narrative(state: dict[str, Any], on_piece: Callable[[str], None] | None = None) -> str:
    """The installed model's narrative ('' when it produced nothing usable)."""
    from ..models.vlm import shared_vlm

    vlm = state.get("vlm") or {}
    evidence = "\n".join(_evidence_lines(state))
    if vlm.get("report"):
        evidence += f"\nYour earlier reading of the ECG image: {vlm['report']}"
    options = state.get("options", {})
    runtime = shared_vlm(options.get("vlm_model"))
    answer = runtime.generate(NARRATIVE_PROMPT.format(evidence=evidence), max_tokens=int(options.get("narrative_max_tokens", 320)),
                              on_piece=on_piece)
    return answer.text.strip()
