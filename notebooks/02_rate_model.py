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
# # The rate model: signal propagation in continuous time, simulated by Brian2
#
# The first notebook trained SP-core, signal propagation written as numpy layers. The **rate
# model** (`model = "rate"`) runs the same idea as a network of continuous-time rate neurons,
# simulated by [Brian2](https://briansimulator.org): every neuron is a differential equation,
# the label travels forward as a second stream of activity, and every synapse learns from what
# it can see locally, the activity of its presynaptic neuron and an error factor computed
# inside its postsynaptic neuron. Brian2 turns the equations into C++ (its *standalone* mode),
# compiles them once and then presents the samples chunk after chunk.
#
# In this notebook you will
#
# 1. read the model's equations, exactly as they are handed to Brian2,
# 2. train the preset `rate-sigprop-digits` and record the hidden layer after every epoch,
# 3. compare the learning curves of the model's two readouts,
# 4. look at how the hidden layer's activity changes with training.
#
# **Run time.** As written the notebook trains the preset's network on MNIST-1D for a few
# epochs: a few minutes on a laptop, of which about a minute is the one-off C++ compile (cached
# in neurosig's cache, `~/.cache/neurosig` by default, so a second run of the same network skips
# it; `neurosig cache info` shows where). Set
# `NEUROSIG_QUICK=1` before starting Jupyter (the test suite does) for a small version on the
# 8x8 digits, 2 epochs with a small hidden layer; read its numbers as a smoke test only.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import neurosig
from neurosig import results
from neurosig.config import load_experiment
from neurosig.models.rate import RateConfig
from neurosig.models.rate_network import equations_text
from neurosig.plotting import learning_curves, save_figure, use_style
from neurosig.train import train

QUICK = os.environ.get("NEUROSIG_QUICK") == "1"
# Results and figures go to output/ in the working folder (next to this notebook when it is
# opened in Jupyter; ignored by git). NEUROSIG_OUTPUT puts them elsewhere.
OUT = Path(os.environ.get("NEUROSIG_OUTPUT", "output"))
OUT.mkdir(parents=True, exist_ok=True)
use_style()  # neurosig's figure style: one-column journal size, colour-blind-safe palette
print(f"neurosig {neurosig.__version__}, quick mode: {QUICK}, output folder: {OUT.resolve()}")

# %% [markdown]
# ## 1. The equations
#
# Each hidden neuron `j` carries **two streams** at once, in two compartments that share one
# set of input weights `w`:
#
# - the **data stream** `h` is driven by the sample: `tau dh/dt = -h + f(I_h + b)`, where
#   `I_h` sums the data activity of the layer below through `w`;
# - the **target stream** `h_t` is driven by the label: the one-hot label enters the input
#   layer through a fixed random projection (the *signal*) and then travels forward through the
#   very same weights, `tau dh_t/dt = -h_t + f(I_t + b)`.
#
# No synapse runs backwards: the label reaches every layer from the front, like the data.
#
# Each neuron also keeps **class memories** `m0, m1, ...`: the last target activity it had for
# every class (`m_y <- h_t` whenever class `y` is shown). At the end of each presentation a
# small per-layer summary (norms, cosines and a softmax over classes, summed over the layer's
# neurons, like a neuromodulator shared by the layer) compares the data activity with every
# class memory. The layer's loss rewards the data activity for pointing at the memory of the
# true class and away from the others.
#
# Learning is a **three-factor rule**: `dw_ij = -eta * pre_i * e_j`. A synapse changes in
# proportion to (1) the activity of its presynaptic neuron, times (2) an error factor `e_j`
# that the postsynaptic neuron computes from its own two compartments, its class memories and
# (3) the layer's shared scalars. Nothing else enters: no weights of other layers, no error
# sent back from the output.
#
# The readouts are local too: `delta` is a layer of linear rate units on the last hidden layer
# trained by the delta rule; `target` picks the class whose memory is most similar to the
# data activity of the last hidden layer.
#
# Below, every equation and update of the default model (`RateConfig()`: two hidden layers),
# printed for a toy network with 4 inputs and 3 classes so that the class memories stay
# readable. `# layerN` are the neurons (`m0, m1, ...` the class memories), `# summaryN` the
# per-layer scalars, `# layerN error factors` the postsynaptic factors `e_h` (data stream) and
# `ec0, ec1, ...` (one per class memory), and `# w1: layer0 -> layer1` and so on the weight
# updates of each projection: presynaptic activity or memory times postsynaptic factor.

# %%
print(equations_text(RateConfig()))

# %% [markdown]
# ## 2. Train the preset
#
# `rate-sigprop-digits` is the quick preset of the rate model: 64-128-10 on the 8x8 digits,
# integrated with `dt = 2 ms` for 10 ms per sample. `train.record_every_epoch = true` stores the
# activity of the recorded test samples after every epoch (`results.activity_history`), so that
# we can watch the hidden layer learn. In quick mode the hidden layer is small and training
# stops after 2 epochs; otherwise the same model learns MNIST-1D (40 inputs) for a few epochs.

# %%
exp = load_experiment("rate-sigprop-digits").replace(train_record_every_epoch=True)
if QUICK:
    exp = exp.replace(train_epochs=2, model_hidden=(32,))
else:
    exp = load_experiment("rate-sigprop-mnist1d").replace(
        train_record_every_epoch=True, train_epochs=10
    )
print(f"{exp.name}: data {exp.data.name}, hidden {exp.params.hidden}, {exp.train.epochs} epochs")
print(f"tau = {exp.params.tau:g} ms, dt = {exp.params.dt:g} ms, "
      f"presentation = {exp.params.presentation:g} ms, target = {exp.params.target}")

# %%
ds = train(exp, progress=not QUICK)
speed = float(results.samples_per_second(ds).median())
print(f"trained on {ds.attrs['target']}; {speed:,.0f} training samples/s (median over epochs)")
test = results.accuracy(ds).sel(split="test")
for readout in test.readout.values:
    acc = float(test.sel(readout=readout)[-1])
    print(f"{readout:>6} readout: test accuracy {100 * acc:5.1f} %")

# %% [markdown]
# ## 3. Learning curves of both readouts
#
# `accuracy` has dimensions *epoch x split x readout*. `learning_curves` draws one per-epoch
# variable of each Result, so each readout's test curve becomes a one-variable Dataset. The
# dotted line is chance.

# %%
n_classes = int(results.labels(ds).max()) + 1
curves = {
    f"{readout} readout": test.sel(readout=readout).to_dataset(name="test_accuracy")
    for readout in test.readout.values
}
fig, ax = plt.subplots()
learning_curves(curves, ax=ax)
ax.axhline(100 / n_classes, color="0.5", linestyle=":", linewidth=0.8)
ax.set_title(f"Rate model, {exp.data.name}, test set")
print(*save_figure(fig, OUT / "rate_learning_curves"))

# %% [markdown]
# ## 4. How the hidden layer changes
#
# `results.activity_history(ds, 1)` is the data-stream activity of the recorded test samples after
# training and after every epoch (*record_epoch x sample x unit*, record_epoch 0 = before
# training; the coordinate `label` gives each sample's class).
# Top: the activity before training and after the last epoch, samples sorted by class and units
# by the class that drives them most at the end (the same order in both panels). Bottom: the
# mean activity of each class, the layer's tuning curves.

# %%
history = results.activity_history(ds, 1).sortby("label")
label = history.label.values
last = history.isel(record_epoch=-1)
tuning_last = last.groupby("label").mean("sample")  # class x unit
order = np.lexsort((-tuning_last.max("label").values, tuning_last.argmax("label").values))
history = history.isel({history.dims[-1]: order})  # (record_epoch, sample, unit)
vmax = float(np.percentile(history, 99)) or 1.0
first_row = np.flatnonzero(np.diff(label, prepend=-1))  # first sample of each class

fig, axes = plt.subplots(2, 2, figsize=(7.0, 5.0), height_ratios=(2, 1))
first_last = (history.record_epoch.values[0], history.record_epoch.values[-1])
for col, epoch in enumerate(first_last):
    act = history.sel(record_epoch=epoch)
    ax = axes[0, col]
    im = ax.imshow(act, aspect="auto", interpolation="nearest", vmin=0, vmax=vmax)
    ax.hlines(first_row[1:] - 0.5, -0.5, act.shape[1] - 0.5, color="w", linewidth=0.3)
    ax.set_yticks((first_row + np.append(first_row[1:], len(label)) - 1) / 2, label[first_row])
    ax.set_title("before training" if epoch == 0 else f"after epoch {epoch}")
    ax.set_xlabel("unit (sorted by preferred class)")
    ax = axes[1, col]
    tuning = act.groupby("label").mean("sample")
    ax.imshow(tuning, aspect="auto", interpolation="nearest", vmin=0, vmax=vmax)
    ax.set_yticks(range(len(tuning.label)), tuning.label.values)
    ax.set_xlabel("unit (sorted by preferred class)")
axes[0, 0].set_ylabel("test sample (by class)")
axes[1, 0].set_ylabel("class mean")
fig.colorbar(im, ax=axes, label="activity", shrink=0.6)
print(*save_figure(fig, OUT / "rate_hidden_activity"))

# %% [markdown]
# A number for the same picture: the share of each unit's variance over the recorded samples
# that is explained by the class (between-class variance / total variance, averaged over the
# units that are active at all). It is near 0 for units that ignore the class and 1 for units
# whose activity is set by the class alone.


# %%
def class_share(act):
    """Mean over active units of between-class variance / total variance."""
    total = act.var("sample")
    between = act.groupby("label").mean("sample").var("label")
    active = total > 1e-12
    return float((between / total).where(active).mean())


for epoch in history.record_epoch.values:
    share = class_share(history.sel(record_epoch=epoch))
    print(f"epoch {epoch:>3}: class share of the variance {share:.3f}")
primary = results.primary_readout(ds)
final = float(results.primary_accuracy(ds, "test")[-1])
print(f"final test accuracy ({primary} readout): {100 * final:.1f} %, "
      f"chance {100 / n_classes:.1f} %")

# %% [markdown]
# ## Conclusion
#
# The printed lines above are the measurements of this run: the test accuracy of both readouts
# against chance, and the class share of the hidden layer's variance epoch by epoch (compare
# the first and the last line, and the two columns of the activity figure). Whatever class
# structure the hidden layer shows was learned locally and forward-only: the label stream
# travels forward through the same weights as the data, and each synapse changes by its own
# three-factor update, with no error sent back. In quick mode the network is small and trains
# for 2 epochs on the easy 8x8 digits; run the notebook without `NEUROSIG_QUICK` for MNIST-1D.
#
# ## Where next
#
# - `neurosig models --describe rate` lists every parameter of the rate model with its
#   default, allowed range and meaning: try `mode = "phases"` (one compartment, data and target
#   shown one after the other), `update = "step"` (learning at every time step), `dale = true`
#   or `rule = "hebbian-mse"`.
# - `python benchmarks/speed.py` measures the C++ standalone program against the numpy
#   integrator of the same equations (`model.target = "reference"`).
# - Reference: A. Kohan, E. A. Rietman, H. T. Siegelmann, "Signal Propagation: The Framework
#   for Learning and Inference in a Forward Pass", *IEEE Transactions on Neural Networks and
#   Learning Systems* (2023), arXiv:2204.01723.
