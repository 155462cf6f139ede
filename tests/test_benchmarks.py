"""The accuracy benchmark script: it runs end to end (quick mode) and tabulates what it ran.

These tests check that the script works, not the numbers: numbers come from running it.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "accuracy.py"


@pytest.fixture(scope="module")
def accuracy():
    """benchmarks/accuracy.py as a module (it imports its sibling ``common``)."""
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        spec = importlib.util.spec_from_file_location("accuracy_benchmark", SCRIPT)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("accuracy_benchmark", None)
        sys.path.remove(str(SCRIPT.parent))


def _cells(markdown: str, label: str) -> list[str]:
    """The cells of the table row ``label`` (first match)."""
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == label:
            return cells
    raise AssertionError(f"no table row {label!r} in:\n{markdown}")


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_quick_run_writes_markdown_and_csv(tmp_path):
    out = tmp_path / "acc.md"
    proc = _run(
        "--quick", "--datasets", "digits", "--models", "sp-core", "bp", "--seeds", "1",
        "--out", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    markdown = out.read_text()
    header = next(line for line in markdown.splitlines() if line.startswith("| model"))
    assert "x BP" in header and "peak MiB" in header
    columns = _cells(markdown, "model")
    sp_core, bp = _cells(markdown, "sp-core"), _cells(markdown, "bp")
    assert bp[columns.index("time/sample (x BP)")] == "1.00"
    assert float(sp_core[columns.index("time/sample (x BP)")]) > 0
    assert "not measured by this script" in markdown
    assert "## digits" in proc.stdout  # the tables are printed too
    assert proc.stdout.count("seed 0: test") == 2  # one progress line per run

    with (tmp_path / "acc.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["model"] for r in rows) == ["bp", "sp-core"]
    for r in rows:
        assert r["status"] == "complete" and r["dataset"] == "digits" and r["epochs"] == "2"
        assert 0 <= float(r["test_accuracy"]) <= float(r["best_test_accuracy"]) <= 1
        assert float(r["samples_per_second"]) > 0 and float(r["peak_mib"]) > 0


def test_configuration_errors_are_reported_before_any_run(tmp_path):
    proc = _run("--quick", "--datasets", "digits", "--variant", "x:model=sp-core,los=topk",
                "--out", str(tmp_path / "acc.md"))  # fmt: skip
    assert proc.returncode == 2
    assert "model.los: unknown field" in proc.stderr and "'loss'" in proc.stderr
    assert not (tmp_path / "acc.md").exists()


def test_parse_variant(accuracy):
    row = accuracy.parse_variant("wide:model=bp,hidden=[512, 512],train_epochs=3,loss=topk")
    assert row.label == "wide" and row.model == "bp"
    assert row.changes == {"model_hidden": (512, 512), "train_epochs": 3, "model_loss": "topk"}
    for bad in ("no-colon", "x:loss=topk", "x:model=bp,seed=3", "x:model=bp,junk"):
        with pytest.raises(ValueError):
            accuracy.parse_variant(bad)


def test_variant_becomes_a_replaced_preset(accuracy):
    row = accuracy.parse_variant("maxrand:model=sp-core,loss=max_rand,temperature=2")
    run = accuracy.make_experiment("digits", row, seed=3, base=dict(accuracy.QUICK))
    exp = run.experiment
    assert exp.model == "sp-core" and exp.name == "maxrand-digits"
    assert exp.params.loss == "max_rand" and exp.params.temperature == 2.0
    assert isinstance(exp.params.temperature, float)
    assert exp.params.hidden == (64, 64) and exp.train.epochs == 2 and exp.train.seed == 3


def test_failed_runs_are_recorded_and_counted(accuracy, monkeypatch):
    run = accuracy.make_experiment("digits", accuracy.Row("sp-core", "sp-core"), 0, accuracy.QUICK)

    def diverge(*args, **kwargs):
        raise accuracy.DivergenceError("loss became NaN")

    monkeypatch.setattr(accuracy, "train", diverge)
    row = accuracy.run_one(run)
    assert row["status"] == "diverged" and "NaN" in row["error"]
    markdown = accuracy.render_markdown([row], header=[])
    assert _cells(markdown, "sp-core")[1] == "0 (1 diverged)"


def test_append_replaces_the_same_run_and_keeps_the_others(accuracy):
    old = [
        {"dataset": "mnist1d", "variant": "bp", "seed": "0", "test_accuracy": "0.5"},
        {"dataset": "mnist1d", "variant": "bp", "seed": "1", "test_accuracy": "0.6"},
    ]
    new = [
        {"dataset": "mnist1d", "variant": "bp", "seed": 1, "test_accuracy": 0.7},
        {"dataset": "fashion-mnist", "variant": "bp", "seed": 0, "test_accuracy": 0.8},
    ]
    merged = accuracy.merge_rows(old, new)
    assert [float(r["test_accuracy"]) for r in merged] == [0.5, 0.7, 0.8]
