"""The Brian2 layered sigprop family: what the rate and the spiking (LIF) models share.

Both families are layered networks with two streams (data and target) through one set of
forward weights, a one-unit *summary group* per layer that holds the layer's loss scalars, class
memories, a local delta-rule readout and a target readout, trained chunk by chunk by a compiled
Brian2 program (:mod:`neurosig.brian`). This module holds those shared pieces once; each family
keeps only its neuron and synapse equations and its learning rule:

- :class:`LayeredStructure`: sizes, connectivity, time steps and the structural hash;
- initialisation: :func:`dale_signs` and :func:`initial_weights`;
- the per-layer loss: :func:`loss_summary` (equations of the summary group; the rules'
  scale relative to its gradient: docs/learning-rules.md),
  :func:`error_scalars`, :func:`add_layer_loss` (the Brian2 objects), :func:`bound_code`;
- the delta readout's loss group: :func:`add_readout_loss`;
- ``label_path = "stream"``: the per-layer choice of a class slot from the layer's own target
  stream (:func:`slot_choice`, :func:`add_slot_choice`) and the readout's slot-to-class count
  table (:func:`add_slot_table`, :meth:`LayeredBrianModel.target_readout`);
- :class:`LayeredBrianModel`: the TrainableModel plumbing (learning rates and their schedule,
  chunks, the variables carried between chunks, losses, the target readout, state dict).

Names: ``lr`` is the configured learning rate of the layers and ``readout_lr`` that of the
delta readout, in the TOML, in the config classes and in the Brian2 equations alike (a shared
constant ``lr`` of every plastic object); the trainer's schedule scales both by one factor
(:meth:`LayeredBrianModel.set_schedule_factor`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from neurosig.brian import BrianProgram, Built, content_digest, structure_key
from neurosig.config import param
from neurosig.errors import ConfigError

EPS = 1e-12  # keeps norms of silent layers finite
UNBOUNDED = 1e300  # w_max when unbounded (a run_arg must be a finite number)

# Order of the updates inside Brian2's "groups" slot that both families share (each family adds
# its own around them). Learning runs first, on the state the previous sample left.
ORDER_SLOT = -65  # label_path = "stream": each layer picks its class slot (its sums run at -66)
ORDER_MEMORY = -60  # class memories
ORDER_SUMMARY = -50  # summary group (its summed inputs run at -51)
ORDER_ERROR = -40  # per-neuron error factors
ORDER_PLASTIC = -30  # bias and weight updates
ORDER_RESET = -20  # state reset at every onset


def layer_order(l: int) -> int:
    """Order of layer ``l``'s state update (0 = input layer); its summed inputs run at -1."""
    return 100 * (l + 1)


def connectivity(
    pairs: list[tuple[str, int, int]], p_connect: float, rng: Any, dense: tuple[str, ...] = ()
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(pre, post) indices of every projection ``(name, n_pre, n_post)``, presynaptic-major.

    With ``p_connect < 1`` each synapse exists with that probability (drawn from ``rng``),
    except in the projections named in ``dense``.
    """
    conn = {}
    for name, n_pre, n_post in pairs:
        pre, post = np.meshgrid(np.arange(n_pre), np.arange(n_post), indexing="ij")
        pre, post = pre.ravel(), post.ravel()
        if p_connect < 1 and name not in dense:
            keep = rng.random(pre.size) < p_connect
            pre, post = pre[keep], post[keep]
        conn[name] = (pre.astype(np.int32), post.astype(np.int32))
    return conn


# --------------------------------------------------------------------------------------------
# Parameters every Brian2 family has
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayeredConfig:
    """The parameters of the shared plumbing (streams, loss, readouts, learning rates, bounds,
    Dale, connectivity, batching); a family's config class adds its own and must define
    ``hidden``, ``presentation`` and ``dt``."""

    mode: str = param(
        "compartments",
        "how each neuron carries the two streams: two compartments at once, or alternating "
        "data/target phases with an eligibility trace",
        choices=("compartments", "phases"),
    )
    temperature: float = param(
        0.1, "contrastive loss: cosine logits / temperature", bounds=(0.01, 100)
    )
    target_branch: str = param(
        "all",
        "learning through the target stream: every remembered class target, the presented "
        "class only, or none",
        choices=("all", "presented", "none"),
    )
    readout: str = param(
        "target",
        "primary readout: nearest remembered class target of the last layer, or the delta-rule "
        "units",
        choices=("target", "delta"),
    )
    label_path: str = param(
        "direct",
        "how a layer knows the presented class: read from the label units (direct), or "
        "identified from its own live target stream, as the slot of the nearest class memory "
        "(stream: the label reaches only the input layer, through the signal projection, and "
        "the readout)",
        choices=("direct", "stream"),
    )
    novelty: float = param(
        0.9,
        'label_path = "stream": a live target whose best cosine with the used class memories '
        "is below this takes a free memory slot (a class seen for the first time)",
        bounds=(0.01, 1),
    )

    lr: float = param(
        0.01, "learning rate of the layers (per sample; schedules scale it)", bounds=(0, 10)
    )
    readout_lr: float = param(0.05, "learning rate of the delta-rule readout", bounds=(0, 2))
    weight_decay: float = param(0.0, "L2 decay: dw -= lr * weight_decay * w", bounds=(0, None))
    w_max: float = param(0.0, "bound on |w| (0: unbounded)", bounds=(0, None))
    dale: bool = param(False, "Dale's law: hidden units are excitatory or inhibitory")
    exc_fraction: float = param(
        0.8, "fraction of excitatory units under Dale's law", bounds=(0.05, 0.95)
    )
    p_connect: float = param(1.0, "connection probability of every projection", bounds=(0.01, 1))
    chunk: int = param(200, "samples per Brian2 run (the compiled batch size)", bounds=(1, 100_000))

    def validate(self, where: str) -> None:
        """Cross-field checks shared by the families, called by :func:`neurosig.config.check`."""
        if not self.hidden:
            example = type(self)().hidden[0]
            raise ConfigError(
                f"{where}.hidden = []: give at least one hidden layer, e.g. [{example}]"
            )
        steps = self.presentation / self.dt
        if abs(steps - round(steps)) > 1e-6 or round(steps) < 1:
            raise ConfigError(
                f"{where}.presentation = {self.presentation:g} ms is not a whole number of "
                f"time steps dt = {self.dt:g} ms; make it a multiple of dt"
            )


# --------------------------------------------------------------------------------------------
# Structure
# --------------------------------------------------------------------------------------------


@dataclass
class LayeredStructure:
    """Everything that fixes a network's generated code: sizes, connectivity, time steps.

    ``label`` and ``readout`` have one unit per class, ``layer<l>`` has ``sizes[l]`` units
    (``layer0`` is the input layer). A family lists the config fields that change its
    generated code in ``CODE_FIELDS`` and the projections it learns in :attr:`projections`.
    """

    CODE_FIELDS: ClassVar[tuple[str, ...]] = ()

    cfg: Any
    n_in: int
    n_classes: int
    sizes: list[int]  # [D, N_1, ..., N_L]
    conn: dict[str, tuple[np.ndarray, np.ndarray]]  # projection -> (pre index, post index)
    steps_per_phase: int
    chunk: int

    @property
    def n_hidden(self) -> int:
        return len(self.sizes) - 1

    @property
    def stream(self) -> bool:
        """Do the layers identify the presented class from their own target stream?"""
        return self.cfg.label_path == "stream"

    def slot_layers(self) -> list[int]:
        """Layers that choose their class slot themselves (``label_path = "stream"``): every
        layer with class memories, the input layer included, so that slot ``c`` names the same
        class in every layer (the all-class target branch pairs them across a projection)."""
        return list(range(self.n_hidden + 1)) if self.stream else []

    @property
    def phases(self) -> int:
        """1 with two compartments, 2 with alternating data and target phases."""
        return 2 if self.cfg.mode == "phases" else 1

    @property
    def steps_per_sample(self) -> int:
        return self.steps_per_phase * self.phases

    @property
    def projections(self) -> list[tuple[str, str, str]]:
        """(name, pre group, post group) of the forward weights, in forward order."""
        L = self.n_hidden
        out = [(f"w{l}", f"layer{l - 1}", f"layer{l}") for l in range(1, L + 1)]
        return out + [("w_ro", f"layer{L}", "readout")]

    def group_size(self, group: str) -> int:
        """Number of units of a group: ``label``, ``readout`` or ``layer<l>``."""
        if group in ("label", "readout"):
            return self.n_classes
        return self.sizes[int(group.removeprefix("layer"))]

    def dense(self, name: str, flat: np.ndarray) -> np.ndarray:
        """Projection ``name``'s flat weights (Brian2's synapse order) as a (post, pre) matrix."""
        _, pre, post = next(p for p in self.projections if p[0] == name)
        i, j = self.conn[name]
        M = np.zeros((self.group_size(post), self.group_size(pre)))
        M[j, i] = flat
        return M

    def key(self, *extra: Any, **code: Any) -> str:
        """Structural hash: the code fields (plus ``code``), sizes, chunk, ``extra`` parts and,
        for sparse networks, the connectivity itself."""
        fields = {k: getattr(self.cfg, k) for k in self.CODE_FIELDS} | code
        if self.stream:  # absent for "direct": its programs keep their keys
            fields["label_path"] = self.cfg.label_path
        parts = [fields, self.n_in, self.n_classes, self.chunk, *extra]
        if self.cfg.p_connect < 1:
            for name in sorted(self.conn):
                parts += list(self.conn[name])
        return structure_key(*parts)


# --------------------------------------------------------------------------------------------
# Initial state
# --------------------------------------------------------------------------------------------


def dale_signs(cfg: Any, sizes: list[int], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``layer<l>.sgn`` of every hidden layer (sizes ``sizes[l]``, l >= 1): +1 excitatory, -1
    inhibitory (Dale's law), with ``1 - exc_fraction`` of the units inhibitory when
    ``cfg.dale``, all +1 otherwise."""
    signs = {}
    for l in range(1, len(sizes)):
        n = sizes[l]
        sign = np.ones(n)
        if cfg.dale:
            n_inh = int(round((1 - cfg.exc_fraction) * n))
            sign[rng.permutation(n)[:n_inh]] = -1.0
        signs[f"layer{l}.sgn"] = sign
    return signs


def initial_weights(
    st: LayeredStructure,
    name: str,
    pre_group: str,
    std: float,
    state: dict[str, np.ndarray],
    rng: np.random.Generator,
) -> np.ndarray:
    """Gaussian flat weights of projection ``name`` with standard deviation ``std``.

    Under Dale's law the weights leaving a signed group (one with ``state[pre_group + ".sgn"]``:
    the hidden layers, and the input layer where a family signs it) take the sign of their
    presynaptic unit, inhibitory ones scaled by ``exc / inh`` so that excitation
    and inhibition balance on average, and all by ``1/sqrt(1 + exc/inh)`` to keep the variance.
    """
    pre, _ = st.conn[name]
    w = rng.standard_normal(pre.size) * std
    if st.cfg.dale and f"{pre_group}.sgn" in state:
        sign = state[f"{pre_group}.sgn"][pre]
        ratio = st.cfg.exc_fraction / (1 - st.cfg.exc_fraction)
        w = sign * np.abs(w) * np.where(sign < 0, ratio, 1.0) / math.sqrt(1 + ratio)
    return w


def layered_builder(
    family: str, model_cls: type, make_structure: Callable, init_state: Callable
) -> Callable:
    """The ``build(cfg, n_in, n_classes, rng)`` of a family's model spec:
    structure and initial state drawn from ``rng`` (the ``init`` stream), program compiled on
    first use."""

    def build(cfg: Any, n_in: int, n_classes: int, rng: np.random.Generator) -> Any:
        if n_classes < 2:
            raise ConfigError(f"the {family} model needs at least 2 classes")
        st = make_structure(cfg, n_in, n_classes, rng)
        return model_cls(cfg=cfg, st=st, state=init_state(st, rng))

    build.__doc__ = f"Build an untrained {family} model (its Brian2 program compiles on first use)."
    return build


def fan_in(st: LayeredStructure, pre_group: str) -> float:
    """Expected number of inputs of a unit fed by ``pre_group`` (at least 1)."""
    return max(st.group_size(pre_group) * st.cfg.p_connect, 1.0)


# --------------------------------------------------------------------------------------------
# The per-layer loss: summary group, error scalars, the Brian2 objects
# --------------------------------------------------------------------------------------------


def loss_summary(
    loss: str, anti_collapse: str, C: int, eps: float = EPS, stream: bool = False
) -> tuple[str, str]:
    """(equations, learning-step code) of a layer's one-unit summary group.

    ``loss`` is ``contrastive`` (the per-class cosine loss of SP-core) or ``mse``. The group
    reads the layer's sums (``Shh``, ...) and the label (``y<c>``) and computes the per-layer
    scalars the neurons' error factors use. ``eps`` is added to every squared norm (keeps a
    silent layer's gradient finite). With ``stream`` (``label_path = "stream"``) ``y<c>`` is
    not linked to the label: it is the group's own choice of a class slot
    (:func:`slot_choice`), made earlier in the same learning step.
    """
    cs = range(C)
    y = "y{c} : 1" if stream else "y{c} : 1 (linked)"
    eqs = [y.format(c=c) for c in cs] + ["loss_sum : 1", "count : 1", "act : 1"]
    eqs += ["temperature : 1 (shared, constant)", "neg_weight : 1 (shared, constant)"]
    act = "act = " + " + ".join(f"y{c}" for c in cs)
    if loss == "contrastive":
        eqs += ["Shh : 1", "nh : 1", "nh2 : 1", "r : 1", "u : 1", "Z : 1"]
        for c in cs:
            eqs += [f"{v}{c} : 1" for v in ("Shm", "Smm", "n", "cos", "p", "g", "q", "v", "k")]
        T = "temperature"  # a shared constant: changing it does not recompile
        code = [act, f"nh2 = Shh + {eps!r}", "nh = sqrt(nh2)"]
        code += [f"n{c} = sqrt(Smm{c} + {eps!r})" for c in cs]
        code += [f"cos{c} = Shm{c}/(nh*n{c})" for c in cs]
        code.append("Z = " + " + ".join(f"exp(cos{c}/{T})" for c in cs))
        code += [f"p{c} = exp(cos{c}/{T})/Z" for c in cs]
        code += [f"g{c} = act*(p{c} - y{c})/{T}" for c in cs]
        code += [f"q{c} = g{c}/(nh*n{c})" for c in cs]
        code.append("r = (" + " + ".join(f"g{c}*cos{c}" for c in cs) + ")/nh2")
        code.append("u = (" + " + ".join(f"y{c}*g{c}/n{c}" for c in cs) + ")/nh")
        code += [f"v{c} = y{c}*g{c}*cos{c}/n{c}**2" for c in cs]
        code += [f"k{c} = g{c}*cos{c}/n{c}**2" for c in cs]
        logit_y = " + ".join(f"y{c}*cos{c}" for c in cs)
        code.append(f"loss_sum += act*(log(Z) - ({logit_y})/{T})")
    elif anti_collapse == "normalise":
        eqs += [f"{v} : 1" for v in ("Shh", "Stt", "Sht", "nh", "nh2", "nt", "cos_ht")]
        eqs += ["a1 : 1", "a2 : 1", "a3 : 1"]
        code = [
            act,
            f"nh2 = Shh + {eps!r}",
            "nh = sqrt(nh2)",
            f"nt = sqrt(Stt + {eps!r})",
            "cos_ht = Sht/(nh*nt)",
            "a1 = act/(nh*nt)",
            "a2 = act*cos_ht/nh2",
            "a3 = act*cos_ht/nt**2",
            "loss_sum += act*(1 - cos_ht)",
        ]
    else:
        eqs += ["Shh : 1", "nh2 : 1", "Sdd : 1"]
        eqs += ["Sdn : 1"] if anti_collapse == "negatives" else []
        code = [act, f"nh2 = Shh + {eps!r}"]
        if anti_collapse == "negatives":
            code.append("loss_sum += act*(0.5*Sdd - neg_weight*0.5*Sdn)")
        else:
            code.append("loss_sum += act*0.5*Sdd")
    code.append("count += act")
    return "\n".join(eqs), "\n".join(code)


def error_scalars(contrastive: bool, all_classes: bool, anti_collapse: str, C: int) -> list[str]:
    """Per-layer scalars the neurons read from their summary group (linked variables)."""
    if contrastive:
        extra = [f"k{c}" for c in range(C)] if all_classes else []
        return [f"q{c}" for c in range(C)] + [f"v{c}" for c in range(C)] + ["r", "u"] + extra
    if anti_collapse == "normalise":
        return ["a1", "a2", "a3"]
    return ["act"]


def bound_code(dale_pre: bool) -> str:
    """Weight decay, then the bound ``|w| <= w_max`` (sign-preserving under Dale's law).

    Decay and bound are shared constants (``w_max`` huge when unbounded), so a sweep over them
    reuses the compiled program.
    """
    if dale_pre:
        return "w = sgn_pre*clip(sgn_pre*w, 0, w_max)"
    return "w = clip(w, -w_max, w_max)"


# A weight learns at the rate of its postsynaptic layer (``lr_post``: a shared constant of the
# layer, like a neuromodulator's level), so the rate lives once per layer, not per projection.
WEIGHT_DECAY_CODE = "w += -lr_post*weight_decay*w"

SYNAPSE_CONSTANTS = "weight_decay : 1 (shared, constant)\nw_max : 1 (shared, constant)"


def bias_code(all_classes: bool, C: int) -> str:
    """The bias update of a hidden layer: the sum of its error factors."""
    if all_classes:
        return "b += -lr*(e_h + " + " + ".join(f"ec{c}" for c in range(C)) + ")"
    return "b += -lr*(e_h + e_t)"


@dataclass
class LayerLoss:
    """The Brian2 code of one layer's loss, as a family writes it."""

    summary_equations: str  # the summary group's equations
    summary_code: str  # its learning step
    sums: str  # summed variables from the layer into the summary group
    scalars: list[str]  # the summary's variables each neuron links to
    error: str  # each neuron's error factors
    bias: str  # the bias update


def add_layer_loss(
    b2: Any,
    objects: dict[str, Any],
    g: Any,
    label: Any,
    label_var: str,
    l: int,
    loss: LayerLoss,
    learn_dt: Any,
    namespace: dict[str, Any],
    sums_dt: Any = None,
    choice: SlotChoice | None = None,
) -> Any:
    """Create layer ``l``'s summary group, its sums, the error factors and the bias update.

    The group is a one-unit NeuronGroup of the layer (the audit's "summary of layer l"): it
    sums the layer's activity, reads the label, and each neuron of the layer links to its
    scalars. With a ``choice`` (``label_path = "stream"``) it reads no label: it chooses the
    layer's class slot itself (:func:`add_slot_choice`). Returns the summary group.
    """
    equations, sums_code = loss.summary_equations, loss.sums
    if choice is not None:
        equations = merge_lines(equations, choice.equations)
        sums_code = merge_lines(sums_code, choice.sums)
    summ, sums = _summary_group(
        b2, objects, g, l, equations, sums_code, learn_dt, namespace, sums_dt
    )
    if choice is None:
        for c in range(label.N):
            setattr(summ, f"y{c}", b2.linked_var(label, label_var, index=np.array([c])))
    else:
        _choose_slots(b2, g, summ, sums, l, choice)
    summ.run_regularly(
        loss.summary_code, when="groups", order=ORDER_SUMMARY + 1, name=f"summary{l}_step"
    )
    zeros = np.zeros(len(g), dtype=int)
    for v in loss.scalars:
        setattr(g, v, b2.linked_var(summ, v, index=zeros))
    g.run_regularly(
        loss.error, dt=learn_dt, when="groups", order=ORDER_ERROR, name=f"layer{l}_error"
    )
    g.run_regularly(
        loss.bias, dt=learn_dt, when="groups", order=ORDER_PLASTIC, name=f"layer{l}_bias"
    )
    return summ


def _summary_group(
    b2: Any,
    objects: dict[str, Any],
    g: Any,
    l: int,
    equations: str,
    sums_code: str,
    learn_dt: Any,
    namespace: dict[str, Any],
    sums_dt: Any,
) -> tuple[Any, Any]:
    """Layer ``l``'s one-unit summary group and the summed variables that feed it from the
    layer ``g`` (registered in ``objects`` as ``summary<l>`` and ``sums<l>``)."""
    summ = b2.NeuronGroup(
        1, equations, order=ORDER_SUMMARY, dt=learn_dt, name=f"summary{l}", namespace=namespace
    )
    kw = {} if sums_dt is None else {"dt": sums_dt}
    sums = b2.Synapses(g, summ, sums_code, name=f"sums{l}", namespace=namespace, **kw)
    sums.connect()
    objects[f"summary{l}"] = summ
    objects[f"sums{l}"] = sums
    return summ, sums


def merge_lines(*texts: str) -> str:
    """The lines of ``texts`` in order, each once (equations or summed variables that two
    parts of a summary group both declare, e.g. ``Stt``)."""
    out: list[str] = []
    for text in texts:
        out += [line for line in text.splitlines() if line and line not in out]
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# label_path = "stream": each layer identifies the presented class from its own target stream
# --------------------------------------------------------------------------------------------

SLOT_PRESENCE = 1e-12  # a target stream whose squared norm is below this is absent


@dataclass
class SlotChoice:
    """The Brian2 code of one layer's choice of a class slot (``label_path = "stream"``)."""

    equations: str  # the summary group's variables of the choice
    sums: str  # summed variables from the layer (target stream and memories before the write)
    code: str  # the choice itself, run at ORDER_SLOT
    summed: tuple[str, ...]  # the summed variables of ``sums`` (they run at ORDER_SLOT - 1)
    n_slots: int  # C: one slot per class


def slot_choice(C: int, target: str, memory: str, shown: str, eps: float = EPS) -> SlotChoice:
    """A layer's choice of the class slot of the presented sample, from its own target stream.

    ``target`` names the layer's live target-stream quantity (what its class memories store),
    ``memory`` the memories (``<memory>0`` ... ``<memory><C-1>``), ``shown`` an expression that
    is 1 while a training target is shown (a class-free flag; 0 in evaluation and on padding).
    Before the memories are written, the summary group compares the live target with every
    memory by their cosine ``ct<c>`` (``eps`` added to the squared norms) and picks ONE slot:
    the nearest memory among the slots already used (``used<c>``), unless the best cosine is
    below ``novelty`` (a shared constant) and a slot is free: then the lowest free slot, which
    becomes used. ``act`` is 1 when a target is shown and the stream is not silent
    (``Stt > SLOT_PRESENCE``); ``y<c> = act*[slot == c]`` replaces the label in the layer (loss
    and memory writes). The argmax is written as sequential statements, O(C) of them (Brian2
    runs a block's statements in order).
    """
    cs = range(C)
    eqs = ["Stt : 1", "act : 1", "best : 1", "slot : 1", "pick : 1", "free : 1", "novel : 1"]
    eqs += [f"{v}{c} : 1" for v in ("Stm", "Smo", "ct", "used", "y") for c in cs]
    eqs.append("novelty : 1 (shared, constant)")
    sums = [f"Stt_post = {target}_pre**2 : 1 (summed)"]
    sums += [f"Stm{c}_post = {target}_pre*{memory}{c}_pre : 1 (summed)" for c in cs]
    sums += [f"Smo{c}_post = {memory}{c}_pre**2 : 1 (summed)" for c in cs]
    code = [f"act = {shown}*int(Stt > {SLOT_PRESENCE!r})", "best = -2", "slot = -1"]
    for c in cs:  # the nearest used memory: a running best value and index
        code += [
            f"ct{c} = Stm{c}/sqrt((Stt + {eps!r})*(Smo{c} + {eps!r}))",
            f"pick = used{c}*int(ct{c} > best)",
            f"slot = pick*{c} + (1 - pick)*slot",
            f"best = pick*ct{c} + (1 - pick)*best",
        ]
    code.append("free = -1")
    code += [f"free = (1 - used{c})*{c} + used{c}*free" for c in reversed(cs)]  # lowest free
    code += ["novel = int(best < novelty)*int(free >= 0)", "slot = novel*free + (1 - novel)*slot"]
    code += [f"y{c} = act*int(slot == {c})" for c in cs]
    code += [f"used{c} += y{c}*(1 - used{c})" for c in cs]
    summed = ("Stt", *(f"Stm{c}" for c in cs), *(f"Smo{c}" for c in cs))
    return SlotChoice("\n".join(eqs), "\n".join(sums), "\n".join(code), summed, C)


def _choose_slots(b2: Any, g: Any, summ: Any, sums: Any, l: int, choice: SlotChoice) -> None:
    """The choice's sums (moved before the memory writes), its code, and the layer's ``y<c>``
    linked to the chosen slot."""
    for name in choice.summed:  # a summed variable runs at its target's order - 1 by default
        sums.summed_updaters[f"{name}_post"].order = ORDER_SLOT - 1
    summ.run_regularly(choice.code, when="groups", order=ORDER_SLOT, name=f"summary{l}_slot")
    zeros = np.zeros(len(g), dtype=int)
    for c in range(choice.n_slots):
        setattr(g, f"y{c}", b2.linked_var(summ, f"y{c}", index=zeros))


def add_slot_choice(
    b2: Any,
    objects: dict[str, Any],
    g: Any,
    l: int,
    choice: SlotChoice,
    learn_dt: Any,
    namespace: dict[str, Any],
    sums_dt: Any = None,
) -> Any:
    """Layer ``l``'s summary group when it only chooses the class slot (a layer without a loss
    whose memories other layers read: the input layer). Returns the group."""
    summ, sums = _summary_group(
        b2, objects, g, l, merge_lines(choice.equations), choice.sums, learn_dt, namespace, sums_dt
    )
    _choose_slots(b2, g, summ, sums, l, choice)
    return summ


def slot_table_equations(C: int) -> str:
    """The readout's slot-to-class count table: unit ``c`` (class c) counts in ``cnt<k>`` the
    training presentations of class c for which the last layer chose slot k (``z<k>``)."""
    return "\n".join([f"cnt{k} : 1" for k in range(C)] + [f"z{k} : 1 (linked)" for k in range(C)])


def add_slot_table(b2: Any, readout: Any, last: Any, learn_dt: Any) -> None:
    """The count table's update: ``cnt<k> += y*z<k>`` (the label ``y`` of the readout unit times
    the last layer's chosen slot, 0 when no target is shown)."""
    C = len(readout)
    zeros = np.zeros(C, dtype=int)
    for k in range(C):
        setattr(readout, f"z{k}", b2.linked_var(last, f"y{k}", index=zeros))
    readout.run_regularly(
        "\n".join(f"cnt{k} += y*z{k}" for k in range(C)),
        dt=learn_dt,
        when="groups",
        order=ORDER_PLASTIC,
        name="readout_slots",
    )


def init_slot_state(st: LayeredStructure) -> dict[str, np.ndarray]:
    """The initial slot state of ``label_path = "stream"`` (none for "direct"): every slot free
    (``summary<l>.used``), an empty count table (``readout.cnt``, slot x class)."""
    C = st.n_classes
    state = {f"summary{l}.used": np.zeros(C) for l in st.slot_layers()}
    if st.stream:
        state["readout.cnt"] = np.zeros((C, C))
    return state


def add_readout_loss(
    b2: Any, objects: dict[str, Any], readout: Any, last: Any, learn_dt: Any, error: str
) -> None:
    """The delta readout's bias update and its loss group (``summary_ro``).

    ``error`` computes ``d_o`` (output minus label, gated by ``act``) and ``e_o`` (the
    normalised error) in the readout units; ``last`` is the last layer's summary group, whose
    ``act`` (1 while a label is shown) the loss group links to.
    """
    readout.run_regularly(
        error, dt=learn_dt, when="groups", order=ORDER_ERROR, name="readout_error"
    )
    readout.run_regularly(
        "b += -lr*e_o", dt=learn_dt, when="groups", order=ORDER_PLASTIC, name="readout_bias"
    )
    ro_sum = b2.NeuronGroup(
        1,
        "Se : 1\nloss_sum : 1\ncount : 1\nact : 1 (linked)",
        order=ORDER_ERROR + 5,
        dt=learn_dt,
        name="summary_ro",
    )
    ro_sum.act = b2.linked_var(last, "act", index=np.array([0]))
    ro_sums = b2.Synapses(
        readout, ro_sum, "Se_post = d_o_pre**2 : 1 (summed)", name="sums_ro", dt=learn_dt
    )
    ro_sums.connect()
    ro_sum.run_regularly(
        "loss_sum += 0.5*Se\ncount += act",
        when="groups",
        order=ORDER_ERROR + 6,
        name="summary_ro_step",
    )
    objects.update(summary_ro=ro_sum, sums_ro=ro_sums)


# --------------------------------------------------------------------------------------------
# The trainable model
# --------------------------------------------------------------------------------------------


def nearest_target(h: np.ndarray, memories: np.ndarray) -> np.ndarray:
    """The target readout: ``argmax_c cos(h, m_c)`` for every row of ``h``."""
    hn = h / np.sqrt(np.sum(h**2, axis=1, keepdims=True) + EPS)
    mn = memories / np.sqrt(np.sum(memories**2, axis=1, keepdims=True) + EPS)
    return (hn @ mn.T).argmax(axis=1)


@dataclass
class LayeredBrianModel:
    """TrainableModel plumbing shared by the Brian2 families.

    A family subclasses it and provides ``NETWORK`` (its ``build_brian(st, record)``: the
    Brian2 objects of one chunk), ``PROGRAM_PREFIX`` (names its compiled programs),
    ``run_chunk`` (one run) and ``PARAMETERS``: the names its state dict gives to the carried
    state (``{"b": "bias", "m": "memory", ...}``; keys of ``state`` are ``<block>.<short>``).
    """

    NETWORK: ClassVar[Callable[..., Built]]
    PARAMETERS: ClassVar[dict[str, str]] = {}
    PROGRAM_PREFIX: ClassVar[str] = ""

    cfg: Any
    st: Any
    state: dict[str, np.ndarray]
    schedule_factor: float = 1.0
    program: BrianProgram | None = field(default=None, repr=False)
    loss_names: tuple[str, ...] = ()
    readouts: tuple[str, ...] = ()
    target: str = "standalone"
    activity_units: str = "1"
    recording: bool = False

    def __post_init__(self) -> None:
        self.target = self.cfg.target
        other = "target" if self.cfg.readout == "delta" else "delta"
        self.readouts = (self.cfg.readout, other)

    # -- learning rates ---------------------------------------------------------------------
    def set_schedule_factor(self, factor: float) -> None:
        """Scale ``lr`` and ``readout_lr`` by ``factor`` (the trainer's schedule)."""
        self.schedule_factor = factor

    def rates(self) -> tuple[float, float]:
        """(``lr``, ``readout_lr``) of the next learning event, after the schedule."""
        return self.cfg.lr * self.schedule_factor, self.cfg.readout_lr * self.schedule_factor

    # -- the Brian2 program -----------------------------------------------------------------
    def ensure_program(self, record: bool = False) -> BrianProgram:
        """The compiled program of this structure (rebuilt if stale or of the other kind; a
        standalone program of a network built before, in this process or in another that runs
        the same code, starts from its image)."""
        if self.program is None or self.program.stale or self.recording != record:
            if self.program is not None:
                self.program.cleanup()  # what its last run wrote, read already
            st, build = self.st, type(self).NETWORK
            self.program = BrianProgram(
                target=self.target,
                build=lambda: build(st, record),
                key=f"{self.PROGRAM_PREFIX}-{st.key()}" + ("-record" if record else ""),
                identity=content_digest((build.__module__, build.__qualname__, st, record)),
                sources=(build,),
            )
            self.recording = record
        return self.program

    def build_network(self) -> dict[str, Any]:
        """The Brian2 objects of this network, built in the current device and scope and never
        run (for :func:`neurosig.analyses.audit.audit_model`)."""
        return type(self).NETWORK(self.st, False).objects

    def layer_of(self) -> dict[str, float]:
        """Layer index of every NeuronGroup (for :mod:`neurosig.analyses.audit`)."""
        L = self.st.n_hidden
        out = {"label": 0.0, "readout": float(L + 1), "summary_ro": float(L + 1)}
        for l in range(L + 1):
            out[f"layer{l}"] = float(l)
            out[f"summary{l}"] = float(l)
        return out

    def stimuli(self) -> dict[str, float]:
        """Layer at which each input of the network enters, by name (for the audit): the
        TimedArrays the driver fills per chunk (data, label, phase, live and shown flags,
        spike-time tables at layer 0; unit noise at its layer). Names a family does not build
        are ignored."""
        L = self.st.n_hidden
        names = ("stim", "lab", "tgt", "live", "shown", "tab_h", "tab_t")
        out = {name: 0.0 for name in names}
        out.update({f"noise{l}": float(l) for l in range(1, L + 1)})
        return out

    def label_inputs(self) -> tuple[str, ...]:
        """The input and the group that carry the label (for the audit's label-path row)."""
        return ("lab", "label")

    def chunks(self, n: int) -> Iterator[slice]:
        """Slices of at most ``chunk`` samples covering ``range(n)``."""
        B = self.st.chunk
        for start in range(0, n, B):
            yield slice(start, min(start + B, n))

    def projection_variables(self, lr: float, readout_lr: float) -> dict[tuple[str, str], Any]:
        """What every run starts from: weights, decay, bounds, the readout's bias and rate (the
        layers' rates are the family's: a projection learns at its postsynaptic layer's)."""
        cfg = self.cfg
        variables: dict[tuple[str, str], Any] = {}
        for name, _, _ in self.st.projections:
            variables[(name, "w")] = self.state[f"{name}.w"]
            variables[(name, "weight_decay")] = cfg.weight_decay
            variables[(name, "w_max")] = cfg.w_max if cfg.w_max > 0 else UNBOUNDED
        variables[("readout", "b")] = self.state["readout.b"]
        variables[("readout", "lr")] = readout_lr
        return variables

    def read_losses(self, layers: list[int]) -> tuple[dict[Any, float], float]:
        """(loss sums of ``layers`` and of the readout, label count) after a run."""
        prog = self.program
        loss_sum: dict[Any, float] = {
            l: float(prog.get(f"summary{l}", "loss_sum")[0]) for l in layers
        }
        loss_sum["readout"] = float(prog.get("summary_ro", "loss_sum")[0])
        return loss_sum, float(prog.get(f"summary{self.st.n_hidden}", "count")[0])

    def read_state(self, block: str, name: str, n: int | None = None) -> np.ndarray:
        """Variable ``name`` of group ``block`` after a run; ``n`` stacks ``name0 .. name<n-1>``
        (the per-class variables) into an (n, units) array."""
        if n is None:
            return self.program.get(block, name)
        return np.stack([self.program.get(block, f"{name}{c}") for c in range(n)])

    # -- label_path = "stream" -------------------------------------------------------------
    def slot_variables(self) -> dict[tuple[str, str], Any]:
        """What a run of ``label_path = "stream"`` starts from: the used slots of every layer,
        the novelty threshold, the readout's slot-to-class counts (nothing for "direct")."""
        st, C = self.st, self.st.n_classes
        variables: dict[tuple[str, str], Any] = {}
        for l in st.slot_layers():
            variables[(f"summary{l}", "novelty")] = self.cfg.novelty
            for c in range(C):
                variables[(f"summary{l}", f"used{c}")] = self.state[f"summary{l}.used"][c]
        if st.stream:
            for k in range(C):
                variables[("readout", f"cnt{k}")] = self.state["readout.cnt"][k]
        return variables

    def read_slot_state(self) -> dict[str, np.ndarray]:
        """After a learning run: the used slots and the count table (nothing for "direct")."""
        st, C = self.st, self.st.n_classes
        out = {
            f"summary{l}.used": self.read_state(f"summary{l}", "used", C)[:, 0]
            for l in st.slot_layers()
        }
        if st.stream:
            out["readout.cnt"] = self.read_state("readout", "cnt", C)
        return out

    def target_readout(self, h: np.ndarray, memories: np.ndarray) -> np.ndarray:
        """The target readout: the class of the last layer's nearest remembered target.

        With ``label_path = "direct"`` memory ``c`` is class ``c`` (:func:`nearest_target`).
        With ``"stream"`` the memories are slots the layer allocated itself; the readout maps
        the nearest slot to the class most often presented when the last layer chose it during
        training (``readout.cnt``, slot x class). Like the delta readout's teaching signal, this
        table reads the label: it sits at the readout, not in a hidden layer.
        """
        slot = nearest_target(h, memories)
        if not self.st.stream:
            return slot
        return self.state["readout.cnt"].argmax(axis=1)[slot]

    # -- TrainableModel ---------------------------------------------------------------------
    def loss_name(self, layer: Any) -> str:
        """The name under which layer ``layer``'s loss is reported."""
        return "readout" if layer == "readout" else f"layer{layer}"

    def train_batch(
        self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator
    ) -> dict[str, float]:
        totals = dict.fromkeys(self.loss_names, 0.0)
        count = 0.0
        for sl in self.chunks(len(y)):
            out = self.run_chunk(x[sl], y[sl], rng, learn=True)
            for l, v in out["loss_sum"].items():
                totals[self.loss_name(l)] += v
            count += out["count"]
        return {k: v / max(count, 1.0) for k, v in totals.items()}

    def run_chunk(
        self, x: np.ndarray, y: np.ndarray | None, rng: np.random.Generator | None, learn: bool
    ) -> dict[str, Any]:
        raise NotImplementedError

    def state_dict(self) -> dict[str, np.ndarray]:
        """Weights as dense (post, pre) matrices (0 where not connected), and every carried
        state under its long name (``layer1.bias``, ``layer1.memory`` ...)."""
        out: dict[str, np.ndarray] = {}
        projections = {name for name, _, _ in self.st.projections}
        for key, value in self.state.items():
            block, short = key.split(".", 1)
            if block in projections and short == "w":
                out[f"{block}.weight"] = self.st.dense(block, value)
            else:
                out[self.long_name(block, short)] = value.copy()
        return out

    def load_state_dict(self, sd: dict[str, np.ndarray]) -> None:
        projections = {name for name, _, _ in self.st.projections}
        for key in list(self.state):
            block, short = key.split(".", 1)
            if block in projections and short == "w":
                i, j = self.st.conn[block]
                self.state[key] = np.array(sd[f"{block}.weight"][j, i], dtype=float)
            else:
                value = np.array(sd[self.long_name(block, short)], dtype=float)
                self.state[key] = value.reshape(self.state[key].shape)

    def long_name(self, block: str, short: str) -> str:
        """``("layer1", "b") -> "layer1.bias"``: the state dict's name of a carried state."""
        return f"{block}.{self.PARAMETERS[short]}"
