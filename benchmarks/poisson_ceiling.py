"""How much a Poisson presentation leaves to learn from: a linear readout of the input itself.

The LIF default encodes every feature as ``input_copies`` Poisson trains at
``rate_max * a(x)`` for one ``presentation`` (:func:`neurosig.models.lif_input.intensity`). Before
any learning, the count noise of one presentation bounds what a network can read. For each data
set this script fits scikit-learn's logistic regression (the same settings everywhere) to

- ``rates``: the expected counts ``rate_max T a(x)`` of each feature (noise-free; the
  current-driven form's drive),
- ``poisson xK``: the summed counts of K Poisson units per feature, drawn afresh for the training
  and the test samples (every test sample seen once, as the model sees it),

over ``--seeds`` draws, and prints the test accuracy (mean ± sd over draws) as a Markdown table.
This is a linear probe, not a bound for a non-linear network; it shows how much the encoding
removes.

    python benchmarks/poisson_ceiling.py --out benchmarks/results/poisson-ceiling.md
"""

from __future__ import annotations

import argparse
import sys
import warnings

import common

from neurosig.atomic import write_text_atomic


def accuracy(x_train, y_train, x_test, y_test) -> float:
    """Test accuracy of a standardised multinomial logistic regression."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=300))
        return float(clf.fit(x_train, y_train).score(x_test, y_test))


def main(argv: list[str] | None = None) -> int:
    import numpy as np

    from neurosig.data import load_dataset
    from neurosig.models.lif import LIFConfig
    from neurosig.models.lif_input import intensity

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--datasets", nargs="+", default=["digits", "mnist1d", "fashion-mnist-small"]
    )
    parser.add_argument("--copies", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", default="benchmarks/results/poisson-ceiling.md")
    common.add_allow_dirty(parser)
    opts = parser.parse_args(argv)
    commit = common.check_clean_tree(parser, opts.allow_dirty)
    cfg = LIFConfig()
    lam_per_unit = cfg.rate_max * cfg.presentation * 1e-3  # expected spikes at a(x) = 1
    rows = []
    for name in opts.datasets:
        d = load_dataset(name)
        rate_train = lam_per_unit * intensity(cfg, d.x_train)
        rate_test = lam_per_unit * intensity(cfg, d.x_test)
        cells = [name, f"{100 * accuracy(rate_train, d.y_train, rate_test, d.y_test):.1f}"]
        for k in opts.copies:
            accs = []
            for seed in range(opts.seeds):
                rng = np.random.default_rng(seed)
                accs.append(
                    accuracy(
                        rng.poisson(k * rate_train), d.y_train, rng.poisson(k * rate_test), d.y_test
                    )
                )
            cells.append(common.mean_sd(accs, scale=100))
        rows.append(cells)
        print(" | ".join(cells), flush=True)
    headers = ["data set", "rates %", *(f"poisson x{k} % (mean ± sd)" for k in opts.copies)]
    lines = [
        "# What one Poisson presentation leaves: a linear readout of the LIF default's input",
        "",
        f"- generated {common.utc_now()} by `{common.command_line()}`, commit {commit}",
        f"- encoding: LIFConfig defaults (rate_max {cfg.rate_max:g} Hz, presentation "
        f"{cfg.presentation:g} ms, "
        f"a(x) = clip({cfg.input_offset:g} + {cfg.input_gain:g} x, 0, 1)); "
        f"{opts.seeds} Poisson draws per cell; logistic regression (C = 0.1, standardised)",
        *common.machine_lines(),
        "",
        common.markdown_table(headers, rows),
        "",
    ]
    write_text_atomic(opts.out, "\n".join(lines))
    print(f"wrote {opts.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
