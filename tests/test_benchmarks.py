"""The accuracy benchmark script: it runs end to end (quick mode) and tabulates what it ran.

These tests check that the script works, not the numbers: numbers come from running it. The
scripts run with --allow-dirty (a working tree under development has uncommitted changes) and
write to temporary files, never the published tables.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import os
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import pytest

from neurosig.errors import ConfigError
from neurosig.sweep import Sweep, run_sweep, sweep_from_dict

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "accuracy.py"


@pytest.fixture(scope="module")
def accuracy():
    """benchmarks/accuracy.py as a module (it imports its sibling ``common``)."""
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        spec = importlib.util.spec_from_file_location("accuracy_benchmark", SCRIPT)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("accuracy_benchmark", None)
        sys.path.remove(str(SCRIPT.parent))


def _cells(markdown: str, label: str) -> list[str]:
    """The cells of the table row ``label`` (first match)."""
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == label:
            return cells
    raise AssertionError(f"no table row {label!r} in:\n{markdown}")


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_quick_run_writes_markdown_and_csv(tmp_path):
    out = tmp_path / "acc.md"
    proc = _run(
        "--quick", "--datasets", "digits", "--models", "sp-core", "bp", "--seeds", "1",
        "--out", str(out), "--allow-dirty",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    markdown = out.read_text()
    header = next(line for line in markdown.splitlines() if line.startswith("| model"))
    assert "x BP" in header and "peak MiB" in header
    columns = _cells(markdown, "model")
    sp_core, bp = _cells(markdown, "sp-core"), _cells(markdown, "bp")
    assert bp[columns.index("time/sample (x BP)")] == "1.00"
    assert float(sp_core[columns.index("time/sample (x BP)")]) > 0
    assert "not measured by this script" in markdown
    assert "Training seeds (`train.seed`): 0, the same for every row (paired" in markdown
    assert "## digits" in proc.stdout  # the tables are printed too
    assert proc.stdout.count("seed 0: test") == 2  # one progress line per run

    with (tmp_path / "acc.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["model"] for r in rows) == ["bp", "sp-core"]
    for r in rows:
        assert r["status"] == "complete" and r["dataset"] == "digits" and r["epochs"] == "2"
        assert 0 <= float(r["test_accuracy"]) <= float(r["best_test_accuracy"]) <= 1
        assert float(r["samples_per_second"]) > 0 and float(r["peak_mib"]) > 0


def test_configuration_errors_are_reported_before_any_run(tmp_path):
    proc = _run("--quick", "--datasets", "digits", "--variant", "x:model=sp-core,los=topk",
                "--out", str(tmp_path / "acc.md"))  # fmt: skip
    assert proc.returncode == 2
    assert "model.los: unknown field" in proc.stderr and "'loss'" in proc.stderr
    assert not (tmp_path / "acc.md").exists()


def test_parse_variant(accuracy):
    row = accuracy.parse_variant("wide:model=bp,hidden=[512, 512],train_epochs=3,loss=topk")
    assert row.label == "wide" and row.model == "bp"
    assert row.changes == {"model_hidden": (512, 512), "train_epochs": 3, "model_loss": "topk"}
    for bad in ("no-colon", "x:loss=topk", "x:model=bp,seed=3", "x:model=bp,junk"):
        with pytest.raises(ValueError):
            accuracy.parse_variant(bad)


def test_variant_becomes_a_replaced_preset_swept_over_the_seeds(accuracy):
    row = accuracy.parse_variant("maxrand:model=sp-core,loss=max_rand,temperature=2")
    plan = accuracy.make_plan("digits", row, seeds=[3, 4], base=dict(accuracy.QUICK))
    exp = plan.experiment
    assert exp.model == "sp-core" and exp.name == "maxrand-digits"
    assert exp.params.loss == "max_rand" and exp.params.temperature == 2.0
    assert isinstance(exp.params.temperature, float)
    assert exp.params.hidden == (64, 64) and exp.train.epochs == 2
    jobs = plan.sweep().jobs()  # one point, the experiment as it is, once per seed
    assert [j.experiment.train.seed for j in jobs] == [3, 4]
    assert all(j.experiment.replace(train_seed=0) == exp.replace(train_seed=0) for j in jobs)


def test_rows_of_a_data_set_train_with_the_same_seeds(accuracy):
    args = accuracy.build_parser().parse_args(
        ["--quick", "--datasets", "digits", "mnist1d", "--models", "sp-core", "bp",
         "--variant", "topk:model=sp-core,loss=topk", "--seeds-per-dataset", "digits=3",
         "mnist1d=2", "--first-seed", "5"]
    )  # fmt: skip
    plans = accuracy.plan_runs(args)
    assert [(p.dataset, p.row.label) for p in plans] == [
        (d, label) for d in ("digits", "mnist1d") for label in ("sp-core", "bp", "topk")
    ]
    for dataset, seeds in (("digits", [5, 6, 7]), ("mnist1d", [5, 6])):
        for plan in (p for p in plans if p.dataset == dataset):
            assert [j.experiment.train.seed for j in plan.sweep().jobs()] == seeds
    rows = [
        {"variant": label, "seed": seed, "status": "complete"}
        for label, seeds in (("bp", [0, 1]), ("sp-core", [0, 1]), ("ff", [0]))
        for seed in seeds
    ]
    by_label = {label: [r for r in rows if r["variant"] == label] for label in ("bp", "sp-core")}
    assert "0, 1, the same for every row" in accuracy.seeds_note(by_label)
    by_label["ff"] = [r for r in rows if r["variant"] == "ff"]
    assert "differ between rows: 0, 1 (bp, sp-core); 0 (ff)" in accuracy.seeds_note(by_label)
    assert accuracy.format_seeds([3, 1, 2, 0]) == "0-3"


def test_sweep_train_seeds_pair_every_point():
    """The neurosig.sweep option the benchmark relies on: the same seeds at every point."""
    from neurosig.config import load_experiment

    base = load_experiment("sp-core-digits")
    s = Sweep(base, grid={"lr": [1e-3, 3e-3]}, train_seeds=[7, 2])
    assert s.seeds == 2 and s.shape == (2, 2)
    assert [j.experiment.train.seed for j in s.jobs()] == [7, 2, 7, 2]
    again = sweep_from_dict(tomllib.loads(s.to_toml()), "<toml>")  # the TOML round-trips
    assert again.train_seeds == (7, 2) and again.spec_hash == s.spec_hash
    assert Sweep(base, grid={"lr": [1e-3]}, seeds=2).spec_hash != s.spec_hash
    for bad in ([], [1, 1], [-1], [True], [2**32], "12"):
        with pytest.raises(ConfigError, match="train_seeds"):
            Sweep(base, grid={"lr": [1e-3]}, train_seeds=bad)
    with pytest.raises(ConfigError, match="train_seeds"):
        Sweep(base, grid={"lr": [1e-3]}, seeds=3, train_seeds=[1, 2])


def test_failed_runs_are_recorded_and_counted(accuracy, monkeypatch, tmp_path):
    plan = accuracy.make_plan("digits", accuracy.Row("sp-core", "sp-core"), [0], accuracy.QUICK)

    def diverge(*args, **kwargs):
        raise accuracy.DivergenceError("loss became NaN")

    monkeypatch.setattr(accuracy, "train", diverge)
    store = plan.store(tmp_path)
    runner = partial(accuracy.measure_point, memory=False)
    with ThreadPoolExecutor(1) as ex:  # in this process, so that the patch applies
        exported = run_sweep(plan.sweep(), store, ex, progress=False, runner=runner)
    (row,) = accuracy.plan_rows(plan, store, exported)
    assert row["status"] == "diverged" and row["error"] == "loss became NaN"
    markdown = accuracy.render_markdown([row], header=[])
    assert _cells(markdown, "sp-core")[1] == "0 (1 diverged)"


def test_a_run_is_read_from_its_sweep_store(accuracy, tmp_path):
    plan = accuracy.make_plan("digits", accuracy.Row("bp", "bp"), [3], accuracy.QUICK)
    store = plan.store(tmp_path)
    runner = partial(accuracy.measure_point, memory=True)
    with ThreadPoolExecutor(1) as ex:
        exported = run_sweep(plan.sweep(), store, ex, progress=False, runner=runner)
    (row,) = accuracy.plan_rows(plan, store, exported, results_dir=tmp_path / "nc", threads=1)
    assert row["status"] == "complete" and row["seed"] == 3 and row["epochs"] == 2
    assert row["n_train"] == 500 and row["n_test"] == 200 and row["peak_mib"] > 0
    assert row["wall_seconds"] > 0 and 0 <= row["test_accuracy"] <= 1
    assert (tmp_path / "nc" / "bp-digits-seed3.nc").exists()


def test_a_dirty_tree_is_refused_without_allow_dirty(accuracy, monkeypatch, tmp_path):
    import neurosig.results

    monkeypatch.setattr(neurosig.results, "git_commit", lambda *a: "0123abc+dirty")
    parser = argparse.ArgumentParser()
    with pytest.raises(SystemExit) as exit_:
        accuracy.common.check_clean_tree(parser, allow_dirty=False)
    assert exit_.value.code == 2
    assert accuracy.common.check_clean_tree(parser, allow_dirty=True) == "0123abc+dirty"
    out = tmp_path / "acc.md"
    argv = ["--quick", "--datasets", "digits", "--models", "bp", "--out", str(out)]
    with pytest.raises(SystemExit) as exit_:
        accuracy.main(argv)  # refused before any run
    assert exit_.value.code == 2 and not out.exists()
    monkeypatch.setattr(neurosig.results, "git_commit", lambda *a: "0123abc")
    assert accuracy.common.check_clean_tree(parser, allow_dirty=False) == "0123abc"


def _repo(folder: Path) -> Path:
    folder.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(folder)]
    subprocess.run([*git, "init", "-q"], check=True)
    (folder / "a.py").write_text("x = 1\n")
    subprocess.run([*git, "add", "a.py"], check=True)
    subprocess.run([*git, "commit", "-qm", "a"], check=True)
    return folder


def test_code_imported_from_two_trees_is_not_a_commit(monkeypatch, tmp_path):
    """An editable install maps neurosig.models to its own checkout: with the engine taken from
    another checkout (PYTHONPATH), no commit describes the running code."""
    import neurosig.results

    one, two = _repo(tmp_path / "one"), _repo(tmp_path / "two")
    monkeypatch.setattr(neurosig.results, "source_folders", lambda: [one, one, one])
    clean = neurosig.results.git_commit()
    assert len(clean) == 40 and not clean.endswith("+dirty")
    monkeypatch.setattr(neurosig.results, "source_folders", lambda: [one, two, one])
    assert neurosig.results.git_commit() == clean + "+dirty"
    (one / "a.py").write_text("x = 2\n")
    monkeypatch.setattr(neurosig.results, "source_folders", lambda: [one, one, one])
    assert neurosig.results.git_commit() == clean + "+dirty"


def test_append_replaces_the_same_run_and_keeps_the_others(accuracy):
    old = [
        {"dataset": "mnist1d", "variant": "bp", "seed": "0", "test_accuracy": "0.5"},
        {"dataset": "mnist1d", "variant": "bp", "seed": "1", "test_accuracy": "0.6"},
    ]
    new = [
        {"dataset": "mnist1d", "variant": "bp", "seed": 1, "test_accuracy": 0.7},
        {"dataset": "fashion-mnist", "variant": "bp", "seed": 0, "test_accuracy": 0.8},
    ]
    merged = accuracy.merge_rows(old, new)
    assert [float(r["test_accuracy"]) for r in merged] == [0.5, 0.7, 0.8]


# --------------------------------------------------------------------------------------------
# benchmarks/speed.py: the rate model, Brian2 standalone against the numpy reference
# --------------------------------------------------------------------------------------------

SPEED = ROOT / "benchmarks" / "speed.py"


@pytest.fixture(scope="module")
def speed():
    """benchmarks/speed.py as a module (it imports its sibling ``common``)."""
    sys.path.insert(0, str(SPEED.parent))
    try:
        spec = importlib.util.spec_from_file_location("speed_benchmark", SPEED)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("speed_benchmark", None)
        sys.path.remove(str(SPEED.parent))


@pytest.mark.slow  # about 35 s (a Brian2 compile and timed chunks): suite time
def test_speed_quick_run_writes_markdown_and_csv(tmp_path):
    """The smoke run: 784-50-10 and 784-100-10, chunks of 10 (one cold compile, ~1 minute)."""
    from neurosig.models.rate import RateConfig

    out = tmp_path / "speed.md"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(SPEED), "--quick", "--out", str(out), "--allow-dirty"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    markdown = out.read_text()
    defaults = RateConfig()
    assert f"dt = {defaults.dt:g} ms, tau = {defaults.tau:g} ms" in markdown
    assert "numpy BLAS limited to 1" in markdown and "brian2 " in markdown
    columns = _cells(markdown, "phase")
    for target in ("standalone", "reference"):
        row = next(
            line for line in markdown.splitlines()
            if line.startswith("| training") and f" {target} " in line
        )  # fmt: skip
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert float(cells[columns.index("samples/s (median)")].replace(",", "")) > 0
    assert _cells(markdown, "cold: empty NEUROSIG_CACHE, new process")
    sweep = _cells(markdown, "784-100-10")
    assert sweep[1] == "79,400"  # 784 x 100 + 100 x 10 plastic synapses
    assert "standalone / reference at 784-50-10: training" in proc.stdout

    with (tmp_path / "speed.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    train = [r for r in rows if r["section"] == "train"]
    assert sorted((r["hidden"], r["target"]) for r in train) == [
        ("100", "reference"), ("100", "standalone"), ("50", "reference"), ("50", "standalone"),
    ]  # fmt: skip
    assert {r["target"] for r in rows if r["section"] == "predict"} == {"standalone", "reference"}
    assert [r["cache"] for r in rows if r["section"] == "compile"] == ["cold", "warm"]
    for r in train:
        assert float(r["samples_per_second"]) > 0 and r["steps_per_sample"] == "20"
        assert float(r["dt_ms"]) == defaults.dt and r["blas_threads"] == "1"


def test_speed_synaptic_operations_and_sweep_table(speed):
    assert speed.synaptic_ops(1000, 20, 5.0) == 1000 * 2 * 20 * 5.0
    result = {
        "hidden": 100, "synapses": 79_400, "steps_per_sample": 20, "repeats": 3,
        "samples_per_repeat": 400, "compile_seconds": 40.0, "cache": "new",
        "train": {"standalone": [90.0, 100.0, 110.0], "reference": [200.0, 190.0, 210.0]},
    }  # fmt: skip
    assert speed.ratio(result) == pytest.approx(0.5)
    row = _cells(speed.sweep_table([result]), "784-100-10")
    assert row[2:5] == ["100.0", "200.0", "0.50"]
    assert row[5] == f"{79_400 * 2 * 20 * 100 / 1e6:,.0f}"  # Msyn-op/s, standalone
    assert row[-2:] == ["3 x 400", "40.0 (new)"]


def test_speed_measures_fewer_chunks_for_big_networks(speed):
    assert speed.chunks_and_repeats(500, 5, quick=False) == (2, 5)
    assert speed.chunks_and_repeats(1000, 5, quick=False) == (1, 5)
    assert speed.chunks_and_repeats(2000, 5, quick=False) == (1, 3)
    assert speed.chunks_and_repeats(2000, 1, quick=True) == (1, 1)


# benchmarks/lif_speed.py: the LIF model's samples/s, compile time and spikes per sample


@pytest.mark.slow
def test_lif_speed_quick_run_writes_markdown_and_csv(tmp_path):
    """The smoke run: 784-50-10 and 784-100-10, chunks of 20 (four compiles, a few minutes)."""
    out = tmp_path / "lif-speed.md"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "lif_speed.py"), "--quick", "--out", str(out),
         "--allow-dirty"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    markdown = out.read_text()
    assert "784-100-10 at 50 ms per sample" in markdown
    training = _cells(markdown, "training")
    assert float(training[1].replace(",", "")) > 0
    with out.with_suffix(".csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert {r["section"] for r in rows} == {"hidden", "presentation", "current"}
    for r in rows:
        assert float(r["samples_per_second"]) > 0
        assert r["regime"] == ("current-driven" if r["section"] == "current" else "default")
    poisson = [r for r in rows if r["regime"] == "default" and r["phase"] == "train"]
    assert all(float(r["input_spikes_per_sample"]) > 0 for r in poisson)


@pytest.mark.slow
def test_analysis_speed_quick_run_writes_markdown_and_csv(tmp_path):
    """The smoke run on digits: two short trainings, the trial probe's compile, one card."""
    out = tmp_path / "analysis-speed.md"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "analysis_speed.py"), "--quick",
         "--out", str(out), "--allow-dirty"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    markdown = out.read_text()
    assert "64-128-10 LIF sigprop network" in markdown
    with out.with_suffix(".csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert {r["stage"] for r in rows} == {
        "analyses", "untrained activity (older Results)", "trial probe", "figure and files"
    }  # fmt: skip
    assert all(float(r["seconds"]) > 0 for r in rows)


def test_poisson_ceiling_shows_what_the_encoding_removes(tmp_path):
    """digits, 2 draws: the noise-free rates read better than one Poisson unit per feature,
    and five units per feature read better than one."""
    out = tmp_path / "ceiling.md"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "poisson_ceiling.py"), "--datasets", "digits",
         "--copies", "1", "5", "--seeds", "2", "--out", str(out), "--allow-dirty"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    cells = _cells(out.read_text(), "digits")
    rates, one, five = (float(c.split(" ")[0]) for c in cells[1:4])
    assert rates > five > one


@pytest.fixture(scope="module")
def floor():
    """benchmarks/floor.py as a module (importing it sets the BLAS thread variables, which
    are put back afterwards)."""
    path = ROOT / "benchmarks" / "floor.py"
    environment = dict(os.environ)
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location("floor_benchmark", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(path.parent))
        os.environ.clear()
        os.environ.update(environment)


def test_floor_lif_set_changes_every_lif_program_and_names_a_bad_field(floor, capsys):
    """--lif-set is read as a [model] table: units, whole numbers and strings; a wrong field
    stops the script before any program is built, with exit code 2 and its name."""
    parser = argparse.ArgumentParser()
    args = argparse.Namespace(
        hidden=30, chunk=20, lif_set=["input_copies=1", "rate_max=40 Hz", "encoding=poisson"]
    )
    cfg = floor.lif_base(parser, args)
    assert (cfg.hidden, cfg.chunk, cfg.input_copies, cfg.rate_max) == ((30,), 20, 1, 40.0)
    for bad, named in (["input_copy=1"], "input_copy"), (["rate_max=40"], "rate_max"):
        with pytest.raises(SystemExit) as stop:
            floor.lif_base(parser, argparse.Namespace(hidden=30, chunk=20, lif_set=bad))
        assert stop.value.code == 2
        message = capsys.readouterr().err
        assert named in message and "Traceback" not in message
