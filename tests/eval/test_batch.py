"""Batch runs on a 2-worker Dask cluster: Parquet results, resume without redoing finished records, a corrupt
record as an error row while the rest completes, and the report built from the results."""
from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from workbench.eval.batch import process_batch, run_study, split_batches
from workbench.eval.datasets import DatasetError, open_dataset
from workbench.eval.report import build_report, write_report
from workbench.eval.results import finished_ids, read_results

from .fixtures import CountingPredictor, cinc_subset, store_with_validations

NAMES = ["E07500", "E07510", "HR06002", "JS20000"]


def test_resume_skips_finished_records_and_a_corrupt_record_is_an_error_row(tmp_path, ecg_data, dask_scheduler):
    folder = cinc_subset(tmp_path / "cinc", ecg_data / "cinc2021", NAMES, corrupt="X99999")
    spec = f"cinc2021:{folder}"
    out = tmp_path / "out"
    counter = CountingPredictor(tmp_path / "calls")
    (tmp_path / "calls").mkdir()

    first = run_study([spec], out, scheduler=dask_scheduler, limit=2, batch_size=1, predictor=counter, progress=False)
    assert (first.done, first.skipped, first.workers, first.errors) == (2, 0, 2, 0)
    assert len(counter.calls()) == 2
    assert len(list(out.glob("part-*.parquet"))) == 2  # one file per finished batch
    assert not list(out.glob(".*.tmp"))

    second = run_study([spec], out, scheduler=dask_scheduler, batch_size=2, predictor=counter, progress=False)
    assert (second.total, second.skipped, second.done, second.errors) == (5, 2, 3, 1)
    assert len(counter.calls()) == 5 and len(set(counter.calls())) == 5  # nothing analysed twice

    third = run_study([spec], out, scheduler=dask_scheduler, predictor=counter, progress=False)
    assert (third.done, third.skipped) == (0, 5) and len(counter.calls()) == 5

    frame = read_results(out)
    assert sorted(frame["id"]) == sorted(f"cinc2021/{n}" for n in [*NAMES, "X99999"])
    bad = frame.set_index("id").loc["cinc2021/X99999"]
    assert "X99999.mat" in bad["error"] and bad["score__NSR"] != bad["score__NSR"]  # NaN scores
    good = frame[frame["error"] == ""]
    assert len(good) == 4 and good["score__NSR"].notna().all()
    assert set(good["worker"]) <= {"0", "1"}  # LocalCluster worker names
    e07510 = good.set_index("id").loc["cinc2021/E07510"]
    assert e07510["truth__RBBB"] == 1 and e07510["pred__RBBB"] == 1
    schema = pq.read_schema(next(out.glob("part-*.parquet")))
    assert "truth__sc_MI" in schema.names and "extra_json" in schema.names
    assert json.loads((out / "study.json").read_text())["datasets"] == [spec]


def test_store_cases_give_kappa_in_the_report(tmp_path, dask_scheduler):
    db, _ = store_with_validations(tmp_path)
    out = tmp_path / "out"
    run = run_study([f"store:{db}"], out, scheduler=dask_scheduler, progress=False)
    assert run.done == 1 and run.errors == 0
    report = build_report(out, n_boot=100)
    at_validation = report.kappa["at validation (stored analysis)"]
    # pairs (workbench stated, clinician): NSR (1,1), RBBB (1,0), AF (0,0), LQT (0,1); unsure left out
    assert (at_validation["n"], at_validation["unsure"], at_validation["agreement"]) == (4, 1, 0.5)
    assert at_validation["kappa"] == pytest.approx(0.0)
    assert report.kappa["re-analysis now"]["n"] == 4
    paths = write_report(out, n_boot=100)
    assert "Cohen's kappa" in paths["markdown"].read_text()


def test_process_batch_catches_errors_per_record(tmp_path, ecg_data):
    folder = cinc_subset(tmp_path / "cinc", ecg_data / "cinc2021", ["E07500"], corrupt="X99998")
    rows = process_batch(list(open_dataset(f"cinc2021:{folder}")), "engine")
    assert [bool(r["error"]) for r in rows] == [False, True]  # E07500, then the corrupt one
    with pytest.raises(DatasetError, match="Unknown predictor"):
        process_batch([], "magic")
    assert finished_ids(tmp_path / "nothing") == set()


@pytest.mark.parametrize("n, workers, batches, sizes", [(240, 2, 16, {15}), (240, 1, 15, {16}), (36, 2, 16, {2, 3}),
                                                        (1000, 2, 64, {15, 16}), (3, 2, 3, {1})])
def test_batches_are_even_and_a_multiple_of_the_workers(n, workers, batches, sizes):
    split = split_batches(list(range(n)), workers)
    assert len(split) == batches and {len(b) for b in split} == sizes
    assert [x for b in split for x in b] == list(range(n))
    assert [len(b) for b in split_batches(list(range(5)), 2, batch_size=2)] == [2, 2, 1]
