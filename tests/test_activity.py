"""Tests of the activity statistics (rates, irregularity, variability, sparseness, energy).

Statistical checks use fixed seeds, so they are deterministic; the tolerances are set so that a
fresh seed would fail them with probability below 1e-6 (at least 5 standard errors of the
pooled estimate, stated next to each check).
"""

import math
import time

import numpy as np
import pytest
import tomli_w
import xarray as xr

from neurosig.analyses.activity import (
    DETERMINISTIC_NOTE,
    RATE_NOTE,
    REPEATS_NOTE,
    SPIKE_STATISTICS,
    Statistic,
    bootstrap_ci,
    cv2,
    ei_balance,
    fano_factor,
    firing_rates,
    isi_cv,
    lifetime_sparseness,
    lv,
    noise_correlations,
    poisson_cv,
    population_sparseness,
    rate_distribution,
    regular_trains,
    repeat_counts,
    signal_correlations,
    spike_counts,
    spike_trains,
    spike_trains_from_result,
    spikes_per_inference,
    summarise_layer,
    summed_activity,
    synaptic_events_per_inference,
    treves_rolls,
    uniform_rate_trains,
    vinje_gallant,
)


def renewal_trains(rng, intervals, n_trials, n_units, duration, n_max):
    """Renewal spike trains: cumulative sums of ``n_max`` drawn intervals, cut at ``duration``."""
    isi = intervals(size=(n_trials * n_units, n_max))
    t = np.cumsum(isi, axis=1)
    assert (t[:, -1] >= duration).all(), "n_max too small for the duration"
    key, col = np.nonzero(t < duration)
    return spike_trains(
        key // n_units, key % n_units, t[key, col], n_trials, n_units, duration=duration
    )


def poisson_trains(rng, rate, n_trials, n_units, duration):
    n_max = int(rate * duration * 2 + 50)
    return renewal_trains(
        rng, lambda size: rng.exponential(1 / rate, size), n_trials, n_units, duration, n_max
    )


def shared_input_trains(rng, rate, rho, n_trials, n_units, duration):
    """Each unit fires a Poisson train of ``rate``: a fraction ``rho`` is one train shared by all
    units of the trial, the rest independent, so spike counts correlate with r = rho."""
    shared_n = rng.poisson(rate * rho * duration, n_trials)
    own_n = rng.poisson(rate * (1 - rho) * duration, n_trials * n_units)
    s_trial = np.repeat(np.arange(n_trials), shared_n)
    own_key = np.repeat(np.arange(n_trials * n_units), own_n)
    return spike_trains(
        np.concatenate([np.repeat(s_trial, n_units), own_key // n_units]),
        np.concatenate([np.tile(np.arange(n_units), s_trial.size), own_key % n_units]),
        np.concatenate(
            [
                np.repeat(rng.uniform(0, duration, s_trial.size), n_units),
                rng.uniform(0, duration, own_key.size),
            ]
        ),
        n_trials,
        n_units,
        duration,
    )


def lif_result(n_samples=6, n_units=8, presentation="50 ms", chunk=None, seed=0):
    """A synthetic LIF Result with Poisson spikes at 40 Hz in layer 1 (no training)."""
    rng = np.random.default_rng(seed)
    recorded = n_samples if chunk is None else min(n_samples, chunk)
    duration = 0.05 if presentation == "50 ms" else float(presentation.split()[0]) * 1e-3
    trains = poisson_trains(rng, 40.0, recorded, n_units, duration)
    model = {"name": "lif", "presentation": presentation}
    if chunk is not None:
        model["chunk"] = chunk
    rates = np.zeros((n_samples, n_units))
    rates[:recorded] = firing_rates(trains).values
    ds = xr.Dataset(
        {
            "activity_layer1": (
                ("sample", "layer1_unit"),
                rates,
                {"units": "Hz"},
            ),
            "spike_layer1_sample": ("spike_layer1", trains.trial.values),
            "spike_layer1_unit": ("spike_layer1", trains.unit.values),
            "spike_layer1_time": ("spike_layer1", trains.time.values, {"units": "s"}),
        },
        coords={"sample": np.arange(n_samples)},
        attrs={"model": "lif", "config": tomli_w.dumps({"name": "x", "model": model})},
    )
    return ds, trains


def rate_result(seed=0):
    rng = np.random.default_rng(seed)
    act = rng.uniform(0, 1, (10, 6)) * (rng.uniform(size=(10, 6)) < 0.5)
    return xr.Dataset(
        {"activity_layer1": (("sample", "layer1_unit"), act, {"units": "1"})},
        coords={"sample": np.arange(10)},
        attrs={"model": "rate", "config": tomli_w.dumps({"name": "x", "model": {"name": "rate"}})},
    )


# ------------------------------------------------------------------------------ container


def test_spike_trains_validation():
    ok = dict(trial=[0, 1], unit=[0, 2], time=[0.0, 0.04], n_trials=2, n_units=3, duration=0.05)
    trains = spike_trains(**ok)
    assert trains.attrs == {"n_trials": 2, "n_units": 3, "duration": 0.05}
    assert trains.time.attrs["units"] == "s"
    for change, word in [
        (dict(time=[0.0, 0.05]), "time"),
        (dict(time=[-0.01, 0.0]), "time"),
        (dict(time=[0.0, np.nan]), "time"),
        (dict(time=[10.0, 40.0]), "seconds"),
        (dict(unit=[0, 3]), "unit"),
        (dict(trial=[-1, 0]), "trial"),
        (dict(trial=[0.5, 1]), "trial"),
        (dict(trial=[0, 1, 1]), "lengths"),
        (dict(n_units=2.5), "n_units"),
        (dict(n_trials=0), "n_trials"),
        (dict(duration=-1.0), "duration"),
    ]:
        with pytest.raises(ValueError, match=word):
            spike_trains(**{**ok, **change})
    with pytest.raises(ValueError, match="n_repeats"):
        spike_trains(**ok, n_repeats=3)
    # a spike at the onset, a rounding error below 0 after subtracting the onset
    assert spike_trains(**{**ok, "time": [-1e-17, 0.01]}).time.values[0] == 0.0


def test_spike_trains_from_result():
    ds, trains = lif_result()
    got = spike_trains_from_result(ds, 1)
    assert got.attrs["duration"] == pytest.approx(0.05)
    assert (got.attrs["n_trials"], got.attrs["n_units"]) == (6, 8)
    np.testing.assert_array_equal(spike_counts(got), spike_counts(trains))
    # rates from the spikes equal the Result's activity
    np.testing.assert_allclose(firing_rates(got), ds.activity_layer1)

    ds_initial = ds.rename({n: "initial_" + n for n in ds.data_vars if n.startswith("spike_")})
    ds_initial = ds_initial.rename_dims({"spike_layer1": "initial_spike_layer1"})
    assert (
        spike_trains_from_result(ds_initial, 1, initial=True).sizes["spike"] == got.sizes["spike"]
    )
    with pytest.raises(ValueError, match="no spike trains before training"):
        spike_trains_from_result(ds, 1, initial=True)
    with pytest.raises(ValueError, match="rate networks have no spikes"):
        spike_trains_from_result(rate_result(), 1)


def test_spike_trains_from_result_chunk_and_presentation():
    # spikes recorded for the first chunk of samples only: the others are not silent trials
    ds, _ = lif_result(n_samples=6, chunk=4, presentation="20 ms")
    got = spike_trains_from_result(ds, 1)
    assert got.attrs["n_trials"] == 4
    assert got.attrs["duration"] == pytest.approx(0.02)


# ------------------------------------------------------------------------------ counts, rates


def test_spike_counts_windows():
    trains = spike_trains(
        [0, 0, 0, 0, 1], [0, 0, 1, 1, 1], [0.0, 0.1, 0.2, 0.29, 0.05], 2, 2, duration=0.3
    )
    np.testing.assert_array_equal(spike_counts(trains), [[2, 2], [0, 1]])
    c = spike_counts(trains, window=0.1)  # 0.3 / 0.1 is 2.999...96 in floating point: 3 windows
    assert c.dims == ("trial", "window", "unit")
    np.testing.assert_array_equal(c.sel(trial=0), [[1, 0], [1, 0], [0, 2]])
    np.testing.assert_allclose(c.window_start, [0.0, 0.1, 0.2])
    # windows that do not fit whole are dropped
    c = spike_counts(trains, window=0.2)
    assert c.sizes["window"] == 1
    np.testing.assert_array_equal(c.sel(trial=0, window=0), [2, 0])
    with pytest.raises(ValueError, match="no window fits"):
        spike_counts(trains, window=0.5)
    with pytest.raises(ValueError, match="window"):
        spike_counts(trains, window=0.0)
    np.testing.assert_allclose(firing_rates(trains), [[20 / 3, 20 / 3], [0, 10 / 3]])
    assert firing_rates(trains).attrs["units"] == "Hz"


def test_rate_distribution():
    d = rate_distribution(xr.DataArray([0.0, 0.0, 1.0, 5.0, 25.0], attrs={"units": "Hz"}))
    assert float(d.median_rate) == 1.0
    assert float(d.fraction_silent) == pytest.approx(0.4)
    assert float(d.fraction_above_20hz) == pytest.approx(0.2)
    assert int(d.n_units) == 5 and int(d.n_nonzero) == 3
    assert d.median_rate.attrs["units"] == "Hz"
    # log-normal rates: the ML fit recovers mu and sigma (se sigma / sqrt(2n) = 0.016: > 6 se)
    rng = np.random.default_rng(1)
    d = rate_distribution(np.exp(rng.normal(0.5, 1.0, 2000)))
    assert float(d.lognormal_mu) == pytest.approx(0.5, abs=0.15)
    assert float(d.lognormal_sigma) == pytest.approx(1.0, abs=0.1)
    # KS distance to the fitted law: the 1e-6 critical value for n = 2000 is about 0.06
    assert float(d.ks_statistic) < 0.06
    assert math.isnan(float(rate_distribution(np.array([0.0, 3.0])).lognormal_sigma))
    with pytest.raises(ValueError, match="Hz"):
        rate_distribution(xr.DataArray([1.0], attrs={"units": "1"}))


# ------------------------------------------------------------------------------ irregularity


def test_irregularity_poisson():
    # 200 trains of ~400 spikes: per-train sd about 0.05, pooled mean about 0.004; tol 0.03
    trains = poisson_trains(np.random.default_rng(2), 20.0, 2, 100, 20.0)
    for func in (isi_cv, cv2, lv):
        values = func(trains)
        assert values.dims == ("trial", "unit")
        assert values.attrs["n"] == 200
        assert float(values.mean()) == pytest.approx(1.0, abs=0.03), func.__name__


@pytest.mark.parametrize("k", [2, 4])
def test_irregularity_gamma(k):
    # gamma(k) renewal: CV = 1/sqrt(k), Lv = 3/(2k+1); pooled se < 0.003, tol 0.02
    rng = np.random.default_rng(3 + k)
    rate = 20.0
    trains = renewal_trains(rng, lambda size: rng.gamma(k, 1 / (k * rate), size), 1, 200, 20.0, 600)
    assert float(isi_cv(trains).mean()) == pytest.approx(1 / math.sqrt(k), abs=0.02)
    assert float(lv(trains).mean()) == pytest.approx(3 / (2 * k + 1), abs=0.02)


def test_irregularity_regular_and_min_spikes():
    times = np.arange(10) * 0.01 + 0.003
    trains = spike_trains(
        np.zeros(12, int), [0] * 10 + [1, 1], np.r_[times, 0.01, 0.02], 1, 3, duration=0.1
    )
    for func in (isi_cv, cv2, lv):
        values = func(trains)
        np.testing.assert_allclose(values.values[0, 0], 0.0, atol=1e-12)
        assert np.isnan(values.values[0, 1:]).all()  # 2 spikes and 0 spikes: too few
        assert values.attrs["n"] == 1
        with pytest.raises(ValueError, match="min_spikes"):
            func(trains, min_spikes=2)


def test_irregularity_unsorted_input_matches_sorted():
    trains = poisson_trains(np.random.default_rng(4), 30.0, 3, 5, 2.0)
    perm = np.random.default_rng(5).permutation(trains.sizes["spike"])
    shuffled = trains.isel(spike=perm)
    for func in (isi_cv, cv2, lv):
        np.testing.assert_array_equal(func(shuffled), func(trains))


def test_irregularity_speed():
    # 5,000 units, 250,000 spikes: vectorised, no per-train loop (no timing assert: shared CPUs)
    trains = poisson_trains(np.random.default_rng(6), 50.0, 1, 5000, 1.0)
    assert 240_000 < trains.sizes["spike"] < 260_000
    start = time.perf_counter()
    for func in (isi_cv, cv2, lv):
        func(trains)
    print(f"isi_cv + cv2 + lv, {trains.sizes['spike']} spikes: {time.perf_counter() - start:.3f} s")


# ------------------------------------------------------------------------------ variability


def test_repeat_counts_layout():
    # trial = stimulus * n_repeats + repeat
    trains = spike_trains([1, 2, 2, 5], [0, 1, 1, 0], [0.01, 0.01, 0.02, 0.03], 6, 2, 0.05)
    c = repeat_counts(trains, n_repeats=2)
    assert c.dims == ("repeat", "stimulus", "unit")
    assert c.sel(stimulus=0, repeat=1, unit=0) == 1
    assert c.sel(stimulus=1, repeat=0, unit=1) == 2
    assert c.sel(stimulus=2, repeat=1, unit=0) == 1
    assert int(c.sum()) == 4
    assert repeat_counts(trains, 3, window=0.025).dims == ("repeat", "stimulus", "window", "unit")
    with pytest.raises(ValueError, match="n_repeats"):
        repeat_counts(trains)
    with pytest.raises(ValueError, match="divide"):
        repeat_counts(trains, 4)


def test_fano_factor_poisson():
    # counts ~ Poisson(10): per (stimulus, unit) sd about 0.14, pooled over 250 about 0.009;
    # tol 0.05
    trains = poisson_trains(np.random.default_rng(7), 10.0, 5 * 100, 50, 1.0)
    ff = fano_factor(repeat_counts(trains, 100))
    assert ff.dims == ("stimulus", "unit")
    assert float(ff.mean()) == pytest.approx(1.0, abs=0.05)
    assert ff.attrs["deterministic"] == 0 and "note" not in ff.attrs


def test_fano_factor_exact_and_deterministic():
    counts = xr.DataArray([[2, 0, 1], [4, 0, 1], [6, 0, 1]], dims=("repeat", "unit"))
    ff = fano_factor(counts)
    np.testing.assert_allclose(ff.values, [1.0, np.nan, 0.0])  # var 4 (ddof 1), mean 4
    assert ff.attrs["deterministic"] == 0
    same = xr.DataArray([[2, 0, 1]] * 3, dims=("repeat", "unit"))
    ff = fano_factor(same)
    assert ff.attrs["deterministic"] == 1 and ff.attrs["note"] == DETERMINISTIC_NOTE
    with pytest.raises(ValueError, match="repeat"):
        fano_factor(counts.rename(repeat="trial"))


def test_noise_correlations_independent_and_shared():
    # independent: r per pair has se 1/sqrt(2000) = 0.022; the mean over pairs about 0.002
    rng = np.random.default_rng(8)
    trains = poisson_trains(rng, 20.0, 20 * 100, 10, 0.2)
    nc = noise_correlations(repeat_counts(trains, 100, window=0.1))
    assert nc.sizes["pair"] == 45 and nc.attrs["n_excluded"] == 0
    assert (nc.unit_a < nc.unit_b).all()
    assert abs(float(nc.mean())) < 0.02
    # shared input: r = rho; pooled mean se about 0.02 (pairs share the common train); tol 0.1
    trains = shared_input_trains(rng, 20.0, 0.3, 20 * 100, 10, 0.2)
    nc = noise_correlations(repeat_counts(trains, 100, window=0.1))
    assert float(nc.mean()) == pytest.approx(0.3, abs=0.1)


def test_noise_correlations_pooled_z_equals_mean_per_stimulus_r():
    rng = np.random.default_rng(9)
    counts = xr.DataArray(rng.poisson(5, (30, 4, 3)), dims=("repeat", "stimulus", "unit"))
    nc = noise_correlations(counts)
    per_stim = [np.corrcoef(counts.values[:, s].T)[0, 1] for s in range(4)]
    assert float(nc.sel(pair=0)) == pytest.approx(np.mean(per_stim), abs=1e-12)
    # a unit that never varies is excluded and counted
    counts[:, :, 2] = 3
    nc = noise_correlations(counts)
    assert nc.attrs["n_excluded"] == 1 and nc.sizes["pair"] == 1


def test_signal_correlations():
    resp = xr.DataArray(
        [[1.0, 2.0, 5.0], [2.0, 4.0, 5.0], [3.0, 6.5, 5.0]],
        dims=("stimulus", "unit"),
        coords={"unit": [10, 11, 12]},
    )
    sc = signal_correlations(resp)
    assert sc.attrs["n_excluded"] == 1
    assert (sc.unit_a.values.tolist(), sc.unit_b.values.tolist()) == ([10], [11])
    assert float(sc[0]) == pytest.approx(np.corrcoef([1, 2, 3], [2, 4, 6.5])[0, 1])


# ------------------------------------------------------------------------------ sparseness


def test_sparseness_analytic():
    n = 5
    onehot = xr.DataArray(np.eye(n) * 7.0, dims=("sample", "unit"))
    np.testing.assert_allclose(treves_rolls(onehot, "unit"), 1 / n)
    np.testing.assert_allclose(vinje_gallant(onehot, "unit"), 1.0)
    const = xr.DataArray(np.full((3, n), 0.4), dims=("sample", "unit"))
    np.testing.assert_allclose(treves_rolls(const, "unit"), 1.0)
    np.testing.assert_allclose(vinje_gallant(const, "unit"), 0.0, atol=1e-15)
    # half active at the same rate: a = 1/2, S = (1/2) / (1 - 1/4) = 2/3
    half = xr.DataArray([[1.0, 1.0, 0.0, 0.0]], dims=("sample", "unit"))
    np.testing.assert_allclose(treves_rolls(half, "unit"), 0.5)
    np.testing.assert_allclose(vinje_gallant(half, "unit"), 2 / 3)
    act = xr.DataArray([[0.0, 2.0], [0.0, 2.0], [0.0, 0.0]], dims=("sample", "unit"))
    # [2, 2, 0]: a = (4/3)^2 / (8/3) = 2/3, S = (1/3) / (2/3) = 1/2
    np.testing.assert_allclose(lifetime_sparseness(act), [np.nan, 0.5])
    np.testing.assert_allclose(population_sparseness(act), [1.0, 1.0, np.nan])
    with pytest.raises(ValueError, match="non-negative"):
        treves_rolls(-act, "unit")


# ------------------------------------------------------------------------------ energy, balance


def test_energy():
    counts = xr.DataArray([[1, 2, 0], [0, 0, 4]], dims=("trial", "unit"))
    np.testing.assert_array_equal(spikes_per_inference(counts), [3, 4])
    c2 = xr.DataArray([[1], [2]], dims=("trial", "unit"))
    ev = synaptic_events_per_inference([counts, c2], [[10, 1, 2], [5]])
    np.testing.assert_array_equal(ev, [12 + 5, 8 + 10])
    with pytest.raises(ValueError, match="shape"):
        synaptic_events_per_inference([counts], [[1, 2]])
    act = xr.DataArray([[0.5, 0.25]], dims=("sample", "unit"), attrs={"units": "1"})
    np.testing.assert_allclose(summed_activity(act), [0.75])


def test_ei_balance():
    t = np.linspace(0, 1, 50)
    e = xr.DataArray(np.stack([2 + np.sin(6 * t), np.full(50, 1.0)]), dims=("unit", "time"))
    i = xr.DataArray(np.stack([-(2 + np.sin(6 * t)), np.full(50, -3.0)]), dims=("unit", "time"))
    b = ei_balance(e, i)
    np.testing.assert_allclose(b.balance_index, [0.0, -0.5], atol=1e-15)
    assert float(b.ei_correlation[0]) == pytest.approx(1.0)  # co-varying E and I: r = +1
    assert np.isnan(float(b.ei_correlation[1]))  # constant input
    with pytest.raises(ValueError, match="i_inh"):
        ei_balance(e, -i)


# ------------------------------------------------------------------------------ bootstrap


def test_bootstrap_ci():
    values = np.random.default_rng(10).normal(3.0, 1.0, 400)
    low, high = bootstrap_ci(values, np.mean, rng=0)
    # 95 % CI of the mean: about +-1.96 / sqrt(400) = +-0.098 around the sample mean
    assert low < values.mean() < high
    assert high - low == pytest.approx(2 * 1.96 / 20, rel=0.2)
    assert bootstrap_ci(values, np.mean, rng=0) == (low, high)
    assert bootstrap_ci(values, np.mean) == bootstrap_ci(values, np.mean)
    assert all(math.isnan(x) for x in bootstrap_ci(np.array([1.0])))
    with pytest.raises(ValueError, match="level"):
        bootstrap_ci(values, level=1.5)


@pytest.mark.parametrize("statistic", [np.mean, np.nanmean, np.median, np.nanmedian])
def test_bootstrap_ci_of_a_reduction_is_that_of_one_resample_at_a_time(statistic, monkeypatch):
    """Blocks of resamples at once (AXIS_STATISTICS), the last block short, give the numbers of
    one call per resample."""
    import neurosig.analyses.activity as activity

    values = np.random.default_rng(3).normal(size=37)
    if statistic in (np.nanmean, np.nanmedian):
        values[::5] = np.nan
    monkeypatch.setattr(activity, "BOOTSTRAP_BLOCK", 37 * 64)  # 1000 = 15 blocks + 40
    fast = bootstrap_ci(values, statistic, rng=4)
    assert np.isfinite(fast).all()
    assert fast == bootstrap_ci(values, lambda v: statistic(v), rng=4)  # one by one


# ------------------------------------------------------------------------------ summary


def test_summarise_rate_network():
    card = summarise_layer(rate_result(), 1)
    for name in SPIKE_STATISTICS:
        row = card[name]
        assert row.status == "not applicable" and row.note == RATE_NOTE
        assert math.isnan(row.value)
    for name in ("lifetime_sparseness", "population_sparseness"):
        assert card[name].status == "ok" and 0 <= card[name].value <= 1
        assert card[name].low <= card[name].value <= card[name].high


def test_summarise_spiking_network():
    ds, _ = lif_result(n_samples=20, n_units=30)
    card = summarise_layer(ds, 1)
    expected = set(SPIKE_STATISTICS) | {"lifetime_sparseness", "population_sparseness"}
    assert set(card) == expected
    assert all(isinstance(row, Statistic) for row in card.values())
    rate = card["median_rate"]
    assert rate.status == "ok" and rate.units == "Hz" and rate.n == 30
    assert rate.value == pytest.approx(40.0, abs=10.0)  # 30 units x 1 s of spikes at 40 Hz
    assert rate.low <= rate.value <= rate.high
    assert card["isi_cv"].status == "ok" and card["isi_cv"].n == 30
    assert card["spikes_per_inference"].value == pytest.approx(30 * 40 * 0.05, rel=0.3)
    for name in ("fano_factor_100ms", "noise_correlation_1s"):
        assert card[name].status == "not applicable" and card[name].note == REPEATS_NOTE
    # repeated trials of 50 ms: too short for 100 ms and 1 s windows
    short = poisson_trains(np.random.default_rng(11), 40.0, 20, 30, 0.05)
    short.attrs["n_repeats"] = 10
    row = summarise_layer(ds, 1, trials=short)["fano_factor_100ms"]
    assert row.status == "not applicable" and "50 ms" in row.note


def test_summarise_repeats_noisy_and_deterministic():
    ds, _ = lif_result()
    noisy = poisson_trains(np.random.default_rng(12), 20.0, 4 * 30, 10, 1.0)
    noisy.attrs["n_repeats"] = 30
    card = summarise_layer(ds, 1, trials=noisy)
    for name in ("fano_factor_100ms", "fano_factor_1s"):
        assert card[name].status == "ok" and card[name].value == pytest.approx(1.0, abs=0.2)
    assert abs(card["noise_correlation_100ms"].value) < 0.1
    # the same trains repeated: zero variance is flagged, never reported as a measurement
    one = poisson_trains(np.random.default_rng(13), 20.0, 4, 10, 1.0)
    trial = one.trial.values
    reps = 5
    same = spike_trains(
        np.concatenate([trial * reps + k for k in range(reps)]),
        np.tile(one.unit.values, reps),
        np.tile(one.time.values, reps),
        4 * reps,
        10,
        1.0,
        n_repeats=reps,
    )
    card = summarise_layer(ds, 1, trials=same)
    for name in ("fano_factor_1s", "noise_correlation_1s", "fano_factor_100ms"):
        assert card[name].status == "flag" and card[name].note == DETERMINISTIC_NOTE
    assert card["fano_factor_1s"].value == 0.0


def test_statistic_status_checked():
    with pytest.raises(ValueError, match="status"):
        Statistic("x", 1.0, 0.0, 2.0, 3, "1", "bad")


# ------------------------------------------------------------------------------ controls


@pytest.mark.parametrize("rate,duration", [(10.0, 0.05), (5.0, 1.0), (40.0, 1.0)])
def test_corrected_cv_reads_one_for_poisson_trains_of_any_length(rate, duration):
    # plain CV of short Poisson trains is biased low (0.5-0.85); the corrected one is 1.
    # 4000 trains; pooled se of the corrected mean <= 0.02 with >= 150 valid trains; tol 0.1
    rng = np.random.default_rng(21)
    n = 4000
    counts = rng.poisson(rate * duration, n)
    key = np.repeat(np.arange(n), counts)
    trains = spike_trains(key // 10, key % 10, rng.uniform(0, duration, key.size), n // 10, 10,
                          duration)  # fmt: skip
    plain = float(np.nanmean(isi_cv(trains).values))
    corrected = float(np.nanmean(isi_cv(trains, corrected=True).values))
    assert corrected == pytest.approx(1.0, abs=0.1)
    assert plain < corrected - 0.02  # the bias the correction removes
    for func in (cv2, lv):  # unbiased per pair of intervals
        assert float(np.nanmean(func(trains).values)) == pytest.approx(1.0, abs=0.1)
    regular = regular_trains(trains, rng=1)
    assert int(spike_counts(regular).sum()) == trains.sizes["spike"]
    np.testing.assert_array_equal(spike_counts(regular).values, spike_counts(trains).values)
    for func in (isi_cv, cv2, lv):
        assert float(np.nanmax(func(regular).values)) < 1e-9


def test_poisson_cv_expectation():
    values = poisson_cv([2, 3, 10, 1000])
    assert np.isnan(values[0])
    assert values[1] == pytest.approx(0.5, abs=0.05)  # 2 uniform spacings
    assert values[2] == pytest.approx(0.86, abs=0.03)
    assert values[3] == pytest.approx(1.0, abs=0.01)


def test_variability_rows_have_independent_nulls():
    ds, _ = lif_result()
    noisy = poisson_trains(np.random.default_rng(12), 20.0, 4 * 30, 10, 1.0)
    noisy.attrs["n_repeats"] = 30
    card = summarise_layer(ds, 1, trials=noisy)
    fano = card["fano_factor_1s"]
    # independent Poisson counts: the model itself is at its null
    assert fano.control == pytest.approx(1.0, abs=0.05)
    assert fano.null > fano.control and fano.null < 1.2
    corr = card["noise_correlation_100ms"]
    assert abs(corr.control) < 0.02 and corr.null > corr.control
    assert corr.value < corr.null + 0.05
    # shared input: r = 0.3 beyond the shuffled null
    shared = shared_input_trains(np.random.default_rng(3), 20.0, 0.3, 4 * 30, 10, 1.0)
    shared.attrs["n_repeats"] = 30
    corr = summarise_layer(ds, 1, trials=shared)["noise_correlation_1s"]
    assert corr.value == pytest.approx(0.3, abs=0.1) and corr.value > corr.null


def test_uniform_rate_control_keeps_the_budget():
    trains = poisson_trains(np.random.default_rng(14), 5.0, 50, 40, 1.0)
    control = uniform_rate_trains(trains, rng=2)
    assert control.sizes["spike"] == pytest.approx(trains.sizes["spike"], rel=0.05)
    ds, _ = lif_result(n_samples=20, n_units=30)
    card = summarise_layer(ds, 1)
    assert card["fraction_silent"].control == 0.0  # 40 Hz for 1 s: nobody is silent
    assert card["isi_cv"].control == pytest.approx(0.0, abs=1e-9) and card["isi_cv"].control_kind
    assert card["isi_cv"].value == pytest.approx(1.0, abs=0.15)
