"""Representational geometry, dimensionality and selectivity of layer activity (criteria 14-16).

Every function takes a representation: an activity matrix with one row per stimulus and one
column per unit, either a numpy array or an ``xr.DataArray`` with a ``"sample"`` dimension and a
unit dimension (as :func:`neurosig.results.activity` reads from a training Result, in Hz for
spiking networks and dimensionless for rate networks). Outputs with labelled axes are
``xr.DataArray``.

* geometry: :func:`rdm`, :func:`compare_rdms` (with a stimulus bootstrap and a permutation
  null), :func:`linear_cka`, :func:`cka_matrix`, :func:`procrustes_distance`,
  :func:`procrustes_cv`;
* linear readout: :func:`decodability`, :func:`decodability_by_layer`;
* dimensionality: :func:`participation_ratio`;
* selectivity: :func:`class_selectivity`, :func:`dprime_selectivity`.

Two pitfalls of these measures are reproduced by the tests: the biased linear CKA of two
unrelated random 30 x 2000 matrices is about 0.986 (the debiased estimator is about 0), and an
alignment fitted and scored on the same stimuli overfits to about 0 distance when there are more
units than stimuli. Geometry values are relative: compare them between untrained and trained
networks, never against an absolute reference.

Example
-------
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(100, 20))
>>> round(linear_cka(x, 3 * x @ np.linalg.qr(rng.normal(size=(20, 20)))[0]), 6)
1.0
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import xarray as xr
from scipy import stats
from scipy.spatial.distance import pdist, squareform

__all__ = [
    "Decodability",
    "RDMComparison",
    "class_selectivity",
    "cka_matrix",
    "compare_rdms",
    "decodability",
    "decodability_by_layer",
    "dprime_selectivity",
    "linear_cka",
    "participation_ratio",
    "procrustes_cv",
    "procrustes_distance",
    "rdm",
]

Representation = np.ndarray | xr.DataArray
Layers = Sequence[Representation] | Mapping[str, Representation]
RNG = np.random.Generator | int | None

# Bootstrap samples are drawn in chunks of at most this many gathered values (memory bound).
_CHUNK_VALUES = 4_000_000
# Eigenvalues of a Gram matrix below this fraction of the largest count as zero (rank).
_RANK_TOL = 1e-10


# --------------------------------------------------------------------------------------------
# input handling


def _matrix(activity: Representation, name: str) -> np.ndarray:
    """The (stimulus, unit) float64 matrix of ``activity``; ``name`` is used in errors."""
    if isinstance(activity, xr.DataArray):
        if activity.ndim != 2:
            raise ValueError(f"{name} must have 2 dimensions (sample, unit), got {activity.dims}")
        if "sample" in activity.dims and activity.dims[0] != "sample":
            activity = activity.transpose("sample", ...)
        values = activity.values
    else:
        values = np.asarray(activity)
        if values.ndim != 2:
            raise ValueError(f"{name} must be 2-D (stimulus, unit), got shape {values.shape}")
    values = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return values


def _unit_dim(activity: Representation) -> str:
    if not isinstance(activity, xr.DataArray):
        return "unit"
    if "sample" in activity.dims:
        return next(d for d in activity.dims if d != "sample")
    return activity.dims[1]


def _same_stimuli(x: np.ndarray, y: np.ndarray, name: str, ref: str) -> None:
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"{name} has {x.shape[0]} stimuli but {ref} has {y.shape[0]}; the rows of both "
            "must be the same stimuli"
        )


def _labels(labels: np.ndarray | xr.DataArray | None, activity: Representation, n: int):
    """Integer class labels per stimulus: given, or the ``label`` coordinate of ``activity``."""
    if labels is None:
        if isinstance(activity, xr.DataArray) and "label" in activity.coords:
            labels = activity["label"]
        else:
            raise ValueError("labels is required (activity has no 'label' coordinate)")
    labels = np.asarray(labels).ravel()
    if labels.shape[0] != n:
        raise ValueError(f"labels has {labels.shape[0]} entries but activity has {n} stimuli")
    return labels


def _layer_items(layers: Layers, name: str) -> list[tuple[object, Representation]]:
    if isinstance(layers, Mapping):
        items = list(layers.items())
    else:
        items = list(enumerate(layers, start=1))
    if not items:
        raise ValueError(f"{name} is empty")
    return items


# --------------------------------------------------------------------------------------------
# representational dissimilarity matrices


def rdm(
    activity: Representation, metric: Literal["correlation", "euclidean"] = "correlation"
) -> xr.DataArray:
    r"""Representational dissimilarity matrix between the stimulus patterns of one layer.

    With :math:`x_i` the activity pattern (over units) evoked by stimulus :math:`i`:

    * ``"correlation"``: :math:`d_{ij} = 1 - r(x_i, x_j)`, one minus the Pearson correlation
      across units (dimensionless, in [0, 2]); identical to rsatoolbox's ``"correlation"``.
    * ``"euclidean"``: :math:`d_{ij} = \lVert x_i - x_j \rVert_2`, the plain (not squared)
      Euclidean distance, in the units of the activity (Hz for spiking networks). rsatoolbox's
      ``"euclidean"`` is the squared distance per unit, :math:`d_{ij}^2 / p` for :math:`p`
      units.

    A constant pattern (e.g. a stimulus that silences the layer) has no correlation with
    anything: its row and column are NaN, with a warning.

    Parameters
    ----------
    activity : ndarray or DataArray, shape (stimulus, unit)
        Activity matrix; a DataArray's ``sample`` and ``label`` coordinates are carried over.
    metric : {"correlation", "euclidean"}
        Dissimilarity measure.

    Returns
    -------
    DataArray, dims ("stimulus", "stimulus_")
        Symmetric matrix with a zero diagonal.

    References
    ----------
    Kriegeskorte, N., Mur, M. & Bandettini, P. (2008). Representational similarity analysis -
    connecting the branches of systems neuroscience. Front. Syst. Neurosci. 2, 4.

    Examples
    --------
    >>> rdm(np.array([[1.0, 2, 3], [2, 4, 6], [3, 2, 1]])).round(12).values[0].tolist()
    [0.0, 0.0, 2.0]
    """
    x = _matrix(activity, "activity")
    n = x.shape[0]
    if metric == "correlation":
        centred = x - x.mean(axis=1, keepdims=True)
        norms = np.sqrt(np.einsum("ij,ij->i", centred, centred))
        constant = norms <= 1e-12 * max(1.0, np.abs(x).max(initial=0.0))
        if constant.any():
            warnings.warn(
                f"{constant.sum()} of {n} stimulus patterns are constant across units; their "
                "correlation distances are NaN",
                RuntimeWarning,
                stacklevel=2,
            )
        with np.errstate(invalid="ignore", divide="ignore"):
            unit = centred / norms[:, None]
        d = 1.0 - unit @ unit.T
        d[constant, :] = np.nan
        d[:, constant] = np.nan
        d[np.diag_indices(n)] = np.where(constant, np.nan, 0.0)
    elif metric == "euclidean":
        # differences, not |a|^2 + |b|^2 - 2 a.b, so that near-identical patterns get ~0
        d = squareform(pdist(x))
    else:
        raise ValueError(f"metric must be 'correlation' or 'euclidean', got {metric!r}")
    coords = {}
    if isinstance(activity, xr.DataArray) and "sample" in activity.dims:
        sample = activity["sample"].values
        coords = {"stimulus": sample, "stimulus_": sample}
        if "label" in activity.coords:
            label = activity["label"].values
            coords |= {"label": ("stimulus", label), "label_": ("stimulus_", label)}
    units = "1"
    if metric == "euclidean" and isinstance(activity, xr.DataArray):
        units = activity.attrs.get("units", "1")
    return xr.DataArray(
        d,
        dims=("stimulus", "stimulus_"),
        coords=coords,
        name="rdm",
        attrs={"metric": metric, "units": units},
    )


@dataclass(frozen=True)
class RDMComparison:
    """Similarity of two RDMs with a bootstrap confidence interval and a permutation p-value.

    Attributes
    ----------
    value : float
        Rank (or linear) correlation of the upper triangles.
    low, high : float
        Percentile bootstrap interval over stimuli (NaN when ``n_boot`` is 0).
    p_value : float
        One-sided permutation p-value for "more similar than chance" (NaN when ``n_perm`` is 0).
    n_stimuli : int
        Number of stimuli (rows) of each RDM.
    method : str
        Correlation used.
    """

    value: float
    low: float
    high: float
    p_value: float
    n_stimuli: int
    method: str


def _square(matrix: Representation, name: str) -> np.ndarray:
    d = np.asarray(matrix.values if isinstance(matrix, xr.DataArray) else matrix, dtype=float)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise ValueError(f"{name} must be a square RDM, got shape {d.shape}")
    if d.shape[0] < 3:
        raise ValueError(f"{name} must compare at least 3 stimuli, got {d.shape[0]}")
    if np.isnan(d[np.triu_indices(d.shape[0], 1)]).any():
        raise ValueError(f"{name} contains NaN dissimilarities (constant activity patterns?)")
    return d


def _corr(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation of two vectors (two-pass, for the reported value)."""
    x, y = x - x.mean(), y - y.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        return float((x @ y) / np.sqrt((x @ x) * (y @ y)))


def _masked_corr_rows(x: np.ndarray, y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of ``x`` with the same row of ``y`` over ``mask``.

    One pass of sums: the callers keep values near zero (ranks, or values minus their mean), so
    the cancellation in sum(x^2) - sum(x)^2 / n stays negligible.
    """
    w = mask.astype(float)
    x, y = x * w, y * w  # masked entries are finite, so zeroing them is enough
    count = w.sum(axis=1)
    sx, sy = x.sum(axis=1), y.sum(axis=1)
    sxy = np.einsum("ij,ij->i", x, y) - sx * sy / count
    sxx = np.einsum("ij,ij->i", x, x) - sx * sx / count
    syy = np.einsum("ij,ij->i", y, y) - sy * sy / count
    with np.errstate(invalid="ignore", divide="ignore"):
        return sxy / np.sqrt(sxx * syy)


def _dense_codes(d: np.ndarray) -> np.ndarray:
    """Square matrix of the dense ranks (0, 1, ...) of the upper-triangle entries of ``d``."""
    n = d.shape[0]
    iu, ju = np.triu_indices(n, 1)
    codes = np.zeros((n, n), dtype=np.int64)
    codes[iu, ju] = np.unique(d[iu, ju], return_inverse=True)[1]
    codes[ju, iu] = codes[iu, ju]
    return codes


def _rank_rows(codes: np.ndarray) -> np.ndarray:
    """Average ranks (1-based, ties share their mean rank) along the rows of integer ``codes``.

    Sorting the codes with each entry's column packed into the low bits gives the argsort at
    the price of a plain integer sort, several times faster than ``np.argsort``.
    """
    rows, cols = codes.shape
    bits = int(cols).bit_length()
    keys = np.sort((codes << bits) | np.arange(cols), axis=1)
    ordered = keys >> bits
    start = np.ones(codes.shape, dtype=bool)
    start[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    start = start.ravel()  # every row opens a group, so no group spans two rows
    first = np.flatnonzero(start)
    size = np.diff(np.append(first, rows * cols))
    mean_rank = first % cols + (size + 1) / 2
    ranks = np.empty(rows * cols)
    column = (keys & ((1 << bits) - 1)) + (np.arange(rows) * cols)[:, None]
    ranks[column.ravel()] = np.repeat(mean_rank, size)
    return ranks.reshape(rows, cols)


def _kendall_tau_a(x: np.ndarray, y: np.ndarray) -> float:
    # scipy gives tau-b = (C - D) / sqrt((n0 - t_x)(n0 - t_y)); tau-a = (C - D) / n0
    n0 = x.size * (x.size - 1) / 2
    ties_x = sum(c * (c - 1) / 2 for c in np.unique(x, return_counts=True)[1])
    ties_y = sum(c * (c - 1) / 2 for c in np.unique(y, return_counts=True)[1])
    if ties_x == n0 or ties_y == n0:
        return 0.0
    tau_b = stats.kendalltau(x, y).statistic
    return float(tau_b * np.sqrt((n0 - ties_x) * (n0 - ties_y)) / n0)


def _similarity(x: np.ndarray, y: np.ndarray, method: str) -> float:
    if method == "kendall_tau_a":
        return _kendall_tau_a(x, y)
    if method == "spearman":
        x, y = stats.rankdata(x), stats.rankdata(y)
    return _corr(x, y)


def compare_rdms(
    a: Representation,
    b: Representation,
    method: Literal["spearman", "pearson", "kendall_tau_a"] = "spearman",
    n_boot: int = 1000,
    n_perm: int = 1000,
    rng: RNG = None,
    *,
    max_pairs: int = 20_000,
    confidence: float = 0.95,
) -> RDMComparison:
    r"""Correlation between two RDMs of the same stimuli, with bootstrap CI and permutation null.

    The value is the correlation between the upper triangles :math:`\{a_{ij}\}_{i<j}` and
    :math:`\{b_{ij}\}_{i<j}`: Spearman's :math:`\rho` (Pearson correlation of the average ranks,
    identical to rsatoolbox's ``"spearman"``), Pearson's :math:`r` (rsatoolbox ``"corr"``) or
    Kendall's :math:`\tau_a = (C - D) / \binom{m}{2}` over the :math:`m` pairs (rsatoolbox
    ``"tau-a"``, recommended when a model RDM has many ties).

    Confidence interval: bootstrap over stimuli (Nili et al. 2014; Schuett et al. 2023). Each
    sample draws :math:`n` stimuli with replacement, builds both RDMs on the drawn stimuli and
    drops the entries that pair a stimulus with its own copy (their dissimilarity is 0 by
    construction, not a measurement); ``low``/``high`` are the percentiles of the recomputed
    correlation. All entries are used; no pairs are subsampled. Pearson samples are exact
    and cheap for any size: the sample's sums over entries are quadratic forms
    :math:`c^\top F c` in the draw counts :math:`c` of the stimuli. Spearman samples are ranked
    anew when the RDMs have at most ``max_pairs`` entries; above that (n > 200 stimuli by
    default) they are the Pearson correlation of the full-RDM ranks over the sample's entries,
    which uses the same quadratic forms and differs from re-ranking by far less than the
    bootstrap spread (the two correlate at 0.9999 over samples of 1,000 stimuli, with the same
    sd; tested). 1,000 samples of 1,000 stimuli take about a second.

    p-value: permutation null of the stimulus labels of ``b`` (the Mantel test),
    :math:`p = (1 + \#\{\rho_\text{null} \geq \rho_\text{obs}\}) / (1 + n_\text{perm})`,
    one-sided for "more similar than chance". When an RDM has more than ``max_pairs`` entries,
    the permutation statistic is the correlation (of the full-RDM ranks for Spearman) on one
    random subset of ``max_pairs`` entries, for the observed and every permuted arrangement, so
    the test stays exact while costing O(``max_pairs``) per permutation instead of O(n^2).

    Parameters
    ----------
    a, b : ndarray or DataArray, shape (stimulus, stimulus)
        Square RDMs of the same stimuli in the same order (e.g. from :func:`rdm`).
    method : {"spearman", "pearson", "kendall_tau_a"}
        Correlation of the upper triangles. Kendall's tau loops in Python over resamples
        (:math:`O(m \log m)` each): use it with few stimuli or small ``n_boot``/``n_perm``.
    n_boot, n_perm : int
        Bootstrap samples and permutations (0 skips the CI or the p-value; they are NaN).
    rng : Generator, int or None
        Random generator or seed for the bootstrap, entry subset and permutations.
    max_pairs : int
        Largest RDM (in entries) whose Spearman bootstrap samples are ranked anew, and most
        entries a permutation statistic is computed on.
    confidence : float
        Coverage of the percentile interval.

    Returns
    -------
    RDMComparison

    References
    ----------
    Nili, H. et al. (2014). A toolbox for representational similarity analysis. PLoS Comput.
    Biol. 10, e1003553.
    Schuett, H. H., Kipnis, A. D., Diedrichsen, J. & Kriegeskorte, N. (2023). Statistical
    inference on representational geometries. eLife 12, e82566.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(40, 30))
    >>> res = compare_rdms(rdm(x), rdm(x + 0.5 * rng.normal(size=x.shape)), rng=0)
    >>> res.value > 0.5 and res.low < res.value < res.high and res.p_value < 0.01
    True
    """
    if method not in ("spearman", "pearson", "kendall_tau_a"):
        raise ValueError(f"method must be 'spearman', 'pearson' or 'kendall_tau_a', not {method!r}")
    da, db = _square(a, "a"), _square(b, "b")
    if da.shape != db.shape:
        raise ValueError(f"b compares {db.shape[0]} stimuli but a compares {da.shape[0]}")
    rng = np.random.default_rng(rng)
    n = da.shape[0]
    iu, ju = np.triu_indices(n, 1)
    value = _similarity(da[iu, ju], db[iu, ju], method)
    low = high = p_value = np.nan
    if n_boot > 0:
        boot = _bootstrap(da, db, method, n_boot, rng, max_pairs)
        tail = 50 * (1 - confidence)
        low, high = (float(v) for v in np.nanpercentile(boot, [tail, 100 - tail]))
    if n_perm > 0:
        observed, null = _permutation_null(da, db, method, n_perm, rng, max_pairs)
        # a permutation that reproduces the observed arrangement must count as ">=" despite
        # rounding
        p_value = (1 + np.count_nonzero(null >= observed - 1e-12)) / (1 + n_perm)
    return RDMComparison(float(value), low, high, float(p_value), n, method)


def _bootstrap(da, db, method, n_boot, rng, max_pairs) -> np.ndarray:
    """Correlations of the two RDMs over ``n_boot`` bootstrap samples of the stimuli."""
    n = da.shape[0]
    idx = rng.integers(n, size=(n_boot, n))
    pa, pb = np.triu_indices(n, 1)
    if method == "kendall_tau_a":
        out = np.empty(n_boot)
        for k, row in enumerate(idx):
            sa, sb = row[pa], row[pb]
            valid = sa != sb
            out[k] = _kendall_tau_a(da[sa, sb][valid], db[sa, sb][valid])
        return out
    if method == "spearman" and pa.size <= max_pairs:
        return _bootstrap_reranked(da, db, idx)
    fa, fb = da, db
    if method == "spearman":
        fa, fb = np.zeros((n, n)), np.zeros((n, n))
        fa[pa, pb], fb[pa, pb] = stats.rankdata(da[pa, pb]), stats.rankdata(db[pa, pb])
    # a bootstrap sample holds the pair of distinct stimuli (i, j) c_i c_j times (c: how often
    # each was drawn), so its sums over entries are quadratic forms c^T F c over symmetric F
    # with a zero diagonal (which drops a stimulus paired with its own copy)
    fa = np.triu(fa - fa[pa, pb].mean(), 1)  # centred: keeps the one-pass sums accurate
    fb = np.triu(fb - fb[pa, pb].mean(), 1)
    fa, fb = fa + fa.T, fb + fb.T
    rows = np.arange(n_boot)[:, None]
    counts = np.bincount((idx + n * rows).ravel(), minlength=n_boot * n).reshape(n_boot, n)
    counts = counts.astype(float)

    def total(f):
        return np.einsum("ij,ij->i", counts @ f, counts)

    s1, sa, sb = total(1.0 - np.eye(n)), total(fa), total(fb)
    saa, sbb, sab = total(fa * fa), total(fb * fb), total(fa * fb)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sab - sa * sb / s1) / np.sqrt((saa - sa * sa / s1) * (sbb - sb * sb / s1))


def _bootstrap_reranked(da, db, idx) -> np.ndarray:
    """Spearman correlations with each bootstrap RDM ranked anew (cost: samples x n^2)."""
    n_boot, n = idx.shape
    pa, pb = np.triu_indices(n, 1)
    # ranks depend only on the order of the values: integer codes sort much faster
    ca, cb = _dense_codes(da), _dense_codes(db)
    out = np.empty(n_boot)
    chunk = max(1, _CHUNK_VALUES // pa.size)
    for start in range(0, n_boot, chunk):
        sa, sb = idx[start : start + chunk, pa], idx[start : start + chunk, pb]
        valid = sa != sb
        # the self-pairs get a code above all valid entries (codes are < n^2 / 2), so the
        # valid ranks are unchanged
        ra = _rank_rows(np.where(valid, ca[sa, sb], n * n)) - pa.size / 2
        rb = _rank_rows(np.where(valid, cb[sa, sb], n * n)) - pa.size / 2
        out[start : start + chunk] = _masked_corr_rows(ra, rb, valid)
    return out


def _permutation_null(da, db, method, n_perm, rng, max_pairs) -> tuple[float, np.ndarray]:
    """The statistic the permutation test uses and its null distribution."""
    n = da.shape[0]
    iu, ju = np.triu_indices(n, 1)
    if method == "kendall_tau_a":
        x = da[iu, ju]
        null = np.empty(n_perm)
        for k in range(n_perm):
            p = rng.permutation(n)
            null[k] = _kendall_tau_a(x, db[p[iu], p[ju]])
        return _kendall_tau_a(x, db[iu, ju]), null
    x, y = da[iu, ju], db[iu, ju]
    if method == "spearman":
        x, y = stats.rankdata(x), stats.rankdata(y)
    x, y = x - x.mean(), y - y.mean()
    sa, sb = np.zeros((n, n)), np.zeros((n, n))
    sa[iu, ju] = x
    sb[iu, ju] = y
    sa += sa.T
    sb += sb.T
    if iu.size > max_pairs:
        # the statistic is the correlation on a fixed random subset of entries, for the
        # observed and the permuted arrangements alike, so the test stays exact
        keep = rng.choice(iu.size, max_pairs, replace=False)
        pa, pb = iu[keep], ju[keep]
        ones = np.ones((1, pa.size), dtype=bool)
        observed = _masked_corr_rows(sa[pa, pb][None], sb[pa, pb][None], ones)[0]
        null = np.empty(n_perm)
        chunk = max(1, _CHUNK_VALUES // max_pairs)
        for start in range(0, n_perm, chunk):
            p = np.argsort(rng.random((min(chunk, n_perm - start), n)), axis=1)
            va = np.broadcast_to(sa[pa, pb], (p.shape[0], pa.size))
            null[start : start + p.shape[0]] = _masked_corr_rows(
                va, sb[p[:, pa], p[:, pb]], np.broadcast_to(ones, va.shape)
            )
        return observed, null
    # permuting stimuli only reorders the entries of b: mean and norm stay, and the dot
    # product of the centred upper triangles is half the sum over the symmetric matrices
    norm = np.sqrt((x @ x) * (y @ y))
    null = np.empty(n_perm)
    chunk = max(1, _CHUNK_VALUES // (n * n))
    for start in range(0, n_perm, chunk):
        p = np.argsort(rng.random((min(chunk, n_perm - start), n)), axis=1)
        null[start : start + p.shape[0]] = np.einsum(
            "ij,kij->k", sa, sb[p[:, :, None], p[:, None, :]]
        )
    return _corr(x, y), 0.5 * null / norm


# --------------------------------------------------------------------------------------------
# centred kernel alignment


def _hsic_feature(x: np.ndarray, y: np.ndarray, debiased: bool) -> float:
    """HSIC of linear kernels from centred features (cost O(n p q))."""
    n = x.shape[0]
    cross = np.sum((x.T @ y) ** 2)  # tr(K L) = |X^T Y|_F^2
    if not debiased:
        return cross / (n - 1) ** 2
    kd, ld = np.einsum("ij,ij->i", x, x), np.einsum("ij,ij->i", y, y)  # diagonals of K, L
    sx, sy = x.sum(axis=0), y.sum(axis=0)
    k1, l1 = x @ sx - kd, y @ sy - ld  # K~ 1 and L~ 1 (K~: K with zero diagonal)
    return _hsic_unbiased(n, cross - kd @ ld, k1.sum(), l1.sum(), k1 @ l1)


def _hsic_gram(k: np.ndarray, l: np.ndarray, debiased: bool) -> float:  # noqa: E741
    """HSIC of linear kernels from the Gram matrices of centred features (cost O(n^2))."""
    n = k.shape[0]
    if not debiased:
        return np.sum(k * l) / (n - 1) ** 2
    kd, ld = np.diagonal(k), np.diagonal(l)
    k1, l1 = k.sum(axis=1) - kd, l.sum(axis=1) - ld
    return _hsic_unbiased(n, np.sum(k * l) - kd @ ld, k1.sum(), l1.sum(), k1 @ l1)


def _hsic_unbiased(n: int, tr_kl: float, sum_k: float, sum_l: float, k1l1: float) -> float:
    # Song et al. (2012), eq. 5, written with sums of the zero-diagonal Gram matrices
    return (tr_kl + sum_k * sum_l / ((n - 1) * (n - 2)) - 2.0 * k1l1 / (n - 2)) / (n * (n - 3))


def _use_gram(n: int, p: int, q: int) -> bool:
    # Gram form costs about n^2 (p + q), feature form n (p q + p^2 + q^2)
    return n * (p + q) < p * q + p * p + q * q


def _cka_from_hsic(xy: float, xx: float, yy: float) -> float:
    if xx <= 0 or yy <= 0:
        warnings.warn(
            "a self-similarity HSIC is not positive (constant representation, or too few "
            "stimuli for the debiased estimator); CKA is NaN",
            RuntimeWarning,
            stacklevel=3,
        )
        return np.nan
    return float(xy / np.sqrt(xx * yy))


def linear_cka(
    x: Representation,
    y: Representation,
    debiased: bool = False,
    *,
    form: Literal["auto", "gram", "feature"] = "auto",
) -> float:
    r"""Linear centred kernel alignment between two representations of the same stimuli.

    .. math:: \mathrm{CKA}(X, Y) = \frac{\mathrm{HSIC}(K, L)}
              {\sqrt{\mathrm{HSIC}(K, K)\,\mathrm{HSIC}(L, L)}},
              \qquad K = X X^\top,\ L = Y Y^\top,

    with :math:`X, Y` centred over stimuli. The biased estimator uses
    :math:`\mathrm{HSIC}_0 = \mathrm{tr}(K H L H)/(n-1)^2`, so that
    :math:`\mathrm{CKA} = \lVert Y^\top X\rVert_F^2 / (\lVert X^\top X\rVert_F
    \lVert Y^\top Y\rVert_F)` (Kornblith et al. 2019). It is strongly biased upwards when units
    outnumber stimuli: two unrelated random 30 x 2000 matrices give about 0.986. The debiased
    estimator uses the unbiased U-statistic :math:`\mathrm{HSIC}_1` (Song et al. 2012, eq. 5),
    with :math:`\tilde K` the Gram matrix with zeroed diagonal,

    .. math:: \mathrm{HSIC}_1 = \frac{1}{n(n-3)}\Big[\mathrm{tr}(\tilde K \tilde L)
              + \frac{\mathbf 1^\top \tilde K \mathbf 1\, \mathbf 1^\top \tilde L \mathbf 1}
              {(n-1)(n-2)} - \frac{2}{n-2}\mathbf 1^\top \tilde K \tilde L \mathbf 1\Big],

    as recommended by Nguyen et al. (2021); it is about 0 for unrelated representations and can
    be slightly negative. Both are invariant to orthogonal transforms and isotropic scaling.

    Parameters
    ----------
    x, y : ndarray or DataArray, shape (stimulus, unit)
        Representations of the same stimuli; unit counts may differ.
    debiased : bool
        Use the unbiased HSIC estimator (needs at least 4 stimuli).
    form : {"auto", "gram", "feature"}
        Compute from n x n Gram matrices (cheap when n is smaller than the unit counts) or from
        unit x unit cross products (cheap when n is large); "auto" picks the cheaper. Both give
        the same value up to rounding.

    Returns
    -------
    float
        CKA in [0, 1] (biased); debiased values may be slightly negative. NaN, with a warning,
        if a representation is constant.

    References
    ----------
    Kornblith, S., Norouzi, M., Lee, H. & Hinton, G. (2019). Similarity of neural network
    representations revisited. ICML, PMLR 97, 3519-3529.
    Song, L., Smola, A., Gretton, A., Bedo, J. & Borgwardt, K. (2012). Feature selection via
    dependence maximization. JMLR 13, 1393-1434.
    Nguyen, T., Raghu, M. & Kornblith, S. (2021). Do wide and deep networks learn the same
    things? ICLR.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(30, 2000)), rng.normal(size=(30, 2000))
    >>> round(linear_cka(a, b), 3), abs(linear_cka(a, b, debiased=True)) < 0.1
    (0.986, True)
    """
    xm, ym = _matrix(x, "x"), _matrix(y, "y")
    _same_stimuli(ym, xm, "y", "x")
    n = xm.shape[0]
    if debiased and n < 4:
        raise ValueError(f"the debiased estimator needs at least 4 stimuli, got {n}")
    xm, ym = xm - xm.mean(axis=0), ym - ym.mean(axis=0)
    if form not in ("auto", "gram", "feature"):
        raise ValueError(f"form must be 'auto', 'gram' or 'feature', got {form!r}")
    if form == "gram" or (form == "auto" and _use_gram(n, xm.shape[1], ym.shape[1])):
        k, l = xm @ xm.T, ym @ ym.T  # noqa: E741
        terms = _hsic_gram(k, l, debiased), _hsic_gram(k, k, debiased), _hsic_gram(l, l, debiased)
    else:
        terms = (
            _hsic_feature(xm, ym, debiased),
            _hsic_feature(xm, xm, debiased),
            _hsic_feature(ym, ym, debiased),
        )
    return _cka_from_hsic(*terms)


def cka_matrix(layers_a: Layers, layers_b: Layers, debiased: bool = True) -> xr.DataArray:
    """Linear CKA between every layer of one network and every layer of another.

    Entry ``(i, j)`` is :func:`linear_cka` of layer ``i`` of ``layers_a`` and layer ``j`` of
    ``layers_b`` on the same stimuli, e.g. a signal-propagation network against the same
    architecture trained by backpropagation. Gram matrices (or centred features) are computed
    once per layer.

    Parameters
    ----------
    layers_a, layers_b : sequence or mapping of representations
        Layers as (stimulus, unit) matrices; a mapping's keys label the layers, a sequence's
        layers are numbered from 1 (as the hidden layers of a Result).
    debiased : bool
        Use the debiased estimator (default, see :func:`linear_cka`).

    Returns
    -------
    DataArray, dims ("layer_a", "layer_b")

    References
    ----------
    Kornblith, S., Norouzi, M., Lee, H. & Hinton, G. (2019). Similarity of neural network
    representations revisited. ICML, PMLR 97, 3519-3529.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(50, 10))
    >>> cka = cka_matrix([x, rng.normal(size=(50, 10))], {"h1": x}).sel(layer_b="h1")
    >>> float(cka.sel(layer_a=1)), abs(float(cka.sel(layer_a=2))) < 0.1
    (1.0, True)
    """
    items_a, items_b = _layer_items(layers_a, "layers_a"), _layer_items(layers_b, "layers_b")
    mats_a = [_matrix(v, f"layers_a[{k!r}]") for k, v in items_a]
    mats_b = [_matrix(v, f"layers_b[{k!r}]") for k, v in items_b]
    ref = mats_a[0]
    for (k, _), m in zip(items_a + items_b, mats_a + mats_b, strict=True):
        _same_stimuli(m, ref, f"layer {k!r}", f"layer {items_a[0][0]!r} of layers_a")
    n = ref.shape[0]
    if debiased and n < 4:
        raise ValueError(f"the debiased estimator needs at least 4 stimuli, got {n}")
    mats_a = [m - m.mean(axis=0) for m in mats_a]
    mats_b = [m - m.mean(axis=0) for m in mats_b]
    widest = max(m.shape[1] for m in mats_a + mats_b)
    if _use_gram(n, widest, widest):
        grams_a, grams_b = [m @ m.T for m in mats_a], [m @ m.T for m in mats_b]

        def hsic(u, v):
            return _hsic_gram(u, v, debiased)
    else:
        grams_a, grams_b = mats_a, mats_b

        def hsic(u, v):
            return _hsic_feature(u, v, debiased)

    self_a, self_b = [hsic(g, g) for g in grams_a], [hsic(g, g) for g in grams_b]
    values = np.array(
        [
            [_cka_from_hsic(hsic(ga, gb), sa, sb) for gb, sb in zip(grams_b, self_b, strict=True)]
            for ga, sa in zip(grams_a, self_a, strict=True)
        ]
    )
    return xr.DataArray(
        values,
        dims=("layer_a", "layer_b"),
        coords={"layer_a": [k for k, _ in items_a], "layer_b": [k for k, _ in items_b]},
        name="cka",
        attrs={"units": "1", "debiased": int(debiased), "long_name": "linear CKA"},
    )


# --------------------------------------------------------------------------------------------
# Procrustes shape distance


def _shape_coordinates(train: np.ndarray, test: np.ndarray, alpha: float):
    """Train and test patterns in coordinates of the training row space, partially whitened.

    Returns the train coordinates, the test coordinates and the squared norm of the test
    patterns outside the training row space (after whitening), which the fitted map cannot
    reach but which still counts in the test norm.
    """
    mean = train.mean(axis=0)
    train, test = train - mean, test - mean
    n, p = train.shape
    # orthonormal basis of the training row space from the smaller Gram matrix (eigh is much
    # cheaper than an SVD of the data)
    if n >= p:
        lam, basis = np.linalg.eigh(train.T @ train)
        keep = lam > lam[-1] * _RANK_TOL
        lam, basis = lam[keep], basis[:, keep]
    else:
        lam, u = np.linalg.eigh(train @ train.T)
        keep = lam > lam[-1] * _RANK_TOL
        lam, u = lam[keep], u[:, keep]
        basis = train.T @ (u / np.sqrt(lam))
    if lam.size == 0 or lam[-1] <= 0:
        raise ValueError("a training representation is constant across stimuli")
    zt, zs = train @ basis, test @ basis
    outside = max(np.sum(test * test) - np.sum(zs * zs), 0.0)
    if alpha < 1:
        # shrink the training covariance towards its mean eigenvalue before whitening
        lam = lam / n
        mean_lam = lam.sum() / p
        scale = np.sqrt((1 - alpha) * lam + alpha * mean_lam)
        zt, zs = zt / scale, zs / scale
        outside = outside / (alpha * mean_lam) if alpha > 0 else 0.0
    return zt, zs, outside


def _polar_factor(m: np.ndarray) -> np.ndarray:
    """Partial isometry U V^T of m = U S V^T, zero on the null space of m."""
    mu, w = np.linalg.eigh(m.T @ m)  # mu = S^2, w = V
    keep = mu > mu[-1] * _RANK_TOL
    w = w[:, keep]
    return (m @ w / np.sqrt(mu[keep])) @ w.T


def procrustes_distance(
    x_train: Representation,
    y_train: Representation,
    x_test: Representation,
    y_test: Representation,
    alpha: float = 1.0,
) -> float:
    r"""Cross-validated shape distance: align on training stimuli, score held-out stimuli.

    Following the generalised shape metrics of Williams et al. (2021): both representations are
    centred with their training means (and may be scaled to unit Frobenius norm, which leaves the
    angle below unchanged); for ``alpha < 1`` each is partially whitened with
    :math:`((1-\alpha) C + \alpha \bar\lambda I)^{-1/2}`, :math:`C` the training covariance and
    :math:`\bar\lambda` its mean eigenvalue (``alpha=1``: Procrustes, rotation-invariant;
    ``alpha=0``: CCA-like, invariant to invertible linear maps). The orthogonal map is fitted on
    the training stimuli, :math:`Q = U V^\top` from the SVD :math:`X^\top Y = U S V^\top`, and
    the score is the angular distance on the held-out stimuli

    .. math:: \theta = \arccos \frac{\langle X_\text{test} Q, Y_\text{test}\rangle_F}
              {\lVert X_\text{test}\rVert_F \lVert Y_\text{test}\rVert_F} \in [0, \pi].

    Different unit counts are handled by zero-padding the smaller representation (which keeps
    the metric properties; no PCA): the map is then a partial isometry between the two spaces.
    When the training stimuli do not span the unit space (fewer stimuli than units, or silent
    units) the map is not determined outside the span of the training patterns; it is taken to
    be zero there (the minimum-norm solution), so held-out activity outside that span counts as
    unmatched. Fitting and scoring on the same stimuli with more units than stimuli overfits to
    about 0 distance even for unrelated representations; held-out scoring does not.

    Parameters
    ----------
    x_train, y_train : ndarray or DataArray, shape (stimulus, unit)
        Training stimuli of both representations.
    x_test, y_test : ndarray or DataArray, shape (stimulus, unit)
        Held-out stimuli (same units as the training matrices).
    alpha : float
        Regularisation in [0, 1] of the partial whitening.

    Returns
    -------
    float
        Angular distance in radians (0: same shape up to rotation; pi/2: unrelated).

    References
    ----------
    Williams, A. H., Kunz, E., Kornblith, S. & Linderman, S. W. (2021). Generalized shape
    metrics on neural representations. NeurIPS 34, 4738-4750.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 10))
    >>> y = 2 * x @ np.linalg.qr(rng.normal(size=(10, 10)))[0]
    >>> round(procrustes_distance(x[:100], y[:100], x[100:], y[100:]), 6)
    0.0
    """
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    xt, yt = _matrix(x_train, "x_train"), _matrix(y_train, "y_train")
    xs, ys = _matrix(x_test, "x_test"), _matrix(y_test, "y_test")
    _same_stimuli(yt, xt, "y_train", "x_train")
    _same_stimuli(ys, xs, "y_test", "x_test")
    for name, test, train, ref in (("x_test", xs, xt, "x_train"), ("y_test", ys, yt, "y_train")):
        if test.shape[1] != train.shape[1]:
            raise ValueError(f"{name} has {test.shape[1]} units but {ref} has {train.shape[1]}")
    zxt, zxs, out_x = _shape_coordinates(xt, xs, alpha)
    zyt, zys, out_y = _shape_coordinates(yt, ys, alpha)
    q = _polar_factor(zxt.T @ zyt)
    inner = np.sum((zxs @ q) * zys)
    norm = np.sqrt((np.sum(zxs * zxs) + out_x) * (np.sum(zys * zys) + out_y))
    if norm == 0:
        raise ValueError("a held-out representation is constant (equal to the training mean)")
    return float(np.arccos(np.clip(inner / norm, -1.0, 1.0)))


def procrustes_cv(
    x: Representation,
    y: Representation,
    n_splits: int = 5,
    rng: RNG = None,
    alpha: float = 1.0,
) -> float:
    """K-fold cross-validated :func:`procrustes_distance`, averaged over folds.

    Stimuli are shuffled by ``rng`` and split into ``n_splits`` folds of (nearly) equal size;
    each fold is held out once while the map is fitted on the others, and the angular distances
    are averaged.

    Parameters
    ----------
    x, y : ndarray or DataArray, shape (stimulus, unit)
        Representations of the same stimuli.
    n_splits : int
        Number of folds (at least 2).
    rng : Generator, int or None
        Random generator or seed of the shuffle.
    alpha : float
        Regularisation of the partial whitening (see :func:`procrustes_distance`).

    Returns
    -------
    float
        Mean held-out angular distance in radians.

    References
    ----------
    Williams, A. H., Kunz, E., Kornblith, S. & Linderman, S. W. (2021). Generalized shape
    metrics on neural representations. NeurIPS 34, 4738-4750.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=(100, 200)), rng.normal(size=(100, 200))
    >>> procrustes_cv(x, y, rng=0) > 1.3  # unrelated: about pi/2 held out
    True
    """
    xm, ym = _matrix(x, "x"), _matrix(y, "y")
    _same_stimuli(ym, xm, "y", "x")
    n = xm.shape[0]
    if not 2 <= n_splits <= n:
        raise ValueError(f"n_splits must be between 2 and the {n} stimuli, got {n_splits}")
    folds = np.array_split(np.random.default_rng(rng).permutation(n), n_splits)
    distances = []
    for test in folds:
        train = np.setdiff1d(np.arange(n), test)
        distances.append(procrustes_distance(xm[train], ym[train], xm[test], ym[test], alpha))
    return float(np.mean(distances))


# --------------------------------------------------------------------------------------------
# linear readout


@dataclass(frozen=True)
class Decodability:
    """Held-out accuracy of a linear readout and the chance level it should be compared with.

    Attributes
    ----------
    accuracy : float
        Fraction of held-out stimuli classified correctly.
    chance : float
        Accuracy of always answering the most frequent training class, on the same held-out
        stimuli.
    n_train, n_test : int
        Stimuli used for fitting and for scoring.
    """

    accuracy: float
    chance: float
    n_train: int
    n_test: int


def _split(labels, train_fraction, train_idx, test_idx, rng):
    n = labels.shape[0]
    if (train_idx is None) != (test_idx is None):
        raise ValueError("give both train_idx and test_idx, or neither")
    if train_idx is not None:
        train_idx, test_idx = np.asarray(train_idx), np.asarray(test_idx)
        if np.intersect1d(train_idx, test_idx).size:
            raise ValueError("train_idx and test_idx overlap")
        return train_idx, test_idx
    if not 0 < train_fraction < 1:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    from sklearn.model_selection import train_test_split

    stratify = labels if np.unique(labels, return_counts=True)[1].min() >= 2 else None
    seed = int(np.random.default_rng(rng).integers(2**31))
    return train_test_split(
        np.arange(n), train_size=train_fraction, stratify=stratify, random_state=seed
    )


def _readout_accuracy(x, labels, train, test) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if np.unique(labels[train]).size < 2:
        raise ValueError("the training stimuli contain fewer than 2 classes")
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=0))
    model.fit(x[train], labels[train])
    accuracy = float(np.mean(model.predict(x[test]) == labels[test]))
    classes, counts = np.unique(labels[train], return_counts=True)
    chance = float(np.mean(labels[test] == classes[np.argmax(counts)]))
    return accuracy, chance


def decodability(
    activity: Representation,
    labels: np.ndarray | xr.DataArray | None = None,
    train_fraction: float = 0.5,
    rng: RNG = None,
    *,
    train_idx: np.ndarray | None = None,
    test_idx: np.ndarray | None = None,
) -> Decodability:
    r"""Held-out accuracy of a linear readout of the stimulus class from one layer.

    The readout is scikit-learn's multinomial ``LogisticRegression`` (L2, C = 1, lbfgs,
    ``random_state=0``) on features standardised with the training mean and sd, fitted on a
    stratified random ``train_fraction`` of the stimuli (or on ``train_idx``) and scored on the
    rest (or ``test_idx``):

    .. math:: \mathrm{acc} = \frac{1}{n_\text{test}} \sum_{i \in \text{test}}
              [\hat y(x_i) = y_i].

    Chance is the accuracy of always answering the most frequent training class.

    Parameters
    ----------
    activity : ndarray or DataArray, shape (stimulus, unit)
        Layer activity.
    labels : array of int, optional
        Class per stimulus; default the ``label`` coordinate of ``activity``.
    train_fraction : float
        Fraction of stimuli used to fit the readout.
    rng : Generator, int or None
        Random generator or seed of the split.
    train_idx, test_idx : array of int, optional
        Explicit split (overrides ``train_fraction`` and ``rng``).

    Returns
    -------
    Decodability

    References
    ----------
    Alain, G. & Bengio, Y. (2017). Understanding intermediate layers using linear classifier
    probes. ICLR workshop.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, 300)
    >>> x = 5 * np.eye(3)[y] + rng.normal(size=(300, 3))
    >>> decodability(x, y, rng=0).accuracy > 0.95
    True
    """
    x = _matrix(activity, "activity")
    labels = _labels(labels, activity, x.shape[0])
    train, test = _split(labels, train_fraction, train_idx, test_idx, rng)
    accuracy, chance = _readout_accuracy(x, labels, train, test)
    return Decodability(accuracy, chance, len(train), len(test))


def decodability_by_layer(
    layers: Layers,
    labels: np.ndarray | xr.DataArray | None = None,
    train_fraction: float = 0.5,
    rng: RNG = None,
) -> xr.DataArray:
    """:func:`decodability` of every layer, all on the same train/test split.

    Parameters
    ----------
    layers : sequence or mapping of representations
        Layers as (stimulus, unit) matrices of the same stimuli; a mapping's keys label the
        layers, a sequence's layers are numbered from 1.
    labels : array of int, optional
        Class per stimulus; default the ``label`` coordinate of the first layer.
    train_fraction : float
        Fraction of stimuli used to fit each readout.
    rng : Generator, int or None
        Random generator or seed of the split.

    Returns
    -------
    DataArray, dims ("layer",)
        Held-out accuracy; the chance level is in ``attrs["chance"]``.

    References
    ----------
    Alain, G. & Bengio, Y. (2017). Understanding intermediate layers using linear classifier
    probes. ICLR workshop.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 200)
    >>> acc = decodability_by_layer({"h1": np.eye(2)[y] * 4 + rng.normal(size=(200, 2))}, y)
    >>> bool(acc.sel(layer="h1") > 0.9)
    True
    """
    items = _layer_items(layers, "layers")
    mats = [_matrix(v, f"layers[{k!r}]") for k, v in items]
    for (k, _), m in zip(items, mats, strict=True):
        _same_stimuli(m, mats[0], f"layer {k!r}", f"layer {items[0][0]!r}")
    labels = _labels(labels, items[0][1], mats[0].shape[0])
    train, test = _split(labels, train_fraction, None, None, rng)
    results = [_readout_accuracy(m, labels, train, test) for m in mats]
    return xr.DataArray(
        [acc for acc, _ in results],
        dims=("layer",),
        coords={"layer": [k for k, _ in items]},
        name="decodability",
        attrs={"units": "1", "chance": results[0][1], "long_name": "held-out linear readout"},
    )


# --------------------------------------------------------------------------------------------
# dimensionality


def participation_ratio(activity: Representation, corrected: bool = True) -> float:
    r"""Participation ratio of the stimulus covariance, a linear dimensionality.

    .. math:: \mathrm{PR} = \frac{(\mathrm{tr}\, C)^2}{\mathrm{tr}(C^2)}
              = \frac{(\sum_k \lambda_k)^2}{\sum_k \lambda_k^2},

    with :math:`C` the covariance of the unit activities over stimuli and :math:`\lambda_k` its
    eigenvalues; it runs from 1 (one dimension) to the number of units (isotropic).

    The plug-in estimate (sample covariance) is biased low when stimuli are few: sampling noise
    spreads the eigenvalues, inflating :math:`\mathrm{tr}(C^2)`. With ``corrected=True``,
    numerator and denominator are replaced by unbiased U-statistics over distinct stimuli
    :math:`a, b, c, d`, both distribution-free:

    .. math:: \widehat{(\mathrm{tr}\,C)^2} = \frac{1}{4\, n^{(4)}}
              \sum_{a,b,c,d\ \text{distinct}} \lVert x_a - x_b\rVert^2 \lVert x_c - x_d\rVert^2
              = \frac{4n^2 s^2 - 4n^2 \textstyle\sum_a g_a^2 - 12 n s^2
              + 4n \textstyle\sum_a g_a^2 + 8 \lVert G\rVert_F^2 + 4 s^2}{4\, n^{(4)}},

    where :math:`n^{(4)} = n(n-1)(n-2)(n-3)`, :math:`G = X X^\top` for centred :math:`X`,
    :math:`g_a = G_{aa}`, :math:`s = \sum_a g_a`, and
    :math:`\widehat{\mathrm{tr}(C^2)} = \mathrm{HSIC}_1(G, G)`, the unbiased HSIC estimator of
    Song et al. (2012) (see :func:`linear_cka`), which is unbiased for
    :math:`\lVert C\rVert_F^2`. The ratio of the two is consistent and much less biased than the
    plug-in (an isotropic Gaussian with d = 50 and n = 100 gives about 50 instead of about 33);
    it can exceed the number of units by sampling noise.

    Parameters
    ----------
    activity : ndarray or DataArray, shape (stimulus, unit)
        Layer activity.
    corrected : bool
        Use the finite-sample correction (needs at least 4 stimuli).

    Returns
    -------
    float
        Participation ratio (NaN, with a warning, for a constant representation).

    References
    ----------
    Gao, P. et al. (2017). A theory of multineuronal dimensionality, dynamics and measurement.
    bioRxiv 214262.
    Song, L., Smola, A., Gretton, A., Bedo, J. & Borgwardt, K. (2012). Feature selection via
    dependence maximization. JMLR 13, 1393-1434.

    Examples
    --------
    >>> x = np.random.default_rng(0).normal(size=(100, 50))
    >>> participation_ratio(x, corrected=False) < 40 < participation_ratio(x)
    True
    """
    x = _matrix(activity, "activity")
    n = x.shape[0]
    if n < (4 if corrected else 2):
        raise ValueError(f"activity has {n} stimuli; the participation ratio needs more")
    x = x - x.mean(axis=0)
    gram_form = n < x.shape[1]
    frob = np.sum((x @ x.T) ** 2) if gram_form else np.sum((x.T @ x) ** 2)  # |G|_F = |X^T X|_F
    g = np.einsum("ij,ij->i", x, x)
    s = g.sum()
    if corrected:
        n4 = n * (n - 1) * (n - 2) * (n - 3)
        sq = g @ g
        numerator = (
            4 * n * n * s * s - 4 * n * n * sq - 12 * n * s * s + 4 * n * sq + 8 * frob + 4 * s * s
        ) / (4 * n4)
        denominator = _hsic_feature(x, x, debiased=True)
    else:
        numerator, denominator = s * s, frob
    if denominator <= 0 or s == 0:
        warnings.warn(
            "the covariance estimate is zero or not positive (constant activity?); the "
            "participation ratio is NaN",
            RuntimeWarning,
            stacklevel=2,
        )
        return np.nan
    return float(numerator / denominator)


# --------------------------------------------------------------------------------------------
# selectivity


def _class_means(x: np.ndarray, labels: np.ndarray):
    classes, index = np.unique(labels, return_inverse=True)
    if classes.size < 2:
        raise ValueError("labels must contain at least 2 classes")
    onehot = np.zeros((x.shape[0], classes.size))
    onehot[np.arange(x.shape[0]), index] = 1.0
    counts = onehot.sum(axis=0)
    return classes, onehot, counts, (onehot.T @ x) / counts[:, None]


def _per_unit(values, activity, name, long_name, preferred) -> xr.DataArray:
    dim = _unit_dim(activity)
    coords = {}
    if isinstance(activity, xr.DataArray) and dim in activity.coords:
        coords[dim] = activity[dim].values
    coords["preferred_class"] = (dim, preferred)
    return xr.DataArray(
        values, dims=(dim,), coords=coords, name=name, attrs={"units": "1", "long_name": long_name}
    )


def class_selectivity(
    activity: Representation, labels: np.ndarray | xr.DataArray | None = None
) -> xr.DataArray:
    r"""Class selectivity index of every unit (Morcos et al. 2018).

    .. math:: \mathrm{SI} = \frac{\mu_\max - \mu_\text{rest}}{\mu_\max + \mu_\text{rest}},

    with :math:`\mu_\max` the largest class-mean activity of the unit and
    :math:`\mu_\text{rest}` the mean of the other class means. For non-negative activity (firing
    rates) it runs from 0 (same mean response to every class) to 1 (responds to one class only).
    A silent unit (all class means 0) has no defined selectivity: NaN, so that distributions
    count it apart instead of as untuned. The index is meant for non-negative activity; with
    negative values it is unbounded, and a warning is raised.

    Parameters
    ----------
    activity : ndarray or DataArray, shape (stimulus, unit)
        Layer activity (e.g. rates in Hz).
    labels : array of int, optional
        Class per stimulus; default the ``label`` coordinate of ``activity``.

    Returns
    -------
    DataArray, dims (unit,)
        Selectivity per unit, with its ``preferred_class`` as a coordinate.

    References
    ----------
    Morcos, A. S., Barrett, D. G. T., Rabinowitz, N. C. & Botvinick, M. (2018). On the
    importance of single directions for generalization. ICLR.

    Examples
    --------
    >>> y = np.repeat([0, 1, 2], 4)
    >>> class_selectivity(np.stack([y == 1, np.ones(12)], axis=1), y).values.tolist()
    [1.0, 0.0]
    """
    x = _matrix(activity, "activity")
    labels = _labels(labels, activity, x.shape[0])
    if (x < 0).any():
        warnings.warn(
            "activity has negative values; the class selectivity index assumes non-negative "
            "activity and is unbounded otherwise",
            RuntimeWarning,
            stacklevel=2,
        )
    classes, _, _, means = _class_means(x, labels)
    best = np.argmax(means, axis=0)
    mu_max = means.max(axis=0)
    mu_rest = (means.sum(axis=0) - mu_max) / (classes.size - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = (mu_max - mu_rest) / (mu_max + mu_rest)
    values[(mu_max + mu_rest) == 0] = np.nan
    return _per_unit(
        values, activity, "class_selectivity", "class selectivity index", classes[best]
    )


def dprime_selectivity(
    activity: Representation, labels: np.ndarray | xr.DataArray | None = None
) -> xr.DataArray:
    r"""Discriminability d' of every unit's preferred class against all other stimuli.

    .. math:: d' = \frac{\mu_\text{best} - \mu_\text{rest}}
              {\sqrt{(\sigma_\text{best}^2 + \sigma_\text{rest}^2)/2}},

    where "best" is the class with the largest mean activity of the unit and "rest" pools all
    stimuli of the other classes (means and variances over stimuli, variances with ddof = 1).
    Units whose pooled sd is 0 (e.g. silent units) get NaN. d' is non-negative by construction.

    Parameters
    ----------
    activity : ndarray or DataArray, shape (stimulus, unit)
        Layer activity.
    labels : array of int, optional
        Class per stimulus; default the ``label`` coordinate of ``activity``.

    Returns
    -------
    DataArray, dims (unit,)
        d' per unit, with its ``preferred_class`` as a coordinate.

    References
    ----------
    Green, D. M. & Swets, J. A. (1966). Signal detection theory and psychophysics. Wiley.

    Examples
    --------
    >>> y = np.repeat([0, 1], 3)
    >>> float(dprime_selectivity(np.array([[0.0], [1], [2], [4], [5], [6]]), y)[0])
    4.0
    """
    x = _matrix(activity, "activity")
    labels = _labels(labels, activity, x.shape[0])
    classes, onehot, counts, means = _class_means(x, labels)
    best = np.argmax(means, axis=0)
    in_best = onehot[:, best]  # (stimulus, unit): stimulus belongs to the unit's best class
    n_best = counts[best]
    n_rest = x.shape[0] - n_best
    if (n_best < 2).any() or (n_rest < 2).any():
        raise ValueError("every class and its complement need at least 2 stimuli for d'")
    mu_best = (in_best * x).sum(axis=0) / n_best
    mu_rest = ((1 - in_best) * x).sum(axis=0) / n_rest
    # two-pass variances: rates in Hz have large means, where sum(x^2) - n mean^2 cancels
    var_best = (in_best * (x - mu_best) ** 2).sum(axis=0) / (n_best - 1)
    var_rest = ((1 - in_best) * (x - mu_rest) ** 2).sum(axis=0) / (n_rest - 1)
    sd = np.sqrt((var_best + var_rest) / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(sd > 0, (mu_best - mu_rest) / sd, np.nan)
    return _per_unit(values, activity, "dprime_selectivity", "d' best class vs rest", classes[best])
