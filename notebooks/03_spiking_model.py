# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The spiking model: signal propagation in leaky integrate-and-fire networks
#
# The third model family, `model = "lif"`, is a network of leaky integrate-and-fire (LIF)
# neurons simulated by [Brian2](https://briansimulator.org). Its default is a cortical regime:
# each input feature drives five input units with Poisson spike trains whose rate follows the
# feature, units are excitatory or inhibitory (Dale's law), a Poisson background keeps the
# layers noisy and homeostasis keeps their rates low. The preset trained here,
# `lif-sigprop-digits`, uses the noise-free form of 0.4.0 instead (`CURRENT_DRIVEN`: each
# feature drives the first layer with a constant current, the mean drive of its Poisson train),
# which is quick and learns digits well but fires like a clock. The label enters at the front
# as a *second* input of the same input neurons, and travels forward through the same synapses
# as the data. Every hidden neuron carries the two streams in two compartments (`v_h`, `v_t`),
# and every synapse learns once per sample from its presynaptic spike count and an error
# computed inside its postsynaptic neuron from **membrane potentials only** (SP-Voltage): the
# spike function is never differentiated.
#
# In this notebook you will
#
# 1. read the model's equations, as they are handed to Brian2,
# 2. train the preset `lif-sigprop-digits` and record spikes before and after learning,
# 3. draw a raster plot before and after learning, and membrane-potential traces,
# 4. look at the firing rates the network settles into.
#
# **Run time.** A few minutes on a laptop, of which about half a minute is each one-off C++
# compile (the training program and the recording program; both cached in neurosig's cache,
# `~/.cache/neurosig` by default: `neurosig cache info`). `NEUROSIG_QUICK=1` (the test suite sets it) runs a small version: read
# its numbers as a smoke test only.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import neurosig
from neurosig import results
from neurosig.config import load_experiment
from neurosig.models.lif import LIFConfig
from neurosig.models.lif_network import equations_text
from neurosig.analyses.figures.spiking import membrane_traces, spike_rasters
from neurosig.plotting import save_figure, use_style
from neurosig.train import train

QUICK = os.environ.get("NEUROSIG_QUICK") == "1"
OUT = Path(os.environ.get("NEUROSIG_OUTPUT", "output"))
OUT.mkdir(parents=True, exist_ok=True)
use_style()
print(f"neurosig {neurosig.__version__}, quick mode: {QUICK}, output folder: {OUT.resolve()}")

# %% [markdown]
# ## 1. The equations
#
# Each hidden neuron has two compartments that share one set of input weights `w`:
#
# - `tau_m dv_h/dt = (v_rest - v_h + syn_h + b)` while not refractory, and the same for `v_t`;
# - a presynaptic spike of the data (target) stream adds `w * psp` to the synaptic drive
#   `syn_h` (`syn_t`), which decays with `tau_syn`;
# - when `v_h > v_th` the data compartment spikes and is reset (`tspike` for the target one).
#
# Once per sample each neuron compares the time-averaged membrane potentials of its two
# compartments (`A_h`, `A_t`, minus running baselines) through a per-layer summary group
# (norms, cosines with the remembered class targets `m0, m1, ...`, a softmax over classes),
# and each synapse changes by `-eta * p_pre * e_post`: the presynaptic spike count (`p = kappa
# n`, kappa the potential one spike adds per unit weight) times the postsynaptic error factor.
# Below, every equation of the default model for a toy network (4 inputs, 3 classes).

# %%
print(equations_text(LIFConfig()))

# %% [markdown]
# ## 2. Train the preset and record spikes
#
# `train.record_every_epoch = true` also records the spikes of the first recorded test samples
# before training (`results.spikes(ds, layer, initial=True)`); the spikes after training are
# `results.spikes(ds, layer)`. Spikes are stored in a *ragged* layout: one entry per spike, with
# the sample, the unit and the time from the sample's onset; the reader also returns the
# recorded window of each sample (`t_start`, `t_stop`, in seconds).

# %%
exp = load_experiment("lif-sigprop-digits").replace(
    train_record_every_epoch=True, train_record_samples=20
)
if QUICK:
    exp = exp.replace(train_epochs=2, model_hidden=(32,), model_presentation=20.0, model_chunk=100)
p = exp.params
print(
    f"{exp.name}: hidden {p.hidden}, {exp.train.epochs} epochs, dt = {p.dt:g} ms, "
    f"{p.presentation:g} ms per sample, input up to {p.rate_max:g} Hz"
)

# %%
ds = train(exp, progress=not QUICK)
test = results.accuracy(ds).sel(split="test")
for readout in test.readout.values:
    acc = float(test.sel(readout=readout)[-1])
    print(f"{readout:>6} readout: test accuracy {100 * acc:5.1f} %")
speed = float(results.samples_per_second(ds).median())
print(f"{speed:,.0f} training samples/s (median over epochs)")

# %% [markdown]
# ## 3. Raster plots before and after learning
#
# The first 5 recorded test samples, one after the other (a grey line marks each onset); one
# dot per spike of the data compartment. `spike_rasters` is the catalogue's figure (see
# `docs/figures.md`): it reads the stored trains of both moments, draws them at a journal
# width (two columns), and `save_figure` writes PDF, SVG and PNG with the plotted spikes
# (`lif_raster.nc`) and their provenance (`lif_raster.json`).

# %%
fig = spike_rasters(ds, layer=1, n_samples=5)
print(*save_figure(fig, OUT / "lif_raster"))

# %% [markdown]
# Membrane potentials of a few units of layer 1 during the first recorded sample, after
# learning (`results.traces(ds, 1)`, recorded at every time step; spikes show as resets).

# %%
fig = membrane_traces(ds, layer=1, sample=0)
fig.axes[0].axhline(p.v_th, color="0.5", linestyle=":", linewidth=0.8)  # the threshold
print(*save_figure(fig, OUT / "lif_traces"))

# %% [markdown]
# ## 4. Firing rates
#
# `results.activity(ds, 1)` is the firing rate (Hz) of every unit for each recorded test sample. The
# histogram of the units' mean rates shows how much of the layer is silent and how much fires.

# %%
rates = results.activity(ds, 1).mean("sample")
fig, ax = plt.subplots()
ax.hist(rates, bins=30, color="0.3")
ax.set_xlabel("mean firing rate (Hz)")
ax.set_ylabel("units")
print(
    f"layer 1: mean rate {float(rates.mean()):.1f} Hz, silent units "
    f"{int((rates == 0).sum())} of {rates.size}"
)
print(*save_figure(fig, OUT / "lif_rates"))
