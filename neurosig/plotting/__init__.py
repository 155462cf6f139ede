"""Publication figures from stored Results: xarray in, matplotlib Figure out.

Every function takes an optional ``ax`` and draws into it, so figures compose into panels.
The package style (:func:`use_style`) sets sizes for a one-column journal figure and a
colour-blind-safe palette (Wong 2011, Nat Methods 8:441).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from neurosig.results import primary_accuracy

STYLE = str(resources.files("neurosig.plotting") / "neurosig.mplstyle")


def use_style() -> None:
    """Apply neurosig's matplotlib style globally."""
    plt.style.use(STYLE)


def figure_axes(ax: Axes | None = None) -> tuple[Figure, Axes]:
    """The figure and axes to draw into: ``ax`` and its figure, or a new styled figure.

    Every plotting function of neurosig starts with this, so that it draws into a panel of the
    caller's figure when given one.
    """
    if ax is not None:
        return ax.figure, ax
    with plt.style.context(STYLE):
        fig, ax = plt.subplots()
        interactive = matplotlib.is_interactive()
    # leaving the style context restores rcParams, which switched interactive mode off in
    # Jupyter: later figures of the session then no longer displayed
    matplotlib.interactive(interactive)
    return fig, ax


def learning_curves(
    results: xr.Dataset | Mapping[str, xr.Dataset] | Mapping[str, list[xr.Dataset]],
    *,
    split: str = "test",
    title: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Accuracy (in %) of the primary readout against epoch for one or several Results.

    Parameters
    ----------
    results
        One Result, a mapping label -> Result, or label -> list of Results (seeds: drawn as
        the mean with a band of +- one standard deviation).
    split
        The split whose accuracy is drawn: ``"train"``, ``"validation"`` or ``"test"``.
    title
        Axes title.
    ax
        Draw into these axes instead of a new figure.
    """
    if isinstance(results, xr.Dataset):
        results = {results.attrs.get("name", "result"): results}
    fig, ax = figure_axes(ax)
    with plt.style.context(STYLE):
        for label, runs in results.items():
            runs = runs if isinstance(runs, list) else [runs]
            stacked = xr.concat([primary_accuracy(r, split) for r in runs], dim="run") * 100
            mean = stacked.mean("run")
            (line,) = ax.plot(mean.epoch, mean, label=label)
            if len(runs) > 1:
                sd = stacked.std("run")
                ax.fill_between(
                    mean.epoch,
                    mean - sd,
                    mean + sd,
                    color=line.get_color(),
                    alpha=0.25,
                    linewidth=0,
                )
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_ylabel(f"{split} accuracy (%)")
        ax.legend()
        if title:
            ax.set_title(title)
    return fig


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
    with plt.style.context(STYLE):
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


def save_figure(
    fig: Figure, path: str | Path, formats: tuple[str, ...] = ("pdf", "png")
) -> list[Path]:
    """Save ``fig`` as ``path`` with each suffix in ``formats``; returns the files written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        target = path.with_suffix(f".{fmt}")
        # explicit, because the style's savefig settings are not active outside its context
        fig.savefig(target, dpi=300, bbox_inches="tight", pad_inches=0.02)
        written.append(target)
    return written
