"""Figures of spiking Results: rasters before and after learning, membrane traces, and accuracy
against the spikes an inference costs.

Everything is read from the spike trains and traces a Result stores
(:func:`neurosig.results.spikes`, :func:`neurosig.results.traces`); nothing is simulated.

Examples
--------
>>> ds = load_result("results/lif-sigprop-digits.nc")  # doctest: +SKIP
>>> spike_rasters(ds, n_samples=5)  # doctest: +SKIP
>>> membrane_traces(ds, sample=0)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from neurosig import results as result_schema
from neurosig.analyses import activity
from neurosig.analyses.figures.reading import (
    RECORD_INITIAL,
    RECORD_TRACES,
    read,
    result_label,
    spiking_layers,
)
from neurosig.errors import DataError
from neurosig.plotting import (
    OKABE_ITO,
    Results,
    attach_data,
    figure_axes,
    figure_panels,
    group_results,
    mean_ci,
    raster,
    styled,
)

__all__ = ["accuracy_vs_spikes", "membrane_traces", "spike_rasters", "spikes_per_sample"]

MOMENTS = {True: "before", False: "after"}


def _raster_data(rec: result_schema.SpikeRecord, moment: str, n_shown: int) -> dict:
    keep = rec.sample < n_shown
    dim = f"{moment}_spike"
    return {
        f"{moment}_sample": (dim, rec.sample[keep], {"long_name": "recorded test sample"}),
        f"{moment}_unit": (dim, rec.unit[keep], {"long_name": "unit"}),
        f"{moment}_time": (
            dim,
            1e3 * (rec.time[keep] - rec.t_start),
            {"units": "ms", "long_name": "time from the sample's onset"},
        ),
    }


@styled
def spike_rasters(
    ds: xr.Dataset,
    *,
    layer: int | None = None,
    n_samples: int = 5,
    before: bool | None = None,
    axes: Sequence[Axes] | None = None,
    width: str = "double",
    height: float | None = 55.0,
) -> Figure:
    """Spike rasters of one hidden layer before and after learning, sample after sample.

    Parameters
    ----------
    ds : xarray.Dataset
        A Result of a spiking model with recorded samples.
    layer : int, optional
        Hidden layer (1-based; default the first with spike trains).
    n_samples : int
        Recorded test samples shown, one after the other (a grey line at each onset).
    before : bool, optional
        Draw the raster before training too: None draws it when the Result stores it
        (``train.record_every_epoch = true``), True requires it.
    axes : sequence of Axes, optional
        One axes per raster drawn (2 with the raster before training, else 1).
    width, height
        Journal width and height (mm) of a new figure.

    Returns
    -------
    Figure
        The plotted spikes attached: ``{before,after}_{sample,unit,time}`` (time in ms).

    Raises
    ------
    DataError
        The Result has no spike trains (of the layer, or before training with ``before=True``).
    """
    layer = spiking_layers(ds, "rasters")[0] if layer is None else layer
    after = read("rasters", result_schema.spikes, ds, layer)
    if before is None:
        before = result_schema.has_spikes(ds, layer, initial=True)
    moments = [True, False] if before else [False]
    fig, panels = figure_panels(axes, len(moments), width=width, height=height)
    data = {}
    for ax, initial in zip(panels, moments, strict=True):
        rec = (
            read("rasters", result_schema.spikes, ds, layer, initial=True, hint=RECORD_INITIAL)
            if initial
            else after
        )
        shown = min(n_samples, rec.n_samples)
        raster(
            rec.time - rec.t_start,
            rec.unit,
            trials=rec.sample,
            duration=rec.duration,
            max_trials=shown,
            ylabel=f"layer {layer} unit",
            title=f"{MOMENTS[initial]} learning",
            markersize=1.5,
            ax=ax,
        )
        ax.set_ylim(-0.5, rec.n_units - 0.5)
        data |= _raster_data(rec, MOMENTS[initial], shown)
    attrs = {"figure": "rasters", "result": result_label(ds), "layer": layer,
             "sample_duration_ms": 1e3 * after.duration}  # fmt: skip
    attach_data(panels, xr.Dataset(data, attrs=attrs))
    return fig


@styled
def membrane_traces(
    ds: xr.Dataset,
    *,
    layer: int = 1,
    sample: int = 0,
    initial: bool = False,
    ax: Axes | None = None,
    width: str = "single",
    height: float | None = None,
) -> Figure:
    """Membrane potential of the traced units of one layer during one recorded sample.

    Spikes show as resets. ``initial=True`` draws the recording before training.

    Returns
    -------
    Figure
        The traces attached: ``potential`` (unit, time) in the recorded units (mV), time in ms.

    Raises
    ------
    DataError
        The Result has no membrane traces (rate networks; ``model.trace_units = 0``).
    """
    hint = RECORD_INITIAL if initial and result_schema.has_traces(ds, layer) else RECORD_TRACES
    rec = read("membrane_traces", result_schema.traces, ds, layer, initial=initial, hint=hint)
    if not 0 <= sample < rec.values.shape[0]:
        raise DataError(
            f"figure 'membrane_traces': sample {sample} was not traced; the Result traced "
            f"samples 0-{rec.values.shape[0] - 1}"
        )
    fig, ax = figure_axes(ax, width=width, height=height)
    t_ms = 1e3 * rec.times()
    values = rec.values[sample]
    for u, v in enumerate(values):
        ax.plot(t_ms, v, linewidth=0.8, color=OKABE_ITO[u % len(OKABE_ITO)], label=f"unit {u}")
    ax.set_xlim(t_ms[0], t_ms[-1])
    ax.set_xlabel("time from onset (ms)")
    ax.set_ylabel(f"membrane potential ({rec.units})")
    ax.set_title(f"layer {layer}, sample {sample}, {MOMENTS[initial]} learning")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    potential = xr.DataArray(
        values,
        dims=("unit", "time"),
        coords={"time": ("time", t_ms, {"units": "ms"})},
        attrs={"units": rec.units, "long_name": rec.long_name},
    )
    attrs = {"figure": "membrane_traces", "result": result_label(ds), "layer": layer,
             "sample": sample, "initial": int(initial)}  # fmt: skip
    attach_data(ax, xr.Dataset({"potential": potential}, attrs=attrs))
    return fig


def spikes_per_sample(ds: xr.Dataset) -> xr.DataArray:
    """Spikes of all hidden layers per recorded sample (the cost of one inference).

    The sum over the spiking hidden layers of
    :func:`neurosig.analyses.activity.spikes_per_inference` of each layer's recorded trains.

    Raises
    ------
    DataError
        The Result has no spike trains.
    """
    totals = None
    for layer in spiking_layers(ds, "spikes_vs_accuracy"):
        trains = activity.spike_trains_from_result(ds, layer)
        counts = activity.spikes_per_inference(activity.spike_counts(trains))
        totals = counts if totals is None else totals + counts  # aligned on common trials
    totals.attrs = {"units": "1", "long_name": "spikes of the hidden layers per inference"}
    return totals.rename(trial="sample")


@styled
def accuracy_vs_spikes(
    results: Results,
    *,
    split: str = "test",
    ax: Axes | None = None,
    width: str = "single",
    height: float | None = None,
) -> Figure:
    """Final accuracy against spikes per inference: one dot per Result, the mean per model.

    Spikes per inference are counted in the stored spike trains of the recorded test samples
    (:func:`spikes_per_sample`, mean over samples). Each model's mean is drawn with the 95 %
    Student-t CIs over its seeds (:func:`neurosig.plotting.mean_ci`) on both axes. Results
    without spike trains (rate networks, baselines) are left out and named in the data's
    attribute ``left_out``.

    Raises
    ------
    DataError
        None of the Results has spike trains.
    """
    rows = []
    left_out = []
    for label, runs in group_results(results).items():
        for ds in runs:
            if not result_schema.has_spikes(ds):
                left_out.append(result_label(ds))
                continue
            accuracy = 100 * float(result_schema.primary_accuracy(ds, split)[-1])
            rows.append((label, result_label(ds), float(spikes_per_sample(ds).mean()), accuracy))
    if not rows:
        raise DataError(
            f"figure 'spikes_vs_accuracy': none of the Results has spike trains "
            f"({', '.join(left_out)}); spike trains are recorded by spiking models (lif) "
            "with train.record_samples > 0"
        )
    fig, ax = figure_axes(ax, width=width, height=height)
    labels = list(dict.fromkeys(row[0] for row in rows))
    for i, label in enumerate(labels):
        points = np.array([(x, y) for name, _, x, y in rows if name == label])
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        ax.plot(*points.T, "o", color=colour, markersize=2.5, alpha=0.6, markeredgewidth=0)
        mean, low, high = mean_ci(points, axis=0)
        err = None if np.isnan(low).all() else np.abs(np.stack([low, high]) - mean)
        ax.errorbar(mean[0], mean[1], xerr=None if err is None else err[:, :1],
                    yerr=None if err is None else err[:, 1:], fmt="s", color=colour,
                    markersize=4, capsize=2, linewidth=0.8, label=label)  # fmt: skip
    ax.set_xlabel("spikes per inference")
    ax.set_ylabel(f"{split} accuracy (%)")
    ax.legend()
    model, result, spikes, accuracy = (list(column) for column in zip(*rows, strict=True))
    spikes_attrs = {
        "units": "1",
        "long_name": "spikes of the hidden layers per inference, mean over the recorded samples",
    }
    data = xr.Dataset(
        {
            "model": ("result", model),
            "spikes_per_inference": ("result", spikes, spikes_attrs),
            "accuracy": (
                "result",
                accuracy,
                {"units": "%", "long_name": f"final {split} accuracy"},
            ),
        },
        coords={"result": result},
        attrs={"figure": "spikes_vs_accuracy", "left_out": ", ".join(left_out)},
    )
    attach_data(ax, data)
    return fig
