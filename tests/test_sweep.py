"""Parameter sweeps: declaration, seeds, the resumable zarr store, executors, the CLI.

The points are SP-core on digits with one small epoch (well under a second each), so that the
whole file runs in about a minute on 2 busy cores; the process pool and the dask LocalCluster
use 2 single-thread workers.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from neurosig.atomic import temporary_sibling
from neurosig.cli import main
from neurosig.config import experiment_from_toml, load_experiment
from neurosig.errors import ConfigError
from neurosig.paired import difference_rows, paired_differences
from neurosig.sweep import (
    Outcome,
    Sweep,
    _only_writer,
    export_sweep,
    load_sweep,
    open_store,
    point_result,
    run_sweep,
    sweep_from_dict,
    sweep_status,
    timing_variables,
)

SPEC = """
name = "lr-seeds"
base = "sp-core-digits"
seeds = 2
root_seed = 7

[set]
train_epochs = 1
model.hidden = [48]
data.n_train = 600

[grid]
lr = [1e-3, 3e-3, 1e-2]
"""


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("spec") / "lr-seeds.toml"
    path.write_text(SPEC)
    return path


@pytest.fixture(scope="module")
def reference(spec_file, tmp_path_factory) -> xr.Dataset:
    """The sweep run uninterrupted on the default executor (a pool of 2 processes)."""
    store = tmp_path_factory.mktemp("reference") / "store.zarr"
    return run_sweep(spec_file, store, workers=2, progress=False)


def _numbers(ds: xr.Dataset) -> xr.Dataset:
    """A sweep Dataset without times, throughput and provenance (which differ run to run)."""
    return ds.drop_vars(timing_variables()).drop_attrs()


def _base():
    return load_experiment("sp-core-digits").replace(
        train_epochs=1, model_hidden=[16], data_n_train=300
    )


class _Counting(cf.ThreadPoolExecutor):
    """An in-process executor that counts the points submitted to it."""

    def __init__(self):
        super().__init__(1)
        self.submitted = 0

    def submit(self, fn, /, *args, **kwargs):
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


# --------------------------------------------------------------------------------------------
# Declaration
# --------------------------------------------------------------------------------------------


def test_toml_declaration_resolves_fields_units_and_seeds(spec_file):
    sweep = load_sweep(spec_file)
    assert sweep.dims == ("lr", "seed") and sweep.shape == (3, 2) and sweep.n_points == 6
    assert sweep.fields == ("model_lr",)
    jobs = sweep.jobs()
    assert [j.index for j in jobs[:3]] == [(0, 0), (0, 1), (1, 0)]
    assert jobs[3].experiment.params.lr == 3e-3 and jobs[3].experiment.params.hidden == (48,)
    # seed index s trains with SeedSequence(root, spawn_key=(s,)) at every grid point (paired)
    expected = np.random.SeedSequence(7, spawn_key=(1,)).generate_state(1)[0]
    assert jobs[3].experiment.train.seed == expected
    by_index = {s: {j.experiment.train.seed for j in jobs if j.seed == s} for s in (0, 1)}
    assert all(len(seeds) == 1 for seeds in by_index.values())  # one seed per index ...
    assert by_index[0] != by_index[1]  # ... and different seeds per index

    rate = load_experiment("rate-sigprop-digits")
    s = Sweep(rate, grid={"delay": ["0 ms", "2 ms"], "model.dale": [False, True]}, seeds=3)
    assert s.dims == ("delay", "model_dale", "seed") and s.shape == (2, 2, 3)
    assert s.experiments[2].params.delay == 2.0
    coords = s.coordinates()
    assert coords["delay"][1] == [0.0, 2.0] and coords["delay"][2]["units"] == "ms"
    assert s.uses_brian


def test_list_of_points_and_round_trip_through_toml():
    s = Sweep(_base(), points=[{"lr": 1e-3, "epochs": 1}, {"lr": 1e-2, "epochs": 2}], seeds=2)
    assert s.dims == ("point", "seed") and s.fields == ("model_lr", "train_epochs")
    assert s.experiments[1].train.epochs == 2
    import tomllib

    again = sweep_from_dict(tomllib.loads(s.to_toml()))
    assert again.spec_hash == s.spec_hash


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"lrr": [1e-3]}, "Did you mean 'lr'"),
        ({"model_delay": ["2 mV"]}, "time"),
        ({}, "grid is empty"),
        ({"lr": []}, "non-empty list"),
        ({"lr": [1e-3, 0.001]}, "repeats a value"),
        ({"seed": [1, 2]}, "seeds come from the sweep"),
    ],
)
def test_bad_declarations_name_the_field(grid, message):
    base = load_experiment("rate-sigprop-digits") if "model_delay" in grid else _base()
    with pytest.raises(ConfigError, match=message):
        Sweep(base, grid=grid)


def test_bad_toml_keys_are_config_errors():
    with pytest.raises(ConfigError, match="Did you mean 'seeds'"):
        sweep_from_dict({"base": "sp-core-digits", "seed": 2, "grid": {"lr": [1e-3]}})
    with pytest.raises(ConfigError, match="base experiment"):
        sweep_from_dict({"grid": {"lr": [1e-3]}})


# --------------------------------------------------------------------------------------------
# The store: resume, refusal, failures
# --------------------------------------------------------------------------------------------


def test_a_store_is_created_whole_and_a_killed_creation_is_cleaned_up(tmp_path, dead_temporary):
    store = tmp_path / "s.zarr"
    killed = dead_temporary(store)  # what a driver killed while creating the store left
    killed.mkdir()
    alive = temporary_sibling(store)  # a live driver's (this process): kept
    alive.mkdir()
    another = temporary_sibling(tmp_path / "s.zarr.b")  # another store's, being created
    another.mkdir()
    open_store(store, Sweep(_base(), grid={"lr": [1e-3]}, name="whole"))
    assert (store / "zarr.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [another.name, alive.name, "s.zarr"]
    )


def test_an_object_that_is_no_executor_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="not an executor"):
        run_sweep(Sweep(_base(), grid={"lr": [1e-3]}), tmp_path / "s.zarr", executor=object())


def test_rerun_computes_only_missing_points_and_another_sweep_is_refused(tmp_path):
    sweep = Sweep(_base(), grid={"lr": [1e-3, 3e-3]}, seeds=2, name="resume")
    store = tmp_path / "s.zarr"
    with _Counting() as ex:
        first = run_sweep(sweep, store, ex, progress=False)
    assert ex.submitted == 4 and first.attrs["points_done"] == 4
    assert first.accuracy.dims == ("lr", "seed", "epoch", "split", "readout")
    assert first.loss.dims == ("lr", "seed", "epoch", "layer")
    assert set(first.status.values.ravel()) == {"done"}
    assert ((first.final_accuracy >= 0) & (first.final_accuracy <= 1)).all()
    one = point_result(store, 1, 1)  # the full Result of grid point 1, seed 1
    assert one.attrs["seed"] == int(first.train_seed.sel(lr=3e-3, seed=1))
    assert float(one.test_accuracy[-1]) == float(first.test_accuracy.sel(lr=3e-3, seed=1))
    with _Counting() as ex:
        again = run_sweep(sweep, store, ex, progress=False)
    assert ex.submitted == 0
    xr.testing.assert_identical(again, first)
    with _only_writer(store), pytest.raises(ConfigError, match="another `neurosig sweep run`"):
        run_sweep(sweep, store, progress=False)  # a second driver on the same store
    other = Sweep(_base(), grid={"lr": [1e-3, 3e-3]}, seeds=3, name="resume")
    with pytest.raises(ConfigError, match="earlier declaration of sweep 'resume'"):
        run_sweep(other, store, progress=False)


def test_a_failing_point_is_recorded_and_retried(tmp_path, npz_data):
    later = tmp_path / "later.npz"  # missing on the first run
    base = _base().replace(data_n_train=None)
    sweep = Sweep(base, grid={"data_name": [f"npz:{npz_data}", f"npz:{later}"]}, name="failing")
    store = tmp_path / "f.zarr"
    with _Counting() as ex:
        ds = run_sweep(sweep, store, ex, progress=False)
    assert list(ds.status.values[:, 0]) == ["done", "failed"]
    assert "later.npz" in str(ds.error.values[1, 0])
    assert np.isfinite(ds.final_accuracy.values[0]).all()
    assert np.isnan(ds.final_accuracy.values[1]).all()
    status = sweep_status(store)
    assert (status.done, status.failed, status.pending) == (1, 1, 0)
    assert "later.npz" in str(status)
    later.write_bytes(npz_data.read_bytes())
    with _Counting() as ex:
        ds = run_sweep(sweep, store, ex, progress=False)
    assert ex.submitted == 1  # only the failed point
    assert list(ds.status.values[:, 0]) == ["done", "done"] and ds.attrs["points_failed"] == 0


# --------------------------------------------------------------------------------------------
# Executors and the killed driver
# --------------------------------------------------------------------------------------------


def test_dask_local_cluster_gives_the_same_numbers_and_imports_brian2_on_main_threads(
    spec_file, reference, tmp_path
):
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        ds = run_sweep(spec_file, tmp_path / "dask.zarr", client, progress=False)

        def brian2_on_main_thread(dask_worker):
            return "brian2" in sys.modules and dask_worker.neurosig_brian2_main_thread

        assert all(client.run(brian2_on_main_thread).values())
    xr.testing.assert_identical(_numbers(ds), _numbers(reference))
    assert reference.attrs["points_done"] == 6


def _cli(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "neurosig", "sweep", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the kill reaches the pool's workers
        **kwargs,
    )


def test_killed_driver_then_rerun_gives_the_uninterrupted_result(spec_file, reference, tmp_path):
    store = tmp_path / "killed.zarr"
    proc = _cli("run", str(spec_file), "--store", str(store), "--workers", "1", "--quiet")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if store.exists() and sweep_status(store).done >= 1:
            break
        time.sleep(0.02)
    assert proc.poll() is None, f"the sweep ended before it could be killed: {proc.stderr.read()}"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    status = sweep_status(store)  # readable after the kill
    assert 1 <= status.done < 6 and status.failed == 0
    partial = export_sweep(store)
    assert (partial.status == "pending").any()
    rerun = _cli("run", str(spec_file), "--store", str(store), "--workers", "2", "--quiet")
    out, err = rerun.communicate(timeout=180)
    assert rerun.returncode == 0, err
    assert "6/6 points done" in out
    xr.testing.assert_identical(_numbers(export_sweep(store)), _numbers(reference))


def test_cli_status_export_and_errors(spec_file, reference, tmp_path, capsys):
    store = tmp_path / "cli.zarr"
    with _Counting() as ex:
        run_sweep(spec_file, store, ex, progress=False)
    assert main(["sweep", "status", str(store)]) == 0
    assert "6/6 points done, 0 failed, 0 pending" in capsys.readouterr().out
    out = tmp_path / "sweep.nc"
    assert main(["sweep", "export", str(store), str(out)]) == 0
    exported = xr.load_dataset(out)
    assert exported.test_accuracy.dims == ("lr", "seed")
    np.testing.assert_array_equal(exported.accuracy.values, reference.accuracy.values)

    bad = tmp_path / "bad.toml"
    bad.write_text(SPEC.replace("lr = [", "lrr = ["))
    assert main(["sweep", "run", str(bad), "--store", str(tmp_path / "x.zarr")]) == 2
    assert "Did you mean 'lr'" in capsys.readouterr().err
    assert main(["sweep", "status", str(tmp_path / "nothing")]) == 2
    assert "not a sweep store" in capsys.readouterr().err
    assert main(["sweep", "run", str(spec_file), "--store", str(store), "--executor", "mpi"]) == 2
    assert "choose local, dask" in capsys.readouterr().err


def test_example_sweep_declaration_is_valid():
    root = Path(__file__).resolve().parents[1]
    example = load_sweep(root / "analyses" / "sweeps" / "example.toml")
    assert example.n_points == 12
    assert example.dims == ("model_loss", "lr", "seed")
    # "loss" is also a variable of the store: written bare, its dimension gets the prefix
    assert Sweep(example.base, grid={"loss": ["topk"]}).dims == ("model_loss", "seed")


@pytest.mark.slow
def test_brian2_rate_sweep_on_dask_matches_the_process_pool(tmp_path):
    """The Brian2 rate model (C++ standalone, one build folder per worker process) through
    ``--executor dask``: Brian2 imported on each worker's main thread, same numbers as the
    default process pool; the swept learning rate is a run-time constant (no recompile)."""
    spec = tmp_path / "rate.toml"
    spec.write_text(
        'name = "rate-lr"\nbase = "rate-sigprop-digits"\n'
        "[set]\ntrain_epochs = 1\ndata_n_train = 400\ndata_n_test = 200\n"
        'model_target = "standalone"\n'  # Brian2 itself (sweeps pick the numpy integrator)
        "[grid]\nlr = [0.05, 0.1]\n"
    )
    stores = {}
    for executor in ("local", "dask"):
        stores[executor] = tmp_path / f"{executor}.zarr"
        proc = _cli(
            "run", str(spec), "--store", str(stores[executor]), "--executor", executor,
            "--workers", "2", "--quiet",
        )  # fmt: skip
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        assert "2/2 points done" in out
    local, dask = (export_sweep(stores[e]) for e in ("local", "dask"))
    xr.testing.assert_identical(_numbers(dask), _numbers(local))
    assert (local.final_accuracy.sel(split="test", readout="target") > 0.5).all()


def test_accuracy_figure_draws_one_bar_per_condition_and_every_seed():
    import matplotlib

    matplotlib.use("Agg")
    from neurosig.analyses.figures.sweep import accuracy_by_condition

    acc = np.array([[[0.5, 0.6, 0.7], [0.8, 0.9, np.nan]]] * 3)  # lr 3 x dale 2 x seed 3
    ds = xr.Dataset(
        {"test_accuracy": (("lr", "dale", "seed"), acc)},
        coords={"lr": [0.01, 0.05, 0.1], "dale": [False, True], "seed": [0, 1, 2]},
    )
    ax = accuracy_by_condition(ds, x="lr", hue="dale").axes[0]
    assert len(ax.patches) == 6  # 3 learning rates x 2 conditions
    heights = sorted({round(p.get_height(), 6) for p in ax.patches})
    assert heights == [60.0, 85.0]  # means in %, the not-done seed left out
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["dale = off", "dale = on"]
    dots = sum(len(line.get_xdata()) for line in ax.lines if line.get_marker() == "o")
    assert dots == 15  # every finished seed
    with pytest.raises(ValueError, match="one or two swept fields"):
        accuracy_by_condition(ds.expand_dims(noise=[0.0]))


# --------------------------------------------------------------------------------------------
# Paired seeds and paired differences (a runner that reports known accuracies)
# --------------------------------------------------------------------------------------------

SHIFT = {1e-3: 0.0, 3e-3: 0.125, 1e-2: 0.0625}  # test accuracy over lr = 1e-3, per lr
TOPK = 1 / 16  # and of loss "topk" over "per_class"


def _seed_level(train_seed: int) -> float:
    """What a seed alone gives (a dyadic fraction: differences are exact)."""
    return 0.25 + (train_seed % 16) / 128


def _noise(train_seed: int) -> float:
    """A per-seed deviation of the lr = 1e-2 condition (a shift that is not constant)."""
    return ((train_seed % 5) - 2) / 256


def _known_point(experiment_toml: str) -> Outcome:
    """A runner whose final test accuracy is seed level + the condition's shift (+ noise at
    lr = 1e-2) and validation accuracy 1/32 lower; the delta readout is always wrong."""
    exp = experiment_from_toml(experiment_toml)
    seed = exp.train.seed
    test = _seed_level(seed) + SHIFT[exp.params.lr] + (TOPK if exp.params.loss == "topk" else 0)
    if exp.params.lr == 1e-2:
        test += _noise(seed)
    return Outcome(_point_dataset(test, seed), "", 0.01)


def _point_dataset(test: float, seed: int) -> xr.Dataset:
    """A Result with final test accuracy ``test`` (validation 1/32 lower) for readout
    "target" (the delta readout always wrong)."""
    acc = np.zeros((1, 3, 2))
    acc[0, :, 0] = [test, test - 1 / 32, test]  # train, validation, test; readout "target"
    return xr.Dataset(
        {
            "accuracy": (("epoch", "split", "readout"), acc, {"units": "1"}),
            "loss": (("epoch", "layer"), [[1.0, 1.0]], {"units": "1"}),
            "lr_factor": ("epoch", [1.0]),
            "samples_per_second": ("epoch", [100.0], {"units": "1/s"}),
            "epoch_time": ("epoch", [1.0], {"units": "s"}),
        },
        coords={
            "epoch": [1],
            "split": ["train", "validation", "test"],
            "readout": ["target", "delta"],
            "layer": ["layer1", "readout"],
        },
        attrs={"seed": seed, "primary_readout": "target"},
    )


def _known(sweep: Sweep, store: Path) -> xr.Dataset:
    with _Counting() as ex:
        return run_sweep(sweep, store, ex, progress=False, runner=_known_point)


def test_every_grid_point_trains_with_the_same_seeds(tmp_path):
    sweep = Sweep(_base(), grid={"lr": [1e-3, 3e-3], "epochs": [1, 2]}, seeds=3, root_seed=5)
    seeds = np.array([[j.experiment.train.seed for j in sweep.jobs() if j.point == p] for p in
                      range(4)])  # fmt: skip
    assert (seeds == seeds[0]).all() and len(set(seeds[0])) == 3
    assert list(seeds[0]) == [sweep.train_seed(s) for s in range(3)]
    listed = Sweep(_base(), points=[{"lr": 1e-3}, {"lr": 3e-3}], seeds=3, root_seed=5)
    assert [j.experiment.train.seed for j in listed.jobs()][3:] == list(seeds[0])
    chosen = Sweep(_base(), grid={"lr": [1e-3, 3e-3]}, train_seeds=[4, 9])
    assert [j.experiment.train.seed for j in chosen.jobs()] == [4, 9, 4, 9]
    ds = _known(sweep, tmp_path / "s.zarr")
    assert (ds.train_seed == ds.train_seed.isel(lr=0, epochs=0)).all()


def test_paired_differences_are_exact_and_their_cis_cover_the_shift(tmp_path):
    sweep = Sweep(_base(), grid={"lr": [1e-3, 3e-3, 1e-2]}, seeds=5, root_seed=3, name="known")
    ds = _known(sweep, tmp_path / "k.zarr")
    seeds = ds.train_seed.sel(lr=1e-3).values
    assert ds.paired_difference.dims == ("metric", "lr", "seed")
    assert list(ds.metric.values) == ["test_accuracy", "validation_accuracy"]
    assert ds.attrs["reference"] == "lr=0.001"
    for metric in ("test_accuracy", "validation_accuracy"):
        d = ds.paired_difference.sel(metric=metric)
        np.testing.assert_array_equal(d.sel(lr=1e-3), 0.0)
        np.testing.assert_array_equal(d.sel(lr=3e-3), 0.125)  # a constant shift
        noisy = 0.0625 + np.array([_noise(int(s)) for s in seeds])
        np.testing.assert_array_equal(d.sel(lr=1e-2), noisy)
        mean = ds.mean_difference.sel(metric=metric)
        assert float(mean.sel(lr=3e-3)) == 0.125 and float(mean.sel(lr=1e-2)) == noisy.mean()
        ci = ds.difference_ci.sel(metric=metric)
        low, high = ci.sel(lr=3e-3).values
        assert low <= 0.125 <= high and low > 0  # covers the shift, excludes no change
        low, high = ci.sel(lr=1e-2).values
        assert low <= noisy.mean() <= high and low > 0 and high - low > 0
        assert (ds.n_paired_seeds.sel(metric=metric) == 5).all()
    rows = difference_rows(ds)
    assert [(r["metric"], r["condition"]) for r in rows] == [
        ("test_accuracy", "lr=0.003"),
        ("test_accuracy", "lr=0.01"),
        ("validation_accuracy", "lr=0.003"),
        ("validation_accuracy", "lr=0.01"),
    ]
    assert rows[0]["per_seed"] == [0.125] * 5 and rows[0]["note"] == ""
    # another reference: the others minus lr = 3e-3
    other = paired_differences(ds, {"lr": "0.003"})
    np.testing.assert_array_equal(
        other.paired_difference.sel(metric="test_accuracy", lr=1e-3), -0.125
    )
    assert other.mean_difference.attrs["reference"] == "lr=0.003"


def test_a_reference_on_some_fields_is_matched_on_the_others_and_few_seeds_have_no_ci(tmp_path):
    sweep = Sweep(_base(), grid={"lr": [1e-3, 3e-3], "model_loss": ["per_class", "topk"]}, seeds=2)
    ds = _known(sweep, tmp_path / "g.zarr")
    d = paired_differences(ds, {"model_loss": "topk"})  # per_class vs topk at each lr
    np.testing.assert_array_equal(
        d.paired_difference.sel(metric="test_accuracy", model_loss="per_class"), -TOPK
    )
    assert d.mean_difference.attrs["reference"] == "model_loss=topk (at each lr)"
    assert np.isnan(d.difference_ci).all()  # 2 seeds: no interval
    rows = difference_rows(d)
    assert [r["condition"] for r in rows[:2]] == [
        "lr=0.001, model_loss=per_class",
        "lr=0.003, model_loss=per_class",
    ]
    assert rows[0]["note"] == "n < 3: no CI"
    listed = Sweep(_base(), points=[{"lr": 1e-3}, {"lr": 3e-3}], seeds=3, name="listed")
    ds = _known(listed, tmp_path / "p.zarr")
    d = paired_differences(ds, {"lr": 3e-3})
    assert d.mean_difference.attrs["reference"] == "point=1"
    np.testing.assert_array_equal(
        d.mean_difference.sel(metric="test_accuracy").values, [-0.125, 0.0]
    )
    with pytest.raises(ConfigError, match="no such value"):
        paired_differences(ds, {"lr": 0.5})
    with pytest.raises(ConfigError, match="not a swept field"):
        paired_differences(ds, {"dale": True})


def test_cli_export_prints_and_writes_the_differences(tmp_path, capsys):
    sweep = Sweep(_base(), grid={"lr": [1e-3, 3e-3, 1e-2]}, seeds=3, name="known")
    store = tmp_path / "k.zarr"
    _known(sweep, store)
    out, md, table = tmp_path / "k.nc", tmp_path / "d.md", tmp_path / "d.csv"
    args = ["sweep", "export", str(store), str(out), "--reference", "lr=0.003"]
    assert main([*args, "--diffs", str(md)]) == 0
    printed = capsys.readouterr().out
    assert "| test_accuracy | lr=0.001 | 3 | -12.50 | [-12.50, -12.50] |" in printed
    assert md.read_text() in printed
    exported = xr.load_dataset(out)
    assert exported.attrs["reference"] == "lr=0.003"
    assert float(exported.mean_difference.sel(metric="test_accuracy", lr=1e-3)) == -0.125
    assert main([*args, "--diffs", str(table)]) == 0
    rows = table.read_text().splitlines()
    assert rows[0].startswith("metric,condition,reference,n_seeds,mean_difference")
    assert rows[1].startswith("test_accuracy,lr=0.001,lr=0.003,3,-0.125,-0.125,-0.125,")
    capsys.readouterr()
    assert main(["sweep", "export", str(store), str(out), "--reference", "lr=5"]) == 2
    assert "no such value" in capsys.readouterr().err
    assert main([*args, "--diffs", str(tmp_path / "d.txt")]) == 2


def test_a_store_with_unpaired_seeds_is_refused_and_exported_without_differences(tmp_path, capsys):
    """A store of neurosig 0.2.0 or older: each grid point had its own seeds."""
    import zarr

    sweep = Sweep(_base(), grid={"lr": [1e-3, 3e-3]}, seeds=2, name="old")
    store = tmp_path / "old.zarr"
    _known(sweep, store)
    group = zarr.open_group(str(store), mode="r+")
    group["train_seed"][...] = np.array([[1, 2], [3, 4]], dtype="uint32")
    group.attrs["spec_hash"] = "0" * 16  # its hash did not contain the seeds
    spec = tmp_path / "old.toml"
    spec.write_text(sweep.to_toml())
    assert main(["sweep", "run", str(spec), "--store", str(store), "--quiet"]) == 2
    *_, error = capsys.readouterr().err.strip().splitlines()  # one line after the header
    assert error.startswith("neurosig: error:") and "0.2.0 or older" in error
    assert "give a new --store" in error.lower()
    out = tmp_path / "old.nc"
    assert main(["sweep", "export", str(store), str(out)]) == 0
    assert "no paired differences" in capsys.readouterr().err
    assert "paired_difference" not in xr.load_dataset(out)
    assert main(["sweep", "export", str(store), str(out), "--diffs", str(tmp_path / "d.md")]) == 2
    with pytest.raises(ConfigError, match="cannot be compared seed by seed"):
        export_sweep(store, reference={"lr": 1e-3})


def test_a_store_made_before_a_config_field_was_added_still_resumes(tmp_path):
    """A field added since (here: the store's declaration lacks ``data.remap_labels``) takes
    its default, which is how the store's points were trained: the store is the same sweep."""
    import tomllib

    import tomli_w
    import zarr

    sweep = Sweep(_base(), grid={"lr": [1e-3]}, name="older")
    store = tmp_path / "s.zarr"
    open_store(store, sweep)
    group = zarr.open_group(str(store), mode="r+", zarr_format=3)
    declaration = tomllib.loads(group.attrs["neurosig_sweep"])
    del declaration["base"]["data"]["remap_labels"]  # as neurosig 0.5 wrote it
    group.attrs.update(neurosig_sweep=tomli_w.dumps(declaration), spec_hash="0" * 16)
    open_store(store, sweep)  # accepted
    other = Sweep(_base(), grid={"lr": [2e-3]}, name="older")
    with pytest.raises(ConfigError, match="earlier declaration"):
        open_store(store, other)


# --------------------------------------------------------------------------------------------
# The simulator target of models with equivalent targets (the rate model)
# --------------------------------------------------------------------------------------------


def test_a_rate_sweep_runs_on_the_fastest_equivalent_target_unless_its_declaration_names_one(
    tmp_path,
):
    import tomllib

    grid = {"lr": [0.05]}
    fast = sweep_from_dict({"base": "rate-sigprop-digits", "grid": grid})
    assert fast.chooses_target
    assert [j.experiment.params.target for j in fast.jobs()] == ["reference"]
    again = sweep_from_dict(tomllib.loads(fast.to_toml()))  # the store's copy: same sweep
    assert again.spec_hash == fast.spec_hash and not again.chooses_target

    base_file = tmp_path / "base.toml"
    base_file.write_text('[model]\nname = "rate"\ntarget = "standalone"\n')
    named = {
        "standalone": {"base": "rate-sigprop-digits", "set": {"model_target": "standalone"}},
        "numpy": {"base": {"model": {"name": "rate", "target": "numpy"}}},
        "standalone ": {"base": str(base_file)},  # a base file that names it
    }
    for target, declaration in named.items():
        sweep = sweep_from_dict({**declaration, "grid": grid})
        assert not sweep.chooses_target
        assert [j.experiment.params.target for j in sweep.jobs()] == [target.strip()]
    swept = sweep_from_dict({"base": "rate-sigprop-digits", "grid": {"target": ["numpy"]}})
    assert [j.experiment.params.target for j in swept.jobs()] == ["numpy"]
    # from Python: fastest_target=False keeps the base's target
    rate = load_experiment("rate-sigprop-digits")
    assert Sweep(rate, grid=grid, fastest_target=False).base.params.target == "standalone"
    # models whose targets are not equivalent keep theirs
    lif = sweep_from_dict({"base": "lif-sigprop-digits", "grid": grid})
    assert not lif.chooses_target and lif.base.params.target == "standalone"
    assert not Sweep(_base(), grid={"lr": [1e-3]}).chooses_target


def _target_point(ran: list[str], experiment_toml: str, fail_lr: float = -1.0) -> Outcome:
    """Record the point's simulator target; the point at ``fail_lr`` fails."""
    exp = experiment_from_toml(experiment_toml)
    ran.append(exp.params.target)
    if exp.params.lr == fail_lr:
        return Outcome(None, "RuntimeError: stopped", 0.01)
    return Outcome(_point_dataset(0.5, exp.train.seed), "", 0.01)


def test_a_store_started_on_another_equivalent_target_resumes_on_it(tmp_path, capsys):
    """A store whose points ran on Brian2 (before neurosig chose the fastest target) finishes
    on Brian2: its points are never computed by two simulators. A new store runs on the
    fastest."""
    from functools import partial

    rate = load_experiment("rate-sigprop-digits")
    grid = {"lr": [0.05, 0.1]}
    older = Sweep(rate, grid=grid, name="rate-lr", fastest_target=False)  # as 0.6 ran it
    store, ran = tmp_path / "s.zarr", []
    with _Counting() as ex:
        run_sweep(older, store, ex, progress=False,
                  runner=partial(_target_point, ran, fail_lr=0.1))  # fmt: skip
    assert ran == ["standalone", "standalone"]
    assert sweep_status(store).failed == 1

    sweep = Sweep(rate, grid=grid, name="rate-lr")
    assert sweep.base.params.target == "reference" and sweep.spec_hash != older.spec_hash
    ran.clear()
    with _Counting() as ex:
        run_sweep(sweep, store, ex, progress=True, runner=partial(_target_point, ran))
    assert ran == ["standalone"]  # the failed point, retried on the store's target
    assert "model.target = 'standalone', the target it was started on" in capsys.readouterr().err
    assert sweep_status(store).done == 2

    ran.clear()
    with _Counting() as ex:
        run_sweep(sweep, tmp_path / "new.zarr", ex, progress=False,
                  runner=partial(_target_point, ran))  # fmt: skip
    assert ran == ["reference", "reference"]
