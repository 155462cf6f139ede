"""What a model family declares about itself: :class:`ModelSpec`.

A model module defines its spec as a module attribute (``SPEC = ModelSpec(...)``) and imports
only this module for it, never :mod:`neurosig.registry`: the registry finds the attribute by
name when the model is first asked for, so no import cycle runs through the registry.

Examples
--------
>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class NoParameters:
...     pass
>>> spec = ModelSpec("null", NoParameters, lambda cfg, n_in, n_cls, rng: None,
...                  "a model that learns nothing", forward_only=True)
>>> spec.name, spec.equations is None
('null', True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from neurosig.protocols import TrainableModel


@dataclass(frozen=True)
class ModelSpec:
    """A model family: its name, parameter class and builder.

    Attributes
    ----------
    name : str
        The name experiments give in ``[model] name`` (``"rate"``, ``"bp"`` ...).
    config_cls : type
        The frozen dataclass of the model's parameters (fields declared with
        :func:`neurosig.config.param`).
    build : callable
        ``build(config, n_features, n_classes, rng)`` returns an untrained
        :class:`~neurosig.protocols.TrainableModel`; ``rng`` is the ``init`` stream
        (:mod:`neurosig.seeds`).
    description : str
        One line for ``neurosig models``.
    forward_only : bool
        True for learning rules with no feedback pathway (sigprop, Forward-Forward ...).
    equations : callable, optional
        Simulator models: ``equations(config)`` is the text of the equations and updates
        handed to the simulator (``neurosig models --describe NAME``).
    equivalent_targets : tuple of str
        Values of the model's ``target`` field (the simulator that runs it) that compute the
        same numbers, the fastest first; the tests hold them equal. A sweep runs its points on
        the first unless its declaration names a target (:class:`neurosig.sweep.Sweep`).
    """

    name: str
    config_cls: type
    build: Callable[[Any, int, int, np.random.Generator], TrainableModel]
    description: str
    forward_only: bool
    equations: Callable[[Any], str] | None = None
    equivalent_targets: tuple[str, ...] = ()
