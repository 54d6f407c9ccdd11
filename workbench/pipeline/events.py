"""Progress events of a case run (node started / finished / skipped / failed, model tokens), sent on LangGraph's
custom stream so the UI can show progress and the streamed narrative, and recorded in the case store."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

EventKind = Literal["node_started", "node_finished", "node_skipped", "node_failed", "token", "interrupted", "finished"]


@dataclass(frozen=True)
class ProgressEvent:
    kind: EventKind
    node: str = ""
    text: str = ""  # a token, a skip reason or an error message
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def emit(event: ProgressEvent) -> None:
    """Send an event on the custom stream of the running graph; silent when no one listens (e.g. in tests
    that call a node directly)."""
    try:
        from langgraph.config import get_stream_writer

        writer = get_stream_writer()
    except (RuntimeError, ImportError):
        return
    writer(event.to_dict())
