"""The synthetic task suite: seeded classification tasks of different character.

A learning rule's defaults are judged on tasks nobody tuned them for (``benchmarks/transfer.py``).
Each task here is a named data set of :func:`neurosig.data.load_dataset` (``neurosig data list``
shows them) and a generator that users can call with their own seed and sizes
(:func:`make_task`). Every task stresses one thing that MNIST-like data do not:

``gaussian-mixture``
    multi-modal classes: every class is a mixture of several Gaussian blobs scattered through the
    input space, so no class is linearly separable from the others.
``shells``
    concentric shells: the class is the radius band, a function of the input's norm only.
``teacher``
    labels from a random teacher network (a two-layer tanh network, argmax of its outputs).
``parity``
    sparse interactions: two parity bits of a few signed inputs among many distractors; no
    single feature carries any information.
``heavy-tailed``
    heavy-tailed and badly scaled features: a teacher rule on a few latent variables, seen
    through a random mixing with Student-t noise, per-feature scales spanning six decades and
    some exponentiated (log-normal) features.
``many-classes``
    32 classes of warped Gaussian clusters.
``few-samples``
    300 training samples of a two-modes-per-class mixture.
``sparse-features``
    400 inputs of which 10 carry the class (a teacher rule on them); the rest is noise.

The generators are deterministic functions of their seed. The named data sets use
:data:`TASK_SEED`, so that every run of every model sees the same samples (as MNIST-1D is always
generated with seed 42); the experiment's seed only draws the validation split.

Examples
--------
>>> arrays = make_task("shells", seed=1, n_train=200, n_test=100)
>>> arrays.x_train.shape, arrays.n_classes
((200, 8), 4)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from neurosig.errors import ConfigError

__all__ = ["TASKS", "TASK_SEED", "Task", "TaskArrays", "make_task", "task_names"]

TASK_SEED = 2026
"""Seed of the named synthetic data sets (``load_dataset("teacher")``)."""


class TaskArrays(NamedTuple):
    """A generated task: an official train/test split, features unscaled."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int


Sampler = Callable[[np.random.Generator, int], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Task:
    """A synthetic task: its name, what it tests, default sizes and its sampler.

    ``prepare(rng)`` draws the task's fixed structure (centres, teacher weights ...) and returns
    ``sample(rng, n) -> (x, y)``; the training and test sets are sampled from it with separate
    streams, so that asking for more test samples never changes the training set.
    """

    name: str
    character: str
    n_train: int
    n_test: int
    n_features: int
    n_classes: int
    prepare: Callable[[np.random.Generator], Sampler]


# --------------------------------------------------------------------------------------------
# Samplers
# --------------------------------------------------------------------------------------------


def _balanced_labels(rng: np.random.Generator, n: int, n_classes: int) -> np.ndarray:
    """``n`` labels as close to balanced as ``n`` allows, in random order."""
    return rng.permutation(np.arange(n) % n_classes)


def _mixture(n_features: int, n_classes: int, modes: int, spread: float, noise: float):
    def prepare(rng: np.random.Generator) -> Sampler:
        centres = rng.normal(scale=spread, size=(n_classes, modes, n_features))

        def sample(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
            y = _balanced_labels(rng, n, n_classes)
            mode = rng.integers(0, modes, size=n)
            x = centres[y, mode] + rng.normal(scale=noise, size=(n, n_features))
            return x, y

        return sample

    return prepare


def _shells(n_features: int, n_classes: int, width: float, noise: float):
    def prepare(rng: np.random.Generator) -> Sampler:
        def sample(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
            y = _balanced_labels(rng, n, n_classes)
            direction = rng.normal(size=(n, n_features))
            direction /= np.linalg.norm(direction, axis=1, keepdims=True)
            radius = 1.0 + width * (y + rng.random(n)) + rng.normal(scale=noise, size=n)
            return direction * radius[:, None], y

        return sample

    return prepare


TEACHER_CALIBRATION_SAMPLES = 20_000
TEACHER_BALANCE_STEPS = 200


def _teacher_weights(
    rng: np.random.Generator, n_in: int, n_hidden: int, n_classes: int, gain: float
) -> tuple[np.ndarray, ...]:
    """A random tanh teacher ``argmax(tanh(gain (z W1 + b1)) W2 + b2)`` whose output biases
    ``b2`` are set so that its classes are about equally frequent for ``z ~ N(0, I)`` (a raw
    random teacher gives most samples to one or two classes)."""
    w1 = rng.normal(size=(n_in, n_hidden)) / np.sqrt(n_in)
    b1 = rng.normal(scale=0.5, size=n_hidden)
    w2 = rng.normal(size=(n_hidden, n_classes)) / np.sqrt(n_hidden)
    hidden = np.tanh(gain * (rng.normal(size=(TEACHER_CALIBRATION_SAMPLES, n_in)) @ w1 + b1))
    logits = hidden @ w2
    b2 = np.zeros(n_classes)
    for _ in range(TEACHER_BALANCE_STEPS):
        freq = np.bincount((logits + b2).argmax(axis=1), minlength=n_classes)
        b2 -= 0.1 * np.log((freq + 1) / (len(logits) / n_classes))
    return w1 * gain, b1 * gain, w2, b2


def _teacher_labels(z: np.ndarray, weights: tuple[np.ndarray, ...]) -> np.ndarray:
    w1, b1, w2, b2 = weights
    return (np.tanh(z @ w1 + b1) @ w2 + b2).argmax(axis=1)


def _teacher(n_features: int, n_classes: int, n_hidden: int, gain: float):
    def prepare(rng: np.random.Generator) -> Sampler:
        weights = _teacher_weights(rng, n_features, n_hidden, n_classes, gain)

        def sample(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
            x = rng.normal(size=(n, n_features))
            return x, _teacher_labels(x, weights)

        return sample

    return prepare


def _parity(n_features: int, groups: tuple[int, ...], jitter: float):
    def prepare(rng: np.random.Generator) -> Sampler:
        used = rng.choice(n_features, size=sum(groups), replace=False)
        members = np.split(used, np.cumsum(groups)[:-1])

        def sample(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
            signs = rng.choice([-1.0, 1.0], size=(n, n_features))
            y = np.zeros(n, dtype=np.int64)
            for bit, idx in enumerate(members):
                y += (np.prod(signs[:, idx], axis=1) > 0).astype(np.int64) << bit
            return signs + rng.normal(scale=jitter, size=signs.shape), y

        return sample

    return prepare


def _heavy_tailed(n_features: int, n_latent: int, n_classes: int, df: float):
    def prepare(rng: np.random.Generator) -> Sampler:
        weights = _teacher_weights(rng, n_latent, 8, n_classes, 2.0)
        mixing = rng.normal(size=(n_latent, n_features)) / np.sqrt(n_latent)
        # a third of the features carry no latent at all: pure heavy-tailed noise
        mixing[:, rng.random(n_features) < 1 / 3] = 0.0
        scales = 10.0 ** rng.uniform(-3, 3, size=n_features)
        exponentiated = rng.random(n_features) < 0.25

        def sample(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
            z = rng.normal(size=(n, n_latent))
            y = _teacher_labels(z, weights)
            x = z @ mixing + 0.3 * rng.standard_t(df, size=(n, n_features))
            x = np.where(exponentiated, np.exp(np.clip(x, -20, 20)), x)
            return x * scales, y

        return sample

    return prepare


def _warped_clusters(n_features: int, n_classes: int, spread: float, noise: float):
    def prepare(rng: np.random.Generator) -> Sampler:
        centres = rng.normal(scale=spread, size=(n_classes, n_features))
        warp = rng.normal(size=(n_features, n_features)) / np.sqrt(n_features)

        def sample(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
            y = _balanced_labels(rng, n, n_classes)
            u = centres[y] + rng.normal(scale=noise, size=(n, n_features))
            return u + np.sin(u @ warp), y

        return sample

    return prepare


def _sparse_features(n_features: int, n_informative: int, n_classes: int):
    def prepare(rng: np.random.Generator) -> Sampler:
        informative = rng.choice(n_features, size=n_informative, replace=False)
        weights = _teacher_weights(rng, n_informative, 8, n_classes, 2.0)

        def sample(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
            x = rng.normal(size=(n, n_features))
            return x, _teacher_labels(x[:, informative], weights)

        return sample

    return prepare


TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Task(
            "gaussian-mixture",
            "multi-modal classes: 4 Gaussian blobs per class",
            3000,
            1000,
            16,
            6,
            _mixture(16, 6, modes=4, spread=1.0, noise=0.9),
        ),
        Task(
            "shells",
            "concentric shells: the class is the radius band",
            3000,
            1000,
            8,
            4,
            _shells(8, 4, width=0.5, noise=0.08),
        ),
        Task(
            "teacher",
            "labels from a random two-layer tanh teacher network",
            4000,
            1000,
            12,
            6,
            _teacher(12, 6, n_hidden=8, gain=3.0),
        ),
        Task(
            "parity",
            "sparse interactions: parity of 3 and of 2 signed inputs among 16",
            3000,
            1000,
            16,
            4,
            _parity(16, groups=(3, 2), jitter=0.3),
        ),
        Task(
            "heavy-tailed",
            "heavy-tailed, badly scaled features (Student-t noise, scales 1e-3..1e3, log-normal)",
            4000,
            1000,
            36,
            6,
            _heavy_tailed(36, n_latent=6, n_classes=6, df=1.5),
        ),
        Task(
            "many-classes",
            "32 classes of warped Gaussian clusters",
            4000,
            1600,
            20,
            32,
            _warped_clusters(20, 32, spread=1.0, noise=1.1),
        ),
        Task(
            "few-samples",
            "300 training samples: 2 Gaussian blobs per class",
            300,
            1000,
            20,
            5,
            _mixture(20, 5, modes=2, spread=0.8, noise=1.0),
        ),
        Task(
            "sparse-features",
            "400 inputs, 10 informative (a teacher rule on them)",
            4000,
            1000,
            400,
            4,
            _sparse_features(400, n_informative=10, n_classes=4),
        ),
    )
}
"""The synthetic tasks, by name."""


def task_names() -> list[str]:
    """The names of the synthetic tasks, in suite order."""
    return list(TASKS)


def make_task(
    name: str, *, seed: int = TASK_SEED, n_train: int | None = None, n_test: int | None = None
) -> TaskArrays:
    """Generate the synthetic task ``name``.

    Parameters
    ----------
    name : str
        One of :data:`TASKS`.
    seed : int
        Draws the task's structure (centres, teacher) and its samples; the named data set uses
        :data:`TASK_SEED`.
    n_train, n_test : int, optional
        Sample counts (default: the task's own). The structure does not depend on them, nor the
        training samples on ``n_test``.

    Raises
    ------
    ConfigError
        Unknown name, or a sample count below 1.
    """
    if name not in TASKS:
        raise ConfigError(f"unknown synthetic task {name!r}; choose one of {', '.join(TASKS)}")
    task = TASKS[name]
    n_train = task.n_train if n_train is None else n_train
    n_test = task.n_test if n_test is None else n_test
    for field, value in (("n_train", n_train), ("n_test", n_test)):
        if value < 1:
            raise ConfigError(f"{field} = {value}: a task needs at least one sample")
    structure, train_rng, test_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)
    )
    sample = task.prepare(structure)
    x_train, y_train = sample(train_rng, n_train)
    x_test, y_test = sample(test_rng, n_test)
    return TaskArrays(
        x_train.astype(np.float32),
        y_train.astype(np.int64),
        x_test.astype(np.float32),
        y_test.astype(np.int64),
        task.n_classes,
    )
