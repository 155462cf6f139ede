"""Transfer benchmark: every model with its defaults on every task of the suite, over seeds.

A learning rule's defaults must work on a task nobody tuned them for. For each model and each
task of :data:`neurosig.data.SUITE` (the synthetic tasks of :mod:`neurosig.tasks` and five real
sets) and each seed, this script trains exactly what a user gets from::

    neurosig train MODEL --dataset TASK --epochs E --seed S

(the experiment comes from :func:`neurosig.config.command_experiment`, the function the command
uses), with the epoch budgets a user would try (:data:`EPOCHS`: 30 for the numpy models, 3 for
the Brian2 rate model, 2 for the LIF model).

Selection on validation only. A model with several readouts (SP-core: linear and target; rate
and LIF: target and delta) is scored with the readout that has the best *validation* accuracy at
the last epoch (ties: the model's primary readout). Its test accuracy at the last epoch is the
one test number read per run.

Score. Each run is scored as a fraction of BP with the same seed (paired):
``(acc - chance) / (acc_BP - chance)``, where ``chance`` is the share of the test set's most
frequent class (the best constant guess). A model's score on a task is the median over seeds;
its summary is the median and the worst task.

Outputs (``--out``, default ``benchmarks/results/transfer``): ``.csv`` (one row per run,
rewritten after every run: an interrupted benchmark keeps every finished run, and a rerun of the
same command trains only the runs missing for the current commit), ``.md`` (per-task table and
summary, also printed) and ``.png`` (the fractions of every model on every task).

Run it from the repository root::

    python benchmarks/transfer.py --jobs 2                       # everything, 3 seeds
    python benchmarks/transfer.py --models sp-core bp --tasks shells wine --seeds 3
    python benchmarks/transfer.py --report-only                  # rebuild .md/.png from .csv

Rows must come from a commit: with uncommitted changes the script stops unless
``--allow-dirty`` is given.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import traceback
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import as_completed
from pathlib import Path

import common

from neurosig.atomic import write_text_atomic
from neurosig.threads import limit_blas_threads

EPOCHS: dict[str, int] = {
    "sp-core": 30,
    "bp": 30,
    "fa": 30,
    "dfa": 30,
    "ff": 30,
    "random-features": 30,
    "rate": 3,
    "lif": 2,
}
"""Epoch budget per model: what a user would try first (issue 14)."""

REFERENCE = "bp"
FIELDS = (
    "model",
    "task",
    "seed",
    "epochs",
    "readout",
    "primary_readout",
    "val_accuracy",
    "test_accuracy",
    "primary_test_accuracy",
    "chance",
    "n_classes",
    "seconds",
    "status",
    "git_commit",
)
DEFAULT_OUT = Path(__file__).parent / "results" / "transfer"


def build_parser() -> argparse.ArgumentParser:
    from neurosig.data import SUITE

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=list(EPOCHS), choices=list(EPOCHS))
    p.add_argument("--tasks", nargs="+", default=list(SUITE), metavar="TASK")
    p.add_argument("--seeds", type=int, default=3, help="seeds per model and task (>= 3)")
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel (processes)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="path stem of .csv/.md/.png")
    p.add_argument(
        "--report-only", action="store_true", help="rebuild the table and figure from the CSV"
    )
    p.add_argument(
        "--merge",
        nargs="+",
        type=Path,
        default=[],
        metavar="CSV",
        help="first merge the rows of these CSVs (written by this script, e.g. by runs made in "
        "parallel) into --out's CSV; a row replaces one of the same model, task and seed",
    )
    p.add_argument(
        "--note",
        action="append",
        default=[],
        help="a line for the table's header (e.g. the commands that made merged rows)",
    )
    common.add_allow_dirty(p)
    return p


# --------------------------------------------------------------------------------------------
# One run (in a worker process)
# --------------------------------------------------------------------------------------------


def run_one(model: str, task: str, seed: int, epochs: int) -> dict:
    """Train one run as ``neurosig train`` would and read its numbers (validation selects)."""
    from neurosig.build import load_experiment_data
    from neurosig.config import command_experiment
    from neurosig.results import accuracy
    from neurosig.train import train

    exp = command_experiment(model, dataset=task, epochs=epochs, seed=seed)
    data = load_experiment_data(exp)
    start = time.perf_counter()
    ds = train(exp, progress=False, data=data)
    seconds = time.perf_counter() - start
    last = accuracy(ds).isel(epoch=-1)
    readouts = [str(r) for r in last.readout.values]
    val = {r: float(last.sel(split="validation", readout=r)) for r in readouts}
    best = max(readouts, key=lambda r: (val[r], -readouts.index(r)))
    return {
        "model": model,
        "task": task,
        "seed": seed,
        "epochs": epochs,
        "readout": best,
        "primary_readout": readouts[0],
        "val_accuracy": val[best],
        "test_accuracy": float(last.sel(split="test", readout=best)),
        "primary_test_accuracy": float(last.sel(split="test", readout=readouts[0])),
        "chance": _majority(data.y_test),
        "n_classes": data.n_classes,
        "seconds": seconds,
        "status": str(ds.attrs.get("status", "complete")),
    }


def _majority(y) -> float:
    import numpy as np

    counts = np.bincount(np.asarray(y))
    return float(counts.max() / counts.sum())


# --------------------------------------------------------------------------------------------
# Scores and report
# --------------------------------------------------------------------------------------------


def merge_rows(*tables: Sequence[dict]) -> list[dict]:
    """The rows of ``tables``, a later row replacing an earlier one of the same run (model,
    task, seed); a failed row never replaces a complete one."""
    out: dict[tuple[str, str, int], dict] = {}
    for table in tables:
        for r in table:
            key = (r["model"], r["task"], int(r["seed"]))
            if key in out and out[key]["status"] == "complete" and r["status"] != "complete":
                continue
            out[key] = r
    return list(out.values())


def fractions(rows: Sequence[dict]) -> dict[tuple[str, str], list[float]]:
    """(model, task) -> the per-seed fractions of BP, paired by seed (BP's own seeds only)."""
    bp = {
        (r["task"], int(r["seed"])): float(r["test_accuracy"])
        for r in rows
        if r["model"] == REFERENCE
    }
    out: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in rows:
        key = (r["task"], int(r["seed"]))
        if key not in bp:
            continue
        chance = float(r["chance"])
        gap = bp[key] - chance
        if gap <= 0:
            continue  # BP at chance: the task cannot rank rules (reported in the table)
        out[(r["model"], r["task"])].append((float(r["test_accuracy"]) - chance) / gap)
    return out


def summary(rows: Sequence[dict]) -> dict[str, dict]:
    """model -> median task fraction, worst task and its fraction, tasks scored."""
    per = fractions(rows)
    out = {}
    for model in model_order(rows):
        scores = {t: statistics.median(f) for (m, t), f in per.items() if m == model and f}
        if not scores:
            continue
        worst = min(scores, key=scores.get)
        out[model] = {
            "median": statistics.median(scores.values()),
            "worst_task": worst,
            "worst": scores[worst],
            "tasks": len(scores),
            "seeds": min(len(per[(model, t)]) for t in scores),
        }
    return out


def model_order(rows: Sequence[dict]) -> list[str]:
    """The models of ``rows``: those of :data:`EPOCHS` in its order, then any other."""
    present = list(dict.fromkeys(r["model"] for r in rows))
    return [m for m in EPOCHS if m in present] + [m for m in present if m not in EPOCHS]


def render(rows: Sequence[dict], header: Sequence[str]) -> str:
    models = model_order(rows)
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    per = fractions(rows)
    by = defaultdict(list)
    for r in rows:
        by[(r["model"], r["task"])].append(r)
    table = []
    for task in tasks:
        cells = [task]
        for model in models:
            runs = by.get((model, task), [])
            if not runs:
                cells.append("-")
                continue
            acc = common.mean_sd([float(r["test_accuracy"]) for r in runs], 100)
            f = per.get((model, task))
            cells.append(f"{acc} ({statistics.median(f):.2f})" if f else acc)
        table.append(cells)
    s = summary(rows)
    sum_rows = [
        [
            m,
            str(EPOCHS.get(m, "?")),
            f"{s[m]['median']:.2f}",
            f"{s[m]['worst']:.2f} ({s[m]['worst_task']})",
            str(s[m]["tasks"]),
            str(s[m]["seeds"]),
            _readouts(rows, m),
        ]
        for m in models
        if m in s
    ]
    return "\n".join(
        [
            *header,
            "",
            "## Summary: fraction of BP, `(acc - chance) / (acc_BP - chance)`, paired by seed",
            "",
            common.markdown_table(
                [
                    "model",
                    "epochs",
                    "median task",
                    "worst task",
                    "tasks",
                    "seeds",
                    "readout chosen on validation",
                ],
                sum_rows,
            ),
            "",
            "## Test accuracy (%), mean ± sd over seeds (median fraction of BP)",
            "",
            common.markdown_table(["task", *models], table),
            "",
        ]
    )


def _readouts(rows: Sequence[dict], model: str) -> str:
    counts = defaultdict(int)
    for r in rows:
        if r["model"] == model:
            counts[r["readout"]] += 1
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


def figure(rows: Sequence[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    per = fractions(rows)
    models = [m for m in model_order(rows) if m != REFERENCE]
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    fig, ax = plt.subplots(figsize=(1.1 * len(models) + 2, 4.2), constrained_layout=True)
    for i, model in enumerate(models):
        values = [statistics.median(per[(model, t)]) for t in tasks if per.get((model, t))]
        ax.scatter([i] * len(values), values, s=14, alpha=0.7, color="0.35", zorder=2)
        if values:
            ax.hlines(statistics.median(values), i - 0.3, i + 0.3, color="C3", lw=2, zorder=3)
    ax.axhline(1.0, color="0.6", ls="--", lw=1)
    ax.axhline(0.0, color="0.8", lw=1)
    counts = [sum(1 for t in tasks if per.get((m, t))) for m in models]
    labels = [f"{m} ({n})" for m, n in zip(models, counts, strict=True)]
    ax.set_xticks(range(len(models)), labels, rotation=30, ha="right")
    ax.set_ylabel("fraction of BP above chance")
    ax.set_title("Defaults on the task suite (dots: tasks scored, red: median)", fontsize=10)
    fig.savefig(path, dpi=150)
    plt.close(fig)


def write_report(rows: Sequence[dict], out: Path, notes: Sequence[str] = ()) -> str:
    seeds = sorted({int(r["seed"]) for r in rows})
    commits = ", ".join(sorted({r["git_commit"] for r in rows})) or "-"
    header = [
        "# Transfer: every model with its defaults on the task suite",
        "",
        f"Written by `{common.command_line()}`, {common.utc_now()}; the rows' git commit(s):",
        f"{commits}.",
        f"Seeds {', '.join(map(str, seeds))} (paired: run k of every model uses seed k).",
        "Each run is `neurosig train MODEL --dataset TASK --epochs E --seed S` with the model's",
        "defaults. The readout of a model with several is the one with the best validation",
        "accuracy at the last epoch; its test accuracy is the one test number read per run.",
        "Chance is the test share of the most frequent class.",
        *(["", *notes] if notes else []),
    ]
    text = render(rows, header)
    write_text_atomic(out.with_suffix(".md"), text + "\n")
    figure(rows, out.with_suffix(".png"))
    return text


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.seeds < 3 and not args.allow_dirty:
        parser.error("--seeds: a published number needs >= 3 seeds")
    limit_blas_threads(1 if args.jobs > 1 else 2)
    from neurosig.data import DATASETS
    from neurosig.sweep import sweep_executor

    for task in args.tasks:
        if task not in DATASETS and not task.startswith("npz:"):
            parser.error(f"--tasks: unknown data set {task!r}; see `neurosig data list`")
    csv_path = args.out.with_suffix(".csv")
    old = common.read_csv(csv_path) if csv_path.exists() else []
    if args.merge:
        old = merge_rows(old, *(common.read_csv(path) for path in args.merge))
        common.write_csv(csv_path, old, FIELDS)
    if args.report_only:
        print(write_report([r for r in old if r["status"] == "complete"], args.out, args.note))
        return 0
    commit = common.check_clean_tree(parser, args.allow_dirty)
    keep = [r for r in old if r["git_commit"] == commit]
    done = {(r["model"], r["task"], int(r["seed"])) for r in keep}
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    todo = [
        (m, t, s) for t in args.tasks for m in args.models for s in seeds if (m, t, s) not in done
    ]
    print(f"{len(todo)} runs to do ({len(done)} already done at {commit})", flush=True)
    rows = list(keep)
    with sweep_executor("local", workers=args.jobs) as pool:
        futures = {pool.submit(run_one, m, t, s, EPOCHS[m]): (m, t, s) for m, t, s in todo}
        for i, future in enumerate(as_completed(futures), 1):
            m, t, s = futures[future]
            try:
                row = future.result()
            except Exception as err:  # one failing run must not lose the others
                traceback.print_exception(err, file=sys.stderr)
                row = {
                    "model": m,
                    "task": t,
                    "seed": s,
                    "epochs": EPOCHS[m],
                    "status": f"failed: {type(err).__name__}: {err}",
                }
                row["test_accuracy"] = row["val_accuracy"] = float("nan")
                row["chance"] = float("nan")
            row["git_commit"] = commit
            rows.append(row)
            common.write_csv(csv_path, rows, FIELDS)
            print(
                f"[{i}/{len(todo)}] {m:<16} {t:<20} seed {s}: "
                f"{100 * float(row['test_accuracy']):.1f} % ({row.get('readout', '-')}, "
                f"{float(row.get('seconds', float('nan'))):.0f} s)",
                flush=True,
            )
    ok = [r for r in rows if str(r["status"]) == "complete"]
    print(write_report(ok, args.out, args.note))
    return 0


if __name__ == "__main__":
    sys.exit(main())
