"""Throughput of validation studies (`workbench eval run`) with 1 and 2 Dask workers on this machine.

Records: simulated 12-lead 10 s 500 Hz ECGs (workbench.ecg.synthetic, a mix of rhythms and conduction patterns)
written as Challenge-style WFDB records (`# Dx:` codes) to a temporary folder, so the study reads files exactly
as it reads CinC 2021. Each configuration runs on a fresh `LocalCluster(n_workers=w, threads_per_worker=1)`
into a fresh results folder; the rate counts records from submission to the last Parquet file written (cluster
start and the once-per-worker warm-up excluded), best of ``REPEATS``. Efficiency = rate(2) / (2 x rate(1)).
The load average is printed next to the figures: other processes on the machine take cores from the workers.

    .venv/bin/python benchmarks/eval_scaling.py [--records 160] [--repeats 2]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import run_info, table, update_section  # noqa: E402

SECTION = "Validation batch scaling"
TARGET_EFFICIENCY = 0.8

#: (simulation overrides, SNOMED Dx) cycled over the records
MIX = [({}, ["426783006"]), ({"heart_rate": 48}, ["426177001"]), ({"heart_rate": 115}, ["427084000"]),
       ({"rhythm": "af", "heart_rate": 95}, ["164889003"]), ({"conduction": "rbbb", "qrs_ms": 140}, ["59118001"]),
       ({"conduction": "lbbb", "qrs_ms": 150}, ["164909002"]), ({"pvc_every": 4}, ["427172004"]),
       ({"st_shift_mv": 0.2}, ["164931005"])]

MULTI_NODE = """The same command scales to several machines: start a scheduler on one node (`dask scheduler`, port 8786),
a worker on every node (`dask worker tcp://HOST:8786 --nthreads 1 --nworkers <cores>`), then run
`workbench eval run --dataset KIND:PATH --out DIR --scheduler tcp://HOST:8786`. The input paths must be readable
by every worker (shared storage); results return to the client, which alone writes the Parquet files, and the
predictor is warmed once per worker process by the worker plugin (the VLM through `shared_vlm`). Workers started
by `dask worker` keep Dask's MALLOC_TRIM_THRESHOLD_=65536, which `workbench eval run --workers` leaves out (it cost
the engine ~40% more CPU per record here); start them with the variable set high (e.g. `MALLOC_TRIM_THRESHOLD_=
134217728 dask worker ...`, as Dask only sets it when unset) to match."""


def write_records(folder: Path, n: int) -> Path:
    """n simulated records as WFDB with age/sex/Dx header comments."""
    from workbench.ecg.readers import write_wfdb
    from workbench.ecg.synthetic import simulate_ecg

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        overrides, dx = MIX[i % len(MIX)]
        record = simulate_ecg(seed=i, **overrides)
        record.labels = dx
        write_wfdb(record, folder / f"S{i:05d}")
    return folder


def serial_rate(spec: str) -> tuple[float, float]:
    """(records/s, mean CPU ms per record) in this process without Dask: the reference for overhead."""
    from workbench.eval.batch import collect_records
    from workbench.eval.predict import engine_predict, warm_up

    records = collect_records([spec])
    warm_up("engine")
    start, cpu = time.perf_counter(), time.thread_time()
    for r in records:
        engine_predict(r)
    elapsed = time.perf_counter() - start
    return len(records) / elapsed, 1000 * (time.thread_time() - cpu) / len(records)


def dask_rate(spec: str, workers: int, root: Path, repeat: int) -> tuple[float, float]:
    """(records/s, mean worker CPU ms per record) of one fresh study on a fresh local cluster (the one
    `workbench eval run --workers N` starts)."""
    from workbench.eval.batch import local_cluster, run_study
    from workbench.eval.results import read_results

    cluster = local_cluster(workers)
    out = root / f"w{workers}-r{repeat}"
    try:
        run = run_study([spec], out, scheduler=cluster.scheduler_address, progress=False)
    finally:
        cluster.close()
    assert run.errors == 0 and run.workers == workers, run
    return run.records_per_s, 1000 * float(read_results(out)["cpu_s"].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=240)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="eval-scaling-") as tmp:
        root = Path(tmp)
        spec = f"cinc2021:{write_records(root / 'records', args.records)}"
        load_before = os.getloadavg()
        serial, serial_cpu = serial_rate(spec)
        runs = {w: [dask_rate(spec, w, root, r) for r in range(args.repeats)] for w in (1, 2)}
        load_after = os.getloadavg()
    best = {w: max(runs[w]) for w in runs}  # (rate, cpu ms) of the fastest repeat
    efficiency = best[2][0] / (2 * best[1][0])
    verdict = "met" if efficiency >= TARGET_EFFICIENCY else "NOT met"
    all_rates = {w: ", ".join(f"{r:.1f}" for r, _ in runs[w]) for w in runs}
    cpu_ratio = best[2][1] / best[1][1]  # 1.0: two workers cost no more CPU per record than one
    rows = [["in-process loop (no Dask)", "-", f"{serial:.2f}", "", f"{serial_cpu:.1f}", ""],
            ["Dask LocalCluster", 1, f"{best[1][0]:.2f}", all_rates[1], f"{best[1][1]:.1f}", f"{best[1][0] / serial:.2f} of the loop"],
            ["Dask LocalCluster", 2, f"{best[2][0]:.2f}", all_rates[2], f"{best[2][1]:.1f}",
             f"efficiency {efficiency:.2f} (target >= {TARGET_EFFICIENCY}: {verdict})"]]
    body = "\n\n".join([
        run_info(),
        f"{args.records} simulated 10 s 12-lead 500 Hz records ({len(MIX)} rhythm/conduction patterns), read from WFDB "
        f"files as a Challenge folder. Rate = records / "
        f"(submission to last result file), best of {args.repeats}, cluster start and worker warm-up excluded. "
        f"Efficiency = rate(2 workers) / (2 x rate(1 worker)). CPU ms per record: CPU time of the thread that "
        f"analysed the record (it stays flat when the workers do not slow each other down; wall time rising faster "
        f"than CPU time means the cores were shared with other processes).",
        table(["runner", "workers", "records/s (best)", "records/s (each repeat)", "CPU ms per record", "note"], rows),
        f"Load average (1, 5, 15 min) before: {', '.join(f'{x:.2f}' for x in load_before)}; after: "
        f"{', '.join(f'{x:.2f}' for x in load_after)} on {os.cpu_count()} CPUs. A load above the core count means other "
        "processes competed with the workers for the cores, which lowers the 2-worker figure most. CPU time per record "
        f"with 2 workers / with 1: {cpu_ratio:.2f} (1.00 = the workers do not slow each other down); the wall-clock "
        "efficiency can only reach the target when two cores are free for the workers.",
        MULTI_NODE,
    ])
    print(f"## {SECTION}\n\n{body}")
    update_section(SECTION, body)


if __name__ == "__main__":
    main()
