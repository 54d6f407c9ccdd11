"""The reference study: every labelled record of ``../shared/data/ecg`` (CinC 2021, CPSC 2021, PTB, PTB-XL) through
the engine, and docs/VALIDATION.md written from its results, so the published numbers are always a real run's
(``workbench eval study --shared-data ../shared/data --doc docs/VALIDATION.md`` refreshes them)."""
from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from .batch import StudyRun, run_study
from .report import StudyReport, build_report, write_report

#: (kind, folder under <shared>/ecg) of the reference study
SHARED_SETS = (("cinc2021", "cinc2021"), ("cpsc2021", "cpsc2021"), ("ptbdb", "ptbdb"), ("ptbxl", "ptbxl"))

INTRO = """# Validation

Measured agreement of the ECG engine with the labels of public data sets, written by
`workbench eval study --shared-data ../shared/data --doc docs/VALIDATION.md` (workbench/eval). Nothing was tuned to
these records. They are few (25 CinC 2021, 9 CPSC 2021, 1 PTB, 1 PTB-XL): the 95% intervals (percentile bootstrap
over records, {n_boot} resamples, seed {seed}) are wide and many labels have no positive case at all, so most
figures below say more about what has not been tested than about accuracy. Decision support only, not a diagnosis.

How to read the tables:
- Truth: CinC 2021 `# Dx` SNOMED CT codes (a label is negative when its code is absent, the Challenge convention);
  CPSC 2021 header class (record-level AF) and `.atr` AFIB episodes (per second); PTB reason for admission
  (superclass only); PTB-XL SCP codes and the diagnostic superclass of `scp_statements.csv`. Code mapping:
  `workbench/eval/tables/labels.toml` (sources and workbench assignments stated there). A record counts only for the
  classes its source states; `n` differs per class.
- Decision: the finding is stated (rule score >= 0.5). Scores for AUC: the rule score; a rule that could not be
  assessed scores 0 (`not assessed` counts them). Superclass scores: the highest score of the labels of that class;
  NORM = min(sinus rhythm score, 1 - highest abnormal superclass score).
- With 1-3 positive cases an interval such as [1.00, 1.00] means no resample could show an error, not certainty.
- Undefined values are `n/a` (e.g. sensitivity and AUC without a positive case) and are left out of the macro
  averages, with the number left out stated.
- Conformal: per-class split conformal (calibration on a seeded half of the records with known truth, coverage on
  the other half). With ~13 test records per class the empirical coverage moves in steps of ~0.08; only the
  synthetic test (20,000 records, tests/eval/test_conformal.py) checks the guarantee itself.
"""


def run_info(project_root: Path | None = None) -> str:
    """Where and from what code the figures come (as benchmarks/_common.run_info)."""
    root = project_root or Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True,
                               text=True, check=True).stdout.strip()
        commit += " (+ uncommitted changes)" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    machine = f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    return f"_Run {_dt.datetime.now().strftime('%Y-%m-%d %H:%M')} on {machine}; commit `{commit}`._"


def shared_specs(shared_data: str | Path) -> list[str]:
    """``KIND:PATH`` of every reference set present under ``shared_data/ecg``."""
    ecg = Path(shared_data) / "ecg"
    return [f"{kind}:{ecg / folder}" for kind, folder in SHARED_SETS if (ecg / folder).is_dir()]


def validation_doc(report: StudyReport, run: StudyRun | None = None) -> str:
    """The Markdown of docs/VALIDATION.md from a study report."""
    timing = ""
    if run is not None and run.done:
        timing = f" {run.done} records analysed in {run.elapsed_s:.1f} s on {run.workers} Dask workers."
    conformal = pooled_coverage(report)
    lines = [INTRO.format(n_boot=report.metrics.n_boot, seed=report.metrics.seed), run_info() + timing, "",
             "## Results", "", report.to_markdown().replace("### ", "#### "), "## Conformal coverage, all classes pooled", "",
             conformal, ""]
    return "\n".join(lines)


def pooled_coverage(report: StudyReport) -> str:
    """Coverage over every (class, test record) cell per alpha: the study-level check of the conformal sets."""
    from .report import md_table

    rows = []
    for alpha in sorted({r.alpha for r in report.conformal}):
        part = [r for r in report.conformal if r.alpha == alpha and r.n_test]
        n = sum(r.n_test for r in part)
        covered = sum(r.coverage * r.n_test for r in part)
        rows.append([f"{alpha:g}", f"{1 - alpha:.2f}", len(part), n, f"{covered / n:.3f}" if n else "n/a"])
    return md_table(["alpha", "1 - alpha", "classes", "test cells", "empirical coverage"], rows)


def run_shared_study(shared_data: str | Path, out_dir: str | Path, *, doc: str | Path | None = None,
                     workers: int | None = None, scheduler: str | None = None, n_boot: int = 1000, seed: int = 0,
                     progress: bool = True) -> dict[str, Any]:
    """Run (or resume) the reference study, write its report and, when ``doc`` is given, the validation doc."""
    specs = shared_specs(shared_data)
    if not specs:
        from .datasets.base import DatasetError

        raise DatasetError(f"No labelled ECG set found under {Path(shared_data) / 'ecg'}.")
    run = run_study(specs, out_dir, workers=workers, scheduler=scheduler, progress=progress)
    report = build_report(out_dir, n_boot=n_boot, seed=seed)
    paths = write_report(out_dir, report=report)
    if doc is not None:
        Path(doc).parent.mkdir(parents=True, exist_ok=True)
        Path(doc).write_text(validation_doc(report, run), encoding="utf-8")
        paths["doc"] = Path(doc)
    return {"run": run, "report": report, "paths": paths}
