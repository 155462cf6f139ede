"""A sweep as a Slurm job array: one task per job, all writing one store.

For clusters whose compute nodes a dask scheduler cannot reach (``--executor slurm`` needs
the nodes to connect back to the driver), ``neurosig sweep slurm SPEC --array`` creates the
sweep's store and writes an sbatch script whose array has one task per job (grid point x
seed). Task ``k`` runs ``python -m neurosig sweep job STORE k``
(:func:`neurosig.sweep.run_job`): it reads the declaration from the store, trains its job and
writes it under the store's lock. Submit the script with ``sbatch``; resubmitting it reruns
only the jobs that failed or never ran, and ``neurosig sweep status STORE`` shows where the
sweep stands. The store and the Python environment must be on a file system the nodes share.

Examples
--------
>>> text = array_script(Path("/s/lr.zarr"), 8, python="/env/bin/python", name="lr")
>>> [line for line in text.splitlines() if "--array" in line]
['#SBATCH --array=0-7']
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from neurosig.brian import REPRODUCIBLE_ENV, reproducible

__all__ = ["array_script"]


def array_script(
    store: Path,
    n_jobs: int,
    *,
    name: str,
    python: str | None = None,
    workdir: Path | None = None,
    max_running: int | None = None,
    options: Sequence[str] = (),
) -> str:
    """The sbatch script of a job array over the ``n_jobs`` jobs of the sweep in ``store``.

    Parameters
    ----------
    store : Path
        The sweep's store (made absolute: the tasks start in ``workdir``).
    n_jobs : int
        Jobs of the sweep (points x seeds): the array is ``0 .. n_jobs - 1``.
    name : str
        The sweep's name (the Slurm job name is ``neurosig-NAME``).
    python : str, optional
        The interpreter the tasks run (default: this one, so the same environment).
    workdir : Path, optional
        Where the tasks start (default: the current folder).
    max_running : int, optional
        At most this many tasks at once (``%K`` of ``--array``).
    options : sequence of str
        Further sbatch options, one per line, e.g. ``"--partition=short"``, ``"--time=01:00:00"``.

    Notes
    -----
    Each task has one CPU and its BLAS and OpenMP threads set to 1; its output goes to
    ``NAME.logs/JOBID_TASK.out`` beside the store ``NAME.zarr``. The Brian2 build mode of this
    process (``NEUROSIG_REPRODUCIBLE``) is the tasks' too.
    """
    store = Path(store).absolute()
    python = python or sys.executable
    workdir = (workdir or Path.cwd()).absolute()
    logs = store.with_suffix(".logs")
    array = f"0-{n_jobs - 1}" + (f"%{max_running}" if max_running else "")
    lines = [
        "#!/bin/bash",
        f"# neurosig sweep {name!r} as a job array: one task per job (point x seed), all",
        f"# writing {store}. Submit: sbatch THIS_FILE. Status: neurosig sweep status STORE.",
        f"#SBATCH --job-name=neurosig-{name}",
        f"#SBATCH --array={array}",
        "#SBATCH --ntasks=1",
        "#SBATCH --cpus-per-task=1",
        f"#SBATCH --output={logs}/%A_%a.out",
        *(f"#SBATCH {option}" for option in options),
        "set -euo pipefail",
        f"cd {shlex.quote(str(workdir))}",
        "export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1",
        f"export {REPRODUCIBLE_ENV}={'1' if reproducible() else '0'}",
        f"exec {shlex.quote(python)} -m neurosig sweep job {shlex.quote(str(store))} "
        '"$SLURM_ARRAY_TASK_ID"',
    ]
    return "\n".join(lines) + "\n"
