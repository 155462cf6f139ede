"""Atomic file writes: a reader sees the old file or the new one, never half of one.

The one helper every writer of neurosig uses (Results, sweep stores, data caches, benchmark
tables). The data go to a hidden sibling file, are flushed to disk, and the sibling is renamed
onto the target (``os.replace`` is atomic on POSIX and Windows). The sibling is created with
``open(..., "x")`` rather than :func:`tempfile.mkstemp`, so the file gets the user's umask
(mkstemp would make every file mode 0600, unreadable to the rest of a lab's group). If
anything fails, or the process is interrupted, the sibling is removed and the target is left
as it was.

A process killed with SIGKILL cannot remove its sibling. The sibling's name carries the host
and the process id of its writer (``.NAME.HOST.PID.RANDOM.part``), and every later write of
``NAME`` removes the siblings whose writer ran on this host and is no longer alive
(:func:`reclaim_temporaries`), so a kill costs no disk space for long and never removes a
file that another live process is still writing.

:func:`sha256_file` is the digest by which a reader checks that a file is the one written
(stored program images, downloaded data, a figure's inputs).

Examples
--------
>>> import pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> write_text_atomic(folder / "table.md", "| a |\\n")
PosixPath('...table.md')
>>> (folder / "table.md").read_text()
'| a |\\n'
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import shutil
import socket
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "check_writable",
    "reclaim_temporaries",
    "sha256_file",
    "temporary_sibling",
    "write_atomic",
    "write_bytes_atomic",
    "write_text_atomic",
]


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "host"


def temporary_sibling(path: Path) -> Path:
    """A fresh hidden name next to ``path`` (same folder, so the rename is atomic), carrying
    this host and process id: ``.NAME.HOST.PID.RANDOM.part``."""
    return path.with_name(f".{path.name}.{_host()}.{os.getpid()}.{secrets.token_hex(4)}.part")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def reclaim_temporaries(path: Path) -> list[Path]:
    """Remove the temporary siblings of ``path`` left by dead writers on this host.

    A sibling of another host (a shared network folder) or of a live process is kept. Names
    from neurosig 0.5 and older (``.NAME.PID.RANDOM.part``, no host) count as this host's.
    Returns what was removed.
    """
    path = Path(path)
    pattern = re.compile(
        rf"\.{re.escape(path.name)}\.(?:(?P<host>[A-Za-z0-9-]+)\.)?(?P<pid>\d+)\.[0-9a-f]+\.part"
    )
    removed = []
    try:
        candidates = list(path.parent.glob(f".{path.name}.*.part"))
    except OSError:
        return removed
    for sibling in candidates:
        match = pattern.fullmatch(sibling.name)
        if not match or match["host"] not in (None, _host()) or _alive(int(match["pid"])):
            continue
        try:
            if sibling.is_dir() and not sibling.is_symlink():
                shutil.rmtree(sibling)
            else:
                sibling.unlink()
            removed.append(sibling)
        except OSError:
            pass  # a read-only folder: the write that follows reports it
    return removed


def write_atomic(path: str | Path, write: Callable[[Path], None], *, fsync: bool = True) -> Path:
    """Create ``path`` atomically: ``write(tmp)`` fills a sibling file, which is then renamed.

    ``write`` receives the path of an empty file that already exists (created with the umask's
    mode) and must write the complete content there. Returns ``path``. Siblings left by killed
    writers of ``path`` are removed first (:func:`reclaim_temporaries`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    reclaim_temporaries(path)
    tmp = temporary_sibling(path)
    try:
        with open(tmp, "xb"):
            pass
        write(tmp)
        if fsync:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as err:  # named by the target: the sibling's name means nothing to a user
        raise OSError(err.errno, err.strerror, str(path)) from err
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    return path


def check_writable(path: str | Path) -> Path:
    """Raise the :class:`OSError` a later :func:`write_atomic` of ``path`` would meet (a
    read-only or missing folder that cannot be made, a folder where the file should be), before
    any work is done. Creates the missing parent folders; leaves no file behind."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    for folder in path.parents:
        if folder.exists():
            if not folder.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))
            break
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temporary_sibling(path)
        with open(tmp, "xb"):
            pass
        tmp.unlink()
    except OSError as err:
        raise OSError(err.errno, err.strerror, str(path)) from err
    return path


def write_bytes_atomic(path: str | Path, data: bytes | memoryview) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return write_atomic(path, lambda tmp: tmp.write_bytes(data))


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8", newline=""))


def sha256_file(path: str | Path) -> str:
    """The SHA-256 (hex) of the file at ``path``, read in blocks of 1 MiB."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
