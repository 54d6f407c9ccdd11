"""The small steps of a case run. Each takes the state and returns only the keys it owns; the `node` wrapper
turns a missing input into a 'skipped' entry and a failure into a recorded error for that part, never a lost
case, and reports progress on the stream and in the case store."""
from __future__ import annotations

import functools
import logging
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphBubbleUp

from ..errors import WorkbenchError
from .events import ProgressEvent, emit
from .state import CaseState

log = logging.getLogger(__name__)

Node = Callable[[CaseState, RunnableConfig], dict[str, Any]]


class Skip(Exception):
    """Raised by a node whose input or model is absent: the run goes on and the report says why."""


def _store(config: RunnableConfig) -> Any:
    path = config.get("configurable", {}).get("db_path")
    return _open_store(str(path)) if path else None


@functools.lru_cache(maxsize=4)
def _open_store(path: str) -> Any:
    """One store object per database (it keeps one connection per thread)."""
    from ..store import CaseStore

    return CaseStore(path)


def node(name: str, output_kind: str | None = None) -> Callable[[Node], Node]:
    """Progress events, store events and outputs, and error capture around one pipeline step."""

    def wrap(step: Node) -> Node:
        @functools.wraps(step)
        def run(state: CaseState, config: RunnableConfig) -> dict[str, Any]:
            store, run_id = _store(config), state.get("run_id", "")
            emit(ProgressEvent("node_started", name))
            if store is not None:
                store.add_event(run_id, "node_started", node=name)
            try:
                update = step(state, config)
            except GraphBubbleUp:  # LangGraph's interrupt for the sign-off: not an error
                raise
            except Skip as why:
                emit(ProgressEvent("node_skipped", name, str(why)))
                if store is not None:
                    store.add_event(run_id, "node_finished", node=name, details={"skipped": str(why)})
                return {"skipped": [{"node": name, "reason": str(why)}]}
            except WorkbenchError as err:
                problem = {"node": name, "title": err.title, "message": str(err)}
            except Exception as err:  # a bug must not lose the case: record it, keep the other parts
                log.error("node %s failed:\n%s", name, traceback.format_exc())
                problem = {"node": name, "title": "Internal error",
                           "message": f"{type(err).__name__}: {err}. The other parts of the case were kept."}
            else:
                if store is not None:
                    if output_kind is not None and update.get(output_kind) is not None:
                        store.save_output(run_id, output_kind, {"value": update[output_kind]})
                    store.add_event(run_id, "node_finished", node=name)
                emit(ProgressEvent("node_finished", name))
                return update
            emit(ProgressEvent("node_failed", name, problem["message"]))
            if store is not None:
                store.add_event(run_id, "node_finished", node=name, details={"error": problem})
            return {"errors": [problem]}

        return run

    return wrap


# ====================================================================== steps
def _patient(state: CaseState) -> Any:
    from .types import PatientContext

    return PatientContext(**state["patient"])


def reader_plan(state: CaseState) -> tuple[list[str], list[dict[str, str]]]:
    """Which readers can run for this case, and why the others cannot (said in the report)."""
    options = state.get("options", {})
    run: list[str] = []
    skipped: list[dict[str, str]] = []
    if state.get("ecg_path"):
        run.append("ecg")
        for name, role, key in (("vlm", ("vlm", "mmproj"), "use_vlm"), ("heatmap", ("vision_encoder",), "use_heatmap")):
            if not options.get(key, True):
                skipped.append({"node": name, "reason": "switched off for this run"})
            elif not all(_installed(r) for r in role):
                skipped.append({"node": name, "reason": "no model installed for it (see models/README.md)"})
            else:
                run.append(name)
    else:
        skipped += [{"node": n, "reason": "no ECG was given"} for n in ("ecg", "vlm", "heatmap")]
    if state.get("lab_paths"):
        run.append("labs")
    else:
        skipped.append({"node": "labs", "reason": "no lab report was given"})
    return run, skipped


@node("ingest")
def ingest(state: CaseState, config: RunnableConfig) -> dict[str, Any]:
    """Keep a copy of each input in the case store (content hash, original name) and plan the readers."""
    store = _store(config)
    files = ([("ecg", state["ecg_path"])] if state.get("ecg_path") else []) + [("labs", p) for p in state.get("lab_paths", [])]
    inputs = []
    for kind, path in files:
        entry = {"kind": kind, "name": Path(path).name, "path": str(path)}
        if store is not None:
            record = store.add_input(state["case_id"], Path(path), kind, actor="pipeline")
            entry["sha256"] = record.sha256
        inputs.append(entry)
    plan, skipped = reader_plan(state)
    return {"inputs": inputs, "plan": plan, "skipped": skipped}


@node("ecg", output_kind="ecg")
def measure_ecg(state: CaseState, config: RunnableConfig) -> dict[str, Any]:
    from ..ecg.inputs import analyze_file

    patient = _patient(state)
    analysis = analyze_file(state["ecg_path"], age=patient.age, sex=patient.sex)
    return {"ecg": analysis.to_dict()}


def _installed(role: str) -> bool:
    from ..models.manifest import check, load_manifest

    try:
        return any(check(e, hash_file=False).installed for e in load_manifest() if e.role == role)
    except WorkbenchError:
        return False


@node("vlm", output_kind="vlm")
def read_with_model(state: CaseState, config: RunnableConfig) -> dict[str, Any]:
    """The vision-language model's own reading of the ECG picture (findings JSON + report), streamed."""
    options = state.get("options", {})
    from ..models.image_input import ecg_picture, to_png
    from ..models.prompts import FINDINGS_PROMPT
    from ..models.vlm import shared_vlm

    runtime = shared_vlm(options.get("vlm_model"))
    answer = runtime.generate_image(to_png(ecg_picture(state["ecg_path"])), FINDINGS_PROMPT,
                                    max_tokens=int(options.get("vlm_max_tokens", 512)), json_schema=True,
                                    on_piece=lambda piece: emit(ProgressEvent("token", "vlm", piece)))
    return {"vlm": {**answer.to_dict(), "report": answer.extras.get("report", ""), "prompt": FINDINGS_PROMPT,
                    "problem": answer.extras.get("parse_error", "")}}


@node("heatmap", output_kind="heatmap")
def attention_heatmap(state: CaseState, config: RunnableConfig) -> dict[str, Any]:
    """Where the vision encoder looked, and each lead's share of it."""
    options = state.get("options", {})
    from ..explain.heatmap import explain_image
    from ..explain.layout_for_heatmap import picture_and_layout
    from ..models.encoder import shared_encoder

    picture, layout, note = picture_and_layout(state["ecg_path"])
    result = explain_image(shared_encoder(options.get("encoder_model")), picture,
                           method=options.get("heatmap_method", "map"), layout=layout)
    out_dir = Path(config.get("configurable", {}).get("artifacts_dir", ".")) / state["run_id"]
    out_dir.mkdir(parents=True, exist_ok=True)
    overlay = result.save(out_dir / "heatmap.png")
    return {"heatmap": {**result.to_dict(), "overlay_path": str(overlay), "layout_note": note}}


@node("labs", output_kind="labs")
def read_labs(state: CaseState, config: RunnableConfig) -> dict[str, Any]:
    import json

    from ..labs.extract import extract_labs

    patient = _patient(state)
    extraction = extract_labs(state["lab_paths"], patient_id=patient.patient_id, sex=patient.sex, age=patient.age)
    return {"labs": {
        "results": json.loads(extraction.frame.to_json(orient="records", date_format="iso")),
        "unparsed": json.loads(extraction.unparsed_frame.to_json(orient="records")),
        "files": [{**f.__dict__, "collected_at": f.collected_at.isoformat() if f.collected_at else None}
                  for f in extraction.files]}}


def labs_frame(state: CaseState) -> Any:
    """The labs results table back from the JSON state (None without labs)."""
    import pandas as pd

    labs = state.get("labs")
    if not labs or not labs.get("results"):
        return None
    frame = pd.DataFrame(labs["results"])
    frame["collected_at"] = pd.to_datetime(frame["collected_at"])
    return frame


def ecg_analysis(state: CaseState) -> Any:
    from ..ecg.analysis import ECGAnalysis

    return ECGAnalysis.from_dict(state["ecg"]) if state.get("ecg") else None


@node("fuse", output_kind="fusion")
def fuse_evidence(state: CaseState, config: RunnableConfig) -> dict[str, Any]:
    """ECG + labs + form -> impressions with evidence and urgency (runs after every branch has finished)."""
    from .fusion import fuse

    analysis, labs = ecg_analysis(state), labs_frame(state)
    if analysis is None and labs is None:
        raise Skip("neither a usable ECG nor lab results: nothing to fuse")
    result = fuse(analysis, labs, _patient(state))
    return {"fusion": {**result.to_dict(), "urgency": result.urgency}}


@node("claims", output_kind="claims")
def check_model_claims(state: CaseState, config: RunnableConfig) -> dict[str, Any]:
    """Every statement of the model labelled supported / contradicted / not assessed by the measurements."""
    vlm = state.get("vlm")
    if not vlm:
        raise Skip("no model reading to check")
    analysis = ecg_analysis(state)
    if analysis is None:
        raise Skip("no ECG measurements to check the model against")
    from ..explain.claims import check_claims, claim_score, extract_claims

    claims = check_claims(extract_claims(vlm.get("findings"), vlm.get("report") or vlm.get("text", "")), analysis, labs_frame(state))
    return {"claims": [c.to_dict() for c in claims], "claim_summary": claim_score(claims)}


@node("recommend", output_kind="recommendations")
def recommend_next_steps(state: CaseState, config: RunnableConfig) -> dict[str, Any]:
    if not state.get("fusion"):
        raise Skip("no impressions to base recommendations on")
    from .fusion import fuse
    from .recommend import recommend

    patient, labs = _patient(state), labs_frame(state)
    result = fuse(ecg_analysis(state), labs, patient)  # typed again from the same JSON inputs (pure, fast)
    return {"recommendations": [r.to_dict() for r in recommend(result, patient, labs)]}


@node("narrate", output_kind="narrative")
def write_narrative(state: CaseState, config: RunnableConfig) -> dict[str, Any]:
    """The model writes the narrative from the structured evidence when it is installed; otherwise a template
    narrative is made from the same evidence, so the report never depends on the model."""
    from .narrative import model_narrative, template_narrative

    text = template_narrative(state)
    if state.get("vlm") and state.get("options", {}).get("model_narrative", True):
        written = model_narrative(state, on_piece=lambda piece: emit(ProgressEvent("token", "narrate", piece)))
        analysis = ecg_analysis(state)
        if written and analysis is not None:
            from ..explain.claims import check_claims, claim_score, extract_claims

            checked = check_claims(extract_claims(None, written), analysis, labs_frame(state))
            return {"narrative": {"text": written, "author": "vision-language model (from the structured evidence)",
                                  "template": text, "claims": [c.to_dict() for c in checked],
                                  "claim_summary": claim_score(checked)}}
    return {"narrative": {"text": text, "author": "template (no model)"}}


@node("signoff")
def clinician_signoff(state: CaseState, config: RunnableConfig) -> dict[str, Any]:
    """Pause for the clinician before the report is final (when the run asks for it)."""
    if not state.get("options", {}).get("require_signoff", False):
        raise Skip("sign-off not requested for this run")
    from datetime import datetime

    from langgraph.types import interrupt

    emit(ProgressEvent("interrupted", "signoff", "waiting for clinician sign-off"))
    answer = interrupt({"question": "Sign off this case report?", "urgency": (state.get("fusion") or {}).get("urgency")})
    if not isinstance(answer, dict) or not answer.get("who"):
        raise WorkbenchError("A sign-off needs the clinician's name.")
    return {"signoff": {"who": str(answer["who"]), "note": str(answer.get("note", "")), "approved": bool(answer.get("approved", True)),
                        "at": datetime.now().isoformat(timespec="seconds")}}


@node("report", output_kind="report")
def export_report(state: CaseState, config: RunnableConfig) -> dict[str, Any]:
    from ..store.report_export import write_reports

    out_dir = Path(config.get("configurable", {}).get("artifacts_dir", ".")) / state["run_id"]
    return {"report": write_reports(dict(state), out_dir)}
