"""What a reader of a report card must know before its rows: caveats and warnings.

A card is only as good as the Results it was scored on. Four things make its rows mean less
than they seem, and each is said at the top of the card (:attr:`Card.warnings
<neurosig.analyses.plausibility.Card>`), in the report and on the command line:

* a Result that did not finish its training (:func:`neurosig.results.completeness`: a killed,
  interrupted or diverged run);
* "seeds" of one rule that differ in more than the seed (:data:`SEED_FREE`): the mean over
  seeds would mix different experiments;
* a baseline, or the BP reference of the geometry rows, of another architecture or on other
  data (:data:`LIKE_FOR_LIKE`): the comparison is not like for like;
* the same seed given twice: the interval over seeds counts one run twice.

A Result with no finished epoch has no trained network: :func:`require_trained` refuses it
rather than report the untrained network under the rule's name.

Examples
--------
>>> from neurosig.config import command_experiment
>>> def result(exp, status="complete"):
...     config = exp.to_toml()
...     epochs = exp.train.epochs
...     return xr.Dataset(coords={"epoch": range(1, epochs + 1)},
...                       attrs={"name": exp.name, "status": status, "config": config})
>>> rule = result(command_experiment("sp-core", epochs=2).replace(model_hidden=(16,)))
>>> bp = result(command_experiment("bp", epochs=2))
>>> print(*baseline_warnings(bp, rule))
baseline bp differs from sp-core in model.hidden ([256, 256] vs [16]): the comparison is
across different architectures
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import xarray as xr

from neurosig import results as result_schema
from neurosig.errors import DataError

__all__ = [
    "LIKE_FOR_LIKE",
    "SEED_FREE",
    "baseline_warnings",
    "card_warnings",
    "require_trained",
]

LIKE_FOR_LIKE = ("model.hidden", "data", "train.record_samples")
"""Config fields a baseline shares with the rule it is compared with: the architecture (the
hidden-layer sizes; the model, its rule and its learning parameters may differ), the data
(every ``data.*`` field), and the recorded test samples that the geometry rows compare."""

SEED_FREE = ("name", "description", "train.seed")
"""The config fields in which the Results of one card (its seeds) may differ."""

# what a difference in each table of the config makes of a comparison
_KINDS = {"model": "architectures", "data": "data", "train": "recorded test samples"}


def _name(ds: xr.Dataset) -> str:
    return str(ds.attrs.get("name", ds.attrs.get("model", "the Result")))


def _seed(ds: xr.Dataset) -> str:
    return f"seed {ds.attrs.get('seed', '?')}"


def _value(value: Any) -> str:
    return "unset" if value is None else str(value)


def _differences(diffs: list[tuple[str, Any, Any]]) -> str:
    """``model.hidden ([16] vs [256])`` for each difference, comma-separated."""
    return ", ".join(f"{key} ({_value(a)} vs {_value(b)})" for key, a, b in diffs)


def require_trained(results: Sequence[xr.Dataset]) -> None:
    """Refuse Results without a finished epoch: there is no trained network to report on.

    Raises
    ------
    DataError
        Naming the first such Result and its caveat ("0 epochs: nothing trained (diverged in
        epoch 1)").

    Examples
    --------
    >>> require_trained([xr.Dataset(attrs={"name": "x", "status": "diverged"})])
    Traceback (most recent call last):
    ...
    neurosig.errors.DataError: x: 0 epochs: nothing trained (diverged in epoch 1); there is
    no trained network to report on: leave this Result out, or train it again
    """
    for ds in results:
        state = result_schema.completeness(ds)
        if not state.trained:
            raise DataError(
                f"{_name(ds)}: {state.caveat}; there is no trained network to report on: leave "
                "this Result out, or train it again"
            )


def card_warnings(results: Sequence[xr.Dataset], bp: xr.Dataset | None = None) -> list[str]:
    """The warnings of the card of ``results`` (seeds of one rule) scored against ``bp``.

    Each unfinished Result's caveat (prefixed by its seed when the card has several), seeds
    that differ in more than :data:`SEED_FREE` or repeat, and a BP reference that is
    unfinished or differs in :data:`LIKE_FOR_LIKE`. Empty when there is nothing to say.

    Examples
    --------
    >>> card_warnings([xr.Dataset(coords={"epoch": [1]}, attrs={"status": "interrupted"})])
    ['interrupted after 1 epoch']
    """
    several = len(results) > 1
    out = []
    for ds in results:
        caveat = result_schema.completeness(ds).caveat
        if caveat:
            out.append(f"{_seed(ds)}: {caveat}" if several else caveat)
    first = results[0]
    for ds in results[1:]:
        diffs = result_schema.config_differences(first, ds, ignore=SEED_FREE)
        if diffs:
            out.append(
                f"{_seed(ds)} differs from {_seed(first)} in more than the seed: "
                f"{_differences(diffs)}; the mean over seeds mixes different experiments"
            )
    repeated = [s for s, n in Counter(_seed(ds) for ds in results).items() if n > 1]
    if several and repeated:
        out.append(
            f"{', '.join(repeated)} given more than once: the interval over seeds counts one "
            "run twice"
        )
    if bp is not None and not any(bp is ds for ds in results):
        caveat = result_schema.completeness(bp).caveat
        if caveat:
            out.append(f"the BP reference {_name(bp)} (geometry rows): {caveat}")
        out += _unlike(bp, first, f"the BP reference {_name(bp)} of the geometry rows")
    return out


def baseline_warnings(baseline: xr.Dataset, result: xr.Dataset) -> list[str]:
    """A warning when ``baseline`` differs from the reported ``result`` in :data:`LIKE_FOR_LIKE`
    (its own caveats are in its card: :func:`card_warnings`); empty when they match."""
    return _unlike(baseline, result, f"baseline {_name(baseline)}")


def _unlike(other: xr.Dataset, result: xr.Dataset, who: str) -> list[str]:
    diffs = result_schema.config_differences(other, result, fields=LIKE_FOR_LIKE)
    if not diffs:
        return []
    kinds = dict.fromkeys(_KINDS[key.split(".")[0]] for key, _, _ in diffs)
    return [
        f"{who} differs from {_name(result)} in {_differences(diffs)}: the comparison is "
        f"across different {' and '.join(kinds)}"
    ]
