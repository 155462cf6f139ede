"""Figures of learned weights: their distributions split by presynaptic sign, receptive fields.

Weights are read as the report card reads them
(:func:`neurosig.analyses.plausibility.weight_blocks`: the learned blocks, without the fixed
label pathway), and a presynaptic unit is excitatory or inhibitory by the sign all its outgoing
weights share (:func:`neurosig.analyses.weights.outgoing_signs`, Dale's law); units whose
weights have both signs are "mixed". Zero weights (absent synapses)
carry no sign and are left out.

Examples
--------
>>> ds = load_result("results/lif-mnist1d.nc")  # doctest: +SKIP
>>> weight_distributions(ds)  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib
import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from neurosig.analyses import weights
from neurosig.analyses.figures.geometry import width_for
from neurosig.analyses.figures.reading import feature_shape, result_label
from neurosig.analyses.plausibility import weight_blocks
from neurosig.errors import DataError
from neurosig.plotting import (
    DIVERGING_CMAP,
    OKABE_ITO,
    attach_data,
    figure_axes,
    figure_panels,
    styled,
)
from neurosig.plotting.style import symmetric_limits

__all__ = ["SIGN_COLOURS", "SIGN_NAMES", "receptive_fields", "weight_distributions"]

SIGN_NAMES = {1.0: "excitatory", -1.0: "inhibitory", 0.0: "mixed sign"}
"""Presynaptic units by the sign of their outgoing weights."""
SIGN_COLOURS = {1.0: OKABE_ITO[1], -1.0: OKABE_ITO[0], 0.0: "0.45"}
"""Excitatory vermillion, inhibitory blue, mixed grey."""


def _blocks(ds: xr.Dataset, figure: str, blocks: Sequence[str] | None) -> dict[str, np.ndarray]:
    found = weight_blocks(ds)
    if not found:
        raise DataError(f"figure {figure!r}: {result_label(ds)} stores no learned weight matrix")
    if blocks is None:
        return found
    unknown = [b for b in blocks if b not in found]
    if unknown:
        raise DataError(
            f"figure {figure!r}: no weight block {', '.join(unknown)}; the Result has "
            f"{', '.join(found)}"
        )
    return {b: found[b] for b in blocks}


@styled
def weight_distributions(
    ds: xr.Dataset,
    *,
    blocks: Sequence[str] | None = None,
    bins: int = 40,
    axes: Sequence[Axes] | None = None,
    width: str | None = None,
    height: float | None = None,
) -> Figure:
    """Histograms of each learned weight block, split by the presynaptic unit's sign (E/I).

    Parameters
    ----------
    ds : xarray.Dataset
        A Result.
    blocks : sequence of str, optional
        Weight blocks (default every learned block, e.g. ``layer1``, ``w1``, ``readout``).
    bins : int
        Bins per histogram (shared by its E, I and mixed parts).
    axes : sequence of Axes, optional
        One per block.
    width, height
        Journal width (default by the number of blocks) and height (mm) of a new figure.

    Returns
    -------
    Figure
        Per block ``{block}_weight`` and ``{block}_presynaptic_sign`` (one entry per non-zero
        synapse) attached.
    """
    found = _blocks(ds, "weights", blocks)
    fig, panels = figure_panels(axes, len(found), width=width or width_for(len(found)),
                                height=height)  # fmt: skip
    data = {}
    for i, (ax, (block, w)) in enumerate(zip(panels, found.items(), strict=True)):
        signs = np.broadcast_to(weights.outgoing_signs(w), w.shape)
        present = w != 0
        values, sign = w[present], signs[present]
        edges = np.histogram_bin_edges(values, bins=bins)
        for s, name in SIGN_NAMES.items():
            part = values[sign == s]
            if part.size:
                n_units = int(np.sum(weights.outgoing_signs(w) == s))
                ax.hist(part, bins=edges, color=SIGN_COLOURS[s], alpha=0.75, linewidth=0,
                        label=f"{name} ({n_units} units)")  # fmt: skip
        ax.set_title(block)
        ax.set_xlabel("weight")
        # few ticks, and a shared power of ten for small weights: panels are narrow
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
        if i == 0:
            ax.set_ylabel("synapses")
        ax.legend()
        dim = f"{block}_synapse"
        data[f"{block}_weight"] = (dim, values, {"units": "1", "long_name": f"{block} weight"})
        data[f"{block}_presynaptic_sign"] = (
            dim,
            sign,
            {"long_name": "sign of the presynaptic unit's outgoing weights (0: mixed)"},
        )
    attrs = {"figure": "weights", "result": result_label(ds), "zero_weights": "left out"}
    attach_data(panels, xr.Dataset(data, attrs=attrs))
    return fig


def _first_block(ds: xr.Dataset, n_features: int) -> tuple[str, np.ndarray]:
    """The first learned block that reads one input unit per feature."""
    found = _blocks(ds, "receptive_fields", None)
    for block, w in found.items():
        if w.shape[1] == n_features:
            return block, w
    inputs = ", ".join(f"{b}: {w.shape[1]}" for b, w in found.items())
    raise DataError(
        f"figure 'receptive_fields': no weight block reads the {n_features} input features one "
        f"unit each (inputs per block: {inputs}); a model with several input units per "
        "feature (lif input_copies > 1) has no one weight per pixel: use 'selectivity'"
    )


@styled
def receptive_fields(
    ds: xr.Dataset,
    *,
    n_units: int = 16,
    ax: Axes | None = None,
    width: str = "single",
    height: float | None = None,
) -> Figure:
    """The input weights of the first hidden units, each drawn as an image of the input.

    Unit ``i``'s weights from every pixel, reshaped to the input's image shape, tiled in a
    grid on one diverging colour scale centred at 0 (one colour bar). Needs image input (a
    2-D ``feature_shape``, e.g. 8x8 digits) and one input unit per pixel.

    Returns
    -------
    Figure
        ``weight`` (unit, row, column) attached.

    Raises
    ------
    DataError
        The input is not an image, or no block reads it one unit per pixel.
    """
    shape = feature_shape(ds)
    if len(shape) != 2:
        raise DataError(
            f"figure 'receptive_fields': the input of {result_label(ds)} has shape {shape}, not "
            "an image; use 'selectivity'"
        )
    block, w = _first_block(ds, math.prod(shape))
    n = min(n_units, w.shape[0])
    fields = w[:n].reshape(n, *shape)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    tile = np.full((rows * (shape[0] + 1) - 1, cols * (shape[1] + 1) - 1), np.nan)
    for i, field in enumerate(fields):
        r, c = divmod(i, cols)
        top, left = r * (shape[0] + 1), c * (shape[1] + 1)
        tile[top : top + shape[0], left : left + shape[1]] = field
    fig, ax = figure_axes(ax, width=width, height=height)
    low, high = symmetric_limits(fields)
    cmap = matplotlib.colormaps[DIVERGING_CMAP].with_extremes(bad="w")
    image = ax.imshow(tile, cmap=cmap, vmin=low, vmax=high, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(f"{block}: units 0-{n - 1}")
    fig.colorbar(image, ax=ax, label="weight from the pixel")
    weight = xr.DataArray(fields, dims=("unit", "row", "column"),
                          attrs={"units": "1", "long_name": f"{block} weight"})  # fmt: skip
    attrs = {"figure": "receptive_fields", "result": result_label(ds), "block": block}
    attach_data(ax, xr.Dataset({"weight": weight}, attrs=attrs))
    return fig
