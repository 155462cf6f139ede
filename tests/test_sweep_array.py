"""``neurosig sweep slurm SPEC --array``: an sbatch job-array script whose tasks each run one job
of the sweep into one store (``neurosig sweep job STORE N``).

Without Slurm here, the tasks are run as sbatch would run them: the script, with
``SLURM_ARRAY_TASK_ID`` set, several at once. The store must hold the same numbers as the local
pool's.
"""

from __future__ import annotations

import os
import re
import subprocess

import numpy as np

from neurosig.cli import main
from neurosig.sweep import export_sweep, run_sweep, sweep_status

SPEC = """
name = "array"
base = "sp-core-digits"
seeds = 2
[set]
train_epochs = 1
data_n_train = 200
model_hidden = [32]
train_record_samples = 20
[grid]
lr = [1e-3, 3e-3]
"""


def _task(script, number: int) -> subprocess.Popen:
    env = {**os.environ, "SLURM_ARRAY_TASK_ID": str(number), "MPLBACKEND": "Agg"}
    return subprocess.Popen(["bash", str(script)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def test_array_tasks_fill_the_store_with_the_local_pools_numbers(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "array.toml").write_text(SPEC)
    store, script = tmp_path / "array.zarr", tmp_path / "array.sbatch"
    argv = ["sweep", "slurm", "array.toml", "--array", "--store", str(store), "--max-running",
            "2", "--sbatch=--time=00:10:00"]  # fmt: skip
    assert main(argv) == 0
    assert "4 tasks" in capsys.readouterr().out
    text = script.read_text()
    assert "#SBATCH --array=0-3%2" in text and "#SBATCH --time=00:10:00" in text
    assert re.search(r"-m neurosig sweep job .*array\.zarr \"\$SLURM_ARRAY_TASK_ID\"", text)
    assert sweep_status(store).pending == 4  # made before any task

    tasks = [_task(script, k) for k in range(4)]  # as sbatch would: at once, one store
    for task in tasks:
        out, err = task.communicate(timeout=600)
        assert task.returncode == 0, err[-2000:]
    status = sweep_status(store)
    assert status.done == 4 and status.failed == 0
    again = _task(script, 2)  # a resubmitted task of a done job returns at once
    assert again.wait(timeout=120) == 0

    local = run_sweep(tmp_path / "array.toml", tmp_path / "local.zarr", progress=False)
    array = export_sweep(store)
    np.testing.assert_array_equal(array.final_accuracy.values, local.final_accuracy.values)
    np.testing.assert_array_equal(array.train_seed.values, local.train_seed.values)


def test_a_job_outside_the_sweep_ends_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "array.toml").write_text(SPEC)
    assert main(["sweep", "slurm", "array.toml", "--array", "--store", "s.zarr"]) == 0
    capsys.readouterr()
    assert main(["sweep", "job", "s.zarr", "4"]) == 2
    err = capsys.readouterr().err
    assert "jobs 0 .. 3" in err and "Traceback" not in err
    assert main(["sweep", "job", str(tmp_path / "none.zarr"), "0"]) == 2
    assert "not a sweep store" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# dask://ADDRESS: a scheduler and two workers started as separate processes, as on a cluster
# --------------------------------------------------------------------------------------------


def _wait_for(path, seconds: float = 60.0) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear in {seconds} s"
        time.sleep(0.2)


def test_a_separately_started_scheduler_and_two_workers_give_the_local_numbers(
    tmp_path, monkeypatch
):
    import json
    import shutil
    import sys
    import time

    from distributed import Client

    dask = shutil.which("dask", path=os.path.dirname(sys.executable)) or shutil.which("dask")
    assert dask, "the dask command (distributed) is not installed"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "array.toml").write_text(SPEC)
    info = tmp_path / "scheduler.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    processes = [
        subprocess.Popen(
            [
                dask,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(info),
            ],
            **quiet,
        )
    ]
    try:
        _wait_for(info)
        for _ in range(2):
            processes.append(
                subprocess.Popen(
                    [
                        dask,
                        "worker",
                        "--scheduler-file",
                        str(info),
                        "--nthreads",
                        "1",
                        "--nworkers",
                        "1",
                        "--no-dashboard",
                        "--host",
                        "127.0.0.1",
                    ],
                    **quiet,
                )
            )
        address = json.loads(info.read_text())["address"]
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        start = time.perf_counter()
        assert main(["sweep", "run", "array.toml", "--store", "dask.zarr", "--executor",
                     address.replace("tcp://", "dask://"), "--quiet"]) == 0  # fmt: skip
        assert time.perf_counter() - start < 300
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)
    local = run_sweep(tmp_path / "array.toml", tmp_path / "local.zarr", progress=False)
    remote = export_sweep(tmp_path / "dask.zarr")
    np.testing.assert_array_equal(remote.final_accuracy.values, local.final_accuracy.values)
