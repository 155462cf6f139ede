"""The LIF network behind neurosig's TrainableModel interface (the runtime adapter).

:class:`LIFModel` runs the compiled Brian2 program of :mod:`neurosig.models.lif_network` chunk
by chunk, feeds it the input of :mod:`neurosig.models.lif_input`, carries weights, biases,
class memories and running baselines between chunks (with ``label_path = "stream"`` also the
used slots and the readout's slot-to-class counts), and reads the readouts and recordings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from neurosig.config import si
from neurosig.models.layered import LayeredBrianModel
from neurosig.models.lif_input import make_chunk
from neurosig.models.lif_network import build_brian, input_record_dt
from neurosig.results import LayerRecording, Recordings, SpikeRecord, TraceRecord

EVALUATION_SEED = 12345  # evaluation spikes: fixed, independent of training


@dataclass
class LIFModel(LayeredBrianModel):
    """A LIF network (see :mod:`neurosig.models.lif`) as a trainable model."""

    PARAMETERS: ClassVar[dict[str, str]] = {
        "w": "weight",
        "b": "bias",
        "m": "memory",
        "mp": "target_memory",
        "md": "slope_memory",
        "pbar": "pre_baseline",
        "base": "baseline",
        "sgn": "sign",
        "seen": "samples_seen",
        "used": "slot_used",
        "cnt": "slot_counts",
    }
    PROGRAM_PREFIX: ClassVar[str] = "lif"
    NETWORK = staticmethod(build_brian)

    activity_units: str = "Hz"  # hidden_activity returns firing rates

    def __post_init__(self) -> None:
        super().__post_init__()
        self.loss_names = (*(f"layer{l}" for l in range(1, self.st.n_hidden + 1)), "readout")

    def run_chunk(
        self,
        x: np.ndarray,
        y: np.ndarray | None,
        rng: np.random.Generator | None,
        learn: bool,
        record: bool = False,
    ) -> dict[str, Any]:
        """Present up to ``chunk`` samples; learn if ``learn``; record spikes if ``record``."""
        st = self.st
        prog = self.ensure_program(record)
        chunk = make_chunk(st, self.state["signal.w"], x, y, rng)
        lr, readout_lr = self.rates() if learn else (0.0, 0.0)
        variables = chunk.variables | self.carried_variables(lr, readout_lr, learn)
        prog.run(variables, chunk.timed)
        if learn:
            self.read_carried_state()
        n = chunk.n
        hidden = range(1, st.n_hidden + 1)
        loss_sum, count = self.read_losses(list(hidden))
        out = {
            "counts": [prog.get(f"mon{l}", "n_h")[:, 1 : n + 1].T for l in hidden],
            "potential": [prog.get(f"mon{l}", "A_h")[:, 1 : n + 1].T for l in hidden],
            "readout": prog.get("mon_ro", "o")[:, 1 : n + 1].T,
            "loss_sum": loss_sum,
            "count": count,
        }
        if record:
            out["spikes"] = [
                (prog.get(f"spikes{l}", "i").astype(int), prog.get(f"spikes{l}", "t"))
                for l in hidden
            ]
            x = "_h" if self.cfg.mode == "compartments" else ""
            if self.cfg.trace_units:
                out["traces"] = [prog.get(f"trace{l}", f"v{x}") for l in hidden]
            if self.cfg.trace_units and self.cfg.synapse == "conductance":
                out["inputs"] = [
                    (prog.get(f"inputs{l}", f"Ie{x}"), prog.get(f"inputs{l}", f"Ii{x}"))
                    for l in hidden
                ]
        return out

    def layer_of(self) -> dict[str, float]:
        """Layer index of every NeuronGroup; a layer's background sources belong to it."""
        out = super().layer_of()
        return out | {f"background{l}": float(l) for l in range(1, self.st.n_hidden + 1)}

    def stimuli(self) -> dict[str, float]:
        """The inputs of :meth:`LayeredBrianModel.stimuli` and each hidden layer's background
        spike-time table, which enters at that layer."""
        out = super().stimuli()
        return out | {f"tab_bg{l}": float(l) for l in range(1, self.st.n_hidden + 1)}

    def carried_variables(self, lr: float, readout_lr: float, learn: bool) -> dict:
        """The variables a run starts from: weights, biases, memories, baselines, rates."""
        st, cfg, state = self.st, self.cfg, self.state
        variables = self.projection_variables(lr, readout_lr)
        for l in range(st.n_hidden + 1):
            layer = f"layer{l}"
            variables[(layer, "rho")] = cfg.baseline if learn else 0.0
            variables[(layer, "mu")] = cfg.memory_rate
            variables[(layer, "pbar_h")], variables[(layer, "pbar_t")] = state[f"{layer}.pbar"]
            variables[(layer, "seen")] = state["train.seen"]
            for c in range(st.n_classes):
                variables[(layer, f"mp{c}")] = state[f"{layer}.mp"][c]
            if l == 0:
                if cfg.dale:  # the input layer's units are signed too
                    variables[(layer, "sgn")] = state[f"{layer}.sgn"]
                continue
            variables[(layer, "b")] = state[f"{layer}.b"]
            variables[(layer, "sgn")] = state[f"{layer}.sgn"]
            variables[(layer, "lr")] = lr
            homeostatic = learn and cfg.target_rate > 0
            variables[(layer, "eta_rate")] = cfg.homeostasis if homeostatic else 0.0
            variables[(layer, "rate0")] = cfg.target_rate
            variables[(layer, "base_h")], variables[(layer, "base_t")] = state[f"{layer}.base"]
            for c in range(st.n_classes):
                variables[(layer, f"m{c}")] = state[f"{layer}.m"][c]
                variables[(layer, f"md{c}")] = state[f"{layer}.md"][c]
            variables[(f"summary{l}", "temperature")] = cfg.temperature
            variables[(f"summary{l}", "neg_weight")] = 0.0
        return variables | self.slot_variables()

    def read_carried_state(self) -> None:
        """After a learning run: the new weights, biases, memories and baselines."""
        st, prog, C = self.st, self.program, self.st.n_classes
        new = dict(self.state)
        for name, _, _ in st.projections:
            new[f"{name}.w"] = prog.get(name, "w")
        for l in range(st.n_hidden + 1):
            layer = f"layer{l}"
            new[f"{layer}.pbar"] = np.stack([prog.get(layer, "pbar_h"), prog.get(layer, "pbar_t")])
            new[f"{layer}.mp"] = self.read_state(layer, "mp", C)
            if l == 0:
                continue
            new[f"{layer}.b"] = prog.get(layer, "b")
            new[f"{layer}.base"] = np.stack([prog.get(layer, "base_h"), prog.get(layer, "base_t")])
            new[f"{layer}.m"] = self.read_state(layer, "m", C)
            new[f"{layer}.md"] = self.read_state(layer, "md", C)
        new["readout.b"] = prog.get("readout", "b")
        new["train.seen"] = np.atleast_1d(prog.get("layer0", "seen"))[:1]
        self.state = new | self.read_slot_state()

    # -- TrainableModel ---------------------------------------------------------------------
    def evaluate(self, x: np.ndarray) -> dict[str, Any]:
        """Spike counts, filtered potentials and readout outputs of ``x`` without learning."""
        L = self.st.n_hidden
        parts: dict[str, list] = {"counts": [], "potential": [], "readout": []}
        rng = np.random.default_rng(EVALUATION_SEED)
        for sl in self.chunks(len(x)):
            out = self.run_chunk(x[sl], None, rng, learn=False)
            for k in parts:
                parts[k].append(out[k])
        return {
            "counts": [np.concatenate([p[l] for p in parts["counts"]]) for l in range(L)],
            "potential": [np.concatenate([p[l] for p in parts["potential"]]) for l in range(L)],
            "readout": np.concatenate(parts["readout"]),
        }

    def predict(self, x: np.ndarray) -> dict[str, np.ndarray]:
        ev = self.evaluate(x)
        last = f"layer{self.st.n_hidden}"
        a = ev["potential"][-1] - self.state[f"{last}.base"][0]
        return {
            "delta": ev["readout"].argmax(axis=1),
            "target": self.target_readout(a, self.state[f"{last}.m"]),
        }

    def hidden_activity(self, x: np.ndarray) -> list[np.ndarray]:
        """Firing rate (Hz) of every hidden unit for each sample (data stream)."""
        T_s = si(self.cfg, "presentation")
        return [c / T_s for c in self.evaluate(x)["counts"]]

    def recordings(self, x: np.ndarray) -> Recordings:
        """Spike times and membrane-potential traces of the first ``chunk`` samples of ``x``.

        Returns a :class:`neurosig.results.Recordings`: per hidden layer the data-stream spikes
        of every sample, timed from the sample's onset within the window
        ``[0, presentation)``, and the traces of the first ``trace_units`` units (mV, every
        ``dt``; both phases in phase mode).
        """
        st, cfg = self.st, self.cfg
        x = x[: st.chunk]
        out = self.run_chunk(
            x, None, np.random.default_rng(EVALUATION_SEED), learn=False, record=True
        )
        P = st.steps_per_sample * si(cfg, "dt")
        T = si(cfg, "presentation")
        traces = out.get("traces", [])
        inputs = out.get("inputs", [])
        layers = []
        for layer, (i, t) in enumerate(out["spikes"], start=1):
            sample = np.floor(t / P + 1e-9).astype(int)
            # real samples, data stream only (phase mode: the data phase)
            keep = (sample < len(x)) & (t - sample * P < T)
            spikes = SpikeRecord(
                sample=sample[keep],
                unit=i[keep],
                time=t[keep] - sample[keep] * P,
                n_samples=len(x),
                n_units=st.sizes[layer],
                t_start=0.0,
                t_stop=T,
                resolution=si(cfg, "dt"),
            )
            trace = exc = inh = None
            if layer <= len(traces):
                trace = _per_sample(
                    traces[layer - 1], len(x), st.steps_per_sample, si(cfg, "dt"),
                    "membrane potential (data compartment)",
                )  # fmt: skip
            if layer <= len(inputs):
                per_sample = st.steps_per_sample // round(input_record_dt(cfg) / cfg.dt)
                dt_in = input_record_dt(cfg) * 1e-3
                i_e, i_i = inputs[layer - 1]
                exc = _per_sample(i_e, len(x), per_sample, dt_in, "excitatory synaptic drive")
                inh = _per_sample(i_i, len(x), per_sample, dt_in, "inhibitory synaptic drive")
            layers.append(LayerRecording(spikes, trace, exc, inh))
        return Recordings(tuple(layers))


def _per_sample(values: np.ndarray, n: int, steps: int, dt: float, name: str) -> TraceRecord:
    """A (unit, time) monitor record in volts as a (sample, unit, step) TraceRecord in mV."""
    v = values[:, : n * steps].reshape(values.shape[0], n, steps).transpose(1, 0, 2)
    return TraceRecord(values=v * 1e3, dt=dt, units="mV", long_name=name)
