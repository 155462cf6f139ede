"""Figures of parameter sweeps: accuracy per condition, and the paired differences between
conditions.

Input is the Dataset of :func:`neurosig.sweep.export_sweep` (or :func:`~neurosig.sweep.run_sweep`):
one dimension per swept field plus ``seed``. Seeds are paired (every condition trains seed ``s``
from the same ``train.seed``), so conditions are compared seed by seed
(:func:`neurosig.paired.paired_differences`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from neurosig.errors import DataError
from neurosig.paired import PAIRED_METRICS, paired_differences
from neurosig.plotting import OKABE_ITO, attach_data, figure_axes, styled

__all__ = ["accuracy_by_condition", "condition_labels", "paired_difference_plot"]


def _label(da: xr.DataArray) -> str:
    units = da.attrs.get("units")
    return f"{da.name} ({units})" if units and units != "1" else str(da.name)


def _tick(value) -> str:
    if isinstance(value, bool | np.bool_):
        return "on" if value else "off"
    if isinstance(value, float | np.floating):
        return f"{value:g}"
    return str(value)


@styled
def accuracy_by_condition(
    ds: xr.Dataset,
    *,
    x: str | None = None,
    hue: str | None = None,
    variable: str = "test_accuracy",
    ax: Axes | None = None,
    width: str = "single",
    height: float | None = None,
) -> Figure:
    """Accuracy (%) per condition: each seed as a dot, the mean +- sd over seeds as a bar.

    Parameters
    ----------
    ds : xarray.Dataset
        A sweep Dataset with a ``seed`` dimension and at most two swept fields (select or
        average the others first, e.g. ``ds.sel(delay=2.0)``).
    x, hue : str, optional
        The field along the x axis and the field shown by colour (default: the first and the
        second swept field).
    variable : str
        A per-point accuracy (fraction) of ``ds``; points not done (NaN) are left out.
    ax : Axes, optional
        Draw into these axes instead of a new figure.
    width, height
        Journal width and height (mm) of a new figure.

    Returns
    -------
    Figure
        The accuracies drawn (%, the swept fields and ``seed``) attached as ``accuracy``.

    Examples
    --------
    >>> ds = export_sweep("results/sweeps/example.zarr")  # doctest: +SKIP
    >>> accuracy_by_condition(ds, x="model_lr", hue="loss")  # doctest: +SKIP
    """
    da = ds[variable]
    fields = [d for d in da.dims if d != "seed"]
    if "seed" not in da.dims or not 1 <= len(fields) <= 2:
        raise ValueError(
            f"{variable} has dims {da.dims}: give seed and one or two swept fields (select or "
            "average the others first)"
        )
    x = x or fields[0]
    hue = hue or next((f for f in fields if f != x), None)
    if {x, hue} - {None} != set(fields):
        raise ValueError(f"x = {x!r}, hue = {hue!r}: name the swept fields {fields}")
    da = da.transpose(x, *([hue] if hue else []), "seed") * 100
    hues = list(da[hue].values) if hue else [None]
    fig, ax = figure_axes(ax, width=width, height=height)
    width_bar = 0.8 / len(hues)
    positions = np.arange(da.sizes[x])
    rng = np.random.default_rng(0)  # a fixed jitter, so the figure is reproducible
    for k, h in enumerate(hues):
        values = da.sel({hue: h}).values if hue else da.values
        offset = positions + (k - (len(hues) - 1) / 2) * width_bar
        mean = np.nanmean(values, axis=-1)
        sd = np.nanstd(values, axis=-1, ddof=1) if values.shape[-1] > 1 else None
        label = f"{hue} = {_tick(h)}" if hue else None
        bars = ax.bar(offset, mean, width_bar * 0.9, yerr=sd, label=label, alpha=0.55,
                      capsize=2, error_kw={"linewidth": 0.8})  # fmt: skip
        colour = bars.patches[0].get_facecolor()
        for i in range(values.shape[0]):
            finite = values[i][np.isfinite(values[i])]
            jitter = rng.uniform(-0.25, 0.25, finite.size) * width_bar
            ax.plot(offset[i] + jitter, finite, "o", color=colour[:3], markersize=2.5,
                    markeredgewidth=0)  # fmt: skip
    ax.set_xticks(positions, [_tick(v) for v in da[x].values])
    ax.set_xlabel(_label(ds[x]))
    ax.set_ylabel(f"{variable.replace('_', ' ')} (%)")
    ax.set_ylim(0, 100)
    n_seeds = da.sizes["seed"]
    spread = f"mean ± sd over {n_seeds} seeds" if n_seeds > 1 else ""
    if hue:  # above the axes, where it hides no bar
        ax.legend(
            title=spread or None,
            loc="lower left",
            bbox_to_anchor=(0, 1.0),
            ncols=min(len(hues), 3),
            alignment="left",
        )
    else:
        ax.set_title(spread, loc="left")
    acc = da.rename(variable).assign_attrs(units="%", long_name=variable.replace("_", " "))
    attach_data(ax, acc.to_dataset(name="accuracy").assign_attrs(figure="sweep_accuracy"))
    return fig


def condition_labels(ds: xr.Dataset, dims: tuple[str, ...]) -> list[str]:
    """``field=value, ...`` of every condition of the grid ``dims`` (row-major order).

    Examples
    --------
    >>> grid = xr.Dataset(coords={"lr": [0.01, 0.1], "dale": [False, True]})
    >>> condition_labels(grid, ("lr", "dale"))
    ['lr=0.01, dale=off', 'lr=0.01, dale=on', 'lr=0.1, dale=off', 'lr=0.1, dale=on']
    """
    shape = tuple(ds.sizes[d] for d in dims)
    return [
        ", ".join(f"{d}={_tick(ds[d].values[i])}" for d, i in zip(dims, index, strict=True))
        for index in np.ndindex(*shape)
    ]


def _differences(ds: xr.Dataset, reference: Mapping[str, Any] | None) -> xr.Dataset:
    """The paired differences of ``ds``: its own (``export_sweep``'s) or computed now."""
    if "paired_difference" in ds and reference is None:
        return ds
    if "final_accuracy" not in ds or "status" not in ds:
        raise DataError(
            "figure 'sweep_differences': the Dataset has no paired differences and no "
            "final_accuracy and status to compute them from; give the export of a sweep store "
            "(neurosig.sweep.export_sweep) trained with paired seeds"
        )
    return paired_differences(ds, reference)


@styled
def paired_difference_plot(
    ds: xr.Dataset,
    reference: Mapping[str, Any] | None = None,
    *,
    metric: str = "test_accuracy",
    ax: Axes | None = None,
    width: str = "single",
    height: float | None = None,
) -> Figure:
    """Each condition's accuracy minus the reference condition's, seed by seed (percentage points).

    One column per condition other than the reference: a dot per seed (condition minus
    reference with the same seed), the mean difference as a bar and its 95 % paired bootstrap
    CI (:func:`neurosig.paired.paired_differences`; none with fewer than 3 seeds), a line at 0.

    Parameters
    ----------
    ds : xarray.Dataset
        A sweep's export (:func:`neurosig.sweep.export_sweep`): its paired differences, or its
        ``final_accuracy`` to compute them against ``reference``.
    reference : mapping field -> value, optional
        The reference condition (default: the export's, else the first grid point).
    metric : str
        One of :data:`neurosig.paired.PAIRED_METRICS`.
    ax, width, height
        As in :func:`accuracy_by_condition`.

    Returns
    -------
    Figure
        ``difference`` (condition, seed), ``mean_difference`` and ``ci`` (condition, bound) in
        percentage points attached.
    """
    if metric not in PAIRED_METRICS:
        raise ValueError(f"metric = {metric!r}: one of {', '.join(PAIRED_METRICS)}")
    diffs = _differences(ds, reference)
    d = diffs.paired_difference.sel(metric=metric, drop=True)
    grid = tuple(dim for dim in d.dims if dim != "seed")
    labels = condition_labels(diffs, grid)
    per_seed = 100 * d.transpose(*grid, "seed").values.reshape(len(labels), -1)
    mean = 100 * diffs.mean_difference.sel(metric=metric).transpose(*grid).values.reshape(-1)
    ci = 100 * diffs.difference_ci.sel(metric=metric).transpose(*grid, "bound").values
    ci = ci.reshape(-1, 2)
    where = json.loads(d.attrs["reference_index"])  # a reference condition differs by 0
    keep = np.array([
        not all(index[grid.index(dim)] == i for dim, i in where.items())
        for index in np.ndindex(*(diffs.sizes[dim] for dim in grid))
    ])  # fmt: skip
    reference_label = d.attrs.get("reference", "the reference")
    fig, ax = figure_axes(ax, width=width, height=height)
    positions = np.arange(int(keep.sum()))
    rng = np.random.default_rng(0)  # a fixed jitter, so the figure is reproducible
    ax.axhline(0.0, color="0.5", linewidth=0.6)
    ax.bar(positions, mean[keep], 0.6, color=OKABE_ITO[0], alpha=0.35)
    for p, row in zip(positions, per_seed[keep], strict=True):
        finite = row[np.isfinite(row)]
        ax.plot(p + rng.uniform(-0.15, 0.15, finite.size), finite, "o", color=OKABE_ITO[0],
                markersize=2.5, markeredgewidth=0)  # fmt: skip
    bounds = ci[keep]
    has_ci = np.isfinite(bounds).all(axis=1)
    if has_ci.any():
        err = np.abs(bounds[has_ci].T - mean[keep][has_ci])
        ax.errorbar(positions[has_ci], mean[keep][has_ci], yerr=err, fmt="none", color="k",
                    capsize=2, linewidth=0.8)  # fmt: skip
    ax.set_xticks(positions, [lab for lab, k in zip(labels, keep, strict=True) if k],
                  rotation=30, ha="right")  # fmt: skip
    ax.set_ylabel(f"{metric.replace('_', ' ')} difference (pp)")
    ax.set_title(f"minus {reference_label}", loc="left")
    attrs = {"units": "pp", "long_name": "condition minus reference, same seed"}
    kept = [lab for lab, k in zip(labels, keep, strict=True) if k]
    attach_data(ax, xr.Dataset(
        {
            "difference": (("condition", "seed"), per_seed[keep], attrs),
            "mean_difference": ("condition", mean[keep], {**attrs, "long_name": "mean over seeds"}),
            "ci": (("condition", "bound"), bounds,
                   {**attrs, "long_name": "95% paired bootstrap CI of the mean"}),
        },
        coords={"condition": kept, "bound": ["low", "high"], "seed": d.seed.values},
        attrs={"figure": "sweep_differences", "metric": metric, "reference": reference_label},
    ))  # fmt: skip
    return fig
