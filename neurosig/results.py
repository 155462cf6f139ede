"""The Result of a training run: its schema, the one writer, atomic netCDF files, the readers.

A *Result* is the labelled ``xarray.Dataset`` that :func:`neurosig.train.train` returns and
saves as netCDF. This module is the only code that spells the Result's variable names: training
assembles a Result with :func:`training_result`, and analyses, notebooks, sweeps and the command
line read it back with the readers below (:func:`activity`, :func:`spikes`, :func:`traces`,
:func:`parameters`, :func:`experiment`, :func:`restore_model` ...), never by name.

Schema (version 2; the attribute ``neurosig_result_schema`` holds the version)
-----------------------------------------------------------------------------
================================== =========================================================
variable                           content
================================== =========================================================
``accuracy``                       (epoch, split, readout) fraction correct
``{split}_accuracy``               (epoch) accuracy of the primary readout
``loss``                           (epoch, layer) mean training loss of each part
``lr_factor``                      (epoch) learning-rate schedule factor (1 = configured rates)
``epoch_time``                     (epoch) training seconds of the epoch
``samples_per_second``             (epoch) training throughput
``param_{block}_{name}``           the model's ``state_dict()`` entry ``block.name``
``activity_layer{l}``              (sample, layer{l}_unit) activity after training
``initial_activity_layer{l}``      (sample, layer{l}_unit) activity before training
``activity_history_layer{l}``      (record_epoch, sample, layer{l}_unit); 0 = before training
``spike_layer{l}_{sample,unit,time}`` one entry per spike along ``spike_layer{l}``; ``time``
                                   in s from the sample's onset, attrs ``t_start``, ``t_stop``
                                   (the recorded window, s), ``n_samples``, ``n_units``
``trace_layer{l}``                 (trace_sample, trace_layer{l}_unit, trace_step) membrane
                                   potential, attr ``dt`` (s)
``initial_spike_...``, ``initial_trace_...``  the same before training
================================== =========================================================

Attributes: the provenance (:func:`provenance`), ``name``, ``model``, ``dataset``,
``data_source``, ``seed``, ``config`` (the resolved experiment as TOML), ``status``,
``target``, ``primary_readout``, ``feature_shape`` and the schema version. A file without
the attributes of :data:`REQUIRED_ATTRS` or the variables of :data:`REQUIRED_VARIABLES` is
not a Result (:func:`load_result` refuses it).

``status`` is one of :data:`STATUSES`:

=============== ==============================================================================
``running``     written after every epoch; a run killed mid-way (or still going) stays so
``complete``    every configured epoch finished
``interrupted`` stopped by Ctrl-C or SIGTERM; the finished epochs are kept
``diverged``    a loss became NaN or inf in the epoch after the last stored one; the
                parameters are those of the last stored epoch (the initial ones if none)
=============== ==============================================================================

The configured number of epochs is ``train.epochs`` of ``config``, the finished ones the size
of the ``epoch`` dimension; :func:`completeness` compares the two and says what a reader of an
unfinished Result should know.

Version 1 is what neurosig 0.1.0 wrote: the same names but no schema attribute, the absolute
``learning_rate`` per epoch instead of ``lr_factor``, and the spike window (the model's
``presentation``) and the number of spike-recorded samples (its ``chunk``) only in the config
text. The readers still read it; reading the config text for these is done here only.

A Result written by :func:`save_result` is either the previous file or the new one, never a
mix (:func:`neurosig.atomic.write_atomic`).

Examples
--------
>>> ds = load_result("results/lif-sigprop-digits-seed0.nc")  # doctest: +SKIP
>>> layers(ds)  # doctest: +SKIP
[1]
>>> spikes(ds, 1).t_stop  # doctest: +SKIP
0.05
"""

from __future__ import annotations

import datetime as _dt
import platform
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurosig.atomic import write_bytes_atomic
from neurosig.brian import compiler_flags
from neurosig.build import build_model, load_experiment_data
from neurosig.config import Experiment, experiment_from_toml, parse_quantity
from neurosig.data import Dataset
from neurosig.errors import ConfigError, DataError
from neurosig.protocols import TrainableModel

__all__ = [
    "ENGINE",
    "EPOCH_METRICS",
    "REQUIRED_ATTRS",
    "REQUIRED_VARIABLES",
    "SCHEMA_ATTR",
    "SCHEMA_VERSION",
    "SPLITS",
    "STATUSES",
    "Completeness",
    "LayerRecording",
    "Recordings",
    "SpikeRecord",
    "TraceRecord",
    "TrainingHistory",
    "accuracy",
    "activity",
    "activity_history",
    "completeness",
    "config_differences",
    "epoch_metrics",
    "experiment",
    "git_commit",
    "has_activity",
    "has_spikes",
    "has_traces",
    "labels",
    "layers",
    "load_result",
    "loss",
    "lr_factor",
    "n_layers",
    "parameter",
    "parameters",
    "primary_accuracy",
    "primary_readout",
    "provenance",
    "restore_model",
    "samples_per_second",
    "save_result",
    "schema_version",
    "spikes",
    "traces",
    "training_result",
    "weights",
]

ENGINE = "h5netcdf"
SCHEMA_ATTR = "neurosig_result_schema"
SCHEMA_VERSION = 2
SPLITS = ("train", "validation", "test")
STATUSES = ("running", "complete", "interrupted", "diverged")
"""The values of a Result's ``status`` attribute (see the table in the module docstring)."""
REQUIRED_ATTRS = ("model", "config", "status")
"""The attributes every Result has had since neurosig 0.1.0: without them a file is no Result."""
REQUIRED_VARIABLES = ("accuracy",)
"""The variables every Result has had since neurosig 0.1.0 (possibly with 0 epochs)."""
_WRITE_RESULTS = "write Results with `neurosig train`"  # the fix named for a foreign file

EPOCH_METRICS: dict[str, tuple[str, ...]] = {
    "accuracy": ("epoch", "split", "readout"),
    "loss": ("epoch", "layer"),
    "lr_factor": ("epoch",),
    "samples_per_second": ("epoch",),
    "epoch_time": ("epoch",),
}
"""The per-epoch variables of a Result and their dimensions (what a sweep store collects)."""

LR_FACTOR_LONG_NAME = (
    "learning-rate schedule factor: every rate of the model is its configured value times this"
)

# Schema 1 (neurosig 0.1.0) compatibility: the LIF model's presentation when the config text
# predates the field, and its integration step for membrane traces.
_V1_PRESENTATION_MS = 50.0
_V1_DT_MS = 0.1

_PARAM = "param_"
_WEIGHT_NAMES = ("weight", "W")  # numpy models call their matrices W, Brian2 models weight


# --------------------------------------------------------------------------------------------
# Variable names: spelled here and nowhere else
# --------------------------------------------------------------------------------------------


def _prefix(initial: bool) -> str:
    return "initial_" if initial else ""


def _activity_name(layer: int, initial: bool = False) -> str:
    return f"{_prefix(initial)}activity_layer{layer}"


def _history_name(layer: int) -> str:
    return f"activity_history_layer{layer}"


def _unit_dim(layer: int) -> str:
    return f"layer{layer}_unit"


def _spike_dim(layer: int, initial: bool) -> str:
    return f"{_prefix(initial)}spike_layer{layer}"


def _spike_name(layer: int, initial: bool, part: str) -> str:
    return f"{_spike_dim(layer, initial)}_{part}"


def _trace_name(layer: int, initial: bool) -> str:
    return f"{_prefix(initial)}trace_layer{layer}"


def _trace_dims(layer: int) -> tuple[str, str, str]:
    return ("trace_sample", f"trace_layer{layer}_unit", "trace_step")


def _param_name(key: str) -> str:
    """``block.name`` of a state dict -> the Result variable ``param_block_name``."""
    return _PARAM + key.replace(".", "_", 1)


def _param_dims(block: str, name: str, ndim: int) -> tuple[str, ...]:
    if name in ("memory", "target_memory", "slope_memory"):  # class memories (rate, LIF)
        return ("class", f"{block}_out")
    if name in ("baseline", "pre_baseline"):  # running baselines of both streams (LIF)
        return ("stream", f"{block}_out")
    return tuple(f"{block}_{d}" for d in (("out", "in") if ndim == 2 else ("out",)))


def _param_key(name: str, var: xr.DataArray) -> str:
    """The state-dict key of variable ``param_...``.

    Block names may contain "_" (``w_ro``), so the block is read from the ``{block}_out``
    dimension every parameter has rather than guessed from the underscores.
    """
    rest = name[len(_PARAM) :]
    for dim in var.dims:
        block = str(dim).removesuffix("_out")
        if str(dim).endswith("_out") and rest.startswith(block + "_"):
            return f"{block}.{rest[len(block) + 1 :]}"
    block, _, key = rest.partition("_")
    return f"{block}.{key}"


# --------------------------------------------------------------------------------------------
# Structured recordings (what spiking models hand over, what the spike readers return)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpikeRecord:
    """Spike trains of one layer while ``n_samples`` samples were presented, one after another.

    Attributes
    ----------
    sample, unit : numpy.ndarray of int
        Presented sample (0-based) and unit of each spike.
    time : numpy.ndarray of float
        Time of each spike from its sample's onset, in ``units`` (seconds).
    n_samples, n_units : int
        Trains exist for every (sample, unit) pair: a pair without spikes was silent.
    t_start, t_stop : float
        The recorded window of every sample, from its onset (s); spikes lie in
        ``[t_start, t_stop)``.
    units : str
        Unit of ``time``, ``t_start`` and ``t_stop``.
    resolution : float
        The simulation's time step: every spike time is a multiple of it (in ``units``; NaN
        where unknown, e.g. in Results written before it was stored).

    Examples
    --------
    >>> rec = SpikeRecord(np.array([0, 1]), np.array([2, 0]), np.array([0.01, 0.03]),
    ...                   n_samples=2, n_units=3, t_start=0.0, t_stop=0.05)
    >>> rec.duration
    0.05
    """

    sample: np.ndarray
    unit: np.ndarray
    time: np.ndarray
    n_samples: int
    n_units: int
    t_start: float
    t_stop: float
    units: str = "s"
    resolution: float = float("nan")

    @property
    def duration(self) -> float:
        """Length of the recorded window of one sample (s)."""
        return self.t_stop - self.t_start


@dataclass(frozen=True)
class TraceRecord:
    """Membrane potentials of a few units of one layer, sampled every ``dt``.

    Attributes
    ----------
    values : numpy.ndarray
        (sample, unit, step), in ``units``; step 0 is the sample's onset.
    dt : float
        Sampling interval (s).
    units : str
        Unit of ``values`` (``"mV"``).
    long_name : str
        What was recorded.

    Examples
    --------
    >>> TraceRecord(np.zeros((1, 2, 4)), dt=1e-4).times()
    array([0.    , 0.0001, 0.0002, 0.0003])
    """

    values: np.ndarray
    dt: float
    units: str = "mV"
    long_name: str = "membrane potential"

    def times(self) -> np.ndarray:
        """Time of every step from the sample's onset (s)."""
        return np.arange(self.values.shape[-1]) * self.dt


@dataclass(frozen=True)
class LayerRecording:
    """Spikes and, if recorded, membrane traces of one hidden layer.

    ``exc_input`` and ``inh_input`` are the excitatory and inhibitory synaptic drive of the
    traced units (the terms ``ge (e_exc - v)`` and ``gi (e_inh - v)`` of the membrane equation,
    in mV; the inhibitory one is <= 0), recorded by models with conductance-based synapses so
    that E/I balance can be measured; None where a model does not separate them.
    """

    spikes: SpikeRecord
    traces: TraceRecord | None = None
    exc_input: TraceRecord | None = None
    inh_input: TraceRecord | None = None


@dataclass(frozen=True)
class Recordings:
    """What a spiking model records while samples are presented (see
    :class:`neurosig.protocols.RecordsSpikes`): one :class:`LayerRecording` per hidden layer.

    Examples
    --------
    >>> spikes = SpikeRecord(np.array([0]), np.array([1]), np.array([0.002]), 1, 2, 0.0, 0.01)
    >>> Recordings((LayerRecording(spikes),)).layer(1).spikes.n_units
    2
    """

    layers: tuple[LayerRecording, ...] = ()

    def layer(self, layer: int) -> LayerRecording:
        """The recording of hidden layer ``layer`` (1-based)."""
        return self.layers[layer - 1]


# --------------------------------------------------------------------------------------------
# Writing a Result
# --------------------------------------------------------------------------------------------


@dataclass
class TrainingHistory:
    """What the training loop records per epoch, turned into a Result by :func:`training_result`.

    ``activity`` holds the recorded samples' activity before training (entry 0) and after each
    epoch, only when ``train.record_every_epoch``; ``initial_activity`` the activity before
    training; ``initial_recordings`` a spiking model's recordings before training.
    """

    accuracy: list[np.ndarray] = field(default_factory=list)  # (split, readout) per epoch
    loss: list[np.ndarray] = field(default_factory=list)  # (layer,) per epoch
    lr_factor: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    samples_per_second: list[float] = field(default_factory=list)
    activity: list[list[np.ndarray]] = field(default_factory=list)  # record_epoch -> layer
    initial_activity: list[np.ndarray] = field(default_factory=list)  # layer -> (n, units)
    initial_recordings: Recordings | None = None


def training_result(
    exp: Experiment,
    data: Dataset,
    model: TrainableModel,
    history: TrainingHistory,
    *,
    status: str,
    labels: np.ndarray,
    activity: Sequence[np.ndarray] = (),
    recordings: Recordings | None = None,
) -> xr.Dataset:
    """Assemble the Result of a run (schema :data:`SCHEMA_VERSION`).

    Parameters
    ----------
    exp : Experiment
        The run's resolved experiment (stored as the ``config`` attribute).
    data : neurosig.data.Dataset
        Its data (name and provenance are stored).
    model : TrainableModel
        The model in its current state: parameters, readouts, loss names, units, target.
    history : TrainingHistory
        Per-epoch records and what was recorded before training.
    status : str
        One of :data:`STATUSES`.
    labels : numpy.ndarray
        True class of each recorded test sample (empty: nothing recorded).
    activity : sequence of numpy.ndarray
        Hidden activity (sample, unit) of the recorded samples now, one per layer.
    recordings : Recordings, optional
        A spiking model's recordings of the same samples now.

    Returns
    -------
    xarray.Dataset
        The Result.
    """
    if status not in STATUSES:
        raise ValueError(f"status = {status!r}: one of {', '.join(STATUSES)}")
    ds = _epoch_variables(history, model.readouts, model.loss_names)
    for key, value in model.state_dict().items():
        if key.startswith("adam."):  # optimiser state is not part of a Result
            continue
        block, name = key.split(".", 1)
        ds[_param_name(key)] = (_param_dims(block, name, value.ndim), value)
    if len(labels):
        _add_activity(ds, labels, activity, history, model.activity_units)
        if recordings is not None:
            _add_recordings(ds, recordings, initial=False)
        if history.initial_recordings is not None:
            _add_recordings(ds, history.initial_recordings, initial=True)
    ds.attrs.update(provenance())
    ds.attrs.update(
        name=exp.name,
        model=exp.model,
        dataset=data.name,
        data_source=data.source,
        seed=exp.train.seed,
        config=exp.to_toml(),
        status=status,
        target=model.target,
        primary_readout=model.readouts[0],
        feature_shape=str(tuple(data.feature_shape)),
    )
    ds.attrs[SCHEMA_ATTR] = SCHEMA_VERSION
    return ds


def _epoch_variables(
    history: TrainingHistory, readouts: Sequence[str], loss_names: Sequence[str]
) -> xr.Dataset:
    epochs = np.arange(1, len(history.lr_factor) + 1)
    acc = np.array(history.accuracy).reshape(len(epochs), len(SPLITS), len(readouts))
    ds = xr.Dataset(
        {
            "accuracy": (
                EPOCH_METRICS["accuracy"],
                acc,
                {"units": "1", "long_name": "fraction correct"},
            ),
            "loss": (
                EPOCH_METRICS["loss"],
                np.array(history.loss).reshape(len(epochs), len(loss_names)),
                {"units": "1", "long_name": "mean training loss of each part"},
            ),
            "lr_factor": (
                EPOCH_METRICS["lr_factor"],
                np.array(history.lr_factor, dtype=float),
                {"units": "1", "long_name": LR_FACTOR_LONG_NAME},
            ),
            "epoch_time": (
                EPOCH_METRICS["epoch_time"],
                np.array(history.seconds),
                {"units": "s", "long_name": "training time of the epoch"},
            ),
            "samples_per_second": (
                EPOCH_METRICS["samples_per_second"],
                np.array(history.samples_per_second),
                {"units": "1/s", "long_name": "training throughput"},
            ),
        },
        coords={
            "epoch": epochs,
            "split": list(SPLITS),
            "readout": list(readouts),
            "layer": list(loss_names),
        },
    )
    primary = readouts[0]
    for split in SPLITS:
        name = f"{split}_accuracy"
        ds[name] = ds.accuracy.sel(split=split, readout=primary, drop=True)
        ds[name].attrs.update(units="1", long_name=f"{split} accuracy ({primary})")
    return ds


def _add_activity(
    ds: xr.Dataset,
    labels: np.ndarray,
    activity: Sequence[np.ndarray],
    history: TrainingHistory,
    units: str,
) -> None:
    ds.coords["sample"] = np.arange(len(labels))
    ds.coords["label"] = ("sample", labels, {"long_name": "true class"})
    for layer, act in enumerate(activity, start=1):
        ds[_activity_name(layer)] = (
            ("sample", _unit_dim(layer)),
            act,
            {"units": units, "long_name": "data-stream activity"},
        )
    for layer, act in enumerate(history.initial_activity, start=1):
        ds[_activity_name(layer, initial=True)] = (
            ("sample", _unit_dim(layer)),
            act,
            {"units": units, "long_name": "data-stream activity before training"},
        )
    if not history.activity:
        return
    ds.coords["record_epoch"] = np.arange(len(history.activity))  # 0 = before training
    for layer in range(1, len(history.activity[0]) + 1):
        ds[_history_name(layer)] = (
            ("record_epoch", "sample", _unit_dim(layer)),
            np.stack([epoch[layer - 1] for epoch in history.activity]),
            {
                "units": "1",
                "long_name": "data-stream activity before training (record_epoch 0) and "
                "after each epoch",
            },
        )


def _add_recordings(ds: xr.Dataset, recordings: Recordings, *, initial: bool) -> None:
    """Spikes in a ragged layout (one dimension per layer's spikes) and membrane traces."""
    for layer, rec in enumerate(recordings.layers, start=1):
        s = rec.spikes
        dim = (_spike_dim(layer, initial),)
        ds[_spike_name(layer, initial, "sample")] = (
            dim,
            s.sample,
            {"long_name": "recorded sample"},
        )
        ds[_spike_name(layer, initial, "unit")] = (dim, s.unit, {"long_name": "unit"})
        ds[_spike_name(layer, initial, "time")] = (
            dim,
            s.time,
            {
                "units": s.units,
                "long_name": "time from onset",
                "t_start": float(s.t_start),
                "t_stop": float(s.t_stop),
                "n_samples": int(s.n_samples),
                "n_units": int(s.n_units),
                "resolution": float(s.resolution),
            },
        )
    for layer, rec in enumerate(recordings.layers, start=1):
        tr = rec.traces
        if tr is not None:
            ds[_trace_name(layer, initial)] = (
                _trace_dims(layer),
                tr.values,
                {"units": tr.units, "long_name": tr.long_name, "dt": float(tr.dt)},
            )


# --------------------------------------------------------------------------------------------
# Provenance, saving, loading
# --------------------------------------------------------------------------------------------


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def git_commit(folder: str | Path | None = None) -> str:
    """The git commit of neurosig's source tree (``+dirty`` if modified), or ``""``.

    Without ``folder``, the tree is the one the running code was imported from: the engine
    (``neurosig``), the models (``neurosig.models``) and the analyses (``neurosig.analyses``).
    When these come from different trees (an editable install maps ``neurosig.models`` to the
    folder it was installed from, so ``PYTHONPATH=other_checkout`` mixes two trees), no commit
    describes the code and the result is marked ``+dirty`` too.
    """
    folders = [Path(folder)] if folder else source_folders()
    try:
        tops = {_git(["rev-parse", "--show-toplevel"], f).strip() for f in folders}
        commit = _git(["rev-parse", "HEAD"], folders[0], check=True).strip()
        dirty = _git(["status", "--porcelain", "--untracked-files=no"], folders[0])
    except (OSError, subprocess.SubprocessError):
        return ""
    return commit + ("+dirty" if dirty.strip() or len(tops) > 1 else "")


def source_folders() -> list[Path]:
    """The folders neurosig's code runs from: the engine, the models and the analyses."""
    import neurosig
    import neurosig.analyses
    import neurosig.models

    return [
        Path(m.__file__).resolve().parent for m in (neurosig, neurosig.models, neurosig.analyses)
    ]


def _git(args: list[str], folder: Path, check: bool = False) -> str:
    return subprocess.run(
        ["git", *args], cwd=folder, capture_output=True, text=True, timeout=5, check=check
    ).stdout


def provenance() -> dict[str, str]:
    """Versions, machine and commit: the attributes every Result carries.

    neurosig's own version is the source tree's (``neurosig.__version__``), not the installed
    distribution's metadata, which an editable install leaves at the version it was made with.
    """
    import neurosig

    return {
        "neurosig_version": neurosig.__version__,
        "numpy_version": _version("numpy"),
        "brian2_version": _version("brian2"),
        "xarray_version": _version("xarray"),
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": git_commit(),
        "compiler_flags": " ".join(compiler_flags()),  # of Brian2 C++ programs built now
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def _clean_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    """netCDF attributes must be strings or numbers: turn the rest into strings."""
    out = {}
    for key, value in attrs.items():
        if isinstance(value, bool):
            value = int(value)
        elif not isinstance(value, str | int | float):
            value = str(value)
        out[key] = value
    return out


def save_result(ds: xr.Dataset, path: str | Path) -> Path:
    """Write ``ds`` to ``path`` (netCDF4 via h5netcdf) atomically; returns the path.

    The file gets the mode the umask gives new files (:func:`neurosig.atomic.write_atomic`).

    Examples
    --------
    >>> save_result(ds, "results/run.nc")  # doctest: +SKIP
    PosixPath('results/run.nc')
    """
    ds = ds.copy()
    ds.attrs = _clean_attrs(ds.attrs)
    for var in ds.variables.values():
        var.attrs = _clean_attrs(var.attrs)
    return write_bytes_atomic(path, _netcdf_bytes(ds))


def _netcdf_bytes(ds: xr.Dataset) -> memoryview:
    """``ds`` as netCDF in memory. Serialised first, a full disk fails in a plain file write
    (one OSError, the previous file intact) rather than inside the HDF5 library. In a dask
    worker xarray would take a cluster-wide lock named after the in-memory buffer, which the
    scheduler does not know: the (already computed) Result is written with dask's synchronous
    scheduler instead."""
    if "dask" not in sys.modules:
        return ds.to_netcdf(engine=ENGINE)
    import dask

    with dask.config.set(scheduler="synchronous"):
        return ds.to_netcdf(engine=ENGINE)


def load_result(path: str | Path) -> xr.Dataset:
    """Read a Result written by :func:`save_result` fully into memory.

    Raises
    ------
    DataError
        One line naming the file and what is wrong: missing, a folder, unreadable (empty,
        truncated, another format), a netCDF file that is not a Result (it lacks
        :data:`REQUIRED_ATTRS` or :data:`REQUIRED_VARIABLES`), or a Result of a newer schema.

    Examples
    --------
    >>> ds = load_result("results/demo/sp-core-digits.nc")  # doctest: +SKIP
    >>> float(primary_accuracy(ds)[-1])  # doctest: +SKIP
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a Result file; give the .nc file")
    if not path.exists():
        raise DataError(f"{path}: no such result file")
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty, not a neurosig Result; {_WRITE_RESULTS}")
    try:
        ds = xr.load_dataset(path, engine=ENGINE, phony_dims="access")
    except PermissionError:
        raise DataError(f"{path}: no permission to read it; fix its permissions") from None
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as err:
        cause = (str(err).splitlines() or [type(err).__name__])[0]
        raise DataError(
            f"{path} is not a readable netCDF-4 file, so not a neurosig Result (truncated, "
            f"damaged or another format: {cause}); {_WRITE_RESULTS}"
        ) from None
    missing = _lacking("attribute", [a for a in REQUIRED_ATTRS if a not in ds.attrs])
    missing += _lacking("variable", [v for v in REQUIRED_VARIABLES if v not in ds.variables])
    if missing:
        raise DataError(
            f"{path} is not a neurosig Result: it lacks {' and '.join(missing)}; {_WRITE_RESULTS}"
        )
    try:
        schema_version(ds)
    except DataError as err:
        raise DataError(f"{path}: {err}") from None
    return ds


def _lacking(kind: str, names: list[str]) -> list[str]:
    """``["the attributes a, b"]`` for missing ``names`` of ``kind``; ``[]`` when none."""
    return [f"the {kind}{'s' if len(names) > 1 else ''} {', '.join(names)}"] if names else []


# --------------------------------------------------------------------------------------------
# Reading: what the run was
# --------------------------------------------------------------------------------------------


def schema_version(ds: xr.Dataset) -> int:
    """The schema version of a Result (1: written by neurosig 0.1.0, before the attribute).

    Raises
    ------
    DataError
        If a newer neurosig wrote the Result, or its schema attribute is no number.

    Examples
    --------
    >>> schema_version(xr.Dataset())
    1
    """
    try:
        version = int(ds.attrs.get(SCHEMA_ATTR, 1))
    except (TypeError, ValueError):
        raise DataError(
            f"the Result's {SCHEMA_ATTR} is {ds.attrs[SCHEMA_ATTR]!r}, not a schema version"
        ) from None
    if version > SCHEMA_VERSION:
        raise DataError(
            f"the Result has schema version {version}, newer than this neurosig reads "
            f"({SCHEMA_VERSION}); update neurosig"
        )
    return version


def experiment(ds: xr.Dataset) -> Experiment:
    """The experiment a Result was trained from (its stored, fully resolved config).

    Examples
    --------
    >>> experiment(ds).train.seed  # doctest: +SKIP
    0
    """
    return experiment_from_toml(ds.attrs["config"], source="the Result's config")


@dataclass(frozen=True)
class Completeness:
    """How much of its configured training a Result holds, and what its reader should know.

    Attributes
    ----------
    status : str
        The Result's ``status`` (one of :data:`STATUSES`; ``"unknown"`` if it has none).
    epochs : int
        Finished epochs stored (the size of the ``epoch`` dimension).
    configured : int or None
        ``train.epochs`` of the Result's config; None where its config cannot be read.
    caveat : str or None
        None for a complete Result, else one line saying what it is (see :func:`completeness`).
    """

    status: str
    epochs: int
    configured: int | None
    caveat: str | None

    @property
    def complete(self) -> bool:
        """Whether the Result holds its whole configured training."""
        return self.caveat is None

    @property
    def trained(self) -> bool:
        """Whether at least one epoch finished (else the parameters are the initial ones)."""
        return self.epochs > 0


def completeness(ds: xr.Dataset) -> Completeness:
    """Whether a Result is complete and, if not, a one-line caveat for its reader.

    The caveats, by status (:data:`STATUSES`):

    * ``running``: "incomplete: status running, 1 of 30 epochs (the run was killed or is still
      going)";
    * ``interrupted``: "interrupted after 3 of 30 epochs";
    * ``diverged``: "diverged in epoch 4 of 30; parameters of epoch 3";
    * no finished epoch: "0 epochs: nothing trained (diverged in epoch 1)";
    * ``complete`` with fewer epochs than configured, or a status neurosig does not write, say
      so.

    Examples
    --------
    >>> from neurosig.config import command_experiment
    >>> config = command_experiment("bp", epochs=30).to_toml()
    >>> ds = xr.Dataset(coords={"epoch": [1]}, attrs={"status": "running", "config": config})
    >>> completeness(ds).caveat
    'incomplete: status running, 1 of 30 epochs (the run was killed or is still going)'
    >>> completeness(ds.assign_attrs(status="diverged")).caveat
    'diverged in epoch 2 of 30; parameters of epoch 1'
    """
    status = str(ds.attrs.get("status", "unknown"))
    done = int(ds.sizes.get("epoch", 0))
    try:
        configured: int | None = experiment(ds).train.epochs
    except (KeyError, ConfigError):  # no config, or one this neurosig cannot read
        configured = None
    of = f"{done} of {configured}" if configured is not None else str(done)
    epochs = f"{of} epoch{'' if done == 1 and configured in (None, 1) else 's'}"
    if done == 0:
        why = "diverged in epoch 1" if status == "diverged" else f"status {status}"
        caveat: str | None = f"0 epochs: nothing trained ({why})"
    elif status == "diverged":
        total = f" of {configured}" if configured is not None else ""
        caveat = f"diverged in epoch {done + 1}{total}; parameters of epoch {done}"
    elif status == "running":
        caveat = f"incomplete: status running, {epochs} (the run was killed or is still going)"
    elif status == "interrupted":
        caveat = f"interrupted after {epochs}"
    elif status == "complete":
        short = configured is not None and done < configured
        caveat = f"status complete but only {epochs} stored" if short else None
    else:
        caveat = f"unknown status {status!r} (neurosig writes {', '.join(STATUSES)}), {epochs}"
    return Completeness(status, done, configured, caveat)


def config_differences(
    a: xr.Dataset,
    b: xr.Dataset,
    *,
    fields: Sequence[str] | None = None,
    ignore: Sequence[str] = (),
) -> list[tuple[str, Any, Any]]:
    """The fields of two Results' resolved configs that differ, as ``(field, in a, in b)``.

    Field names are dotted (``model.hidden``, ``data.n_train``, ``train.seed``); a name in
    ``fields`` or ``ignore`` is a field or a whole table (``"data"``: every ``data.*``
    field). Without ``fields`` every field is compared. A field left unset (``data.n_train``:
    all samples) is None.

    Examples
    --------
    >>> from neurosig.config import command_experiment
    >>> def result(exp):
    ...     return xr.Dataset(attrs={"config": exp.to_toml()})
    >>> a = result(command_experiment("bp"))
    >>> b = result(command_experiment("bp", epochs=3, seed=1))
    >>> config_differences(a, b, ignore=("train.seed",))
    [('train.epochs', 20, 3)]
    >>> config_differences(a, b, fields=("model.hidden", "data"))
    []
    """
    flat_a, flat_b = (_flat(experiment(ds).to_dict()) for ds in (a, b))

    def within(key: str, names: Sequence[str]) -> bool:
        return any(key == name or key.startswith(name + ".") for name in names)

    keys = dict.fromkeys([*flat_a, *flat_b])  # the order of the config: model, data, train
    return [
        (key, flat_a.get(key), flat_b.get(key))
        for key in keys
        if (fields is None or within(key, fields))
        and not within(key, ignore)
        and flat_a.get(key) != flat_b.get(key)
    ]


def _flat(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"model": {"hidden": [16]}}`` -> ``{"model.hidden": [16]}``."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def primary_readout(ds: xr.Dataset) -> str:
    """Name of the readout the Result's ``{split}_accuracy`` and summaries refer to.

    Examples
    --------
    >>> primary_readout(ds)  # doctest: +SKIP
    'linear'
    """
    return str(ds.attrs.get("primary_readout", ds.readout.values[0]))


def restore_model(
    ds: xr.Dataset, *, trained: bool = True, data: Dataset | None = None, **changes
) -> tuple[TrainableModel, Dataset]:
    """Rebuild the model of a Result, untrained or with its learned parameters, and its data.

    :func:`neurosig.build.build_model` draws the same initial network from the same seed, so
    ``trained=False`` gives the network exactly as it was before training. ``changes`` go to
    :meth:`Experiment.replace` (e.g. ``model_encoding="poisson"``) for probes that change how
    the network is run, not its structure. Optimiser state is not stored in a Result: the
    rebuilt model keeps its fresh one, which is fine for evaluation but not for resuming.

    Examples
    --------
    >>> model, data = restore_model(ds)  # doctest: +SKIP
    >>> model.predict(data.x_test[:3])  # doctest: +SKIP
    """
    exp = experiment(ds)
    if changes:
        exp = exp.replace(**changes)
    data = data if data is not None else load_experiment_data(exp)
    model = build_model(exp, data)
    if trained:
        # look each of the model's own keys up: the stored names cannot be split unambiguously
        state = model.state_dict()
        for key in state:
            if _param_name(key) in ds:
                state[key] = ds[_param_name(key)].values
        model.load_state_dict(state)
    return model, data


# --------------------------------------------------------------------------------------------
# Reading: per-epoch metrics
# --------------------------------------------------------------------------------------------


def accuracy(ds: xr.Dataset) -> xr.DataArray:
    """Fraction correct per epoch, split and readout (epoch, split, readout).

    Examples
    --------
    >>> accuracy(ds).sel(split="test", readout="linear")[-1]  # doctest: +SKIP
    """
    return ds["accuracy"]


def primary_accuracy(ds: xr.Dataset, split: str = "test") -> xr.DataArray:
    """Accuracy of the primary readout on ``split`` per epoch (epoch).

    Examples
    --------
    >>> float(primary_accuracy(ds)[-1])  # doctest: +SKIP
    0.93
    """
    if split not in SPLITS:
        raise ValueError(f"split = {split!r}: one of {', '.join(SPLITS)}")
    return ds[f"{split}_accuracy"]


def loss(ds: xr.Dataset) -> xr.DataArray:
    """Mean training loss of each separately optimised part per epoch (epoch, layer).

    Examples
    --------
    >>> loss(ds).sel(layer="readout")  # doctest: +SKIP
    """
    return ds["loss"]


def samples_per_second(ds: xr.Dataset) -> xr.DataArray:
    """Training throughput per epoch (epoch), in samples per second.

    Examples
    --------
    >>> float(samples_per_second(ds).median())  # doctest: +SKIP
    """
    return ds["samples_per_second"]


def lr_factor(ds: xr.Dataset) -> xr.DataArray:
    """The learning-rate schedule factor of every epoch (epoch): rates = configured x factor.

    A schema-1 Result stored the absolute rate ``learning_rate``; its factor is that rate over
    the first epoch's (every schedule starts at factor 1), NaN where the model had no rate.

    Examples
    --------
    >>> lr_factor(ds).values  # doctest: +SKIP
    array([1. , 0.5])
    """
    if "lr_factor" in ds:
        return ds["lr_factor"]
    rate = ds["learning_rate"]
    first = float(rate[0]) if rate.size else 0.0
    values = rate.values / first if first > 0 else np.full(rate.shape, np.nan)
    attrs = {"units": "1", "long_name": LR_FACTOR_LONG_NAME}
    return xr.DataArray(values, dims=rate.dims, coords=rate.coords, attrs=attrs)


def epoch_metrics(ds: xr.Dataset) -> xr.Dataset:
    """Every per-epoch metric of :data:`EPOCH_METRICS` as one Dataset (schema 2 names).

    Examples
    --------
    >>> sorted(epoch_metrics(ds).data_vars)  # doctest: +SKIP
    ['accuracy', 'epoch_time', 'loss', 'lr_factor', 'samples_per_second']
    """
    out = ds[[name for name in EPOCH_METRICS if name != "lr_factor"]]
    return out.assign(lr_factor=lr_factor(ds))[list(EPOCH_METRICS)]


# --------------------------------------------------------------------------------------------
# Reading: recorded activity
# --------------------------------------------------------------------------------------------


def _layer_of(name: str, stem: str) -> int | None:
    """``activity_layer12`` with stem ``activity_layer`` -> 12; None when it does not match."""
    digits = name[len(stem) :]
    return int(digits) if name.startswith(stem) and digits.isdigit() else None


def layers(ds: xr.Dataset) -> list[int]:
    """Indices (1-based) of the hidden layers whose activity the Result recorded.

    Examples
    --------
    >>> layers(xr.Dataset({"activity_layer2": ("s", [1.0]), "activity_layer1": ("s", [1.0])}))
    [1, 2]
    """
    stem = _activity_name(0).removesuffix("0")
    found = (_layer_of(str(name), stem) for name in ds.data_vars)
    return sorted(layer for layer in found if layer is not None)


def n_layers(ds: xr.Dataset) -> int:
    """Number of hidden layers whose activity the Result recorded.

    Examples
    --------
    >>> n_layers(xr.Dataset())
    0
    """
    return len(layers(ds))


def labels(ds: xr.Dataset) -> np.ndarray:
    """True class of each recorded test sample (sample).

    Examples
    --------
    >>> labels(ds)[:5]  # doctest: +SKIP
    array([2, 8, 2, 6, 6])
    """
    return np.asarray(ds["label"].values)


def has_activity(ds: xr.Dataset, layer: int, *, initial: bool = False) -> bool:
    """Whether :func:`activity` can read this layer (before training: ``initial=True``).

    Examples
    --------
    >>> has_activity(xr.Dataset(), 1)
    False
    """
    if initial and _history_name(layer) in ds:
        return True
    return _activity_name(layer, initial) in ds


def activity(ds: xr.Dataset, layer: int, *, initial: bool = False) -> xr.DataArray:
    """Data-stream activity of hidden layer ``layer`` for the recorded test samples.

    Parameters
    ----------
    ds : xarray.Dataset
        A Result.
    layer : int
        Hidden layer, 1-based.
    initial : bool
        The activity before training (from the activity history for Results that stored
        only that).

    Returns
    -------
    xarray.DataArray
        (sample, ``layer{l}_unit``) with coordinate ``label``; attribute ``units`` (``"Hz"``
        for firing rates of spiking networks, ``"1"`` otherwise).

    Raises
    ------
    ValueError
        If the Result did not record it.

    Examples
    --------
    >>> activity(ds, 1).mean("sample")  # doctest: +SKIP
    """
    name = _activity_name(layer, initial)
    if name in ds:
        return ds[name]
    if initial and _history_name(layer) in ds:
        return ds[_history_name(layer)].isel(record_epoch=0, drop=True)
    what = "before training " if initial else ""
    raise ValueError(
        f"the Result (model {ds.attrs.get('model', 'unknown')!r}) recorded no activity {what}"
        f"of hidden layer {layer} (no variable {name}); train with train.record_samples > 0"
    )


def activity_history(ds: xr.Dataset, layer: int) -> xr.DataArray:
    """Activity of hidden layer ``layer`` before training and after every epoch.

    Returns
    -------
    xarray.DataArray
        (record_epoch, sample, ``layer{l}_unit``); record_epoch 0 is before training.

    Raises
    ------
    ValueError
        If the run did not set ``train.record_every_epoch``.

    Examples
    --------
    >>> activity_history(ds, 1).isel(record_epoch=-1)  # doctest: +SKIP
    """
    name = _history_name(layer)
    if name not in ds:
        raise ValueError(
            f"the Result has no activity history of hidden layer {layer} (no variable {name}); "
            "train with train.record_every_epoch = true"
        )
    return ds[name]


# --------------------------------------------------------------------------------------------
# Reading: spikes and membrane traces
# --------------------------------------------------------------------------------------------


def has_spikes(ds: xr.Dataset, layer: int | None = None, *, initial: bool = False) -> bool:
    """Whether the Result holds spike trains of ``layer`` (of any layer when None).

    Examples
    --------
    >>> has_spikes(xr.Dataset())
    False
    """
    if layer is not None:
        return _spike_name(layer, initial, "time") in ds
    stem = _spike_dim(0, initial).removesuffix("0")
    return any(str(name).startswith(stem) for name in ds.data_vars)


def spikes(ds: xr.Dataset, layer: int, *, initial: bool = False) -> SpikeRecord:
    """The recorded spike trains of hidden layer ``layer``, with their window.

    Parameters
    ----------
    ds : xarray.Dataset
        A Result of a spiking model.
    layer : int
        Hidden layer, 1-based.
    initial : bool
        The recording made before training.

    Returns
    -------
    SpikeRecord
        Times in seconds from each sample's onset; ``t_start``/``t_stop`` the recorded window.
        A spiking model records the first ``[model] chunk`` recorded samples only (one
        compiled batch), so ``n_samples`` may be smaller than the number of recorded samples
        (unrecorded samples are not silent trains).

    Raises
    ------
    ValueError
        If the Result has no spike trains of this layer.

    Examples
    --------
    >>> rec = spikes(ds, 1)  # doctest: +SKIP
    >>> rec.n_samples, rec.t_stop - rec.t_start  # doctest: +SKIP
    (100, 0.05)
    """
    time_name = _spike_name(layer, initial, "time")
    if time_name not in ds:
        what = "before training " if initial else ""
        raise ValueError(
            f"the Result (model {ds.attrs.get('model', 'unknown')!r}) has no spike trains "
            f"{what}for layer {layer} (no variable {time_name}): rate networks have no spikes, "
            "and only LIF runs that recorded samples have them"
        )
    time = ds[time_name]
    if schema_version(ds) >= 2:
        window = (
            int(time.attrs["n_samples"]),
            int(time.attrs["n_units"]),
            float(time.attrs["t_start"]),
            float(time.attrs["t_stop"]),
        )
    else:
        window = _v1_spike_window(ds, layer)
    n_samples, n_units, t_start, t_stop = window
    return SpikeRecord(
        sample=np.asarray(ds[_spike_name(layer, initial, "sample")].values),
        unit=np.asarray(ds[_spike_name(layer, initial, "unit")].values),
        time=np.asarray(time.values, dtype=float),
        n_samples=n_samples,
        n_units=n_units,
        t_start=t_start,
        t_stop=t_stop,
        units=str(time.attrs.get("units", "s")),
        resolution=float(time.attrs.get("resolution", float("nan"))),
    )


def _v1_model_config(ds: xr.Dataset) -> dict[str, Any]:
    """The ``[model]`` table of a schema-1 Result's config text (raw: configs of 0.1.0)."""
    return tomllib.loads(ds.attrs.get("config", "")).get("model", {})


def _v1_ms(value: Any) -> float:
    return parse_quantity(value, "ms") if isinstance(value, str) else float(value)


def _v1_spike_window(ds: xr.Dataset, layer: int) -> tuple[int, int, float, float]:
    """(n_samples, n_units, t_start, t_stop) of a schema-1 Result, from its config text."""
    unit_dim = _unit_dim(layer)
    if unit_dim not in ds.sizes or "sample" not in ds.sizes:
        raise ValueError(f"the Result has no dimension {unit_dim!r} or 'sample' to size layer")
    model = _v1_model_config(ds)
    n_samples = ds.sizes["sample"]
    if model.get("chunk"):
        n_samples = min(n_samples, int(model["chunk"]))
    t_stop = _v1_ms(model.get("presentation", _V1_PRESENTATION_MS)) * 1e-3
    return n_samples, ds.sizes[unit_dim], 0.0, t_stop


def has_traces(ds: xr.Dataset, layer: int, *, initial: bool = False) -> bool:
    """Whether the Result holds membrane traces of hidden layer ``layer``.

    Examples
    --------
    >>> has_traces(xr.Dataset(), 1)
    False
    """
    return _trace_name(layer, initial) in ds


def traces(ds: xr.Dataset, layer: int, *, initial: bool = False) -> TraceRecord:
    """Membrane-potential traces of the first units of hidden layer ``layer``.

    Returns
    -------
    TraceRecord
        ``values`` (sample, unit, step) from each sample's onset, every ``dt`` seconds.

    Raises
    ------
    ValueError
        If the Result has no traces of this layer (rate networks; ``trace_units = 0``).

    Examples
    --------
    >>> tr = traces(ds, 1)  # doctest: +SKIP
    >>> tr.values.shape, tr.dt  # doctest: +SKIP
    ((20, 4, 500), 0.0001)
    """
    name = _trace_name(layer, initial)
    if name not in ds:
        raise ValueError(
            f"the Result has no membrane traces of hidden layer {layer} (no variable {name})"
        )
    var = ds[name]
    if schema_version(ds) >= 2:
        dt = float(var.attrs["dt"])
    else:
        dt = _v1_ms(_v1_model_config(ds).get("dt", _V1_DT_MS)) * 1e-3
    return TraceRecord(
        values=np.asarray(var.values),
        dt=dt,
        units=str(var.attrs.get("units", "mV")),
        long_name=str(var.attrs.get("long_name", "membrane potential")),
    )


# --------------------------------------------------------------------------------------------
# Reading: learned parameters
# --------------------------------------------------------------------------------------------


def parameters(ds: xr.Dataset) -> dict[str, xr.DataArray]:
    """Every learned parameter of the Result, by state-dict key (``"layer1.weight"``).

    Examples
    --------
    >>> w = xr.DataArray(np.ones((2, 3)), dims=("w_ro_out", "w_ro_in"))
    >>> list(parameters(xr.Dataset({"param_w_ro_weight": w})))
    ['w_ro.weight']
    """
    return {
        _param_key(str(name), var): var
        for name, var in ds.data_vars.items()
        if str(name).startswith(_PARAM)
    }


def parameter(ds: xr.Dataset, key: str) -> xr.DataArray:
    """One learned parameter by its state-dict key (``"layer1.W"``).

    Raises
    ------
    ValueError
        If the Result has no such parameter.

    Examples
    --------
    >>> parameter(ds, "layer1.W").shape  # doctest: +SKIP
    (16, 12)
    """
    name = _param_name(key)
    if name not in ds:
        raise ValueError(
            f"the Result has no parameter {key!r}; it has {', '.join(parameters(ds)) or 'none'}"
        )
    return ds[name]


def weights(ds: xr.Dataset) -> dict[str, xr.DataArray]:
    """The weight matrices (post, pre) of the Result, by block (``"layer1"``, ``"w_ro"``).

    Dims are (``{block}_out``, ``{block}_in``): the outgoing weights of presynaptic unit ``j``
    are the column ``W[:, j]``. Includes fixed projections such as the label pathway
    (``signal``).

    Examples
    --------
    >>> w = xr.DataArray(np.ones((2, 3)), dims=("layer1_out", "layer1_in"))
    >>> list(weights(xr.Dataset({"param_layer1_W": w})))
    ['layer1']
    """
    out = {}
    for key, var in parameters(ds).items():
        block, name = key.split(".", 1)
        if name in _WEIGHT_NAMES and var.ndim == 2:
            out[block] = var
    return out


# --------------------------------------------------------------------------------------------
# Exchange formats (owned by neurosig.exchange)
# --------------------------------------------------------------------------------------------


def to_neo(ds: xr.Dataset, *, initial: bool = False) -> Any:
    """The recorded spike trains as a ``neo.Block``: one ``Segment`` per recorded test sample,
    one ``SpikeTrain`` per hidden unit (:func:`neurosig.exchange.to_neo`, which owns the
    format). Elephant's functions run on it directly.

    Examples
    --------
    >>> block = to_neo(load_result("lif.nc"))  # doctest: +SKIP
    >>> len(block.segments), block.segments[0].spiketrains[0].t_stop  # doctest: +SKIP
    (200, array(0.05) * s)
    """
    from neurosig.exchange import to_neo as block_of

    return block_of(ds, initial=initial)
