"""Every notebook in notebooks/ runs top to bottom in its quick mode (NEUROSIG_QUICK=1).

The notebooks are jupytext ``py:percent`` files, so each runs as a plain script: in a fresh
process, with a non-interactive matplotlib backend, from an empty working folder so that
nothing lands in the repository.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.py"))


def test_notebooks_are_found():
    assert NOTEBOOKS, "no notebooks/*.py found"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_quick_mode(notebook, tmp_path):
    env = {
        **os.environ,
        "NEUROSIG_QUICK": "1",
        "NEUROSIG_OUTPUT": str(tmp_path / "output"),
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
    }
    try:
        run = subprocess.run(
            [sys.executable, str(notebook)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    except subprocess.TimeoutExpired as err:
        stderr = err.stderr.decode() if isinstance(err.stderr, bytes) else err.stderr or ""
        pytest.fail(f"{notebook.name} did not finish in 300 s in quick mode:\n{stderr}")
    assert run.returncode == 0, (
        f"{notebook.name} failed with exit code {run.returncode}\n"
        f"--- stdout (tail) ---\n{run.stdout[-3000:]}\n--- stderr ---\n{run.stderr}"
    )
