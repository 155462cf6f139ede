"""``neurosig demo`` (``make demo``): three Results, a figure and a table of test accuracies."""

from __future__ import annotations

import math

from neurosig import load_result
from neurosig.demo import DEMO_PRESETS, run_demo


def test_demo_writes_results_figure_and_accuracies(tmp_path, capsys):
    table = run_demo(tmp_path, epochs=2, progress=False)

    assert set(table) == {"sp-core", "bp", "random-features"}
    for model, accuracy in table.items():
        assert 0.0 <= accuracy <= 1.0, f"{model}: accuracy {accuracy} outside [0, 1]"
    for preset in DEMO_PRESETS:
        ds = load_result(tmp_path / f"{preset}.nc")
        assert ds.attrs["status"] == "complete"
        assert ds.sizes["epoch"] == 2
        assert math.isclose(float(ds.test_accuracy[-1]), table[ds.attrs["model"]])
    for suffix in ("pdf", "png"):
        figure = tmp_path / f"learning_curves.{suffix}"
        assert figure.is_file() and figure.stat().st_size > 0
    printed = capsys.readouterr().out
    assert all(model in printed for model in table)
