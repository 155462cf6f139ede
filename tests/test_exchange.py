"""NWB and Neo export (``neurosig export``, ``neurosig.results.to_neo``): the same spikes read
back, files the NWB inspector passes, Elephant on the Neo block.

The spiking Result is the ``lif-sigprop-digits`` preset trained for one epoch on 200 samples
(the compiled programs of tests/test_plausibility.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from neurosig import results
from neurosig.cli import main
from neurosig.config import load_experiment
from neurosig.errors import DataError
from neurosig.exchange import SYNTHETIC_CONSTRUCT, cell_types, to_neo
from neurosig.results import save_result
from neurosig.train import train

pynwb = pytest.importorskip("pynwb")
nwbinspector = pytest.importorskip("nwbinspector")
FORBIDDEN = ("CRITICAL", "BEST_PRACTICE_VIOLATION")  # the bar for the inspector


def _train(preset: str, **changes):
    settings = {"train_epochs": 1, "data_n_train": 200, "train_record_samples": 100}
    exp = load_experiment(preset).replace(**(settings | changes))
    return train(exp, progress=False)


@pytest.fixture(scope="module")
def lif_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("lif") / "lif.nc"
    save_result(_train("lif-sigprop-digits", train_record_every_epoch=True), path)
    return path


@pytest.fixture(scope="module")
def lif(lif_file):
    return results.load_result(lif_file)


def _inspect(path) -> list[str]:
    found = nwbinspector.inspect_nwbfile(nwbfile_path=str(path))
    return [f"{m.importance.name}: {m.check_function_name}: {m.message}" for m in found
            if m.importance.name in FORBIDDEN]  # fmt: skip


def test_nwb_export_reads_back_the_same_spikes_trials_traces_and_weights(
    lif, lif_file, tmp_path, capsys
):
    out = tmp_path / "run.nwb"
    assert main(["export", str(lif_file), "--format", "nwb", "--out", str(out)]) == 0
    assert "NWB" in capsys.readouterr().out
    rec = results.spikes(lif, 1)
    window = rec.t_stop
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        nwb = io.read()
        units = nwb.units.to_dataframe()
        assert len(units) == rec.n_units
        assert set(units.layer) == {1} and set(units.stream) == {"data"}
        assert list(units.cell_type) == list(cell_types(lif, 1))
        assert nwb.units.resolution == pytest.approx(0.5e-3)  # the preset's dt
        for unit in (0, 7, rec.n_units - 1):
            mine = rec.unit == unit
            expected = np.sort(rec.time[mine] + rec.sample[mine] * window)
            np.testing.assert_allclose(units.spike_times.iloc[unit], expected, atol=1e-12)
        assert sum(len(t) for t in units.spike_times) == rec.time.size
        trials = nwb.trials.to_dataframe()
        assert len(trials) == rec.n_samples
        np.testing.assert_array_equal(trials.label, results.labels(lif)[: rec.n_samples])
        np.testing.assert_allclose(trials.start_time, np.arange(rec.n_samples) * window)
        trace = results.traces(lif, 1)
        series = nwb.acquisition["membrane_potential_layer1"]
        assert series.unit == "volts" and series.rate == pytest.approx(1 / trace.dt)
        first = np.asarray(series.data[: trace.values.shape[2]]) * series.conversion
        np.testing.assert_allclose(first, trace.values[0].T * 1e-3, rtol=1e-6)
        weights = nwb.processing["network"]["weights_w1"]["weight"].data[:]
        np.testing.assert_allclose(weights, results.weights(lif)["w1"].values, rtol=1e-6)
        assert nwb.subject.species == SYNTHETIC_CONSTRUCT and nwb.subject.sex == "O"
        assert "not an animal" in nwb.subject.description
        assert 'name = "lif-sigprop-digits"' in nwb.notes  # the configuration
    assert _inspect(out) == []


@pytest.mark.parametrize("preset", ["sp-core-digits", "rate-sigprop-digits"])
def test_nwb_of_a_rate_network_holds_its_activity_and_passes_the_inspector(preset, tmp_path):
    from neurosig.exchange import write_nwb

    changes = {"model_target": "reference"} if preset.startswith("rate") else {}
    ds = _train(preset, **changes)
    out = write_nwb(ds, tmp_path / "rate.nwb")
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        nwb = io.read()
        assert nwb.units is None  # no spikes: no Units table
        activity = np.stack(nwb.trials.to_dataframe()["activity_layer1"].to_numpy())
        np.testing.assert_allclose(activity, results.activity(ds, 1).values, rtol=1e-6)
    assert _inspect(out) == []


def test_to_neo_gives_one_segment_per_sample_and_elephant_runs_on_it(lif):
    elephant_statistics = pytest.importorskip("elephant.statistics")
    import quantities as pq

    block = results.to_neo(lif)
    rec = results.spikes(lif, 1)
    assert len(block.segments) == rec.n_samples
    assert all(len(seg.spiketrains) == rec.n_units for seg in block.segments)
    assert sum(len(t) for seg in block.segments for t in seg.spiketrains) == rec.time.size
    segment = block.segments[3]
    assert segment.annotations["label"] == int(results.labels(lif)[3])
    train = segment.spiketrains[5]
    assert train.t_start == 0 * pq.s and train.t_stop == rec.t_stop * pq.s
    assert train.annotations["layer"] == 1 and train.annotations["unit_index"] == 5
    count = int(np.sum((rec.sample == 3) & (rec.unit == 5)))
    rate = elephant_statistics.mean_firing_rate(train).rescale(pq.Hz)
    assert float(rate) == pytest.approx(count / rec.t_stop)
    before = to_neo(lif, initial=True)
    assert before.annotations["recording"] == "before training"


def test_export_mistakes_end_in_one_line(lif_file, tmp_path, capsys):
    bp = tmp_path / "bp.nc"
    save_result(_train("bp-digits", train_record_samples=0), bp)
    taken = tmp_path / "taken.nwb"
    taken.write_bytes(b"keep me")
    cases = {
        "no samples": (["export", str(bp)], "recorded no samples"),
        "exists": (["export", str(lif_file), "--out", str(taken)], "already exists"),
        "missing": (["export", str(tmp_path / "none.nc")], "none.nc"),
    }
    for name, (argv, words) in cases.items():
        assert main(argv) == 2, name
        err = capsys.readouterr().err
        assert "Traceback" not in err and words in err, (name, err)
    assert taken.read_bytes() == b"keep me"
    with pytest.raises(DataError, match="no spike trains"):
        to_neo(results.load_result(bp))
