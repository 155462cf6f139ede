"""The figure catalogue and its standards: widths, text, fonts, colours, units, provenance,
the plotted numbers, deterministic SVG.

The Results are small runs made once for the module: SP-core (two seeds) and BP on digits
(seconds), and the ``lif-sigprop-digits`` preset for one epoch on 200 samples with the spike
trains before training (the compiled programs of tests/test_plausibility.py: about a minute
when they are not cached yet).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import shutil
import subprocess
import warnings
import xml.etree.ElementTree as ET

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr
from PIL import Image

from neurosig import results
from neurosig.analyses.figures import geometry, spiking
from neurosig.analyses.figures.catalogue import (
    CATALOGUE,
    INPUTS,
    catalogue_figure,
    catalogue_table,
)
from neurosig.analyses.figures.connectivity import SIGN_COLOURS, weight_distributions
from neurosig.analyses.figures.sweep import paired_difference_plot
from neurosig.analyses.plausibility import report_card
from neurosig.config import load_experiment
from neurosig.errors import ConfigError, DataError
from neurosig.paired import paired_differences
from neurosig.plotting import (
    DIVERGING_CMAP,
    OKABE_ITO,
    SEQUENTIAL_CMAP,
    WIDTHS_MM,
    figure_axes,
    figure_data,
    figure_panels,
    journal_width,
    learning_curves,
    mean_ci,
    save_figure,
    text_problems,
)
from neurosig.plotting.style import MM_PER_INCH, WIDTH_RANGES_MM
from neurosig.train import train

# the axis labels each figure must show with their units (dimensionless axes have none)
UNITS = {
    "learning_curves": ["(%)"],
    "spikes_vs_accuracy": ["(%)"],
    "rasters": ["(ms)"],
    "membrane_traces": ["(ms)", "(mV)"],
    "sweep_accuracy": ["(%)"],
    "sweep_differences": ["(pp)"],
}


def _digits(preset: str, **changes) -> xr.Dataset:
    exp = load_experiment(preset).replace(
        train_epochs=2, data_n_train=300, train_record_samples=60, train_record_every_epoch=True
    )
    return train(exp.replace(**changes), progress=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """name -> (Result, its file): two SP-core seeds, BP, and the LIF preset."""
    folder = tmp_path_factory.mktemp("results")
    made = {
        "sp0": _digits("sp-core-digits"),
        "sp1": _digits("sp-core-digits", train_seed=1),
        "bp": _digits("bp-digits"),
        "lif": train(
            load_experiment("lif-sigprop-digits").replace(
                train_epochs=1, data_n_train=200, train_record_samples=100,
                train_record_every_epoch=True,
            ),
            progress=False,
        ),
    }  # fmt: skip
    return {k: (ds, results.save_result(ds, folder / f"{k}.nc")) for k, ds in made.items()}


@pytest.fixture(scope="module")
def card(runs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return report_card(runs["lif"][0], bp=runs["bp"][0])


def sweep_dataset() -> xr.Dataset:
    """A sweep export as :func:`neurosig.sweep.export_sweep` lays it out: 3 lr x 4 seeds."""
    rng = np.random.default_rng(0)
    acc = 0.6 + 0.1 * np.arange(3)[:, None] + rng.normal(0, 0.02, (3, 4))
    final = np.stack([acc, acc - 0.01], axis=-1)[..., None]  # split (test, validation) x readout
    ds = xr.Dataset(
        {
            "status": (("lr", "seed"), np.ones((3, 4), dtype="int8")),
            "final_accuracy": (("lr", "seed", "split", "readout"), final),
            "test_accuracy": (("lr", "seed"), acc),
        },
        coords={"lr": ("lr", [0.01, 0.03, 0.1], {"units": "1"}), "seed": np.arange(4),
                "split": ["test", "validation"], "readout": ["linear"]},
        attrs={"fields": "lr", "primary_readout": "linear"},
    )  # fmt: skip
    return ds.merge(paired_differences(ds))


def make_figure(name: str, runs, card, source: str = "lif") -> plt.Figure:
    """The catalogue figure ``name`` drawn from the fixtures (a figure of one Result from
    ``runs[source]``), as the command will call it."""
    entry = CATALOGUE[name]
    data = {
        "result": runs[source][0],
        "results": [runs[k][0] for k in ("sp0", "sp1", "bp", "lif")],
        "sweep": sweep_dataset(),
        "card": card,
    }[entry.input]
    return entry.function(data)


# -- the catalogue -----------------------------------------------------------------------------


def test_the_catalogue_names_every_figure_with_its_input():
    expected = {
        "learning_curves", "spikes_vs_accuracy", "rasters", "membrane_traces", "rdms", "cka",
        "weights", "selectivity", "receptive_fields", "card", "sweep_accuracy",
        "sweep_differences",
    }  # fmt: skip
    assert set(CATALOGUE) == expected
    table = catalogue_table()
    for name, entry in CATALOGUE.items():
        assert entry.name == name and entry.input in INPUTS and entry.panels in ("ax", "axes")
        assert entry.description and name in table
        assert entry.panels in inspect.signature(entry.function).parameters  # ax= or axes=
    with pytest.raises(ConfigError, match="choose among"):
        catalogue_figure("histogram")


# -- the standards, figure by figure -----------------------------------------------------------


CASES = [(name, "lif") for name in sorted(CATALOGUE)] + [
    (name, "sp0") for name in ("rdms", "cka", "weights", "selectivity", "receptive_fields")
]  # every figure; those of one Result on a rate network too


@pytest.mark.parametrize(("name", "source"), CASES)
def test_every_figure_meets_the_standards(name, source, runs, card):
    fig = make_figure(name, runs, card, source)
    try:
        assert journal_width(fig) is not None, f"{fig.get_figwidth() * MM_PER_INCH:.0f} mm wide"
        assert text_problems(fig) == []  # >= 6 pt, nothing clipped, nothing overlapping
        labels = " ".join(ax.get_xlabel() + " " + ax.get_ylabel() for ax in fig.axes)
        for unit in UNITS.get(name, []):
            assert unit in labels, f"{name}: no axis in {unit}: {labels!r}"
        data = figure_data(fig)
        assert isinstance(data, xr.Dataset) and data.data_vars
        assert data.attrs["figure"] == name
        assert any("units" in v.attrs for v in data.data_vars.values())
    finally:
        plt.close(fig)


def test_widths_are_journal_widths():
    for width, mm in WIDTHS_MM.items():
        fig, _ = figure_axes(width=width)
        low, high = WIDTH_RANGES_MM[width]
        assert fig.get_figwidth() * MM_PER_INCH == pytest.approx(mm)
        assert low <= mm <= high and journal_width(fig) == width
        plt.close(fig)
    assert (WIDTH_RANGES_MM["single"], WIDTH_RANGES_MM["double"]) == ((85, 89), (174, 183))
    with pytest.raises(ValueError, match="one of single, onehalf, double"):
        figure_axes(width="poster")
    with pytest.raises(ValueError, match="give 2 axes"):
        figure_panels([plt.gca()], 2)
    plt.close("all")


def test_text_problems_finds_small_clipped_and_overlapping_text():
    fig, ax = figure_axes()
    ax.set_xlabel("time (ms)")
    assert text_problems(fig) == []
    fig.text(0.98, 0.5, "beyond the edge")
    ax.text(0.5, 0.5, "small", fontsize=5, transform=ax.transAxes)
    ax.text(0.5, 0.5, "on top", transform=ax.transAxes)
    found = " | ".join(text_problems(fig))
    assert "'small': 5 pt, below 6 pt" in found
    assert "'beyond the edge': outside the figure" in found
    assert "'small' overlaps 'on top'" in found
    plt.close(fig)


def test_colours_match_the_data(runs, card):
    lif = runs["lif"][0]
    fig = geometry.rdms(lif)  # a dissimilarity: sequential from 0
    image = fig.axes[0].images[0]
    assert image.get_cmap().name.startswith(SEQUENTIAL_CMAP) and image.norm.vmin == 0.0
    plt.close(fig)
    fig = CATALOGUE["receptive_fields"].function(runs["sp0"][0])  # signed: diverging at 0
    image = fig.axes[0].images[0]
    assert image.get_cmap().name.startswith(DIVERGING_CMAP)
    assert image.norm.vmin == -image.norm.vmax
    plt.close(fig)
    fig = learning_curves([runs[k][0] for k in ("sp0", "bp")])  # categories: Okabe-Ito
    colours = [matplotlib.colors.to_hex(line.get_color()).upper() for line in fig.axes[0].lines]
    assert colours == [c.upper() for c in OKABE_ITO[:2]]
    plt.close(fig)


def test_weights_are_split_by_the_presynaptic_sign(runs):
    """A Dale copy of SP-core's weights: columns 0-5 excitatory, the rest inhibitory."""
    ds = runs["sp0"][0].copy()
    w = results.weights(ds)["layer1"]
    signs = np.where(np.arange(w.shape[1]) < 6, 1.0, -1.0)
    ds[w.name] = w.copy(data=np.abs(w.values) * signs)
    fig = weight_distributions(ds, blocks=["layer1"])
    patches = fig.axes[0].patches
    excitatory = [p for p in patches if p.get_facecolor()[:3] == matplotlib.colors.to_rgb(
        SIGN_COLOURS[1.0])]  # fmt: skip
    assert excitatory and len(excitatory) < len(patches)
    data = figure_data(fig)
    sign = data["layer1_presynaptic_sign"].values
    assert (sign == 1).sum() == 6 * w.shape[0] and set(np.unique(sign)) == {-1.0, 1.0}
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [
        "excitatory (6 units)", f"inhibitory ({w.shape[1] - 6} units)"
    ]  # fmt: skip
    plt.close(fig)


def test_learning_curves_band_is_the_t_interval_over_seeds(runs):
    seeds = [runs["sp0"][0], runs["sp1"][0]]
    fig = learning_curves(seeds)
    data = figure_data(fig)
    acc = 100 * np.stack([results.primary_accuracy(ds).values for ds in seeds])
    half = 12.706204736 * acc.std(axis=0, ddof=1) / np.sqrt(2)  # t(0.975, 1 df)
    np.testing.assert_allclose(data["mean"].sel(model="sp-core-digits"), acc.mean(axis=0))
    np.testing.assert_allclose(data["ci_high"].sel(model="sp-core-digits"),
                               acc.mean(axis=0) + half, rtol=1e-6)  # fmt: skip
    assert len(fig.axes[0].collections) == 1  # the band
    plt.close(fig)
    mean, low, high = mean_ci(np.array([[1.0], [np.nan]]))
    assert mean[0] == 1.0 and np.isnan(low[0]) and np.isnan(high[0])
    fig = learning_curves({"SP": runs["sp0"][0]})  # the mapping of earlier releases
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["SP"]
    plt.close(fig)


def test_rasters_show_before_and_after_learning(runs):
    lif = runs["lif"][0]
    fig = spiking.spike_rasters(lif, n_samples=3)
    assert [ax.get_title() for ax in fig.axes] == ["before learning", "after learning"]
    data = figure_data(fig)
    rec = results.spikes(lif, 1, initial=True)
    assert data.sizes["before_spike"] == int((rec.sample < 3).sum())
    plt.close(fig)
    fig = spiking.spike_rasters(lif, before=False)
    assert len(fig.axes) == 1
    plt.close(fig)


def test_missing_data_say_which_field_and_how_to_record_it(runs):
    sp = runs["sp0"][0]
    with pytest.raises(DataError, match="no spike trains.*train.record_samples"):
        spiking.spike_rasters(sp)
    with pytest.raises(DataError, match="trace_layer1.*model.trace_units"):
        spiking.membrane_traces(sp)
    with pytest.raises(DataError, match="none of the Results has spike trains"):
        spiking.accuracy_vs_spikes([sp])
    silent = train(load_experiment("sp-core-digits").replace(
        train_epochs=1, data_n_train=100, train_record_samples=0), progress=False)  # fmt: skip
    with pytest.raises(DataError, match="recorded no hidden activity; train with train.record"):
        geometry.rdms(silent)
    with pytest.raises(DataError, match="different test stimuli"):
        geometry.cka_by_layer(sp, reference=runs["lif"][0])


def test_panels_of_one_figure_keep_their_numbers_apart(runs):
    fig, (a, b) = figure_panels(None, 2, width="double")
    a.set_label("a")
    b.set_label("b")
    learning_curves([runs["sp0"][0], runs["bp"][0]], ax=a)
    geometry.cka_by_layer(runs["sp0"][0], ax=b)
    data = figure_data(fig)
    assert {"a_mean", "a_accuracy", "b_cka"} <= set(data.data_vars)
    assert data.attrs["a_figure"] == "learning_curves" and data.attrs["b_figure"] == "cka"
    plt.close(fig)


def test_paired_differences_are_per_seed_in_percentage_points():
    ds = sweep_dataset()
    fig = paired_difference_plot(ds)
    data = figure_data(fig)
    assert list(data.condition.values) == ["lr=0.03", "lr=0.1"]  # the reference left out
    expected = 100 * (ds.test_accuracy.isel(lr=[1, 2]) - ds.test_accuracy.isel(lr=0))
    np.testing.assert_allclose(data["difference"].values, expected.values)
    assert data["difference"].attrs["units"] == "pp"
    plt.close(fig)


# -- saving --------------------------------------------------------------------------------------


def test_save_writes_every_format_with_provenance(runs, tmp_path):
    sp, path = runs["sp0"]
    fig = geometry.rdms(sp)
    command = "neurosig figures sp0.nc --out figs"
    written = save_figure(fig, tmp_path / "rdms", inputs=[path], command=command)
    assert [p.name for p in written] == [
        "rdms.pdf", "rdms.svg", "rdms.png", "rdms.nc", "rdms.json"
    ]  # fmt: skip
    sidecar = json.loads((tmp_path / "rdms.json").read_text())
    record = sidecar["provenance"]
    assert record["command"] == command
    assert record["inputs"] == [
        {"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    ]
    assert record["neurosig_version"] == sp.attrs["neurosig_version"]
    assert record["git_commit"] == results.git_commit()
    assert sidecar["files"]["rdms.svg"] == hashlib.sha256(written[1].read_bytes()).hexdigest()
    # the same record in every file
    svg = ET.parse(written[1]).getroot()
    description = svg.find(".//{http://purl.org/dc/elements/1.1/}description")
    assert json.loads(description.text) == record
    png = Image.open(written[2])
    assert json.loads(png.text["Description"]) == record
    assert png.size[0] == round(fig.get_figwidth() * 300)  # 300 dpi at the figure's width
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", written[0]], capture_output=True, text=True).stdout
        subject = next(line for line in info.splitlines() if line.startswith("Subject:"))
        assert json.loads(subject.split(":", 1)[1].strip()) == record
        assert "CreationDate" not in info
    numbers = xr.load_dataset(written[3])
    np.testing.assert_allclose(numbers.rdm.values, figure_data(fig).rdm.values)
    assert numbers.attrs["command"] == command and numbers.attrs["figure"] == "rdms"
    assert not [p for p in tmp_path.iterdir() if p not in written]  # no temporary left
    plt.close(fig)


def test_fonts_are_embedded_as_truetype_never_type3(runs, card, tmp_path):
    if shutil.which("pdffonts") is None:
        pytest.skip("pdffonts (poppler-utils) is not installed: apt-get install poppler-utils")
    for name in ("rasters", "card", "sweep_differences"):
        fig = make_figure(name, runs, card)
        pdf = save_figure(fig, tmp_path / name, formats=("pdf",))[0]
        plt.close(fig)
        lines = subprocess.run(
            ["pdffonts", pdf], capture_output=True, text=True, check=True
        ).stdout.splitlines()[2:]
        assert lines, f"{name}: no font in the PDF"
        for line in lines:
            assert "Type 3" not in line, f"{name}: {line}"
            assert "TrueType" in line or "Type 1" in line, f"{name}: {line}"
            emb = line.split()[-5]  # columns: name type encoding emb sub uni object ID
            assert emb == "yes", f"{name}: font not embedded: {line}"


def test_the_same_inputs_give_byte_identical_svg(runs, tmp_path):
    files = []
    for folder in ("first", "second"):
        fig = spiking.spike_rasters(runs["lif"][0])
        files.append(save_figure(fig, tmp_path / folder / "rasters", formats=("svg",))[0])
        plt.close(fig)
    assert files[0].read_bytes() == files[1].read_bytes()
    assert b"<dc:date>" not in files[0].read_bytes()


def test_a_failed_save_keeps_the_previous_files(runs, tmp_path, monkeypatch):
    fig = spiking.membrane_traces(runs["lif"][0])
    written = save_figure(fig, tmp_path / "traces")
    before = {p: p.read_bytes() for p in written}

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fig, "savefig", broken)
    with pytest.raises(OSError, match="traces.pdf"):
        save_figure(fig, tmp_path / "traces")
    assert {p: p.read_bytes() for p in written} == before
    assert sorted(tmp_path.iterdir()) == sorted(written)
    plt.close(fig)
