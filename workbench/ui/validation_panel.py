"""Clinician validation and the case browser.

`ValidationPanel`: for each impression and measured finding of a run, agree / disagree / unsure with a corrected
label and a note, saved with `CaseStore.add_validation` under the name typed in the clinician field (the store
stamps the time). `CaseBrowser`: the stored cases, newest first; opening one shows its latest run's outputs."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from ..errors import WorkbenchError
from .common import esc, latest_run_state, plain_error, urgency_colours

VERDICTS = (("Agree", "agree"), ("Disagree", "disagree"), ("Unsure", "unsure"))


def findings_to_validate(state: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(code, label, kind) of what a clinician can judge in a run: the impressions, then the ECG findings not
    already named by an impression (same code)."""
    out: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for item in (state.get("fusion") or {}).get("impressions", []):
        code = str(item.get("code", ""))
        if code and code not in seen:
            out.append((code, str(item.get("label", "")), "impression"))
            seen.add(code)
    for item in (state.get("ecg") or {}).get("findings", []):
        code = str(item.get("code", ""))
        if code and code not in seen:
            out.append((code, str(item.get("label", "")), "ECG finding"))
            seen.add(code)
    return out


class _StoreUser:
    """A panel that reads or writes the case store: the one given, else the database at ``db_path`` (default:
    the settings' ``db_path``), opened on first use."""

    def __init__(self, store: Any = None, db_path: Path | str | None = None) -> None:
        self._store = store
        self._db_path = db_path

    @property
    def store(self) -> Any:
        if self._store is None:
            from ..store import CaseStore

            self._store = CaseStore(self._db_path)
        return self._store


class _Row:
    def __init__(self, code: str, label: str, kind: str) -> None:
        self.code, self.label, self.kind = code, label, kind
        self.verdict = widgets.ToggleButtons(options=VERDICTS, value=None, style={"button_width": "90px"})
        self.corrected = widgets.Text(placeholder="corrected label (if you disagree)", layout=widgets.Layout(width="260px"))
        self.note = widgets.Text(placeholder="note", layout=widgets.Layout(width="260px"))
        self.last = widgets.HTML(value="")
        title = widgets.HTML(f"<b>{esc(label)}</b><br><span class='wb-note'>{esc(kind)} &middot; {esc(code)}</span>",
                             layout=widgets.Layout(width="300px"))
        self.widget = widgets.HBox([title, self.verdict, widgets.VBox([self.corrected, self.note]), self.last],
                                   layout=widgets.Layout(flex_flow="row wrap", align_items="center",
                                                         border_bottom="1px solid #e0e0e0", padding="4px 0"))


class ValidationPanel(_StoreUser):
    """Verdicts on the findings of one run (`show(state)`, then `save()` or the Save button)."""

    def __init__(self, store: Any = None, *, db_path: Path | str | None = None) -> None:
        super().__init__(store, db_path)
        self.state: dict[str, Any] | None = None
        self.run_id: str | None = None
        self.rows: list[_Row] = []
        self.who = widgets.Text(description="Clinician", placeholder="your name (recorded with each verdict)",
                                layout=widgets.Layout(width="420px"))
        self.save_button = widgets.Button(description="Save validations", button_style="success", icon="check")
        self.save_button.on_click(lambda _: self.save())
        self.status = widgets.HTML(value="")
        self.rows_box = widgets.VBox([widgets.HTML("<i>The findings of a case appear here after the analysis.</i>")])
        self.widget = widgets.VBox([self.who, self.rows_box, widgets.HBox([self.save_button, self.status])],
                                   layout=widgets.Layout(width="100%"))
        self.widget.add_class("wb-validation")
        self.widget.add_class("wb-panel")

    def show(self, state: Mapping[str, Any]) -> None:
        """One row per impression / finding of the run, with the newest stored verdict beside it."""
        self.state = dict(state)
        self.run_id = state.get("run_id")
        self.rows = [_Row(code, label, kind) for code, label, kind in findings_to_validate(state)]
        self.status.value = ""
        if not self.rows:
            self.rows_box.children = [widgets.HTML("<div class='wb-note'>This run has no finding to validate.</div>")]
            return
        self.rows_box.children = [row.widget for row in self.rows]
        self._show_latest()

    def _show_latest(self) -> None:
        if not self.run_id:
            return
        try:
            latest = {v.finding_code: v for v in self.store.validations(self.run_id, latest_only=True)}
        except WorkbenchError:
            latest = {}
        for row in self.rows:
            v = latest.get(row.code)
            row.last.value = (f"<span class='wb-note'>last: <b>{esc(v.verdict)}</b> by {esc(v.who)} at {esc(v.created_at)}"
                              + (f" ({esc(v.corrected_label)})" if v.corrected_label else "") + "</span>") if v else ""

    def set_verdict(self, code: str, verdict: str, *, corrected_label: str = "", note: str = "") -> None:
        """Fill one row as a clinician would (for notebooks and tests; the buttons do the same)."""
        row = next(r for r in self.rows if r.code == code)
        row.verdict.value, row.corrected.value, row.note.value = verdict, corrected_label, note

    def save(self) -> int:
        """Store every row that has a verdict under the clinician's name; returns how many were saved."""
        who = self.who.value.strip()
        chosen = [r for r in self.rows if r.verdict.value]
        if not self.run_id:
            self._status("There is no analysed case to validate yet.", error=True)
            return 0
        if not who:
            self._status("Enter your name in the Clinician field: every verdict is recorded with who gave it.", error=True)
            return 0
        if not chosen:
            self._status("Choose Agree, Disagree or Unsure for at least one finding.", error=True)
            return 0
        saved = 0
        try:
            for row in chosen:
                self.store.add_validation(self.run_id, row.code, row.verdict.value, corrected_label=row.corrected.value,
                                          note=row.note.value, who=who)
                saved += 1
        except Exception as exc:
            self._status(f"{saved} saved; then: {plain_error(exc)}", error=True)
            return saved
        for row in chosen:
            row.verdict.value, row.corrected.value, row.note.value = None, "", ""
        self._show_latest()
        self._status(f"Saved {saved} verdict(s) by {who} at {datetime.now().strftime('%H:%M')}.", error=False)
        return saved

    def _status(self, text: str, *, error: bool) -> None:
        colour = "#c62828" if error else "#2e7d32"
        self.status.value = f"<span style='color:{colour}'>{esc(text)}</span>"


class CaseBrowser(_StoreUser):
    """The stored cases (newest first); Open calls ``on_open(state)`` with the newest run of the chosen case, the
    same state dict a fresh run gives, so every panel can show it."""

    def __init__(self, store: Any = None, *, db_path: Path | str | None = None,
                 on_open: Callable[[dict[str, Any]], None] | None = None, limit: int = 200) -> None:
        super().__init__(store, db_path)
        self.on_open = on_open
        self.limit = limit
        self.cases = widgets.Select(options=[], rows=10, layout=widgets.Layout(width="100%"))
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.open_button = widgets.Button(description="Open case", button_style="primary", icon="folder-open")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.open_button.on_click(lambda _: self.open())
        self.status = widgets.HTML(value="")
        self.widget = widgets.VBox([widgets.HBox([self.refresh_button, self.open_button, self.status]), self.cases],
                                   layout=widgets.Layout(width="100%"))
        self.widget.add_class("wb-case-browser")
        self.widget.add_class("wb-panel")

    def refresh(self) -> int:
        """Reload the list; returns the number of cases."""
        try:
            cases = self.store.list_cases(limit=self.limit)
        except Exception as exc:
            self.status.value = f"<span style='color:#c62828'>{esc(plain_error(exc))}</span>"
            return 0
        self.cases.options = [(f"{c.created_at[:16].replace('T', ' ')}  {c.patient_id}  "
                               f"[{c.urgency or 'no urgency'}]  {c.last_run_status or 'no run'}",
                               c.case_id) for c in cases]
        if cases and self.cases.value is None:
            self.cases.value = cases[0].case_id
        self.status.value = f"<span class='wb-note'>{len(cases)} case(s)</span>"
        return len(cases)

    def open(self, case_id: str | None = None) -> dict[str, Any] | None:
        """The newest run of a case as a state dict (passed to ``on_open``); None when it has no run."""
        case_id = case_id or self.cases.value
        if not case_id:
            self.status.value = "<span class='wb-note'>Choose a case first.</span>"
            return None
        try:
            state = latest_run_state(self.store, case_id)
        except Exception as exc:
            self.status.value = f"<span style='color:#c62828'>{esc(plain_error(exc))}</span>"
            return None
        if state is None:
            self.status.value = "<span class='wb-note'>This case has no run yet.</span>"
            return None
        background, _ = urgency_colours((state.get("fusion") or {}).get("urgency"))
        self.status.value = (f"<span>Opened case of <b>{esc(state['patient'].get('patient_id', ''))}</b> "
                             f"<span style='color:{background}'>({esc((state.get('fusion') or {}).get('urgency', 'no urgency'))})"
                             f"</span></span>")
        if self.on_open is not None:
            self.on_open(state)
        return state
