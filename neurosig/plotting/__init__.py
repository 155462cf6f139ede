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
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

STYLE = str(resources.files("neurosig.plotting") / "neurosig.mplstyle")


def use_style() -> None:
    """Apply neurosig's matplotlib style globally."""
    plt.style.use(STYLE)


def _axes(ax: Axes | None) -> tuple[Figure, Axes]:
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
    variable: str = "test_accuracy",
    title: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Accuracy (in %) against epoch for one or several Results.

    Parameters
    ----------
    results
        One Result, a mapping label -> Result, or label -> list of Results (seeds: drawn as
        the mean with a band of +- one standard deviation).
    variable
        A per-epoch variable of the Results (``test_accuracy``, ``validation_accuracy``...).
    title
        Axes title.
    ax
        Draw into these axes instead of a new figure.
    """
    if isinstance(results, xr.Dataset):
        results = {results.attrs.get("name", "result"): results}
    fig, ax = _axes(ax)
    with plt.style.context(STYLE):
        for label, runs in results.items():
            runs = runs if isinstance(runs, list) else [runs]
            stacked = xr.concat([r[variable] for r in runs], dim="run") * 100
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
        ax.set_ylabel(f"{variable.replace('_', ' ')} (%)")
        ax.legend()
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
