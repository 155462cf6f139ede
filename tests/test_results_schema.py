"""The Result schema of neurosig.results: its readers on Results written by neurosig 0.1.0
(schema 1) and by this version (schema 2), the writer, and the saved file's mode.

The schema-1 Result is written by hand here, so this module spells the 0.1.0 variable names:
it tests the schema itself.
"""

from __future__ import annotations

import os
from types import SimpleNamespace

import numpy as np
import pytest
import tomli_w
import xarray as xr

from neurosig import results
from neurosig.config import load_experiment
from neurosig.errors import DataError
from neurosig.results import (
    SCHEMA_ATTR,
    SCHEMA_VERSION,
    LayerRecording,
    Recordings,
    SpikeRecord,
    TraceRecord,
    TrainingHistory,
    load_result,
    save_result,
    training_result,
)
from neurosig.train import train

RNG = np.random.default_rng(0)
N_SAMPLES, N_UNITS, N_CLASSES, N_IN = 4, 5, 3, 6
ACT = RNG.uniform(0, 50, (N_SAMPLES, N_UNITS))
INITIAL = RNG.uniform(0, 50, (N_SAMPLES, N_UNITS))
W1 = RNG.normal(size=(N_UNITS, N_IN))
W_RO = RNG.normal(size=(N_CLASSES, N_UNITS))
MEMORY = RNG.normal(size=(N_CLASSES, N_UNITS))
SPIKES = {"sample": [0, 0, 1, 2], "unit": [1, 4, 0, 2], "time": [0.001, 0.0125, 0.019, 0.0]}
TRACE = RNG.normal(-60, 5, (3, 2, 40))


def v1_result(model_config: dict | None = None) -> xr.Dataset:
    """A Result as neurosig 0.1.0 wrote it: no schema attribute, ``learning_rate``, and the
    spike window only in the config text (presentation 20 ms, chunk 3, dt 0.5 ms)."""
    model = {"name": "lif", "presentation": "20 ms", "chunk": 3, "dt": "0.5 ms"}
    if model_config is not None:
        model = model_config
    acc = RNG.uniform(size=(2, 3, 2))
    spike_dim, initial_dim = ("spike_layer1",), ("initial_spike_layer1",)
    return xr.Dataset(
        {
            "accuracy": (("epoch", "split", "readout"), acc, {"units": "1"}),
            "test_accuracy": ("epoch", acc[:, 2, 0], {"units": "1"}),
            "loss": (("epoch", "layer"), RNG.uniform(size=(2, 2)), {"units": "1"}),
            "learning_rate": ("epoch", [0.02, 0.01], {"units": "1"}),
            "epoch_time": ("epoch", [1.0, 1.0], {"units": "s"}),
            "samples_per_second": ("epoch", [100.0, 110.0], {"units": "1/s"}),
            "param_layer1_weight": (("layer1_out", "layer1_in"), W1),
            "param_w_ro_weight": (("w_ro_out", "w_ro_in"), W_RO),
            "param_layer1_memory": (("class", "layer1_out"), MEMORY),
            "activity_layer1": (("sample", "layer1_unit"), ACT, {"units": "Hz"}),
            "initial_activity_layer1": (("sample", "layer1_unit"), INITIAL, {"units": "Hz"}),
            "activity_history_layer1": (
                ("record_epoch", "sample", "layer1_unit"),
                np.stack([INITIAL, ACT, ACT]),
            ),
            "spike_layer1_sample": (spike_dim, SPIKES["sample"]),
            "spike_layer1_unit": (spike_dim, SPIKES["unit"]),
            "spike_layer1_time": (spike_dim, SPIKES["time"], {"units": "s"}),
            "initial_spike_layer1_sample": (initial_dim, [1]),
            "initial_spike_layer1_unit": (initial_dim, [3]),
            "initial_spike_layer1_time": (initial_dim, [0.005], {"units": "s"}),
            "trace_layer1": (
                ("trace_sample", "trace_layer1_unit", "trace_step"),
                TRACE,
                {"units": "mV"},
            ),
        },
        coords={
            "epoch": [1, 2],
            "split": ["train", "validation", "test"],
            "readout": ["delta", "target"],
            "layer": ["layer1", "readout"],
            "sample": np.arange(N_SAMPLES),
            "label": ("sample", [0, 2, 1, 0]),
            "record_epoch": [0, 1, 2],
        },
        attrs={
            "model": "lif",
            "status": "complete",
            "primary_readout": "delta",
            "config": tomli_w.dumps({"name": "old", "model": model}),
        },
    )


# -- schema 1: neurosig 0.1.0 -----------------------------------------------------------------


@pytest.mark.parametrize("saved", [False, True])
def test_readers_read_a_0_1_0_result(saved, tmp_path):
    ds = v1_result()
    if saved:
        ds = load_result(save_result(ds, tmp_path / "old.nc"))
    assert results.schema_version(ds) == 1
    assert results.layers(ds) == [1] and results.n_layers(ds) == 1
    np.testing.assert_array_equal(results.activity(ds, 1), ACT)
    np.testing.assert_array_equal(results.activity(ds, 1, initial=True), INITIAL)
    assert results.activity(ds, 1).attrs["units"] == "Hz"
    np.testing.assert_array_equal(results.activity_history(ds, 1)[1], ACT)
    np.testing.assert_array_equal(results.labels(ds), [0, 2, 1, 0])
    np.testing.assert_array_equal(results.primary_accuracy(ds), ds.accuracy[:, 2, 0])
    assert results.primary_readout(ds) == "delta"

    rec = results.spikes(ds, 1)
    for part in ("sample", "unit", "time"):
        np.testing.assert_array_equal(getattr(rec, part), SPIKES[part])
    # the window and the spike-recorded samples come from the config text
    assert (rec.n_samples, rec.n_units) == (3, N_UNITS)  # min(4 samples, chunk 3)
    assert (rec.t_start, rec.t_stop, rec.units) == (0.0, pytest.approx(0.02), "s")
    initial = results.spikes(ds, 1, initial=True)
    assert initial.unit.tolist() == [3] and initial.t_stop == pytest.approx(0.02)
    assert results.has_spikes(ds) and results.has_spikes(ds, 1, initial=True)

    tr = results.traces(ds, 1)
    np.testing.assert_array_equal(tr.values, TRACE)
    assert tr.dt == pytest.approx(0.5e-3) and tr.units == "mV"

    params = results.parameters(ds)
    assert set(params) == {"layer1.weight", "w_ro.weight", "layer1.memory"}
    np.testing.assert_array_equal(results.parameter(ds, "w_ro.weight"), W_RO)
    assert set(results.weights(ds)) == {"layer1", "w_ro"}
    np.testing.assert_array_equal(results.weights(ds)["layer1"], W1)

    # 0.1.0 stored the absolute rate: the factor is relative to the first epoch
    np.testing.assert_allclose(results.lr_factor(ds), [1.0, 0.5])
    assert list(results.epoch_metrics(ds).data_vars) == list(results.EPOCH_METRICS)


def test_0_1_0_result_defaults_and_errors():
    old = v1_result({"name": "lif"})  # a config written before presentation was a field
    assert results.spikes(old, 1).t_stop == pytest.approx(0.05)
    assert results.spikes(old, 1).n_samples == N_SAMPLES  # no chunk: every recorded sample
    assert results.traces(old, 1).dt == pytest.approx(1e-4)
    rate = old.drop_vars([v for v in old.data_vars if "spike" in str(v) or "trace" in str(v)])
    assert not results.has_spikes(rate) and not results.has_traces(rate, 1)
    with pytest.raises(ValueError, match="rate networks have no spikes"):
        results.spikes(rate, 1)
    with pytest.raises(ValueError, match="no membrane traces"):
        results.traces(rate, 1)
    with pytest.raises(ValueError, match="record_samples"):
        results.activity(old, 2)
    with pytest.raises(ValueError, match="no parameter 'layer9.W'"):
        results.parameter(old, "layer9.W")
    # Results before initial_activity existed: the history's record_epoch 0 is the same thing
    older = old.drop_vars("initial_activity_layer1")
    np.testing.assert_array_equal(results.activity(older, 1, initial=True), INITIAL)
    newer = old.assign_attrs({SCHEMA_ATTR: SCHEMA_VERSION + 1})
    with pytest.raises(DataError, match="newer"):
        results.schema_version(newer)


# -- schema 2: the writer ---------------------------------------------------------------------


class _Model:
    """Just what training_result reads from a model."""

    readouts = ("delta", "target")
    loss_names = ("layer1", "readout")
    activity_units = "Hz"
    target = "standalone"

    def state_dict(self):
        return {"layer1.weight": W1, "w_ro.weight": W_RO, "adam.m": np.zeros(3)}


def _recordings(n_samples: int, t_stop: float) -> Recordings:
    spikes = SpikeRecord(
        np.array(SPIKES["sample"]),
        np.array(SPIKES["unit"]),
        np.array(SPIKES["time"]),
        n_samples=n_samples,
        n_units=N_UNITS,
        t_start=0.0,
        t_stop=t_stop,
    )
    return Recordings((LayerRecording(spikes, TraceRecord(TRACE, dt=2.5e-4)),))


def test_writer_stores_the_spike_window_and_readers_need_no_config(tmp_path):
    exp = load_experiment("sp-core-digits")  # its config has no presentation at all
    data = SimpleNamespace(name="digits", source="test", feature_shape=(8, 8))
    history = TrainingHistory(
        accuracy=[np.zeros((3, 2))],
        loss=[np.ones(2)],
        lr_factor=[1.0],
        seconds=[1.0],
        samples_per_second=[10.0],
        initial_activity=[INITIAL],
        initial_recordings=_recordings(2, 0.03),
    )
    ds = training_result(
        exp,
        data,
        _Model(),
        history,
        status="complete",
        labels=np.array([0, 2, 1, 0]),
        activity=[ACT],
        recordings=_recordings(3, 0.02),
    )
    back = load_result(save_result(ds, tmp_path / "r.nc"))
    assert back.attrs[SCHEMA_ATTR] == SCHEMA_VERSION == results.schema_version(back)
    rec = results.spikes(back, 1)
    assert (rec.n_samples, rec.n_units, rec.t_start, rec.t_stop) == (3, N_UNITS, 0.0, 0.02)
    np.testing.assert_array_equal(rec.time, SPIKES["time"])
    initial = results.spikes(back, 1, initial=True)
    assert (initial.n_samples, initial.t_stop) == (2, 0.03)
    tr = results.traces(back, 1)
    assert tr.dt == 2.5e-4 and tr.times()[-1] == pytest.approx(39 * 2.5e-4)
    np.testing.assert_array_equal(results.traces(back, 1, initial=True).values, TRACE)
    assert set(results.parameters(back)) == {"layer1.weight", "w_ro.weight"}  # no optimiser
    np.testing.assert_array_equal(results.activity(back, 1, initial=True), INITIAL)
    assert results.activity(back, 1).attrs["units"] == "Hz"
    assert results.lr_factor(back).attrs["long_name"].startswith("learning-rate schedule")
    assert back.attrs["target"] == "standalone" and back.attrs["primary_readout"] == "delta"


def test_freshly_trained_result_round_trips_through_the_readers(tmp_path):
    exp = load_experiment("sp-core-digits").replace(
        train_epochs=1,
        model_hidden=(16,),
        data_n_train=200,
        train_record_samples=20,
        train_record_every_epoch=True,
    )
    ds = train(exp, out=tmp_path / "r.nc", progress=False)
    back = load_result(tmp_path / "r.nc")
    assert ds.attrs[SCHEMA_ATTR] == back.attrs[SCHEMA_ATTR] == SCHEMA_VERSION
    assert results.experiment(back) == exp
    assert results.layers(back) == [1]
    np.testing.assert_array_equal(results.activity(back, 1), results.activity(ds, 1))
    assert results.activity(back, 1).shape == (20, 16)
    history = results.activity_history(back, 1)
    np.testing.assert_array_equal(history[0], results.activity(back, 1, initial=True))
    np.testing.assert_array_equal(history[-1], results.activity(back, 1))
    np.testing.assert_array_equal(results.lr_factor(back), [1.0])
    assert not results.has_spikes(back)
    model, _ = results.restore_model(back)
    state = model.state_dict()
    for key, value in results.parameters(back).items():
        np.testing.assert_array_equal(value, state[key], err_msg=key)


# -- the file ---------------------------------------------------------------------------------


def test_saved_result_has_the_umask_mode(tmp_path):
    old = os.umask(0o022)
    try:
        path = save_result(v1_result(), tmp_path / "r.nc")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
    assert not [p for p in tmp_path.iterdir() if p.name != "r.nc"]  # no temporary file left
