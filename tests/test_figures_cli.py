"""``neurosig figures``: the catalogue's figures of stored Results and sweep stores."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neurosig.cli import main
from neurosig.config import command_experiment
from neurosig.sweep import Sweep, run_sweep
from neurosig.train import train


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Two seeds of SP-core and one BP on 300 digits (a few seconds)."""
    folder = tmp_path_factory.mktemp("results")
    paths = []
    for model, seed in (("sp-core", 0), ("sp-core", 1), ("bp", 0)):
        exp = command_experiment(model, dataset="digits", epochs=2, seed=seed)
        exp = exp.replace(data_n_train=300, train_record_samples=60)
        paths.append(folder / f"{model}-{seed}.nc")
        train(exp, out=paths[-1], progress=False)
    return paths


def test_list_names_every_catalogue_figure(capsys):
    from neurosig.analyses.figures.catalogue import CATALOGUE

    assert main(["figures", "--list"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]]
    assert listed == list(CATALOGUE)


def test_results_give_their_figures_and_skip_what_is_not_stored(results, tmp_path, capsys):
    out = tmp_path / "figs"
    only = ["learning_curves", "rdms", "membrane_traces"]
    assert main(["figures", *map(str, results), "--out", str(out), "--only", *only]) == 0
    captured = capsys.readouterr()
    for suffix in ("pdf", "svg", "png", "json", "nc"):
        assert (out / f"learning_curves.{suffix}").is_file()
    assert all((out / f"rdms-{p.stem}.svg").is_file() for p in results)
    # SP-core has no membrane: skipped with the reason, one line per Result
    assert captured.err.count("membrane_traces-") == len(results)
    assert "trace_units" in captured.err and "Traceback" not in captured.err
    assert not list(out.glob("membrane_traces*"))
    curves = xr.load_dataset(out / "learning_curves.nc")
    assert curves.sizes  # the plotted numbers, beside the figure


def test_a_sweep_store_gives_its_condition_figures(tmp_path, capsys):
    base = command_experiment("sp-core", dataset="digits", epochs=1).replace(data_n_train=200)
    store = tmp_path / "s.zarr"
    run_sweep(Sweep(base, grid={"lr": [1e-3, 3e-3]}, seeds=2, name="fig"), store,
              progress=False)  # fmt: skip
    out = tmp_path / "figs"
    assert main(["figures", str(store), "--out", str(out)]) == 0
    assert (out / "sweep_accuracy-s.pdf").is_file()
    assert (out / "sweep_differences-s.pdf").is_file()
    assert np.isfinite(xr.load_dataset(out / "sweep_accuracy-s.nc").to_array()).any()


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["figures"], "--list"),
        (["figures", "{tmp}/missing.nc"], "missing.nc"),
        (["figures", "{tmp}/foreign.nc"], "not a neurosig Result"),
        (["figures", "{result}", "--only", "rasterz"], "no figure 'rasterz'"),
        (["figures", "{result}", "--out", "{result}"], "figure.pdf"),
    ],
)
def test_bad_inputs_end_in_one_line(argv, words, results, tmp_path, capsys):
    xr.Dataset({"a": ("x", np.arange(3))}).to_netcdf(tmp_path / "foreign.nc", engine="h5netcdf")
    argv = [a.replace("{tmp}", str(tmp_path)).replace("{result}", str(results[0])) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("neurosig: error:")]
    assert len(lines) == 1 and words in lines[0], err
