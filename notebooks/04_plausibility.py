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
# # Does a sigprop network look like a brain? The plausibility report card
#
# Accuracy says whether a learning rule works; it does not say whether the network it trains
# resembles cortex. This notebook scores a spiking sigprop network and a backprop (BP) network
# of the same architecture against the criteria of `PLAUSIBILITY.md`: firing rates,
# irregularity, trial-to-trial variability, noise correlations, sparseness, energy, Dale's law,
# the locality of every plasticity rule, and representational geometry. Each row of the card
# is a measured value with a bootstrap confidence interval, the literature range with its
# citation, and a band: *in*, *near*, *out*, *flag* or *not applicable*.
#
# In this notebook you will
#
# 1. train the spiking model (`lif-sigprop-digits`) and BP (`bp-digits`) briefly,
# 2. compute the report card of each, with repeated trials for the Fano factor,
# 3. print the cards and draw the report figure,
# 4. read what the card says, and what it cannot say.
#
# **Run time.** A few minutes; the first run compiles the Brian2 programs (training,
# recording, and the 1-second trial probe), about half a minute each, cached afterwards.
# `NEUROSIG_QUICK=1` (the test suite sets it) runs a small version: read its numbers as a
# smoke test only.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt

import neurosig
from neurosig.analyses.plausibility import probe_trials, report_card
from neurosig.analyses.report import card_markdown, plot_report
from neurosig.config import load_experiment
from neurosig.plotting import save_figure, use_style
from neurosig.results import primary_accuracy
from neurosig.train import train

QUICK = os.environ.get("NEUROSIG_QUICK") == "1"
OUT = Path(os.environ.get("NEUROSIG_OUTPUT", "output"))
OUT.mkdir(parents=True, exist_ok=True)
use_style()
print(f"neurosig {neurosig.__version__}, quick mode: {QUICK}, output folder: {OUT.resolve()}")

# %% [markdown]
# ## 1. Train sigprop and BP on the same data
#
# Both networks see the same 8x8 digits. The Results keep the hidden activity of 200 test
# samples (the spiking one also its spike trains), which is what the card scores.

# %%
shrink = {"train_epochs": 1, "data_n_train": 300} if QUICK else {"train_epochs": 5}
results = {}
for preset in ("lif-sigprop-digits", "bp-digits"):
    exp = load_experiment(preset).replace(**shrink)
    results[preset] = train(exp, out=OUT / f"{preset}.nc", progress=False, overwrite=True)
    acc = float(primary_accuracy(results[preset], "test")[-1])
    print(f"{preset}: test accuracy {100 * acc:.1f} %")

# %% [markdown]
# ## 2. Repeated trials and the cards
#
# A Fano factor needs the *same* stimulus shown several times. `probe_trials` rebuilds the
# trained network *as configured* and shows each of 10 test stimuli repeatedly for one second,
# so counting windows of 100 ms and 1 s both fit. The variability is the model's own: its
# Poisson input and background drive (a model with constant-current input and no background
# repeats itself: the card flags identical repeats, and scores the small differences that
# state carried over from the previous sample leaves as a Fano factor far below Poisson).
# The probe also gives 1 s trains for the rate and ISI rows (the 50 ms training presentations
# are too short for them) and, with conductance-based synapses, each traced unit's excitatory
# and inhibitory input for the E/I balance rows.

# %%
n_repeats = 4 if QUICK else 10
probe = probe_trials(results["lif-sigprop-digits"], n_repeats=n_repeats)
sigprop_card = report_card(results["lif-sigprop-digits"], bp=results["bp-digits"], probe=probe)
bp_card = report_card(results["bp-digits"], bp=results["bp-digits"])
print(card_markdown([sigprop_card, bp_card]))

# %% [markdown]
# ## 3. The report figure
#
# Top: a raster of the first hidden layer, sparseness, and accuracy against spikes per
# inference. Middle: activity statistics with the literature range in grey. Then the
# representational dissimilarity matrices (stimuli sorted by class) and the layer-by-layer CKA
# against BP. Bottom: the card as a heatmap, one row per rule.

# %%
fig = plot_report(
    [sigprop_card, bp_card], [results["lif-sigprop-digits"], results["bp-digits"]]
)
save_figure(fig, OUT / "plausibility_report")
plt.show()

# %% [markdown]
# ## 4. Reading the card
#
# * **Rule rows** are structural: the audit reads the Brian2 network, and the declared reads
#   of each numpy update. Sigprop passes spatial locality, weight transport and feedback; BP
#   fails the last two by construction.
# * **Activity rows** are measured on the spike trains. Rate networks (BP here) have no spikes:
#   those rows say *not applicable*, never a Poisson substitute.
# * **Geometry rows** are relative: 0 is the untrained network, 1 is BP. They say how far
#   training moved the representation towards BP's, not how brain-like it is.
# * With one seed the confidence intervals cover units and stimuli only; published cards need
#   at least 5 seeds (`neurosig report seed0.nc seed1.nc ... --baselines bp.nc`).

# %%
for card in (sigprop_card, bp_card):
    bands = {}
    for row in card.rows:
        bands[row.band] = bands.get(row.band, 0) + 1
    print(card.name, bands)
