"""The case workflow as a LangGraph graph. It reads like the clinical workflow:

    ingest -> { ECG measurement, model reading, attention heatmap, labs }  (in parallel, only those possible)
           -> fuse -> check the model's claims -> recommend -> narrative -> clinician sign-off -> report
"""
from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from . import nodes
from .state import CaseState

READERS = {"ecg": nodes.measure_ecg, "vlm": nodes.read_with_model, "heatmap": nodes.attention_heatmap, "labs": nodes.read_labs}


def _readers(state: CaseState) -> list[str]:
    """Fan out to the readers ingest planned; straight to fusion when there is none."""
    return list(state.get("plan") or []) or ["fuse"]


def build_graph(checkpointer: Any = None) -> Any:
    graph = StateGraph(CaseState)
    graph.add_node("ingest", nodes.ingest)
    for name, step in READERS.items():
        graph.add_node(name, step)
    graph.add_node("fuse", nodes.fuse_evidence, defer=True)  # waits until every planned reader has finished
    graph.add_node("claims", nodes.check_model_claims)
    graph.add_node("recommend", nodes.recommend_next_steps)
    graph.add_node("narrate", nodes.write_narrative)
    graph.add_node("signoff", nodes.clinician_signoff)
    graph.add_node("report", nodes.export_report)

    graph.add_edge(START, "ingest")
    graph.add_conditional_edges("ingest", _readers, [*READERS, "fuse"])
    for name in READERS:
        graph.add_edge(name, "fuse")
    graph.add_edge("fuse", "claims")
    graph.add_edge("claims", "recommend")
    graph.add_edge("recommend", "narrate")
    graph.add_edge("narrate", "signoff")
    graph.add_edge("signoff", "report")
    graph.add_edge("report", END)
    return graph.compile(checkpointer=checkpointer)
