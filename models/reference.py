"""SP-core: signal propagation with the authors' mini-batch semantics (numpy reference).

Kohan, Rietman & Siegelmann, "Signal Propagation: The Framework for Learning and Inference in a
Forward Pass", IEEE TNNLS 2023 (arXiv:2204.01723); semantics of the authors' library
(github amassivek/signalpropagation), re-implemented here from its description.

The network, for data ``x`` and label ``c`` (one-hot)::

    t_0 = relu(layernorm(S c))                 signal: the label, projected into input space
    h_l = f(W_l h_{l-1} + b_l),  h_0 = x       data stream
    t_l = f(W_l t_{l-1} + b_l)                 target stream: the SAME W_l, b_l

Layer ``l`` minimises its own loss ``L_l(h_l, t_l)`` (see :mod:`neurosig.sigprop`) with its own
Adam optimiser; the gradient reaches ``W_l`` through both streams and stops there: ``h_l`` and
``t_l`` go on to layer ``l+1`` as they were computed, before the update. The learned signal
``S`` is trained by the same loss between the raw input and the projected labels
(``L_0(x, t_0)``); a fixed random ``S`` is the other option. A linear read-out trained by
cross-entropy on the detached last layer, and the nearest forwarded class target
(``argmax_c sim(h_L, t_L^c)``), give the predictions.

Where neurosig differs from the authors' code (each documented in :mod:`neurosig.sigprop`):
random choice among tied positives; ``topk`` never takes other-class samples; positives are
found by the *cosine* similarity of the input targets, so that a class whose target is longer
cannot become the positive of other classes' samples (it did with raw dot products here, and
the representation collapsed); dropout acts on
the data stream only, so that every sample of a class keeps one exact target; optional
per-sample layer normalisation instead of batch normalisation with batch statistics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurosig.config import param
from neurosig.models.baselines import LayeredModel, MLPConfig, Read, UpdateReads
from neurosig.modelspec import ModelSpec
from neurosig.nn import Dense, cross_entropy
from neurosig.sigprop import RULES, SIMILARITIES, cosine_gram, layer_loss, similarity


@dataclass(frozen=True)
class SPCoreConfig(MLPConfig):
    """Parameters of SP-core (on top of the shared MLP fields)."""

    loss: str = param("per_class", "per-layer sigprop loss", choices=RULES)
    topk: int = param(6, "positives per sample for loss = 'topk'", bounds=(1, None))
    signal: str = param(
        "fixed",
        "label projection S: fixed random (default, chosen on the transfer suite), or trained "
        "by its own loss (the authors' library)",
        choices=("learned", "fixed"),
    )
    similarity: str = param("cosine", "logits between data and targets", choices=SIMILARITIES)
    temperature: float = param(0.1, "logits are divided by this", bounds=(1e-4, 1e4))
    readout: str = param(
        "linear",
        "primary readout: linear CE head, or nearest class target",
        choices=("linear", "target"),
    )


class SPCore(LayeredModel):
    """A sigprop MLP trained layer by layer with the authors' mini-batch semantics.

    The hidden layers and the readout are drawn first, as in every baseline, so that the same
    seed gives SP-core and BP the same initial hidden weights; the label projection after them.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> net = SPCore(SPCoreConfig(hidden=(32,)), n_in=8, n_classes=3, rng=rng)
    >>> losses = net.train_batch(rng.normal(size=(16, 8)), rng.integers(0, 3, 16), rng)
    >>> sorted(losses)
    ['layer1', 'readout']
    """

    def __init__(
        self, config: SPCoreConfig, n_in: int, n_classes: int, rng: np.random.Generator
    ) -> None:
        super().__init__(config, n_classes)
        primary = config.readout
        self.readouts = (primary, *(r for r in ("linear", "target") if r != primary))
        self.add_mlp(n_in, rng, head="readout")
        self.layers = [self.blocks[f"layer{i + 1}"] for i in range(len(config.hidden))]
        self.signal = Dense(
            n_classes, n_in, activation="relu", norm="layer", rng=rng, dtype=self.dtype
        )
        self.blocks = {"signal": self.signal, **self.blocks}
        trained = [name for name in self.blocks if name != "signal" or config.signal == "learned"]
        self.add_optimisers(trained)
        self.loss_names = tuple(trained)

    # ---------------------------------------------------------------------------------------
    # Learning
    # ---------------------------------------------------------------------------------------

    def _loss(
        self,
        h: np.ndarray,
        t_classes: np.ndarray,
        y: np.ndarray,
        k_classes: np.ndarray,
        rng: np.random.Generator,
        rows: np.ndarray,
        need_h: bool = True,
    ) -> tuple[float, np.ndarray | None, np.ndarray]:
        c = self.config
        return layer_loss(
            h,
            t_classes,
            y,
            k_classes,
            c.loss,
            rng,
            topk=c.topk,
            kind=c.similarity,
            temperature=c.temperature,
            need_h=need_h,
            rows=rows,
        )

    def label_entry(self, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Which class target each sample carries into the target stream: ``t_0 = S c`` for
        ``c = y`` (the class targets are forwarded once and indexed by these rows, the same
        computation as forwarding one target per sample; see :mod:`neurosig.sigprop`)."""
        return np.asarray(y)

    def gradients(
        self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator
    ) -> tuple[dict[str, float], dict[str, dict[str, np.ndarray]]]:
        """Every part's loss and the gradient of its own parameters, nothing applied.

        Each gradient is computed from quantities of its own layer only: the layer's input
        (data and targets, detached), its pre-activations and its own loss.
        """
        x = np.asarray(x, dtype=self.dtype)
        y = np.asarray(y)
        eye = np.eye(self.n_classes, dtype=self.dtype)
        losses: dict[str, float] = {}
        grads: dict[str, dict[str, np.ndarray]] = {}

        rows = self.label_entry(y, rng)  # the label enters here; the layers index targets
        # signal: the label projected into input space, compared with the raw input
        t, cache_t = self.signal.forward(eye)
        if self.config.signal == "learned":
            loss, _, dt = self._loss(x, t, y, eye, rng, rows, need_h=False)  # x is not learned
            losses["signal"] = loss
            grads["signal"] = self.signal.backward(dt, cache_t, input_grad=False)[1]

        # Data rows stacked above the C class-target rows: one product per layer serves both
        # streams (same weights), and dW = [dz_h; dz_t]^T [h_in; t_in] sums both contributions.
        b = len(y)
        stacked = np.concatenate([x, t])
        for i, layer in enumerate(self.layers):
            k_classes = cosine_gram(stacked[b:])  # similarity of this layer's input targets
            stacked, cache = layer.forward(stacked, train=True, rng=rng, dropout_rows=b)
            loss, dh, dt = self._loss(stacked[:b], stacked[b:], y, k_classes, rng, rows)
            name = f"layer{i + 1}"
            losses[name] = loss
            dz = layer.output_to_preactivation(np.concatenate([dh, dt]), cache)
            grads[name] = layer.parameter_gradients(dz, cache.x)
        h = stacked[:b]

        readout = self.blocks["readout"]
        logits, cache_r = readout.forward(h)
        losses["readout"], dlogits = cross_entropy(logits, y)
        grads["readout"] = readout.backward(dlogits, cache_r, input_grad=False)[1]
        return losses, grads

    def update_reads(self) -> tuple[UpdateReads, ...]:
        """What each part's update reads: its own layer, its input and per-layer summaries.

        The label enters at the front (:meth:`label_entry`, through the signal block) and
        reaches every layer forward, as the target stream; no error crosses layers. With
        ``loss = "per_class"`` every layer (and the signal) also reads the label itself: its
        cross-entropy's target is ``onehot(y)`` over the C class targets.
        """
        out = []
        summary = Read("the loss's softmax over similarities (per-layer sums)", "shared")
        per_class = self.config.loss == "per_class"
        label = "direct" if per_class else "stream"
        positives = (
            Read("onehot(y), the label: which class target is the positive", "global input")
            if per_class
            else Read("similarities of the input targets (which samples are positives)", "shared")
        )
        if self.config.signal == "learned":
            signal = (
                Read("onehot(c), the label entering at the front (its input)", "pre"),
                Read("t_0 = relu(layernorm(S c)) and its derivative, its own output", "post"),
                Read("x_j, the data stream of the same input unit", "post"),
                summary,
            )
            out.append(UpdateReads("signal", self._params("signal"), signal, label=label))
        for i in range(len(self.layers)):
            pre = f"h and t of layer{i}" if i else "x and t_0, the signal block's output"
            reads = (
                Read(f"{pre} (its input, both streams)", "pre"),
                Read("h, t and f'(z) of both streams, its own", "post"),
                summary,
                positives,
            )
            name = f"layer{i + 1}"
            out.append(UpdateReads(name, self._params(name), reads, label=label))
        return (*out, self._readout_reads("readout"))

    # ---------------------------------------------------------------------------------------
    # Inference
    # ---------------------------------------------------------------------------------------

    def class_targets(self) -> list[np.ndarray]:
        """The forwarded target of every class at every hidden layer: list of (C, D_l)."""
        t = self.signal.forward(np.eye(self.n_classes, dtype=self.dtype))[0]
        out = []
        for layer in self.layers:
            t = layer.forward(t)[0]
            out.append(t)
        return out

    def hidden_activity(self, x: np.ndarray) -> list[np.ndarray]:
        h = np.asarray(x, dtype=self.dtype)
        out = []
        for layer in self.layers:
            h = layer.forward(h)[0]
            out.append(h)
        return out

    def predict(self, x: np.ndarray) -> dict[str, np.ndarray]:
        h_last = self.hidden_activity(x)[-1]
        t_last = self.class_targets()[-1]
        scores, _ = similarity(h_last, t_last, self.config.similarity, self.config.temperature)
        return {
            "linear": self.blocks["readout"].forward(h_last)[0].argmax(axis=1),
            "target": scores.argmax(axis=1),
        }


def build(config: SPCoreConfig, n_in: int, n_classes: int, rng: np.random.Generator) -> SPCore:
    return SPCore(config, n_in, n_classes, rng)


SPEC = ModelSpec(
    name="sp-core",
    config_cls=SPCoreConfig,
    build=build,
    description="signal propagation, the authors' mini-batch semantics (numpy reference)",
    forward_only=True,
)
