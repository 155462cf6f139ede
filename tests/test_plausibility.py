"""The report card: references, bands, weight statistics, cards of rate and spiking Results,
and ``neurosig report``.

The spiking Result is the ``lif-sigprop-digits`` preset trained for one epoch on 200 samples,
and its trial probe uses 4 repeats: the same compiled programs as notebooks 03 and 04.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurosig import results
from neurosig.analyses import plausibility, weights
from neurosig.analyses.plausibility import Reference, band, load_references, relative_band
from neurosig.cli import main
from neurosig.config import load_experiment
from neurosig.results import save_result
from neurosig.train import train

SPIKE_ROWS = ("isi_cv", "cv2", "lv", "fano_factor_100ms", "noise_correlation_100ms")
RULE_ROWS = ("spatial_locality", "weight_transport_free", "feedback_free")


def _train(preset: str, **changes):
    exp = load_experiment(preset).replace(
        train_epochs=1, data_n_train=200, train_record_samples=100, **changes
    )
    return train(exp, progress=False)


@pytest.fixture(scope="module")
def bp():
    return _train("bp-digits")


@pytest.fixture(scope="module")
def sp_core():
    return _train("sp-core-digits")


@pytest.fixture(scope="module")
def lif():
    return _train("lif-sigprop-digits")


@pytest.fixture(scope="module")
def lif_trials(lif):
    return plausibility.probe_trials(lif, n_repeats=4)


# -- references and bands -------------------------------------------------------------------


def test_every_card_row_has_a_reference_with_a_citation():
    refs = load_references()
    for key in (*SPIKE_ROWS, *RULE_ROWS, "median_rate", "dale_fraction", "cka", "lv"):
        assert key in refs, key
    for ref in refs.values():
        assert ref.citation and ref.context, ref.key
        assert ref.confidence in ("verified", "approximate", "unverified"), ref.key
        if not ref.relative:
            assert ref.low <= ref.high, ref.key
            assert ref.near[0] <= ref.low and ref.high <= ref.near[1], ref.key


def test_bands_follow_the_reference_range():
    ref = Reference("r", "c", "s", "Hz", ("spiking",), "ctx", "cite", "verified", 1, 10, (0.5, 20))
    assert [band(v, ref) for v in (1, 10, 0.7, 15, 0.1, 30)] == [
        "in", "in", "near", "near", "out", "out"
    ]  # fmt: skip
    assert band(math.nan, ref) == "not applicable"
    assert [relative_band(s) for s in (1.0, 0.7, 0.5, 0.1, -1.0, math.nan)] == [
        "in", "in", "near", "out", "out", "not applicable"
    ]  # fmt: skip


# -- weights --------------------------------------------------------------------------------


def test_dale_fraction_and_excitatory_fraction():
    rng = np.random.default_rng(0)
    signs = np.where(np.arange(100) < 80, 1.0, -1.0)
    w = rng.lognormal(0.0, 1.0, (50, 100)) * signs  # columns: outgoing weights of a unit
    assert weights.dale_fraction(w) == 1.0
    assert weights.excitatory_fraction(w) == pytest.approx(0.8)
    mixed = rng.normal(size=(50, 100))
    assert weights.dale_fraction(mixed) == 0.0
    assert math.isnan(weights.excitatory_fraction(mixed))
    fit = weights.weight_lognormal(w)
    assert fit["sigma"] == pytest.approx(1.0, abs=0.05) and fit["llr"] > 0
    gaussian = rng.normal(5.0, 1.0, size=(50, 100))  # all positive, symmetric: no log-normal
    assert weights.weight_lognormal(gaussian)["llr"] < 0


# -- cards ----------------------------------------------------------------------------------


def test_rate_network_card_says_not_applicable_for_spike_rows(sp_core, bp):
    card = plausibility.report_card(sp_core, bp=bp)
    for key in SPIKE_ROWS:
        row = card.row(key)
        assert row.band == "not applicable" and math.isnan(row.value), key
    for key in RULE_ROWS:
        assert card.row(key).value == 1.0 and card.row(key).band == "in", key
    # leaky ReLU activity is signed: no firing rate, so no sparseness or selectivity index
    for key in ("lifetime_sparseness", "class_selectivity"):
        assert card.row(key).band == "not applicable" and "negative" in card.row(key).note
    assert len({r.layer for r in card.rows if r.key == "lifetime_sparseness"}) == 2


def test_bp_card_fails_the_rule_rows_and_is_its_own_geometry_reference(bp):
    card = plausibility.report_card(bp, bp=bp)
    assert card.row("weight_transport_free").value == 0.0
    assert card.row("weight_transport_free").band == "out"
    assert card.row("feedback_free").band == "out"
    for key in ("rdm_correlation", "cka", "procrustes_distance"):
        row = card.row(key)
        assert row.score == pytest.approx(1.0, abs=1e-6), key
        assert row.band == "in"


def test_geometry_rows_need_a_bp_baseline(sp_core):
    card = plausibility.report_card(sp_core)
    assert card.row("cka").band == "not applicable"
    assert "--baselines" in card.row("cka").note
    assert np.isfinite(card.row("decodability").value)


def test_untrained_activity_is_the_network_before_training(sp_core):
    exp = load_experiment("sp-core-digits").replace(
        train_epochs=1, data_n_train=200, train_record_samples=100, train_record_every_epoch=True
    )
    ds = train(exp, progress=False)
    stored = plausibility.untrained_activity(ds)  # the stored activity before training
    history = results.activity_history(ds, 1).isel(record_epoch=0).values
    older = ds.drop_vars([v for v in ds.data_vars if "history" in str(v) or "initial" in str(v)])
    rebuilt = plausibility.untrained_activity(older)  # rebuilt from the seed and run
    np.testing.assert_array_equal(stored[1], history)
    np.testing.assert_allclose(rebuilt[1], stored[1], rtol=1e-5, atol=1e-6)
    assert not np.allclose(stored[1], results.activity(ds, 1).values)  # training changed it


def test_seeds_combine_into_one_card_with_ci_over_seeds(sp_core):
    other = _train("sp-core-digits", train_seed=1)
    card = plausibility.report_card([sp_core, other])
    assert card.seeds == 2
    row = card.row("decodability")
    single = [plausibility.report_card(r).row("decodability").value for r in (sp_core, other)]
    assert row.value == pytest.approx(np.mean(single))
    assert row.n == 2


def test_spiking_card_measures_irregularity_and_trial_variability(lif, lif_trials, bp):
    assert set(lif_trials) == {1}
    assert lif_trials[1].attrs["n_trials"] == 40 and lif_trials[1].attrs["duration"] == 1.0
    card = plausibility.report_card(lif, bp=bp, trials=lif_trials)
    assert np.isfinite(card.row("median_rate").value)
    assert card.row("fano_factor_1s").band != "not applicable"
    fano = card.row("fano_factor_100ms")
    # the Poisson control reads 1 (independent Poisson counts with the same means; 40 trials x
    # 10 windows per unit: se of the mean about 0.03) and the row must exceed its null
    assert fano.control == pytest.approx(1.0, abs=0.1)
    assert fano.control_band in ("out", "near") and fano.control_kind
    if fano.value_band in ("in", "near"):
        assert fano.value > fano.control
    for key in ("noise_correlation_100ms", "noise_correlation_1s"):
        row = card.row(key)
        assert abs(row.control) < 0.05 and row.control_band == "out", key
    assert card.row("isi_cv").control == pytest.approx(0.0, abs=1e-9)  # regular trains
    assert _control_rule_holds(card)
    for key in RULE_ROWS:
        assert card.row(key).value == 1.0, key
    without = plausibility.report_card(lif)
    assert without.row("fano_factor_100ms").band == "not applicable"
    assert "repeated trials" in without.row("fano_factor_100ms").note


def test_report_command_writes_every_file(lif, bp, tmp_path, capsys):
    save_result(lif, tmp_path / "lif.nc")
    save_result(bp, tmp_path / "bp.nc")
    out = tmp_path / "report"
    code = main(
        ["report", str(tmp_path / "lif.nc"), "--baselines", str(tmp_path / "bp.nc"),
         "--out", str(out), "--trials", "4", "--quiet"]
    )  # fmt: skip
    assert code == 0
    for name in ("report.md", "report.html", "report.pdf", "report.png", "card.nc"):
        assert (out / name).stat().st_size > 0, name
    md = (out / "report.md").read_text()
    assert "not applicable" in md and "Buzs" in md
    assert "lif-sigprop-digits" in capsys.readouterr().out


def test_report_of_a_missing_file_is_a_clear_error(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope.nc")]) == 2
    err = capsys.readouterr().err
    assert "nope.nc" in err and "Traceback" not in err


def test_restored_model_reproduces_the_result(lif, bp):
    from neurosig.train import evaluate

    for ds in (lif, bp):
        model, data = results.restore_model(ds)
        accuracy = evaluate(model, data.x_test, data.y_test)[ds.attrs["primary_readout"]]
        assert accuracy == float(ds.test_accuracy[-1]), ds.attrs["model"]


# -- controls -------------------------------------------------------------------------------


def _control_rule_holds(card) -> bool:
    """No row whose untrained network or control lands in is reported as anything but
    uninformative (flag and not applicable rows are not scored)."""
    for row in card.rows:
        if row.band in ("flag", "not applicable"):
            continue
        if "in" in (row.control_band, row.untrained_band) and row.band != "uninformative":
            return False
        if row.band == "uninformative" and "in" not in (row.control_band, row.untrained_band):
            return False
    return True


def test_controlled_band_rule():
    assert "uninformative" in plausibility.BANDS
    assert plausibility.controlled_band("in", "out", "in") == "uninformative"
    assert plausibility.controlled_band("in", "in", "out") == "uninformative"
    assert plausibility.controlled_band("out", "in", "") == "uninformative"
    assert plausibility.controlled_band("near", "out", "near") == "near"
    assert plausibility.controlled_band("flag", "in", "in") == "flag"


def test_gaussian_and_uniform_weights_are_not_log_normal():
    rng = np.random.default_rng(1)
    gaussian = weights.weight_lognormal(rng.normal(size=(100, 100)), sign=1)
    assert gaussian["sigma"] == pytest.approx(np.pi / np.sqrt(8), abs=0.03)
    assert gaussian["alternative"] == "half-normal" and gaussian["z"] < 0
    uniform = weights.weight_lognormal(rng.uniform(-1, 1, (100, 100)), sign=-1)
    assert uniform["sigma"] == pytest.approx(1.0, abs=0.07) and uniform["z"] < 0
    # Song et al.'s sigma, per sign: excitatory log-normal, inhibitory Gaussian, not pooled
    signs = np.where(np.arange(100) < 80, 1.0, -1.0)
    mixed = np.where(
        signs > 0, rng.lognormal(0, 0.94, (100, 100)), -np.abs(rng.normal(size=(100, 100)))
    )
    e, i = weights.weight_lognormal(mixed, sign=1), weights.weight_lognormal(mixed, sign=-1)
    assert e["sigma"] == pytest.approx(0.94, abs=0.03) and e["z"] > weights.LOGNORMAL_Z
    assert e["n"] == 8000 and i["n"] == 2000 and i["z"] < 0
    refs = load_references()
    for w in (rng.normal(size=(64, 64)), rng.uniform(-1, 1, (64, 64))):
        fit = weights.weight_lognormal(w, sign=1)
        assert band(fit["sigma"], refs["weight_lognormal_sigma"]) == "in"  # the old problem
        assert (
            plausibility._scored(
                "weight_lognormal_sigma",
                fit["sigma"],
                refs,
                supported=fit["z"] > weights.LOGNORMAL_Z,
            )
            == "out"
        )


def test_degenerate_values_are_not_in():
    refs = load_references()
    for key in (
        "fraction_silent",
        "fraction_active",
        "noise_correlation_100ms",
        "noise_correlation_1s",
    ):
        assert band(0.0, refs[key]) != "in", key
    # independent units: r in range by chance but not above the trial-shuffled null: out
    assert plausibility._scored("noise_correlation_100ms", 0.02, refs, null=0.03) == "out"
    assert plausibility._scored("noise_correlation_100ms", 0.1, refs, null=0.03) == "in"
    # Poisson counts: Fano 1.0 sits in the band, but not above the Poisson null
    assert band(1.0, refs["fano_factor_100ms"]) == "in"
    assert plausibility._scored("fano_factor_100ms", 1.01, refs, null=1.04) == "out"


def test_untrained_and_control_cards_have_no_unmarked_in_rows(sp_core, bp):
    for card in (plausibility.report_card(sp_core, bp=bp), plausibility.report_card(bp, bp=bp)):
        assert _control_rule_holds(card)
        for row in card.rows:
            assert row.control_kind or row.band == "not applicable", row.key
        # untrained weights are Gaussian/uniform: the weight distribution row is never in
        for row in card.rows:
            if row.key == "weight_lognormal_sigma":
                assert row.untrained_band != "in" and row.control_band != "in", row
        ds = card.to_dataset()
        for name in ("control", "control_kind", "control_band", "untrained_band"):
            assert name in ds
    untrained = plausibility.untrained_weights(sp_core)
    assert set(untrained) == set(plausibility.weight_blocks(sp_core))
