"""Run, resume and sign off cases: the one entry point the CLI, notebooks and the kiosk call.

Every run is a LangGraph thread whose id is the run id; its checkpoints live in ``checkpoints.sqlite`` next to
the case database, so a run killed half-way resumes where it stopped, and a run paused for sign-off resumes
with the clinician's answer."""
from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import get_settings
from ..errors import InputError
from .events import ProgressEvent
from .types import PatientContext

PIPELINE_VERSION = f"workbench-{__version__}/graph-1"


@dataclass
class RunOptions:
    use_vlm: bool = True
    use_heatmap: bool = True
    require_signoff: bool = False
    model_narrative: bool = True
    vlm_model: str | None = None
    encoder_model: str | None = None
    vlm_max_tokens: int = 512  # the model's reading of the image
    narrative_max_tokens: int = 320
    heatmap_method: str = "map"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunResult:
    case_id: str
    run_id: str
    status: str  # "finished" | "interrupted" (waiting for sign-off)
    state: dict[str, Any]
    waiting_for: dict[str, Any] | None = None
    events: list[ProgressEvent] = field(default_factory=list)

    @property
    def report(self) -> dict[str, str] | None:
        return self.state.get("report")


class CaseRunner:
    """Owns the case store, the checkpointer and the compiled graph."""

    def __init__(self, db_path: Path | None = None, *, artifacts_dir: Path | None = None) -> None:
        from langgraph.checkpoint.sqlite import SqliteSaver

        from ..store import CaseStore
        from .graph import build_graph

        self.store = CaseStore(db_path)
        self.db_path = self.store.path
        self.artifacts_dir = artifacts_dir or self.db_path.parent / "runs"
        checkpoints = self.db_path.parent / "checkpoints.sqlite"
        connection = sqlite3.connect(checkpoints, check_same_thread=False, timeout=30)
        connection.execute("PRAGMA journal_mode=WAL")
        os.chmod(checkpoints, 0o600)
        self.checkpointer = SqliteSaver(connection)
        self.graph = build_graph(self.checkpointer)

    def _config(self, run_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": run_id, "db_path": str(self.db_path), "artifacts_dir": str(self.artifacts_dir)},
                "max_concurrency": 4}

    def start(self, patient: PatientContext, *, ecg: Path | None = None, labs: list[Path] | None = None,
              options: RunOptions | None = None, on_event: Callable[[ProgressEvent], None] | None = None,
              case_id: str | None = None, actor: str = "workbench", run_id: str | None = None) -> RunResult:
        """Create the case (or add a run to ``case_id``) and run it until it finishes or waits for sign-off."""
        labs = list(labs or [])
        for path in [ecg, *labs]:
            if path is not None and not Path(path).is_file():
                raise InputError(f"The file {path} does not exist.", hint="Check the name and folder.")
        if ecg is None and not labs:
            raise InputError("A case needs an ECG or at least one lab report.")
        options = options or RunOptions()
        self.store.add_patient(patient.patient_id, actor=actor)
        case_id = case_id or self.store.create_case(patient, actor)
        run_id = self.store.start_run(case_id, pipeline_version=PIPELINE_VERSION, models=installed_model_hashes(),
                                      settings=options.to_dict(), actor=actor, run_id=run_id or uuid.uuid4().hex)
        inputs = {"case_id": case_id, "run_id": run_id, "patient": patient.to_dict(),
                  "ecg_path": str(ecg) if ecg else None, "lab_paths": [str(p) for p in labs], "options": options.to_dict(),
                  "errors": [], "skipped": []}
        return self._drive(inputs, case_id, run_id, on_event)

    def resume(self, run_id: str, *, signoff: dict[str, Any] | None = None,
               on_event: Callable[[ProgressEvent], None] | None = None) -> RunResult:
        """Continue a run from its last checkpoint: after a crash, or with the clinician's sign-off answer."""
        from langgraph.types import Command

        snapshot = self.graph.get_state(self._config(run_id))
        if not snapshot.values:
            raise InputError(f"There is no run {run_id} to resume.")
        case_id = snapshot.values["case_id"]
        self.store.add_event(run_id, "resumed", details={"signoff": bool(signoff)})
        return self._drive(Command(resume=signoff) if signoff is not None else None, case_id, run_id, on_event)

    def _drive(self, inputs: Any, case_id: str, run_id: str, on_event: Callable[[ProgressEvent], None] | None) -> RunResult:
        events: list[ProgressEvent] = []
        config = self._config(run_id)
        for mode, chunk in self.graph.stream(inputs, config, stream_mode=["custom", "updates"]):
            if mode == "custom":
                event = ProgressEvent(**chunk)
                events.append(event)
                if on_event is not None:
                    on_event(event)
        snapshot = self.graph.get_state(config)
        if snapshot.next:  # paused at the sign-off interrupt
            waiting = snapshot.tasks[0].interrupts[0].value if snapshot.tasks and snapshot.tasks[0].interrupts else {}
            self.store.add_event(run_id, "interrupted", node="signoff")
            return RunResult(case_id, run_id, "interrupted", dict(snapshot.values), waiting, events)
        self.store.add_event(run_id, "finished")
        return RunResult(case_id, run_id, "finished", dict(snapshot.values), None, events)

    def state(self, run_id: str) -> dict[str, Any]:
        return dict(self.graph.get_state(self._config(run_id)).values)


def installed_model_hashes() -> dict[str, str]:
    """name -> SHA-256 of every installed model file (cached by size and time, so cheap after the first run)."""
    from ..errors import WorkbenchError
    from ..models.manifest import check, load_manifest

    try:
        entries = load_manifest()
    except WorkbenchError:
        return {}
    return {s.entry.name: s.sha256 or "" for s in (check(e) for e in entries) if s.installed}
