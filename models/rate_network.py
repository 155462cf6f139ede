"""The rate network's equations and its Brian2 objects (see :mod:`neurosig.models.rate`).

Everything here turns a :class:`~neurosig.models.rate.RateConfig` into code: the structure
(sizes, connectivity, time steps), the initial state, the equation strings of every group and
update (readable with ``neurosig models --describe rate``), the Brian2 network of one chunk of
samples, and the TimedArray contents of a chunk. The rules' relation to their stated losses
(a per-layer factor) is measured in docs/learning-rules.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from neurosig.activations import activation
from neurosig.brian import Built
from neurosig.config import quantity
from neurosig.models.layered import (
    EPS,
    ORDER_MEMORY,
    ORDER_PLASTIC,
    ORDER_RESET,
    SYNAPSE_CONSTANTS,
    WEIGHT_DECAY_CODE,
    LayeredStructure,
    LayerLoss,
    SlotChoice,
    add_layer_loss,
    add_readout_loss,
    add_slot_choice,
    add_slot_table,
    bias_code,
    bound_code,
    connectivity,
    dale_signs,
    error_scalars,
    fan_in,
    init_slot_state,
    initial_weights,
    layer_order,
    loss_summary,
    slot_choice,
    slot_table_equations,
)

# The rate family's own slots around the shared ones (ORDER_MEMORY ... ORDER_RESET).
ORDER_LATCH = -70  # phase mode: latch the data phase (eligibility) at the target-phase onset
ORDER_LABEL = 0  # label units read the stimulus


# --------------------------------------------------------------------------------------------
# Structure and initial state
# --------------------------------------------------------------------------------------------


@dataclass
class Structure(LayeredStructure):
    """Everything that fixes the rate network's generated code."""

    CODE_FIELDS: ClassVar[tuple[str, ...]] = (
        "hidden",
        "activation",
        "mode",
        "rule",
        "anti_collapse",
        "target_branch",
        "signal",
        "update",
        "tau",
        "dt",
        "presentation",
        "reset",
        "dale",
        "delay",
    )

    delay_steps: int = 0

    @property
    def projections(self) -> list[tuple[str, str, str]]:
        """(name, pre group, post group) in forward order: the signal projection first."""
        return [("signal", "label", "layer0"), *super().projections]

    @property
    def contrastive(self) -> bool:
        return self.cfg.rule == "hebbian-contrastive"

    @property
    def all_classes(self) -> bool:
        """Does the target branch run through every remembered class target?"""
        return self.cfg.target_branch == "all" and self.contrastive

    @property
    def label_memories(self) -> bool:
        """Do the label units remember the class of every slot (``label_path = "stream"`` with a
        learned signal projection and the all-class branch: the presynaptic memory of S)?"""
        return self.stream and self.all_classes and 0 in self.loss_layers()

    def loss_layers(self) -> list[int]:
        """Layers with a loss: every hidden layer, and the input layer if S is learned."""
        first = 0 if self.cfg.signal == "learned" else 1
        return list(range(first, self.n_hidden + 1))

    def key(self) -> str:
        return super().key(noise=self.cfg.unit_noise > 0)


def make_structure(
    cfg: Any, n_in: int, n_classes: int, rng: np.random.Generator, chunk: int | None = None
) -> Structure:
    sizes = [n_in, *cfg.hidden]
    pairs = [("signal", n_classes, n_in)]
    pairs += [(f"w{l}", sizes[l - 1], sizes[l]) for l in range(1, len(sizes))]
    pairs.append(("w_ro", sizes[-1], n_classes))
    return Structure(
        cfg=cfg,
        n_in=n_in,
        n_classes=n_classes,
        sizes=sizes,
        conn=connectivity(pairs, cfg.p_connect, rng, dense=("signal", "w_ro")),
        steps_per_phase=round(cfg.presentation / cfg.dt),
        chunk=chunk or cfg.chunk,
        delay_steps=round(cfg.delay / cfg.dt),
    )


def init_state(st: Structure, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Initial carried state: flat weights (aligned with ``st.conn``), biases, memories, signs.

    The signal projection S is standard normal; hidden weights have the He (ReLU) or LeCun
    scale of their fan-in, the readout the LeCun scale.
    """
    cfg = st.cfg
    state = dale_signs(st.cfg, st.sizes, rng)
    gain = math.sqrt(2.0) if cfg.activation == "relu" else 1.0
    for name, pre_group, _ in st.projections:
        if name == "signal":
            state["signal.w"] = rng.standard_normal(st.conn[name][0].size)
            continue
        std = (1.0 if name == "w_ro" else gain) / math.sqrt(fan_in(st, pre_group))
        state[f"{name}.w"] = initial_weights(st, name, pre_group, std, state, rng)
    for l in range(st.n_hidden + 1):
        state[f"layer{l}.b"] = np.zeros(st.sizes[l])
        state[f"layer{l}.m"] = np.zeros((st.n_classes, st.sizes[l]))
    state["readout.b"] = np.zeros(st.n_classes)
    if st.label_memories:
        state["label.m"] = np.zeros((st.n_classes, st.n_classes))
    return state | init_slot_state(st)


# --------------------------------------------------------------------------------------------
# Equations and code (strings a neuroscientist can read; see the model's docstring)
# --------------------------------------------------------------------------------------------


def _f(st: Structure, arg: str) -> str:
    return activation(st.cfg.activation).brian_f(arg)


def _fprime(st: Structure, arg: str) -> str:
    return activation(st.cfg.activation).brian_fprime(arg)


def stream_names(st: Structure, l: int) -> dict[str, str]:
    """Names of layer ``l``'s variables in the learning rule.

    ``H``/``IH``: data activity and net input at the end of the presentation; ``HT``/``IT``: the
    same for the target; ``PD``/``PT``: what a synapse leaving the layer sees of the data and
    target streams when it learns; ``LD``/``LT``: what it sums at every step.
    """
    k = st.delay_steps
    live_d = f"hd{k}" if k else "h"
    if st.cfg.mode == "phases":
        PD = "hk_d" if k else "h_d"
        IT = "I" if l else "I_s"
        return dict(H="h_d", IH="I_d", HT="h", IT=IT, LD=live_d, LT=live_d, PD=PD, PT=live_d)
    live_t = f"htd{k}" if k else "h_t"
    IT = "I_t" if l else "I_s"
    return dict(H="h", IH="I_h", HT="h_t", IT=IT, LD=live_d, LT=live_t, PD=live_d, PT=live_t)


def layer_equations(st: Structure, l: int) -> str:
    """Equations of layer ``l`` (0 = input layer) for the presentation mode."""
    cfg, C = st.cfg, st.n_classes
    phases = cfg.mode == "phases"
    noise = cfg.unit_noise > 0
    if l == 0:
        lines = ["h : 1", "I_s : 1", "b : 1"] + ([] if phases else ["h_t : 1"])
    elif phases:
        xi = f" + sigma_u*noise{l}(t, i)" if noise else ""
        lines = [f"dh/dt = ({_f(st, 'I + b')}{xi} - h)/tau : 1", "I : 1", "b : 1"]
    else:
        xi_h = f" + sigma_u*noise{l}(t, i)" if noise else ""
        xi_t = f" + sigma_u*noise{l}(t, i + {st.sizes[l]})" if noise else ""
        lines = [
            f"dh/dt = ({_f(st, 'I_h + b')}{xi_h} - h)/tau : 1",
            f"dh_t/dt = ({_f(st, 'I_t + b')}{xi_t} - h_t)/tau : 1",
            "I_h : 1",
            "I_t : 1",
            "b : 1",
        ]
    if phases:
        lines += ["h_d : 1", "I_d : 1"] + (["hk_d : 1"] if st.delay_steps else [])
    for r in range(1, st.delay_steps + 1):
        lines += [f"hd{r} : 1"] + ([] if phases else [f"htd{r} : 1"])
    if l >= 1:
        lines.append("sgn : 1 (constant)")
    lines += [f"m{c} : 1" for c in range(C)]
    lines += [f"y{c} : 1 (linked)" for c in range(C)]
    if l in st.loss_layers():
        lines += ["e_h : 1", "e_t : 1", "lr : 1 (shared, constant)"]
        lines.append("neg_weight : 1 (shared, constant)")
        if st.all_classes:
            lines += [f"ec{c} : 1" for c in range(C)]
        lines += [f"{v} : 1 (linked)" for v in _error_scalars(st)]
    if cfg.rule == "hebbian-mse" and cfg.anti_collapse == "negatives":
        lines.append("mneg : 1")  # mean remembered target of the other classes
    return "\n".join(lines)


def _error_scalars(st: Structure) -> list[str]:
    return error_scalars(st.contrastive, st.all_classes, st.cfg.anti_collapse, st.n_classes)


def summary_equations(st: Structure) -> tuple[str, str]:
    """(equations of the one-unit summary group, code it runs at every learning step)."""
    loss = "contrastive" if st.contrastive else "mse"
    return loss_summary(loss, st.cfg.anti_collapse, st.n_classes, eps=EPS, stream=st.stream)


def layer_choice(st: Structure, l: int) -> SlotChoice:
    """Layer ``l``'s choice of a class slot (``label_path = "stream"``) from its live target
    ``HT`` and its memories ``m<c>``; ``live(t)`` is the class-free flag "a label was shown"
    at the step before the learning event (one value per learning event: :func:`make_chunk`)."""
    return slot_choice(st.n_classes, stream_names(st, l)["HT"], "m", "live(t)", eps=EPS)


def summary_sums(st: Structure, l: int) -> str:
    """Summed variables from layer ``l`` into its summary group (one loop over N each)."""
    cfg, C = st.cfg, st.n_classes
    s = stream_names(st, l)
    H, HT = s["H"], s["HT"]
    lines = [f"Shh_post = {H}_pre**2 : 1 (summed)"]
    if st.contrastive:
        for c in range(C):
            lines.append(f"Shm{c}_post = {H}_pre*m{c}_pre : 1 (summed)")
            lines.append(f"Smm{c}_post = m{c}_pre**2 : 1 (summed)")
    elif cfg.anti_collapse == "normalise":
        lines.append(f"Stt_post = {HT}_pre**2 : 1 (summed)")
        lines.append(f"Sht_post = {H}_pre*{HT}_pre : 1 (summed)")
    else:
        lines.append(f"Sdd_post = ({H}_pre - {HT}_pre)**2 : 1 (summed)")
        if cfg.anti_collapse == "negatives":
            lines.append(f"Sdn_post = ({H}_pre - mneg_pre)**2 : 1 (summed)")
    return "\n".join(lines)


def _loss_gradients(st: Structure, H: str, HT: str) -> tuple[str, str]:
    """(dL/dh, dL/dh_t) of the rule as expressions of the layer's own variables."""
    cfg, C = st.cfg, st.n_classes
    if st.contrastive:
        dh = " + ".join(f"q{c}*m{c}" for c in range(C)) + f" - r*{H}"
        dt_ = f"u*{H} - (" + " + ".join(f"v{c}*m{c}" for c in range(C)) + ")"
    elif cfg.anti_collapse == "normalise":
        dh = f"-(a1*{HT} - a2*{H})"
        dt_ = f"-(a1*{H} - a3*{HT})"
    elif cfg.anti_collapse == "negatives":
        dh = f"act*(({H} - {HT}) - neg_weight*({H} - mneg))"
        dt_ = f"act*({HT} - {H})"
    else:
        dh = f"act*({H} - {HT})"
        dt_ = f"act*({HT} - {H})"
    return dh, dt_


def error_code(st: Structure, l: int) -> str:
    """Per-neuron error factors of layer ``l`` (reads its own state and the layer's scalars)."""
    s = stream_names(st, l)
    dh, dt_ = _loss_gradients(st, s["H"], s["HT"])
    lines = []
    if l == 0:
        lines.append("e_h = 0")  # the data stream of the input layer has no weights
    else:
        lines.append(f"e_h = ({dh})*{_fprime(st, s['IH'] + ' + b')}")
    if st.all_classes:
        lines.append("e_t = 0")
        act = activation(st.cfg.activation)
        for c in range(st.n_classes):
            fa = act.brian_fprime_of_activity(f"m{c}")
            lines.append(f"ec{c} = (q{c}*{s['H']} - k{c}*m{c})*{fa}")
    elif st.cfg.target_branch in ("presented", "all") or l == 0:  # mse: one target
        lines.append(f"e_t = ({dt_})*{_fprime(st, s['IT'] + ' + b')}")
    else:
        lines.append("e_t = 0")
    return "\n".join(lines)


def plasticity_code(st: Structure, name: str, pre: str, post: str) -> str:
    """The weight update of projection ``name`` (runs on the Synapses object)."""
    C = st.n_classes
    if name == "w_ro":
        pd = stream_names(st, st.n_hidden)["PD"]
        code = [f"w += -lr_post*e_o_post*{pd}_pre"]
    elif name == "signal":
        if st.label_memories:  # the label unit's remembered activity when slot c was chosen
            terms = " + ".join(f"ec{c}_post*m{c}_pre" for c in range(C))
            code = [f"w += -lr_post*({terms})"]
        elif st.all_classes:
            terms = " + ".join(f"ec{c}_post*int(i == {c})" for c in range(C))
            code = [f"w += -lr_post*({terms})"]
        else:
            code = ["w += -lr_post*e_t_post*h_t_pre"]
    else:
        s = stream_names(st, int(pre[5:]))
        if st.all_classes:
            terms = " + ".join(f"ec{c}_post*m{c}_pre" for c in range(C))
            code = [f"w += -lr_post*(e_h_post*{s['PD']}_pre + {terms})"]
        else:
            code = [f"w += -lr_post*(e_h_post*{s['PD']}_pre + e_t_post*{s['PT']}_pre)"]
    code.append(WEIGHT_DECAY_CODE)
    code.append(bound_code(st.cfg.dale and pre not in ("layer0", "label")))
    return "\n".join(code)


def memory_code(st: Structure, l: int) -> str:
    """Class memories ``m_y <- h_t`` of the presented class (and the mse negatives' mean)."""
    C = st.n_classes
    HT = stream_names(st, l)["HT"]
    memory = "\n".join(f"m{c} += y{c}*({HT} - m{c})" for c in range(C))
    if st.cfg.rule == "hebbian-mse" and st.cfg.anti_collapse == "negatives":
        mean = " + ".join(f"(1 - y{c})*m{c}" for c in range(C))
        memory += f"\nmneg = ({mean})/{C - 1}"  # mean remembered target of other classes
    return memory


def layer_loss(st: Structure, l: int) -> LayerLoss:
    """The Brian2 code of layer ``l``'s loss (summary group, sums, error factors, bias)."""
    eqs, code = summary_equations(st)
    return LayerLoss(
        summary_equations=eqs,
        summary_code=code,
        sums=summary_sums(st, l),
        scalars=_error_scalars(st),
        error=error_code(st, l),
        bias=bias_code(st.all_classes, st.n_classes),
    )


def equations_text(cfg: Any, n_in: int = 4, n_classes: int = 3) -> str:
    """Every equation and update of a model, for reading (``neurosig models --describe rate``)."""
    st = make_structure(cfg, n_in, n_classes, np.random.default_rng(0), chunk=1)
    parts = []
    for l in range(st.n_hidden + 1):
        parts.append(f"# layer{l}\n{layer_equations(st, l)}")
        if l in st.slot_layers():
            choice = layer_choice(st, l)
            parts.append(f"# summary{l} (slot sums, before the memory writes)\n{choice.sums}")
            parts.append(f"# summary{l} (slot choice)\n{choice.code}")
        if l in st.loss_layers():
            loss = layer_loss(st, l)
            parts.append(f"# summary{l} (sums)\n{loss.sums}")
            parts.append(f"# summary{l} (learning step)\n{loss.summary_code}")
            parts.append(f"# layer{l} error factors\n{loss.error}")
    for name, pre, post in st.projections:
        if name == "signal" and 0 not in st.loss_layers():
            parts.append(f'# {name}: {pre} -> {post}: fixed (signal = "fixed")')
            continue
        parts.append(f"# {name}: {pre} -> {post}\n{plasticity_code(st, name, pre, post)}")
    return "\n\n".join(parts)


# --------------------------------------------------------------------------------------------
# The Brian2 network of one chunk
# --------------------------------------------------------------------------------------------


@dataclass
class Clocks:
    """The periods of the network's updates (Brian2 quantities)."""

    dt: Any  # integration step
    presentation: Any  # one sample (one phase in the phase mode)
    learn: Any  # learning events: every step (update = "step") or once per sample
    sample: Any  # one sample, both phases


def build_brian(st: Structure, record: bool = False) -> Built:
    """Create the Brian2 objects of the network for one chunk of ``st.chunk`` samples.

    ``record`` is accepted for the family's common interface: the rate model's monitors
    always record the end-of-presentation activity, and it has no spikes.
    """
    import brian2 as b2

    cfg = st.cfg
    dt = quantity(cfg, "dt")
    P = st.steps_per_sample
    clocks = Clocks(
        dt, quantity(cfg, "presentation"), dt if cfg.update == "step" else P * dt, P * dt
    )
    b2.defaultclock.dt = dt
    timed = _timed_arrays(b2, st, clocks)
    ns = dict(timed, tau=quantity(cfg, "tau"), sigma_u=cfg.unit_noise)
    objects: dict[str, Any] = {}
    groups = _neuron_groups(b2, st, ns, objects)
    _projections(b2, st, groups, ns, clocks, objects)
    for l in range(st.n_hidden + 1):
        _layer_learning(b2, st, l, groups, ns, clocks, objects)
    _readout_learning(b2, st, groups["readout"], clocks, objects)
    _monitors(b2, st, groups, clocks, objects)
    return Built(objects=objects, timed=timed, duration=(st.chunk * P + 1) * dt)


def _timed_arrays(b2: Any, st: Structure, clocks: Clocks) -> dict[str, Any]:
    """The per-chunk inputs: stimulus, label, phase flag, unit noise."""
    n_rows = st.chunk * st.phases + 1  # one extra "rest" row: the run lasts one step longer
    T = clocks.presentation
    timed = {
        "stim": b2.TimedArray(np.zeros((n_rows, st.n_in)), dt=T, name="stim"),
        "lab": b2.TimedArray(np.zeros((n_rows, st.n_classes)), dt=T, name="lab"),
    }
    if st.cfg.mode == "phases":
        timed["tgt"] = b2.TimedArray(np.zeros(n_rows), dt=T, name="tgt")
    if st.stream:  # per learning event: was a label shown (which one is not said)
        timed["live"] = b2.TimedArray(
            np.zeros(_learning_events(st) + 1), dt=clocks.learn, name="live"
        )
    if st.cfg.unit_noise > 0:
        for l in range(1, st.n_hidden + 1):
            width = st.sizes[l] * (1 if st.cfg.mode == "phases" else 2)
            timed[f"noise{l}"] = b2.TimedArray(
                np.zeros((st.chunk * st.steps_per_sample + 1, width)),
                dt=clocks.dt,
                name=f"noise{l}",
            )
    return timed


def _neuron_groups(b2: Any, st: Structure, ns: dict, objects: dict) -> dict[str, Any]:
    """The label units, every layer (the input layer reads the stimulus), the readout."""
    C, phases = st.n_classes, st.cfg.mode == "phases"
    label_eqs = "h_t : 1"
    if st.label_memories:
        label_eqs += "".join(f"\nm{c} : 1\ny{c} : 1 (linked)" for c in range(C))
    label = b2.NeuronGroup(C, label_eqs, name="label", namespace=ns)
    label.run_regularly("h_t = lab(t, i)", when="groups", order=ORDER_LABEL, name="label_stim")
    groups = {"label": label}
    for l in range(st.n_hidden + 1):
        g = b2.NeuronGroup(
            st.sizes[l],
            layer_equations(st, l),
            method="exponential_euler",
            order=layer_order(l),
            name=f"layer{l}",
            namespace=ns,
        )
        groups[f"layer{l}"] = g
        if not st.stream:  # "stream": linked to the layer's own slot choice (summary group)
            for c in range(C):
                setattr(g, f"y{c}", b2.linked_var(label, "h_t", index=np.full(st.sizes[l], c)))
        if l == 0:
            f_sig = _f(st, "I_s + b")
            code = (
                f"h = stim(t, i) + tgt(t)*{f_sig}" if phases else f"h = stim(t, i)\nh_t = {f_sig}"
            )
            g.run_regularly(code, when="groups", order=layer_order(0), name="layer0_input")
    readout = b2.NeuronGroup(
        C,
        "do/dt = (I_o + b - o)/tau : 1\nI_o : 1\nb : 1\nd_o : 1\ne_o : 1\ny : 1 (linked)\n"
        "act : 1 (linked)\nnh2 : 1 (linked)\nlr : 1 (shared, constant)\n"
        + ("o_d : 1\n" if phases else "")
        + (slot_table_equations(C) if st.stream else ""),
        method="exponential_euler",
        order=layer_order(st.n_hidden + 1),
        name="readout",
        namespace=ns,
    )
    readout.y = b2.linked_var(label, "h_t", index=np.arange(C))
    groups["readout"] = readout
    objects.update(groups)
    return groups


def _projections(
    b2: Any, st: Structure, groups: dict, ns: dict, clocks: Clocks, objects: dict
) -> None:
    """One Synapses object (one weight) per forward projection, summing both streams."""
    phases = st.cfg.mode == "phases"
    for name, pre, post in st.projections:
        i, j = st.conn[name]
        if name == "signal":
            sums = "I_s_post = w*h_t_pre : 1 (summed)"
        elif name == "w_ro":
            sums = f"I_o_post = w*{stream_names(st, st.n_hidden)['LD']}_pre : 1 (summed)"
        else:
            s = stream_names(st, int(pre[5:]))
            sums = f"I_post = w*{s['LD']}_pre : 1 (summed)"
            if not phases:
                sums = (
                    f"I_h_post = w*{s['LD']}_pre : 1 (summed)\n"
                    f"I_t_post = w*{s['LT']}_pre : 1 (summed)"
                )
        model = f"w : 1\n{sums}\n" + SYNAPSE_CONSTANTS
        syn = b2.Synapses(groups[pre], groups[post], model, name=name, namespace=ns)
        syn.connect(i=i, j=j)
        if name != "signal" or 0 in st.loss_layers():
            syn.run_regularly(
                plasticity_code(st, name, pre, post),
                dt=clocks.learn,
                when="groups",
                order=ORDER_PLASTIC,
                name=f"{name}_plasticity",
            )
        objects[name] = syn


def _layer_learning(
    b2: Any, st: Structure, l: int, groups: dict, ns: dict, clocks: Clocks, objects: dict
) -> None:
    """Layer ``l``'s delay line, eligibility latch, class memory, loss and onset reset."""
    cfg, phases, k = st.cfg, st.cfg.mode == "phases", st.delay_steps
    g = groups[f"layer{l}"]
    if k:  # axonal delay line: shift registers, before the layer's own update
        shift = [f"hd{r} = hd{r - 1}" for r in range(k, 1, -1)] + ["hd1 = h"]
        if not phases:
            shift += [f"htd{r} = htd{r - 1}" for r in range(k, 1, -1)] + ["htd1 = h_t"]
        g.run_regularly(
            "\n".join(shift), when="groups", order=layer_order(l) - 2, name=f"layer{l}_delay"
        )
    if phases:  # the eligibility latch at the onset of every target phase
        latch = ["h_d = tgt(t)*h + (1 - tgt(t))*h_d"]
        latch.append(("I_d = tgt(t)*I + (1 - tgt(t))*I_d") if l else "I_d = 0")
        if k:
            latch.append(f"hk_d = tgt(t)*hd{k} + (1 - tgt(t))*hk_d")
        g.run_regularly(
            "\n".join(latch),
            dt=clocks.presentation,
            when="groups",
            order=ORDER_LATCH,
            name=f"layer{l}_latch",
        )
    g.run_regularly(
        memory_code(st, l),
        dt=clocks.learn,
        when="groups",
        order=ORDER_MEMORY,
        name=f"layer{l}_memory",
    )
    choice = layer_choice(st, l) if l in st.slot_layers() else None
    if l in st.loss_layers():
        add_layer_loss(
            b2,
            objects,
            g,
            groups["label"],
            "h_t",
            l,
            layer_loss(st, l),
            clocks.learn,
            ns,
            choice=choice,
        )
    elif choice is not None:  # the input layer with a fixed S: its memories name slots too
        add_slot_choice(b2, objects, g, l, choice, clocks.learn, ns)
    if l == 0 and st.label_memories:
        _label_memories(b2, st, groups["label"], objects["summary0"], clocks)
    # the reset at every onset: activity (hidden layers) and the delay lines
    names = (["h"] + ([] if phases else ["h_t"])) if l >= 1 else []
    names += [f"hd{r}" for r in range(1, k + 1)]
    names += [] if phases else [f"htd{r}" for r in range(1, k + 1)]
    if cfg.reset and names:
        g.run_regularly(
            "\n".join(f"{v} = 0" for v in names),
            dt=clocks.presentation,
            when="groups",
            order=ORDER_RESET,
            name=f"layer{l}_reset",
        )


def _label_memories(b2: Any, st: Structure, label: Any, summ: Any, clocks: Clocks) -> None:
    """``label_path = "stream"`` with a learned S and the all-class branch: each label unit
    remembers its activity when the input layer chose slot c (the presynaptic memory of S)."""
    C = st.n_classes
    for c in range(C):
        setattr(label, f"y{c}", b2.linked_var(summ, f"y{c}", index=np.zeros(C, dtype=int)))
    label.run_regularly(
        "\n".join(f"m{c} += y{c}*(h_t - m{c})" for c in range(C)),
        dt=clocks.learn,
        when="groups",
        order=ORDER_MEMORY,
        name="label_memory",
    )


def _readout_learning(b2: Any, st: Structure, readout: Any, clocks: Clocks, objects: dict) -> None:
    """The normalised delta rule on the last layer's data stream, its latch and reset."""
    last = objects[f"summary{st.n_hidden}"]
    C, phases = st.n_classes, st.cfg.mode == "phases"
    readout.act = b2.linked_var(last, "act", index=np.zeros(C, dtype=int))
    readout.nh2 = b2.linked_var(last, "nh2", index=np.zeros(C, dtype=int))
    O = "o_d" if phases else "o"
    add_readout_loss(
        b2, objects, readout, last, clocks.learn, f"d_o = act*({O} - y)\ne_o = d_o/(nh2 + 1)"
    )
    if st.stream:
        add_slot_table(b2, readout, last, clocks.learn)
    if phases:
        readout.run_regularly(
            "o_d = tgt(t)*o + (1 - tgt(t))*o_d",
            dt=clocks.presentation,
            when="groups",
            order=ORDER_LATCH,
            name="readout_latch",
        )
    if st.cfg.reset:
        readout.run_regularly(
            "o = 0", dt=clocks.presentation, when="groups", order=ORDER_RESET, name="readout_reset"
        )


def _monitors(b2: Any, st: Structure, groups: dict, clocks: Clocks, objects: dict) -> None:
    """The end-of-presentation data activity of every sample (before the reset)."""
    phases = st.cfg.mode == "phases"
    for l in range(1, st.n_hidden + 1):
        objects[f"mon{l}"] = b2.StateMonitor(
            groups[f"layer{l}"],
            "h_d" if phases else "h",
            record=True,
            dt=clocks.sample,
            when="start",
            name=f"mon{l}",
        )
    objects["mon_ro"] = b2.StateMonitor(
        groups["readout"],
        "o_d" if phases else "o",
        record=True,
        dt=clocks.sample,
        when="start",
        name="mon_ro",
    )


def _learning_events(st: Structure) -> int:
    """Learning events of one chunk after the first (at t = 0, which learns nothing)."""
    return st.chunk * (st.steps_per_sample if st.cfg.update == "step" else 1)


# --------------------------------------------------------------------------------------------
# Inputs of one chunk
# --------------------------------------------------------------------------------------------


@dataclass
class Chunk:
    """The TimedArray contents of one run and how many of its samples are real."""

    timed: dict[str, np.ndarray]
    n: int


def make_chunk(
    st: Structure, x: np.ndarray, y: np.ndarray | None, rng: np.random.Generator | None
) -> Chunk:
    """Stimulus arrays for ``len(x) <= chunk`` samples (the rest padded and never learned).

    ``y = None`` presents no label (evaluation: nothing learns, the target stream is silent).
    """
    cfg, B, C = st.cfg, st.chunk, st.n_classes
    n = len(x)
    if n > B:
        raise ValueError(f"{n} samples do not fit a chunk of {B}")
    xs = np.zeros((B, st.n_in))
    xs[:n] = x
    if cfg.input_noise > 0 and rng is not None:
        xs[:n] += cfg.input_noise * rng.standard_normal((n, st.n_in))
    ys = np.zeros((B, C))
    if y is not None:
        ys[np.arange(n), y] = 1.0
    rows = B * st.phases + 1
    stim = np.zeros((rows, st.n_in))
    lab = np.zeros((rows, C))
    timed: dict[str, np.ndarray] = {}
    if cfg.mode == "phases":
        stim[0 : 2 * B : 2] = xs
        lab[1 : 2 * B : 2] = ys
        tgt = np.zeros(rows)
        tgt[1 : 2 * B : 2] = 1.0
        timed["tgt"] = tgt
    else:
        stim[:B] = xs
        lab[:B] = ys
    timed["stim"] = stim
    timed["lab"] = lab
    if st.stream:  # the learning event k reads the label of the step before it
        stride = 1 if cfg.update == "step" else st.steps_per_sample
        k = np.arange(1, _learning_events(st) + 1)
        timed["live"] = np.concatenate(
            [[0.0], lab.sum(axis=1)[(k * stride - 1) // st.steps_per_phase]]
        )
    if cfg.unit_noise > 0:
        width = 1 if cfg.mode == "phases" else 2
        for l in range(1, st.n_hidden + 1):
            shape = (B * st.steps_per_sample + 1, st.sizes[l] * width)
            timed[f"noise{l}"] = rng.standard_normal(shape) if rng is not None else np.zeros(shape)
    return Chunk(timed=timed, n=n)
