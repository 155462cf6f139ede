"""``make demo``: sigprop in Brian2 (a rate and a LIF network) beside SP-core and backprop.

The four models are 64-128-10 networks trained for the same number of epochs (3) on the 8x8
digits, which ship with scikit-learn (no download). The demo writes, to the output folder:

* one Result per model (``PRESET.nc``);
* ``learning_curves``: test accuracy against epoch of the four models;
* ``rasters``: the LIF network's hidden layer on a few test samples, before and after learning;
* ``card``: the LIF network's report card against its literature ranges, with BP as the
  reference of the representational-geometry rows.

Each figure comes as PDF, SVG and PNG with its provenance (``.json``) and its plotted numbers
(``.nc``), from the catalogue functions that ``neurosig figures`` and the notebooks call. The
digits are too easy to tell learning rules apart (see ``benchmarks/accuracy.py`` for MNIST-1D
and Fashion-MNIST); the demo shows the machinery, not a ranking.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from neurosig.config import load_experiment
from neurosig.plotting import learning_curves, save_figure
from neurosig.results import primary_accuracy
from neurosig.train import train

DEMO_EPOCHS = 3
"""Epochs of every demo model: one epoch axis for the learning curves (3 keeps ``make demo``
under 5 minutes on a fresh clone with 2 cores, the virtual environment and the Brian2
compiles included; with 5 it took 5 min 37 s)."""
DEMO_PRESETS: Mapping[str, Mapping[str, Any]] = {
    "rate-sigprop-digits": {},
    "lif-sigprop-digits": {"train_record_every_epoch": True},  # the raster before learning
    "sp-core-digits": {"model_hidden": [128]},  # the Brian2 models' architecture
    "bp-digits": {"model_hidden": [128]},
}
"""The presets the demo trains, with the changes that put them on one architecture."""
LABELS = {"rate": "rate sigprop (Brian2)", "lif": "LIF sigprop (Brian2)", "sp-core": "SP-core",
          "bp": "BP"}  # fmt: skip


def _figures(out: Path, results: Mapping[str, Any], files: Mapping[str, Path]) -> list[Path]:
    """The demo's three figures, saved with their provenance; returns the files written."""
    from neurosig.analyses.figures.card import card_summary
    from neurosig.analyses.figures.spiking import spike_rasters
    from neurosig.analyses.plausibility import report_card

    lif, bp = results["lif"], results["bp"]
    curves = {LABELS[model]: ds for model, ds in results.items()}
    figures = {
        "learning_curves": (
            learning_curves(curves, title="digits (8x8), test set", width="onehalf"),
            list(files.values()),
        ),
        "rasters": (spike_rasters(lif, n_samples=4), [files["lif"]]),
        "card": (card_summary(report_card(lif, bp=bp)), [files["lif"], files["bp"]]),
    }
    written = []
    for name, (fig, inputs) in figures.items():
        try:
            written += save_figure(fig, out / name, inputs=inputs, command="neurosig demo")
        finally:
            plt.close(fig)
    return written


def run_demo(out: Path, epochs: int | None = None, progress: bool = True) -> dict[str, float]:
    """Train the demo presets, write their Results and figures to ``out``; returns the test
    accuracy of each model (by model name)."""
    out.mkdir(parents=True, exist_ok=True)
    results, files, table = {}, {}, {}
    print(f"{'model':<24} {'test accuracy':>14} {'train time':>11}")
    for preset, changes in DEMO_PRESETS.items():
        exp = load_experiment(preset).replace(
            train_epochs=DEMO_EPOCHS if epochs is None else epochs, **changes
        )
        start = time.perf_counter()
        files[exp.model] = out / f"{preset}.nc"
        ds = train(exp, out=files[exp.model], progress=progress, overwrite=True)
        seconds = time.perf_counter() - start
        results[exp.model] = ds
        table[exp.model] = float(primary_accuracy(ds)[-1])
        print(f"{exp.model:<24} {100 * table[exp.model]:>12.1f} % {seconds:>9.1f} s")
    for path in _figures(out, results, files):
        if path.suffix in (".pdf", ".png"):
            print(f"figure: {path}")
    return table
