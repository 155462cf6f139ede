"""The LIF network's equations and its Brian2 objects (see :mod:`neurosig.models.lif`).

Everything here turns a :class:`~neurosig.models.lif.LIFConfig` into code: the structure,
the initial state, the equation strings of every group and update (readable with
``neurosig models --describe lif``) and the Brian2 network of one chunk of samples. The
rules' relation to their stated losses is measured in docs/learning-rules.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from neurosig.brian import Built
from neurosig.config import quantity, si
from neurosig.models.layered import (
    ORDER_ERROR,
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

FAR = 1e9  # seconds: "no further spike" in a spike-time table
NORM_FLOOR = 1.0  # mV^2 added to the squared norms of a layer's potentials (silent layers)
INPUT_RECORD_DT = 1.0  # ms: sampling interval of the recorded E and I input (the traces' dt
# would make a 1 s probe of many trials hundreds of MB; the synapses' tau_syn is 5 ms)

# The LIF family's own slots around the shared ones. The learning block runs at the first step
# of the next sample, on what the previous sample left; then the reset; then the stimulus.
ORDER_FACTORS = -70  # presynaptic factors p = kappa n, surrogate factors
ORDER_READOUT = -45  # readout units (their sums run at -46)
ORDER_STIM = 0  # label, phase flag and constant-current stimulus


# --------------------------------------------------------------------------------------------
# Structure and initial state
# --------------------------------------------------------------------------------------------


@dataclass
class Structure(LayeredStructure):
    """Everything that fixes the LIF network's generated code."""

    CODE_FIELDS: ClassVar[tuple[str, ...]] = (
        "hidden",
        "rule",
        "loss",
        "potential",
        "slope",
        "target_branch",
        "branch_every",
        "mode",
        "encoding",
        "input_copies",
        "background_sources",
        "synapse",
        "dale",
        "delay",
        "dt",
        "presentation",
        "trace_units",
    )

    table_rows: int = 0  # rows of the input spike-time tables
    bg_rows: int = 0  # rows of the background spike-time tables
    signs: dict[str, np.ndarray] = field(default_factory=dict)  # layer<l>.sgn (+1 without Dale)
    # fixed synapses by name (bg<l>: background sources -> layer l; lat<l>: the inhibitory
    # units of layer l -> layer l): (pre, post, jump of the drive per spike in mV, signed)
    fixed: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)

    @property
    def kappa(self) -> float:
        """Change of a(potential) per presynaptic spike and unit weight, in mV."""
        c = self.cfg
        return c.psp * c.tau_syn / c.presentation

    @property
    def all_classes(self) -> bool:
        """Does the target branch run through every remembered class target?"""
        return self.cfg.target_branch == "all" and self.cfg.loss == "contrastive"

    @property
    def streams(self) -> tuple[str, ...]:
        """The compartments of a hidden neuron: ``h`` and ``t``, or one in the phase mode."""
        return ("h", "t") if self.cfg.mode == "compartments" else ("",)

    @property
    def background(self) -> bool:
        """Do the hidden layers receive background Poisson spikes?"""
        return bool(self.background_layers())

    def background_layers(self) -> list[int]:
        """The hidden layers with background sources (all of them unless switched off)."""
        return [l for l in range(1, self.n_hidden + 1) if f"bg{l}" in self.fixed]

    def key(self) -> str:
        fixed = [part for name in sorted(self.fixed) for part in self.fixed[name]]
        return super().key(self.table_rows, self.bg_rows, *fixed)


def make_structure(
    cfg: Any, n_in: int, n_classes: int, rng: np.random.Generator, chunk: int | None = None
) -> Structure:
    sizes = [n_in * cfg.input_copies, *cfg.hidden]
    pairs = [(f"w{l}", sizes[l - 1], sizes[l]) for l in range(1, len(sizes))]
    pairs.append(("w_ro", sizes[-1], n_classes))
    chunk = chunk or cfg.chunk
    phases = 2 if cfg.mode == "phases" else 1
    # expected spikes of a neuron at rate_max over a chunk (both streams in the phase mode),
    # plus a margin of 8 standard deviations: the table never overflows in practice
    lam = cfg.rate_max * si(cfg, "presentation") * chunk * phases
    lam_bg = cfg.background_rate * si(cfg, "presentation") * chunk * phases
    conn = connectivity(pairs, cfg.p_connect, rng, dense=("w_ro",))
    # Dale's law signs every layer, the input layer too (its units are a spiking population);
    # without it the hidden units are all +1 (no draws)
    signs = (input_signs(cfg, n_in) if cfg.dale else {}) | dale_signs(cfg, sizes, rng)
    return Structure(
        cfg=cfg,
        n_in=n_in,
        n_classes=n_classes,
        sizes=sizes,
        conn=conn,
        steps_per_phase=round(cfg.presentation / cfg.dt),
        chunk=chunk,
        table_rows=int(lam + 8 * math.sqrt(lam) + 16),
        bg_rows=int(lam_bg + 8 * math.sqrt(lam_bg) + 16) if cfg.background_rate > 0 else 0,
        signs=signs,
        fixed=fixed_synapses(cfg, sizes, signs, rng),
    )


def input_signs(cfg: Any, n_features: int) -> dict[str, np.ndarray]:
    """``layer0.sgn`` under Dale's law: of the ``input_copies`` input units of every feature
    (units ``f * copies .. f * copies + copies - 1``), the last ``round((1 - exc_fraction) *
    copies)`` are inhibitory, so that every feature can excite and inhibit every hidden unit
    (with one copy per feature, a feature is one or the other: the first ``exc_fraction`` of
    the features excitatory)."""
    k = cfg.input_copies
    n_inh = round((1 - cfg.exc_fraction) * k)
    if n_inh == 0:  # too few copies to split every feature: split the features instead
        sign = np.ones(n_features * k)
        sign[round(cfg.exc_fraction * n_features) * k :] = -1.0
    else:
        sign = np.tile(np.r_[np.ones(k - n_inh), -np.ones(n_inh)], n_features)
    return {"layer0.sgn": sign}


def fixed_synapses(
    cfg: Any, sizes: list[int], signs: dict[str, np.ndarray], rng: np.random.Generator
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The fixed (never learned) synapses of every hidden layer l, drawn from ``rng``:

    * ``bg<l>``: background Poisson sources -> layer l, each pair with probability
      ``background_p``; the first ``exc_fraction`` of the sources are excitatory (jump
      ``background_psp``), the rest inhibitory (``-background_g * background_psp``);
    * ``lat<l>``: the inhibitory units of layer l -> the other units of layer l, each pair with
      probability ``lateral_p``, jump ``-lateral_inhibition`` (local inhibition).
    """
    fixed = {}
    for l in range(1, len(sizes)):
        n = sizes[l]
        if cfg.background_rate > 0:
            K = cfg.background_sources
            pre, post = np.nonzero(rng.random((K, n)) < cfg.background_p)
            exc = pre < round(cfg.exc_fraction * K)
            jump = np.where(exc, 1.0, -cfg.background_g) * cfg.background_psp
            fixed[f"bg{l}"] = (pre.astype(np.int32), post.astype(np.int32), jump)
        if cfg.lateral_inhibition > 0:
            inh = np.flatnonzero(signs[f"layer{l}.sgn"] < 0)
            keep = rng.random((inh.size, n)) < cfg.lateral_p
            keep[np.arange(inh.size), inh] = False  # no autapses
            k, post = np.nonzero(keep)
            jump = np.full(post.size, -cfg.lateral_inhibition)
            fixed[f"lat{l}"] = (inh[k].astype(np.int32), post.astype(np.int32), jump)
    # a tiny layer may draw no synapse at all (Brian2 cannot connect empty index arrays)
    return {name: syn for name, syn in fixed.items() if syn[0].size}


def init_state(st: Structure, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Flat weights (aligned with ``st.conn``), biases (mV), memories, baselines, signs, and
    the signal projection S as a (features, classes) matrix."""
    C = st.n_classes
    state = {"signal.w": rng.standard_normal((C, st.n_in)).T}
    state |= st.signs
    for name, pre_group, _ in st.projections:
        std = math.sqrt(2.0 / fan_in(st, pre_group))
        w = initial_weights(st, name, pre_group, std, state, rng)
        state[f"{name}.w"] = w * 0.0 if name == "w_ro" else w  # the delta readout starts silent
    for l in range(st.n_hidden + 1):
        n = st.sizes[l]
        state[f"layer{l}.mp"] = np.zeros((C, n))
        state[f"layer{l}.pbar"] = np.zeros((2, n))
        if l >= 1:
            state[f"layer{l}.b"] = np.zeros(n)
            state[f"layer{l}.m"] = np.zeros((C, n))
            state[f"layer{l}.md"] = np.zeros((C, n))
            state[f"layer{l}.base"] = np.zeros((2, n))
    state["readout.b"] = np.zeros(C)
    state["train.seen"] = np.zeros(1)  # training samples seen (the running baselines' count)
    return state | init_slot_state(st)


# --------------------------------------------------------------------------------------------
# Equations
# --------------------------------------------------------------------------------------------


def _sfx(s: str) -> str:
    return f"_{s}" if s else ""


def _drive(st: Structure, s: str, v: str = "v") -> str:
    """Synaptic drive of compartment ``s`` (a voltage); ``v`` names the potential that sets
    the conductances' driving force (``vf`` for the reset-free potential)."""
    if st.cfg.synapse == "current":
        return f"syn{s}"
    return f"ge{s}*(e_exc - {v}{s}) + gi{s}*(e_inh - {v}{s})"


def input_equations(st: Structure) -> str:
    """Equations of the input layer: spike counts and factors of both streams."""
    cfg, C = st.cfg, st.n_classes
    lines: list[str] = []
    for s in ("h", "t"):
        lines += [f"n_{s} : 1", f"p_{s} : 1"]
        if cfg.encoding == "poisson" and (cfg.mode == "compartments" or s == "h"):
            lines += [f"next_{s} : 1", f"k_{s} : 1"]  # next spike time (s)
    if cfg.encoding == "current":
        lines.append("fire : 1")  # 1 at an onset: the event that delivers the currents
    lines += [f"mp{c} : 1" for c in range(C)] + [f"y{c} : 1 (linked)" for c in range(C)]
    lines += ["pbar_h : 1", "pbar_t : 1", "rho : 1 (shared, constant)"]
    lines += ["seen : 1 (shared)", "r_eff : 1 (shared)", "mu : 1 (shared, constant)"]
    if cfg.dale:
        lines.append("sgn : 1 (constant)")
    return "\n".join(lines)


def membrane_equations(st: Structure, l: int) -> list[str]:
    """The membrane, reset-free potential and synapses of every compartment of layer ``l``."""
    cfg = st.cfg
    ext = " + Ix" if (l == 1 and cfg.encoding == "current") else ""
    lines = []
    for s in st.streams:
        x = _sfx(s)
        ext_s = (ext + x) if ext else ""
        # open = 0 while refractory: the membrane then relaxes towards v_reset, where the
        # spike left it, so it stays there (the decay rate stays constant: Brian2 computes
        # exp(-dt/tau_m) once, not per neuron)
        gate = f"int(t - ls{x} >= t_ref)"
        lines.append(
            f"dv{x}/dt = ({gate}*(v_rest + {_drive(st, x)}{ext_s} + b*mV) + (1 - {gate})*v_reset"
            f" - v{x})/tau_m : volt"
        )
        if cfg.potential == "free":
            lines.append(
                f"dvf{x}/dt = (v_rest - vf{x} + {_drive(st, x, 'vf')}{ext_s} + b*mV)/tau_m : volt"
            )
        if cfg.synapse == "current":
            lines.append(f"dsyn{x}/dt = -syn{x}/tau_syn : volt")
        else:
            lines += [f"dge{x}/dt = -ge{x}/tau_syn : 1", f"dgi{x}/dt = -gi{x}/tau_syn : 1"]
            if s in ("h", ""):  # the data compartment's E and I drive, for the recordings
                lines += [
                    f"Ie{x} = ge{x}*(e_exc - v{x}) : volt",
                    f"Ii{x} = gi{x}*(e_inh - v{x}) : volt",
                ]
        lines.append(f"ls{x} : second")
        if ext_s:
            lines.append(f"Ix{x} : volt")
    return lines


def filter_equations(st: Structure) -> list[str]:
    """The filtered potentials ``A`` (and slopes) the loss reads, one per stream."""
    cfg = st.cfg
    phases = cfg.mode == "phases"
    V = "vf" if cfg.potential == "free" else "v"
    acc = []
    for s in ("h", "t"):
        x = "" if phases else f"_{s}"
        w = ("(1 - phase)*" if s == "h" else "phase*") if phases else ""
        if cfg.rule == "sp-voltage":
            acc.append(f"dA_{s}/dt = {w}({V}{x} - v_rest)/(mV*T) : 1")
            if cfg.potential == "membrane" and cfg.slope == "free-time":
                # the fraction of the window the compartment integrated before its first spike
                acc.append(f"dF_{s}/dt = {w}int(n_{s} == 0)/T : 1")
        else:
            z = f"({V}{x} - v_th)/beta"
            acc.append(f"dA_{s}/dt = {w}0.5*(1 + {z}/(1 + abs({z})))/T : 1")
            acc.append(f"dD_{s}/dt = {w}0.5/(1 + abs({z}))**2/(beta/mV)/T : 1")
    return acc


def layer_equations(st: Structure, l: int) -> str:
    """Equations of layer ``l`` (0 = input layer)."""
    if l == 0:
        return input_equations(st)
    cfg, C = st.cfg, st.n_classes
    lines = membrane_equations(st, l) + filter_equations(st)
    if cfg.mode == "phases":
        lines.append("phase : 1 (shared)")
    lines += ["n_h : 1", "n_t : 1", "p_h : 1", "p_t : 1", "b : 1", "sgn : 1 (constant)"]
    lines += ["H_h : 1", "H_t : 1", "base_h : 1", "base_t : 1", "rho : 1 (shared, constant)"]
    lines += ["pbar_h : 1", "pbar_t : 1", "seen : 1 (shared)", "r_eff : 1 (shared)"]
    lines.append("mu : 1 (shared, constant)")
    lines += ["G_h : 1", "G_t : 1"] + [f"md{c} : 1" for c in range(C)]
    lines += ["e_h : 1", "e_t : 1", "lr : 1 (shared, constant)"]
    lines += ["eta_rate : 1 (shared, constant)", "rate0 : 1 (shared, constant)"]
    lines += [f"m{c} : 1" for c in range(C)] + [f"mp{c} : 1" for c in range(C)]
    lines += [f"ec{c} : 1" for c in range(C)] if st.all_classes else []
    if st.all_classes and cfg.branch_every > 1:
        lines += [f"Ec{c} : 1" for c in range(C)]
    lines += [f"y{c} : 1 (linked)" for c in range(C)]
    lines += [f"{v} : 1 (linked)" for v in _error_scalars(st)]
    return "\n".join(lines)


def _error_scalars(st: Structure) -> list[str]:
    return error_scalars(st.cfg.loss == "contrastive", st.all_classes, "none", st.n_classes)


def summary_sums(st: Structure) -> str:
    if st.cfg.loss == "contrastive":
        lines = ["Shh_post = H_h_pre**2 : 1 (summed)"]
        for c in range(st.n_classes):
            lines.append(f"Shm{c}_post = H_h_pre*m{c}_pre : 1 (summed)")
            lines.append(f"Smm{c}_post = m{c}_pre**2 : 1 (summed)")
        return "\n".join(lines)
    return "Shh_post = H_h_pre**2 : 1 (summed)\nSdd_post = (H_h_pre - H_t_pre)**2 : 1 (summed)"


def factor_code(st: Structure, l: int) -> str:
    """Presynaptic factors p = kappa n (spikes -> change of a per unit weight) and, in hidden
    layers, the loss's activities: the filtered potentials minus their running baselines."""
    code = "p_h = kappa*n_h - pbar_h\np_t = kappa*n_t - pbar_t"
    if l >= 1:
        code += "\nH_h = A_h - base_h\nH_t = A_t - base_t"
        code += "\n" + "\n".join(f"G_{s} = {gate(st.cfg, s)}" for s in ("h", "t"))
    return code


def gate(cfg: Any, s: str) -> str:
    """da/d(drive) of stream ``s``, read from the neuron's own voltage record (no derivative
    of the spike function): the surrogate's mean slope; for the membrane potential 1 while the
    compartment stayed below threshold (the reset clamps the mean once it fires); 1 for the
    reset-free potential (linear in the drive)."""
    if cfg.rule == "sp-surrogate":
        return f"D_{s}"
    if cfg.potential == "membrane":
        return f"F_{s}" if cfg.slope == "free-time" else f"int(n_{s} == 0)"
    return "1"


def error_code(st: Structure) -> str:
    """Per-neuron error factors e = dL/da * da/d(drive) (no derivative of the spike function)."""
    cfg, C = st.cfg, st.n_classes
    if cfg.loss == "contrastive":
        dh = " + ".join(f"q{c}*m{c}" for c in range(C)) + " - r*H_h"
        dt_ = "u*H_h - (" + " + ".join(f"v{c}*m{c}" for c in range(C)) + ")"
    else:
        dh = "act*(H_h - H_t)"
        dt_ = "act*(H_t - H_h)"
    lines = [f"e_h = ({dh})*G_h"]
    if st.all_classes:
        lines.append("e_t = 0")
        # the remembered target m_c's own factor is not stored: the presented class's live
        # factor stands in for every class (1 for sp-voltage)
        for c in range(C):
            lines.append(f"ec{c} = (q{c}*H_h - k{c}*m{c})*md{c}")
    elif cfg.target_branch != "none":
        lines.append(f"e_t = ({dt_})*G_t")
    else:
        lines.append("e_t = 0")
    return "\n".join(lines)


def plasticity_code(st: Structure, name: str) -> str:
    """The weight update of projection ``name``, once per sample."""
    if name == "w_ro":
        code = ["w += -lr_post*e_o_post*n_h_pre"]
    elif st.all_classes and st.cfg.branch_every == 1:
        terms = " + ".join(f"ec{c}_post*mp{c}_pre" for c in range(st.n_classes))
        code = [f"w += -lr_post*(e_h_post*p_h_pre + {terms})"]
    elif st.all_classes:  # the target branch runs every branch_every samples
        code = ["w += -lr_post*e_h_post*p_h_pre"]
    else:
        code = ["w += -lr_post*(e_h_post*p_h_pre + e_t_post*p_t_pre)"]
    code += [WEIGHT_DECAY_CODE, bound_code(st.cfg.dale)]
    return "\n".join(code)


def branch_code(st: Structure) -> str:
    """The all-class target branch, accumulated over ``branch_every`` samples."""
    terms = " + ".join(f"Ec{c}_post*mp{c}_pre" for c in range(st.n_classes))
    return f"w += -lr_post*({terms})\n" + bound_code(st.cfg.dale)


def on_pre_code(st: Structure, s: str) -> str:
    """What a presynaptic spike of stream ``s`` does to the postsynaptic compartment."""
    x = _sfx(s)
    if st.cfg.synapse == "current":
        return f"syn{x}_post += w*psp"
    return f"ge{x}_post += clip(w, 0, inf)*g_exc\ngi{x}_post += clip(-w, 0, inf)*g_inh"


def fixed_on_pre(st: Structure, streams: tuple[str, ...]) -> str:
    """What a spike through a fixed synapse (jump ``wf`` mV, signed) does to the listed
    compartments of its postsynaptic unit."""
    lines = []
    for s in streams:
        x = _sfx(s)
        if st.cfg.synapse == "current":
            lines.append(f"syn{x}_post += wf*mV")
        else:
            lines += [
                f"ge{x}_post += clip(wf, 0, inf)*gmv_exc",
                f"gi{x}_post += clip(-wf, 0, inf)*gmv_inh",
            ]
    return "\n".join(lines)


def reset_code(st: Structure, s: str) -> str:
    """What a spike of compartment ``s`` does: reset, refractory clock, spike count."""
    x = _sfx(s)
    if st.cfg.mode == "phases":
        count = "n_h += 1 - phase\nn_t += phase"
    else:
        count = f"n_{s} += 1"
    return f"v{x} = v_reset\nls{x} = t\n{count}"


def layer_loss(st: Structure) -> LayerLoss:
    """The Brian2 code of a hidden layer's loss (summary group, sums, error factors, bias)."""
    eqs, code = loss_summary(st.cfg.loss, "none", st.n_classes, eps=NORM_FLOOR, stream=st.stream)
    return LayerLoss(
        summary_equations=eqs + "\nSnn : 1",
        summary_code=code,
        sums=summary_sums(st) + "\nSnn_post = n_h_pre**2 : 1 (summed)",
        scalars=_error_scalars(st),
        error=error_code(st),
        bias=bias_code(st.all_classes, st.n_classes),
    )


def layer_choice(st: Structure, l: int) -> SlotChoice:
    """Layer ``l``'s choice of a class slot (``label_path = "stream"``) from what its class
    memories store: the target factor ``p_t`` in the input layer (memories ``mp<c>``), the
    filtered target potential ``H_t`` in a hidden layer (memories ``m<c>``; ``mp<c>`` and
    ``md<c>`` are written with the same slot). ``live(t)`` is 1 after a training sample."""
    target, memory = ("p_t", "mp") if l == 0 else ("H_t", "m")
    return slot_choice(st.n_classes, target, memory, "live(t)", eps=NORM_FLOOR)


def equations_text(cfg: Any, n_in: int = 4, n_classes: int = 3) -> str:
    """Every equation and update, for reading (``neurosig models --describe lif``)."""
    st = make_structure(cfg, n_in, n_classes, np.random.default_rng(0), chunk=1)
    loss = layer_loss(st)
    s0 = "h" if st.phases == 1 else ""
    parts = [f"# layer0 (input)\n{layer_equations(st, 0)}"]
    for l in range(1, st.n_hidden + 1):
        parts.append(f"# layer{l}\n{layer_equations(st, l)}")
        parts.append(f"# layer{l} spike (per stream)\n{reset_code(st, s0)}")
    for l in st.slot_layers()[:2]:  # the input layer's choice, then every hidden layer's
        choice = layer_choice(st, l)
        which = "the input layer" if l == 0 else "each hidden layer"
        parts.append(f"# slot choice of {which} (sums, before the memory writes)\n{choice.sums}")
        parts.append(f"# slot choice of {which}\n{choice.code}")
    parts.append(f"# summary of each layer (sums)\n{loss.sums}")
    parts.append(f"# summary (learning step)\n{loss.summary_code}")
    parts.append(f"# error factors\n{loss.error}")
    for name, pre, post in st.projections:
        parts.append(f"# {name}: {pre} -> {post}, on a presynaptic spike\n{on_pre_code(st, s0)}")
        parts.append(f"# {name}: learning, once per sample\n{plasticity_code(st, name)}")
    if cfg.target_rate > 0:
        parts.append(f"# homeostasis of each hidden unit's bias, per sample\n{HOMEOSTASIS_CODE}")
    if st.background:
        parts.append(
            "# background sources -> each hidden layer (fixed), one spike reaches every "
            f"compartment\n{fixed_on_pre(st, st.streams)}"
        )
    if cfg.lateral_inhibition > 0:
        parts.append(
            f"# inhibitory units -> their own layer (fixed), per stream\n{fixed_on_pre(st, (s0,))}"
        )
    return "\n\n".join(parts)


# --------------------------------------------------------------------------------------------
# The Brian2 network of one chunk
# --------------------------------------------------------------------------------------------


def build_brian(st: Structure, record: bool = False) -> Built:
    """Create the Brian2 objects of the network for one chunk of ``st.chunk`` samples.

    ``record = True`` adds a SpikeMonitor and membrane-potential traces to every hidden layer
    (a separate program, used on a bounded test subset only: training never pays for them).
    """
    import brian2 as b2

    dt = quantity(st.cfg, "dt")
    b2.defaultclock.dt = dt
    sample_dt = st.steps_per_sample * dt
    timed = _timed_arrays(b2, st, sample_dt)
    ns = _namespace(st) | timed
    objects: dict[str, Any] = {}
    label = b2.NeuronGroup(st.n_classes, "y : 1", name="label", namespace=ns)
    label.run_regularly(
        "y = lab(t, i)", dt=sample_dt, when="groups", order=ORDER_STIM, name="label_stim"
    )
    objects["label"] = label
    _input_layer(b2, st, ns, objects)
    _hidden_layers(b2, st, ns, objects)
    readout = b2.NeuronGroup(
        st.n_classes,
        "I_o : 1\nb : 1\nd_o : 1\ne_o : 1\no : 1\ny : 1 (linked)\nact : 1 (linked)\n"
        "nn2 : 1 (linked)\nlr : 1 (shared, constant)"
        + (f"\n{slot_table_equations(st.n_classes)}" if st.stream else ""),
        order=ORDER_READOUT,
        dt=sample_dt,
        name="readout",
        namespace=ns,
    )
    readout.y = b2.linked_var(label, "y", index=np.arange(st.n_classes))
    objects["readout"] = readout
    _projections(b2, st, ns, sample_dt, objects)
    _fixed_synapses(b2, st, ns, objects)
    for l in range(st.n_hidden + 1):
        _layer_learning(b2, st, l, ns, sample_dt, objects)
    for l in range(1, st.n_hidden + 1):
        _layer_loss(b2, st, l, ns, sample_dt, objects)
    last = objects[f"summary{st.n_hidden}"]
    readout.act = b2.linked_var(last, "act", index=np.zeros(st.n_classes, dtype=int))
    readout.nn2 = b2.linked_var(last, "Snn", index=np.zeros(st.n_classes, dtype=int))
    # the normalised delta rule on the last layer's data spike counts
    add_readout_loss(
        b2, objects, readout, last, sample_dt, "o = I_o + b\nd_o = act*(o - y)\ne_o = d_o/(nn2 + 1)"
    )
    if st.stream:
        add_slot_table(b2, readout, last, sample_dt)
    _monitors(b2, st, record, sample_dt, objects)
    return Built(objects=objects, timed=timed, duration=(st.chunk * st.steps_per_sample + 1) * dt)


def _timed_arrays(b2: Any, st: Structure, sample_dt: Any) -> dict[str, Any]:
    """Label, live flag, phase flag and the input: spike-time tables or currents."""
    from brian2 import ms

    cfg, B, C = st.cfg, st.chunk, st.n_classes
    T = quantity(cfg, "presentation")
    timed: dict[str, Any] = {
        "lab": b2.TimedArray(np.zeros((B + 1, C)), dt=sample_dt, name="lab"),
        "live": b2.TimedArray(np.zeros(B + 1), dt=sample_dt, name="live"),
        "shown": b2.TimedArray(np.zeros(B + 1), dt=sample_dt, name="shown"),
    }
    if cfg.mode == "phases":
        timed["tgt"] = b2.TimedArray(np.zeros(2 * B + 1), dt=T, name="tgt")
    if cfg.encoding == "poisson":
        for name in ("tab_h",) if cfg.mode == "phases" else ("tab_h", "tab_t"):
            # the table's rows are indexed by a spike count read as k*ms (any unit would do)
            timed[name] = b2.TimedArray(
                np.full((st.table_rows, st.sizes[0]), FAR), dt=1 * ms, name=name
            )
    else:
        timed["stim"] = b2.TimedArray(
            np.zeros((B * st.phases + 1, 2 * st.sizes[0])), dt=T, name="stim"
        )
    if st.background:
        K = cfg.background_sources
        for l in st.background_layers():
            timed[f"tab_bg{l}"] = b2.TimedArray(
                np.full((st.bg_rows, K), FAR), dt=1 * ms, name=f"tab_bg{l}"
            )
    return timed


def _namespace(st: Structure) -> dict[str, Any]:
    """The constants of the equations, as Brian2 quantities."""
    cfg = st.cfg
    conductance = cfg.synapse == "conductance"
    names = ("tau_m", "tau_syn", "v_rest", "v_th", "v_reset", "t_ref", "psp", "e_exc", "e_inh")
    ns = {name: quantity(cfg, name) for name in names + ("beta",)}
    ns.update(
        # a unit weight moves a neuron at rest by psp, as for current synapses
        g_exc=cfg.psp / (cfg.e_exc - cfg.v_rest) if conductance else 0.0,
        g_inh=cfg.psp / (cfg.v_rest - cfg.e_inh) if conductance else 0.0,
        T=quantity(cfg, "presentation"),
        kappa=st.kappa,
        # fixed synapses: conductance per mV of jump at rest
        gmv_exc=1 / (cfg.e_exc - cfg.v_rest) if conductance else 0.0,
        gmv_inh=1 / (cfg.v_rest - cfg.e_inh) if conductance else 0.0,
    )
    return ns


def _input_layer(b2: Any, st: Structure, ns: dict, objects: dict) -> None:
    """The input neurons: spike-time tables replayed (Poisson) or constant currents."""
    cfg = st.cfg
    phases = cfg.mode == "phases"
    T = quantity(cfg, "presentation")
    eq0 = layer_equations(st, 0)
    kw: dict[str, Any] = dict(order=layer_order(0), name="layer0", namespace=ns)
    if cfg.encoding == "poisson":
        replay = "k_h += 1\nnext_h = tab_h(k_h*ms, i)\n"
        if phases:
            g0 = b2.NeuronGroup(
                st.sizes[0],
                eq0 + "\nphase : 1 (shared)",
                threshold="t >= next_h*second",
                reset=replay + "n_h += 1 - phase\nn_t += phase",
                **kw,
            )
            g0.run_regularly(
                "phase = tgt(t)", dt=T, when="groups", order=ORDER_STIM - 1, name="layer0_phase"
            )
        else:
            g0 = b2.NeuronGroup(
                st.sizes[0],
                eq0,
                threshold="t >= next_h*second",
                reset=replay + "n_h += 1",
                events={"tspike": "t >= next_t*second"},
                **kw,
            )
            g0.run_on_event("tspike", "k_t += 1\nnext_t = tab_t(k_t*ms, i)\nn_t += 1")
    else:
        # the currents are delivered by one event per input neuron at every onset (event-driven:
        # the synapses work once per sample, not at every step)
        g0 = b2.NeuronGroup(st.sizes[0], eq0, events={"onset": "fire > 0"}, **kw)
        g0.run_on_event("onset", "fire = 0")
        # expected spike counts of the data and target streams (the stimulus table holds both)
        if phases:
            code = "n_h = stim(t, i)*(1 - tgt(t))\nn_t = stim(t, i)*tgt(t)\nfire = 1"
        else:
            code = f"n_h = stim(t, i)\nn_t = stim(t, i + {st.sizes[0]})\nfire = 1"
        g0.run_regularly(code, dt=T, when="groups", order=ORDER_STIM, name="layer0_stim")
    objects["layer0"] = g0


def _hidden_layers(b2: Any, st: Structure, ns: dict, objects: dict) -> None:
    """The hidden LIF layers: threshold and reset per compartment (two spike events)."""
    phases = st.cfg.mode == "phases"
    s0 = "" if phases else "h"
    for l in range(1, st.n_hidden + 1):
        g = b2.NeuronGroup(
            st.sizes[l],
            layer_equations(st, l),
            threshold=f"v{_sfx(s0)} > v_th",
            reset=reset_code(st, s0),
            events={} if phases else {"tspike": "v_t > v_th"},
            method="exponential_euler",
            order=layer_order(l),
            name=f"layer{l}",
            namespace=ns,
        )
        if phases:
            g.run_regularly(
                "phase = tgt(t)",
                dt=quantity(st.cfg, "presentation"),
                when="groups",
                order=ORDER_STIM - 1,
                name=f"layer{l}_phase",
            )
        else:
            g.run_on_event("tspike", reset_code(st, "t"))
        objects[f"layer{l}"] = g


def _projections(b2: Any, st: Structure, ns: dict, sample_dt: Any, objects: dict) -> None:
    """One Synapses object (one weight) per projection, carrying both streams' spikes."""
    cfg = st.cfg
    phases = cfg.mode == "phases"
    delay = quantity(cfg, "delay")
    for name, pre, post in st.projections:
        i, j = st.conn[name]
        model = "w : 1\n" + SYNAPSE_CONSTANTS
        kw: dict[str, Any] = {}
        if name == "w_ro":
            model += "\nI_o_post = w*n_h_pre : 1 (summed)"
            kw["dt"] = sample_dt
        elif pre == "layer0" and cfg.encoding == "current":
            # constant currents: the mean drive of the Poisson input, once per phase
            scale = "psp*tau_syn/T"
            if phases:
                code = f"Ix_post += w*(n_h_pre + n_t_pre)*{scale}"
            else:
                code = f"Ix_h_post += w*n_h_pre*{scale}\nIx_t_post += w*n_t_pre*{scale}"
            kw.update(on_pre=code, on_event="onset")
        else:
            kw.update(stream_pathways(st, lambda s: on_pre_code(st, s), delay))
        syn = b2.Synapses(objects[pre], objects[post], model, name=name, namespace=ns, **kw)
        syn.connect(i=i, j=j)
        syn.run_regularly(
            plasticity_code(st, name),
            dt=sample_dt,
            when="groups",
            order=ORDER_PLASTIC,
            name=f"{name}_plasticity",
        )
        if name != "w_ro" and st.all_classes and cfg.branch_every > 1:
            syn.run_regularly(
                branch_code(st),
                dt=cfg.branch_every * sample_dt,
                when="groups",
                order=ORDER_PLASTIC + 1,
                name=f"{name}_branch",
            )
        objects[name] = syn


def _fixed_synapses(b2: Any, st: Structure, ns: dict, objects: dict) -> None:
    """The background sources of every hidden layer (replaying their spike-time tables) and
    the fixed synapses: background -> layer (one spike reaches both compartments, so the two
    streams share their noise) and the layer's inhibitory units -> the layer (per stream)."""
    for l in range(1, st.n_hidden + 1):
        g = objects[f"layer{l}"]
        if f"bg{l}" in st.fixed:
            src = b2.NeuronGroup(
                st.cfg.background_sources,
                "next_b : 1\nk_b : 1",
                threshold="t >= next_b*second",
                reset=f"k_b += 1\nnext_b = tab_bg{l}(k_b*ms, i)",
                order=layer_order(l),
                name=f"background{l}",
                namespace=ns,
            )
            objects[f"background{l}"] = src
            i, j, jump = st.fixed[f"bg{l}"]
            syn = b2.Synapses(
                src, g, "wf : 1 (constant)", on_pre=fixed_on_pre(st, st.streams),
                name=f"bg{l}", namespace=ns,
            )  # fmt: skip
            syn.connect(i=i, j=j)
            syn.wf = jump
            objects[f"bg{l}"] = syn
        if f"lat{l}" in st.fixed:
            i, j, jump = st.fixed[f"lat{l}"]
            kw = stream_pathways(st, lambda s: fixed_on_pre(st, (s,)))
            syn = b2.Synapses(g, g, "wf : 1 (constant)", name=f"lat{l}", namespace=ns, **kw)
            syn.connect(i=i, j=j)
            syn.wf = jump
            objects[f"lat{l}"] = syn


def stream_pathways(st: Structure, code: Any, delay: Any = None) -> dict[str, Any]:
    """Synapses keywords that carry a presynaptic layer's spikes of every stream: one pathway
    (phase mode), or a data pathway on ``spike`` and a target pathway on ``tspike``, each
    running ``code(stream)`` on the postsynaptic side, with ``delay`` if given."""
    if st.cfg.mode == "phases":
        kw: dict[str, Any] = {"on_pre": code("")}
        return kw if delay is None else kw | {"delay": delay}
    kw = {
        "on_pre": {"pre": code("h"), "tpre": code("t")},
        "on_event": {"pre": "spike", "tpre": "tspike"},
    }
    return kw if delay is None else kw | {"delay": {"pre": delay, "tpre": delay}}


def onset_reset(st: Structure, l: int) -> list[str]:
    """What layer ``l`` forgets at every sample onset: counts, potentials, filters."""
    cfg = st.cfg
    reset = ["n_h = 0", "n_t = 0"]
    if l == 0:
        return reset
    for s in st.streams:
        x = _sfx(s)
        reset += [f"v{x} = v_rest", f"ls{x} = -1*second"]
        if cfg.potential == "free":
            reset.append(f"vf{x} = v_rest")
        reset += [f"syn{x} = 0*mV"] if cfg.synapse == "current" else [f"ge{x} = 0", f"gi{x} = 0"]
    reset += ["A_h = 0", "A_t = 0"]
    if cfg.rule == "sp-voltage" and cfg.potential == "membrane" and cfg.slope == "free-time":
        reset += ["F_h = 0", "F_t = 0"]
    if l == 1 and cfg.encoding == "current":
        reset += [f"Ix{_sfx(s)} = 0*mV" for s in st.streams]
    if cfg.rule == "sp-surrogate":
        reset += ["D_h = 0", "D_t = 0"]
    return reset


# The running baselines (rho = 0 outside training): an exact running mean over the first
# 1/rho samples, then exponential; live(t) = 1 after a real training sample, 0 after the
# padding of a partial chunk.
BASELINE_CODE = (
    "seen += int(rho > 0)*live(t)\n"
    "r_eff = clip(1/(seen + 1e-9), rho, 1)*int(rho > 0)*live(t)\n"
    "pbar_h += r_eff*(kappa*n_h - pbar_h)\npbar_t += r_eff*shown(t)*(kappa*n_t - pbar_t)"
)

# Intrinsic plasticity (homeostasis): while training, the bias (mV) moves against the unit's
# rate error, the mean rate of its two streams (Hz; the data stream alone after a sample whose
# target was not shown, target_every) minus the set point rate0 (Hz). Local: the unit's own
# spike counts. eta_rate = 0 outside training or with target_rate = 0.
HOMEOSTASIS_CODE = "b += -eta_rate*live(t)*((n_h + shown(t)*n_t)/((1 + shown(t))*T/second) - rate0)"


def _layer_learning(
    b2: Any, st: Structure, l: int, ns: dict, sample_dt: Any, objects: dict
) -> None:
    """Layer ``l``'s factors, class memories, running baselines and onset reset."""
    C = st.n_classes
    g = objects[f"layer{l}"]
    label = objects["label"]
    g.run_regularly(
        factor_code(st, l),
        dt=sample_dt,
        when="groups",
        order=ORDER_FACTORS,
        name=f"layer{l}_factors",
    )
    if not st.stream:  # "stream": linked to the layer's own slot choice
        for c in range(C):
            setattr(g, f"y{c}", b2.linked_var(label, "y", index=np.full(st.sizes[l], c)))
    elif l == 0:  # the input layer has no loss: its summary group only chooses the slot
        add_slot_choice(b2, objects, g, 0, layer_choice(st, 0), sample_dt, ns, sample_dt)
    # class memories: the target-stream factor (presynaptic role) and, in hidden layers, the
    # filtered target potential (the loss's class targets), as running averages over the
    # class's presentations at rate mu (Poisson targets are noisy)
    # shown(t): 1 after a sample whose target stream was shown (target_every)
    memory = [f"mp{c} += shown(t)*y{c}*mu*(p_t - mp{c})" for c in range(C)]
    if l >= 1:
        memory += [f"m{c} += shown(t)*y{c}*mu*(H_t - m{c})" for c in range(C)]
        memory += [f"md{c} += shown(t)*y{c}*mu*(G_t - md{c})" for c in range(C)]
    g.run_regularly(
        "\n".join(memory), dt=sample_dt, when="groups", order=ORDER_MEMORY, name=f"layer{l}_memory"
    )
    reset = onset_reset(st, l)
    if st.cfg.mode == "phases" and l >= 1:  # the dynamics also restart at the target phase
        g.run_regularly(
            "\n".join(r for r in reset if not r.startswith(("n_", "A_", "D_"))),
            dt=quantity(st.cfg, "presentation"),
            when="groups",
            order=ORDER_RESET + 1,
            name=f"layer{l}_phase_reset",
        )
    baseline = BASELINE_CODE
    if l >= 1:
        baseline += "\nbase_h += r_eff*(A_h - base_h)\nbase_t += r_eff*shown(t)*(A_t - base_t)"
        baseline += "\n" + HOMEOSTASIS_CODE
    g.run_regularly(
        baseline, dt=sample_dt, when="groups", order=ORDER_RESET - 1, name=f"layer{l}_baseline"
    )
    g.run_regularly(
        "\n".join(reset), dt=sample_dt, when="groups", order=ORDER_RESET, name=f"layer{l}_reset"
    )


def _layer_loss(b2: Any, st: Structure, l: int, ns: dict, sample_dt: Any, objects: dict) -> None:
    """Hidden layer ``l``'s summary group, error factors, bias and the batched target branch."""
    C = st.n_classes
    g = objects[f"layer{l}"]
    choice = layer_choice(st, l) if st.stream else None
    add_layer_loss(
        b2,
        objects,
        g,
        objects["label"],
        "y",
        l,
        layer_loss(st),
        sample_dt,
        ns,
        sums_dt=sample_dt,
        choice=choice,
    )
    if st.all_classes and st.cfg.branch_every > 1:
        g.run_regularly(
            "\n".join(f"Ec{c} += ec{c}" for c in range(C)),
            dt=sample_dt,
            when="groups",
            order=ORDER_ERROR + 1,
            name=f"layer{l}_branch_sum",
        )
        g.run_regularly(
            "\n".join(f"Ec{c} = 0" for c in range(C)),
            dt=st.cfg.branch_every * sample_dt,
            when="groups",
            order=ORDER_PLASTIC + 2,
            name=f"layer{l}_branch_reset",
        )


def input_record_dt(cfg: Any) -> float:
    """Sampling interval (ms) of the recorded E and I input: INPUT_RECORD_DT, a multiple of dt."""
    return max(round(INPUT_RECORD_DT / cfg.dt), 1) * cfg.dt


def _monitors(b2: Any, st: Structure, record: bool, sample_dt: Any, objects: dict) -> None:
    """Per-sample counts and filtered potentials, the readout, and the recordings."""
    from brian2 import ms

    cfg = st.cfg
    for l in range(1, st.n_hidden + 1):
        g = objects[f"layer{l}"]
        objects[f"mon{l}"] = b2.StateMonitor(
            g, ["n_h", "A_h"], record=True, dt=sample_dt, when="start", name=f"mon{l}"
        )
        if not record:
            continue
        # the recording program (a bounded test subset only): spikes and a few potentials
        objects[f"spikes{l}"] = b2.SpikeMonitor(g, name=f"spikes{l}")
        if cfg.trace_units:
            k = min(cfg.trace_units, st.sizes[l])
            x = "_h" if cfg.mode == "compartments" else ""
            objects[f"trace{l}"] = b2.StateMonitor(
                g, f"v{x}", record=np.arange(k), when="end", name=f"trace{l}"
            )
            if cfg.synapse == "conductance":  # E and I drive apart, every INPUT_RECORD_DT
                objects[f"inputs{l}"] = b2.StateMonitor(
                    g, [f"Ie{x}", f"Ii{x}"], record=np.arange(k), dt=input_record_dt(cfg) * ms,
                    when="end", name=f"inputs{l}",
                )  # fmt: skip
    objects["mon_ro"] = b2.StateMonitor(
        objects["readout"], "o", record=True, dt=sample_dt, when="end", name="mon_ro"
    )
