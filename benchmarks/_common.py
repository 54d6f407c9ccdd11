"""Shared helpers of the benchmark scripts: where the real data is, what machine ran, and the docs file.

The benchmarks write measured figures into docs/BENCHMARKS.md, one section per script, so that the numbers
in the docs always come from a real run (machine, date and commit stated) and each script can be rerun alone
without erasing what the others wrote.
"""
from __future__ import annotations

import datetime as _dt
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DOC = PROJECT_ROOT / "docs" / "BENCHMARKS.md"

INTRO = """# Benchmarks

Measured accuracy and speed of the ECG engine on real public records (`../shared/data`, see its README).
Rerun a benchmark with `.venv/bin/python benchmarks/<script>.py` (e.g. `benchmarks/ecg_accuracy.py`,
`benchmarks/ecg_speed.py`); each script prints its results as Markdown and replaces its own section below.
Set `WORKBENCH_SHARED_DATA` if the data lives elsewhere than `../shared/data`.

These figures are measured, not asserted: the tests do not check them, and the small reference sets
(25 CinC records, 9 CPSC records, one MIT-BIH record) give wide uncertainty. Nothing was tuned to them.
"""


def shared_data() -> Path:
    """``../shared/data`` next to the project, or ``$WORKBENCH_SHARED_DATA`` (same rule as tests/conftest.py)."""
    root = Path(os.environ.get("WORKBENCH_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))
    if not (root / "ecg").is_dir():
        sys.exit(f"Real ECG data not found at {root}/ecg (set WORKBENCH_SHARED_DATA).")
    return root


def run_info() -> str:
    """One Markdown line saying where and from what code the figures come, so they can be compared later."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
        commit += " (+ uncommitted changes)" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    machine = f"{platform.platform()}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    return f"_Run {_dt.datetime.now().strftime('%Y-%m-%d %H:%M')} on {machine}; commit `{commit}`._"


def fmt(x: float | None, nd: int = 3) -> str:
    """A ratio or 'n/a' when it is undefined (no cases of that class)."""
    return "n/a" if x is None else f"{x:.{nd}f}"


def ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def table(header: list[str], rows: list[list[object]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def update_section(heading: str, body: str) -> None:
    """Replace (or append) the ``## heading`` section of docs/BENCHMARKS.md, keeping every other section."""
    text = DOC.read_text() if DOC.is_file() else INTRO
    section = f"## {heading}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text)
