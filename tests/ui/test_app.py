"""The app: a background run that never blocks and fills every panel, errors in plain words in the one error box,
and the kiosk page's contract with the kiosk launcher (descriptions, CSS classes, readable sizes)."""
from __future__ import annotations

import re
import time
from collections.abc import Iterator

import ipywidgets as widgets
import plotly.graph_objects as go
import pytest

from workbench.ui.app import CaseApp, kiosk_app
from workbench.ui.common import GENERIC_ERROR, plain_error

from .conftest import upload_value

CONTRACT_CLASSES = ("wb-urgency", "wb-impressions", "wb-labs-table", "wb-ecg-plot", "wb-heatmap", "wb-disclaimer",
                    "wb-error", "wb-progress")


def walk(widget: widgets.Widget) -> Iterator[widgets.Widget]:
    yield widget
    for child in getattr(widget, "children", ()) or ():
        yield from walk(child)


def with_class(root: widgets.Widget, css: str) -> list[widgets.Widget]:
    return [w for w in walk(root) if css in getattr(w, "_dom_classes", ())]


def test_kiosk_page_keeps_the_contract_with_the_kiosk_launcher(tmp_path):
    page = kiosk_app(tmp_path / "cases.sqlite")
    every = list(walk(page))
    described = {getattr(w, "description", None): w for w in every}
    assert isinstance(described["Patient ID"], widgets.Text)
    assert isinstance(described["ECG file"], widgets.FileUpload) and described["ECG file"].multiple
    assert isinstance(described["Lab reports"], widgets.FileUpload) and described["Lab reports"].multiple
    assert isinstance(described["Analyse"], widgets.Button)
    assert isinstance(described["Use example case"], widgets.Button)
    assert described["Use example case"].layout.display != "none"
    for css in CONTRACT_CLASSES:
        assert len(with_class(page, css)) == 1, css  # exactly one of each on the page
    error = with_class(page, "wb-error")[0]
    assert error.layout.display == "none" and error.value == ""  # hidden while empty
    assert "not a diagnosis" in with_class(page, "wb-disclaimer")[0].value
    assert "No vision encoder" not in with_class(page, "wb-heatmap")[0].children[0].value  # says so only after a run
    style = next(w.value for w in every if isinstance(w, widgets.HTML) and "<style>" in w.value and "wb-kiosk" in w.value)
    sizes = [int(px) for px in re.findall(r"font-size:\s*(\d+)px", style)]
    assert min(sizes) >= 16 and re.search(r"--jp-widgets-font-size:\s*18px", style)  # body text 18 px, notes 16 px
    assert "max-width: 1320px" in style  # fits a 1366 px wide screen
    assert "wb-kiosk" in page._dom_classes and page.wb_app.kiosk
    assert not with_class(page, "wb-validation") and not with_class(page, "wb-case-browser")  # locked down
    assert kiosk_app(tmp_path / "cases.sqlite", example=False).wb_app.intake.example_button.layout.display == "none"


def test_the_run_happens_in_the_background_and_fills_every_panel(tmp_path):
    app = CaseApp(tmp_path / "cases.sqlite")
    app.intake.use_example()
    started = time.monotonic()
    thread = app.run()
    assert thread is not None and thread.is_alive() and time.monotonic() - started < 1.0  # the page never waits
    assert app.intake.analyse_button.disabled and app.progress.widget.layout.display == "flex"
    assert app.run() is None and "already running" in app.errors.text
    assert app.wait(timeout=240), "the run did not finish"
    assert app.errors.messages == [] and app.errors.widget.layout.display == "none"
    assert app.result is not None and app.result.status == "finished"
    assert "EMERGENCY" in app.report.banner.value and "Acute myocardial infarction" in app.report.impressions.value
    assert "Analysis complete." in app.progress.status.value and "Writing the report files: done" in app.progress.steps.value
    assert not app.intake.analyse_button.disabled
    assert isinstance(app.ecg.plot.children[0], go.FigureWidget) and len(app.ecg.figure.data) >= 13
    assert "rule-in" in app.labs.esc.value and "58 ng/L" in app.labs.table.value
    assert "No vision encoder is installed" in app.attention.message.value
    assert app.validation is not None and app.validation.rows and app.validation.run_id == app.result.run_id
    assert app.tabs is not None and app.tabs.selected_index == 1  # the report tab
    app.tabs.selected_index = 6  # the case browser refreshes when shown
    assert "EXAMPLE-001" in app.browser.cases.options[0][0]
    app.close()


def test_a_text_file_given_as_the_ecg_is_explained_in_plain_words(tmp_path):
    page = kiosk_app(tmp_path / "cases.sqlite")
    app = page.wb_app
    app.intake.patient_id.value = "P-TXT"
    app.intake.ecg_upload.value = (upload_value("notes.txt", b"Patient felt dizzy this morning.\nNo ECG here.\n"),)
    assert app.intake.ecg_path is not None  # accepted as a file: the content decides, in the pipeline
    app.intake.analyse_button.click()
    assert app.wait(timeout=240)
    box = with_class(page, "wb-error")[0]
    assert box.layout.display == "block"
    text = app.errors.text
    assert "notes.txt" in text and "(measuring the ECG)" in text, text
    assert "Traceback" not in box.value and "Error:" not in text and "File \"" not in box.value
    assert re.match(r"^[A-Z][a-z]+ [a-z]+ \(measuring the ECG\): ", text), text  # "<Title> (step): <sentence>"
    assert "The analysis could not be completed." not in app.progress.status.value  # the run itself finished
    app.close()


def test_form_problems_show_in_the_error_box_and_clear_on_the_next_try(tmp_path):
    page = kiosk_app(tmp_path / "cases.sqlite")
    app = page.wb_app
    app.intake.patient_id.value = "  "
    assert app.run() is None
    box = with_class(page, "wb-error")[0]
    assert box.layout.display == "block"
    assert "Input problem: Enter a patient ID" in app.errors.text and "Add an ECG file" in app.errors.text
    app.intake.patient_id.value = "P-1"
    app.errors.clear()
    assert box.layout.display == "none" and box.value == ""
    app.close()


def test_unexpected_errors_are_a_generic_sentence_never_a_traceback(tmp_path):
    assert plain_error(KeyError("fiducials_ms")) == GENERIC_ERROR
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database folder should be")
    app = CaseApp(blocker / "cases.sqlite", kiosk=True)
    app.intake.use_example()
    app.run()
    assert app.wait(timeout=120)
    text = app.errors.text  # a WorkbenchError: its title and plain message
    assert text.startswith("Case database problem: ") and "not-a-folder is a file, not a folder" in text, text
    assert "Traceback" not in text
    assert "could not be completed" in app.progress.status.value
    app.close()
