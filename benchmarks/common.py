"""Helpers shared by the benchmark scripts: thread limits, machine description, tables, CSV.

Nothing here imports numpy, so that :func:`limit_blas_threads` can run before it is imported.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import os
import platform
import statistics
import sys
import tempfile
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path

BLAS_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def limit_blas_threads(n: int) -> None:
    """Ask every BLAS/OpenMP library of processes started from now on for ``n`` threads.

    Takes effect only in processes that import numpy afterwards (spawned workers); numpy
    already imported in this process keeps its thread pool.
    """
    for name in BLAS_THREAD_VARIABLES:
        os.environ[name] = str(n)


def blas_pools() -> list[dict] | None:
    """threadpoolctl's description of the loaded BLAS/OpenMP pools, or None without it."""
    try:
        import threadpoolctl
    except ImportError:
        return None
    return threadpoolctl.threadpool_info()


def blas_threads() -> int | None:
    """Threads of the BLAS used by numpy in this process (None if threadpoolctl is missing)."""
    pools = [p for p in blas_pools() or [] if p.get("user_api") == "blas"]
    return int(pools[0]["num_threads"]) if pools else None


def blas_description() -> str:
    """One line: which BLAS numpy uses, its version, CPU kernel and threads."""
    pools = blas_pools()
    if pools is None:
        return "unknown (threadpoolctl not installed)"
    parts = [
        f"{p.get('internal_api')} {p.get('version') or ''} "
        f"({p.get('architecture') or '?'}, {p.get('num_threads')} threads)".replace("  ", " ")
        for p in pools
    ]
    return "; ".join(parts) or "none found by threadpoolctl"


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def machine_lines() -> list[str]:
    """Markdown bullet lines describing this machine and software."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count()
    return [
        f"- machine: {platform.platform()}, CPU: {cpu_model()}",
        f"- CPUs: {os.cpu_count()} (usable by this process: {usable})",
        f"- numpy BLAS: {blas_description()}",
        f"- python {platform.python_version()}, numpy {package_version('numpy')}, "
        f"neurosig {package_version('neurosig')}",
    ]


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), or the platform's guess."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def command_line() -> str:
    """The command that started this process, as it could be typed again."""
    import shlex

    return shlex.join([Path(sys.executable).name, *sys.argv])


# --------------------------------------------------------------------------------------------
# Numbers and tables
# --------------------------------------------------------------------------------------------


def finite(values: Iterable[float]) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v)]


def mean_sd(values: Sequence[float], scale: float = 1.0, digits: int = 1) -> str:
    """``"58.9 ± 0.7"`` (sample sd, ddof=1); one value gives no sd; none gives ``"-"``."""
    vals = [v * scale for v in finite(values)]
    if not vals:
        return "-"
    if len(vals) == 1:
        return f"{vals[0]:.{digits}f}"
    return f"{statistics.mean(vals):.{digits}f} ± {statistics.stdev(vals):.{digits}f}"


def mean_or_dash(values: Sequence[float], scale: float = 1.0, digits: int = 1) -> str:
    vals = [v * scale for v in finite(values)]
    return f"{statistics.mean(vals):.{digits}f}" if vals else "-"


def median_or_nan(values: Sequence[float]) -> float:
    vals = finite(values)
    return statistics.median(vals) if vals else float("nan")


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub Markdown table; the first column left-aligned, the others right-aligned."""
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = [
            str(c).ljust(w) if i == 0 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = ["-" * (widths[0] + 2)] + ["-" * (w + 1) + ":" for w in widths[1:]]
    return "\n".join([line(headers), "|" + "|".join(rule) + "|", *map(line, rows)])


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_csv(path: Path, rows: Sequence[dict], fields: Sequence[str]) -> None:
    """Write ``rows`` (dicts) as CSV with the columns ``fields``, atomically."""
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(fields), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, buf.getvalue())


def read_csv(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file written by :func:`write_csv` (values are strings)."""
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
