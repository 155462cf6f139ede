"""Sweeps on a real single-node Slurm: ``--executor slurm`` (dask-jobqueue) and the sbatch job
array of ``neurosig sweep slurm --array``, each against the local process pool's numbers.

The fixture starts munged (if no munge daemon answers), slurmctld and slurmd on localhost
with a configuration of its own (free ports, a temporary state folder) and stops them after;
``.ci/run`` installs Debian's ``slurm-wlm`` and ``munge``. Where the daemons cannot start
(not installed, not root, no munge) the tests are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from neurosig.cli import main
from neurosig.sweep import export_sweep, run_sweep, sweep_status


def _spec(lrs: list[float], seeds: int) -> str:
    """A tiny SP-core on digits: one job per learning rate and seed."""
    from neurosig.config import load_experiment
    from neurosig.sweep import Sweep

    base = load_experiment("sp-core-digits").replace(
        train_epochs=1, data_n_train=200, model_hidden=[32], train_record_samples=20
    )
    return Sweep(base, grid={"lr": lrs}, seeds=seeds, name="slurm").to_toml()


SPEC = _spec([3e-4, 1e-3, 3e-3, 1e-2], 4)  # 16 jobs, as in issue 18's timing
# the job array's: 4 tasks, more than the node's CPUs, so that tasks queue; seed indices draw
# the same seeds in any sweep, so its jobs are 4 of SPEC's
ARRAY_LRS, ARRAY_SEEDS = [1e-3, 1e-2], 2
ARRAY_SPEC = _spec(ARRAY_LRS, ARRAY_SEEDS)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _munge_answers() -> bool:
    try:
        encoded = subprocess.run(["munge", "-n"], capture_output=True, timeout=10)
        decoded = subprocess.run(["unmunge"], input=encoded.stdout, capture_output=True,
                                 timeout=10)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False
    return encoded.returncode == 0 and decoded.returncode == 0


def _start_munge() -> str | None:
    """None when munge answers (started here if needed), else why not."""
    if _munge_answers():
        return None
    key = Path("/etc/munge/munge.key")
    if not key.exists():
        key.write_bytes(os.urandom(1024))
        shutil.chown(key, "munge", "munge")
        key.chmod(0o400)
    Path("/run/munge").mkdir(parents=True, exist_ok=True)
    shutil.chown("/run/munge", "munge", "munge")
    subprocess.run(["munged", "--force"], capture_output=True, timeout=30)
    for _ in range(20):
        if _munge_answers():
            return None
        time.sleep(0.5)
    return "munged did not start (munge -n | unmunge fails)"


def _config(folder: Path) -> Path:
    host = socket.gethostname()
    cpus = os.cpu_count() or 1
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20 // 2
    for name in ("state", "spool", "log"):
        (folder / name).mkdir()
    conf = folder / "slurm.conf"
    conf.write_text(f"""ClusterName=neurosig-test
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/log/slurmctld.log
SlurmdLogFile={folder}/log/slurmd.log
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName={host} CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
""")
    return conf


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A running single-node Slurm; yields the environment its clients need (SLURM_CONF)."""
    missing = [c for c in ("slurmctld", "slurmd", "sbatch", "sinfo", "munged")
               if shutil.which(c) is None]  # fmt: skip
    if missing:
        pytest.skip(f"Slurm not installed ({', '.join(missing)} missing): apt-get install "
                    "slurm-wlm munge (.ci/run does)")  # fmt: skip
    if os.geteuid() != 0:
        pytest.skip("starting slurmd and munged here needs root")
    why = _start_munge()
    if why:
        pytest.skip(why)
    folder = tmp_path_factory.mktemp("slurm")
    conf = _config(folder)
    env = {**os.environ, "SLURM_CONF": str(conf)}
    for daemon in ("slurmctld", "slurmd"):
        started = subprocess.run([daemon, "-f", str(conf)], env=env, capture_output=True,
                                 text=True, timeout=60)  # fmt: skip
        if started.returncode != 0:
            pytest.skip(f"{daemon} did not start: {started.stderr.strip()[-300:]}")
    try:
        for _ in range(60):
            state = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True,
                                   text=True, timeout=30).stdout.strip()  # fmt: skip
            if state == "idle":
                break
            time.sleep(0.5)
        else:
            log = (folder / "log" / "slurmd.log").read_text()[-500:]
            pytest.skip(f"the Slurm node did not become idle (state {state!r}): {log}")
        yield env
    finally:
        subprocess.run(["scancel", "--user", "root"], env=env, capture_output=True, timeout=30)
        subprocess.run(["scontrol", "shutdown"], env=env, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """The sweep run by the local process pool, and its wall time."""
    folder = tmp_path_factory.mktemp("local")
    (folder / "slurm.toml").write_text(SPEC)
    start = time.perf_counter()
    ds = run_sweep(folder / "slurm.toml", folder / "local.zarr", workers=2, progress=False)
    return ds, time.perf_counter() - start


def test_executor_slurm_gives_the_local_numbers(slurm, local, tmp_path, monkeypatch, capsys):
    for key, value in slurm.items():
        monkeypatch.setenv(key, value)
    import dask

    monkeypatch.chdir(tmp_path)
    (tmp_path / "slurm.toml").write_text(SPEC)
    start = time.perf_counter()
    argv = ["sweep", "run", "slurm.toml", "--store", "s.zarr", "--executor", "slurm",
            "--workers", "2", "--quiet"]  # fmt: skip
    # what a user puts in ~/.config/dask/jobqueue.yaml
    with dask.config.set({"jobqueue.slurm.memory": "2GB", "jobqueue.slurm.walltime": "00:30:00"}):
        assert main(argv) == 0, capsys.readouterr().err
    seconds = time.perf_counter() - start
    ds, local_seconds = local
    remote = export_sweep(tmp_path / "s.zarr")
    np.testing.assert_array_equal(remote.final_accuracy.values, ds.final_accuracy.values)
    print(f"slurm executor: {seconds:.1f} s, local pool {local_seconds:.1f} s "
          f"({seconds / local_seconds:.2f}x)")  # fmt: skip


def test_the_job_array_runs_on_slurm_into_one_store(slurm, local, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "slurm.toml").write_text(ARRAY_SPEC)
    assert main(["sweep", "slurm", "slurm.toml", "--array", "--store", "a.zarr"]) == 0
    capsys.readouterr()
    submitted = subprocess.run(["sbatch", "--wait", "a.sbatch"], env=slurm, capture_output=True,
                               text=True, timeout=900)  # fmt: skip
    logs = "\n".join(p.read_text()[-500:] for p in sorted((tmp_path / "a.logs").glob("*.out")))
    assert submitted.returncode == 0, submitted.stderr + logs
    assert sweep_status(tmp_path / "a.zarr").done == len(ARRAY_LRS) * ARRAY_SEEDS, logs
    ds, _ = local
    array = export_sweep(tmp_path / "a.zarr")
    same_jobs = ds.final_accuracy.sel(lr=ARRAY_LRS, seed=range(ARRAY_SEEDS))
    np.testing.assert_array_equal(array.final_accuracy.values, same_jobs.values)
