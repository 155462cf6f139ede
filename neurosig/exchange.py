"""Spikes and recordings out of neurosig: a Neo ``Block`` and an NWB file from a Result.

A Result (:mod:`neurosig.results`) is neurosig's own netCDF file. Labs share data as NWB
(DANDI) and analyse spike trains with Neo and Elephant; this module owns those two formats:

* :func:`to_neo` returns a ``neo.Block`` with one ``Segment`` per recorded test sample and one
  ``SpikeTrain`` per hidden unit and sample, in seconds from the sample's onset, with
  ``t_start``/``t_stop`` the recorded window. Elephant's statistics run on it directly.
* :func:`write_nwb` writes one NWB file with pynwb (``neurosig export RESULT.nc --format nwb``):
  spike times of every recorded unit in the ``Units`` table (columns ``layer``, ``unit_index``,
  ``cell_type``, ``stream``); the sample presentations as the ``trials`` table (``sample``,
  ``label``, ``split``, and for rate networks ``activity_layer{l}``: each unit's activity at
  the end of the presentation); membrane traces of spiking models as ``TimeSeries`` in volts;
  the learned weights in the processing module ``network``; the
  experiment's configuration in ``notes``. There is no animal: the file has no ``Subject``
  (a made-up species would be false), and its one ``Device`` is the simulator.

Samples were simulated one after another; on the NWB file's single timeline sample ``k``
occupies ``[k * T, (k + 1) * T)`` where ``T`` is the recorded window of one sample (the
``trials`` table gives each window). Only the data stream's spikes are recorded by neurosig's
LIF models; the label's target stream is not.

A rate network's activity is one value per unit and presentation (the state at its end), so
it is a column of the ``trials`` table rather than a ``TimeSeries``: a series of 200 samples
of 256 units is what the NWB inspector takes for a transposed one (a CRITICAL finding).

The E/I type of a unit is read from the signs of its outgoing weights in the Result
(excitatory: all >= 0, inhibitory: all <= 0, mixed), as in the report card's Dale row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurosig import results as result_schema
from neurosig.errors import DataError

__all__ = ["CELL_TYPES", "FORMATS", "cell_types", "to_neo", "write_nwb"]

FORMATS = ("nwb",)
"""The file formats :func:`write_nwb` and ``neurosig export --format`` write."""
CELL_TYPES = {1.0: "excitatory", -1.0: "inhibitory", 0.0: "mixed"}
"""The name of each sign of a unit's outgoing weights (no outgoing weight: ``"unknown"``)."""


def cell_types(ds: xr.Dataset, layer: int) -> np.ndarray:
    """The E/I type of every unit of hidden ``layer``, from the signs of its outgoing weights.

    The block read is the one whose presynaptic side has the layer's size and that projects
    out of it (``layer{l+1}``/``w{l+1}``, else the readout); a unit without outgoing weights
    is ``"unknown"``.
    """
    n_units = result_schema.activity(ds, layer).shape[1] if result_schema.has_activity(
        ds, layer) else result_schema.spikes(ds, layer).n_units  # fmt: skip
    blocks = {b: w for b, w in result_schema.weights(ds).items() if b != "signal"}
    names = [f"layer{layer + 1}", f"w{layer + 1}", *blocks]
    from neurosig.analyses.weights import outgoing_signs  # the rule of the card's Dale row

    for name in names:
        w = blocks.get(name)
        if w is not None and w.shape[1] == n_units:
            return np.array([CELL_TYPES.get(s, "unknown") for s in outgoing_signs(w)])
    return np.full(n_units, "unknown")


def _spiking_layers(ds: xr.Dataset, initial: bool) -> list[int]:
    found = [layer for layer in result_schema.layers(ds)
             if result_schema.has_spikes(ds, layer, initial=initial)]  # fmt: skip
    if not found:
        how = ("LIF runs keep them before training with train.record_every_epoch = true"
               if initial else "LIF runs record them with train.record_samples > 0")  # fmt: skip
        what = "before training " if initial else ""
        raise DataError(
            f"the Result ({ds.attrs.get('name', '?')}, model {ds.attrs.get('model', '?')!r}) "
            f"has no spike trains {what}to export: rate networks have no spikes, and {how}"
        )
    return found


def to_neo(ds: xr.Dataset, *, initial: bool = False) -> Any:
    """The recorded spike trains of a Result as a ``neo.Block``.

    Parameters
    ----------
    ds : xarray.Dataset
        A Result of a spiking model with recorded samples.
    initial : bool
        The recording made before training (runs with ``train.record_every_epoch = true``).

    Returns
    -------
    neo.Block
        One ``Segment`` per recorded test sample (annotations ``sample``, ``label``,
        ``split``), holding one ``SpikeTrain`` per hidden unit of every spiking layer: times in
        s from the sample's onset, ``t_start``/``t_stop`` the recorded window, annotations
        ``layer``, ``unit_index``, ``cell_type`` and ``stream``. The Block's annotations name
        the Result (experiment, model, seed, neurosig version, commit).

    Raises
    ------
    DataError
        The Result has no spike trains.

    Examples
    --------
    >>> block = to_neo(load_result("lif.nc"))  # doctest: +SKIP
    >>> import elephant.statistics
    >>> elephant.statistics.mean_firing_rate(block.segments[0].spiketrains[0])  # doctest: +SKIP
    array(20.) * Hz
    """
    try:
        import neo
        import quantities as pq
    except ImportError:
        raise DataError(
            "to_neo needs Neo: pip install 'neurosig[exchange]' (or pip install neo)"
        ) from None

    layers = _spiking_layers(ds, initial)
    labels = result_schema.labels(ds)
    block = neo.Block(
        name=str(ds.attrs.get("name", "neurosig result")),
        description="spike trains recorded by neurosig (one segment per test sample)",
        **_annotations(ds, initial),
    )
    records = {layer: result_schema.spikes(ds, layer, initial=initial) for layer in layers}
    types = {layer: cell_types(ds, layer) for layer in layers}
    n_samples = min(rec.n_samples for rec in records.values())
    for sample in range(n_samples):
        segment = neo.Segment(
            name=f"sample {sample}", sample=sample, label=int(labels[sample]), split="test"
        )
        for layer, rec in records.items():
            mine = rec.sample == sample
            units, times = rec.unit[mine], rec.time[mine]
            order = np.lexsort((times, units))
            units, times = units[order], times[order]
            bounds = np.searchsorted(units, np.arange(rec.n_units + 1))
            for unit in range(rec.n_units):
                train = neo.SpikeTrain(
                    times[bounds[unit] : bounds[unit + 1]],
                    units=pq.s,
                    t_start=rec.t_start,
                    t_stop=rec.t_stop,
                    name=f"layer {layer} unit {unit}",
                    layer=layer,
                    unit_index=unit,
                    cell_type=str(types[layer][unit]),
                    stream="data",
                )
                train.segment = segment
                segment.spiketrains.append(train)
        segment.block = block
        block.segments.append(segment)
    return block


def _annotations(ds: xr.Dataset, initial: bool) -> dict[str, Any]:
    keys = ("name", "model", "dataset", "seed", "neurosig_version", "git_commit", "brian2_version")
    out = {f"neurosig_{k}" if k in ("name", "model") else k: ds.attrs[k]
           for k in keys if k in ds.attrs}  # fmt: skip
    out["recording"] = "before training" if initial else "after training"
    return {k: (int(v) if isinstance(v, np.integer) else v) for k, v in out.items()}


# --------------------------------------------------------------------------------------------
# NWB
# --------------------------------------------------------------------------------------------


def _identifier(ds: xr.Dataset) -> str:
    """A stable identifier: the same Result gives the same file identifier."""
    text = "|".join(str(ds.attrs.get(k, "")) for k in ("name", "seed", "created", "git_commit"))
    return "neurosig-" + hashlib.sha256(text.encode()).hexdigest()[:32]


def _start_time(ds: xr.Dataset) -> dt.datetime:
    """When the Result was made (its ``created`` attribute, UTC), else the Unix epoch."""
    created = str(ds.attrs.get("created", ""))
    try:
        when = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _window(ds: xr.Dataset, layers: Sequence[int]) -> tuple[int, float]:
    """(samples, seconds per sample) of the recording: spikes' window, else the presentation."""
    if layers:
        recs = [result_schema.spikes(ds, layer) for layer in layers]
        return min(r.n_samples for r in recs), max(r.t_stop for r in recs)
    exp = result_schema.experiment(ds)
    presentation = getattr(exp.params, "presentation", None)
    seconds = float(presentation) * 1e-3 if presentation else 1.0
    return ds.sizes.get("sample", 0), seconds


def write_nwb(ds: xr.Dataset, path: str | Path, *, compression: bool = True) -> Path:
    """Write the recordings of a Result as one NWB file (see the module docstring).

    Parameters
    ----------
    ds : xarray.Dataset
        A Result with recorded samples (spiking or rate model).
    path : path
        The ``.nwb`` file, written atomically (a killed write leaves no partial file).
    compression : bool
        gzip the large datasets (spike times, traces, weights).

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    DataError
        The Result recorded no samples (nothing to export).
    """
    try:
        from hdmf.backends.hdf5.h5_utils import H5DataIO
        from pynwb import NWBHDF5IO, NWBFile, TimeSeries
        from pynwb.file import ProcessingModule
    except ImportError:
        raise DataError(
            "NWB export needs pynwb: pip install 'neurosig[exchange]' (or pip install pynwb)"
        ) from None

    from neurosig.atomic import write_atomic

    def data(array: np.ndarray) -> Any:
        return H5DataIO(array, compression="gzip") if compression and array.size > 1000 else array

    layers = [layer for layer in result_schema.layers(ds) if result_schema.has_spikes(ds, layer)]
    if "sample" not in ds.sizes or ds.sizes["sample"] == 0:
        raise DataError(
            f"the Result ({ds.attrs.get('name', '?')}) recorded no samples: train with "
            "train.record_samples > 0 to export its activity"
        )
    n_samples, window = _window(ds, layers)
    model = str(ds.attrs.get("model", "?"))
    nwb = NWBFile(
        session_description=(
            f"neurosig simulation: experiment {ds.attrs.get('name', '?')}, model {model}, data "
            f"{ds.attrs.get('dataset', '?')}, seed {ds.attrs.get('seed', '?')}; the recorded test "
            f"samples presented one after another, {window:g} s each"
        ),
        identifier=_identifier(ds),
        session_start_time=_start_time(ds),
        experiment_description=(
            "A network trained with signal propagation (forward-only learning) or a baseline "
            "rule in neurosig; no animal was involved: every signal here is simulated."
        ),
        notes=str(ds.attrs.get("config", "")),
        source_script=f"neurosig {ds.attrs.get('neurosig_version', '?')} "
        f"(commit {ds.attrs.get('git_commit', '?')})",
        source_script_file_name="neurosig",
        data_collection=f"simulated with {_simulator(ds)}",
        keywords=["simulation", "signal propagation", "forward-only learning", model],
    )
    nwb.subject = _subject(ds)
    nwb.create_device(
        name="simulator",
        description=f"{_simulator(ds)} driven by neurosig: a computer simulation, not a "
        "recording device",
    )
    labels = result_schema.labels(ds)
    nwb.add_trial_column("sample", "index of the recorded test sample")
    nwb.add_trial_column("label", "true class of the sample")
    nwb.add_trial_column("split", "data split the sample comes from")
    rates = _rate_layers(ds)
    for layer in rates:
        nwb.add_trial_column(
            f"activity_layer{layer}",
            f"activity of each unit of hidden layer {layer} at the end of the presentation "
            "(dimensionless rate units of the model; one row per presentation)",
        )
    activity = {layer: np.asarray(result_schema.activity(ds, layer).values, dtype=np.float32)
                for layer in rates}  # fmt: skip
    for k in range(n_samples):
        nwb.add_trial(start_time=k * window, stop_time=(k + 1) * window, sample=k,
                      label=int(labels[k]), split="test",
                      **{f"activity_layer{n}": a[k] for n, a in activity.items()})  # fmt: skip
    if layers:
        _add_units(nwb, ds, layers, window)
    _add_series(nwb, ds, n_samples, window, data, TimeSeries)
    network = ProcessingModule(
        name="network", description="learned weights of the simulated network (post, pre)"
    )
    nwb.add_processing_module(network)
    _add_weights(network, ds, data)

    def write(tmp: Path) -> None:
        with warnings.catch_warnings():  # the temporary sibling's name does not end in .nwb
            warnings.filterwarnings("ignore", message=".*does not end in '.nwb'")
            with NWBHDF5IO(str(tmp), "w") as io:
                io.write(nwb)

    return write_atomic(path, write)


SYNTHETIC_CONSTRUCT = "http://purl.obolibrary.org/obo/NCBITaxon_32630"
"""NCBI taxonomy's "synthetic construct": the species of a simulated network (no animal)."""


def _subject(ds: xr.Dataset) -> Any:
    """The simulated network as the file's subject: no animal, said in every field that can.

    Its date of birth is the network's initialisation (the Result's creation time less its
    training time); its sex is "O" (other: not applicable); its species NCBI's "synthetic
    construct".
    """
    from pynwb.file import Subject

    trained = float(np.nansum(ds["epoch_time"].values)) if "epoch_time" in ds else 0.0
    return Subject(
        subject_id=f"{ds.attrs.get('name', 'network')}-seed{ds.attrs.get('seed', 0)}",
        description=f"not an animal: a simulated {ds.attrs.get('model', '?')} network trained by "
        "neurosig (sex 'O' and species 'synthetic construct' for that reason)",
        species=SYNTHETIC_CONSTRUCT,
        sex="O",
        date_of_birth=_start_time(ds) - dt.timedelta(seconds=trained),
    )


def _rate_layers(ds: xr.Dataset) -> list[int]:
    """Hidden layers with recorded activity and no spikes (rate networks)."""
    return [layer for layer in result_schema.layers(ds)
            if result_schema.has_activity(ds, layer)
            and not result_schema.has_spikes(ds, layer)]  # fmt: skip


def _simulator(ds: xr.Dataset) -> str:
    brian = ds.attrs.get("brian2_version")
    return f"Brian2 {brian}" if brian else "numpy (neurosig)"


def _add_units(nwb: Any, ds: xr.Dataset, layers: Sequence[int], window: float) -> None:
    """One Units row per hidden unit of every spiking layer, spikes on the file's timeline;
    the table's resolution is the simulation's time step (spike times are multiples of it)."""
    from pynwb.misc import Units

    steps = [result_schema.spikes(ds, layer).resolution for layer in layers]
    if not all(np.isfinite(steps)):  # a Result of neurosig <= 0.5: the model's time step
        steps = [float(getattr(result_schema.experiment(ds).params, "dt", np.nan)) * 1e-3]
    resolution = max(steps) if all(np.isfinite(steps)) else None
    nwb.units = Units(
        name="units",
        description="simulated hidden units; spike times of the recorded test samples",
        resolution=resolution,
    )
    nwb.add_unit_column("layer", "hidden layer (1 = nearest the input)")
    nwb.add_unit_column("unit_index", "index of the unit in its layer")
    nwb.add_unit_column(
        "cell_type", "excitatory, inhibitory or mixed: signs of its outgoing weights"
    )
    nwb.add_unit_column(
        "stream", "which stream the spikes belong to (data; the target is not recorded)"
    )
    for layer in layers:
        rec = result_schema.spikes(ds, layer)
        types = cell_types(ds, layer)
        times = rec.time + rec.sample * window  # onto the file's single timeline
        order = np.lexsort((times, rec.unit))
        units, times = rec.unit[order], times[order]
        bounds = np.searchsorted(units, np.arange(rec.n_units + 1))
        for unit in range(rec.n_units):
            nwb.add_unit(
                spike_times=times[bounds[unit] : bounds[unit + 1]],
                obs_intervals=[[0.0, rec.n_samples * window]],
                layer=layer,
                unit_index=unit,
                cell_type=str(types[unit]),
                stream="data",
            )


def _add_series(nwb: Any, ds: xr.Dataset, n_samples: int, window: float, data, TimeSeries) -> None:
    """Membrane traces of spiking layers (V): regular series by ``starting_time`` and
    ``rate``, windows with gaps by timestamps."""
    for layer in result_schema.layers(ds):
        if result_schema.has_traces(ds, layer):
            tr = result_schema.traces(ds, layer)
            values = tr.values[:n_samples]  # (sample, unit, step)
            scale = {"mV": 1e-3, "V": 1.0}.get(tr.units)
            if scale is None:
                raise DataError(f"layer {layer}: traces in {tr.units!r}; expected mV or V")
            steps = values.shape[-1]
            timing: dict[str, Any] = {"starting_time": 0.0, "rate": 1.0 / tr.dt}
            if not np.isclose(steps * tr.dt, window):  # windows with gaps: stamp every step
                stamps = np.arange(values.shape[0])[:, None] * window + np.arange(steps) * tr.dt
                timing = {"timestamps": data(stamps.ravel())}
            series = values.transpose(0, 2, 1).reshape(-1, values.shape[1])
            nwb.add_acquisition(TimeSeries(
                name=f"membrane_potential_layer{layer}",
                description=f"{tr.long_name} of the first {values.shape[1]} units of hidden "
                f"layer {layer} (columns), every {tr.dt:g} s from each sample's onset",
                data=data(np.ascontiguousarray(series, dtype=np.float32)),
                unit="volts", conversion=scale, **timing,
            ))  # fmt: skip


def _add_weights(module: Any, ds: xr.Dataset, data) -> None:
    from hdmf.common import DynamicTable, VectorData

    for block, w in result_schema.weights(ds).items():
        values = np.asarray(w.values, dtype=np.float32)
        module.add(DynamicTable(
            name=f"weights_{block}",
            description=f"weight block {block!r}: one row per postsynaptic unit, the column "
            f"'weight' holds its {values.shape[1]} incoming weights (presynaptic order)",
            columns=[VectorData(name="weight", description="incoming weights of the unit",
                                data=data(values))],
        ))  # fmt: skip
