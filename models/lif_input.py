"""The LIF network's input, one chunk at a time: Poisson spike-time tables or constant currents,
and the background sources' Poisson spike-time tables.

Input spikes are drawn in numpy from the caller's generator and replayed by the input neurons
from a table of spike times (a TimedArray), so every Brian2 target sees the same spikes.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from neurosig.config import si
from neurosig.data import poisson_events
from neurosig.models.lif_network import FAR, Structure


def intensity(cfg: Any, z: np.ndarray) -> np.ndarray:
    """a(z) = clip(offset + gain z, 0, 1): a feature's rate as a fraction of ``rate_max``.

    Constant currents are not clipped (a current may be negative): the current encoding is
    the mean drive ``offset + gain z`` of every feature, without the Poisson trains' clip.
    """
    a = cfg.input_offset + cfg.input_gain * np.asarray(z, dtype=float)
    return a if cfg.encoding == "current" else np.clip(a, 0.0, 1.0)


def draw_spikes(
    lam: np.ndarray, offset: int, window: int, period: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Poisson spikes: ``lam[s, i]`` expected spikes of unit i in steps ``[s*period + offset,
    s*period + offset + window)``; returns (unit, step) of every spike (two may share a step:
    :func:`spike_table` merges them)."""
    (sample, unit), k = poisson_events(lam, window, rng, steps=True)
    return unit, sample * period + offset + k


def spike_table(unit: np.ndarray, step: np.ndarray, n: int, rows: int, dt: float) -> np.ndarray:
    """(rows, n) table of each unit's spike times (s), ascending, padded with FAR.

    A spike at step k is stored as (k - 1/2) dt, so that ``t >= next`` fires exactly at step k.
    Two spikes of a unit in the same step count once.
    """
    key = np.unique(unit.astype(np.int64) * (1 << 40) + step.astype(np.int64))
    unit, step = key >> 40, key & ((1 << 40) - 1)
    first = np.searchsorted(unit, np.arange(n))
    pos = np.arange(key.size) - first[unit]
    keep = pos < rows - 1
    if not np.all(keep):
        warnings.warn(
            f"{int((~keep).sum())} input spikes beyond the table were dropped", stacklevel=2
        )
    table = np.full((rows, n), FAR)
    table[pos[keep], unit[keep]] = (step[keep] - 0.5) * dt
    return table


@dataclass
class Chunk:
    """The TimedArray contents and carried input variables of one run; ``n`` samples are
    real (the rest is padding)."""

    timed: dict[str, np.ndarray]
    variables: dict[tuple[str, str], Any]
    n: int


def make_chunk(
    st: Structure,
    signal: np.ndarray,
    x: np.ndarray,
    y: np.ndarray | None,
    rng: np.random.Generator | None,
) -> Chunk:
    """Inputs of one run for ``len(x) <= chunk`` samples (the rest padded, silent, unlearned).

    ``y = None`` presents no label: the target stream is silent and nothing learns.
    """
    cfg, B, C, D = st.cfg, st.chunk, st.n_classes, st.sizes[0]
    k = cfg.input_copies  # input units per feature (a population code)
    n = len(x)
    if n > B:
        raise ValueError(f"{n} samples do not fit a chunk of {B}")
    rng = rng if rng is not None else np.random.default_rng(0)
    T_s = si(cfg, "presentation")
    lam_x = np.zeros((B, D))
    lam_x[:n] = np.repeat(cfg.rate_max * T_s * intensity(cfg, x), k, axis=1)
    lam_t = np.zeros((B, D))
    lab = np.zeros((B + 1, C))
    # read at the tick after each sample: live[s + 1] for sample s; shown: its target was shown
    live, shown = np.zeros(B + 1), np.zeros(B + 1)
    if y is not None:
        lam_t[:n] = np.repeat(cfg.rate_max * T_s * intensity(cfg, signal.T[y]), k, axis=1)
        lab[np.arange(n), y] = 1.0
        live[1 : n + 1] = 1.0
        # target_every: the target stream of the chunk's samples 0, N, 2N, ... only (the
        # chunk is a multiple of N, so the schedule runs on across chunks)
        hidden = np.arange(B) % cfg.target_every > 0
        lam_t[hidden] = 0.0
        shown[1 : n + 1] = ~hidden[:n]
    timed: dict[str, np.ndarray] = {"lab": lab, "live": live, "shown": shown}
    variables: dict[tuple[str, str], Any] = {}
    S, P = st.steps_per_phase, st.steps_per_sample
    phases = cfg.mode == "phases"
    if phases:
        tgt = np.zeros(2 * B + 1)
        tgt[1 : 2 * B : 2] = 1.0
        timed["tgt"] = tgt
    dt_s = si(cfg, "dt")
    if cfg.encoding == "poisson":
        if phases:
            u1, s1 = draw_spikes(lam_x, 0, S, P, rng)
            u2, s2 = draw_spikes(lam_t, S, S, P, rng)
            tables = {"h": (np.concatenate([u1, u2]), np.concatenate([s1, s2]))}
        else:
            tables = {"h": draw_spikes(lam_x, 0, S, P, rng), "t": draw_spikes(lam_t, 0, S, P, rng)}
        for s, (u, k) in tables.items():
            tab = spike_table(u, k, D, st.table_rows, dt_s)
            timed[f"tab_{s}"] = tab
            variables[("layer0", f"next_{s}")] = tab[0]
            variables[("layer0", f"k_{s}")] = np.zeros(D)
    else:
        stim = np.zeros((B * st.phases + 1, 2 * D))
        if phases:
            stim[0 : 2 * B : 2, :D] = lam_x
            stim[1 : 2 * B : 2, :D] = lam_t
        else:
            stim[:B, :D] = lam_x
            stim[:B, D:] = lam_t
        timed["stim"] = stim
    if st.background:  # every sample (both phases), padding included: the network's own noise
        K = cfg.background_sources
        lam_bg = np.full((B, K), cfg.background_rate * P * dt_s)
        for l in st.background_layers():
            u, k = draw_spikes(lam_bg, 0, P, P, rng)
            tab = spike_table(u, k, K, st.bg_rows, dt_s)
            timed[f"tab_bg{l}"] = tab
            variables[(f"background{l}", "next_b")] = tab[0]
            variables[(f"background{l}", "k_b")] = np.zeros(K)
    return Chunk(timed=timed, variables=variables, n=n)
