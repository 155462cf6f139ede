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
# # Parameter sweeps: does the rate model still learn under Dale's law?
#
# A hypothesis about a learning rule is rarely one run: *"the sigprop rate model still learns
# MNIST-1D when its hidden units obey Dale's law, at any reasonable learning rate"* needs each
# condition over several seeds. neurosig makes that one declaration and one command:
#
# 1. declare the sweep (a base experiment, a grid of field values, a number of seeds) in TOML
#    or Python,
# 2. run it: `neurosig sweep run SPEC` (a process per core; `--executor dask` or
#    `dask://ADDRESS` or `slurm` for a cluster). The results land in one zarr store, one chunk
#    per point; running the command again computes only the points that are missing, so a
#    killed or failed sweep is resumed by repeating it,
# 3. read the store as one labelled `xarray.Dataset` (one dimension per swept field plus
#    `seed`) and draw accuracy per condition with its spread over seeds.
#
# **Run time.** As written the notebook runs `analyses/sweeps/rate_lr_dale_mnist1d.toml`:
# 3 learning rates x Dale's law on/off x 3 seeds = 18 runs of 10 epochs, two at a time on a
# 2-core laptop. A sweep runs the rate model on its numpy integrator, the same equations as
# the compiled Brian2 program (matched to 1e-9 by the tests) and 2-3x faster per run
# (docs/sweeps.md, "Simulator target"); `model_target = "standalone"` in the sweep's `[set]`
# runs Brian2 itself. With `NEUROSIG_QUICK=1` (the test suite) it sweeps a tiny network on the
# 8x8 digits instead: a smoke test that runs in seconds.

# %%
import os
import subprocess
import sys
from pathlib import Path

import neurosig
from neurosig.analyses.figures.sweep import accuracy_by_condition
from neurosig.plotting import save_figure, use_style
from neurosig.results import primary_accuracy
from neurosig.paired import difference_rows, differences_markdown, paired_differences
from neurosig.sweep import Sweep, export_sweep, load_sweep, point_result, sweep_status

QUICK = os.environ.get("NEUROSIG_QUICK") == "1"
OUT = Path(os.environ.get("NEUROSIG_OUTPUT", "output"))
OUT.mkdir(parents=True, exist_ok=True)
use_style()
print(f"neurosig {neurosig.__version__}, quick mode: {QUICK}, output folder: {OUT.resolve()}")

# %% [markdown]
# ## 1. Declare the sweep
#
# The sweep file names a base experiment (here the preset `rate-sigprop-mnist1d`), changes
# that apply to every point (`[set]`), the grid (the outer product of its lists: one dimension
# per field) and the number of seeds. Field names are those of `Experiment.replace`
# (`model_lr`, `train_epochs`, `data_name`) or bare names when unique (`lr`, `dale`); unit
# fields take strings with units (`delay = ["0 ms", "2 ms"]`).

# %%
HERE = Path.cwd()
candidates = [HERE / "analyses", HERE.parent / "analyses"]
spec_file = next(
    (c / "sweeps" / "rate_lr_dale_mnist1d.toml" for c in candidates if c.exists()), None
)
if spec_file is None:  # run from elsewhere: the installed package's copy of the folder
    import neurosig.analyses

    spec_file = Path(neurosig.analyses.__file__).parent / "sweeps" / "rate_lr_dale_mnist1d.toml"
print(spec_file.read_text())
sweep = load_sweep(spec_file)
print(sweep.dims, sweep.shape, f"{sweep.n_points} points")

# %% [markdown]
# The same declaration in Python is a `Sweep`; every point is resolved and validated at once
# (a bad field or unit fails here, not on a worker). In quick mode we shrink the network and
# the data.

# %%
if QUICK:
    base = sweep.base.replace(
        name="rate-quick-digits",
        data_name="digits",
        data_n_train=300,
        data_n_test=200,
        model_hidden=[32],
        model_input_noise=0.0,
        train_epochs=1,
        train_train_eval_samples=100,
        train_record_samples=20,
    )
    sweep = Sweep(
        base, grid={"lr": [0.05, 0.1], "dale": [False, True]}, seeds=2, name="quick-lr-dale"
    )
    spec_file = OUT / "quick-lr-dale.toml"
    spec_file.write_text(sweep.to_toml())
print(f"{sweep.name}: {sweep.n_points} points, dims {sweep.dims}")
for job in sweep.jobs()[:3]:
    p = job.experiment.params
    print(f"  point {job.point}, seed {job.seed}: lr {p.lr}, dale {p.dale}, "
          f"train.seed {job.experiment.train.seed}")  # fmt: skip

# %% [markdown]
# Seed index `s` trains with `SeedSequence(root_seed, spawn_key=(s,))` at every grid point: the
# seeds are paired, so conditions can be compared seed by seed (docs/sweeps.md), and a point's
# numbers do not depend on where or in which order it runs.
#
# ## 2. Run it
#
# One command. It shows a progress bar (points done/failed, time left) on a terminal. Run from
# a Jupyter kernel, `run_sweep(sweep, store)` does the same in Python; in a plain script, put
# that call under `if __name__ == "__main__":`, because the worker processes start fresh
# interpreters that import the script.

# %%
store = OUT / f"{sweep.name}.zarr"
command = [sys.executable, "-m", "neurosig", "sweep", "run", str(spec_file), "--store", str(store)]
print("$", " ".join(["neurosig", *command[3:]]))
run = subprocess.run(command, capture_output=True, text=True)
print(run.stdout)
assert run.returncode == 0, run.stderr[-3000:]

# %% [markdown]
# Running the same command again finds every point done and returns at once; a different
# declaration against the same store is refused.

# %%
again = subprocess.run(command, capture_output=True, text=True)
print(again.stdout)
print(sweep_status(store))

# %% [markdown]
# ## 3. The results: one labelled Dataset
#
# `export_sweep` reads the store: per-point metrics with one dimension per swept field plus
# `seed`, per-epoch accuracies and losses, each point's `train_seed`, status, error text and
# wall time, and the sweep's declaration and provenance as attributes. `neurosig sweep export
# STORE out.nc` writes the same as netCDF.

# %%
ds = export_sweep(store, OUT / f"{sweep.name}.nc")
print(ds)

# %%
summary = ds.test_accuracy.mean("seed") * 100
spread = ds.test_accuracy.std("seed") * 100
for lr in ds.lr.values:
    cells = [
        f"dale {dale!s:<5}: {float(summary.sel(lr=lr, dale=dale)):5.1f} ± "
        f"{float(spread.sel(lr=lr, dale=dale)):.1f} %"
        for dale in ds.dale.values
    ]
    print(f"lr {lr:g}:  " + "   ".join(cells))

# %% [markdown]
# The seeds are paired, so the export also holds each condition minus a reference condition,
# seed by seed, with a bootstrap CI over seeds (docs/sweeps.md; the CI needs 3 seeds or more).
# Here: Dale's law minus no Dale's law, at each learning rate.

# %%
dale_effect = paired_differences(ds, {"dale": False})
print(differences_markdown(difference_rows(dale_effect)))

# %% [markdown]
# Every point's full training Result (learning curves, parameters, recorded activity) is kept
# in the store as well:

# %%
one = point_result(store, point=0, seed=0)
print(one.attrs["name"], "seed", one.attrs["seed"], "test accuracy",
      primary_accuracy(one, "test").values)

# %% [markdown]
# ## 4. The figure: accuracy per condition, with the seeds
#
# Bars are the mean over seeds (error bars: one standard deviation), dots the single seeds.

# %%
fig = accuracy_by_condition(ds, x="lr", hue="dale")
fig.axes[0].set_xlabel("learning rate")
save_figure(fig, OUT / "sweep_accuracy")
print("saved", OUT / "sweep_accuracy.pdf")

# %% [markdown]
# **Reading it.** With the full sweep, compare the bars of each learning rate: if Dale's law
# cost accuracy, the orange bars would sit below the blue ones by more than the seeds' spread.
# In quick mode the network is tiny and trained for one epoch: the numbers are a smoke test.
