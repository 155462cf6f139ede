"""Validation of the activity statistics against Elephant on the same spike trains.

Every statistic agrees with Elephant's to 1e-10, except where the definitions differ on
purpose; there the difference is asserted exactly:

* ``fano_factor`` uses the unbiased variance (ddof = 1), ``elephant.statistics.fanofactor`` the
  population one (ddof = 0): Elephant's value is ours times (n - 1) / n.
* ``elephant.statistics.cv`` is ``scipy.stats.variation``: it takes the intervals; given the
  spike times it returns the spread of the times (a documented pitfall), not the ISI CV.
"""

import numpy as np
import pytest

pytest.importorskip("elephant")

import neo  # noqa: E402
import quantities as pq  # noqa: E402
from elephant import statistics  # noqa: E402
from elephant.conversion import BinnedSpikeTrain  # noqa: E402
from elephant.spike_train_correlation import correlation_coefficient  # noqa: E402

from neurosig.analyses.activity import (  # noqa: E402
    cv2,
    fano_factor,
    firing_rates,
    isi_cv,
    lv,
    noise_correlations,
    repeat_counts,
    spike_counts,
    spike_trains,
)

DURATION = 2.0

# Elephant 1.2 passes quantities' deprecated ``copy`` argument; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def trains():
    """Poisson trains at 5-40 Hz: 6 trials x 8 units of 2 s, one unit silent, rows shuffled."""
    rng = np.random.default_rng(20)
    n_trials, n_units = 6, 8
    rates = np.linspace(5, 40, n_units)
    rates[3] = 0.0
    n = rng.poisson(rates * DURATION, (n_trials, n_units))
    key = np.repeat(np.arange(n_trials * n_units), n.ravel())
    time = rng.uniform(0, DURATION, key.size)
    perm = rng.permutation(key.size)
    return spike_trains(
        key[perm] // n_units, key[perm] % n_units, time[perm], n_trials, n_units, DURATION
    )


def neo_trains(trains):
    """The same trains as neo.SpikeTrain objects, indexed [trial][unit]."""
    out = []
    for trial in range(trains.attrs["n_trials"]):
        row = []
        for unit in range(trains.attrs["n_units"]):
            mask = (trains.trial.values == trial) & (trains.unit.values == unit)
            times = np.sort(trains.time.values[mask])
            row.append(neo.SpikeTrain(times * pq.s, t_start=0 * pq.s, t_stop=DURATION * pq.s))
        out.append(row)
    return out


def test_irregularity_matches_elephant(trains):
    sts = neo_trains(trains)
    ours = {"cv": isi_cv(trains), "cv2": cv2(trains), "lv": lv(trains)}
    checked = 0
    for trial, row in enumerate(sts):
        for unit, st in enumerate(row):
            if len(st) < 3:
                assert np.isnan(ours["cv"].values[trial, unit])
                continue
            intervals = statistics.isi(st)
            np.testing.assert_allclose(intervals.magnitude, np.diff(st.magnitude))
            expected = {
                "cv": statistics.cv(intervals.magnitude),
                "cv2": statistics.cv2(intervals),
                "lv": statistics.lv(intervals),
            }
            for name, value in expected.items():
                assert ours[name].values[trial, unit] == pytest.approx(float(value), abs=1e-10)
            # the pitfall: Elephant's cv of the spike times is not the ISI CV
            assert statistics.cv(st.magnitude) != pytest.approx(
                float(ours["cv"].values[trial, unit]), abs=1e-3
            )
            checked += 1
    assert checked == 6 * 7  # every trial of every firing unit


def test_rates_match_elephant(trains):
    sts = neo_trains(trains)
    rates = firing_rates(trains)
    for trial, row in enumerate(sts):
        for unit, st in enumerate(row):
            expected = statistics.mean_firing_rate(st).rescale(pq.Hz).magnitude
            assert rates.values[trial, unit] == pytest.approx(float(expected), abs=1e-10)


def test_fano_factor_differs_from_elephant_by_ddof(trains):
    # trials as 6 repeats of one stimulus
    sts = neo_trains(trains)
    counts = repeat_counts(trains, n_repeats=6)
    ff = fano_factor(counts).sel(stimulus=0)
    n = 6
    for unit in range(trains.attrs["n_units"]):
        elephant_ff = statistics.fanofactor([row[unit] for row in sts])
        if unit == 3:  # silent: both NaN
            assert np.isnan(elephant_ff) and np.isnan(ff.values[unit])
            continue
        assert float(ff.values[unit]) * (n - 1) / n == pytest.approx(elephant_ff, abs=1e-10)


def test_binned_correlation_matches_elephant(trains):
    # Elephant correlates the binned counts of each pair over the time bins of one trial; our
    # noise correlation with the bins as repeats of one condition is the same Pearson r
    bin_size = 0.05
    sts = neo_trains(trains)[0]
    firing = [u for u, st in enumerate(sts) if len(st)]
    binned = BinnedSpikeTrain(
        [sts[u] for u in firing], bin_size=bin_size * pq.s, t_start=0 * pq.s, t_stop=DURATION * pq.s
    )
    expected = correlation_coefficient(binned)
    counts = spike_counts(trains, window=bin_size).sel(trial=0).rename(window="repeat")
    np.testing.assert_array_equal(binned.to_array(), counts.values[:, firing].T)
    nc = noise_correlations(counts)
    assert nc.attrs["n_excluded"] == 1  # the silent unit
    index = {u: i for i, u in enumerate(firing)}
    for a, b, r in zip(nc.unit_a.values, nc.unit_b.values, nc.values, strict=True):
        assert r == pytest.approx(expected[index[a], index[b]], abs=1e-10)
