"""The sweep benchmark script runs end to end in its quick mode and writes its tables.

This checks that the script works, not the numbers: numbers come from running it in full.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "sweep.py"


@pytest.mark.slow  # about 20 s of timed sweeps: suite time
def test_quick_run_writes_markdown_and_csv(tmp_path):
    out = tmp_path / "sweep.md"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(out), "--allow-dirty"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = out.read_text()
    assert "x the serial throughput" in text and "resume of a finished 6-point sweep" in text
    with out.with_suffix(".csv").open() as fh:
        rows = list(csv.DictReader(fh))
    measurements = [r["measurement"] for r in rows]
    assert measurements.count("throughput (warm pool)") == 2
    assert "resume, run_sweep" in measurements and "resume, neurosig sweep run" in measurements
    for row in rows:
        if not row["measurement"].startswith("machine calibration"):
            assert float(row["seconds"]) > 0
        else:
            assert float(row["ratio"]) > 0
