"""The examples in the docstrings run and print what they show.

Examples that need files, downloads or long runs are marked ``# doctest: +SKIP`` where they are
written; every other example of the modules below is executed here.
"""

from __future__ import annotations

import doctest
import importlib

import pytest

# Modules whose examples run in a few seconds together.
MODULES = (
    "neurosig.activations",
    "neurosig.atomic",
    "neurosig.build",
    "neurosig.cache",
    "neurosig.config",
    "neurosig.data",
    "neurosig.errors",
    "neurosig.modelspec",
    "neurosig.plotting",
    "neurosig.plotting.save",
    "neurosig.plotting.standards",
    "neurosig.plotting.style",
    "neurosig.registry",
    "neurosig.results",
    "neurosig.seeds",
    "neurosig.sweep",
    "neurosig.train",
    "neurosig.analyses.activity",
    "neurosig.analyses.audit",
    "neurosig.analyses.caveats",
    "neurosig.analyses.figures.card",
    "neurosig.analyses.figures.catalogue",
    "neurosig.analyses.figures.reading",
    "neurosig.analyses.figures.sweep",
    "neurosig.analyses.plausibility",
    "neurosig.analyses.representation",
    "neurosig.analyses.weights",
    "neurosig.models.baselines",
    "neurosig.models.reference",
)


@pytest.mark.parametrize("name", MODULES)
def test_examples(name, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NEUROSIG_CACHE", str(tmp_path))  # examples never touch the user's cache
    monkeypatch.chdir(tmp_path)
    result = doctest.testmod(
        importlib.import_module(name),
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        report=True,
    )
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed"
