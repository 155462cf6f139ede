"""The parts of a run that its Experiment determines: the untrained model and its data set.

Training (:mod:`neurosig.train`) and reading a Result back (:func:`neurosig.results.restore_model`)
both build these; this module imports neither of them, so each can import it without a cycle.

The initial network is drawn from the ``"init"`` stream of :mod:`neurosig.seeds`, so the same
``train.seed`` rebuilds exactly the network a run started from.

Before a model is built, :func:`check_model_memory` compares what its parameters will need with
the memory available, so that a typo such as ``hidden = [100000000]`` ends in one message instead
of an allocation of tens of GiB.

Examples
--------
>>> from neurosig.config import load_experiment
>>> exp = load_experiment("sp-core-digits")
>>> data = load_experiment_data(exp)  # doctest: +SKIP
>>> model = build_model(exp, data)  # doctest: +SKIP
>>> model.readouts  # doctest: +SKIP
('linear', 'target')
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np

from neurosig.config import Experiment
from neurosig.data import Dataset, load_dataset
from neurosig.errors import ConfigError
from neurosig.protocols import TrainableModel
from neurosig.registry import get_model
from neurosig.seeds import stream

__all__ = [
    "MemoryEstimate",
    "available_memory",
    "build_model",
    "check_model_memory",
    "load_experiment_data",
    "model_memory",
]

# Copies of every parameter a numpy model holds while it learns: the weights, their gradient
# and Adam's two moments.
NUMPY_COPIES = 4
# Bytes of one Brian2 synapse, at least: neurosig's (pre, post) int32 index pair and float64
# weight, and Brian2's own copy of each.
SYNAPSE_BYTES = 2 * (4 + 4 + 8)
# numpy's default, for a model that declares no dtype
DEFAULT_DTYPE = "float64"
MEMINFO = Path("/proc/meminfo")
CGROUP = Path("/sys/fs/cgroup")
GIB = 2**30


@runtime_checkable
class LayerSizes(Protocol):
    """A model configuration with hidden layers (every shipped model's): its size."""

    hidden: tuple[int, ...]


@runtime_checkable
class DeclaresPrecision(Protocol):
    """A numpy model's configuration: the floating-point type of its parameters."""

    dtype: str


@runtime_checkable
class DeclaresConnectivity(Protocol):
    """A Brian2 network's configuration: the connection probability of its projections."""

    p_connect: float


class MemoryEstimate(NamedTuple):
    """What a model's parameters need, at least: ``n_bytes`` for ``n_parameters`` (``what``)."""

    n_bytes: int
    n_parameters: int
    what: str


def build_model(experiment: Experiment, data: Dataset) -> TrainableModel:
    """The untrained model of ``experiment`` for ``data`` (initialised from the ``init`` stream).

    Only ``data.n_features`` and ``data.n_classes`` are read, so any object with these two
    attributes will do (the audit builds models from known sizes without loading the data).

    Raises
    ------
    ConfigError
        The model would not fit in the available memory (:func:`check_model_memory`).
    """
    check_model_memory(experiment, data.n_features, data.n_classes)
    spec = get_model(experiment.model)
    return spec.build(
        experiment.params, data.n_features, data.n_classes, stream(experiment.train.seed, "init")
    )


def load_experiment_data(experiment: Experiment) -> Dataset:
    """The data set named by ``experiment.data``, split and subset from ``train.seed``."""
    d = experiment.data
    return load_dataset(
        d.name,
        validation_fraction=d.validation_fraction,
        seed=experiment.train.seed,
        standardise=d.standardise,
        n_train=d.n_train,
        n_test=d.n_test,
        remap_labels=d.remap_labels,
    )


def model_memory(params: object, n_features: int, n_classes: int) -> MemoryEstimate | None:
    """A lower bound of the memory a model's parameters need while it learns.

    The layers are ``n_features -> hidden[0] -> ... -> hidden[-1] -> n_classes``, with
    ``P = sum_l (n_{l-1} + 1) n_l`` weights and biases. A numpy model holds
    :data:`NUMPY_COPIES` copies of each in its ``dtype``; a Brian2 network (a configuration
    with ``p_connect``) holds ``p_connect * sum_l n_{l-1} n_l`` synapses of
    :data:`SYNAPSE_BYTES` each. Label projections, feedback matrices and activity are left
    out, so the true need is larger.

    Parameters
    ----------
    params : object
        The model's configuration (``experiment.params``).
    n_features, n_classes : int
        Sizes of the input and of the output layer.

    Returns
    -------
    MemoryEstimate or None
        None for a configuration without ``hidden`` layers (nothing to estimate from).

    Examples
    --------
    >>> from neurosig.config import load_experiment
    >>> est = model_memory(load_experiment("bp").params, 784, 10)
    >>> est.n_parameters, est.n_bytes  # (784 + 1) 256 + (256 + 1) 256 + (256 + 1) 10; x 4 x 4 B
    (269322, 4309152)
    """
    if not isinstance(params, LayerSizes):
        return None
    sizes = (n_features, *params.hidden, n_classes)
    pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
    if isinstance(params, DeclaresConnectivity):
        synapses = math.ceil(params.p_connect * sum(a * b for a, b in pairs))
        what = f"{synapses:,} Brian2 synapses of {SYNAPSE_BYTES} bytes"
        return MemoryEstimate(synapses * SYNAPSE_BYTES, synapses, what)
    dtype = params.dtype if isinstance(params, DeclaresPrecision) else DEFAULT_DTYPE
    n = sum((a + 1) * b for a, b in pairs)
    what = f"{n:,} {dtype} parameters x {NUMPY_COPIES}: weights, gradients, Adam's two moments"
    return MemoryEstimate(n * np.dtype(dtype).itemsize * NUMPY_COPIES, n, what)


def check_model_memory(experiment: Experiment, n_features: int, n_classes: int) -> None:
    """Refuse, before anything is allocated, a model whose parameters alone exceed the memory
    available (:func:`model_memory` against :func:`available_memory`).

    Raises
    ------
    ConfigError
        Naming ``model.hidden``, the estimate and the memory available.
    """
    estimate = model_memory(experiment.params, n_features, n_classes)
    available = available_memory()
    if estimate is None or available is None or estimate.n_bytes <= available:
        return
    hidden = list(experiment.params.hidden)
    raise ConfigError(
        f"model.hidden = {hidden}: with {n_features} features and {n_classes} classes the "
        f"model needs at least {estimate.n_bytes / GIB:,.1f} GiB ({estimate.what}), but "
        f"{available / GIB:,.1f} GiB of memory are available; use fewer or smaller hidden "
        "layers"
    )


def available_memory() -> int | None:
    """Bytes that can be allocated without swapping, or None where the system does not say.

    Linux's ``MemAvailable`` (``/proc/meminfo``), lowered to what a cgroup v2 limit leaves
    (``memory.max - memory.current``, containers); elsewhere the free physical pages
    (``os.sysconf``).
    """
    try:
        fields = dict(line.split(":", 1) for line in MEMINFO.read_text().splitlines())
        available = int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        try:
            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, OSError, ValueError):  # no sysconf (Windows), or no such name
            return None
    try:
        limit = (CGROUP / "memory.max").read_text().strip()
        used = int((CGROUP / "memory.current").read_text())
    except (OSError, ValueError):
        return available
    return available if limit == "max" else min(available, int(limit) - used)
