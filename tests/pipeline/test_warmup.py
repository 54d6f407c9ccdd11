"""The kiosk's pre-started kernels warm up before the first patient: libraries imported, OCR engines made and
the installed vision encoder opened, so the first case does not wait for them."""
from __future__ import annotations

import sys

from workbench.config import get_settings
from workbench.pipeline.runner import RunOptions
from workbench.pipeline.warmup import MODULES, warm_up


def test_warm_up_opens_the_installed_encoder_for_the_pipeline(installed_models, monkeypatch):
    from workbench.ecg.image.device_text.ocr import get_ocr_engine
    from workbench.models import encoder as encoder_module

    monkeypatch.setenv("WORKBENCH_MODELS_DIR", str(installed_models))
    get_settings.cache_clear()
    encoder_module._SHARED.clear()
    seconds = warm_up()
    assert set(seconds) == {"imports", "ecg_ocr", "lab_ocr", "vision_encoder"}
    assert all(name in sys.modules for name in MODULES)
    assert get_ocr_engine() is get_ocr_engine()
    opened = [encoder for key, encoder in encoder_module._SHARED.items() if key[2].startswith(str(installed_models))]
    assert len(opened) == 1 and encoder_module.shared_encoder() is opened[0]  # the heatmap node gets this session


def test_warm_up_without_an_encoder_or_with_the_heatmap_off_skips_it(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_MODELS_DIR", str(tmp_path))
    get_settings.cache_clear()
    assert "vision_encoder" not in warm_up()
    assert "vision_encoder" not in warm_up(RunOptions(use_heatmap=False))
