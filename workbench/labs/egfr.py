"""eGFR by the race-free CKD-EPI 2021 creatinine equation, with its KDIGO category: used for drug and contrast
caution. Coefficients live in ``tables/egfr.toml`` with their citation."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ..errors import InputError

_TABLE = Path(__file__).parent / "tables" / "egfr.toml"


@cache
def _coefficients() -> dict[str, Any]:
    return tomllib.loads(_TABLE.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class EGFR:
    value: float  # mL/min/1.73 m2
    category: str  # KDIGO G1..G5
    label: str
    source: str

    def describe(self) -> str:
        return f"eGFR {self.value:.0f} mL/min/1.73 m2 (CKD-EPI 2021): {self.category}, {self.label}"


def ckd_epi_2021(creatinine_umol_l: float, age_years: float, sex: str) -> EGFR:
    """eGFR from serum creatinine in umol/L (the catalogue's canonical unit), age and sex ("F"/"M")."""
    table = _coefficients()
    if sex not in ("F", "M"):
        raise InputError("eGFR needs the patient's sex (F or M).")
    if age_years < table["min_age_years"]:
        raise InputError(f"eGFR by CKD-EPI is validated for adults only (age {age_years:g} < {table['min_age_years']}).")
    if not creatinine_umol_l > 0:
        raise InputError(f"A creatinine of {creatinine_umol_l:g} umol/L cannot give an eGFR.")
    c = table["female" if sex == "F" else "male"]
    ratio = creatinine_umol_l / table["creatinine_umol_per_mg_dl"] / c["kappa"]
    value = (table["constant"] * min(ratio, 1.0) ** c["alpha"] * max(ratio, 1.0) ** table["exponent_above"]
             * table["age_base"] ** age_years * c["factor"])
    return kdigo_category(value, table["source"])


def kdigo_category(value: float, source: str = "eGFR as printed on the report; KDIGO 2012 GFR categories") -> EGFR:
    """An eGFR value (computed or printed) placed in its KDIGO 2012 category."""
    band = next(cat for cat in _coefficients()["category"] if value >= cat["low"])
    return EGFR(value, band["name"], band["label"], source)
