"""Brian2 targets and the compile-once, batched C++ standalone driver.

A Brian2 model in neurosig is *built once* and then *run many times*: every run presents a
fixed-size batch of samples (2-D :class:`~brian2.TimedArray` stimuli), starts from the weights
and slow variables the previous run left, and returns what the monitors recorded. Three targets
run the same objects:

``standalone`` (default)
    Brian2's C++ standalone mode. The program is generated and compiled once
    (:meth:`BrianProgram.build`); each batch is one execution of the binary in which
    ``device.run(run_args=...)`` replaces the TimedArray contents and the variables carried
    between batches (weights, biases, class memories, learning rates) without recompiling.
    The project directory is cached under ``brian/<hash>`` in neurosig's cache
    (:mod:`neurosig.cache`: ``$NEUROSIG_CACHE``, else ``$XDG_CACHE_HOME/neurosig``, else
    ``~/.cache/neurosig``; :func:`project_dir`): a second process with the same network
    structure and the same compiler flags only relinks.
``cython`` / ``numpy``
    Brian2's runtime targets, for notebooks and debugging: the network is stored once
    (``Network.store``) and every batch restores it, writes the carried variables and runs.
    The Cython extensions are cached under ``cython/`` in the same cache.

Compiler flags (:func:`compiler_flags`): Brian2's defaults (``-O3 -ffast-math -march=native``)
by default; with ``NEUROSIG_REPRODUCIBLE=1`` (``neurosig train --reproducible``, ``neurosig
sweep run --reproducible``) IEEE-conforming ones without ``-ffast-math`` and ``-march=native``
(docs/reproducibility.md measures the difference). The flags are set before every build, are part
of the cache key and are recorded in every Result (``compiler_flags``).

Only one Brian2 program can be live per process (Brian2's standalone device is global);
building a new one makes the previous one stale, and running a stale program raises.

Rules of the house honoured here: no ``network_operation`` (it is silently skipped in standalone
mode), an explicit ``order`` on every update (set by the model), and one OpenMP thread (several
processes share the machine).
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import hashlib
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from neurosig import interrupts
from neurosig.cache import (
    BRIAN,
    CYTHON,
    IN_USE,
    cache_path,
    lock_file,
    project_lock,
    run_copy,
)

TARGETS = ("standalone", "cython", "numpy")

REPRODUCIBLE_ENV = "NEUROSIG_REPRODUCIBLE"
# Brian2's own default (codegen.cpp.extra_compile_args_gcc, checked against the installed Brian2
# by tests/test_reproducible.py): fast, but -ffast-math lets the compiler reorder floating point
# sums and -march=native picks instructions (FMA, vector widths) by the machine that compiles
FAST_FLAGS = ("-w", "-O3", "-ffast-math", "-fno-finite-math-only", "-march=native", "-std=c++17")
# IEEE arithmetic in source order on the baseline instruction set: the same binary code, and the
# same numbers, on every x86-64 machine (-ffp-contract=off: no fused multiply-adds either)
REPRODUCIBLE_FLAGS = ("-w", "-O3", "-ffp-contract=off", "-std=c++17")

# The cold build (docs/speed.md; tests/test_reproducible.py): make reads this file, which adds
# two things to Brian2's own makefile (included unchanged). (1) A precompiled header of what
# every code object includes first (objects.h, which declares every array, and the standard
# headers behind it): parsing it took about 0.8 s of each code object's 1 s compile, and a
# network has 30-70 code objects. GCC uses the .gch only when it was made with the same flags,
# else it reads the header as text: the result is the same either way. (2) objects.cpp, which
# only declares, loads and writes the arrays (11,000 lines for the default LIF network), and
# main.cpp, which sets initial values and calls each run, are compiled without optimisation:
# objects.cpp in 3 s instead of 21 s, no hot loop in either. main.cpp changes at every build in
# a new process (Brian2 writes the clocks' resets in set order), so a warm build recompiles it:
# about 1 s with the link instead of 2 s (docs/speed.md).
FAST_MAKEFILE = "neurosig.mk"
FAST_MAKEFILE_TEXT = """\
include makefile
PCH = neurosig_pch.h
$(PCH).gch: $(PCH) objects.h makefile
\t$(CXX) $(filter-out -c,$(CXXFLAGS)) -x c++-header $(PCH) -o $@
$(filter code_objects/%,$(OBJS)): CXXFLAGS += -include $(PCH)
$(filter code_objects/%,$(OBJS)): | $(PCH).gch
objects.o main.o: OPTIMISATIONS := $(filter-out -O% -march=% -ffast-math,$(OPTIMISATIONS)) -O0
"""
PCH_HEADER = ("neurosig_pch.h", "".join(
    f"#include {name}\n"
    for name in ('"objects.h"', '"brianlib/common_math.h"', '"brianlib/stdint_compat.h"',
                 "<chrono>", "<cmath>", "<ctime>", "<iostream>", "<fstream>", "<climits>")
))  # fmt: skip

_LIVE: list[BrianProgram] = []  # the one program whose objects are valid (see module docs)


def release_live_program() -> None:
    """Make the live program stale and remove its working copy, before the device changes.

    Building a :class:`BrianProgram` calls this; so must any other code that resets Brian2's
    device (the audit builds networks under the runtime device), since the live program's
    objects belong to the device state that is about to go. The stale program raises if run;
    its model builds a new one at its next run.
    """
    for old in _LIVE:
        old.built = None
        old.cleanup()
    _LIVE.clear()


def reproducible() -> bool:
    """Whether reproducible mode is on: ``$NEUROSIG_REPRODUCIBLE`` is ``1`` (or true, yes, on).

    Raises :class:`~neurosig.errors.ConfigError` for a value that is neither on nor off.
    """
    value = os.environ.get(REPRODUCIBLE_ENV, "").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("", "0", "false", "no", "off"):
        return False
    from neurosig.errors import ConfigError

    raise ConfigError(f"{REPRODUCIBLE_ENV}={value!r}: set it to 1 (reproducible) or 0 (fast)")


def compiler_flags() -> tuple[str, ...]:
    """The C++ flags of the Brian2 programs built now: :data:`REPRODUCIBLE_FLAGS` in
    reproducible mode (:func:`reproducible`), else :data:`FAST_FLAGS` (Brian2's defaults).

    Examples
    --------
    >>> compiler_flags() in (FAST_FLAGS, REPRODUCIBLE_FLAGS)
    True
    """
    return REPRODUCIBLE_FLAGS if reproducible() else FAST_FLAGS


def project_dir(key: str, flags: tuple[str, ...] | None = None) -> Path:
    """The cached standalone project of structure ``key`` compiled with ``flags`` (default:
    :func:`compiler_flags`): ``cache_path(BRIAN)/<key>`` (:mod:`neurosig.cache`), plus
    ``-flags<hash>`` for flags other than Brian2's defaults, so that programs built with
    different flags are never mixed (processes of two modes never share a build folder, and
    switching modes recompiles nothing)."""
    flags = compiler_flags() if flags is None else tuple(flags)
    suffix = "" if flags == FAST_FLAGS else f"-flags{structure_key(*flags)[:8]}"
    return cache_path(BRIAN) / f"{key}{suffix}"


def structure_key(*parts: Any) -> str:
    """A short, stable hash of everything that changes the generated code or its data."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(str(part.dtype).encode())
            h.update(str(part.shape).encode())
            h.update(np.ascontiguousarray(part).tobytes())
        else:
            h.update(repr(part).encode())
        h.update(b"\x00")
    return h.hexdigest()[:16]


def _drop_interpreter_dirs(prefs: Any) -> None:
    """Remove the interpreter's ``include``/``lib`` folders from Brian2's C++ build paths.

    Brian2 writes ``sys.prefix``'s folders into every makefile; a cached project built from
    another virtualenv (a fresh clone, CI) then differs in its makefile and make recompiles
    everything. The standalone programs use nothing from there.
    """
    for name in ("include_dirs", "library_dirs", "runtime_library_dirs"):
        key = f"codegen.cpp.{name}"
        prefs[key] = [d for d in prefs[key] if not str(d).startswith(sys.prefix)]


def _write_if_changed(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` unless it holds it already: a new mtime would make ``make``
    rebuild what depends on the file (the precompiled header) at every build."""
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


@contextlib.contextmanager
def _keys_derived_once() -> Iterator[None]:
    """Brian2's code generation caches its parsers on keys that it derives, at every call,
    from every variable a code object can see, recursively (``brian2.utils.caching``): about
    half of a warm build of a small network (docs/speed.md). No variable changes while a
    network is turned into code, so inside this block each variable's key is derived once and
    remembered (with the variable, so that its ``id`` stays its own). Brian2's function comes
    back on exit."""
    from brian2.utils import caching

    derive = caching._hashable
    known: dict[int, tuple[Any, Any]] = {}

    def derive_once(obj: Any) -> Any:
        if not isinstance(obj, caching.CacheKey):
            return derive(obj)
        entry = known.get(id(obj))
        if entry is None:  # derive() recurses through this function for the parts
            entry = known[id(obj)] = (obj, derive(obj))
        return entry[1]

    caching._hashable = derive_once
    try:
        yield
    finally:
        caching._hashable = derive


@contextlib.contextmanager
def _user_interrupt() -> Iterator[None]:
    """A compiler or binary that died of the user's Ctrl-C (the same process group) makes
    Brian2 raise "compilation failed" or "run failed": report it as the interrupt it is."""
    try:
        yield
    except RuntimeError:
        if interrupts.requested():
            raise KeyboardInterrupt from None
        raise


@dataclass
class Built:
    """What a model's ``build`` callback returns: named Brian2 objects and one run's length.

    ``objects`` maps names to every object of the network (groups, synapses, monitors) and
    ``timed`` names the TimedArrays whose contents change per batch; ``duration`` is the
    simulated time of one batch (a Brian2 Quantity).
    """

    objects: dict[str, Any]
    timed: dict[str, Any]
    duration: Any
    network: Any = None


@dataclass
class BrianProgram:
    """A Brian2 network built once for ``target`` and run batch after batch.

    Parameters
    ----------
    target : {"standalone", "cython", "numpy"}
    build : callable
        Creates the Brian2 objects (inside the right device) and returns a :class:`Built`.
    key : str
        Structural hash: the standalone project directory is :func:`project_dir` ``(key)``.

    The C++ flags (:func:`compiler_flags`) are read once, when the program is made, and kept in
    ``compiler_flags``.
    """

    target: str
    build: Callable[[], Built]
    key: str
    compile_seconds: float = float("nan")
    compiler_flags: tuple[str, ...] = field(default_factory=compiler_flags)
    built: Built | None = None
    profile: bool = False  # standalone: time every code object (a program of its own)
    _project: Path | None = None
    _in_use: TextIO | None = None  # locked while this process runs its working copy
    _results: str = field(default_factory=lambda: f"results-{os.getpid()}")

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"target {self.target!r}: choose one of {', '.join(TARGETS)}")
        import brian2

        start = time.perf_counter()
        release_live_program()
        # Free the names of the previous program's objects: Brian2 appends "_1" to the name of
        # any object (clock, code object) whose name is still taken, which would change the
        # generated code and force a full recompile of a cached project.
        gc.collect()
        from brian2.devices.device import reinit_devices

        reinit_devices()
        brian2.start_scope()
        # the runtime cython target compiles with the same preferences
        brian2.prefs["codegen.cpp.extra_compile_args"] = None  # use the gcc flags below
        brian2.prefs["codegen.cpp.extra_compile_args_gcc"] = list(self.compiler_flags)
        # Brian2's default sets LD_BIND_NOW=1 in this process's os.environ at every standalone
        # run, and every later subprocess inherits it: Slurm's daemons and clients then resolve
        # their plugins' symbols at load time and fail (select/cons_tres). The binary does not
        # need it.
        brian2.prefs["devices.cpp_standalone.run_environment_variables"] = {}
        if self.target == "standalone":
            self._build_standalone(brian2)
        else:
            brian2.set_device("runtime")
            brian2.prefs.codegen.target = self.target
            brian2.prefs.codegen.runtime.cython.cache_dir = str(cache_path(CYTHON))
            self.built = self.build()
            net = brian2.Network(list(self.built.objects.values()))
            self.built.network = net
            net.store("initial")
        self.compile_seconds = time.perf_counter() - start
        _LIVE.append(self)

    def _build_standalone(self, brian2: Any) -> None:
        project = project_dir(self.key + ("-profile" if self.profile else ""), self.compiler_flags)
        with lock_file(project_lock(project)):
            brian2.set_device("cpp_standalone", directory=str(project), build_on_run=False)
            brian2.prefs.devices.cpp_standalone.openmp_threads = 0
            _drop_interpreter_dirs(brian2.prefs)
            project.mkdir(parents=True, exist_ok=True)
            for name, text in ((FAST_MAKEFILE, FAST_MAKEFILE_TEXT), PCH_HEADER):
                _write_if_changed(project / name, text)
            brian2.prefs.devices.cpp_standalone.make_cmd_unix = f"make -f {FAST_MAKEFILE}"
            self.built = self.build()
            net = brian2.Network(list(self.built.objects.values()))
            self.built.network = net
            with _keys_derived_once():
                net.run(self.built.duration, profile=self.profile)
                with _user_interrupt():
                    brian2.device.build(
                        directory=str(project), compile=True, run=False, with_output=False
                    )
            # This process runs its own copy of the binary and its data: processes that share
            # the cached build never touch each other's per-batch files (run_args arrays are
            # named by content, so two processes could otherwise delete each other's files).
            # `neurosig cache clean` leaves a working copy alone while its IN_USE is locked
            work = run_copy(project)
            shutil.rmtree(work, ignore_errors=True)
            self._in_use = lock_file(work / IN_USE)
            shutil.copy2(project / "main", work / "main")
            # run_args files are named init_*: leftovers of other processes are not copied
            shutil.copytree(
                project / "static_arrays",
                work / "static_arrays",
                ignore=shutil.ignore_patterns("init_*"),
            )
        brian2.get_device().project_dir = str(work)
        self._project = work
        atexit.register(shutil.rmtree, work, True)

    @property
    def stale(self) -> bool:
        return self.built is None

    def run(
        self, variables: Mapping[tuple[str, str], Any], timed: Mapping[str, np.ndarray]
    ) -> None:
        """Run one batch.

        ``variables`` maps ``(object name, variable name)`` to the values the batch starts
        from (arrays, or scalars for shared variables); ``timed`` maps TimedArray names to their
        new contents (same shape as at build time).
        """
        if self.built is None:
            raise RuntimeError(
                "this Brian2 program is stale: another Brian2 network was built in this process "
                "since (Brian2 keeps one live network per process); rebuild the model"
            )
        objs = self.built.objects
        for name, value in timed.items():
            expected = self.built.timed[name].values.shape
            if value.shape != expected:
                raise ValueError(f"TimedArray {name}: shape {value.shape} != {expected}")
        if self.target == "standalone":
            import brian2

            run_args: dict[Any, Any] = {}
            for (obj, var), value in variables.items():
                run_args[getattr(objs[obj], var)] = np.asarray(value, dtype=float)
            for name, value in timed.items():
                run_args[self.built.timed[name]] = np.asarray(value, dtype=float)
            device = brian2.get_device()
            with _user_interrupt():
                device.run(
                    directory=str(self._project),
                    results_directory=self._results,
                    with_output=False,
                    run_args=run_args,
                )
            static = self._project / "static_arrays"
            for fname in list(device.run_args_arrays):
                with contextlib.suppress(FileNotFoundError):
                    (static / fname).unlink()
            device.run_args_arrays.clear()
        else:
            net = self.built.network
            net.restore("initial")
            for (obj, var), value in variables.items():
                view = getattr(objs[obj], var)
                value = np.asarray(value, dtype=float)
                if value.ndim == 0:
                    setattr(objs[obj], var, float(value))
                else:
                    view[:] = value
            for name, value in timed.items():
                # in place: the generated code holds this very array
                self.built.timed[name].values[...] = value
            net.run(self.built.duration)

    def get(self, obj: str, var: str) -> np.ndarray:
        """Values of ``obj.var`` after the last run (a copy, unitless floats)."""
        if self.built is None:
            raise RuntimeError("this Brian2 program is stale; rebuild the model")
        return np.array(getattr(self.built.objects[obj], var + "_"), dtype=float)

    def profile_seconds(self) -> dict[str, float]:
        """Seconds spent in each code object during the last run, largest first (a standalone
        program built with ``profile = True``; Brian2's own profiling)."""
        if not self.profile or self._project is None:
            raise RuntimeError("profile_seconds needs a standalone program built with profile")
        lines = (self._project / self._results / "profiling_info.txt").read_text().split("\n")
        pairs = [line.split() for line in lines if line.strip()]
        return dict(sorted(((k, float(v)) for k, v in pairs), key=lambda kv: -kv[1]))

    def cleanup(self) -> None:
        """Remove this process's working copy of a standalone project."""
        if self._project is not None:
            shutil.rmtree(self._project, ignore_errors=True)
        if self._in_use is not None:
            self._in_use.close()
            self._in_use = None
