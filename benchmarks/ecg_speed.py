"""Speed of measuring one 10 s, 12-lead, 500 Hz ECG: workbench `analyze` vs neurokit2 `ecg_process` per lead.

The comparison is what a user would otherwise run: neurokit2 processes one lead at a time, so measuring a
12-lead record means 12 sequential `ecg_process` calls (peaks, delineation, rate, quality per lead), while
`analyze` filters all leads at once and delineates one median beat. Both get the same in-memory record
(file reading is not timed). Prints Markdown and replaces its section of docs/BENCHMARKS.md.

    .venv/bin/python benchmarks/ecg_speed.py
"""
from __future__ import annotations

import resource
import statistics
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import run_info, shared_data, table, update_section  # noqa: E402

from workbench.ecg import ECGRecord, analyze, read_ecg, simulate_ecg  # noqa: E402

SECTION = "ECG speed (benchmarks/ecg_speed.py)"
REPEATS = 5
TARGET_RATIO = 0.5


def neurokit_all_leads(record: ECGRecord) -> list[tuple[Any, dict[str, Any]]]:
    """neurokit2's full per-lead pipeline on every lead, one after the other."""
    import neurokit2 as nk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # neurokit2 warns about short signals / delineation edge cases
        return [nk.ecg_process(record.signals[:, j], sampling_rate=int(record.fs)) for j in range(record.signals.shape[1])]


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(best, median) wall time in seconds over REPEATS runs after one warm-up (imports, filter design caches)."""
    fn()
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def peak_memory_mb(fn: Callable[[], object]) -> float:
    """Peak Python/numpy allocation of one call (tracemalloc), run apart from the timing it would slow down."""
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def outputs(record: ECGRecord) -> tuple[str, str]:
    """What each side delivers for the record, so the timing compares like with like (or says where not)."""
    result = analyze(record)
    n_global = sum(m.value is not None for m in result.measurements.values())
    per_lead = sum(m.value is not None for values in result.leads.values() for m in values.values())
    ours = (f"{n_global} global measurements (HR, RR, P/PR/QRS/QT/QTc, P/QRS/T axes), {per_lead} per-lead values "
            f"({len(result.leads)} leads: Q/R/S/R' amplitudes and durations, ST at J and J+60, T and P amplitude), "
            f"{len(result.findings)} findings of {len(result.scores)} rules scored")
    processed = neurokit_all_leads(record)
    signals, info = processed[1]
    fiducials = [c for c in signals.columns if c.endswith(("Peaks", "Onsets", "Offsets"))]
    theirs = (f"per lead ({len(processed)}): cleaned signal, {len(info['ECG_R_Peaks'])} R peaks (lead II), "
              f"{len(fiducials)} fiducial series (P/Q/R/S/T peaks, onsets, offsets), instantaneous rate, quality, "
              f"cardiac phase; no intervals, axes, ST or findings")
    return ours, theirs


def main() -> None:
    data = shared_data()
    records = {
        "CinC 2021 E07506 (real, NSR)": read_ecg(data / "ecg" / "cinc2021" / "E07506.hea"),
        "simulate_ecg(seed=1)": simulate_ecg(seed=1),
    }
    rows = []
    for name, record in records.items():
        assert record.signals.shape == (5000, 12) and record.fs == 500, f"{name}: expected 10 s x 12 leads at 500 Hz"
        wb_best, wb_median = timed(lambda: analyze(record))
        nk_best, nk_median = timed(lambda: neurokit_all_leads(record))
        wb_mem = peak_memory_mb(lambda: analyze(record))
        nk_mem = peak_memory_mb(lambda: neurokit_all_leads(record))
        ratio = wb_median / nk_median
        rows.append([name, f"{wb_best * 1000:.0f} / {wb_median * 1000:.0f}", f"{nk_best * 1000:.0f} / {nk_median * 1000:.0f}",
                     f"{ratio:.3f} ({'met' if ratio <= TARGET_RATIO else 'NOT met'})", f"{wb_mem:.1f}", f"{nk_mem:.1f}"])
    ours, theirs = outputs(records["CinC 2021 E07506 (real, NSR)"])
    import neurokit2 as nk

    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    body = "\n\n".join([
        run_info(),
        f"One 10 s, 12-lead, 500 Hz record already in memory. Workbench: `analyze(record)`. neurokit2 {nk.__version__}: "
        f"`nk.ecg_process(lead, sampling_rate=500)` on each of the 12 leads in turn. One warm-up, then {REPEATS} runs; "
        f"times in ms as best / median; ratio = workbench median / neurokit2 median (target <= {TARGET_RATIO}). "
        "Peak memory = tracemalloc peak of one call (Python and numpy allocations).",
        table(["record", "workbench ms (best / median)", "neurokit2 ms (best / median)", "ratio", "workbench peak MiB",
               "neurokit2 peak MiB"], rows),
        f"Process max RSS after all runs: {max_rss:.0f} MiB (both libraries loaded).",
        f"What each produces (E07506):\n\n- workbench: {ours}.\n- neurokit2: {theirs}.",
    ])
    print(f"## {SECTION}\n\n{body}")
    update_section(SECTION, body)


if __name__ == "__main__":
    main()
