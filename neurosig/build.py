"""The parts of a run that its Experiment determines: the untrained model and its data set.

Training (:mod:`neurosig.train`) and reading a Result back (:func:`neurosig.results.restore_model`)
both build these; this module imports neither of them, so each can import it without a cycle.

The initial network is drawn from the ``"init"`` stream of :mod:`neurosig.seeds`, so the same
``train.seed`` rebuilds exactly the network a run started from.

Examples
--------
>>> from neurosig.config import load_experiment
>>> exp = load_experiment("sp-core-digits")
>>> data = load_experiment_data(exp)  # doctest: +SKIP
>>> model = build_model(exp, data)  # doctest: +SKIP
>>> model.readouts  # doctest: +SKIP
('linear', 'target')
"""

from __future__ import annotations

from neurosig.config import Experiment
from neurosig.data import Dataset, load_dataset
from neurosig.protocols import TrainableModel
from neurosig.registry import get_model
from neurosig.seeds import stream

__all__ = ["build_model", "load_experiment_data"]


def build_model(experiment: Experiment, data: Dataset) -> TrainableModel:
    """The untrained model of ``experiment`` for ``data`` (initialised from the ``init`` stream).

    Only ``data.n_features`` and ``data.n_classes`` are read, so any object with these two
    attributes will do (the audit builds models from known sizes without loading the data).
    """
    spec = get_model(experiment.model)
    return spec.build(
        experiment.params, data.n_features, data.n_classes, stream(experiment.train.seed, "init")
    )


def load_experiment_data(experiment: Experiment) -> Dataset:
    """The data set named by ``experiment.data``, split and subset from ``train.seed``."""
    d = experiment.data
    return load_dataset(
        d.name,
        validation_fraction=d.validation_fraction,
        seed=experiment.train.seed,
        standardise=d.standardise,
        n_train=d.n_train,
        n_test=d.n_test,
    )
