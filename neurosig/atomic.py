"""Atomic file writes: a reader sees the old file or the new one, never half of one.

The one helper every writer of neurosig uses (Results, sweep stores, data caches, benchmark
tables). The data go to a hidden sibling file, are flushed to disk, and the sibling is renamed
onto the target (``os.replace`` is atomic on POSIX and Windows). The sibling is created with
``open(..., "x")`` rather than :func:`tempfile.mkstemp`, so the file gets the user's umask
(mkstemp would make every file mode 0600, unreadable to the rest of a lab's group). If
anything fails, or the process is interrupted, the sibling is removed and the target is left
as it was.

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

import os
import secrets
from collections.abc import Callable
from pathlib import Path


def temporary_sibling(path: Path) -> Path:
    """A fresh hidden file name next to ``path`` (same folder, so the rename is atomic)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.part")


def write_atomic(path: str | Path, write: Callable[[Path], None], *, fsync: bool = True) -> Path:
    """Create ``path`` atomically: ``write(tmp)`` fills a sibling file, which is then renamed.

    ``write`` receives the path of an empty file that already exists (created with the umask's
    mode) and must write the complete content there. Returns ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path)
    try:
        with open(tmp, "xb"):
            pass
        write(tmp)
        if fsync:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8", newline=""))
