"""Tests of neurosig.analyses.representation: analytic cases, invariances, pitfalls, nulls.

Statistical checks use fixed seeds, so they are deterministic; the false-failure rate stated
next to each is the chance that a *different* seed would fail the same threshold.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from neurosig.analyses import representation as rep
from neurosig.analyses.representation import (
    RDMComparison,
    cka_matrix,
    class_selectivity,
    compare_rdms,
    decodability,
    decodability_by_layer,
    dprime_selectivity,
    linear_cka,
    participation_ratio,
    procrustes_cv,
    procrustes_distance,
    rdm,
)


def _rotation(p, seed=0):
    return np.linalg.qr(np.random.default_rng(seed).normal(size=(p, p)))[0]


@pytest.fixture
def x():
    return np.random.default_rng(1).normal(size=(120, 15))


# --- RDMs ---------------------------------------------------------------------------------


def test_rdm_correlation_and_euclidean_analytic():
    a = np.array([[1.0, 2, 3], [2, 4, 6], [3, 2, 1], [0, 0, 4]])
    d = rdm(a)
    assert d.dims == ("stimulus", "stimulus_")
    np.testing.assert_allclose(d.values, d.values.T)
    assert d.values[0, 1] == pytest.approx(0, abs=1e-12)  # scaled copy: r = 1
    assert d.values[0, 2] == pytest.approx(2)  # reversed: r = -1
    e = rdm(a, "euclidean")
    assert e.values[0, 3] == pytest.approx(np.sqrt(1 + 4 + 1))
    np.testing.assert_array_equal(np.diag(e.values), 0)


def test_rdm_constant_pattern_is_nan_with_warning():
    a = np.array([[1.0, 2, 3], [5, 5, 5], [3, 1, 2]])
    with pytest.warns(RuntimeWarning, match="constant"):
        d = rdm(a).values
    assert np.isnan(d[1]).all() and np.isnan(d[:, 1]).all()
    assert np.isfinite(d[[0, 2]][:, [0, 2]]).all()


def test_rdm_carries_sample_and_label_coordinates(x):
    act = xr.DataArray(
        x,
        dims=("sample", "layer1_unit"),
        coords={"sample": np.arange(120) + 10, "label": ("sample", np.arange(120) % 3)},
        attrs={"units": "Hz"},
    )
    d = rdm(act, "euclidean")
    assert d.stimulus.values[0] == 10 and d.label_.values[4] == 1
    assert d.attrs["units"] == "Hz"
    np.testing.assert_allclose(d.values, rdm(x, "euclidean").values)


def test_rdm_rejects_unknown_metric(x):
    with pytest.raises(ValueError, match="metric"):
        rdm(x, "cosine")


# --- RDM comparison -----------------------------------------------------------------------


def test_identical_rdms_correlate_perfectly(x):
    d = rdm(x)
    for method in ("spearman", "pearson", "kendall_tau_a"):
        res = compare_rdms(d, d, method, n_boot=20, n_perm=20, rng=0)
        assert isinstance(res, RDMComparison)
        assert res.value == pytest.approx(1)
        assert res.n_stimuli == 120 and res.method == method


def test_compare_rdms_is_deterministic_under_a_seed(x):
    a, b = rdm(x), rdm(x + np.random.default_rng(2).normal(size=x.shape))
    assert compare_rdms(a, b, n_boot=50, n_perm=50, rng=3) == compare_rdms(
        a, b, n_boot=50, n_perm=50, rng=3
    )


@pytest.mark.parametrize("max_pairs", [20_000, 300])  # re-ranked/all pairs, full ranks/subset
def test_related_rdms_significant_and_ci_contains_value(x, max_pairs):
    noisy = x + 1.5 * np.random.default_rng(2).normal(size=x.shape)
    res = compare_rdms(rdm(x), rdm(noisy), n_boot=200, n_perm=199, rng=0, max_pairs=max_pairs)
    assert 0.1 < res.value < 0.95
    assert res.low < res.value < res.high
    assert res.p_value == pytest.approx(1 / 200)


def test_unrelated_rdms_have_a_calibrated_permutation_null():
    # 60 independent pairs of unrelated RDMs: the fraction of p < 0.05 is Binomial(60, 0.05);
    # failing "<= 9 of 60" has probability about 1e-3 for a different seed
    p_values = []
    for seed in range(60):
        rng = np.random.default_rng(seed)
        a, b = rng.normal(size=(10, 8)), rng.normal(size=(10, 8))
        p_values.append(compare_rdms(rdm(a), rdm(b), n_boot=0, n_perm=99, rng=seed).p_value)
    p_values = np.array(p_values)
    assert np.sum(p_values < 0.05) <= 9
    assert 0.35 < p_values.mean() < 0.65  # uniform: mean 0.5, sd of the mean about 0.04


def test_subsampled_permutation_null_is_calibrated():
    # same as above on the pair-subsample path (45 pairs > max_pairs = 20)
    p_values = [
        compare_rdms(
            rdm(np.random.default_rng(s).normal(size=(10, 8))),
            rdm(np.random.default_rng(s + 100).normal(size=(10, 8))),
            n_boot=0,
            n_perm=99,
            rng=s,
            max_pairs=20,
        ).p_value
        for s in range(60)
    ]
    assert np.sum(np.array(p_values) < 0.05) <= 9


def _direct_bootstrap(da, db, idx, correlation):
    out = []
    for row in idx:
        pairs = [(row[k], row[m]) for k, m in itertools.combinations(range(len(row)), 2)]
        pairs = [(i, j) for i, j in pairs if i != j]  # drop a stimulus paired with its copy
        i, j = np.array(pairs).T
        out.append(correlation(da[i, j], db[i, j]).statistic)
    return np.array(out)


@pytest.mark.parametrize(
    ("method", "correlation"), [("spearman", stats.spearmanr), ("pearson", stats.pearsonr)]
)
def test_bootstrap_matches_a_direct_implementation(method, correlation):
    rng = np.random.default_rng(4)
    n, n_boot = 9, 30
    da, db = rdm(rng.normal(size=(n, 5))).values, rdm(rng.normal(size=(n, 5))).values
    fast = rep._bootstrap(da, db, method, n_boot, np.random.default_rng(7), max_pairs=1000)
    idx = np.random.default_rng(7).integers(n, size=(n_boot, n))
    np.testing.assert_allclose(fast, _direct_bootstrap(da, db, idx, correlation), atol=1e-12)


def test_bootstrap_with_full_rdm_ranks_is_close_to_reranking():
    # above max_pairs entries Spearman samples use the full-RDM ranks instead of re-ranking
    rng = np.random.default_rng(0)
    x = rng.normal(size=(150, 30))
    da, db = rdm(x).values, rdm(x + 2 * rng.normal(size=x.shape)).values
    exact = rep._bootstrap(da, db, "spearman", 100, np.random.default_rng(1), max_pairs=10**6)
    quick = rep._bootstrap(da, db, "spearman", 100, np.random.default_rng(1), max_pairs=100)
    assert np.corrcoef(exact, quick)[0, 1] > 0.99
    assert np.max(np.abs(exact - quick)) < 0.2 * exact.std()
    assert quick.std() == pytest.approx(exact.std(), rel=0.05)


def test_permutation_null_matches_a_direct_implementation():
    rng = np.random.default_rng(5)
    n, n_perm = 8, 25
    da, db = rdm(rng.normal(size=(n, 5))).values, rdm(rng.normal(size=(n, 5))).values
    observed, null = rep._permutation_null(
        da, db, "spearman", n_perm, np.random.default_rng(6), max_pairs=1000
    )
    perms = np.argsort(np.random.default_rng(6).random((n_perm, n)), axis=1)
    iu, ju = np.triu_indices(n, 1)
    direct = [stats.spearmanr(da[iu, ju], db[p[iu], p[ju]]).statistic for p in perms]
    np.testing.assert_allclose(null, direct, atol=1e-12)
    assert observed == pytest.approx(stats.spearmanr(da[iu, ju], db[iu, ju]).statistic)


def test_rank_rows_matches_scipy_with_ties():
    v = np.random.default_rng(0).integers(0, 5, size=(6, 40))
    v[0, :3] = 10**6
    np.testing.assert_array_equal(rep._rank_rows(v), stats.rankdata(v, axis=1))
    d = rdm(np.random.default_rng(1).normal(size=(6, 4))).values
    codes = rep._dense_codes(np.round(d, 1))
    iu, ju = np.triu_indices(6, 1)
    np.testing.assert_array_equal(
        stats.rankdata(codes[iu, ju]), stats.rankdata(np.round(d, 1)[iu, ju])
    )


def test_kendall_tau_a_counts_ties_as_neither():
    a = np.array([1.0, 2, 3, 4])
    b = np.array([1.0, 1, 2, 3])  # one tied pair out of 6: tau_a = 5 / 6
    assert rep._kendall_tau_a(a, b) == pytest.approx(5 / 6)


def test_compare_rdms_validates_input(x):
    with pytest.raises(ValueError, match="b compares 60 stimuli"):
        compare_rdms(rdm(x), rdm(x[:60]))
    with pytest.raises(ValueError, match="square"):
        compare_rdms(np.zeros((4, 3)), np.zeros((4, 3)))
    with pytest.warns(RuntimeWarning):
        nan_rdm = rdm(np.vstack([x[:5], np.ones((1, 15))]))
    with pytest.raises(ValueError, match="a contains NaN"):
        compare_rdms(nan_rdm, nan_rdm)
    with pytest.raises(ValueError, match="method"):
        compare_rdms(rdm(x), rdm(x), "cosine")


# --- CKA ----------------------------------------------------------------------------------


@pytest.mark.parametrize("debiased", [False, True])
def test_cka_identity_rotation_and_scaling(x, debiased):
    assert linear_cka(x, x, debiased) == pytest.approx(1)
    y = 7.5 * x @ _rotation(15)
    assert linear_cka(x, y, debiased) == pytest.approx(1)
    assert linear_cka(x, y + 3.0, debiased) == pytest.approx(1)  # centring


@pytest.mark.parametrize("debiased", [False, True])
def test_cka_gram_and_feature_forms_agree(debiased):
    rng = np.random.default_rng(0)
    for n, p, q in [(20, 300, 200), (300, 10, 25)]:
        a = rng.normal(size=(n, p))
        b = a[:, :5] @ rng.normal(size=(5, q)) + rng.normal(size=(n, q))
        gram = linear_cka(a, b, debiased, form="gram")
        assert gram == pytest.approx(linear_cka(a, b, debiased, form="feature"), abs=1e-12)
        assert gram == pytest.approx(linear_cka(a, b, debiased), abs=1e-12)


def test_cka_pitfall_biased_estimator_of_unrelated_representations():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(30, 2000)), rng.normal(size=(30, 2000))
    assert linear_cka(a, b) > 0.9  # PLAUSIBILITY.md pitfall: about 0.987
    # the debiased estimator's sd is about 0.057 at n = 30: 0.2 is 3.5 sd
    assert abs(linear_cka(a, b, debiased=True)) < 0.2
    # at n = 100 (p = 2000) its sd is about 0.014; |.| < 0.05 fails with p about 5e-4
    a, b = rng.normal(size=(100, 2000)), rng.normal(size=(100, 2000))
    assert abs(linear_cka(a, b, debiased=True)) < 0.05


def test_cka_matrix_layers(x):
    y = np.tanh(x @ np.random.default_rng(0).normal(size=(15, 40)))
    m = cka_matrix({"h1": x, "h2": y}, [x, 2 * x @ _rotation(15)])
    assert m.dims == ("layer_a", "layer_b")
    assert list(m.layer_a.values) == ["h1", "h2"] and list(m.layer_b.values) == [1, 2]
    np.testing.assert_allclose(m.sel(layer_a="h1").values, 1)
    assert m.sel(layer_a="h2", layer_b=1) == pytest.approx(linear_cka(y, x, True))
    biased = cka_matrix([x], [y], debiased=False)
    assert float(biased[0, 0]) == pytest.approx(linear_cka(x, y))


def test_cka_validates_input(x):
    with pytest.raises(ValueError, match="y has 60 stimuli but x has 120"):
        linear_cka(x, x[:60])
    with pytest.raises(ValueError, match="layer 'h2' has 60 stimuli"):
        cka_matrix({"h1": x, "h2": x[:60]}, [x])
    with pytest.raises(ValueError, match="2-D"):
        linear_cka(x[0], x[0])
    with pytest.warns(RuntimeWarning, match="NaN"):
        assert np.isnan(linear_cka(x, np.ones_like(x)))


# --- Procrustes -------------------------------------------------------------------------


def test_procrustes_rotation_and_scaling_invariance_held_out():
    x = np.random.default_rng(0).normal(size=(200, 12))
    y = 3.0 * x @ _rotation(12) + 5.0
    assert procrustes_distance(x[:100], y[:100], x[100:], y[100:]) == pytest.approx(0, abs=1e-6)
    assert procrustes_cv(x, y, rng=0) == pytest.approx(0, abs=1e-6)


def test_procrustes_zero_pads_different_unit_counts():
    x = np.random.default_rng(0).normal(size=(200, 8))
    y = np.hstack([x, np.zeros((200, 4))]) @ _rotation(12)  # 8 units embedded in 12
    assert procrustes_cv(x, y, rng=0) == pytest.approx(0, abs=1e-6)
    assert procrustes_cv(y, x, rng=0) == pytest.approx(0, abs=1e-6)


def test_procrustes_alpha_zero_is_invariant_to_invertible_maps():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6))
    y = x @ rng.normal(size=(6, 6))
    assert procrustes_cv(x, y, rng=0, alpha=0.0) == pytest.approx(0, abs=1e-6)
    assert procrustes_cv(x, y, rng=0, alpha=1.0) > 0.05


def test_procrustes_pitfall_in_sample_fit_overfits():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 2000)), rng.normal(size=(40, 2000))
    in_sample = procrustes_distance(x[:20], y[:20], x[:20], y[:20])
    held_out = procrustes_distance(x[:20], y[:20], x[20:], y[20:])
    assert in_sample < 0.2  # unrelated, yet nearly "the same shape"
    assert held_out > 1.4  # about pi/2
    assert procrustes_cv(x, y, rng=0) > 1.4


def test_procrustes_validates_input(x):
    with pytest.raises(ValueError, match="y_train has 60 stimuli"):
        procrustes_distance(x, x[:60], x, x)
    with pytest.raises(ValueError, match="x_test has 5 units"):
        procrustes_distance(x, x, x[:, :5], x)
    with pytest.raises(ValueError, match="alpha"):
        procrustes_distance(x, x, x, x, alpha=2)
    with pytest.raises(ValueError, match="y has 60 stimuli"):
        procrustes_cv(x, x[:60])


# --- decodability -------------------------------------------------------------------------


def _blobs(n=400, classes=4, p=20, scale=5.0, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    return scale * rng.normal(size=(classes, p))[y] + rng.normal(size=(n, p)), y


def test_decodability_of_separable_blobs_and_of_noise():
    x, y = _blobs()
    res = decodability(x, y, rng=0)
    assert res.accuracy > 0.98 and res.n_train == 200 and res.n_test == 200
    assert res.chance == pytest.approx(0.25)
    noise = np.random.default_rng(1).normal(size=x.shape)
    # 200 held-out stimuli: sd of the accuracy about 0.03 around chance; 0.12 is 4 sd
    assert abs(decodability(noise, y, rng=0).accuracy - 0.25) < 0.12


def test_decodability_explicit_split_and_label_coordinate():
    x, y = _blobs(n=100)
    act = xr.DataArray(x, dims=("sample", "layer1_unit"), coords={"label": ("sample", y)})
    res = decodability(act, train_idx=np.arange(50), test_idx=np.arange(50, 100))
    assert (res.n_train, res.n_test) == (50, 50)
    assert res == decodability(x, y, train_idx=np.arange(50), test_idx=np.arange(50, 100))
    with pytest.raises(ValueError, match="overlap"):
        decodability(x, y, train_idx=np.arange(60), test_idx=np.arange(50, 100))
    with pytest.raises(ValueError, match="labels has 99 entries"):
        decodability(x, y[:99])


def test_decodability_by_layer():
    x, y = _blobs()
    noise = np.random.default_rng(1).normal(size=x.shape)
    acc = decodability_by_layer({"h1": x, "h2": noise}, y, rng=0)
    assert acc.dims == ("layer",) and acc.attrs["chance"] == pytest.approx(0.25)
    assert acc.sel(layer="h1") > 0.98 and acc.sel(layer="h2") < 0.4
    assert float(acc.sel(layer="h1")) == decodability(x, y, rng=0).accuracy  # same split
    with pytest.raises(ValueError, match="layer 'h2' has 10 stimuli"):
        decodability_by_layer({"h1": x, "h2": x[:10]}, y)


# --- participation ratio ------------------------------------------------------------------


@pytest.mark.parametrize("corrected", [False, True])
def test_participation_ratio_of_rank_one_data(corrected):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 1)) @ rng.normal(size=(1, 30))
    assert participation_ratio(x, corrected) == pytest.approx(1)


def test_participation_ratio_correction_isotropic():
    # isotropic Gaussian, d = 50, n = 100: plug-in about 33 (sd 0.4), corrected 50 (sd 1.0)
    x = np.random.default_rng(0).normal(size=(100, 50))
    plug_in, corrected = participation_ratio(x, False), participation_ratio(x)
    assert plug_in < 40
    assert abs(corrected - 50) < 5
    assert abs(corrected - 50) < abs(plug_in - 50)


def test_participation_ratio_known_spectrum():
    # eigenvalues 4, 1, 1, 1: PR = 49 / 19; n >> p so the plug-in is close as well
    x = np.random.default_rng(0).normal(size=(20_000, 4)) * np.array([2.0, 1, 1, 1])
    assert participation_ratio(x) == pytest.approx(49 / 19, rel=0.03)
    assert participation_ratio(x, False) == pytest.approx(49 / 19, rel=0.03)


@pytest.mark.parametrize("shape", [(7, 3), (6, 10)])  # feature and Gram forms
def test_participation_ratio_matches_brute_force_u_statistics(shape):
    x = np.random.default_rng(0).normal(size=shape) + 3.0
    num = den = 0.0
    quadruples = list(itertools.permutations(range(shape[0]), 4))
    for a, b, c, d in quadruples:
        u, v = x[a] - x[b], x[c] - x[d]
        num += (u @ u) * (v @ v) / 4  # unbiased for (tr C)^2
        den += (u @ v) ** 2 / 4  # unbiased for tr(C^2)
    assert participation_ratio(x) == pytest.approx(num / den, rel=1e-10)


def test_participation_ratio_of_constant_activity_warns():
    with pytest.warns(RuntimeWarning, match="NaN"):
        assert np.isnan(participation_ratio(np.ones((10, 3))))


# --- selectivity --------------------------------------------------------------------------


def test_class_selectivity_analytic():
    y = np.repeat([0, 1, 2, 3], 5)
    tuned = 10.0 * (y == 2)
    untuned = np.full(20, 4.0)
    half = np.where(y == 1, 3.0, 1.0)  # (3 - 1) / (3 + 1)
    silent = np.zeros(20)
    si = class_selectivity(np.stack([tuned, untuned, half, silent], axis=1), y)
    np.testing.assert_allclose(si.values, [1, 0, 0.5, np.nan])
    assert si.preferred_class.values[0] == 2 and si.dims == ("unit",)


def test_class_selectivity_keeps_unit_dimension_and_warns_on_negative():
    y = np.repeat([0, 1], 4)
    act = xr.DataArray(
        np.stack([y, 1 - y], axis=1).astype(float),
        dims=("sample", "layer2_unit"),
        coords={"label": ("sample", y), "layer2_unit": [5, 6]},
    )
    si = class_selectivity(act)
    assert si.dims == ("layer2_unit",) and list(si.layer2_unit.values) == [5, 6]
    assert list(si.preferred_class.values) == [1, 0]
    with pytest.warns(RuntimeWarning, match="negative"):
        class_selectivity(-act)


def test_dprime_selectivity_analytic():
    y = np.repeat([0, 1, 2], 4)
    unit = np.array([0.0, 1, 2, 3, 10, 11, 12, 13, 0, 1, 2, 3])
    # best = class 1 (mean 11.5, var 5/3); rest = 8 values (mean 1.5, var 1.5 * 8/7 ... )
    rest = unit[y != 1]
    expected = (11.5 - rest.mean()) / np.sqrt((np.var(unit[y == 1], ddof=1) + rest.var(ddof=1)) / 2)
    d = dprime_selectivity(np.stack([unit, np.zeros(12), np.full(12, 50.0) + y], axis=1), y)
    assert d.values[0] == pytest.approx(expected)
    assert np.isnan(d.values[1])  # silent: pooled sd 0
    assert d.preferred_class.values[2] == 2


def test_selectivity_validates_input():
    with pytest.raises(ValueError, match="labels has 3 entries"):
        class_selectivity(np.ones((4, 2)), [0, 1, 0])
    with pytest.raises(ValueError, match="at least 2 classes"):
        dprime_selectivity(np.ones((4, 2)), [0, 0, 0, 0])
    with pytest.raises(ValueError, match="labels is required"):
        class_selectivity(np.ones((4, 2)))


def test_dataarray_inputs_in_either_dimension_order(x):
    act = xr.DataArray(x, dims=("sample", "layer1_unit"))
    flipped = act.transpose()
    np.testing.assert_array_equal(rdm(flipped).values, rdm(x).values)
    assert linear_cka(flipped, x, True) == pytest.approx(1)
    assert class_selectivity(np.abs(flipped), np.arange(120) % 3).dims == ("layer1_unit",)
    assert participation_ratio(flipped) == participation_ratio(x)
