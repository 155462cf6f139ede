"""What a sweep point of the rate model costs on each of its equivalent targets.

A sweep leaves the rate model's simulator to neurosig, which picks the fastest of the targets
the tests hold equal (``ModelSpec.equivalent_targets``: the numpy integrator, Brian2 C++
standalone). This script checks that choice where sweeps run, on whole points: for each preset,
one sweep whose grid is ``target = ["standalone", "reference"]`` with ``--seeds`` paired seeds,
run by ``run_sweep`` on one worker process (one core, one BLAS thread). A point's time is the
store's ``wall_time``: build or relink, data, training, evaluation. The Brian2 program is
compiled by a one-point warm-up sweep first, so the table shows warm points, as in a sweep of
many points; a cold build adds about 10 s once per network structure (``docs/speed.md``).

The two targets compute the same equations; over a whole training run their floating-point
differences can grow, so the table also gives the largest difference in final test accuracy
between the two targets on the same seed.

    python benchmarks/rate_target.py           # the rate presets, 3 seeds: about 5 minutes
    python benchmarks/rate_target.py --quick   # smoke test (200 samples, 1 seed)

It prints the table and writes ``--out`` (Markdown) and ``<out>.csv``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    add_allow_dirty,
    check_clean_tree,
    markdown_table,
    mean_sd,
    write_csv,
    write_report,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "rate-target.md"
PRESETS = ("rate-sigprop-digits", "rate-sigprop-mnist1d")
TARGETS = ("standalone", "reference")
CSV_FIELDS = ["commit", "preset", "network", "target", "seed", "train_seed", "wall_seconds",
              "test_accuracy", "epochs", "n_train"]  # fmt: skip


def point_sweep(preset: str, args: argparse.Namespace, targets=TARGETS, seeds=None):
    """The preset, shortened as asked, swept over ``targets`` with paired seeds."""
    from neurosig.config import load_experiment
    from neurosig.sweep import Sweep

    changes = {"train_epochs": args.epochs}
    if args.n_train is not None:
        changes["data_n_train"] = args.n_train
    base = load_experiment(preset).replace(**changes)
    return Sweep(base, grid={"target": list(targets)}, seeds=seeds or args.seeds,
                 name=f"{preset}-targets")  # fmt: skip


def measure(preset: str, args: argparse.Namespace, scratch: Path) -> list[dict]:
    """One row per point: target, seed, wall seconds, final test accuracy."""
    from neurosig.results import primary_accuracy
    from neurosig.sweep import point_result, run_sweep

    warm = point_sweep(preset, args, targets=("standalone",), seeds=1)
    run_sweep(warm, scratch / f"{preset}-warm.zarr", workers=1, progress=False)
    sweep = point_sweep(preset, args)
    store = scratch / f"{preset}.zarr"
    ds = run_sweep(sweep, store, workers=1, progress=False)
    rows = []
    for job in sweep.jobs():
        result = point_result(store, job.point, job.seed)
        exp = job.experiment
        hidden = "-".join(str(h) for h in exp.params.hidden)
        rows.append({
            "preset": preset, "network": f"{exp.data.name}, hidden {hidden}",
            "target": exp.params.target, "seed": job.seed, "train_seed": exp.train.seed,
            "wall_seconds": float(ds.wall_time.values[job.index]),
            "test_accuracy": float(primary_accuracy(result, "test")[-1]),
            "epochs": exp.train.epochs, "n_train": exp.data.n_train,
        })  # fmt: skip
    return rows


def table(rows: list[dict]) -> str:
    out = []
    for preset in dict.fromkeys(r["preset"] for r in rows):
        by = {t: [r for r in rows if r["preset"] == preset and r["target"] == t] for t in TARGETS}
        wall = {t: statistics.median(r["wall_seconds"] for r in by[t]) for t in TARGETS}
        acc = {t: [r["test_accuracy"] for r in by[t]] for t in TARGETS}
        diff = max(abs(a - b) for a, b in zip(acc["standalone"], acc["reference"], strict=True))
        out.append([
            preset, by["standalone"][0]["network"], str(len(by["standalone"])),
            f"{wall['standalone']:.1f}", f"{wall['reference']:.1f}",
            f"{wall['standalone'] / wall['reference']:.2f}",
            mean_sd(acc["standalone"], 100), mean_sd(acc["reference"], 100),
            f"{100 * diff:.2f}",
        ])  # fmt: skip
    headers = ["preset", "network", "seeds", "Brian2 standalone s/point",
               "numpy integrator s/point", "x faster", "test % Brian2", "test % numpy",
               "max abs diff (points)"]  # fmt: skip
    return markdown_table(headers, out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presets", nargs="+", default=list(PRESETS))
    p.add_argument("--seeds", type=int, default=3, help="paired seeds per target (default 3)")
    p.add_argument("--epochs", type=int, default=1, help="epochs per point (default 1)")
    p.add_argument("--n-train", type=int, default=None, help="training samples (preset's)")
    p.add_argument("--quick", action="store_true", help="smoke test: 200 samples, 1 seed")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    add_allow_dirty(p)
    args = p.parse_args()
    commit = check_clean_tree(p, args.allow_dirty)
    if args.quick:
        args.presets, args.seeds, args.n_train = args.presets[:1], 1, 200
    rows = []
    with tempfile.TemporaryDirectory(prefix="neurosig-rate-target-") as scratch:
        for preset in args.presets:
            rows += measure(preset, args, Path(scratch))
    for r in rows:
        r["commit"] = commit
    intro = (
        f"- commit {commit}; {args.epochs} epoch(s) per point; one sweep per preset with the "
        f"grid target = standalone, reference and {args.seeds} paired seeds, one worker "
        "process; s/point: median of the store's wall_time (the Brian2 program compiled by a "
        "warm-up point first); x faster: Brian2's median over the integrator's; max abs diff: "
        "the largest difference in final test accuracy between the targets on one seed"
    )
    write_report(args.out, "Rate model: a sweep point on each equivalent target", intro,
                 table(rows))  # fmt: skip
    write_csv(args.out.with_suffix(".csv"), rows, CSV_FIELDS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
