"""Training throughput of every numpy model on one network, measured interleaved.

``accuracy.py`` times whole runs, one after another or two at a time, so its speed ratios
carry whatever else the machine did meanwhile. Here each model trains the same mini-batches in
turn, round after round (``--rounds``), and the ratio to backprop is the ratio of the medians:
background load hits every model alike. Data are random (throughput does not depend on them).

    python benchmarks/throughput.py --network mnist1d          # 40-1024-1024-10
    python benchmarks/throughput.py --network fashion-mnist    # 784-1024-1024-10
    python benchmarks/throughput.py --threads 1 2              # BLAS threads to compare

It prints one Markdown table per thread count and writes them to ``--out``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    add_allow_dirty,
    check_clean_tree,
    command_line,
    machine_lines,
    markdown_table,
    utc_now,
)

from neurosig.atomic import write_text_atomic  # noqa: E402
from neurosig.threads import limit_blas_threads  # noqa: E402

NETWORKS = {"mnist1d": 40, "fashion-mnist": 784}
ROWS = (
    ("bp", "bp", {}),
    ("fa", "fa", {}),
    ("dfa", "dfa", {}),
    ("ff", "ff", {}),
    ("random-features", "random-features", {}),
    ("sp-core (per_class, cosine)", "sp-core", {}),
    ("sp-core per_class, dot", "sp-core", {"model_similarity": "dot", "model_temperature": 1.0}),
    ("sp-core topk", "sp-core", {"model_loss": "topk"}),
    ("sp-core max_rand", "sp-core", {"model_loss": "max_rand"}),
    ("sp-core max_all", "sp-core", {"model_loss": "max_all"}),
)


def measure(network: str, rounds: int, batches: int) -> dict[str, list[float]]:
    """Samples/s of every row, ``rounds`` interleaved measurements each (this process)."""
    import time

    import numpy as np

    from neurosig.config import load_experiment
    from neurosig.registry import get_model

    n_in = NETWORKS[network]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128 * batches, n_in)).astype(np.float32)
    y = np.arange(len(x)) % 10
    models = {}
    for label, model, changes in ROWS:
        exp = load_experiment(f"{model}-{network}").replace(**changes)
        models[label] = get_model(model).build(exp.params, n_in, 10, np.random.default_rng(0))
    speeds: dict[str, list[float]] = {label: [] for label in models}
    for r in range(rounds + 1):
        for label, net in models.items():
            start = time.perf_counter()
            for b in range(0, len(x), 128):
                net.train_batch(x[b : b + 128], y[b : b + 128], rng)
            if r:  # round 0 warms caches and allocators
                speeds[label].append(len(x) / (time.perf_counter() - start))
    return speeds


def table(speeds: dict[str, list[float]]) -> str:
    import statistics

    bp = statistics.median(speeds["bp"])
    rows = []
    for label, values in speeds.items():
        med = statistics.median(values)
        rows.append(
            [label, f"{med:,.0f}", f"{min(values):,.0f}-{max(values):,.0f}", f"{bp / med:.2f}"]
        )
    return markdown_table(["model", "samples/s (median)", "range", "time/sample (x BP)"], rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", choices=sorted(NETWORKS), default="mnist1d")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batches", type=int, default=30, help="mini-batches of 128 per round")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="Markdown file (default benchmarks/results/throughput-NETWORK.md)",
    )
    add_allow_dirty(parser)
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        # a fresh process per thread count: BLAS reads its thread count when numpy loads
        import json

        print(json.dumps(measure(args.network, args.rounds, args.batches)))
        return 0

    import json
    import os

    import numpy  # noqa: F401  (loaded so that the header names numpy's BLAS)

    check_clean_tree(parser, args.allow_dirty)

    out = args.out or Path(__file__).parent / "results" / f"throughput-{args.network}.md"
    hidden = "1024-1024"
    parts = [
        f"# Training throughput, {args.network} network ({NETWORKS[args.network]}-{hidden}-10)",
        "",
        f"- date: {utc_now()}",
        f"- command: `{command_line()}`",
        *machine_lines(),
        f"- {args.rounds} interleaved rounds of {args.batches} mini-batches of 128; "
        "median and range over rounds",
        "",
    ]
    for n in args.threads:
        limit_blas_threads(n)
        run = subprocess.run(
            [
                sys.executable,
                __file__,
                "--network",
                args.network,
                "--rounds",
                str(args.rounds),
                "--batches",
                str(args.batches),
                "--worker",
                str(n),
            ],
            capture_output=True,
            text=True,
            env=dict(os.environ),
            check=True,
        )
        text = table(json.loads(run.stdout))
        parts += [f"## {n} BLAS thread{'s' if n > 1 else ''}", "", text, ""]
        print(f"\n{n} BLAS thread(s)\n{text}", flush=True)
    write_text_atomic(out, "\n".join(parts))
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
