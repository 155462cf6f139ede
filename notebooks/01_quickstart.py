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
# # Quickstart: learning in a forward pass with signal propagation
#
# **Signal propagation** (sigprop) trains a network without a backward pass. The label is
# turned into a *signal* and enters at the front of the network as a second input; it travels
# forward through the same weights and non-linearities as the data. Every layer then learns
# from a purely local comparison of its two activities (data vs. label signal), so no error is
# sent back through the network and no layer needs another layer's weights: a candidate for
# learning in biological circuits (Kohan, Rietman & Siegelmann, *Signal Propagation: The
# Framework for Learning and Inference in a Forward Pass*, IEEE TNNLS 2023,
# [arXiv:2204.01723](https://arxiv.org/abs/2204.01723)).
#
# In this notebook you will
#
# 1. load a named, runnable experiment (a *preset*) and read its full configuration,
# 2. train **SP-core** (the authors' sigprop semantics) and **backpropagation** (BP) on
#    MNIST-1D, a small 1-D digit task that still separates learning rules,
# 3. compare their learning curves,
# 4. explore the *Result*, a labelled `xarray.Dataset` with provenance, save it and read it
#    back,
# 5. look at the hidden-layer activity and at the loss of each layer.
#
# **Run time.** As written the notebook trains the presets in full (two networks of
# 40-1024-1024-10 units, 100 epochs each): that takes a few minutes on a laptop. Set the
# environment variable `NEUROSIG_QUICK=1` before starting Jupyter (the test suite does) for a
# tiny version that runs in seconds; its networks hardly learn in 2 epochs, so read its numbers
# as a smoke test only.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

import neurosig
from neurosig import results
from neurosig.config import load_experiment
from neurosig.plotting import learning_curves, save_figure, use_style
from neurosig.results import save_result
from neurosig.train import train

QUICK = os.environ.get("NEUROSIG_QUICK") == "1"
# Results and figures go to output/ in the working folder (next to this notebook when it is
# opened in Jupyter; ignored by git). NEUROSIG_OUTPUT puts them elsewhere.
OUT = Path(os.environ.get("NEUROSIG_OUTPUT", "output"))
OUT.mkdir(parents=True, exist_ok=True)
use_style()  # neurosig's figure style: one-column journal size, colour-blind-safe palette
print(f"neurosig {neurosig.__version__}, quick mode: {QUICK}, output folder: {OUT.resolve()}")

# %% [markdown]
# ## 1. An experiment is plain, validated data
#
# A preset names a model, a data set and the training settings. `neurosig models` on the
# command line lists them all; `load_experiment` also accepts your own TOML file or a bare
# model name (its defaults). `to_toml()` prints the *fully resolved* experiment: every
# parameter, including the defaults the preset file leaves out.

# %%
sp_exp = load_experiment("sp-core-mnist1d")
print(sp_exp.to_toml())

# %% [markdown]
# Experiments are immutable; `replace` makes a changed copy and validates it. Fields of the
# `[data]`, `[train]` and `[model]` tables take the prefixes `data_`, `train_` and `model_`.
# The BP baseline uses the same architecture, optimiser and data.

# %%
bp_exp = load_experiment("bp-mnist1d")
if QUICK:
    small = dict(train_epochs=2, data_n_train=500, data_n_test=200, model_hidden=(64, 64))
    sp_exp = sp_exp.replace(**small)
    bp_exp = bp_exp.replace(**small)
print(f"{sp_exp.name}: hidden {sp_exp.params.hidden}, {sp_exp.train.epochs} epochs")
print(f"{bp_exp.name}: hidden {bp_exp.params.hidden}, {bp_exp.train.epochs} epochs")

# %% [markdown]
# ## 2. Train SP-core and backprop
#
# `train` returns the Result. The same seed (`train.seed`) gives bit-identical numbers; pass
# `out="file.nc"` to have the Result rewritten after every epoch, so that a killed run keeps
# its finished epochs.

# %%
sp = train(sp_exp, progress=not QUICK)
bp = train(bp_exp, progress=not QUICK)
for ds in (sp, bp):
    acc = float(results.primary_accuracy(ds, "test")[-1])
    print(f"{ds.attrs['name']:<18} test accuracy {100 * acc:5.1f} %")

# %% [markdown]
# ## 3. Learning curves
#
# `learning_curves` takes a mapping *label -> Result* (or *label -> list of Results* for
# several seeds, drawn as the mean with a 95 % CI band). Like every neurosig figure function
# it draws into the axes you pass as `ax=` (so figures compose into panels) or makes a new
# figure at a journal width, and returns the Figure. `save_figure` writes it as PDF, SVG and
# 300-dpi PNG, with its provenance (`.json`) and the plotted numbers (`.nc`); the catalogue of
# figures is in `docs/figures.md`.

# %%
fig, ax = plt.subplots()
learning_curves({"SP-core": sp, "BP": bp}, ax=ax)
ax.set_title("MNIST-1D, test set")
print(*save_figure(fig, OUT / "learning_curves"))

# %% [markdown]
# ## 4. The Result is an `xarray.Dataset`
#
# Every variable has named dimensions (`epoch`, `split`, `readout`, `layer`, `sample`...)
# instead of axis numbers, and units in its attributes. The readers of `neurosig.results`
# (`results.accuracy`, `results.activity`, `results.spikes`, `results.experiment`...) pick the
# variables out by meaning; the module's docstring lists the full layout.

# %%
sp

# %% [markdown]
# `results.primary_accuracy` is the test accuracy of the model's primary readout, per epoch
# (here the last five epochs, as a pandas Series).

# %%
results.primary_accuracy(sp, "test").to_pandas().tail()

# %% [markdown]
# The full table is `results.accuracy` (epoch x split x readout). Select by name, not by axis
# number:
# SP-core has two readouts, a linear classifier on the last layer (`linear`) and the nearest
# forwarded class target (`target`).

# %%
results.accuracy(sp).sel(split="test").to_pandas().tail()

# %% [markdown]
# The attributes hold the provenance: the full resolved configuration (TOML), the seed, the
# versions of neurosig, numpy and Brian2, the machine and the git commit. The stored
# configuration is enough to rebuild the experiment exactly.

# %%
shown = "name model dataset data_source seed status neurosig_version brian2_version git_commit"
for key in shown.split():
    print(f"{key:<17} {sp.attrs[key]}")
rebuilt = results.experiment(sp)
assert rebuilt == sp_exp

# %% [markdown]
# Save the Result as netCDF (written atomically: a crash never leaves half a file) and read
# it back. Any netCDF tool (xarray, netCDF4, MATLAB's `ncread`...) can open it.

# %%
path = save_result(sp, OUT / "sp-core-mnist1d.nc")
again = neurosig.load_result(path)
assert results.experiment(again) == results.experiment(sp)
np.testing.assert_array_equal(results.accuracy(again), results.accuracy(sp))
print(f"{path}: {path.stat().st_size / 1e6:.2f} MB, variables: {', '.join(again.data_vars)}")

# %% [markdown]
# ## 5. Hidden-layer activity
#
# The Result stores the activity of every hidden unit for a fixed set of test samples
# (`train.record_samples`; their true classes are the coordinate `label`). Below, the second hidden
# layer: samples (rows) are sorted by digit, units (columns) by the digit that drives them most
# on average, so class-selective units show up as blocks on the diagonal.


# %%
def sorted_activity(ds, layer=2):
    """A hidden layer's activity: samples sorted by digit, units by the digit they prefer."""
    act = results.activity(ds, layer).rename(label="digit").sortby("digit")
    tuning = act.groupby("digit").mean("sample")  # digit x unit: mean response to each digit
    order = np.lexsort((-tuning.max("digit").values, tuning.argmax("digit").values))
    unit_dim = act.dims[1]  # (sample, unit)
    return act.isel({unit_dim: order})


fig, axes = plt.subplots(1, 2, figsize=(7.0, 2.8), sharey=True)
for ax, (title, ds) in zip(axes, (("SP-core", sp), ("BP", bp)), strict=True):
    act = sorted_activity(ds)
    lim = float(np.percentile(np.abs(act), 99)) or 1.0
    im = ax.imshow(act, aspect="auto", interpolation="nearest", cmap="RdBu_r", vmin=-lim, vmax=lim)
    digit = act.digit.values
    first = np.flatnonzero(np.diff(digit, prepend=-1))  # first row of each digit
    ax.hlines(first[1:] - 0.5, -0.5, act.shape[1] - 0.5, color="k", linewidth=0.3)
    ax.set_yticks((first + np.append(first[1:], len(digit)) - 1) / 2, digit[first])
    ax.set_title(f"{title}, hidden layer 2")
    ax.set_xlabel("unit (sorted by preferred digit)")
    fig.colorbar(im, ax=ax, label="activity", shrink=0.8)
axes[0].set_ylabel("test sample (by digit)")
print(*save_figure(fig, OUT / "hidden_activity"))

# %% [markdown]
# ## 6. The loss of each layer
#
# In SP-core every part of the network has its own loss and optimiser: the label signal
# (`signal`), each hidden layer, and the linear readout. `loss` has dimensions
# *epoch x layer*. The losses live on different scales, so each is shown relative to its
# first epoch; xarray broadcasts the division over the `layer` dimension by name. BP has a
# single loss, at its output.

# %%
loss = results.loss(sp)
print(loss.dims, loss.layer.values.tolist())
relative = loss / loss.isel(epoch=0)
fig, ax = plt.subplots()
for layer in relative.layer.values:
    ax.plot(relative.epoch, relative.sel(layer=layer), label=str(layer))
ax.xaxis.set_major_locator(MaxNLocator(integer=True))
ax.set_xlabel("epoch")
ax.set_ylabel("training loss / loss of epoch 1")
ax.set_title("SP-core: one local loss per layer")
ax.legend()
print(*save_figure(fig, OUT / "layer_losses"))

# %% [markdown]
# ## Where next
#
# - `neurosig models --describe sp-core` lists every parameter of a model with its default,
#   allowed range and meaning; try `loss`, `signal = "fixed"` or `similarity = "cosine"`.
# - `neurosig train sp-core-mnist1d --seed 2` runs a preset from the command line;
#   `neurosig demo` compares SP-core, BP and random features on the bundled 8x8 digits.
# - Reference: A. Kohan, E. A. Rietman, H. T. Siegelmann, "Signal Propagation: The Framework
#   for Learning and Inference in a Forward Pass", *IEEE Transactions on Neural Networks and
#   Learning Systems* (2023), arXiv:2204.01723.
