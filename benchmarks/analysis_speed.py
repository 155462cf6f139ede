"""Time of the plausibility report card for a 784-500-10 spiking network on 1,000 test samples.

Two short training runs make the Results the card scores: the Brian2 LIF sigprop model and BP,
both 784-500-10 on Fashion-MNIST (the Debian package ``dataset-fashion-mnist``), recording the
hidden activity of 1,000 test samples. Training is not timed. The card is then timed in its
stages, each the median of ``--repeats`` runs:

1. ``analyses``: every row of the card (activity statistics, weights, audit, geometry against
   BP and the untrained network, bootstraps);
2. ``untrained activity (older Results)``: simulating the untrained network on the 1,000
   samples, which the card does only for Results without the activity before training
   (written before neurosig stored it); not part of the card's time;
3. ``trial probe``: 10 stimuli x 10 repeats x 1 s of Poisson input for the Fano factor and noise
   correlations (Brian2, warm compile cache);
4. ``figure and files``: the multi-panel figure (PNG and PDF), report.md, report.html, card.nc.

    python benchmarks/analysis_speed.py            # about 5 minutes, most of it training
    python benchmarks/analysis_speed.py --quick    # smoke test on the 8x8 digits

It prints the table and writes ``--out`` (Markdown) and ``<out>.csv``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    add_allow_dirty,
    check_clean_tree,
    command_line,
    machine_lines,
    markdown_table,
    utc_now,
    write_csv,
)

from neurosig.atomic import write_text_atomic  # noqa: E402

DEFAULT_OUT = Path(__file__).parent / "results" / "analysis-speed.md"
TARGET_SECONDS = 30.0  # issue 5: the whole card, 784-500-10, 1,000 test samples, 2 cores
CSV_FIELDS = ("stage", "seconds", "min", "max", "repeats", "network", "samples")


def make_results(quick: bool, workdir: Path):
    """Train the LIF sigprop model and BP briefly; return both Results."""
    from neurosig.config import load_experiment
    from neurosig.train import train

    if quick:
        dataset, hidden, n_train, n_record = "digits", 128, 400, 200
    else:
        dataset, hidden, n_train, n_record = "fashion-mnist", 500, 2000, 1000
    common = dict(
        data_name=dataset,
        data_n_train=n_train,
        train_epochs=1,
        train_record_samples=n_record,
    )
    lif = load_experiment("lif-sigprop-digits").replace(
        name="lif-card", model_hidden=[hidden], model_dt="0.1 ms", **common
    )
    bp = load_experiment("bp-digits").replace(name="bp-card", model_hidden=[hidden], **common)
    return (
        train(lif, out=workdir / "lif.nc", progress=False, overwrite=True),
        train(bp, out=workdir / "bp.nc", progress=False, overwrite=True),
        f"{'64' if quick else '784'}-{hidden}-10",
        n_record,
    )


def without_initial_activity(ds):
    """``ds`` as a Result written before neurosig stored the activity before training."""
    from neurosig import results

    older = ds.copy()
    for layer in results.layers(ds):
        older = older.drop_vars(results.activity(ds, layer, initial=True).name)
    return older


def timed(fn, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke test on digits, 1 repeat")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    add_allow_dirty(p)
    args = p.parse_args()
    check_clean_tree(p, args.allow_dirty)
    repeats = 1 if args.quick else args.repeats

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from neurosig.analyses import plausibility
    from neurosig.analyses.report import card_html, card_markdown, plot_report

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        lif, bp, network, n_samples = make_results(args.quick, workdir)
        older = without_initial_activity(lif)
        probe = plausibility.probe_trials(lif, n_repeats=10)  # compiles once, not timed

        cards = [plausibility.report_card(lif, bp=bp, probe=probe)]

        def figure_and_files():
            fig = plot_report(cards, [lif])
            fig.savefig(workdir / "report.png", dpi=130)
            fig.savefig(workdir / "report.pdf")
            plt.close(fig)
            (workdir / "report.md").write_text(card_markdown(cards))
            (workdir / "report.html").write_text(card_html(cards))

        stages = {
            "analyses": timed(lambda: plausibility.report_card(lif, bp=bp, probe=probe), repeats),
            "untrained activity (older Results)": timed(
                lambda: plausibility.untrained_activity(older), repeats
            ),
            "trial probe": timed(lambda: plausibility.probe_trials(lif, n_repeats=10), repeats),
            "figure and files": timed(figure_and_files, repeats),
        }
    med = {k: statistics.median(v) for k, v in stages.items()}
    total = sum(v for k, v in med.items() if "older" not in k)
    rows = [[k, f"{v:.2f}"] for k, v in med.items()]
    rows.append(["**whole card**", f"**{total:.2f}** ({total / TARGET_SECONDS:.2f}x of 30 s)"])
    table = markdown_table(["stage", "seconds (median)"], rows)
    print(table)
    text = "\n".join(
        [
            "# Plausibility report card: time",
            "",
            f"{network} LIF sigprop network with a BP baseline of the same architecture, "
            f"{n_samples} recorded test samples; target: the whole card under "
            f"{TARGET_SECONDS:g} s on 2 cores. Medians of {repeats} runs.",
            "",
            table,
            "",
            f"Command: `{command_line()}`, {utc_now()}",
            "",
            *machine_lines(),
            "",
        ]
    )
    write_text_atomic(args.out, text)
    write_csv(
        args.out.with_suffix(".csv"),
        [
            {
                "stage": k,
                "seconds": v,
                "min": min(stages[k]),
                "max": max(stages[k]),
                "repeats": repeats,
                "network": network,
                "samples": n_samples,
            }
            for k, v in med.items()
        ],
        CSV_FIELDS,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
