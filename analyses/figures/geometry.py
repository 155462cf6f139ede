"""Figures of representations: RDMs per layer, the layer-by-layer CKA matrix, class selectivity.

Computed from the hidden activity a Result stores (:func:`neurosig.results.activity`) with the
measures of :mod:`neurosig.analyses.representation`; nothing is simulated.

Examples
--------
>>> ds = load_result("results/sp-core-digits.nc")  # doctest: +SKIP
>>> rdms(ds)  # doctest: +SKIP
>>> cka_by_layer(ds, reference=load_result("results/bp-digits.nc"))  # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import matplotlib
import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from neurosig import results as result_schema
from neurosig.analyses import representation
from neurosig.analyses.figures.reading import RECORD_ACTIVITY, read, result_label
from neurosig.errors import DataError
from neurosig.plotting import (
    OKABE_ITO,
    SEQUENTIAL_CMAP,
    attach_data,
    figure_axes,
    figure_panels,
    styled,
)

__all__ = ["cka_by_layer", "class_boundaries", "rdms", "selectivity", "width_for"]

BAD_COLOUR = "0.85"  # undefined entries (a silent stimulus pattern has no correlation distance)
MAX_ANNOTATED = 6  # CKA matrices up to this many layers a side show their values in the cells


def width_for(n_panels: int) -> str:
    """The journal width for ``n_panels`` panels side by side: 1 single, 2 one and a half,
    more double."""
    return "single" if n_panels == 1 else "onehalf" if n_panels == 2 else "double"


def _layers(ds: xr.Dataset, figure: str, layers: Sequence[int] | None) -> list[int]:
    layers = list(layers) if layers is not None else result_schema.layers(ds)
    if not layers:
        raise DataError(
            f"figure {figure!r}: {result_label(ds)} recorded no hidden activity; {RECORD_ACTIVITY}"
        )
    return layers


def class_boundaries(ax: Axes, sorted_labels: np.ndarray, *, both: bool = True) -> None:
    """Mark the classes of stimuli sorted by class on a matrix: a line between classes, the
    class at the centre of its block (x axis, and y axis when ``both``)."""
    classes, starts, counts = np.unique(sorted_labels, return_index=True, return_counts=True)
    for edge in starts[1:] - 0.5:
        ax.axvline(edge, color="w", linewidth=0.5)
        if both:
            ax.axhline(edge, color="w", linewidth=0.5)
    centres = starts + (counts - 1) / 2
    names = [str(c) for c in classes]
    ax.set_xticks(centres, names)
    ax.tick_params(length=0)
    if both:
        ax.set_yticks(centres, names)


@styled
def rdms(
    ds: xr.Dataset,
    *,
    layers: Sequence[int] | None = None,
    n_samples: int | None = None,
    axes: Sequence[Axes] | None = None,
    width: str | None = None,
    height: float | None = None,
) -> Figure:
    """Representational dissimilarity matrices of the hidden layers, stimuli sorted by class.

    ``d_ij = 1 - r(x_i, x_j)`` between the activity patterns of recorded test stimuli
    (:func:`neurosig.analyses.representation.rdm`), on one sequential colour scale from 0 with
    one colour bar; white lines separate the classes, whose labels mark the axes. A stimulus
    that leaves a layer silent has no correlation distance: its row and column are grey.

    Parameters
    ----------
    ds : xarray.Dataset
        A Result with recorded activity.
    layers : sequence of int, optional
        Hidden layers (default all recorded).
    n_samples : int, optional
        Use the first ``n_samples`` recorded stimuli (default all).
    axes : sequence of Axes, optional
        One per layer.
    width, height
        Journal width (default by the number of layers) and height (mm) of a new figure.

    Returns
    -------
    Figure
        ``rdm`` (layer, stimulus, stimulus_) attached, stimuli in the plotted (class) order.
    """
    layers = _layers(ds, "rdms", layers)
    matrices = []
    for layer in layers:
        act = read("rdms", result_schema.activity, ds, layer, hint=RECORD_ACTIVITY)
        act = act.isel(sample=slice(n_samples))
        with warnings.catch_warnings():  # a silent stimulus: grey in the figure, said above
            warnings.simplefilter("ignore", RuntimeWarning)
            matrices.append(representation.rdm(act))
    order = np.argsort(matrices[0].label.values, kind="stable")
    stacked = xr.concat(
        [m.isel(stimulus=order, stimulus_=order) for m in matrices], dim="layer"
    ).assign_coords(layer=layers)
    vmax = float(np.nanmax(stacked.values)) if np.isfinite(stacked.values).any() else 1.0
    fig, panels = figure_panels(axes, len(layers), width=width or width_for(len(layers)),
                                height=height)  # fmt: skip
    cmap = matplotlib.colormaps[SEQUENTIAL_CMAP].with_extremes(bad=BAD_COLOUR)
    sorted_labels = stacked.label.values
    for i, (ax, layer) in enumerate(zip(panels, layers, strict=True)):
        image = ax.imshow(stacked.sel(layer=layer).values, cmap=cmap, vmin=0.0, vmax=vmax,
                          interpolation="nearest")  # fmt: skip
        class_boundaries(ax, sorted_labels)
        ax.set_title(f"layer {layer}")
        ax.set_xlabel("stimulus class")
        if i == 0:
            ax.set_ylabel("stimulus class")
        for spine in ax.spines.values():
            spine.set_visible(False)
    fig.colorbar(image, ax=panels, label="correlation distance 1 - r", shrink=0.9)
    stacked.attrs = {"units": "1", "long_name": "correlation distance 1 - r"}
    attrs = {"figure": "rdms", "result": result_label(ds), "order": "stimuli sorted by class"}
    attach_data(panels, xr.Dataset({"rdm": stacked.drop_vars("stimulus_", errors="ignore")},
                                   attrs=attrs))  # fmt: skip
    return fig


def _activities(ds: xr.Dataset, figure: str) -> dict[int, xr.DataArray]:
    return {
        layer: read(figure, result_schema.activity, ds, layer, hint=RECORD_ACTIVITY)
        for layer in _layers(ds, figure, None)
    }


@styled
def cka_by_layer(
    ds: xr.Dataset,
    reference: xr.Dataset | None = None,
    *,
    ax: Axes | None = None,
    width: str = "single",
    height: float | None = None,
) -> Figure:
    """Debiased linear CKA between every hidden layer of a Result and every layer of another.

    Entry ``(i, j)`` is the CKA (Kornblith et al. 2019) of layer ``i`` of ``ds`` and layer
    ``j`` of ``reference`` on the same recorded test stimuli
    (:func:`neurosig.analyses.representation.cka_matrix`), e.g. a sigprop network against BP of
    the same architecture; without a reference, the Result's layers against each other. A
    sequential colour scale from 0 to 1.

    Raises
    ------
    DataError
        A Result recorded no activity, or the two recorded different stimuli.
    """
    reference = ds if reference is None else reference
    rows, columns = _activities(ds, "cka"), _activities(reference, "cka")
    if not np.array_equal(result_schema.labels(ds), result_schema.labels(reference)):
        raise DataError(
            f"figure 'cka': {result_label(ds)} and {result_label(reference)} recorded different "
            "test stimuli; train both on the same data with the same train.record_samples"
        )
    cka = representation.cka_matrix(rows, columns, debiased=True)
    fig, ax = figure_axes(ax, width=width, height=height)
    image = ax.imshow(cka.values, cmap=SEQUENTIAL_CMAP, vmin=0.0, vmax=1.0)
    if max(cka.shape) <= MAX_ANNOTATED:
        for (i, j), value in np.ndenumerate(cka.values):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                    color="k" if value > 0.6 else "w")  # fmt: skip
    ax.set_xticks(range(len(columns)), [str(k) for k in columns])
    ax.set_yticks(range(len(rows)), [str(k) for k in rows])
    ax.set_xlabel(f"{reference.attrs.get('name', 'reference')} layer")
    ax.set_ylabel(f"{ds.attrs.get('name', 'result')} layer")
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    fig.colorbar(image, ax=ax, label="debiased linear CKA")
    attrs = {"figure": "cka", "result": result_label(ds), "reference": result_label(reference)}
    attach_data(ax, xr.Dataset({"cka": cka}, attrs=attrs))
    return fig


def _unit_selectivity(act: xr.DataArray) -> tuple[xr.DataArray, str]:
    """Class selectivity index for rates (>= 0), d' for signed activity; and its axis label."""
    if float(act.min()) >= 0:
        return representation.class_selectivity(act), "class selectivity index"
    return representation.dprime_selectivity(act), "d' of the preferred class vs the rest"


@styled
def selectivity(
    ds: xr.Dataset,
    *,
    layer: int | None = None,
    ax: Axes | None = None,
    width: str = "single",
    height: float | None = None,
) -> Figure:
    """How selective the units of a layer are for one class, before and after learning.

    The class selectivity index (Morcos et al. 2018; 0 = the same response to every class,
    1 = responds to one class only) for non-negative activity (rates), and d' of the preferred
    class against the rest for signed activity
    (:func:`neurosig.analyses.representation.class_selectivity`,
    :func:`~neurosig.analyses.representation.dprime_selectivity`), as histograms over units.
    The network before training is drawn when the Result stores its activity. Silent units
    have no selectivity: they are counted in the legend, not in the histogram.

    Returns
    -------
    Figure
        ``selectivity`` (moment, unit) attached.
    """
    layer = _layers(ds, "selectivity", None)[-1] if layer is None else layer
    moments = {"after": False}
    if result_schema.has_activity(ds, layer, initial=True):
        moments = {"before": True, "after": False}
    values = {}
    for moment, initial in moments.items():
        act = read("selectivity", result_schema.activity, ds, layer, initial=initial,
                   hint=RECORD_ACTIVITY)  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            values[moment], label = _unit_selectivity(act)
    finite = np.concatenate([v.values[np.isfinite(v.values)] for v in values.values()])
    top = 1.0 if label.startswith("class") else max(float(finite.max(initial=0.0)), 1e-9)
    bins = np.linspace(0.0, top, 21)
    fig, ax = figure_axes(ax, width=width, height=height)
    for k, (moment, v) in enumerate(values.items()):
        ok = np.isfinite(v.values)
        silent = f", {int((~ok).sum())} silent" if (~ok).any() else ""
        ax.hist(v.values[ok], bins=bins, histtype="step", linewidth=1.2,
                color=OKABE_ITO[k], label=f"{moment} learning{silent}")  # fmt: skip
    ax.set_xlabel(label)
    ax.set_ylabel("units")
    ax.set_title(f"layer {layer}")
    ax.legend()
    stacked = xr.concat(
        [v.drop_vars("preferred_class") for v in values.values()], dim="moment"
    ).assign_coords(moment=list(values))
    stacked.attrs = {"units": "1", "long_name": label}
    attrs = {"figure": "selectivity", "result": result_label(ds), "layer": layer}
    attach_data(ax, xr.Dataset({"selectivity": stacked}, attrs=attrs))
    return fig
