"""Patient data in header comments (WFDB headers and CSV ``#`` lines): age, sex and diagnosis codes.

Read and written in the PhysioNet Challenge style (``Age: 63``, ``Sex: Male``, ``Dx: 164889003,59118001``);
MIT-BIH's ``69 M ...`` patient line is read too.
"""
from __future__ import annotations

import math
import re
from collections.abc import Sequence

from ..record import ECGRecord

_KEY_VALUE = re.compile(r"^\s*(age|sex|gender|dx)\s*[:=]\s*(.*?)\s*$", re.IGNORECASE)
_MITBIH_PATIENT = re.compile(r"^\s*(\d{1,3})\s+([MF])\b")


def parse_comments(lines: Sequence[str]) -> tuple[float | None, str | None, list[str], list[str]]:
    """Age, sex, diagnosis codes and the remaining comment lines of a PhysioNet-style header."""
    age: float | None = None
    sex: str | None = None
    labels: list[str] = []
    other: list[str] = []
    for raw in lines:
        line = raw.strip().lstrip("#").strip()
        match = _KEY_VALUE.match(line)
        if match:
            key, value = match.group(1).lower(), match.group(2)
            if key == "age":
                age = _parse_age(value)
            elif key in ("sex", "gender"):
                sex = _parse_sex(value)
            else:
                labels = [c.strip() for c in value.split(",") if c.strip() and c.strip().lower() != "unknown"]
            continue
        mit = _MITBIH_PATIENT.match(line)  # MIT-BIH: "69 M 1085 1629 x1"
        if mit and age is None and sex is None:
            age, sex = _parse_age(mit.group(1)), mit.group(2)
        if line:
            other.append(line)
    return age, sex, labels, other


def _parse_age(value: str) -> float | None:
    try:
        age = float(value.split()[0]) if value.split() else math.nan
    except ValueError:
        return None
    return age if math.isfinite(age) and 0 <= age <= 130 else None


def _parse_sex(value: str) -> str | None:
    key = value.strip().lower()
    if key in ("m", "male", "man"):
        return "M"
    if key in ("f", "female", "woman"):
        return "F"
    return None


def patient_comments(record: ECGRecord) -> list[str]:
    lines = []
    if record.age is not None:
        lines.append(f"Age: {record.age:g}")
    if record.sex is not None:
        lines.append(f"Sex: {'Male' if record.sex == 'M' else 'Female'}")
    if record.labels:
        lines.append(f"Dx: {','.join(record.labels)}")
    coverage = record.metadata.get("coverage")
    if coverage:  # leads printed for part of a page (digitized paper ECGs): keep which part they show
        lines.append("Coverage: " + "; ".join(f"{lead} {a:g}-{b:g}" for lead, (a, b) in coverage.items()))
    return lines


_COVERAGE_ITEM = re.compile(r"^\s*(\S+)\s+([0-9.]+)\s*-\s*([0-9.]+)\s*$")


def parse_coverage(lines: Sequence[str]) -> dict[str, list[float]] | None:
    """``Coverage: I 0-2.5; aVR 2.5-5`` (written by the workbench) -> {lead: [start_s, end_s]}."""
    for raw in lines:
        line = raw.strip().lstrip("#").strip()
        if line.lower().startswith("coverage:"):
            items = [_COVERAGE_ITEM.match(part) for part in line.split(":", 1)[1].split(";")]
            return {m.group(1): [float(m.group(2)), float(m.group(3))] for m in items if m}
    return None
