"""Publication figures from stored Results: xarray in, matplotlib Figure out.

Every function takes an optional ``ax`` and draws into it, so figures compose into panels, and
returns the Figure. The package holds the mechanisms every figure shares:

* :mod:`neurosig.plotting.style`: the style file, journal widths, colour maps, new figures
  (:func:`use_style`, :func:`figure_axes`, :func:`figure_panels`);
* :mod:`neurosig.plotting.save`: :func:`save_figure` (PDF, SVG, PNG, provenance, the plotted
  numbers as netCDF) and :func:`attach_data`;
* :mod:`neurosig.plotting.standards`: :func:`text_problems`, the check of text size, clipping
  and overlap;

and two figures: :func:`learning_curves` and the spike :func:`raster`. The catalogue of
figures built from Results and sweeps is :mod:`neurosig.analyses.figures`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import scipy.stats
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from neurosig.plotting.save import attach_data, figure_data, save_figure
from neurosig.plotting.standards import text_problems
from neurosig.plotting.style import (
    DIVERGING_CMAP,
    OKABE_ITO,
    SEQUENTIAL_CMAP,
    STYLE,
    WIDTHS_MM,
    figure_axes,
    figure_panels,
    journal_width,
    style_context,
    styled,
    use_style,
)
from neurosig.results import experiment, primary_accuracy

__all__ = [
    "DIVERGING_CMAP",
    "OKABE_ITO",
    "SEQUENTIAL_CMAP",
    "Results",
    "STYLE",
    "WIDTHS_MM",
    "attach_data",
    "figure_axes",
    "figure_data",
    "figure_panels",
    "group_results",
    "journal_width",
    "learning_curves",
    "mean_ci",
    "raster",
    "save_figure",
    "style_context",
    "styled",
    "text_problems",
    "use_style",
]

Results = xr.Dataset | Sequence[xr.Dataset] | Mapping[str, xr.Dataset | Sequence[xr.Dataset]]
"""What figures of several Results take: one, a sequence, or label -> Result(s)."""


def group_results(results: Results) -> dict[str, list[xr.Dataset]]:
    """Results grouped into conditions: label -> the Results (seeds) of one experiment.

    One Result, a sequence of Results (grouped by experiment name, in order of first
    appearance: the seeds of a model end up together), or a mapping label -> Result(s) (kept).

    Examples
    --------
    >>> {label: len(runs) for label, runs in group_results({"SP": xr.Dataset()}).items()}
    {'SP': 1}
    """
    if isinstance(results, xr.Dataset):
        results = [results]
    if isinstance(results, Mapping):
        return {str(k): [v] if isinstance(v, xr.Dataset) else list(v) for k, v in results.items()}
    groups: dict[str, list[xr.Dataset]] = {}
    for ds in results:
        groups.setdefault(experiment(ds).name, []).append(ds)
    return groups


def mean_ci(
    values: np.ndarray, axis: int = 0, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over ``axis`` and the two-sided Student-t confidence interval of the mean.

    ``mean +- t_{(1 + c)/2, n - 1} s / sqrt(n)`` with ``s`` the sample sd (ddof 1) of the ``n``
    finite values; the bounds are NaN where ``n < 2``.

    Examples
    --------
    >>> mean, low, high = mean_ci(np.array([[0.5], [0.7]]))
    >>> [round(float(v[0]), 3) for v in (mean, low, high)]
    [0.6, -0.671, 1.871]
    """
    values = np.asarray(values, dtype=float)
    n = np.isfinite(values).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices: NaN, as documented
        mean = np.nanmean(values, axis=axis)
        sd = np.nanstd(values, axis=axis, ddof=1)
        half = scipy.stats.t.ppf((1 + confidence) / 2, np.maximum(n - 1, 1)) * sd / np.sqrt(n)
    half = np.where(n > 1, half, np.nan)
    return mean, mean - half, mean + half


@styled
def learning_curves(
    results: Results,
    *,
    split: str = "test",
    confidence: float = 0.95,
    title: str | None = None,
    ax: Axes | None = None,
    width: str = "single",
    height: float | None = None,
) -> Figure:
    """Accuracy (in %) of the primary readout against epoch, one curve per model.

    Parameters
    ----------
    results
        One Result; Results (grouped by experiment, :func:`group_results`); or a mapping
        label -> Result or label -> Results. A group of several Results (seeds) is drawn as
        its mean with a band: the ``confidence`` Student-t interval of the mean (:func:`mean_ci`),
        drawn within 0-100 % (the attached data keep the interval as computed).
    split
        The split whose accuracy is drawn: ``"train"``, ``"validation"`` or ``"test"``.
    confidence
        Of the band.
    title
        Axes title.
    ax
        Draw into these axes instead of a new figure.
    width, height
        Journal width (:data:`WIDTHS_MM`) and height (mm) of a new figure.

    Returns
    -------
    Figure
        With the plotted numbers attached (:func:`attach_data`): ``accuracy`` (model, run,
        epoch), ``mean``, ``ci_low``, ``ci_high`` (model, epoch), in %.
    """
    groups = group_results(results)
    fig, ax = figure_axes(ax, width=width, height=height)
    curves = []
    for label, runs in groups.items():
        stacked = xr.concat([primary_accuracy(r, split) for r in runs], dim="run", join="outer")
        stacked = stacked.assign_coords(run=np.arange(len(runs)))
        curves.append(100 * stacked.expand_dims(model=[label]).drop_attrs())
    acc = xr.concat(curves, dim="model", join="outer").transpose("model", "run", "epoch")
    mean, low, high = mean_ci(acc.values, axis=1, confidence=confidence)
    n_runs = acc.notnull().any("epoch").sum("run").values
    for i, label in enumerate(groups):
        (line,) = ax.plot(acc.epoch, mean[i], label=label)
        if n_runs[i] > 1:
            band = np.clip([low[i], high[i]], 0.0, 100.0)  # an accuracy stays in [0, 100] %
            ax.fill_between(acc.epoch, *band, color=line.get_color(), alpha=0.25, linewidth=0)
    ax.set_xlabel("epoch")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel(f"{split} accuracy (%)")
    ax.legend(title=f"mean, {100 * confidence:g}% CI over seeds" if n_runs.max() > 1 else None)
    if title:
        ax.set_title(title)
    attrs = {"units": "%"}
    attach_data(ax, xr.Dataset(
        {
            "accuracy": (acc.dims, acc.values, {**attrs, "long_name": f"{split} accuracy"}),
            "mean": (("model", "epoch"), mean, {**attrs, "long_name": "mean over runs"}),
            "ci_low": (("model", "epoch"), low, attrs),
            "ci_high": (("model", "epoch"), high, attrs),
        },
        coords={"model": list(groups), "epoch": acc.epoch.values},
        attrs={"figure": "learning_curves", "confidence": confidence},
    ))  # fmt: skip
    return fig


@styled
def raster(
    spike_times: ArrayLike,
    units: ArrayLike,
    *,
    trials: ArrayLike | None = None,
    duration: float | None = None,
    max_trials: int | None = None,
    title: str | None = None,
    ylabel: str = "unit",
    markersize: float = 2.0,
    ax: Axes | None = None,
) -> Figure:
    """Spike raster: one tick per spike, time (ms) against unit.

    Parameters
    ----------
    spike_times : array_like or xarray.DataArray, shape (n_spikes,)
        Spike times in seconds; from the onset of the spike's trial when ``trials`` is given.
    units : array_like or xarray.DataArray, shape (n_spikes,)
        Unit of each spike.
    trials : array_like or xarray.DataArray, shape (n_spikes,), optional
        Trial (presented sample) of each spike. Trials are drawn one after the other, trial
        ``k`` from ``k * duration`` on, with a grey line at every onset.
    duration : float, optional
        Length of a trial in seconds; required with ``trials``.
    max_trials : int, optional
        Draw only trials ``0 .. max_trials - 1`` (the x axis spans them all).
    title : str, optional
        Axes title.
    ylabel : str
        Label of the unit axis (e.g. ``"layer 1 unit"``).
    markersize : float
        Size of a tick, in points.
    ax : Axes, optional
        Draw into these axes instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        The arrays differ in length, or ``trials`` come without ``duration`` (or
        ``max_trials`` without ``trials``).

    Examples
    --------
    Three spikes in two trials of 50 ms:

    >>> fig = raster([0.010, 0.030, 0.020], [2, 2, 0], trials=[0, 0, 1], duration=0.05)
    >>> [float(limit) for limit in fig.axes[0].get_xlim()]
    [0.0, 100.0]
    >>> import matplotlib.pyplot as plt
    >>> plt.close(fig)

    The spike trains of a Result (:func:`neurosig.analyses.activity.spike_trains_from_result`)
    give the three columns:

    >>> raster(trains.time, trains.unit, trials=trains.trial,
    ...        duration=trains.attrs["duration"], max_trials=5)  # doctest: +SKIP
    """
    t = np.asarray(spike_times, dtype=float)
    u = np.asarray(units)
    if t.shape != u.shape or (trials is not None and np.shape(trials) != t.shape):
        raise ValueError("spike_times, units and trials must have one entry per spike")
    if trials is None and max_trials is not None:
        raise ValueError("max_trials needs the trial of each spike (trials=...)")
    n_trials = 0
    if trials is not None:
        if duration is None:
            raise ValueError("trials need the duration of a trial (duration=..., in seconds)")
        k = np.asarray(trials)
        n_trials = int(k.max()) + 1 if k.size else 0
        if max_trials is not None:
            keep = k < max_trials
            t, u, k, n_trials = t[keep], u[keep], k[keep], max_trials
        t = t + k * duration
    fig, ax = figure_axes(ax)
    ax.plot(1e3 * t, u, "|", color="k", markersize=markersize)
    if trials is not None:
        for onset in range(1, n_trials):
            ax.axvline(1e3 * onset * duration, color="0.6", linewidth=0.6)
        ax.set_xlim(0.0, 1e3 * n_trials * duration)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return fig
