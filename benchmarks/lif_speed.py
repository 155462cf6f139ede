"""Speed of the Brian2 LIF model (C++ standalone, one core): samples/s, compile time, spikes.

The LIF model (``models/lif.py``, the defaults of ``LIFConfig``, the cortical regime: Poisson
input from 5 units per feature, background, Dale's law, two compartments, sp-voltage,
dt = 0.1 ms, 50 ms per sample) is compiled once per network and fed
chunks of samples. This script measures, on one core (the program is compiled without OpenMP):

1. training samples/s of a 784-500-10 network (the number the issue asks for), the median over
   ``--repeats`` timed chunks after one warm-up chunk, and evaluation samples/s;
2. the build + compile time: cold (an empty ``NEUROSIG_CACHE``) and warm (a new process with
   the same cache: make only relinks);
3. training samples/s against the hidden size (784-H-10) and against the presentation time,
   with the spikes per sample (input: data + target streams; hidden: both compartments).

Inputs are Fashion-MNIST training samples (standardised, as the presets use them) when the
files are on this machine, random numbers otherwise.

    python benchmarks/lif_speed.py            # full run, about 10 minutes
    python benchmarks/lif_speed.py --quick    # smoke test (small networks, short chunks)

It prints the tables and writes ``--out`` (Markdown) and ``<out>.csv``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
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
from speed import load_inputs  # noqa: E402  (Fashion-MNIST samples, or random numbers)

from neurosig.atomic import write_text_atomic  # noqa: E402
from neurosig.threads import limit_blas_threads  # noqa: E402

DEFAULT_OUT = Path(__file__).parent / "results" / "lif-speed.md"
TARGET_SAMPLES_PER_SECOND = 250.0  # issue 4, 784-500-10 at 50 ms / 0.1 ms on one core
CSV_FIELDS = (
    "section", "regime", "hidden", "presentation_ms", "dt_ms", "phase", "samples_per_second",
    "min", "max",
    "repeats", "chunk", "input_spikes_per_sample", "hidden_spikes_per_sample", "compile_seconds",
)  # fmt: skip


def measure(
    hidden: int, presentation: float, chunk: int, repeats: int, x, y, regime: str = "default"
) -> dict[str, Any]:
    """Build one network, warm it up, time ``repeats`` training chunks and one evaluation.

    ``regime``: ``"default"`` (the cortical regime) or ``"current-driven"``
    (``models.lif.CURRENT_DRIVEN``, the default of 0.4.0)."""
    import numpy as np

    from neurosig.models.lif import CURRENT_DRIVEN, LIFConfig, build_lif
    from neurosig.models.lif_input import make_chunk
    from neurosig.models.lif_network import FAR

    fields = CURRENT_DRIVEN if regime == "current-driven" else {}
    cfg = LIFConfig(hidden=(hidden,), presentation=presentation, chunk=chunk, **fields)
    rng = np.random.default_rng(0)
    model = build_lif(cfg, x.shape[1], 10, rng)
    start = time.perf_counter()
    model.ensure_program()
    compile_seconds = time.perf_counter() - start
    model.run_chunk(x[:chunk], y[:chunk], rng, learn=True)  # warm-up
    times, hidden_spikes = [], []
    for r in range(repeats):
        sl = slice((r + 1) * chunk, (r + 2) * chunk)
        t0 = time.perf_counter()
        out = model.run_chunk(x[sl], y[sl], rng, learn=True)
        times.append(time.perf_counter() - t0)
        hidden_spikes.append(float(out["counts"][0].sum()) / chunk)
    t0 = time.perf_counter()
    model.run_chunk(x[:chunk], None, rng, learn=False)
    eval_time = time.perf_counter() - t0
    # input spikes of one training chunk (both streams), from the replayed tables
    tables = make_chunk(model.st, model.state["signal.w"], x[:chunk], y[:chunk], rng).timed
    n_in = sum(int((v < FAR).sum()) for k, v in tables.items() if k.startswith("tab_"))
    # the hidden counts are of the data compartment; the target compartment spikes as well
    rates = [chunk / t for t in times]
    return {
        "regime": regime,
        "hidden": hidden,
        "presentation_ms": presentation,
        "dt_ms": cfg.dt,
        "chunk": chunk,
        "repeats": repeats,
        "train": rates,
        "predict": chunk / eval_time,
        "input_spikes_per_sample": n_in / chunk,
        "hidden_spikes_per_sample": statistics.median(hidden_spikes),
        "compile_seconds": compile_seconds,
    }


def warm_compile_seconds(chunk: int, cache: str) -> float:
    """Build + compile time of 784-500-10 in a new process that finds the cache filled."""
    code = (
        "import time, numpy as np\n"
        "from neurosig.models.lif import LIFConfig, build_lif\n"
        f"cfg = LIFConfig(chunk={chunk})\n"
        "m = build_lif(cfg, 784, 10, np.random.default_rng(0))\n"
        "t = time.perf_counter(); m.ensure_program(); print(time.perf_counter() - t)\n"
    )
    env = dict(os.environ, NEUROSIG_CACHE=cache)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke test: small networks, chunks of 20")
    p.add_argument("--hidden", type=int, nargs="+", default=[100, 500, 1000, 2000])
    p.add_argument("--presentations", type=float, nargs="+", default=[20.0, 50.0, 100.0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--chunk", type=int, default=200)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    add_allow_dirty(p)
    args = p.parse_args()
    limit_blas_threads(1)
    check_clean_tree(p, args.allow_dirty)
    main_hidden = 500
    if args.quick:
        args.hidden, args.presentations, args.repeats, args.chunk = [50, 100], [20.0], 1, 20
        main_hidden = 100
    x, y, inputs = load_inputs(args.chunk * (args.repeats + 2))

    # 1-2. the 784-500-10 network: cold compile in a fresh cache, then warm in a new process
    cold_cache = tempfile.mkdtemp(prefix="neurosig-cold-")
    old = os.environ.get("NEUROSIG_CACHE")
    os.environ["NEUROSIG_CACHE"] = cold_cache
    main = measure(main_hidden, 50.0, args.chunk, args.repeats, x, y)
    if old is None:
        os.environ.pop("NEUROSIG_CACHE")
    else:
        os.environ["NEUROSIG_CACHE"] = old
    warm = warm_compile_seconds(args.chunk, cold_cache) if not args.quick else float("nan")
    current = measure(main_hidden, 50.0, args.chunk, args.repeats, x, y, regime="current-driven")

    # 3. sweeps (the usual cache: a second run of the script skips these compiles)
    by_hidden = [main] + [
        measure(h, 50.0, args.chunk, args.repeats, x, y) for h in args.hidden if h != main_hidden
    ]
    by_hidden.sort(key=lambda r: r["hidden"])
    by_time = [
        measure(main_hidden, t, args.chunk, args.repeats, x, y)
        for t in args.presentations
        if t != 50.0
    ] + [main]
    by_time.sort(key=lambda r: r["presentation_ms"])

    med = statistics.median(main["train"])
    lines = [
        "# Speed of the Brian2 LIF model (C++ standalone, one core)",
        "",
        f"- generated {utc_now()} by `{command_line()}`",
        f"- brian2 {package_version('brian2')}, inputs: {inputs}",
        *machine_lines(),
        "- LIFConfig defaults (the cortical regime: Poisson input, 5 units per feature, "
        "background, Dale's law, two compartments, sp-voltage, dt 0.1 ms, target branch every "
        "10 samples), chunks of "
        f"{args.chunk} samples, median of {args.repeats} "
        "timed chunks after one warm-up chunk; wall time of whole chunks (input tables, "
        "file I/O, the C++ run)",
        "",
        f"## 784-{main_hidden}-10 at 50 ms per sample, dt = {main['dt_ms']} ms",
        "",
        markdown_table(
            ["phase", "samples/s (median)", "range", f"vs target {TARGET_SAMPLES_PER_SECOND:g}/s"],
            [
                [
                    "training",
                    f"{med:,.1f}",
                    f"{min(main['train']):,.1f}-{max(main['train']):,.1f}",
                    f"{med / TARGET_SAMPLES_PER_SECOND:.2f}x",
                ],
                [
                    "evaluation",
                    f"{main['predict']:,.1f}",
                    "1 chunk",
                    f"{main['predict'] / TARGET_SAMPLES_PER_SECOND:.2f}x",
                ],
                [
                    "training, the current-driven form of 0.4.0 (`CURRENT_DRIVEN`)",
                    f"{statistics.median(current['train']):,.1f}",
                    f"{min(current['train']):,.1f}-{max(current['train']):,.1f}",
                    f"{statistics.median(current['train']) / TARGET_SAMPLES_PER_SECOND:.2f}x",
                ],
            ],
        ),  # fmt: skip
        "",
        markdown_table(
            ["standalone build", "build + compile (s)"],
            [
                ["cold: empty NEUROSIG_CACHE", f"{main['compile_seconds']:.1f}"],
                ["warm: same cache, new process (relink only)", f"{warm:.1f}"],
            ],
        ),  # fmt: skip
        "",
        "## Against the hidden size (50 ms per sample)",
        "",
        sweep_table(by_hidden),
        "",
        f"## Against the presentation time (784-{main_hidden}-10)",
        "",
        sweep_table(by_time),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    write_text_atomic(args.out, text)
    rows = []
    for section, results in (
        ("hidden", by_hidden), ("presentation", by_time), ("current", [current])
    ):  # fmt: skip
        for r in results:
            for phase in ("train", "predict"):
                vals = r[phase] if phase == "train" else [r[phase]]
                rows.append({
                    "section": section, "regime": r["regime"], "hidden": r["hidden"],
                    "presentation_ms": r["presentation_ms"], "dt_ms": r["dt_ms"],
                    "phase": phase, "samples_per_second": statistics.median(vals),
                    "min": min(vals), "max": max(vals), "repeats": len(vals),
                    "chunk": r["chunk"], "input_spikes_per_sample": r["input_spikes_per_sample"],
                    "hidden_spikes_per_sample": r["hidden_spikes_per_sample"],
                    "compile_seconds": r["compile_seconds"],
                })  # fmt: skip
    write_csv(args.out.with_suffix(".csv"), rows, CSV_FIELDS)
    return 0


def sweep_table(results: list[dict[str, Any]]) -> str:
    rows = [
        [
            f"784-{r['hidden']}-10", f"{r['presentation_ms']:g}",
            f"{statistics.median(r['train']):,.1f}", f"{r['predict']:,.1f}",
            f"{r['input_spikes_per_sample']:,.0f}", f"{r['hidden_spikes_per_sample']:,.0f}",
            f"{r['compile_seconds']:.1f}",
        ]
        for r in results
    ]  # fmt: skip
    return markdown_table(
        ["network", "presentation (ms)", "training samples/s", "evaluation samples/s",
         "input spikes / sample (both streams)", "hidden spikes / sample (data)",
         "build + compile (s)"],
        rows,
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
