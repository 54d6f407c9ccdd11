"""Settings in one place: defaults < TOML file < ``WORKBENCH_*`` environment variables.

The TOML file is ``$WORKBENCH_CONFIG`` if set, else ``./workbench.toml`` if present, else
``~/.config/workbench/workbench.toml``. Keys are the field names below, at top level.
"""
from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def config_file() -> Path | None:
    """The TOML file settings are read from, or None when there is none."""
    explicit = os.environ.get("WORKBENCH_CONFIG")
    if explicit:
        return Path(explicit)
    for candidate in (Path.cwd() / "workbench.toml", Path.home() / ".config" / "workbench" / "workbench.toml"):
        if candidate.is_file():
            return candidate
    return None


class Settings(BaseSettings):
    """Runtime configuration; every field can be set as ``WORKBENCH_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="WORKBENCH_", extra="ignore", validate_default=True)

    data_dir: Path = Field(PROJECT_ROOT / "data", description="bundled and generated example data")
    models_dir: Path = Field(PROJECT_ROOT / "models", description="GGUF / ONNX model files and models.toml")
    db_path: Path = Field(Path.home() / ".local" / "share" / "workbench" / "cases.sqlite")
    threads: int = Field(0, ge=0, description="CPU threads for models and batch work; 0 = all cores")
    gpu_layers: int | Literal["auto"] = Field("auto", description="layers offloaded to the GPU; 'auto' = all if a GPU backend exists")
    mains_hz: Literal[50, 60] = Field(50, description="local mains frequency removed by the notch filter")
    analysis_fs: int = Field(500, ge=100, le=2000, description="common sampling rate for ECG analysis (Hz)")
    max_file_mb: int = Field(100, ge=1, description="largest input file accepted")
    max_record_minutes: float = Field(60.0, gt=0, description="longest recording analysed (longer ones are refused)")
    log_level: str = Field("WARNING")

    @field_validator("gpu_layers", mode="before")
    @classmethod
    def _gpu_layers(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() != "auto":
            return int(value)
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = config_file()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @property
    def n_threads(self) -> int:
        return self.threads or os.cpu_count() or 1


def load_settings(**overrides: object) -> Settings:
    """Read settings now (no caching), turning validation problems into a readable `ConfigError`."""
    path = config_file()
    if path is not None and not path.is_file():
        raise ConfigError(f"The settings file {path} (from WORKBENCH_CONFIG) does not exist.")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"Invalid settings ({problems}).", hint=f"Check {path or 'WORKBENCH_* variables'}.") from exc
    except ValueError as exc:  # malformed TOML
        raise ConfigError(f"Cannot read the settings file {path}: {exc}") from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings (read once); call `get_settings.cache_clear()` after changing the environment."""
    return load_settings()


def configure_logging(level: str | int | None = None) -> None:
    """Switch the workbench's logging on (it is silent by default)."""
    logger = logging.getLogger("workbench")
    logger.setLevel(level if level is not None else get_settings().log_level)
    if not any(isinstance(h, logging.StreamHandler) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
