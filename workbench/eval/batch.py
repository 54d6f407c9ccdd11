"""Run a study over one or more data sets with Dask: a local cluster by default (one single-threaded worker
process per core: the engine is CPU-bound Python/NumPy), or an existing cluster (``scheduler="tcp://HOST:8786"``).

Why this shape:
- records go to workers in near-equal batches (at least 8 per worker, their number a multiple of the workers, so
  none idles at the end); a worker returns its batch as an Arrow table and the client writes it as one Parquet
  file, atomically: a killed study leaves whole files, and a rerun skips their ids;
- the predictor is named, not shipped: a worker plugin warms it once per worker process (tables; the VLM
  through `shared_vlm` when asked for), and every batch on that worker reuses it;
- one record's failure is a row with its error, never the end of the study; a lost worker's batch is not
  written, so the next run retries it.
On a multi-node cluster the input paths must be readable by every worker (shared storage); results come back
to the client, so only the client needs the output folder.
"""
from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from .datasets.base import Dataset, DatasetError, EvalRecord, open_dataset
from .predict import Prediction, resolve, warm_up
from .results import finished_ids, make_row, to_table, write_part

log = logging.getLogger(__name__)
Predictor = str | Callable[[EvalRecord], Prediction]


@dataclass
class StudyRun:
    """What one `run_study` call did (the rate counts only records analysed now)."""

    out_dir: str
    total: int
    skipped: int
    done: int
    errors: int
    failed_batches: int
    workers: int
    elapsed_s: float

    @property
    def records_per_s(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s > 0 else math.nan

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"records_per_s": round(self.records_per_s, 3)}


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().name)
    except (ImportError, ValueError):
        return f"pid{os.getpid()}"


def process_batch(records: list[EvalRecord], predictor: Predictor) -> list[dict[str, Any]]:
    """Runs on a worker: one result row per record, errors caught per record."""
    fn = resolve(predictor)
    worker = _worker_name()
    rows = []
    for record in records:
        start, cpu = time.perf_counter(), time.thread_time()
        try:
            prediction, error = fn(record), ""
        except Exception as exc:  # noqa: BLE001  a bad record must not end the study
            prediction, error = None, f"{type(exc).__name__}: {exc}"
        rows.append(make_row(record, prediction, error, time.perf_counter() - start, worker, time.thread_time() - cpu))
    return rows


def process_batch_table(records: list[EvalRecord], predictor: Predictor) -> Any:
    """`process_batch` as an Arrow table: built in parallel on the workers, cheap to send, only written by the client."""
    return to_table(process_batch(records, predictor))


def split_batches(records: list[EvalRecord], workers: int, batch_size: int | None = None) -> list[list[EvalRecord]]:
    """Batches of near-equal size, their number a multiple of ``workers`` (no worker idles at the end) and at least
    8 per worker (a slow record delays one small batch), at most 16 records each (bounded loss on a crash)."""
    if batch_size:
        return [records[i:i + batch_size] for i in range(0, len(records), batch_size)]
    count = max(8 * workers, math.ceil(len(records) / 16))
    count = min(len(records), math.ceil(count / workers) * workers)
    base, extra = divmod(len(records), count)
    bounds = np.cumsum([0] + [base + (i < extra) for i in range(count)])
    return [records[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def _plugin(predictor: str) -> Any:
    from distributed.diagnostics.plugin import WorkerPlugin

    class PredictorPlugin(WorkerPlugin):
        """Loads the predictor's tables/model once in each worker process, before its first batch."""

        name = f"workbench-eval-{predictor}"

        def setup(self, worker: Any) -> None:
            warm_up(predictor)

    return PredictorPlugin()


def collect_records(datasets: Sequence[str | Dataset], limit: int | None = None) -> list[EvalRecord]:
    """Records of every data set in order (opened and checked first), at most ``limit``; ids must be unique."""
    records: list[EvalRecord] = []
    for item in datasets:
        records.extend(open_dataset(item) if isinstance(item, str) else item)
    seen: set[str] = set()
    for r in records:
        if r.id in seen:
            raise DatasetError(f"Record id {r.id!r} occurs twice across the data sets of this study.")
        seen.add(r.id)
    return records[:limit] if limit is not None else records


def _save_manifest(out_dir: Path, datasets: Sequence[str | Dataset], predictor: Predictor) -> None:
    path = out_dir / "study.json"
    old = json.loads(path.read_text()) if path.is_file() else {}
    specs = [d if isinstance(d, str) else f"{d.kind}:{d.root}" for d in datasets]
    data = {"datasets": list(dict.fromkeys(old.get("datasets", []) + specs)),
            "predictor": predictor if isinstance(predictor, str) else getattr(predictor, "__name__", "custom"),
            "workbench_version": __version__, "created": old.get("created", time.strftime("%Y-%m-%d %H:%M:%S"))}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


class _Progress:
    """tqdm when installed, else a printed counter: the user sees the study move."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.bar = None
        self.count, self.total, self.enabled = 0, total, enabled
        if enabled:
            try:
                from tqdm import tqdm

                self.bar = tqdm(total=total, unit="rec", desc="eval", file=sys.stderr)
            except ImportError:
                pass

    def update(self, n: int) -> None:
        self.count += n
        if self.bar is not None:
            self.bar.update(n)
        elif self.enabled:
            print(f"eval: {self.count}/{self.total} records", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def open_client(scheduler: str | None, workers: int | None) -> tuple[Any, Any]:
    """(client, cluster): a client of ``scheduler``, or of a new local cluster with ``workers`` processes."""
    from distributed import Client

    if scheduler:
        return Client(scheduler, timeout="30s"), None
    cluster = local_cluster(workers or os.cpu_count() or 1)
    return Client(cluster), cluster


def local_cluster(n_workers: int) -> Any:
    """``n_workers`` single-threaded worker processes. Dask's default MALLOC_TRIM_THRESHOLD_=65536 for workers is
    left out: it makes glibc return every freed NumPy temporary to the kernel, which cost the engine ~40% more CPU
    per record (measured: 21 vs 29-33 ms on a 10 s 12-lead record), and these workers hold no data between tasks."""
    import dask.config
    from distributed import LocalCluster

    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):  # None: not set
        return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None,
                            silence_logs=logging.ERROR)


def run_study(datasets: Sequence[str | Dataset], out_dir: str | Path, *, scheduler: str | None = None,
              workers: int | None = None, limit: int | None = None, batch_size: int | None = None,
              predictor: Predictor = "engine", progress: bool = True) -> StudyRun:
    """Analyse every record not yet in ``out_dir`` and append the results there; returns what was done."""
    out = Path(out_dir)
    records = collect_records(datasets, limit)
    if predictor == "vlm":
        from ..models.manifest import require

        require("vlm"), require("mmproj")  # fail here, not on every worker
    resolve(predictor)
    out.mkdir(parents=True, exist_ok=True)
    _save_manifest(out, datasets, predictor)
    done = finished_ids(out)
    todo = [r for r in records if r.id not in done]
    run = StudyRun(str(out), len(records), len(records) - len(todo), 0, 0, 0, 0, 0.0)
    if not todo:
        return run
    client, cluster = open_client(scheduler, workers)
    bar = _Progress(len(todo), progress)
    try:
        client.register_plugin(_plugin(predictor if isinstance(predictor, str) else "engine"))
        run.workers = len(client.scheduler_info()["workers"])
        batches = split_batches(todo, max(run.workers, 1), batch_size)
        from distributed import as_completed

        start = time.perf_counter()
        futures = client.map(process_batch_table, batches, predictor=predictor, pure=False)
        for future in as_completed(futures):
            try:
                table = future.result()
            except Exception as exc:  # noqa: BLE001  a worker died: leave the batch for the next run
                log.error("a batch failed and will be retried by the next run: %s", exc)
                run.failed_batches += 1
                continue
            write_part(out, table)
            run.done += table.num_rows
            run.errors += sum(bool(e) for e in table.column("error").to_pylist())
            bar.update(table.num_rows)
        run.elapsed_s = round(time.perf_counter() - start, 3)
    finally:
        bar.close()
        client.close()
        if cluster is not None:
            cluster.close()
    return run
