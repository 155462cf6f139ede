"""How many BLAS/OpenMP threads the processes neurosig starts may use.

Several simulations on one machine each want one thread (two processes with two OpenMP threads
each on two cores run slower than with one). These variables are read by numpy's BLAS and by
OpenMP when a process starts, so they are set in the environment that child processes inherit.
This module imports nothing heavy: benchmarks call it before numpy is loaded.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

BLAS_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def limit_blas_threads(n: int) -> None:
    """Give every process started from now on ``n`` BLAS/OpenMP threads (overrides the user's).

    Takes effect in this process only if numpy is imported afterwards.
    """
    os.environ.update(dict.fromkeys(BLAS_THREAD_VARIABLES, str(n)))


@contextlib.contextmanager
def child_blas_threads(n: int = 1) -> Iterator[None]:
    """Processes started inside this block get ``n`` threads, unless the user set a number.

    Variables the user set are left alone; the ones this block adds are removed on exit.
    """
    added = [name for name in BLAS_THREAD_VARIABLES if name not in os.environ]
    os.environ.update(dict.fromkeys(added, str(n)))
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)
