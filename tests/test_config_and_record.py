"""Settings sources and the ECG record type."""
from __future__ import annotations

import numpy as np
import pytest

from workbench.config import get_settings, load_settings
from workbench.ecg import ECGRecord
from workbench.errors import ConfigError, SignalError, WorkbenchError


def test_toml_then_environment(tmp_path, monkeypatch):
    cfg = tmp_path / "workbench.toml"
    cfg.write_text('threads = 3\ngpu_layers = 12\nmains_hz = 60\ndb_path = "/tmp/x.sqlite"\n')
    monkeypatch.setenv("WORKBENCH_CONFIG", str(cfg))
    s = load_settings()
    assert (s.threads, s.gpu_layers, s.mains_hz, str(s.db_path)) == (3, 12, 60, "/tmp/x.sqlite")
    monkeypatch.setenv("WORKBENCH_THREADS", "1")
    monkeypatch.setenv("WORKBENCH_GPU_LAYERS", "auto")
    s = load_settings()
    assert s.threads == 1 and s.gpu_layers == "auto"


def test_defaults_and_cache(monkeypatch):
    s = get_settings()
    assert s.gpu_layers == "auto" and s.mains_hz == 50 and s.n_threads >= 1
    assert get_settings() is s


@pytest.mark.parametrize("content", ["mains_hz = 55\n", "threads = -1\n", "this is [not toml"])
def test_invalid_settings_are_a_readable_error(tmp_path, monkeypatch, content):
    cfg = tmp_path / "workbench.toml"
    cfg.write_text(content)
    monkeypatch.setenv("WORKBENCH_CONFIG", str(cfg))
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert isinstance(err.value, WorkbenchError) and str(cfg) in str(err.value) or "Invalid settings" in str(err.value)


def test_missing_config_file_named_by_env(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBENCH_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings()


def test_derived_limb_leads_follow_einthoven_and_goldberger():
    rng = np.random.default_rng(0)
    lead_i, lead_ii = rng.normal(size=1000), rng.normal(size=1000)
    rec = ECGRecord(np.column_stack([lead_i, lead_ii]), 500, ["i", "MLII"]).with_derived_limb_leads()
    assert rec.leads == ["I", "II", "III", "aVR", "aVL", "aVF"]
    np.testing.assert_allclose(rec.lead("III"), lead_ii - lead_i)
    np.testing.assert_allclose(rec.lead("aVR"), -(lead_i + lead_ii) / 2)
    np.testing.assert_allclose(rec.lead("aVL"), lead_i - lead_ii / 2)
    np.testing.assert_allclose(rec.lead("aVF"), lead_ii - lead_i / 2)
    np.testing.assert_allclose(rec.lead("I") + rec.lead("III"), rec.lead("II"))  # Einthoven
    assert rec.metadata["derived_leads"] == ["III", "aVR", "aVL", "aVF"]


def test_derivation_from_ii_and_iii():
    ii, iii = np.sin(np.linspace(0, 9, 500)), np.cos(np.linspace(0, 9, 500))
    rec = ECGRecord(np.column_stack([ii, iii]), 250, ["II", "III"]).with_derived_limb_leads()
    np.testing.assert_allclose(rec.lead("I"), ii - iii)


def test_resample_keeps_duration_and_shape():
    t = np.arange(3600) / 360
    rec = ECGRecord(np.sin(2 * np.pi * 1.2 * t)[:, None], 360, ["II"])
    out = rec.resample(500)
    assert out.fs == 500 and out.n_samples == 5000 and out.duration_s == pytest.approx(rec.duration_s)
    np.testing.assert_allclose(out.lead("II")[100:-100], np.sin(2 * np.pi * 1.2 * out.time)[100:-100], atol=1e-2)


@pytest.mark.parametrize("kwargs", [dict(signals=np.zeros((10, 2)), fs=500, leads=["I"]), dict(signals=np.zeros((10, 2)), fs=0, leads=["I", "II"]),
                                    dict(signals=np.zeros((0, 1)), fs=500, leads=["I"]), dict(signals=np.zeros((10, 2)), fs=500, leads=["I", "i"])])
def test_record_validation(kwargs):
    with pytest.raises(SignalError):
        ECGRecord(**kwargs)
