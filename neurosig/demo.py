"""``make demo``: SP-core, backprop and random features on the bundled digits, side by side.

Writes one Result per model (netCDF) and a learning-curve figure (PDF and PNG) to the output
folder and prints the test accuracy of each. Digits (8x8, 1,797 samples) ships with
scikit-learn, so the demo needs no download; it is too easy to tell learning rules apart
(see ``benchmarks/accuracy.py`` for MNIST-1D and Fashion-MNIST).
"""

from __future__ import annotations

import time
from pathlib import Path

from neurosig.config import load_experiment
from neurosig.plotting import learning_curves, save_figure
from neurosig.results import primary_accuracy
from neurosig.train import train

DEMO_PRESETS = ("sp-core-digits", "bp-digits", "random-features-digits")


def run_demo(out: Path, epochs: int | None = None, progress: bool = True) -> dict[str, float]:
    """Train the demo presets, write results and figure to ``out``; returns test accuracies."""
    out.mkdir(parents=True, exist_ok=True)
    results, table = {}, {}
    print(f"{'model':<24} {'test accuracy':>14} {'train time':>11}")
    for preset in DEMO_PRESETS:
        exp = load_experiment(preset)
        if epochs is not None:
            exp = exp.replace(train_epochs=epochs)
        start = time.perf_counter()
        ds = train(exp, out=out / f"{preset}.nc", progress=progress, overwrite=True)
        seconds = time.perf_counter() - start
        results[exp.model] = ds
        table[exp.model] = float(primary_accuracy(ds)[-1])
        print(f"{exp.model:<24} {100 * table[exp.model]:>12.1f} % {seconds:>9.1f} s")
    fig = learning_curves(results, title="digits (8x8), test set")
    for path in save_figure(fig, out / "learning_curves"):
        print(f"figure: {path}")
    return table
