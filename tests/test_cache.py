"""neurosig's one cache root, and ``neurosig cache info|clean`` on fake caches."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from neurosig import cache
from neurosig.brian import project_dir
from neurosig.cache import (
    BRIAN,
    IN_USE,
    MNIST1D,
    CacheLocation,
    cache_path,
    cache_root,
    clean_cache,
    locate_cache,
    lock_file,
    scan_cache,
    select_parts,
)
from neurosig.cli import main
from neurosig.data import data_search_path
from neurosig.errors import CacheError


@pytest.fixture(autouse=True)
def no_user_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every fallback of the root lies in tmp_path, so that no test (nor a broken root lookup)
    ever measures or cleans the user's cache."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache root (not created) chosen by NEUROSIG_CACHE."""
    monkeypatch.setenv("NEUROSIG_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def write(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)


@pytest.fixture
def tree(root: Path) -> Path:
    """A cache with a build, MNIST-1D, a downloaded data set and a stranger's file."""
    write(root / BRIAN / "0123abcd" / "main", 1000)
    write(root / BRIAN / "0123abcd" / "static_arrays" / "w", 500)
    (root / BRIAN / "0123abcd.lock").touch()
    write(root / MNIST1D / "mnist1d-0.0.2-seed42.npz", 300)
    write(root / "fashion-mnist" / "train-images-idx3-ubyte.gz", 2000)
    write(root / "fashion-mnist" / "t10k-images-idx3-ubyte.gz", 700)
    write(root / "notes.txt", 7)
    return root


# --------------------------------------------------------------------------------------------
# One root
# --------------------------------------------------------------------------------------------


def test_root_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("NEUROSIG_CACHE", str(tmp_path / "mine"))
    assert locate_cache() == (tmp_path / "mine", "NEUROSIG_CACHE")
    monkeypatch.setenv("NEUROSIG_CACHE", "")  # empty counts as unset
    assert locate_cache() == (tmp_path / "xdg" / "neurosig", "XDG_CACHE_HOME")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert locate_cache().path == tmp_path / "home" / ".cache" / "neurosig"
    assert locate_cache().chosen_by == "default"
    assert "(the default: NEUROSIG_CACHE and XDG_CACHE_HOME are not set)" in scan_cache().describe()
    monkeypatch.setenv("NEUROSIG_CACHE", "~/elsewhere")
    assert cache_root() == tmp_path / "home" / "elsewhere"


@pytest.mark.parametrize("variable", ["NEUROSIG_CACHE", "XDG_CACHE_HOME"])
def test_brian_builds_and_data_share_the_root(
    variable: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NEUROSIG_CACHE", raising=False)
    monkeypatch.delenv("NEUROSIG_DATA", raising=False)
    monkeypatch.setenv(variable, str(tmp_path))
    root = tmp_path if variable == "NEUROSIG_CACHE" else tmp_path / "neurosig"
    assert cache_root() == root
    assert project_dir("abc").parent == root / "brian"
    assert data_search_path("mnist")[-2] == root / "mnist" == cache_path("mnist")
    assert data_search_path()[-2] == root


def test_mnist1d_is_cached_under_the_root(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from neurosig.data import load_dataset

    def fake(args=None):
        rng = np.random.default_rng(args.seed)
        x, y = rng.normal(size=(100, 40)), np.arange(100) % 10
        return {"x": x[:80], "y": y[:80], "x_test": x[80:], "y_test": y[80:]}

    monkeypatch.setattr("mnist1d.data.make_dataset", fake)
    load_dataset("mnist1d")
    (cached,) = (root / MNIST1D).glob("*.npz")
    assert scan_cache().parts[0].path == root / MNIST1D


# --------------------------------------------------------------------------------------------
# info
# --------------------------------------------------------------------------------------------


def test_info_measures_each_part(tree: Path) -> None:
    info = scan_cache()
    parts = {p.name: p for p in info.parts}
    assert {n: (p.kind, p.size, p.entries) for n, p in parts.items()} == {
        "brian": ("brian", 1500, 2),
        "fashion-mnist": ("downloaded", 2700, 2),
        "mnist1d": ("generated", 300, 1),
        "notes.txt": ("other", 7, 1),
    }
    assert info.size == 4507
    text = info.describe()
    assert text.startswith(f"cache root: {tree} (from NEUROSIG_CACHE)\n")
    assert "total: 4.4 KiB in 4 parts" in text


def test_info_does_not_follow_links_out_of_the_root(tree: Path, tmp_path: Path) -> None:
    write(tmp_path / "outside" / "big", 10_000)
    (tree / MNIST1D / "link").symlink_to(tmp_path / "outside")
    (tree / "data-elsewhere").symlink_to(tmp_path / "outside")
    parts = {p.name: p for p in scan_cache().parts}
    assert parts["mnist1d"].size == 300 + len(str(tmp_path / "outside"))  # the link, not its data
    assert parts["data-elsewhere"].link == str(tmp_path / "outside")
    assert "(link, not followed)" in scan_cache().describe()


def test_a_root_that_does_not_exist_is_empty(root: Path, capsys) -> None:
    info = scan_cache()
    assert not info.exists and info.parts == () and info.size == 0
    assert main(["cache", "info"]) == 0
    assert "empty" in capsys.readouterr().out
    assert main(["cache", "clean", "--all"]) == 0
    assert "nothing removed" in capsys.readouterr().out
    assert not root.exists()


def test_a_root_that_is_a_file_is_one_line(root: Path, capsys) -> None:
    root.write_text("not a folder")
    with pytest.raises(CacheError, match="is a file, not a folder"):
        scan_cache()
    assert main(["cache", "info"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neurosig: error: the cache root") and err.count("\n") == 1


# --------------------------------------------------------------------------------------------
# clean
# --------------------------------------------------------------------------------------------


def names(root: Path) -> set[str]:
    return {p.name for p in root.iterdir()}


def test_clean_keeps_downloads_unless_all(tree: Path, capsys) -> None:
    assert main(["cache", "clean"]) == 0
    out = capsys.readouterr().out
    assert names(tree) == {"fashion-mnist", "notes.txt"}
    assert "removed brian" in out and "removed mnist1d" in out and "freed 1.8 KiB" in out
    assert "kept    fashion-mnist" in out and "--all removes it" in out
    assert main(["cache", "clean", "--all"]) == 0
    out = capsys.readouterr().out
    assert names(tree) == {"notes.txt"}  # not neurosig's: never removed
    assert "removed fashion-mnist" in out and "freed 2.6 KiB" in out
    assert "kept    notes.txt" in out


@pytest.mark.parametrize(
    ("flags", "left"),
    [
        (["--brian"], {"mnist1d", "fashion-mnist", "notes.txt"}),
        (["--data"], {"brian", "fashion-mnist", "notes.txt"}),
        (["--data", "--all"], {"brian", "notes.txt"}),
        (["--brian", "--all"], {"mnist1d", "fashion-mnist", "notes.txt"}),
    ],
)
def test_clean_chooses_parts(tree: Path, flags: list[str], left: set[str], capsys) -> None:
    assert main(["cache", "clean", *flags]) == 0
    assert names(tree) == left


def test_clean_never_follows_links_out_of_the_root(tree: Path, tmp_path: Path) -> None:
    write(tmp_path / "outside" / "precious", 10)
    (tree / MNIST1D / "link").symlink_to(tmp_path / "outside")
    (tree / BRIAN / "linked-build").symlink_to(tmp_path / "outside")
    (tree / "fashion-mnist").rename(tmp_path / "fm")
    (tree / "fashion-mnist").symlink_to(tmp_path / "fm")
    info = scan_cache()
    clean_cache(info, select_parts(info, downloaded=True))
    assert (tmp_path / "outside" / "precious").read_bytes() == b"x" * 10
    assert len(list((tmp_path / "fm").iterdir())) == 2  # the link went, not the data set
    assert names(tree) == {"notes.txt"}


def test_clean_refuses_a_part_outside_the_root(tree: Path, tmp_path: Path) -> None:
    info = scan_cache()
    stranger = cache.CachePart(tmp_path / "victim", "generated", "", 0, 0)
    write(stranger.path / "file", 1)
    with pytest.raises(CacheError, match="not inside"):
        clean_cache(info, [stranger])
    assert (stranger.path / "file").exists()


def test_clean_refuses_the_home_folder_as_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NEUROSIG_CACHE", str(tmp_path))
    write(tmp_path / MNIST1D / "mine.npz", 5)
    assert main(["cache", "clean"]) == 2
    assert "not a folder of neurosig's own" in capsys.readouterr().err
    assert (tmp_path / MNIST1D / "mine.npz").exists()


def test_clean_keeps_what_a_running_process_uses(tree: Path, capsys) -> None:
    brian = tree / BRIAN
    write(brian / "0123abcd.run-1" / "main", 10)  # a dead run's working copy
    write(brian / "0123abcd.run-2" / "main", 10)
    write(brian / "feedbeef" / "main", 10)
    with (
        lock_file(brian / "0123abcd.run-2" / IN_USE),  # a live run
        lock_file(brian / "feedbeef.lock"),  # a build in progress
    ):
        assert main(["cache", "clean", "--brian"]) == 0
        out = capsys.readouterr().out
        assert names(brian) == {"0123abcd.run-2", "feedbeef", "feedbeef.lock"}
        assert "0123abcd.run-2: the working copy of a running process: kept" in out
        assert "feedbeef: being compiled: kept" in out
        assert "freed 1.5 KiB" in out
    assert main(["cache", "clean", "--brian"]) == 0
    assert not brian.exists()


def test_an_os_error_is_one_line_and_says_what_was_freed(
    tree: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(shutil, "rmtree", refuse)
    assert main(["cache", "clean", "--data"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"neurosig: error: cannot remove {tree / MNIST1D}: Permission denied; fix the "
        "permissions of its folder or remove it yourself (0 B freed before)\n"
    )
    assert (tree / MNIST1D).exists()


def test_cache_needs_an_action(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["cache"])
    assert exit_info.value.code == 2


def test_format_bytes() -> None:
    assert [cache.format_bytes(n) for n in (0, 1023, 1024, 5 * 2**20, 2**40)] == [
        "0 B",
        "1023 B",
        "1.0 KiB",
        "5.0 MiB",
        "1.0 TiB",
    ]


def test_location_is_reported(root: Path) -> None:
    assert scan_cache(CacheLocation(root / "x", "a test")).location.chosen_by == "a test"


def test_brian2s_cython_extensions_are_cached_under_the_root(root: Path) -> None:
    import brian2

    from neurosig.brian import BrianProgram, Built, release_live_program

    def build() -> Built:
        return Built({"g": brian2.NeuronGroup(1, "v : 1")}, {}, 1 * brian2.ms)

    program = BrianProgram("numpy", build, key="tiny")
    try:
        assert brian2.prefs["codegen.runtime.cython.cache_dir"] == str(root / "cython")
        program.built.network.run(1 * brian2.ms)  # used: Brian2 does not warn at collection
    finally:
        release_live_program()
