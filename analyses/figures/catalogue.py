"""The figure catalogue: every standard figure by name, what it shows and what it takes.

:data:`CATALOGUE` maps a name to a :class:`CatalogueFigure`: the function, a one-line
description and the kind of input (:data:`INPUTS`):

* ``"result"``: one Result, ``function(ds, **options)``;
* ``"results"``: several Results (seeds of one model, or models to compare),
  ``function(results, **options)`` with a sequence of Results or a mapping label -> Results
  (:func:`neurosig.plotting.group_results`);
* ``"sweep"``: a sweep Dataset (:func:`neurosig.sweep.export_sweep`), ``function(ds, **options)``;
* ``"card"``: a report card (:func:`neurosig.analyses.plausibility.report_card`),
  ``function(card, **options)``.

Every function returns the Figure, draws into ``ax=`` (one panel) or ``axes=`` (several, see
:attr:`CatalogueFigure.panels`) when given, attaches the numbers it plotted
(:func:`neurosig.plotting.figure_data`), and raises :class:`neurosig.errors.DataError` naming
what is missing when its input does not store what it draws: nothing is simulated.
:func:`catalogue_table` is the list ``neurosig figures --list`` prints.

Examples
--------
>>> print(catalogue_table().splitlines()[0])
name               input    shows
>>> CATALOGUE["rdms"].input
'result'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from matplotlib.figure import Figure

from neurosig.analyses.figures.card import card_summary
from neurosig.analyses.figures.connectivity import receptive_fields, weight_distributions
from neurosig.analyses.figures.geometry import cka_by_layer, rdms, selectivity
from neurosig.analyses.figures.spiking import accuracy_vs_spikes, membrane_traces, spike_rasters
from neurosig.analyses.figures.sweep import accuracy_by_condition, paired_difference_plot
from neurosig.errors import ConfigError
from neurosig.plotting import learning_curves

__all__ = ["CATALOGUE", "INPUTS", "CatalogueFigure", "catalogue_figure", "catalogue_table"]

INPUTS = {
    "result": "one Result",
    "results": "Results (seeds, models)",
    "sweep": "a sweep Dataset",
    "card": "a report card",
}
"""The kinds of input a catalogue figure takes."""


@dataclass(frozen=True)
class CatalogueFigure:
    """One figure of the catalogue.

    Attributes
    ----------
    name : str
        Its name (``neurosig figures --list``; the file stem the command writes).
    function : callable
        ``function(data, **options) -> Figure``.
    description : str
        What it shows, in one line.
    input : str
        A key of :data:`INPUTS`.
    panels : str
        ``"ax"`` when it draws into one axes, ``"axes"`` when into several (one per layer,
        block or moment).
    """

    name: str
    function: Callable[..., Figure]
    description: str
    input: str
    panels: str = "ax"


CATALOGUE: dict[str, CatalogueFigure] = {
    f.name: f
    for f in (
        CatalogueFigure("learning_curves", learning_curves,
                        "accuracy against epoch per model, mean and 95% CI over seeds", "results"),
        CatalogueFigure("spikes_vs_accuracy", accuracy_vs_spikes,
                        "final accuracy against spikes per inference (spiking Results)",
                        "results"),
        CatalogueFigure("rasters", spike_rasters,
                        "spike rasters of a hidden layer before and after learning", "result",
                        "axes"),
        CatalogueFigure("membrane_traces", membrane_traces,
                        "membrane potential of the traced units during one sample", "result"),
        CatalogueFigure("rdms", rdms,
                        "RDM of each hidden layer, stimuli sorted by class", "result", "axes"),
        CatalogueFigure("cka", cka_by_layer,
                        "debiased linear CKA between layers (of a reference, e.g. BP)", "result"),
        CatalogueFigure("weights", weight_distributions,
                        "weight distribution of each block, excitatory/inhibitory/mixed units",
                        "result", "axes"),
        CatalogueFigure("selectivity", selectivity,
                        "class selectivity of a layer's units before and after learning",
                        "result"),
        CatalogueFigure("receptive_fields", receptive_fields,
                        "input weights of the first hidden units as images (image input)",
                        "result"),
        CatalogueFigure("card", card_summary,
                        "the report card: each row's value against its literature range", "card"),
        CatalogueFigure("sweep_accuracy", accuracy_by_condition,
                        "accuracy per condition: seeds as dots, mean and sd as bars", "sweep"),
        CatalogueFigure("sweep_differences", paired_difference_plot,
                        "paired differences to the reference condition with 95% CIs", "sweep"),
    )
}  # fmt: skip
"""Every catalogue figure by name."""


def catalogue_figure(name: str) -> CatalogueFigure:
    """The catalogue figure ``name``; ConfigError naming the others when there is none.

    Examples
    --------
    >>> catalogue_figure("rasters").panels
    'axes'
    """
    if name not in CATALOGUE:
        raise ConfigError(
            f"no figure {name!r} in the catalogue; choose among {', '.join(CATALOGUE)}"
        )
    return CATALOGUE[name]


def catalogue_table() -> str:
    """The catalogue as a plain-text table: name, input, what it shows.

    Examples
    --------
    >>> print(catalogue_table().splitlines()[1])
    learning_curves    results  accuracy against epoch per model, mean and 95% CI over seeds
    """
    lines = [f"{'name':<18} {'input':<8} shows"]
    lines += [f"{f.name:<18} {f.input:<8} {f.description}" for f in CATALOGUE.values()]
    return "\n".join(lines)
