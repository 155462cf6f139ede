"""Brian2 targets and the compile-once, batched C++ standalone driver.

A Brian2 model in neurosig is *built once* and then *run many times*: every run presents a
fixed-size batch of samples (2-D :class:`~brian2.TimedArray` stimuli), starts from the weights
and slow variables the previous run left, and returns what the monitors recorded. Three targets
run the same objects:

``standalone`` (default)
    Brian2's C++ standalone mode. The program is generated and compiled once (when the
    :class:`BrianProgram` is made); each batch is one execution of the binary whose command
    line (Brian2's ``run_args``, written by :class:`ProgramImage`) replaces the TimedArray
    contents and the variables carried between batches (weights, biases, class memories,
    learning rates) without recompiling.
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

After a standalone build, neurosig keeps a :class:`ProgramImage` of it: the binary and its
data in this process's working copy, and for every array of the network its name on the
binary's command line, its dtype and size and its file in the results folder. Every batch then
runs the binary directly (as ``device.run(run_args=...)`` would, without Brian2's device), so
a standalone program stays valid when another network is built, and a second program of the
same structure, flags and identity starts from the image without generating any code: in the
same process, or in a later one that runs the same code (:func:`source_digest`) on the same
kind of machine, from the copy stored in the project's ``images`` folder (docs/speed.md).
Brian2's runtime targets keep one live network per process (Brian2's device is global):
building a new program makes a runtime program stale, and running it raises.

Rules of the house honoured here: no ``network_operation`` (it is silently skipped in standalone
mode), an explicit ``order`` on every update (set by the model), and one OpenMP thread (several
processes share the machine).
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import functools
import gc
import hashlib
import importlib.util
import inspect
import itertools
import json
import os
import platform
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from neurosig import interrupts
from neurosig.atomic import sha256_file, write_text_atomic
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
    """Let go of the live program's Brian2 objects, before the device changes.

    Building a :class:`BrianProgram` calls this; so must any other code that resets Brian2's
    device (the audit builds networks under the runtime device), since the live program's
    objects belong to the device state that is about to go. A runtime program (``cython``,
    ``numpy``) becomes stale: it raises if run, and its model builds a new one at its next run.
    A standalone program runs on from its :class:`ProgramImage`.
    """
    for old in _LIVE:
        old.built = None
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


def content_digest(obj: Any) -> str:
    """A hash of everything ``obj`` holds, however deep: dataclasses field by field, mappings,
    sequences, arrays byte by byte (``repr`` would shorten a long array), other values by
    ``repr``. What :class:`BrianProgram` compares to reuse an image (``identity``)."""
    h = hashlib.sha256()

    def feed(x: Any) -> None:
        if dataclasses.is_dataclass(x) and not isinstance(x, type):
            h.update(type(x).__qualname__.encode())
            for f in dataclasses.fields(x):
                h.update(f.name.encode())
                feed(getattr(x, f.name))
        elif isinstance(x, Mapping):
            h.update(b"{")
            for key in sorted(x, key=repr):
                feed(key)
                feed(x[key])
            h.update(b"}")
        elif isinstance(x, list | tuple):
            h.update(b"[")
            for item in x:
                feed(item)
            h.update(b"]")
        elif isinstance(x, np.ndarray):
            h.update(f"{x.dtype}{x.shape}".encode())
            h.update(np.ascontiguousarray(x).tobytes())
        else:
            h.update(repr(x).encode())
        h.update(b"\x00")

    feed(obj)
    return h.hexdigest()[:16]


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


@dataclass(frozen=True)
class ArraySpec:
    """How the binary of a :class:`ProgramImage` reads or writes one array.

    ``argument`` is its name on the binary's command line (``group.variable`` or
    ``timedarray.values``), ``dtype`` and ``shape`` what it holds (``dynamic``: the first
    dimension grows during a run), ``result`` its file in the results folder (None for a
    TimedArray: it is only written), and ``transpose`` whether reading it transposes it (a
    StateMonitor's recorded variable, stored time by unit, is read unit by time, as Brian2 does).
    """

    argument: str
    dtype: str
    shape: tuple[int, ...]
    dynamic: bool = False
    result: str | None = None
    transpose: bool = False

    def run_argument(self, value: Any, static: Path, written: list[Path]) -> str:
        """``name=value`` for the command line: a single value as text, an array as a file
        under ``static`` (its name carries its content's hash, as Brian2's do), appended to
        ``written``."""
        array = np.asarray(value, dtype=self.dtype)
        if array.size == 1:
            return f"{self.argument}={array.item()!r}"
        if self.transpose or (
            array.shape != self.shape
            and not (self.dynamic and array.ndim == 1 and len(self.shape) == 1)
        ):
            raise ValueError(
                f"{self.argument}: shape {array.shape} != {self.shape}; give an array of the "
                "program's size"
            )
        array = np.ascontiguousarray(array)
        name = f"init_{self.argument.replace('.', '_')}_{hashlib.md5(array.data).hexdigest()}.dat"
        array.tofile(static / name)
        written.append(static / name)
        return f"{self.argument}=static_arrays/{name}"

    def read(self, results: Path) -> np.ndarray:
        """The array after the last run, as ``getattr(owner, name + "_")`` gives it."""
        if self.result is None:
            raise ValueError(f"{self.argument} is an input of the program, not a result")
        data = np.fromfile(results / self.result, dtype=self.dtype)
        if len(self.shape) == 2:  # a 2-D dynamic array grows in its first dimension
            data = data.reshape(-1, self.shape[1])
        return data.T if self.transpose else data


@dataclass(frozen=True)
class ProgramImage:
    """A compiled standalone program, runnable without Brian2's device.

    ``directory`` is this process's working copy of the project (the binary ``main`` and its
    ``static_arrays``); ``arrays`` maps ``(object, variable)`` (the names a model's
    :class:`Built` uses) and ``timed`` maps TimedArray names to their :class:`ArraySpec`.
    """

    directory: Path
    arrays: dict[tuple[str, str], ArraySpec]
    timed: dict[str, ArraySpec]
    in_use: TextIO | None = field(default=None, compare=False, repr=False)  # the folder's lock

    @classmethod
    def of(cls, built: Built, device: Any, directory: Path, in_use: TextIO) -> ProgramImage:
        """The image of the network ``built`` just compiled by the standalone ``device``:
        every array owned by one of its objects and indexed by its own elements (references
        to other objects' variables are read through their owners)."""
        from brian2 import StateMonitor
        from brian2.core.variables import ArrayVariable, DynamicArrayVariable

        arrays: dict[tuple[str, str], ArraySpec] = {}
        for key, obj in built.objects.items():
            recorded = obj.record_variables if isinstance(obj, StateMonitor) else ()
            for name, var in obj.variables.items():
                if not isinstance(var, ArrayVariable) or var.owner.name != obj.name:
                    continue
                if obj.variables.indices[name] not in ("_idx", "0"):
                    continue  # read through another index (a synapse's N_incoming)
                if var not in device.arrays:
                    continue  # never handed to the device (no code object uses it)
                size = var.size
                arrays[key, name] = ArraySpec(
                    argument=f"{obj.name}.{name}",
                    dtype=np.dtype(var.dtype).str,
                    shape=tuple(size) if isinstance(size, tuple) else (int(size),),
                    dynamic=isinstance(var, DynamicArrayVariable),
                    result=device.get_array_filename(var),
                    transpose=name in recorded,
                )
        timed = {
            name: ArraySpec(
                argument=f"{ta.name}.values", dtype=np.dtype(ta.values.dtype).str,
                shape=tuple(ta.values.shape),
            )
            for name, ta in built.timed.items()
        }  # fmt: skip
        return cls(directory=directory, arrays=arrays, timed=timed, in_use=in_use)

    def usable(self) -> bool:
        """Whether its working copy is still there (a cache folder may be removed under it)."""
        return (self.directory / "main").is_file()

    def save(self, folder: Path) -> None:
        """Store the image in ``folder`` for later processes (:data:`IMAGE_RECORD` and a copy
        of its binary and static arrays). The record is written last, atomically, and names
        every file's sha256: a folder whose writer was killed has no record, or one whose
        files do not match it, and :meth:`load` ignores it."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / IMAGE_RECORD).unlink(missing_ok=True)
        shutil.rmtree(folder / "static_arrays", ignore_errors=True)
        _copy_program(self.directory, folder)
        arrays = [[obj, var, dataclasses.asdict(spec)] for (obj, var), spec in self.arrays.items()]
        record = {
            "format": IMAGE_FORMAT,
            "files": _file_hashes(folder),
            "arrays": arrays,
            "timed": {name: dataclasses.asdict(spec) for name, spec in self.timed.items()},
        }
        write_text_atomic(folder / IMAGE_RECORD, json.dumps(record, indent=1))

    @classmethod
    def load(cls, folder: Path, directory: Path, in_use: TextIO) -> ProgramImage | None:
        """The image stored in ``folder`` by :meth:`save`, copied to the working copy
        ``directory``; None if there is none, or if a file differs from its record."""
        try:
            record = json.loads((folder / IMAGE_RECORD).read_text())
        except (OSError, ValueError):
            return None
        if record.get("format") != IMAGE_FORMAT or record.get("files") != _file_hashes(folder):
            return None

        def spec(fields: dict[str, Any]) -> ArraySpec:
            return ArraySpec(**{**fields, "shape": tuple(fields["shape"])})

        _copy_program(folder, directory)
        return cls(
            directory=directory,
            arrays={(obj, var): spec(fields) for obj, var, fields in record["arrays"]},
            timed={name: spec(fields) for name, fields in record["timed"].items()},
            in_use=in_use,
        )

    def run(
        self,
        variables: Mapping[tuple[str, str], Any],
        timed: Mapping[str, np.ndarray],
        results: Path,
    ) -> None:
        """One execution of the binary: ``variables`` and ``timed`` as in
        :meth:`BrianProgram.run`, every array written to ``results``."""
        import subprocess

        static = self.directory / "static_arrays"
        written: list[Path] = []
        try:
            args = ["--results_dir", f"{results}{os.sep}"]
            for (obj, var), value in variables.items():
                spec = self.arrays.get((obj, var))
                if spec is None:
                    raise KeyError(f"{obj}.{var}: not an array of this Brian2 program")
                args.append(spec.run_argument(value, static, written))
            for name, value in timed.items():
                if name not in self.timed:
                    raise KeyError(f"TimedArray {name}: not an input of this Brian2 program")
                args.append(self.timed[name].run_argument(value, static, written))
            results.mkdir(parents=True, exist_ok=True)
            with open(results / "stdout.txt", "w") as stdout:
                code = subprocess.call(
                    ["./main", *args], cwd=self.directory, stdout=stdout, stderr=subprocess.STDOUT
                )
            if code:
                if interrupts.requested():
                    raise KeyboardInterrupt
                tail = (results / "stdout.txt").read_text(errors="replace")[-2000:]
                raise RuntimeError(
                    f"the Brian2 program in {self.directory} failed (exit code {code}):\n{tail}"
                )
        finally:
            for path in written:
                path.unlink(missing_ok=True)


def _copy_program(source: Path, destination: Path) -> None:
    """Copy a standalone program (its binary ``main`` and ``static_arrays``) into
    ``destination``. Files named ``init_*`` are a run's arguments, not the program's: not
    copied."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / "main", destination / "main")
    shutil.copytree(
        source / "static_arrays",
        destination / "static_arrays",
        ignore=shutil.ignore_patterns("init_*"),
        dirs_exist_ok=True,
    )


def _file_hashes(folder: Path) -> dict[str, str]:
    """sha256 of the binary and every static array of a stored program, by relative path."""
    files = [folder / "main", *sorted((folder / "static_arrays").glob("*"))]
    return {
        path.relative_to(folder).as_posix(): sha256_file(path) for path in files if path.is_file()
    }


# The packages whose code turns a model into Brian2 objects (neurosig's own, the models and
# the analyses that audit them): any change to a file of theirs is a change of every program.
SOURCE_PACKAGES = ("neurosig", "neurosig.models", "neurosig.analyses")


@functools.cache
def _package_roots() -> tuple[Path, ...]:
    roots = []
    for name in SOURCE_PACKAGES:
        spec = importlib.util.find_spec(name)
        roots += [Path(p).resolve() for p in (spec.submodule_search_locations or [])]
    return tuple(dict.fromkeys(roots))


# a source file as this process read it (once: the code it runs)
_file_digest = functools.cache(sha256_file)


@functools.cache
def _package_digest() -> str:
    """A digest of the Python, Brian2, sympy and numpy versions and of every ``.py`` file of
    :data:`SOURCE_PACKAGES` (by path inside its package): read once per process, the code
    this process runs."""
    import brian2
    import sympy

    parts: list[Any] = [sys.version, brian2.__version__, sympy.__version__, np.__version__]
    for index, root in enumerate(_package_roots()):
        files = []
        for folder, subfolders, names in os.walk(root):
            subfolders[:] = sorted(d for d in subfolders if d != "__pycache__")
            files += [Path(folder) / n for n in names if n.endswith(".py")]
        parts += [(index, f.relative_to(root).as_posix(), _file_digest(f)) for f in sorted(files)]
    return content_digest(parts)


def _source_file(obj: Any) -> Path | None:
    """The file that defines function ``obj`` (through partials, bound methods, decorators),
    or None where there is none on disk (a notebook cell, ``exec``)."""
    while isinstance(obj, functools.partial):
        obj = obj.func
    obj = inspect.unwrap(getattr(obj, "__func__", obj))
    try:
        name = inspect.getsourcefile(obj)
    except TypeError:
        return None
    path = Path(name).resolve() if name else None
    return path if path is not None and path.is_file() else None


def source_digest(*functions: Any) -> str | None:
    """A digest of the code that ``functions`` run: the files defining them, neurosig's own
    packages and the versions of Python, Brian2, sympy and numpy (read once per process).
    None when a function has no source file on disk: then nothing proves that another
    process runs the same code, and its program images are kept for this process only."""
    roots = _package_roots()
    parts = [_package_digest()]
    for function in functions:
        path = _source_file(function)
        if path is None:
            return None
        if not any(path.is_relative_to(root) for root in roots):
            parts.append(_file_digest(path))
    return content_digest(parts)


@functools.cache
def _machine(native: bool) -> str:
    """The machine a binary runs on: its architecture and, for ``-march=native`` builds, the
    processor's model and instruction-set flags (such a binary may not run elsewhere)."""
    parts = [platform.machine()]
    if native:
        try:
            lines = Path("/proc/cpuinfo").read_text().splitlines()
        except OSError:
            lines = [platform.processor()]
        parts += list(dict.fromkeys(
            line for line in lines if line.startswith(("model name", "flags", "Features"))
        ))  # fmt: skip
    return content_digest(parts)


# Brian2 preferences that every build sets itself (so they are not the user's choice)
SET_BY_NEUROSIG = frozenset({
    "codegen.cpp.extra_compile_args", "codegen.cpp.extra_compile_args_gcc",
    "codegen.cpp.include_dirs", "codegen.cpp.library_dirs", "codegen.cpp.runtime_library_dirs",
    "codegen.target", "codegen.runtime.cython.cache_dir",
    "devices.cpp_standalone.make_cmd_unix", "devices.cpp_standalone.openmp_threads",
    "devices.cpp_standalone.run_environment_variables",
})  # fmt: skip


def brian2_settings() -> str:
    """A digest of the Brian2 preferences that shape generated code and that neurosig leaves to
    the user (``core.default_float_dtype``, ``codegen.loop_invariant_optimisations``...): part
    of the key of an image, so a program built under other preferences is never reused."""
    import brian2

    return content_digest(
        {name: repr(brian2.prefs[name]) for name in sorted(brian2.prefs)
         if name.startswith(("codegen.", "core.", "devices.")) and name not in SET_BY_NEUROSIG}
    )  # fmt: skip


_PROGRAM_NUMBERS = itertools.count()  # this process's working copies and results folders
# A standalone program's image, by project folder, identity and Brian2 preferences, for the
# life of this process: a second program of the same structure, flags, identity and preferences
# starts from it without generating any code.
_IMAGES: dict[tuple[Path, str, str], ProgramImage] = {}
# Images kept for other processes: <project>/images/<id>/ (ProgramImage.save), at most
# MAX_STORED_IMAGES per project (the least recently used go first)
IMAGE_STORE = "images"
IMAGE_RECORD = "image.json"
IMAGE_FORMAT = 1
MAX_STORED_IMAGES = 16


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
    identity : str, optional
        A digest of everything ``build`` reads (:func:`content_digest`), where the key leaves
        some of it out (constants of the equations that the generated code holds). A
        standalone program with the project and identity of one built before, under the same
        Brian2 preferences (:func:`brian2_settings`), starts from that program's
        :class:`ProgramImage` and generates no code: in this process, or in another one that
        runs the same code (:func:`source_digest` of ``build`` and ``sources``) on the same
        kind of machine, from the image stored in the project's ``images`` folder. None (the
        default): always build.
    sources : tuple of functions
        Functions whose code ``build`` runs and that live outside neurosig's packages (a
        user's network function): part of the stored image's key.

    ``stored_image`` is the folder where other processes find this program's image (None: no
    identity, or code without a source file).

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
    identity: str | None = None
    sources: tuple[Any, ...] = ()
    image: ProgramImage | None = None  # standalone: what every run executes
    _image_key: tuple[Path, str, str] | None = None
    stored_image: Path | None = field(default=None, init=False)  # for other processes
    _results: str = field(default_factory=lambda: f"results-{next(_PROGRAM_NUMBERS)}")

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"target {self.target!r}: choose one of {', '.join(TARGETS)}")
        start = time.perf_counter()
        if self.target == "standalone" and self.identity is not None:
            project, settings = self._project_dir(), brian2_settings()
            self._image_key = (project, self.identity, settings)
            code = source_digest(self.build, *self.sources)
            if code is not None:
                native = "-march=native" in self.compiler_flags
                name = content_digest((self.identity, settings, code, _machine(native)))
                self.stored_image = project / IMAGE_STORE / name
        if self._reuse_image() or self._load_stored_image():
            self.compile_seconds = time.perf_counter() - start
            return
        import brian2

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

    def _project_dir(self) -> Path:
        return project_dir(self.key + ("-profile" if self.profile else ""), self.compiler_flags)

    def _reuse_image(self) -> bool:
        """Start from this process's image of the same project, identity and preferences, if it
        has one that is still on disk."""
        image = _IMAGES.get(self._image_key) if self._image_key else None
        if image is None or not image.usable():
            return False
        self.image = image
        return True

    def _load_stored_image(self, locked: bool = False) -> bool:
        """Start from the image another process stored for this program, if there is a sound
        one (``locked``: the caller holds the project's lock)."""
        if self.stored_image is None or not (self.stored_image / IMAGE_RECORD).is_file():
            return False
        project = self._project_dir()
        with contextlib.nullcontext() if locked else lock_file(project_lock(project)):
            work, in_use = self._working_copy(project)
            image = ProgramImage.load(self.stored_image, work, in_use)
            if image is None:
                in_use.close()
                shutil.rmtree(work, ignore_errors=True)
                return False
            os.utime(self.stored_image / IMAGE_RECORD)  # recently used: kept when the store is full
        self._adopt(image)
        return True

    def _working_copy(self, project: Path) -> tuple[Path, TextIO]:
        """A new working copy folder of ``project`` for this process, and its held lock."""
        work = run_copy(project, next(_PROGRAM_NUMBERS))
        shutil.rmtree(work, ignore_errors=True)
        in_use = lock_file(work / IN_USE)
        atexit.register(shutil.rmtree, work, True)
        return work, in_use

    def _adopt(self, image: ProgramImage) -> None:
        self.image = image
        if self._image_key is not None:
            _IMAGES[self._image_key] = image

    def _store_image(self) -> None:
        """Keep the image for other processes (the project's lock held), dropping the least
        recently used beyond :data:`MAX_STORED_IMAGES`."""
        if self.stored_image is None:
            return
        try:
            self.image.save(self.stored_image)
        except OSError as err:  # a full disk costs later processes a build, not this run
            shutil.rmtree(self.stored_image, ignore_errors=True)
            warnings.warn(f"program image not stored in {self.stored_image}: {err}", stacklevel=2)
            return
        stored = sorted(
            self.stored_image.parent.glob(f"*/{IMAGE_RECORD}"),
            key=lambda record: record.stat().st_mtime,
        )
        for record in stored[:-MAX_STORED_IMAGES]:
            shutil.rmtree(record.parent, ignore_errors=True)

    def _build_standalone(self, brian2: Any) -> None:
        project = self._project_dir()
        with lock_file(project_lock(project)):
            if self._load_stored_image(locked=True):  # stored while this process waited
                return
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
            work, in_use = self._working_copy(project)
            _copy_program(project, work)
            self._adopt(ProgramImage.of(self.built, brian2.get_device(), work, in_use))
            self._store_image()

    @property
    def results(self) -> Path:
        """The folder this standalone program's runs write their arrays to."""
        if self.image is None:
            raise RuntimeError(f"a {self.target} program writes no results folder")
        return self.image.directory / self._results

    @property
    def stale(self) -> bool:
        """Whether the program can no longer run (a runtime program after another build)."""
        return self.image is None and self.built is None

    def run(
        self, variables: Mapping[tuple[str, str], Any], timed: Mapping[str, np.ndarray]
    ) -> None:
        """Run one batch.

        ``variables`` maps ``(object name, variable name)`` to the values the batch starts
        from (arrays, or scalars for shared variables); ``timed`` maps TimedArray names to their
        new contents (same shape as at build time).
        """
        if self.stale:
            raise RuntimeError(
                "this Brian2 program is stale: another Brian2 network was built in this process "
                "since (Brian2 keeps one live runtime network per process); rebuild the model"
            )
        for name, value in timed.items():
            expected = (
                self.image.timed[name].shape if self.image else self.built.timed[name].values.shape
            )
            if value.shape != expected:
                raise ValueError(f"TimedArray {name}: shape {value.shape} != {expected}")
        if self.image is not None:
            as_float = {key: np.asarray(value, dtype=float) for key, value in variables.items()}
            with _user_interrupt():
                self.image.run(as_float, timed, self.results)
        else:
            objs = self.built.objects
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
        if self.image is not None:
            spec = self.image.arrays.get((obj, var))
            if spec is None:
                raise KeyError(f"{obj}.{var}: not an array of this Brian2 program")
            return np.array(spec.read(self.results), dtype=float)
        if self.built is None:
            raise RuntimeError("this Brian2 program is stale; rebuild the model")
        return np.array(getattr(self.built.objects[obj], var + "_"), dtype=float)

    def profile_seconds(self) -> dict[str, float]:
        """Seconds spent in each code object during the last run, largest first (a standalone
        program built with ``profile = True``; Brian2's own profiling)."""
        if not self.profile or self.image is None:
            raise RuntimeError("profile_seconds needs a standalone program built with profile")
        lines = (self.results / "profiling_info.txt").read_text().split("\n")
        pairs = [line.split() for line in lines if line.strip()]
        return dict(sorted(((k, float(v)) for k, v in pairs), key=lambda kv: -kv[1]))

    def cleanup(self) -> None:
        """Remove what this program's runs wrote (the image's working copy, which other
        programs of this process may share, goes when the process exits)."""
        if self.image is not None:
            shutil.rmtree(self.results, ignore_errors=True)
