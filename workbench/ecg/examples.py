"""The example ECG the project ships as code (a simulation with known truth), written on demand."""
from __future__ import annotations

from pathlib import Path

from ..config import get_settings
from .readers import write_csv, write_wfdb
from .synthetic import SimulationSpec, simulate_ecg

#: the example: a 64-year-old man in sinus rhythm, PR 220 ms (first-degree AV block), inferior ST elevation
EXAMPLE_SPEC = SimulationSpec(heart_rate=72, pr_ms=230, st_shift_mv=0.2, st_direction=(90.0, -0.2), age=64, sex="M", seed=7)


def write_example(folder: Path | None) -> list[Path]:
    """Write ``example_12lead`` as WFDB (.hea/.dat) and CSV into ``folder``; returns [header, csv]."""
    folder = Path(folder) if folder is not None else get_settings().data_dir / "example"
    folder.mkdir(parents=True, exist_ok=True)
    record = simulate_ecg(EXAMPLE_SPEC)
    record.source = "example"
    header = write_wfdb(record, folder / "example_12lead")
    csv_path = write_csv(record, folder / "example_12lead.csv")
    return [Path(header), Path(csv_path)]
