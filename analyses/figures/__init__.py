"""Publication figures built from stored results (Results, sweep stores, report cards), never
re-simulating.

Each function takes labelled data (``xarray``) and returns a matplotlib Figure; ``ax=`` (or
``axes=``) draws into existing axes so that figures compose into panels, and the plotted numbers
travel with the axes (:func:`neurosig.plotting.figure_data`) to be saved beside the figure
(:func:`neurosig.plotting.save_figure`). :mod:`~neurosig.analyses.figures.catalogue` names them
all (:data:`~neurosig.analyses.figures.catalogue.CATALOGUE`); ``docs/figures.md`` shows them
with the standards they meet.

* :mod:`~neurosig.analyses.figures.spiking`: rasters, membrane traces, accuracy against spikes;
* :mod:`~neurosig.analyses.figures.geometry`: RDMs, the CKA matrix, class selectivity;
* :mod:`~neurosig.analyses.figures.connectivity`: weight distributions (E/I), receptive fields;
* :mod:`~neurosig.analyses.figures.card`: the report card;
* :mod:`~neurosig.analyses.figures.sweep`: accuracy by condition, paired differences;
* learning curves: :func:`neurosig.plotting.learning_curves`.
"""
