"""Data sets and input encoders.

One entry point, :func:`load_dataset`, turns a data-set name into a :class:`Dataset`: flattened
float32 features, int64 labels, a seeded stratified validation split and training-set
standardisation statistics. The names are

``digits``
    scikit-learn's 8x8 hand-written digits (1797 samples, bundled, no download).
``mnist1d``
    Greydanus' MNIST-1D (40 features), generated with its default arguments (seed 42) and cached.
``breast-cancer``, ``wine``
    scikit-learn's bundled tabular sets (569 samples / 30 features / 2 classes; 178 / 13 / 3),
    with a fixed stratified 20 % test split.
``fashion-mnist``, ``mnist``
    The 28x28 IDX files, looked up in :func:`data_search_path`; :func:`fetch_dataset` downloads
    them and verifies their SHA-256.
``fashion-mnist-small``
    A fixed stratified subset of Fashion-MNIST: 10,000 training and 2,000 test images.
``gaussian-mixture``, ``shells``, ``teacher``, ``parity``, ``heavy-tailed``, ``many-classes``, \
``few-samples``, ``sparse-features``
    The synthetic task suite of :mod:`neurosig.tasks` (seeded generators of different
    character), generated with :data:`neurosig.tasks.TASK_SEED`.
``npz:PATH``
    A user's own ``.npz`` file with ``x_train``, ``y_train``, ``x_test``, ``y_test``; its
    labels must be the classes ``0 .. C-1``, or be remapped to them (``remap_labels``).

Every source passes the same checks in :func:`load_dataset` before anything is allocated for it:
labels that are classes (each present in training, at least two, no test-only class) and
features that are real numbers within float32's range.

The encoders turn features into what a network of neurons receives: :func:`poisson_spike_trains`
(rate coding) and :func:`constant_current` (a scaled input current). :func:`poisson_events` is
the Poisson sampler behind the spike trains, for any array of processes (samples x units) and
for spikes on a simulator's time steps.
"""

from __future__ import annotations

import difflib
import gzip
import hashlib
import importlib.metadata
import os
import random
import urllib.error
import urllib.request
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from neurosig import seeds, tasks
from neurosig.atomic import sha256_file, write_atomic
from neurosig.cache import MNIST1D, SKLEARN, cache_path, cache_root
from neurosig.errors import ConfigError, DataError, os_error_message

__all__ = [
    "DATASETS",
    "DOWNLOAD_URLS",
    "SHA256SUMS",
    "SUITE",
    "Dataset",
    "canonical_name",
    "constant_current",
    "data_search_path",
    "fetch_dataset",
    "find_idx_files",
    "load_dataset",
    "poisson_events",
    "poisson_spike_trains",
    "read_idx",
]

SKLEARN_DATASETS = ("digits", "breast-cancer", "wine")
DATASETS: tuple[str, ...] = (
    *SKLEARN_DATASETS,
    "mnist1d",
    "fashion-mnist",
    "fashion-mnist-small",
    "mnist",
    *tasks.task_names(),
)
"""Named data sets; ``"npz:PATH"`` loads a user's file in addition."""

SUITE: tuple[str, ...] = (
    *tasks.task_names(),
    "breast-cancer",
    "wine",
    "digits",
    "mnist1d",
    "fashion-mnist-small",
)
"""The transfer suite (``benchmarks/transfer.py``): every synthetic task and five real sets."""

NPZ_PREFIX = "npz:"
IDX_DATASETS = ("fashion-mnist", "mnist")
SYSTEM_DATA_DIR = Path("/usr/share/datasets")

# File stems shared by MNIST and Fashion-MNIST (the latter was designed as a drop-in replacement).
IDX_STEMS: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

DOWNLOAD_URLS: dict[str, str] = {
    # The official host. It is an S3 *website* endpoint, which serves plain HTTP only; the
    # SHA-256 check below is what makes the download trustworthy.
    "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    # yann.lecun.com now refuses most downloads; this is PyTorch's mirror of the same files.
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
}

# SHA-256 of the upstream .gz files, as listed by tensorflow-datasets (url_checksums/*.txt) and
# torchvision (prototype/datasets/_builtin/mnist.py), which agree. The Fashion-MNIST values were
# also checked against Debian's dataset-fashion-mnist files, whose deflate streams are the
# upstream ones behind a gzip header without file name and time stamp.
SHA256SUMS: dict[str, dict[str, str]] = {
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": (
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"
        ),
        "train-labels-idx1-ubyte.gz": (
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"
        ),
        "t10k-images-idx3-ubyte.gz": (
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"
        ),
        "t10k-labels-idx1-ubyte.gz": (
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"
        ),
    },
    "mnist": {
        "train-images-idx3-ubyte.gz": (
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
        ),
        "train-labels-idx1-ubyte.gz": (
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
        ),
        "t10k-images-idx3-ubyte.gz": (
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
        ),
        "t10k-labels-idx1-ubyte.gz": (
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
        ),
    },
}

IDX_N_CLASSES = 10
# scikit-learn's bundled sets have no official test split: a fixed stratified 20 %, drawn with a
# fixed seed and deliberately not the experiment seed, so that every run is scored on the same
# samples.
SKLEARN_TEST_FRACTION = 0.2
SKLEARN_TEST_SEED = 0
# The Fashion-MNIST subset of the transfer suite (stratified, fixed seed).
SMALL_SUBSET = {"fashion-mnist-small": ("fashion-mnist", 10_000, 2_000)}
SMALL_SUBSET_SEED = 0
DIGITS_MAX_PIXEL = 16.0
PIXEL_MAX = 255.0
MNIST1D_SEED = 42
MNIST1D_N_FEATURES = 40
# Features this flat carry no information; dividing by their std would only amplify round-off.
MIN_STD = 1e-8
# Features are float32 (the precision of every model's input); larger magnitudes become inf.
FLOAT32_MAX = float(np.finfo(np.float32).max)
# Labels a message names before "and N more".
LABELS_SHOWN = 5
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
# The first bytes of a .npy file and of a zip archive (which an .npz is).
NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK"
# IDX type codes (LeCun's format description); multi-byte values are big-endian.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"
DOWNLOAD_CHUNK = 1 << 16
# Random numbers drawn per block of Bernoulli spike bins: bounds memory to ~32 MiB per block.
SPIKE_BLOCK_ELEMENTS = 1 << 22


# --------------------------------------------------------------------------------------------
# The data set
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Dataset:
    """A classification data set split into training, validation and test sets.

    Features are flattened to ``(n_samples, n_features)`` float32; ``feature_shape`` keeps the
    original sample shape (``x_train[i].reshape(feature_shape)`` is the image). When
    standardised, every split was transformed with the *training* split's ``mean`` and ``std``,
    so ``x_raw = x * std + mean``.

    Attributes
    ----------
    name : str
        Canonical data-set name (``"fashion-mnist"``, ``"npz:/path/file.npz"``, ...).
    x_train, x_val, x_test : numpy.ndarray
        Features, float32, shape ``(n, n_features)``.
    y_train, y_val, y_test : numpy.ndarray
        Class labels, int64 in ``0 .. n_classes - 1``, shape ``(n,)``.
    n_classes : int
        Number of classes.
    class_labels : tuple of int
        The label each class had in the source: class ``k`` is ``class_labels[k]``. It is
        ``(0, 1, ..., n_classes - 1)`` unless the labels were remapped (``remap_labels``).
    feature_shape : tuple of int
        Shape of one sample before flattening, e.g. ``(28, 28)``.
    mean, std : numpy.ndarray or None
        Per-feature standardisation statistics (float32, ``(n_features,)``) of the final
        training split, or None when the features were not standardised.
    source : str
        Where the data came from (file paths or the generating call), for provenance.
    """

    name: str
    x_train: np.ndarray = field(repr=False)
    y_train: np.ndarray = field(repr=False)
    x_val: np.ndarray = field(repr=False)
    y_val: np.ndarray = field(repr=False)
    x_test: np.ndarray = field(repr=False)
    y_test: np.ndarray = field(repr=False)
    n_classes: int
    class_labels: tuple[int, ...]
    feature_shape: tuple[int, ...]
    mean: np.ndarray | None = field(repr=False)
    std: np.ndarray | None = field(repr=False)
    source: str

    @property
    def n_features(self) -> int:
        """Number of features per sample (the product of ``feature_shape``)."""
        return int(self.x_train.shape[1])


class _Raw(NamedTuple):
    """A data set as its source provides it: official train/test split, features unscaled.

    ``n_classes`` is what the source declares (10 for MNIST), or None for a user's file, whose
    classes are its distinct training labels.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int | None
    feature_shape: tuple[int, ...]
    source: str


class _Classes(NamedTuple):
    """Labels as class indices ``0 .. len(labels) - 1``, and the source's label of each class."""

    y_train: np.ndarray
    y_test: np.ndarray
    labels: tuple[int, ...]


def load_dataset(
    name: str,
    *,
    validation_fraction: float = 0.1,
    seed: int = 0,
    standardise: bool = True,
    n_train: int | None = None,
    n_test: int | None = None,
    remap_labels: bool = False,
) -> Dataset:
    """Load a data set by name, split off a validation set and standardise the features.

    Every source is checked before anything is allocated for it: the training labels must be
    the classes ``0 .. C-1``, each of them present and at least two of them; every test label
    must be a training class; the features must be real numbers whose magnitudes fit float32.

    Parameters
    ----------
    name : str
        One of :data:`DATASETS` or ``"npz:PATH"``.
    validation_fraction : float
        Fraction of the official training set held out for validation, in ``[0, 1)``; the split
        is stratified by class. 0 gives empty validation arrays.
    seed : int
        Root seed of the validation split and of the ``n_train``/``n_test`` subsamples (the
        streams ``split``, ``train_subset`` and ``test_subset`` of :mod:`neurosig.seeds`). The
        test set itself never depends on it.
    standardise : bool
        Z-score every feature with the mean and standard deviation of the final training split,
        ``x' = (x - mean) / std`` (features with ``std < 1e-8`` get ``std = 1``).
    n_train : int, optional
        Keep only this many training samples (stratified, seeded), for quick runs. The
        validation set shrinks in proportion, so that it stays ``validation_fraction`` of
        training plus validation.
    n_test : int, optional
        Keep only this many test samples (stratified, seeded).
    remap_labels : bool
        Map the sorted distinct training labels ``l_0 < l_1 < ... < l_{K-1}`` (any integers,
        e.g. ``{0, 5, 9}`` or ``{-1, 1}``) to the classes ``0 .. K-1``; the original labels
        are kept in :attr:`Dataset.class_labels` and named in :attr:`Dataset.source`.

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        Unknown name; missing, corrupt or malformed files; labels that are not ``0 .. C-1``
        (the message names the missing labels and ``remap_labels``); one class only; a test
        class absent from training; features that are not real, finite numbers within
        float32's range; more samples asked for than there are.
    ConfigError
        ``validation_fraction``, ``n_train`` or ``n_test`` out of range.

    Notes
    -----
    Image pixels are scaled to ``[0, 1]`` before standardisation (digits: value / 16,
    MNIST and Fashion-MNIST: value / 255); MNIST-1D is used as generated.

    Examples
    --------
    >>> ds = load_dataset("digits", n_train=200)
    >>> ds.x_train.shape, ds.feature_shape, ds.n_classes
    ((200, 64), (8, 8), 10)
    """
    _check_fraction(validation_fraction)
    canonical = canonical_name(name)
    raw = _load_raw(canonical)
    classes = _class_indices(raw, canonical, remap_labels)
    for key, x in (("x_train", raw.x_train), ("x_test", raw.x_test)):
        _check_features(x, key, canonical)
    # Streams of their own: asking for fewer test samples must not change the training subset,
    # and no draw here repeats one of the training run's (weights, shuffling).
    train, val = _train_validation_indices(
        classes.y_train,
        validation_fraction,
        n_train,
        seeds.stream(seed, "split"),
        seeds.stream(seed, "train_subset"),
        canonical,
    )
    _check_training_classes(classes, train, canonical, validation_fraction, n_train)
    test = np.arange(len(classes.y_test))
    if n_test is not None:
        _check_count(n_test, len(test), "n_test", f"test samples of {canonical}")
        test = _stratified_partition(classes.y_test, n_test, seeds.stream(seed, "test_subset"))[0]
    x_train, x_val, x_test = raw.x_train[train], raw.x_train[val], raw.x_test[test]
    mean = std = None
    # an overflow here is refused just below, in one message instead of a warning
    with np.errstate(over="ignore"):
        if standardise:
            mean, std = _standardisation(x_train)
            x_train, x_val, x_test = ((x - mean) / std for x in (x_train, x_val, x_test))
        x_train, x_val, x_test = (_as_features(x) for x in (x_train, x_val, x_test))
    if standardise:
        checked = (("x_train", x_train), ("the validation split of x_train", x_val))
        for key, x in (*checked, ("x_test", x_test)):
            _check_standardised(x, key, canonical, std)
    source = raw.source
    if remap_labels:
        source += f"; labels remapped: class k is label {list(classes.labels)}[k]"
    return Dataset(
        name=canonical,
        x_train=x_train,
        y_train=classes.y_train[train],
        x_val=x_val,
        y_val=classes.y_train[val],
        x_test=x_test,
        y_test=classes.y_test[test],
        n_classes=len(classes.labels),
        class_labels=classes.labels,
        feature_shape=raw.feature_shape,
        mean=mean,
        std=std,
        source=source,
    )


def canonical_name(name: str) -> str:
    """``name`` as listed in :data:`DATASETS` (case and ``_`` forgiven), or a DataError.

    ``"npz:PATH"`` names are returned unchanged.

    Examples
    --------
    >>> canonical_name("Fashion_MNIST")
    'fashion-mnist'
    """
    if name.startswith(NPZ_PREFIX):
        return name
    normalised = name.strip().lower().replace("_", "-")
    if normalised in DATASETS:
        return normalised
    choices = [*DATASETS, NPZ_PREFIX + "PATH"]
    close = difflib.get_close_matches(normalised, choices, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise DataError(f"unknown dataset {name!r}{hint}; choose one of {', '.join(choices)}")


def _load_raw(name: str) -> _Raw:
    """Dispatch a canonical name to its loader."""
    if name.startswith(NPZ_PREFIX):
        return _load_npz(Path(name[len(NPZ_PREFIX) :]).expanduser())
    if name in SKLEARN_DATASETS:
        return _load_sklearn(name)
    if name == "mnist1d":
        return _load_mnist1d()
    if name in SMALL_SUBSET:
        return _load_subset(name)
    if name in tasks.TASKS:
        return _load_task(name)
    return _load_idx_dataset(name)


def _check_fraction(validation_fraction: float) -> None:
    if not 0.0 <= validation_fraction < 1.0:
        raise ConfigError(
            f"validation_fraction = {validation_fraction!r} is out of range; use a value in "
            "[0, 1), e.g. 0.1"
        )


def _check_count(requested: int, available: int, argument: str, what: str) -> None:
    if requested < 1:
        raise ConfigError(f"{argument} = {requested!r} must be at least 1")
    if requested > available:
        raise DataError(
            f"{argument} = {requested} is more than the {available} {what}; "
            f"use {argument} <= {available} or leave it unset"
        )


def _train_validation_indices(
    y: np.ndarray,
    validation_fraction: float,
    n_train: int | None,
    rng_split: np.random.Generator,
    rng_subsample: np.random.Generator,
    name: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Indices into the official training set: (training, validation), both sorted."""
    val, train = _stratified_partition(y, round(validation_fraction * len(y)), rng_split)
    if n_train is None:
        return train, val
    _check_count(
        n_train, len(train), "n_train", f"training samples of {name} left after validation"
    )
    train = train[_stratified_partition(y[train], n_train, rng_subsample)[0]]
    n_val = min(len(val), round(n_train * validation_fraction / (1.0 - validation_fraction)))
    val = val[_stratified_partition(y[val], n_val, rng_subsample)[0]]
    return train, val


def _stratified_partition(
    y: np.ndarray, n_select: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``arange(len(y))`` into ``n_select`` stratified random indices and the rest.

    Every class contributes ``n_select * n_class / n`` samples, rounded by largest remainder
    (ties broken at random) so that the total is exact. Both index arrays are sorted, which
    keeps the source order and makes the result independent of how classes are enumerated.
    """
    classes, counts = np.unique(y, return_counts=True)
    exact = counts * (n_select / max(len(y), 1))
    quota = np.floor(exact).astype(np.int64)
    shortfall = n_select - int(quota.sum())
    if shortfall > 0:
        order = np.lexsort((rng.random(len(classes)), -(exact - quota)))
        quota[order[:shortfall]] += 1
    chosen = [
        rng.choice(np.flatnonzero(y == c), size=q, replace=False)
        for c, q in zip(classes, quota, strict=True)
    ]
    mask = np.zeros(len(y), dtype=bool)
    mask[np.concatenate([np.empty(0, np.int64), *chosen])] = True
    return np.flatnonzero(mask), np.flatnonzero(~mask)


def _standardisation(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and std (float32), accumulated in float64 for accuracy."""
    mean = x.mean(axis=0, dtype=np.float64)
    std = x.std(axis=0, dtype=np.float64)
    std[std < MIN_STD] = 1.0
    return mean.astype(np.float32), std.astype(np.float32)


def _as_features(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float32)


def _as_labels(y: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(y, dtype=np.int64)


# --------------------------------------------------------------------------------------------
# Checks of every source: labels are classes, features fit float32
# --------------------------------------------------------------------------------------------


def _class_indices(raw: _Raw, name: str, remap: bool) -> _Classes:
    """The labels of ``raw`` as class indices, or one DataError naming the labels and the fix.

    Works on the sorted distinct training labels only, so that a label of 10**9 costs nothing.
    """
    present = np.unique(raw.y_train)
    if len(present) < 2:
        only = f"only the label {present[0]}" if len(present) else "no label"
        raise DataError(
            f"{name}: y_train holds {only}; a classifier needs at least two classes in "
            "training: add samples of another class"
        )
    if not remap:
        _check_contiguous(present, raw.n_classes, name)
    unseen = np.setdiff1d(raw.y_test, present)
    if len(unseen):
        raise DataError(
            f"{name}: y_test holds the label(s) {_few(unseen)}, which y_train never has: a "
            "model cannot learn a class it never sees; drop those test samples, or add "
            "training samples of them"
        )
    return _Classes(
        y_train=np.searchsorted(present, raw.y_train).astype(np.int64),
        y_test=np.searchsorted(present, raw.y_test).astype(np.int64),
        labels=tuple(int(label) for label in present),
    )


def _check_contiguous(present: np.ndarray, n_classes: int | None, name: str) -> None:
    """Refuse training labels other than every class ``0 .. C-1`` (``C`` declared or counted)."""
    n = len(present) if n_classes is None else n_classes
    if len(present) == n and present[0] == 0 and present[-1] == n - 1:
        return
    remap = (
        f"set remap_labels = true in [data] or pass --remap-labels (it maps the "
        f"{len(present)} distinct training "
        f"labels {_few(present)} to 0..{len(present) - 1}), or relabel the data as 0..C-1"
    )
    if present[0] < 0:
        raise DataError(
            f"{name}: y_train holds the negative label(s) {_few(present[present < 0])}; labels "
            f"must be the classes 0..C-1: {remap}"
        )
    edges = [-1, *(int(label) for label in present), max(n, int(present[-1]) + 1)]
    missing: list[int] = []
    n_missing = 0
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        n_missing += high - low - 1
        missing.extend(range(low + 1, min(high, low + 1 + LABELS_SHOWN - len(missing))))
    more = f" and {n_missing - len(missing)} more" if n_missing > len(missing) else ""
    raise DataError(
        f"{name}: the training labels must be the classes 0..C-1, each present; missing: "
        f"{', '.join(map(str, missing))}{more}; {remap}"
    )


def _check_training_classes(
    classes: _Classes, train: np.ndarray, name: str, fraction: float, n_train: int | None
) -> None:
    """Refuse a validation split or ``n_train`` subset that leaves a class out of training."""
    counts = np.bincount(classes.y_train[train], minlength=len(classes.labels))
    absent = [classes.labels[c] for c in np.flatnonzero(counts == 0)]
    if not absent:
        return
    kept = "" if n_train is None else f" and keeping n_train = {n_train} samples"
    fix = (
        f"use n_train >= {len(classes.labels)}, one sample per class at least"
        if n_train is not None and n_train < len(classes.labels)
        else "lower validation_fraction, raise n_train or add training samples of them"
    )
    raise DataError(
        f"{name}: holding out validation_fraction = {fraction:g}{kept} leaves no training "
        f"sample of the class(es) {_few(absent)}; {fix}"
    )


def _check_features(x: np.ndarray, key: str, name: str) -> None:
    """Refuse features that are not real numbers, not finite, or too large for float32."""
    if x.dtype.kind not in "biuf":
        raise DataError(
            f"{name}: {key} has dtype {x.dtype}; features must be real numbers (bool, integer "
            f"or float): convert them, e.g. with {key}.astype(float)"
        )
    if x.dtype.kind != "f" or x.size == 0:
        return  # every integer fits float32's range
    if not np.isfinite(x).all():
        raise DataError(
            f"{name}: {key} contains NaN or infinite values; remove or impute them first"
        )
    largest = max(abs(float(x.max())), abs(float(x.min())))
    if largest > FLOAT32_MAX:
        raise DataError(
            f"{name}: {key} holds a value of magnitude {largest:.3g}, beyond float32's largest "
            f"{FLOAT32_MAX:.3g} (features are float32): rescale the features, e.g. divide them "
            f"by {10.0 ** np.ceil(np.log10(largest)):.0e}"
        )


def _check_standardised(x: np.ndarray, key: str, name: str, std: np.ndarray) -> None:
    """Refuse standardised features that overflowed float32 (a tiny training std, an outlier)."""
    finite = np.isfinite(x).all(axis=0)
    if finite.all():
        return
    j = int(np.flatnonzero(~finite)[0])
    raise DataError(
        f"{name}: feature {j} of {key} is beyond float32's range once standardised with the "
        f"training mean and std (std = {float(std[j]):.3g}): rescale or clip that feature"
    )


def _few(labels: ArrayLike) -> str:
    """The first :data:`LABELS_SHOWN` of ``labels``, and how many more there are."""
    values = [int(v) for v in np.asarray(labels).ravel()[: LABELS_SHOWN + 1]]
    total = np.asarray(labels).size
    shown = ", ".join(map(str, values[:LABELS_SHOWN]))
    return shown + (f" and {total - LABELS_SHOWN} more" if total > LABELS_SHOWN else "")


# --------------------------------------------------------------------------------------------
# Built-in data sets
# --------------------------------------------------------------------------------------------


def _load_sklearn(name: str) -> _Raw:
    """One of scikit-learn's bundled sets, with a fixed stratified test split."""
    arrays = _sklearn_arrays(name)
    # digits: pixel values 0..16, scaled to [0, 1] as the other image sets
    x = arrays["x"] / DIGITS_MAX_PIXEL if name == "digits" else arrays["x"]
    y = _as_labels(arrays["y"])
    n_test = round(SKLEARN_TEST_FRACTION * len(y))
    test, train = _stratified_partition(y, n_test, np.random.default_rng(SKLEARN_TEST_SEED))
    return _Raw(
        x_train=x[train],
        y_train=y[train],
        x_test=x[test],
        y_test=y[test],
        n_classes=int(y.max()) + 1,
        feature_shape=(8, 8) if name == "digits" else (x.shape[1],),
        source=(
            f"scikit-learn load_{name.replace('-', '_')}, stratified "
            f"{SKLEARN_TEST_FRACTION:.0%} test split (seed {SKLEARN_TEST_SEED})"
        ),
    )


def _sklearn_arrays(name: str) -> dict[str, np.ndarray]:
    """The features ``x`` and labels ``y`` of a bundled scikit-learn set, as its loader returns
    them, read from neurosig's cache when they are there.

    Importing scikit-learn costs about 1.5 s, more than the rest of a short training run; the
    cache, keyed by scikit-learn's version, makes that a one-time cost per machine.
    """
    version = importlib.metadata.version("scikit-learn")
    path = cache_path(SKLEARN) / f"{name}-{version}.npz"

    def read() -> dict[str, np.ndarray]:
        from sklearn import datasets

        loader = {
            "digits": datasets.load_digits,
            "breast-cancer": datasets.load_breast_cancer,
            "wine": datasets.load_wine,
        }[name]
        bunch = loader()
        return {"x": bunch.data, "y": bunch.target}

    def malformed(arrays: dict[str, np.ndarray]) -> str | None:
        x, y = arrays["x"], arrays["y"]
        if x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
            return f"x {x.shape} and y {y.shape} are not one row per label"
        return None

    return _cached_arrays(path, ("x", "y"), read, malformed)


def _load_subset(name: str) -> _Raw:
    """A fixed stratified subset of a larger set (same subset for every run)."""
    parent, n_train, n_test = SMALL_SUBSET[name]
    raw = _load_raw(parent)
    rng = np.random.default_rng(SMALL_SUBSET_SEED)
    train = np.sort(_stratified_partition(raw.y_train, n_train, rng)[0])
    test = np.sort(_stratified_partition(raw.y_test, n_test, rng)[0])
    return raw._replace(
        x_train=raw.x_train[train],
        y_train=raw.y_train[train],
        x_test=raw.x_test[test],
        y_test=raw.y_test[test],
        source=f"{raw.source}; stratified subset {n_train} train / {n_test} test "
        f"(seed {SMALL_SUBSET_SEED})",
    )


def _load_task(name: str) -> _Raw:
    """A synthetic task of :mod:`neurosig.tasks`, generated with its fixed seed."""
    arrays = tasks.make_task(name)
    return _Raw(
        x_train=arrays.x_train,
        y_train=arrays.y_train,
        x_test=arrays.x_test,
        y_test=arrays.y_test,
        n_classes=arrays.n_classes,
        feature_shape=(arrays.x_train.shape[1],),
        source=f"neurosig.tasks.make_task({name!r}, seed={tasks.TASK_SEED}): "
        f"{tasks.TASKS[name].character}",
    )


def _load_mnist1d() -> _Raw:
    """MNIST-1D with default arguments, from the cache or generated (~2 s) and cached."""
    try:
        version = importlib.metadata.version("mnist1d")
    except importlib.metadata.PackageNotFoundError:
        raise DataError(
            "dataset 'mnist1d' needs the mnist1d package: pip install mnist1d"
        ) from None
    # Keyed by version: a new mnist1d release may generate different samples from the same seed.
    path = cache_path(MNIST1D) / f"mnist1d-{version}-seed{MNIST1D_SEED}.npz"

    def malformed(arrays: dict[str, np.ndarray]) -> str | None:
        shape = arrays["x_train"].shape
        ok = len(shape) == 2 and shape[1] == MNIST1D_N_FEATURES
        return None if ok else f"x_train has shape {shape}, not (n, {MNIST1D_N_FEATURES})"

    arrays = _cached_arrays(path, NPZ_KEYS, _generate_mnist1d, malformed)
    return _Raw(
        x_train=arrays["x_train"],
        y_train=_as_labels(arrays["y_train"]),
        x_test=arrays["x_test"],
        y_test=_as_labels(arrays["y_test"]),
        n_classes=10,
        feature_shape=(MNIST1D_N_FEATURES,),
        source=f"mnist1d {version} make_dataset(seed={MNIST1D_SEED})",
    )


def _generate_mnist1d() -> dict[str, np.ndarray]:
    # Imported here: mnist1d pulls in matplotlib and scipy (~1 s), which a cache hit avoids.
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.seed = MNIST1D_SEED
    # make_dataset seeds the *global* numpy and random generators; restore them so that loading
    # data never changes the random numbers of the caller's code.
    np_state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(np_state)  # noqa: NPY002
        random.setstate(py_state)
    return {
        "x_train": data["x"],
        "y_train": data["y"],
        "x_test": data["x_test"],
        "y_test": data["y_test"],
    }


def _cached_arrays(
    path: Path,
    keys: tuple[str, ...],
    make: Callable[[], dict[str, np.ndarray]],
    malformed: Callable[[dict[str, np.ndarray]], str | None],
) -> dict[str, np.ndarray]:
    """The arrays ``keys`` cached in ``path``, else ``make()``'s, then cached there.

    A cache file that cannot be read, or that ``malformed`` finds fault with (it returns why),
    is ignored with a warning and made again.
    """
    arrays = _read_cache(path, keys, malformed)
    if arrays is None:
        arrays = make()
        _write_npz_atomically(path, arrays)
    return arrays


def _read_cache(
    path: Path,
    keys: tuple[str, ...],
    malformed: Callable[[dict[str, np.ndarray]], str | None],
) -> dict[str, np.ndarray] | None:
    """The cached arrays, or None (and a warning if a file was there) when unusable."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in keys}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        warnings.warn(f"ignoring unreadable cache {path} ({exc}); regenerating", stacklevel=4)
        return None
    why = malformed(arrays)
    if why:
        warnings.warn(f"ignoring malformed cache {path} ({why}); regenerating", stacklevel=4)
        return None
    return arrays


def _write_npz_atomically(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` atomically, so a killed run leaves no torn cache.

    A cache that cannot be written is not an error: the data are regenerated next time.
    """

    def savez(tmp: Path) -> None:
        # through a file object: given a path, numpy would append ".npz" to the temporary name
        with open(tmp, "wb") as out:
            np.savez(out, **arrays)

    try:
        write_atomic(path, savez)
    except OSError as exc:
        warnings.warn(f"could not write the cache {path} ({exc})", stacklevel=3)


# --------------------------------------------------------------------------------------------
# User data (.npz)
# --------------------------------------------------------------------------------------------


def _load_npz(path: Path) -> _Raw:
    """A user's ``.npz`` with x_train, y_train, x_test, y_test; the classes are the distinct
    training labels (checked by :func:`load_dataset`)."""
    arrays = _read_npz(path)
    for split in ("train", "test"):
        _check_npz_split(arrays[f"x_{split}"], arrays[f"y_{split}"], split, path)
    x_train, x_test = arrays["x_train"], arrays["x_test"]
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DataError(
            f"{path}: x_train samples have shape {x_train.shape[1:]} but x_test samples "
            f"{x_test.shape[1:]}; both must hold samples of the same shape"
        )
    return _Raw(
        x_train=x_train.reshape(len(x_train), -1),
        y_train=arrays["y_train"],
        x_test=x_test.reshape(len(x_test), -1),
        y_test=arrays["y_test"],
        n_classes=None,
        feature_shape=tuple(int(n) for n in x_train.shape[1:]),
        source=str(path),
    )


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """The four arrays of an ``.npz`` archive, or one DataError saying what the file is instead.

    Never unpickles: an object array is refused (a pickle can run code).
    """
    fix = "save it with numpy.savez(PATH, x_train=..., y_train=..., x_test=..., y_test=...)"
    if path.is_dir():
        raise DataError(f"npz:{path} is a folder; give the path of an .npz file after 'npz:'")
    if not path.is_file():
        raise DataError(f"npz file {path} not found; check the path after 'npz:'")
    try:
        with open(path, "rb") as f:
            head = f.read(len(NPY_MAGIC))
    except OSError as exc:
        raise DataError(os_error_message(exc, "the npz file")) from None
    if not head:
        raise DataError(f"{path} is empty, not an .npz archive; {fix}")
    if head == NPY_MAGIC:
        raise DataError(
            f"{path} is an .npy file (one array), not an .npz archive of four arrays; {fix}"
        )
    if not head.startswith(ZIP_MAGIC):
        raise DataError(f"{path} is not an .npz archive (not a zip file); {fix}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [key for key in NPZ_KEYS if key not in npz.files]
            if missing:
                raise DataError(
                    f"{path} lacks the array(s) {', '.join(missing)} (it has "
                    f"{', '.join(npz.files) or 'none'}); {fix}"
                )
            return {key: _read_npz_array(npz, key, path) for key in NPZ_KEYS}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"could not read {path} as an .npz archive ({exc}); {fix}") from None


def _read_npz_array(npz: np.lib.npyio.NpzFile, key: str, path: Path) -> np.ndarray:
    try:
        return npz[key]
    except ValueError as exc:  # an object array (needs pickle), or a damaged member
        raise DataError(
            f"{path}: {key} cannot be read without unpickling or is damaged ({exc}); neurosig "
            f"reads numeric arrays only: save {key} with a numeric dtype, e.g. "
            f"{key}.astype({'int' if key.startswith('y') else 'float'})"
        ) from None


def _check_npz_split(x: np.ndarray, y: np.ndarray, split: str, path: Path) -> None:
    """One clear DataError naming the offending array, or nothing (features and label values
    are checked for every source by :func:`load_dataset`)."""
    xk, yk = f"x_{split}", f"y_{split}"
    if x.ndim < 2 or len(x) == 0 or x[0].size == 0:
        hint = f"; for one feature per sample use {xk}[:, None]" if x.ndim == 1 else ""
        raise DataError(
            f"{path}: {xk} has shape {x.shape}; it must be (n_samples, ...) with n_samples >= 1 "
            f"and at least one feature{hint}"
        )
    if y.ndim != 1 or len(y) != len(x):
        hint = f"; for one-hot labels use {yk}.argmax(axis=1)" if y.ndim == 2 else ""
        raise DataError(
            f"{path}: {yk} has shape {y.shape} but {xk} holds {len(x)} samples; "
            f"{yk} must be one label per sample, shape ({len(x)},){hint}"
        )
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(
            f"{path}: {yk} has dtype {y.dtype}; labels must be integers 0..C-1 "
            "(convert with y.astype(int))"
        )


# --------------------------------------------------------------------------------------------
# IDX files (MNIST, Fashion-MNIST)
# --------------------------------------------------------------------------------------------


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (LeCun's MNIST format), gzip-compressed or not.

    The header is ``0x00 0x00 <type code> <number of dimensions>`` followed by one big-endian
    uint32 per dimension; the data follow, row-major and big-endian. Compression is recognised
    by the gzip magic bytes, not the file name.

    Parameters
    ----------
    path : path-like
        The ``.idx*-ubyte`` or ``.idx*-ubyte.gz`` file.

    Returns
    -------
    numpy.ndarray
        Array of the stored shape, in native byte order (``uint8`` for MNIST).

    Raises
    ------
    DataError
        The file is unreadable, not gzip/IDX, or its size disagrees with its dimensions.

    References
    ----------
    Y. LeCun, C. Cortes, C. J. C. Burges, "The MNIST database of handwritten digits",
    http://yann.lecun.com/exdb/mnist/ (section "File formats").

    Examples
    --------
    >>> images = read_idx("train-images-idx3-ubyte.gz")  # doctest: +SKIP
    >>> images.shape, images.dtype  # doctest: +SKIP
    ((60000, 28, 28), dtype('uint8'))
    """
    path = Path(path)
    return _parse_idx(_read_maybe_gzip(path), path)


def _read_maybe_gzip(path: Path) -> bytes:
    fix = "delete it and download it again"
    try:
        with open(path, "rb") as f:
            content = f.read()
        if content[:2] == GZIP_MAGIC:
            content = gzip.decompress(content)
    except OSError as exc:
        # gzip.BadGzipFile is an OSError too, hence the explicit wording for it.
        kind = "a damaged gzip file" if isinstance(exc, gzip.BadGzipFile) else "unreadable"
        raise DataError(f"{path} is {kind} ({exc}); {fix}") from None
    except (EOFError, zlib.error) as exc:
        raise DataError(f"{path} is a truncated or damaged gzip file ({exc}); {fix}") from None
    return content


def _parse_idx(content: bytes, path: Path) -> np.ndarray:
    fix = "it is not an IDX file or is damaged; delete it and download it again"
    if len(content) < 4 or content[:2] != b"\x00\x00":
        magic = content[:4].hex() or "nothing"
        raise DataError(f"{path}: bad IDX magic number 0x{magic}; {fix}")
    type_code, ndim = content[2], content[3]
    if type_code not in IDX_DTYPES:
        raise DataError(f"{path}: unknown IDX data type code 0x{type_code:02x}; {fix}")
    header = 4 + 4 * ndim
    if ndim == 0 or len(content) < header:
        raise DataError(f"{path}: IDX header declares {ndim} dimensions; {fix}")
    dims = tuple(int(n) for n in np.frombuffer(content, ">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[type_code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    actual = len(content) - header
    if actual != expected:
        problem = "truncated" if actual < expected else "longer than its header says"
        raise DataError(
            f"{path}: {problem}: dimensions {dims} need {expected} bytes of data but the file "
            f"holds {actual}; {fix}"
        )
    data = np.frombuffer(content, dtype, offset=header).reshape(dims)
    return data.astype(dtype.newbyteorder("="))


def data_search_path(name: str | None = None) -> list[Path]:
    """Directories searched for data files, first match wins.

    Parameters
    ----------
    name : str, optional
        A data set (``"mnist"``, ``"fashion-mnist"``). Without it, the root directories are
        returned: every entry of ``$NEUROSIG_DATA`` (``os.pathsep``-separated), then
        neurosig's cache (:func:`neurosig.cache.cache_root`), then ``/usr/share/datasets``.

    Returns
    -------
    list of pathlib.Path
        With a name: for each ``$NEUROSIG_DATA`` entry ``DIR``, ``DIR/<name>`` and then ``DIR``
        itself; then ``cache_path(name)`` (where :func:`fetch_dataset` puts the files) and
        ``/usr/share/datasets/<name>`` (Debian's ``dataset-fashion-mnist`` package).

    Notes
    -----
    MNIST and Fashion-MNIST use the same file names, so a ``$NEUROSIG_DATA`` directory that
    holds the files directly serves whichever name is asked for; keep both data sets apart
    with one sub-directory per name.
    """
    entries = os.environ.get("NEUROSIG_DATA", "").split(os.pathsep)
    roots = [Path(entry).expanduser() for entry in entries if entry]
    if name is None:
        return [*roots, cache_root(), SYSTEM_DATA_DIR]
    user = [d for root in roots for d in (root / name, root)]
    return [*user, cache_path(name), SYSTEM_DATA_DIR / name]


def find_idx_files(name: str) -> dict[str, Path]:
    """Locate the four IDX files of ``name`` in the first directory that holds all of them.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist"}

    Returns
    -------
    dict
        Keys ``"train_images"``, ``"train_labels"``, ``"test_images"``, ``"test_labels"``;
        each file may be gzip-compressed (``.gz``) or not.

    Raises
    ------
    DataError
        No searched directory holds all four; the message says how to get them.
    """
    _check_idx_name(name)
    searched = data_search_path(name)
    for directory in searched:
        found = {key: _find_idx_file(directory, stem) for key, stem in IDX_STEMS.items()}
        if all(found.values()):
            return {key: path for key, path in found.items() if path is not None}
    raise DataError(_missing_idx_message(name, searched))


def _find_idx_file(directory: Path, stem: str) -> Path | None:
    # Uncompressed first: it reads faster and is what a user who unpacked the files has.
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _check_idx_name(name: str) -> None:
    if name not in IDX_DATASETS:
        raise DataError(
            f"{name!r} is not a downloadable IDX data set; choose one of {', '.join(IDX_DATASETS)}"
            " (digits and mnist1d need no files)"
        )


def _missing_idx_message(name: str, searched: list[Path]) -> str:
    files = ", ".join(f"{stem}[.gz]" for stem in IDX_STEMS.values())
    ways = [
        f"run `neurosig data fetch {name}`",
        "set NEUROSIG_DATA=DIR to a directory holding them",
    ]
    if name == "fashion-mnist":
        ways.append("`apt-get install dataset-fashion-mnist` (Debian/Ubuntu)")
    return (
        f"dataset {name!r}: IDX files not found ({files}) in any of "
        f"{', '.join(str(d) for d in searched)}; to get them, {', or '.join(ways)}"
    )


def _load_idx_dataset(name: str) -> _Raw:
    files = find_idx_files(name)
    arrays = {key: read_idx(path) for key, path in files.items()}
    splits = {}
    for split in ("train", "test"):
        images_key, labels_key = f"{split}_images", f"{split}_labels"
        _check_idx_pair(
            arrays[images_key], arrays[labels_key], files[images_key], files[labels_key], name
        )
        splits[split] = arrays[images_key], arrays[labels_key]
    (train_images, train_labels), (test_images, test_labels) = splits["train"], splits["test"]
    if train_images.shape[1:] != test_images.shape[1:]:
        raise DataError(
            f"dataset {name!r}: training images are {train_images.shape[1:]} but test images "
            f"{test_images.shape[1:]}; the files come from different data sets: "
            f"fetch them again with `neurosig data fetch {name}`"
        )
    return _Raw(
        x_train=_pixels(train_images),
        y_train=_as_labels(train_labels),
        x_test=_pixels(test_images),
        y_test=_as_labels(test_labels),
        n_classes=IDX_N_CLASSES,
        feature_shape=tuple(int(n) for n in train_images.shape[1:]),
        source="IDX files " + ", ".join(str(p) for p in files.values()),
    )


def _check_idx_pair(
    images: np.ndarray, labels: np.ndarray, images_path: Path, labels_path: Path, name: str
) -> None:
    fix = f"fetch them again with `neurosig data fetch {name}`"
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(
            f"{images_path}: expected uint8 images (n, rows, cols), got {images.dtype} "
            f"{images.shape}; {fix}"
        )
    if labels.ndim != 1:
        raise DataError(f"{labels_path}: expected labels of shape (n,), got {labels.shape}; {fix}")
    if len(images) != len(labels):
        raise DataError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} "
            f"labels; {fix}"
        )
    if len(labels) and labels.max() >= IDX_N_CLASSES:
        raise DataError(
            f"{labels_path}: label {int(labels.max())} is not a class 0..{IDX_N_CLASSES - 1}; {fix}"
        )


def _pixels(images: np.ndarray) -> np.ndarray:
    """Flattened float32 pixels in [0, 1]."""
    return images.reshape(len(images), -1).astype(np.float32) / np.float32(PIXEL_MAX)


# --------------------------------------------------------------------------------------------
# Download
# --------------------------------------------------------------------------------------------


def fetch_dataset(
    name: str,
    dest: Path | None = None,
    *,
    base_url: str | None = None,
    checksums: dict[str, str] | None = None,
    timeout: float = 60,
) -> list[Path]:
    """Download the four IDX files of MNIST or Fashion-MNIST and verify their SHA-256.

    Each file is streamed into a temporary file next to its destination and renamed only when
    its hash matches, so an interrupted or corrupt download never looks like data. Files
    already present with the right hash are not downloaded again.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist"}
    dest : pathlib.Path, optional
        Target directory; default :func:`neurosig.cache.cache_path` ``(name)``, which
        :func:`load_dataset` searches.
    base_url : str, optional
        Where the files live (``base_url + file name``); default :data:`DOWNLOAD_URLS`.
    checksums : dict, optional
        Expected SHA-256 (hex) per ``.gz`` file name; default :data:`SHA256SUMS`. A file
        without a checksum is refused rather than downloaded unverified.
    timeout : float
        Seconds to wait for the server on each connection attempt or read.

    Returns
    -------
    list of pathlib.Path
        The training images, training labels, test images and test labels, in that order.

    Raises
    ------
    DataError
        Unknown name, missing checksum, network failure or hash mismatch.

    Examples
    --------
    >>> paths = fetch_dataset("fashion-mnist")  # doctest: +SKIP
    >>> load_dataset("fashion-mnist").x_train.shape  # doctest: +SKIP
    (54000, 784)
    """
    _check_idx_name(name)
    dest = Path(dest) if dest is not None else cache_path(name)
    base_url = base_url if base_url is not None else DOWNLOAD_URLS[name]
    expected = checksums if checksums is not None else SHA256SUMS.get(name, {})
    file_names = [f"{stem}.gz" for stem in IDX_STEMS.values()]
    # Refuse before downloading anything, so a missing checksum never leaves a partial set.
    for file_name in file_names:
        if file_name not in expected:
            raise DataError(
                f"no trusted SHA-256 checksum for {name} file {file_name}, so neurosig will not "
                f"download it; download {_join_url(base_url, file_name)} yourself into {dest} "
                "(or a directory named in NEUROSIG_DATA)"
            )
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"could not create {dest} ({exc}); pass another destination") from None
    paths = []
    for file_name in file_names:
        target = dest / file_name
        if not (target.is_file() and sha256_file(target) == expected[file_name].lower()):
            _download_verified(
                _join_url(base_url, file_name), target, expected[file_name].lower(), timeout
            )
        paths.append(target)
    return paths


def _join_url(base_url: str, file_name: str) -> str:
    return base_url.rstrip("/") + "/" + file_name


def _download_verified(url: str, target: Path, expected: str, timeout: float) -> None:
    """Stream ``url`` into ``target`` atomically; keep it only if the hash matches."""

    def download(tmp: Path) -> None:
        actual = _download(url, tmp, timeout)
        if actual != expected:
            raise DataError(
                f"{target.name} downloaded from {url} has SHA-256 {actual}, expected {expected}; "
                "the download was corrupted or the server holds other files: try again, or "
                f"copy verified files into {target.parent}"
            )

    try:
        write_atomic(target, download)
    except OSError as exc:  # the network errors became DataErrors in _download
        raise DataError(
            f"could not write {target} ({exc}); free space or pass another dest"
        ) from None


def _download(url: str, path: Path, timeout: float) -> str:
    """Copy ``url`` into the (empty) file ``path`` with a progress bar; return its SHA-256."""
    from tqdm import tqdm

    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(path, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                desc=url.rsplit("/", 1)[-1],
                disable=None,
                leave=False,
            ) as bar:
                while chunk := response.read(DOWNLOAD_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, HTTPException, ConnectionError, TimeoutError) as exc:
        # An HTTPError's own text carries the status code ("HTTP Error 404: ..."), its reason not.
        reason = exc if isinstance(exc, urllib.error.HTTPError) else getattr(exc, "reason", exc)
        raise DataError(
            f"could not download {url} ({reason}); copy the files into {path.parent} "
            "or set NEUROSIG_DATA"
        ) from None
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# Encoders
# --------------------------------------------------------------------------------------------


def poisson_spike_trains(
    rates: ArrayLike,
    duration: float,
    rng: np.random.Generator | int,
    dt: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Independent homogeneous Poisson spike trains, one per unit (rate coding).

    Without ``dt`` the process is continuous: unit ``i`` fires ``N_i ~ Poisson(r_i T)``
    spikes, placed independently and uniformly in ``[0, T)``, which is exactly a Poisson
    process of rate ``r_i`` (Dayan & Abbott 2001, sec. 1.4). With ``dt`` it is the
    discrete-time approximation used by clock-driven simulators: in every bin ``k dt``
    (``k = 0 .. floor(T / dt) - 1``) unit ``i`` fires with probability ``p_i = r_i dt``.

    Parameters
    ----------
    rates : array_like, shape (n_units,)
        Firing rates in Hz (spikes per second), finite and non-negative.
    duration : float
        Length ``T`` of the spike trains in seconds.
    rng : numpy.random.Generator or int
        Source of randomness (an int seeds a new generator).
    dt : float, optional
        Time step in seconds; requires ``max(rates) * dt <= 1``.

    Returns
    -------
    unit_indices : numpy.ndarray of int64
        Which unit fired each spike.
    spike_times : numpy.ndarray of float64
        When, in seconds, sorted ascending (ties on the ``dt`` grid ordered by unit). This is
        the pair Brian2's ``SpikeGeneratorGroup(n_units, unit_indices, spike_times * second)``
        takes.

    Raises
    ------
    ConfigError
        Negative or non-finite rates, negative duration, non-positive ``dt`` or ``rate * dt > 1``.

    References
    ----------
    P. Dayan and L. F. Abbott, *Theoretical Neuroscience*, MIT Press, 2001, ch. 1.4.

    Examples
    --------
    >>> units, times = poisson_spike_trains([10.0, 50.0], 1.0, np.random.default_rng(0))
    >>> bool(np.all(np.diff(times) >= 0)), set(units.tolist()) <= {0, 1}
    (True, True)
    """
    rates = np.asarray(rates, dtype=np.float64)
    _check_spike_arguments(rates, duration, dt)
    rng = np.random.default_rng(rng)
    if dt is None:
        (units,), times = poisson_events(rates * float(duration), float(duration), rng)
        order = np.argsort(times, kind="stable")
        return units[order], times[order]
    return _binned_bernoulli(rates, float(duration), float(dt), rng)


def _check_spike_arguments(rates: np.ndarray, duration: float, dt: float | None) -> None:
    if rates.ndim != 1:
        raise ConfigError(f"rates must be a 1-D array (n_units,), got shape {rates.shape}")
    if not np.all(np.isfinite(rates)) or np.any(rates < 0):
        raise ConfigError("rates must be finite and non-negative (Hz)")
    if not np.isfinite(duration) or duration < 0:
        raise ConfigError(f"duration = {duration!r} s must be finite and non-negative")
    if dt is None:
        return
    if not np.isfinite(dt) or dt <= 0:
        raise ConfigError(f"dt = {dt!r} s must be positive")
    if len(rates) and rates.max() * dt > 1:
        raise ConfigError(
            f"rate * dt = {rates.max() * dt:.3g} > 1 (unit {int(rates.argmax())}): a bin holds "
            f"at most one spike; use dt <= {1 / rates.max():.3g} s or lower the rates"
        )


def poisson_events(
    expected: ArrayLike, window: float, rng: np.random.Generator, *, steps: bool = False
) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Events of independent homogeneous Poisson processes in a window: the one sampler.

    Process ``k`` (an entry of ``expected``) has ``N_k ~ Poisson(expected[k])`` events, each
    placed independently and uniformly in ``[0, window)``: exactly a Poisson process of rate
    ``expected[k] / window`` (Dayan & Abbott 2001, sec. 1.4). With ``steps`` the window is a
    number of time steps and each event falls on a uniform step ``0 .. window - 1``, the form a
    clock-driven simulator takes (two events of a process may share a step).

    Parameters
    ----------
    expected : array_like
        Expected number of events of each process in the window (rate x window length), any
        shape, e.g. ``(n_samples, n_units)``; finite and non-negative.
    window : float or int
        Length of the window (seconds, say), or its number of steps with ``steps``.
    rng : numpy.random.Generator
        Draws the counts (one Poisson draw per process, in C order), then the positions.
    steps : bool
        Place events on integer steps instead of continuous positions.

    Returns
    -------
    index : tuple of numpy.ndarray
        One int64 array per axis of ``expected``: the process of each event, as
        :func:`numpy.nonzero` gives it (processes in C order, their events together).
    position : numpy.ndarray
        float64 position in ``[0, window)`` of each event, or its int64 step with ``steps``;
        not sorted.

    Raises
    ------
    ValueError
        A negative or NaN entry of ``expected`` (from :meth:`numpy.random.Generator.poisson`).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> (sample, unit), step = poisson_events(np.full((2, 3), 4.0), 10, rng, steps=True)
    >>> bool(np.all((0 <= step) & (step < 10))), sample.shape == unit.shape == step.shape
    (True, True)
    """
    expected = np.asarray(expected, dtype=np.float64)
    counts = rng.poisson(expected)
    flat = np.repeat(np.arange(expected.size, dtype=np.int64), counts.ravel())
    index = tuple(i.astype(np.int64, copy=False) for i in np.unravel_index(flat, expected.shape))
    if steps:
        return index, rng.integers(0, window, flat.size)
    return index, rng.uniform(0.0, window, size=flat.size)


def _binned_bernoulli(
    rates: np.ndarray, duration: float, dt: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    # The tolerance keeps e.g. 0.3 s / 0.1 ms at 3000 bins despite float round-off.
    n_bins = int(np.floor(duration / dt + 1e-9))
    p = rates * dt
    block = max(1, SPIKE_BLOCK_ELEMENTS // max(len(rates), 1))
    bins, units = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
    for start in range(0, n_bins, block):
        fired = rng.random((min(block, n_bins - start), len(rates))) < p
        # nonzero walks row-major, i.e. by time bin then unit: the output is already sorted.
        b, u = np.nonzero(fired)
        bins.append(b + start)
        units.append(u)
    return np.concatenate(units).astype(np.int64), np.concatenate(bins) * dt


def constant_current(x: ArrayLike, scale: float = 1.0, offset: float = 0.0) -> np.ndarray:
    """Encode features as constant input currents, ``I = offset + scale * x``.

    The trivial counterpart of :func:`poisson_spike_trains` for rate and current-driven
    models. Units are the caller's: ``scale`` converts feature values into whatever current
    (or drive) unit the model's equations use, e.g. nA per unit feature.

    Parameters
    ----------
    x : array_like
        Features, any shape.
    scale, offset : float
        Gain and bias.

    Returns
    -------
    numpy.ndarray
        Float array of the shape of ``x``.

    Examples
    --------
    >>> constant_current([0.0, 0.5, 1.0], scale=2.0, offset=0.1)
    array([0.1, 1.1, 2.1])
    """
    return offset + scale * np.asarray(x, dtype=np.float64)
