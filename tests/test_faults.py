"""Faults: kills, interrupts, full disks, read-only folders, corrupt and foreign files.

Every case asserts the exit code, the one-line message, and that what was written before is
byte-identical. The kill cases use the harness of ``benchmarks/faults.py`` (which runs 60 of
them for the published table); the bad-input cases of data and configuration are in
tests/test_input_checks.py.
"""

from __future__ import annotations

import errno
import hashlib
import importlib.util
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from neurosig.atomic import reclaim_temporaries, temporary_sibling, write_text_atomic
from neurosig.cli import main
from neurosig.results import load_result

ROOT = Path(__file__).resolve().parents[1]


def _harness():
    """benchmarks/faults.py as a module (it imports its sibling ``common``)."""
    if "faults_benchmark" in sys.modules:
        return sys.modules["faults_benchmark"]
    script = ROOT / "benchmarks" / "faults.py"
    sys.path.insert(0, str(script.parent))
    try:
        spec = importlib.util.spec_from_file_location("faults_benchmark", script)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(script.parent))
    return module


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_error_line(err: str) -> str:
    """The single ``neurosig: error:`` line of ``err`` (and nothing like a traceback)."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("neurosig: error:")]
    assert len(errors) == 1, err
    return errors[0]


@pytest.fixture
def blobs(tmp_path):
    """Three Gaussian classes, large enough that 8 SP-core epochs take a few seconds."""
    return _harness().make_data(tmp_path, n_train=1500)


def _train_args(data: Path, out: Path, epochs: int = 2, *extra: str) -> list[str]:
    return ["train", "sp-core", "--dataset", f"npz:{data}", "--epochs", str(epochs), "--quiet",
            "--out", str(out), *extra]  # fmt: skip


# --------------------------------------------------------------------------------------------
# Kills and interrupts of real processes
# --------------------------------------------------------------------------------------------


def test_random_kills_of_train_and_sweep_lose_nothing(tmp_path):
    """SIGKILL and SIGINT at random points (the benchmark's harness, 6 kills): no earlier
    Result changes, every file loads, no traceback, temporaries are reclaimed."""
    faults = _harness()
    data = faults.make_data(tmp_path, n_train=1500)
    start = time.perf_counter()
    subprocess.run(
        faults.neurosig(*_train_args(data, tmp_path / "t.nc", faults.EPOCHS)),
        check=True,
        capture_output=True,
    )
    seconds = time.perf_counter() - start
    cases = faults.draw_cases(6, seconds, 2.5 * seconds, seed=1)
    faults.run_cases(cases, tmp_path)
    assert {c.kind for c in cases} == {"train", "train --overwrite", "sweep"}
    assert [c.problems for c in cases] == [[]] * len(cases), faults.table(cases)


def test_a_handled_interrupt_exits_with_its_code_under_python_m(tmp_path):
    """CPython kills a ``python -m`` process with SIGINT at exit once a KeyboardInterrupt
    ended a string ``exec`` (as in dataclasses), even a caught one; ``neurosig.cli.run``
    clears that before returning 130 (interrupts.forget_escaped_interrupt)."""
    package = tmp_path / "handled"
    package.mkdir()
    (package / "__main__.py").write_text(
        "import sys\n"
        "from neurosig import interrupts\n"
        "try:\n"
        "    exec('raise KeyboardInterrupt', {})\n"
        "except KeyboardInterrupt:\n"
        "    pass\n"
        "if sys.argv[1:] == ['forget']:\n"
        "    interrupts.forget_escaped_interrupt()\n"
        "sys.exit(130)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    codes = {
        how: subprocess.run(
            [sys.executable, "-m", "handled", how], cwd=tmp_path, env=env
        ).returncode
        for how in ("keep", "forget")
    }
    assert codes["forget"] == 130
    if codes["keep"] == 130:
        pytest.skip("this CPython exits with the code given: nothing to clear")
    assert codes["keep"] == -signal.SIGINT


def _signal_after_first_epoch(data: Path, out: Path, sig: int, group: bool) -> tuple[int, str]:
    """Start a long training run, send ``sig`` once its first epoch is saved (to the process
    group, as a terminal's Ctrl-C does, or to the process alone, as a batch system does)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "neurosig", *_train_args(data, out, 200)],
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    if group:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


def test_ctrl_c_exits_130_and_says_which_epochs_are_saved(tmp_path, blobs):
    out = tmp_path / "run.nc"
    code, err = _signal_after_first_epoch(blobs, out, signal.SIGINT, group=True)
    assert code == 130, err
    assert "Traceback" not in err
    ds = load_result(out)
    epochs = ds.sizes["epoch"]
    assert ds.attrs["status"] == "interrupted"
    assert f"epochs 1-{epochs} saved in {out}" in err.strip().splitlines()[-1]
    assert not list(tmp_path.glob(".*.part"))


def test_sigterm_is_handled_like_ctrl_c(tmp_path, blobs):
    out = tmp_path / "run.nc"
    code, err = _signal_after_first_epoch(blobs, out, signal.SIGTERM, group=False)
    assert code == 130, err
    assert load_result(out).attrs["status"] == "interrupted"


# --------------------------------------------------------------------------------------------
# An existing Result is never lost
# --------------------------------------------------------------------------------------------


def test_an_existing_result_is_kept_and_the_new_run_goes_beside_it(tmp_path, blobs, capsys):
    out = tmp_path / "run.nc"
    assert main(_train_args(blobs, out)) == 0
    before = _digest(out)
    assert main(_train_args(blobs, out, 3)) == 0
    err = capsys.readouterr().err
    assert f"{out} already exists and is kept; this run is written to {tmp_path / 'run-2.nc'}" in (
        err
    )
    assert _digest(out) == before
    assert load_result(tmp_path / "run-2.nc").sizes["epoch"] == 3
    assert main([*_train_args(blobs, out, 1), "--overwrite"]) == 0
    assert load_result(out).sizes["epoch"] == 1


def test_the_python_api_refuses_an_existing_out_before_any_work(tmp_path, blobs):
    from neurosig.config import command_experiment
    from neurosig.errors import OutputError
    from neurosig.train import train

    out = tmp_path / "run.nc"
    out.write_bytes(b"someone's file")
    exp = command_experiment("sp-core", dataset=f"npz:{blobs}", epochs=1)
    with pytest.raises(OutputError, match="already exists"):
        train(exp, out=out, progress=False)
    assert out.read_bytes() == b"someone's file"
    train(exp, out=out, progress=False, overwrite=True)
    assert load_result(out).attrs["status"] == "complete"


def test_a_name_cannot_write_outside_results(tmp_path, blobs, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    toml = tmp_path / "x.toml"
    toml.write_text(f'name = "../../x"\nmodel = "sp-core"\n[data]\nname = "npz:{blobs}"\n')
    assert main(["train", str(toml), "--epochs", "1", "--quiet"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "name = '../../x'" in line and "--out" in line
    assert not (tmp_path.parent.parent / "x-seed0.nc").exists()


# --------------------------------------------------------------------------------------------
# Full disks, read-only folders
# --------------------------------------------------------------------------------------------


def test_disk_full_at_the_second_save_keeps_the_first(tmp_path, blobs, capsys, monkeypatch):
    """ENOSPC injected at the writer: exit 2, one line, the first epoch intact, no temporary."""
    out = tmp_path / "run.nc"
    real = pathlib.Path.write_bytes
    calls = []

    def full_after_one(self, data):
        calls.append(self)
        if len(calls) > 1:
            real(self, bytes(data)[:100])  # a part is written, then the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, data)

    monkeypatch.setattr(pathlib.Path, "write_bytes", full_after_one)
    assert main(_train_args(blobs, out, 3)) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "disk is full" in line and str(out) in line and "previous save" in line
    monkeypatch.undo()
    ds = load_result(out)
    assert ds.sizes["epoch"] == 1 and ds.attrs["status"] == "running"
    assert not list(tmp_path.glob(".*.part"))


def _mount_tmpfs(folder: Path, size: int, read_only: bool = False) -> bool:
    """A small tmpfs at ``folder`` (root only; False where mounting is not allowed)."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    folder.mkdir()
    options = f"size={size}" + (",ro" if read_only else "")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True
    )
    return done.returncode == 0


@pytest.fixture
def small_disk(tmp_path, blobs):
    """A real tmpfs with room for one Result of ``blobs`` and a half."""
    reference = tmp_path / "reference.nc"
    assert main(_train_args(blobs, reference, 1)) == 0
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, int(1.5 * reference.stat().st_size)):
        pytest.skip("cannot mount a tmpfs here (not root, or no CAP_SYS_ADMIN)")
    yield disk
    subprocess.run(["umount", str(disk)], check=False)


def test_a_real_full_disk_keeps_the_last_save(small_disk, blobs, capsys):
    out = small_disk / "run.nc"
    capsys.readouterr()
    assert main(_train_args(blobs, out, 3)) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "disk is full" in line
    assert load_result(out).sizes["epoch"] == 1
    assert [p.name for p in small_disk.iterdir()] == ["run.nc"]


@pytest.fixture
def read_only(tmp_path):
    """A folder this process cannot write: chmod for a user, a read-only tmpfs for root."""
    folder = tmp_path / "ro"
    if os.geteuid() != 0:
        folder.mkdir()
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    if not _mount_tmpfs(folder, 1 << 20, read_only=True):
        pytest.skip("root, and cannot mount a read-only tmpfs here")
    yield folder
    subprocess.run(["umount", str(folder)], check=False)


def test_read_only_folders_are_refused_before_any_work(read_only, blobs, tmp_path, capsys):
    start = time.perf_counter()
    assert main(_train_args(blobs, read_only / "run.nc", 50)) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert str(read_only / "run.nc") in line and "nothing was trained" in line
    assert time.perf_counter() - start < 20  # refused before training 50 epochs
    sweep = tmp_path / "sweep.toml"
    sweep.write_text('name = "ro"\nbase = "sp-core-digits"\n[grid]\nlr = [1e-3]\n')
    assert main(["sweep", "run", str(sweep), "--store", str(read_only / "s.zarr")]) == 2
    _one_error_line(capsys.readouterr().err)


def test_sweep_export_and_report_to_a_read_only_folder(read_only, blobs, tmp_path, capsys):
    result = tmp_path / "run.nc"
    assert main(_train_args(blobs, result, 1)) == 0
    capsys.readouterr()
    assert main(["report", str(result), "--trials", "0", "--out", str(read_only / "r")]) == 2
    _one_error_line(capsys.readouterr().err)
    store = _harness()
    spec = store.write_sweep_spec(tmp_path, blobs)
    assert main(["sweep", "run", str(spec), "--store", str(tmp_path / "s.zarr"),
                 "--workers", "1", "--quiet"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["sweep", "export", str(tmp_path / "s.zarr"), str(read_only / "x.nc")]) == 2
    _one_error_line(capsys.readouterr().err)


# --------------------------------------------------------------------------------------------
# Corrupt and foreign files; bad command lines
# --------------------------------------------------------------------------------------------


def _foreign_nc(path: Path) -> Path:
    xr.Dataset({"a": ("x", np.arange(3))}).to_netcdf(path, engine="h5netcdf")
    return path


def _truncated(path: Path, source: Path) -> Path:
    path.write_bytes(source.read_bytes()[:3000])
    return path


@pytest.fixture
def result_file(tmp_path, blobs):
    out = tmp_path / "good.nc"
    assert main(_train_args(blobs, out, 1)) == 0
    return out


BAD_FILES = {
    "report of garbage": lambda d, r: ["report", str(_write(d / "g.nc", os.urandom(4096)))],
    "report of an empty file": lambda d, r: ["report", str(_write(d / "e.nc", b""))],
    "report of a foreign netCDF": lambda d, r: ["report", str(_foreign_nc(d / "f.nc"))],
    "report of a truncated Result": lambda d, r: ["report", str(_truncated(d / "t.nc", r))],
    "report of a folder": lambda d, r: ["report", str(d)],
    "report of a missing file": lambda d, r: ["report", str(d / "missing.nc")],
    "report with a garbage baseline": lambda d, r: [
        "report", str(r), "--baselines", str(_write(d / "b.nc", b"\x89HDF\r\n"))],
    "sweep status of a folder that is no store": lambda d, r: ["sweep", "status", str(d)],
    "sweep status of a corrupt store": lambda d, r: [
        "sweep", "status", str(_write(d / "s.zarr" / "zarr.json", b"{not json").parent)],
    "sweep export of a missing store": lambda d, r: [
        "sweep", "export", str(d / "none.zarr"), str(d / "x.nc")],
    "sweep run of a binary spec": lambda d, r: [
        "sweep", "run", str(_write(d / "s.toml", bytes(range(256))))],
    "train with --out a folder": lambda d, r: ["train", "sp-core-digits", "--out", str(d)],
    "train with --out below a file": lambda d, r: [
        "train", "sp-core-digits", "--out", str(r / "x.nc")],
    "train of a garbage spec file": lambda d, r: [
        "train", str(_write(d / "x.toml", os.urandom(300)))],
    "validate of a folder": lambda d, r: ["validate", str(d)],
}  # fmt: skip


def _write(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_corrupt_foreign_and_misplaced_files_end_in_one_line(case, tmp_path, result_file, capsys):
    folder = tmp_path / "case"
    folder.mkdir()
    before = _digest(result_file)
    argv = BAD_FILES[case](folder, result_file)
    capsys.readouterr()
    assert main(argv) == 2
    _one_error_line(capsys.readouterr().err)
    assert _digest(result_file) == before


BAD_ARGUMENTS = {
    "--workers -1": ["sweep", "run", "x.toml", "--workers", "-1"],
    "--workers 0": ["sweep", "run", "x.toml", "--workers", "0"],
    "--epochs two": ["train", "sp-core-digits", "--epochs", "two"],
    "--trials -1": ["report", "r.nc", "--trials", "-1"],
    "--trial-duration nan": ["report", "r.nc", "--trial-duration", "nan"],
    "--trial-duration 0": ["report", "r.nc", "--trial-duration", "0"],
}


BAD_VALUES = {  # numbers the parser takes, refused by the configuration with the field's name
    "--epochs 0": (["train", "sp-core-digits", "--epochs", "0"], "train.epochs = 0"),
    "--seed -3": (["train", "sp-core-digits", "--seed", "-3"], "train.seed = -3"),
    "--batch-size 0": (["train", "sp-core-digits", "--batch-size", "0"], "train.batch_size"),
    "demo --epochs 0": (["demo", "--epochs", "0", "--out", "{tmp}"], "train.epochs = 0"),
}


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_bad_values_name_their_field(case, tmp_path, capsys):
    argv, field = BAD_VALUES[case]
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    assert field in _one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("case", sorted(BAD_ARGUMENTS))
def test_bad_arguments_are_refused_by_the_parser(case, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(BAD_ARGUMENTS[case])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "error: argument" in err


# --------------------------------------------------------------------------------------------
# Temporary files
# --------------------------------------------------------------------------------------------


def test_temporaries_of_dead_writers_are_reclaimed_and_live_ones_kept(tmp_path, dead_temporary):
    target = tmp_path / "table.md"
    dead = dead_temporary(target)
    live = temporary_sibling(target)  # this process's: a write in progress
    pid = dead_temporary.pid
    other_host = target.with_name(f".{target.name}.elsewhere.{pid}.0123abcd.part")
    legacy = target.with_name(f".{target.name}.{pid}.0123abcd.part")  # neurosig <= 0.5
    for path in (dead, live, other_host, legacy):
        path.write_bytes(b"half a file")
    write_text_atomic(target, "done\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [target.name, live.name, other_host.name]
    )
    assert reclaim_temporaries(target) == []


def test_files_are_written_with_the_umask(tmp_path, blobs):
    old = os.umask(0o022)
    try:
        assert main(_train_args(blobs, tmp_path / "run.nc", 1)) == 0
    finally:
        os.umask(old)
    assert (tmp_path / "run.nc").stat().st_mode & 0o777 == 0o644
