"""benchmarks/transfer.py: scores paired by seed, validation-selected readouts, end to end.

The numbers come from running the script; these tests check what it computes and writes.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "transfer.py"


@pytest.fixture(scope="module")
def transfer():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        spec = importlib.util.spec_from_file_location("transfer_benchmark", SCRIPT)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(SCRIPT.parent))


def row(model, task, seed, acc, chance=0.25, readout="output"):
    return {"model": model, "task": task, "seed": seed, "test_accuracy": acc, "chance": chance,
            "readout": readout}  # fmt: skip


def test_fraction_of_bp_is_paired_by_seed_and_measured_above_chance(transfer):
    rows = [
        row("bp", "a", 0, 0.85), row("bp", "a", 1, 0.65),
        row("x", "a", 0, 0.55), row("x", "a", 1, 0.45),
        row("x", "a", 2, 0.99),  # no BP run with seed 2: not scored
    ]  # fmt: skip
    fractions = transfer.fractions(rows)
    assert fractions[("x", "a")] == pytest.approx([0.5, 0.5])
    assert fractions[("bp", "a")] == pytest.approx([1.0, 1.0])


def test_summary_is_the_median_task_and_the_worst_task(transfer):
    rows = []
    for task, acc in (("a", 0.85), ("b", 0.55), ("c", 0.70)):
        for seed in range(3):
            rows += [row("bp", task, seed, 0.85), row("x", task, seed, acc)]
    s = transfer.summary(rows)["x"]
    assert s["median"] == pytest.approx(0.75) and s["worst_task"] == "b"
    assert s["worst"] == pytest.approx(0.5) and s["tasks"] == 3 and s["seeds"] == 3


def test_a_task_where_bp_is_at_chance_is_not_scored(transfer):
    rows = [row("bp", "a", 0, 0.25), row("x", "a", 0, 0.5)]
    assert transfer.fractions(rows) == {}


def test_quick_run_selects_readouts_on_validation_and_writes_every_output(tmp_path):
    out = tmp_path / "transfer"
    cmd = [sys.executable, str(SCRIPT), "--models", "bp", "sp-core", "--tasks", "wine",
           "--seeds", "1", "--jobs", "1", "--out", str(out), "--allow-dirty"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    csv_text = out.with_suffix(".csv").read_text()
    assert csv_text.count("\n") == 3  # header + 2 runs
    assert "sp-core,wine,0,30," in csv_text and "bp,wine,0,30,output" in csv_text
    markdown = out.with_suffix(".md").read_text()
    assert "best validation" in markdown and "| wine " in markdown
    assert out.with_suffix(".png").stat().st_size > 1000
    # a rerun of the same command at the same commit trains nothing again
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert "0 runs to do (2 already done" in again.stdout


def test_fewer_than_three_seeds_are_refused_for_published_rows(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--seeds", "2", "--out", str(tmp_path / "t")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2 and ">= 3 seeds" in proc.stderr


def test_select_defaults_reads_validation_only(tmp_path, monkeypatch):
    """The selection script scores variants on validation accuracy; a variant that breaks
    learning (lr 0) must score below one that learns."""
    out = tmp_path / "select.md"
    script = ROOT / "benchmarks" / "select_defaults.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--tasks", "wine", "--seeds", "1", "--jobs", "1",
         "--variant", "frozen:model=sp-core,lr=0.0", "--variant", "learns:model=sp-core",
         "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert "no test data read" in text
    scores = {
        line.split("|")[1].strip(): float(line.split("|")[2])
        for line in text.splitlines()
        if line.startswith("| frozen") or line.startswith("| learns")
    }
    assert scores["frozen"] < scores["learns"]


def test_merged_rows_replace_the_same_run_and_keep_complete_ones(transfer):
    done = {"model": "x", "task": "a", "seed": "0", "status": "complete", "test_accuracy": "0.5"}
    failed = {**done, "status": "failed: ValueError", "test_accuracy": "nan"}
    newer = {**done, "test_accuracy": "0.6"}
    other = {**done, "seed": "1"}
    merged = transfer.merge_rows([done], [failed, other], [newer])
    assert sorted((r["seed"], r["test_accuracy"]) for r in merged) == [("0", "0.6"), ("1", "0.5")]
