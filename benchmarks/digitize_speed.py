"""Speed of reading an ECG picture on ONE core: `digitize_file` on a 300 dpi A4 page and on the 26 real scans.

The page is a 3x4+1 render of a real record with a device header (rate, intervals, axes) written to a temporary
PNG, so file loading, the quality gate and the digitizer all count; timed with and without the OCR of the device
header (`read_text`). One core: BLAS/OpenMP threads set to 1 before numpy and OpenCV load, `cv2.setNumThreads(1)`,
and the process pinned to one CPU (which also holds onnxruntime's OCR threads to it). cProfile shows where the time goes.
Prints Markdown and replaces its section of docs/BENCHMARKS.md.

    .venv/bin/python benchmarks/digitize_speed.py
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import cProfile  # noqa: E402
import io  # noqa: E402
import logging  # noqa: E402
import pstats  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
from PIL import Image  # noqa: E402

cv2.setNumThreads(1)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import run_info, shared_data, table, update_section  # noqa: E402

from workbench.ecg import analyze, read_ecg  # noqa: E402
from workbench.ecg.image import digitize_file  # noqa: E402
from workbench.ecg.image.render import render_ecg  # noqa: E402
from workbench.errors import ImageQualityError, InputError  # noqa: E402

SECTION = "Digitization speed (benchmarks/digitize_speed.py)"
RECORD = "cinc2021/E07500.hea"
DPI = 300
LAYOUT = "3x4+1"
REPEATS = 3
TARGET_S = 3.0
#: stages reported from the profile: (label, module file suffix, function name)
STAGES = [
    ("load file (`load_pages`)", "image/loading.py", "load_pages"),
    ("quality gate (`assess_quality`)", "image/quality.py", "assess_quality"),
    ("device-header OCR (`read_device_text`, all calls)", "image/device_text/read.py", "read_device_text"),
    ("  of which RapidOCR inference", "image/device_text/ocr.py", "_run_ocr"),
    ("digitizer (`digitize`, all calls)", "image/digitize.py", "digitize"),
    ("  page flattening (`flatten_sheet`)", "image/page.py", "flatten_sheet"),
    ("  rotation estimate (`estimate_rotation`)", "", "estimate_rotation"),
    ("  grid period (`grid_period`)", "image/grid.py", "grid_period"),
    ("  ink / trace masks (`ink_map`, `trace_mask`)", "", "ink_map|trace_mask"),
    ("  rows and pulses (`find_rows`, `find_pulse`)", "image/layout.py", "find_rows|find_pulse"),
    ("  trace following (`_extract_panels`)", "image/digitize.py", "_extract_panels"),
]


def page_png(data: Path, folder: Path, layout: str = LAYOUT) -> tuple[Path, tuple[int, int]]:
    """A 300 dpi A4-landscape page of a real record (3x4+1 unless told), with a device header, as PNG."""
    record = read_ecg(data / "ecg" / RECORD)
    m = analyze(record).measurements

    def v(key: str) -> str:
        value = m[key].value if key in m else None
        return "--" if value is None else f"{value:.0f}"

    header = {"Vent. rate": f"{v('heart_rate')} BPM", "PR interval": f"{v('pr_interval')} ms",
              "QRS duration": f"{v('qrs_duration')} ms", "QT/QTc": f"{v('qt_interval')}/{v('qtc_bazett')} ms",
              "P-R-T axes": f"{v('p_axis')} {v('qrs_axis')} {v('t_axis')}"}
    rendered = render_ecg(record, layout=layout, dpi=DPI, header_text=header)
    path = folder / f"page300-{layout}.png"
    Image.fromarray(rendered.image).save(path)
    return path, rendered.image.shape[:2]


def timed(fn) -> tuple[float, float, list[float]]:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), times


def profile(fn) -> pstats.Stats:
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    return pstats.Stats(prof, stream=io.StringIO())


def stage_rows(stats: pstats.Stats, total: float) -> list[list[object]]:
    """Cumulative time of each named stage, taken from the profile (outermost call only, no double counting)."""
    rows = []
    for label, file_part, names in STAGES:
        wanted = set(names.split("|"))
        cum = 0.0
        for (file, _, func), (_, _, _, ct, callers) in stats.stats.items():
            if func in wanted and file.replace("\\", "/").endswith(file_part) and "workbench" in file:
                # skip recursive / nested calls of the same stage: count time only from callers outside it
                if not any(c[2] in wanted for c in callers):
                    cum += ct
        rows.append([label, f"{cum:.2f}", f"{100 * cum / total:.0f}%" if total else "n/a"])
    return rows


def top(stats: pstats.Stats, key: str, n: int = 10) -> list[list[object]]:
    """Top n functions by cumulative ('cumulative') or own ('tottime') time, with a short location."""
    entries = []
    for (file, line, func), (cc, nc, tt, ct, _) in stats.stats.items():
        entries.append((ct if key == "cumulative" else tt, tt, ct, nc, file, line, func))
    entries.sort(reverse=True)
    rows = []
    skip = ("<built-in method builtins.exec>", "<module>", "<lambda>")
    for _, tt, ct, nc, file, line, func in entries:
        if key == "cumulative" and (func in skip or file == "~" and "exec" in func):
            continue
        short = file.split("site-packages/")[-1] if "site-packages" in file else file.split("/work/main/")[-1]
        rows.append([f"`{func}`", f"{short}:{line}" if file != "~" else "built-in", nc, f"{tt:.3f}", f"{ct:.3f}"])
        if len(rows) == n:
            break
    return rows


#: how the profile reads (static text, written from the run of 2026-11-23 on commit `24326ee`; re-check on change)
READING = """Reading the profile (run of 2026-11-23, commit `24326ee`): on a 300 dpi page about half of the digitizer's time
is the full-resolution masks: `trace_mask` (two calls: the row mask and the faint-tip mask for following), whose
`morphologyEx` openings with page-long line kernels and `connectedComponentsWithStats` run on 8.7 Mpixel, and
`ink_map` (two calls, once before and once after straightening, even when the rotation is 0). Trace following is
the other quarter: `follow_trace` is a Python loop over every pixel column of each panel, and its helper
`_column_points` calls scalar `np.clip` once per column (about 12,000 calls, 0.15-0.2 s per page; Python's
min/max would do). The header OCR adds 0.4 s. A page read as six rows costs most: `digitize_file` runs the
lead-label OCR over the trace area (about 1 s of RapidOCR) and then `digitize` a second time with the 3x4+3 layout,
so 3x4+3 pages take about twice a 3x4+1 page (4 s here, over the 3 s target); reusing the first pass's masks and
calibration, or reading the labels first, would remove the second digitization.
"""


def _quiet(path: Path) -> None:
    """digitize_file as `analyze_file` calls it (with OCR), a refusal swallowed (for profiling one scan)."""
    try:
        digitize_file(path)
    except (ImageQualityError, InputError):
        pass


def main() -> None:
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    data = shared_data()
    scans = sorted(p for p in (data / "images" / "scans").iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp"))
    with tempfile.TemporaryDirectory() as tmp:
        png, (h, w) = page_png(data, Path(tmp))
        cold_start = time.perf_counter()
        first = digitize_file(png)  # loads the OCR engine (once per process)
        cold = time.perf_counter() - cold_start
        no_ocr = timed(lambda: digitize_file(png, read_text=False))
        with_ocr = timed(lambda: digitize_file(png, read_text=True))
        stats_ocr = profile(lambda: digitize_file(png, read_text=True))
        total_ocr = max(v[3] for k, v in stats_ocr.stats.items() if k[2] == "digitize_file")
        stats_plain = profile(lambda: digitize_file(png, read_text=False))
        total_plain = max(v[3] for k, v in stats_plain.stats.items() if k[2] == "digitize_file")
        # 3x4+3 reads as six rows: digitize_file then OCRs the lead labels to tell it from 6x2
        png33, _ = page_png(data, Path(tmp), "3x4+3")
        digitize_file(png33)
        six_rows = timed(lambda: digitize_file(png33, read_text=True))
        six_rows_layout = digitize_file(png33).layout.name
        stats_six = profile(lambda: digitize_file(png33, read_text=True))
        total_six = max(v[3] for k, v in stats_six.stats.items() if k[2] == "digitize_file")

    scan_rows, scan_times = [], {True: [], False: []}
    for path in scans:
        row = [path.name]
        for read_text in (True, False):
            start = time.perf_counter()
            try:
                result = digitize_file(path, read_text=read_text)
                outcome = result.layout.name
            except (ImageQualityError, InputError) as exc:
                outcome = f"refused ({type(exc).__name__})"
            except Exception as exc:  # reported, not hidden
                outcome = f"CRASH {type(exc).__name__}: {exc}"
            seconds = time.perf_counter() - start
            scan_times[read_text].append(seconds)
            row += [f"{seconds:.2f}", outcome] if read_text else [f"{seconds:.2f}"]
        scan_rows.append(row)

    def verdict(seconds: float) -> str:
        return "met" if seconds <= TARGET_S else "NOT met"

    page_rows = [
        [f"{DPI} dpi page, `read_text=False`", f"{no_ocr[0]:.2f}", f"{no_ocr[1]:.2f}", f"<= {TARGET_S:g}", verdict(no_ocr[1])],
        [f"{DPI} dpi page, `read_text=True` (default)", f"{with_ocr[0]:.2f}", f"{with_ocr[1]:.2f}", f"<= {TARGET_S:g}", verdict(with_ocr[1])],
        [f"{DPI} dpi 3x4+3 page, `read_text=True` (lead-label OCR decides 3x4+3 vs 6x2; read as '{six_rows_layout}')",
         f"{six_rows[0]:.2f}", f"{six_rows[1]:.2f}", f"<= {TARGET_S:g}", verdict(six_rows[1])],
        ["first call of the process (OCR engine loads)", f"{cold:.2f}", f"{cold:.2f}", "-", "-"],
    ]
    scan_summary = []
    for read_text in (True, False):
        t = scan_times[read_text]
        scan_summary.append([f"26 real scans, `read_text={read_text}`", f"{statistics.median(t):.2f}", f"{max(t):.2f}",
                             f"{sum(x > TARGET_S for x in t)}", f"<= {TARGET_S:g}", verdict(max(t))])
    slowest = sorted(scan_rows, key=lambda r: -float(r[1]))[:6]
    worst_scan = next(p for p in scans if p.name == slowest[0][0])
    stats_scan = profile(lambda: _quiet(worst_scan))
    total_scan = sum(v[3] for k, v in stats_scan.stats.items() if k[2] == "_quiet")
    body = "\n\n".join([
        run_info(),
        f"One core: `OMP/OPENBLAS/MKL_NUM_THREADS=1` set before numpy/OpenCV load, `cv2.setNumThreads(1)`, process "
        f"pinned to one CPU with `sched_setaffinity` (so onnxruntime's OCR threads share that core). Page: record "
        f"`{RECORD}` rendered {LAYOUT} at {DPI} dpi on A4 landscape ({w} x {h} px) with a five-line device header, written "
        f"to a temporary PNG and read with `digitize_file` (loading, quality gate, digitizer, and with `read_text=True` the "
        f"OCR of the printed header); it was read back as layout '{first.layout.name}'. Best and median of {REPEATS} runs "
        f"after one warm-up call.",
        table(["input", "best s", "median s", "target", "verdict"], page_rows),
        table(["input", "median s", "max s", f"over {TARGET_S:g} s", "target (max)", "verdict"], scan_summary),
        "Slowest scans (seconds with OCR / without):\n\n" + table(
            ["scan", "s (read_text=True)", "layout", "s (read_text=False)"], slowest),
        f"#### Where the time goes ({DPI} dpi page, one profiled call each)",
        f"Stages, cumulative seconds under cProfile (profiling adds overhead; `read_text=True` total {total_ocr:.2f} s, "
        f"`read_text=False` total {total_plain:.2f} s):",
        table(["stage", "s (read_text=True)", "share"], stage_rows(stats_ocr, total_ocr)),
        table(["stage", "s (read_text=False)", "share"], stage_rows(stats_plain, total_plain)),
        "cProfile top 10 by cumulative time, `read_text=True`:",
        table(["function", "where", "calls", "own s", "cumulative s"], top(stats_ocr, "cumulative")),
        "cProfile top 10 by own time, `read_text=True`:",
        table(["function", "where", "calls", "own s", "cumulative s"], top(stats_ocr, "tottime")),
        "cProfile top 10 by own time, `read_text=False`:",
        table(["function", "where", "calls", "own s", "cumulative s"], top(stats_plain, "tottime")),
        f"3x4+3 page ({DPI} dpi, `read_text=True`, {total_six:.2f} s profiled): stages, then top 10 by own time:",
        table(["stage", "s", "share"], stage_rows(stats_six, total_six)),
        table(["function", "where", "calls", "own s", "cumulative s"], top(stats_six, "tottime")),
        f"Slowest scan {worst_scan.name} (`read_text=True`, {total_scan:.2f} s profiled): top 10 by own time, then stages:",
        table(["function", "where", "calls", "own s", "cumulative s"], top(stats_scan, "tottime")),
        table(["stage", "s", "share"], stage_rows(stats_scan, total_scan)),
        READING.strip(),
        "All scans:\n\n" + table(["scan", "s (read_text=True)", "layout", "s (read_text=False)"], scan_rows),
    ])
    print(f"## {SECTION}\n\n{body}")
    update_section(SECTION, body)


if __name__ == "__main__":
    main()
