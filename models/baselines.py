"""The non-sigprop baselines: BP, FA, DFA, Forward-Forward and random features (numpy).

Every model here is a multilayer perceptron of :class:`neurosig.nn.Dense` blocks, built from one
:class:`MLPConfig` by :func:`hidden_blocks`, with one :class:`neurosig.nn.Adam` per trained
block. SP-core uses the same blocks and the same config, so "same architecture" means the same
code path: the rules below differ only in *which* error reaches a block, never in how a block
computes. With the same seed, BP, FA, DFA and random features start from identical weights.

- ``bp`` (backprop): ``dy_l = dz_{l+1} W_{l+1}``, the exact gradient.
- ``fa`` (feedback alignment): ``dy_l = dz_{l+1} B_{l+1}``, ``B_{l+1}`` fixed and random.
- ``dfa`` (direct feedback alignment): ``dy_l = e B_l``, ``e = dL/dlogits``, ``B_l`` fixed.
- ``ff`` (Forward-Forward, forward-only): no error crosses layers; each layer descends the
  gradient of its own goodness loss.
- ``random-features`` (forward-only): hidden layers frozen; a linear readout learns.

Each model exposes ``gradients(x, y, rng) -> (losses, grads)``, the update *before* the
optimiser step, keyed by block name; ``train_batch`` calls it and steps the optimisers. The
gradient checks in ``tests/test_baselines.py`` compare it with finite differences.

References
----------
.. [1] Rumelhart, Hinton & Williams (1986). Learning representations by back-propagating errors.
   Nature 323, 533-536.
.. [2] Lillicrap, Cownden, Tweed & Akerman (2016). Random synaptic feedback weights support error
   backpropagation for deep learning. Nat. Commun. 7, 13276.
.. [3] Nokland (2016). Direct feedback alignment provides learning in deep neural networks.
   NeurIPS 29.
.. [4] Hinton (2022). The Forward-Forward algorithm: some preliminary investigations.
   arXiv:2212.13345.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurosig import nn
from neurosig.config import param
from neurosig.errors import ConfigError
from neurosig.modelspec import ModelSpec

Losses = dict[str, float]
Gradients = dict[str, dict[str, np.ndarray]]

LENGTH_NORM_EPS = 1e-8  # keeps a silent layer's normalised activity at 0 instead of NaN
READOUT_MAX_ITER = 5000  # L-BFGS iterations of the random-features readout (converges well below)
NEVER_SEEN_LOGIT = -1e4  # readout bias of a class with no training sample


@dataclass(frozen=True)
class Read:
    """One quantity that a parameter update reads (a declaration, for the locality audit).

    Attributes
    ----------
    what : str
        The quantity, in words (``"h of layer1 (its input)"``).
    kind : str
        Where it is available, in the categories of :mod:`neurosig.analyses.audit`: ``"pre"``,
        ``"post"`` (the neuron's own state, or an input it receives), ``"shared"`` (a per-layer
        scalar or summary), ``"global input"`` (the label, entering at the front); or the
        failing ones, ``"weight transport"`` (another layer's weights) and ``"non-local"``.
    pathway : str, optional
        Set when the quantity comes from a later layer, e.g. ``"feedback pathway from
        output"``: the network then needs connections from later to earlier layers.
    """

    what: str
    kind: str
    pathway: str = ""


LABEL_ROUTES = ("none", "stream", "direct", "feedback")


@dataclass(frozen=True)
class UpdateReads:
    """Everything the update of one block's parameters reads (see :meth:`update_reads`).

    ``reads`` documents the quantities in words. The other fields are what
    :mod:`neurosig.analyses.audit_measured` measures and checks against the model's code:
    ``later``, the later blocks whose state (activity, weights, optimiser) the update
    depends on; ``weights_of``, the other blocks whose weights it reads (weight transport);
    ``label``, how the label reaches it: ``"none"``, ``"stream"`` (only through the forward
    stream, from the model's label entry), ``"direct"`` (the label itself, e.g. as a loss
    target) or ``"feedback"`` (through an error from later blocks).
    """

    block: str  # "layer1", "output", "readout", "signal"
    params: str  # the parameters it changes, e.g. "W, b"
    reads: tuple[Read, ...]
    later: tuple[str, ...] = ()
    weights_of: tuple[str, ...] = ()
    label: str = "none"

    def __post_init__(self) -> None:
        if self.label not in LABEL_ROUTES:
            raise ValueError(f"label must be one of {LABEL_ROUTES}, got {self.label!r}")


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MLPConfig:
    """The multilayer perceptron shared by SP-core and every baseline, and its optimiser."""

    hidden: tuple[int, ...] = param((256, 256), "units per hidden layer", bounds=(1, None))
    activation: str = param("leaky_relu", "hidden-layer non-linearity", choices=nn.ACTIVATIONS)
    norm: str = param(
        "none", "per-sample normalisation of hidden pre-activations", choices=nn.NORMS
    )
    dropout: float = param(0.0, "drop probability of hidden units in training", bounds=(0, 0.95))
    lr: float = param(5e-4, "Adam learning rate (one optimiser per layer)", bounds=(0, 10))
    weight_decay: float = param(0.0, "L2 penalty added to the gradient", bounds=(0, None))
    dtype: str = param("float32", "floating-point precision", choices=("float32", "float64"))

    def validate(self, where: str) -> None:
        """Cross-field checks, called by :func:`neurosig.config.check`."""
        if not self.hidden:
            raise ConfigError(f"{where}.hidden = []: give at least one hidden layer, e.g. [256]")


BackpropConfig = MLPConfig
FeedbackAlignmentConfig = MLPConfig
DirectFeedbackAlignmentConfig = MLPConfig


@dataclass(frozen=True)
class RandomFeaturesConfig(MLPConfig):
    """Random features: :class:`MLPConfig` plus how the readout is fitted."""

    readout_fit: str = param(
        "lbfgs",
        "readout: multinomial logistic regression fitted to convergence on the whole training "
        "set (scikit-learn, L-BFGS), or Adam on mini-batches (lr) like the other models",
        choices=("lbfgs", "adam"),
    )
    readout_c: float = param(
        1.0, "lbfgs: inverse L2 strength C of scikit-learn's LogisticRegression", bounds=(1e-6, 1e6)
    )


@dataclass(frozen=True)
class ForwardForwardConfig(MLPConfig):
    """Forward-Forward: :class:`MLPConfig` plus the label overlay, goodness and threshold."""

    label_scale: float = param(
        1.0, "value of the one-hot label entries concatenated to the input", bounds=(0, None)
    )
    goodness: str = param(
        "mean_squares",
        "goodness of a layer: sum or mean of its squared activities",
        choices=("sum_squares", "mean_squares"),
    )
    theta: float = param(2.0, "goodness threshold separating positive from negative data")
    length_norm: str = param(
        "rms",
        "length normalisation between layers: unit mean square (default; with unit L2 norm and"
        " mean-square goodness a layer must grow its weights ~sqrt(n) before reaching theta)"
        " or unit L2 norm (Hinton 2022)",
        choices=("l2", "rms"),
    )
    predict_skip_first: bool = param(
        True, "leave the first hidden layer out of both readouts when there are several"
    )


# --------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------


def hidden_blocks(config: MLPConfig, n_in: int, rng: np.random.Generator) -> list[nn.Dense]:
    """The hidden layers ``n_in -> hidden[0] -> ... -> hidden[-1]`` of every numpy model.

    Weights are drawn from ``rng`` layer by layer, so the same seed gives the same hidden layers
    in every model that calls this first.
    """
    sizes = (n_in, *config.hidden)
    return [
        nn.Dense(
            n_pre,
            n_post,
            activation=config.activation,
            norm=config.norm,
            dropout=config.dropout,
            rng=rng,
            dtype=np.dtype(config.dtype).type,
        )
        for n_pre, n_post in zip(sizes[:-1], sizes[1:], strict=True)
    ]


def linear_block(n_in: int, n_out: int, rng: np.random.Generator, dtype: type) -> nn.Dense:
    """A linear Dense block (no activation, norm or dropout): output layers and readouts."""
    return nn.Dense(n_in, n_out, activation="linear", norm="none", rng=rng, dtype=dtype)


def random_feedback(shape: tuple[int, int], rng: np.random.Generator, dtype: type) -> np.ndarray:
    """A fixed feedback matrix, uniform in ``+-1/sqrt(shape[1])`` like a Dense weight."""
    bound = 1 / np.sqrt(shape[1])
    return rng.uniform(-bound, bound, shape).astype(dtype)


def length_normalise(a: np.ndarray, kind: str = "l2") -> np.ndarray:
    """Divide each row of ``a`` (B, n) by its length.

    ``"l2"``: ``a / (||a||_2 + eps)`` (unit length); ``"rms"``: ``a / (sqrt(mean_j a_j^2) + eps)``
    (unit mean square, length ``sqrt(n)``). Either way the direction is kept and the length,
    hence the goodness, is removed.

    Examples
    --------
    >>> length_normalise(np.array([[3.0, 4.0]]))
    array([[0.6, 0.8]])
    """
    if kind == "l2":
        size = np.sqrt((a * a).sum(axis=1, keepdims=True))
    elif kind == "rms":
        size = np.sqrt((a * a).mean(axis=1, keepdims=True))
    else:
        raise ValueError(f"unknown length normalisation {kind!r}; choose l2 or rms")
    return a / (size + LENGTH_NORM_EPS)


class LayeredModel:
    """Named Dense blocks with one Adam per trained block: the plumbing of every numpy model.

    Subclasses fill ``blocks`` (name -> :class:`~neurosig.nn.Dense`, in forward order),
    ``feedback`` (fixed matrices drawn at build time) and call :meth:`add_optimisers`; they
    implement ``gradients``, ``predict`` and ``hidden_activity``. This class provides
    ``train_batch``, ``state_dict``, ``load_state_dict`` and ``set_schedule_factor`` of the
    :class:`~neurosig.protocols.TrainableModel` protocol.
    """

    loss_names: tuple[str, ...] = ()
    readouts: tuple[str, ...] = ()
    activity_units: str = "1"  # hidden_activity: the layers' activations (dimensionless)
    target: str = "numpy"
    # Presentation phases one update needs, and why (declared for the audit).
    presentation_phases: int = 1
    phases_reason: str = "one forward pass"

    def __init__(self, config: MLPConfig, n_classes: int) -> None:
        self.config = config
        self.n_classes = n_classes
        self.n_features = 0  # set when the blocks are added
        self.dtype: type = np.dtype(config.dtype).type
        self.blocks: dict[str, nn.Dense] = {}
        self.feedback: dict[str, np.ndarray] = {}
        self.optimisers: dict[str, nn.Adam] = {}

    def add_mlp(self, n_in: int, rng: np.random.Generator, head: str) -> None:
        """Add the hidden blocks ``layer1..layerL`` and a linear block ``head`` on top."""
        self.n_features = n_in
        for i, block in enumerate(hidden_blocks(self.config, n_in, rng), start=1):
            self.blocks[f"layer{i}"] = block
        self.blocks[head] = linear_block(self.config.hidden[-1], self.n_classes, rng, self.dtype)

    def add_optimisers(self, names: list[str]) -> None:
        """Give each named block its own Adam, with the config's learning rate and decay."""
        for name in names:
            self.optimisers[name] = nn.Adam(
                self.blocks[name].params, lr=self.config.lr, weight_decay=self.config.weight_decay
            )

    def gradients(
        self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator
    ) -> tuple[Losses, Gradients]:
        """Losses and the update of every trained block, before any optimiser step."""
        raise NotImplementedError

    def update_reads(self) -> tuple[UpdateReads, ...]:
        """What the update of every trained block reads (documentation that the measured
        audit, :mod:`neurosig.analyses.audit_measured`, checks against the code)."""
        raise NotImplementedError

    # -- MeasurableUpdates (neurosig.protocols): the parts the measured audit perturbs -------
    def block_names(self) -> tuple[str, ...]:
        """Every block, in forward order."""
        return tuple(self.blocks)

    def block_layer(self, name: str) -> float:
        """``layer<l>`` is layer l, the last block (output or readout) L+1, a block in front
        of the hidden layers (SP-core's label projection) 0."""
        hidden = [n for n in self.blocks if n.startswith("layer")]
        if name in hidden:
            return float(hidden.index(name) + 1)
        return float(len(hidden) + 1) if name == list(self.blocks)[-1] else 0.0

    def block(self, name: str) -> nn.Dense:
        """The Dense unit of block ``name``."""
        return self.blocks[name]

    def optimiser_state(self, name: str) -> dict[str, np.ndarray]:
        """The live moment arrays of block ``name``'s Adam (empty if the block is frozen)."""
        if name not in self.optimisers:
            return {}
        opt = self.optimisers[name]
        return {f"m_{k}": v for k, v in opt.m.items()} | {f"v_{k}": v for k, v in opt.v.items()}

    def fixed_arrays(self) -> dict[str, np.ndarray]:
        """The fixed feedback matrices, live, under their state-dict names."""
        return {f"feedback_{name}.B": matrix for name, matrix in self.feedback.items()}

    def label_entry(self, y: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
        """What the labels become where they enter the forward stream; None here: the label
        never enters it (only the output's loss reads it)."""
        return None

    def _params(self, name: str) -> str:
        """The parameters of block ``name``, e.g. ``"W, b"``."""
        return ", ".join(self.blocks[name].params)

    def _input_name(self, name: str) -> str:
        """The presynaptic activity of block ``name``: the data, or the block below's output."""
        names = list(self.blocks)
        below = names.index(name) - 1
        return "x (the data)" if below < 0 else f"h of {names[below]} (its input)"

    def _readout_reads(self, name: str) -> UpdateReads:
        """A linear readout trained by softmax cross-entropy: local to the readout units."""
        return UpdateReads(
            name,
            self._params(name),
            (
                Read(self._input_name(name), "pre"),
                Read("e = softmax(z) - onehot(y): its own output and the label", "post"),
            ),
            label="direct",
        )

    def train_batch(self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> Losses:
        """One update on a mini-batch; returns the loss of each part (``loss_names``)."""
        losses, grads = self.gradients(x, y, rng)
        for name, grad in grads.items():
            self.optimisers[name].step(grad)
        return losses

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the weights, fixed feedback matrices and Adam moments.

        Keys are ``"<block>.<array>"``: ``"layer1.W"``, ``"output.b"``, ``"feedback_layer2.B"``
        (the fixed matrix of :attr:`feedback` ``["layer2"]``), and ``"adam.<block>.<moment>"``
        for the optimiser state, the convention shared with SP-core and read by
        :mod:`neurosig.train`.
        """
        state = {}
        for name, block in self.blocks.items():
            for key, value in block.params.items():
                state[f"{name}.{key}"] = value.copy()
        for name, matrix in self.feedback.items():
            state[f"feedback_{name}.B"] = matrix.copy()
        for name, opt in self.optimisers.items():
            for key, value in opt.state().items():
                state[f"adam.{name}.{key}"] = np.array(value, copy=True)
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore everything written by :meth:`state_dict`; training then continues identically.

        Arrays are copied into the existing ones, which the optimisers hold by reference.
        """
        own = self.state_dict()
        missing, unexpected = own.keys() - state.keys(), state.keys() - own.keys()
        if missing or unexpected:
            raise ValueError(
                f"state does not fit this model: missing {sorted(missing)}, "
                f"unexpected {sorted(unexpected)}"
            )
        for key, value in state.items():
            if np.shape(value) != own[key].shape:
                raise ValueError(
                    f"state[{key!r}] has shape {np.shape(value)}, expected {own[key].shape}"
                )
        for name, block in self.blocks.items():
            for key, array in block.params.items():
                array[...] = state[f"{name}.{key}"]
        for name, matrix in self.feedback.items():
            matrix[...] = state[f"feedback_{name}.B"]
        for name, opt in self.optimisers.items():
            prefix = f"adam.{name}."
            opt.load_state({k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)})

    def set_schedule_factor(self, factor: float) -> None:
        """Every optimiser's learning rate becomes ``lr`` of the config times ``factor``."""
        for opt in self.optimisers.values():
            opt.lr = self.config.lr * factor

    def as_input(self, x: np.ndarray) -> np.ndarray:
        """``x`` in the model's dtype."""
        return np.asarray(x, dtype=self.dtype)


# --------------------------------------------------------------------------------------------
# BP, FA, DFA: one output error, three feedback pathways
# --------------------------------------------------------------------------------------------


class FeedbackMLP(LayeredModel):
    """Hidden blocks, a linear output block and softmax cross-entropy, trained end to end.

    The output error ``e = dL/dlogits = (softmax(z_L) - onehot(y)) / B`` is sent back to the
    hidden layers along a pathway chosen by the subclass (:meth:`error_below`); each block then
    applies its own local backward: ``dz_l = dy_l * f'(z_l)`` (through the norm and dropout
    mask) and ``dW_l = dz_l^T h_{l-1}``, ``db_l = sum_batch dz_l``.
    """

    loss_names = ("output",)
    readouts = ("output",)
    presentation_phases = 2
    phases_reason = "a forward pass, then the pass that sends the error back"

    def __init__(
        self, config: MLPConfig, n_in: int, n_classes: int, rng: np.random.Generator
    ) -> None:
        super().__init__(config, n_classes)
        self.add_mlp(n_in, rng, head="output")
        self.add_optimisers(list(self.blocks))

    def error_read(self, i: int) -> Read:
        """What block ``i - 1`` reads of the error, and along which pathway (declared)."""
        raise NotImplementedError

    def update_reads(self) -> tuple[UpdateReads, ...]:
        """The output block reads its input and its own error; every hidden block its input,
        its own derivative and the error that the rule sends back (:meth:`error_read`)."""
        names = list(self.blocks)
        out = []
        for i, name in enumerate(names[:-1]):
            reads = (
                Read(self._input_name(name), "pre"),
                Read("f'(z), its own derivative", "post"),
                self.error_read(i + 1),
            )
            later = tuple(names[i + 1 :])
            weights = later if self.error_read(i + 1).kind == "weight transport" else ()
            entry = UpdateReads(name, self._params(name), reads, later, weights, "feedback")
            out.append(entry)
        return (*out, self._readout_reads(names[-1]))

    def error_below(self, i: int, dz: np.ndarray, e: np.ndarray) -> np.ndarray:
        """The error ``dL/dy`` delivered to the output of block ``i - 1``.

        Parameters
        ----------
        i : int
            Index (in ``blocks``) of the block above, ``i >= 1``.
        dz : (B, n_i) array
            The pre-activation error of block ``i``.
        e : (B, C) array
            The output error ``dL/dlogits``.
        """
        raise NotImplementedError

    def gradients(
        self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator
    ) -> tuple[Losses, Gradients]:
        """Cross-entropy loss and the rule's update of every block (none applied yet)."""
        a = self.as_input(x)
        caches = []
        for block in self.blocks.values():
            a, cache = block.forward(a, train=True, rng=rng)
            caches.append(cache)
        loss, e = nn.cross_entropy(a, y)
        blocks = list(self.blocks.items())
        grads: Gradients = {}
        dy = e
        for i in reversed(range(len(blocks))):
            name, block = blocks[i]
            dz = block.output_to_preactivation(dy, caches[i])
            grads[name] = block.parameter_gradients(dz, caches[i].x)
            if i > 0:
                dy = self.error_below(i, dz, e)
        return {"output": loss}, {name: grads[name] for name in self.blocks}

    def hidden_activity(self, x: np.ndarray) -> list[np.ndarray]:
        """Activity of each hidden layer in evaluation mode (no dropout)."""
        a = self.as_input(x)
        out = []
        for name, block in self.blocks.items():
            if name == "output":
                break
            a, _ = block.forward(a)
            out.append(a)
        return out

    def predict(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """``argmax`` of the output logits."""
        logits, _ = self.blocks["output"].forward(self.hidden_activity(x)[-1])
        return {"output": logits.argmax(axis=1)}


class Backprop(FeedbackMLP):
    """Backpropagation [1]_: the exact gradient of the cross-entropy.

    ``dy_{l} = dz_{l+1} W_{l+1}``: the error travels back through the transposed forward
    weights (weight transport).

    References
    ----------
    .. [1] Rumelhart, Hinton & Williams (1986). Learning representations by back-propagating
       errors. Nature 323, 533-536.

    Examples
    --------
    >>> model = Backprop(MLPConfig(hidden=(8,)), 4, 3, np.random.default_rng(0))
    >>> x, y = np.ones((5, 4)), np.array([0, 1, 2, 0, 1])
    >>> sorted(model.train_batch(x, y, np.random.default_rng(1)))
    ['output']
    """

    def error_below(self, i: int, dz: np.ndarray, e: np.ndarray) -> np.ndarray:
        return dz @ list(self.blocks.values())[i].W

    def error_read(self, i: int) -> Read:
        above = list(self.blocks)[i]
        return Read(
            f"dz W: the error of {above} through {above}.W, its forward weights (transposed)",
            "weight transport",
            f"feedback pathway from {above}",
        )


class FeedbackAlignment(FeedbackMLP):
    """Feedback alignment [1]_: the error travels back through fixed random matrices.

    ``dy_l = dz_{l+1} B_{l+1}``, where ``B_{l+1}`` has the shape of ``W_{l+1}``, is drawn once
    at build time (uniform in ``+-1/sqrt(n_l)``, like the forward initialisation) and never
    learned. The output layer's update is the exact gradient; the forward weights come to
    align with ``B``. ``feedback[name]`` replaces the weights of block ``name``.

    References
    ----------
    .. [1] Lillicrap, Cownden, Tweed & Akerman (2016). Random synaptic feedback weights support
       error backpropagation for deep learning. Nat. Commun. 7, 13276.
    """

    def __init__(
        self, config: MLPConfig, n_in: int, n_classes: int, rng: np.random.Generator
    ) -> None:
        super().__init__(config, n_in, n_classes, rng)
        for name, block in list(self.blocks.items())[1:]:
            self.feedback[name] = random_feedback(block.W.shape, rng, self.dtype)

    def error_below(self, i: int, dz: np.ndarray, e: np.ndarray) -> np.ndarray:
        return dz @ self.feedback[list(self.blocks)[i]]

    def error_read(self, i: int) -> Read:
        above = list(self.blocks)[i]
        return Read(
            f"dz B: the error of {above} through the fixed random matrix feedback_{above}.B",
            "post",
            f"feedback pathway from {above}",
        )


class DirectFeedbackAlignment(FeedbackMLP):
    """Direct feedback alignment [1]_: every hidden layer gets the output error directly.

    ``dy_l = e B_l`` with ``e = dL/dlogits`` (B x C) and a fixed random ``B_l`` (C x n_l),
    uniform in ``+-1/sqrt(n_l)``; then the block's local backward. The output layer's update is
    the exact gradient. ``feedback[name]`` is the matrix that reaches hidden block ``name``.

    References
    ----------
    .. [1] Nokland (2016). Direct feedback alignment provides learning in deep neural networks.
       Advances in Neural Information Processing Systems 29.
    """

    def __init__(
        self, config: MLPConfig, n_in: int, n_classes: int, rng: np.random.Generator
    ) -> None:
        super().__init__(config, n_in, n_classes, rng)
        for name, block in list(self.blocks.items())[:-1]:
            self.feedback[name] = random_feedback((n_classes, block.n_out), rng, self.dtype)

    def error_below(self, i: int, dz: np.ndarray, e: np.ndarray) -> np.ndarray:
        return e @ self.feedback[list(self.blocks)[i - 1]]

    def error_read(self, i: int) -> Read:
        below = list(self.blocks)[i - 1]
        return Read(
            f"e B: the output error through the fixed random matrix feedback_{below}.B",
            "post",
            "direct feedback pathway from output",
        )


class RandomFeatures(LayeredModel):
    """Random features: the hidden layers keep their initial weights; only a readout learns.

    The readout is the linear output block of :class:`Backprop` (same seed, same weights),
    trained with softmax cross-entropy on the last hidden activity: ``dW = e^T h_L``.

    References
    ----------
    .. [1] Rahimi & Recht (2008). Random features for large-scale kernel machines. NeurIPS 20.
    """

    loss_names = ("readout",)
    readouts = ("readout",)

    def __init__(
        self, config: RandomFeaturesConfig, n_in: int, n_classes: int, rng: np.random.Generator
    ) -> None:
        super().__init__(config, n_classes)
        self.add_mlp(n_in, rng, head="readout")
        self.add_optimisers(["readout"])

    def _hidden(
        self, x: np.ndarray, train: bool, rng: np.random.Generator | None
    ) -> list[np.ndarray]:
        a = self.as_input(x)
        out = []
        for name, block in self.blocks.items():
            if name == "readout":
                break
            a, _ = block.forward(a, train=train, rng=rng)
            out.append(a)
        return out

    def update_reads(self) -> tuple[UpdateReads, ...]:
        """Only the readout learns; the hidden blocks keep their initial weights."""
        return (self._readout_reads("readout"),)

    def gradients(
        self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator
    ) -> tuple[Losses, Gradients]:
        """Cross-entropy of the readout and its gradient (the hidden layers get none)."""
        readout = self.blocks["readout"]
        logits, cache = readout.forward(self._hidden(x, True, rng)[-1])
        loss, e = nn.cross_entropy(logits, y)
        _, grad = readout.backward(e, cache, input_grad=False)
        return {"readout": loss}, {"readout": grad}

    def hidden_activity(self, x: np.ndarray) -> list[np.ndarray]:
        """Activity of each hidden layer in evaluation mode."""
        return self._hidden(x, False, None)

    def predict(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """``argmax`` of the readout logits."""
        logits, _ = self.blocks["readout"].forward(self.hidden_activity(x)[-1])
        return {"readout": logits.argmax(axis=1)}


class ConvergedRandomFeatures(RandomFeatures):
    """Random features whose readout is fitted to convergence (``readout_fit = "lbfgs"``).

    A random-features baseline is only a baseline if its readout is as good as the frozen
    features allow: a readout still learning after a user's epoch budget would understate it
    (neurosig's Adam readout reached 30 % on a task where a converged one reached 58 %). The
    readout is scikit-learn's multinomial :class:`~sklearn.linear_model.LogisticRegression`
    (L-BFGS, L2 with inverse strength ``readout_c``) on the last hidden layer's activity of the
    whole training set. The features are frozen, so the fit of the first epoch is final; later
    epochs only report its loss. It implements
    :class:`~neurosig.protocols.FitsTrainingSet`: the trainer hands it the whole training set.
    """

    def __init__(
        self, config: RandomFeaturesConfig, n_in: int, n_classes: int, rng: np.random.Generator
    ) -> None:
        super().__init__(config, n_in, n_classes, rng)
        self.fitted_loss: float | None = None

    def fit_training_set(self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> Losses:
        """Fit the readout once (L-BFGS to convergence); returns its training cross-entropy."""
        if self.fitted_loss is None:
            from sklearn.linear_model import LogisticRegression

            h = self.hidden_activity(x)[-1].astype(np.float64)
            present = np.unique(y)
            fit = LogisticRegression(C=self.config.readout_c, max_iter=READOUT_MAX_ITER)
            fit.fit(h, y)
            coef, intercept = fit.coef_, fit.intercept_
            if len(present) == 2:  # scikit-learn's binary form: one logit, z1 - z0
                coef = np.stack([-coef[0] / 2, coef[0] / 2])
                intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
            readout = self.blocks["readout"]
            readout.W[...] = 0
            readout.b[...] = NEVER_SEEN_LOGIT  # classes absent from training are never chosen
            readout.W[present] = coef  # row c: class c (present: the classes seen, sorted)
            readout.b[present] = intercept
            logits, _ = readout.forward(h.astype(self.dtype))
            self.fitted_loss = float(nn.cross_entropy(logits, y)[0])
        return {"readout": self.fitted_loss}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        super().load_state_dict(state)
        self.fitted_loss = None  # restored weights: fit again at the next epoch


def build_random_features(
    config: RandomFeaturesConfig, n_in: int, n_classes: int, rng: np.random.Generator
) -> RandomFeatures:
    """The random-features model of ``config.readout_fit``."""
    cls = ConvergedRandomFeatures if config.readout_fit == "lbfgs" else RandomFeatures
    return cls(config, n_in, n_classes, rng)


# --------------------------------------------------------------------------------------------
# Forward-Forward
# --------------------------------------------------------------------------------------------


def goodness(a: np.ndarray, kind: str = "mean_squares") -> np.ndarray:
    """Goodness of each row of a layer's activity ``a`` (B, n).

    ``g = sum_j a_j^2`` (``"sum_squares"``) or ``g = (1/n) sum_j a_j^2`` (``"mean_squares"``).

    Examples
    --------
    >>> goodness(np.array([[1.0, 3.0]]))
    array([5.])
    >>> goodness(np.array([[1.0, 3.0]]), "sum_squares")
    array([10.])
    """
    if kind == "sum_squares":
        return (a * a).sum(axis=1)
    if kind == "mean_squares":
        return (a * a).mean(axis=1)
    raise ValueError(f"unknown goodness {kind!r}; choose sum_squares or mean_squares")


def goodness_gradient(a: np.ndarray, kind: str = "mean_squares") -> np.ndarray:
    """``dg/da``: ``2 a`` for ``"sum_squares"``, ``2 a / n`` for ``"mean_squares"``."""
    scale = 2.0 if kind == "sum_squares" else 2.0 / a.shape[1]
    return (scale * a).astype(a.dtype, copy=False)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * z))


def ff_loss(
    g_pos: np.ndarray, g_neg: np.ndarray, theta: float
) -> tuple[float, np.ndarray, np.ndarray]:
    """Forward-Forward layer loss and its gradient with respect to the goodness values.

    ``L = (1/B) sum_i [softplus(theta - g_pos_i) + softplus(g_neg_i - theta)]``, i.e. the
    logistic loss of ``p(positive) = sigmoid(g - theta)`` [1]_; then
    ``dL/dg_pos_i = -sigmoid(theta - g_pos_i) / B`` and
    ``dL/dg_neg_i = sigmoid(g_neg_i - theta) / B``.

    Parameters
    ----------
    g_pos, g_neg : (B,) arrays
        Goodness of the positive (true label) and negative (wrong label) samples.
    theta : float
        Threshold.

    Returns
    -------
    loss, dL/dg_pos, dL/dg_neg

    References
    ----------
    .. [1] Hinton (2022). The Forward-Forward algorithm: some preliminary investigations.
       arXiv:2212.13345.

    Examples
    --------
    At the threshold each term is ``log 2``:

    >>> loss, _, _ = ff_loss(np.array([2.0]), np.array([2.0]), theta=2.0)
    >>> print(f"{loss:.4f}")
    1.3863
    """
    b = len(g_pos)
    loss = float((np.logaddexp(0, theta - g_pos).sum() + np.logaddexp(0, g_neg - theta).sum()) / b)
    return loss, -_sigmoid(theta - g_pos) / b, _sigmoid(g_neg - theta) / b


def wrong_labels(y: np.ndarray, n_classes: int, rng: np.random.Generator) -> np.ndarray:
    """For each label, a different label drawn uniformly from the other ``n_classes - 1``.

    ``y_neg = (y + k) mod C`` with ``k`` uniform in ``{1, ..., C - 1}``.

    Examples
    --------
    >>> wrong_labels(np.array([0, 1]), 2, np.random.default_rng(0))
    array([1, 0])
    """
    if n_classes < 2:
        raise ValueError("negative labels need at least two classes")
    return (np.asarray(y) + rng.integers(1, n_classes, size=len(y))) % n_classes


class ForwardForward(LayeredModel):
    """Forward-Forward [1]_: each layer separates positive from negative data by its goodness.

    The label is overlaid on the input by concatenation, ``x_0 = (x, s * onehot(c))``
    (``s = label_scale``). Layer ``l`` computes ``a_l = f(norm(W_l x_{l-1} + b_l))`` and passes
    on the length-normalised activity ``x_l = a_l / ||a_l||`` (:func:`length_normalise`; with
    ``length_norm = "rms"`` the length is ``sqrt(n_l)`` instead of 1), so that the next layer
    cannot read the goodness off the vector's length. Its loss is :func:`ff_loss` of the
    goodness ``g_l = mean_j a_lj^2`` (or the sum, :func:`goodness`) with positive data
    ``(x, y)`` and negative data ``(x, y')``, ``y'`` drawn uniformly from the other classes
    (:func:`wrong_labels`):
    ``L_l = (1/B) sum_i softplus(theta - g_l(x_i, y_i)) + softplus(g_l(x_i, y'_i) - theta)``.
    Each layer's input is treated as a constant (detached), so the update of ``W_l`` is the
    gradient of ``L_l`` alone: ``dW_l = dz_l^T x_{l-1}`` with ``dz_l = (dL_l/dg_l) dg/da * f'``.

    Notes
    -----
    Two readouts. ``goodness``: ``argmax_c sum_l g_l(x, c)``, the sum over layers (without the
    first when ``predict_skip_first`` and there are several), one forward pass per class.
    ``linear``: a softmax layer trained by cross-entropy on the concatenated length-normalised
    activities of the same layers for the input with a neutral label, ``s / C`` in every label
    entry (the mean of the one-hot overlays), detached from the network; its loss is
    ``"readout"``. The first layer's input ``(x, s * onehot(c))`` is not normalised.

    References
    ----------
    .. [1] Hinton (2022). The Forward-Forward algorithm: some preliminary investigations.
       arXiv:2212.13345.

    Examples
    --------
    >>> model = ForwardForward(ForwardForwardConfig(hidden=(8, 8)), 4, 3, np.random.default_rng(0))
    >>> model.loss_names
    ('layer1', 'layer2', 'readout')
    """

    readouts = ("goodness", "linear")
    presentation_phases = 2
    phases_reason = "positive data (the true label), then negative data (a wrong label)"

    def __init__(
        self, config: ForwardForwardConfig, n_in: int, n_classes: int, rng: np.random.Generator
    ) -> None:
        super().__init__(config, n_classes)
        self.n_features = n_in
        for i, block in enumerate(hidden_blocks(config, n_in + n_classes, rng), start=1):
            self.blocks[f"layer{i}"] = block
        self.hidden_names = tuple(self.blocks)
        skip = config.predict_skip_first and len(config.hidden) > 1
        self.readout_layers = self.hidden_names[1:] if skip else self.hidden_names
        n_features = sum(self.blocks[name].n_out for name in self.readout_layers)
        self.blocks["readout"] = linear_block(n_features, n_classes, rng, self.dtype)
        self.loss_names = (*self.hidden_names, "readout")
        self.add_optimisers(list(self.blocks))

    def update_reads(self) -> tuple[UpdateReads, ...]:
        """Each layer: its input (the label enters at the front, overlaid on the data), its
        own activity and goodness, and whether the data are positive; the readout: the
        normalised activities of the layers it reads."""
        out = []
        for i, name in enumerate(self.hidden_names):
            pre = "(x, label overlay)" if i == 0 else f"h of {self.hidden_names[i - 1]}"
            reads = (
                Read(f"{pre}, length-normalised (its input)", "pre"),
                Read("a = f(z) and f'(z), its own activity and derivative", "post"),
                Read(f"goodness g of {name} (a per-layer sum)", "shared"),
                Read("theta, and whether the data are positive or negative", "global input"),
            )
            out.append(UpdateReads(name, self._params(name), reads, label="stream"))
        layers = ", ".join(self.readout_layers)
        readout = UpdateReads(
            "readout",
            self._params("readout"),
            (
                Read(f"normalised h of {layers}, neutral label (its input)", "pre"),
                Read("e = softmax(z) - onehot(y): its own output and the label", "post"),
            ),
            label="direct",
        )
        return (*out, readout)

    def label_entry(self, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The label rows overlaid on the input: ``onehot(y)`` for the positive data, then
        ``onehot(y')`` for the negative data, ``y'`` drawn from ``rng`` (:func:`wrong_labels`)."""
        y_neg = wrong_labels(y, self.n_classes, rng)
        return nn.one_hot(np.concatenate([y, y_neg]), self.n_classes, self.dtype)

    def overlay(self, x: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """``(x, label_scale * labels)``: the label rows (B, C) concatenated to the input."""
        scaled = (self.config.label_scale * labels).astype(self.dtype)
        return np.concatenate([self.as_input(x), scaled], axis=1)

    def _activities(self, x0: np.ndarray) -> dict[str, np.ndarray]:
        """Evaluation-mode activity ``a_l`` of every hidden layer for the overlaid input."""
        out = {}
        a = x0
        for name in self.hidden_names:
            out[name], _ = self.blocks[name].forward(a)
            a = length_normalise(out[name], self.config.length_norm)
        return out

    def _neutral_features(self, x: np.ndarray) -> np.ndarray:
        neutral = np.full((len(x), self.n_classes), 1 / self.n_classes)
        acts = self._activities(self.overlay(x, neutral))
        kind = self.config.length_norm
        features = [length_normalise(acts[name], kind) for name in self.readout_layers]
        return np.concatenate(features, axis=1)

    def gradients(
        self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator
    ) -> tuple[Losses, Gradients]:
        """Every layer's own loss and gradient, and the linear readout's (none applied yet).

        ``rng`` draws the negative labels first, then the dropout masks.
        """
        y = np.asarray(y)
        b = len(y)
        labels = self.label_entry(y, rng)
        a = self.overlay(np.concatenate([x, x]), labels)  # rows: B positive, then B negative
        losses: Losses = {}
        grads: Gradients = {}
        kind = self.config.goodness
        for name in self.hidden_names:
            block = self.blocks[name]
            out, cache = block.forward(a, train=True, rng=rng)
            g = goodness(out, kind)
            losses[name], dg_pos, dg_neg = ff_loss(g[:b], g[b:], self.config.theta)
            dg = np.concatenate([dg_pos, dg_neg])[:, None]
            dz = block.output_to_preactivation(dg * goodness_gradient(out, kind), cache)
            grads[name] = block.parameter_gradients(dz, cache.x)
            a = length_normalise(out, self.config.length_norm)
        readout = self.blocks["readout"]
        logits, cache = readout.forward(self._neutral_features(x))
        losses["readout"], e = nn.cross_entropy(logits, y)
        _, grads["readout"] = readout.backward(e, cache, input_grad=False)
        return losses, grads

    def hidden_activity(self, x: np.ndarray) -> list[np.ndarray]:
        """Activity of each hidden layer for the input with the neutral label (evaluation mode)."""
        neutral = np.full((len(x), self.n_classes), 1 / self.n_classes)
        return list(self._activities(self.overlay(x, neutral)).values())

    def predict(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Labels by total goodness (``"goodness"``) and by the softmax readout (``"linear"``)."""
        scores = np.empty((len(x), self.n_classes), dtype=self.dtype)
        eye = np.eye(self.n_classes)
        for c in range(self.n_classes):
            acts = self._activities(
                self.overlay(x, np.broadcast_to(eye[c], (len(x), self.n_classes)))
            )
            scores[:, c] = sum(
                goodness(acts[name], self.config.goodness) for name in self.readout_layers
            )
        logits, _ = self.blocks["readout"].forward(self._neutral_features(x))
        return {"goodness": scores.argmax(axis=1), "linear": logits.argmax(axis=1)}


# --------------------------------------------------------------------------------------------
# Specs (the registry finds them by name: neurosig.registry.MODELS)
# --------------------------------------------------------------------------------------------

BP_SPEC = ModelSpec(
    name="bp",
    config_cls=BackpropConfig,
    build=Backprop,
    description="backpropagation: exact gradient of the cross-entropy (Rumelhart et al. 1986)",
    forward_only=False,
)
FA_SPEC = ModelSpec(
    name="fa",
    config_cls=FeedbackAlignmentConfig,
    build=FeedbackAlignment,
    description="feedback alignment: error sent back through fixed random weights "
    "(Lillicrap et al. 2016)",
    forward_only=False,
)
DFA_SPEC = ModelSpec(
    name="dfa",
    config_cls=DirectFeedbackAlignmentConfig,
    build=DirectFeedbackAlignment,
    description="direct feedback alignment: output error sent to every hidden layer through "
    "fixed random weights (Nokland 2016)",
    forward_only=False,
)
FF_SPEC = ModelSpec(
    name="ff",
    config_cls=ForwardForwardConfig,
    build=ForwardForward,
    description="Forward-Forward: per-layer goodness of positive vs negative data, label "
    "concatenated to the input (Hinton 2022)",
    forward_only=True,
)
RANDOM_FEATURES_SPEC = ModelSpec(
    name="random-features",
    config_cls=RandomFeaturesConfig,
    build=build_random_features,
    description="random features: frozen random hidden layers, trained linear readout",
    forward_only=True,
)
