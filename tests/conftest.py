"""Shared fixtures: where the real reference data lives (read in place, never copied)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("WORKBENCH_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))
ECG_DATA = SHARED_DATA / "ecg"


@pytest.fixture(scope="session")
def ecg_data() -> Path:
    """``../shared/data/ecg``: the real PhysioNet records (CinC 2021, CPSC 2021, PTB, MIT-BIH, PTB-XL)."""
    if not ECG_DATA.is_dir():
        pytest.skip(f"real ECG reference data not found at {ECG_DATA} (set WORKBENCH_SHARED_DATA)")
    return ECG_DATA


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read the developer's own settings file or database."""
    from workbench.config import get_settings

    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("WORKBENCH_CONFIG", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def installed_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder with the three real test models installed (and pinned) as a clinic would install real ones."""
    from workbench.models.test_models import install_test_models

    folder = tmp_path_factory.mktemp("models")
    install_test_models(folder)
    return folder
