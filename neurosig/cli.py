"""The ``neurosig`` command.

Subcommands: ``train``, ``validate``, ``models``, ``data``, ``demo``, ``audit`` (forward-only and
locality audit of a model), ``report`` (plausibility report card of Results), ``sweep``
(parameter sweeps), ``cache`` (show or clean neurosig's cache), ``figures`` (publication
figures of Results and sweeps, and the multi-panel figure of a study). A mistake the user can
make (bad config, unknown data set, missing files, divergence) ends in one line on stderr and
exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shlex
import sys
import time
import traceback
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from neurosig.errors import Interrupted, NeurosigError, OutputError, os_error_message


def _experiment_from_args(args: argparse.Namespace):
    from neurosig.config import command_experiment

    exp = command_experiment(
        args.spec,
        dataset=args.dataset,
        epochs=args.epochs,
        seed=args.seed,
        batch_size=args.batch_size,
    )
    return exp.replace(data_remap_labels=True) if args.remap_labels else exp


def _accuracy_line(ds) -> str:
    from neurosig.results import accuracy

    test = accuracy(ds).sel(split="test").isel(epoch=-1)
    parts = [f"{r} {100 * float(test.sel(readout=r)):.2f} %" for r in test.readout.values]
    return ", ".join(parts)


def _set_reproducible(args: argparse.Namespace) -> None:
    """``--reproducible``: portable C++ flags for every Brian2 program built from now on, in
    this process and the worker processes it starts (:mod:`neurosig.brian`)."""
    from neurosig.brian import REPRODUCIBLE_ENV

    if args.reproducible:
        os.environ[REPRODUCIBLE_ENV] = "1"


def _reference_from_arg(text: str | None) -> dict[str, str] | None:
    """``lr=0.003,dale=true`` -> ``{"lr": "0.003", "dale": "true"}`` (a value may hold commas,
    ``hidden=[48, 32]``: only a comma before ``name=`` starts a new field)."""
    from neurosig.errors import ConfigError

    if text is None:
        return None
    out = {}
    for part in re.split(r",\s*(?=[A-Za-z_][\w.]*\s*=)", text.strip()):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--reference {text!r}: write field=value[,field=value...]")
        out[key.strip()] = value.strip()
    return out


def _free_sibling(path: Path) -> Path:
    """``run.nc`` -> the first of ``run-2.nc``, ``run-3.nc``, ... that does not exist."""
    n = 2
    while (candidate := path.with_name(f"{path.stem}-{n}{path.suffix}")).exists():
        n += 1
    return candidate


def _train_output(args: argparse.Namespace, exp) -> Path:
    """Where ``train`` writes: ``--out``, or ``results/NAME-seedS.nc``; an existing file there
    is kept (the run goes to a free sibling, and says so) unless ``--overwrite``."""
    from neurosig.errors import ConfigError

    if args.out:
        out = Path(args.out)
    else:
        if not _SAFE_NAME.fullmatch(exp.name):
            raise ConfigError(
                f"name = {exp.name!r}: the name becomes the file results/NAME-seedS.nc; use "
                "letters, digits, '.', '-', '_' and spaces only (no '/', not starting with '.'), "
                "or give --out"
            )
        out = Path("results") / f"{exp.name}-seed{exp.train.seed}.nc"
    if out.exists() and not out.is_dir() and not args.overwrite:
        new = _free_sibling(out)
        print(
            f"neurosig: {out} already exists and is kept; this run is written to {new} "
            "(--overwrite replaces it instead)",
            file=sys.stderr,
        )
        out = new
    return out


# a name that is one file name: no folder separators, not hidden, printable
_SAFE_NAME = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9_.\- ]*")


def cmd_train(args: argparse.Namespace) -> int:
    from neurosig.results import samples_per_second
    from neurosig.train import train

    _set_reproducible(args)
    exp = _experiment_from_args(args)
    out = _train_output(args, exp)
    ds = train(exp, out=out, progress=not args.quiet, overwrite=args.overwrite)
    per_epoch = samples_per_second(ds)
    print(
        f"{exp.name}: test accuracy after {per_epoch.size} epochs: {_accuracy_line(ds)}; "
        f"{float(per_epoch.median()):,.0f} training samples/s (median epoch)"
    )
    print(f"result written to {out}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from neurosig.config import load_experiment

    exp = load_experiment(args.file)
    print(exp.to_toml(), end="")
    print(f"# {args.file}: valid", file=sys.stderr)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from neurosig.config import describe
    from neurosig.registry import get_model, model_names, preset_paths

    if args.describe:
        spec = get_model(args.describe)
        print(f"{spec.name}: {spec.description}\n")
        rows = describe(spec.config_cls)
        width = max(len(r[0]) for r in rows)
        for name, default, allowed, doc in rows:
            print(f"  {name:<{width}}  {default:<14} {allowed:<28} {doc}")
        if spec.equations is not None:
            print("\nequations and updates with the default parameters (4 inputs, 3 classes):\n")
            print(spec.equations(spec.config_cls()))
        return 0
    print("models:")
    for name in model_names():
        spec = get_model(name)
        tag = "forward-only" if spec.forward_only else "feedback pathway"
        print(f"  {name:<18} {spec.description} [{tag}]")
    print("\npresets (neurosig train PRESET):")
    for name in sorted(preset_paths()):
        print(f"  {name}")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from neurosig.data import DATASETS, fetch_dataset, load_dataset

    if args.action == "fetch":
        for path in fetch_dataset(args.name, Path(args.dest) if args.dest else None):
            print(path)
        return 0
    for name in DATASETS:
        try:
            d = load_dataset(name, validation_fraction=0.0)
            print(
                f"  {name:<20} {d.n_classes:>3} classes {len(d.y_train):>6} train "
                f"{len(d.y_test):>6} test {d.n_features:>5} features  ({d.source})"
            )
        except NeurosigError as err:
            print(f"  {name:<20} not available: {err}")
    return 0


def cmd_cache(args: argparse.Namespace) -> int:
    from neurosig.cache import clean_cache, scan_cache, select_parts

    info = scan_cache()
    if args.action == "info":
        print(info.describe())
        return 0
    brian, data = (args.brian, args.data) if args.brian or args.data else (True, True)
    parts = select_parts(info, brian=brian, data=data, downloaded=args.all)
    print(clean_cache(info, parts).describe())
    return 0


def _add_cache_parser(sub) -> None:
    """``neurosig cache info|clean [--brian] [--data] [--all]``."""
    p = sub.add_parser(
        "cache",
        help="neurosig's cache ($NEUROSIG_CACHE, else $XDG_CACHE_HOME/neurosig, else "
        "~/.cache/neurosig): show or clean it",
    )
    actions = p.add_subparsers(dest="action", required=True)
    actions.add_parser("info", help="the cache root, why, and the size of each part")
    q = actions.add_parser(
        "clean",
        help="remove what neurosig can regenerate (Brian2 builds, MNIST-1D); downloaded data "
        "sets only with --all",
    )
    q.add_argument("--brian", action="store_true", help="only the Brian2 builds")
    q.add_argument(
        "--data", action="store_true", help="only the data (generated; --all: also downloaded)"
    )
    q.add_argument("--all", action="store_true", help="also the downloaded data sets")
    p.set_defaults(func=cmd_cache)


def cmd_demo(args: argparse.Namespace) -> int:
    from neurosig.demo import run_demo

    run_demo(Path(args.out), epochs=args.epochs, progress=not args.quiet)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """``neurosig export RESULT.nc --format nwb [--out F]``: one NWB file (neurosig.exchange)."""
    from neurosig.atomic import check_writable
    from neurosig.exchange import write_nwb
    from neurosig.results import load_result

    ds = load_result(args.result)
    out = Path(args.out) if args.out else Path(args.result).with_suffix(f".{args.format}")
    if out.exists() and not args.overwrite:
        raise OutputError(f"{out} already exists; give another --out, or --overwrite to replace it")
    check_writable(out)  # before the work, not after it
    start = time.perf_counter()
    write_nwb(ds, out)
    size = out.stat().st_size / 2**20
    print(f"{out}: NWB, {size:.1f} MiB, written in {time.perf_counter() - start:.1f} s")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    """Exit code 0 when the untrained model is forward-only and local, 1 when not."""
    from neurosig.analyses.audit import audit_model
    from neurosig.config import load_experiment

    exp = load_experiment(args.spec)
    if args.dataset:
        exp = exp.replace(data_name=args.dataset)
    report = audit_model(exp)
    print(f"{exp.name}: model {exp.model}, data {exp.data.name} (untrained)\n")
    print(report.table())
    verdicts = {
        "forward-only": report.forward_only,
        "local": report.local,
        "weight-transport-free": report.weight_transport_free,
    }
    print("\n" + ", ".join(f"{name}: {'yes' if ok else 'NO'}" for name, ok in verdicts.items()))
    return 0 if report.ok else 1


def cmd_report(args: argparse.Namespace) -> int:
    from neurosig.analyses.report import write_report
    from neurosig.atomic import check_writable
    from neurosig.results import load_result

    results = [load_result(p) for p in args.results]
    baselines = [load_result(p) for p in args.baselines]
    out = Path(args.out) if args.out else Path(args.results[0]).with_suffix("") / "report"
    check_writable(out / "report.md")  # before the work, not after it
    progress = (lambda msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr))

    def warn(msg: str) -> None:  # shown even with --quiet
        print(f"neurosig: {msg}", file=sys.stderr)

    cards = write_report(
        results,
        out,
        baselines=baselines,
        trials=args.trials,
        trial_duration_ms=args.trial_duration,
        progress=progress,
        warn=warn,
        command=shlex.join(["neurosig", *sys.argv[1:]]),
    )
    for card in cards:
        counts = Counter(row.band for row in card.rows)
        note = f" ({len(card.warnings)} warnings: see report.md)" if card.warnings else ""
        print(f"{card.name}: " + ", ".join(f"{n} {b}" for b, n in counts.items()) + note)
    print(f"report written to {out}/report.md, report.html, report.pdf, report.svg, report.png")
    return 0


def cmd_figures(args: argparse.Namespace) -> int:
    """The catalogue (``--list``), its figures of the given Results and sweep stores, or the
    figure of a study (``--study``)."""
    from neurosig.analyses.figures.catalogue import catalogue_table
    from neurosig.analyses.figures.figure_set import figure_set
    from neurosig.atomic import check_writable
    from neurosig.errors import ConfigError

    if args.list:
        print(catalogue_table())
        return 0
    if args.study and (args.inputs or args.only):
        raise ConfigError("figures --study: the study names its inputs and panels; give no others")
    if not args.study and args.quick:
        raise ConfigError("figures --quick: a study's option; give --study SPEC.toml")
    if not args.inputs and not args.study:
        raise ConfigError(
            "figures: give Result files or sweep stores, --study SPEC.toml, or --list"
        )
    out = Path(args.out)
    check_writable(out / "figure.pdf")  # before the work, not after it
    command = shlex.join(["neurosig", *sys.argv[1:]])
    if args.study:
        return _study_figure(args.study, out, args.quick, command)
    for outcome in figure_set(args.inputs, out, only=args.only, command=command):
        if outcome.skipped:
            print(f"{outcome.name}: skipped ({outcome.skipped})", file=sys.stderr)
        else:
            print(f"{outcome.name}: " + ", ".join(p.name for p in outcome.files))
    print(f"figures written to {out}")
    return 0


def _study_figure(spec: str, out: Path, quick: bool, command: str) -> int:
    """``neurosig figures --study SPEC [--quick]``: one line per input and per panel, the files,
    and a warning per text problem of the figure (too small, clipped, overlapping)."""
    from neurosig.analyses.figures.compose import build_study
    from neurosig.analyses.figures.study import load_study

    study = load_study(spec)
    mode = " (quick)" if quick else ""
    print(f"study {study.name!r}{mode}: {len(study.panels)} panels", file=sys.stderr)
    made = build_study(
        study,
        out,
        quick=quick,
        command=command,
        say=lambda message: print(f"neurosig: {message}", file=sys.stderr),
    )
    for name, data in made.inputs.items():
        where = ", ".join(map(str, data.sources[:2])) + (" ..." if len(data.sources) > 2 else "")
        trained = f", {data.trained} trained now" if data.trained else ""
        print(f"input {name}: {len(data.results)} Results from {where}{trained}")
    for panel in study.panels:
        print(f"panel {panel.letter}: {panel.figure} of {', '.join(panel.inputs)}")
    for problem in made.problems:
        print(f"neurosig: warning: {problem} (change the study's height, rows or columns)",
              file=sys.stderr)  # fmt: skip
    print(f"{made.files[0].stem}: " + ", ".join(p.name for p in made.files))
    print(f"figure written to {out}")
    return 0


def _add_array_parsers(actions) -> None:
    """``sweep slurm SPEC --array`` and ``sweep job STORE N`` (neurosig.slurm)."""
    q = actions.add_parser(
        "slurm", help="write an sbatch job-array script: one task per job, all into one store"
    )
    q.add_argument("spec", help="sweep TOML file")
    q.add_argument(
        "--array", action="store_true", required=True,
        help="a job array (the nodes need not reach a dask scheduler); required",
    )  # fmt: skip
    q.add_argument("--store", help="zarr store (a folder); default results/sweeps/NAME.zarr")
    q.add_argument(
        "--script", help="the sbatch script to write (default: the store's name with .sbatch)"
    )
    q.add_argument("--max-running", type=_count(1), help="at most this many tasks at once")
    q.add_argument(
        "--sbatch", action="append", default=[], metavar="OPTION",
        help="an sbatch option for every task, e.g. --sbatch=--time=01:00:00 (repeatable)",
    )  # fmt: skip
    q = actions.add_parser("job", help="run one job of a store's sweep (a job-array task)")
    q.add_argument("store")
    q.add_argument("job", type=_count(0), help="job number: point x seeds + seed")


def cmd_sweep_array(args: argparse.Namespace) -> int:
    """``sweep slurm SPEC --array``: the store, then the script; ``sweep job STORE N``."""
    from neurosig.atomic import write_text_atomic
    from neurosig.slurm import array_script
    from neurosig.sweep import DONE, load_sweep, open_store, run_job, store_target

    if args.action == "job":
        status = run_job(args.store, args.job)
        print(f"job {args.job}: {'done' if status == DONE else 'failed (see sweep status)'}")
        return 0 if status == DONE else 1
    sweep = load_sweep(args.spec)
    store = Path(args.store or Path("results") / "sweeps" / f"{sweep.name}.zarr")
    sweep = store_target(store, sweep)
    open_store(store, sweep)  # made now: the tasks only write into it
    script = Path(args.script or store.with_suffix(".sbatch"))
    text = array_script(store, len(sweep.jobs()), name=sweep.name,
                        max_running=args.max_running, options=args.sbatch)  # fmt: skip
    write_text_atomic(script, text)
    store.with_suffix(".logs").mkdir(exist_ok=True)
    print(f"{script}: {len(sweep.jobs())} tasks into {store}; submit with: sbatch {script}")
    return 0


def _add_report_parser(sub) -> None:
    p = sub.add_parser("report", help="plausibility report card of trained Results")
    p.add_argument("results", nargs="+", help="Result files (.nc) of one model (one per seed)")
    p.add_argument(
        "--baselines", nargs="*", default=[], help="Results of other rules (BP: geometry reference)"
    )
    p.add_argument("--out", help="output folder (default: RESULT/report beside the first Result)")
    p.add_argument(
        "--trials",
        type=_count(0),
        default=10,
        help="repeats per stimulus for Fano/correlations (0: skip)",
    )
    p.add_argument(
        "--trial-duration", type=_positive_float, default=1000.0, help="length of a repeat in ms"
    )
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_report)


def _add_export_parser(sub) -> None:
    from neurosig.exchange import FORMATS

    p = sub.add_parser("export", help="a Result's recordings as NWB (spikes, trials, traces)")
    p.add_argument("result", help="Result file (.nc)")
    p.add_argument("--format", choices=FORMATS, default="nwb", help="file format (default nwb)")
    p.add_argument("--out", help="output file (default: RESULT with the format's suffix)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(func=cmd_export)


def _add_figures_parser(sub) -> None:
    p = sub.add_parser(
        "figures",
        help="the catalogue's figures of Results and sweep stores, or a study's multi-panel "
        "figure: PDF, SVG, PNG, provenance",
    )
    p.add_argument("inputs", nargs="*", help="Result files (.nc) and sweep stores (.zarr)")
    p.add_argument("--out", default="figures", help="output folder (default: figures)")
    p.add_argument("--only", nargs="+", metavar="NAME", help="these catalogue figures only")
    p.add_argument("--list", action="store_true", help="list the catalogue and exit")
    p.add_argument(
        "--study",
        metavar="SPEC.toml",
        help="a study: one figure of the panels its TOML declares (docs/figures.md), drawn from "
        "its Results and sweeps (sweeps whose store is missing or unfinished are run first)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="with --study: run its sweeps with the study's [quick] changes (fewer seeds, "
        "epochs, samples), into stores of their own; the figure is NAME-quick",
    )
    p.set_defaults(func=cmd_figures)


def cmd_sweep(args: argparse.Namespace) -> int:
    if args.action in ("slurm", "job"):
        return cmd_sweep_array(args)
    from neurosig.atomic import check_writable
    from neurosig.errors import ConfigError, Interrupted
    from neurosig.paired import difference_rows, differences_markdown, write_differences
    from neurosig.sweep import export_sweep, load_sweep, run_sweep, sweep_status

    if args.action == "status":
        print(sweep_status(args.store))
        return 0
    if args.action == "export":
        if args.diffs and Path(args.diffs).suffix not in (".md", ".csv"):
            raise ConfigError(f"--diffs {args.diffs}: give a .md or a .csv file")
        for target in (args.out, args.diffs):
            if target:
                check_writable(target)
        ds = export_sweep(args.store, args.out, _reference_from_arg(args.reference))
        dims = ", ".join(f"{d} {n}" for d, n in ds.sizes.items())
        print(f"{args.out}: {ds.attrs['points_done']} points done ({dims})")
        if "paired_difference" not in ds:
            if args.diffs:
                raise ConfigError(
                    f"{args.store}: no paired differences (no point done, or seeds not paired: "
                    "rerun the sweep into a new --store)"
                )
            if ds.attrs["points_done"]:
                print(
                    f"neurosig: {args.store} was trained with different seeds at each grid point "
                    "(neurosig 0.2.0 or older): no paired differences; rerun it into a new "
                    "--store for them",
                    file=sys.stderr,
                )
            return 0
        rows = difference_rows(ds)
        print("\n" + differences_markdown(rows), end="")
        if args.diffs:
            print(f"differences written to {write_differences(rows, args.diffs)}")
        return 0
    _set_reproducible(args)
    sweep = load_sweep(args.spec)
    store = Path(args.store or Path("results") / "sweeps" / f"{sweep.name}.zarr")
    shape = " x ".join(f"{n} {d}" for d, n in zip(sweep.dims, sweep.shape, strict=True))
    print(f"sweep {sweep.name!r}: {sweep.n_points} points ({shape}) -> {store}", file=sys.stderr)
    try:
        run_sweep(sweep, store, args.executor, workers=args.workers, progress=not args.quiet)
    except KeyboardInterrupt:
        done = sweep_status(store).done if store.exists() else 0
        raise Interrupted(
            f"interrupted; {done} of {sweep.n_points} points are saved in {store}; run the same "
            "command again to run the rest"
        ) from None
    status = sweep_status(store)
    print(status)
    if status.failed:
        print("neurosig: re-run the same command to retry the failed points", file=sys.stderr)
        return 1
    return 0


def _count(minimum: int):
    """An argparse type: an integer >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is below {minimum}")
        return value

    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a finite number above 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neurosig",
        description="Signal propagation: forward-only learning for computational neuroscience.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a preset, a model (its defaults) or a TOML file")
    p.add_argument("spec", help="preset name, model name or experiment TOML file")
    p.add_argument("--dataset", help="digits, mnist1d, fashion-mnist, mnist or npz:PATH")
    p.add_argument("--epochs", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument(
        "--remap-labels",
        action="store_true",
        help="number the distinct training labels 0..K-1 (data.remap_labels; e.g. labels "
        "{0, 5, 9} become 3 classes)",
    )
    p.add_argument(
        "--out",
        help="result file (.nc); default results/NAME-seedS.nc. An existing file is kept: the "
        "run goes to NAME-2.nc (and says so) unless --overwrite",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing file at --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--reproducible",
        action="store_true",
        help="compile Brian2 C++ without -ffast-math and -march=native: the same numbers on "
        "every machine (also NEUROSIG_REPRODUCIBLE=1)",
    )
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("validate", help="check an experiment TOML and print it fully resolved")
    p.add_argument("file")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("models", help="list registered models and presets")
    p.add_argument("--describe", metavar="MODEL", help="list a model's parameters")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("data", help="list data sets, or download one")
    p.add_argument("action", choices=("list", "fetch"))
    p.add_argument("name", nargs="?", default=None, help="mnist or fashion-mnist (for fetch)")
    p.add_argument("--dest", help="folder for fetched files (default: the user cache)")
    p.set_defaults(func=cmd_data)

    _add_report_parser(sub)

    p = sub.add_parser(
        "demo",
        help="train the Brian2 rate and LIF sigprop networks beside SP-core and BP on digits",
    )
    p.add_argument("--out", default="results/demo")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_demo)

    _add_export_parser(sub)

    p = sub.add_parser(
        "audit",
        help="audit a model, untrained: forward-only, local updates, phases, longest interval "
        "(exit 1 if a forward-only or locality check fails)",
    )
    p.add_argument("spec", help="preset name, model name or experiment TOML file")
    p.add_argument("--dataset", help="data set whose sizes the model is built for")
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("sweep", help="parameter sweeps: run (resumable), status, export")
    actions = p.add_subparsers(dest="action", required=True)
    q = actions.add_parser("run", help="run the points of a sweep TOML not yet done in its store")
    q.add_argument("spec", help="sweep TOML file")
    q.add_argument("--store", help="zarr store (a folder); default results/sweeps/NAME.zarr")
    q.add_argument(
        "--executor",
        default="local",
        help="local (process pool, default), dask (a LocalCluster), dask://ADDRESS or slurm",
    )
    q.add_argument("--workers", type=_count(1), help="processes or jobs (default: one per core)")
    q.add_argument("--quiet", action="store_true", help="no progress bar")
    q.add_argument(
        "--reproducible",
        action="store_true",
        help="compile Brian2 C++ without -ffast-math and -march=native (also "
        "NEUROSIG_REPRODUCIBLE=1); a store is resumed in the mode it was started in",
    )
    q = actions.add_parser("status", help="points done, failed and pending in a store")
    q.add_argument("store")
    q = actions.add_parser(
        "export",
        help="write a store as one netCDF Dataset, with paired differences between conditions",
    )
    q.add_argument("store")
    q.add_argument("out", help="netCDF file (.nc)")
    q.add_argument(
        "--reference",
        metavar="FIELD=VALUE,...",
        help="the condition the others are compared with (default: the first grid point); "
        "grid fields left out are matched (each condition against the reference at its own "
        "value of them)",
    )
    q.add_argument("--diffs", metavar="OUT.md|OUT.csv", help="also write the differences table")
    _add_array_parsers(actions)
    p.set_defaults(func=cmd_sweep)

    _add_cache_parser(sub)
    _add_figures_parser(sub)
    return parser


def _quiet_brian2() -> None:
    """An interrupted build leaves Brian2 objects outside any network, and Brian2 warns about
    each as it is collected at exit: noise after a Ctrl-C."""
    if "brian2" in sys.modules:
        logging.getLogger("brian2").setLevel(logging.ERROR)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code: 0 ok, 1 a check failed (``audit``) or points failed
    (``sweep run``), 2 a user error, 130 interrupted (Ctrl-C or SIGTERM).

    Every error the user can cause, and every OSError on the user's files, ends in one line on
    stderr; a traceback means a bug in neurosig and says so.
    """
    from neurosig import interrupts

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "data" and args.action == "fetch" and not args.name:
        parser.error("data fetch needs a NAME (mnist or fashion-mnist)")
    restore = interrupts.install()
    try:
        return args.func(args)
    except NeurosigError as err:
        print(f"neurosig: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"neurosig: error: {os_error_message(err)}", file=sys.stderr)
        return 2
    except MemoryError:
        print(
            "neurosig: error: out of memory; use a smaller model (model.hidden), fewer samples "
            "(data.n_train) or a machine with more memory",
            file=sys.stderr,
        )
        return 2
    except Interrupted as err:
        _quiet_brian2()
        print(f"neurosig: {err}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        _quiet_brian2()
        print("neurosig: interrupted; what finished before is saved", file=sys.stderr)
        return 130
    except Exception:
        if interrupts.requested():  # whatever broke after a Ctrl-C broke because of it
            _quiet_brian2()
            print("neurosig: interrupted; what finished before is saved", file=sys.stderr)
            return 130
        # a bug: say so, and whose (Brian2's hook would blame Brian2)
        traceback.print_exc()
        print(
            "neurosig: internal error: this is a bug in neurosig, not a mistake of yours; "
            "please report it with the traceback above",
            file=sys.stderr,
        )
        return 1
    finally:
        restore()
        sys.excepthook = sys.__excepthook__  # Brian2 installs its own when imported


def run() -> int:
    """The program's entry point (``neurosig``, ``python -m neurosig``): :func:`main` with
    Ctrl-C and SIGTERM handled from the first line, and ignored once the work is over (a late
    Ctrl-C must not turn a finished run into a traceback)."""
    from neurosig import interrupts

    code = 130
    try:
        interrupts.install()
        code = main()
    except KeyboardInterrupt:  # before main() could handle it: nothing has started
        print("neurosig: interrupted before anything started; nothing was written", file=sys.stderr)
    finally:
        interrupts.ignore()
        interrupts.forget_escaped_interrupt()  # else CPython may exit by SIGINT, not with code
    return code


if __name__ == "__main__":
    sys.exit(run())
