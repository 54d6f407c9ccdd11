"""The kiosk flow in a real browser at 1366x768: a real PTB record (.hea + .dat, read in place) and two generated
troponin reports (20 -> 58 ng/L) are uploaded, the patient id typed, "Analyse" clicked; the report must show the
urgency, the impressions with their ECG and lab evidence, the flagged lab values, the ECG plot and the heatmap,
with no request leaving 127.0.0.1. Screenshots go to tests/artifacts/kiosk/."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from workbench.kiosk import probe




@pytest.fixture(scope="module")
def lab_pdfs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    from workbench.labs.documents.sample_reports import troponin_series_specs, write_report_pdf

    folder = tmp_path_factory.mktemp("labs")
    paths = []
    for i, spec in enumerate(troponin_series_specs(("20", "58"))):
        path = folder / f"troponin_{i}h.pdf"
        write_report_pdf(path, spec)
        paths.append(path)
    return paths


def test_kiosk_flow_signal_file_and_lab_pdfs(kiosk, browser, ecg_data: Path, lab_pdfs: list[Path],  # noqa: ANN001
                                             artifacts: Path) -> None:
    # the PTB header names two signal files: the 12 standard leads (.dat) and the 3 Frank leads (.xyz)
    record = [ecg_data / "ptbdb" / f"s0010_re.{ext}" for ext in ("hea", "dat", "xyz")]
    log = probe.RequestLog().attach(browser)
    page = log.watch(browser.new_page())
    opened_s = probe.open_intake(page, kiosk.url, timeout_s=90)
    page.screenshot(path=str(artifacts / "kiosk_intake.png"))
    # nothing of the notebook itself is on the page
    html = page.content()
    assert "kiosk_app(" not in html and "Traceback" not in html

    probe.fill_case(page, "P-0042", ecg=record, labs=lab_pdfs)
    page.screenshot(path=str(artifacts / "kiosk_filled.png"))
    report_s = probe.analyse(page, timeout_s=180, need=("urgency", "impressions", "labs", "ecg", "heatmap", "done"))

    banner = probe.banner_text(page)
    assert re.search(r"emergency", banner, re.I), banner
    impressions = page.locator(".wb-impressions").inner_text()
    assert re.search(r"myocardial infarction", impressions, re.I), impressions
    assert re.search(r"Q waves", impressions), impressions  # ECG evidence
    assert re.search(r"troponin", impressions, re.I) and "58" in impressions, impressions  # lab evidence
    labs = page.locator(".wb-labs-table").inner_text()
    assert re.search(r"troponin", labs, re.I) and "58" in labs and "20" in labs, labs
    assert re.search(r"\bH\b|high", labs, re.I), labs  # the flag of the raised troponin
    # the ECG plot is drawn (plotly SVG with the lead names) and the heatmap shows a picture
    ecg_text = " ".join(t or "" for t in page.locator(".wb-ecg-plot svg text").all_text_contents())
    assert all(lead in ecg_text for lead in ("II", "aVR", "V1", "V6")), ecg_text[:300]
    assert page.locator(".wb-heatmap img, .wb-heatmap canvas").count() > 0
    # plotly's widget code came once from the kiosk server, not inside each figure's state
    fetched = page.evaluate("() => performance.getEntriesByType('resource').map(e => e.name)"
                            ".filter(n => n.endsWith('/workbench/static/plotly-widget.js')).length")
    assert fetched >= 1
    assert page.locator(".wb-disclaimer").first.is_visible()
    assert not page.locator(".wb-error").first.is_visible() or not page.locator(".wb-error").first.inner_text().strip()
    assert "Traceback" not in page.content()

    page.locator(".wb-urgency").first.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "kiosk_report_urgency.png"))
    page.locator(".wb-ecg-plot").first.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "kiosk_report_ecg.png"))
    page.locator(".wb-heatmap").first.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "kiosk_report_heatmap.png"))
    page.locator(".wb-labs-table").first.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "kiosk_report_labs.png"))

    # the report downloads work under the kiosk's Content-Security-Policy (blob: download from a widget message)
    with page.expect_download(timeout=60000) as download:
        page.locator("button", has_text="Download report (PDF)").first.click()
    saved = artifacts / "kiosk_report.pdf"
    download.value.save_as(saved)
    assert saved.read_bytes()[:5] == b"%PDF-"

    # readable at 1366x768: no sideways scrolling, body text at least 16 px
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 1366, width
    size = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('.wb-impressions')).fontSize)")
    assert size >= 16, size

    assert not log.external, log.external
    assert log.hosts() <= {"127.0.0.1"}, log.hosts()
    assert not log.csp_violations(), log.csp_violations()
    print(f"page open -> usable intake {opened_s:.2f} s; Analyse -> full report {report_s:.2f} s")


def test_bad_file_is_refused_in_plain_words(kiosk, browser, tmp_path: Path, artifacts: Path) -> None:  # noqa: ANN001
    """A file that is no ECG: the page says so in plain words (error box), no traceback, and stays usable."""
    bad = tmp_path / "not_an_ecg.csv"
    bad.write_text("this,is\nnot,an ecg\n")
    page = browser.new_page()
    probe.open_intake(page, kiosk.url, timeout_s=90)
    probe.fill_case(page, "P-0043")
    probe.upload(page, "ECG file", [bad])
    probe.wait_for_text(page, ".wb-intake", "not_an_ecg", timeout_s=30)
    probe.button(page, "Analyse").click()
    page.wait_for_function("() => { const e = document.querySelector('.wb-error');"
                           " return !!e && e.offsetParent !== null && e.innerText.trim().length > 0; }",
                           timeout=120000)
    page.wait_for_function("() => !!document.querySelector('.wb-progress .progress-bar-success,"
                           " .wb-progress .progress-bar-danger')", timeout=120000)
    error = page.locator(".wb-error").first
    error.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "kiosk_bad_file.png"))
    message = error.inner_text()
    assert "not_an_ecg" in message or "ECG" in message, message
    body = page.locator("body").inner_text()
    assert "Traceback" not in body and 'File "' not in body and "Exception" not in body, message
    assert probe.button(page, "Analyse").is_enabled()
