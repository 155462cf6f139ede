"""Speed of the Brian2 rate model: C++ standalone against the numpy reference integrator.

The rate model (``models/rate.py``) runs the same equations on two back ends: ``standalone``
(Brian2 C++ standalone, compiled once and then run chunk after chunk) and ``reference`` (the
hand-written numpy integrator ``ReferenceIntegrator``). This script measures, at the model's
default ``dt``, ``tau`` and ``presentation`` (read from ``RateConfig()``):

1. training samples/s of a 784-500-10 network, both back ends, interleaved repeat by repeat
   (background load hits both alike) after one warm-up chunk; the ratio is that of the medians;
2. the build + compile time of the standalone program: cold (an empty ``NEUROSIG_CACHE``), warm
   (a new process with the same cache: the generated code is unchanged, make only relinks),
   and, in the full run, a second build inside that process (neurosig frees the previous
   network's Brian2 names first, so the code is unchanged and only relinks);
3. training samples/s against the hidden-layer size (784-H-10), with the synaptic operations
   per second, ``synapses x 2 streams x time steps per sample x samples/s``;
4. evaluation (``predict``) samples/s of the 784-500-10 network.

Inputs are Fashion-MNIST training samples when the files are on this machine, random numbers
otherwise (the cost does not depend on the values). numpy's BLAS gets ``--threads`` threads
(default 1: ``OMP_NUM_THREADS`` and friends are set before numpy loads, as in throughput.py);
the standalone program runs on one thread (neurosig compiles it without OpenMP).

    python benchmarks/speed.py              # full run, about 10 minutes on 2 busy cores
    python benchmarks/speed.py --quick      # smoke test (hidden 50 and 100, tiny chunks)

It prints the tables and writes ``--out`` (Markdown) and ``<out>.csv`` (one row per measurement).
The sweep compiles into neurosig's usual cache (``~/.cache/neurosig`` or ``$NEUROSIG_CACHE``), so
a second run skips those compiles; only the cold-compile measurement uses a fresh directory.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    add_allow_dirty,
    check_clean_tree,
    command_line,
    machine_lines,
    markdown_table,
    package_version,
    utc_now,
    write_csv,
)

from neurosig.atomic import write_text_atomic  # noqa: E402
from neurosig.threads import limit_blas_threads  # noqa: E402

N_IN = 784
N_CLASSES = 10
MAIN_HIDDEN = 500
SWEEP = (100, 250, 500, 1000, 2000)
QUICK_MAIN_HIDDEN = 50
QUICK_SWEEP = (50, 100)
QUICK_CHUNK = 10
TARGETS = ("standalone", "reference")
DEFAULT_OUT = Path(__file__).parent / "results" / "speed.md"
QUICK_OUT = Path(__file__).parent / "results" / "speed-quick.md"
CSV_FIELDS = (
    "section", "hidden", "target", "samples_per_second", "min", "max", "repeats",
    "samples_per_repeat", "chunk", "synapses", "steps_per_sample", "synaptic_ops_per_second",
    "seconds", "cache", "dt_ms", "tau_ms", "presentation_ms", "blas_threads", "inputs",
)  # fmt: skip


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def cache_dir(path: str | Path | None) -> Iterator[None]:
    """Compile into ``path`` (sets ``NEUROSIG_CACHE``; None keeps the current cache)."""
    if path is None:
        yield
        return
    old = os.environ.get("NEUROSIG_CACHE")
    os.environ["NEUROSIG_CACHE"] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("NEUROSIG_CACHE", None)
        else:
            os.environ["NEUROSIG_CACHE"] = old


def load_inputs(n: int) -> tuple[Any, Any, str]:
    """``n`` samples of width 784 with labels: Fashion-MNIST if present, else random."""
    import numpy as np

    from neurosig.errors import DataError

    try:
        from neurosig.data import load_dataset

        data = load_dataset("fashion-mnist", seed=0)
        idx = np.arange(n) % len(data.y_train)  # repeats samples if n is larger
        return data.x_train[idx].astype(float), data.y_train[idx], "Fashion-MNIST (training set)"
    except DataError:
        rng = np.random.default_rng(0)
        return rng.normal(size=(n, N_IN)), np.arange(n) % N_CLASSES, "random normal (784 wide)"


def synapse_count(model: Any) -> int:
    """Plastic synapses of a rate model: every projection but the fixed label signal."""
    return sum(
        len(model.st.conn[name][0]) for name, _, _ in model.st.projections if name != "signal"
    )


def synaptic_ops(synapses: int, steps_per_sample: int, samples_per_second: float) -> float:
    """Synaptic operations per second: synapses x 2 streams x steps per sample x samples/s."""
    return synapses * 2 * steps_per_sample * samples_per_second


def blocks(x: Any, y: Any, size: int) -> Iterator[tuple[Any, Any]]:
    """Consecutive blocks of ``size`` samples, cycling through the data."""
    start = 0
    while True:
        if start + size > len(y):
            start = 0
        yield x[start : start + size], y[start : start + size]
        start += size


def timed(fn: Any, *args: Any) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def measure_size(
    hidden: int,
    x: Any,
    y: Any,
    *,
    chunk: int,
    chunks: int,
    repeats: int,
    predict: bool = False,
) -> dict[str, Any]:
    """Training (and optionally predict) samples/s of 784-``hidden``-10, both targets.

    Both models are built and warmed up (one training chunk; the standalone one compiles then),
    then every repeat trains ``chunks`` chunks on each target in turn.
    """
    import dataclasses

    import numpy as np

    from neurosig.cache import BRIAN, cache_path
    from neurosig.models.rate import RateConfig, build_rate

    base = RateConfig(hidden=(hidden,), chunk=chunk)
    models = {
        t: build_rate(
            dataclasses.replace(base, target=t), N_IN, N_CLASSES, np.random.default_rng(0)
        )
        for t in TARGETS
    }
    rng = np.random.default_rng(1)
    data = blocks(x, y, chunk * chunks)
    warm_x, warm_y = x[:chunk], y[:chunk]
    out: dict[str, Any] = {
        "hidden": hidden,
        "chunk": chunk,
        "repeats": repeats,
        "samples_per_repeat": chunk * chunks,
    }
    sa = models["standalone"]
    project = cache_path(BRIAN) / f"rate-{sa.st.key()}"
    out["cache"] = "existed" if project.exists() else "new"  # the project in the cache
    out["first_chunk_seconds"] = timed(sa.train_batch, warm_x, warm_y, rng)
    out["compile_seconds"] = sa.program.compile_seconds
    models["reference"].train_batch(warm_x, warm_y, rng)

    train: dict[str, list[float]] = {t: [] for t in TARGETS}
    for _ in range(repeats):
        bx, by = next(data)
        for t, model in models.items():
            losses: dict[str, float] = {}

            def step(model=model, bx=bx, by=by, losses=losses):
                losses.update(model.train_batch(bx, by, rng))

            train[t].append(len(by) / timed(step))
            if not all(np.isfinite(v) for v in losses.values()):
                raise RuntimeError(f"{t}, hidden {hidden}: the loss is not finite: {losses}")
    out["train"] = train
    if predict:
        evaluate: dict[str, list[float]] = {t: [] for t in TARGETS}
        for _ in range(repeats):
            bx, _ = next(data)
            for t, model in models.items():
                evaluate[t].append(len(bx) / timed(model.predict, bx))
        out["predict"] = evaluate
    out["synapses"] = synapse_count(sa)
    out["steps_per_sample"] = sa.st.steps_per_sample
    sa.program.cleanup()
    return out


def measure_rebuilds(hidden: int, x: Any, y: Any, chunk: int, builds: int) -> list[float]:
    """Build + compile seconds of ``builds`` standalone programs of one structure, in turn.

    Run in a new process whose cache already holds the project, the first is the warm rebuild
    a new training process pays. Later ones are rebuilds inside the same process.
    """
    import numpy as np

    from neurosig.models.rate import RateConfig, build_rate

    cfg = RateConfig(hidden=(hidden,), chunk=chunk, target="standalone")
    seconds = []
    for _ in range(builds):
        model = build_rate(cfg, N_IN, N_CLASSES, np.random.default_rng(0))
        model.train_batch(x[:chunk], y[:chunk], np.random.default_rng(1))
        model.program.cleanup()
        seconds.append(model.program.compile_seconds)
    return seconds


def worker(spec: dict[str, Any]) -> dict[str, Any] | list[float]:
    """One measurement, in this (fresh) process: see :func:`in_worker`."""
    import numpy as np

    with np.load(spec.pop("data")) as data:
        x, y = data["x"], data["y"]
    with cache_dir(spec.pop("cache")):
        if spec.pop("task") == "rebuilds":
            return measure_rebuilds(spec["hidden"], x, y, spec["chunk"], spec["builds"])
        return measure_size(spec.pop("hidden"), x, y, **spec)


def in_worker(**spec: Any) -> Any:
    """Run :func:`worker` in a new Python process and return its JSON answer.

    Every measurement gets its own process, like every training run: Brian2 keeps one live
    program per process, and a second program built in a process gets renamed objects (a full
    recompile). BLAS thread variables, set by ``main``, reach the worker through the environment.
    """
    import json
    import subprocess

    run = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(spec)],
        capture_output=True,
        text=True,
        env=dict(os.environ),
    )
    if run.returncode:
        raise RuntimeError(f"worker {spec} failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def spread(values: Sequence[float]) -> str:
    return f"{min(values):,.1f}-{max(values):,.1f}"


def ratio(result: dict[str, Any], phase: str = "train") -> float:
    """Standalone samples/s over reference samples/s (medians): > 1 means Brian2 is faster."""
    speeds = result[phase]
    return median(speeds["standalone"]) / median(speeds["reference"])


def main_table(result: dict[str, Any]) -> str:
    rows = []
    for phase, label in (("train", "training"), ("predict", "evaluation (predict)")):
        if phase not in result:
            continue
        ref = median(result[phase]["reference"])
        for t in TARGETS:
            values = result[phase][t]
            rows.append(
                [label, t, f"{median(values):,.1f}", spread(values), f"{median(values) / ref:.2f}"]
            )
    return markdown_table(
        ["phase", "target", "samples/s (median)", "range", "speed (x reference)"], rows
    )


# (CSV name, table label) of every standalone build that is timed
BUILDS = {
    "cold": "cold: empty NEUROSIG_CACHE, new process",
    "warm": "warm: same cache, new process (relink only)",
    "warm-same-process": "rebuild in the same process (cached code, relink only)",
}


def compile_table(builds: dict[str, float]) -> str:
    rows = [[BUILDS[kind], f"{seconds:.1f}"] for kind, seconds in builds.items()]
    return markdown_table(["standalone build", "build + compile (s)"], rows)


def sweep_table(results: Sequence[dict[str, Any]]) -> str:
    rows = []
    for r in results:
        sa, ref = (median(r["train"][t]) for t in TARGETS)
        ops = [synaptic_ops(r["synapses"], r["steps_per_sample"], s) / 1e6 for s in (sa, ref)]
        rows.append([
            f"784-{r['hidden']}-10", f"{r['synapses']:,}", f"{sa:,.1f}", f"{ref:,.1f}",
            f"{sa / ref:.2f}", f"{ops[0]:,.0f}", f"{ops[1]:,.0f}",
            f"{r['repeats']} x {r['samples_per_repeat']}",
            f"{r['compile_seconds']:.1f} ({r['cache']})",
        ])  # fmt: skip
    return markdown_table(
        ["network", "synapses", "standalone samples/s", "reference samples/s",
         "standalone / reference", "standalone Msyn-op/s", "reference Msyn-op/s",
         "repeats x samples", "standalone build s (project)"],
        rows,
    )  # fmt: skip


def csv_rows(
    main: dict[str, Any],
    sweep: Sequence[dict[str, Any]],
    builds: dict[str, float],
    common_fields: dict[str, Any],
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    measured = [("train", r) for r in sweep]
    if not any(r is main for r in sweep):
        measured.insert(0, ("train", main))
    measured.append(("predict", main))
    for phase, r in measured:
        for t in TARGETS:
            values = r[phase][t]
            sps = median(values)
            ops = synaptic_ops(r["synapses"], r["steps_per_sample"], sps)
            rows.append({
                **common_fields, "section": phase, "hidden": r["hidden"], "target": t,
                "samples_per_second": f"{sps:.3f}", "min": f"{min(values):.3f}",
                "max": f"{max(values):.3f}", "repeats": r["repeats"],
                "samples_per_repeat": r["samples_per_repeat"], "chunk": r["chunk"],
                "synapses": r["synapses"], "steps_per_sample": r["steps_per_sample"],
                "synaptic_ops_per_second": f"{ops:.4g}",
                "cache": r["cache"] if t == "standalone" else "",
                "seconds": f"{r['compile_seconds']:.2f}" if t == "standalone" else "",
            })  # fmt: skip
    for kind, seconds in builds.items():
        rows.append(
            {
                **common_fields,
                "section": "compile",
                "hidden": main["hidden"],
                "target": "standalone",
                "cache": kind,
                "seconds": f"{seconds:.2f}",
                "chunk": main["chunk"],
            }
        )
    return rows


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


def plan(args: argparse.Namespace) -> dict[str, Any]:
    """Sizes, chunk and repeats of this run (``--quick`` shrinks everything)."""
    from neurosig.models.rate import RateConfig

    if args.quick:
        return {
            "main": QUICK_MAIN_HIDDEN,
            "sweep": tuple(args.hidden or QUICK_SWEEP),
            "chunk": args.chunk or QUICK_CHUNK,
            "repeats": args.repeats or 1,
        }
    return {
        "main": MAIN_HIDDEN,
        "sweep": tuple(args.hidden or SWEEP),
        "chunk": args.chunk or RateConfig().chunk,
        "repeats": args.repeats or 5,
    }


def chunks_and_repeats(hidden: int, repeats: int, quick: bool) -> tuple[int, int]:
    """Chunks per repeat and repeats at one size: fewer for the big, slow networks."""
    if quick:
        return 1, repeats
    if hidden <= MAIN_HIDDEN:
        return 2, repeats
    if hidden <= 1000:
        return 1, repeats
    return 1, min(repeats, 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: hidden 50 and 100, chunks of 10, one repeat",
    )
    parser.add_argument(
        "--hidden",
        type=int,
        nargs="+",
        help=f"hidden sizes of the sweep (default {' '.join(map(str, SWEEP))})",
    )
    parser.add_argument("--repeats", type=int, help="timed repeats per size (default 5)")
    parser.add_argument(
        "--chunk", type=int, help="samples per Brian2 run (default: RateConfig().chunk)"
    )
    parser.add_argument("--threads", type=int, default=1, help="numpy BLAS threads (default 1)")
    parser.add_argument(
        "--out",
        type=Path,
        help="Markdown file (and <out>.csv); default "
        "benchmarks/results/speed.md (speed-quick.md with --quick)",
    )
    add_allow_dirty(parser)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        import json

        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    # before numpy loads here and in the workers, so that BLAS starts with this many threads
    limit_blas_threads(args.threads)
    check_clean_tree(parser, args.allow_dirty)

    import numpy as np

    from neurosig.models.rate import RateConfig

    p = plan(args)
    out = args.out or (QUICK_OUT if args.quick else DEFAULT_OUT)
    defaults = RateConfig()
    chunk = p["chunk"]
    main_chunks, main_repeats = chunks_and_repeats(p["main"], p["repeats"], args.quick)
    x, y, inputs = load_inputs(chunk * (1 + 2 * main_repeats * main_chunks))
    steps = round(defaults.presentation / defaults.dt)
    print(
        f"rate model, dt = {defaults.dt:g} ms, tau = {defaults.tau:g} ms, presentation = "
        f"{defaults.presentation:g} ms ({steps} steps/sample), chunk {chunk}; inputs: "
        f"{inputs}; numpy BLAS threads: {args.threads}",
        flush=True,
    )

    with tempfile.TemporaryDirectory(prefix="neurosig-speed-") as tmp:
        data = str(Path(tmp) / "inputs.npz")
        np.savez(data, x=x, y=y)
        fresh = str(Path(tmp) / "cache")  # the cold compile's empty cache
        print(f"\n784-{p['main']}-10: cold compile, training and predict ...", flush=True)
        main_result = in_worker(
            task="size",
            data=data,
            cache=fresh,
            hidden=p["main"],
            chunk=chunk,
            chunks=main_chunks,
            repeats=main_repeats,
            predict=True,
        )
        print("rebuilds with the same cache ...", flush=True)
        again = in_worker(
            task="rebuilds",
            data=data,
            cache=fresh,
            hidden=p["main"],
            chunk=chunk,
            builds=1 if args.quick else 2,
        )
        builds = dict(zip(BUILDS, [main_result["compile_seconds"], *again], strict=False))
        text_main, text_compile = main_table(main_result), compile_table(builds)
        print(f"\n{text_main}\n\n{text_compile}\n", flush=True)

        sweep = []
        for hidden in p["sweep"]:
            if hidden == p["main"]:
                sweep.append(main_result)
                continue
            chunks, repeats = chunks_and_repeats(hidden, p["repeats"], args.quick)
            print(f"784-{hidden}-10: {repeats} x {chunks} chunk(s) ...", flush=True)
            r = in_worker(
                task="size",
                data=data,
                cache=None,
                hidden=hidden,
                chunk=chunk,
                chunks=chunks,
                repeats=repeats,
            )
            print(
                f"  standalone {median(r['train']['standalone']):,.1f} samples/s, reference "
                f"{median(r['train']['reference']):,.1f} samples/s, ratio {ratio(r):.2f} "
                f"(build {r['compile_seconds']:.1f} s, {r['cache']})",
                flush=True,
            )
            sweep.append(r)
    text_sweep = sweep_table(sweep)
    print(f"\n{text_sweep}", flush=True)

    summary = (
        f"standalone / reference at 784-{p['main']}-10: training {ratio(main_result):.2f}, "
        f"evaluation {ratio(main_result, 'predict'):.2f} (> 1: Brian2 faster than numpy; "
        "the issue's target is >= 1)"
    )
    print(f"\n{summary}")
    parts = [
        "# Speed of the rate model: Brian2 C++ standalone vs the numpy reference integrator",
        "",
        f"- date: {utc_now()}",
        f"- command: `{command_line()}`",
        *machine_lines(),
        f"- brian2 {package_version('brian2')}",
        f"- threads: numpy BLAS limited to {args.threads} (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, "
        "MKL_NUM_THREADS... set before numpy loads, as throughput.py does); the standalone "
        "program runs on one thread (no OpenMP)",
        f"- model: `RateConfig()` defaults dt = {defaults.dt:g} ms, tau = {defaults.tau:g} ms, "
        f"presentation = {defaults.presentation:g} ms ({steps} time steps per sample), rule "
        f"{defaults.rule}, target_branch {defaults.target_branch}, update {defaults.update}; "
        f"one hidden layer; {chunk} samples per Brian2 run (chunk)",
        f"- inputs: {inputs}",
        "- protocol: every network in its own process; one warm-up chunk (the standalone "
        "program compiles then), then repeats alternating standalone and reference on the same "
        "samples; median and range over repeats; ratios are ratios of medians",
        "",
        f"**{summary}.**",
        "",
        f"## 1. Training and evaluation, 784-{p['main']}-10",
        "",
        f"{main_repeats} repeat(s) of {main_chunks * chunk} samples per target and phase.",
        "",
        text_main,
        "",
        f"## 2. Build and compile time of the standalone program, 784-{p['main']}-10",
        "",
        "`model.program.compile_seconds`: Brian2 code generation, the C++ compile and link. "
        "A second program built in the same process reuses the cached code too: neurosig "
        "frees the previous program's Brian2 names first, so no `_1` suffix changes the code.",
        "",
        text_compile,
        "",
        "## 3. Training speed against the hidden-layer size",
        "",
        "Synaptic operations per second (Msyn-op/s, millions) = plastic synapses (input-hidden "
        "and hidden-readout) x 2 streams x time steps per sample x samples/s; learning updates "
        "are not counted. The last column is the standalone program's build + compile time in "
        "this run; `existed`: the cache held the project already (it may still recompile "
        "when the cached code came from a differently named build).",
        "",
        text_sweep,
        "",
    ]
    write_text_atomic(out, "\n".join(parts))
    common_fields = {
        "dt_ms": defaults.dt, "tau_ms": defaults.tau, "presentation_ms": defaults.presentation,
        "blas_threads": args.threads, "inputs": inputs,
    }  # fmt: skip
    write_csv(
        out.with_suffix(".csv"), csv_rows(main_result, sweep, builds, common_fields), CSV_FIELDS
    )
    print(f"\nwritten to {out} and {out.with_suffix('.csv')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
