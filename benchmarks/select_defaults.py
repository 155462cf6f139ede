"""Choose defaults on validation data: candidate settings of a model on the transfer suite.

Each variant is a model's defaults changed by ``key=value`` pairs (the syntax of
``benchmarks/accuracy.py --variant``: ``NAME:model=M,key=value,...``; bare keys are model
parameters, ``train_*`` keys training settings). Every variant runs on every task and seed with
the model's epoch budget of ``benchmarks/transfer.py``; the table gives the **validation**
accuracy of the readout that is best on validation, and each variant's median and worst task as
a fraction of BP's validation accuracy (BP runs with its defaults on the same seeds). No test
accuracy is read: this is the script that chooses; ``transfer.py`` reports.

    python benchmarks/select_defaults.py --seeds 2 \\
        --variant learned:model=sp-core,signal=learned --variant fixed:model=sp-core,signal=fixed

It prints a Markdown table and writes it to ``--out`` when given.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import common
from accuracy import parse_variant
from transfer import EPOCHS, REFERENCE

from neurosig.atomic import write_text_atomic
from neurosig.threads import limit_blas_threads

DEFAULT_TASKS = (
    "gaussian-mixture",
    "shells",
    "teacher",
    "parity",
    "heavy-tailed",
    "many-classes",
    "few-samples",
    "sparse-features",
    "breast-cancer",
    "wine",
    "digits",
    "mnist1d",
)


def validation_accuracy(model: str, changes: dict, task: str, seed: int) -> tuple[float, float]:
    """(validation accuracy of the best-on-validation readout, validation chance)."""
    import numpy as np

    from neurosig.build import load_experiment_data
    from neurosig.config import command_experiment
    from neurosig.results import accuracy
    from neurosig.train import train

    exp = command_experiment(model, dataset=task, epochs=EPOCHS[model], seed=seed)
    exp = exp.replace(**changes) if changes else exp
    data = load_experiment_data(exp)
    last = accuracy(train(exp, data=data, progress=False)).isel(epoch=-1)
    best = max(float(last.sel(split="validation", readout=r)) for r in last.readout.values)
    counts = np.bincount(data.y_val)
    return best, float(counts.max() / counts.sum())


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--variant", action="append", required=True, type=parse_variant)
    p.add_argument("--tasks", nargs="+", default=list(DEFAULT_TASKS))
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    limit_blas_threads(1)
    commit = common_commit()  # before any run: the code the runs import
    rows = [parse_variant(f"{REFERENCE}:model={REFERENCE}"), *args.variant]
    jobs = [(r, t, s) for r in rows for t in args.tasks for s in range(args.seeds)]
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(validation_accuracy, r.model, r.changes, t, s) for r, t, s in jobs]
        results = [f.result() for f in futures]
    val: dict[tuple[str, str], list[float]] = {}
    chance: dict[str, float] = {}
    for (r, t, _), (acc, ch) in zip(jobs, results, strict=True):
        val.setdefault((r.label, t), []).append(acc)
        chance[t] = ch
    table, summary = [], []
    for t in args.tasks:
        table.append([t, *(f"{100 * statistics.mean(val[(r.label, t)]):.1f}" for r in rows)])
    for r in rows:
        frac = {
            t: (statistics.mean(val[(r.label, t)]) - chance[t])
            / (statistics.mean(val[(REFERENCE, t)]) - chance[t])
            for t in args.tasks
        }
        worst = min(frac, key=frac.get)
        summary.append([r.label, f"{statistics.median(frac.values()):.3f}",
                        f"{frac[worst]:.3f} ({worst})"])  # fmt: skip
    text = "\n".join(
        [
            f"Command: `{common.command_line()}`; git commit {commit}.",
            f"Validation accuracy (%), mean over seeds 0..{args.seeds - 1}; no test data read.",
            "",
            common.markdown_table(["task", *(r.label for r in rows)], table),
            "",
            common.markdown_table(["variant", "median (fraction of BP)", "worst task"], summary),
            "",
        ]
    )
    print(text)
    if args.out:
        write_text_atomic(args.out, text)
    return 0


def common_commit() -> str:
    from neurosig.results import git_commit

    return git_commit()


if __name__ == "__main__":
    sys.exit(main())
