"""Fixtures of the UI tests: one real case run (PTB s0010_re + two generated troponin reports, no model installed)
shared by the panel tests, the generated lab reports, and a models folder that is empty or holds the test models."""
from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest

from workbench.config import get_settings


@pytest.fixture(autouse=True)
def _no_models(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """By default a clinic with no model installed (an empty models folder); a test may point elsewhere."""
    folder = tmp_path_factory.mktemp("no-models")
    monkeypatch.setenv("WORKBENCH_MODELS_DIR", str(folder))
    get_settings.cache_clear()
    return folder


@pytest.fixture(scope="session")
def troponin_reports(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two hs-cTnT reports one hour apart, rising 20 -> 58 ng/L (the ESC 0h/1h algorithm's input)."""
    from workbench.labs.documents.sample_reports import troponin_series_specs, write_report_pdf

    folder = tmp_path_factory.mktemp("troponin")
    paths = []
    for i, spec in enumerate(troponin_series_specs(("20", "58"))):
        paths.append(folder / f"troponin_{i}h.pdf")
        write_report_pdf(paths[-1], spec)
    return paths


@pytest.fixture(scope="session")
def mi_case(tmp_path_factory: pytest.TempPathFactory, troponin_reports: list[Path], ecg_data: Path) -> dict[str, Any]:
    """The real pipeline on PTB s0010_re (infarction) with the rising troponin series, in its own database, with
    no model installed: {"result": RunResult, "db": Path, "store": CaseStore}."""
    from workbench.pipeline.runner import CaseRunner
    from workbench.pipeline.types import PatientContext

    ecg = ecg_data / "ptbdb" / "s0010_re.hea"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WORKBENCH_MODELS_DIR", str(tmp_path_factory.mktemp("mi-no-models")))
        patch.setenv("HOME", str(tmp_path_factory.mktemp("mi-home")))
        get_settings.cache_clear()
        db = tmp_path_factory.mktemp("mi-case") / "cases.sqlite"
        runner = CaseRunner(db)
        events: list[Any] = []
        result = runner.start(PatientContext("P-MI-UI", age=81, sex="F", symptoms=["chest pain"], chest_pain_onset_hours=4,
                                             risk_factors=["hypertension"]),
                              ecg=ecg, labs=troponin_reports, on_event=events.append)
    get_settings.cache_clear()
    assert result.status == "finished" and result.state["errors"] == []
    return {"result": result, "db": db, "store": runner.store, "events": events}


def upload_value(name: str, content: bytes) -> dict[str, Any]:
    """One entry of ipywidgets 8 FileUpload.value, as the browser sends it."""
    return {"name": name, "type": "application/octet-stream", "size": len(content), "content": memoryview(content),
            "last_modified": datetime.datetime.now(datetime.timezone.utc)}
