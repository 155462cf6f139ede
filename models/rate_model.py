"""The rate network behind neurosig's TrainableModel interface (the runtime adapter).

:class:`RateModel` runs the compiled Brian2 program of :mod:`neurosig.models.rate_network` (or
the numpy oracle of :mod:`neurosig.models.rate_reference` with ``target = "reference"``) chunk by
chunk, carries the weights, biases and class memories between chunks (with
``label_path = "stream"`` also the used slots and the readout's slot-to-class counts), and reads
the two readouts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from neurosig.models.layered import LayeredBrianModel
from neurosig.models.rate_network import build_brian, make_chunk
from neurosig.models.rate_reference import ReferenceIntegrator


@dataclass
class RateModel(LayeredBrianModel):
    """A rate network (see :mod:`neurosig.models.rate`) as a trainable model."""

    PARAMETERS: ClassVar[dict[str, str]] = {
        "b": "bias",
        "m": "memory",
        "sgn": "sign",
        "used": "slot_used",
        "cnt": "slot_counts",
    }
    PROGRAM_PREFIX: ClassVar[str] = "rate"
    NETWORK = staticmethod(build_brian)

    reference: ReferenceIntegrator | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.loss_names = (*(self.loss_name(l) for l in self.st.loss_layers()), "readout")

    def loss_name(self, layer: Any) -> str:
        """The learned signal projection's loss (input layer) is called ``signal``."""
        return "signal" if layer == 0 else super().loss_name(layer)

    def rates(self) -> tuple[float, float]:
        """(``lr``, ``readout_lr``) per learning event: ``update = "step"`` spreads one
        presentation's worth of learning over its time steps."""
        lr, readout_lr = super().rates()
        if self.cfg.update == "step":
            scale = self.cfg.dt / self.cfg.presentation
            return lr * scale, readout_lr * scale
        return lr, readout_lr

    def run_chunk(
        self, x: np.ndarray, y: np.ndarray | None, rng: np.random.Generator | None, learn: bool
    ) -> dict[str, Any]:
        """Present up to ``chunk`` samples; learn if ``learn`` (and a label is given)."""
        st = self.st
        chunk = make_chunk(st, x, y, rng)
        lr, readout_lr = self.rates() if learn else (0.0, 0.0)
        if self.target == "reference":
            if self.reference is None:
                self.reference = ReferenceIntegrator(st)
            out = self.reference.run(self.state, chunk, lr, readout_lr, whole=learn)
            if learn:
                self.state = out["state"]
            return out
        prog = self.ensure_program()
        prog.run(self.carried_variables(lr, readout_lr), chunk.timed)
        if learn:
            self.state = self.state | {
                f"{name}.w": prog.get(name, "w") for name, _, _ in st.projections
            }
            for l in range(st.n_hidden + 1):
                self.state[f"layer{l}.b"] = prog.get(f"layer{l}", "b")
                self.state[f"layer{l}.m"] = self.read_state(f"layer{l}", "m", st.n_classes)
            self.state["readout.b"] = prog.get("readout", "b")
            self.state |= self.read_slot_state()
            if st.label_memories:
                self.state["label.m"] = self.read_state("label", "m", st.n_classes)
        phases = st.cfg.mode == "phases"
        n = chunk.n
        activity = [
            prog.get(f"mon{l}", "h_d" if phases else "h")[:, 1 : n + 1].T
            for l in range(1, st.n_hidden + 1)
        ]
        loss_sum, count = self.read_losses(st.loss_layers())
        return {
            "state": self.state,
            "activity": activity,
            "readout": prog.get("mon_ro", "o_d" if phases else "o")[:, 1 : n + 1].T,
            "loss_sum": loss_sum,
            "count": count,
        }

    def carried_variables(self, lr: float, readout_lr: float) -> dict[tuple[str, str], Any]:
        """The variables a run starts from: weights, biases, memories, rates, loss constants."""
        st, cfg = self.st, self.cfg
        variables = self.projection_variables(lr, readout_lr)
        for l in range(st.n_hidden + 1):
            layer = f"layer{l}"
            variables[(layer, "b")] = self.state[f"{layer}.b"]
            for c in range(st.n_classes):
                variables[(layer, f"m{c}")] = self.state[f"{layer}.m"][c]
            if l >= 1:
                variables[(layer, "sgn")] = self.state[f"{layer}.sgn"]
            if l in st.loss_layers():
                variables[(layer, "lr")] = lr
                variables[(layer, "neg_weight")] = cfg.neg_weight
                variables[(f"summary{l}", "temperature")] = cfg.temperature
                variables[(f"summary{l}", "neg_weight")] = cfg.neg_weight
        if st.label_memories:
            for c in range(st.n_classes):
                variables[("label", f"m{c}")] = self.state["label.m"][c]
        return variables | self.slot_variables()

    def evaluate(self, x: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """(activity of every hidden layer, readout outputs) of ``x`` without learning."""
        acts: list[list[np.ndarray]] = [[] for _ in range(self.st.n_hidden)]
        ro = []
        for sl in self.chunks(len(x)):
            out = self.run_chunk(x[sl], None, None, learn=False)
            for a, b in zip(acts, out["activity"], strict=True):
                a.append(b)
            ro.append(out["readout"])
        return [np.concatenate(a) for a in acts], np.concatenate(ro)

    def predict(self, x: np.ndarray) -> dict[str, np.ndarray]:
        acts, ro = self.evaluate(x)
        memories = self.state[f"layer{self.st.n_hidden}.m"]
        return {"delta": ro.argmax(axis=1), "target": self.target_readout(acts[-1], memories)}

    def hidden_activity(self, x: np.ndarray) -> list[np.ndarray]:
        return self.evaluate(x)[0]
