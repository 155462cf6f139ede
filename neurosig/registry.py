"""The model registry: model names -> (config class, builder), and the shipped presets.

A model family registers itself when its module is imported (``models/__init__.py`` imports
them all). A *numpy model* built by a registered factory follows :class:`TrainableModel`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from neurosig.errors import ConfigError


class TrainableModel(Protocol):
    """What :func:`neurosig.train.train` needs from a model.

    ``loss_names`` are the names of the separately optimised parts (one per layer for local
    rules, e.g. ``("signal", "layer1", "layer2", "readout")``), in the order
    ``train_batch`` reports their losses.
    """

    loss_names: tuple[str, ...]
    readouts: tuple[str, ...]  # names of the readouts; the first one is the primary

    def train_batch(
        self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator
    ) -> dict[str, float]:
        """One update on a mini-batch; returns the loss of each part."""

    def predict(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Predicted labels of every readout, keyed by readout name."""

    def hidden_activity(self, x: np.ndarray) -> list[np.ndarray]:
        """Data-stream activity of each hidden layer (evaluation mode)."""

    def state_dict(self) -> dict[str, np.ndarray]:
        """All learned parameters as named arrays."""

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore parameters written by ``state_dict``."""

    def set_learning_rate(self, lr: float) -> None:
        """Change every optimiser's learning rate (schedules)."""


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: its name, parameter class and builder."""

    name: str
    config_cls: type
    build: Callable[[Any, int, int, np.random.Generator], TrainableModel]
    description: str
    forward_only: bool  # True for learning rules with no feedback pathway (sigprop, FF, ...)
    equations: Callable[[Any], str] | None = None  # simulator models: config -> equations text


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    """Add a model to the registry (called at import time by each model module)."""
    _REGISTRY[spec.name] = spec
    return spec


def _load_all() -> None:
    import neurosig.models  # noqa: F401  (registers every model family)


def model_names() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


def get_model(name: str) -> ModelSpec:
    """The registered model ``name``; an unknown name is a ConfigError with suggestions."""
    _load_all()
    if name not in _REGISTRY:
        import difflib

        close = difflib.get_close_matches(name, _REGISTRY, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"model.name = {name!r}: unknown model.{hint} "
            f"Registered: {', '.join(sorted(_REGISTRY))}"
        )
    return _REGISTRY[name]


def preset_paths() -> dict[str, Path]:
    """Preset name -> TOML file, for every file in ``neurosig/models/presets``."""
    folder = resources.files("neurosig.models") / "presets"
    return {Path(p.name).stem: Path(str(p)) for p in folder.iterdir() if p.name.endswith(".toml")}
