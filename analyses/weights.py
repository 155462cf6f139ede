"""Statistics of learned weights: Dale's law, the E:I ratio, the weight distribution.

A weight matrix is laid out as :func:`neurosig.results.weights` reads it from a Result, with
dims (``{block}_out``, ``{block}_in``), so the outgoing weights of presynaptic unit ``j`` are the
column ``W[:, j]``. Zero weights (absent synapses of a sparse network) carry no sign and are
ignored.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import stats

__all__ = [
    "ALTERNATIVES",
    "LOGNORMAL_Z",
    "RANDOM_KINDS",
    "dale_fraction",
    "excitatory_fraction",
    "outgoing_signs",
    "random_weights",
    "weight_lognormal",
]


def outgoing_signs(weight: np.ndarray | xr.DataArray) -> np.ndarray:
    """Sign of each presynaptic unit's outgoing weights: +1, -1, 0 (mixed) or NaN (none).

    Parameters
    ----------
    weight : array (n_post, n_pre)

    Examples
    --------
    >>> outgoing_signs(np.array([[1.0, -1.0, 1.0], [2.0, -3.0, -1.0]]))
    array([ 1., -1.,  0.])
    """
    w = np.asarray(weight, dtype=float)
    pos = (w > 0).sum(axis=0)
    neg = (w < 0).sum(axis=0)
    out = np.where(neg == 0, 1.0, np.where(pos == 0, -1.0, 0.0))
    return np.where((pos + neg) == 0, np.nan, out)


def dale_fraction(weight: np.ndarray | xr.DataArray) -> float:
    """Fraction of presynaptic units whose outgoing weights all share one sign (Dale's law).

    Strata & Harvey (1999), Brain Res Bull 50:349-350: a neuron releases the same transmitters
    at all its synapses, so its outgoing weights share one sign. Units with no non-zero
    outgoing weight are not counted.

    Examples
    --------
    >>> dale_fraction(np.array([[1.0, -1.0, 1.0], [2.0, -3.0, -1.0]]))
    0.6666666666666666
    """
    signs = outgoing_signs(weight)
    signs = signs[~np.isnan(signs)]
    return float(np.mean(signs != 0)) if signs.size else float("nan")


def excitatory_fraction(weight: np.ndarray | xr.DataArray) -> float:
    """Fraction excitatory among the sign-consistent presynaptic units (cortex: about 0.8).

    NaN when no unit is sign-consistent (the E:I ratio is then undefined).
    """
    signs = outgoing_signs(weight)
    consistent = signs[(signs == 1) | (signs == -1)]
    return float(np.mean(consistent == 1)) if consistent.size else float("nan")


LOGNORMAL_Z = 1.96  # Vuong z the log-normal must exceed over every alternative (2.5 %, one-sided)
ALTERNATIVES = ("normal", "half-normal", "uniform")
RANDOM_KINDS = ("gaussian", "uniform")


def _alternative_loglik(w: np.ndarray) -> dict[str, np.ndarray]:
    """Per-weight log-likelihood of ``w > 0`` under each fitted alternative to the log-normal."""
    return {
        "normal": stats.norm.logpdf(w, w.mean(), w.std()),
        # |w| of zero-mean Gaussian weights (the usual initialisation)
        "half-normal": stats.halfnorm.logpdf(w, 0.0, np.sqrt(np.mean(w**2))),
        # |w| of uniform weights
        "uniform": np.full(w.size, -np.log(w.max())),
    }


def weight_lognormal(weight: np.ndarray | xr.DataArray, sign: int | None = None) -> dict:
    """Log-normal fit of weight magnitudes, tested against a normal, half-normal and uniform.

    Parameters
    ----------
    weight : array
    sign : +1, -1 or None
        +1: the positive (excitatory) weights only, -1: the magnitudes of the negative
        (inhibitory) ones, None: all non-zero magnitudes pooled. Song et al. (2005) PLoS Biol
        3:e68 fitted excitatory EPSP amplitudes: compare a sign's weights, never both pooled.

    Returns
    -------
    dict
        ``mu`` and ``sigma`` of ``ln|w|`` (maximum likelihood) and ``n``; ``llr``, the mean
        log-likelihood ratio per weight of the log-normal over a normal fitted to ``|w|``;
        ``llr_min``, the smallest mean ratio over the alternatives in :data:`ALTERNATIVES`
        (normal, half-normal: ``|w|`` of Gaussian weights, uniform on ``[0, max]``: ``|w|`` of
        uniform weights), ``alternative``, the one that attains it, and ``z``, its Vuong
        statistic ``sqrt(n) mean(l) / sd(l)`` of the per-weight ratios ``l``. The log-normal
        is supported only when ``z > LOGNORMAL_Z`` (1.96): the sigma of Gaussian weights,
        ``pi / sqrt(8) = 1.11``, and of uniform ones, 1.0, mean nothing, and both fail this.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> fit = weight_lognormal(rng.lognormal(0.0, 1.0, (200, 200)))
    >>> round(fit["sigma"], 1), fit["llr"] > 0, fit["z"] > LOGNORMAL_Z
    (1.0, True, True)
    >>> gaussian = weight_lognormal(rng.normal(size=(200, 200)), sign=1)
    >>> round(gaussian["sigma"], 2), gaussian["alternative"], gaussian["z"] < 0
    (1.11, 'half-normal', True)
    """
    w = np.asarray(weight, dtype=float).ravel()
    w = np.abs(w[w != 0] if sign is None else w[w * sign > 0])
    nan = float("nan")
    if w.size < 3 or np.unique(w).size < 2:
        return {"mu": nan, "sigma": nan, "llr": nan, "llr_min": nan, "alternative": "",
                "z": nan, "n": w.size}  # fmt: skip
    logw = np.log(w)
    mu, sigma = float(logw.mean()), float(logw.std())
    ll_lognormal = stats.norm.logpdf(logw, mu, sigma) - logw  # density of |w|, not of ln|w|
    ratios = {k: ll_lognormal - ll for k, ll in _alternative_loglik(w).items()}
    alternative = min(ratios, key=lambda k: ratios[k].mean())
    d = ratios[alternative]
    z = float(np.sqrt(d.size) * d.mean() / d.std()) if d.std() > 0 else nan
    return {
        "mu": mu,
        "sigma": sigma,
        "llr": float(ratios["normal"].mean()),
        "llr_min": float(d.mean()),
        "alternative": alternative,
        "z": z,
        "n": w.size,
    }


def random_weights(
    weight: np.ndarray | xr.DataArray, kind: str, rng: np.random.Generator | int | None = None
) -> np.ndarray:
    """The control of a weight statistic: random weights of the same shape and scale.

    ``kind`` "gaussian": zero-mean normal, "uniform": uniform on ``[-a, a]``, each with the
    root mean square of ``weight`` (the usual initialisations, before any learning).

    Examples
    --------
    >>> w = random_weights(np.ones((300, 300)), "uniform", rng=0)
    >>> w.shape, round(float(np.sqrt(np.mean(w**2))), 2)
    ((300, 300), 1.0)
    """
    w = np.asarray(weight, dtype=float)
    rms = float(np.sqrt(np.mean(w**2))) if w.size else 0.0
    rng = np.random.default_rng(0 if rng is None else rng)
    if kind == "gaussian":
        return rng.normal(0.0, rms, w.shape)
    if kind == "uniform":
        return rng.uniform(-np.sqrt(3) * rms, np.sqrt(3) * rms, w.shape)
    raise ValueError(f"kind = {kind!r}: one of {RANDOM_KINDS}")
