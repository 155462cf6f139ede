"""The plausibility report card: does a trained network look like a brain, criterion by criterion?

A card has one row per criterion of ``PLAUSIBILITY.md`` (and per hidden layer where the
criterion is per layer). Each row gives

* the value measured on the Result, with a bootstrap confidence interval over units, stimuli
  or seeds (the resampled axis is named in the row's note);
* the literature range from ``analyses/references.toml`` with its context and citation;
* a band: ``in`` (inside the typical range), ``near`` (inside the wider "near" range),
  ``out``, ``flag`` (the measurement is degenerate, e.g. a Fano factor of noise-free repeats),
  ``not applicable`` (a criterion the network cannot express, e.g. ISI irregularity of a
  rate network; never filled in with a Poisson substitute) or ``uninformative`` (below);
* the same statistic on the *untrained* network (the Result's state before training) and on a
  *control* (``control_kind``): data that keep what the statistic should not depend on and
  destroy what it measures (regular trains for irregularity, Poisson counts for the Fano
  factor, trial-shuffled counts for noise correlations, the same spike budget at one rate for
  the rate distribution, independent responses for sparseness, E and I inputs shuffled in
  time for the E/I correlation, Gaussian and uniform weights for weight statistics,
  stimulus-shuffled activity for geometry and decoding, BP's audit for the rule rows), each
  with its own band.

A row whose untrained network or control lands ``in`` measures nothing yet: its band is
``uninformative`` whatever its own value (kept in ``value_band``). Statistics that must exceed
an independent null (Fano factor > Poisson, noise correlation > trial-shuffled) and the weight
distribution (log-normal must beat a normal, half-normal and uniform fit, Vuong z > 1.96) are
scored ``out`` when they do not, however close the value is to the literature range.
docs/report-card.md lists every row, its band, citation and control.

Geometry and selectivity rows (``relative = true`` in the references) have no literature
range: following PLAUSIBILITY.md they are placed between the *untrained* network (score 0)
and *backprop* of the same architecture (score 1) on the same stimuli,
``s = (v - v_untrained) / (v_BP - v_untrained)``. neurosig's convention (not a literature
value): ``in`` for s >= 2/3, ``near`` for s >= 1/3, ``out`` below. For the rows that compare a
representation with BP's (RDM correlation, CKA, Procrustes distance) ``v_BP`` is BP compared
with itself, measured the same way: 1 for the first two, and for the cross-validated
Procrustes distance the floor that held-out scoring leaves when units outnumber the training
stimuli (the fitted map is undetermined outside their span).

There is no overall score: a single number would hide which criterion fails.

Example
-------
>>> card = report_card(load_result("sigprop.nc"), bp=load_result("bp.nc"))  # doctest: +SKIP
>>> print(card_markdown(card))  # doctest: +SKIP
"""

from __future__ import annotations

import math
import tomllib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

import numpy as np
import xarray as xr

from neurosig import results as result_schema
from neurosig.analyses import activity, caveats, representation, weights
from neurosig.errors import DataError

__all__ = [
    "BANDS",
    "Card",
    "CardRow",
    "Probe",
    "Reference",
    "band",
    "controlled_band",
    "load_references",
    "probe_trials",
    "relative_band",
    "report_card",
    "untrained_activity",
    "untrained_weights",
]

BANDS = ("in", "near", "out", "flag", "not applicable", "uninformative")
RELATIVE_IN, RELATIVE_NEAR = 2 / 3, 1 / 3
N_BOOT = 1000


# -- literature references ------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """One literature range (an entry of ``analyses/references.toml``)."""

    key: str
    criterion: str
    statistic: str
    units: str
    applies_to: tuple[str, ...]
    context: str
    citation: str
    confidence: str
    low: float = math.nan
    high: float = math.nan
    near: tuple[float, float] = (math.nan, math.nan)
    relative: bool = False
    doi: str = ""
    note: str = ""

    @property
    def range_text(self) -> str:
        if self.relative:
            return "between untrained (0) and BP (1)"
        if self.low == self.high:
            return f"{self.low:g}"
        return f"{self.low:g}-{self.high:g}"


def load_references(path: str | Path | None = None) -> dict[str, Reference]:
    """The literature ranges, keyed by criterion key (default: the shipped references.toml)."""
    if path is None:
        text = (resources.files("neurosig.analyses") / "references.toml").read_text()
        source = "references.toml"
    else:
        text, source = Path(path).read_text(), str(path)
    try:
        entries = tomllib.loads(text)["reference"]
    except (tomllib.TOMLDecodeError, KeyError) as err:
        raise DataError(f"{source}: not a references file ({err})") from None
    out = {}
    for e in entries:
        near = e.get("near", [e.get("low", math.nan), e.get("high", math.nan)])
        out[e["key"]] = Reference(
            key=e["key"],
            criterion=e["criterion"],
            statistic=e["statistic"],
            units=e.get("units", "1"),
            applies_to=tuple(e.get("applies_to", ())),
            context=e.get("context", ""),
            citation=e["citation"],
            confidence=e.get("confidence", "unverified"),
            low=float(e.get("low", math.nan)),
            high=float(e.get("high", math.nan)),
            near=(float(near[0]), float(near[1])),
            relative=bool(e.get("relative", False)),
            doi=e.get("doi", ""),
            note=e.get("note", ""),
        )
    return out


def band(value: float, ref: Reference) -> str:
    """``in`` / ``near`` / ``out`` for a value against a literature range (NaN: not applicable).

    >>> ref = Reference("r", "c", "s", "Hz", ("spiking",), "", "", "verified", 1.0, 10.0, (0.5, 20))
    >>> band(5.0, ref), band(15.0, ref), band(50.0, ref)
    ('in', 'near', 'out')
    """
    if not np.isfinite(value):
        return "not applicable"
    if ref.low <= value <= ref.high:
        return "in"
    if ref.near[0] <= value <= ref.near[1]:
        return "near"
    return "out"


def controlled_band(value_band: str, untrained_band: str = "", control_band: str = "") -> str:
    """A row's band given its controls: ``uninformative`` when the untrained network or the
    control lands ``in``; flag and not applicable rows stay as they are.

    >>> controlled_band("in", "out", "out"), controlled_band("in", "out", "in")
    ('in', 'uninformative')
    >>> controlled_band("out", "in"), controlled_band("not applicable", "in")
    ('uninformative', 'not applicable')
    """
    if value_band in ("flag", "not applicable"):
        return value_band
    return "uninformative" if "in" in (untrained_band, control_band) else value_band


def relative_band(score: float) -> str:
    """Band of a geometry row's score between untrained (0) and BP (1); see the module doc."""
    if not np.isfinite(score):
        return "not applicable"
    return "in" if score >= RELATIVE_IN else "near" if score >= RELATIVE_NEAR else "out"


# -- rows -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CardRow:
    """One row of the card: a criterion measured on one layer (0: the whole network)."""

    key: str
    layer: int
    value: float
    low: float
    high: float
    n: int
    units: str
    band: str
    note: str = ""
    score: float = math.nan  # relative rows: position between untrained (0) and BP (1)
    untrained: float = math.nan  # the statistic on the network before training
    bp: float = math.nan
    value_band: str = ""  # the band of the value alone, before the controls are considered
    untrained_band: str = ""
    control: float = math.nan  # the statistic on the row's control (control_kind)
    control_kind: str = ""
    control_band: str = ""


@dataclass
class Card:
    """The report card of one rule (one or more Results of the same model, one per seed).

    ``warnings`` are what a reader must know before the rows (:mod:`neurosig.analyses.caveats`):
    an unfinished run, seeds that differ in more than the seed, a baseline or BP reference of
    another architecture or data. Empty when there is nothing to say.
    """

    name: str
    model: str
    rows: list[CardRow]
    references: dict[str, Reference]
    accuracy: float
    seeds: int = 1
    extras: dict = field(default_factory=dict)  # arrays for the figure (RDMs, CKA matrix, ...)
    warnings: list[str] = field(default_factory=list)

    def row(self, key: str, layer: int | None = None) -> CardRow:
        """The row ``key`` (of ``layer``; default: the last layer that has it)."""
        rows = [r for r in self.rows if r.key == key and (layer is None or r.layer == layer)]
        if not rows:
            raise KeyError(key)
        return rows[-1]

    def to_dataset(self) -> xr.Dataset:
        """The card as labelled data (dimension ``row``), for storing next to the report."""
        refs = [self.references.get(r.key) for r in self.rows]

        def column(name):
            return [getattr(r, name) for r in self.rows]

        ds = xr.Dataset(
            {
                "value": ("row", np.array(column("value"), float)),
                "ci_low": ("row", np.array(column("low"), float)),
                "ci_high": ("row", np.array(column("high"), float)),
                "n": ("row", np.array(column("n"), int)),
                "score": ("row", np.array(column("score"), float)),
                "untrained": ("row", np.array(column("untrained"), float)),
                "bp": ("row", np.array(column("bp"), float)),
                "band": ("row", np.array(column("band"), str)),
                "value_band": ("row", np.array(column("value_band"), str)),
                "untrained_band": ("row", np.array(column("untrained_band"), str)),
                "control": ("row", np.array(column("control"), float)),
                "control_kind": ("row", np.array(column("control_kind"), str)),
                "control_band": ("row", np.array(column("control_band"), str)),
                "units": ("row", np.array(column("units"), str)),
                "note": ("row", np.array(column("note"), str)),
                "reference_range": (
                    "row",
                    np.array([ref.range_text if ref else "" for ref in refs], str),
                ),
                "citation": ("row", np.array([ref.citation if ref else "" for ref in refs], str)),
            },
            coords={
                "key": ("row", np.array(column("key"), str)),
                "layer": ("row", np.array(column("layer"), int)),
            },
        )
        ds.attrs.update(
            name=self.name,
            model=self.model,
            seeds=self.seeds,
            accuracy=self.accuracy,
            warnings="\n".join(self.warnings),
        )
        return ds


def _scored(
    key: str,
    value: float,
    references: dict[str, Reference],
    null: float = math.nan,
    supported: bool = True,
) -> str:
    """The band of ``value`` against the reference ``key``; not applicable without one.

    ``null``: the value must exceed it (the 97.5 % quantile of an independent null) to be in
    or near; ``supported``: whether the statistic's model is supported (the log-normal fit of
    weights); either failing turns in/near into out.
    """
    if key not in references:
        return "not applicable"
    b = band(value, references[key])
    if b in ("in", "near") and (not supported or (np.isfinite(null) and not value > null)):
        return "out"
    return b


def _controlled_row(row: CardRow, untrained_band: str, control_band: str) -> CardRow:
    """``row`` (its ``band`` the value's own) with the controls' bands and the final band."""
    final = controlled_band(row.band, untrained_band, control_band)
    note = row.note
    if final == "uninformative":
        which = " and ".join(
            name for name, b in (("untrained", untrained_band), ("control", control_band))
            if b == "in"
        )  # fmt: skip
        note = f"{which} also in: measures nothing here (own band: {row.band}); " + note
    return replace(
        row, band=final, value_band=row.band, untrained_band=untrained_band,
        control_band=control_band, note=note,
    )  # fmt: skip


def _row_from_statistic(
    stat: activity.Statistic,
    key: str,
    layer: int,
    references: dict[str, Reference],
    untrained: activity.Statistic | None = None,
) -> CardRow:
    b = _scored(key, stat.value, references, stat.null) if stat.status == "ok" else stat.status
    u = untrained.value if untrained is not None and untrained.status == "ok" else math.nan
    u_band = _scored(key, u, references, stat.null) if np.isfinite(u) else "not applicable"
    c_band = (
        _scored(key, stat.control, references, stat.null)
        if np.isfinite(stat.control) else "not applicable"
    )  # fmt: skip
    note = stat.note
    if np.isfinite(stat.null):
        note = (note + "; " if note else "") + f"must exceed the null's 97.5 % {stat.null:.3g}"
    row = CardRow(
        key, layer, stat.value, stat.low, stat.high, stat.n, stat.units, b, note=note,
        untrained=u, control=stat.control, control_kind=stat.control_kind,
    )  # fmt: skip
    return _controlled_row(row, u_band, c_band)


def _bootstrap(values: np.ndarray, statistic=np.nanmean, seed: int = 0) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    if values.size < 2:
        return math.nan, math.nan
    return activity.bootstrap_ci(
        values, statistic=statistic, n_boot=N_BOOT, rng=np.random.default_rng(seed)
    )


# -- what a Result holds ----------------------------------------------------------------------


def _activity(ds: xr.Dataset, layer: int, *, initial: bool = False) -> np.ndarray:
    """Recorded data-stream activity of a hidden layer as floats, (sample, unit)."""
    return np.asarray(result_schema.activity(ds, layer, initial=initial).values, dtype=float)


def weight_blocks(ds: xr.Dataset) -> dict[str, np.ndarray]:
    """Learned weight matrices (post, pre) of the feedforward pathway, by block name.

    The label projection (``signal``) is excluded: it is a fixed input pathway, not a
    synapse population that learns.
    """
    return {
        block: np.asarray(w.values, dtype=float)
        for block, w in result_schema.weights(ds).items()
        if block != "signal"
    }


def _block_layer(block: str, n_hidden: int) -> int:
    """Layer a weight block projects to: ``layer2``/``w2`` -> 2; readouts -> n_hidden + 1."""
    digits = block[len(block.rstrip("0123456789")) :]
    return int(digits) if digits else n_hidden + 1


def test_accuracy(ds: xr.Dataset) -> float:
    """Final test accuracy of the primary readout (NaN for a Result without epochs)."""
    try:
        values = result_schema.primary_accuracy(ds, "test").values
    except KeyError:
        return math.nan
    return float(values[-1]) if values.size else math.nan


# -- repeated trials (Fano factor, noise correlations, E/I balance) --------------------------

PROBE_TRACE_UNITS = 20  # units per layer whose E and I inputs the probe records
EI_BIN = 0.005  # s: E/I inputs are averaged in bins this wide (inhibition lags by a few ms)


@dataclass(frozen=True)
class Probe:
    """What :func:`probe_trials` records of every hidden layer (keyed by layer index).

    Attributes
    ----------
    trains : {layer: SpikeTrains}
        Spike trains of the repeated trials, stimulus-major (attrs ``n_repeats``).
    exc_input, inh_input : {layer: xarray.DataArray or None}
        Excitatory (>= 0) and inhibitory (<= 0) synaptic drive of the first
        :data:`PROBE_TRACE_UNITS` units in mV, dims ``(trial, unit, time)``, averaged in
        :data:`EI_BIN` bins (coordinate ``time``: the bin's start, s; attrs ``bin``: the
        width, s); None where the model does not separate them (current-based synapses).
    """

    trains: dict[int, activity.SpikeTrains]
    exc_input: dict[int, xr.DataArray | None] = field(default_factory=dict)
    inh_input: dict[int, xr.DataArray | None] = field(default_factory=dict)


def _binned_input(record: result_schema.TraceRecord | None, duration: float) -> xr.DataArray | None:
    """A recorded synaptic input as (trial, unit, time), cut to the data stream's ``duration``
    (phase mode records the target phase after it) and averaged in :data:`EI_BIN` bins."""
    if record is None:
        return None
    width = max(1, round(EI_BIN / record.dt))
    n_bins = min(record.values.shape[-1], round(duration / record.dt)) // width
    values = np.asarray(record.values[..., : n_bins * width], dtype=float)
    binned = values.reshape(*values.shape[:-1], n_bins, width).mean(axis=-1)
    return xr.DataArray(
        binned,
        dims=("trial", "unit", "time"),
        coords={"time": ("time", np.arange(n_bins) * width * record.dt, {"units": "s"})},
        attrs={"units": record.units, "long_name": record.long_name, "bin": width * record.dt},
    )


def probe_trials(
    ds: xr.Dataset,
    *,
    n_stimuli: int = 10,
    n_repeats: int = 10,
    duration_ms: float = 1000.0,
    data=None,
    trained: bool = True,
) -> Probe | None:
    """Repeated presentations of a few test stimuli to a spiking model, run as configured.

    The network is rebuilt from the Result and each of the first ``n_stimuli`` test samples is
    shown ``n_repeats`` times for ``duration_ms``. Only the presentation length, the chunk
    (all trials in one run) and the number of traced units (:data:`PROBE_TRACE_UNITS`) change:
    the input encoding and background drive are the model's own, so trial-to-trial
    variability is the model's intrinsic noise (each trial is its own sample of the chunk,
    with its own Poisson input and background spikes). A noise-free model (constant-current
    input, no background) gives identical repeats, which the card flags. The 1 s default makes
    1 s counting windows and 1 s spike statistics possible. Trials are stimulus-major
    (stimulus 0's repeats first), the layout :func:`activity.repeat_counts` expects.

    Returns a :class:`Probe` (the spike trains of every hidden layer and, for models with
    conductance-based synapses, the E and I inputs of the traced units), or None for models
    without spikes. This runs the network (Brian2; a new program is compiled the first time a
    duration and trial count are used). ``trained=False`` probes the network before training
    (the untrained column of the card).

    Examples
    --------
    >>> probe = probe_trials(result, n_repeats=4)  # doctest: +SKIP
    >>> probe.trains[1].attrs["n_trials"]  # doctest: +SKIP
    40
    """
    if not result_schema.has_spikes(ds):
        return None
    n_trials = n_stimuli * n_repeats
    model, data = result_schema.restore_model(
        ds,
        trained=trained,
        data=data,
        model_presentation=duration_ms,
        model_chunk=n_trials,
        model_trace_units=PROBE_TRACE_UNITS,
    )
    x = np.repeat(data.x_test[:n_stimuli], n_repeats, axis=0)
    rec = model.recordings(x)
    trains, exc_input, inh_input = {}, {}, {}
    for layer in result_schema.layers(ds):
        if layer > len(rec.layers):
            continue
        recording = rec.layer(layer)
        spikes = recording.spikes
        trains[layer] = activity.spike_trains(
            spikes.sample,
            spikes.unit,
            spikes.time - spikes.t_start,
            n_trials=n_trials,
            n_units=spikes.n_units,
            duration=spikes.duration,
            n_repeats=n_repeats,
        )
        exc_input[layer] = _binned_input(recording.exc_input, spikes.duration)
        inh_input[layer] = _binned_input(recording.inh_input, spikes.duration)
    return Probe(trains, exc_input, inh_input)


# -- the card ---------------------------------------------------------------------------------


def _activity_rows(ds, references, probe, untrained_probe, seed) -> list[CardRow]:
    rows = []
    trains = probe.trains if probe is not None else {}
    before_trains = untrained_probe.trains if untrained_probe is not None else {}
    for layer in result_schema.layers(ds):
        stats = activity.summarise_layer(ds, layer, trials=trains.get(layer))
        before = activity.summarise_layer(ds, layer, trials=before_trains.get(layer), initial=True)
        for key, stat in stats.items():
            rows.append(_row_from_statistic(stat, key, layer, references, before.get(key)))
        rows.append(
            _fraction_active_row(ds, layer, references, trains.get(layer), before_trains.get(layer))
        )
        rows += _ei_rows(ds, layer, references, probe, untrained_probe, seed)
    return rows


# -- E/I balance --------------------------------------------------------------------------------

EI_KEYS = ("ei_balance_index", "ei_correlation")
EI_SHUFFLE_CONTROL = "E and I inputs shuffled in time (I's bins permuted per unit and trial)"
EI_CONTROLS = {
    "ei_balance_index": "none: a shuffle in time keeps the averages the index compares "
    "(see untrained)",
    "ei_correlation": EI_SHUFFLE_CONTROL,
}


def _ei_inputs(probe: Probe | None, layer: int) -> tuple[xr.DataArray, xr.DataArray] | None:
    if probe is None:
        return None
    exc, inh = probe.exc_input.get(layer), probe.inh_input.get(layer)
    return None if exc is None or inh is None else (exc, inh)


def _ei_unit_values(exc: xr.DataArray, inh: xr.DataArray) -> dict[str, np.ndarray]:
    """Balance index and E/I correlation of every traced unit: :func:`activity.ei_balance` over
    the time of each trial, then the mean over trials (NaN trials, e.g. constant input,
    skipped).

    A conductance synapse's drive reverses sign when the potential crosses its reversal
    potential (an inhibitory synapse depolarises below ``e_inh``, e.g. under a strongly
    negative bias): such trials have no excitatory/inhibitory split and count as NaN."""
    reversed_ = (exc.mean("time") < 0) | (inh.mean("time") > 0)
    exc, inh = exc.where(~reversed_, 0.0), inh.where(~reversed_, 0.0)
    b = activity.ei_balance(exc, inh, dim="time")
    b = b.where(~reversed_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN units stay NaN
        return {
            "ei_balance_index": np.nanmean(b.balance_index.transpose("unit", ...).values, axis=1),
            "ei_correlation": np.nanmean(b.ei_correlation.transpose("unit", ...).values, axis=1),
        }


def _shuffled_in_time(inh: xr.DataArray, seed: int) -> xr.DataArray:
    """The control of the E/I correlation: the inhibitory input's time bins permuted
    independently for every (trial, unit), so that it no longer tracks the excitatory one."""
    axis = inh.get_axis_num("time")
    order = np.argsort(np.random.default_rng(seed).uniform(size=inh.shape), axis=axis)
    return inh.copy(data=np.take_along_axis(inh.values, order, axis=axis))


def _ei_not_applicable(ds, layer: int, probe: Probe | None) -> list[CardRow]:
    if not result_schema.has_spikes(ds):
        note = "rate network: no separate E and I synaptic inputs"
    elif probe is None:
        note = "needs the trial probe (probe_trials), which records the E and I inputs"
    else:
        note = (
            "the probe has no separate E and I inputs (current-based synapses, or a model "
            "that does not record them)"
        )
    row = CardRow("", layer, math.nan, math.nan, math.nan, 0, "1", "not applicable", note)
    return [
        replace(row, key=key, control_kind=f"{EI_CONTROLS[key]} (not computed)") for key in EI_KEYS
    ]


def _ei_rows(ds, layer, references, probe, untrained_probe, seed) -> list[CardRow]:
    """E/I balance of the probe's traced units: the median over units of each unit's balance
    index and E/I correlation (:func:`_ei_unit_values`), CI over units. Untrained: the same on
    the untrained probe; control of the correlation: I shuffled in time against E."""
    inputs = _ei_inputs(probe, layer)
    if inputs is None:
        return _ei_not_applicable(ds, layer, probe)
    exc, inh = inputs
    values = _ei_unit_values(exc, inh)
    control = _ei_unit_values(exc, _shuffled_in_time(inh, seed))
    before = _ei_inputs(untrained_probe, layer)
    untrained = _ei_unit_values(*before) if before is not None else {}
    where = (
        f"per unit over each of {exc.sizes['trial']} trials of "
        f"{exc.sizes['time'] * exc.attrs['bin']:.1f} s ({exc.attrs['bin'] * 1e3:g} ms bins), "
        "mean over trials; median over units, CI over units"
    )
    rows = []
    for key in EI_KEYS:
        v = values[key]
        value = float(np.nanmedian(v)) if np.isfinite(v).any() else math.nan
        u = untrained.get(key, np.array([math.nan]))
        u = float(np.nanmedian(u)) if np.isfinite(u).any() else math.nan
        c = float(np.nanmedian(control[key])) if key == "ei_correlation" else math.nan
        row = CardRow(
            key, layer, value, *_bootstrap(v, statistic=np.nanmedian, seed=seed),
            int(np.isfinite(v).sum()), "1", _scored(key, value, references), note=where,
            untrained=u, control=c, control_kind=EI_CONTROLS[key],
        )  # fmt: skip
        rows.append(_controlled_row(row, _scored(key, u, references), _scored(key, c, references)))
    return rows


# -- energy budget --------------------------------------------------------------------------------


def _per_stimulus_active(rates: np.ndarray) -> np.ndarray:
    """Fraction of units at >= 20 Hz for each stimulus (rows of ``rates``: stimuli)."""
    return np.mean(np.asarray(rates, dtype=float) >= 20.0, axis=1)


def _active_in_trials(trials: activity.SpikeTrains) -> np.ndarray:
    """Fraction of units at >= 20 Hz per stimulus: per trial, averaged over a stimulus's
    repeats (attrs ``n_repeats``; stimulus-major trials)."""
    per_trial = _per_stimulus_active(activity.firing_rates(trials).transpose("trial", "unit"))
    return per_trial.reshape(-1, trials.attrs.get("n_repeats", 1)).mean(axis=1)


def _active_fractions(ds, layer, trials, initial: bool = False) -> np.ndarray:
    """Per-stimulus active fractions on the probe's ``trials`` when they are long
    (:func:`activity.long_trials`), else on the stored activity of the recorded samples
    (empty when there is none)."""
    if activity.long_trials(trials):
        return _active_in_trials(trials)
    if not result_schema.has_activity(ds, layer, initial=initial):
        return np.array([])
    return _per_stimulus_active(_activity(ds, layer, initial=initial))


def _fraction_active_row(ds, layer, references, trials=None, untrained_trials=None) -> CardRow:
    """Energy budget: the mean fraction of a layer's units firing >= 20 Hz on a stimulus.

    Measured on the probe's repeated ``trials`` when they last >= 1 s (averaged over each
    stimulus's repeats), else on the recorded samples, where at the default 50 ms
    presentation 20 Hz is one spike: a unit that fires at all on a stimulus counts as active.
    The untrained column reads ``untrained_trials`` the same way. Rate networks have no spikes
    and no comparable threshold: not applicable. Control: the same spikes spread evenly over
    units (:func:`activity.uniform_rate_trains`); a silent layer (0) is out of the band.
    """
    key = "fraction_active"
    kind = activity.UNIFORM_RATE_CONTROL
    if not result_schema.has_spikes(ds):
        return CardRow(
            key, layer, math.nan, math.nan, math.nan, 0, "fraction", "not applicable",
            note="rate network: no spikes; see summed activity", control_kind=kind,
        )  # fmt: skip
    per_stimulus = _active_fractions(ds, layer, trials)
    low, high = _bootstrap(per_stimulus)
    value = float(per_stimulus.mean())
    if activity.long_trials(trials):
        trains = trials
        where = activity.window_note(trials.attrs["n_trials"], trials.attrs["duration"])
    else:
        trains = activity.spike_trains_from_result(ds, layer)
        where = activity.window_note(
            per_stimulus.size, trains.attrs["duration"], "recorded samples"
        )
    control = float(_active_in_trials(activity.uniform_rate_trains(trains)).mean())
    before = _active_fractions(ds, layer, untrained_trials, initial=True)
    untrained = float(before.mean()) if before.size else math.nan
    row = CardRow(
        key, layer, value, low, high, per_stimulus.size, "fraction",
        _scored(key, value, references),
        note=f"{where}; units >= 20 Hz per stimulus; CI over stimuli",
        untrained=untrained, control=control, control_kind=kind,
    )  # fmt: skip
    return _controlled_row(
        row, _scored(key, untrained, references), _scored(key, control, references)
    )


def untrained_weights(ds: xr.Dataset) -> dict[str, np.ndarray]:
    """The weight blocks of :func:`weight_blocks` as they were before training.

    The untrained network is rebuilt from the Result's seed
    (:func:`neurosig.results.restore_model` with ``trained=False``).
    """
    trained = weight_blocks(ds)
    model, _ = result_schema.restore_model(ds, trained=False)
    state = model.state_dict()
    out = {}
    for key, var in result_schema.parameters(ds).items():
        block = key.split(".", 1)[0]
        if block in trained and key in state and var.shape == trained[block].shape:
            if var.name == result_schema.weights(ds)[block].name:
                out[block] = np.asarray(state[key], dtype=float)
    return out


def _weight_values(w: np.ndarray) -> dict[str, tuple[float, bool]]:
    """(value, supported) of each weight row's statistic for one block."""
    e = weights.weight_lognormal(w, sign=1)
    i = weights.weight_lognormal(w, sign=-1)
    return {
        "dale_fraction": (weights.dale_fraction(w), True),
        "excitatory_fraction": (weights.excitatory_fraction(w), True),
        "weight_lognormal_sigma": (e["sigma"], bool(e["z"] > weights.LOGNORMAL_Z)),
        "weight_lognormal_sigma_inhibitory": (i["sigma"], bool(i["z"] > weights.LOGNORMAL_Z)),
    }


BAND_ORDER = {"in": 0, "near": 1, "out": 2, "not applicable": 3, "flag": 3}


def _weight_controls(w: np.ndarray, references, seed) -> dict[str, tuple[float, str, str]]:
    """(value, kind, band) of the weight rows' controls: the Gaussian or uniform random weights
    of the same shape and scale, whichever scores closer to ``in``."""
    out: dict[str, tuple[float, str, str]] = {}
    for kind in weights.RANDOM_KINDS:
        values = _weight_values(weights.random_weights(w, kind, rng=seed))
        for key, (v, ok) in values.items():
            b = _scored(key, v, references, supported=ok) if np.isfinite(v) else "not applicable"
            label = f"{kind} random weights, same shape and scale"
            if key not in out or BAND_ORDER[b] < BAND_ORDER[out[key][2]]:
                out[key] = (v, label, b)
    return out


def _weight_rows(ds, references, seed) -> list[CardRow]:
    rows = []
    n_hidden = result_schema.n_layers(ds)
    before = untrained_weights(ds)
    for block, w in weight_blocks(ds).items():
        layer = _block_layer(block, n_hidden)
        signs = weights.outgoing_signs(w)
        consistent = (signs[np.isfinite(signs)] != 0).astype(float)
        values = _weight_values(w)
        untrained = _weight_values(before[block]) if block in before else {}
        controls = _weight_controls(w, references, seed)
        e, i = weights.weight_lognormal(w, sign=1), weights.weight_lognormal(w, sign=-1)
        details = {
            "dale_fraction": (
                *_bootstrap(consistent, seed=seed), consistent.size, "fraction",
                "presynaptic units with one outgoing sign; CI over units",
            ),
            "excitatory_fraction": (
                math.nan, math.nan, int(np.sum(np.isin(signs, (-1, 1)))), "fraction",
                "among sign-consistent units",
            ),
            "weight_lognormal_sigma": (
                math.nan, math.nan, e["n"], "1", _fit_note("positive", e),
            ),
            "weight_lognormal_sigma_inhibitory": (
                math.nan, math.nan, i["n"], "1",
                _fit_note("negative", i) + "; no literature sigma for inhibitory synapses",
            ),
        }  # fmt: skip
        for key, (value, ok) in values.items():
            low, high, n, units, note = details[key]
            u, u_ok = untrained.get(key, (math.nan, True))
            c, kind, c_band = controls[key]
            row = CardRow(
                key, layer, value, low, high, n, units,
                _scored(key, value, references, supported=ok), note=f"{block}: {note}",
                untrained=u, control=c, control_kind=kind,
            )  # fmt: skip
            u_band = _scored(key, u, references, supported=u_ok)
            rows.append(_controlled_row(row, u_band, c_band))
    return rows


def _fit_note(which: str, fit: dict) -> str:
    if not np.isfinite(fit["z"]):
        return f"sigma of ln|w| of the {fit['n']} {which} weights: too few to fit"
    verdict = "supported" if fit["z"] > weights.LOGNORMAL_Z else "NOT supported (scored out)"
    return (
        f"sigma of ln|w| of the {fit['n']} {which} weights; log-normal {verdict}: "
        f"vs {fit['alternative']} {fit['llr_min']:+.3f} per weight, Vuong z = {fit['z']:.1f}"
    )


def _rule_facts(ds) -> list[tuple[str, float, str, str]]:
    from neurosig.analyses.audit import audit_model

    # the rule's structure does not depend on what was learned: audit the untrained network
    report = audit_model(result_schema.experiment(ds))
    return [
        ("spatial_locality", float(report.local), "1", "every update reads only local terms"),
        (
            "weight_transport_free",
            float(report.weight_transport_free),
            "1",
            "no update reads another layer's weights",
        ),
        ("feedback_free", float(report.forward_only), "1", "no later-to-earlier pathway"),
        ("phases_per_update", float(report.phases), "phases", "phases an update needs"),
        (
            "eligibility_interval",
            float(report.longest_interval),
            "s",
            "longest interval between the factors an update combines",
        ),
    ]


def _rule_rows(ds, references, bp) -> list[CardRow]:
    """The rule's audit. Untrained: not applicable (a rule is not learned); control: the same
    audit of backprop (the baseline ``bp``), the rule the criteria were written against."""
    control = {}
    if bp is not None:
        control = {key: value for key, value, _, _ in _rule_facts(bp)}
    rows = []
    for key, value, units, note in _rule_facts(ds):
        c = control.get(key, math.nan)
        kind = "the audit of backprop" if bp is not None else "backprop's audit (needs bp)"
        row = CardRow(
            key, 0, value, value, value, 1, units, _scored(key, value, references), note=note,
            control=c, control_kind=kind,
        )  # fmt: skip
        rows.append(_controlled_row(row, "not applicable", _scored(key, c, references)))
    return rows


def _geometry_values(
    act, act_rdm, labels, bp, seed, with_ci: bool = True
) -> dict[str, tuple[float, float, float, int]]:
    """value, CI low, CI high, n of each geometry criterion for one representation.

    ``act_rdm`` is the RDM of ``act``, ``bp`` BP's (activity, RDM) or None. ``with_ci=False``
    (the untrained and BP ends of the scale) skips bootstraps and the permutation test.
    """
    rng = np.random.default_rng(seed)
    n_boot = N_BOOT if with_ci else 0
    out = {}
    dec = representation.decodability(act, labels, rng=np.random.default_rng(seed))
    ci = _wilson(dec.accuracy, dec.n_test) if with_ci else (math.nan, math.nan)
    out["decodability"] = (dec.accuracy, *ci, dec.n_test)
    pr = float(representation.participation_ratio(act, corrected=True))
    out["participation_ratio"] = (pr, math.nan, math.nan, len(labels))
    if np.min(act) >= 0:  # the index compares mean rates: undefined for signed activity
        csi = np.asarray(representation.class_selectivity(act, labels), dtype=float)
        lo, hi = _bootstrap(csi, statistic=np.nanmedian, seed=seed) if with_ci else (math.nan,) * 2
        out["class_selectivity"] = (float(np.nanmedian(csi)), lo, hi, int(np.isfinite(csi).sum()))
    if bp is not None:
        bp_act, bp_rdm = bp
        cmp = representation.compare_rdms(act_rdm, bp_rdm, n_boot=n_boot, n_perm=n_boot, rng=rng)
        out["rdm_correlation"] = (cmp.value, cmp.low, cmp.high, cmp.n_stimuli)
        out["rdm_p_value"] = (cmp.p_value, math.nan, math.nan, cmp.n_stimuli)
        out["cka"] = (
            float(representation.linear_cka(act, bp_act, debiased=True)),
            math.nan,
            math.nan,
            len(labels),
        )
        out["procrustes_distance"] = (
            float(representation.procrustes_cv(act, bp_act, rng=np.random.default_rng(seed))),
            math.nan,
            math.nan,
            len(labels),
        )
    return out


def _wilson(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion (held-out accuracy over ``n`` test stimuli)."""
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return centre - half, centre + half


def untrained_activity(ds: xr.Dataset) -> dict[int, np.ndarray]:
    """Hidden activity of the same network before training, on the recorded test samples.

    Results store it (:func:`neurosig.results.activity` with ``initial=True``); for older ones
    the untrained network is rebuilt from the Result's seed and run on the samples.

    Examples
    --------
    >>> untrained_activity(result)[1].shape  # doctest: +SKIP
    (100, 64)
    """
    layers = result_schema.layers(ds)
    if layers and all(result_schema.has_activity(ds, layer, initial=True) for layer in layers):
        return {layer: _activity(ds, layer, initial=True) for layer in layers}
    model, data = result_schema.restore_model(ds, trained=False)
    acts = model.hidden_activity(data.x_test[: len(result_schema.labels(ds))])
    return {layer: np.asarray(a, float) for layer, a in zip(layers, acts, strict=False)}


def _geometry_rows(ds, references, bp, seed, extras) -> list[CardRow]:
    layers = result_schema.layers(ds)
    if not layers:
        return []
    layer = layers[-1]
    labels = result_schema.labels(ds)
    act = _activity(ds, layer)
    untrained = untrained_activity(ds)
    bp_act = bp_pair = None
    if bp is not None:
        bp_layers = result_schema.layers(bp)
        if np.array_equal(result_schema.labels(bp), labels) and bp_layers:
            bp_act = _activity(bp, bp_layers[-1])
            extras["cka_matrix"] = representation.cka_matrix(
                [_activity(ds, lay) for lay in layers],
                [_activity(bp, lay) for lay in bp_layers],
                debiased=True,
            )
            extras["rdm_bp"] = np.asarray(representation.rdm(bp_act))
            bp_pair = (bp_act, extras["rdm_bp"])
    # a sparse spiking layer can be silent on a stimulus: a constant pattern has no correlation
    # distance, so such stimuli leave every representation compared (noted on the rows)
    patterns = [act] + ([bp_act] if bp_act is not None else [])
    keep = np.logical_and.reduce([np.ptp(a, axis=1) > 0 for a in patterns])
    dropped = int((~keep).sum())
    if dropped:
        act, labels = act[keep], labels[keep]
        untrained = {**untrained, layer: untrained[layer][keep]}
        if bp_act is not None:
            bp_act = bp_act[keep]
            extras["rdm_bp"] = np.asarray(representation.rdm(bp_act))
            bp_pair = (bp_act, extras["rdm_bp"])
    extras["rdm"] = np.asarray(representation.rdm(act))
    control_v = _geometry_controls(act, labels, bp_pair, seed)
    # the untrained end of the scale: undefined where the untrained layer is silent (or
    # constant) on a compared stimulus
    untrained_ok = bool(np.all(np.ptp(untrained[layer], axis=1) > 0))
    n = len(labels)
    extras["rdm_untrained"] = (
        np.asarray(representation.rdm(untrained[layer]))
        if untrained_ok
        else np.full((n, n), np.nan)
    )
    extras["labels"] = labels
    model_v = _geometry_values(act, extras["rdm"], labels, bp_pair, seed)
    untrained_v = (
        _geometry_values(
            untrained[layer], extras["rdm_untrained"], labels, bp_pair, seed, with_ci=False
        )
        if untrained_ok
        else {}
    )
    bp_v = {}
    if bp_pair is not None:
        bp_v = _geometry_values(bp_act, bp_pair[1], labels, bp_pair, seed, with_ci=False)
    rows = []
    for key in (
        "rdm_correlation",
        "cka",
        "procrustes_distance",
        "decodability",
        "participation_ratio",
        "class_selectivity",
    ):
        if key not in model_v:
            note = (
                "activity has negative values: not a rate"
                if key == "class_selectivity"
                else "needs a BP baseline on the same stimuli (--baselines bp.nc)"
            )
            rows.append(
                CardRow(
                    key, layer, math.nan, math.nan, math.nan, 0, "1", "not applicable", note=note
                )
            )
            continue
        value, low, high, n = model_v[key]
        u = untrained_v.get(key, (math.nan,))[0]  # missing: an end is undefined (signed activity)
        b = bp_v.get(key, (math.nan,))[0]
        score = (value - u) / (b - u) if np.isfinite(b) and b != u else math.nan
        if np.isfinite(b):
            note = f"untrained {u:.3g}, BP {b:.3g}"
        elif bp_act is None:
            note = f"untrained {u:.3g}; no BP baseline"
        else:
            note = f"untrained {u:.3g}; BP's activity is signed: no reference end"
        if key == "rdm_correlation":
            note += f"; permutation p = {model_v['rdm_p_value'][0]:.3g}"
        if dropped:
            note += f"; {dropped} stimuli with a constant (e.g. silent) pattern left out"
        if not untrained_ok:
            note += "; the untrained layer is silent (constant) on some stimuli: no untrained end"
        c, kind = control_v.get(key, (math.nan, ""))
        c_score = (c - u) / (b - u) if np.isfinite(b) and b != u else math.nan
        u_score = 0.0 if np.isfinite(b) and b != u else math.nan
        row = CardRow(
            key, layer, value, low, high, n, "1", relative_band(score), note=note,
            score=score, untrained=u, bp=b, control=c, control_kind=kind,
        )  # fmt: skip
        rows.append(_controlled_row(row, relative_band(u_score), relative_band(c_score)))
    return rows


def _geometry_controls(act, labels, bp_pair, seed) -> dict[str, tuple[float, str]]:
    """(value, kind) of each geometry row's control.

    Stimulus-shuffled activity (rows permuted against the labels and BP's stimuli) for the
    comparisons with BP, decodability and selectivity (it is label shuffling for the last two);
    independently column-shuffled units (no correlations, same variances) for the
    participation ratio.
    """
    rng = np.random.default_rng(seed + 1)
    shuffled = act[rng.permutation(len(act))]
    values = _geometry_values(
        shuffled, np.asarray(representation.rdm(shuffled)), labels, bp_pair, seed, with_ci=False
    )
    out = {key: (v[0], "stimulus-shuffled activity (labels permuted)") for key, v in values.items()}
    independent = np.take_along_axis(act, np.argsort(rng.uniform(size=act.shape), axis=0), axis=0)
    pr = float(representation.participation_ratio(independent, corrected=True))
    out["participation_ratio"] = (pr, "units shuffled independently across stimuli")
    return out


def _card_one(ds, references, bp, probe, untrained_probe, seed) -> Card:
    extras: dict = {}
    rows = _activity_rows(ds, references, probe, untrained_probe, seed)
    rows += _weight_rows(ds, references, seed)
    rows += _rule_rows(ds, references, bp)
    rows += _geometry_rows(ds, references, bp, seed, extras)
    name = str(ds.attrs.get("name", ds.attrs.get("model", "model")))
    return Card(
        name, str(ds.attrs.get("model", "")), rows, references, test_accuracy(ds), 1, extras
    )


def _nanmean(values) -> float:
    values = np.asarray(values, dtype=float)
    return float(np.nanmean(values)) if np.isfinite(values).any() else math.nan


def _closest_to_in(bands: Sequence[str]) -> str:
    """Of several seeds' bands of a control, the one closest to ``in`` (in, near, out, ...)."""
    bands = [b for b in bands if b]
    return min(bands, key=lambda b: BAND_ORDER.get(b, 3)) if bands else ""


def _combined_value_band(rows: Sequence[CardRow], value: float, ref: Reference | None) -> str:
    first = rows[0]
    if first.value_band in ("flag", "not applicable") or ref is None:
        return first.value_band
    if ref.relative:
        return relative_band(_nanmean([r.score for r in rows]))
    if all(r.value_band == band(r.value, ref) for r in rows):  # no seed failed a null or fit
        return band(value, ref)
    bands = [r.value_band for r in rows]
    return max(set(bands), key=bands.count)


def _combine_seeds(cards: list[Card]) -> Card:
    """One card from one card per seed: the mean over seeds, CI by bootstrap over seeds.

    A control or untrained network that lands in for any seed makes the row uninformative.
    """
    first = cards[0]
    rows = []
    for i, row in enumerate(first.rows):
        seeds = [c.rows[i] for c in cards]
        values = np.array([r.value for r in seeds], float)
        value = _nanmean(values)
        low, high = _bootstrap(values, seed=i)
        combined = CardRow(
            row.key, row.layer, value, low, high, len(cards), row.units,
            _combined_value_band(seeds, value, first.references.get(row.key)),
            note=f"mean of {len(cards)} seeds, CI over seeds; " + row.note,
            score=_nanmean([r.score for r in seeds]),
            untrained=_nanmean([r.untrained for r in seeds]), bp=row.bp,
            control=_nanmean([r.control for r in seeds]), control_kind=row.control_kind,
        )  # fmt: skip
        rows.append(
            _controlled_row(
                combined,
                _closest_to_in([r.untrained_band for r in seeds]),
                _closest_to_in([r.control_band for r in seeds]),
            )
        )
    accuracy = float(np.mean([c.accuracy for c in cards]))
    return Card(first.name, first.model, rows, first.references, accuracy, len(cards), first.extras)


def report_card(
    results: xr.Dataset | Sequence[xr.Dataset],
    *,
    bp: xr.Dataset | None = None,
    probe: Probe | None = None,
    untrained_probe: Probe | None = None,
    references: dict[str, Reference] | None = None,
    seed: int = 0,
) -> Card:
    """The report card of one rule.

    Parameters
    ----------
    results : Result, or several Results of the same model (one per seed)
        Several seeds give the mean over seeds with a CI by bootstrap over seeds.
    bp : Result of backprop on the same architecture and data, optional
        The reference end of the geometry rows; without it those rows are not applicable.
    probe : Probe, optional
        Repeated trials of the model run as configured (:func:`probe_trials`; first Result
        only): the Fano factor and noise correlation rows, the E/I balance rows (models with
        conductance-based synapses) and, when the trials last >= 1 s, the rate, irregularity
        and fraction-active rows, which otherwise read the Result's recorded samples. Without
        it the variability and E/I rows are not applicable.
    untrained_probe : Probe, optional
        The same probe of the network before training (:func:`probe_trials` with
        ``trained=False``): the untrained column of those rows (first Result only). Give it
        with ``probe`` so that both columns are measured on trials of the same length.
    references : literature ranges (default: :func:`load_references`)
    seed : seed of the bootstraps and the decoders' splits

    Returns
    -------
    Card
        With :attr:`Card.warnings` (:func:`neurosig.analyses.caveats.card_warnings`): an
        unfinished Result, seeds that differ in more than the seed, a BP reference that is
        unfinished or of another architecture or data.

    Raises
    ------
    DataError
        Results of several models, or a Result without a finished epoch (nothing trained).
    """
    if isinstance(results, xr.Dataset):
        results = [results]
    models = {str(r.attrs.get("model", "")) for r in results}
    if len(models) > 1:
        raise DataError(f"a card is of one model; got Results of {sorted(models)}")
    caveats.require_trained(results)
    references = references if references is not None else load_references()
    cards = [
        _card_one(
            r,
            references,
            bp,
            probe if i == 0 else None,
            untrained_probe if i == 0 else None,
            seed,
        )  # fmt: skip
        for i, r in enumerate(results)
    ]
    card = cards[0] if len(cards) == 1 else _combine_seeds(cards)
    card.warnings = caveats.card_warnings(results, bp)
    return card
