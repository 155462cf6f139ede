"""Accuracy benchmark: the test accuracy, speed and memory of every learning rule, over seeds.

For each data set, model (or variant) and seed it loads the preset ``<model>-<dataset>``
(``models/presets``), sets ``train.seed``, trains it with :func:`neurosig.train.train` and
records from the Result:

- the final test accuracy of the primary readout (the number the project reports), of the
  other readouts, and the best test accuracy over epochs (an oracle: chosen on the test set);
- the training throughput, the median over epochs of ``samples_per_second`` (the timed part of
  an epoch is the training loop only, no evaluation), and the wall time of the whole run;
- the peak of the heap traced by :mod:`tracemalloc` during ``train()`` (numpy reports its
  arrays to it): numpy/Python memory of the run without the already-loaded data set, not RSS.

It writes a Markdown table per data set (``--out``, also printed) with mean ± sd over seeds and
the time per sample relative to BP, and ``<out>.csv`` with one row per run, every metric, so
that the table can be rebuilt; ``--append`` merges new runs into that CSV (a run with the same
data set, row and seed replaces the old one), so data sets can be run separately.

Run it from the repository root::

    python benchmarks/accuracy.py --datasets mnist1d --seeds 5 --jobs 2
    python benchmarks/accuracy.py --datasets fashion-mnist --seeds 1 --jobs 2 --append
    python benchmarks/accuracy.py --datasets mnist1d --models sp-core bp \\
        --variant sp-core-maxrand:model=sp-core,loss=max_rand --append
    python benchmarks/accuracy.py --quick --datasets digits     # smoke test, seconds

A variant ``NAME:model=M,key=value,...`` is the preset ``M-<dataset>`` changed with
``Experiment.replace``: a bare key is a model parameter (``loss=topk`` -> ``model_loss``),
``train_*``/``data_*``/``model_*`` keys are passed as they are; values are Python literals
when they parse as one (``hidden=[512,512]``, ``lr=1e-3``), strings otherwise.

Every row of a data set trains with the same seeds (``train.seed`` = ``--first-seed``,
+1, ...): run k of every row starts from the same seed (paired rows); the Markdown says which.

The runs go through :mod:`neurosig.sweep`: one :class:`~neurosig.sweep.Sweep` per row and data
set (one point, the row's experiment, with ``train_seeds`` = the seeds above), all run by
:func:`~neurosig.sweep.run_sweep` on one local process pool of ``--jobs`` workers; each run's
row is read from its Result in the sweep store. The stores live in a temporary folder, or in
``--store DIR``, where a rerun of the same command trains only the runs not done there.

Result rows must come from a commit: with uncommitted changes to tracked files the script
stops before any run unless ``--allow-dirty`` is given (its rows' git_commit then ends in
``+dirty``).

Timings depend on the BLAS threads of each run (recorded per run in the CSV): with
``--jobs J > 1`` every worker process uses one thread; with ``--jobs 1`` the one worker uses as
many as this process (what ``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS`` say). Compare speed
only between runs with the same setting on the same machine.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import re
import shutil
import sys
import tempfile
import time
import traceback
import tracemalloc
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import common
import numpy as np
import xarray as xr

from neurosig.atomic import write_text_atomic
from neurosig.config import Experiment, experiment_from_toml, load_experiment
from neurosig.data import DATASETS
from neurosig.errors import ConfigError, DivergenceError
from neurosig.registry import model_names, preset_paths
from neurosig.results import git_commit, save_result
from neurosig.sweep import Outcome, Sweep, open_store, point_result, run_sweep, sweep_executor
from neurosig.threads import limit_blas_threads
from neurosig.train import load_experiment_data, train

DEFAULT_OUT = Path("benchmarks/results/accuracy.md")
DEFAULT_SEEDS = {"mnist1d": 5, "digits": 5, "fashion-mnist": 1, "mnist": 1}
MODEL_ORDER = ("sp-core", "bp", "fa", "dfa", "ff", "random-features", "rate")
BASELINE = "bp"  # the row the "x BP" column divides by
QUICK = {
    "train_epochs": 2,
    "data_n_train": 500,
    "data_n_test": 200,
    "model_hidden": (64, 64),
}

# Quoted for context under each table; none of these is measured by this script.
REFERENCES = {
    "mnist1d": [
        "authors' sigprop (their PyTorch code run here, 40-1024-1024-10, 100 epochs): "
        "58.9 % (topk) / 57.7 % (max_rand); their BP-trained twin 67.2 %; sigprop took "
        "1.6-1.9x BP's time per epoch on the CPU",
        "scikit-learn on this machine (standardised inputs): logistic regression 32.9 %, "
        "random ReLU features (1000) + readout 51.8 %, BP MLP 256x256 63.5 %",
    ],
    "fashion-mnist": [
        "authors' sigprop (their PyTorch code run here, 784-1024-1024-10): 87.4 % after 13 "
        "epochs (issue); 86.5-86.9 % after 15 epochs, their BP-trained twin 89.9 % "
        "(SIGPROP.md section 2)",
        "logistic regression about 84 %, BP MLP about 89 % (SIGPROP.md section 5)",
    ],
    "digits": [
        "scikit-learn on this machine: logistic regression 96.9 %, BP 98.0 %; digits cannot "
        "tell learning rules apart - smoke tests only",
    ],
}

# One row per run in the CSV, in this column order.
FIELDS = (
    "dataset",
    "variant",
    "model",
    "preset",
    "seed",
    "status",
    "epochs",
    "n_train",
    "n_test",
    "hidden",
    "primary_readout",
    "test_accuracy",
    "best_test_accuracy",
    "best_epoch",
    "test_at_best_validation",
    "final_validation_accuracy",
    "final_train_accuracy",
    "other_readouts",
    "samples_per_second",
    "train_seconds",
    "wall_seconds",
    "peak_mib",
    "blas_threads",
    "changes",
    "git_commit",
    "finished_utc",
    "error",
)
INT_FIELDS = ("seed", "epochs", "n_train", "n_test", "best_epoch", "blas_threads")
FLOAT_FIELDS = (
    "test_accuracy",
    "best_test_accuracy",
    "test_at_best_validation",
    "final_validation_accuracy",
    "final_train_accuracy",
    "samples_per_second",
    "train_seconds",
    "wall_seconds",
    "peak_mib",
)


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """A row of the table: a model's preset, possibly changed (a variant)."""

    label: str
    model: str
    changes: dict[str, Any] = field(default_factory=dict)


def parse_value(text: str) -> Any:
    """A Python literal if ``text`` is one (lists become tuples), else the string itself."""
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        return text.strip()
    return tuple(value) if isinstance(value, list) else value


def parse_variant(text: str) -> Row:
    """``"NAME:model=M,key=value,..."`` -> Row; bare keys are model parameters.

    >>> parse_variant("wide:model=bp,hidden=[512,512],train_epochs=3")
    Row(label='wide', model='bp', changes={'model_hidden': (512, 512), 'train_epochs': 3})
    """
    name, sep, spec = text.partition(":")
    if not sep or not name.strip():
        raise ValueError(f"{text!r}: write NAME:model=MODEL,key=value,...")
    changes: dict[str, Any] = {}
    model = None
    # split at commas that start a new "key=" (so that "hidden=[512,512]" stays whole)
    for item in re.split(r",(?=\s*[A-Za-z_]\w*\s*=)", spec):
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ValueError(f"{text!r}: {item!r} is not key=value")
        if key == "model":
            model = value.strip()
        elif key in ("seed", "train_seed"):
            raise ValueError(f"{text!r}: seeds are set by --seeds, not by a variant")
        else:
            prefixed = key.startswith(("model_", "train_", "data_")) or key == "name"
            changes[key if prefixed else f"model_{key}"] = parse_value(value)
    if not model:
        raise ValueError(f"{text!r}: say which preset it changes, e.g. {name}:model=sp-core,...")
    if not re.fullmatch(r"[\w.-]+", model):
        raise ValueError(f"{text!r}: model={model!r} is not a model name (key=value expected)")
    return Row(name.strip(), model, changes)


def parse_seed_counts(items: Sequence[str]) -> dict[str, int]:
    """``["mnist1d=5", "fashion-mnist=1"]`` -> ``{"mnist1d": 5, "fashion-mnist": 1}``."""
    counts = {}
    for item in items:
        name, _, n = item.partition("=")
        if name not in DATASETS or not n.isdigit() or int(n) < 1:
            raise ValueError(f"{item!r}: write DATASET=N with DATASET in {', '.join(DATASETS)}")
        counts[name] = int(n)
    return counts


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n", 1)[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--datasets", nargs="+", choices=DATASETS, default=["mnist1d", "fashion-mnist"])
    p.add_argument(
        "--models",
        nargs="*",
        metavar="MODEL",
        help="registered models (default: every model with a preset for the data set; give "
        "--models with no name to run only --variant rows)",
    )
    p.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME:model=M,key=value,...",
        help="an extra row: preset M-<dataset> with changed fields (repeatable)",
    )
    p.add_argument(
        "--seeds",
        type=int,
        help=f"seeds per data set (default {DEFAULT_SEEDS}); seeds are first-seed, +1, ...",
    )
    p.add_argument(
        "--seeds-per-dataset", nargs="+", default=[], metavar="DATASET=N", help="overrides --seeds"
    )
    p.add_argument("--first-seed", type=int, default=0, help="the first seed (default 0)")
    p.add_argument("--epochs", type=int, help="override every preset's number of epochs")
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke mode: 2 epochs, 500 training / 200 test samples, hidden (64, 64)",
    )
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel, one process each")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Markdown file (and <out>.csv)")
    p.add_argument("--append", action="store_true", help="merge the runs into the existing CSV")
    p.add_argument("--results-dir", type=Path, help="also save every run's Result (netCDF) here")
    p.add_argument(
        "--store",
        type=Path,
        metavar="DIR",
        help="keep the sweep stores (one per row and data set) in DIR: a rerun with the same "
        "DIR trains only the runs not done there (default: a temporary folder, deleted)",
    )
    p.add_argument(
        "--no-memory",
        action="store_true",
        help="do not trace memory (tracemalloc costs a few per cent of speed)",
    )
    common.add_allow_dirty(p)
    return p


# --------------------------------------------------------------------------------------------
# Planning: every (data set, row) as a one-point Sweep over the data set's seeds
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """The runs of one table row on one data set: its experiment, trained with each seed."""

    dataset: str
    row: Row
    seeds: tuple[int, ...]  # train.seed of each run: the same for every row of the data set
    experiment: Experiment  # the row's experiment (its train.seed is replaced by each seed)
    changes: dict[str, Any]  # what was changed from the preset (recorded in the CSV)

    @property
    def preset(self) -> str:
        return f"{self.row.model}-{self.dataset}"

    def sweep(self) -> Sweep:
        """The runs as a sweep: one point (the experiment as it is; a sweep needs a field, so
        the point sets ``train_epochs`` to its own value) x the seeds, paired across rows."""
        return Sweep(
            self.experiment,
            points=[{"train_epochs": self.experiment.train.epochs}],
            train_seeds=self.seeds,
            name=f"{self.row.label}-{self.dataset}",
            # a row that names the simulator (target=standalone) keeps it; else a rate row
            # runs on the fastest equivalent target (neurosig.sweep.Sweep)
            fastest_target="model_target" not in self.changes,
        )

    def store(self, root: Path) -> Path:
        """This plan's sweep store under ``root``."""
        return root / self.dataset / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', self.row.label)}.zarr"


def default_models(datasets: Sequence[str]) -> list[str]:
    """Every registered model with a preset for at least one of ``datasets``, in table order."""
    presets = preset_paths()
    found = [m for m in model_names() if any(f"{m}-{d}" in presets for d in datasets)]
    known = [m for m in MODEL_ORDER if m in found]
    return known + sorted(set(found) - set(known))


def make_plan(dataset: str, row: Row, seeds: Sequence[int], base: dict[str, Any]) -> Plan:
    """The preset ``<model>-<dataset>`` with ``base`` (quick/epochs) and the row's changes."""
    preset = f"{row.model}-{dataset}"
    if preset not in preset_paths():
        raise ConfigError(f"no preset {preset!r} (models/presets); row {row.label!r}")
    exp = load_experiment(preset)
    changes = {**base, **row.changes}
    if row.label != row.model:
        changes.setdefault("name", f"{row.label}-{dataset}")
    exp = exp.replace(**changes)
    plan = Plan(dataset, row, tuple(seeds), exp, changes)
    plan.sweep()  # every configuration error shows up now, before the first run
    return plan


def plan_runs(args: argparse.Namespace) -> list[Plan]:
    """Every (data set, row), in table order; rows of a data set share their seeds."""
    base = dict(QUICK) if args.quick else {}
    if args.epochs:
        base["train_epochs"] = args.epochs
    explicit = args.models is not None
    models = args.models if explicit else default_models(args.datasets)
    unknown = sorted(set(models) - set(model_names()))
    if unknown:
        raise ConfigError(f"unknown model(s) {unknown}; registered: {', '.join(model_names())}")
    variants = [parse_variant(v) for v in args.variant]
    labels = [*models, *(v.label for v in variants)]
    if len(set(labels)) < len(labels):
        raise ValueError(f"row names must differ: {labels}")
    stores = [re.sub(r"[^A-Za-z0-9_.-]", "_", label) for label in labels]
    if len(set(stores)) < len(stores):
        raise ValueError(f"row names must differ in their letters, digits, '.', '-', '_': {labels}")
    seed_counts = parse_seed_counts(args.seeds_per_dataset)
    plans = []
    for dataset in dict.fromkeys(args.datasets):
        rows = [Row(m, m) for m in models if explicit or f"{m}-{dataset}" in preset_paths()]
        n_seeds = seed_counts.get(dataset, args.seeds or DEFAULT_SEEDS.get(dataset, 1))
        seeds = range(args.first_seed, args.first_seed + n_seeds)
        plans += [make_plan(dataset, row, seeds, base) for row in rows + variants]
    return plans


def format_seeds(seeds: Sequence[int]) -> str:
    """``[0, 1, 2, 3]`` -> ``"0-3"``; ``[0, 2]`` -> ``"0, 2"``."""
    seeds = sorted(seeds)
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ", ".join(map(str, seeds))


# --------------------------------------------------------------------------------------------
# Running: each plan's sweep by run_sweep, every sweep on one process pool
# --------------------------------------------------------------------------------------------

_DATA: dict = {}  # the last loaded data set of this process: {(DataConfig, seed): Dataset}


def _data_for(exp: Experiment):
    key = (exp.data, exp.train.seed)
    if key not in _DATA:
        _DATA.clear()
        _DATA[key] = load_experiment_data(exp)
    return _DATA[key]


def measure_point(experiment_toml: str, memory: bool = True) -> Outcome:
    """Train one run (on a sweep worker): the ``runner`` of :func:`neurosig.sweep.run_sweep`.

    Like :func:`neurosig.sweep.run_point`, plus the benchmark's measurements: the data set is
    loaded before the clock starts (and kept for the worker's next run with the same data),
    the Outcome's seconds are the wall time of ``train()`` alone, and the Result's attrs get
    ``benchmark_peak_mib`` (tracemalloc; not with ``memory=False``, which saves a few per cent
    of speed), ``benchmark_blas_threads``, ``benchmark_n_train`` and ``benchmark_n_test``.
    A failed run's error text starts with the exception's name (``DivergenceError: ...``).
    """
    experiment = experiment_from_toml(experiment_toml, "<benchmark run>")
    seconds, peak, ds = math.nan, None, None
    try:
        data = _data_for(experiment)
        started_tracing = memory and not tracemalloc.is_tracing()
        if started_tracing:
            tracemalloc.start()
        tracemalloc.reset_peak()
        start = time.perf_counter()
        try:
            ds = train(experiment, data=data, progress=False)
        finally:
            seconds = time.perf_counter() - start
            if tracemalloc.is_tracing():
                peak = tracemalloc.get_traced_memory()[1] / 2**20
            if started_tracing:
                tracemalloc.stop()
    except DivergenceError as err:
        return Outcome(None, f"DivergenceError: {err}", seconds)
    except Exception as err:  # a bug in one model must not lose the other runs
        traceback.print_exc()
        return Outcome(None, f"{type(err).__name__}: {err}", seconds)
    ds.attrs.update(benchmark_n_train=len(data.y_train), benchmark_n_test=len(data.y_test))
    if peak is not None:
        ds.attrs["benchmark_peak_mib"] = peak
    threads = common.blas_threads()
    if threads is not None:
        ds.attrs["benchmark_blas_threads"] = threads
    return Outcome(ds, "", seconds)


def worker_threads(jobs: int) -> int | None:
    """Give the workers their BLAS threads (before the pool starts); returns the number.

    ``jobs > 1``: one thread each. ``jobs == 1``: as many as this process has (the sweep's
    pool would give an unset variable one thread).
    """
    threads = 1 if jobs > 1 else common.blas_threads()
    if threads is not None:
        limit_blas_threads(threads)
    return threads


def execute(
    plans: Sequence[Plan], root: Path, jobs: int, memory: bool
) -> Iterator[tuple[Plan, xr.Dataset | Exception]]:
    """Run every plan's sweep into its store under ``root``; yield (plan, exported store) as
    each finishes, or (plan, the exception) if its sweep could not run.

    One local pool of ``jobs`` worker processes runs the points of every sweep (a driver
    thread per sweep submits them), so ``jobs`` runs are in flight whatever the sweep sizes.
    """
    runner = partial(measure_point, memory=memory)
    with (
        ThreadPoolExecutor(len(plans), thread_name_prefix="sweep") as drivers,
        sweep_executor("local", workers=jobs) as pool,
    ):
        futures = {
            drivers.submit(
                run_sweep, plan.sweep(), plan.store(root), pool, progress=False, runner=runner
            ): plan
            for plan in plans
        }
        for future in as_completed(futures):
            try:
                yield futures[future], future.result()
            except Exception as err:
                traceback.print_exc()
                yield futures[future], err


def plan_rows(
    plan: Plan,
    store: Path,
    exported: xr.Dataset | Exception,
    results_dir: Path | None = None,
    threads: int | None = None,
) -> list[dict[str, Any]]:
    """The CSV rows of ``plan``'s runs, from its sweep store (``exported``: run_sweep's
    Dataset) and each done run's Result in it. ``threads``: the workers' BLAS threads, for
    failed runs (a done run's Result says its own)."""
    commit = git_commit()  # of this process: a done run's Result has its own
    rows = []
    for s, seed in enumerate(plan.seeds):
        row = {
            "dataset": plan.dataset,
            "variant": plan.row.label,
            "model": plan.row.model,
            "preset": plan.preset,
            "seed": seed,
            "hidden": "x".join(map(str, getattr(plan.experiment.params, "hidden", ()))),
            "blas_threads": threads,
            "changes": json.dumps(plan.changes, sort_keys=True),
            "git_commit": commit,
            "error": "",
            "finished_utc": common.utc_now(),
        }
        if isinstance(exported, Exception):
            row.update(status="error", error=f"{type(exported).__name__}: {exported}")
            rows.append(row)
            continue
        point = exported.isel(point=0, seed=s)
        row["wall_seconds"] = float(point.wall_time)
        if str(point.status.values) == "done":
            result = point_result(store, 0, s)
            attrs = result.attrs
            row.update(
                status="complete",
                n_train=attrs.get("benchmark_n_train"),
                n_test=attrs.get("benchmark_n_test"),
                peak_mib=attrs.get("benchmark_peak_mib"),
                blas_threads=attrs.get("benchmark_blas_threads"),
                git_commit=attrs.get("git_commit", ""),
                finished_utc=attrs.get("created", row["finished_utc"]),
                **result_metrics(result),
            )
            if results_dir is not None:
                save_result(
                    result, Path(results_dir) / f"{plan.row.label}-{plan.dataset}-seed{seed}.nc"
                )
        else:
            text = str(point.error.values).strip() or str(point.status.values)
            if text.startswith("DivergenceError: "):
                row.update(status="diverged", error=text.removeprefix("DivergenceError: "))
            else:  # the exception's last line (the sweep keeps whole tracebacks of others)
                row.update(status="error", error=text.splitlines()[-1])
        rows.append(row)
    return rows


def result_metrics(ds) -> dict[str, Any]:
    """The CSV metrics of one Result (accuracies as fractions)."""
    primary = ds.attrs["primary_readout"]
    test = ds.accuracy.sel(split="test")
    acc = test.sel(readout=primary).values
    val = ds.validation_accuracy.values
    has_val = bool(np.isfinite(val).any())
    other = {
        str(r): float(test.sel(readout=r).values[-1])
        for r in ds.readout.values
        if str(r) != primary
    }
    return {
        "epochs": int(ds.sizes["epoch"]),
        "primary_readout": primary,
        "test_accuracy": float(acc[-1]),
        "best_test_accuracy": float(acc.max()),
        "best_epoch": int(acc.argmax()) + 1,
        "test_at_best_validation": float(acc[np.nanargmax(val)]) if has_val else math.nan,
        "final_validation_accuracy": float(val[-1]),
        "final_train_accuracy": float(ds.train_accuracy.values[-1]),
        "other_readouts": json.dumps(other, sort_keys=True),
        "samples_per_second": float(np.median(ds.samples_per_second.values)),
        "train_seconds": float(ds.epoch_time.values.sum()),
    }


def progress_line(i: int, n: int, row: dict) -> str:
    where = f"[{i}/{n}] {row['dataset']} {row['variant']} seed {row['seed']}"
    if row.get("status") != "complete":
        return f"{where}: {row.get('status')}: {row.get('error', '')}"
    peak = row.get("peak_mib")
    return (
        f"{where}: test {row['test_accuracy']:.1%} (best {row['best_test_accuracy']:.1%}), "
        f"{row['wall_seconds']:.1f} s, {row['samples_per_second']:.0f} samples/s, "
        f"peak {math.nan if peak is None else peak:.0f} MiB"
    )


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------

COLUMNS = (
    "model",
    "n",
    "epochs",
    "hidden",
    "test acc % (mean ± sd)",
    "best epoch % (oracle)",
    "other readouts %",
    "samples/s (median)",
    "time/sample (x BP)",
    "time/run s",
    "peak MiB*",
)


def normalise(row: dict) -> dict:
    """A row with numbers as numbers (CSV gives strings; missing ones become NaN/None)."""
    out = dict(row)
    for key in FLOAT_FIELDS:
        v = out.get(key)
        out[key] = float(v) if v not in (None, "") else math.nan
    for key in INT_FIELDS:
        out[key] = _to_int(out.get(key))
    return out


def _to_int(value: Any) -> int | None:
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):  # None, "", "nan"
        return None


def run_key(dataset: str, variant: str, seed: int | str) -> tuple[str, str, int]:
    """What identifies a run across invocations (CSV values are strings)."""
    return dataset, variant, int(seed)


def merge_rows(old: Sequence[dict], new: Sequence[dict]) -> list[dict]:
    """``old`` updated with ``new``: a run with the same (dataset, variant, seed) is replaced."""
    merged = {run_key(r["dataset"], r["variant"], r["seed"]): r for r in old}
    merged.update({run_key(r["dataset"], r["variant"], r["seed"]): r for r in new})
    return list(merged.values())


def _other_readouts(rows: Sequence[dict]) -> str:
    values: dict[str, list[float]] = {}
    for r in rows:
        for name, acc in json.loads(r.get("other_readouts") or "{}").items():
            values.setdefault(name, []).append(acc)
    return "; ".join(f"{k} {common.mean_or_dash(v, 100)}" for k, v in values.items()) or "-"


def _count(runs: Sequence[dict]) -> str:
    ok = sum(r["status"] == "complete" for r in runs)
    failed = [r["status"] for r in runs if r["status"] != "complete"]
    extra = ", ".join(f"{failed.count(s)} {s}" for s in sorted(set(failed)))
    return f"{ok} ({extra})" if extra else str(ok)


def table_row(label: str, runs: Sequence[dict], bp_speed: float) -> list[str]:
    done = [r for r in runs if r["status"] == "complete"]
    speed = common.median_or_nan([r["samples_per_second"] for r in done])
    ratio = bp_speed / speed if speed > 0 and math.isfinite(bp_speed) else math.nan
    peaks = common.finite([r["peak_mib"] for r in done])
    return [
        label,
        _count(runs),
        "/".join(sorted({str(r["epochs"]) for r in done}, key=int)) or "-",
        "/".join(sorted({r["hidden"] for r in done})) or "-",
        common.mean_sd([r["test_accuracy"] for r in done], 100),
        common.mean_or_dash([r["best_test_accuracy"] for r in done], 100),
        _other_readouts(done),
        f"{speed:.0f}" if math.isfinite(speed) else "-",
        f"{ratio:.2f}" if math.isfinite(ratio) else "-",
        common.mean_or_dash([r["wall_seconds"] for r in done], digits=1),
        f"{max(peaks):.0f}" if peaks else "-",
    ]


def dataset_table(dataset: str, rows: Sequence[dict]) -> str:
    """The Markdown table of one data set (rows in order of first appearance) and references."""
    labels = list(dict.fromkeys(r["variant"] for r in rows))
    by_label = {label: [r for r in rows if r["variant"] == label] for label in labels}
    bp = [r for r in by_label.get(BASELINE, []) if r["status"] == "complete"]
    bp_speed = common.median_or_nan([r["samples_per_second"] for r in bp])
    table = common.markdown_table(
        COLUMNS, [table_row(label, by_label[label], bp_speed) for label in labels]
    )
    refs = "\n".join(f"- {line}" for line in REFERENCES.get(dataset, [])) or "- none known"
    threads = sorted({str(r["blas_threads"]) for r in rows if r["status"] == "complete"})
    if len(threads) > 1:
        table += (
            f"\n\n**Speeds not comparable**: these runs used different BLAS thread counts "
            f"({', '.join(threads)}); rerun with the same --jobs/OMP_NUM_THREADS."
        )
    return (
        f"## {dataset}\n\n{table}\n\n{seeds_note(by_label)}\n\n"
        f"Reference values for context, quoted from SIGPROP.md and the issue - "
        f"**not measured by this script**:\n\n{refs}\n"
    )


def seeds_note(by_label: dict[str, Sequence[dict]]) -> str:
    """Which training seeds the rows used, and whether every row used the same (paired)."""
    seeds = {label: tuple(sorted({r["seed"] for r in runs})) for label, runs in by_label.items()}
    if len(set(seeds.values())) == 1:
        (only,) = set(seeds.values())
        return (
            f"Training seeds (`train.seed`): {format_seeds(only)}, the same for every row "
            "(paired: run k of every row starts from the same seed)."
        )
    groups: dict[tuple[int, ...], list[str]] = {}
    for label, used in seeds.items():
        groups.setdefault(used, []).append(label)
    listed = "; ".join(f"{format_seeds(s)} ({', '.join(labels)})" for s, labels in groups.items())
    return (
        f"Training seeds (`train.seed`) differ between rows: {listed}. Rows are paired on the "
        "seeds they share."
    )


LEGEND = """\
Columns: n = completed seeds (failed runs in brackets); test acc = final-epoch test accuracy of
the primary readout, mean ± sample sd over seeds; best epoch = mean over seeds of the best test
accuracy over epochs (chosen on the test set, optimistic); other readouts = final test accuracy
of the model's other readouts (mean); samples/s = training throughput, median over epochs, then
over seeds (evaluation excluded); time/sample (x BP) = BP's samples/s / this row's (time per
training sample relative to BP on the same data set); time/run = wall time of train() incl.
evaluation, mean; *peak MiB = peak of the numpy/Python heap traced by tracemalloc during
train(), max over seeds, without the data set loaded before it - not RSS. Compare speeds only
between rows with the same BLAS threads (column blas_threads of the CSV)."""


def render_markdown(rows: Sequence[dict], header: list[str]) -> str:
    rows = [normalise(r) for r in rows]
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    tables = "\n".join(dataset_table(d, [r for r in rows if r["dataset"] == d]) for d in datasets)
    return "\n".join(["# Accuracy benchmark", "", *header, "", LEGEND, "", tables])


def header_lines(
    csv_path: Path, n_old: int, plans: Sequence[Plan], jobs: int, threads: int | None
) -> list[str]:
    n_runs = sum(len(p.seeds) for p in plans)
    if jobs > 1:
        where = f"{jobs} worker processes, 1 BLAS thread each"
    else:
        where = f"one worker process, {threads or '?'} BLAS threads"
    seeds = {p.dataset: p.seeds for p in plans}
    lines = [
        f"- generated {common.utc_now()} by `{common.command_line()}`",
        f"- this invocation: {n_runs} runs, {where}; training seeds (`train.seed`, the same for "
        f"every row of a data set): "
        + "; ".join(f"{d} {format_seeds(s)}" for d, s in seeds.items()),
        *common.machine_lines(),
        f"- git commit: {git_commit() or 'unknown'}",
        f"- one row per run: `{csv_path.name}` (columns git_commit, finished_utc, blas_threads)",
    ]
    if n_old:
        lines.append(f"- merged with {n_old} runs already in `{csv_path.name}` (--append)")
    return lines


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.jobs < 1 or (args.seeds is not None and args.seeds < 1):
        parser.error("--jobs and --seeds must be at least 1")
    try:
        plans = plan_runs(args)  # every configuration error shows up before the first run
    except (ConfigError, ValueError) as err:
        parser.error(str(err))
    if not plans:
        parser.error("nothing to run: no preset for these models and data sets")
    common.check_clean_tree(parser, args.allow_dirty)
    csv_path = args.out.with_suffix(".csv")
    old = common.read_csv(csv_path) if args.append and csv_path.exists() else []
    threads = worker_threads(args.jobs)
    header = header_lines(csv_path, len(old), plans, args.jobs, threads)
    n_runs = sum(len(p.seeds) for p in plans)
    print(f"{n_runs} runs, {args.jobs} at a time -> {args.out}, {csv_path}", flush=True)

    with tempfile.TemporaryDirectory(prefix="neurosig-accuracy-") as tmp:
        root = args.store or Path(tmp)
        try:
            for plan in plans:  # a store of another declaration (--store) is refused now
                open_store(plan.store(root), plan.sweep())
        except ConfigError as err:
            parser.error(str(err))
        rank = {
            (p.dataset, p.row.label): (args.datasets.index(p.dataset), i)
            for i, p in enumerate(plans)
        }

        def position(row: dict) -> tuple[int, int, int]:  # data set, seed, row: the plan order
            dataset, i = rank[(row["dataset"], row["variant"])]
            return dataset, row["seed"], i

        new: list[dict] = []
        rows = merge_rows(old, new)
        markdown = render_markdown(rows, header)
        for plan, exported in execute(plans, root, args.jobs, memory=not args.no_memory):
            store = plan.store(root)
            finished = plan_rows(plan, store, exported, args.results_dir, threads)
            if args.store is None:
                shutil.rmtree(store, ignore_errors=True)  # its Results are read
            for row in finished:
                new.append(row)
                print(progress_line(len(new), n_runs, row), flush=True)
            new.sort(key=position)
            rows = merge_rows(old, new)
            common.write_csv(csv_path, rows, FIELDS)
            markdown = render_markdown(rows, header)
            write_text_atomic(args.out, markdown)
    print(markdown)
    return 1 if any(r["status"] == "error" for r in new) else 0


if __name__ == "__main__":
    sys.exit(main())
