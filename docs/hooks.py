"""MkDocs hook: the package as installed, for the API reference.

setuptools installs ``models/`` as ``neurosig.models`` and ``analyses/`` as
``neurosig.analyses`` (``pyproject.toml``, ``package-dir``); mkdocstrings reads the sources
statically and cannot follow that mapping. Before the build this hook lays the installed
layout out in ``build/docs-src-PID/neurosig`` as a copy of the Python sources (a symbolic link
would be resolved back to the source folder), points mkdocstrings at it, and removes it after
the build. One folder per build process, so that two builds do not share one.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from mkdocs.plugins import event_priority

ROOT = Path(__file__).resolve().parents[1]
MAPPED = {"models": ROOT / "models", "analyses": ROOT / "analyses"}
SHADOW = ROOT / "build" / f"docs-src-{os.getpid()}"


@event_priority(100)  # before mkdocstrings reads its handlers' options
def on_config(config):
    """Make ``SHADOW/neurosig`` (``neurosig/`` with the mapped folders inside) and give it to
    mkdocstrings' Python handler as its search path."""
    package = SHADOW / "neurosig"
    shutil.rmtree(SHADOW, ignore_errors=True)
    python_only = shutil.ignore_patterns("__pycache__", "*.toml", "*.png", "*.mplstyle")

    def top_level(folder: str, names: list[str]) -> set[str]:  # a checkout may link them there
        mapped = set(MAPPED) & set(names) if Path(folder) == ROOT / "neurosig" else set()
        return python_only(folder, names) | mapped

    shutil.copytree(ROOT / "neurosig", package, ignore=top_level)
    for name, folder in MAPPED.items():
        shutil.copytree(folder, package / name, ignore=python_only)
    handlers = config.plugins["mkdocstrings"].config.handlers
    handlers.setdefault("python", {})["paths"] = [str(SHADOW)]
    return config


def on_post_build(config):
    shutil.rmtree(SHADOW, ignore_errors=True)
