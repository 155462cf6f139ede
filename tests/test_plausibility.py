"""The report card: references, bands, weight statistics, cards of rate and spiking Results,
and ``neurosig report``.

The spiking Result is the ``lif-sigprop-digits`` preset trained for one epoch on 200 samples,
and its trial probe uses 4 repeats: the same compiled programs as notebooks 03 and 04.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from neurosig import results
from neurosig.analyses import activity, plausibility, weights
from neurosig.analyses.plausibility import Reference, band, load_references, relative_band
from neurosig.cli import main
from neurosig.config import load_experiment
from neurosig.results import save_result
from neurosig.train import train

SPIKE_ROWS = ("isi_cv", "cv2", "lv", "fano_factor_100ms", "noise_correlation_100ms")
RULE_ROWS = ("spatial_locality", "weight_transport_free", "feedback_free")


def _train(preset: str, **changes):
    exp = load_experiment(preset).replace(
        train_epochs=1, data_n_train=200, train_record_samples=100, **changes
    )
    return train(exp, progress=False)


@pytest.fixture(scope="module")
def bp():
    return _train("bp-digits")


@pytest.fixture(scope="module")
def sp_core():
    return _train("sp-core-digits")


@pytest.fixture(scope="module")
def lif():
    return _train("lif-sigprop-digits")


@pytest.fixture(scope="module")
def lif_probe(lif):
    return plausibility.probe_trials(lif, n_repeats=4)


# -- references and bands -------------------------------------------------------------------


def test_every_card_row_has_a_reference_with_a_citation():
    refs = load_references()
    for key in (*SPIKE_ROWS, *RULE_ROWS, "median_rate", "dale_fraction", "cka", "lv"):
        assert key in refs, key
    for ref in refs.values():
        assert ref.citation and ref.context, ref.key
        assert ref.confidence in ("verified", "approximate", "unverified"), ref.key
        if not ref.relative:
            assert ref.low <= ref.high, ref.key
            assert ref.near[0] <= ref.low and ref.high <= ref.near[1], ref.key


def test_bands_follow_the_reference_range():
    ref = Reference("r", "c", "s", "Hz", ("spiking",), "ctx", "cite", "verified", 1, 10, (0.5, 20))
    assert [band(v, ref) for v in (1, 10, 0.7, 15, 0.1, 30)] == [
        "in", "in", "near", "near", "out", "out"
    ]  # fmt: skip
    assert band(math.nan, ref) == "not applicable"
    assert [relative_band(s) for s in (1.0, 0.7, 0.5, 0.1, -1.0, math.nan)] == [
        "in", "in", "near", "out", "out", "not applicable"
    ]  # fmt: skip


# -- weights --------------------------------------------------------------------------------


def test_dale_fraction_and_excitatory_fraction():
    rng = np.random.default_rng(0)
    signs = np.where(np.arange(100) < 80, 1.0, -1.0)
    w = rng.lognormal(0.0, 1.0, (50, 100)) * signs  # columns: outgoing weights of a unit
    assert weights.dale_fraction(w) == 1.0
    assert weights.excitatory_fraction(w) == pytest.approx(0.8)
    mixed = rng.normal(size=(50, 100))
    assert weights.dale_fraction(mixed) == 0.0
    assert math.isnan(weights.excitatory_fraction(mixed))
    fit = weights.weight_lognormal(w)
    assert fit["sigma"] == pytest.approx(1.0, abs=0.05) and fit["llr"] > 0
    gaussian = rng.normal(5.0, 1.0, size=(50, 100))  # all positive, symmetric: no log-normal
    assert weights.weight_lognormal(gaussian)["llr"] < 0


# -- cards ----------------------------------------------------------------------------------


def test_rate_network_card_says_not_applicable_for_spike_rows(sp_core, bp):
    card = plausibility.report_card(sp_core, bp=bp)
    for key in SPIKE_ROWS:
        row = card.row(key)
        assert row.band == "not applicable" and math.isnan(row.value), key
    for key in RULE_ROWS:
        assert card.row(key).value == 1.0 and card.row(key).band == "in", key
    # leaky ReLU activity is signed: no firing rate, so no sparseness or selectivity index
    for key in ("lifetime_sparseness", "class_selectivity"):
        assert card.row(key).band == "not applicable" and "negative" in card.row(key).note
    assert len({r.layer for r in card.rows if r.key == "lifetime_sparseness"}) == 2


def test_bp_card_fails_the_rule_rows_and_is_its_own_geometry_reference(bp):
    card = plausibility.report_card(bp, bp=bp)
    assert card.row("weight_transport_free").value == 0.0
    assert card.row("weight_transport_free").band == "out"
    assert card.row("feedback_free").band == "out"
    for key in ("rdm_correlation", "cka", "procrustes_distance"):
        row = card.row(key)
        assert row.score == pytest.approx(1.0, abs=1e-6), key
        assert row.band == "in"


def test_geometry_rows_need_a_bp_baseline(sp_core):
    card = plausibility.report_card(sp_core)
    assert card.row("cka").band == "not applicable"
    assert "--baselines" in card.row("cka").note
    assert np.isfinite(card.row("decodability").value)


def test_untrained_activity_is_the_network_before_training(sp_core):
    exp = load_experiment("sp-core-digits").replace(
        train_epochs=1, data_n_train=200, train_record_samples=100, train_record_every_epoch=True
    )
    ds = train(exp, progress=False)
    stored = plausibility.untrained_activity(ds)  # the stored activity before training
    history = results.activity_history(ds, 1).isel(record_epoch=0).values
    older = ds.drop_vars([v for v in ds.data_vars if "history" in str(v) or "initial" in str(v)])
    rebuilt = plausibility.untrained_activity(older)  # rebuilt from the seed and run
    np.testing.assert_array_equal(stored[1], history)
    np.testing.assert_allclose(rebuilt[1], stored[1], rtol=1e-5, atol=1e-6)
    assert not np.allclose(stored[1], results.activity(ds, 1).values)  # training changed it


def test_seeds_combine_into_one_card_with_ci_over_seeds(sp_core):
    other = _train("sp-core-digits", train_seed=1)
    card = plausibility.report_card([sp_core, other])
    assert card.seeds == 2
    row = card.row("decodability")
    single = [plausibility.report_card(r).row("decodability").value for r in (sp_core, other)]
    assert row.value == pytest.approx(np.mean(single))
    assert row.n == 2


def test_spiking_card_measures_irregularity_and_trial_variability(lif, lif_probe, bp):
    # the probe runs the preset as configured (no injected Poisson input), for 1 s per trial
    assert set(lif_probe.trains) == {1}
    trains = lif_probe.trains[1]
    assert trains.attrs["n_trials"] == 40 and trains.attrs["duration"] == 1.0
    assert trains.attrs["n_repeats"] == 4
    card = plausibility.report_card(lif, bp=bp, probe=lif_probe)
    assert np.isfinite(card.row("median_rate").value)
    assert "measured on 40 trials of 1.0 s" in card.row("median_rate").note
    exc = lif_probe.exc_input[1]
    if exc is None:  # a model without conductance synapses
        assert card.row("ei_correlation").band == "not applicable"
    else:
        assert exc.dims == ("trial", "unit", "time") and exc.sizes["trial"] == 40
        assert exc.sizes["unit"] == plausibility.PROBE_TRACE_UNITS
        assert float(lif_probe.inh_input[1].mean()) <= 0 <= float(exc.mean())
        assert np.isfinite(card.row("ei_balance_index").value)
    assert card.row("fano_factor_1s").band != "not applicable"
    fano = card.row("fano_factor_100ms")
    # the Poisson control reads 1 (independent Poisson counts with the same means; 40 trials x
    # 10 windows per unit: se of the mean about 0.03) and the row must exceed its null
    assert fano.control == pytest.approx(1.0, abs=0.1)
    assert fano.control_band in ("out", "near") and fano.control_kind
    if fano.value_band in ("in", "near"):
        assert fano.value > fano.control
    for key in ("noise_correlation_100ms", "noise_correlation_1s"):
        row = card.row(key)
        assert abs(row.control) < 0.05 and row.control_band == "out", key
    assert card.row("isi_cv").control == pytest.approx(0.0, abs=1e-9)  # regular trains
    assert _control_rule_holds(card)
    for key in RULE_ROWS:
        assert card.row(key).value == 1.0, key
    without = plausibility.report_card(lif)
    assert without.row("fano_factor_100ms").band == "not applicable"
    assert "repeated trials" in without.row("fano_factor_100ms").note
    assert "probe" in without.row("ei_balance_index").note
    assert "recorded samples of 50 ms" in without.row("median_rate").note


@pytest.mark.slow
def test_probe_of_a_noise_free_model_adds_no_noise():
    # constant-current input and no background: the probe adds no noise of its own. Repeats
    # are identical (flagged) unless state carried over from the previous sample (running
    # baselines) makes the first repeats differ slightly; either way there is no Poisson-like
    # variability (an injected Poisson input gave Fano factors near 1)
    quiet = _train(
        "lif-sigprop-digits", model_encoding="current", model_background_rate=0.0,
        model_synapse="current",
    )  # fmt: skip
    probe = plausibility.probe_trials(quiet, n_repeats=4)
    card = plausibility.report_card(quiet, probe=probe)
    for key in ("fano_factor_100ms", "fano_factor_1s"):
        row = card.row(key)
        if row.band == "flag":
            assert "no intrinsic noise" in row.note, key
        else:
            assert row.value < 0.1 and row.band == "out", key
    assert "current-based" in card.row("ei_correlation").note


def test_report_command_writes_every_file(lif, bp, tmp_path, capsys):
    save_result(lif, tmp_path / "lif.nc")
    save_result(bp, tmp_path / "bp.nc")
    out = tmp_path / "report"
    code = main(
        ["report", str(tmp_path / "lif.nc"), "--baselines", str(tmp_path / "bp.nc"),
         "--out", str(out), "--trials", "4", "--quiet"]
    )  # fmt: skip
    assert code == 0
    for name in ("report.md", "report.html", "report.pdf", "report.png", "card.nc"):
        assert (out / name).stat().st_size > 0, name
    md = (out / "report.md").read_text()
    assert "not applicable" in md and "Buzs" in md
    assert "lif-sigprop-digits" in capsys.readouterr().out


def test_report_of_a_missing_file_is_a_clear_error(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope.nc")]) == 2
    err = capsys.readouterr().err
    assert "nope.nc" in err and "Traceback" not in err


def test_restored_model_reproduces_the_result(lif, bp):
    from neurosig.train import evaluate

    for ds in (lif, bp):
        model, data = results.restore_model(ds)
        accuracy = evaluate(model, data.x_test, data.y_test)[ds.attrs["primary_readout"]]
        assert accuracy == float(ds.test_accuracy[-1]), ds.attrs["model"]


# -- controls -------------------------------------------------------------------------------


def _control_rule_holds(card) -> bool:
    """No row whose untrained network or control lands in is reported as anything but
    uninformative (flag and not applicable rows are not scored)."""
    for row in card.rows:
        if row.band in ("flag", "not applicable"):
            continue
        if "in" in (row.control_band, row.untrained_band) and row.band != "uninformative":
            return False
        if row.band == "uninformative" and "in" not in (row.control_band, row.untrained_band):
            return False
    return True


def test_controlled_band_rule():
    assert "uninformative" in plausibility.BANDS
    assert plausibility.controlled_band("in", "out", "in") == "uninformative"
    assert plausibility.controlled_band("in", "in", "out") == "uninformative"
    assert plausibility.controlled_band("out", "in", "") == "uninformative"
    assert plausibility.controlled_band("near", "out", "near") == "near"
    assert plausibility.controlled_band("flag", "in", "in") == "flag"


def test_gaussian_and_uniform_weights_are_not_log_normal():
    rng = np.random.default_rng(1)
    gaussian = weights.weight_lognormal(rng.normal(size=(100, 100)), sign=1)
    assert gaussian["sigma"] == pytest.approx(np.pi / np.sqrt(8), abs=0.03)
    assert gaussian["alternative"] == "half-normal" and gaussian["z"] < 0
    uniform = weights.weight_lognormal(rng.uniform(-1, 1, (100, 100)), sign=-1)
    assert uniform["sigma"] == pytest.approx(1.0, abs=0.07) and uniform["z"] < 0
    # Song et al.'s sigma, per sign: excitatory log-normal, inhibitory Gaussian, not pooled
    signs = np.where(np.arange(100) < 80, 1.0, -1.0)
    mixed = np.where(
        signs > 0, rng.lognormal(0, 0.94, (100, 100)), -np.abs(rng.normal(size=(100, 100)))
    )
    e, i = weights.weight_lognormal(mixed, sign=1), weights.weight_lognormal(mixed, sign=-1)
    assert e["sigma"] == pytest.approx(0.94, abs=0.03) and e["z"] > weights.LOGNORMAL_Z
    assert e["n"] == 8000 and i["n"] == 2000 and i["z"] < 0
    refs = load_references()
    for w in (rng.normal(size=(64, 64)), rng.uniform(-1, 1, (64, 64))):
        fit = weights.weight_lognormal(w, sign=1)
        assert band(fit["sigma"], refs["weight_lognormal_sigma"]) == "in"  # the old problem
        assert (
            plausibility._scored(
                "weight_lognormal_sigma",
                fit["sigma"],
                refs,
                supported=fit["z"] > weights.LOGNORMAL_Z,
            )
            == "out"
        )


def test_degenerate_values_are_not_in():
    refs = load_references()
    for key in (
        "fraction_silent",
        "fraction_active",
        "noise_correlation_100ms",
        "noise_correlation_1s",
    ):
        assert band(0.0, refs[key]) != "in", key
    # independent units: r in range by chance but not above the trial-shuffled null: out
    assert plausibility._scored("noise_correlation_100ms", 0.02, refs, null=0.03) == "out"
    assert plausibility._scored("noise_correlation_100ms", 0.1, refs, null=0.03) == "in"
    # Poisson counts: Fano 1.0 sits in the band, but not above the Poisson null
    assert band(1.0, refs["fano_factor_100ms"]) == "in"
    assert plausibility._scored("fano_factor_100ms", 1.01, refs, null=1.04) == "out"


def test_untrained_and_control_cards_have_no_unmarked_in_rows(sp_core, bp):
    for card in (plausibility.report_card(sp_core, bp=bp), plausibility.report_card(bp, bp=bp)):
        assert _control_rule_holds(card)
        for row in card.rows:
            assert row.control_kind or row.band == "not applicable", row.key
        # untrained weights are Gaussian/uniform: the weight distribution row is never in
        for row in card.rows:
            if row.key == "weight_lognormal_sigma":
                assert row.untrained_band != "in" and row.control_band != "in", row
        ds = card.to_dataset()
        for name in ("control", "control_kind", "control_band", "untrained_band"):
            assert name in ds
    untrained = plausibility.untrained_weights(sp_core)
    assert set(untrained) == set(plausibility.weight_blocks(sp_core))


# -- the trial probe: E/I balance and spike statistics on long trials (synthetic) -------------


def _regular_trains(rates, n_trials, duration, n_repeats=None):
    """Each unit fires regularly at its rate (Hz, a whole number of spikes per trial), the same
    in every trial: the rate of every train is known exactly."""
    trial, unit, time = [], [], []
    for u, rate in enumerate(rates):
        t = (np.arange(round(rate * duration)) + 0.5) / rate
        for k in range(n_trials):
            trial += [k] * t.size
            unit += [u] * t.size
            time += list(t)
    return activity.spike_trains(
        trial, unit, time, n_trials, len(rates), duration, n_repeats=n_repeats
    )


def _spiking_result(trains):
    """A Result whose recorded samples are ``trains`` (layer 1, activity their rates)."""
    rec = results.SpikeRecord(
        trains.trial.values, trains.unit.values, trains.time.values,
        trains.attrs["n_trials"], trains.attrs["n_units"], 0.0, trains.attrs["duration"],
    )  # fmt: skip
    rates = activity.firing_rates(trains).transpose("trial", "unit").values
    ds = xr.Dataset(
        {"activity_layer1": (("sample", "layer1_unit"), rates, {"units": "Hz"})},
        coords={"sample": np.arange(len(rates))},
        attrs={results.SCHEMA_ATTR: results.SCHEMA_VERSION, "model": "lif"},
    )
    results._add_recordings(ds, results.Recordings((results.LayerRecording(rec),)), initial=False)
    return ds


def _ei_inputs(rng, n_trials=10, n_units=20, n_bins=200, noise=0.05):
    """Excitatory and inhibitory drive (trial, unit, time) in mV that share one fluctuating
    signal (mean 2, sd 0.5): E = s + noise, I = -(s + noise), independent noise of sd ``noise``,
    so that the index is 0 and r = 0.25 / (0.25 + noise^2)."""
    signal = 2.0 + 0.5 * rng.normal(size=(n_trials, n_units, n_bins))

    def drive(values):
        return xr.DataArray(
            values, dims=("trial", "unit", "time"),
            coords={"time": np.arange(n_bins) * 0.005}, attrs={"units": "mV", "bin": 0.005},
        )  # fmt: skip

    exc = signal + noise * rng.normal(size=signal.shape)
    inh = -(signal + noise * rng.normal(size=signal.shape))
    return drive(exc), drive(inh)


def _probe(trains=None, exc=None, inh=None):
    return plausibility.Probe({1: trains} if trains is not None else {}, {1: exc}, {1: inh})


def test_balanced_co_varying_inputs_score_in_and_their_time_shuffle_does_not():
    refs = load_references()
    exc, inh = _ei_inputs(np.random.default_rng(0))
    ds = _spiking_result(_regular_trains([40.0] * 4, 6, 0.05))
    index, corr = plausibility._ei_rows(ds, 1, refs, _probe(exc=exc, inh=inh), None, seed=0)
    assert index.key == "ei_balance_index" and corr.key == "ei_correlation"
    # index 0 (E + I is noise only: se < 0.001), r = 0.25 / 0.2525 = 0.990 (se about 0.001)
    assert index.value == pytest.approx(0.0, abs=0.01) and index.band == "in"
    assert corr.value == pytest.approx(0.99, abs=0.01) and corr.band == "in"
    assert index.n == corr.n == 20 and corr.low <= corr.value <= corr.high
    # the shuffled control: r = 0 up to sampling (200 bins x 10 trials per unit: se 0.022 per
    # unit, about 0.006 for the median of 20, so 0.05 is 8 se); the index has no time-shuffle
    # control (a shuffle keeps the averages it compares)
    assert abs(corr.control) < 0.05 and corr.control_band == "out"
    assert "shuffled in time" in corr.control_kind
    assert math.isnan(index.control) and index.control_kind.startswith("none")
    assert "10 trials" in corr.note and "5 ms bins" in corr.note
    # an untrained network that is as balanced makes both rows uninformative
    same = _probe(exc=exc, inh=inh)
    rows = plausibility._ei_rows(ds, 1, refs, same, same, seed=0)
    assert [r.band for r in rows] == ["uninformative", "uninformative"]
    assert rows[0].untrained == pytest.approx(index.value)
    # excitation twice inhibition: index 1/3 (near), correlation unchanged
    exc2 = exc * 2.0
    index2, corr2 = plausibility._ei_rows(ds, 1, refs, _probe(exc=exc2, inh=inh), None, seed=0)
    assert index2.value == pytest.approx(1 / 3, abs=0.01) and index2.band == "near"
    assert corr2.value == pytest.approx(corr.value, abs=1e-9)


def test_ei_rows_without_inputs_are_not_applicable_and_say_why():
    refs = load_references()
    ds = _spiking_result(_regular_trains([40.0] * 4, 6, 0.05))
    rate = xr.Dataset({"activity_layer1": (("sample", "layer1_unit"), np.ones((4, 3)))})
    for data, probe, why in (
        (ds, None, "probe"),
        (ds, _probe(), "current-based"),
        (rate, None, "rate network"),
    ):
        rows = plausibility._ei_rows(data, 1, refs, probe, None, seed=0)
        assert [r.key for r in rows] == list(plausibility.EI_KEYS)
        for row in rows:
            assert row.band == "not applicable" and math.isnan(row.value), why
            assert why in row.note and row.control_kind


def test_probe_bins_the_inputs_of_the_data_stream():
    # 1.2 s recorded every 0.1 ms (a target phase after the 1 s data stream): 200 bins of 5 ms
    values = np.broadcast_to(np.arange(12_000, dtype=float), (2, 3, 12_000))
    record = results.TraceRecord(values, dt=1e-4, long_name="excitatory synaptic drive")
    binned = plausibility._binned_input(record, duration=1.0)
    assert binned.dims == ("trial", "unit", "time") and binned.shape == (2, 3, 200)
    assert binned.attrs["bin"] == pytest.approx(0.005) and binned.attrs["units"] == "mV"
    np.testing.assert_allclose(binned.values[0, 0, :2], [24.5, 74.5])  # means of 50 steps
    assert float(binned.time[-1]) == pytest.approx(0.995)
    assert plausibility._binned_input(None, 1.0) is None


def _rows(ds, probe, untrained_probe=None):
    refs = load_references()
    rows = plausibility._activity_rows(ds, refs, probe, untrained_probe, 0)
    return {(r.key, r.layer): r for r in rows}


def test_spike_rows_use_the_probe_trials_when_they_last_at_least_1s():
    # recorded: 50 ms samples at 40 Hz (2 spikes each); probe: 1 s trials, 7 units at 5 Hz and
    # 3 at 25 Hz, the same in every repeat
    ds = _spiking_result(_regular_trains([40.0] * 10, 6, 0.05))
    rates = [5.0] * 7 + [25.0] * 3
    long = _regular_trains(rates, 20, 1.0, n_repeats=4)
    rows = _rows(ds, _probe(long))
    assert rows["median_rate", 1].value == 5.0
    assert rows["fraction_above_20hz", 1].value == pytest.approx(0.3)
    assert rows["fraction_active", 1].value == pytest.approx(0.3)
    assert rows["fraction_active", 1].n == 5  # stimuli: 20 trials of 4 repeats
    assert rows["isi_cv", 1].value == pytest.approx(0.0, abs=1e-9)  # regular trains
    for key in (*activity.TRIAL_STATISTICS, "fraction_active"):
        assert "measured on 20 trials of 1.0 s" in rows[key, 1].note, key
    assert "recorded" in rows["spikes_per_inference", 1].note  # one inference = one sample
    # identical repeats: the probe measured a model without intrinsic noise
    fano = rows["fano_factor_1s", 1]
    assert fano.band == "flag" and "no intrinsic noise" in fano.note
    # the Result holds no recording before training: the untrained probe is the untrained column
    assert math.isnan(rows["median_rate", 1].untrained)
    untrained = _regular_trains([4.0] * 10, 20, 1.0, n_repeats=4)
    rows = _rows(ds, _probe(long), _probe(untrained))
    assert rows["median_rate", 1].untrained == 4.0
    assert rows["fraction_active", 1].untrained == 0.0
    assert rows["isi_cv", 1].untrained == pytest.approx(0.0, abs=1e-9)
    # trials shorter than 1 s: the recorded samples, as before, and the note says so
    short = _regular_trains(rates, 20, 0.5, n_repeats=4)
    for probe in (_probe(short), None):
        rows = _rows(ds, probe)
        assert rows["median_rate", 1].value == 40.0
        assert rows["fraction_active", 1].value == 1.0
        for key in (*activity.TRIAL_STATISTICS, "fraction_active"):
            assert "measured on 6 recorded samples of 50 ms" in rows[key, 1].note, key
        assert rows["ei_correlation", 1].band == "not applicable"


def test_ei_rows_skip_trials_whose_inhibitory_drive_reversed():
    """Below e_inh an inhibitory conductance depolarises (mean I drive > 0): such a trial has no
    E/I split, is left out of its unit's mean, and does not stop the card."""
    rng = np.random.default_rng(0)
    e = xr.DataArray(rng.uniform(4, 6, (3, 2, 40)), dims=("trial", "unit", "time"))
    i = -0.5 * e
    i[0, 1] = 2.0  # unit 1, trial 0: reversed
    values = plausibility._ei_unit_values(e, i)
    np.testing.assert_allclose(values["ei_balance_index"], [1 / 3, 1 / 3])
    np.testing.assert_allclose(values["ei_correlation"], [1.0, 1.0])


def test_geometry_leaves_out_stimuli_on_which_the_layer_is_silent(bp):
    """A sparse layer may not fire at all on a stimulus: its pattern has no correlation
    distance. Such stimuli leave every compared representation, and the rows say so."""
    ds = bp.copy(deep=True)
    last = results.layers(ds)[-1]
    ds[f"activity_layer{last}"][:3] = 0.0
    card = plausibility.report_card(ds, bp=bp)
    row = card.row("rdm_correlation")
    assert np.isfinite(row.value) and "3 stimuli" in row.note
    assert card.row("cka").n == len(results.labels(bp)) - 3


def test_a_silent_untrained_layer_leaves_the_geometry_scale_without_its_untrained_end(bp):
    """The cortical LIF default is silent before training (balanced input, zero biases): the
    untrained end of the geometry scale is undefined, and the card says so instead of failing."""
    ds = bp.copy(deep=True)
    last = results.layers(ds)[-1]
    assert f"initial_activity_layer{last}" in ds
    ds[f"initial_activity_layer{last}"][:] = 0.0
    card = plausibility.report_card(ds, bp=bp)
    row = card.row("cka")
    assert np.isfinite(row.value) and math.isnan(row.untrained)
    assert "no untrained end" in row.note
