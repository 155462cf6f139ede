"""Speed of parameter sweeps: parallel throughput of the process pool, and resuming.

1. Throughput: the same sweep of SP-core points (digits, ``--epochs`` epochs: >= 5 s each on
   one core) runs twice, on a process pool of 1 worker (serial) and of 2 workers, each into a
   fresh store; points per second and their ratio. Each pool is started and warmed (neurosig
   imported in every worker) before the clock starts, so the ratio is that of the sweep
   machinery; the end-to-end time with a fresh ``run_sweep`` pool is reported next to it.
2. Resume: a finished sweep of ``--resume-points`` tiny points run again: ``run_sweep`` in
   this process (open the store, read the done flags, export the Dataset) and the whole
   ``neurosig sweep run`` command (a new Python process).

    python benchmarks/sweep.py            # about 5 minutes on 2 idle cores
    python benchmarks/sweep.py --quick    # smoke test (tiny points)

It prints the table and writes ``--out`` (Markdown) and ``<out>.csv``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    add_allow_dirty,
    check_clean_tree,
    command_line,
    machine_lines,
    markdown_table,
    utc_now,
    write_csv,
)

from neurosig.atomic import write_text_atomic  # noqa: E402
from neurosig.threads import limit_blas_threads  # noqa: E402

DEFAULT_OUT = Path(__file__).parent / "results" / "sweep.md"
QUICK_OUT = Path(__file__).parent / "results" / "sweep-quick.md"
CSV_FIELDS = ("measurement", "workers", "points", "seconds", "points_per_second", "ratio")


def _warm(_: int) -> int:
    """Import what a point needs; the sleep makes each worker of the pool take one call."""
    import neurosig.sweep  # noqa: F401
    import neurosig.train  # noqa: F401

    time.sleep(1.0)
    return 0


def throughput_sweep(epochs: int, points: int, hidden: int):
    from neurosig.config import load_experiment
    from neurosig.sweep import Sweep

    base = load_experiment("sp-core-digits").replace(
        train_epochs=epochs, model_hidden=[hidden, hidden]
    )
    return Sweep(base, grid={"model_lr": [1e-3 * (1 + i) for i in range(points)]}, name="speed")


def timed_run(sweep, store: Path, workers: int, warm: bool) -> float:
    """Seconds of ``run_sweep`` on a pool of ``workers`` (started and warmed first if ``warm``)."""
    from neurosig.sweep import run_sweep

    if not warm:
        start = time.perf_counter()
        run_sweep(sweep, store, workers=workers, progress=False)
        return time.perf_counter() - start
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        list(pool.map(_warm, range(workers)))
        start = time.perf_counter()
        run_sweep(sweep, store, pool, progress=False)
        return time.perf_counter() - start


def resume_times(n_points: int, folder: Path) -> tuple[float, float, float]:
    """(first run, resume in this process, resume by the command) seconds."""
    from neurosig.config import load_experiment
    from neurosig.sweep import Sweep, run_sweep

    base = load_experiment("sp-core-digits").replace(
        train_epochs=1, model_hidden=[8], data_n_train=100, data_n_test=100, train_record_samples=0
    )
    sweep = Sweep(base, grid={"model_lr": [1e-4 * (1 + i) for i in range(n_points)]}, name="many")
    spec = folder / "many.toml"
    spec.write_text(sweep.to_toml())
    store = folder / "many.zarr"
    start = time.perf_counter()
    run_sweep(sweep, store, workers=2, progress=False)
    first = time.perf_counter() - start
    start = time.perf_counter()
    ds = run_sweep(sweep, store, workers=2, progress=False)
    resume = time.perf_counter() - start
    assert ds.attrs["points_done"] == n_points
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "neurosig", "sweep", "run", str(spec), "--store", str(store)],
        check=True,
        capture_output=True,
    )
    command = time.perf_counter() - start
    return first, resume, command


def _spin(n: int) -> float:
    """``n`` additions in pure Python (the machine calibration)."""
    total = 0
    for i in range(n):
        total += i
    return float(total)


def machine_ratio(n: int, tasks: int = 4) -> float:
    """How much faster 2 processes do ``tasks`` fixed chunks of work than 1, right now: the
    parallelism the machine (and its other users) leaves to this benchmark."""
    ctx = multiprocessing.get_context("spawn")
    seconds = {}
    for workers in (1, 2):
        with cf.ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            list(pool.map(_warm, range(workers)))
            start = time.perf_counter()
            list(pool.map(_spin, [n] * tasks))
            seconds[workers] = time.perf_counter() - start
    return seconds[1] / seconds[2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny points (a smoke test)")
    parser.add_argument("--epochs", type=int, default=14, help="epochs per throughput point")
    parser.add_argument("--hidden", type=int, default=1024, help="units of both hidden layers")
    parser.add_argument("--points", type=int, default=8, help="points of the throughput sweep")
    parser.add_argument("--repeats", type=int, default=2, help="serial/parallel pairs (warm)")
    parser.add_argument("--resume-points", type=int, default=100)
    parser.add_argument("--out", type=Path, help="Markdown file (default results/sweep.md)")
    add_allow_dirty(parser)
    args = parser.parse_args()
    limit_blas_threads(1)  # before numpy loads here and in every worker
    check_clean_tree(parser, args.allow_dirty)
    epochs, points, hidden, n_resume = args.epochs, args.points, args.hidden, args.resume_points
    repeats = args.repeats
    if args.quick:
        epochs, points, hidden, n_resume, repeats = 1, 2, 16, 6, 1
    out = args.out or (QUICK_OUT if args.quick else DEFAULT_OUT)
    sweep = throughput_sweep(epochs, points, hidden)
    rows = []
    spin = 1_000_000 if args.quick else 10_000_000
    calibration_before = machine_ratio(spin)
    print(f"machine: 2 processes {calibration_before:.2f}x 1 process", flush=True)
    with tempfile.TemporaryDirectory(prefix="neurosig-sweep-bench-") as tmp:
        folder = Path(tmp)
        seconds: dict[str, list[float]] = {}
        runs = [("warm", workers) for _ in range(repeats) for workers in (1, 2)]
        if not args.quick:
            runs += [("fresh", 1), ("fresh", 2)]
        for k, (pool, workers) in enumerate(runs):
            label = f"{pool}-{workers}"
            took = timed_run(sweep, folder / f"{k}.zarr", workers, pool == "warm")
            seconds.setdefault(label, []).append(took)
            print(f"{label}: {took:.1f} s", flush=True)
        from neurosig.sweep import export_sweep

        point_s = float(export_sweep(folder / "0.zarr").wall_time.median())
        first, resume, command = resume_times(n_resume, folder)
    calibration_after = machine_ratio(spin)
    median = {label: statistics.median(v) for label, v in seconds.items()}
    for pool in ("warm", "fresh"):
        if f"{pool}-2" not in median:
            continue
        for workers in (1, 2):
            s = median[f"{pool}-{workers}"]
            rows.append(
                {
                    "measurement": f"throughput ({pool} pool)",
                    "workers": workers,
                    "points": points,
                    "seconds": round(s, 2),
                    "points_per_second": round(points / s, 4),
                    "ratio": round(median[f"{pool}-1"] / s, 3),
                }
            )
    rows.append(
        {"measurement": "first run (tiny points)", "workers": 2, "points": n_resume,
         "seconds": round(first, 2), "points_per_second": round(n_resume / first, 2), "ratio": ""}
    )  # fmt: skip
    rows.append(
        {"measurement": "resume, run_sweep", "workers": 2, "points": n_resume,
         "seconds": round(resume, 3), "points_per_second": "", "ratio": ""}
    )  # fmt: skip
    rows.append(
        {"measurement": "resume, neurosig sweep run", "workers": 2, "points": n_resume,
         "seconds": round(command, 3), "points_per_second": "", "ratio": ""}
    )  # fmt: skip
    for when, ratio in (("before", calibration_before), ("after", calibration_after)):
        rows.append(
            {"measurement": f"machine calibration ({when})", "workers": 2, "points": 4,
             "seconds": "", "points_per_second": "", "ratio": round(ratio, 3)}
        )  # fmt: skip
    table = markdown_table(
        ["measurement", "workers", "points", "seconds", "points/s", "x serial"],
        [
            [r["measurement"], r["workers"], r["points"], f"{r['seconds']}",
             f"{r['points_per_second']}", f"{r['ratio']}"]
            for r in rows
        ],
    )  # fmt: skip
    warm_ratio = median["warm-1"] / median["warm-2"]
    fresh = (
        f"; {median['fresh-1'] / median['fresh-2']:.2f}x with pool start-up"
        if "fresh-2" in median
        else ""
    )
    summary = (
        f"2 workers: {warm_ratio:.2f}x the serial throughput (warm pools{fresh}) on points of "
        f"{point_s:.1f} s (median wall time on a worker), while the machine gave 2 processes "
        f"{calibration_before:.2f}x / {calibration_after:.2f}x (before / after) on pure-Python "
        f"work; resume of a finished {n_resume}-point sweep: {resume:.2f} s (run_sweep), "
        f"{command:.2f} s (the command)"
    )
    print(table)
    print(summary)
    parts = [
        "# Parameter sweeps: parallel throughput and resume",
        "",
        f"Made on {utc_now()} with `{command_line()}`.",
        "",
        *machine_lines(),
        "",
        f"Throughput sweep: SP-core on digits, 64-{hidden}-{hidden}-10, {epochs} epoch(s) per "
        f"point, {points} points (learning rates), one BLAS thread per worker. `warm pool`: a "
        "process pool started and warmed before the clock (the sweep machinery alone), "
        f"{repeats} serial/parallel pair(s) interleaved, medians; `fresh pool`: `run_sweep` "
        "starts its own pool (spawn + imports included), once each. `machine calibration`: "
        "the same pure-Python work on 1 and 2 processes just before and after, i.e. the "
        "parallelism that the machine's other users left to this run.",
        "",
        table,
        "",
        summary + ".",
        "",
    ]
    write_text_atomic(out, "\n".join(parts))
    write_csv(out.with_suffix(".csv"), rows, CSV_FIELDS)
    print(f"\nwritten to {out} and {out.with_suffix('.csv')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
