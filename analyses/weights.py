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

__all__ = ["dale_fraction", "excitatory_fraction", "outgoing_signs", "weight_lognormal"]


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


def weight_lognormal(weight: np.ndarray | xr.DataArray) -> dict[str, float]:
    """Log-normal fit of ``|w|`` over the non-zero weights, and its comparison with a normal.

    Returns ``mu`` and ``sigma`` of ``ln|w|`` (maximum likelihood), and ``llr``, the mean
    log-likelihood ratio per weight of the log-normal over a normal fitted to ``|w|`` (positive:
    the log-normal fits better). Song et al. (2005) PLoS Biol 3:e68 found log-normal EPSP
    amplitudes in rat visual cortex.

    Examples
    --------
    >>> fit = weight_lognormal(np.random.default_rng(0).lognormal(0.0, 1.0, (200, 200)))
    >>> round(fit["sigma"], 1), fit["llr"] > 0
    (1.0, True)
    """
    w = np.abs(np.asarray(weight, dtype=float).ravel())
    w = w[w > 0]
    if w.size < 3:
        return {"mu": float("nan"), "sigma": float("nan"), "llr": float("nan"), "n": w.size}
    logw = np.log(w)
    mu, sigma = float(logw.mean()), float(logw.std())
    ll_lognormal = stats.norm.logpdf(logw, mu, sigma) - logw  # density of |w|, not of ln|w|
    ll_normal = stats.norm.logpdf(w, w.mean(), w.std())
    return {"mu": mu, "sigma": sigma, "llr": float(np.mean(ll_lognormal - ll_normal)), "n": w.size}
