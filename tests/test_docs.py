"""The documentation site (``make docs``, mkdocs.yml) builds with warnings as errors: every
page, the tutorials (the notebooks, rendered without executing them here: ``make docs``
executes them), the API reference from the docstrings, the gallery."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("mkdocs")
pytest.importorskip("mkdocstrings")
pytest.importorskip("mkdocs_jupyter")


def test_the_site_builds_strictly_with_tutorials_api_and_gallery(tmp_path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "NEUROSIG_DOCS_EXECUTE": "false"}
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-4000:]
    site = tmp_path / "site"
    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("*.py"))
    for stem in notebooks:  # every notebook is a tutorial page
        assert (site / "tutorials" / stem / "index.html").is_file(), stem
    api = (site / "api" / "sweeps" / "index.html").read_text()
    assert "run_sweep" in api and "Run every point" in api  # the docstring, rendered
    assert "write_nwb" in (site / "api" / "exchange" / "index.html").read_text()
    gallery = (site / "gallery" / "index.html").read_text()
    assert "sigprop-vs-bp-digits.png" in gallery and (site / "images").is_dir()
    for page in ("install", "architecture", "extending", "figures"):
        assert (site / page / "index.html").is_file(), page


def test_every_notebook_is_in_the_sites_navigation():
    text = (ROOT / "mkdocs.yml").read_text()
    for notebook in (ROOT / "notebooks").glob("*.py"):
        assert f"tutorials/{notebook.name}" in text, notebook.name
