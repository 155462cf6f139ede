"""The standalone driver's program images (neurosig.brian): every array reads back as Brian2
reads it, a program outlives the next build, a second program of the same structure in the same
process generates no code, and a later process that runs the same code starts from the stored
image."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from neurosig.brian import BrianProgram, Built, ProgramImage, source_digest

STEPS = 20  # time steps of one run (dt = 0.1 ms)


def _build(n: int = 4) -> Built:
    """n drifting units driven by a TimedArray through plastic synapses, with every kind of
    array a model reads: a unit variable, a shared scalar, synaptic weights, a StateMonitor of
    some units and a SpikeMonitor."""
    import brian2 as b2

    b2.defaultclock.dt = 0.1 * b2.ms
    drive = b2.TimedArray(np.zeros((STEPS, n)), dt=0.1 * b2.ms, name="drive")
    src = b2.NeuronGroup(
        n, "dv/dt = (drive(t, i) - v)/(2*ms) : 1\nseen : 1 (shared)", threshold="v > 0.5",
        reset="v = 0", name="src", namespace={"drive": drive},
    )  # fmt: skip
    src.run_regularly("seen += 1", dt=0.1 * b2.ms, order=1)
    dst = b2.NeuronGroup(n, "u : 1", name="dst")
    syn = b2.Synapses(src, dst, "w : 1", on_pre="u_post += w\nw += 0.5", name="syn")
    syn.connect()
    mon = b2.StateMonitor(src, "v", record=[1, n - 1], name="mon")
    spikes = b2.SpikeMonitor(src, name="spikes")
    objects = {o.name: o for o in (src, dst, syn, mon, spikes)}
    return Built(objects=objects, timed={"drive": drive}, duration=STEPS * 0.1 * b2.ms)


def _inputs(scale: float, n: int = 4) -> tuple[dict, dict]:
    drive = np.tile(np.linspace(0.5, 3.0, n) * scale, (STEPS, 1))
    variables = {("syn", "w"): np.arange(n * n) / 10.0, ("src", "seen"): 2.0}
    return variables, {"drive": drive}


def _reads(program: BrianProgram) -> dict:
    return {key: program.get(*key) for key in program.image.arrays}


@pytest.fixture
def program():
    """The test network's program (after the first test: from this process's image)."""
    return BrianProgram("standalone", _build, key="image-test", identity="n=4")


def test_every_array_reads_back_as_brian2_reads_it():
    import brian2

    program = BrianProgram("standalone", _build, key="image-test-read")  # built here
    assert program.built is not None
    program.run(*_inputs(1.0))
    # point Brian2's own reader at the results of the image's run
    device = brian2.get_device()
    device.results_dir = f"{program.results}/"
    device.has_been_run = True
    for var in device.array_cache:
        device.array_cache[var] = None
    compared = 0
    for (obj, name), value in _reads(program).items():
        try:
            expected = getattr(program.built.objects[obj], f"{name}_")
        except (AttributeError, KeyError, NotImplementedError):
            continue  # an internal array Brian2 does not expose by name
        np.testing.assert_array_equal(value, np.asarray(expected, dtype=float), f"{obj}.{name}")
        compared += 1
    names = {f"{obj}.{name}" for obj, name in program.image.arrays}
    assert {"src.v", "src.seen", "syn.w", "dst.u", "mon.v", "spikes.i", "spikes.t"} <= names
    assert compared >= 7
    # the run used its arguments: the shared counter started at 2, the weights grew per spike
    assert program.get("src", "seen")[0] == 2 + STEPS
    assert program.get("mon", "v").shape == (2, STEPS)
    assert len(program.get("spikes", "i")) > 0
    assert np.all(program.get("syn", "w") >= np.arange(16) / 10.0)


def test_a_program_runs_on_after_another_network_is_built(program):
    program.run(*_inputs(1.0))
    alone = _reads(program)
    other = BrianProgram("standalone", lambda: _build(3), key="image-test-other", identity="n=3")
    other.run(*_inputs(2.0, n=3))
    program.run(*_inputs(1.0))
    for key, value in _reads(program).items():
        np.testing.assert_array_equal(value, alone[key], str(key))
    assert not program.stale


def test_a_second_program_of_the_structure_generates_no_code(program):
    program.run(*_inputs(1.0))
    first = _reads(program)

    def fail() -> Built:
        raise AssertionError("the network was built again")

    again = BrianProgram("standalone", fail, key="image-test", identity="n=4")
    assert again.image is program.image
    again.run(*_inputs(0.5))
    program.run(*_inputs(1.0))  # each program reads its own results
    for key, value in _reads(program).items():
        np.testing.assert_array_equal(value, first[key], str(key))
    assert not np.array_equal(again.get("src", "v"), first["src", "v"])


def test_other_brian2_preferences_build_again(program):
    """A preference that shapes the generated code (float32 state variables) is part of an
    image's key: the same identity under it is built again (here: its build is called)."""
    import brian2

    def fail() -> Built:
        raise AssertionError("the network was built again")

    assert BrianProgram("standalone", fail, key="image-test", identity="n=4").image is program.image
    before = brian2.prefs["core.default_float_dtype"]
    brian2.prefs["core.default_float_dtype"] = np.float32
    try:
        with pytest.raises(AssertionError, match="built again"):
            BrianProgram("standalone", fail, key="image-test", identity="n=4")
    finally:
        brian2.prefs["core.default_float_dtype"] = before
    program.run(*_inputs(1.0))  # the first program runs on
    assert program.get("src", "seen")[0] == 2 + STEPS


def test_another_identity_builds_again_and_leaves_the_first_image_running(program):
    """The identity stands for what the key leaves out (a constant of the equations): a
    program of another identity is built, in a working copy of its own."""
    program.run(*_inputs(1.0))
    first = program.get("src", "v")
    other = BrianProgram("standalone", _build, key="image-test", identity="n=4, again")
    assert other.image is not program.image
    assert other.image.directory != program.image.directory
    other.run(*_inputs(1.0))
    program.run(*_inputs(1.0))
    np.testing.assert_array_equal(program.get("src", "v"), first)


def test_a_removed_working_copy_is_built_again(program):
    shutil.rmtree(program.image.directory)
    again = BrianProgram("standalone", _build, key="image-test", identity="n=4")
    assert again.image is not program.image and again.image.usable()
    again.run(*_inputs(1.0))
    assert again.get("src", "seen")[0] == 2 + STEPS


def test_a_wrong_input_is_named(program):
    variables, timed = _inputs(1.0)
    with pytest.raises(ValueError, match=r"src.v: shape \(3,\) != \(4,\)"):
        program.run({("src", "v"): np.ones(3)}, timed)
    with pytest.raises(KeyError, match="src.nothing"):
        program.run({("src", "nothing"): 1.0}, timed)
    with pytest.raises(ValueError, match="TimedArray drive: shape"):
        program.run(variables, {"drive": np.ones((3, 4))})
    with pytest.raises(KeyError, match="dst.nothing"):
        program.get("dst", "nothing")


def test_a_stored_image_round_trips_and_a_damaged_one_is_refused(program, tmp_path):
    stored = tmp_path / "stored"
    program.image.save(stored)
    copy = ProgramImage.load(stored, tmp_path / "work", None)
    assert copy is not None
    assert (copy.arrays, copy.timed) == (program.image.arrays, program.image.timed)
    assert (tmp_path / "work" / "main").read_bytes() == (stored / "main").read_bytes()
    damaged = bytearray((stored / "main").read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    (stored / "main").write_bytes(damaged)
    assert ProgramImage.load(stored, tmp_path / "work2", None) is None
    program.image.save(stored)  # saved again over the damaged copy
    assert ProgramImage.load(stored, tmp_path / "work3", None) is not None
    (stored / "image.json").unlink()  # a writer killed before its record
    assert ProgramImage.load(stored, tmp_path / "work4", None) is None


def test_code_without_a_source_file_has_no_digest():
    namespace: dict = {}
    exec("def build():\n    return None\n", namespace)
    assert source_digest(namespace["build"]) is None
    assert source_digest(_build) == source_digest(lambda: _build(3))  # the same file
    assert source_digest() != source_digest(_build)  # this file is not neurosig's


STORED = """\
import sys
import numpy as np
sys.path.insert(0, {tests!r})
from test_brian import _build, _inputs
from neurosig.brian import BrianProgram

def build():
    return _build()

program = BrianProgram("standalone", build, key="image-store-test", identity=sys.argv[1])
program.run(*_inputs(1.0))
np.save(sys.argv[2], program.get("src", "v"))
print("built" if program.built is not None else "stored")
"""


def test_a_later_process_starts_from_the_stored_image_of_the_same_code(tmp_path):
    """A second process with the same identity and code runs the first one's binary without
    building; a process whose network code differs (one line added) builds its own."""
    script = tmp_path / "stored.py"
    script.write_text(STORED.format(tests=str(Path(__file__).parent)))
    identity = f"n=4 {uuid.uuid4()}"  # no image stored by an earlier run of the suite

    def run(name: str) -> tuple[str, np.ndarray]:
        done = subprocess.run(
            [sys.executable, str(script), identity, str(tmp_path / name)],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout.split()[-1], np.load(tmp_path / name)

    first, v_first = run("first.npy")
    second, v_second = run("second.npy")
    assert (first, second) == ("built", "stored")
    np.testing.assert_array_equal(v_second, v_first)
    script.write_text(script.read_text().replace("    return _build()", "    return _build(n=4)"))
    assert run("edited.npy")[0] == "built"


def test_the_store_keeps_the_most_recently_used_images(program, monkeypatch):
    import neurosig.brian

    monkeypatch.setattr(neurosig.brian, "MAX_STORED_IMAGES", 1)
    newest = BrianProgram("standalone", _build, key="image-test", identity=f"{uuid.uuid4()}")
    assert newest.built is not None  # a new identity: built, then stored
    records = list(newest.stored_image.parent.glob("*/image.json"))
    assert records == [newest.stored_image / "image.json"]
