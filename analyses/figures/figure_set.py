"""The standard figure set of stored Results and sweep stores (``neurosig figures``).

:func:`figure_set` reads what it is given (Result files and sweep stores), draws every
catalogue figure that applies (:data:`neurosig.analyses.figures.catalogue.CATALOGUE`) and saves
each with :func:`neurosig.plotting.save_figure` (PDF, SVG, PNG, provenance, plotted numbers):

* ``results`` figures once, on all the Results (grouped by experiment name: seeds of one model
  are one curve): ``NAME.pdf``;
* ``result`` figures once per Result: ``NAME-RESULT.pdf``;
* ``sweep`` figures once per store: ``NAME-STORE.pdf``;
* ``card`` once per model that is not BP, with a BP Result among the inputs (if any) as the
  reference of the geometry rows: ``card-MODEL.pdf``.

A figure whose data the input does not store is skipped with the reason (the setting that would
record it); nothing is simulated, except the card's trial probe
(:func:`neurosig.analyses.plausibility.report_card`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import matplotlib.pyplot as plt
import xarray as xr

from neurosig.analyses.figures.catalogue import CATALOGUE, catalogue_figure
from neurosig.errors import DataError
from neurosig.plotting import group_results, save_figure
from neurosig.results import experiment, load_result

__all__ = ["FigureOutcome", "figure_set", "is_sweep_store"]


@dataclass(frozen=True)
class FigureOutcome:
    """One figure of the set: the files written, or why it was skipped."""

    name: str  # the file stem
    files: tuple[Path, ...] = ()
    skipped: str = ""


def is_sweep_store(path: Path) -> bool:
    """Whether ``path`` is a sweep store (a zarr folder) rather than a Result file."""
    return path.is_dir() and (path / "zarr.json").is_file()


def figure_set(
    inputs: Sequence[str | Path],
    out: str | Path,
    *,
    only: Sequence[str] | None = None,
    command: str | None = None,
) -> list[FigureOutcome]:
    """Draw and save the catalogue figures that apply to ``inputs`` into ``out``.

    Parameters
    ----------
    inputs : paths
        Result files (``.nc``) and sweep stores (``.zarr`` folders).
    out : path
        Folder for the figures (created).
    only : names, optional
        Catalogue names to draw (default: all that apply).
    command : str, optional
        The command line, recorded in every figure's provenance.

    Raises
    ------
    DataError
        An input is neither a Result nor a sweep store (:func:`neurosig.results.load_result`).
    ConfigError
        A name in ``only`` is not in the catalogue.
    """
    from neurosig.sweep import export_sweep

    names = [catalogue_figure(n).name for n in only] if only else list(CATALOGUE)
    paths = [Path(p) for p in inputs]
    stores = {p: export_sweep(p) for p in paths if is_sweep_store(p)}
    results = {p: load_result(p) for p in paths if p not in stores}
    out = Path(out)
    outcomes = []
    for name in names:
        figure = CATALOGUE[name]
        for stem, data, sources in _jobs(figure.input, name, results, stores):
            outcomes.append(_draw(figure.function, data, out / stem, sources, command))
    return outcomes


def _jobs(kind: str, name: str, results: dict[Path, xr.Dataset], stores: dict[Path, xr.Dataset]):
    """(file stem, data, input paths) of each figure of catalogue input ``kind``."""
    if kind == "results" and results:
        yield name, list(results.values()), list(results)
    elif kind == "result":
        for path, ds in results.items():
            yield f"{name}-{path.stem}", ds, [path]
    elif kind == "sweep":
        for path, ds in stores.items():
            yield f"{name}-{path.stem}", ds, [path]
    elif kind == "card":
        yield from _cards(name, results)


def _cards(name: str, results: dict[Path, xr.Dataset]):
    """The report card of every model that is not BP, with BP as the geometry reference."""
    from neurosig.analyses.plausibility import report_card

    paths = {id(ds): path for path, ds in results.items()}
    bp = next((ds for ds in results.values() if experiment(ds).model == "bp"), None)
    for label, group in group_results(list(results.values())).items():
        if experiment(group[0]).model == "bp":
            continue
        sources = [paths[id(ds)] for ds in group] + ([paths[id(bp)]] if bp is not None else [])
        yield f"{name}-{label}", partial(report_card, group, bp=bp), sources  # drawn later


def _draw(function, data, stem: Path, sources: list[Path], command: str | None) -> FigureOutcome:
    try:
        fig = function(data() if isinstance(data, partial) else data)
    except DataError as err:
        return FigureOutcome(stem.name, skipped=str(err))
    try:
        files = save_figure(fig, stem, inputs=sources, command=command)
    finally:
        plt.close(fig)
    return FigureOutcome(stem.name, files=tuple(files))
