"""The model registry: model names -> :class:`~neurosig.modelspec.ModelSpec`, and the presets.

The shipped models are a table of ``name -> "module:ATTRIBUTE"`` (:data:`MODELS`). A model's
module is imported the first time the model is asked for, by :func:`get_model`; listing the
names (:func:`model_names`) imports none. Model modules define their spec as a module attribute
and never import this module, so importing the registry (or :mod:`neurosig.config`, which uses
it) starts no import cycle. Models added at run time (test doubles, a user's experiment) go
through :func:`register_model`.

Examples
--------
>>> "rate" in model_names()
True
>>> get_model("sp-core").forward_only
True
"""

from __future__ import annotations

import difflib
import importlib
from importlib import resources
from pathlib import Path

from neurosig.errors import ConfigError
from neurosig.modelspec import ModelSpec
from neurosig.protocols import TrainableModel

__all__ = [
    "MODELS",
    "ModelSpec",
    "TrainableModel",
    "get_model",
    "model_names",
    "preset_paths",
    "register_model",
]

MODELS: dict[str, str] = {
    "bp": "neurosig.models.baselines:BP_SPEC",
    "dfa": "neurosig.models.baselines:DFA_SPEC",
    "fa": "neurosig.models.baselines:FA_SPEC",
    "ff": "neurosig.models.baselines:FF_SPEC",
    "lif": "neurosig.models.lif:SPEC",
    "random-features": "neurosig.models.baselines:RANDOM_FEATURES_SPEC",
    "rate": "neurosig.models.rate:SPEC",
    "sp-core": "neurosig.models.reference:SPEC",
}
"""The shipped models: name -> ``"module:ATTRIBUTE"`` of their :class:`ModelSpec`."""

# Models registered at run time with register_model.
_REGISTERED: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    """Add a model at run time (a test double, a user's own model) and return its spec.

    Registering a name again replaces the earlier spec. The names of :data:`MODELS` are
    refused: a shipped model is changed in its own module.

    Raises
    ------
    ValueError
        ``spec.name`` is a shipped model.
    """
    if spec.name in MODELS:
        raise ValueError(f"{spec.name!r} is a shipped model ({MODELS[spec.name]}); pick a new name")
    _REGISTERED[spec.name] = spec
    return spec


def model_names() -> list[str]:
    """The names of every model, shipped and registered, sorted (imports no model module)."""
    return sorted(MODELS.keys() | _REGISTERED.keys())


def get_model(name: str) -> ModelSpec:
    """The model ``name``, its module imported on first use.

    Raises
    ------
    ConfigError
        ``name`` is not a model; the message suggests the closest name.
    """
    if name in _REGISTERED:
        return _REGISTERED[name]
    if name not in MODELS:
        names = model_names()
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"model.name = {name!r}: unknown model.{hint} Registered: {', '.join(names)}"
        )
    module, _, attribute = MODELS[name].partition(":")
    spec = getattr(importlib.import_module(module), attribute)
    if not isinstance(spec, ModelSpec) or spec.name != name:
        # a mistake in the table or in the model module, not in the user's configuration
        raise TypeError(f"{MODELS[name]} is not the ModelSpec of {name!r}: {spec!r}")
    return spec


def preset_paths() -> dict[str, Path]:
    """Preset name -> TOML file, for every file in ``neurosig/models/presets``.

    Reads the folder only: ``neurosig.models`` itself imports no model module.
    """
    folder = resources.files("neurosig.models") / "presets"
    return {Path(p.name).stem: Path(str(p)) for p in folder.iterdir() if p.name.endswith(".toml")}
