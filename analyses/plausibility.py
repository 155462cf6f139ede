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
  the rate distribution, independent responses for sparseness, Gaussian and uniform weights
  for weight statistics, stimulus-shuffled activity for geometry and decoding, BP's audit for
  the rule rows), each with its own band.

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
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

import numpy as np
import xarray as xr

from neurosig import results as result_schema
from neurosig.analyses import activity, representation, weights
from neurosig.errors import DataError

__all__ = [
    "BANDS",
    "Card",
    "CardRow",
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
    """The report card of one rule (one or more Results of the same model, one per seed)."""

    name: str
    model: str
    rows: list[CardRow]
    references: dict[str, Reference]
    accuracy: float
    seeds: int = 1
    extras: dict = field(default_factory=dict)  # arrays for the figure (RDMs, CKA matrix, ...)

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
        ds.attrs.update(name=self.name, model=self.model, seeds=self.seeds, accuracy=self.accuracy)
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
        return float(result_schema.primary_accuracy(ds, "test").values[-1])
    except KeyError:
        return math.nan


# -- repeated trials (Fano factor, noise correlations) ----------------------------------------


def probe_trials(
    ds: xr.Dataset,
    *,
    n_stimuli: int = 10,
    n_repeats: int = 10,
    duration_ms: float = 1000.0,
    data=None,
    trained: bool = True,
) -> dict[int, activity.SpikeTrains] | None:
    """Spike trains of repeated noisy presentations of a few test stimuli (spiking models).

    The trained network is rebuilt from the Result and each of the first ``n_stimuli`` test
    samples is shown ``n_repeats`` times for ``duration_ms`` as Poisson spike trains
    (``encoding = "poisson"``: the spike-train version of the mean drive the default
    current input delivers), so trial-to-trial variability comes from the input spikes only.
    The longer presentation makes 1 s counting windows possible; the weights are the trained
    ones. Returns the trains of every hidden layer (by layer index), or None for models
    without spikes. Trials are stimulus-major (stimulus 0's repeats first), the layout
    :func:`activity.repeat_counts` expects.

    This runs the network (Brian2; a new program is compiled the first time a duration and
    trial count are used). ``trained=False`` probes the network before training (the
    untrained column of the card).
    """
    if not result_schema.has_spikes(ds):
        return None
    n_trials = n_stimuli * n_repeats
    model, data = result_schema.restore_model(
        ds,
        trained=trained,
        data=data,
        model_encoding="poisson",
        model_presentation=duration_ms,
        model_chunk=n_trials,
        model_trace_units=0,
    )
    x = np.repeat(data.x_test[:n_stimuli], n_repeats, axis=0)
    rec = model.recordings(x)
    trains = {}
    for layer in result_schema.layers(ds):
        if layer > len(rec.layers):
            continue
        spikes = rec.layer(layer).spikes
        tr = activity.spike_trains(
            spikes.sample,
            spikes.unit,
            spikes.time - spikes.t_start,
            n_trials=n_trials,
            n_units=spikes.n_units,
            duration=spikes.duration,
        )
        tr.attrs["n_repeats"] = n_repeats
        trains[layer] = tr
    return trains


# -- the card ---------------------------------------------------------------------------------


def _activity_rows(ds, references, trials, untrained_trials) -> list[CardRow]:
    rows = []
    for layer in result_schema.layers(ds):
        stats = activity.summarise_layer(ds, layer, trials=(trials or {}).get(layer))
        before = activity.summarise_layer(
            ds, layer, trials=(untrained_trials or {}).get(layer), initial=True
        )
        for key, stat in stats.items():
            rows.append(_row_from_statistic(stat, key, layer, references, before.get(key)))
        rows.append(_fraction_active_row(ds, layer, references))
        for key in ("ei_balance_index", "ei_correlation"):
            # activity.ei_balance needs each unit's excitatory and inhibitory input over time,
            # which no model family records yet
            rows.append(
                CardRow(
                    key, layer, math.nan, math.nan, math.nan, 0, "1", "not applicable",
                    note="separate E and I input currents are not recorded",
                    control_kind="E and I inputs shuffled in time (not computed)",
                )
            )  # fmt: skip
    return rows


def _per_stimulus_active(rates: np.ndarray) -> np.ndarray:
    """Fraction of units at >= 20 Hz for each stimulus (rows of ``rates``: stimuli)."""
    return np.mean(np.asarray(rates, dtype=float) >= 20.0, axis=1)


def _fraction_active_row(ds, layer, references) -> CardRow:
    """Energy budget: the mean fraction of a layer's units firing >= 20 Hz on a stimulus.

    At the default 50 ms presentation 20 Hz is one spike: a unit that fires at all on a stimulus
    counts as active. Rate networks have no spikes and no comparable threshold: not applicable.
    Control: the same spikes spread evenly over units (:func:`activity.uniform_rate_trains`);
    a silent layer (0) is out of the band.
    """
    key = "fraction_active"
    kind = activity.UNIFORM_RATE_CONTROL
    if not result_schema.has_spikes(ds):
        return CardRow(
            key, layer, math.nan, math.nan, math.nan, 0, "fraction", "not applicable",
            note="rate network: no spikes; see summed activity", control_kind=kind,
        )  # fmt: skip
    per_stimulus = _per_stimulus_active(_activity(ds, layer))
    low, high = _bootstrap(per_stimulus)
    value = float(per_stimulus.mean())
    trains = activity.spike_trains_from_result(ds, layer)
    uniform = activity.firing_rates(activity.uniform_rate_trains(trains)).values
    control = float(_per_stimulus_active(uniform).mean())
    untrained = math.nan
    if result_schema.has_activity(ds, layer, initial=True):
        untrained = float(_per_stimulus_active(_activity(ds, layer, initial=True)).mean())
    row = CardRow(
        key, layer, value, low, high, per_stimulus.size, "fraction",
        _scored(key, value, references), note="units >= 20 Hz per stimulus; CI over stimuli",
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
    extras["rdm"] = np.asarray(representation.rdm(act))
    control_v = _geometry_controls(act, labels, bp_pair, seed)
    extras["rdm_untrained"] = np.asarray(representation.rdm(untrained[layer]))
    extras["labels"] = labels
    model_v = _geometry_values(act, extras["rdm"], labels, bp_pair, seed)
    untrained_v = _geometry_values(
        untrained[layer], extras["rdm_untrained"], labels, bp_pair, seed, with_ci=False
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


def _card_one(ds, references, bp, trials, untrained_trials, seed) -> Card:
    extras: dict = {}
    rows = _activity_rows(ds, references, trials, untrained_trials)
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
    trials: dict | None = None,
    untrained_trials: dict | None = None,
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
    trials : {layer: SpikeTrains}, optional
        Repeated noisy trials (:func:`probe_trials`) for the Fano factor and noise correlation
        rows (first Result only); without them those rows are not applicable.
    untrained_trials : {layer: SpikeTrains}, optional
        The same probe of the network before training (:func:`probe_trials` with
        ``trained=False``): the untrained column of those rows (first Result only).
    references : literature ranges (default: :func:`load_references`)
    seed : seed of the bootstraps and the decoders' splits
    """
    if isinstance(results, xr.Dataset):
        results = [results]
    models = {str(r.attrs.get("model", "")) for r in results}
    if len(models) > 1:
        raise DataError(f"a card is of one model; got Results of {sorted(models)}")
    references = references if references is not None else load_references()
    cards = [
        _card_one(
            r,
            references,
            bp,
            trials if i == 0 else None,
            untrained_trials if i == 0 else None,
            seed,
        )  # fmt: skip
        for i, r in enumerate(results)
    ]
    return cards[0] if len(cards) == 1 else _combine_seeds(cards)
