"""Predictors: the engine's rows, the VLM path's wiring (a stand-in runtime: no model is needed to check how
answers become scores) and the early refusal when no model is installed."""
from __future__ import annotations

import math
import shutil

import pytest

from workbench.errors import ModelError
from workbench.eval.batch import run_study
from workbench.eval.datasets import EvalRecord, open_dataset
from workbench.eval.predict import claim_scores, engine_predict, vlm_predict
from workbench.eval.results import make_row
from workbench.models.vlm import Generation, Timings

from ..conftest import PROJECT_ROOT


def test_engine_prediction_and_row(ecg_data):
    record = next(r for r in open_dataset(f"cinc2021:{ecg_data / 'cinc2021'}") if r.id.endswith("E07510"))
    prediction = engine_predict(record)
    assert prediction.stated["RBBB"] == 1 and prediction.scores["RBBB"] >= 0.5
    assert "Right bundle branch block" in prediction.text
    row = make_row(record, prediction, "", 0.1, "w0", 0.05)
    assert row["truth__RBBB"] == 1 and row["pred__RBBB"] == 1 and row["score__sc_CD"] >= 0.5
    assert row["pred__sc_CD"] == 1 and row["cpu_s"] == 0.05
    failed = make_row(record, None, "CorruptFileError: x", 0.1, "w0")
    assert math.isnan(failed["score__RBBB"]) and failed["truth__RBBB"] == 1


def test_claim_scores_use_confidence_hedges_and_negation():
    scores = claim_scores("Possible atrial fibrillation. Right bundle branch block. No ST elevation.",
                          [{"code": "164873001", "label": "LVH", "confidence": 0.8}])
    assert scores["AF"] == 0.5 and scores["RBBB"] == 1.0 and scores["LVH"] == 0.8 and scores["STE"] == 0.0


class FakeRuntime:
    def __init__(self) -> None:
        self.prompts: list[str] = []

    def generate_image(self, png: bytes, prompt: str, *, max_tokens: int, json_schema: bool) -> Generation:
        self.prompts.append(prompt)
        assert png.startswith(b"\x89PNG")
        if json_schema:
            return Generation("{}", Timings(), "cpu", {}, findings=[{"code": "59118001", "label": "RBBB", "confidence": 0.9}],
                              extras={"report": "Sinus rhythm with right bundle branch block."})
        return Generation("Atrial fibrillation.", Timings(), "cpu", {})


def test_vlm_predictor_wiring(monkeypatch, ecg_data):
    fake = FakeRuntime()
    monkeypatch.setattr("workbench.models.vlm.shared_vlm", lambda name=None: fake)
    record = EvalRecord("x/1", "cinc2021", str(ecg_data / "cinc2021" / "E07510.hea"))
    structured = vlm_predict(record)
    assert structured.scores["RBBB"] == 0.9 and structured.stated["NSR"] == 1 and "right bundle" in structured.text
    asked = vlm_predict(EvalRecord("x/2", "ecginstruct", record.path, question="What is the rhythm?"))
    assert fake.prompts[-1] == "What is the rhythm?" and asked.stated["AF"] == 1 and asked.text == "Atrial fibrillation."


def test_vlm_study_without_a_model_fails_before_starting_workers(tmp_path, ecg_data, monkeypatch):
    models = tmp_path / "no-models"
    models.mkdir()
    shutil.copy(PROJECT_ROOT / "models" / "models.toml", models)  # the manifest, without the model files
    monkeypatch.setenv("WORKBENCH_MODELS_DIR", str(models))
    with pytest.raises(ModelError, match="not installed|No model"):
        run_study([f"ptbxl:{ecg_data / 'ptbxl'}"], tmp_path / "out", predictor="vlm", progress=False)
    assert not list((tmp_path / "out").glob("part-*"))
