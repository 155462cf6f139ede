"""``neurosig figures``: the catalogue's figures of stored Results and sweep stores, and the
multi-panel figure of a study (``--study``)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
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


# --------------------------------------------------------------------------------------------
# Studies: one multi-panel figure declared in TOML
# --------------------------------------------------------------------------------------------

TINY_STUDY = """
name = "tiny"
width = "onehalf"
height = 130
columns = 2

[inputs.sp]
label = "SP-core"
results = ["{sp0}", "{sp1}"]

[inputs.bp]
label = "BP"
results = ["{bp}"]

[[panels]]
figure = "learning_curves"
inputs = ["sp", "bp"]
legend = "shared"

[[panels]]
figure = "cka"
inputs = ["sp"]
reference = "bp"

[[panels]]
figure = "rdms"
inputs = ["sp"]
colspan = 2
options = {{ n_samples = 40 }}
"""


def write_study(folder, results, text: str = TINY_STUDY, name: str = "tiny.toml"):
    path = folder / name
    path.write_text(text.format(sp0=results[0], sp1=results[1], bp=results[2]))
    return path


def test_the_shipped_study_is_valid_and_its_examples_run():
    import doctest

    from neurosig.analyses.figures import study

    shipped = study.load_study("sigprop-vs-bp-digits")
    assert [p.letter for p in shipped.panels] == list("abcdefg")
    assert {shipped.sweep(name).seeds for name in shipped.inputs} == {5}
    quick = {name: shipped.sweep(name, quick=True) for name in shipped.inputs}
    assert {s.seeds for s in quick.values()} == {2}
    assert {s.experiments[0].train.epochs for s in quick.values()} == {5}
    assert {s.root_seed for s in quick.values()} == {0}  # paired across the four models
    assert doctest.testmod(study).failed == 0


def test_a_study_gives_one_lettered_figure_without_text_problems(results, tmp_path, capsys):
    from neurosig.analyses.figures.compose import draw_study, gather_inputs
    from neurosig.analyses.figures.study import load_study
    from neurosig.plotting import figure_data, text_problems

    spec = write_study(tmp_path, results)
    study = load_study(spec)
    fig = draw_study(study, gather_inputs(study))
    letters = [sub.texts[0].get_text() for sub in fig.subfigs]  # the suptitle
    assert letters == ["a", "b", "c"]
    assert all(sub.texts[0].get_fontweight() == "bold" for sub in fig.subfigs)
    assert text_problems(fig) == []
    assert len(fig.legends) == 1 and not fig.subfigs[0].axes[0].get_legend()  # shared
    assert {"a_mean", "b_cka", "c_rdm"} <= set(figure_data(fig).data_vars)
    plt.close(fig)

    svgs = []
    for out in (tmp_path / "one", tmp_path / "two"):
        assert main(["figures", "--study", str(spec), "--out", str(out)]) == 0
        svgs.append((out / "tiny.svg").read_bytes())
    assert svgs[0] == svgs[1]
    printed = capsys.readouterr()
    assert "panel c: rdms of sp" in printed.out and "warning" not in printed.err
    record = json.loads((tmp_path / "one" / "tiny.json").read_text())["provenance"]
    assert [Path(i["path"]).name for i in record["inputs"]] == [
        "tiny.toml",
        *(p.name for p in results),
    ]


def test_a_study_runs_its_sweep_once_and_quick_into_its_own_store(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sp.toml").write_text(
        'name = "sp"\nbase = "sp-core-digits"\nseeds = 2\n'
        "[set]\ntrain_epochs = 1\ndata_n_train = 200\nmodel_hidden = [32]\n"
        '[grid]\ndata_name = ["digits"]\n'
    )
    (tmp_path / "s.toml").write_text(
        'name = "s"\nwidth = "single"\nheight = 60\ncolumns = 1\n'
        "[quick]\nseeds = 1\n"
        '[inputs.sp]\nsweep = "sp.toml"\n'
        '[[panels]]\nfigure = "learning_curves"\ninputs = ["sp"]\n'
    )
    assert main(["figures", "--study", "s.toml", "--out", "figs"]) == 0
    assert "input sp: 2 Results from results/studies/s/sp.zarr, 2 trained now" in (
        capsys.readouterr().out
    )
    assert main(["figures", "--study", "s.toml", "--out", "figs"]) == 0  # the store is done
    assert "input sp: 2 Results from results/studies/s/sp.zarr\n" in capsys.readouterr().out
    assert main(["figures", "--study", "s.toml", "--out", "figs", "--quick"]) == 0
    assert "1 Results from results/studies/s-quick/sp.zarr" in capsys.readouterr().out
    assert (tmp_path / "figs" / "s.pdf").is_file() and (tmp_path / "figs" / "s-quick.pdf").is_file()


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (("width =", "widht ="), "widht: unknown key. Did you mean 'width'?"),
        (('"onehalf"', '"tripel"'), "width = 'tripel': choose one of"),
        (("height = 130", "height = 2"), "height = 2"),
        (
            ('figure = "cka"', 'figur = "cka"'),
            "panels[1].figur: unknown key. Did you mean 'figure'",
        ),
        (('figure = "cka"', 'figure = "ckaa"'), "panels[1].figure = 'ckaa': not in the catalogue."),
        (('reference = "bp"', 'reference = "bpp"'), "reference = 'bpp': no such input. Did you"),
        (("n_samples = 40", "n_sample = 40"), "options.n_sample: 'rdms' has no such option. Did"),
        (("n_samples = 40", "axes = 2"), "options.axes: set by the study's layout"),
        (('inputs = ["sp"]\nreference', 'inputs = ["sp", "bp"]\nreference'), "draws one input"),
        (("colspan = 2", "colspan = 3"), "colspan = 3 > columns = 2"),
        (("colspan = 2", "row = 1\ncolumn = 2"), "overlaps panel b at row 1, column 2"),
        (('label = "BP"', 'label = "BP"\nsweep = "x.toml"'), "inputs.bp: give either results"),
        (('results = ["{bp}"]', 'results = ["nowhere/*.nc"]'), "'nowhere/*.nc' matches no file"),
        (("[[panels]]", "[[panel]]"), "panel: unknown key. Did you mean 'panels'?"),
    ],
)
def test_a_bad_study_ends_in_one_line_naming_the_field(change, words, results, tmp_path, capsys):
    old, new = change
    assert old in TINY_STUDY
    spec = write_study(tmp_path, results, TINY_STUDY.replace(old, new, 1))
    assert main(["figures", "--study", str(spec), "--out", str(tmp_path / "f")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("neurosig: error:")]
    assert len(lines) == 1 and words in lines[0] and str(spec) in lines[0], err
    assert not (tmp_path / "f").exists() or not any((tmp_path / "f").iterdir())


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["figures", "--study", "{tmp}/none.toml"], "none.toml: no such file"),
        (["figures", "--study", "{spec}", "{result}"], "the study names its inputs"),
        (["figures", "{result}", "--quick"], "--quick: a study's option"),
        (["figures", "--study", "{membrane}"], "panel b (membrane_traces of sp)"),
    ],
)
def test_bad_study_commands_end_in_one_line(argv, words, results, tmp_path, capsys):
    spec = write_study(tmp_path, results)
    membrane = write_study(
        tmp_path, results, TINY_STUDY.replace('figure = "cka"', 'figure = "membrane_traces"')
        .replace('reference = "bp"\n', ""), "membrane.toml"
    )  # fmt: skip
    names = {"{tmp}": tmp_path, "{spec}": spec, "{result}": results[0], "{membrane}": membrane}
    for key, value in names.items():
        argv = [a.replace(key, str(value)) for a in argv]
    assert main([*argv, "--out", str(tmp_path / "f")]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("neurosig: error:")]
    assert "Traceback" not in err and len(lines) == 1 and words in lines[0], err
