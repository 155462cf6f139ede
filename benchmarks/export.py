"""Writing a Result as NWB, and as a Neo block: time and size for the LIF default.

Trains the LIF model with its defaults (the cortical regime, 500 hidden units, dt 0.1 ms) on
MNIST-1D for one epoch on ``--n-train`` samples, recording ``--samples`` test samples (spikes
and membrane traces; ``chunk`` is raised to match, since one compiled batch is recorded), then
times ``neurosig.exchange.write_nwb`` and ``neurosig.results.to_neo`` ``--repeats`` times and
prints the medians beside the issue's bars (NWB: under 10 s and 50 MB for 1,000 samples).

    python benchmarks/export.py --out benchmarks/results/export.md
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import common


def main(argv: list[str] | None = None) -> int:
    from neurosig.config import load_experiment
    from neurosig.exchange import write_nwb
    from neurosig.results import load_result, save_result, spikes, to_neo
    from neurosig.train import train

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=1000, help="recorded test samples")
    parser.add_argument("--n-train", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="benchmarks/results/export.md")
    common.add_allow_dirty(parser)
    opts = parser.parse_args(argv)
    commit = common.check_clean_tree(parser, opts.allow_dirty)

    exp = load_experiment("lif").replace(
        data_name="mnist1d", data_n_train=opts.n_train, train_epochs=1,
        train_record_samples=opts.samples, model_chunk=opts.samples, train_seed=0,
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        result = Path(folder) / "lif.nc"
        print(f"training {exp.model} ({exp.data.name}, {opts.samples} recorded samples) ...")
        save_result(train(exp, progress=False), result)
        ds = load_result(result)
        rec = spikes(ds, 1)
        nwb_s, neo_s = [], []
        for k in range(opts.repeats):
            start = time.perf_counter()
            path = write_nwb(ds, Path(folder) / f"run{k}.nwb")
            nwb_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            block = to_neo(ds)
            neo_s.append(time.perf_counter() - start)
        size = path.stat().st_size / 1e6
        result_size = result.stat().st_size / 1e6
    trains = sum(len(seg.spiketrains) for seg in block.segments)
    rows = [
        ["NWB write (s)", f"{statistics.median(nwb_s):.2f}", "< 10",
         "pass" if statistics.median(nwb_s) < 10 else "FAIL"],
        ["NWB size (MB)", f"{size:.1f}", "< 50", "pass" if size < 50 else "FAIL"],
        ["Result size (MB, netCDF)", f"{result_size:.1f}", "", ""],
        [f"to_neo (s, {trains} SpikeTrains)", f"{statistics.median(neo_s):.2f}", "", ""],
    ]  # fmt: skip
    table = common.markdown_table(["measure", "median", "bar", ""], rows)
    intro = (
        f"{opts.samples} recorded test samples of MNIST-1D, {rec.n_units} hidden units, "
        f"{rec.time.size} spikes, membrane traces of the traced units; median of "
        f"{opts.repeats} writes. Commit {commit}."
    )
    common.write_report(opts.out, "NWB and Neo export of the LIF default", intro, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
