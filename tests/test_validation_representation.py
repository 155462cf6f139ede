"""neurosig.analyses.representation against rsatoolbox, an independent RSA implementation.

Definitions differ in one documented place: rsatoolbox's "euclidean" RDM is the squared
Euclidean distance per unit, d^2 / p, where neurosig's is the plain distance d.
"""

from __future__ import annotations

import numpy as np
import pytest

from neurosig.analyses.representation import compare_rdms, rdm

rsatoolbox = pytest.importorskip("rsatoolbox")
from rsatoolbox.data import Dataset  # noqa: E402
from rsatoolbox.rdm import RDMs, calc_rdm, compare  # noqa: E402


@pytest.fixture
def activity():
    """Non-negative rates (Hz) of 60 units to 25 stimuli, with class structure."""
    rng = np.random.default_rng(0)
    labels = np.arange(25) % 5
    return np.abs(10 * rng.normal(size=(5, 60))[labels] + 5 * rng.normal(size=(25, 60)) + 20)


def test_correlation_rdm_matches_rsatoolbox(activity):
    expected = calc_rdm(Dataset(activity), method="correlation").get_matrices()[0]
    np.testing.assert_allclose(rdm(activity).values, expected, rtol=0, atol=1e-10)


def test_euclidean_rdm_matches_rsatoolbox_squared_per_unit(activity):
    expected = calc_rdm(Dataset(activity), method="euclidean").get_matrices()[0]
    ours = rdm(activity, "euclidean").values ** 2 / activity.shape[1]
    np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-10 * expected.max())


@pytest.mark.parametrize(
    ("method", "theirs"),
    [("spearman", "spearman"), ("pearson", "corr"), ("kendall_tau_a", "tau-a")],
)
def test_rdm_comparison_matches_rsatoolbox(activity, method, theirs):
    rng = np.random.default_rng(1)
    other = activity @ rng.normal(size=(60, 40)) + 200 * rng.normal(size=(25, 40))
    a, b = rdm(activity), rdm(other, "euclidean")
    expected = compare(RDMs(a.values[None]), RDMs(b.values[None]), method=theirs)[0, 0]
    ours = compare_rdms(a, b, method, n_boot=0, n_perm=0).value
    assert ours == pytest.approx(expected, abs=1e-10)


def test_rdm_comparison_with_ties_matches_rsatoolbox(activity):
    # a categorical model RDM (same class 0, else 1) has many ties
    labels = np.arange(25) % 5
    model = (labels[:, None] != labels[None, :]).astype(float)
    a = rdm(activity)
    for method, theirs in (("spearman", "spearman"), ("kendall_tau_a", "tau-a")):
        expected = compare(RDMs(a.values[None]), RDMs(model[None]), method=theirs)[0, 0]
        ours = compare_rdms(a, model, method, n_boot=0, n_perm=0).value
        assert ours == pytest.approx(expected, abs=1e-10)
