"""Honest labels on reports: unfinished runs, unlike baselines and seeds, foreign files.

The Results are SP-core and BP on 200 digits with one hidden layer of 16 units, trained for 2
epochs (about a second each); unfinished runs are made from them by cutting epochs and
changing the status, as a killed, interrupted or diverged run leaves its file. Reports run
with ``trials = 0`` (rate networks have no trials to simulate anyway).
"""

from __future__ import annotations

import doctest
import os
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from neurosig import results
from neurosig.analyses import caveats
from neurosig.analyses.plausibility import report_card
from neurosig.analyses.report import write_report
from neurosig.cli import main
from neurosig.config import load_experiment
from neurosig.errors import DataError
from neurosig.results import completeness, load_result, save_result
from neurosig.train import train

KILLED = "incomplete: status running, 1 of 30 epochs (the run was killed or is still going)"


def _train(preset: str, **changes) -> xr.Dataset:
    settings = dict(
        train_epochs=2, data_n_train=200, train_record_samples=60, model_hidden=(16,)
    )  # fmt: skip
    exp = load_experiment(preset).replace(**{**settings, **changes})
    return train(exp, progress=False)


@pytest.fixture(scope="module")
def rule():
    return _train("sp-core-digits")


@pytest.fixture(scope="module")
def bp():
    return _train("bp-digits")


@pytest.fixture(scope="module")
def bp_unlike():
    """BP of another architecture (32 units) on other data (300 training samples)."""
    return _train("bp-digits", model_hidden=(32,), data_n_train=300)


def _unfinished(ds: xr.Dataset, status: str, done: int, configured: int = 30) -> xr.Dataset:
    """``ds`` as a run of ``configured`` epochs that stopped with ``status`` after ``done``."""
    out = ds.isel(epoch=slice(0, done))
    config = results.experiment(ds).replace(train_epochs=configured).to_toml()
    return out.assign_attrs(status=status, config=config)


def _one_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("neurosig: error:")]
    assert len(lines) == 1, err
    return lines[0]


# -- completeness --------------------------------------------------------------------------


def test_completeness_says_what_an_unfinished_run_is(rule):
    assert completeness(rule).complete and completeness(rule).caveat is None
    cases = {
        ("running", 1): KILLED,
        ("interrupted", 3): "interrupted after 3 of 30 epochs",
        ("diverged", 3): "diverged in epoch 4 of 30; parameters of epoch 3",
        ("diverged", 0): "0 epochs: nothing trained (diverged in epoch 1)",
        ("complete", 1): "status complete but only 1 of 30 epochs stored",
    }
    long = rule.isel(epoch=[0, 1, 1]).assign_coords(epoch=[1, 2, 3])  # 3 epochs to cut from
    for (status, done), caveat in cases.items():
        state = completeness(_unfinished(long, status, done))
        assert state.caveat == caveat, (status, done)
        assert (state.status, state.epochs, state.configured) == (status, done, 30)
        assert not state.complete and state.trained == (done > 0)
    odd = completeness(rule.assign_attrs(status="paused"))
    assert "unknown status 'paused'" in odd.caveat and "running, complete" in odd.caveat


def test_statuses_are_listed_once_and_checked_by_the_writer():
    assert results.STATUSES == ("running", "complete", "interrupted", "diverged")
    for status in results.STATUSES:
        assert f"``{status}``" in results.__doc__
    with pytest.raises(ValueError, match="status = 'done'"):
        results.training_result(None, None, None, None, status="done", labels=np.array([]))


# -- foreign and corrupt files -------------------------------------------------------------


def _foreign(path: Path) -> Path:
    xr.Dataset({"a": ("x", [1, 2])}).to_netcdf(path, engine="h5netcdf")
    return path


def _newer(path: Path, rule: xr.Dataset) -> Path:
    save_result(rule.assign_attrs({results.SCHEMA_ATTR: results.SCHEMA_VERSION + 1}), path)
    return path


def _truncated(path: Path, rule: xr.Dataset) -> Path:
    full = save_result(rule, path.with_suffix(".full.nc"))
    path.write_bytes(full.read_bytes()[:4000])
    return path


BAD_FILES = {
    "foreign netCDF": (lambda d, r: _foreign(d / "f.nc"), "lacks the attributes model, config, "
                       "status and the variable accuracy; write Results with `neurosig train`"),
    "folder": (lambda d, r: d, "is a folder"),
    "empty file": (lambda d, r: _write(d / "e.nc", b""), "is empty"),
    "garbage": (lambda d, r: _write(d / "g.nc", os.urandom(2048)), "not a readable netCDF-4"),
    "truncated Result": (lambda d, r: _truncated(d / "t.nc", r), "truncated"),
    "newer schema": (lambda d, r: _newer(d / "n.nc", r), "newer than this neurosig reads"),
    "missing file": (lambda d, r: d / "none.nc", "no such result file"),
}  # fmt: skip


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_load_result_refuses_in_one_line_naming_the_file(case, rule, tmp_path):
    make, message = BAD_FILES[case]
    path = make(tmp_path, rule)
    with pytest.raises(DataError) as err:
        load_result(path)
    text = str(err.value)
    assert str(path) in text and message in text and "\n" not in text, text


def test_load_result_reads_every_status(rule, tmp_path):
    for status in results.STATUSES:
        back = load_result(save_result(_unfinished(rule, status, 1), tmp_path / f"{status}.nc"))
        assert back.attrs["status"] == status


def test_a_foreign_file_given_to_report_or_train_is_one_line(tmp_path, capsys):
    foreign = _foreign(tmp_path / "f.nc")
    for argv in (["report", str(foreign), "--trials", "0"], ["train", str(foreign)]):
        capsys.readouterr()
        assert main(argv) == 2, argv
        line = _one_line(capsys.readouterr().err)
        assert str(foreign) in line and "not a neurosig Result" in line, line


# -- unfinished runs in the report ---------------------------------------------------------


def _card_section(md: str, name: str) -> str:
    """The Markdown between a card's heading and its table."""
    start = md.index(f"## {name} (")
    return md[start : md.index("| criterion", start)]


def test_report_of_a_killed_run_carries_the_caveat(rule, tmp_path, capsys):
    killed = save_result(_unfinished(rule, "running", 1), tmp_path / "killed.nc")
    out = tmp_path / "report"
    assert main(["report", str(killed), "--trials", "0", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert KILLED in captured.out + captured.err  # said on the command line
    md = (out / "report.md").read_text()
    assert KILLED in _card_section(md, rule.attrs["name"])  # at the top of the card
    assert KILLED in (out / "report.html").read_text()
    with xr.open_dataset(out / "card.nc", engine="h5netcdf") as card:
        assert KILLED in card.attrs["warnings"]


def test_unfinished_rule_and_unlike_baseline_are_warned_about(rule, bp_unlike, tmp_path):
    interrupted = _unfinished(rule, "interrupted", 1, configured=5)
    said = []
    cards = write_report(
        [interrupted], tmp_path, baselines=[bp_unlike], trials=0, progress=said.append
    )
    rule_card, bp_card = cards
    assert rule_card.warnings[0] == "interrupted after 1 of 5 epochs"
    unlike = [w for w in bp_card.warnings if w.startswith("baseline bp-digits differs")]
    assert len(unlike) == 1, bp_card.warnings
    for field in ("model.hidden ([32] vs [16])", "data.n_train (300 vs 200)"):
        assert field in unlike[0]
        assert any(field in w for w in rule_card.warnings)  # the BP reference of the geometry
    md = (tmp_path / "report.md").read_text()
    assert "interrupted after 1 of 5 epochs" in _card_section(md, rule.attrs["name"])
    assert unlike[0] in _card_section(md, "bp-digits")
    assert f"bp-digits: warning: {unlike[0]}" in said
    scoring = said.index(f"{rule.attrs['name']}: scoring")
    assert all(said.index(w) < scoring for w in said if ": warning: " in w)  # before any work


def test_a_matching_baseline_and_a_finished_run_give_no_warning(rule, bp, tmp_path):
    said = []
    cards = write_report([rule], tmp_path, baselines=[bp], trials=0, progress=said.append)
    assert [c.warnings for c in cards] == [[], []]
    assert not [line for line in said if "warning" in line]
    assert "Warning" not in (tmp_path / "report.md").read_text()
    assert "Warning" not in (tmp_path / "report.html").read_text()


def test_warnings_go_to_their_own_channel(rule, tmp_path):
    said, warned = [], []
    write_report(
        [_unfinished(rule, "running", 1)], tmp_path, trials=0,
        progress=said.append, warn=warned.append,
    )  # fmt: skip
    assert warned == [f"{rule.attrs['name']}: warning: {KILLED}"]
    assert not [line for line in said if "warning" in line]


# -- seeds ---------------------------------------------------------------------------------


def test_seeds_that_differ_in_more_than_the_seed_are_warned_about(rule):
    same = _train("sp-core-digits", train_seed=1)
    longer = _train("sp-core-digits", train_seed=2, train_epochs=3)
    assert caveats.card_warnings([rule, same]) == []
    (warning,) = caveats.card_warnings([rule, longer])
    assert warning.startswith("seed 2 differs from seed 0") and "train.epochs (2 vs 3)" in warning
    (twice,) = caveats.card_warnings([rule, rule])
    assert "seed 0 given more than once" in twice
    card = report_card([rule, longer])
    assert card.seeds == 2 and card.warnings == [warning]


# -- a run with nothing trained ------------------------------------------------------------


def test_a_result_with_nothing_trained_is_refused_in_one_line(rule, bp, tmp_path, capsys):
    diverged = save_result(_unfinished(rule, "diverged", 0), tmp_path / "d.nc")
    assert load_result(diverged).sizes["epoch"] == 0  # it loads: only the report refuses it
    good = save_result(bp, tmp_path / "bp.nc")
    for argv in (
        ["report", str(diverged), "--trials", "0", "--out", str(tmp_path / "r1")],
        ["report", str(good), "--baselines", str(diverged), "--out", str(tmp_path / "r2")],
    ):
        capsys.readouterr()
        assert main(argv) == 2, argv
        line = _one_line(capsys.readouterr().err)
        assert "0 epochs: nothing trained (diverged in epoch 1)" in line
        assert rule.attrs["name"] in line
    assert not list(tmp_path.glob("r*/report.*"))  # refused before any work
    with pytest.raises(DataError, match="nothing trained"):
        report_card(load_result(diverged))


def test_the_examples_of_the_caveats_module_run():
    result = doctest.testmod(caveats, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
