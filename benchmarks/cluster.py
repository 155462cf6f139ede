"""A sweep on Slurm against the local process pool: wall time of the same 16 jobs.

Runs a 16-job sweep (a small SP-core on digits: 4 learning rates x 4 seeds, 1 epoch) with the
local process pool and with ``--executor slurm`` (dask-jobqueue), both with ``--workers``
workers, ``--repeats`` times in alternation, each into a fresh store, and prints the median
wall times and their ratio beside the issue's bar (Slurm within 1.3x of the pool). The Slurm
time includes submitting the worker jobs and their start.

It needs a running Slurm: ``sinfo`` must answer (``SLURM_CONF`` where the configuration is not
the system's). ``tests/test_slurm.py`` shows how to start a single-node one on localhost;
``--memory`` is the memory of each worker job.

    python benchmarks/cluster.py --out benchmarks/results/cluster.md
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common


def _sweep():
    from neurosig.config import load_experiment
    from neurosig.sweep import Sweep

    base = load_experiment("sp-core-digits").replace(
        train_epochs=1, data_n_train=200, model_hidden=[32], train_record_samples=20
    )
    return Sweep(base, grid={"lr": [3e-4, 1e-3, 3e-3, 1e-2]}, seeds=4, name="cluster")


def main(argv: list[str] | None = None) -> int:
    import dask

    from neurosig.sweep import run_sweep

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory", default="2GB")
    parser.add_argument("--out", default="benchmarks/results/cluster.md")
    common.add_allow_dirty(parser)
    opts = parser.parse_args(argv)
    commit = common.check_clean_tree(parser, opts.allow_dirty)
    if shutil.which("sinfo") is None or subprocess.run(["sinfo"], capture_output=True).returncode:
        parser.error("no Slurm answers here (sinfo); start one (see tests/test_slurm.py)")
    sweep = _sweep()
    times: dict[str, list[float]] = {"local": [], "slurm": []}
    with (
        tempfile.TemporaryDirectory() as folder,
        dask.config.set(
            {"jobqueue.slurm.memory": opts.memory, "jobqueue.slurm.walltime": "00:30:00"}
        ),
    ):
        for k in range(opts.repeats):
            for executor in times:
                start = time.perf_counter()
                run_sweep(sweep, Path(folder) / f"{executor}{k}.zarr", executor,
                          workers=opts.workers, progress=False)  # fmt: skip
                times[executor].append(time.perf_counter() - start)
                print(f"{executor} {k}: {times[executor][-1]:.1f} s")
    local, slurm = (statistics.median(times[e]) for e in ("local", "slurm"))
    ratio = slurm / local
    rows = [
        ["local process pool", f"{local:.1f}", ", ".join(f"{t:.1f}" for t in times["local"])],
        ["--executor slurm", f"{slurm:.1f}", ", ".join(f"{t:.1f}" for t in times["slurm"])],
        ["ratio slurm / local", f"{ratio:.2f}",
         f"bar <= 1.3: {'pass' if ratio <= 1.3 else 'FAIL'}"],
    ]  # fmt: skip
    nodes = subprocess.run(["sinfo", "-h", "-o", "%N %c CPUs"], capture_output=True, text=True)
    intro = (
        f"{len(sweep.jobs())} jobs (SP-core, digits, 1 epoch), {opts.workers} workers each way, "
        f"median of {opts.repeats} alternating runs (s). Slurm: {nodes.stdout.strip()}. "
        f"Commit {commit}."
    )
    table = common.markdown_table(["route", "median (s)", "runs (s)"], rows)
    common.write_report(
        opts.out, "A 16-job sweep on Slurm against the local process pool", intro, table
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
