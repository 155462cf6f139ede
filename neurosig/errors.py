"""Errors a user can cause, and the one sentence each ends in.

The CLI (:func:`neurosig.cli.main`) turns a :class:`NeurosigError` and an :class:`OSError` on
the user's files into one line on stderr and exit code 2 (:func:`os_error_message` writes the
line for the latter), and an :class:`Interrupted` run into one line and exit code 130.
"""

from __future__ import annotations

import errno
import os


class NeurosigError(Exception):
    """Base class: a problem with the user's input, reported without a traceback."""


class ConfigError(NeurosigError, ValueError):
    """A configuration field is unknown, of the wrong type or unit, or out of range."""


class DataError(NeurosigError):
    """A data set is unknown, missing, corrupt or malformed."""


class DivergenceError(NeurosigError):
    """Training produced NaN or inf; the last good state was kept."""


class OutputError(NeurosigError):
    """An output file or folder cannot be written (permissions, full disk, a folder in the way);
    what was written before is intact."""


class CacheError(NeurosigError):
    """neurosig's cache folder cannot be read or cleaned (permissions, a file in the way, a
    root that is not a folder of its own); what was removed before stays removed."""


class Interrupted(Exception):
    """The user stopped a run (Ctrl-C, SIGTERM); ``str()`` says what was saved, and where."""


# errno -> what the user can do about it
_FIXES = {
    errno.EACCES: "no permission: fix the folder's permissions or write somewhere else",
    errno.EPERM: "not permitted: fix the folder's permissions or write somewhere else",
    errno.EROFS: "a read-only file system: write somewhere else",
    errno.ENOSPC: "the disk is full: free some space or write somewhere else",
    errno.EDQUOT: "the disk quota is exceeded: free some space or write somewhere else",
    errno.EISDIR: "it is a folder: give a file name",
    errno.ENOTDIR: "a part of the path is a file, not a folder: check the path",
    errno.ENOENT: "no such file or folder: check the path",
    errno.ENAMETOOLONG: "the name is too long: choose a shorter path",
    errno.EEXIST: "it already exists: choose another name",
}


def os_error_message(err: OSError, what: str = "") -> str:
    """One line for an OSError on a user's file: the file, the cause and the fix.

    Examples
    --------
    >>> print(os_error_message(PermissionError(13, "Permission denied", "/data/run.nc")))
    /data/run.nc: no permission: fix the folder's permissions or write somewhere else
    >>> os_error_message(OSError(28, "No space left on device", "r.nc"), "the Result")
    'the Result r.nc: the disk is full: free some space or write somewhere else'
    """
    name = err.filename if err.filename is not None else ""
    if err.filename2 is not None:
        name = f"{name} -> {err.filename2}"
    fix = _FIXES.get(err.errno) or (
        err.strerror or os.strerror(err.errno) if err.errno else str(err)
    )
    subject = " ".join(part for part in (what, str(name)) if part)
    return f"{subject}: {fix}" if subject else fix
