"""Training loop, Results, atomic writes, divergence guard and the command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass

import numpy as np
import pytest
import xarray as xr

from neurosig import load_result
from neurosig.cli import main
from neurosig.config import load_experiment
from neurosig.errors import DivergenceError
from neurosig.registry import ModelSpec, register_model
from neurosig.results import save_result
from neurosig.train import train


def quick(model: str, data: str, epochs: int = 3, **changes):
    exp = load_experiment(model).replace(
        data_name=data,
        train_epochs=epochs,
        train_batch_size=32,
        model_hidden=(16, 16),
        model_lr=3e-3,
        **changes,
    )
    return exp


def test_result_layout_and_round_trip(tmp_path, npz_data):
    out = tmp_path / "r.nc"
    ds = train(quick("sp-core", f"npz:{npz_data}", epochs=10), out=out, progress=False)
    back = load_result(out)
    assert back.test_accuracy.dims == ("epoch",) and back.sizes["epoch"] == 10
    assert set(back.readout.values) == {"linear", "target"}
    assert list(back.layer.values) == ["layer1", "layer2", "readout"]  # signal fixed
    assert back.param_layer1_W.shape == (16, 12)
    assert back.activity_layer2.dims == ("sample", "layer2_unit")
    assert back.attrs["status"] == "complete" and back.attrs["seed"] == 0
    assert "sp-core" in back.attrs["config"] and back.attrs["numpy_version"]
    assert back.test_accuracy.attrs["units"] == "1"
    xr.testing.assert_identical(back.drop_attrs(), ds.drop_attrs())
    assert float(back.test_accuracy[-1]) > 0.7  # three blobs: chance is 1/3


@pytest.mark.parametrize("model", ["sp-core", "bp", "ff"])
def test_same_seed_gives_bit_identical_results(npz_data, model):
    a = train(quick(model, f"npz:{npz_data}", epochs=2, model_dropout=0.1), progress=False)
    b = train(quick(model, f"npz:{npz_data}", epochs=2, model_dropout=0.1), progress=False)
    for name in a.data_vars:
        if name not in ("epoch_time", "samples_per_second"):
            np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    c = train(
        quick(model, f"npz:{npz_data}", epochs=2, model_dropout=0.1, train_seed=1), progress=False
    )
    assert not np.array_equal(a.param_layer1_W.values, c.param_layer1_W.values)


@dataclass(frozen=True)
class _NanConfig:
    lr: float = 0.1


class _DivergesInEpochTwo:
    """A stand-in model whose loss becomes NaN in its second epoch."""

    loss_names = ("layer1",)
    readouts = ("only",)
    activity_units = "1"
    target = "numpy"

    def __init__(self, n_batches_per_epoch):
        self.w = np.zeros(2)
        self.calls = 0
        self.n = n_batches_per_epoch

    def train_batch(self, x, y, rng):
        self.calls += 1
        self.w += 1
        return {"layer1": float("nan") if self.calls > self.n else 1.0}

    def predict(self, x):
        return {"only": np.zeros(len(x), dtype=int)}

    def hidden_activity(self, x):
        return [np.zeros((len(x), 2))]

    def state_dict(self):
        return {"layer1.W": self.w.copy()}

    def load_state_dict(self, state):
        self.w[...] = state["layer1.W"]

    def set_schedule_factor(self, factor):
        pass


def test_divergence_stops_with_a_clear_message_and_keeps_the_last_good_epoch(tmp_path, npz_data):
    register_model(
        ModelSpec(
            "test-diverges",
            _NanConfig,
            lambda cfg, n_in, n_cls, rng: _DivergesInEpochTwo(7),
            "test double",
            forward_only=True,
        )
    )
    exp = load_experiment("test-diverges").replace(
        data_name=f"npz:{npz_data}", train_epochs=5, train_batch_size=32
    )
    out = tmp_path / "diverged.nc"
    with pytest.raises(DivergenceError, match=r"diverged in epoch 2.*layer1.*epoch 1.*model.lr"):
        train(exp, out=out, progress=False)
    saved = load_result(out)
    assert saved.attrs["status"] == "diverged" and saved.sizes["epoch"] == 1
    np.testing.assert_array_equal(saved.param_layer1_W.values, [7.0, 7.0])


def test_killed_write_leaves_the_previous_file_intact(tmp_path):
    """SIGKILL a process in the middle of save_result: the old file must still load."""
    target = tmp_path / "result.nc"
    save_result(xr.Dataset({"v": ("x", np.arange(3.0))}, attrs={"version": "old"}), target)
    script = textwrap.dedent(f"""
        import pathlib, time, numpy as np, xarray as xr
        from neurosig import results
        def slow(self, data):
            with open(self, "wb") as fh:
                fh.write(bytes(data)[:1000])
                fh.flush()
            print("writing", flush=True)
            time.sleep(60)
        pathlib.Path.write_bytes = slow
        results.save_result(xr.Dataset({{"v": ("x", np.zeros(10**6))}}, attrs={{"version": "new"}}),
                            {str(target)!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    ds = xr.load_dataset(target, engine="h5netcdf")  # a plain netCDF file: no Result to load
    assert ds.attrs["version"] == "old"
    np.testing.assert_array_equal(ds.v.values, np.arange(3.0))
    assert len(list(tmp_path.glob(".result.nc.*.part"))) == 1  # the killed write's
    save_result(ds, target)  # the next write reclaims it
    assert [p.name for p in tmp_path.iterdir()] == ["result.nc"]


def test_cli_train_writes_a_result(tmp_path, npz_data, capsys):
    out = tmp_path / "r.nc"
    code = main(
        [
            "train",
            "sp-core",
            "--dataset",
            f"npz:{npz_data}",
            "--epochs",
            "2",
            "--seed",
            "1",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    ds = load_result(out)
    assert ds.attrs["seed"] == 1 and ds.sizes["epoch"] == 2
    assert "test accuracy after 2 epochs" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "sp-cor"], "Did you mean 'sp-core'"),
        (["train", "bp", "--dataset", "mnist2d"], "mnist2d"),
        (["train", "bp", "--epochs", "0"], "train.epochs = 0"),
        (["train", "bp", "--dataset", "npz:/no/such/file.npz"], "/no/such/file.npz"),
        (["validate", "/no/such.toml"], "no such file"),
    ],
)
def test_cli_user_errors_exit_2_with_one_line(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("neurosig: error:") and "Traceback" not in err


def test_cli_error_in_a_real_process_has_no_traceback(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[model]\nname = "sp-core"\nloss = "nope"\n')
    run = subprocess.run(
        [sys.executable, "-m", "neurosig", "validate", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    assert "model.loss = 'nope'" in run.stderr and "Traceback" not in run.stderr


def test_cli_lists_models_and_validates(capsys, tmp_path):
    assert main(["models"]) == 0
    listing = capsys.readouterr().out
    for name in ("sp-core", "bp", "fa", "dfa", "ff", "random-features", "sp-core-mnist1d"):
        assert name in listing
    assert main(["models", "--describe", "sp-core"]) == 0
    assert "topk" in capsys.readouterr().out
    path = tmp_path / "e.toml"
    path.write_text(load_experiment("ff-digits").to_toml())
    assert main(["validate", str(path)]) == 0
    assert 'name = "ff"' in capsys.readouterr().out


def test_progress_bar_does_not_break_training(npz_data, capsys):
    start = time.perf_counter()
    train(quick("random-features", f"npz:{npz_data}", epochs=1), progress=True)
    assert time.perf_counter() - start < 60


def test_cli_data_fetch_unknown_name_is_a_clear_error(capsys):
    assert main(["data", "fetch", "mnist2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neurosig: error:") and "mnist2" in err
