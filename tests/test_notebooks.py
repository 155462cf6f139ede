"""Every notebook in notebooks/ runs top to bottom in its quick mode (NEUROSIG_QUICK=1).

The notebooks are jupytext ``py:percent`` files, so each runs as a plain script: in a fresh
process, with a non-interactive matplotlib backend, from an empty working folder so that
nothing lands in the repository. With the ``notebooks`` extra installed, one of them also runs
in a Jupyter kernel, as ``jupyter nbconvert --execute`` would run it.
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


@pytest.fixture(scope="module")
def run_notebook(tmp_path_factory):
    """Runs a notebook once per test module in quick mode; returns (process, output folder)."""
    runs: dict[Path, tuple[subprocess.CompletedProcess, Path]] = {}

    def run(notebook: Path) -> tuple[subprocess.CompletedProcess, Path]:
        if notebook not in runs:
            workdir = tmp_path_factory.mktemp(notebook.stem)
            runs[notebook] = (_run_quick(notebook, workdir), workdir / "output")
        return runs[notebook]

    return run


def _run_quick(notebook: Path, tmp_path: Path) -> subprocess.CompletedProcess:
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
    return run


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_quick_mode(notebook, run_notebook):
    run_notebook(notebook)


def test_rate_model_notebook_prints_equations_and_saves_its_figures(run_notebook):
    notebook = NOTEBOOKS[0].parent / "02_rate_model.py"
    run, output = run_notebook(notebook)
    assert "dh_t/dt = " in run.stdout  # the model's equations
    assert "trained on standalone" in run.stdout  # the real Brian2 program, not the reference
    for readout in ("delta", "target"):
        assert f"{readout} readout: test accuracy" in run.stdout
    # before training and after each of the 2 epochs
    assert run.stdout.count("class share of the variance") == 3
    for figure in ("rate_learning_curves", "rate_hidden_activity"):
        for suffix in (".pdf", ".png"):
            assert (output / figure).with_suffix(suffix).stat().st_size > 0


def test_spiking_model_notebook_draws_rasters_before_and_after_learning(run_notebook):
    notebook = NOTEBOOKS[0].parent / "03_spiking_model.py"
    run, output = run_notebook(notebook)
    assert "dv_t/dt = " in run.stdout  # the model's equations
    for readout in ("delta", "target"):
        assert f"{readout} readout: test accuracy" in run.stdout
    assert "layer 1: mean rate" in run.stdout
    for figure in ("lif_raster", "lif_traces", "lif_rates"):
        for suffix in (".pdf", ".png"):
            assert (output / figure).with_suffix(suffix).stat().st_size > 0


def test_plausibility_notebook_prints_both_cards_and_draws_the_report(run_notebook):
    notebook = NOTEBOOKS[0].parent / "04_plausibility.py"
    run, output = run_notebook(notebook)
    assert "## lif-sigprop-digits (lif" in run.stdout and "## bp-digits (bp" in run.stdout
    assert "not applicable" in run.stdout  # BP has no spikes
    assert "fano_factor_1s" in run.stdout
    for suffix in (".pdf", ".png"):
        assert (output / "plausibility_report").with_suffix(suffix).stat().st_size > 0


def test_sweep_notebook_runs_resumes_and_draws_its_figure(run_notebook):
    notebook = NOTEBOOKS[0].parent / "05_sweep.py"
    run, output = run_notebook(notebook)
    # the first run computes the 8 points, the repeated command finds them done
    assert run.stdout.count("8/8 points done, 0 failed, 0 pending") >= 2
    assert "dale True" in run.stdout and "lr 0.1:" in run.stdout
    for suffix in (".pdf", ".png"):
        assert (output / "sweep_accuracy").with_suffix(suffix).stat().st_size > 0
    assert (output / "quick-lr-dale.nc").stat().st_size > 0


def test_figures_notebook_draws_every_catalogue_figure_and_a_study(run_notebook):
    from neurosig.analyses.figures.catalogue import CATALOGUE

    notebook = NOTEBOOKS[0].parent / "06_figures.py"
    run, output = run_notebook(notebook)
    assert all(name in run.stdout for name in CATALOGUE)  # the catalogue's table
    names = [*CATALOGUE, "composed", "lif-vs-bp"]
    for name in names:
        for suffix in (".pdf", ".svg", ".png", ".nc", ".json"):
            assert (output / name).with_suffix(suffix).stat().st_size > 0, (name, suffix)
    assert "overlaps" not in run.stdout and "text problems: none" in run.stdout


# ~17 s on 2 cores; skipped unless the notebooks extra is installed
def test_a_notebook_executes_in_a_jupyter_kernel(tmp_path, monkeypatch):
    """The `notebooks` extra's route: jupytext reads the py:percent file, nbclient runs it on
    an IPython kernel (as `jupyter nbconvert --execute` does), and no cell fails."""
    jupytext = pytest.importorskip("jupytext", reason="needs the notebooks extra")
    nbclient = pytest.importorskip("nbclient", reason="needs the notebooks extra")
    pytest.importorskip("ipykernel", reason="needs the notebooks extra")
    monkeypatch.setenv("NEUROSIG_QUICK", "1")  # the kernel inherits this environment
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("NEUROSIG_OUTPUT", str(tmp_path / "output"))
    notebook = jupytext.read(NOTEBOOKS[0])
    assert NOTEBOOKS[0].name == "01_quickstart.py"
    nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.execution_count for cell in code)
    errors = [o for cell in code for o in cell.outputs if o.output_type == "error"]
    assert not errors, errors
    assert (tmp_path / "output" / "learning_curves.png").stat().st_size > 0
