"""Experiment configuration: frozen, validated dataclasses, TOML in and out, physical units.

Every field is declared with :func:`param`: a default, a one-line doc, and where they apply
bounds, allowed choices and a unit. A field with a unit holds a float *in that unit*; in TOML it
is written as a string with its unit (``tau = "20 ms"``) and converted on reading, so that
``"0.02 s"`` and ``"20 ms"`` mean the same and ``"20 mV"`` for a time is refused.

An experiment file looks like this (``neurosig validate FILE`` checks one):

>>> text = '''
... name = "sp-core-mnist1d"
...
... [model]             # a registered model (`neurosig models`) and its own parameters
... name = "sp-core"
... hidden = [1024, 1024]
... loss = "topk"
...
... [data]
... name = "mnist1d"
...
... [train]
... epochs = 100
... seed = 1
... '''
>>> experiment = experiment_from_toml(text)
>>> experiment.model, experiment.params.hidden, experiment.train.epochs
('sp-core', (1024, 1024), 100)

``[model]`` may also be the bare name of the model (``model = "sp-core"``), which then runs
with its default parameters. Any mistake (unknown key, wrong type, wrong unit, out of range)
raises :class:`ConfigError` with one message naming the field and the fix.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import tomllib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from neurosig.errors import ConfigError, os_error_message

# --------------------------------------------------------------------------------------------
# Fields
# --------------------------------------------------------------------------------------------


def param(
    default: Any,
    doc: str,
    *,
    bounds: tuple[float | None, float | None] | None = None,
    choices: tuple[Any, ...] | None = None,
    unit: str | None = None,
) -> Any:
    """Declare a configuration field.

    Parameters
    ----------
    default
        The default value (in ``unit`` when a unit is given).
    doc
        One line saying what the field means.
    bounds
        Inclusive (low, high); ``None`` leaves a side open. For tuples, applies to each element.
        A float field is finite whatever its bounds (NaN is always refused); give ``math.inf``
        as a bound to allow that infinity.
    choices
        The allowed values, for strings.
    unit
        The unit the value is held in (``"ms"``, ``"Hz"``, ``"mV"`` ...); TOML gives a string.
    """
    if isinstance(default, list):
        default = tuple(default)
    return dataclasses.field(
        default=default,
        metadata={"doc": doc, "bounds": bounds, "choices": choices, "unit": unit},
    )


# --------------------------------------------------------------------------------------------
# Units
# --------------------------------------------------------------------------------------------

_PREFIXES = {
    "": 1.0,
    "G": 1e9,
    "M": 1e6,
    "k": 1e3,
    "m": 1e-3,
    "u": 1e-6,
    "µ": 1e-6,
    "n": 1e-9,
    "p": 1e-12,
    "f": 1e-15,
}
# base symbol -> physical dimension name
_BASES = {
    "s": "time",
    "Hz": "frequency",
    "V": "voltage",
    "A": "current",
    "S": "conductance",
    "ohm": "resistance",
    "Ohm": "resistance",
    "F": "capacitance",
}
_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*\*?\s*([A-Za-zµ]+)\s*$")


def toml_value(text: Any) -> Any:
    """A command-line value as TOML reads it (``true``, ``0.01``, ``[48, 32]``, ``"topk"``);
    else the text itself (``40 Hz``, ``poisson``). Non-strings are returned as they are.

    Examples
    --------
    >>> toml_value("0.01"), toml_value("true"), toml_value("40 Hz")
    (0.01, True, '40 Hz')
    """
    if not isinstance(text, str):
        return text
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _unit_scale(symbol: str) -> tuple[str, float]:
    """'ms' -> ('time', 1e-3). Raises KeyError for an unknown unit."""
    for base in sorted(_BASES, key=len, reverse=True):
        if symbol.endswith(base) and symbol[: -len(base)] in _PREFIXES:
            return _BASES[base], _PREFIXES[symbol[: -len(base)]]
    raise KeyError(symbol)


def parse_quantity(text: str, unit: str) -> float:
    """Parse ``"20 ms"`` into a float in ``unit`` (here 20.0 for unit ``"ms"``).

    Examples
    --------
    >>> parse_quantity("0.02 s", "ms")
    20.0
    >>> parse_quantity("5 kHz", "Hz")
    5000.0
    """
    dim, scale = _unit_scale(unit)
    m = _QUANTITY.match(str(text))
    if not m:
        raise ValueError(f'{text!r} is not a number followed by a unit, e.g. "10 {unit}"')
    value, symbol = float(m.group(1)), m.group(2)
    try:
        got_dim, got_scale = _unit_scale(symbol)
    except KeyError:
        raise ValueError(f'unknown unit {symbol!r}; write it in {dim}, e.g. "10 {unit}"') from None
    if got_dim != dim:
        raise ValueError(f'{symbol!r} is a {got_dim}, but this field is a {dim} (e.g. "10 {unit}")')
    return value * got_scale / scale


def format_quantity(value: float, unit: str) -> str:
    """Inverse of :func:`parse_quantity`: ``(20.0, "ms") -> "20 ms"``."""
    return f"{value:g} {unit}"


def field_unit(cfg: Any, name: str) -> str:
    """The unit field ``name`` of the config ``cfg`` is held in (``""`` if it has none)."""
    return next(f for f in dataclasses.fields(cfg) if f.name == name).metadata.get("unit") or ""


def si(cfg: Any, name: str) -> float:
    """Field ``name`` of ``cfg`` in SI base units (seconds, volts, hertz ...).

    The one conversion from a config's declared unit to SI: models never multiply by a bare
    ``1e-3``.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class C:
    ...     tau: float = param(20.0, "time constant", unit="ms")
    >>> si(C(), "tau")
    0.02
    """
    unit = field_unit(cfg, name)
    return getattr(cfg, name) * (_unit_scale(unit)[1] if unit else 1.0)


def quantity(cfg: Any, name: str) -> Any:
    """Field ``name`` of ``cfg`` as a Brian2 quantity (``tau = 20.0`` in ms gives ``20. ms``).

    Time constants and potentials stay quantities until they reach the equations' namespace.
    """
    import brian2

    unit = field_unit(cfg, name)
    if not unit:
        return getattr(cfg, name)
    base = {"time": brian2.second, "voltage": brian2.volt, "frequency": brian2.Hz}
    return si(cfg, name) * base[_unit_scale(unit)[0]]


# --------------------------------------------------------------------------------------------
# Generic conversion and validation of dataclasses
# --------------------------------------------------------------------------------------------


def _suggest(word: str, options: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def _is_optional(tp: Any) -> tuple[bool, Any]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return True, args[0]
    return False, tp


def _coerce(value: Any, tp: Any, meta: dict, where: str) -> Any:
    """Convert a TOML value to the field's type, or raise ConfigError naming ``where``."""
    optional, tp = _is_optional(tp)
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{where}: a value is required")
    unit = meta.get("unit")
    if unit:
        if isinstance(value, str):
            try:
                return parse_quantity(value, unit)
            except ValueError as err:
                raise ConfigError(f"{where} = {value!r}: {err}") from None
        raise ConfigError(
            f"{where} = {value!r}: give the unit, e.g. {where.rsplit('.', 1)[-1]} = "
            f'"{value} {unit}"'
        )
    origin = typing.get_origin(tp)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where} = {value!r}: expected a list, e.g. [{value!r}]")
        elem = typing.get_args(tp)[0]
        return tuple(_coerce(v, elem, {}, f"{where}[{i}]") for i, v in enumerate(value))
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} = {value!r}: expected true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{where} = {value!r}: expected a whole number")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where} = {value!r}: expected a number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} = {value!r}: expected a string in quotes")
        return value
    raise TypeError(f"unsupported config field type {tp!r} at {where}")  # a programming error


def _span(bounds: tuple[float | None, float | None]) -> str:
    """The allowed range as written in messages and ``--describe``: ``[0, inf)`` is open."""
    lo, hi = bounds
    left = "(-inf" if lo is None else f"[{lo}"
    right = "inf)" if hi is None else f"{hi}]"
    return f"{left}, {right}"


def _check_field(value: Any, meta: dict, where: str) -> None:
    if value is None:
        return
    values = value if isinstance(value, tuple) else (value,)
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        raise ConfigError(
            f"{where} = {value!r}: choose one of {', '.join(map(repr, choices))}."
            f"{_suggest(str(value), map(str, choices))}"
        )
    bounds = meta.get("bounds") or (None, None)
    lo, hi = bounds
    unit = f" {meta['unit']}" if meta.get("unit") else ""
    for v in values:
        # NaN compares false with every bound, and inf passes an open one: refuse both here,
        # unless a bound is that very infinity.
        if isinstance(v, float) and not math.isfinite(v) and v not in (lo, hi):
            within = f", within {_span(bounds)}{unit}" if bounds != (None, None) else ""
            raise ConfigError(f"{where} = {v!r}: must be a finite number{within}")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise ConfigError(f"{where} = {v!r}{unit}: out of range; allowed {_span(bounds)}{unit}")


@typing.runtime_checkable
class Validated(typing.Protocol):
    """A config dataclass with checks across its fields (``hidden`` not empty, ...)."""

    def validate(self, where: str) -> None:
        """Raise :class:`ConfigError` naming ``where`` (e.g. ``"model"``) if the fields
        disagree; called by :func:`check` after each field passed its own checks."""


def check(obj: Any, where: str = "") -> None:
    """Validate the bounds and choices of every field of a config dataclass (recursively)."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        name = f"{where}.{f.name}" if where else f.name
        if dataclasses.is_dataclass(value):
            check(value, name)
        else:
            _check_field(value, f.metadata, name)
    if isinstance(obj, Validated):
        obj.validate(where or type(obj).__name__)


def from_dict(cls: type, data: Any, where: str) -> Any:
    """Build the dataclass ``cls`` from a TOML table, with one clear error per mistake."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"[{where}] must be a table of fields, got {where} = {data!r}; write a [{where}] "
            "section with one field = value per line"
        )
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key in data:
        if key not in fields:
            raise ConfigError(
                f"{where}.{key}: unknown field.{_suggest(key, fields)} "
                f"Valid fields: {', '.join(fields)}"
            )
    kwargs = {k: _coerce(v, hints[k], fields[k].metadata, f"{where}.{k}") for k, v in data.items()}
    obj = cls(**kwargs)
    check(obj, where)
    return obj


def to_dict(obj: Any) -> dict[str, Any]:
    """Dataclass -> TOML-ready dict (unit fields as strings, ``None`` fields left out)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if value is None:
            continue
        if dataclasses.is_dataclass(value):
            out[f.name] = to_dict(value)
        elif f.metadata.get("unit"):
            out[f.name] = format_quantity(value, f.metadata["unit"])
        elif isinstance(value, tuple):
            out[f.name] = list(value)
        else:
            out[f.name] = value
    return out


def describe(cls: type) -> list[tuple[str, str, str, str]]:
    """(name, default, allowed, doc) for each field, for ``neurosig models --describe``."""
    rows = []
    for f in dataclasses.fields(cls):
        m = f.metadata
        allowed = ""
        if m.get("choices"):
            allowed = " | ".join(map(str, m["choices"]))
        elif m.get("bounds"):
            allowed = _span(m["bounds"])
        default = f.default
        if m.get("unit") and default is not None:
            default = format_quantity(default, m["unit"])
        rows.append((f.name, repr(default), allowed, m.get("doc", "")))
    return rows


# --------------------------------------------------------------------------------------------
# The experiment
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataConfig:
    """Which data set, and how it is split and scaled."""

    name: str = param("digits", "data set: digits, mnist1d, fashion-mnist, mnist or npz:PATH")
    validation_fraction: float = param(
        0.1, "fraction of the training set held out for validation", bounds=(0.0, 0.9)
    )
    standardise: bool = param(True, "z-score each feature with training-set statistics")
    n_train: int | None = param(
        None, "use only this many training samples (quick runs)", bounds=(1, None)
    )
    n_test: int | None = param(
        None, "use only this many test samples (quick runs)", bounds=(1, None)
    )
    remap_labels: bool = param(
        False,
        "map the sorted distinct training labels (e.g. 0, 5, 9 or -1, 1) to the classes "
        "0..K-1; without it labels must be 0..C-1, every class present in training",
    )


@dataclass(frozen=True)
class TrainConfig:
    """How long and in what batches to train, and from which seed."""

    epochs: int = param(20, "passes over the training set", bounds=(1, 1_000_000))
    batch_size: int = param(128, "samples per update (mini-batch)", bounds=(1, 1_000_000))
    seed: int = param(0, "root seed; every other seed is derived from it", bounds=(0, 2**32 - 1))
    lr_schedule: str = param(
        "constant",
        "learning rate over epochs: constant, or cosine decay to 0",
        choices=("constant", "cosine"),
    )
    eval_batch_size: int = param(
        1000, "samples per evaluation batch (memory only)", bounds=(1, 1_000_000)
    )
    record_samples: int = param(
        200, "test samples whose hidden-layer activity is stored in the Result", bounds=(0, None)
    )
    train_eval_samples: int = param(
        0,
        "training samples (a fixed random subset) on which training accuracy is measured each"
        " epoch; 0 = all",
        bounds=(0, None),
    )
    record_every_epoch: bool = param(
        False, "store the recorded test samples' activity after every epoch, not only the last"
    )


@dataclass(frozen=True)
class Experiment:
    """A complete, runnable experiment: model + its parameters, data, training."""

    name: str
    model: str
    params: Any
    data: DataConfig = DataConfig()
    train: TrainConfig = TrainConfig()
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        """TOML-ready dict; ``[model]`` holds ``name`` and the model's parameters."""
        out: dict[str, Any] = {"name": self.name}
        if self.description:
            out["description"] = self.description
        out["model"] = {"name": self.model, **to_dict(self.params)}
        out["data"] = to_dict(self.data)
        out["train"] = to_dict(self.train)
        return out

    def to_toml(self) -> str:
        """The fully resolved experiment as TOML text (readable back by :func:`load_experiment`)."""
        return tomli_w.dumps(self.to_dict())

    def replace(self, **changes: Any) -> Experiment:
        """A copy with fields changed: top-level names, or ``data_*``, ``train_*``, ``model_*``.

        >>> exp.replace(train_epochs=5, data_name="mnist1d", model_lr=1e-3)  # doctest: +SKIP
        """
        groups: dict[str, dict[str, Any]] = {"data": {}, "train": {}, "params": {}}
        top: dict[str, Any] = {}
        for key, value in changes.items():
            prefix, _, rest = key.partition("_")
            if prefix in ("data", "train") and rest:
                groups[prefix][rest] = value
            elif prefix == "model" and rest:
                groups["params"][rest] = value
            elif key in ("name", "description"):
                top[key] = value
            else:
                raise ConfigError(
                    f"{key}: cannot change this; use name, description, data_*, "
                    "train_* or model_* (e.g. train_epochs=5)"
                )
        return dataclasses.replace(
            self,
            data=_replace_fields(self.data, groups["data"], "data"),
            train=_replace_fields(self.train, groups["train"], "train"),
            params=_replace_fields(self.params, groups["params"], "model"),
            **top,
        )


def _replace_fields(obj: Any, changes: dict[str, Any], where: str) -> Any:
    """``dataclasses.replace`` with Python values converted and checked like TOML values.

    Unit fields take a float in the field's unit or a string with a unit.
    """
    if not changes:
        return obj
    hints = typing.get_type_hints(type(obj))
    fields = {f.name: f for f in dataclasses.fields(obj) if f.init}
    converted = {}
    for key, value in changes.items():
        if key not in fields:
            raise ConfigError(
                f"{where}.{key}: unknown field.{_suggest(key, fields)} "
                f"Valid fields: {', '.join(fields)}"
            )
        meta = dict(fields[key].metadata)
        if meta.get("unit") and isinstance(value, int | float) and not isinstance(value, bool):
            meta["unit"] = None  # a bare number is already in the field's unit
            value = float(value)
        converted[key] = _coerce(value, hints[key], meta, f"{where}.{key}")
    new = dataclasses.replace(obj, **converted)
    check(new, where)
    return new


_TOP_LEVEL = ("name", "description", "model", "data", "train")


def experiment_from_dict(d: dict[str, Any], source: str = "<dict>") -> Experiment:
    """Validate a parsed TOML document into an :class:`Experiment`."""
    from neurosig.registry import get_model

    if not isinstance(d, dict):
        raise ConfigError(f"{source}: an experiment is a table of fields, got {d!r}")
    for key in d:
        if key not in _TOP_LEVEL:
            raise ConfigError(
                f"{source}: unknown top-level key {key!r}.{_suggest(key, _TOP_LEVEL)}"
                f" Valid keys: {', '.join(_TOP_LEVEL)}"
            )
    model = d.get("model")
    if isinstance(model, str):
        model = {"name": model}
    if not isinstance(model, dict) or "name" not in model:
        given = "" if model is None else f" (model = {model!r} is neither)"
        raise ConfigError(
            f'{source}: [model] needs a name, e.g. [model] name = "sp-core" or model = '
            f'"sp-core"{given}; list the models with `neurosig models`'
        )
    params = dict(model)
    model_name = params.pop("name")
    if not isinstance(model_name, str):
        raise ConfigError(
            f"{source}: model.name = {model_name!r}: expected a model name in quotes, e.g. "
            'name = "sp-core" (list them with `neurosig models`)'
        )
    spec = get_model(model_name)
    for key in ("name", "description"):
        if not isinstance(d.get(key, ""), str):
            raise ConfigError(f"{source}: {key} = {d[key]!r}: expected a string in quotes")
    return Experiment(
        name=d.get("name", spec.name),
        model=spec.name,
        params=from_dict(spec.config_cls, params, "model"),
        data=from_dict(DataConfig, d.get("data", {}), "data"),
        train=from_dict(TrainConfig, d.get("train", {}), "train"),
        description=d.get("description", ""),
    )


def experiment_from_toml(text: str, source: str = "<text>") -> Experiment:
    """An experiment from TOML text, e.g. the ``config`` attribute of a saved Result."""
    try:
        parsed = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{source}: not valid TOML ({err})") from None
    except RecursionError:
        raise ConfigError(f"{source}: arrays or tables nested too deeply to be a config") from None
    return experiment_from_dict(parsed, source)


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; a missing, unreadable, binary or malformed file is a ConfigError
    naming it."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: a folder, not a TOML file; give the file's path") from None
    except OSError as err:
        raise ConfigError(os_error_message(err, "the experiment file")) from None
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{path}: not a text file (byte {err.start} is not UTF-8), so not TOML; give the "
            "experiment's .toml file"
        ) from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML ({err})") from None
    except RecursionError:
        raise ConfigError(f"{path}: arrays or tables nested too deeply to be a config") from None


def command_experiment(
    spec: str | Path,
    *,
    dataset: str | None = None,
    epochs: int | None = None,
    seed: int | None = None,
    batch_size: int | None = None,
) -> Experiment:
    """The experiment ``neurosig train SPEC --dataset D --epochs E --seed S`` runs.

    :func:`load_experiment` of ``spec``, then the command line's changes; a new data set
    renames the experiment ``MODEL-DATASET``. Benchmarks that claim to run "what a user gets"
    (``benchmarks/transfer.py``) call this function, so that they cannot drift from the command.

    Examples
    --------
    >>> exp = command_experiment("bp", dataset="wine", epochs=3, seed=1)
    >>> exp.name, exp.data.name, exp.train.epochs, exp.train.seed
    ('bp-wine', 'wine', 3, 1)
    """
    exp = load_experiment(spec)
    changes: dict[str, Any] = {}
    if dataset:
        changes["data_name"] = dataset
        if exp.data.name != dataset:
            changes["name"] = f"{exp.model}-{dataset.replace(':', '-').replace('/', '-')}"
    if epochs is not None:
        changes["train_epochs"] = epochs
    if seed is not None:
        changes["train_seed"] = seed
    if batch_size is not None:
        changes["train_batch_size"] = batch_size
    return exp.replace(**changes) if changes else exp


def load_experiment(spec: str | Path) -> Experiment:
    """An experiment from a TOML file, a saved Result (``.nc``: the experiment that made it),
    a preset name, or a bare model name (its defaults).

    Examples
    --------
    >>> load_experiment("sp-core").model
    'sp-core'
    """
    return experiment_from_dict(*experiment_declaration(spec))


def experiment_declaration(spec: str | Path) -> tuple[dict[str, Any], str]:
    """What ``spec`` declares, before defaults fill it in, and its source for messages.

    ``spec`` is read as by :func:`load_experiment`. A saved Result declares every field (its
    stored config is fully resolved); a bare model name declares only the name.

    Examples
    --------
    >>> experiment_declaration("sp-core")
    ({'model': {'name': 'sp-core'}}, 'sp-core')
    """
    from neurosig.registry import model_names, preset_paths

    path = Path(spec)
    if path.suffix == ".nc":
        from neurosig.results import load_result

        return experiment_from_toml(load_result(path).attrs["config"]).to_dict(), str(path)
    if path.suffix == ".toml" or path.exists():
        return read_toml(path), str(path)
    presets = preset_paths()
    if str(spec) in presets:
        return read_toml(presets[str(spec)]), str(presets[str(spec)])
    if str(spec) in model_names():
        return {"model": {"name": str(spec)}}, str(spec)
    options = sorted(set(presets) | set(model_names()))
    raise ConfigError(
        f"{spec!r} is neither a TOML file, a preset nor a model.{_suggest(str(spec), options)}"
        " List them with `neurosig models`."
    )
