"""Paired differences between the conditions of a sweep: the same seeds, condition minus reference.

A sweep trains seed ``s`` of every grid point from the same ``train.seed``
(:mod:`neurosig.sweep`), so two conditions differ only in what the grid changes, and their
difference is measured seed by seed. For each metric of :data:`PAIRED_METRICS` and each
condition, :func:`paired_differences` gives the per-seed differences to a reference condition,
their mean and a paired bootstrap 95 % CI over seeds (:func:`scipy.stats.bootstrap`,
percentile method, fixed generator: the same CI at every export); with fewer than
:data:`MIN_SEEDS_FOR_CI` seeds the CI is NaN. :func:`difference_rows`,
:func:`differences_markdown` and :func:`write_differences` turn them into a table
(``neurosig sweep export STORE OUT.nc --diffs D.md``; ``docs/sweeps.md``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurosig.atomic import write_text_atomic
from neurosig.config import toml_value
from neurosig.errors import ConfigError

__all__ = [
    "MIN_SEEDS_FOR_CI",
    "PAIRED_METRICS",
    "difference_rows",
    "differences_markdown",
    "paired_differences",
    "reference_condition",
    "write_differences",
]

# the final accuracies compared between conditions: name -> split of ``final_accuracy``
PAIRED_METRICS = {"test_accuracy": "test", "validation_accuracy": "validation"}
MIN_SEEDS_FOR_CI = 3  # a bootstrap over fewer seeds has too few distinct resamples to mean much


def _equal(coordinate: Any, value: Any) -> bool:
    """Whether a coordinate value is ``value`` (numbers to 1e-9 relative, units as stored)."""
    if isinstance(value, bool) or isinstance(coordinate, bool | np.bool_):
        return isinstance(value, bool) and bool(coordinate) is value
    if isinstance(value, int | float) and isinstance(coordinate, int | float | np.number):
        return bool(np.isclose(float(coordinate), float(value), rtol=1e-9, atol=0))
    return str(coordinate) == str(value)


def reference_condition(ds: xr.Dataset, reference: Mapping[str, Any] | None) -> dict[str, int]:
    """Positions of the reference condition: swept dimension -> index.

    ``None``: the first grid point (index 0 of every field; point 0 of a list). A mapping of
    fields to values (numbers in the units of the coordinate, ``true``, strings) picks those
    values; fields of a grid it leaves out are *matched*: each condition is compared with the
    reference at its own value of them. Raises :class:`ConfigError` for an unknown field or
    value.
    """
    dims = [d for d in ds.status.dims if d != "seed"]
    if reference is None:
        return dict.fromkeys(dims, 0)
    fields = [str(f).strip() for f in ds.attrs["fields"].split(",")]
    out = {}
    chosen = np.ones(ds.sizes.get("point", 1), dtype=bool)
    for key, wanted in reference.items():
        if key not in ds.coords or (key not in fields and key != "point"):
            raise ConfigError(
                f"reference {key}={wanted!r}: not a swept field; choose among {', '.join(dims)}"
                f"{'' if dims == fields else ' (or ' + ', '.join(fields) + ')'}"
            )
        values = ds[key].values
        match = np.array([_equal(v, toml_value(wanted)) for v in values])
        if not match.any():
            raise ConfigError(
                f"reference {key}={wanted!r}: no such value; the sweep has {key} = "
                f"{', '.join(str(v) for v in values)}"
            )
        if "point" in dims:
            chosen &= match
        else:
            out[key] = int(np.flatnonzero(match)[0])
    if "point" in dims:
        if chosen.sum() != 1:
            raise ConfigError(
                f"reference {dict(reference)!r} matches {int(chosen.sum())} points of the list; "
                "name one (point=N or more fields)"
            )
        out["point"] = int(np.flatnonzero(chosen)[0])
    return out


def _bootstrap_ci(
    condition: np.ndarray, reference: np.ndarray, confidence_level: float, n_resamples: int
) -> tuple[float, float]:
    """Percentile bootstrap CI of ``mean(condition - reference)``, resampling seed indices."""
    if np.all(condition - reference == (condition - reference)[0]):
        d = float(condition[0] - reference[0])  # every resample has this mean
        return d, d
    # imported here: scipy.stats takes about 1.3 s to import, and every sweep worker and
    # `neurosig sweep` command imports this module without exporting (docs/speed.md)
    import scipy.stats

    res = scipy.stats.bootstrap(
        (condition, reference),
        lambda a, b, axis: np.mean(a - b, axis=axis),
        paired=True,
        vectorized=True,
        confidence_level=confidence_level,
        n_resamples=n_resamples,
        method="percentile",
        rng=np.random.default_rng(0),  # the same CI at every export
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def paired_differences(
    ds: xr.Dataset,
    reference: Mapping[str, Any] | None = None,
    *,
    confidence_level: float = 0.95,
    n_resamples: int = 9999,
) -> xr.Dataset:
    """Each condition's final accuracies minus the reference condition's, paired by seed.

    For each metric of :data:`PAIRED_METRICS` (final test and validation accuracy of the
    primary readout) and each condition ``c``, with ``r`` the reference condition
    (:func:`reference_condition`) and ``s`` the seeds finished at both:

    ``d_s = m(c, s) - m(r, s)``, ``mean = (1/n) sum_s d_s``, and a percentile bootstrap
    confidence interval of the mean that resamples the seed indices with replacement
    (:func:`scipy.stats.bootstrap`, ``paired=True``; Efron & Tibshirani 1993, ch. 13). The
    interval is NaN with fewer than :data:`MIN_SEEDS_FOR_CI` seeds: not meaningful there.

    Parameters
    ----------
    ds : xarray.Dataset
        A sweep's export (:func:`export_sweep`), trained with paired seeds.
    reference : mapping field -> value, optional
        The reference condition (default: the first grid point).
    confidence_level : float
        Of the interval (default 0.95).
    n_resamples : int
        Bootstrap resamples (a fixed generator: the same interval at every call).

    Returns
    -------
    xarray.Dataset
        ``paired_difference`` (metric, swept fields..., seed), ``mean_difference`` and
        ``n_paired_seeds`` (metric, swept fields...), ``difference_ci`` (metric, swept
        fields..., bound); accuracies as fractions (units "1").

    Examples
    --------
    >>> ds = export_sweep("results/sweeps/example.zarr")  # doctest: +SKIP
    >>> d = paired_differences(ds, {"lr": 1e-3})  # doctest: +SKIP
    >>> d.mean_difference.sel(metric="test_accuracy")  # doctest: +SKIP
    """
    dims = tuple(ds.status.dims)
    primary = ds.attrs.get("primary_readout", str(ds.readout.values[0]))
    final = ds.final_accuracy.sel(readout=primary, drop=True)
    metrics = xr.concat(
        [final.sel(split=split, drop=True) for split in PAIRED_METRICS.values()],
        dim=xr.DataArray(list(PAIRED_METRICS), dims="metric", name="metric"),
    )
    where = reference_condition(ds, reference)
    ref = metrics.isel(where)
    diff = (metrics - ref).transpose("metric", *dims)
    cond, base = (a.broadcast_like(diff).transpose(*diff.dims).values for a in (metrics, ref))
    grid = diff.shape[:-1]
    mean, n = np.full(grid, np.nan), np.zeros(grid, dtype=int)
    ci = np.full((*grid, 2), np.nan)
    for i in np.ndindex(*grid):
        ok = np.isfinite(cond[i]) & np.isfinite(base[i])
        n[i] = ok.sum()
        if n[i]:
            mean[i] = float(np.mean(cond[i][ok] - base[i][ok]))
        if n[i] >= MIN_SEEDS_FOR_CI:
            ci[i] = _bootstrap_ci(cond[i][ok], base[i][ok], confidence_level, n_resamples)
    label = ", ".join(f"{d}={ds[d].values[i]}" for d, i in where.items())
    matched = [d for d in dims if d not in where and d != "seed"]
    if matched:
        label += f" (at each {', '.join(matched)})"
    attrs = {"units": "1", "reference": label, "reference_index": json.dumps(where)}
    out = xr.Dataset(coords={"metric": list(PAIRED_METRICS), "bound": ["low", "high"]})
    out["paired_difference"] = (
        diff.dims,
        diff.values,
        {**attrs, "long_name": "final accuracy minus the reference's, seed by seed"},
    )
    out["mean_difference"] = (diff.dims[:-1], mean, {**attrs, "long_name": "mean over seeds"})
    out["difference_ci"] = (
        (*diff.dims[:-1], "bound"),
        ci,
        {
            **attrs,
            "long_name": f"{100 * confidence_level:g}% bootstrap CI of the mean difference",
            "confidence_level": confidence_level,
            "method": f"percentile bootstrap over seeds, paired, {n_resamples} resamples",
            "comment": f"NaN with fewer than {MIN_SEEDS_FOR_CI} seeds: not meaningful",
        },
    )
    out["n_paired_seeds"] = (diff.dims[:-1], n, {"long_name": "seeds finished at both"})
    return out.assign_coords({k: c for k, c in metrics.coords.items() if k != "metric"})


def difference_rows(ds: xr.Dataset) -> list[dict[str, Any]]:
    """One row per metric and condition other than its reference: the table of
    :func:`paired_differences` (``ds`` holds its variables, e.g. :func:`export_sweep`'s)."""
    d = ds.paired_difference
    grid_dims = d.dims[1:-1]
    where = json.loads(d.attrs["reference_index"])
    rows = []
    for m, metric in enumerate(d.metric.values):
        for i in np.ndindex(*d.shape[1:-1]):
            at = dict(zip(grid_dims, i, strict=True))
            if all(at[k] == v for k, v in where.items()):
                continue  # a reference condition: differences 0 by construction
            per_seed = d.values[(m, *i)]
            n = int(ds.n_paired_seeds.values[(m, *i)])
            low, high = ds.difference_ci.values[(m, *i)]
            rows.append(
                {
                    "metric": str(metric),
                    "condition": ", ".join(
                        f"{dim}={ds[dim].values[k]}" for dim, k in zip(grid_dims, i, strict=True)
                    ),
                    "reference": ds.mean_difference.attrs["reference"],
                    "n_seeds": n,
                    "mean_difference": float(ds.mean_difference.values[(m, *i)]),
                    "ci_low": float(low),
                    "ci_high": float(high),
                    "per_seed": [float(v) for v in per_seed],
                    "note": "" if n >= MIN_SEEDS_FOR_CI else f"n < {MIN_SEEDS_FOR_CI}: no CI",
                }
            )
    return rows


def differences_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows of :func:`difference_rows` as a Markdown table, differences in percentage
    points (pp)."""
    if not rows:
        return "no paired differences (one condition, or no point done)\n"
    lines = [
        f"Paired differences to {rows[0]['reference']} (condition minus reference, same seeds; "
        "percentage points)\n",
        "| metric | condition | seeds | mean | 95% CI | per seed |",
        "|---|---|---:|---:|---|---|",
    ]
    for r in rows:
        ci = (
            f"[{100 * r['ci_low']:+.2f}, {100 * r['ci_high']:+.2f}]"
            if np.isfinite(r["ci_low"])
            else f"not meaningful (< {MIN_SEEDS_FOR_CI} seeds)"
        )
        seeds = " ".join("n/a" if np.isnan(v) else f"{100 * v:+.2f}" for v in r["per_seed"])
        lines.append(
            f"| {r['metric']} | {r['condition']} | {r['n_seeds']} | "
            f"{100 * r['mean_difference']:+.2f} | {ci} | {seeds} |"
        )
    return "\n".join(lines) + "\n"


def write_differences(rows: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """Write the rows of :func:`difference_rows` atomically: Markdown (``.md``, percentage
    points) or CSV (``.csv``, fractions; ``per_seed`` space-separated)."""
    path = Path(path)
    if path.suffix == ".md":
        return write_text_atomic(path, differences_markdown(rows))
    if path.suffix != ".csv":
        raise ConfigError(f"{path}: write the differences to a .md or a .csv file")
    buffer = io.StringIO()
    fields = ["metric", "condition", "reference", "n_seeds", "mean_difference", "ci_low"]
    writer = csv.DictWriter(buffer, [*fields, "ci_high", "per_seed", "note"])
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, "per_seed": " ".join(repr(v) for v in r["per_seed"])})
    return write_text_atomic(path, buffer.getvalue())
