"""The case app: intake -> run -> ECG / attention / labs / report / validation, and the locked-down kiosk flow.

The pipeline runs in a background thread so the page never freezes: progress and streamed tokens arrive as
`ProgressEvent`s and update the widgets as they come. Errors are shown in plain words in one error box
(CSS class ``wb-error``): a WorkbenchError as its title and message, anything else as a generic sentence, never
a traceback.

Kiosk contract (kept exactly; the kiosk launcher and its browser tests rely on it): in `kiosk_app()`, the patient
id Text is described "Patient ID", the ECG FileUpload "ECG file", the labs FileUpload "Lab reports", the run
button "Analyse", the example button "Use example case"; result areas carry the CSS classes ``wb-urgency``,
``wb-impressions``, ``wb-labs-table``, ``wb-ecg-plot``, ``wb-heatmap``, ``wb-disclaimer``, ``wb-error`` (hidden when
empty) and ``wb-progress``, each exactly once on the page."""
from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from ..pipeline.events import ProgressEvent
from ..pipeline.runner import CaseRunner, RunOptions, RunResult
from .attention import AttentionPanel
from .common import ErrorBox, disclaimer_widget, node_problem_text, plain_error, style_widget
from .ecg_viewer import ECGViewer
from .intake import CaseRequest, IntakePanel
from .labs_panel import LabsPanel
from .report_panel import ReportPanel, RunProgress
from .validation_panel import CaseBrowser, ValidationPanel

log = logging.getLogger(__name__)

#: the kiosk's readable sizes (18 px and up) and a width that fits 1366 x 768 without sideways scrolling
KIOSK_CSS = """
.wb-kiosk { --jp-widgets-font-size: 18px; --jp-widgets-inline-height: 40px; --jp-widgets-inline-label-width: 190px;
            --jp-ui-font-size1: 18px; --jp-content-font-size1: 18px; font-size: 18px; line-height: 1.45;
            max-width: 1320px; margin: 0 auto; box-sizing: border-box; padding: 0 8px; }
.wb-kiosk .widget-label, .wb-kiosk .widget-html, .wb-kiosk .widget-html-content, .wb-kiosk input,
.wb-kiosk select, .wb-kiosk button, .wb-kiosk textarea, .wb-kiosk .widget-toggle-button,
.wb-kiosk .widget-select select, .wb-kiosk .widget-checkbox label { font-size: 18px !important; }
.wb-kiosk .widget-html-content { line-height: 1.45; }
.wb-kiosk .wb-banner { font-size: 28px; }
.wb-kiosk h2 { font-size: 28px; margin: 8px 0; }
.wb-kiosk h3 { font-size: 22px; }
.wb-kiosk h4 { font-size: 20px; }
.wb-kiosk .wb-chip { font-size: 16px; }
.wb-kiosk .wb-cite, .wb-kiosk .wb-note { font-size: 16px; }
.wb-kiosk .jupyter-widgets.widget-upload, .wb-kiosk .wb-analyse { min-height: 44px; }
.wb-kiosk .wb-section { border-top: 2px solid #cfd8dc; margin-top: 14px; padding-top: 6px; }
"""
APP_CSS = ".wb-app { max-width: 1500px; }"


def _section(title: str) -> widgets.HTML:
    item = widgets.HTML(f"<h3 style='margin:6px 0'>{title}</h3>")
    item.add_class("wb-section")
    return item


class CaseApp:
    """Intake, a background run, and every result panel. ``kiosk=True`` gives the locked-down flow (intake then
    the results on one page, no validation or case browser); ``example`` offers the example case button
    (default: in the kiosk). ``options``: the pipeline's `RunOptions` (default: everything installed is used)."""

    def __init__(self, db_path: Path | str | None = None, kiosk: bool = False, *, example: bool | None = None,
                 options: RunOptions | None = None, actor: str | None = None) -> None:
        self.db_path = Path(db_path) if db_path is not None else None
        self.kiosk = kiosk
        self.options = options or RunOptions()
        self.actor = actor or ("kiosk" if kiosk else "workbench-ui")
        self.errors = ErrorBox()
        self.intake = IntakePanel(example=kiosk if example is None else example, on_error=self.errors.add)
        self.progress = RunProgress()
        self.report = ReportPanel(disclaimer=False)
        width = 1290 if kiosk else 1200  # figures are drawn at a fixed width (the kiosk page is 1320 px wide)
        self.ecg = ECGViewer(width=width)
        self.attention = AttentionPanel(width=width)
        self.labs = LabsPanel()
        self.validation: ValidationPanel | None = None if kiosk else ValidationPanel(db_path=self.db_path)
        self.browser: CaseBrowser | None = None if kiosk else CaseBrowser(db_path=self.db_path, on_open=self.show_state)
        self.disclaimer = disclaimer_widget()
        self.runner: CaseRunner | None = None
        self.result: RunResult | None = None
        self.state: dict[str, Any] | None = None
        self.thread: threading.Thread | None = None
        self.busy = False
        self._runner_lock = threading.Lock()
        self.intake.analyse_button.on_click(lambda _: self.run())
        self.tabs: widgets.Tab | None = None
        self.widget = self._kiosk_page() if kiosk else self._app_page()

    # ------------------------------------------------------------------ pages
    def _kiosk_page(self) -> widgets.VBox:
        title = widgets.HTML("<h2>AI4Cardio Workbench - ECG and blood report check</h2>")
        results = widgets.VBox([
            _section("Result"), self.report.widget,
            _section("ECG"), self.ecg.widget,
            _section("Where the model looked"), self.attention.widget,
            _section("Lab results"), self.labs.widget], layout=widgets.Layout(width="100%"))
        page = widgets.VBox([style_widget(KIOSK_CSS), title, self.disclaimer, self.errors.widget, self.intake.widget,
                             self.progress.widget, results], layout=widgets.Layout(width="100%"))
        page.add_class("wb-kiosk")
        page.add_class("wb-panel")
        return page

    def _app_page(self) -> widgets.VBox:
        assert self.validation is not None and self.browser is not None
        start = widgets.VBox([self.intake.widget, self.progress.widget])
        self.tabs = widgets.Tab(children=[start, self.report.widget, self.ecg.widget, self.attention.widget,
                                          self.labs.widget, self.validation.widget, self.browser.widget])
        for i, name in enumerate(("New case", "Report", "ECG", "Attention", "Labs", "Validation", "Cases")):
            self.tabs.set_title(i, name)
        self.tabs.observe(self._on_tab, names="selected_index")
        page = widgets.VBox([style_widget(APP_CSS), widgets.HTML("<h2 style='margin:4px 0'>AI4Cardio Workbench</h2>"),
                             self.disclaimer, self.errors.widget, self.tabs], layout=widgets.Layout(width="100%"))
        page.add_class("wb-app")
        page.add_class("wb-panel")
        return page

    def _on_tab(self, change: Mapping[str, Any]) -> None:
        if change.get("new") == 6 and self.browser is not None:
            self.browser.refresh()

    # ------------------------------------------------------------------ running
    def _get_runner(self) -> CaseRunner:
        with self._runner_lock:
            if self.runner is None:
                self.runner = CaseRunner(self.db_path)
            return self.runner

    def run(self, request: CaseRequest | None = None) -> threading.Thread | None:
        """Check the form and start the analysis in a background thread (returned; None when refused, with the
        reason in the error box). Returns at once: the page stays responsive while the pipeline works."""
        if self.busy:
            self.errors.show("An analysis is already running; please wait for it to finish.")
            return None
        self.errors.clear()
        try:
            request = request or self.intake.build()
        except Exception as exc:
            self.errors.show(plain_error(exc))
            return None
        self.busy = True
        self.intake.analyse_button.disabled = True
        self.progress.start("Analysing... this takes a few seconds to a minute.")
        self.report.start()
        self.thread = threading.Thread(target=self._work, args=(request,), name="workbench-case-run", daemon=True)
        self.thread.start()
        return self.thread

    def warm_up_in_background(self) -> threading.Thread:
        """Prepare libraries, OCR and the encoder while the user fills the form (`pipeline.warmup`)."""
        from ..pipeline.warmup import warm_up

        def work() -> None:
            try:
                warm_up(self.options)
            except Exception:  # the first case then just takes longer
                log.exception("warm-up failed")

        thread = threading.Thread(target=work, name="workbench-warm-up", daemon=True)
        thread.start()
        return thread

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the current run has finished (notebooks, tests); True when it has."""
        if self.thread is not None:
            self.thread.join(timeout)
            return not self.thread.is_alive()
        return True

    def _on_event(self, event: ProgressEvent) -> None:
        try:
            self.progress.on_event(event)
            self.report.on_event(event)
        except Exception:  # a display problem must never stop the analysis
            log.exception("progress display failed")

    def _work(self, request: CaseRequest) -> None:
        ok = False
        try:
            runner = self._get_runner()
            self.result = runner.start(request.patient, ecg=request.ecg, labs=request.labs, options=self.options,
                                       on_event=self._on_event, actor=self.actor)
            self.progress.note("Preparing the displays...")
            self.show_state(self.result.state)
            ok = not self.result.state.get("errors")
            waiting = self.result.status == "interrupted"
            self.progress.finish("Waiting for clinician sign-off." if waiting else
                                 "Analysis complete." if ok else "Analysis complete, with problems (see the message above).",
                                 ok=ok)
        except Exception as exc:
            self.errors.show(plain_error(exc))
            self.progress.finish("The analysis could not be completed.", ok=False)
        finally:
            self.busy = False
            self.intake.analyse_button.disabled = False

    # ------------------------------------------------------------------ showing
    def show_state(self, state: Mapping[str, Any]) -> None:
        """Fill every panel from a run state (a fresh run or a case reopened from the store). Each panel that
        fails says so in the error box; the others still show."""
        self.state = dict(state)
        self.errors.show(*[node_problem_text(e) for e in state.get("errors", [])])
        panels: list[Any] = [self.report, self.labs]
        if self.validation is not None:
            panels.append(self.validation)
        panels += [self.ecg, self.attention]
        if self.tabs is not None:
            self.tabs.selected_index = 1
        for panel in panels:
            try:
                panel.show(state)
            except Exception as exc:
                self.errors.add(plain_error(exc))

    def close(self) -> None:
        """Delete the uploaded files now (also done at exit)."""
        self.intake.close()


def kiosk_app(db_path: Path | str | None = None, example: bool = True) -> widgets.Widget:
    """The locked-down kiosk page (intake -> report; big text, fits 1366 x 768, no code). ``example`` adds the
    "Use example case" button. The `CaseApp` behind it is kept as the widget's ``wb_app`` attribute."""
    app = CaseApp(db_path, kiosk=True, example=example)
    app.warm_up_in_background()  # in a pre-started kernel this is done before anyone opens the page
    page = app.widget
    page.wb_app = app  # keeps the app (and its callbacks) alive with the page
    return page
