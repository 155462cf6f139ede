"""What a model can do: :class:`typing.Protocol` classes, checked with ``isinstance``.

Every model family implements :class:`TrainableModel`. The other protocols are capabilities that
some families have; code that needs one asks ``isinstance(model, RecordsSpikes)`` (never
``hasattr``), so a capability is a declared interface that a type checker and a reader can see.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class TrainableModel(Protocol):
    """What :func:`neurosig.train.train` needs from a model.

    ``loss_names`` are the names of the separately optimised parts (one per layer for local
    rules, e.g. ``("signal", "layer1", "layer2", "readout")``), in the order ``train_batch``
    reports their losses. ``readouts`` name the readouts; the first one is the primary.
    ``activity_units`` is the unit of :meth:`hidden_activity` (``"1"`` for rates of a rate
    network, ``"Hz"`` for firing rates); ``target`` is the simulator it runs on.
    """

    loss_names: tuple[str, ...]
    readouts: tuple[str, ...]
    activity_units: str
    target: str

    def train_batch(
        self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator
    ) -> dict[str, float]:
        """One update on a mini-batch; returns the loss of each part."""

    def predict(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Predicted labels of every readout, keyed by readout name."""

    def hidden_activity(self, x: np.ndarray) -> list[np.ndarray]:
        """Data-stream activity of each hidden layer (evaluation mode)."""

    def state_dict(self) -> dict[str, np.ndarray]:
        """All learned parameters as named arrays."""

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore parameters written by ``state_dict``."""

    def set_schedule_factor(self, factor: float) -> None:
        """Scale every learning rate of the model (``lr``, ``readout_lr`` ...) by ``factor``.

        The trainer's learning-rate schedule calls this once per epoch; ``factor = 1`` gives
        the rates of the configuration.
        """


@runtime_checkable
class FitsTrainingSet(Protocol):
    """A model whose learning is a convex fit on the whole training set (random features'
    readout): :func:`neurosig.train.train` calls :meth:`fit_training_set` once per epoch
    instead of the mini-batch loop."""

    def fit_training_set(
        self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator
    ) -> dict[str, float]:
        """Fit on every training sample; returns the loss of each part."""


@runtime_checkable
class RecordsSpikes(Protocol):
    """A spiking model that can record spike trains and membrane traces of presented samples."""

    def recordings(self, x: np.ndarray) -> Any:
        """Spikes and traces of every hidden layer while ``x`` is presented (evaluation mode),
        as a :class:`neurosig.results.Recordings`."""


@runtime_checkable
class BrianNetworkModel(Protocol):
    """A model simulated by Brian2: its network can be built (never run) for the audit."""

    def build_network(self) -> dict[str, Any]:
        """The Brian2 objects of the network, built in the current device and scope."""

    def layer_of(self) -> dict[str, float]:
        """Layer index of every NeuronGroup (0 = the input layer)."""


@runtime_checkable
class DeclaresUpdateReads(Protocol):
    """A numpy model that declares what each of its updates reads (for the locality audit).

    ``presentation_phases`` is the number of passes one update needs (1: one forward pass; 2:
    e.g. a forward pass, then the pass that sends the error back) and ``phases_reason`` says
    what they are, for the audit's temporal row.
    """

    presentation_phases: int
    phases_reason: str

    def update_reads(self) -> tuple[Any, ...]:
        """One entry per parameter block: the quantities its update reads."""


@runtime_checkable
class MeasurableUpdates(Protocol):
    """A numpy model whose updates the audit measures (:mod:`neurosig.analyses.audit_measured`).

    The measurement perturbs one part of a copy of the model at a time and watches which
    blocks' updates change, so it needs the model's parts by name: the blocks in forward
    order, each block's computing unit (whose ``forward`` is the only way the block's activity
    is computed, and whose ``params`` are its weights), the optimiser state of each trained
    block, the fixed arrays (feedback matrices), the update of one batch, and the one place
    where the label enters the forward stream. ``n_features`` and ``n_classes`` are the sizes
    of a batch's samples and labels.
    """

    n_features: int
    n_classes: int

    def block_names(self) -> tuple[str, ...]:
        """Every parameter block, in forward order (the label projection first, the output
        or readout last)."""

    def block_layer(self, name: str) -> float:
        """Layer index of block ``name``: 0 for the label projection, 1..L for the hidden
        layers, L+1 for the output or readout (the Brian2 audit's numbering)."""

    def block(self, name: str) -> Any:
        """Block ``name``'s unit: a :class:`neurosig.nn.Dense` (``forward``, ``params``)."""

    def optimiser_state(self, name: str) -> dict[str, np.ndarray]:
        """The live arrays of block ``name``'s optimiser (empty for an untrained block)."""

    def fixed_arrays(self) -> dict[str, np.ndarray]:
        """The live arrays that are never learned (e.g. feedback matrices), by name."""

    def gradients(
        self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator
    ) -> tuple[dict[str, float], dict[str, dict[str, np.ndarray]]]:
        """Losses and the update of every trained block for one batch, nothing applied."""

    def train_batch(
        self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator
    ) -> dict[str, float]:
        """One update on a mini-batch (gradients, then the optimisers' steps)."""

    def label_entry(self, y: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
        """What the labels become where they enter the forward stream (the model's only
        entry point for them); None when they never enter it (only the output's loss reads
        them)."""


@runtime_checkable
class DeclaresStimuli(Protocol):
    """A Brian2 model that declares its inputs, for :func:`neurosig.analyses.audit.audit_model`.

    The audit trusts an input (a ``TimedArray``, an array in a namespace, a
    ``SpikeGeneratorGroup``) only when it is declared, with the layer at which it enters.
    """

    def stimuli(self) -> dict[str, float]:
        """Layer at which each input enters, by name (0: data and label)."""

    def label_inputs(self) -> tuple[str, ...]:
        """Names of the inputs and groups that carry the label."""
