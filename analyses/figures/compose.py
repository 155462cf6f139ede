"""Building a study's figure: its inputs gathered, its panels drawn into one figure, saved.

:func:`build_study` does the three steps for a :class:`~neurosig.analyses.figures.study.Study`:

1. :func:`gather_inputs` loads each input: Result files as they are; a sweep from its store,
   after running the sweep's missing points into it (:func:`neurosig.sweep.run_sweep`, resumable:
   a finished store is only read). ``quick=True`` runs the sweeps with the study's ``[quick]``
   changes into stores of their own.
2. :func:`draw_study` draws every panel's catalogue function into its cell of a grid at the
   study's journal width and height: one subfigure per panel, its letter bold at the top left,
   the legends of the panels marked ``legend = "shared"`` merged into one above the figure.
   A panel whose data its input does not store stops the study (a
   :class:`~neurosig.errors.DataError` naming the panel).
3. :func:`neurosig.plotting.save_figure` writes PDF, SVG, PNG, the plotted numbers of every
   panel (prefixed with its letter) and the provenance, which lists the study file, the sweep
   specs, and every Result file and store read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure

from neurosig.analyses.figures.catalogue import CATALOGUE
from neurosig.analyses.figures.study import Study, StudyPanel
from neurosig.errors import DataError
from neurosig.plotting import WIDTHS_MM, save_figure, style_context, text_problems
from neurosig.plotting.style import MM_PER_INCH
from neurosig.results import load_result

__all__ = [
    "StudyData",
    "StudyFigure",
    "axes_needed",
    "build_study",
    "draw_panel",
    "draw_study",
    "gather_inputs",
]

LETTER_SIZE = 9.0
"""Panel letters, in points (bold)."""
LEGEND_COLUMNS = {"single": 2, "onehalf": 3, "double": 5}
"""Entries per row of a shared legend, by journal width."""


@dataclass(frozen=True)
class StudyData:
    """One input of a study, loaded.

    Attributes
    ----------
    name, label : str
        The input's name and legend label.
    results : list of xarray.Dataset
        Its Results: the files in order, or the done points of the store (point-major).
    sources : list of Path
        What they were read from (files, or the store), for the provenance.
    sweep : xarray.Dataset or None
        The store's export (:func:`neurosig.sweep.export_sweep`), for sweep figures.
    trained : int
        Sweep points trained by this call (0: the store was finished).
    """

    name: str
    label: str
    results: list[xr.Dataset]
    sources: list[Path]
    sweep: xr.Dataset | None = None
    trained: int = 0


@dataclass(frozen=True)
class StudyFigure:
    """What :func:`build_study` made: the files, the inputs and the figure's text problems."""

    files: list[Path]
    inputs: dict[str, StudyData]
    problems: list[str]


def _store_data(study: Study, name: str, quick: bool, progress: bool, say) -> StudyData:
    from neurosig.sweep import export_sweep, point_result, run_sweep, sweep_status

    store, sweep = study.store(name, quick), study.sweep(name, quick)
    trained = 0
    if sweep is not None:
        before = sweep_status(store).done if (store / "zarr.json").is_file() else 0
        if before < sweep.n_points:
            say(f"input {name}: running sweep {sweep.name!r} ({sweep.n_points - before} of "
                f"{sweep.n_points} points) into {store}")  # fmt: skip
        run_sweep(sweep, store, progress=progress)
        trained = sweep_status(store).done - before
    status = sweep_status(store)
    if status.failed or not status.done:
        raise DataError(
            f"input {name}: {status}; run the study again to retry (or see "
            f"`neurosig sweep status {store}`)"
        )
    exported = export_sweep(store)
    flags = exported.status.values.ravel()
    seeds = exported.sizes["seed"]
    results = [
        point_result(store, number // seeds, number % seeds)
        for number in np.flatnonzero(flags == "done")
    ]
    label = study.inputs[name].title
    return StudyData(name, label, results, [store], exported, trained)


def gather_inputs(
    study: Study,
    *,
    quick: bool = False,
    progress: bool = True,
    say: Callable[[str], None] = lambda message: None,
) -> dict[str, StudyData]:
    """Every input of ``study``, loaded; sweeps run first where their store is not finished.

    Parameters
    ----------
    study : Study
    quick : bool
        Run the sweeps with the study's ``[quick]`` changes, into their quick stores.
    progress : bool
        Progress bars of the sweeps.
    say : callable
        Called with a line before each sweep that runs.

    Raises
    ------
    DataError
        A sweep has failed points, or a store no point done; a Result file is not a Result.
    """
    data = {}
    for name, item in study.inputs.items():
        if study.store(name, quick) is not None:
            data[name] = _store_data(study, name, quick, progress, say)
        else:
            files = study.result_files(name)
            data[name] = StudyData(name, item.title, [load_result(p) for p in files], files)
    return data


def _panel_input(panel: StudyPanel, kind: str, data: Mapping[str, StudyData]) -> Any:
    """The first argument of the panel's catalogue function."""
    first = data[panel.inputs[0]]
    if kind == "results":
        return {data[name].label: data[name].results for name in panel.inputs}
    if kind == "result":
        return first.results[0]
    if kind == "sweep":
        return first.sweep
    from neurosig.analyses.plausibility import report_card

    bp = data[panel.reference].results[0] if panel.reference else None
    return report_card(first.results, bp=bp)


def axes_needed(function: Callable[..., Figure], argument: Any, options: Mapping) -> int:
    """How many axes a multi-axes catalogue figure draws for this input (one per layer, block
    or moment): counted on a scratch figure, colour bars left out."""
    scratch = function(argument, **options)
    try:
        return sum(ax.get_label() != "<colorbar>" for ax in scratch.axes)
    finally:
        plt.close(scratch)


def draw_panel(
    cell: SubFigure, name: str, argument: Any, options: Mapping[str, Any], letter: str
) -> list[Axes]:
    """Draw catalogue figure ``name`` of ``argument`` into ``cell`` (a subfigure), its letter
    in bold at the top left; returns its axes, the first labelled with the letter (which names
    the panel's numbers in the saved data). The study and the report's dashboard use it.

    Raises
    ------
    DataError
        The argument does not store what the figure draws.
    """
    figure = CATALOGUE[name]
    cell.suptitle(letter, x=0.0, ha="left", fontsize=LETTER_SIZE, fontweight="bold")
    if figure.panels == "axes":
        n = axes_needed(figure.function, argument, options)
        axes = list(cell.subplots(1, n, squeeze=False).flat)
        figure.function(argument, axes=axes, **options)
    else:
        axes = [cell.add_subplot()]
        figure.function(argument, ax=axes[0], **options)
    axes[0].set_label(letter)
    return axes


def _draw_panel(cell: SubFigure, panel: StudyPanel, data: Mapping[str, StudyData]) -> list[Axes]:
    """Draw ``panel`` of the study into ``cell``."""
    options = dict(panel.options)
    if panel.reference and CATALOGUE[panel.figure].input != "card":
        options["reference"] = data[panel.reference].results[0]
    try:
        argument = _panel_input(panel, CATALOGUE[panel.figure].input, data)
        return draw_panel(cell, panel.figure, argument, options, panel.letter)
    except DataError as err:
        raise DataError(
            f"panel {panel.letter} ({panel.figure} of {', '.join(panel.inputs)}): {err}"
        ) from None


def _legends(fig: Figure, drawn: Sequence[tuple[StudyPanel, list[Axes]]], width: str) -> None:
    """Remove the legends of panels marked ``shared`` or ``none``; draw the shared ones as one
    legend above the figure (an entry per label, the first panel's entry and title)."""
    entries: dict[str, Any] = {}
    title = None
    for panel, axes in drawn:
        for ax in axes:
            legend = ax.get_legend()
            if legend is None or panel.legend == "own":
                continue
            if panel.legend == "shared":
                handles, labels = ax.get_legend_handles_labels()
                for handle, label in zip(handles, labels, strict=True):
                    entries.setdefault(label, handle)
                title = title or legend.get_title().get_text() or None
            legend.remove()
    if entries:
        fig.legend(
            list(entries.values()),
            list(entries),
            loc="outside upper center",
            ncols=min(len(entries), LEGEND_COLUMNS[width]),
            title=title,
        )


def draw_study(study: Study, data: Mapping[str, StudyData]) -> Figure:
    """The study's figure from its loaded inputs (:func:`gather_inputs`).

    Every panel is a subfigure spanning its cells of the grid (``columns`` columns, rows as
    low as the lowest panel, ``row_heights`` relative), with its letter in bold at its top
    left; the figure is the study's journal width and ``height`` mm, in neurosig's style.

    Raises
    ------
    DataError
        A panel's input does not store what its figure draws (naming the panel).
    """
    size = (WIDTHS_MM[study.width] / MM_PER_INCH, study.height / MM_PER_INCH)
    with style_context():
        fig = plt.figure(figsize=size, layout="constrained")
        try:
            grid = fig.add_gridspec(study.rows, study.columns, height_ratios=study.row_heights)
            drawn = []
            for panel in study.panels:
                cell = fig.add_subfigure(
                    grid[panel.row - 1 : panel.row - 1 + panel.rowspan,
                         panel.column - 1 : panel.column - 1 + panel.colspan]
                )  # fmt: skip
                drawn.append((panel, _draw_panel(cell, panel, data)))
            _legends(fig, drawn, study.width)
        except BaseException:
            plt.close(fig)
            raise
    return fig


def build_study(
    study: Study,
    out: str | Path,
    *,
    quick: bool = False,
    command: str | None = None,
    progress: bool = True,
    say: Callable[[str], None] = lambda message: None,
) -> StudyFigure:
    """Gather the inputs of ``study``, draw its figure and save it as ``out/NAME[-quick].*``.

    Parameters
    ----------
    study : Study
        From :func:`neurosig.analyses.figures.study.load_study`.
    out : path
        Folder of the figure (created).
    quick : bool
        Run the sweeps with the ``[quick]`` changes (stores and file name ``NAME-quick``).
    command : str, optional
        The command line, recorded in the provenance.
    progress, say
        As in :func:`gather_inputs`.

    Returns
    -------
    StudyFigure
        The files written (:func:`neurosig.plotting.save_figure`), the inputs, and the text
        problems of the figure (:func:`neurosig.plotting.text_problems`; empty when every text
        is large enough, inside the figure and clear of the others).
    """
    data = gather_inputs(study, quick=quick, progress=progress, say=say)
    say(f"drawing {len(study.panels)} panels")
    fig = draw_study(study, data)
    try:
        problems = text_problems(fig)
        specs = [study.locate(item.sweep) for item in study.inputs.values() if item.sweep]
        sources = [path for item in data.values() for path in item.sources]
        inputs = [*([study.file] if study.file else []), *specs, *sources]
        stem = Path(out) / study.file_stem(quick)
        files = save_figure(fig, stem, inputs=inputs, command=command)
    finally:
        plt.close(fig)
    return StudyFigure(files, data, problems)
