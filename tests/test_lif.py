"""The Brian2 LIF model: the neuron, targets, reproducibility, audits, training, errors."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from neurosig.analyses.audit import audit_brian_network
from neurosig.cli import main
from neurosig.config import check, experiment_from_dict
from neurosig.errors import ConfigError
from neurosig.models.lif import CURRENT_DRIVEN, LIFConfig, build_lif
from neurosig.models.lif_input import spike_table
from neurosig.models.lif_network import build_brian, equations_text, make_structure

SMALL = dict(hidden=(6, 5), chunk=4, presentation=10.0, dt=0.5, branch_every=2, encoding="poisson")

VARIANTS = {
    "default": {},
    "phases": dict(mode="phases"),
    "current": dict(encoding="current", slope="free-time", memory_rate=0.5),
    "surrogate-free": dict(rule="sp-surrogate", potential="free"),
    "biology": dict(synapse="conductance", dale=True, delay=1.0, p_connect=0.6, w_max=2.0),
    "current-driven": CURRENT_DRIVEN,
    "mse-presented": dict(loss="mse", target_branch="presented", weight_decay=0.01),
}


def _train(cfg: LIFConfig, n_batches: int = 2, seed: int = 1):
    rng = np.random.default_rng(seed)
    model = build_lif(cfg, 6, 3, rng)
    x = rng.standard_normal((5 * n_batches, 6)) * 2
    y = rng.integers(0, 3, 5 * n_batches)
    update_rng = np.random.default_rng(5)
    losses = [
        model.train_batch(x[i : i + 5], y[i : i + 5], update_rng) for i in range(0, len(y), 5)
    ]
    return model, losses, model.predict(x), model.hidden_activity(x)


def _assert_same(a, b, tol=1e-7):
    sa, sb = a[0].state_dict(), b[0].state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        np.testing.assert_allclose(sa[key], sb[key], rtol=tol, atol=tol, err_msg=key)
    for ha, hb in zip(a[3], b[3], strict=True):  # firing rates: the same spikes
        np.testing.assert_array_equal(ha, hb)


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_learns_and_reports_finite_losses(variant):
    model, losses, pred, rates = _train(
        LIFConfig(**{**SMALL, **VARIANTS[variant]}, target="standalone")
    )
    assert all(math.isfinite(v) for loss in losses for v in loss.values())
    untrained = build_lif(model.cfg, 6, 3, np.random.default_rng(1))
    assert np.abs(model.state["w1.w"] - untrained.state["w1.w"]).max() > 0
    assert set(pred) == {"target", "delta"}
    assert all(r.shape == (10, n) for r, n in zip(rates, model.cfg.hidden, strict=True))
    assert sum(r.sum() for r in rates) > 0  # the network spikes


def test_learning_lowers_the_layer_loss_and_fits_a_separable_batch():
    """Repeated passes over one batch of separable blobs (constant currents): sp-voltage's
    layer loss falls by at least 5x and the nearest-class-target readout fits the batch.

    Any weight change passed the old test; a rule with the wrong sign or scale fails this one.
    """
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((3, 6)) * 2
    y = np.repeat(np.arange(3), 4)
    x = centers[y] + 0.3 * rng.standard_normal((12, 6))
    cfg = LIFConfig(
        hidden=(8,), chunk=12, presentation=20.0, dt=0.5, target="standalone", **CURRENT_DRIVEN
    )
    model = build_lif(cfg, 6, 3, np.random.default_rng(1))
    update_rng = np.random.default_rng(5)
    losses = [model.train_batch(x, y, update_rng)["layer1"] for _ in range(8)]
    assert np.mean(losses[-3:]) < 0.2 * losses[0], losses
    assert (model.predict(x)["target"] == y).mean() >= 11 / 12


def test_the_cortical_default_learns_a_separable_batch_through_its_noise():
    """The default (Poisson input, background, Dale's law, lateral inhibition, homeostasis):
    the same blobs, presented longer; the layer loss falls and the target readout fits most of
    the batch although every presentation draws new input and background spikes."""
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((3, 6)) * 2
    y = np.repeat(np.arange(3), 4)
    x = centers[y] + 0.3 * rng.standard_normal((12, 6))
    cfg = LIFConfig(hidden=(16,), chunk=12, presentation=50.0, dt=0.5, target="standalone")
    model = build_lif(cfg, 6, 3, np.random.default_rng(1))
    update_rng = np.random.default_rng(5)
    losses = [model.train_batch(x, y, update_rng)["layer1"] for _ in range(12)]
    assert np.mean(losses[-3:]) < 0.7 * np.mean(losses[:2]), losses
    assert (model.predict(x)["target"] == y).mean() >= 10 / 12


def test_standalone_gives_the_same_spikes_and_weights_as_the_runtime():
    cfg = LIFConfig(**SMALL, target="numpy")
    _assert_same(_train(cfg), _train(dataclasses.replace(cfg, target="standalone")))


@pytest.mark.slow
def test_cython_gives_the_same_spikes_as_standalone():
    cfg = LIFConfig(**SMALL, mode="phases", target="standalone")
    _assert_same(_train(cfg), _train(dataclasses.replace(cfg, target="cython")))


def test_target_every_shows_the_target_stream_on_every_nth_sample_only():
    """target_every = 2: no target spikes on the chunk's odd samples, and a class presented
    only there leaves its class memories as they started (zero) while the others move."""
    from neurosig.models.lif_input import make_chunk

    cfg = LIFConfig(**SMALL, target="standalone", target_every=2)
    rng = np.random.default_rng(1)
    model = build_lif(cfg, 6, 3, rng)
    x = rng.standard_normal((8, 6)) * 2
    y = np.array([0, 2, 1, 2, 0, 2, 1, 2])  # class 2 on the odd samples only
    chunk = make_chunk(model.st, model.state["signal.w"], x[:4], y[:4], rng)
    t = chunk.timed["tab_t"]
    assert chunk.timed["shown"].tolist() == [0, 1, 0, 1, 0]
    step = np.rint(t[t < 1e8] / (cfg.dt * 1e-3) + 0.5).astype(int)  # stored at (k - 1/2) dt
    sample = step // model.st.steps_per_sample
    assert sample.size and set(sample.tolist()) <= {0, 2}
    model.train_batch(x[:4], y[:4], rng)
    model.train_batch(x[4:], y[4:], rng)
    m, mp = model.state["layer1.m"], model.state["layer0.mp"]
    assert np.all(m[2] == 0) and np.all(mp[2] == 0)
    assert np.any(m[0] != 0) and np.any(m[1] != 0) and np.any(mp[0] != 0)


def test_runs_are_reproducible_and_seeds_change_the_spikes():
    cfg = LIFConfig(**SMALL, target="standalone")
    a, b = _train(cfg), _train(cfg)
    _assert_same(a, b, tol=0)
    c = _train(cfg, seed=2)
    assert not all(np.array_equal(p, q) for p, q in zip(a[3], c[3], strict=True))


def test_phase_mode_makes_the_same_first_update_as_two_compartments():
    # the same input draws, one stream after the other, from a full reset: the same update up
    # to a spike that float round-off moves across a time step (the generated code differs).
    # Without background (the phases see different background spikes, the compartments share
    # them) and without local inhibition (with it the first updates correlate at 0.91 only, not
    # yet explained: phase mode with lateral_inhibition is not claimed equivalent)
    cfg = LIFConfig(**SMALL, target="standalone", background_rate=0.0, lateral_inhibition=0.0)
    a = _train(cfg, n_batches=1)
    b = _train(dataclasses.replace(cfg, mode="phases"), n_batches=1)
    w0 = build_lif(cfg, 6, 3, np.random.default_rng(1)).state["w1.w"]
    da, db = a[0].state["w1.w"] - w0, b[0].state["w1.w"] - w0
    assert np.corrcoef(da, db)[0, 1] > 0.99


@pytest.mark.parametrize("drive", [16.0, 25.0, 60.0])
def test_lif_neuron_fires_at_the_analytic_rate(drive):
    """Constant drive RI (the bias, no input): 1/(t_ref + tau_m ln(RI/(RI - theta)))."""
    cfg = LIFConfig(
        hidden=(1,),
        chunk=1,
        presentation=500.0,
        dt=0.02,
        input_offset=0.0,
        input_gain=0.0,
        target="standalone",  # (Brian2's runtime clocks can overrun a 25,000-step run's end)
        trace_units=0,
        **CURRENT_DRIVEN,  # no background: the drive is the bias alone
    )
    model = build_lif(cfg, 2, 2, np.random.default_rng(0))
    model.state["layer1.b"][:] = drive
    rec = model.recordings(np.zeros((1, 2)))
    times = np.sort(rec.layer(1).spikes.time)
    isi = np.diff(times).mean()
    theta = cfg.v_th - cfg.v_reset
    expected = 1 / (cfg.t_ref * 1e-3 + cfg.tau_m * 1e-3 * math.log(drive / (drive - theta)))
    assert 1 / isi == pytest.approx(expected, rel=0.01)


def test_a_neuron_below_threshold_stays_silent():
    cfg = LIFConfig(
        hidden=(3,), chunk=1, input_offset=0.0, input_gain=0.0, target="numpy", **CURRENT_DRIVEN
    )
    model = build_lif(cfg, 2, 2, np.random.default_rng(0))
    model.state["layer1.b"][:] = 14.0  # theta = 15 mV
    assert model.hidden_activity(np.zeros((1, 2)))[0].sum() == 0


def test_spike_table_replays_each_spike_once():
    unit = np.array([1, 0, 1, 1])
    step = np.array([5, 2, 3, 5])  # unit 1 fires twice in step 5: counted once
    tab = spike_table(unit, step, 3, rows=4, dt=1e-3)
    np.testing.assert_allclose(tab[:2, 0], [1.5e-3, 1e9])
    np.testing.assert_allclose(tab[:3, 1], [2.5e-3, 4.5e-3, 1e9])
    assert np.all(tab[:, 2] == 1e9)


def test_recordings_have_spike_trains_with_their_window_and_voltage_traces():
    model = _train(LIFConfig(**SMALL, target="standalone"))[0]
    rec = model.recordings(np.ones((3, 6)))
    assert len(rec.layers) == 2
    spikes = rec.layer(1).spikes
    assert spikes.sample.max() < 3 and (spikes.n_samples, spikes.n_units) == (3, 6)
    assert (spikes.t_start, spikes.t_stop) == (0.0, pytest.approx(10e-3))
    assert np.all((spikes.time >= spikes.t_start) & (spikes.time < spikes.t_stop))
    traces = rec.layer(1).traces
    assert traces.values.shape == (3, 4, 20) and traces.dt == pytest.approx(0.5e-3)
    assert traces.units == "mV" and traces.values.max() <= model.cfg.v_th + 1e-9


def _brian_objects(cfg: LIFConfig):
    import brian2

    brian2.start_scope()
    brian2.set_device("runtime")
    st = make_structure(cfg, 6, 3, np.random.default_rng(0), chunk=2)
    return build_brian(st, record=True).objects


@pytest.mark.parametrize("variant", ["default", "phases", "current", "biology"])
def test_built_network_is_forward_only_and_every_update_is_local(variant):
    cfg = LIFConfig(**{**SMALL, **VARIANTS[variant]})
    model = build_lif(cfg, 6, 3, np.random.default_rng(0))
    report = audit_brian_network(
        _brian_objects(cfg).values(),
        model.layer_of(),
        stimuli=model.stimuli(),
        label=model.label_inputs(),
    )
    assert report.forward_only, report.table()
    assert report.local, report.table()
    plastic = [r for r in report.rows if r.check == "locality" and "w1" in r.obj]
    assert plastic and all(r.ok for r in plastic)


def test_audit_catches_a_feedback_synapse():
    import brian2

    cfg = LIFConfig(**SMALL)
    objects = _brian_objects(cfg)
    back = brian2.Synapses(
        objects["layer2"], objects["layer1"], "w : 1", on_pre="v_h_post += w*mV", name="feedback"
    )
    back.connect()
    model = build_lif(cfg, 6, 3, np.random.default_rng(0))
    report = audit_brian_network(
        [*objects.values(), back],
        model.layer_of(),
        stimuli=model.stimuli(),
        label=model.label_inputs(),
    )
    assert not report.forward_only
    # the feedback synapse itself, and layer 1's plastic weights, which now learn from a
    # potential that carries layer 2's spikes (the audit follows the flow transitively)
    assert [r.obj for r in report.failures()] == ["w1", "feedback"]


def test_equations_are_readable_text():
    text = equations_text(LIFConfig())
    assert "dv_h/dt" in text and "dv_t/dt" in text
    assert "w += -lr_post*e_h_post*p_h_pre" in text
    assert "ge_h_post += clip(w, 0, inf)*g_exc" in text  # the default: conductances
    assert "w = sgn_pre*clip(sgn_pre*w, 0, w_max)" in text  # Dale's law
    assert "# background sources" in text and "b += -eta_rate" in text
    current = equations_text(LIFConfig(**CURRENT_DRIVEN))
    assert "us_h_post" not in current and "syn_h_post += w*psp" in current
    assert "background" not in current and "sgn_pre" not in current
    assert "b += -eta_rate" not in current


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(tau_m=-5.0), "tau_m"),
        (dict(v_th=-70.0), "v_th"),
        (dict(v_th=-60.0, v_rest=-55.0, v_reset=-70.0), "fire at rest"),
        (dict(presentation=10.05), "multiple of dt"),
        (dict(rate_max=20000.0 / 2), "rate_max"),
        (dict(chunk=15), "branch_every"),
        (dict(synapse="conductance", e_exc=-55.0), "e_exc"),
        (dict(dale=False), "lateral_inhibition"),
        (dict(background_rate=20000.0), "background_rate"),
        (dict(target_every=3, chunk=30, loss="mse"), "target_every = 3 needs loss"),
        (dict(target_every=2, label_path="stream"), "needs label_path"),
        (dict(target_every=4, chunk=30), "multiple of target_every"),
    ],
)
def test_bad_parameters_are_clear_errors(fields, message):
    with pytest.raises(ConfigError, match=message):
        check(LIFConfig(**fields), "model")


def test_bad_units_in_toml_exit_with_code_2(capsys, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(
        'name = "bad"\n[model]\nname = "lif"\ntau_m = "20 mV"\n[data]\nname = "digits"\n'
    )
    assert main(["train", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "model.tau_m" in err and "Traceback" not in err


def test_cli_trains_the_lif_model_in_standalone_mode(tmp_path, npz_data):
    from neurosig import load_result

    out = tmp_path / "r.nc"
    spec = tmp_path / "lif.toml"  # the defaults on a smaller hidden layer (suite time)
    spec.write_text(
        'name = "lif-cli"\n[model]\nname = "lif"\nhidden = [64]\n[data]\nname = "digits"\n'
    )
    args = ["train", str(spec), "--dataset", f"npz:{npz_data}", "--epochs", "3", "--seed", "3"]
    assert main([*args, "--out", str(out), "--quiet"]) == 0
    ds = load_result(out)
    assert ds.attrs["target"] == "standalone" and ds.attrs["model"] == "lif"
    # three separable blobs; with the defaults' few presentations the delta readout gets there
    # first (the nearest-class-target readout needs its class targets to separate)
    assert float(ds.accuracy.sel(split="test").isel(epoch=-1).max()) > 0.8
    assert ds.param_layer1_memory.dims == ("class", "layer1_out")
    assert ds.activity_layer1.attrs["units"] == "Hz"
    assert "spike_layer1_time" in ds and ds.spike_layer1_time.dims == ("spike_layer1",)
    assert "trace_layer1" in ds


def test_presets_validate():
    from neurosig.config import load_experiment

    for name in ("lif-sigprop-digits", "lif-sigprop-mnist1d", "lif-sigprop-fashion-mnist"):
        exp = load_experiment(name)
        assert exp.model == "lif"
        check(exp.params, "model")


def test_experiment_from_toml_dict_reads_units():
    exp = experiment_from_dict(
        {
            "name": "x",
            "model": {"name": "lif", "tau_m": "10 ms", "v_th": "-52 mV", "rate_max": "80 Hz"},
            "data": {"name": "digits"},
        }
    )
    assert (exp.params.tau_m, exp.params.v_th, exp.params.rate_max) == (10.0, -52.0, 80.0)


def test_a_model_reuses_the_image_of_its_own_network_only():
    """Two models of one configuration share a compiled program's image (no code generated
    for the second); a constant of the equations outside the structural key (tau_m) gives
    another program, and other spikes."""
    cfg = LIFConfig(**SMALL, target="standalone")
    a = _train(cfg)
    b = _train(cfg)
    assert b[0].program.image is a[0].program.image
    assert b[0].program.compile_seconds < 0.5
    _assert_same(a, b)
    faster = _train(dataclasses.replace(cfg, tau_m=5.0))
    assert faster[0].st.key() == a[0].st.key()  # the key leaves tau_m to the identity
    assert faster[0].program.image is not a[0].program.image
    assert not all(np.array_equal(x, y) for x, y in zip(a[3], faster[3], strict=True))
