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
# # Publication figures: the catalogue, composed panels and studies
#
# neurosig draws its standard figures from **stored** data: Result files (`neurosig train`),
# sweep stores (`neurosig sweep run`) and report cards. Every figure is a function of the
# figure catalogue that takes xarray data (and an optional `ax=` or `axes=` to draw into) and
# returns a matplotlib Figure; the command `neurosig figures` and the studies call the same
# functions. Every figure is drawn at a journal width (single column 88 mm, one and a half
# 120 mm, double 180 mm), with text of at least 6 pt, TrueType fonts and colour-blind-safe
# colours, and `save_figure` writes it as PDF, SVG and 300-dpi PNG beside its provenance
# (`.json`: the command, the input files and their SHA-256, the neurosig version and commit)
# and the plotted numbers (`.nc`), so that a reader can re-plot them.
#
# In this notebook you will
#
# 1. list the catalogue,
# 2. train a LIF sigprop network, SP-core and BP on the 8x8 digits (paired seeds),
# 3. draw every catalogue figure of them, and of a small sweep,
# 4. compose panels by hand with `ax=`,
# 5. build a multi-panel figure from a declared study.
#
# **Run time.** About 5 minutes on a 2-core laptop, most of it the LIF network (and its
# one-off C++ compile, cached: `neurosig cache info`). `NEUROSIG_QUICK=1` (the test suite
# sets it) trains on 300 samples for 2 epochs: read its numbers as a smoke test only.

# %%
import os
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt

import neurosig
from neurosig.analyses.figures.catalogue import CATALOGUE, catalogue_table
from neurosig.analyses.figures.compose import build_study
from neurosig.analyses.figures.study import study_from_dict
from neurosig.analyses.plausibility import report_card
from neurosig.config import load_experiment
from neurosig.plotting import WIDTHS_MM, save_figure, style_context, text_problems, use_style
from neurosig.plotting.style import MM_PER_INCH
from neurosig.sweep import Sweep, export_sweep
from neurosig.train import train

QUICK = os.environ.get("NEUROSIG_QUICK") == "1"
OUT = Path(os.environ.get("NEUROSIG_OUTPUT", "output"))
OUT.mkdir(parents=True, exist_ok=True)
use_style()
print(f"neurosig {neurosig.__version__}, quick mode: {QUICK}, output folder: {OUT.resolve()}")

# %% [markdown]
# ## 1. The catalogue
#
# `neurosig figures --list` prints the same table. The input column says what a figure takes:
# one Result, several Results (seeds of a model, or models to compare: a mapping label ->
# Results), a sweep Dataset (`export_sweep`) or a report card (`report_card`).

# %%
print(catalogue_table())

# %% [markdown]
# ## 2. Results to draw
#
# Three models on the 8x8 digits, 64-128-10 each: the Brian2 LIF network with sigprop from
# the membrane potential (`lif-sigprop-digits`), SP-core (the numpy reference of sigprop) and
# BP. `train.record_every_epoch = true` keeps the LIF network's spike trains before learning
# too, for the raster "before". Seeds are the experiment's `train.seed`: seed `s` of SP-core
# and of BP see the same split, sample order and recorded test samples (paired), which CKA and
# the card's geometry rows against BP need.

# %%
SEEDS = (0, 1) if QUICK else (0, 1, 2)
SHRINK = {"data_n_train": 300, "train_epochs": 2} if QUICK else {"train_epochs": 5}


def trained(preset: str, seed: int, **changes):
    """Train ``preset`` with ``seed`` (and the changes); the Result is written to OUT."""
    exp = load_experiment(preset).replace(train_seed=seed, **SHRINK, **changes)
    return train(exp, out=OUT / f"{preset}-seed{seed}.nc", progress=False, overwrite=True)


same_architecture = {"model_hidden": [128]}  # the Brian2 presets' 64-128-10
sp_core = [trained("sp-core-digits", s, **same_architecture) for s in SEEDS]
bp = [trained("bp-digits", s, **same_architecture) for s in SEEDS]
lif = trained("lif-sigprop-digits", 0, train_record_every_epoch=True)
files = {
    "lif": [OUT / "lif-sigprop-digits-seed0.nc"],
    "sp_core": [OUT / f"sp-core-digits-seed{s}.nc" for s in SEEDS],
    "bp": [OUT / f"bp-digits-seed{s}.nc" for s in SEEDS],
}
for name, ds in {"LIF": lif, "SP-core": sp_core[0], "BP": bp[0]}.items():
    print(f"{name:8s} seed 0: test accuracy {100 * float(ds.test_accuracy[-1]):.1f} %")

# %% [markdown]
# ## 3. Every catalogue figure
#
# Each call returns a Figure; `save_figure` writes it with its provenance and numbers. A
# figure whose data a Result does not store raises a `DataError` that names what is missing
# (nothing is simulated here): BP has no spike trains, so `rasters` of BP would fail.


# %%
def save(fig, name: str, inputs) -> None:
    """Save ``fig`` as OUT/name.{pdf,svg,png,nc,json} and report its text problems."""
    problems = text_problems(fig)
    written = save_figure(fig, OUT / name, inputs=inputs, command="notebooks/06_figures.py")
    print(f"{name}: {', '.join(p.suffix for p in written)}" + (f"  {problems}" if problems else ""))
    plt.close(fig)


models = {"LIF sigprop": [lif], "SP-core": sp_core, "BP": bp}
every_file = [p for paths in files.values() for p in paths]
save(CATALOGUE["learning_curves"].function(models), "learning_curves", every_file)

# %% [markdown]
# The learning curves are the mean over seeds with a 95 % Student-t interval of the mean (a
# group of one seed is drawn as its line). The spiking figures need a spiking Result:

# %%
save(CATALOGUE["spikes_vs_accuracy"].function({"LIF sigprop": [lif]}), "spikes_vs_accuracy",
     files["lif"])  # fmt: skip
save(CATALOGUE["rasters"].function(lif, n_samples=4), "rasters", files["lif"])
fig = CATALOGUE["membrane_traces"].function(lif)
plt.show()
save(fig, "membrane_traces", files["lif"])

# %% [markdown]
# Representational geometry: the RDM of each hidden layer (correlation distance on one
# sequential scale from 0, stimuli sorted by class, class boundaries marked) and the debiased
# linear CKA between the LIF network's layer and BP's (the same recorded test stimuli).

# %%
fig = CATALOGUE["rdms"].function(lif)
plt.show()
save(fig, "rdms", files["lif"])
save(CATALOGUE["cka"].function(lif, reference=bp[0]), "cka", files["lif"] + files["bp"][:1])

# %% [markdown]
# Connectivity and tuning: the weight distribution of each block, split into excitatory,
# inhibitory and mixed units where the model keeps Dale's law (this preset does not: all
# "mixed"); the class selectivity of the hidden units before and after learning; the input
# weights of the first hidden units as 8x8 images.

# %%
save(CATALOGUE["weights"].function(lif), "weights", files["lif"])
save(CATALOGUE["selectivity"].function(lif), "selectivity", files["lif"])
save(CATALOGUE["receptive_fields"].function(sp_core[0]), "receptive_fields", files["sp_core"][:1])

# %% [markdown]
# The report card as a compact figure: each scored row's value on a common scale, the
# literature range in dark grey (light grey: near), coloured by its band (docs/report-card.md).

# %%
card = report_card(lif, bp=bp[0])
fig = CATALOGUE["card"].function(card)
plt.show()
save(fig, "card", files["lif"] + files["bp"][:1])

# %% [markdown]
# The sweep figures take a sweep store's export. A small SP-core sweep over the learning rate
# with paired seeds (`neurosig sweep run`; notebook 05 explains sweeps):

# %%
base = load_experiment("sp-core-digits").replace(**SHRINK, **same_architecture)
sweep = Sweep(base, grid={"lr": [3e-4, 1e-3, 3e-3]}, seeds=len(SEEDS), name="sp-core-lr")
spec = OUT / "sp-core-lr.toml"
spec.write_text(sweep.to_toml())
store = OUT / "sp-core-lr.zarr"
command = [sys.executable, "-m", "neurosig", "sweep", "run", str(spec), "--store", str(store)]
run = subprocess.run(command, capture_output=True, text=True)
assert run.returncode == 0, run.stderr[-3000:]
sweep_ds = export_sweep(store)
save(CATALOGUE["sweep_accuracy"].function(sweep_ds), "sweep_accuracy", [store])
save(CATALOGUE["sweep_differences"].function(sweep_ds, {"lr": 1e-3}), "sweep_differences",
     [store])  # fmt: skip

# %% [markdown]
# ## 4. Composing panels by hand
#
# Every function draws into the axes it is given: lay out a figure at a journal width and pass
# `ax=` (one axes) or `axes=` (several). `style_context()` applies neurosig's style (fonts,
# sizes) to the new figure.

# %%
with style_context():
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(WIDTHS_MM["double"] / MM_PER_INCH, 60 / MM_PER_INCH), layout="constrained"
    )
    CATALOGUE["learning_curves"].function(models, ax=left)
    CATALOGUE["cka"].function(lif, reference=bp[0], ax=right)
    for ax, letter in zip((left, right), "ab", strict=True):
        ax.set_title(letter, loc="left", fontweight="bold")
plt.show()
save(fig, "composed", every_file)

# %% [markdown]
# ## 5. A study: one declared multi-panel figure
#
# For a paper figure, declare it: a study names its inputs (Result files, or sweeps that
# `neurosig figures --study` runs when their store is missing) and its panels (any catalogue
# figure, lettered in order, placed in a grid with spans, legends shared or not) at a journal
# width. `make figures` builds the shipped study `analyses/studies/sigprop-vs-bp-digits.toml`
# (docs/figures.md). The same declaration as a Python dict, on the Results trained above:

# %%
declaration = {
    "name": "lif-vs-bp",
    "width": "double",
    "height": 120,
    "columns": 3,
    "inputs": {
        "lif": {"label": "LIF sigprop", "results": [str(p) for p in files["lif"]]},
        "sp_core": {"label": "SP-core", "results": [str(p) for p in files["sp_core"]]},
        "bp": {"label": "BP", "results": [str(p) for p in files["bp"]]},
    },
    "panels": [
        {"figure": "learning_curves", "inputs": ["lif", "sp_core", "bp"], "colspan": 2,
         "legend": "shared"},
        {"figure": "cka", "inputs": ["lif"], "reference": "bp"},
        {"figure": "rasters", "inputs": ["lif"], "colspan": 2, "options": {"n_samples": 3}},
        {"figure": "rdms", "inputs": ["lif"]},
    ],
}  # fmt: skip
study = study_from_dict(declaration, "notebook")
made = build_study(study, OUT, command="notebooks/06_figures.py")
print("study:", ", ".join(p.name for p in made.files), "| text problems:", made.problems or "none")

# %% [markdown]
# The figure's `.nc` holds every panel's numbers prefixed with its letter (`a_mean`, `d_rdm`
# ...), and its `.json` the provenance: the command and every input file with its hash.

# %%
import json  # noqa: E402

record = json.loads((OUT / "lif-vs-bp.json").read_text())["provenance"]
print(record["command"], "|", len(record["inputs"]), "input files, e.g.", record["inputs"][0])
