"""Activity statistics of trained networks: rates, irregularity, variability, sparseness, energy.

The functions measure the biological-plausibility criteria 1-6 and 10 of
``design/PLAUSIBILITY.md`` on the spike trains and activities a training Result records:

* firing rates and their distribution (:func:`firing_rates`, :func:`rate_distribution`),
* irregularity of single trains (:func:`isi_cv`, :func:`cv2`, :func:`lv`),
* trial-to-trial variability (:func:`fano_factor`, :func:`noise_correlations`),
* sparseness (:func:`treves_rolls`, :func:`vinje_gallant`, :func:`lifetime_sparseness`,
  :func:`population_sparseness`),
* energy (:func:`spikes_per_inference`, :func:`synaptic_events_per_inference`,
  :func:`summed_activity`) and E/I balance (:func:`ei_balance`),

with :func:`bootstrap_ci` for confidence intervals and :func:`summarise_layer`, the per-layer
summary the plausibility report card reads.

Spike trains of many trials and units are held in one flat table, a :data:`SpikeTrains` dataset
(one row per spike: ``trial``, ``unit``, ``time``), and every statistic is computed for all
trains at once by sorting that table (no Python loop over trains), so 5,000 units and 250,000
spikes take a fraction of a second.

Rate networks have no spikes: their spike-based statistics are "not applicable", never computed
on Poisson spikes sampled from the rates, which would only measure the sampler.

Example
-------
>>> trains = spike_trains_from_result(result, layer=1)  # doctest: +SKIP
>>> isi_cv(trains).attrs["n"]  # doctest: +SKIP
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import scipy.stats
import xarray as xr

from neurosig import results
from neurosig.data import poisson_events

__all__ = [
    "SpikeTrains",
    "Statistic",
    "bootstrap_ci",
    "cv2",
    "ei_balance",
    "fano_factor",
    "firing_rates",
    "isi_cv",
    "lifetime_sparseness",
    "long_trials",
    "lv",
    "noise_correlations",
    "poisson_cv",
    "population_sparseness",
    "regular_trains",
    "uniform_rate_trains",
    "rate_distribution",
    "repeat_counts",
    "signal_correlations",
    "spike_counts",
    "spike_trains",
    "spike_trains_from_result",
    "spikes_per_inference",
    "summarise_layer",
    "summed_activity",
    "synaptic_events_per_inference",
    "treves_rolls",
    "vinje_gallant",
    "window_note",
]

SpikeTrains = xr.Dataset
"""Spike trains of ``n_trials`` x ``n_units`` as one table along dimension ``"spike"``.

Variables ``trial`` and ``unit`` (int) and ``time`` (s from the trial's onset, in
``[0, duration)``); attrs ``n_trials``, ``n_units`` and ``duration`` (s), and ``n_repeats`` when
the trials are repeated presentations (see :func:`repeat_counts`). Build it with
:func:`spike_trains` or :func:`spike_trains_from_result`.
"""

DETERMINISTIC_NOTE = (
    "repeats are identical: the model has no intrinsic noise (e.g. constant-current input and "
    "no background drive); Fano factor 0 is not a measurement"
)
RATE_NOTE = "rate network: no spikes"
REPEATS_NOTE = "needs repeated trials"
NO_RECORDING_NOTE = "no recording before training"

# Window edges are multiples of the window in floating point (0.3 / 0.1 = 2.9999999999999996);
# this tolerance puts a spike at an edge, and a duration that is a whole number of windows,
# where exact arithmetic would.
_EDGE_TOL = 1e-9


# --------------------------------------------------------------------------------------------
# Spike-train container
# --------------------------------------------------------------------------------------------


def _check_count(value: int, name: str) -> int:
    if isinstance(value, bool) or not float(value).is_integer() or value < 1:
        raise ValueError(f"{name} = {value!r}: must be a positive integer")
    return int(value)


def _check_indices(values: np.ndarray, size: int, name: str, size_name: str) -> np.ndarray:
    values = np.asarray(values)
    if values.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {values.shape}")
    if values.size and not np.issubdtype(values.dtype, np.integer):
        if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
            raise ValueError(f"{name} must hold integer indices")
    values = values.astype(np.int64)
    bad = (values < 0) | (values >= size)
    if bad.any():
        raise ValueError(
            f"{name} must lie in [0, {size_name} = {size}); found {values[bad][0]} "
            f"({int(bad.sum())} out of range)"
        )
    return values


def spike_trains(
    trial: Sequence[int] | np.ndarray,
    unit: Sequence[int] | np.ndarray,
    time: Sequence[float] | np.ndarray,
    n_trials: int,
    n_units: int,
    duration: float,
    *,
    n_repeats: int | None = None,
) -> SpikeTrains:
    """Spike trains of ``n_trials`` x ``n_units`` from a table of spikes.

    Parameters
    ----------
    trial, unit : array of int, shape (n_spikes,)
        Trial and unit of each spike, in ``[0, n_trials)`` and ``[0, n_units)``.
    time : array of float, shape (n_spikes,)
        Spike time in seconds from the trial's onset, in ``[0, duration)``; times less than
        ``1e-9 * duration`` below 0 (rounding of ``t - onset``) are taken as 0.
    n_trials, n_units : int
        Number of trials and units (silent ones included: they have no rows).
    duration : float
        Length of every trial in seconds.
    n_repeats : int, optional
        Repeats per stimulus when the trials are repeated presentations laid out stimulus-major
        (see :func:`repeat_counts`); stored as attrs ``n_repeats``.

    Returns
    -------
    xarray.Dataset
        A :data:`SpikeTrains` table, rows in the order given.

    Raises
    ------
    ValueError
        Naming the argument: lengths differ, an index out of range, a time outside
        ``[0, duration)`` or not finite, a count not a positive integer.

    Examples
    --------
    >>> trains = spike_trains([0, 0, 1], [2, 2, 0], [0.01, 0.03, 0.02], 2, 3, duration=0.05)
    >>> trains.sizes["spike"], trains.attrs["n_units"]
    (3, 3)
    """
    n_trials = _check_count(n_trials, "n_trials")
    n_units = _check_count(n_units, "n_units")
    duration = float(duration)
    if not (np.isfinite(duration) and duration > 0):
        raise ValueError(f"duration = {duration!r}: must be a positive number of seconds")
    trial = _check_indices(trial, n_trials, "trial", "n_trials")
    unit = _check_indices(unit, n_units, "unit", "n_units")
    time = np.array(time, dtype=float)
    # Times recorded as (absolute time - onset) can come out a rounding error below 0 for a
    # spike at the onset; they are at the onset.
    time[(time < 0) & (time > -_EDGE_TOL * duration)] = 0.0
    if time.ndim != 1:
        raise ValueError(f"time must be one-dimensional, got shape {time.shape}")
    if not (len(trial) == len(unit) == len(time)):
        raise ValueError(
            f"trial, unit and time must have one entry per spike; got lengths "
            f"{len(trial)}, {len(unit)}, {len(time)}"
        )
    bad = ~np.isfinite(time) | (time < 0) | (time >= duration)
    if bad.any():
        raise ValueError(
            f"time must lie in [0, duration = {duration:g} s) and be in seconds; found "
            f"{time[bad][0]!r} ({int(bad.sum())} outside)"
        )
    attrs = {"n_trials": n_trials, "n_units": n_units, "duration": duration}
    if n_repeats is not None:
        n_repeats = _check_count(n_repeats, "n_repeats")
        if n_trials % n_repeats:
            raise ValueError(
                f"n_repeats = {n_repeats} does not divide n_trials = {n_trials} "
                "(trials are whole blocks of repeats per stimulus)"
            )
        attrs["n_repeats"] = n_repeats
    return xr.Dataset(
        {
            "trial": ("spike", trial, {"long_name": "trial"}),
            "unit": ("spike", unit, {"long_name": "unit"}),
            "time": ("spike", time, {"units": "s", "long_name": "time from trial onset"}),
        },
        attrs=attrs,
    )


def spike_trains_from_result(ds: xr.Dataset, layer: int, initial: bool = False) -> SpikeTrains:
    """The recorded spike trains of hidden layer ``layer`` of a training Result.

    Trials are the recorded samples (``trial = sample``), units the layer's units, and the
    duration is the recorded window of each sample (:func:`neurosig.results.spikes`).

    Parameters
    ----------
    ds : xarray.Dataset
        A training Result of a spiking model.
    layer : int
        Hidden layer, 1-based.
    initial : bool
        Read the recording made before training.

    Returns
    -------
    xarray.Dataset
        A :data:`SpikeTrains` table; attrs ``layer`` and ``initial`` say where it came from.

    Raises
    ------
    ValueError
        If the Result has no spike recording for this layer (a rate network, or a LIF run that
        recorded no samples).

    Notes
    -----
    The LIF model records spikes for the first ``[model] chunk`` recorded samples only (one
    compiled batch), while the layer's activity covers all of them; the number of trials is
    therefore ``min(sample, chunk)``, so that unrecorded samples are not counted as silent.

    Examples
    --------
    >>> trains = spike_trains_from_result(result, layer=1)  # doctest: +SKIP
    """
    rec = results.spikes(ds, layer, initial=initial)
    trains = spike_trains(
        rec.sample, rec.unit, rec.time - rec.t_start, rec.n_samples, rec.n_units, rec.duration
    )
    trains.attrs.update(layer=layer, initial=int(initial))
    return trains


def regular_trains(
    trains: SpikeTrains, rng: np.random.Generator | int | None = None
) -> SpikeTrains:
    """The control of irregularity: each train's spikes evenly spaced, at a random phase.

    Every (trial, unit) keeps its spike count, so rates are unchanged, but its intervals are all
    ``duration / n``: ISI CV, CV2 and Lv are 0.

    Examples
    --------
    >>> trains = spike_trains([0, 0, 0], [0, 0, 0], [0.01, 0.02, 0.09], 1, 1, duration=0.1)
    >>> float(isi_cv(regular_trains(trains, rng=0))[0, 0])
    0.0
    """
    rng = np.random.default_rng(0 if rng is None else rng)
    _, _, n_spikes = _intervals(trains)
    key = np.repeat(np.arange(n_spikes.size), n_spikes)
    rank = np.arange(key.size) - np.repeat(np.cumsum(n_spikes) - n_spikes, n_spikes)
    step = trains.attrs["duration"] / np.maximum(n_spikes, 1)
    time = (rank + rng.uniform(0, 1, n_spikes.size)[key]) * step[key]
    n_units = trains.attrs["n_units"]
    out = spike_trains(
        key // n_units, key % n_units, np.minimum(time, np.nextafter(trains.attrs["duration"], 0)),
        trains.attrs["n_trials"], n_units, trains.attrs["duration"],
    )  # fmt: skip
    out.attrs.update({k: v for k, v in trains.attrs.items() if k not in out.attrs})
    return out


def uniform_rate_trains(
    trains: SpikeTrains, rng: np.random.Generator | int | None = None
) -> SpikeTrains:
    """The control of the rate distribution: independent Poisson trains, all at one mean rate.

    Every unit of every trial fires a homogeneous Poisson train at the mean rate of ``trains``
    (total spikes / trains / duration): the same spike budget with no heterogeneity between
    units, no stimulus selectivity and no correlations.

    Examples
    --------
    >>> trains = spike_trains([0] * 4, [0] * 4, [0.1, 0.2, 0.3, 0.4], 1, 2, duration=1.0)
    >>> uniform_rate_trains(trains, rng=0).attrs["n_units"]
    2
    """
    rng = np.random.default_rng(0 if rng is None else rng)
    n_trials, n_units = trains.attrs["n_trials"], trains.attrs["n_units"]
    mean_count = trains.sizes["spike"] / (n_trials * n_units)
    duration = trains.attrs["duration"]
    (trial, unit), time = poisson_events(np.full((n_trials, n_units), mean_count), duration, rng)
    out = spike_trains(trial, unit, time, n_trials, n_units, duration)
    out.attrs.update({k: v for k, v in trains.attrs.items() if k not in out.attrs})
    return out


# --------------------------------------------------------------------------------------------
# Counts and rates
# --------------------------------------------------------------------------------------------


def _n_windows(duration: float, window: float) -> int:
    ratio = duration / window
    nearest = round(ratio)
    return nearest if abs(ratio - nearest) < _EDGE_TOL * max(1.0, ratio) else math.floor(ratio)


def spike_counts(trains: SpikeTrains, window: float | None = None) -> xr.DataArray:
    """Spike counts per trial and unit, over the whole trial or in consecutive windows.

    With a window of length ``w`` (s), window ``k`` counts the spikes in ``[k w, (k+1) w)``;
    only windows that fit whole in the trial are kept (``floor(duration / w)`` of them).

    Parameters
    ----------
    trains : SpikeTrains
    window : float, optional
        Counting window in seconds; ``None`` counts the whole trial.

    Returns
    -------
    xarray.DataArray
        Counts (units "1"), dims ``(trial, unit)``, or ``(trial, window, unit)`` with the window
        start (s) as coordinate ``window_start``.

    Raises
    ------
    ValueError
        If the window is not positive or longer than the trials.

    Examples
    --------
    >>> trains = spike_trains([0, 0, 0], [1, 1, 0], [0.01, 0.03, 0.07], 1, 2, duration=0.1)
    >>> spike_counts(trains).values.tolist()
    [[1, 2]]
    >>> spike_counts(trains, window=0.04).values[0].tolist()
    [[0, 2], [1, 0]]
    """
    n_trials, n_units = trains.attrs["n_trials"], trains.attrs["n_units"]
    duration = trains.attrs["duration"]
    trial, unit = trains["trial"].values, trains["unit"].values
    if window is None:
        counts = np.bincount(trial * n_units + unit, minlength=n_trials * n_units)
        return xr.DataArray(
            counts.reshape(n_trials, n_units),
            dims=("trial", "unit"),
            coords={"trial": np.arange(n_trials), "unit": np.arange(n_units)},
            attrs={"units": "1", "long_name": "spike count", "duration": duration},
        )
    window = float(window)
    if not (np.isfinite(window) and window > 0):
        raise ValueError(f"window = {window!r}: must be a positive number of seconds")
    n_win = _n_windows(duration, window)
    if n_win == 0:
        raise ValueError(
            f"window = {window:g} s is longer than the trials (duration = {duration:g} s): "
            "no window fits"
        )
    index = np.floor(trains["time"].values / window + _EDGE_TOL).astype(np.int64)
    keep = index < n_win
    key = (trial[keep] * n_win + index[keep]) * n_units + unit[keep]
    counts = np.bincount(key, minlength=n_trials * n_win * n_units)
    return xr.DataArray(
        counts.reshape(n_trials, n_win, n_units),
        dims=("trial", "window", "unit"),
        coords={
            "trial": np.arange(n_trials),
            "window": np.arange(n_win),
            "unit": np.arange(n_units),
            "window_start": ("window", np.arange(n_win) * window, {"units": "s"}),
        },
        attrs={"units": "1", "long_name": "spike count", "window": window},
    )


def firing_rates(trains: SpikeTrains) -> xr.DataArray:
    """Firing rate of every unit in every trial, ``r = N / T``.

    Parameters
    ----------
    trains : SpikeTrains

    Returns
    -------
    xarray.DataArray
        Rates in Hz, dims ``(trial, unit)``.

    References
    ----------
    Buzsaki G, Mizuseki K (2014) The log-dynamic brain. Nat Rev Neurosci 15:264-278.

    Examples
    --------
    >>> trains = spike_trains([0, 0, 0], [1, 1, 0], [0.01, 0.03, 0.07], 1, 2, duration=0.1)
    >>> firing_rates(trains).values.tolist()
    [[10.0, 20.0]]
    """
    rates = spike_counts(trains) / trains.attrs["duration"]
    rates.attrs = {"units": "Hz", "long_name": "firing rate"}
    return rates


def rate_distribution(rates: xr.DataArray | np.ndarray, high: float = 20.0) -> xr.Dataset:
    """Summary of a distribution of firing rates, with a log-normal fit of the non-zero ones.

    All entries of ``rates`` are pooled (pass per-unit rates to describe units, per-trial rates
    to describe unit-stimulus pairs). The log-normal fit is the maximum-likelihood one,
    ``mu = mean(ln r)`` and ``sigma = sd(ln r)`` (ddof = 0) over the rates ``r > 0`` in Hz, and
    its goodness is the Kolmogorov-Smirnov statistic against that fitted log-normal.

    Parameters
    ----------
    rates : xarray.DataArray or array
        Firing rates in Hz (non-negative); NaN entries are ignored.
    high : float
        Threshold (Hz) of ``fraction_above_20hz`` (strictly above).

    Returns
    -------
    xarray.Dataset
        Scalars ``median_rate``, ``mean_rate`` (Hz), ``fraction_silent`` (rate 0),
        ``fraction_above_20hz``, ``lognormal_mu`` and ``lognormal_sigma`` (of ``ln(r / 1 Hz)``),
        ``ks_statistic``, ``ks_pvalue``, ``n_units`` and ``n_nonzero``. The fit is NaN with
        fewer than 2 distinct non-zero rates.

    Notes
    -----
    The KS p-value assumes a distribution fixed in advance; with parameters fitted on the same
    rates it is conservative (too large; Lilliefors 1967), so read it as a screen, not a test.

    References
    ----------
    Buzsaki G, Mizuseki K (2014) The log-dynamic brain. Nat Rev Neurosci 15:264-278.
    Hromadka T, DeWeese MR, Zador AM (2008) Sparse representation of sounds in the unanesthetized
    auditory cortex. PLoS Biol 6:e16.

    Examples
    --------
    >>> d = rate_distribution(np.array([0.0, 1.0, 2.0, 4.0, 30.0]))
    >>> float(d.median_rate), float(d.fraction_silent), float(d.fraction_above_20hz)
    (2.0, 0.2, 0.2)
    """
    if isinstance(rates, xr.DataArray) and rates.attrs.get("units", "Hz") not in ("Hz", "1/s"):
        raise ValueError(f"rates must be in Hz, got units {rates.attrs['units']!r}")
    r = np.asarray(rates, dtype=float).ravel()
    r = r[np.isfinite(r)]
    if (r < 0).any():
        raise ValueError("rates must be non-negative")
    n = r.size
    nz = r[r > 0]
    mu = sigma = ks = p = np.nan
    if np.unique(nz).size >= 2:
        log = np.log(nz)
        mu, sigma = log.mean(), log.std()
        ks, p = scipy.stats.kstest(nz, "lognorm", args=(sigma, 0.0, np.exp(mu)))

    def scalar(value: float, units: str, long_name: str) -> xr.DataArray:
        return xr.DataArray(float(value), attrs={"units": units, "long_name": long_name})

    return xr.Dataset(
        {
            "median_rate": scalar(np.median(r) if n else np.nan, "Hz", "median firing rate"),
            "mean_rate": scalar(r.mean() if n else np.nan, "Hz", "mean firing rate"),
            "fraction_silent": scalar(
                np.mean(r == 0) if n else np.nan, "1", "fraction of rates equal to 0"
            ),
            "fraction_above_20hz": scalar(
                np.mean(r > high) if n else np.nan, "1", f"fraction of rates above {high:g} Hz"
            ),
            "lognormal_mu": scalar(mu, "1", "mean of ln(rate / 1 Hz), non-zero rates"),
            "lognormal_sigma": scalar(sigma, "1", "sd of ln(rate / 1 Hz), non-zero rates"),
            "ks_statistic": scalar(ks, "1", "KS distance to the fitted log-normal"),
            "ks_pvalue": scalar(p, "1", "KS p-value (conservative: fitted parameters)"),
            "n_units": xr.DataArray(n, attrs={"units": "1", "long_name": "number of rates"}),
            "n_nonzero": xr.DataArray(
                nz.size, attrs={"units": "1", "long_name": "number of non-zero rates"}
            ),
        }
    )


# --------------------------------------------------------------------------------------------
# Irregularity
# --------------------------------------------------------------------------------------------


def _intervals(trains: SpikeTrains) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ISIs of all trains at once: (train key of each ISI, the ISIs, spikes per train).

    The key of a train is ``trial * n_units + unit``; the ISIs come grouped by key, in time
    order within a train.
    """
    n_units = trains.attrs["n_units"]
    n_trains = trains.attrs["n_trials"] * n_units
    key = trains["trial"].values * n_units + trains["unit"].values
    time = trains["time"].values
    order = np.lexsort((time, key))
    key, time = key[order], time[order]
    same = key[1:] == key[:-1]  # consecutive spikes of one train; the rest cross a boundary
    return key[1:][same], np.diff(time)[same], np.bincount(key, minlength=n_trains)


def _per_train(
    trains: SpikeTrains,
    values: np.ndarray,
    n_spikes: np.ndarray,
    min_spikes: int,
    name: str,
    long_name: str,
) -> xr.DataArray:
    """Per-train values as (trial, unit), NaN for trains with fewer than ``min_spikes``."""
    out = np.where(n_spikes >= min_spikes, values, np.nan)
    shape = (trains.attrs["n_trials"], trains.attrs["n_units"])
    return xr.DataArray(
        out.reshape(shape),
        dims=("trial", "unit"),
        coords={"trial": np.arange(shape[0]), "unit": np.arange(shape[1])},
        name=name,
        attrs={
            "units": "1",
            "long_name": long_name,
            "min_spikes": min_spikes,
            "n": int(np.isfinite(out).sum()),
        },
    )


def _check_min_spikes(min_spikes: int) -> None:
    if min_spikes < 3:
        raise ValueError(f"min_spikes = {min_spikes}: needs at least 3 (two intervals)")


def poisson_cv(n_spikes: np.ndarray | Sequence[int]) -> np.ndarray:
    """Expected ISI CV (ddof = 0) of a Poisson train that has ``n_spikes`` spikes in its window.

    Given its count, a Poisson train's spike times are independent and uniform in the window, so
    the expected CV of its ``n - 1`` intervals depends on ``n`` only (not on the rate or the
    window): about 0.5 for 3 spikes, 0.86 for 10, 0.99 for 200. It is estimated once per ``n``
    by Monte Carlo (fixed seed; standard error <= 0.004) and is NaN below 3 spikes. Dividing a
    train's CV by it gives the rate-corrected CV of :func:`isi_cv` (``corrected=True``).

    Examples
    --------
    >>> np.round(poisson_cv([2, 3, 10, 200]), 1).tolist()
    [nan, 0.5, 0.9, 1.0]
    """
    n = np.asarray(n_spikes, dtype=np.int64)
    out = np.full(n.shape, np.nan)
    for value in np.unique(n[n >= 3]):
        out[n == value] = _poisson_cv_of(int(value))
    return out


_POISSON_CV: dict[int, float] = {}


def _poisson_cv_of(n: int) -> float:
    if n not in _POISSON_CV:
        draws = max(4000, 400_000 // n)
        rng = np.random.default_rng(n)
        isi = np.diff(np.sort(rng.uniform(size=(draws, n)), axis=1), axis=1)
        _POISSON_CV[n] = float(np.mean(isi.std(axis=1) / isi.mean(axis=1)))
    return _POISSON_CV[n]


def isi_cv(trains: SpikeTrains, min_spikes: int = 3, *, corrected: bool = False) -> xr.DataArray:
    r"""Coefficient of variation of the inter-spike intervals of every train.

    .. math:: CV = \frac{\sqrt{\frac{1}{n}\sum_i (I_i - \bar I)^2}}{\bar I}

    over the ``n`` ISIs ``I_i`` of one trial of one unit; 1 for a Poisson process,
    ``1/sqrt(k)`` for a gamma process of shape ``k``, 0 for a perfectly regular train.

    Parameters
    ----------
    trains : SpikeTrains
    min_spikes : int
        Trains with fewer spikes get NaN (at least 3: two intervals).
    corrected : bool
        Divide each train's CV by :func:`poisson_cv` of its spike count: the rate-corrected CV,
        whose mean is 1 for Poisson trains of any length (the plain CV of a Poisson train reads
        0.5-0.85 with 3-10 spikes: the window cuts off the long intervals) and 0 for regular
        trains. The report card uses it.

    Returns
    -------
    xarray.DataArray
        CV, dims ``(trial, unit)``; attrs ``n`` = number of trains with a value.

    Notes
    -----
    The standard deviation is the population one (ddof = 0), as in ``elephant.statistics.cv``
    (``scipy.stats.variation``), so both agree on the same intervals. Pass Elephant the
    intervals (``elephant.statistics.isi``), not the spike times: its ``cv`` of spike times is
    the spread of the times, not of the intervals. With few ISIs per train the plain CV is
    biased low (see ``corrected``).

    References
    ----------
    Softky WR, Koch C (1993) The highly irregular firing of cortical cells is inconsistent with
    temporal integration of random EPSPs. J Neurosci 13:334-350.

    Examples
    --------
    >>> trains = spike_trains([0] * 4, [0] * 4, [0.0, 0.25, 0.5, 0.75], 1, 1, duration=1.0)
    >>> float(isi_cv(trains)[0, 0])
    0.0
    """
    _check_min_spikes(min_spikes)
    key, isi, n_spikes = _intervals(trains)
    n_isi = np.bincount(key, minlength=n_spikes.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(key, isi, minlength=n_spikes.size) / n_isi
        # two-pass variance: the sum-of-squares shortcut loses digits for regular trains
        var = np.bincount(key, (isi - mean[key]) ** 2, minlength=n_spikes.size) / n_isi
        cv = np.sqrt(var) / mean
    long_name = "ISI coefficient of variation"
    if corrected:
        cv = cv / poisson_cv(n_spikes)
        long_name += ", rate-corrected (divided by a Poisson train's expected CV)"
    return _per_train(trains, cv, n_spikes, min_spikes, "isi_cv", long_name)


def _local_ratios(trains: SpikeTrains) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(I_{i+1} - I_i) / (I_{i+1} + I_i)`` of consecutive ISIs of each train, with its key."""
    key, isi, n_spikes = _intervals(trains)
    same = key[1:] == key[:-1]
    first, second = isi[:-1][same], isi[1:][same]
    total = first + second
    # two zero intervals (coincident spikes) are equal: no local variation
    ratio = np.divide(second - first, total, out=np.zeros_like(total), where=total > 0)
    return key[1:][same], ratio, n_spikes


def cv2(trains: SpikeTrains, min_spikes: int = 3) -> xr.DataArray:
    r"""CV2, the mean local coefficient of variation of consecutive ISIs, of every train.

    .. math:: CV_2 = \frac{1}{n-1}\sum_{i=1}^{n-1} \frac{2|I_{i+1} - I_i|}{I_{i+1} + I_i}

    over the ``n`` ISIs of one trial of one unit; 1 for a Poisson process, 0 for a regular
    train, and insensitive to slow rate changes.

    Parameters
    ----------
    trains : SpikeTrains
    min_spikes : int
        Trains with fewer spikes get NaN (at least 3: one pair of intervals).

    Returns
    -------
    xarray.DataArray
        CV2, dims ``(trial, unit)``; attrs ``n`` = number of trains with a value.

    Notes
    -----
    Equal to ``elephant.statistics.cv2`` of the train's intervals.

    References
    ----------
    Holt GR, Softky WR, Koch C, Douglas RJ (1996) Comparison of discharge variability in vitro
    and in vivo in cat visual cortex neurons. J Neurophysiol 75:1806-1814.

    Examples
    --------
    >>> trains = spike_trains([0] * 4, [0] * 4, [0.0, 0.1, 0.3, 0.4], 1, 1, duration=1.0)
    >>> round(float(cv2(trains)[0, 0]), 6)
    0.666667
    """
    _check_min_spikes(min_spikes)
    key, ratio, n_spikes = _local_ratios(trains)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.bincount(key, 2 * np.abs(ratio), minlength=n_spikes.size) / np.bincount(
            key, minlength=n_spikes.size
        )
    return _per_train(trains, value, n_spikes, min_spikes, "cv2", "CV2 (Holt et al. 1996)")


def lv(trains: SpikeTrains, min_spikes: int = 3) -> xr.DataArray:
    r"""Local variation Lv of the ISIs of every train.

    .. math:: L_V = \frac{3}{n-1}\sum_{i=1}^{n-1}
              \left(\frac{I_i - I_{i+1}}{I_i + I_{i+1}}\right)^2

    over the ``n`` ISIs of one trial of one unit; 1 for a Poisson process, ``3/(2k+1)`` for a
    gamma process of shape ``k``, 0 for a regular train.

    Parameters
    ----------
    trains : SpikeTrains
    min_spikes : int
        Trains with fewer spikes get NaN (at least 3: one pair of intervals).

    Returns
    -------
    xarray.DataArray
        Lv, dims ``(trial, unit)``; attrs ``n`` = number of trains with a value.

    Notes
    -----
    Equal to ``elephant.statistics.lv`` of the train's intervals.

    References
    ----------
    Shinomoto S, Shima K, Tanji J (2003) Differences in spiking patterns among cortical neurons.
    Neural Comput 15:2823-2842.

    Examples
    --------
    >>> trains = spike_trains([0] * 4, [0] * 4, [0.0, 0.1, 0.3, 0.4], 1, 1, duration=1.0)
    >>> round(float(lv(trains)[0, 0]), 6)
    0.333333
    """
    _check_min_spikes(min_spikes)
    key, ratio, n_spikes = _local_ratios(trains)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = (
            3
            * np.bincount(key, ratio**2, minlength=n_spikes.size)
            / np.bincount(key, minlength=n_spikes.size)
        )
    return _per_train(trains, value, n_spikes, min_spikes, "lv", "Lv (Shinomoto et al. 2003)")


# --------------------------------------------------------------------------------------------
# Trial-to-trial variability
# --------------------------------------------------------------------------------------------


def repeat_counts(
    trains: SpikeTrains, n_repeats: int | None = None, window: float | None = None
) -> xr.DataArray:
    """Spike counts of repeated presentations, arranged by repeat and stimulus.

    Trials are laid out stimulus-major: trial ``s * n_repeats + k`` is repeat ``k`` of stimulus
    ``s`` (stimulus 0 repeat 0, stimulus 0 repeat 1, ..., stimulus 1 repeat 0, ...).

    Parameters
    ----------
    trains : SpikeTrains
    n_repeats : int, optional
        Repeats per stimulus; default the trains' attrs ``n_repeats``.
    window : float, optional
        Counting window (s), as in :func:`spike_counts`; ``None`` counts whole trials.

    Returns
    -------
    xarray.DataArray
        Counts with dims ``(repeat, stimulus, unit)`` or ``(repeat, stimulus, window, unit)``.

    Raises
    ------
    ValueError
        If ``n_repeats`` is missing or does not divide the number of trials.

    Examples
    --------
    >>> trains = spike_trains([0, 1, 3], [0, 0, 1], [0.01, 0.02, 0.03], 4, 2, duration=0.05)
    >>> repeat_counts(trains, n_repeats=2).sel(stimulus=1).values.tolist()
    [[0, 0], [0, 1]]
    """
    if n_repeats is None:
        if "n_repeats" not in trains.attrs:
            raise ValueError("n_repeats: give it, or set the trains' attrs['n_repeats']")
        n_repeats = trains.attrs["n_repeats"]
    n_repeats = _check_count(n_repeats, "n_repeats")
    n_trials = trains.attrs["n_trials"]
    if n_trials % n_repeats:
        raise ValueError(f"n_repeats = {n_repeats} does not divide n_trials = {n_trials}")
    counts = spike_counts(trains, window)
    n_stim = n_trials // n_repeats
    shape = (n_stim, n_repeats) + counts.shape[1:]
    dims = ("stimulus", "repeat") + counts.dims[1:]
    coords = {d: counts.coords[d] for d in counts.dims[1:]}
    if "window_start" in counts.coords:
        coords["window_start"] = counts.coords["window_start"]
    out = xr.DataArray(counts.values.reshape(shape), dims=dims, coords=coords, attrs=counts.attrs)
    out = out.assign_coords(stimulus=np.arange(n_stim), repeat=np.arange(n_repeats))
    return out.transpose("repeat", "stimulus", *counts.dims[1:])


def fano_factor(counts: xr.DataArray, dim: str = "repeat") -> xr.DataArray:
    r"""Fano factor of spike counts across repeated trials.

    .. math:: F = \frac{\mathrm{Var}(N)}{\mathrm{E}(N)}

    with the unbiased variance (ddof = 1) over the ``n`` repeats along ``dim``, for every other
    index (stimulus, window, unit). 1 for a Poisson process; NaN where the mean count is 0.

    Parameters
    ----------
    counts : xarray.DataArray
        Spike counts with a repeat dimension, e.g. ``(repeat, stimulus, unit)`` from
        :func:`repeat_counts`, or ``(repeat, unit)``.
    dim : str
        The repeat dimension.

    Returns
    -------
    xarray.DataArray
        Fano factors (units "1") over the other dims. attrs ``deterministic`` is 1 when every
        variance is exactly 0 although some mean is not (with a ``note``): the repeats are
        identical, the network has no noise, and 0 is not a measurement of variability.

    Notes
    -----
    ``elephant.statistics.fanofactor`` divides the variance by ``n`` (ddof = 0); this function
    by ``n - 1``, so that the estimate is unbiased for the variance: Elephant's value is this one
    times ``(n - 1) / n``.

    References
    ----------
    Tolhurst DJ, Movshon JA, Dean AF (1983) The statistical reliability of signals in single
    neurons in cat and monkey visual cortex. Vision Res 23:775-785.
    Churchland MM et al. (2010) Stimulus onset quenches neural variability: a widespread
    cortical phenomenon. Nat Neurosci 13:369-378.

    Examples
    --------
    >>> counts = xr.DataArray([[1, 2], [3, 2], [5, 2]], dims=("repeat", "unit"))
    >>> ff = fano_factor(counts)
    >>> ff.values.tolist(), ff.attrs["deterministic"]
    ([1.3333333333333333, 0.0], 0)
    """
    if dim not in counts.dims:
        raise ValueError(f"counts has no dimension {dim!r} (dims {counts.dims})")
    if counts.sizes[dim] < 2:
        raise ValueError(f"needs at least 2 repeats along {dim!r}")
    counts = counts.astype(float)
    mean = counts.mean(dim)
    var = counts.var(dim, ddof=1)
    ff = (var / mean).where(mean > 0)
    active = (mean > 0).values
    deterministic = bool(active.any() and np.all(var.values[active] == 0))
    ff.attrs = {
        "units": "1",
        "long_name": "Fano factor",
        "ddof": 1,
        "n_repeats": counts.sizes[dim],
        "deterministic": int(deterministic),
    }
    if deterministic:
        ff.attrs["note"] = DETERMINISTIC_NOTE
    return ff


def _pairwise_pearson(x: np.ndarray, units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pearson r between the columns of ``x`` (samples, units) with non-zero variance.

    Returns the full matrix over the kept units (NaN diagonal) and their indices.
    """
    centred = x - x.mean(axis=0)
    norm = np.sqrt((centred**2).sum(axis=0))
    keep = norm > 0
    z = centred[:, keep] / norm[keep]
    r = z.T @ z
    np.fill_diagonal(r, np.nan)
    return r, units[keep]


def _pairs(r: np.ndarray, units: np.ndarray, attrs: dict) -> xr.DataArray:
    a, b = np.triu_indices(len(units), k=1)
    return xr.DataArray(
        r[a, b],
        dims="pair",
        coords={"unit_a": ("pair", units[a]), "unit_b": ("pair", units[b])},
        attrs=attrs,
    )


def _noise_matrix(
    counts: xr.DataArray, dim: str, unit_dim: str
) -> tuple[np.ndarray, np.ndarray, int]:
    """Pooled within-stimulus z-scores' correlation matrix (see :func:`noise_correlations`)."""
    for d in (dim, unit_dim):
        if d not in counts.dims:
            raise ValueError(f"counts has no dimension {d!r} (dims {counts.dims})")
    if counts.sizes[dim] < 2:
        raise ValueError(f"needs at least 2 repeats along {dim!r}")
    conditions = [d for d in counts.dims if d not in (dim, unit_dim)]
    c = counts.transpose(dim, *conditions, unit_dim).values.astype(float)
    c = c.reshape(c.shape[0], -1, c.shape[-1])  # (repeat, condition, unit)
    centred = c - c.mean(axis=0)
    sd = np.sqrt((centred**2).mean(axis=0))
    # a unit without variance in one condition has no noise to share there: it adds 0
    z = np.divide(centred, sd, out=np.zeros_like(centred), where=sd > 0)
    units = counts[unit_dim].values if unit_dim in counts.coords else np.arange(c.shape[-1])
    r, kept = _pairwise_pearson(z.reshape(-1, c.shape[-1]), np.asarray(units))
    return r, kept, c.shape[-1] - len(kept)


def noise_correlations(
    counts: xr.DataArray, dim: str = "repeat", unit_dim: str = "unit"
) -> xr.DataArray:
    r"""Noise correlations: Pearson r of spike counts across repeats, for all pairs of units.

    The counts of each unit are z-scored within each stimulus (every index of the dims other
    than ``dim`` and ``unit_dim``, e.g. stimulus and window) across the repeats, which removes
    the stimulus-driven part, and the z-scores of all stimuli are pooled:

    .. math:: r_{ab} = \frac{\sum_{s,k} z_{a,s,k} z_{b,s,k}}
              {\sqrt{\sum_{s,k} z_{a,s,k}^2 \sum_{s,k} z_{b,s,k}^2}},
              \quad z_{a,s,k} = \frac{N_{a,s,k} - \bar N_{a,s}}{\sigma_{a,s}}

    When every unit varies in every stimulus this is exactly the mean over stimuli of the
    per-stimulus Pearson r. A unit that does not vary in a stimulus contributes 0 there; units
    that vary in no stimulus are left out (counted in attrs ``n_excluded``).

    Parameters
    ----------
    counts : xarray.DataArray
        Spike counts, e.g. ``(repeat, stimulus, unit)`` from :func:`repeat_counts`.
    dim, unit_dim : str
        The repeat and unit dimensions.

    Returns
    -------
    xarray.DataArray
        r over dim ``pair``, coordinates ``unit_a < unit_b``; attrs ``n_units``,
        ``n_excluded``.

    References
    ----------
    Cohen MR, Kohn A (2011) Measuring and interpreting neuronal correlations. Nat Neurosci
    14:811-819.

    Examples
    --------
    >>> counts = xr.DataArray([[1, 2, 0], [3, 5, 0], [2, 3, 0]], dims=("repeat", "unit"))
    >>> nc = noise_correlations(counts)
    >>> nc.values.round(3).tolist(), nc.attrs["n_excluded"]
    ([0.982], 1)
    """
    r, kept, excluded = _noise_matrix(counts, dim, unit_dim)
    return _pairs(
        r,
        kept,
        {
            "units": "1",
            "long_name": "noise correlation",
            "n_units": len(kept),
            "n_excluded": excluded,
            "method": "z-scored within stimulus, pooled",
        },
    )


def signal_correlations(responses: xr.DataArray, stimulus_dim: str = "stimulus") -> xr.DataArray:
    """Signal correlations: Pearson r of mean responses across stimuli, for all pairs of units.

    Parameters
    ----------
    responses : xarray.DataArray
        Mean responses (rates or mean counts), dims ``(stimulus, unit)``.
    stimulus_dim : str
        The stimulus dimension; the other one is the units'.

    Returns
    -------
    xarray.DataArray
        r over dim ``pair`` (``unit_a < unit_b``); units without variance across stimuli are
        left out (attrs ``n_excluded``).

    References
    ----------
    Cohen MR, Kohn A (2011) Measuring and interpreting neuronal correlations. Nat Neurosci
    14:811-819.

    Examples
    --------
    >>> resp = xr.DataArray([[1.0, 2.0], [2.0, 4.0], [3.0, 5.0]], dims=("stimulus", "unit"))
    >>> signal_correlations(resp).values.round(3).tolist()
    [0.982]
    """
    if responses.ndim != 2 or stimulus_dim not in responses.dims:
        raise ValueError(f"responses must have dims ({stimulus_dim!r}, unit), got {responses.dims}")
    unit_dim = next(d for d in responses.dims if d != stimulus_dim)
    units = (
        responses[unit_dim].values
        if unit_dim in responses.coords
        else np.arange(responses.sizes[unit_dim])
    )
    x = responses.transpose(stimulus_dim, unit_dim).values.astype(float)
    r, kept = _pairwise_pearson(x, np.asarray(units))
    return _pairs(
        r,
        kept,
        {
            "units": "1",
            "long_name": "signal correlation",
            "n_units": len(kept),
            "n_excluded": x.shape[1] - len(kept),
        },
    )


# --------------------------------------------------------------------------------------------
# Sparseness
# --------------------------------------------------------------------------------------------


def _check_non_negative(activity: xr.DataArray) -> None:
    if (activity < 0).any():
        raise ValueError("sparseness needs non-negative activity (rates); found negative values")


def treves_rolls(activity: xr.DataArray, dim: str) -> xr.DataArray:
    r"""Treves-Rolls sparseness (activity ratio) along ``dim``.

    .. math:: a = \frac{\left(\frac{1}{n}\sum_i r_i\right)^2}{\frac{1}{n}\sum_i r_i^2}

    ``1/n`` when one of the ``n`` entries is active, 1 when all are equal; NaN for all-zero.

    Parameters
    ----------
    activity : xarray.DataArray
        Non-negative rates or activities.
    dim : str
        The dimension to reduce (stimuli for lifetime, units for population sparseness).

    Returns
    -------
    xarray.DataArray
        ``a`` over the remaining dims (units "1").

    References
    ----------
    Treves A, Rolls ET (1991) What determines the capacity of autoassociative memories in the
    brain? Network 2:371-397.

    Examples
    --------
    >>> treves_rolls(xr.DataArray([[0, 0, 3.0, 0], [2.0, 2, 2, 2]], dims=("s", "u")), "u").values
    array([0.25, 1.  ])
    """
    _check_non_negative(activity)
    activity = activity.astype(float)
    mean_sq = (activity**2).mean(dim)
    a = (activity.mean(dim) ** 2 / mean_sq).where(mean_sq > 0)
    a.attrs = {"units": "1", "long_name": "Treves-Rolls sparseness", "n": activity.sizes[dim]}
    return a


def vinje_gallant(activity: xr.DataArray, dim: str) -> xr.DataArray:
    r"""Vinje-Gallant sparseness along ``dim``, the Treves-Rolls ``a`` rescaled to [0, 1].

    .. math:: S = \frac{1 - a}{1 - 1/n}

    0 when all ``n`` entries are equal (dense), 1 when one is active (sparse); NaN for all-zero.

    Parameters
    ----------
    activity : xarray.DataArray
        Non-negative rates or activities.
    dim : str
        The dimension to reduce (at least 2 entries).

    Returns
    -------
    xarray.DataArray
        ``S`` over the remaining dims (units "1").

    References
    ----------
    Vinje WE, Gallant JL (2000) Sparse coding and decorrelation in primary visual cortex during
    natural vision. Science 287:1273-1276.

    Examples
    --------
    >>> vinje_gallant(xr.DataArray([[0, 0, 3.0, 0], [2.0, 2, 2, 2]], dims=("s", "u")), "u").values
    array([1., 0.])
    """
    n = activity.sizes[dim]
    if n < 2:
        raise ValueError(f"needs at least 2 entries along {dim!r}")
    s = (1 - treves_rolls(activity, dim)) / (1 - 1 / n)
    s.attrs = {"units": "1", "long_name": "Vinje-Gallant sparseness", "n": n}
    return s


def lifetime_sparseness(activity: xr.DataArray, stimulus_dim: str = "sample") -> xr.DataArray:
    """Lifetime sparseness of every unit: Vinje-Gallant ``S`` of its responses over stimuli.

    Parameters
    ----------
    activity : xarray.DataArray
        Non-negative activity, e.g. a Result's layer activity (sample, unit;
        :func:`neurosig.results.activity`).
    stimulus_dim : str
        The stimulus dimension.

    Returns
    -------
    xarray.DataArray
        ``S`` per unit (NaN for units silent to every stimulus).

    References
    ----------
    Willmore B, Tolhurst DJ (2001) Characterizing the sparseness of neural codes. Network
    12:255-270.

    Examples
    --------
    >>> act = xr.DataArray([[1.0, 1.0], [0.0, 1.0]], dims=("sample", "unit"))
    >>> lifetime_sparseness(act).values
    array([1., 0.])
    """
    out = vinje_gallant(activity, stimulus_dim)
    out.attrs["long_name"] = "lifetime sparseness (Vinje-Gallant)"
    return out


def population_sparseness(activity: xr.DataArray, stimulus_dim: str = "sample") -> xr.DataArray:
    """Population sparseness of every stimulus: Vinje-Gallant ``S`` over the units.

    Parameters
    ----------
    activity : xarray.DataArray
        Non-negative activity with dims ``(stimulus_dim, unit)``.
    stimulus_dim : str
        The stimulus dimension; the other one is reduced.

    Returns
    -------
    xarray.DataArray
        ``S`` per stimulus (NaN where no unit is active).

    References
    ----------
    Willmore B, Tolhurst DJ (2001) Characterizing the sparseness of neural codes. Network
    12:255-270.

    Examples
    --------
    >>> act = xr.DataArray([[1.0, 1.0], [0.0, 1.0]], dims=("sample", "unit"))
    >>> population_sparseness(act).values
    array([0., 1.])
    """
    if activity.ndim != 2 or stimulus_dim not in activity.dims:
        raise ValueError(f"activity must have dims ({stimulus_dim!r}, unit), got {activity.dims}")
    unit_dim = next(d for d in activity.dims if d != stimulus_dim)
    out = vinje_gallant(activity, unit_dim)
    out.attrs["long_name"] = "population sparseness (Vinje-Gallant)"
    return out


# --------------------------------------------------------------------------------------------
# Energy and E/I balance
# --------------------------------------------------------------------------------------------


def spikes_per_inference(counts: xr.DataArray, unit_dim: str = "unit") -> xr.DataArray:
    """Total spikes of a layer per stimulus presentation: ``sum_i N_i``.

    Parameters
    ----------
    counts : xarray.DataArray
        Whole-trial spike counts, e.g. ``spike_counts(trains)`` (trial, unit).
    unit_dim : str
        The dimension summed over.

    Returns
    -------
    xarray.DataArray
        Spikes per trial (units "1").

    References
    ----------
    Attwell D, Laughlin SB (2001) An energy budget for signaling in the grey matter of the
    brain. J Cereb Blood Flow Metab 21:1133-1145.

    Examples
    --------
    >>> spikes_per_inference(xr.DataArray([[1, 2], [0, 4]], dims=("trial", "unit"))).values
    array([3, 4])
    """
    out = counts.sum(unit_dim)
    out.attrs = {"units": "1", "long_name": "spikes per inference"}
    return out


def synaptic_events_per_inference(
    counts_per_layer: Sequence[xr.DataArray],
    out_degree_per_layer: Sequence[np.ndarray | Sequence[float]],
    unit_dim: str = "unit",
) -> xr.DataArray:
    r"""Synaptic events per stimulus presentation: every spike reaches each outgoing synapse.

    .. math:: E = \sum_l \sum_i N_{l,i}\, d_{l,i}

    with ``N_{l,i}`` the spike count and ``d_{l,i}`` the out-degree (number of outgoing
    synapses) of unit ``i`` of layer ``l``.

    Parameters
    ----------
    counts_per_layer : sequence of xarray.DataArray
        Whole-trial counts (trial, unit) of each layer.
    out_degree_per_layer : sequence of array
        Out-degree of each unit, one array per layer.
    unit_dim : str
        The unit dimension of the counts.

    Returns
    -------
    xarray.DataArray
        Synaptic events per trial (units "1").

    References
    ----------
    Lennie P (2003) The cost of cortical computation. Curr Biol 13:493-497.

    Examples
    --------
    >>> c = xr.DataArray([[1, 2]], dims=("trial", "unit"))
    >>> synaptic_events_per_inference([c], [[10, 5]]).values
    array([20])
    """
    if len(counts_per_layer) != len(out_degree_per_layer):
        raise ValueError("counts_per_layer and out_degree_per_layer need one entry per layer")
    total = None
    pairs = zip(counts_per_layer, out_degree_per_layer, strict=True)
    for layer, (counts, degree) in enumerate(pairs, start=1):
        degree = np.asarray(degree)
        if degree.shape != (counts.sizes[unit_dim],):
            raise ValueError(
                f"out_degree_per_layer[{layer - 1}] has shape {degree.shape}; layer {layer} has "
                f"{counts.sizes[unit_dim]} units"
            )
        events = counts.dot(xr.DataArray(degree, dims=unit_dim), dim=unit_dim)
        total = events if total is None else total + events
    total.attrs = {"units": "1", "long_name": "synaptic events per inference"}
    return total


def summed_activity(activity: xr.DataArray, stimulus_dim: str = "sample") -> xr.DataArray:
    """Summed activity of a layer per stimulus, the rate-network analogue of spike counts.

    A rate network has no spikes; the sum of its (non-negative) activities over units is the
    quantity its energy cost would scale with, in the activity's own units (not spikes).

    Parameters
    ----------
    activity : xarray.DataArray
        Activity with dims ``(stimulus_dim, unit)``.
    stimulus_dim : str
        The dimension kept.

    Returns
    -------
    xarray.DataArray
        Summed activity per stimulus, with the activity's units.

    Examples
    --------
    >>> summed_activity(xr.DataArray([[0.5, 1.0]], dims=("sample", "unit"))).values
    array([1.5])
    """
    others = [d for d in activity.dims if d != stimulus_dim]
    out = activity.sum(others)
    out.attrs = {
        "units": activity.attrs.get("units", "1"),
        "long_name": "summed activity per inference",
    }
    return out


def ei_balance(i_exc: xr.DataArray, i_inh: xr.DataArray, dim: str = "time") -> xr.Dataset:
    r"""Excitation-inhibition balance of every unit from its E and I input over time.

    With inhibitory input negative (``I_I <= 0``) and time averages ``<.>``:

    .. math:: B = \frac{\langle I_E \rangle + \langle I_I \rangle}
              {|\langle I_E \rangle| + |\langle I_I \rangle|}, \qquad
              \rho = \mathrm{corr}_t(I_E, -I_I)

    ``B`` is 0 for perfect balance, +1 for pure excitation, -1 for pure inhibition. ``rho`` is
    the Pearson correlation of the excitatory input with the *magnitude* of the inhibitory input
    over time, so that E and I co-varying (Okun & Lampl 2008) gives ``rho > 0``; NaN where
    either input is constant.

    Parameters
    ----------
    i_exc, i_inh : xarray.DataArray
        Excitatory (>= 0 on average) and inhibitory (<= 0 on average) input, same dims.
    dim : str
        The time dimension.

    Returns
    -------
    xarray.Dataset
        ``balance_index`` and ``ei_correlation`` over the remaining dims (units "1").

    References
    ----------
    Haider B, Duque A, Hasenstaub AR, McCormick DA (2006) Neocortical network activity in vivo
    is generated through a dynamic balance of excitation and inhibition. J Neurosci
    26:4535-4545.
    Okun M, Lampl I (2008) Instantaneous correlation of excitation and inhibition during ongoing
    and sensory-evoked activities. Nat Neurosci 11:535-537.

    Examples
    --------
    >>> e = xr.DataArray([[1.0, 2.0, 3.0]], dims=("unit", "time"))
    >>> b = ei_balance(e, -0.5 * e)
    >>> float(b.balance_index[0]), float(b.ei_correlation[0])
    (0.3333333333333333, 1.0)
    """
    if dim not in i_exc.dims or dim not in i_inh.dims:
        raise ValueError(f"i_exc and i_inh need the dimension {dim!r}")
    e_mean, i_mean = i_exc.mean(dim), i_inh.mean(dim)
    if (e_mean < 0).any():
        raise ValueError("i_exc: time-averaged excitatory input must be >= 0")
    if (i_mean > 0).any():
        raise ValueError("i_inh: time-averaged inhibitory input must be <= 0 (negative sign)")
    denom = np.abs(e_mean) + np.abs(i_mean)
    balance = ((e_mean + i_mean) / denom).where(denom > 0)
    de, di = i_exc - e_mean, -(i_inh - i_mean)
    norm = np.sqrt((de**2).sum(dim) * (di**2).sum(dim))
    corr = ((de * di).sum(dim) / norm).where(norm > 0)
    return xr.Dataset(
        {
            "balance_index": balance.assign_attrs(units="1", long_name="E/I balance index"),
            "ei_correlation": corr.assign_attrs(
                units="1", long_name="correlation of E and -I input over time"
            ),
        }
    )


# --------------------------------------------------------------------------------------------
# Confidence intervals and the report-card summary
# --------------------------------------------------------------------------------------------


# Statistics that reduce along an axis: bootstrap_ci evaluates blocks of resamples at once,
# at most BOOTSTRAP_BLOCK values per block
AXIS_STATISTICS = frozenset({np.mean, np.nanmean, np.median, np.nanmedian})
BOOTSTRAP_BLOCK = 1 << 20


def bootstrap_ci(
    values: np.ndarray | xr.DataArray,
    statistic: Callable[[np.ndarray], float] = np.nanmedian,
    n_boot: int = 1000,
    level: float = 0.95,
    rng: np.random.Generator | int | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of a statistic, resampling the first axis.

    The rows (units, stimuli or seeds) are drawn with replacement ``n_boot`` times and the
    interval is the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the statistic over
    the resamples.

    Parameters
    ----------
    values : array
        Values with the resampled items along the first axis (other axes travel with them).
    statistic : callable
        Maps a resampled array to a number; NaN results are ignored.
    n_boot : int
        Number of resamples.
    level : float
        Confidence level in (0, 1).
    rng : numpy.random.Generator or int, optional
        Random source; ``None`` uses seed 0 so that report cards are reproducible.

    Returns
    -------
    (float, float)
        ``(low, high)``; NaN with fewer than 2 rows or no finite resampled statistic.

    References
    ----------
    Efron B, Tibshirani RJ (1993) An Introduction to the Bootstrap. Chapman & Hall, ch. 13.

    Examples
    --------
    >>> low, high = bootstrap_ci(np.arange(100.0), np.mean, rng=1)
    >>> bool(40 < low < 49.5 < high < 59)
    True
    """
    if not 0 < level < 1:
        raise ValueError(f"level = {level!r}: must lie in (0, 1)")
    values = np.asarray(values, dtype=float)
    n = values.shape[0] if values.ndim else 0
    if n < 2:
        return math.nan, math.nan
    rng = np.random.default_rng(0 if rng is None else rng)
    index = rng.integers(0, n, size=(n_boot, n))
    with _quiet():
        if values.ndim == 1 and statistic in AXIS_STATISTICS:
            # every resample in one call per block of rows (the same numbers as one call per
            # resample, which took ~0.1 ms each: most of a report card's activity rows)
            block = max(1, BOOTSTRAP_BLOCK // n)
            stats = np.concatenate([
                np.asarray(statistic(values[index[start : start + block]], axis=1), dtype=float)
                for start in range(0, n_boot, block)
            ])  # fmt: skip
        else:
            stats = np.array([statistic(values[i]) for i in index], dtype=float)
    stats = stats[np.isfinite(stats)]
    if not stats.size:
        return math.nan, math.nan
    low, high = np.quantile(stats, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence numpy's warnings for all-NaN slices: they give NaN, which the callers handle."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


@dataclass(frozen=True)
class Statistic:
    """One row of the plausibility report card for one layer.

    Attributes
    ----------
    name : str
        Key of the statistic (``"median_rate"``, ...).
    value, low, high : float
        Estimate and bootstrap confidence interval (NaN when not applicable).
    n : int
        Number of items the value is computed over (units, stimuli or pairs' units).
    units : str
        Units of ``value`` ("Hz", "1").
    status : str
        ``"ok"``, ``"not applicable"`` or ``"flag"`` (a value that is not a measurement).
    note : str
        Why a row is not applicable or flagged, or how it was computed.
    control : float
        The same statistic measured on the row's control (``control_kind``): data that keep
        what the statistic should not depend on and destroy what it measures (NaN: none).
    control_kind : str
        What the control is (e.g. "regular trains with the same spike counts").
    null : float
        For statistics that must exceed an independent null (Fano factor: Poisson; noise
        correlation: trial-shuffled counts), the 97.5 % quantile of the null distribution of
        the statistic; the value must lie above it to be scored in range (NaN: no such test).
    """

    name: str
    value: float
    low: float
    high: float
    n: int
    units: str
    status: str
    note: str = ""
    control: float = math.nan
    control_kind: str = ""
    null: float = math.nan

    def __post_init__(self) -> None:
        if self.status not in ("ok", "not applicable", "flag"):
            raise ValueError(f"status = {self.status!r}: ok, not applicable or flag")


TRIAL_STATISTICS = (
    "median_rate",
    "fraction_silent",
    "fraction_above_20hz",
    "lognormal_sigma",
    "isi_cv",
    "cv2",
    "lv",
)
"""The rows measured on repeated trials instead of the recorded samples when the trials last at
least :data:`MIN_TRIAL_DURATION` (:func:`long_trials`)."""
SPIKE_STATISTICS = (
    *TRIAL_STATISTICS,
    "fano_factor_100ms",
    "fano_factor_1s",
    "noise_correlation_100ms",
    "noise_correlation_1s",
    "spikes_per_inference",
)
MIN_TRIAL_DURATION = 1.0
"""Shortest trials (s) the rate and irregularity rows are measured on: ISI statistics of 50 ms
trains rest on two or three intervals, and at 50 ms a rate of 20 Hz is a single spike."""
_UNITS = {"median_rate": "Hz"}
_WINDOWS = {"100ms": 0.1, "1s": 1.0}
N_NULL = 200  # draws of the independent nulls of the Fano factor and the noise correlation
UNIFORM_RATE_CONTROL = "independent Poisson trains, every unit at the layer's mean rate"
REGULAR_CONTROL = "regular trains with the same spike counts (evenly spaced)"
POISSON_COUNT_CONTROL = "independent Poisson counts with the same mean per stimulus and unit"
SHUFFLE_CONTROL = "trial-shuffled counts (repeats permuted independently per unit)"
INDEPENDENT_RESPONSE_CONTROL = (
    "independent responses at each unit's mean (Poisson counts; exponential for rates)"
)


def _not_applicable(name: str, note: str) -> Statistic:
    return Statistic(
        name, math.nan, math.nan, math.nan, 0, _UNITS.get(name, "1"), "not applicable", note
    )


def _row(
    name: str,
    rows: np.ndarray,
    statistic: Callable[[np.ndarray], float],
    note: str = "",
    status: str = "ok",
    empty_note: str = "no data",
) -> Statistic:
    """A report-card row: ``statistic(rows)`` with its bootstrap CI over the rows."""
    rows = np.asarray(rows, dtype=float)
    n = int(np.isfinite(rows).reshape(len(rows), -1).any(axis=1).sum()) if rows.size else 0
    if n == 0:
        return _not_applicable(name, empty_note)
    with _quiet():
        value = float(statistic(rows))
    low, high = bootstrap_ci(rows, statistic)
    return Statistic(name, value, low, high, n, _UNITS.get(name, "1"), status, note)


def _with_control(stat: Statistic, control: float, kind: str, null: float = math.nan) -> Statistic:
    return Statistic(
        stat.name, stat.value, stat.low, stat.high, stat.n, stat.units, stat.status, stat.note,
        float(control), kind, float(null),
    )  # fmt: skip


def _mean_fano(counts: np.ndarray) -> float:
    """Mean over units of the per-condition Fano factors of counts (repeat, condition, unit)."""
    with _quiet():
        mean = counts.mean(axis=0)
        ff = np.where(mean > 0, counts.var(axis=0, ddof=1) / mean, np.nan)
        return float(np.nanmean(np.nanmean(ff, axis=0)))


def _mean_noise_correlation(counts: np.ndarray) -> float:
    r, _, _ = _noise_matrix(xr.DataArray(counts, dims=("repeat", "condition", "unit")),
                            "repeat", "unit")  # fmt: skip
    with _quiet():
        return float(np.nanmean(r))


def _variability_nulls(counts: xr.DataArray, seed: int = 0) -> dict[str, np.ndarray]:
    """Null distributions of the mean Fano factor and the mean noise correlation.

    Fano factor: independent Poisson counts with the same mean per (stimulus, window, unit)
    (a Fano factor of 1 up to sampling). Noise correlation: the repeats of every unit
    permuted independently within each stimulus and window, which keeps every unit's counts
    and removes shared trial-to-trial variability (r = 0 up to sampling).
    """
    rng = np.random.default_rng(seed)
    c = counts.transpose("repeat", ..., "unit").values.astype(float)
    c = c.reshape(c.shape[0], -1, c.shape[-1])
    mean = c.mean(axis=0)
    fano = [_mean_fano(rng.poisson(mean, c.shape).astype(float)) for _ in range(N_NULL)]
    corr = []
    for _ in range(N_NULL // 4):
        order = np.argsort(rng.uniform(size=c.shape), axis=0)
        corr.append(_mean_noise_correlation(np.take_along_axis(c, order, axis=0)))
    return {"fano": np.array(fano), "corr": np.array(corr)}


def _variability_rows(trials: SpikeTrains | None) -> dict[str, Statistic]:
    out: dict[str, Statistic] = {}
    for label, window in _WINDOWS.items():
        fano, corr = f"fano_factor_{label}", f"noise_correlation_{label}"
        if trials is None:
            out[fano] = _not_applicable(fano, REPEATS_NOTE)
            out[corr] = _not_applicable(corr, REPEATS_NOTE)
            continue
        duration = trials.attrs["duration"]
        if _n_windows(duration, window) == 0:
            note = (
                f"trial duration {duration * 1e3:g} ms is shorter than the "
                f"{window * 1e3:g} ms counting window"
            )
            out[fano] = _not_applicable(fano, note)
            out[corr] = _not_applicable(corr, note)
            continue
        counts = repeat_counts(trials, window=window)
        ff = fano_factor(counts)
        status, note = ("flag", DETERMINISTIC_NOTE) if ff.attrs["deterministic"] else ("ok", "")
        rows = ff.transpose("unit", ...).values.reshape(ff.sizes["unit"], -1)
        out[fano] = _row(fano, rows, np.nanmean, note, status, "no unit with a non-zero mean count")
        r, kept, excluded = _noise_matrix(counts, "repeat", "unit")
        if status == "flag":
            out[corr] = Statistic(corr, math.nan, math.nan, math.nan, 0, "1", status, note)
            continue
        note = f"{excluded} units without variance excluded" if excluded else ""
        # rows of the pair matrix: resampling them resamples one unit of every pair
        out[corr] = _row(corr, r, np.nanmean, note, empty_note="fewer than 2 varying units")
        null = _variability_nulls(counts)
        for key, kind, draws in ((fano, POISSON_COUNT_CONTROL, null["fano"]),
                                 (corr, SHUFFLE_CONTROL, null["corr"])):  # fmt: skip
            if out[key].status == "ok" and np.isfinite(draws).any():
                out[key] = _with_control(
                    out[key], np.nanmedian(draws), kind, np.nanquantile(draws, 0.975)
                )
    return out


def _rate_rows(trains: SpikeTrains) -> dict[str, Statistic]:
    """Rate-distribution rows of spike trains (no controls)."""
    rates = firing_rates(trains).transpose("unit", "trial").values  # rows = units
    unit_rates = rates.mean(axis=1)
    dist = rate_distribution(unit_rates)
    out = {"median_rate": _row("median_rate", unit_rates, np.nanmedian)}
    out["fraction_silent"] = _row(
        "fraction_silent", unit_rates, lambda r: np.mean(r == 0), "units silent in every trial"
    )
    out["fraction_above_20hz"] = _row(
        "fraction_above_20hz", rates, lambda r: np.mean(r > 20), "per (trial, unit)"
    )
    nonzero = unit_rates[unit_rates > 0]
    out["lognormal_sigma"] = _row(
        "lognormal_sigma",
        nonzero,
        lambda r: np.std(np.log(r)) if np.unique(r).size > 1 else np.nan,
        f"log-normal fit of the non-zero unit rates; KS p = {float(dist.ks_pvalue):.3g}",
        empty_note="fewer than 2 distinct non-zero rates",
    )
    return out


def _irregularity_rows(trains: SpikeTrains) -> dict[str, Statistic]:
    few = f"trains of {trains.attrs['duration'] * 1e3:g} ms with >= 3 spikes"
    out = {}
    for name, func in (("isi_cv", _corrected_cv), ("cv2", cv2), ("lv", lv)):
        values = func(trains).transpose("unit", "trial").values
        note = few + ("; CV / a Poisson train's expected CV at the same count"
                      if name == "isi_cv" else "")  # fmt: skip
        out[name] = _row(name, values, np.nanmean, note, empty_note=f"no {few}")
    return out


def _corrected_cv(trains: SpikeTrains) -> xr.DataArray:
    return isi_cv(trains, corrected=True)


def long_trials(trials: SpikeTrains | None) -> bool:
    """Whether repeated ``trials`` last at least :data:`MIN_TRIAL_DURATION`, so that the rate and
    irregularity rows (:data:`TRIAL_STATISTICS`) are measured on them.

    Examples
    --------
    >>> long_trials(spike_trains([0], [0], [0.5], 1, 1, duration=1.0))
    True
    >>> long_trials(spike_trains([0], [0], [0.01], 1, 1, duration=0.05)), long_trials(None)
    (False, False)
    """
    return trials is not None and trials.attrs["duration"] >= MIN_TRIAL_DURATION - _EDGE_TOL


def window_note(n: int, duration: float, what: str = "trials") -> str:
    """Where a row was measured: ``n`` ``what`` (trials, recorded samples) of ``duration`` s.

    Examples
    --------
    >>> window_note(100, 1.0), window_note(200, 0.05, "recorded samples")
    ('measured on 100 trials of 1.0 s', 'measured on 200 recorded samples of 50 ms')
    """
    length = f"{duration:.1f} s" if duration >= 1 else f"{duration * 1e3:g} ms"
    return f"measured on {n} {what} of {length}"


def _with_note(stat: Statistic, note: str) -> Statistic:
    return replace(stat, note=f"{note}; {stat.note}" if stat.note else note)


def _spike_rows(recorded: SpikeTrains | None, trials: SpikeTrains | None) -> dict[str, Statistic]:
    """Every spike-based row of one layer, each with its control.

    The rows of :data:`TRIAL_STATISTICS` are measured on the repeated ``trials`` when they are
    long (:func:`long_trials`), else on the ``recorded`` samples; each row's note says which.
    Spikes per inference are always those of the recorded samples (one inference each).
    ``recorded`` is None when the Result holds no recording (before training, unless every
    epoch was recorded): the rows the trials cannot give are then not applicable.
    """
    out = {name: _not_applicable(name, NO_RECORDING_NOTE) for name in SPIKE_STATISTICS}
    if long_trials(trials):
        out.update(
            _trial_rows(trials, window_note(trials.attrs["n_trials"], trials.attrs["duration"]))
        )
    elif recorded is not None:
        where = window_note(
            recorded.attrs["n_trials"], recorded.attrs["duration"], "recorded samples"
        )
        out.update(_trial_rows(recorded, where))
    out.update(_variability_rows(trials))
    if recorded is not None:
        spikes = spikes_per_inference(spike_counts(recorded)).values
        note = "spikes of the layer per recorded sample"
        out["spikes_per_inference"] = _with_control(
            _row("spikes_per_inference", spikes, np.mean, note),
            math.nan,
            "none: no literature range",
        )
    return out


def _trial_rows(trains: SpikeTrains, source: str) -> dict[str, Statistic]:
    """The rate and irregularity rows (:data:`TRIAL_STATISTICS`) of ``trains`` with their
    controls, each note starting with ``source`` (where they were measured)."""
    out = _rate_rows(trains)
    uniform = _rate_rows(uniform_rate_trains(trains))
    for name in ("fraction_silent", "fraction_above_20hz", "lognormal_sigma"):
        out[name] = _with_control(out[name], uniform[name].value, UNIFORM_RATE_CONTROL)
    out["median_rate"] = _with_control(
        out["median_rate"], math.nan, "none: a rate level has no shuffle null (see untrained)"
    )
    irregular = _irregularity_rows(trains)
    regular = _irregularity_rows(regular_trains(trains))
    for name, stat in irregular.items():
        out[name] = _with_control(stat, regular[name].value, REGULAR_CONTROL)
    return {name: _with_note(stat, source) for name, stat in out.items()}


def _independent_responses(activity: xr.DataArray, duration: float | None) -> xr.DataArray:
    """Each unit's responses redrawn independently at its mean: Poisson counts / duration for a
    spiking layer (``duration`` in s), exponential for a rate layer."""
    rng = np.random.default_rng(0)
    mean = activity.mean("sample").values
    shape = (activity.sizes["sample"], mean.size)
    if duration is None:
        values = rng.exponential(1.0, shape) * mean
    else:
        values = rng.poisson(mean * duration, shape) / duration
    return xr.DataArray(values, dims=("sample", "unit"))


def _sparseness_rows(activity: xr.DataArray | None, duration: float | None) -> dict:
    out: dict[str, Statistic] = {}
    for name, func, axis_name in (
        ("lifetime_sparseness", lifetime_sparseness, "unit"),
        ("population_sparseness", population_sparseness, "sample"),
    ):
        if activity is None or "sample" not in activity.dims or activity.sizes["sample"] < 2:
            out[name] = _not_applicable(name, "needs recorded activity of >= 2 samples")
        elif (activity < 0).any():
            out[name] = _not_applicable(name, "activity has negative values: not a rate")
        else:
            s = func(activity, "sample").values
            row = _row(name, s, np.nanmean, f"Vinje-Gallant S, CI over {axis_name}s")
            unit_dim = next(d for d in activity.dims if d != "sample")
            control = func(
                _independent_responses(activity.rename({unit_dim: "unit"}), duration), "sample"
            )
            with _quiet():
                out[name] = _with_control(
                    row, float(np.nanmean(control.values)), INDEPENDENT_RESPONSE_CONTROL
                )
    return out


def summarise_layer(
    ds: xr.Dataset, layer: int, trials: SpikeTrains | None = None, *, initial: bool = False
) -> dict[str, Statistic]:
    """Activity statistics of one hidden layer of a Result, for the plausibility report card.

    Every row is a :class:`Statistic` with a percentile bootstrap CI (:func:`bootstrap_ci`)
    over units (rates, irregularity, variability, lifetime sparseness) or stimuli (population
    sparseness, spikes per inference), and the same statistic on its control:

    * ``median_rate``, ``fraction_silent``, ``lognormal_sigma``: of the units' rates averaged
      over the trials; ``fraction_above_20hz`` of the (trial, unit) rates. Control (not for
      the median): :func:`uniform_rate_trains`, the same spike budget spread evenly;
    * ``isi_cv`` (rate-corrected, :func:`isi_cv` with ``corrected=True``), ``cv2``, ``lv``:
      mean over the (trial, unit) trains with >= 3 spikes. All three read 1 for Poisson
      trains of any length. Control: :func:`regular_trains` (0);
    * the trials of these rows (:data:`TRIAL_STATISTICS`) are the repeated ``trials`` when
      they last at least :data:`MIN_TRIAL_DURATION` (1 s; :func:`long_trials`), else the
      recorded samples (50 ms presentations by default); each row's note says which;
    * ``fano_factor_{100ms,1s}``, ``noise_correlation_{100ms,1s}``: mean over units and
      windows of repeated ``trials`` (:func:`repeat_counts`); "not applicable" without them or
      when the trials are shorter than the window, "flag" when the repeats are identical.
      Control and ``null``: independent Poisson counts with the same means (Fano factor),
      trial-shuffled counts (noise correlation);
    * ``lifetime_sparseness``, ``population_sparseness``: mean Vinje-Gallant ``S`` of the
      layer's recorded activity (spiking and rate networks alike). Control: every unit's
      responses redrawn independently at its mean (Poisson counts; exponential for rates);
    * ``spikes_per_inference``: mean spikes of the layer per recorded sample.

    For a Result without spikes (rate or numpy networks) every spike-based row is
    "not applicable" with NaN value: rates are never turned into Poisson spikes. Before
    training a Result usually holds no spike recording (only with ``record_every_epoch``):
    the rows are then those the ``trials`` (the untrained probe) give, the others not
    applicable.

    Parameters
    ----------
    ds : xarray.Dataset
        A training Result.
    layer : int
        Hidden layer, 1-based.
    trials : SpikeTrains, optional
        Repeated presentations of this layer (attrs ``n_repeats``), stimulus-major; the rate
        and irregularity rows are measured on them when they last at least 1 s.
    initial : bool
        Summarise the recording made before training (the untrained network).

    Returns
    -------
    dict of str to Statistic
        Keyed by the statistic names above.

    Examples
    --------
    >>> card = summarise_layer(result, layer=1)  # doctest: +SKIP
    >>> card["median_rate"].value  # doctest: +SKIP
    """
    out: dict[str, Statistic] = {}
    duration = recorded = None
    if results.has_spikes(ds, layer, initial=initial):
        recorded = spike_trains_from_result(ds, layer, initial=initial)
        duration = recorded.attrs["duration"]
    if results.has_spikes(ds, layer):
        out.update(_spike_rows(recorded, trials))
    else:
        out.update((name, _not_applicable(name, RATE_NOTE)) for name in SPIKE_STATISTICS)
    has = results.has_activity(ds, layer, initial=initial)
    activity = results.activity(ds, layer, initial=initial) if has else None
    out.update(_sparseness_rows(activity, duration))
    return out
