"""Small pieces every panel shares: plain-words error text, the error box, the disclaimer, colours, CSS, and the
run state rebuilt from the case store (so a reopened case shows exactly what was stored). Display only: nothing
here decides anything clinical."""
from __future__ import annotations

import functools
import html
import json
import logging
import os
from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets

from .. import DISCLAIMER
from ..errors import WorkbenchError

log = logging.getLogger(__name__)

#: shown for any failure that is not a WorkbenchError (a bug): never a traceback in front of a clinician
GENERIC_ERROR = ("Something went wrong inside the workbench and this step could not be completed. "
                 "Nothing was lost; please try again, and tell the support team if it happens again.")

#: banner colours by urgency (background, text)
URGENCY_COLOURS: dict[str, tuple[str, str]] = {
    "emergency": ("#b71c1c", "#ffffff"),
    "urgent": ("#e65100", "#ffffff"),
    "routine": ("#2e7d32", "#ffffff"),
}
UNKNOWN_URGENCY = ("#546e7a", "#ffffff")

#: pipeline steps in the order a run usually takes them, with the words shown for each
NODE_LABELS: dict[str, str] = {
    "ingest": "Reading the inputs", "ecg": "Measuring the ECG", "vlm": "Model reading the ECG picture",
    "heatmap": "Attention heatmap", "labs": "Reading the lab reports", "fuse": "Combining ECG, labs and form",
    "claims": "Checking the model's statements", "recommend": "Next steps", "narrate": "Writing the narrative",
    "signoff": "Clinician sign-off", "report": "Writing the report files"}

#: claim-check badge colours by status
CLAIM_COLOURS: dict[str, str] = {"supported": "#2e7d32", "contradicted": "#c62828", "not assessed": "#757575"}

#: the base stylesheet of every panel (readable sizes; the kiosk enlarges it further)
BASE_CSS = """
.wb-panel { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; }
.wb-note { color: #455a64; font-size: 0.95em; }
.wb-error { background: #fdecea; color: #611a15; border-left: 6px solid #c62828; padding: 8px 12px; border-radius: 4px; }
.wb-disclaimer { background: #fff8e1; color: #4e3b00; border-left: 6px solid #f9a825; padding: 6px 12px;
                 border-radius: 4px; font-weight: 600; }
.wb-banner { padding: 10px 16px; border-radius: 6px; font-size: 1.25em; font-weight: 700; }
.wb-chip { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 0.85em; margin: 1px 3px; }
.wb-cite { color: #607d8b; font-size: 0.85em; }
.wb-table table { border-collapse: collapse; }
.wb-table th, .wb-table td { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: left; }
"""


def esc(text: object) -> str:
    """HTML-escaped text: everything shown in an HTML widget goes through here (file names and model text too)."""
    return html.escape("" if text is None else str(text))


def plain_error(exc: BaseException) -> str:
    """What a clinician reads about a failure: a WorkbenchError's title and plain message, anything else a
    generic sentence (the details go to the log, never to the screen)."""
    if isinstance(exc, WorkbenchError):
        return f"{exc.title}: {exc}"
    log.error("unexpected error in the workbench UI", exc_info=exc)
    return GENERIC_ERROR


def node_problem_text(problem: Mapping[str, Any]) -> str:
    """One recorded pipeline problem in plain words; an internal error becomes the generic sentence."""
    node = str(problem.get("node", "")).strip()
    label = NODE_LABELS.get(node, node or "a step")
    step = label[:1].lower() + label[1:]
    title = str(problem.get("title", "")).strip()
    if title == "Internal error" or not title:
        return (f"Part of the analysis ({step}) could not be completed because of an internal problem; "
                "the other parts of the case were kept.")
    return f"{title} ({step}): {problem.get('message', '')}"


class ErrorBox:
    """The one error area of a page (CSS class ``wb-error``): hidden while empty, plain sentences only."""

    def __init__(self, css_class: str = "wb-error") -> None:
        self.widget = widgets.HTML(value="", layout=widgets.Layout(display="none", width="100%"))
        self.widget.add_class(css_class)
        self.messages: list[str] = []

    def show(self, *messages: str) -> None:
        """Replace the shown messages (empty strings are dropped; nothing left hides the box)."""
        self.messages = [m for m in messages if m and m.strip()]
        self._render()

    def add(self, message: str) -> None:
        """Add one message to those shown (a repeat of one already shown is ignored)."""
        if message and message.strip() and message not in self.messages:
            self.messages.append(message)
            self._render()

    def show_exception(self, exc: BaseException) -> None:
        """Show a failure in plain words (see `plain_error`)."""
        self.show(plain_error(exc))

    def clear(self) -> None:
        """Hide the box (nothing to report)."""
        self.show()

    @property
    def text(self) -> str:
        """The shown messages as one string (for tests and logs)."""
        return " ".join(self.messages)

    def _render(self) -> None:
        if not self.messages:
            self.widget.value = ""
            self.widget.layout.display = "none"
            return
        items = "".join(f"<div>{esc(m)}</div>" for m in self.messages)
        self.widget.value = f"<div role='alert'>{items}</div>"
        self.widget.layout.display = "block"


def disclaimer_widget() -> widgets.HTML:
    """The decision-support disclaimer (CSS class ``wb-disclaimer``), shown on every page that shows results."""
    box = widgets.HTML(value=f"<div>{esc(DISCLAIMER)}</div>", layout=widgets.Layout(width="100%"))
    box.add_class("wb-disclaimer")
    return box


def style_widget(extra_css: str = "") -> widgets.HTML:
    """A <style> element for the panels (an HTML widget, so it also works in Voila with no notebook CSS)."""
    return widgets.HTML(value=f"<style>{BASE_CSS}{extra_css}</style>", layout=widgets.Layout(height="0px", margin="0"))


def note(text: str, *, css_class: str = "wb-note") -> widgets.HTML:
    """A small explanatory line (plain text, escaped)."""
    item = widgets.HTML(value=f"<div>{esc(text)}</div>")
    item.add_class(css_class)
    return item


def urgency_colours(urgency: str | None) -> tuple[str, str]:
    """(background, text) colours of an urgency, grey when it is unknown."""
    return URGENCY_COLOURS.get(str(urgency or ""), UNKNOWN_URGENCY)


def chip(text: str, colour: str, title: str = "") -> str:
    """An inline coloured label (HTML)."""
    hover = f" title='{esc(title)}'" if title else ""
    return f"<span class='wb-chip' style='background:{colour}'{hover}>{esc(text)}</span>"


def ecg_path_of(state: Mapping[str, Any]) -> str | None:
    """The ECG file of a run: the path the run was given, else the one the analysis recorded."""
    path = state.get("ecg_path")
    if not path and state.get("ecg"):
        path = (state["ecg"].get("record") or {}).get("path")
    return str(path) if path else None


def reuse_figure_widget(widget: Any, figure: Any) -> Any:
    """``figure`` shown in ``widget`` (updated in place) or in a new widget when there is none: every plotly
    FigureWidget carries the whole plotly.js bundle (about 5 MB) to the browser, so panels keep theirs. The
    figure's date arrays are passed as ISO text, so they arrive as dates (not nanosecond numbers) when reused."""
    import plotly.graph_objects as go

    payload = {"data": [_dates_as_text(t.to_plotly_json()) for t in figure.data],
               "layout": _dates_as_text(figure.layout.to_plotly_json())}
    if widget is None:
        return _figure_widget_class(os.environ.get(PLOTLY_BUNDLE_URL_VARIABLE, ""))(payload)
    with widget.batch_update():
        widget.data = []
        widget.add_traces(payload.get("data", []))
        widget.layout = payload.get("layout", {})
    return widget


#: set by the kiosk for its kernels: where the page can fetch plotly's widget code (see `_figure_widget_class`)
PLOTLY_BUNDLE_URL_VARIABLE = "WORKBENCH_PLOTLY_BUNDLE_URL"


@functools.lru_cache(maxsize=2)
def _figure_widget_class(bundle_url: str) -> type:
    """plotly's FigureWidget, or, when the server offers plotly's widget code at ``bundle_url`` (the kiosk
    does), a FigureWidget whose browser code is a two-line loader importing it from there: the 5 MB bundle is
    then fetched once per browser (and cached) instead of travelling inside every figure's widget state, which
    was 16 MB and 4.6 s of a first kiosk report."""
    import plotly.graph_objects as go

    if not bundle_url:
        return go.FigureWidget
    loader = (f"const bundle = await import(new URL({json.dumps(bundle_url)}, document.baseURI).href);\n"
              "export default bundle.default;\n")
    return type("SharedBundleFigureWidget", (go.FigureWidget,), {"_esm": loader, "__module__": __name__})


def _dates_as_text(value: Any) -> Any:
    import numpy as np

    if isinstance(value, dict):
        return {k: _dates_as_text(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_dates_as_text(v) for v in value)
    if isinstance(value, np.ndarray) and value.dtype.kind == "M":
        return [str(t) for t in np.datetime_as_string(value, unit="s")]
    if isinstance(value, np.ndarray) and value.dtype == object and any(hasattr(v, "isoformat") for v in value[:1]):
        return [v.isoformat() if hasattr(v, "isoformat") else v for v in value]
    return value


# ------------------------------------------------------------------------------------------ state from the store
def run_state_from_store(store: Any, run_id: str) -> dict[str, Any]:
    """A stored run as the same JSON state a fresh `RunResult.state` has (newest output of each kind, problems
    and skips from the run's events, the intake form), so every panel shows a reopened case the same way."""
    run = store.get_run(run_id)
    case = store.get_case(run.run.case_id)
    state: dict[str, Any] = {"case_id": case.case_id, "run_id": run.id, "patient": dict(case.context),
                             "options": dict(run.run.settings), "errors": [], "skipped": []}
    for kind, output in run.outputs.items():
        data = output.data
        state[kind] = data.get("value") if isinstance(data, Mapping) and "value" in data else data
    ecg_inputs = [i for i in case.inputs if i.kind == "ecg"]
    state["lab_paths"] = [str(i.stored_path) for i in case.inputs if i.kind == "labs"]
    recorded = ((state.get("ecg") or {}).get("record") or {}).get("path")
    from pathlib import Path

    if recorded and Path(recorded).is_file():
        state["ecg_path"] = recorded  # the original (a WFDB header needs its signal file beside it)
    elif ecg_inputs:
        state["ecg_path"] = str(ecg_inputs[-1].stored_path)
    else:
        state["ecg_path"] = None
    for event in run.events:
        details = event.details or {}
        if isinstance(details.get("error"), Mapping):
            state["errors"].append(dict(details["error"]))
        elif details.get("skipped") and event.node:
            state["skipped"].append({"node": event.node, "reason": str(details["skipped"])})
    if state.get("claims") is not None and "claim_summary" not in state:
        counts: dict[str, int] = {}
        for claim in state["claims"]:
            counts[claim.get("status", "")] = counts.get(claim.get("status", ""), 0) + 1
        state["claim_summary"] = {"counts": counts}
    state["status"] = run.status
    state["validations"] = [v.__dict__ for v in run.validations]
    return state


def latest_run_state(store: Any, case_id: str) -> dict[str, Any] | None:
    """The newest run of a case as a state dict (None when the case has no run)."""
    case = store.get_case(case_id)
    if not case.runs:
        return None
    return run_state_from_store(store, case.runs[-1].id)
