"""Kill ``neurosig train`` and ``neurosig sweep run`` at random points: is anything lost?

Each case starts the real command in its own process group and, after a random delay, sends
SIGKILL (nothing can be cleaned up) or SIGINT (Ctrl-C, to the whole group, as a terminal does)
to the group. Then it checks what a user would find:

- **train** (``--out run.nc`` where a good Result already is): ``run.nc`` is byte-identical
  (without ``--overwrite``; the new run goes to ``run-2.nc``) or a readable Result (with
  ``--overwrite``); every ``.nc`` in the folder loads; after SIGINT the exit code is 130, the
  message says which epochs are saved, and the file says ``status = "interrupted"`` with that
  many epochs.
- **sweep** (one store killed again and again, then run to the end): every point done before a
  kill is still done, with a byte-identical Result file; the store opens; the last run finishes
  every point.
- **both**: no traceback on stderr; temporary files a kill left are removed by the next write
  (:func:`neurosig.atomic.reclaim_temporaries`).

``--kills 60`` draws the cases (train, train --overwrite and sweep; SIGKILL and SIGINT), prints
a table and writes it with the counts::

    python benchmarks/faults.py --kills 60 --out benchmarks/results/faults.md

tests/test_faults.py runs a few of the same cases in the default test run.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import common

from neurosig.atomic import write_text_atomic

EPOCHS = 8
SWEEP_POINTS = 6
SIGNALS = {"SIGKILL": signal.SIGKILL, "SIGINT": signal.SIGINT}


@dataclass
class Case:
    """One kill and what it left."""

    kind: str  # train, train --overwrite, sweep
    signal: str
    delay: float  # seconds after the start
    returncode: int | None = None
    reached: str = ""  # how far the run got: epochs saved, points done
    problems: list[str] = field(default_factory=list)
    reclaimed: int = 0  # temporary files the kill left, removed by the next write


def neurosig(*args: str) -> list[str]:
    return [sys.executable, "-m", "neurosig", *args]


def make_data(folder: Path, n_train: int = 3000) -> Path:
    """Three Gaussian classes in 20 dimensions: a few seconds of SP-core over 8 epochs."""
    import numpy as np

    rng = np.random.default_rng(0)
    centres = rng.normal(scale=2, size=(3, 20))
    y_train, y_test = rng.integers(0, 3, n_train), rng.integers(0, 3, 300)
    path = folder / "blobs.npz"
    np.savez(
        path,
        x_train=centres[y_train] + rng.normal(size=(n_train, 20)),
        y_train=y_train,
        x_test=centres[y_test] + rng.normal(size=(300, 20)),
        y_test=y_test,
    )
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_killed(cmd: list[str], cwd: Path, delay: float, sig: int) -> tuple[int, str]:
    """Start ``cmd`` in its own process group, signal the group after ``delay`` s (if still
    running) and return its exit code and stderr."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=env,
    )
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, sig)
    _, err = proc.communicate(timeout=300)
    if sig == signal.SIGKILL:  # pool workers or Brian2 binaries the group left behind
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return proc.returncode, err


def check_stderr(case: Case, err: str) -> None:
    if "Traceback" in err:
        case.problems.append("traceback: " + err.strip().splitlines()[-1][:120])
    if case.signal == "SIGINT" and case.returncode not in (0, 130):
        case.problems.append(f"exit code {case.returncode} after SIGINT (expected 130 or 0)")


def reclaim(folder: Path, case: Case) -> None:
    """What the next write does: remove the kill's temporary files; none may remain."""
    from neurosig.atomic import reclaim_temporaries

    for part in list(folder.rglob(".*.part")):
        name = part.name[1:].split(".")
        # .NAME.SUFFIX.HOST.PID.RANDOM.part -> NAME.SUFFIX (the target's name holds one dot)
        target = part.with_name(".".join(name[:-4]))
        case.reclaimed += len(reclaim_temporaries(target))
    left = [p.name for p in folder.rglob(".*.part")]
    left += [p.name for p in folder.rglob("*.partial")]  # zarr's own, inside a store
    if left:
        case.problems.append(f"temporary files not reclaimed: {left}")


def train_case(work: Path, data: Path, good: Path, case: Case) -> Case:
    """Kill a training run whose ``--out`` holds a good Result."""
    from neurosig.results import load_result

    folder = Path(tempfile.mkdtemp(prefix="train-", dir=work))
    out = folder / "run.nc"
    shutil.copy2(good, out)
    before = digest(out)
    overwrite = case.kind.endswith("--overwrite")
    cmd = neurosig(
        "train", "sp-core", "--dataset", f"npz:{data}", "--epochs", str(EPOCHS), "--quiet",
        "--out", str(out), *(["--overwrite"] if overwrite else []),
    )  # fmt: skip
    case.returncode, err = run_killed(cmd, folder, case.delay, SIGNALS[case.signal])
    check_stderr(case, err)
    if not overwrite and digest(out) != before:
        case.problems.append("run.nc (the earlier good Result) changed")
    new = out if overwrite else folder / "run-2.nc"
    for path in sorted(folder.glob("*.nc")):
        try:
            ds = load_result(path)
        except Exception as exc:  # the point of this script: anything unreadable is a loss
            case.problems.append(f"{path.name} unreadable: {exc}")
            continue
        if path == new and digest(path) != before:
            epochs = ds.sizes.get("epoch", 0)
            case.reached = f"{epochs} epochs, {ds.attrs.get('status')}"
            if case.returncode == 130 and "saved in" in err:
                claimed = err.split("epochs 1-")[-1].split()[0]
                if ds.attrs.get("status") != "interrupted" or str(epochs) != claimed:
                    case.problems.append(
                        f"message says epochs 1-{claimed} saved, file holds {epochs} with "
                        f"status {ds.attrs.get('status')!r}"
                    )
    if not case.reached:
        case.reached = "no epoch saved"
    reclaim(folder, case)
    shutil.rmtree(folder, ignore_errors=True)
    return case


def write_sweep_spec(folder: Path, data: Path) -> Path:
    base = folder / "base.toml"
    base.write_text(
        f'name = "faults"\nmodel = "sp-core"\n[data]\nname = "npz:{data}"\n[train]\nepochs = 3\n'
    )
    lrs = ", ".join(f"{1e-3 * (k + 1):g}" for k in range(SWEEP_POINTS))
    spec = folder / "sweep.toml"
    spec.write_text(f'name = "faults"\nbase = "{base}"\nseeds = 1\n[grid]\nlr = [{lrs}]\n')
    return spec


def done_points(store: Path) -> dict[str, str]:
    """Result file -> digest for every point the store marks done."""
    import zarr

    if not (store / "zarr.json").exists():
        return {}
    group = zarr.open_group(str(store), mode="r", zarr_format=3)
    status = group["status"][...].ravel()
    return {
        f"{n}.nc": digest(store / "results" / f"{n}.nc")
        for n in range(status.size)
        if status[n] == 1
    }


def sweep_cases(work: Path, data: Path, cases: list[Case]) -> list[Case]:
    """Kill one store's sweep again and again, then finish it; a new store when one is done."""
    from neurosig.sweep import sweep_status

    folder = Path(tempfile.mkdtemp(prefix="sweep-", dir=work))
    spec = write_sweep_spec(folder, data)
    n_store = 0
    for case in cases:
        store = folder / f"s{n_store}.zarr"
        before = done_points(store)
        cmd = neurosig("sweep", "run", str(spec), "--store", str(store), "--workers", "1",
                       "--quiet")  # fmt: skip
        case.returncode, err = run_killed(cmd, folder, case.delay, SIGNALS[case.signal])
        check_stderr(case, err)
        after = {}
        try:
            if store.exists():
                sweep_status(store)
            after = done_points(store)
        except Exception as exc:
            case.problems.append(f"store unreadable: {exc}")
        lost = [name for name, d in before.items() if after.get(name) != d]
        if lost:
            case.problems.append(f"points lost or changed: {lost}")
        case.reached = f"{len(after)}/{SWEEP_POINTS} points"
        reclaim(folder, case)
        if len(after) == SWEEP_POINTS:
            n_store += 1
    for k in range(n_store + 1):  # every store must finish
        store = folder / f"s{k}.zarr"
        done = subprocess.run(
            neurosig("sweep", "run", str(spec), "--store", str(store), "--workers", "1", "--quiet"),
            capture_output=True,
            text=True,
        )
        if done.returncode != 0 or len(done_points(store)) != SWEEP_POINTS:
            cases[-1].problems.append(f"{store.name} does not finish: {done.stderr[-200:]}")
    shutil.rmtree(folder, ignore_errors=True)
    return cases


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def draw_cases(kills: int, train_seconds: float, sweep_seconds: float, seed: int) -> list[Case]:
    """``kills`` cases: a third each of train, train --overwrite and sweep, half of each with
    SIGKILL, at delays uniform over the unkilled run's duration."""
    import numpy as np

    rng = np.random.default_rng(seed)
    kinds = ["train", "train --overwrite", "sweep"]
    cases = []
    for k in range(kills):
        kind = kinds[k % 3]
        length = sweep_seconds if kind == "sweep" else train_seconds
        cases.append(
            Case(
                kind=kind,
                signal=("SIGKILL", "SIGINT")[(k // 3) % 2],
                delay=float(rng.uniform(0.05, 1.05) * length),
            )
        )
    return cases


def run_cases(cases: list[Case], work: Path) -> list[Case]:
    """Run ``cases`` (train ones on their own, sweep ones on one chain of stores)."""
    from neurosig.train import train

    data = make_data(work)
    good = work / "good.nc"
    if not good.exists():
        from neurosig.config import command_experiment

        train(command_experiment("sp-core", dataset=f"npz:{data}", epochs=2), out=good,
              progress=False)  # fmt: skip
    for case in cases:
        if case.kind.startswith("train"):
            train_case(work, data, good, case)
    sweep_cases(work, data, [c for c in cases if c.kind == "sweep"])
    return cases


def table(cases: list[Case]) -> str:
    rows = [
        [
            c.kind,
            c.signal,
            f"{c.delay:.2f}",
            str(c.returncode),
            c.reached,
            str(c.reclaimed),
            "; ".join(c.problems) or "none",
        ]
        for c in cases
    ]
    headers = ["run", "signal", "after (s)", "exit", "reached", "temporaries reclaimed", "lost"]
    return common.markdown_table(headers, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/faults.md"))
    common.add_allow_dirty(parser)
    args = parser.parse_args(argv)
    commit = common.check_clean_tree(parser, args.allow_dirty)
    with tempfile.TemporaryDirectory(prefix="neurosig-faults-") as tmp:
        work = Path(tmp)
        data = make_data(work)
        spec = write_sweep_spec(work, data)
        train_seconds = timed(
            neurosig("train", "sp-core", "--dataset", f"npz:{data}", "--epochs", str(EPOCHS),
                     "--quiet", "--out", str(work / "t.nc")),
            work,
        )  # fmt: skip
        sweep_seconds = timed(
            neurosig("sweep", "run", str(spec), "--store", str(work / "t.zarr"), "--workers",
                     "1", "--quiet"),
            work,
        )  # fmt: skip
        cases = run_cases(draw_cases(args.kills, train_seconds, sweep_seconds, args.seed), work)
    bad = [c for c in cases if c.problems]
    summary = (
        f"{len(cases)} kills ({sum(c.signal == 'SIGKILL' for c in cases)} SIGKILL, "
        f"{sum(c.signal == 'SIGINT' for c in cases)} SIGINT) over train ({train_seconds:.1f} s "
        f"unkilled) and sweep ({sweep_seconds:.1f} s unkilled): {len(bad)} with a loss, a "
        f"traceback or a wrong message"
    )
    text = "\n".join(
        [
            "# Kill points: nothing already written is lost",
            "",
            f"`{common.command_line()}` at commit {commit}, {common.utc_now()}.",
            "",
            *common.machine_lines(),
            "",
            summary,
            "",
            table(cases),
        ]
    )
    print(summary)
    print(table(cases))
    write_text_atomic(args.out, text)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
