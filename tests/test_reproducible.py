"""Reproducible mode: portable C++ flags for the Brian2 programs, recorded and cached apart.

The fast tests compile one tiny rate network (cached under ``NEUROSIG_CACHE`` after the first
run); the measurement of docs/reproducibility.md is the slow test at the end::

    pytest -m slow -s tests/test_reproducible.py::test_measure_the_effect_of_the_flags
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import multiprocessing
import os
import subprocess

import numpy as np
import pytest

from neurosig.brian import (
    FAST_FLAGS,
    REPRODUCIBLE_ENV,
    REPRODUCIBLE_FLAGS,
    compiler_flags,
    project_dir,
    reproducible,
)
from neurosig.cache import cache_root
from neurosig.cli import main
from neurosig.config import load_experiment
from neurosig.errors import ConfigError
from neurosig.results import load_result, provenance
from neurosig.sweep import Outcome, Sweep, export_sweep, open_store, run_sweep

RATE = dict(hidden=(5, 4), chunk=3, presentation=3.0, dt=1.0, tau=2.0)
LIF = dict(hidden=(6, 5), chunk=4, presentation=10.0, dt=0.5, branch_every=2, encoding="poisson")
ORACLE_LABELS = {"reference": "numpy integrator", "numpy": "Brian2 numpy runtime"}


@pytest.fixture
def fast(monkeypatch):
    """Brian2's default flags; the test may switch the mode, and it is restored afterwards."""
    monkeypatch.setenv(REPRODUCIBLE_ENV, "0")
    return monkeypatch


def test_the_fast_flags_are_brian2s_defaults():
    from brian2.core.preferences import prefs

    default = prefs.pref_register["codegen.cpp"][0]["extra_compile_args_gcc"].default
    assert tuple(default) == FAST_FLAGS  # a new Brian2 changed them: update FAST_FLAGS


def test_the_switch_picks_portable_flags_and_its_own_cache_folder(fast):
    assert not reproducible() and compiler_flags() == FAST_FLAGS
    assert project_dir("abc") == cache_root() / "brian" / "abc"  # the cache as before
    assert provenance()["compiler_flags"] == " ".join(FAST_FLAGS)
    for value in ("1", "true", "on"):
        fast.setenv(REPRODUCIBLE_ENV, value)
        assert reproducible() and compiler_flags() == REPRODUCIBLE_FLAGS
    assert not {"-ffast-math", "-march=native"} & set(compiler_flags())
    assert project_dir("abc") != project_dir("abc", FAST_FLAGS)
    assert project_dir("abc").name.startswith("abc-flags")
    assert provenance()["compiler_flags"] == " ".join(REPRODUCIBLE_FLAGS)
    fast.setenv(REPRODUCIBLE_ENV, "maybe")
    with pytest.raises(ConfigError, match="set it to 1"):
        compiler_flags()


def test_a_reproducible_standalone_build_uses_the_flags_and_matches_the_numpy_oracle(fast):
    """One tiny compile (or its stored image): the program was compiled with the portable
    flags (its makefile's, and Brian2's preferences when it was built in this process), its
    project lives in the flags' own cache folder, and it trains like the numpy integrator."""
    import brian2

    from neurosig.models.rate import RateConfig, build_rate

    def trained(target: str):
        rng = np.random.default_rng(1)
        model = build_rate(RateConfig(**RATE, target=target), 6, 3, rng)
        x, y = rng.standard_normal((14, 6)), rng.integers(0, 3, 14)
        for i in (0, 7):
            model.train_batch(x[i : i + 7], y[i : i + 7], np.random.default_rng(5))
        return model

    fast.setenv(REPRODUCIBLE_ENV, "1")
    model = trained("standalone")
    program = model.program
    assert program.compiler_flags == REPRODUCIBLE_FLAGS
    if program.built is not None:  # else a stored image of an earlier process
        assert brian2.prefs["codegen.cpp.extra_compile_args_gcc"] == list(REPRODUCIBLE_FLAGS)
    makefile = (project_dir(program.key) / "makefile").read_text()
    assert f"OPTIMISATIONS = {' '.join(REPRODUCIBLE_FLAGS)}\n" in makefile
    assert program.stored_image.is_relative_to(project_dir(program.key))
    assert project_dir(program.key).name.startswith(f"{program.key}-flags")
    reference = trained("reference").state_dict()
    for key, value in model.state_dict().items():
        np.testing.assert_allclose(value, reference[key], rtol=0, atol=1e-12, err_msg=key)


def test_train_records_the_flags_in_the_result(fast, tmp_path, npz_data):
    out = tmp_path / "r.nc"
    args = ["train", "sp-core-digits", "--dataset", f"npz:{npz_data}", "--epochs", "1"]
    assert main([*args, "--out", str(out), "--quiet", "--reproducible"]) == 0
    assert load_result(out).attrs["compiler_flags"] == " ".join(REPRODUCIBLE_FLAGS)
    assert os.environ[REPRODUCIBLE_ENV] == "1"  # for everything this process builds next


def _mode_seen(experiment_toml: str) -> Outcome:
    """A sweep runner that reports, as its error text, the mode its worker runs in."""
    return Outcome(None, os.environ.get(REPRODUCIBLE_ENV, "unset"), 0.0)


def test_a_sweep_runs_its_points_in_the_drivers_mode_and_is_resumed_only_in_it(fast, tmp_path):
    base = load_experiment("sp-core-digits").replace(train_epochs=1, data_n_train=300)
    sweep = Sweep(base, grid={"lr": [1e-3]}, name="mode")
    spawn = multiprocessing.get_context("spawn")
    fast.delenv(REPRODUCIBLE_ENV)
    with cf.ProcessPoolExecutor(1, mp_context=spawn) as ex:
        ex.submit(os.getpid).result()  # the worker starts without the variable
        fast.setenv(REPRODUCIBLE_ENV, "1")
        ds = run_sweep(sweep, tmp_path / "s.zarr", ex, progress=False, runner=_mode_seen)
    assert ds.error.values.ravel().tolist() == ["1"]
    assert export_sweep(tmp_path / "s.zarr").attrs["compiler_flags"] == " ".join(REPRODUCIBLE_FLAGS)
    # a Brian2 sweep started with the default flags is not resumed with others
    rate = load_experiment("rate-sigprop-digits")
    brian = Sweep(rate, grid={"lr": [0.05]}, name="rate-mode")
    fast.setenv(REPRODUCIBLE_ENV, "0")
    open_store(tmp_path / "b.zarr", brian)
    fast.setenv(REPRODUCIBLE_ENV, "1")
    with pytest.raises(ConfigError, match="resume it without --reproducible"):
        open_store(tmp_path / "b.zarr", brian)
    open_store(tmp_path / "s.zarr", sweep)  # numpy models: the flags do not matter


def _train(build, cfg, n_in: int, batch: int, n_batches: int, mode: str, monkeypatch):
    monkeypatch.setenv(REPRODUCIBLE_ENV, mode)
    rng = np.random.default_rng(1)
    model = build(cfg, n_in, 3, rng)
    x = rng.standard_normal((batch * n_batches, n_in)) * 2
    y = rng.integers(0, 3, batch * n_batches)
    update_rng = np.random.default_rng(5)
    for i in range(0, len(y), batch):
        model.train_batch(x[i : i + batch], y[i : i + batch], update_rng)
    return model.state_dict(), model.predict(x)


@pytest.mark.slow  # up to four compiles: minutes on a busy machine
def test_measure_the_effect_of_the_flags(fast):
    """The table of docs/reproducibility.md: trained weights of the default (fast) and the
    reproducible build against each other and against the numpy oracle of each model."""
    from neurosig.models.lif import LIFConfig, build_lif
    from neurosig.models.rate import RateConfig, build_rate

    cases = {  # model: builder, config, inputs, batch, batches, oracle target
        "rate": (build_rate, RateConfig(**RATE), 6, 7, 40, "reference"),
        "lif": (build_lif, LIFConfig(**LIF), 6, 5, 20, "numpy"),
    }
    rows = [
        "| model | comparison | max abs weight difference | largest weight | predictions equal |"
    ]
    rows.append("|---|---|---:|---:|---:|")
    for name, (build, cfg, n_in, batch, n_batches, oracle) in cases.items():
        runs = {
            label: _train(
                build, dataclasses.replace(cfg, target=target), n_in, batch, n_batches, mode, fast
            )  # fmt: skip
            for label, target, mode in (
                (ORACLE_LABELS[oracle], oracle, "0"),
                ("fast", "standalone", "0"),
                ("reproducible", "standalone", "1"),
            )
        }
        labels = list(runs)
        scale = max(float(np.abs(v).max()) for v in runs[labels[0]][0].values())
        for a, b in ((labels[1], labels[0]), (labels[2], labels[0]), (labels[1], labels[2])):
            (wa, pa), (wb, pb) = runs[a], runs[b]
            diff = max(float(np.abs(wa[k] - wb[k]).max()) for k in wa)
            same = all((pa[r] == pb[r]).all() for r in pa)
            rows.append(f"| {name} | {a} vs {b} | {diff:.2g} | {scale:.3g} | {same} |")
            assert diff <= 1e-9 * max(scale, 1.0), (name, a, b, diff)
    print("\n" + "\n".join(rows))


def test_a_standalone_build_uses_the_precompiled_header_and_reports_a_profile():
    """neurosig's makefile builds the precompiled header that the code objects include (and
    compiles objects.cpp and main.cpp unoptimised); a program built with profile = True reports
    the time of its code objects."""
    from neurosig.brian import FAST_MAKEFILE
    from neurosig.models.rate import RateConfig, build_rate

    rng = np.random.default_rng(1)
    model = build_rate(RateConfig(**RATE, target="standalone"), 6, 3, rng)
    x, y = rng.standard_normal((7, 6)), rng.integers(0, 3, 7)
    model.train_batch(x, y, rng)
    project = project_dir(model.program.key)
    assert (project / FAST_MAKEFILE).is_file() and (project / "neurosig_pch.h.gch").is_file()
    targets = ["objects.o", "main.o", "code_objects/w1_plasticity_codeobject.o"]
    commands = subprocess.run(
        ["make", "-n", "-B", "-f", FAST_MAKEFILE, *targets],
        cwd=project, capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    for source in ("objects.cpp", "main.cpp"):
        line = next(c for c in commands if f" {source}" in c and "-x c++-header" not in c)
        assert " -O0" in line and " -O3" not in line, line
    code = next(c for c in commands if "w1_plasticity_codeobject.cpp" in c)
    assert "-include neurosig_pch.h" in code and " -O3" in code
    from brian2.utils import caching  # a build derives each variable's cache key once ...

    assert caching._hashable.__qualname__ == "_hashable"  # ... and gives Brian2's back

    from neurosig.brian import BrianProgram
    from neurosig.models.rate_network import build_brian

    st = model.st
    model.program = BrianProgram(
        target="standalone", build=lambda: build_brian(st, False), key=model.program.key,
        profile=True,
    )  # fmt: skip
    model.train_batch(x, y, rng)
    seconds = model.program.profile_seconds()
    assert "w1_plasticity_codeobject" in seconds and all(t >= 0 for t in seconds.values())
