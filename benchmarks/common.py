"""Helpers shared by the benchmark scripts: machine description, provenance, tables, CSV.

Nothing here imports numpy at import time, so that a script can call
:func:`neurosig.threads.limit_blas_threads` before numpy loads (``neurosig.threads`` and
``neurosig.atomic`` import only ``neurosig.errors``). :func:`check_clean_tree` imports
``neurosig.results`` (numpy, xarray): call it after the thread limits.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import math
import os
import platform
import statistics
import sys
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path

from neurosig.atomic import write_text_atomic


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


def write_report(path: str | Path, title: str, intro: str, table: str) -> str:
    """A benchmark's Markdown report (title, what was run, the table, the machine, the command
    line), printed and written atomically to ``path``; returns the text."""
    from neurosig.atomic import write_text_atomic

    lines = [f"# {title}", "", intro, "", table, "", *machine_lines(), "",
             f"    {command_line()}", ""]  # fmt: skip
    text = "\n".join(lines)
    print(text)
    write_text_atomic(Path(path), text)
    return text


def machine_lines() -> list[str]:
    """Markdown bullet lines describing this machine and software."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count()
    import neurosig

    return [
        f"- machine: {platform.platform()}, CPU: {cpu_model()}",
        f"- CPUs: {os.cpu_count()} (usable by this process: {usable})",
        f"- numpy BLAS: {blas_description()}",
        f"- python {platform.python_version()}, numpy {package_version('numpy')}, "
        f"neurosig {neurosig.__version__}",
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


# --------------------------------------------------------------------------------------------
# Provenance: published rows come from a commit
# --------------------------------------------------------------------------------------------


def add_allow_dirty(parser: argparse.ArgumentParser) -> None:
    """The ``--allow-dirty`` option of every script that writes ``benchmarks/results``."""
    parser.add_argument(
        "--allow-dirty",
        action="store_true",
        help="write results even though tracked files have uncommitted changes (the rows' "
        "git commit is then marked +dirty)",
    )


def check_clean_tree(parser: argparse.ArgumentParser, allow_dirty: bool) -> str:
    """The git commit the results will carry; refuses (exit 2) to go on from a dirty tree.

    Results written from uncommitted changes to tracked files (``neurosig.results.git_commit``
    ends in ``+dirty``) cannot be reproduced from any commit, so a script stops before it
    measures anything, unless ``--allow-dirty`` was given. Untracked files do not count.
    """
    from neurosig.results import git_commit

    commit = git_commit()
    if commit.endswith("+dirty") and not allow_dirty:
        parser.error(
            f"tracked files have uncommitted changes (git commit {commit}): results written "
            "now could not be reproduced from a commit. Commit first, or give --allow-dirty "
            "to write them marked +dirty"
        )
    return commit


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
# Files (written with neurosig.atomic: a reader sees the old file or the new one)
# --------------------------------------------------------------------------------------------


def write_csv(path: Path, rows: Sequence[dict], fields: Sequence[str]) -> None:
    """Write ``rows`` (dicts) as CSV with the columns ``fields``, atomically."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(fields), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, buf.getvalue())


def read_csv(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file written by :func:`write_csv` (values are strings)."""
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
