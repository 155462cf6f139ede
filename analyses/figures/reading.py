"""What the catalogue's figures read from a Result, with the error that says what is missing.

Figures never simulate: what a Result does not store cannot be drawn. :func:`read` calls a
reader of :mod:`neurosig.results` and turns its complaint into a :class:`DataError` that names
the figure, the missing Result variable (the reader's own message) and how to record it.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import TypeVar

import xarray as xr

from neurosig import results as result_schema
from neurosig.errors import DataError

__all__ = [
    "RECORD_ACTIVITY",
    "RECORD_INITIAL",
    "RECORD_SPIKES",
    "RECORD_TRACES",
    "feature_shape",
    "read",
    "result_label",
    "spiking_layers",
]

T = TypeVar("T")

RECORD_ACTIVITY = "train with train.record_samples > 0 (the default records 200 test samples)"
RECORD_SPIKES = "spike trains are recorded by spiking models (lif) with train.record_samples > 0"
RECORD_INITIAL = "the recording before training is made with train.record_every_epoch = true"
RECORD_TRACES = (
    "membrane traces are recorded by spiking models (lif) with model.trace_units > 0 and "
    "train.record_samples > 0"
)


def read(figure: str, reader: Callable[..., T], *args, hint: str = "", **kwargs) -> T:
    """``reader(*args, **kwargs)``; a missing variable raises :class:`DataError` for ``figure``.

    Examples
    --------
    >>> read("rasters", result_schema.spikes, xr.Dataset(), 1, hint=RECORD_SPIKES)
    Traceback (most recent call last):
    ...
    neurosig.errors.DataError: figure 'rasters': the Result (model 'unknown') has no spike ...
    """
    try:
        return reader(*args, **kwargs)
    except (ValueError, KeyError) as err:
        message = str(err).strip("'\"")
        raise DataError(f"figure {figure!r}: {message}" + (f"; {hint}" if hint else "")) from None


def result_label(ds: xr.Dataset) -> str:
    """A short name of a Result for titles and legends: its experiment and seed.

    Examples
    --------
    >>> result_label(xr.Dataset(attrs={"name": "bp-digits", "seed": 3}))
    'bp-digits (seed 3)'
    """
    name = ds.attrs.get("name", "result")
    return f"{name} (seed {ds.attrs['seed']})" if "seed" in ds.attrs else str(name)


def spiking_layers(ds: xr.Dataset, figure: str, *, initial: bool = False) -> list[int]:
    """The hidden layers whose spike trains the Result holds; DataError when there are none."""
    found = [layer for layer in result_schema.layers(ds) if result_schema.has_spikes(ds, layer)]
    if initial:
        found = [layer for layer in found if result_schema.has_spikes(ds, layer, initial=True)]
    if not found:
        what = "spike trains before training" if initial else "spike trains"
        hint = RECORD_INITIAL if initial and result_schema.has_spikes(ds) else RECORD_SPIKES
        raise DataError(
            f"figure {figure!r}: {result_label(ds)} (model {ds.attrs.get('model', '?')!r}) has "
            f"no {what}; {hint}"
        )
    return found


def feature_shape(ds: xr.Dataset) -> tuple[int, ...]:
    """The shape of one input sample of the Result's data (``(8, 8)`` for digits).

    Examples
    --------
    >>> feature_shape(xr.Dataset(attrs={"feature_shape": "(8, 8)"}))
    (8, 8)
    """
    if "feature_shape" not in ds.attrs:
        raise DataError(
            "the Result does not store its input's shape (an older Result): no image shape is known"
        )
    return tuple(int(n) for n in ast.literal_eval(str(ds.attrs["feature_shape"])))
