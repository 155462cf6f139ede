"""neurosig's cache: one root folder, what lives under it, and how to measure and clean it.

The root is ``$NEUROSIG_CACHE`` if set, else ``$XDG_CACHE_HOME/neurosig``, else
``~/.cache/neurosig`` (:func:`locate_cache`). Under it, one folder per part:

``brian/``
    Brian2 C++ standalone projects, one per network structure and compiler flags
    (:func:`neurosig.brian.project_dir`), each with a ``.lock`` file and the program images
    stored in it for later processes (``images/``, :meth:`neurosig.brian.ProgramImage.save`),
    and the working copies (``<project>.run-<pid>``) of the processes running them.
    Regenerable: a removed project is compiled again at its next use.
``cython/``
    Brian2's compiled Cython extensions for the runtime ``cython`` target. Regenerable.
``mnist1d/``
    The generated MNIST-1D data set (:func:`neurosig.data.load_dataset`). Regenerable (~2 s).
``sklearn/``
    scikit-learn's bundled sets (``digits``, ``wine``, ``breast-cancer``) as read by their
    loaders, one file per set and scikit-learn version, so that loading them does not import
    scikit-learn (~1.5 s). Regenerable.
``<name>/``
    A downloaded data set (:func:`neurosig.data.fetch_dataset`: ``mnist``, ``fashion-mnist``).
    Downloading again needs a network, so cleaning keeps them unless asked.

Anything else found under the root is listed as not neurosig's and never removed. Caches of
other libraries (matplotlib's font cache, Cython's own ``~/.cython``) are theirs and not
here.

:func:`clean_cache` removes whole parts without following a symbolic link out of the root, and
skips what a running process uses: a project being compiled (its ``.lock`` is held) and the
working copy of a live run (its :data:`IN_USE` file is held, :func:`lock_file`).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, TextIO

from neurosig.errors import CacheError, os_error_message

__all__ = [
    "BRIAN",
    "CACHE_ENV",
    "CYTHON",
    "IN_USE",
    "MNIST1D",
    "RUN_COPY",
    "SKLEARN",
    "CacheInfo",
    "CacheLocation",
    "CachePart",
    "Cleaned",
    "cache_path",
    "cache_root",
    "clean_cache",
    "format_bytes",
    "lock_file",
    "locate_cache",
    "project_lock",
    "run_copy",
    "scan_cache",
    "select_parts",
]

CACHE_ENV = "NEUROSIG_CACHE"
BRIAN = "brian"
CYTHON = "cython"
MNIST1D = "mnist1d"
SKLEARN = "sklearn"
# held (flock) by a process for as long as it runs a working copy of a standalone project
IN_USE = ".in-use"
RUN_COPY = ".run-"  # <project>.run-<pid>[-<n>]: a process's working copies of a project

# part -> (kind, description); downloaded data sets and others are found by scan_cache
_REGENERABLE = {
    BRIAN: ("brian", "Brian2 standalone builds"),
    CYTHON: ("brian", "Brian2 Cython extensions"),
    MNIST1D: ("generated", "generated MNIST-1D"),
    SKLEARN: ("generated", "scikit-learn's bundled sets, read once"),
}


class CacheLocation(NamedTuple):
    """The cache root and the setting that chose it: ``"NEUROSIG_CACHE"``,
    ``"XDG_CACHE_HOME"`` or ``"default"``."""

    path: Path
    chosen_by: str

    def describe(self) -> str:
        """``cache root: PATH (from NEUROSIG_CACHE)``, or ``(the default: ...)``."""
        how = (
            f"the default: {CACHE_ENV} and XDG_CACHE_HOME are not set"
            if self.chosen_by == "default"
            else f"from {self.chosen_by}"
        )
        return f"cache root: {self.path} ({how})"


def locate_cache() -> CacheLocation:
    """The cache root, and which setting chose it.

    ``$NEUROSIG_CACHE`` if set (and not empty), else ``$XDG_CACHE_HOME/neurosig``, else
    ``~/.cache/neurosig``. Nothing is created.

    Examples
    --------
    >>> root, chosen_by = locate_cache()
    >>> chosen_by in ("NEUROSIG_CACHE", "XDG_CACHE_HOME", "default")
    True
    """
    if os.environ.get(CACHE_ENV):
        return CacheLocation(Path(os.environ[CACHE_ENV]).expanduser(), CACHE_ENV)
    if os.environ.get("XDG_CACHE_HOME"):
        return CacheLocation(
            Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "neurosig", "XDG_CACHE_HOME"
        )
    return CacheLocation(Path.home() / ".cache" / "neurosig", "default")


def cache_root() -> Path:
    """The root folder of neurosig's caches (:func:`locate_cache`); not created here."""
    return locate_cache().path


def cache_path(part: str) -> Path:
    """The folder of one part of the cache: :data:`BRIAN`, :data:`CYTHON`, :data:`MNIST1D`,
    :data:`SKLEARN` or a data set's name. Not created here.

    Examples
    --------
    >>> cache_path(BRIAN) == cache_root() / "brian"
    True
    """
    return cache_root() / part


def run_copy(project: Path, copy: int = 0) -> Path:
    """Working copy number ``copy`` of standalone project ``project`` for this process (a
    process may hold several: one per image, neurosig.brian)."""
    suffix = f"-{copy}" if copy else ""
    return project.parent / f"{project.name}{RUN_COPY}{os.getpid()}{suffix}"


def project_lock(project: Path) -> Path:
    """The lock file held while standalone project ``project`` is being built."""
    return project.with_name(f"{project.name}.lock")


def lock_file(path: Path, *, wait: bool = True) -> TextIO | None:
    """Open ``path`` (created if missing) with an exclusive lock; closing it releases the lock.

    With ``wait=False``, returns None at once when another process holds the lock.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_NOFOLLOW: a lock file that is a symbolic link never creates or locks its target
    fh = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o666), "w")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        return None
    except BaseException:
        fh.close()
        raise
    return fh


def format_bytes(n: int) -> str:
    """``1536`` -> ``'1.5 KiB'``: bytes with a binary prefix, one decimal.

    Examples
    --------
    >>> format_bytes(0), format_bytes(1536), format_bytes(3 * 2**30)
    ('0 B', '1.5 KiB', '3.0 GiB')
    """
    if n < 1024:
        return f"{n} B"
    size, units = n / 1024, ["KiB", "MiB", "GiB", "TiB"]
    while size >= 1024 and len(units) > 1:
        size /= 1024
        units.pop(0)
    return f"{size:.1f} {units[0]}"


@dataclass(frozen=True)
class CachePart:
    """One entry directly under the cache root.

    Attributes
    ----------
    path : pathlib.Path
        ``root / name``; :attr:`name` is its name under the root (``"brian"``,
        ``"fashion-mnist"``, ...).
    kind : {"brian", "generated", "downloaded", "other"}
        What it holds: Brian2 builds and generated data are regenerable, downloaded data sets
        need a network again, and ``"other"`` is not neurosig's.
    description : str
    size : int
        Bytes in its files (apparent size; symbolic links count as links, never followed).
    entries : int
        Entries directly inside it (1 for a file or link).
    link : str or None
        Where it points, if it is a symbolic link (its target is not measured or removed).
    """

    path: Path
    kind: str
    description: str
    size: int
    entries: int
    link: str | None = None

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class CacheInfo:
    """The cache root (:class:`CacheLocation`), whether it exists, and its parts."""

    location: CacheLocation
    exists: bool
    parts: tuple[CachePart, ...] = ()

    @property
    def size(self) -> int:
        return sum(part.size for part in self.parts)

    @property
    def entries(self) -> int:
        return sum(part.entries for part in self.parts)

    def describe(self) -> str:
        """Lines for ``neurosig cache info``: the root, its origin, each part and the total."""
        lines = [self.location.describe()]
        if not self.parts:
            lines.append("  empty" if self.exists else "  empty (the folder does not exist yet)")
            return "\n".join(lines)
        width = max(len(part.name) for part in self.parts)
        for part in self.parts:
            link = f" -> {part.link} (link, not followed)" if part.link else ""
            count = f"{part.entries} entr{'y' if part.entries == 1 else 'ies'}"
            lines.append(
                f"  {part.name:<{width}}  {format_bytes(part.size):>9}  {count:>11}  "
                f"{part.description}{link}"
            )
        lines.append(f"total: {format_bytes(self.size)} in {len(self.parts)} parts")
        return "\n".join(lines)


def scan_cache(location: CacheLocation | None = None) -> CacheInfo:
    """Measure every part of the cache (default: :func:`locate_cache`).

    A root that does not exist is an empty cache. Raises :class:`~neurosig.errors.CacheError`
    when the root is not a folder or cannot be read.
    """
    from neurosig.data import DOWNLOAD_URLS  # data imports this module

    location = location or locate_cache()
    root = location.path
    try:
        if not root.exists():
            return CacheInfo(location, exists=False)
        if not root.is_dir():
            raise CacheError(
                f"the cache root {root} is a file, not a folder; remove it or point "
                f"{CACHE_ENV} at a folder"
            )
        parts = []
        for path in sorted(root.iterdir()):
            if path.name in _REGENERABLE:
                kind, description = _REGENERABLE[path.name]
            elif path.name in DOWNLOAD_URLS:
                kind, description = "downloaded", "downloaded data set (kept unless --all)"
            else:
                kind, description = "other", "not neurosig's (never removed)"
            link = os.readlink(path) if path.is_symlink() else None
            entries = 1 if link or not path.is_dir() else len(os.listdir(path))
            parts.append(CachePart(path, kind, description, _tree_size(path), entries, link))
    except OSError as err:
        raise CacheError(os_error_message(err, "the cache")) from None
    return CacheInfo(location, exists=True, parts=tuple(parts))


def _tree_size(path: Path) -> int:
    """Bytes in the files under ``path``, not following symbolic links."""
    st = path.lstat()
    if not stat.S_ISDIR(st.st_mode):
        return st.st_size
    total = 0
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                total += _tree_size(Path(entry.path))
            else:
                total += entry.stat(follow_symlinks=False).st_size
    return total


def select_parts(
    info: CacheInfo, *, brian: bool = True, data: bool = True, downloaded: bool = False
) -> list[CachePart]:
    """The parts ``neurosig cache clean`` removes: Brian2 builds (``brian``), generated data
    (``data``), and downloaded data sets (``data`` and ``downloaded``); never another's."""
    kinds = {"brian"} if brian else set()
    if data:
        kinds |= {"generated", "downloaded"} if downloaded else {"generated"}
    return [part for part in info.parts if part.kind in kinds]


@dataclass
class Cleaned:
    """What :func:`clean_cache` did: bytes freed per removed part, the parts kept and why, and
    what was skipped because a process uses it."""

    location: CacheLocation
    freed: dict[str, int] = field(default_factory=dict)
    kept: list[tuple[CachePart, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.freed.values())

    def describe(self) -> str:
        """Lines for ``neurosig cache clean``: what was removed, kept and skipped, and the
        bytes freed."""
        lines = [self.location.describe()]
        names = [*self.freed, *(part.name for part, _ in self.kept)]
        width = max(map(len, names), default=0)
        for name, size in self.freed.items():
            lines.append(f"  removed {name:<{width}}  {format_bytes(size):>9}")
        for part, reason in self.kept:
            lines.append(f"  kept    {part.name:<{width}}  {format_bytes(part.size):>9}  {reason}")
        lines += [f"  in use  {what}: kept" for what in self.skipped]
        lines.append(f"freed {format_bytes(self.total)}" if self.freed else "nothing removed")
        return "\n".join(lines)


_KEPT_BECAUSE = {
    "brian": "Brian2 builds: --brian (or no option) removes them",
    "generated": "generated data: --data (or no option) removes it",
    "downloaded": "a downloaded data set: --all removes it",
    "other": "not neurosig's: remove it yourself if you do not need it",
}


def clean_cache(info: CacheInfo, parts: Iterable[CachePart]) -> Cleaned:
    """Remove ``parts`` (of :func:`scan_cache`'s ``info``, chosen by :func:`select_parts`).

    A symbolic link is removed, never its target. Inside ``brian/``, a project being
    compiled and the working copy of a live run are kept (:attr:`Cleaned.skipped`). A root
    that does not exist is an empty cache: nothing to remove.

    Raises
    ------
    CacheError
        The root is ``/`` or the home folder itself, a part is not directly under the root, or
        the operating system refuses (permissions, a read-only file system); what was removed
        before stays removed and the message says how much.
    """
    root = info.location.path
    parts = list(parts)
    real_root = Path(os.path.realpath(root))
    if parts and real_root in (Path("/"), Path(os.path.realpath(Path.home()))):
        raise CacheError(
            f"the cache root {root} is {real_root}, not a folder of neurosig's own: nothing "
            f"removed; point {CACHE_ENV} at a folder of its own"
        )
    cleaned = Cleaned(info.location)
    chosen = {part.path for part in parts}
    cleaned.kept = [(p, _KEPT_BECAUSE[p.kind]) for p in info.parts if p.path not in chosen]
    try:
        for part in parts:
            if part.path.parent != root or part.path.name in ("", ".", ".."):
                raise CacheError(f"refusing to remove {part.path}: it is not inside {root}")
            if part.name == BRIAN and part.link is None and part.path.is_dir():
                cleaned.freed[part.name] = _clean_brian(part.path, cleaned.skipped)
            else:
                _remove(part.path)
                cleaned.freed[part.name] = part.size
    except OSError as err:
        raise CacheError(
            f"cannot remove {err.filename}: {err.strerror or err}; fix the permissions of its "
            f"folder or remove it yourself ({format_bytes(cleaned.total)} freed before)"
        ) from None
    return cleaned


def _remove(path: Path) -> None:
    """Remove a file, a link (not its target) or a folder (links inside not followed)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _clean_brian(folder: Path, skipped: list[str]) -> int:
    """Remove what under ``folder`` no process is using; return the bytes freed."""
    freed = 0
    for path in sorted(folder.iterdir()):
        if path.is_symlink() or not path.is_dir():
            if path.is_symlink() or path.suffix != ".lock":  # a lock goes with its project
                freed += path.lstat().st_size
                path.unlink()
            continue
        is_copy = RUN_COPY in path.name
        lock_path = path / IN_USE if is_copy else project_lock(path)
        lock = lock_file(lock_path, wait=False)
        if lock is None:
            what = "the working copy of a running process" if is_copy else "being compiled"
            skipped.append(f"{path}: {what}")
            continue
        with lock:
            size = _tree_size(path)
            shutil.rmtree(path)
            lock_path.unlink(missing_ok=True)
        freed += size
    for lock_path in folder.glob("*.lock"):
        if lock_path.is_symlink() or lock_path.with_suffix("").exists():
            continue  # its project is in use
        lock = lock_file(lock_path, wait=False)
        if lock is not None:  # else a build is starting
            with lock:
                lock_path.unlink(missing_ok=True)
    if not any(folder.iterdir()):
        folder.rmdir()
    return freed
