"""Figures of parameter sweeps: one accuracy per condition, with the spread over seeds.

Input is the Dataset of :func:`neurosig.sweep.export_sweep` (or :func:`~neurosig.sweep.run_sweep`):
one dimension per swept field plus ``seed``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from neurosig.plotting import STYLE, figure_axes


def _label(da: xr.DataArray) -> str:
    units = da.attrs.get("units")
    return f"{da.name} ({units})" if units and units != "1" else str(da.name)


def _tick(value) -> str:
    if isinstance(value, bool | np.bool_):
        return "on" if value else "off"
    if isinstance(value, float | np.floating):
        return f"{value:g}"
    return str(value)


def accuracy_by_condition(
    ds: xr.Dataset,
    *,
    x: str | None = None,
    hue: str | None = None,
    variable: str = "test_accuracy",
    ax: Axes | None = None,
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
    fig, ax = figure_axes(ax)
    with plt.style.context(STYLE):
        width = 0.8 / len(hues)
        positions = np.arange(da.sizes[x])
        rng = np.random.default_rng(0)  # a fixed jitter, so the figure is reproducible
        for k, h in enumerate(hues):
            values = da.sel({hue: h}).values if hue else da.values
            offset = positions + (k - (len(hues) - 1) / 2) * width
            mean = np.nanmean(values, axis=-1)
            sd = np.nanstd(values, axis=-1, ddof=1) if values.shape[-1] > 1 else None
            label = f"{hue} = {_tick(h)}" if hue else None
            bars = ax.bar(offset, mean, width * 0.9, yerr=sd, label=label, alpha=0.55,
                          capsize=2, error_kw={"linewidth": 0.8})  # fmt: skip
            colour = bars.patches[0].get_facecolor()
            for i in range(values.shape[0]):
                finite = values[i][np.isfinite(values[i])]
                jitter = rng.uniform(-0.25, 0.25, finite.size) * width
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
    return fig
