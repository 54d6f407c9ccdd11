"""The three notebooks run top to bottom headless (nbclient, a kernel of this Python) without errors, in reasonable
time, and show what they are for."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from workbench.config import PROJECT_ROOT

NOTEBOOKS = PROJECT_ROOT / "notebooks"

pytestmark = pytest.mark.timeout(400)


@pytest.fixture(scope="module")
def kernel_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 'python3' kernelspec that runs this interpreter (the venv), found first through JUPYTER_PATH."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "workbench test kernel", "language": "python"}))
    return root


def execute(name: str, kernel_path: Path, monkeypatch: pytest.MonkeyPatch, db: Path | None = None) -> tuple[str, float]:
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("JUPYTER_PATH", str(kernel_path))
    if db is None:
        monkeypatch.delenv("WORKBENCH_NOTEBOOK_DB", raising=False)
    else:
        monkeypatch.setenv("WORKBENCH_NOTEBOOK_DB", str(db))
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    started = time.monotonic()
    NotebookClient(notebook, timeout=240, kernel_name="python3", allow_errors=False,
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    seconds = time.monotonic() - started
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            assert output.get("output_type") != "error", output
            texts.append(output.get("text", ""))
            data = output.get("data", {})
            texts += [str(data.get(kind, "")) for kind in ("text/plain", "text/html")]
    texts.append(json.dumps(notebook.metadata.get("widgets", {})))
    return "\n".join(texts), seconds


def test_case_review_notebook(kernel_path, monkeypatch, ecg_data):
    text, seconds = execute("01_case_review.ipynb", kernel_path, monkeypatch)
    assert "Acute myocardial infarction" in text and "not a diagnosis" in text
    assert "Urgency: emergency" in text and "stored: 57054005 agree by Demo reviewer" in text
    for css in ("wb-urgency", "wb-impressions", "wb-ecg-plot", "wb-heatmap", "wb-labs-table", "wb-validation"):
        assert css in text, css  # every panel was displayed (widget state)
    assert seconds < 90, seconds


def test_attention_review_notebook(kernel_path, monkeypatch, mi_case):
    # on a database that holds a case (an empty one makes the notebook run two demonstration cases first)
    text, seconds = execute("02_attention_review.ipynb", kernel_path, monkeypatch, db=mi_case["db"])
    assert "ran DEMO" not in text and "case(s) in the gallery" in text and "P-MI-UI" in text
    assert "No vision encoder is installed" in text and "Evidence map" in text and "not a diagnosis" in text
    assert "concordance" in text and "Sign off" in text
    assert seconds < 90, seconds


def test_validation_study_notebook(kernel_path, monkeypatch, ecg_data):
    text, seconds = execute("03_validation_study.ipynb", kernel_path, monkeypatch)
    assert "25 records analysed" in text and "sensitivity" in text and "specificity" in text
    assert "RBBB" in text and "complete_rbbb" in text and "not a diagnosis" in text
    assert seconds < 90, seconds
