"""The report card of the LIF model's default (the cortical regime), with BP and the untrained
network as baselines: ``benchmarks/results/card-lif.md``.

It runs exactly the commands a user would type::

    neurosig train lif --dataset DATA --epochs E --seed S --out DIR/lif-seedS.nc
    neurosig train BP.toml --seed S --out DIR/bp-seedS.nc       # BP, the same architecture
    neurosig report DIR/lif-seed*.nc --baselines DIR/bp-seed*.nc --trials R --out DIR/report

(BP gets the LIF default's hidden layers and the same data, so that the geometry rows compare
like with like), then copies the card's Markdown into ``--out`` under a header with the
commands, the commit and the machine. A Result that already exists in ``--work`` is reused
(a rerun after an interruption trains only what is missing); delete ``--work`` to start over.
The card's activity rows come from the report's trial probe: ``--trials`` repeats of each of
10 test stimuli, ``--trial-duration`` ms each (>= 1 s: the card's spike statistics need it).

Run it from the repository root::

    python benchmarks/card_lif.py                               # fashion-mnist-small, 1 seed
    python benchmarks/card_lif.py --dataset digits --epochs 2 --seeds 3

Rows must come from a commit: with uncommitted changes the script stops unless
``--allow-dirty`` is given.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import common

from neurosig.atomic import write_text_atomic

ROOT = Path(__file__).resolve().parent.parent


def train(args: list[str], out: Path) -> None:
    """``neurosig train ARGS --out OUT`` unless OUT already holds a finished Result."""
    if out.exists():
        import xarray as xr

        with xr.open_dataset(out) as ds:
            if ds.attrs.get("status") == "complete":
                print(f"reusing {out}", flush=True)
                return
    cmd = [sys.executable, "-m", "neurosig", "train", *args, "--out", str(out), "--quiet"]
    print(" ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def bp_spec(work: Path, dataset: str, epochs: int) -> Path:
    """An experiment file for BP with the LIF default's hidden layers on ``dataset``."""
    from neurosig.models.lif import LIFConfig

    hidden = ", ".join(str(n) for n in LIFConfig().hidden)
    path = work / "bp.toml"
    path.write_text(
        f'name = "bp-{dataset}"\n[model]\nname = "bp"\nhidden = [{hidden}]\n'
        f'[data]\nname = "{dataset}"\n[train]\nepochs = {epochs}\n'
    )
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="fashion-mnist-small")
    parser.add_argument("--epochs", type=int, default=1, help="LIF training epochs")
    parser.add_argument("--bp-epochs", type=int, default=20, help="BP training epochs")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--trials", type=int, default=10, help="repeats per stimulus")
    parser.add_argument("--trial-duration", type=float, default=1000.0, help="ms")
    parser.add_argument("--work", type=Path, default=ROOT / "results" / "card-lif")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/card-lif.md")
    common.add_allow_dirty(parser)
    opts = parser.parse_args(argv)
    commit = common.check_clean_tree(parser, opts.allow_dirty)
    opts.work.mkdir(parents=True, exist_ok=True)
    lif, bp = [], []
    bp_toml = bp_spec(opts.work, opts.dataset, opts.bp_epochs)
    for seed in range(opts.seeds):
        lif.append(opts.work / f"lif-seed{seed}.nc")
        train(
            ["lif", "--dataset", opts.dataset, "--epochs", str(opts.epochs), "--seed", str(seed)],
            lif[-1],
        )
        bp.append(opts.work / f"bp-seed{seed}.nc")
        train([str(bp_toml), "--seed", str(seed)], bp[-1])
    report = opts.work / "report"
    cmd = [
        sys.executable, "-m", "neurosig", "report", *map(str, lif), "--baselines", *map(str, bp),
        "--trials", str(opts.trials), "--trial-duration", str(opts.trial_duration),
        "--out", str(report), "--quiet",
    ]  # fmt: skip
    print(" ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)
    card = (report / "report.md").read_text()
    header = [
        "# Report card: the LIF default (cortical regime)",
        "",
        f"Made by `{common.command_line()}` at commit {commit}, {common.utc_now()}.",
        f"LIF: `neurosig train lif --dataset {opts.dataset} --epochs {opts.epochs}` "
        f"(seeds 0-{opts.seeds - 1}); BP: the same hidden layers, {opts.bp_epochs} epochs; "
        f"trial probe: 10 stimuli x {opts.trials} repeats of {opts.trial_duration:g} ms.",
        "",
        *common.machine_lines(),
        "",
    ]
    write_text_atomic(opts.out, "\n".join(header) + "\n" + card)
    print(f"wrote {opts.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
