"""Data tables (TOML) of the ECG engine: algorithm constants and cited clinical criteria."""
from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from typing import Any


@lru_cache(maxsize=None)
def load_table(name: str) -> dict[str, Any]:
    """Parse ``workbench/ecg/tables/<name>.toml`` once."""
    with resources.files(__package__).joinpath(f"{name}.toml").open("rb") as handle:
        return tomllib.load(handle)
