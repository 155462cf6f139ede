"""The rate network's numpy oracle: a hand-written integrator of exactly the Brian2 equations.

:class:`ReferenceIntegrator` runs the network of :func:`neurosig.models.rate_network.build_brian`
one time step at a time, with the same update order and the same noise, so that the tests can
compare Brian2 (every target) with it to 1e-9. It is also the ``target = "reference"`` simulator.
It computes the same rule as Brian2, not an independent gradient: the finite-difference checks
of the rule against its loss are tests/test_gradients.py (docs/learning-rules.md).

The order inside a step mirrors the Brian2 schedule: monitors (slot ``start``), then the
learning block on the state the previous step left (latch, slot choice with ``label_path =
"stream"``, class memory, summary, error factors, plasticity, reset), then the label, the input
layer and each layer in turn (its summed inputs from the already-updated previous layer, then
exponential Euler).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from neurosig.activations import activation
from neurosig.models.layered import EPS, SLOT_PRESENCE
from neurosig.models.rate_network import Chunk, Structure


class ReferenceIntegrator:
    """Integrates the Brian2 rate network of a :class:`Structure` in numpy."""

    def __init__(self, st: Structure):
        self.st = st

    def run(
        self,
        state: dict[str, np.ndarray],
        chunk: Chunk,
        lr: float,
        readout_lr: float,
        *,
        whole: bool = True,
    ) -> dict[str, Any]:
        """Present one chunk starting from ``state``; learning rates 0 disable plasticity.

        ``whole=False`` stops once the chunk's ``chunk.n`` samples are recorded, without the
        padding Brian2's fixed-size program runs after them: the activity and readout are the
        same (a sample never sees the ones after it), the returned state is not the chunk's
        end. For evaluation, which keeps no state.
        """
        st = self.st
        run = _Run(st, state, chunk, lr, readout_lr)
        samples = st.chunk if whole else chunk.n
        for n in range(samples * st.steps_per_sample + 1):
            run.step(n)
        return run.result(state)


def _shift(registers: list[np.ndarray], value: np.ndarray) -> None:
    """Delay line: r_k <- r_{k-1} <- ... <- r_1 <- value (in place)."""
    for r in range(len(registers) - 1, 0, -1):
        registers[r][:] = registers[r - 1]
    registers[0][:] = value


class _Run:
    """The state of one chunk's integration (every Brian2 variable as a numpy array)."""

    def __init__(
        self, st: Structure, state: dict[str, np.ndarray], chunk: Chunk, lr: float, ro_lr: float
    ):
        cfg = st.cfg
        self.st, self.cfg, self.chunk = st, cfg, chunk
        self.lr, self.ro_lr = lr, ro_lr
        self.phases = cfg.mode == "phases"
        self.k = st.delay_steps
        self.E = math.exp(-cfg.dt / cfg.tau)
        self.act = activation(cfg.activation)
        self.wmax = cfg.w_max if cfg.w_max > 0 else np.inf
        self.W = {}
        for name, _, _ in st.projections:
            M = st.dense(name, state[f"{name}.w"])
            mask = None
            if len(st.conn[name][0]) < M.size:  # sparse: keep absent synapses at 0
                mask = st.dense(name, np.ones(len(st.conn[name][0]))).astype(bool)
            self.W[name] = (M, mask)
        L, sizes, C = st.n_hidden, st.sizes, st.n_classes
        self.b = [state[f"layer{l}.b"].copy() for l in range(L + 1)]
        self.m = [state[f"layer{l}.m"].copy() for l in range(L + 1)]
        self.sgn = [None] + [state[f"layer{l}.sgn"] for l in range(1, L + 1)]
        self.b_ro = state["readout.b"].copy()
        # label_path = "stream": used slots, the readout's slot x class counts, the label
        # units' memories of the input layer's slots (learned S), the flag "a label is shown"
        self.used = {l: state[f"summary{l}.used"].copy() for l in st.slot_layers()}
        self.cnt = state["readout.cnt"].copy() if st.stream else None
        self.ml = state["label.m"].copy() if st.label_memories else None
        self.live_now = 0.0
        for var in ("h", "ht", "Ih", "It", "hd", "Id", "hkd"):
            setattr(self, var, [np.zeros(n) for n in sizes])
        self.reg_h = [[np.zeros(n) for _ in range(self.k)] for n in sizes]
        self.reg_t = [[np.zeros(n) for _ in range(self.k)] for n in sizes]
        self.o, self.o_d = np.zeros(C), np.zeros(C)
        self.I_s = np.zeros(sizes[0])
        self.lab_now = np.zeros(C)
        self.loss_sum: dict[Any, float] = {l: 0.0 for l in st.loss_layers()}
        self.loss_sum["readout"] = 0.0
        self.count = 0.0
        self.noise = {l: chunk.timed.get(f"noise{l}") for l in range(1, L + 1)}
        self.rec = [np.zeros((st.chunk, n)) for n in sizes[1:]]
        self.rec_o = np.zeros((st.chunk, C))

    def values(self, l: int) -> dict[str, np.ndarray]:
        """Values of H, IH, HT, IT, PD, PT of layer ``l``, as named by ``stream_names``."""
        k = self.k
        live_d = self.reg_h[l][k - 1] if k else self.h[l]
        IT = self.It[l] if l else self.I_s
        if self.phases:
            PD = self.hkd[l] if k else self.hd[l]
            return dict(H=self.hd[l], IH=self.Id[l], HT=self.h[l], IT=IT, PD=PD, PT=live_d)
        live_t = self.reg_t[l][k - 1] if k else self.ht[l]
        return dict(H=self.h[l], IH=self.Ih[l], HT=self.ht[l], IT=IT, PD=live_d, PT=live_t)

    def step(self, n: int) -> None:
        """One time step in Brian2's order: monitors, learning block, reset, then the layers."""
        st = self.st
        S, P = st.steps_per_phase, st.steps_per_sample
        row = n // S  # TimedArray row (dt = presentation)
        if n % P == 0 and n > 0:  # monitors, slot "start"
            s_idx = n // P - 1
            for l in range(1, st.n_hidden + 1):
                self.rec[l - 1][s_idx] = self.hd[l] if self.phases else self.h[l]
            self.rec_o[s_idx] = self.o_d if self.phases else self.o
        onset = n % S == 0
        y = self.lab_now  # the label units still show the previous step's label
        if self.phases and onset:
            self.latch(self.row_of("tgt", row))
        if self.cfg.update == "step" or n % P == 0:
            if st.stream:  # the flag of this learning event (rate_network.make_chunk)
                self.live_now = float(
                    self.chunk.timed["live"][n if self.cfg.update == "step" else n // P]
                )
            self.learn(y)
        if onset and self.cfg.reset:
            self.reset()
        self.advance(row, n)

    def row_of(self, name: str, row: int) -> np.ndarray:
        table = self.chunk.timed[name]
        return table[min(row, len(table) - 1)]

    def latch(self, g: float) -> None:
        """The eligibility latch at every phase onset (phase mode)."""
        for l in range(self.st.n_hidden + 1):
            self.hd[l] = g * self.h[l] + (1 - g) * self.hd[l]
            self.Id[l] = g * self.It[l] + (1 - g) * self.Id[l] if l else np.zeros(self.st.sizes[0])
            if self.k:
                self.hkd[l] = g * self.reg_h[l][self.k - 1] + (1 - g) * self.hkd[l]
        self.o_d = g * self.o + (1 - g) * self.o_d

    def learn(self, y: np.ndarray) -> None:
        """Slot choices ("stream"), class memories, the layers' error factors, the readout's
        error, plasticity. ``y`` is the label; each layer's own ``y`` is the label ("direct")
        or its chosen slot ("stream")."""
        st, L = self.st, self.st.n_hidden
        ys = {}
        for l in range(L + 1):
            HT = self.values(l)["HT"]
            ys[l] = self.choose(l, HT) if st.stream else y
            self.m[l] += ys[l][:, None] * (HT[None, :] - self.m[l])
        if self.ml is not None:
            self.ml += ys[0][:, None] * (y[None, :] - self.ml)
        if self.cnt is not None:
            self.cnt += ys[L][:, None] * y[None, :]
        errors = {l: self.layer_errors(l, ys[l], float(ys[l].sum())) for l in st.loss_layers()}
        a = float(ys[L].sum())  # the readout's act: the last layer's
        O = self.o_d if self.phases else self.o
        e_o = a * (O - y)
        self.loss_sum["readout"] += a * 0.5 * float(np.sum((O - y) ** 2))
        self.count += a
        self.plasticity(errors, y, e_o)

    def choose(self, l: int, T: np.ndarray) -> np.ndarray:
        """Layer ``l``'s slot choice (:func:`neurosig.models.layered.slot_choice`): the one-hot
        of the chosen slot times ``act``, from the live target ``T`` and the memories before
        their write; marks the slot used."""
        m, used = self.m[l], self.used[l]
        Stt = float(np.sum(T**2))
        act = self.live_now * float(Stt > SLOT_PRESENCE)
        ct = (m @ T) / np.sqrt((Stt + EPS) * (np.sum(m**2, axis=1) + EPS))
        best, slot = -2.0, -1
        for c in range(self.st.n_classes):  # the nearest used memory
            if used[c] and ct[c] > best:
                best, slot = ct[c], c
        free = np.flatnonzero(used == 0)
        if best < self.cfg.novelty and free.size:  # novel: the lowest free slot
            slot = int(free[0])
        z = np.zeros(self.st.n_classes)
        z[slot] = act
        used += z * (1 - used)
        return z

    def layer_errors(self, l: int, y: np.ndarray, a: float) -> dict[str, Any]:
        """Layer ``l``'s loss and error factors ``e_h``, ``e_t`` (or ``e_c`` per class)."""
        cfg, st, m = self.cfg, self.st, self.m[l]
        v = self.values(l)
        H, HT = v["H"], v["HT"]
        nh2 = float(np.sum(H**2)) + EPS
        out: dict[str, Any] = {"nh2": nh2}
        if cfg.rule == "hebbian-contrastive":
            nh = math.sqrt(nh2)
            nc = np.sqrt(np.sum(m**2, axis=1) + EPS)
            cos = (m @ H) / (nh * nc)
            ex = np.exp(cos / cfg.temperature)
            Z = ex.sum()
            gc = a * (ex / Z - y) / cfg.temperature
            q = gc / (nh * nc)
            r = float(np.sum(gc * cos)) / nh2
            u = float(np.sum(y * gc / nc)) / nh
            kk = gc * cos / nc**2
            self.loss_sum[l] += a * (math.log(Z) - float(np.sum(y * cos)) / cfg.temperature)
            dh = q @ m - r * H
            dt_ = u * H - (y * gc * cos / nc**2) @ m
        elif cfg.anti_collapse == "normalise":
            nh = math.sqrt(nh2)
            nt = math.sqrt(float(np.sum(HT**2)) + EPS)
            cos_ht = float(np.sum(H * HT)) / (nh * nt)
            a1, a2, a3 = a / (nh * nt), a * cos_ht / nh2, a * cos_ht / nt**2
            self.loss_sum[l] += a * (1 - cos_ht)
            dh = -(a1 * HT - a2 * H)
            dt_ = -(a1 * H - a3 * HT)
        else:
            Sdd = float(np.sum((H - HT) ** 2))
            if cfg.anti_collapse == "negatives":
                mneg = ((1 - y) @ m) / (st.n_classes - 1)
                Sdn = float(np.sum((H - mneg) ** 2))
                self.loss_sum[l] += a * (0.5 * Sdd - cfg.neg_weight * 0.5 * Sdn)
                dh = a * ((H - HT) - cfg.neg_weight * (H - mneg))
            else:
                self.loss_sum[l] += a * 0.5 * Sdd
                dh = a * (H - HT)
            dt_ = a * (HT - H)
        fp = self.act.derivative
        out["e_h"] = np.zeros(st.sizes[0]) if l == 0 else dh * fp(v["IH"] + self.b[l])
        if st.all_classes:
            out["e_t"] = np.zeros_like(H)
            fa = self.act.derivative_of_activity(m)
            out["e_c"] = (q[:, None] * H[None, :] - kk[:, None] * m) * fa
        elif cfg.target_branch in ("presented", "all") or l == 0:  # mse: one target
            out["e_t"] = dt_ * fp(v["IT"] + self.b[l])
        else:
            out["e_t"] = np.zeros_like(H)
        return out

    def plasticity(self, errors: dict[int, dict], y: np.ndarray, e_o: np.ndarray) -> None:
        """Bias and weight updates (weights read the biases' old values: both at ORDER_PLASTIC,
        independent)."""
        st, cfg, lr = self.st, self.cfg, self.lr
        nh2_last = errors[st.n_hidden]["nh2"]
        for l, e in errors.items():
            e_post = e["e_c"].sum(axis=0) if "e_c" in e else e["e_t"]
            self.b[l] = self.b[l] - lr * (e["e_h"] + e_post)
        self.b_ro = self.b_ro - self.ro_lr * e_o / (nh2_last + 1)
        for name, pre, _ in st.projections:
            M, mask = self.W[name]
            if name == "signal":
                if 0 not in st.loss_layers():
                    continue
                e0 = errors[0]
                if self.ml is not None:  # the label units' memories of the slots
                    dW = -lr * e0["e_c"].T @ self.ml
                elif "e_c" in e0:
                    dW = -lr * e0["e_c"].T
                else:
                    dW = -lr * np.outer(e0["e_t"], y)
            elif name == "w_ro":
                pd = self.values(st.n_hidden)["PD"]
                dW = -self.ro_lr * np.outer(e_o, pd) / (nh2_last + 1)
            else:
                dW = -lr * self.hidden_update(int(pre[5:]), errors[int(pre[5:]) + 1])
            lr_here = self.ro_lr if name == "w_ro" else lr
            if lr_here == 0:
                continue  # evaluation: nothing changes
            M += dW if mask is None else dW * mask
            if cfg.weight_decay > 0:
                M -= lr_here * cfg.weight_decay * M
            if cfg.dale and pre not in ("layer0", "label"):
                sp = self.sgn[int(pre[5:])][None, :]
                M[...] = sp * np.clip(sp * M, 0, self.wmax)
            elif np.isfinite(self.wmax):
                np.clip(M, -self.wmax, self.wmax, out=M)
            if mask is not None:
                M *= mask

    def hidden_update(self, lp: int, e: dict[str, np.ndarray]) -> np.ndarray:
        """(post x pre) gradient of a hidden projection from layer ``lp``: one product of
        [e_h, e_c...] (post x k) with [pre data, memories] (k x pre)."""
        v = self.values(lp)
        if "e_c" in e:
            post_f = np.vstack([e["e_h"][None, :], e["e_c"]])
            pre_f = np.vstack([v["PD"][None, :], self.m[lp]])
        else:
            post_f = np.vstack([e["e_h"], e["e_t"]])
            pre_f = np.vstack([v["PD"], v["PT"]])
        return post_f.T @ pre_f

    def reset(self) -> None:
        """Activity and delay lines to 0 at every onset."""
        for l in range(self.st.n_hidden + 1):
            if l >= 1:
                self.h[l][:] = 0
                if not self.phases:
                    self.ht[l][:] = 0
            for rg in self.reg_h[l]:
                rg[:] = 0
            if not self.phases:
                for rg in self.reg_t[l]:
                    rg[:] = 0
        self.o[:] = 0

    def advance(self, row: int, n: int) -> None:
        """The label units, the input layer, every hidden layer and the readout, in order."""
        st, k, f = self.st, self.k, self.act.f
        self.lab_now = self.row_of("lab", row).copy()
        self.I_s = self.W["signal"][0] @ self.lab_now
        if k:
            _shift(self.reg_h[0], self.h[0])
            if not self.phases:
                _shift(self.reg_t[0], self.ht[0])
        x_now = self.row_of("stim", row)
        if self.phases:
            self.h[0] = x_now + self.row_of("tgt", row) * f(self.I_s + self.b[0])
        else:
            self.h[0] = x_now.copy()
            self.ht[0] = f(self.I_s + self.b[0])
        for l in range(1, st.n_hidden + 1):
            self.advance_layer(l, n)
        I_o = self.W["w_ro"][0] @ (self.reg_h[-1][k - 1] if k else self.h[-1])
        Fo = I_o + self.b_ro
        self.o = Fo + self.E * (self.o - Fo)

    def advance_layer(self, l: int, n: int) -> None:
        """Exponential Euler of hidden layer ``l`` (both streams) from the layer below."""
        cfg, k, f, E = self.cfg, self.k, self.act.f, self.E
        if k:
            _shift(self.reg_h[l], self.h[l])
            if not self.phases:
                _shift(self.reg_t[l], self.ht[l])
        M = self.W[f"w{l}"][0]
        nz = self.noise[l][n] if self.noise[l] is not None else None
        N = self.st.sizes[l]
        if self.phases:
            self.It[l] = M @ (self.reg_h[l - 1][k - 1] if k else self.h[l - 1])
            F = f(self.It[l] + self.b[l])
            if nz is not None:
                F = F + cfg.unit_noise * nz[:N]
            self.h[l] = F + E * (self.h[l] - F)
            return
        src = self.values(l - 1)
        self.Ih[l] = M @ src["PD"]
        self.It[l] = M @ src["PT"]
        Fh = f(self.Ih[l] + self.b[l])
        Ft = f(self.It[l] + self.b[l])
        if nz is not None:
            Fh = Fh + cfg.unit_noise * nz[:N]
            Ft = Ft + cfg.unit_noise * nz[N:]
        self.h[l] = Fh + E * (self.h[l] - Fh)
        self.ht[l] = Ft + E * (self.ht[l] - Ft)

    def result(self, state: dict[str, np.ndarray]) -> dict[str, Any]:
        st = self.st
        out_state = dict(state)
        for name, _, _ in st.projections:
            i, j = st.conn[name]
            out_state[f"{name}.w"] = self.W[name][0][j, i].copy()
        for l in range(st.n_hidden + 1):
            out_state[f"layer{l}.b"] = self.b[l]
            out_state[f"layer{l}.m"] = self.m[l]
        out_state["readout.b"] = self.b_ro
        out_state |= {f"summary{l}.used": used for l, used in self.used.items()}
        if self.cnt is not None:
            out_state["readout.cnt"] = self.cnt
        if self.ml is not None:
            out_state["label.m"] = self.ml
        n = self.chunk.n
        return {
            "state": out_state,
            "activity": [r[:n] for r in self.rec],
            "readout": self.rec_o[:n],
            "loss_sum": self.loss_sum,
            "count": self.count,
        }
