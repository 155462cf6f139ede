"""Bad inputs of data and configuration: one line naming the array or field and the fix.

Every case of the tables runs the command line (:func:`neurosig.cli.main`) and asserts exit code
2, exactly one ``neurosig: error:`` line, no traceback, and the words that name the cause and
its fix. The kinds: labels (gaps, negative, float, one class, a test-only class, a class lost to
the split), values (overflow of float32, NaN, non-real dtypes), files (``.npy``, folders, text,
empty, pickles, shapes), configuration values (NaN, inf, wrong types, binary or folder TOML) and
sizes (a model larger than the memory). The faults of running commands are in
``tests/test_faults.py``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from neurosig import build
from neurosig.cli import main
from neurosig.config import load_experiment
from neurosig.data import load_dataset
from neurosig.errors import ConfigError

# Every refusal comes before any work: far below a second each, but the first one imports.
SECONDS_PER_CASE = 20


def blobs(
    path: Path,
    train_labels=(0, 1, 2),
    test_labels=None,
    n_train: int = 150,
    n_features: int = 5,
    **changes,
) -> Path:
    """An ``.npz`` of Gaussian blobs, one per label, each label equally often; ``changes``
    replace arrays (a callable gets the arrays and returns the new one)."""
    rng = np.random.default_rng(0)
    test_labels = train_labels if test_labels is None else test_labels
    labels = sorted(set(train_labels) | set(test_labels))
    centres = dict(zip(labels, rng.normal(scale=2.5, size=(len(labels), n_features)), strict=True))
    y_train = np.resize(np.asarray(train_labels), n_train)
    y_test = np.resize(np.asarray(test_labels), 60)
    arrays = {
        "x_train": np.array([centres[y] for y in y_train]) + rng.normal(size=(n_train, n_features)),
        "y_train": y_train,
        "x_test": np.array([centres[y] for y in y_test]) + rng.normal(size=(60, n_features)),
        "y_test": y_test,
    }
    for key, value in changes.items():
        arrays[key] = value(arrays) if callable(value) else value
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


def with_value(key: str, index: tuple, value: float):
    def change(arrays):
        x = arrays[key].copy()
        x[index] = value
        return x

    return change


def nearly_constant_feature(arrays):
    """x_train whose feature 0 is almost constant (std about 1e-6)."""
    x = arrays["x_train"].copy()
    x[:, 0] = np.linspace(-1.7e-6, 1.7e-6, len(x))
    return x


def train_on(data: Path, tmp: Path) -> list[str]:
    return ["train", "bp", "--dataset", f"npz:{data}", "--epochs", "1", "--quiet",
            "--out", str(tmp / "out.nc")]  # fmt: skip


def experiment(tmp: Path, text: str) -> list[str]:
    return ["validate", str(write(tmp / "exp.toml", text))]


def train_experiment(tmp: Path, model: str, data: str = "", **data_file) -> list[str]:
    """``neurosig train`` of an experiment of ``model`` (a TOML value) on :func:`blobs`."""
    path = blobs(tmp / "d.npz", **data_file)
    text = f'model = {model}\n[data]\nname = "npz:{path}"\n{data}\n'
    return ["train", str(write(tmp / "exp.toml", text)), "--quiet", "--out", str(tmp / "o.nc")]


DATA = {  # name: (tmp -> data file, words of the message)
    "labels with gaps": (
        lambda t: blobs(t / "d.npz", (0, 5, 9)),
        ["missing: 1, 2, 3, 4, 6 and 2 more", "remap_labels = true", "[data]", "0, 5, 9"],
    ),
    "a label of 10**9": (
        lambda t: blobs(t / "d.npz", (0, 1, 10**9)),
        ["missing: 2, 3, 4, 5, 6 and 999999993 more", "remap_labels = true"],
    ),
    "labels from 1": (lambda t: blobs(t / "d.npz", (1, 2, 3)), ["missing: 0;", "remap_labels"]),
    "negative labels": (
        lambda t: blobs(t / "d.npz", (-1, 1)),
        ["y_train", "negative label(s) -1", "remap_labels = true", "-1, 1 to 0..1"],
    ),
    "float labels": (
        lambda t: blobs(t / "d.npz", y_train=lambda a: a["y_train"] + 0.0),
        ["y_train", "float64", "integers"],
    ),
    "bool labels": (
        lambda t: blobs(t / "d.npz", y_train=lambda a: a["y_train"] > 0),
        ["y_train", "bool", "integers"],
    ),
    "a single class": (
        lambda t: blobs(t / "d.npz", (3,)),
        ["y_train", "only the label 3", "at least two classes"],
    ),
    "a class only in the test set": (
        lambda t: blobs(t / "d.npz", (0, 1, 2), (0, 1, 2, 7)),
        ["y_test", "label(s) 7", "never"],
    ),
    "a negative test label": (
        lambda t: blobs(t / "d.npz", (0, 1), (0, 1, -4)),
        ["y_test", "label(s) -4", "never"],
    ),
    "features beyond float32": (
        lambda t: blobs(t / "d.npz", x_train=with_value("x_train", (3, 1), -1e40)),
        ["x_train", "1e+40", "float32", "rescale"],
    ),
    "features beyond float32 once standardised": (
        lambda t: blobs(
            t / "d.npz",
            x_train=nearly_constant_feature,
            x_test=with_value("x_test", (0, 0), 1e34),
        ),
        ["feature 0 of x_test", "standardised", "rescale"],
    ),
    "NaN features": (
        lambda t: blobs(t / "d.npz", x_test=with_value("x_test", (0, 0), np.nan)),
        ["x_test", "NaN"],
    ),
    "infinite features": (
        lambda t: blobs(t / "d.npz", x_train=with_value("x_train", (0, 0), np.inf)),
        ["x_train", "infinite"],
    ),
    "complex features": (
        lambda t: blobs(t / "d.npz", x_train=lambda a: a["x_train"] + 1j),
        ["x_train", "complex128", "real numbers"],
    ),
    "string features": (
        lambda t: blobs(t / "d.npz", x_test=lambda a: a["x_test"].astype(str)),
        ["x_test", "<U", "real numbers"],
    ),
    "object labels (need pickle)": (
        lambda t: blobs(t / "d.npz", y_train=lambda a: a["y_train"].astype(object)),
        ["y_train", "unpickling", "y_train.astype(int)"],
    ),
    "a .npy given as npz": (
        lambda t: np.save(t / "d.npy", np.zeros(3)) or t / "d.npy",
        [".npy file", "numpy.savez"],
    ),
    "a folder given as npz": (lambda t: t, ["is a folder"]),
    "a text file given as npz": (
        lambda t: write(t / "d.npz", "x_train,y_train\n1,2\n"),
        ["not an .npz archive", "numpy.savez"],
    ),
    "an empty file": (lambda t: write(t / "d.npz", b""), ["is empty", "numpy.savez"]),
    "a missing file": (lambda t: t / "absent.npz", ["not found"]),
    "a truncated npz": (
        lambda t: write(t / "d.npz", blobs(t / "whole.npz").read_bytes()[:400]),
        ["could not read", "d.npz"],
    ),
    "a missing array": (
        lambda t: blobs(t / "d.npz", y_test=None),
        ["lacks the array(s) y_test"],
    ),
    "0-d features": (
        lambda t: blobs(t / "d.npz", x_train=np.array(5.0)),
        ["x_train has shape ()"],
    ),
    "1-d features": (
        lambda t: blobs(t / "d.npz", x_train=lambda a: a["x_train"][:, 0]),
        ["x_train has shape (150,)", "x_train[:, None]"],
    ),
    "no features": (
        lambda t: blobs(t / "d.npz", x_train=lambda a: a["x_train"][:, :0]),
        ["x_train has shape (150, 0)", "at least one feature"],
    ),
    "one-hot labels": (
        lambda t: blobs(t / "d.npz", y_train=lambda a: np.eye(3, dtype=int)[a["y_train"]]),
        ["y_train has shape (150, 3)", "argmax(axis=1)"],
    ),
    "0-d labels": (
        lambda t: blobs(t / "d.npz", y_test=np.array(1)),
        ["y_test has shape ()"],
    ),
}

CONFIG = {  # name: (tmp -> argv, words of the message)
    "NaN in an unbounded field": (
        lambda t: experiment(t, '[model]\nname = "ff"\ntheta = nan\n'),
        ["model.theta = nan", "finite"],
    ),
    "inf in an unbounded field": (
        lambda t: experiment(t, '[model]\nname = "ff"\ntheta = inf\n'),
        ["model.theta = inf", "finite"],
    ),
    "-inf in a half-open field": (
        lambda t: experiment(t, '[model]\nname = "rate"\nweight_decay = -inf\n'),
        ["model.weight_decay = -inf", "finite", "[0, inf)"],
    ),
    "NaN in a data field": (
        lambda t: experiment(t, 'model = "bp"\n[data]\nvalidation_fraction = nan\n'),
        ["data.validation_fraction = nan", "finite"],
    ),
    "NaN in a unit field": (
        lambda t: experiment(t, '[model]\nname = "rate"\ntau = "nan ms"\n'),
        ["model.tau", "not a number followed by a unit"],
    ),
    "a number as the model": (
        lambda t: experiment(t, "model = 3\n"),
        ["model = 3", 'name = "sp-core"'],
    ),
    "a number as the model's name": (
        lambda t: experiment(t, "[model]\nname = 3\n"),
        ["model.name = 3", "in quotes"],
    ),
    "a list as the model's name": (
        lambda t: experiment(t, '[model]\nname = ["bp"]\n'),
        ["model.name = ['bp']", "in quotes"],
    ),
    "a number as the experiment's name": (
        lambda t: experiment(t, 'name = 3\nmodel = "bp"\n'),
        ["name = 3", "string"],
    ),
    "a table as the description": (
        lambda t: experiment(t, 'description = {a = 1}\nmodel = "bp"\n'),
        ["description = {'a': 1}", "string"],
    ),
    "a number as [data]": (
        lambda t: experiment(t, 'model = "bp"\ndata = 3\n'),
        ["[data] must be a table", "data = 3"],
    ),
    "a list as [train]": (
        lambda t: experiment(t, 'model = "bp"\ntrain = [1, 2]\n'),
        ["[train] must be a table"],
    ),
    "text in hidden": (
        lambda t: experiment(t, '[model]\nname = "bp"\nhidden = ["many"]\n'),
        ["model.hidden[0] = 'many'", "whole number"],
    ),
    "a fraction of an epoch": (
        lambda t: experiment(t, 'model = "bp"\n[train]\nepochs = 1.5\n'),
        ["train.epochs = 1.5", "whole number"],
    ),
    "a string as remap_labels": (
        lambda t: experiment(t, 'model = "bp"\n[data]\nremap_labels = "yes"\n'),
        ["data.remap_labels = 'yes'", "true or false"],
    ),
    "a binary file as TOML": (
        lambda t: ["validate", str(write(t / "x.toml", bytes(range(256))))],
        ["x.toml", "not a text file"],
    ),
    "a folder as TOML": (
        lambda t: ["validate", str((t / "exp.toml").mkdir() or t / "exp.toml")],
        ["exp.toml", "a folder"],
    ),
    "TOML nested too deeply": (
        lambda t: experiment(t, "a = " + "[" * 50_000 + "]" * 50_000 + "\n"),
        ["nested too deeply"],
    ),
    "a model larger than any memory": (
        lambda t: train_experiment(t, f'{{name = "bp", hidden = [{10**12}]}}'),
        ["model.hidden = [1000000000000]", "GiB", "available", "fewer or smaller"],
    ),
    "a Brian2 network larger than any memory": (
        lambda t: train_experiment(t, f'{{name = "rate", hidden = [{10**12}]}}'),
        ["model.hidden = [1000000000000]", "Brian2 synapses", "GiB", "available"],
    ),
    "a class lost to n_train": (
        lambda t: train_experiment(t, '"bp"', "n_train = 2"),
        ["n_train = 2", "no training sample of the class(es)", "n_train >= 3"],
    ),
    "a class lost to the validation split": (  # 2 has one sample, and the largest remainder
        lambda t: train_experiment(
            t,
            '"bp"',
            "validation_fraction = 0.9",
            train_labels=(0,) * 10 + (1,) * 10 + (2,),
            n_train=21,
        ),
        ["validation_fraction = 0.9", "class(es) 2", "lower validation_fraction"],
    ),
}


def one_error_line(err: str) -> str:
    """The single ``neurosig: error:`` line of ``err``, asserting there is nothing else."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("neurosig: error: "), err
    return lines[0]


def refused(argv: list[str], capsys) -> str:
    capsys.readouterr()
    start = time.perf_counter()
    code = main(argv)
    seconds = time.perf_counter() - start
    err = capsys.readouterr().err
    assert code == 2, err
    assert seconds < SECONDS_PER_CASE, f"refused only after {seconds:.0f} s"
    return one_error_line(err)


@pytest.mark.parametrize("case", sorted(DATA))
def test_bad_data_ends_in_one_line_naming_the_array_and_fix(case, tmp_path, capsys):
    make, words = DATA[case]
    message = refused(train_on(make(tmp_path), tmp_path), capsys)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    assert not (tmp_path / "out.nc").exists()


@pytest.mark.parametrize("case", sorted(CONFIG))
def test_bad_config_ends_in_one_line_naming_the_field_and_fix(case, tmp_path, capsys):
    make, words = CONFIG[case]
    message = refused(make(tmp_path), capsys)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


# --------------------------------------------------------------------------------------------
# The remedy works, and the rules hold for every source
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "test_labels"), [((0, 5, 9), (9, 0, 5)), ((-1, 1), (1, -1)), ((7, 3), (3,))]
)
def test_remap_labels_maps_the_sorted_training_labels_to_classes(tmp_path, labels, test_labels):
    path = blobs(tmp_path / "d.npz", labels, test_labels)
    ds = load_dataset(f"npz:{path}", remap_labels=True, validation_fraction=0.2)
    assert ds.n_classes == len(labels) and ds.class_labels == tuple(sorted(labels))
    raw = np.load(path)
    kept = np.asarray(ds.class_labels)
    np.testing.assert_array_equal(kept[ds.y_test], raw["y_test"])
    assert set(ds.y_train.tolist()) == set(range(ds.n_classes))
    assert f"{list(ds.class_labels)}[k]" in ds.source


def test_remapped_three_classes_train_to_a_sensible_accuracy(tmp_path, capsys):
    data = blobs(tmp_path / "d.npz", (0, 5, 9), n_train=300)
    spec = write(
        tmp_path / "exp.toml",
        f'name = "gaps"\nmodel = "bp"\n[data]\nname = "npz:{data}"\nremap_labels = true\n'
        "[train]\nepochs = 5\nrecord_samples = 10\n",
    )
    assert main(["train", str(spec), "--quiet", "--out", str(tmp_path / "r.nc")]) == 0
    result = xr.load_dataset(tmp_path / "r.nc")
    assert float(result.test_accuracy[-1]) > 0.8  # chance is 1/3; 10 classes gave 26 %
    assert "labels remapped: class k is label [0, 5, 9][k]" in result.attrs["data_source"]
    assert "remap_labels = true" in result.attrs["config"]


def test_labels_that_are_already_classes_are_unchanged(tmp_path):
    path = blobs(tmp_path / "d.npz", (0, 1, 2))
    plain = load_dataset(f"npz:{path}")
    remapped = load_dataset(f"npz:{path}", remap_labels=True)
    assert plain.class_labels == remapped.class_labels == (0, 1, 2)
    np.testing.assert_array_equal(plain.y_train, remapped.y_train)
    assert plain.source == str(path)


@pytest.mark.parametrize("name", ["digits", "wine", "breast-cancer", "few-samples"])
def test_built_in_sets_pass_the_checks(name):
    ds = load_dataset(name)
    assert ds.class_labels == tuple(range(ds.n_classes))
    assert np.bincount(ds.y_train, minlength=ds.n_classes).min() > 0


def test_the_memory_rule_compares_the_estimate_with_what_is_available(monkeypatch):
    exp = load_experiment("bp")  # hidden (256, 256), float32
    need = build.model_memory(exp.params, 64, 10).n_bytes
    assert need == ((64 + 1) * 256 + 257 * 256 + 257 * 10) * 4 * build.NUMPY_COPIES
    monkeypatch.setattr(build, "available_memory", lambda: need)
    build.check_model_memory(exp, 64, 10)  # exactly enough
    monkeypatch.setattr(build, "available_memory", lambda: need - 1)
    with pytest.raises(ConfigError, match=r"model.hidden = \[256, 256\].*GiB"):
        build.check_model_memory(exp, 64, 10)
    monkeypatch.setattr(build, "available_memory", lambda: None)  # unknown: no refusal
    build.check_model_memory(exp, 64, 10)


def test_available_memory_is_a_plausible_number_of_bytes():
    available = build.available_memory()
    assert available is None or 2**20 < available < 2**50
