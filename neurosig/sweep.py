"""Parameter sweeps: one declaration, one resumable store, local processes or a dask cluster.

A *sweep* is a base experiment, a grid (outer product) or a list of points over any of its
fields, and a number of seeds. Declared in TOML::

    name = "lr-by-loss"
    base = "sp-core-digits"          # preset, model name or experiment TOML (or a [base] table)
    seeds = 2                        # seed index 0..seeds-1
    root_seed = 0

    [set]                            # changes to the base, the same for every point
    train_epochs = 5

    [grid]                           # one dimension per field; or [[points]] tables instead
    model_loss = ["per_class", "topk"]
    lr = [1e-3, 3e-3]                # bare names are looked up in model, data, train
    # delay = ["0 ms", "2 ms"]       # unit fields take strings with units

or in Python: ``Sweep(base=load_experiment("sp-core-digits"), grid={"model_lr": [1e-3, 3e-3]},
seeds=3)``. Field names are those of :meth:`neurosig.config.Experiment.replace`
(``model_lr``, ``train_epochs``, ``data_name``; ``model.lr`` works too) or bare names when
they are unique; each field's dimension is named as written (a bare name that is also a
variable of the store, such as ``loss``, gets its prefix: ``model_loss``).

Seeds are paired: seed index ``s`` trains with the same ``train.seed`` at every grid point,
``SeedSequence(root_seed, spawn_key=(s,)).generate_state(1)[0]`` (or ``train_seeds[s]`` with
``train_seeds = [0, 1, 2]``; ``seeds`` is then their number). Two conditions thus differ only
in their fields, not in their seed streams (initialisation, data order, noise), and
:func:`paired_differences` compares them seed by seed. A point's numbers depend neither on the
executor nor on the order of execution. (Up to neurosig 0.2.0 every grid point had its own
seeds; such a store is refused by :func:`open_store` and has no paired differences.)

The store (:func:`run_sweep`) is a zarr v3 group written by the driver alone; every per-point
array has the dimensions ``(*fields, seed, ...)`` (``(point, seed, ...)`` for a list) and one
chunk per point. A point's metrics and its full Result (``results/<n>.nc``) are written first,
its ``status`` chunk (the done flag) last, each file atomically: a killed driver leaves a
readable store, and the next run computes only the points whose flag is not "done" (failed
points are retried). A store holding a different sweep is refused, and so is resuming a Brian2
sweep with other C++ flags (``--reproducible``, :mod:`neurosig.brian`) than it was started with.

:func:`export_sweep` adds the paired differences of the final test and validation accuracy of
every condition to a reference condition, with bootstrap confidence intervals over seeds.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import difflib
import hashlib
import json
import os
import shutil
import signal
import sys
import time
import tomllib
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w
import xarray as xr
import zarr

from neurosig import interrupts
from neurosig.atomic import reclaim_temporaries, temporary_sibling
from neurosig.brian import (
    FAST_FLAGS,
    REPRODUCIBLE_ENV,
    REPRODUCIBLE_FLAGS,
    compiler_flags,
    reproducible,
)
from neurosig.config import (
    Experiment,
    experiment_declaration,
    experiment_from_dict,
    experiment_from_toml,
    read_toml,
)
from neurosig.errors import ConfigError, NeurosigError
from neurosig.paired import paired_differences
from neurosig.registry import get_model
from neurosig.results import (
    EPOCH_METRICS,
    accuracy,
    epoch_metrics,
    load_result,
    primary_readout,
    provenance,
    save_result,
)
from neurosig.threads import child_blas_threads

PENDING, DONE, FAILED = 0, 1, 2
STATUS_NAMES = {PENDING: "pending", DONE: "done", FAILED: "failed"}
_GROUPS = {"model": "params", "data": "data", "train": "train"}
_SWEEP_KEYS = (
    "name",
    "description",
    "base",
    "seeds",
    "root_seed",
    "train_seeds",
    "set",
    "grid",
    "points",
)
_TIMING = ("wall_time", "samples_per_second", "epoch_time")  # differ between identical runs
# names of the store's own variables and dimensions: a swept field named like one of them
# (``loss``) gets its prefixed name as its dimension (``model_loss``)
_RESERVED = {
    *EPOCH_METRICS,  # per-epoch metrics copied from each point's Result
    *("seed", "point", "epoch", "split", "readout", "layer", "status", "error", "train_seed"),
    *("wall_time", "final_accuracy", "test_accuracy", "results"),
    *("metric", "bound", "paired_difference", "mean_difference", "difference_ci"),
    "n_paired_seeds",
}


# --------------------------------------------------------------------------------------------
# Declaration
# --------------------------------------------------------------------------------------------


def _field_names(base: Experiment) -> dict[str, str]:
    """Every sweepable field: ``model_lr`` etc. -> group attribute (``params``, ``data``...)."""
    out = {}
    for prefix, attr in _GROUPS.items():
        for f in dataclasses.fields(getattr(base, attr)):
            out[f"{prefix}_{f.name}"] = attr
    return out


def resolve_field(key: str, base: Experiment) -> str:
    """The :meth:`Experiment.replace` name of a swept field (``"delay"`` -> ``"model_delay"``).

    Raises :class:`ConfigError` for an unknown, ambiguous or reserved name.
    """
    known = _field_names(base)
    name = key.replace(".", "_", 1)
    if name not in known:
        matches = [k for k in known if k.split("_", 1)[1] == name]
        if len(matches) > 1:
            raise ConfigError(
                f"sweep field {key!r} is ambiguous: write one of {', '.join(matches)}"
            )
        if not matches:
            bare = sorted({k.split("_", 1)[1] for k in known})
            hint = difflib.get_close_matches(key, [*known, *bare], n=1)
            raise ConfigError(
                f"sweep field {key!r}: unknown field of model {base.model!r}."
                f"{f' Did you mean {hint[0]!r}?' if hint else ''} "
                "Use model_*, data_* or train_* names (`neurosig models --describe "
                f"{base.model}` lists the model's)"
            )
        name = matches[0]
    if name == "train_seed":
        raise ConfigError(
            f"sweep field {key!r}: seeds come from the sweep itself; set seeds = N (and "
            "root_seed) instead of sweeping train.seed"
        )
    return name


def _plain(value: Any) -> Any:
    """numpy scalars and tuples -> plain TOML-ready Python values."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class Job:
    """One point of a sweep: grid point ``point`` (flat index), seed index ``seed``."""

    point: int
    seed: int
    index: tuple[int, ...]  # position in the store's arrays: (*grid index, seed)
    number: int  # point * seeds + seed: the name of its Result file
    experiment: Experiment


@dataclass(frozen=True)
class Sweep:
    """A base experiment x a grid (or a list of points) of field values x seeds.

    Parameters
    ----------
    base : Experiment
        What every point starts from.
    grid : mapping field -> values, optional
        The outer product of these values (one dimension per field, in this order).
    points : sequence of mappings field -> value, optional
        Explicit points instead of a grid (all must set the same fields); dimension ``point``.
    seeds : int
        Seeds per point (dimension ``seed``); seed index ``s`` trains with the same
        ``train.seed`` at every point (paired).
    root_seed : int
        Root of the seeds (see the module docstring).
    name, description : str
        Labels stored with the results.
    train_seeds : sequence of int, optional
        The ``train.seed`` of each seed index instead of seeds drawn from ``root_seed``;
        ``seeds`` becomes its length.
    fastest_target : bool
        Run every point of a model with equivalent simulator targets
        (:attr:`neurosig.modelspec.ModelSpec.equivalent_targets`; the rate model: its numpy
        integrator and Brian2) on the fastest of them, unless the points sweep the target.
        :func:`sweep_from_dict` sets it to False when the declaration names ``model.target``
        (in the base, ``[set]``, the grid or the points); give ``fastest_target=False`` to keep
        the base's target from Python.

    Examples
    --------
    >>> from neurosig.config import load_experiment
    >>> s = Sweep(load_experiment("sp-core-digits"), grid={"lr": [1e-3, 3e-3]}, seeds=2)
    >>> s.shape, s.dims
    ((2, 2), ('lr', 'seed'))
    """

    base: Experiment
    grid: Mapping[str, Sequence[Any]] | None = None
    points: Sequence[Mapping[str, Any]] | None = None
    seeds: int = 1
    root_seed: int = 0
    name: str = "sweep"
    description: str = ""
    train_seeds: Sequence[int] | None = None
    fastest_target: bool = True

    def __post_init__(self) -> None:
        if (self.grid is None) == (self.points is None):
            raise ConfigError(f"sweep {self.name!r}: give either a grid or a list of points")
        if isinstance(self.seeds, bool) or not isinstance(self.seeds, int) or self.seeds < 1:
            raise ConfigError(
                f"sweep {self.name!r}: seeds = {self.seeds!r}: give a whole number >= 1"
            )
        if (
            isinstance(self.root_seed, bool)
            or not isinstance(self.root_seed, int)
            or not 0 <= self.root_seed < 2**63
        ):
            raise ConfigError(
                f"sweep {self.name!r}: root_seed = {self.root_seed!r}: give a whole number >= 0"
            )
        if self.train_seeds is not None:
            given = self.train_seeds
            if (
                isinstance(given, str | Mapping)
                or not isinstance(given, Sequence)
                or not given
                or any(isinstance(s, bool) or not isinstance(s, int | np.integer) for s in given)
                or not all(0 <= s < 2**32 for s in given)
                or len(set(given)) < len(given)
                or self.seeds not in (1, len(given))
            ):
                raise ConfigError(
                    f"sweep {self.name!r}: train_seeds = {given!r}: give a list of different "
                    f"whole numbers in [0, 2**32) (seeds = {self.seeds} is then their number)"
                )
            object.__setattr__(self, "train_seeds", tuple(int(s) for s in given))
            object.__setattr__(self, "seeds", len(given))
        if self.grid is not None:
            if not isinstance(self.grid, Mapping) or not self.grid:
                raise ConfigError(
                    f"sweep {self.name!r}: the grid is empty; give at least one field, e.g. "
                    "[grid] model_lr = [1e-3, 1e-2]"
                )
            grid = {}
            for key, values in self.grid.items():
                if isinstance(values, str) or not isinstance(values, Sequence) or not values:
                    raise ConfigError(
                        f"sweep {self.name!r}: grid.{key} = {values!r}: give a non-empty list "
                        f"of values, e.g. {key} = [{values!r}]"
                    )
                grid[self._dim_name(key)] = tuple(_plain(v) for v in values)
            object.__setattr__(self, "grid", grid)
        else:
            if isinstance(self.points, Mapping) or not self.points:
                raise ConfigError(
                    f"sweep {self.name!r}: the list of points is empty; give [[points]] tables"
                )
            for i, p in enumerate(self.points):
                if not isinstance(p, Mapping) or not p:
                    raise ConfigError(
                        f"sweep {self.name!r}: points[{i}] = {p!r}: give a table of field = value"
                    )
            pts = tuple({self._dim_name(k): _plain(v) for k, v in p.items()} for p in self.points)
            keys = list(pts[0])
            for i, p in enumerate(pts):
                if list(p) != keys:
                    raise ConfigError(
                        f"sweep {self.name!r}: points[{i}] sets {sorted(p)}, points[0] sets "
                        f"{keys}: every point must set the same fields (in the same order)"
                    )
            object.__setattr__(self, "points", pts)
        if self.chooses_target:
            fastest = get_model(self.base.model).equivalent_targets[0]
            object.__setattr__(self, "base", self.base.replace(model_target=fastest))
        self.coordinates()  # validates every point now, not on a worker

    @property
    def chooses_target(self) -> bool:
        """Whether neurosig picks the simulator target of the points (``fastest_target``, a
        model with equivalent targets, the base on one of them and the target not swept)."""
        targets = get_model(self.base.model).equivalent_targets
        return (
            self.fastest_target
            and bool(targets)  # then the model's config has a target field
            and self.base.params.target in targets
            and "model_target" not in self.fields
        )

    def _dim_name(self, key: str) -> str:
        """The dimension of a swept field: its name as written (``lr``, ``model_lr``;
        ``model.lr`` -> ``model_lr``), prefixed where it would clash with the store's own
        variables (``loss`` -> ``model_loss``)."""
        key = key.replace(".", "_", 1)
        return resolve_field(key, self.base) if key in _RESERVED else key

    # -- shape -------------------------------------------------------------------------------
    @property
    def keys(self) -> tuple[str, ...]:
        """The swept fields as written by the user."""
        return tuple(self.grid) if self.grid is not None else tuple(self.points[0])

    @cached_property
    def fields(self) -> tuple[str, ...]:
        """The swept fields as :meth:`Experiment.replace` names (``model_lr``)."""
        fields = tuple(resolve_field(k, self.base) for k in self.keys)
        dup = {f for f in fields if fields.count(f) > 1}
        if dup:
            raise ConfigError(f"sweep {self.name!r}: field {dup.pop()} is swept twice")
        return fields

    @property
    def dims(self) -> tuple[str, ...]:
        """Dimensions of the store's per-point arrays."""
        return (*self.keys, "seed") if self.grid is not None else ("point", "seed")

    @property
    def shape(self) -> tuple[int, ...]:
        if self.grid is not None:
            return (*(len(v) for v in self.grid.values()), self.seeds)
        return (len(self.points), self.seeds)

    @property
    def n_points(self) -> int:
        """Grid points times seeds."""
        return int(np.prod(self.shape))

    # -- points ------------------------------------------------------------------------------
    def _settings(self) -> list[dict[str, Any]]:
        if self.grid is not None:
            values = list(self.grid.values())
            return [
                {f: values[d][i[d]] for d, f in enumerate(self.fields)}
                for i in np.ndindex(*self.shape[:-1])
            ]
        return [dict(zip(self.fields, p.values(), strict=True)) for p in self.points]

    @cached_property
    def experiments(self) -> tuple[Experiment, ...]:
        """The resolved experiment of each grid point (before its seed is set)."""
        out = []
        for i, changes in enumerate(self._settings()):
            try:
                out.append(self.base.replace(**changes))
            except ConfigError as err:
                where = ", ".join(f"{k} = {v!r}" for k, v in changes.items())
                raise ConfigError(f"sweep {self.name!r}, point {i} ({where}): {err}") from None
        return tuple(out)

    def train_seed(self, seed: int) -> int:
        """The ``train.seed`` of seed index ``seed``, the same at every grid point."""
        if self.train_seeds is not None:
            return self.train_seeds[seed]
        ss = np.random.SeedSequence(self.root_seed, spawn_key=(seed,))
        return int(ss.generate_state(1)[0])

    def jobs(self) -> list[Job]:
        """Every point x seed, with its store index and its seeded experiment."""
        grid_shape = self.shape[:-1]
        out = []
        for p, exp in enumerate(self.experiments):
            where = np.unravel_index(p, grid_shape)
            for s in range(self.seeds):
                out.append(
                    Job(
                        point=p,
                        seed=s,
                        index=(*(int(w) for w in where), s),
                        number=p * self.seeds + s,
                        experiment=exp.replace(train_seed=self.train_seed(s)),
                    )
                )
        return out

    def coordinates(self) -> dict[str, tuple[tuple[str, ...], list[Any], dict[str, str]]]:
        """Coordinate arrays: name -> (dims, values, attrs); values as resolved (units: floats)."""
        coords: dict[str, tuple[tuple[str, ...], list[Any], dict[str, str]]] = {}
        exps = self.experiments
        for d, (key, field) in enumerate(zip(self.keys, self.fields, strict=True)):
            prefix, name = field.split("_", 1)
            meta = next(
                f.metadata
                for f in dataclasses.fields(getattr(exps[0], _GROUPS[prefix]))
                if f.name == name
            )
            attrs = {"field": f"{prefix}.{name}", "long_name": meta.get("doc", "")}
            if meta.get("unit"):
                attrs["units"] = meta["unit"]

            def value(exp: Experiment, prefix: str = prefix, name: str = name) -> Any:
                v = getattr(getattr(exp, _GROUPS[prefix]), name)
                return str(list(v)) if isinstance(v, tuple) else ("" if v is None else v)

            if self.grid is not None:
                stride = int(np.prod(self.shape[d + 1 : -1], dtype=int))
                values = [value(exps[i * stride]) for i in range(self.shape[d])]
                if len(set(values)) < len(values):
                    raise ConfigError(
                        f"sweep {self.name!r}: grid.{key} = {list(self.grid[key])!r} repeats a "
                        "value (after unit conversion); give each value once"
                    )
                coords[key] = ((key,), values, attrs)
            else:
                coords[key] = (("point",), [value(e) for e in exps], attrs)
        if self.points is not None:
            coords["point"] = (("point",), list(range(len(self.points))), {})
        coords["seed"] = (("seed",), list(range(self.seeds)), {"long_name": "seed index"})
        return coords

    # -- identity and TOML -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """TOML-ready declaration (the base fully resolved)."""
        out: dict[str, Any] = {"name": self.name}
        if self.description:
            out["description"] = self.description
        out.update(seeds=self.seeds, root_seed=self.root_seed, base=self.base.to_dict())
        if self.train_seeds is not None:
            out["train_seeds"] = list(self.train_seeds)
        if self.grid is not None:
            out["grid"] = {k: list(v) for k, v in self.grid.items()}
        else:
            out["points"] = [dict(p) for p in self.points]
        return out

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())

    @cached_property
    def spec_hash(self) -> str:
        """Hash of what the sweep computes: resolved point experiments, dims, seeds."""
        what = {
            "dims": self.dims,
            "shape": self.shape,
            "root_seed": self.root_seed,
            "experiments": [e.to_toml() for e in self.experiments],
            # the seeds themselves: a store of unpaired seeds (0.2.0 and older) never matches
            "train_seeds": [self.train_seed(s) for s in range(self.seeds)],
        }
        return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def uses_brian(self) -> bool:
        """True for simulator (Brian2) models: one program per process, one thread per worker."""
        return get_model(self.base.model).equations is not None


def sweep_from_dict(
    d: Mapping[str, Any], source: str = "<dict>", folder: Path | None = None
) -> Sweep:
    """A :class:`Sweep` from a parsed TOML document (see the module docstring)."""
    for key in d:
        if key not in _SWEEP_KEYS:
            hint = difflib.get_close_matches(key, _SWEEP_KEYS, n=1)
            raise ConfigError(
                f"{source}: unknown key {key!r}.{f' Did you mean {hint[0]!r}?' if hint else ''}"
                f" Valid keys: {', '.join(_SWEEP_KEYS)}"
            )
    base = d.get("base")
    if isinstance(base, dict):
        declared, where = base, f"{source} [base]"
    elif isinstance(base, str):
        relative = (folder / base) if folder is not None else None
        declared, where = experiment_declaration(
            relative if relative is not None and relative.exists() else base
        )
    else:
        raise ConfigError(
            f'{source}: give the base experiment, e.g. base = "sp-core-digits" (a preset, a '
            "model name or an experiment TOML file) or a [base] table"
        )
    exp = experiment_from_dict(declared, where)
    changes = d.get("set", {})
    if not isinstance(changes, dict):
        raise ConfigError(f"{source}: [set] must be a table of field = value")
    changes = {resolve_field(k, exp): v for k, v in _flatten(changes).items()}
    if changes:
        exp = exp.replace(**changes)
    model = declared.get("model")
    names_target = "model_target" in changes or (isinstance(model, dict) and "target" in model)
    grid, points = d.get("grid"), d.get("points")
    if grid is not None and not isinstance(grid, dict):
        raise ConfigError(f"{source}: [grid] must be a table of field = [values]")
    if points is not None and not isinstance(points, list):
        raise ConfigError(f"{source}: points must be [[points]] tables of field = value")
    return Sweep(
        base=exp,
        grid=_flatten(grid) if grid is not None else None,
        points=[_flatten(p) if isinstance(p, dict) else p for p in points]
        if points is not None
        else None,
        seeds=d.get("seeds", 1),
        root_seed=d.get("root_seed", 0),
        train_seeds=d.get("train_seeds"),
        name=str(d.get("name", Path(source).stem)),
        description=str(d.get("description", "")),
        fastest_target=not names_target,  # the grid or points: Sweep.chooses_target
    )


def _flatten(table: Mapping[str, Any]) -> dict[str, Any]:
    """``{"model": {"lr": [..]}}`` (TOML ``model.lr = [..]``) -> ``{"model_lr": [..]}``."""
    out = {}
    for key, value in table.items():
        if key in _GROUPS and isinstance(value, dict):
            out.update({f"{key}_{k}": v for k, v in value.items()})
        else:
            out[key] = value
    return out


def load_sweep(spec: str | Path | Sweep) -> Sweep:
    """A sweep from a TOML file (or a :class:`Sweep`, returned as it is)."""
    if isinstance(spec, Sweep):
        return spec
    path = Path(spec)
    return sweep_from_dict(read_toml(path), str(path), path.parent)


# --------------------------------------------------------------------------------------------
# Running one point (on a worker)
# --------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What a worker sends back for one point."""

    result: xr.Dataset | None
    error: str
    seconds: float


def run_point(experiment_toml: str) -> Outcome:
    """Train one point; an exception becomes the point's error text (the sweep goes on)."""
    from neurosig.train import train

    start = time.perf_counter()
    try:
        ds = train(experiment_from_toml(experiment_toml, "<sweep point>"), progress=False)
        return Outcome(ds, "", time.perf_counter() - start)
    except Exception as err:  # recorded with the point; the others go on
        if isinstance(err, NeurosigError):
            text = f"{type(err).__name__}: {err}"
        else:
            text = "".join(traceback.format_exception(err))[-4000:]
        return Outcome(None, text, time.perf_counter() - start)


def _run_in_mode(runner: Callable[[str], Outcome], experiment_toml: str, mode: bool) -> Outcome:
    """``runner(experiment_toml)`` in the driver's reproducible mode (a remote worker does not
    share the driver's environment)."""
    os.environ[REPRODUCIBLE_ENV] = "1" if mode else "0"
    return runner(experiment_toml)


# --------------------------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------------------------


def _create_store(path: Path, sweep: Sweep) -> None:
    """Create the store in a temporary folder and rename it into place (never half made).

    The folder is named like the temporary files of :mod:`neurosig.atomic`; a folder left by a
    killed driver is removed by the next one.
    """
    reclaim_temporaries(path)
    tmp = temporary_sibling(path)
    try:
        _fill_store(zarr.open_group(str(tmp), mode="w", zarr_format=3), sweep)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # still there only if something failed


def _fill_store(group, sweep: Sweep) -> None:
    """Write a new store's coordinates, its per-point arrays (all pending) and attributes."""
    for name, (dims, values, attrs) in sweep.coordinates().items():
        arr = np.asarray(values)
        dtype = str if arr.dtype.kind in "UO" else arr.dtype
        a = group.create_array(name, shape=arr.shape, dtype=dtype, dimension_names=dims)
        a[...] = arr
        a.attrs.update(attrs)
    chunks = (1,) * len(sweep.shape)
    for name, dtype, fill, attrs in (
        ("status", "int8", PENDING, {"flag_values": "0 pending, 1 done, 2 failed"}),
        ("train_seed", "uint32", 0, {"long_name": "train.seed of the point"}),
        ("wall_time", "float64", np.nan, {"units": "s", "long_name": "time on the worker"}),
        ("error", str, "", {"long_name": "error text of a failed point"}),
    ):
        a = group.create_array(
            name,
            shape=sweep.shape,
            dtype=dtype,
            chunks=chunks,
            fill_value=fill,
            dimension_names=sweep.dims,
        )
        a.attrs.update(attrs)
    seeds = np.zeros(sweep.shape, dtype="uint32")
    for job in sweep.jobs():
        seeds[job.index] = job.experiment.train.seed
    group["train_seed"][...] = seeds
    group.create_group("results")  # each point's full Result: results/<n>.nc
    group.attrs.update(
        neurosig_sweep=sweep.to_toml(),
        spec_hash=sweep.spec_hash,
        name=sweep.name,
        model=sweep.base.model,
        root_seed=sweep.root_seed,
        seeds=sweep.seeds,
        fields=list(sweep.keys),
        config=sweep.base.to_toml(),
        **provenance(),
    )


def _open_group(path: Path, mode: str = "r"):
    if not (path / "zarr.json").exists():
        raise ConfigError(
            f"{path}: not a sweep store (no zarr.json); run `neurosig sweep run SPEC --store "
            f"{path}` first"
        )
    try:
        group = zarr.open_group(str(path), mode=mode, zarr_format=3)
    except (ValueError, KeyError, TypeError) as err:  # JSONDecodeError is a ValueError
        raise ConfigError(
            f"{path}: a damaged sweep store ({type(err).__name__}: {err}); its points' Results "
            f"are in {path / 'results'}; start a new --store to rerun the sweep"
        ) from None
    if "spec_hash" not in group.attrs:
        raise ConfigError(f"{path}: a zarr store, but not one written by `neurosig sweep run`")
    return group


def open_store(path: str | Path, sweep: Sweep):
    """The store of ``sweep`` at ``path`` (created if missing); another sweep's is refused."""
    path = Path(path)
    if not path.exists() or (path.is_dir() and not any(path.iterdir())):
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            path.rmdir()
        _create_store(path, sweep)
    group = _open_group(path, mode="r+")
    if group.attrs["spec_hash"] != sweep.spec_hash and not _same_declaration(group, sweep):
        if not seeds_paired(group["train_seed"][...]):
            raise ConfigError(
                f"{path} was written by neurosig 0.2.0 or older, which gave every grid point "
                "its own seeds; sweeps now train every point with the same seeds (paired). Give "
                "a new --store, or delete this one to rerun the sweep"
            )
        other = group.attrs.get("name")
        what = (
            f"an earlier declaration of sweep {other!r} (its points, seeds or base changed)"
            if other == sweep.name
            else f"another sweep, {other!r}"
        )
        raise ConfigError(
            f"{path} holds {what}: a store belongs to one sweep (spec "
            f"{group.attrs['spec_hash']}, this one {sweep.spec_hash}). Give a new --store, or "
            "delete this one to start over"
        )
    # stores from before the flags were recorded were built with Brian2's defaults
    flags = str(group.attrs.get("compiler_flags", " ".join(FAST_FLAGS)))
    if sweep.uses_brian and flags != " ".join(compiler_flags()):
        how = "with" if flags == " ".join(REPRODUCIBLE_FLAGS) else "without"
        raise ConfigError(
            f"{path} was run with the C++ flags {flags!r}: resume it {how} --reproducible "
            f"({REPRODUCIBLE_ENV}), so that its points are not a mix of two builds"
        )
    return group


def store_target(path: str | Path, sweep: Sweep) -> Sweep:
    """``sweep`` on the simulator target its store started on.

    A sweep that leaves the target to neurosig (:attr:`Sweep.chooses_target`) runs on the
    model's fastest equivalent target. A store started on another of them (before neurosig
    chose, or by a declaration that named it) resumes on that one: its points are never
    computed by two simulators, as they are never built with two sets of C++ flags."""
    path = Path(path)
    if not sweep.chooses_target or not (path / "zarr.json").exists():
        return sweep
    try:
        text = _open_group(path).attrs["neurosig_sweep"]
        stored = sweep_from_dict(tomllib.loads(text), "the store").base
    except (KeyError, tomllib.TOMLDecodeError, NeurosigError):
        return sweep  # open_store says what is wrong with the store
    was = stored.params.target if stored.model == sweep.base.model else None
    if was == sweep.base.params.target or was not in get_model(stored.model).equivalent_targets:
        return sweep
    return dataclasses.replace(
        sweep, base=sweep.base.replace(model_target=was), fastest_target=False
    )


def _same_declaration(group, sweep: Sweep) -> bool:
    """Whether a store whose hash differs declares ``sweep`` all the same: its declaration, read
    by this version of neurosig, hashes like ``sweep``. So a field added to a config since the
    store was made (its default: the behaviour the store's points were trained with) does not
    orphan the store."""
    try:
        stored = sweep_from_dict(tomllib.loads(group.attrs["neurosig_sweep"]), "the store")
    except (KeyError, tomllib.TOMLDecodeError, NeurosigError):
        return False
    if stored.spec_hash != sweep.spec_hash:
        return False
    seeds = np.zeros(sweep.shape, dtype="uint32")  # and its points were trained with its seeds
    for job in sweep.jobs():
        seeds[job.index] = job.experiment.train.seed
    return bool(np.array_equal(group["train_seed"][...], seeds))


def seeds_paired(train_seed: np.ndarray) -> bool:
    """Whether every grid point of a store's ``train_seed`` array (grid dims..., seed) trained
    seed index ``s`` with the same ``train.seed``."""
    seeds = train_seed.reshape(-1, train_seed.shape[-1])
    return bool((seeds == seeds[0]).all())


def _ensure_metric_arrays(group, sweep: Sweep, ds: xr.Dataset) -> None:
    """Create the per-epoch arrays at the first finished point (their coordinates come from its
    Result: readouts, layers); idempotent, so a kill between two creations is harmless."""
    n_epochs = max(e.train.epochs for e in sweep.experiments)
    coords = {
        "epoch": np.arange(1, n_epochs + 1),
        "split": np.asarray(ds.split.values, dtype=str),
        "readout": np.asarray(ds.readout.values, dtype=str),
        "layer": np.asarray(ds.layer.values, dtype=str),
    }
    for name, values in coords.items():
        if name not in group:
            a = group.create_array(
                name,
                shape=values.shape,
                dtype=str if values.dtype.kind == "U" else values.dtype,
                dimension_names=(name,),
            )
            a[...] = values
    sizes = {name: group[name].shape[0] for name in coords}
    chunks = (1,) * len(sweep.shape)
    spec = {**EPOCH_METRICS, "final_accuracy": ("split", "readout")}
    metrics = epoch_metrics(ds)
    for name, trailing in spec.items():
        if name in group:
            continue
        attrs = dict(metrics[name].attrs) if name in metrics else {"units": "1"}
        if name == "final_accuracy":
            attrs["long_name"] = "fraction correct after the last epoch"
        shape = (*sweep.shape, *(sizes[d] for d in trailing))
        a = group.create_array(
            name,
            shape=shape,
            dtype="float64",
            chunks=(*chunks, *shape[len(chunks) :]),
            fill_value=np.nan,
            dimension_names=(*sweep.dims, *trailing),
        )
        a.attrs.update({k: str(v) for k, v in attrs.items()})
    if "primary_readout" not in group.attrs:
        group.attrs.update(primary_readout=primary_readout(ds))


def _write_point(group, path: Path, sweep: Sweep, job: Job, outcome: Outcome) -> int:
    """Write one point: data first, then its status flag. Returns the status."""
    ds = outcome.result
    status = FAILED
    if ds is not None:
        _ensure_metric_arrays(group, sweep, ds)
        readouts = [str(r) for r in group["readout"][...]]
        layers = [str(r) for r in group["layer"][...]]
        splits = [str(r) for r in group["split"][...]]
        n_epochs = group["epoch"].shape[0]
        aligned = epoch_metrics(ds).reindex(readout=readouts, layer=layers, split=splits)
        aligned = aligned.reindex(epoch=np.arange(1, n_epochs + 1))
        for name, trailing in EPOCH_METRICS.items():
            group[name][job.index] = aligned[name].transpose(*trailing).values
        last = accuracy(ds).isel(epoch=-1).reindex(readout=readouts, split=splits)
        group["final_accuracy"][job.index] = last.transpose("split", "readout").values
        save_result(ds, path / "results" / f"{job.number}.nc")
        status = DONE
    group["error"][job.index] = outcome.error
    group["wall_time"][job.index] = outcome.seconds
    group["status"][job.index] = status  # the done flag: last
    return status


# --------------------------------------------------------------------------------------------
# Executors
# --------------------------------------------------------------------------------------------


def _import_brian2_plugin():
    from distributed import WorkerPlugin

    class ImportBrian2(WorkerPlugin):
        """Imports Brian2 on the worker's main thread (importing it first in a task thread
        fails: Brian2 installs a signal handler, which only the main thread may do)."""

        name = "neurosig-import-brian2"

        def setup(self, worker) -> None:
            import threading

            import brian2  # noqa: F401

            worker.neurosig_brian2_main_thread = threading.current_thread() is (
                threading.main_thread()
            )

    return ImportBrian2()


def _dask_executor(client, brian: bool) -> cf.Executor:
    client.register_plugin(_import_brian2_plugin())
    if brian:
        many = {w: n for w, n in client.nthreads().items() if n > 1}
        if many:
            raise ConfigError(
                f"dask workers {', '.join(many)} run {max(many.values())} threads: a Brian2 "
                "model keeps one program per process, so start the workers with --nthreads 1"
            )
    return client.get_executor(pure=False)


def _check_executor(spec: Any) -> None:
    """Refuse an unknown executor before anything runs."""
    if isinstance(spec, str) and not (
        spec in ("local", "dask", "slurm") or spec.startswith("dask://")
    ):
        raise ConfigError(
            f"executor {spec!r}: choose local, dask, dask://ADDRESS (a running scheduler) or slurm"
        )
    if not (spec is None or isinstance(spec, str | cf.Executor) or _is_dask_client(spec)):
        raise ConfigError(
            f"executor {spec!r}: not an executor (a concurrent.futures.Executor or a "
            "distributed.Client)"
        )


def _is_dask_client(spec: Any) -> bool:
    """Whether ``spec`` is a ``distributed.Client`` (without importing distributed for it)."""
    distributed = sys.modules.get("distributed")  # a Client exists only once it is imported
    return distributed is not None and isinstance(spec, distributed.Client)


def _pool_worker() -> None:
    """A pool worker ignores Ctrl-C: the terminal sends it to the whole process group, and the
    driver, which gets it too, decides (it stops the workers); a worker's own KeyboardInterrupt
    would only print a traceback per process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop_pool(ex: cf.ProcessPoolExecutor) -> None:
    """Cancel the pending points and end the running ones now (their points stay pending)."""
    ex.shutdown(wait=False, cancel_futures=True)
    terminate = getattr(ex, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    for process in list((ex._processes or {}).values()):  # the same, before 3.14
        process.terminate()


@contextlib.contextmanager
def sweep_executor(spec: Any = None, workers: int | None = None, brian: bool = False):
    """The executor named by ``spec`` (see :func:`run_sweep`), shut down on leaving."""
    _check_executor(spec)
    n = workers or os.cpu_count() or 1
    if spec is None or spec == "local":
        import multiprocessing

        with child_blas_threads(1):
            # spawn: a fresh interpreter per worker (Brian2's device state is per process, and
            # forking a process with threads may deadlock)
            ex = cf.ProcessPoolExecutor(
                n, mp_context=multiprocessing.get_context("spawn"), initializer=_pool_worker
            )
            try:
                yield ex
            except BaseException:
                _stop_pool(ex)  # do not wait for running points
                raise
            ex.shutdown(wait=True)
        return
    if isinstance(spec, str):
        import logging

        from distributed import Client, LocalCluster

        if spec == "dask":
            with (
                child_blas_threads(1),
                LocalCluster(
                    n_workers=n,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                    silence_logs=logging.ERROR,
                ) as cluster,
                Client(cluster) as client,
            ):
                yield _dask_executor(client, brian)
            return
        if spec.startswith("dask://"):
            with Client(spec.removeprefix("dask://")) as client:
                yield _dask_executor(client, brian)
            return
        if spec == "slurm":
            try:
                from dask_jobqueue import SLURMCluster
            except ImportError:
                raise ConfigError(
                    "--executor slurm needs dask-jobqueue: pip install 'neurosig[slurm]'"
                ) from None
            try:
                cluster = SLURMCluster(cores=1, processes=1)
            except ValueError as err:
                raise ConfigError(
                    f"SLURM: {err} (set queue, memory etc. in ~/.config/dask/jobqueue.yaml)"
                ) from None
            with cluster, Client(cluster) as client:
                cluster.scale(n)
                yield _dask_executor(client, brian)
            return
    if _is_dask_client(spec):
        yield _dask_executor(spec, brian)
        return
    yield spec  # the caller's executor: the caller shuts it down


# --------------------------------------------------------------------------------------------
# Running, status, export
# --------------------------------------------------------------------------------------------


def run_sweep(
    sweep: Sweep | str | Path,
    store: str | Path,
    executor: Any = None,
    *,
    workers: int | None = None,
    progress: bool = True,
    runner: Callable[[str], Outcome] | None = None,
) -> xr.Dataset:
    """Run every point of ``sweep`` not yet done in ``store``; return the exported Dataset.

    Parameters
    ----------
    sweep : Sweep or path of a sweep TOML
    store : path
        The zarr store (a folder); created on the first run, resumed on later ones.
    executor
        ``None``/``"local"``: a process pool, ``workers`` processes (default: one per core);
        ``"dask"``: a dask LocalCluster of ``workers`` single-thread processes;
        ``"dask://ADDRESS"``: a running dask scheduler; ``"slurm"``: dask-jobqueue's
        SLURMCluster with ``workers`` single-core jobs; a ``distributed.Client``; or any
        :class:`concurrent.futures.Executor` (left running).
    workers : int, optional
        Processes (or jobs) of the executors made here.
    progress : bool
        A progress bar with points done/failed and the time left.
    runner : callable, optional
        What a worker runs for each point: ``runner(experiment_toml) -> Outcome`` (default
        :func:`run_point`). A picklable module-level function (or a ``functools.partial`` of
        one) can measure more than training, e.g. memory, into its Result's attrs.

    Notes
    -----
    Only the driver (this process) writes the store. A point that raises is recorded as failed
    with its error text and retried by the next run.

    Examples
    --------
    >>> ds = run_sweep("analyses/sweeps/example.toml", "results/example.zarr")  # doctest: +SKIP
    >>> ds.final_accuracy.sel(split="test").mean("seed")  # doctest: +SKIP
    """
    _check_executor(executor)
    path = Path(store)
    declared = load_sweep(sweep)
    sweep = store_target(path, declared)
    if progress and sweep is not declared:
        print(
            f"{path}: its points run on model.target = {sweep.base.params.target!r}, the target "
            "it was started on",
            file=sys.stderr,
        )
    group = open_store(path, sweep)
    with _only_writer(path):
        # zarr writes every chunk to NAME.<uuid>.partial and renames it; a driver killed
        # mid-write leaves one behind. This process is the only writer now: none is live.
        for stale in path.rglob("*.partial"):
            stale.unlink(missing_ok=True)
        _run_missing(sweep, group, path, executor, workers, progress, runner or run_point)
    return export_sweep(path)


@contextlib.contextmanager
def _only_writer(path: Path, wait: bool = False) -> Iterator[None]:
    """Hold an exclusive lock on the store folder: a second driver on it is refused, or, with
    ``wait``, waited for (the tasks of a job array, :func:`run_job`, write one by one)."""
    import fcntl

    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise ConfigError(
                f"{path}: another `neurosig sweep run` is writing this store; wait for it to "
                "finish (or stop it) and run again"
            ) from None
        yield
    finally:
        os.close(fd)  # releases the lock


def _run_missing(
    sweep: Sweep, group, path: Path, executor, workers, progress: bool, runner=run_point
) -> None:
    from tqdm import tqdm

    status = group["status"][...]
    jobs = [j for j in sweep.jobs() if status[j.index] != DONE]
    if jobs:
        done = int((status == DONE).sum())
        failed = 0
        bar = tqdm(
            total=sweep.n_points,
            initial=done,
            desc=sweep.name,
            unit="point",
            disable=None if progress else True,
        )
        n = workers or min(os.cpu_count() or 1, len(jobs))  # no idle processes for few points
        with sweep_executor(executor, n, sweep.uses_brian) as ex:
            mode = reproducible()
            with interrupts.ignored():  # pool workers start with Ctrl-C ignored: the driver
                futures = {  # stops them (no traceback from each)
                    ex.submit(_run_in_mode, runner, j.experiment.to_toml(), mode): j for j in jobs
                }
            try:
                for fut in cf.as_completed(futures):
                    try:
                        outcome = fut.result()
                    except Exception as err:  # the worker died (or the executor failed it)
                        outcome = Outcome(None, f"{type(err).__name__}: {err}", float("nan"))
                    if _write_point(group, path, sweep, futures[fut], outcome) == DONE:
                        done += 1
                    else:
                        failed += 1
                    bar.update(1)
                    bar.set_postfix(done=done, failed=failed)
                    interrupts.raise_if_requested()
            finally:
                for fut in futures:
                    fut.cancel()
                bar.close()


def run_job(store: str | Path, number: int, runner: Callable[[str], Outcome] = run_point) -> int:
    """Run job ``number`` of the sweep a store declares, in this process, into the store.

    The route of a Slurm job array (:mod:`neurosig.slurm`): every task runs one job, many
    tasks share one store. ``number`` counts point-major (``point * seeds + seed``, the
    ``job`` of :meth:`Sweep.jobs`). The sweep is read from the store itself, so a task cannot
    run another declaration; a job already done returns at once (resubmitting the array reruns
    only what failed or never ran). Training holds no lock; the write waits for the store's
    lock, so tasks (and a ``neurosig sweep run`` driver) write one at a time.

    Returns
    -------
    int
        The job's status: ``DONE`` or ``FAILED`` (its error text is stored).

    Raises
    ------
    ConfigError
        Not a sweep store, or ``number`` outside ``0 .. jobs - 1``.
    """
    path = Path(store)
    group = _open_group(path, mode="r")
    sweep = sweep_from_dict(tomllib.loads(group.attrs["neurosig_sweep"]), str(path))
    jobs = sweep.jobs()
    if not 0 <= number < len(jobs):
        raise ConfigError(
            f"job {number}: the sweep {sweep.name!r} in {path} has jobs 0 .. {len(jobs) - 1}"
        )
    job = jobs[number]
    if group["status"][job.index] == DONE:
        return DONE
    outcome = runner(job.experiment.to_toml())
    with _only_writer(path, wait=True):
        return _write_point(_open_group(path, mode="r+"), path, sweep, job, outcome)


@dataclass(frozen=True)
class SweepStatus:
    """Counts of a store's points, and the errors of the failed ones."""

    name: str
    total: int
    done: int
    failed: int
    errors: dict[str, str]  # point label -> error text

    @property
    def pending(self) -> int:
        return self.total - self.done - self.failed

    def __str__(self) -> str:
        lines = [
            f"sweep {self.name!r}: {self.done}/{self.total} points done, {self.failed} failed, "
            f"{self.pending} pending"
        ]
        for label, text in self.errors.items():
            lines.append(f"  failed {label}: {text.strip().splitlines()[-1]}")
        return "\n".join(lines)


def _labels(group, dims: Sequence[str]) -> list[str]:
    coords = [group[d][...] for d in dims]
    return [
        ", ".join(f"{d}={c[i]}" for d, c, i in zip(dims, coords, idx, strict=True))
        for idx in np.ndindex(*(len(c) for c in coords))
    ]


def sweep_status(store: str | Path) -> SweepStatus:
    """Points done, failed and pending in ``store`` (with the failed points' errors)."""
    group = _open_group(Path(store))
    status = group["status"][...]
    failed = np.flatnonzero(status.ravel() == FAILED)
    errors = {}
    if failed.size:
        labels = _labels(group, group["status"].metadata.dimension_names)
        texts = group["error"][...].ravel()
        errors = {labels[i]: str(texts[i]) for i in failed}
    return SweepStatus(
        name=str(group.attrs["name"]),
        total=int(status.size),
        done=int((status == DONE).sum()),
        failed=int(failed.size),
        errors=errors,
    )


def export_sweep(
    store: str | Path,
    out: str | Path | None = None,
    reference: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """The store as one ``xarray.Dataset`` (dims: swept fields..., seed[, epoch, split,
    readout, layer, metric, bound]); metrics of points not done are NaN. Written to ``out``
    (netCDF) if given.

    Variables: ``status`` ("done", "failed", "pending"), ``error``, ``train_seed``,
    ``wall_time``; ``final_accuracy`` (split, readout), ``test_accuracy`` (primary readout);
    per epoch ``accuracy``, ``loss``, ``lr_factor``, ``samples_per_second``,
    ``epoch_time``; the paired differences to the ``reference`` condition
    (:func:`paired_differences`: ``paired_difference``, ``mean_difference``,
    ``difference_ci``, ``n_paired_seeds``), absent from a store of unpaired seeds (0.2.0 and
    older; giving a ``reference`` for one raises :class:`ConfigError`). Each point's full
    Result: :func:`point_result`.
    """
    path = Path(store)
    group = _open_group(path)
    dims = tuple(group["status"].metadata.dimension_names)
    arrays = {name: group[name] for name in group.array_keys()}
    order = [*dims, "epoch", "split", "readout", "layer"]
    ds = xr.Dataset()
    for name in sorted(arrays, key=lambda n: (order.index(n) if n in order else len(order), n)):
        a = arrays[name]
        values = a[...]
        if values.dtype.kind in "OT":  # zarr's variable-length strings -> Python strings
            values = values.astype(object)
        var = xr.Variable(a.metadata.dimension_names, values, dict(a.attrs))
        if name in order or var.dims == ("point",):
            ds.coords[name] = var
        else:
            ds[name] = var
    status = ds["status"].values
    ds["status"] = (dims, np.vectorize(STATUS_NAMES.get, otypes=[object])(status))
    ds["status"].attrs["long_name"] = "done, failed or pending"
    done = xr.DataArray(status == DONE, dims=dims)
    for name in (*EPOCH_METRICS, "final_accuracy"):
        if name in ds:
            ds[name] = ds[name].where(done)
    if "final_accuracy" in ds:
        primary = group.attrs.get("primary_readout", str(ds.readout.values[0]))
        ds["test_accuracy"] = ds.final_accuracy.sel(split="test", readout=primary, drop=True)
        ds["test_accuracy"].attrs.update(units="1", long_name=f"test accuracy ({primary})")
    ds.attrs.update({k: v for k, v in group.attrs.items() if not isinstance(v, dict | list)})
    ds.attrs["fields"] = ", ".join(group.attrs["fields"])
    ds.attrs["points_done"] = int((status == DONE).sum())
    ds.attrs["points_failed"] = int((status == FAILED).sum())
    if "final_accuracy" in ds:
        if seeds_paired(ds.train_seed.values):
            ds = ds.merge(paired_differences(ds, reference))
            ds.attrs["reference"] = ds.mean_difference.attrs["reference"]
        elif reference is not None:
            raise ConfigError(
                f"{path}: its grid points were trained with different seeds (neurosig 0.2.0 or "
                "older), so they cannot be compared seed by seed; rerun the sweep into a new "
                "--store for paired differences"
            )
    if out is not None:
        save_result(ds, out)
    return ds


def point_result(store: str | Path, point: int, seed: int = 0) -> xr.Dataset:
    """The full training Result of grid point ``point`` (flat index), seed index ``seed``."""
    group = _open_group(Path(store))
    number = point * int(group.attrs["seeds"]) + seed
    return load_result(Path(store) / "results" / f"{number}.nc")


def timing_variables() -> tuple[str, ...]:
    """Variables that differ between two runs of the same sweep (times and throughput)."""
    return _TIMING
