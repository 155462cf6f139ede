"""Tests for neurosig.data: loaders, IDX reader, download, splits and spike encoders.

Statistical checks use 5-sigma bounds: each fails by chance with probability < 1e-6.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from neurosig import data
from neurosig.cache import MNIST1D, SKLEARN, cache_path, cache_root
from neurosig.data import (
    DATASETS,
    SKLEARN_DATASETS,
    Dataset,
    constant_current,
    data_search_path,
    fetch_dataset,
    find_idx_files,
    load_dataset,
    poisson_spike_trains,
    read_idx,
)
from neurosig.errors import ConfigError, DataError

IDX_CODES = {np.dtype("u1"): 0x08, np.dtype("i4"): 0x0C, np.dtype("f8"): 0x0E}
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the user's cache and data directories out of every test."""
    monkeypatch.setenv("NEUROSIG_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("NEUROSIG_DATA", raising=False)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode ``array`` in the IDX format (big-endian header and data)."""
    header = bytes([0, 0, IDX_CODES[array.dtype], array.ndim])
    dims = struct.pack(f">{array.ndim}I", *array.shape)
    return header + dims + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, array: np.ndarray, *, compress: bool) -> Path:
    content = idx_bytes(array)
    path.write_bytes(gzip.compress(content) if compress else content)
    return path


def fake_idx_set(directory: Path, n_train: int = 50, n_test: int = 20, seed: int = 0) -> dict:
    """Small MNIST-like IDX files (28x28 uint8, labels 0..9) written as .gz into ``directory``."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": (np.arange(n_train) % 10).astype(np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": (np.arange(n_test) % 10).astype(np.uint8),
    }
    for key, stem in data.IDX_STEMS.items():
        write_idx(directory / f"{stem}.gz", arrays[key], compress=True)
    return arrays


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Keep request logs out of the test output."""


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTP server on 127.0.0.1 (random port) serving a fresh directory: (url, directory)."""
    root = tmp_path / "served"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(QuietHandler, directory=str(root))
    )
    # A short poll interval keeps shutdown() fast.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------
# IDX reader
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [True, False], ids=["gz", "raw"])
@pytest.mark.parametrize(
    "array",
    [
        np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28),
        np.arange(10, dtype=np.uint8),
        np.array([[-5, 70000], [2**31 - 1, 0]], dtype=np.int32),
        np.array([0.5, -1e300, np.pi]),
    ],
    ids=["images", "labels", "int32", "float64"],
)
def test_read_idx_round_trip(tmp_path: Path, array: np.ndarray, compress: bool) -> None:
    out = read_idx(write_idx(tmp_path / "a-idx", array, compress=compress))
    assert out.dtype == array.dtype and out.dtype.isnative
    np.testing.assert_array_equal(out, array)


def corrupt(content: bytes, how: str) -> bytes:
    if how == "bad magic":
        return b"\x08\x03" + content[2:]
    if how == "unknown type":
        return content[:2] + b"\x42" + content[3:]
    if how == "truncated":
        return content[:-7]
    if how == "extra bytes":
        return content + b"\x00"
    if how == "wrong dims":
        return content[:4] + struct.pack(">I", 5) + content[8:]
    if how == "too short":
        return content[:2]
    raise AssertionError(how)


@pytest.mark.parametrize(
    "how", ["bad magic", "unknown type", "truncated", "extra bytes", "wrong dims", "too short"]
)
def test_read_idx_rejects_corrupt_files(tmp_path: Path, how: str) -> None:
    content = idx_bytes(np.zeros((4, 2, 2), dtype=np.uint8))
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(corrupt(content, how))
    with pytest.raises(DataError, match="bad-idx3-ubyte"):
        read_idx(path)


def test_read_idx_rejects_truncated_gzip(tmp_path: Path) -> None:
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(1000, dtype=np.uint8)))[:-20])
    with pytest.raises(DataError, match=r"x\.gz.*gzip"):
        read_idx(path)


def test_read_idx_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nothing-here"):
        read_idx(tmp_path / "nothing-here")


# --------------------------------------------------------------------------------------------
# MNIST / Fashion-MNIST loaders
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["fashion-mnist", "mnist"])
def test_idx_loader_on_small_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    arrays = fake_idx_set(tmp_path / "idx")
    monkeypatch.setenv("NEUROSIG_DATA", str(tmp_path / "idx"))
    ds = load_dataset(name, validation_fraction=0.2, standardise=False)
    assert (ds.name, ds.n_classes, ds.feature_shape, ds.n_features) == (name, 10, (28, 28), 784)
    assert ds.x_train.shape == (40, 784) and ds.x_val.shape == (10, 784)
    assert ds.x_test.shape == (20, 784) and ds.mean is None and ds.std is None
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    # Test set untouched and in order; pixels scaled to [0, 1].
    np.testing.assert_allclose(ds.x_test, arrays["test_images"].reshape(20, -1) / 255, rtol=1e-6)
    np.testing.assert_array_equal(ds.y_test, arrays["test_labels"])
    assert np.bincount(ds.y_val).tolist() == [1] * 10
    assert str(tmp_path / "idx") in ds.source


def test_idx_loader_prefers_named_subdirectory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_idx_set(tmp_path / "root", n_train=30)
    fake_idx_set(tmp_path / "root" / "mnist", n_train=60)
    monkeypatch.setenv("NEUROSIG_DATA", str(tmp_path / "root"))
    assert find_idx_files("mnist")["train_images"].parent == tmp_path / "root" / "mnist"
    assert len(load_dataset("mnist", validation_fraction=0).y_train) == 60
    assert len(load_dataset("fashion-mnist", validation_fraction=0).y_train) == 30


def test_idx_loader_standardises_with_training_statistics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_idx_set(tmp_path)
    monkeypatch.setenv("NEUROSIG_DATA", str(tmp_path))
    ds = load_dataset("mnist")
    np.testing.assert_allclose(ds.x_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(ds.x_train.std(axis=0), 1, atol=1e-4)
    raw = load_dataset("mnist", standardise=False)
    np.testing.assert_allclose(ds.x_test * ds.std + ds.mean, raw.x_test, atol=1e-5)


def test_idx_loader_rejects_count_mismatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_idx_set(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(19, np.uint8), compress=True)
    monkeypatch.setenv("NEUROSIG_DATA", str(tmp_path))
    with pytest.raises(DataError, match=r"20 images.*t10k-labels.*19 labels"):
        load_dataset("mnist")


@pytest.mark.parametrize("name", ["fashion-mnist", "mnist"])
def test_missing_idx_files_say_how_to_get_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setattr(data, "SYSTEM_DATA_DIR", tmp_path / "no-system-data")
    with pytest.raises(DataError) as info:
        load_dataset(name)
    message = str(info.value)
    assert f"neurosig data fetch {name}" in message and "NEUROSIG_DATA" in message
    assert ("apt-get install dataset-fashion-mnist" in message) == (name == "fashion-mnist")


def test_search_path_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEUROSIG_DATA", f"{tmp_path / 'a'}{os.pathsep}{tmp_path / 'b'}")
    assert data_search_path("mnist") == [
        tmp_path / "a" / "mnist",
        tmp_path / "a",
        tmp_path / "b" / "mnist",
        tmp_path / "b",
        cache_path("mnist"),
        Path("/usr/share/datasets/mnist"),
    ]
    assert data_search_path() == [
        tmp_path / "a",
        tmp_path / "b",
        cache_root(),
        Path("/usr/share/datasets"),
    ]


@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="Debian's dataset-fashion-mnist not installed")
def test_real_fashion_mnist() -> None:
    ds = load_dataset("fashion-mnist", n_train=1000, n_test=500)
    assert ds.x_train.shape == (1000, 784) and ds.x_test.shape == (500, 784)
    assert ds.x_val.shape == (111, 784) and ds.feature_shape == (28, 28)
    assert np.bincount(ds.y_train).tolist() == [100] * 10
    assert np.bincount(ds.y_test).tolist() == [50] * 10
    assert str(FASHION_DIR) in ds.source


# --------------------------------------------------------------------------------------------
# Download
# --------------------------------------------------------------------------------------------


def test_fetch_dataset_downloads_and_verifies(tmp_path: Path, file_server) -> None:
    url, served = file_server
    arrays = fake_idx_set(served)
    sums = {p.name: sha256(p) for p in served.iterdir()}
    paths = fetch_dataset("mnist", base_url=url, checksums=sums)
    assert [p.name for p in paths] == [f"{s}.gz" for s in data.IDX_STEMS.values()]
    assert all(p.parent == tmp_path / "cache" / "mnist" for p in paths)
    assert {p.name: sha256(p) for p in paths} == sums
    # The default destination is searched by the loader.
    ds = load_dataset("mnist", standardise=False)
    np.testing.assert_array_equal(ds.y_test, arrays["test_labels"])
    # Verified files are not downloaded again: this works with the server unreachable.
    unreachable = f"http://127.0.0.1:{unused_port()}/"
    assert fetch_dataset("mnist", base_url=unreachable, checksums=sums) == paths


def test_fetch_dataset_rejects_checksum_mismatch(tmp_path: Path, file_server) -> None:
    url, served = file_server
    fake_idx_set(served)
    sums = {p.name: sha256(p) for p in served.iterdir()}
    sums["train-images-idx3-ubyte.gz"] = "0" * 64
    dest = tmp_path / "dest"
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz.*0{64}") as info:
        fetch_dataset("fashion-mnist", dest, base_url=url, checksums=sums)
    assert sha256(served / "train-images-idx3-ubyte.gz") in str(info.value)
    assert list(dest.iterdir()) == []


def test_fetch_dataset_unreachable_host(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{unused_port()}/"
    sums = {f"{s}.gz": "0" * 64 for s in data.IDX_STEMS.values()}
    with pytest.raises(DataError, match=r"could not download .*127\.0\.0\.1.*NEUROSIG_DATA"):
        fetch_dataset("mnist", tmp_path / "dest", base_url=url, checksums=sums, timeout=5)
    assert list((tmp_path / "dest").iterdir()) == []


def test_fetch_dataset_missing_file_on_server(tmp_path: Path, file_server) -> None:
    url, _ = file_server
    sums = {f"{s}.gz": "0" * 64 for s in data.IDX_STEMS.values()}
    with pytest.raises(DataError, match=r"could not download .*404"):
        fetch_dataset("mnist", tmp_path / "dest", base_url=url, checksums=sums)


def test_fetch_dataset_refuses_without_checksum(tmp_path: Path) -> None:
    sums = {"train-images-idx3-ubyte.gz": "0" * 64}
    with pytest.raises(DataError, match="no trusted SHA-256.*train-labels"):
        fetch_dataset("mnist", tmp_path / "dest", base_url="http://127.0.0.1:9/", checksums=sums)
    assert not (tmp_path / "dest").exists()


def test_fetch_dataset_rejects_other_names() -> None:
    with pytest.raises(DataError, match="digits and mnist1d need no files"):
        fetch_dataset("digits")


def test_default_checksums_cover_every_file() -> None:
    for name in data.IDX_DATASETS:
        assert sorted(data.SHA256SUMS[name]) == sorted(f"{s}.gz" for s in data.IDX_STEMS.values())
        assert all(len(h) == 64 and int(h, 16) >= 0 for h in data.SHA256SUMS[name].values())


# --------------------------------------------------------------------------------------------
# npz
# --------------------------------------------------------------------------------------------


def npz_arrays(n_train: int = 60, n_test: int = 20) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    return {
        "x_train": rng.normal(size=(n_train, 3, 4)),
        "y_train": np.arange(n_train) % 3,
        "x_test": rng.normal(size=(n_test, 3, 4)),
        "y_test": np.arange(n_test) % 3,
    }


def test_npz_loader(tmp_path: Path) -> None:
    path = tmp_path / "mine.npz"
    arrays = npz_arrays()
    np.savez(path, **arrays)
    ds = load_dataset(f"npz:{path}", validation_fraction=0.25, standardise=False)
    assert ds.name == f"npz:{path}" and ds.source == str(path)
    assert (ds.n_classes, ds.feature_shape, ds.n_features) == (3, (3, 4), 12)
    assert ds.class_labels == (0, 1, 2)
    assert ds.x_train.shape == (45, 12) and ds.x_val.shape == (15, 12)
    np.testing.assert_allclose(ds.x_test, arrays["x_test"].reshape(20, 12), rtol=1e-6)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda a: a.pop("y_test"), "y_test"),
        (lambda a: a.update(y_train=a["y_train"][:-1]), "y_train"),
        (lambda a: a["x_test"].__setitem__((0, 0, 0), np.nan), "x_test.*NaN"),
        (lambda a: a.update(y_train=a["y_train"] + 0.0), "y_train.*integer"),
        (lambda a: a.update(y_train=a["y_train"] - 1), "y_train.*negative.*remap_labels"),
        (lambda a: a.update(y_test=a["y_test"] - 1), "y_test.*label.*-1.*y_train never has"),
        (lambda a: a.update(y_train=a["y_train"] * 2), "missing: 1, 3.*remap_labels = true"),
        (lambda a: a.update(x_test=a["x_test"][:, :2]), r"x_train.*\(3, 4\).*\(2, 4\)"),
    ],
    ids=[
        "missing key",
        "mismatched lengths",
        "NaN",
        "float labels",
        "negative",
        "test-only label",
        "gaps",
        "shapes",
    ],
)
def test_npz_loader_rejects_bad_files(tmp_path: Path, change, match: str) -> None:
    arrays = npz_arrays()
    change(arrays)
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=match):
        load_dataset(f"npz:{path}")


def test_npz_loader_missing_or_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        load_dataset(f"npz:{tmp_path / 'absent.npz'}")
    (tmp_path / "junk.npz").write_bytes(b"not a zip archive")
    with pytest.raises(DataError, match=r"junk\.npz"):
        load_dataset(f"npz:{tmp_path / 'junk.npz'}")


# --------------------------------------------------------------------------------------------
# digits: splits, standardisation, determinism
# --------------------------------------------------------------------------------------------


def test_digits_shapes_and_splits() -> None:
    ds = load_dataset("digits")
    assert isinstance(ds, Dataset) and ds.name == "digits" and ds.n_classes == 10
    assert ds.feature_shape == (8, 8) and ds.n_features == 64
    # 1797 samples: 359 (20 %) test; 10 % of the remaining 1438 for validation.
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (1294, 144, 359)
    for x, y in ((ds.x_train, ds.y_train), (ds.x_val, ds.y_val), (ds.x_test, ds.y_test)):
        assert x.dtype == np.float32 and y.dtype == np.int64 and x.shape == (len(y), 64)
    # Stratified: every class has its share of the validation set, to within rounding.
    share = np.bincount(ds.y_train, minlength=10) + np.bincount(ds.y_val, minlength=10)
    assert np.all(np.abs(np.bincount(ds.y_val, minlength=10) - 0.1 * share) <= 1)


def test_digits_standardisation() -> None:
    ds = load_dataset("digits")
    assert ds.mean.dtype == np.float32 and ds.mean.shape == ds.std.shape == (64,)
    varying = ds.std != 1
    np.testing.assert_allclose(ds.x_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(ds.x_train[:, varying].std(axis=0), 1, atol=1e-4)
    # Constant features (the always-blank corner pixels) keep std 1 instead of dividing by 0.
    assert np.all(np.isfinite(ds.x_test)) and not np.all(varying)
    raw = load_dataset("digits", standardise=False)
    assert raw.mean is None and raw.x_train.min() >= 0 and raw.x_train.max() <= 1


def test_digits_determinism() -> None:
    a, b = load_dataset("digits", seed=1), load_dataset("digits", seed=1)
    other = load_dataset("digits", seed=2)
    for key in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test", "mean", "std"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    assert not np.array_equal(a.x_val, other.x_val)
    # The test set is the same whatever the seed.
    np.testing.assert_array_equal(a.y_test, other.y_test)
    raw_a = load_dataset("digits", seed=1, standardise=False)
    raw_other = load_dataset("digits", seed=2, standardise=False)
    np.testing.assert_array_equal(raw_a.x_test, raw_other.x_test)


def test_digits_subsampling() -> None:
    ds = load_dataset("digits", n_train=200, n_test=100, validation_fraction=0.2)
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (200, 50, 100)
    # Stratified: each class keeps its share of the full split, to within rounding.
    full = load_dataset("digits", validation_fraction=0.2)
    for subset, whole in ((ds.y_train, full.y_train), (ds.y_test, full.y_test)):
        share = np.bincount(whole) / len(whole) * len(subset)
        assert np.all(np.abs(np.bincount(subset, minlength=10) - share) < 1)
    # n_test draws from its own stream: it does not change the training subset.
    other = load_dataset("digits", n_train=200, n_test=50, validation_fraction=0.2)
    np.testing.assert_array_equal(ds.x_train, other.x_train)


def test_zero_validation_fraction() -> None:
    ds = load_dataset("digits", validation_fraction=0)
    assert ds.x_val.shape == (0, 64) and ds.y_val.shape == (0,)
    assert ds.x_val.dtype == np.float32 and ds.y_val.dtype == np.int64
    assert len(ds.y_train) == 1438


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"validation_fraction": 1.0}, ConfigError, "validation_fraction"),
        ({"validation_fraction": -0.1}, ConfigError, "validation_fraction"),
        ({"n_train": 10_000}, DataError, r"n_train = 10000 .* 1294 training samples of digits"),
        ({"n_test": 0}, ConfigError, "n_test"),
    ],
)
def test_load_dataset_argument_errors(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        load_dataset("digits", **kwargs)


def test_unknown_dataset_suggests_a_name() -> None:
    with pytest.raises(DataError, match=r"'fashion-mnist'\?.*digits, breast-cancer"):
        load_dataset("fashon-mnist")
    assert load_dataset("Digits", n_train=10).name == "digits"
    assert {"digits", "mnist1d", "fashion-mnist", "mnist", "breast-cancer", "wine"} <= set(DATASETS)


# --------------------------------------------------------------------------------------------
# mnist1d
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist1d_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache holding the real MNIST-1D, generated once for the module (~3 s)."""
    directory = tmp_path_factory.mktemp("mnist1d-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NEUROSIG_CACHE", str(directory))
        load_dataset("mnist1d")
    return directory


def test_mnist1d_shapes_and_determinism(
    mnist1d_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEUROSIG_CACHE", str(mnist1d_cache))
    ds = load_dataset("mnist1d")
    assert (ds.n_classes, ds.feature_shape, ds.n_features) == (10, (40,), 40)
    assert (ds.x_train.shape, ds.x_val.shape, ds.x_test.shape) == (
        (3600, 40),
        (400, 40),
        (1000, 40),
    )
    assert ds.x_train.dtype == np.float32 and ds.y_test.dtype == np.int64
    assert "make_dataset(seed=42)" in ds.source
    np.testing.assert_allclose(ds.x_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(ds.x_train.std(axis=0), 1, atol=1e-4)
    again, other = load_dataset("mnist1d"), load_dataset("mnist1d", seed=5)
    np.testing.assert_array_equal(ds.x_val, again.x_val)
    assert not np.array_equal(ds.x_val, other.x_val)


def fake_make_dataset(calls: list, args=None, template=None) -> dict:
    """A quick stand-in for mnist1d's generator; like it, it reseeds numpy's global state."""
    calls.append(args)
    np.random.seed(args.seed)  # noqa: NPY002
    x = np.random.normal(size=(250, 40))  # noqa: NPY002
    y = np.arange(250) % 10
    return {"x": x[:200], "y": y[:200], "x_test": x[200:], "y_test": y[200:]}


def test_mnist1d_cache_hit_skips_generation(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list = []
    monkeypatch.setattr("mnist1d.data.make_dataset", partial(fake_make_dataset, calls))
    rng_before = np.random.get_state()[1].copy()  # noqa: NPY002
    first = load_dataset("mnist1d")
    # The caller's global random state survives mnist1d's reseeding.
    np.testing.assert_array_equal(np.random.get_state()[1], rng_before)  # noqa: NPY002
    second = load_dataset("mnist1d")
    assert len(calls) == 1 and calls[0].seed == 42
    np.testing.assert_array_equal(first.x_train, second.x_train)
    assert list(cache_path(MNIST1D).glob("*.part")) == []


def test_mnist1d_unreadable_cache_is_regenerated(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list = []
    monkeypatch.setattr("mnist1d.data.make_dataset", partial(fake_make_dataset, calls))
    load_dataset("mnist1d")
    (cached,) = cache_path(MNIST1D).glob("*.npz")
    cached.write_bytes(b"torn write")
    with pytest.warns(UserWarning, match="unreadable cache"):
        load_dataset("mnist1d")
    assert len(calls) == 2
    load_dataset("mnist1d")
    assert len(calls) == 2


# --------------------------------------------------------------------------------------------
# scikit-learn's bundled sets, cached
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SKLEARN_DATASETS)
def test_sklearn_sets_from_the_cache_equal_scikit_learns(name: str) -> None:
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name.replace('-', '_')}")()
    first = load_dataset(name)  # reads scikit-learn, writes the cache
    (cached,) = cache_path(SKLEARN).glob(f"{name}-*.npz")
    second = load_dataset(name)  # reads the cache
    for split in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(first, split), getattr(second, split))
    with np.load(cached) as npz:
        np.testing.assert_array_equal(npz["x"], bunch.data)
        np.testing.assert_array_equal(npz["y"], bunch.target)
    assert len(first.y_train) + len(first.y_val) + len(first.y_test) == len(bunch.target)


def test_a_cached_sklearn_set_loads_without_importing_scikit_learn(tmp_path: Path) -> None:
    load_dataset("digits")
    code = (
        "import sys; from neurosig.data import load_dataset; ds = load_dataset('digits'); "
        "print(ds.x_train.shape, 'sklearn' in sys.modules)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=os.environ.copy(), timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout.split()[-1] == "False", run.stdout


def test_a_damaged_sklearn_cache_is_read_again() -> None:
    first = load_dataset("wine")
    (cached,) = cache_path(SKLEARN).glob("wine-*.npz")
    with open(cached, "wb") as out:  # one label fewer than rows
        np.savez(out, x=np.zeros((5, 13)), y=np.zeros(4))
    with pytest.warns(UserWarning, match="malformed cache .*not one row per label"):
        again = load_dataset("wine")
    np.testing.assert_array_equal(first.x_test, again.x_test)
    with np.load(cached) as npz:  # replaced by scikit-learn's arrays
        assert npz["x"].shape == (178, 13)


# --------------------------------------------------------------------------------------------
# Encoders
# --------------------------------------------------------------------------------------------


def test_poisson_counts_and_variability() -> None:
    rate, duration, n_units = 20.0, 0.5, 2000
    units, times = poisson_spike_trains(np.full(n_units, rate), duration, np.random.default_rng(1))
    assert units.dtype == np.int64 and times.dtype == np.float64
    assert np.all(np.diff(times) >= 0) and times.min() >= 0 and times.max() < duration
    counts = np.bincount(units, minlength=n_units)
    expected = rate * duration
    # Mean count over units: sd sqrt(lambda / n). Fano factor 1: var(count) has sd
    # sqrt((lambda + 2 lambda^2) / n) for Poisson counts.
    assert abs(counts.mean() - expected) < 5 * np.sqrt(expected / n_units)
    assert abs(counts.var() - expected) < 5 * np.sqrt((expected + 2 * expected**2) / n_units)


def test_poisson_interval_cv_is_one() -> None:
    _, times = poisson_spike_trains([1000.0], 10.0, np.random.default_rng(2))
    isi = np.diff(times)
    # The CV of ~10^4 exponential intervals has sd ~ 1/sqrt(n) = 0.01.
    assert abs(isi.std() / isi.mean() - 1) < 0.05


def test_poisson_binned() -> None:
    rate, duration, dt, n_units = 20.0, 0.5, 1e-3, 2000
    units, times = poisson_spike_trains(np.full(n_units, rate), duration, 3, dt=dt)
    steps = times / dt
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-6)
    assert np.all(np.diff(times) >= 0) and times.max() < duration
    assert len(set(zip(units.tolist(), np.round(steps).astype(int).tolist(), strict=True))) == len(
        units
    )
    # Binomial(n_bins, p) counts: mean n p, variance n p (1 - p).
    n_bins, p = 500, rate * dt
    mean = np.bincount(units, minlength=n_units).mean()
    assert abs(mean - n_bins * p) < 5 * np.sqrt(n_bins * p * (1 - p) / n_units)


def test_poisson_binned_edge_probabilities() -> None:
    dt = 2.0**-10
    units, times = poisson_spike_trains([0.0, 1 / dt], 0.5, 0, dt=dt)
    assert np.all(units == 1) and len(times) == 512
    np.testing.assert_array_equal(times, np.arange(512) * dt)
    with pytest.raises(ConfigError, match="rate \\* dt"):
        poisson_spike_trains([1.1 / dt], 0.5, 0, dt=dt)


def test_poisson_reproducible() -> None:
    rates = np.linspace(0, 50, 30)
    for dt in (None, 1e-4):
        a = poisson_spike_trains(rates, 1.0, np.random.default_rng(7), dt=dt)
        b = poisson_spike_trains(rates, 1.0, np.random.default_rng(7), dt=dt)
        c = poisson_spike_trains(rates, 1.0, np.random.default_rng(8), dt=dt)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
        assert not np.array_equal(a[1], c[1])


@pytest.mark.parametrize(
    ("rates", "duration", "dt"),
    [
        ([-1.0], 1.0, None),
        ([np.nan], 1.0, None),
        ([[1.0]], 1.0, None),
        ([1.0], -1.0, None),
        ([1.0], 1.0, 0.0),
    ],
)
def test_poisson_rejects_bad_arguments(rates, duration: float, dt: float | None) -> None:
    with pytest.raises(ConfigError):
        poisson_spike_trains(rates, duration, 0, dt=dt)


def test_poisson_events_of_a_samples_by_units_array() -> None:
    expected = np.array([[0.0, 2.0, 5.0], [1.0, 0.0, 3.0]])
    (sample, unit), step = data.poisson_events(expected, 7, np.random.default_rng(4), steps=True)
    assert sample.dtype == unit.dtype == step.dtype == np.int64
    assert np.all((0 <= step) & (step < 7))
    assert not np.any(expected[sample, unit] == 0)  # silent processes have no events
    flat = sample * 3 + unit
    assert np.all(np.diff(flat) >= 0)  # processes in C order, their events together
    # the counts are the Poisson draws of the same generator, one per process in C order
    counts = np.random.default_rng(4).poisson(expected)
    np.testing.assert_array_equal(np.bincount(flat, minlength=6), counts.ravel())


def test_poisson_events_have_the_expected_counts_and_uniform_positions() -> None:
    (unit,), position = data.poisson_events(np.full(1000, 20.0), 0.5, np.random.default_rng(5))
    assert position.dtype == np.float64 and position.min() >= 0 and position.max() < 0.5
    counts = np.bincount(unit, minlength=1000)
    assert abs(counts.mean() - 20.0) < 5 * np.sqrt(20.0 / 1000)
    # uniform on [0, 0.5): mean 0.25, sd 0.5 / sqrt(12)
    assert abs(position.mean() - 0.25) < 5 * 0.5 / np.sqrt(12 * len(position))


def test_poisson_spike_trains_are_the_sorted_events() -> None:
    rates = np.linspace(0, 50, 30)
    (unit,), time = data.poisson_events(rates * 1.5, 1.5, np.random.default_rng(6))
    order = np.argsort(time, kind="stable")
    units, times = poisson_spike_trains(rates, 1.5, np.random.default_rng(6))
    np.testing.assert_array_equal(units, unit[order])
    np.testing.assert_array_equal(times, time[order])


def test_poisson_events_refuse_negative_expectations() -> None:
    with pytest.raises(ValueError):
        data.poisson_events([-1.0], 1.0, np.random.default_rng(0))


def test_constant_current() -> None:
    out = constant_current(np.array([[0, 1], [2, 3]], dtype=np.uint8), scale=0.5, offset=-1.0)
    np.testing.assert_array_equal(out, [[-1.0, -0.5], [0.0, 0.5]])
    assert out.dtype == np.float64
