"""Signal-propagation mathematics shared by every neurosig model.

Sigprop (Kohan, Rietman & Siegelmann, IEEE TNNLS 2023, arXiv:2204.01723) sends the label
forward as a second input. At every layer the data activity ``H`` (B x D) is compared with the
forwarded targets ``T`` by logits ``A = sim(H, T)``; which target is *positive* for a row is
decided by the layer's **input** targets ``K = cos(T_in, T_in)`` (the library: ``T_in T_in^T``;
see :func:`cosine_gram`). The per-layer loss is a softmax
cross-entropy with (unnormalised) target weights ``Q``::

    L = (1/B) sum_ij -Q_ij log softmax(A_i)_j,     dL/dA = (rowsum(Q) * P - Q) / B.

Losses (``rule``), as in the authors' library, with neurosig's documented intent where the
library differs (SIGPROP.md section 2):

``max_rand``  one positive per row, drawn *at random* among the targets tied at the row's
              maximum of ``K`` (the library always takes the first one).
``max_all``   every target tied at the maximum is a positive.
``topk``      the row's own target plus ``k - 1`` others drawn among the ties at the maximum;
              fewer when the batch holds fewer (the library fills up with other-class samples).
``per_class`` one target per class: ``A = sim(H, T_classes)`` (B x C), ordinary cross-entropy.

Targets depend on the label alone, so every sample of a class has the same target: neurosig
forwards the C class targets once and indexes them (``T = T_classes[y]``), which is the same
computation as forwarding a batch of B targets at a fraction of the cost.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from neurosig.nn import one_hot, soft_target_cross_entropy

RULES = ("max_rand", "max_all", "topk", "per_class")
SIMILARITIES = ("dot", "cosine")
TIE_RTOL = 1e-5  # float32 rounding can split mathematically equal entries of K


def similarity(
    h: np.ndarray, t: np.ndarray, kind: str = "dot", temperature: float = 1.0
) -> tuple[np.ndarray, Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]]:
    """Logits ``A = sim(H, T) / temperature`` and a function mapping dL/dA to (dL/dH, dL/dT).

    The returned ``back(g, need_h=True)`` skips dL/dH (returns None) when ``need_h`` is False.

    ``"dot"`` is the raw dot product of the authors' library; ``"cosine"`` divides each row by
    its L2 norm first (bounded logits; neurosig's option).
    """
    if kind == "dot":
        a = (h @ t.T) / temperature

        def back(g: np.ndarray, need_h: bool = True) -> tuple[np.ndarray | None, np.ndarray]:
            g = g / temperature
            return (g @ t if need_h else None), g.T @ h

        return a, back
    if kind == "cosine":
        # Written so that the data matrix h (B x D) is only multiplied, never normalised: with
        # u_ic = cos(h_i, t_c) and g' = g / temperature, the gradient through h / ||h|| needs
        # only s_i = sum_c g'_ic u_ic (B x C), and dh = (g' / ||h||) @ t_hat - h s / ||h||^2.
        h_norm, t_norm = _row_norms(h), _row_norms(t)
        tn = t / t_norm
        u = (h @ tn.T) / h_norm
        a = u / temperature

        def back(g: np.ndarray, need_h: bool = True) -> tuple[np.ndarray | None, np.ndarray]:
            g_scaled = g / (temperature * h_norm)  # dL/d(h @ t_hat^T), B x C
            dt = _unit_backward(g_scaled.T @ h, tn, t_norm)
            if not need_h:
                return None, dt
            s = (g_scaled * u).sum(axis=1, keepdims=True)
            dh = g_scaled @ tn
            dh -= h * (s / h_norm)
            return dh, dt

        return a, back
    raise ValueError(f"similarity must be one of {SIMILARITIES}, got {kind!r}")


def _row_norms(x: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("ij,ij->i", x, x))[:, None] + 1e-8


def _unit_backward(d: np.ndarray, unit: np.ndarray, norm: np.ndarray) -> np.ndarray:
    """Carry ``d = dL/du`` back through ``u = x / ||x||`` (overwrites ``d``)."""
    d -= unit * np.einsum("ij,ij->i", d, unit)[:, None]
    d /= norm
    return d


def cosine_gram(t: np.ndarray) -> np.ndarray:
    """``K_ij = cos(t_i, t_j)``: the similarity of targets that decides the positives.

    The authors' library uses raw dot products ``T T^T``. Then a row's maximum is not
    necessarily its own class: a longer target of another class can win (``t_a . t_c >
    t_a . t_a``), its samples become the positives of class ``a``, and the layer learns to merge
    the classes; this happened in neurosig's tests. The cosine keeps the documented intent (the
    maximum, 1, is reached exactly by the targets equal in direction to one's own).
    """
    tn = t / _row_norms(t)
    return tn @ tn.T


def positive_weights(
    k: np.ndarray, rule: str, rng: np.random.Generator, topk: int = 6
) -> np.ndarray:
    """Target weights ``Q`` (B x B) from the input-target similarity ``K`` (B x B).

    Parameters
    ----------
    k : array (B, B)
        ``cos(T_in, T_in)`` (:func:`cosine_gram`); ties at a row's maximum mark same-class samples.
    rule : {"max_rand", "max_all", "topk"}
    rng : numpy.random.Generator
        Draws the random choices among ties.
    topk : int
        Number of positives for ``"topk"`` (the row's own target is always one of them).
    """
    rowmax = k.max(axis=1, keepdims=True)
    ties = k >= rowmax - TIE_RTOL * np.abs(rowmax)
    if rule == "max_all":
        return ties.astype(k.dtype)
    score = np.where(ties, rng.random(k.shape), -1.0)
    q = np.zeros_like(k)
    rows = np.arange(k.shape[0])
    if rule == "max_rand":
        q[rows, score.argmax(axis=1)] = 1
        return q
    if rule == "topk":
        np.fill_diagonal(score, 2.0)
        n = min(topk, k.shape[1])
        chosen = np.argpartition(-score, n - 1, axis=1)[:, :n]
        q[rows[:, None], chosen] = 1
        return q * ties
    raise ValueError(f"rule must be one of {RULES[:3]} here, got {rule!r}")


def layer_loss(
    h: np.ndarray,
    t_classes: np.ndarray,
    y: np.ndarray,
    k_classes: np.ndarray,
    rule: str,
    rng: np.random.Generator,
    *,
    topk: int = 6,
    kind: str = "dot",
    temperature: float = 1.0,
    need_h: bool = True,
    rows: np.ndarray | None = None,
) -> tuple[float, np.ndarray | None, np.ndarray]:
    """One layer's sigprop loss and its gradients with respect to both streams.

    Parameters
    ----------
    h : array (B, D)
        Data activity of the layer.
    t_classes : array (C, D)
        The layer's output for each class's target (row c: class c).
    y : int array (B,)
        Labels of the batch: read only by ``per_class``, whose cross-entropy target is the
        one-hot label (the label itself reaches the layer).
    k_classes : array (C, C)
        Similarity of the layer's *input* targets between classes (``cosine_gram(T_in)``);
        ``K = k_classes[rows][:, rows]``. Ignored for ``per_class``.
    need_h : bool
        False when ``h`` is not learned (the raw input of the signal layer): dL/dh is skipped.
    rows : int array (B,), optional
        The row of ``t_classes`` that each sample's target is (the target stream of the
        batch is ``T = t_classes[rows]``); default ``y``. The rules other than ``per_class``
        see the label only through it, i.e. only through the forwarded targets.

    Returns
    -------
    loss, dL/dh (B, D) or None, dL/dt_classes (C, D)
    """
    n_classes = t_classes.shape[0]
    if rule == "per_class":
        a, back = similarity(h, t_classes, kind, temperature)
        loss, g = soft_target_cross_entropy(a, one_hot(y, n_classes, h.dtype))
        dh, dt_classes = back(g, need_h)
        return loss, dh, dt_classes
    rows = y if rows is None else rows
    a, back = similarity(h, t_classes[rows], kind, temperature)
    q = positive_weights(k_classes[np.ix_(rows, rows)], rule, rng, topk)
    loss, g = soft_target_cross_entropy(a, q)
    dh, dt = back(g, need_h)
    # each row of dt belongs to its sample's class target: sum them per class
    return loss, dh, one_hot(rows, n_classes, h.dtype).T @ dt
