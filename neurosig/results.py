"""Results as labelled ``xarray.Dataset`` objects: provenance, atomic netCDF writes, reading back.

A Result written by :func:`save_result` is either the previous file or the new one, never a
mix: the data go to a temporary file in the same folder, are flushed to disk, and the temporary
file is renamed over the target (``os.replace`` is atomic on POSIX and Windows).
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import xarray as xr

from neurosig.errors import DataError

ENGINE = "h5netcdf"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def git_commit(folder: str | Path | None = None) -> str:
    """The git commit of neurosig's source tree (``+dirty`` if modified), or ``""``."""
    folder = Path(folder or Path(__file__).resolve().parent)
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    return commit + ("+dirty" if dirty.strip() else "")


def provenance() -> dict[str, str]:
    """Versions, machine and commit: the attributes every Result carries."""
    return {
        "neurosig_version": _version("neurosig"),
        "numpy_version": _version("numpy"),
        "brian2_version": _version("brian2"),
        "xarray_version": _version("xarray"),
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": git_commit(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def _clean_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    """netCDF attributes must be strings or numbers: turn the rest into strings."""
    out = {}
    for key, value in attrs.items():
        if isinstance(value, bool):
            value = int(value)
        elif not isinstance(value, str | int | float):
            value = str(value)
        out[key] = value
    return out


def save_result(ds: xr.Dataset, path: str | Path) -> Path:
    """Write ``ds`` to ``path`` (netCDF4 via h5netcdf) atomically; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = ds.copy()
    ds.attrs = _clean_attrs(ds.attrs)
    for var in ds.variables.values():
        var.attrs = _clean_attrs(var.attrs)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        ds.to_netcdf(tmp, engine=ENGINE)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_result(path: str | Path) -> xr.Dataset:
    """Read a Result written by :func:`save_result` fully into memory.

    Examples
    --------
    >>> ds = load_result("results/demo/sp-core-digits.nc")  # doctest: +SKIP
    >>> float(ds.test_accuracy[-1])  # doctest: +SKIP
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such result file")
    try:
        return xr.load_dataset(path, engine=ENGINE)
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: not a readable neurosig result ({err})") from None
