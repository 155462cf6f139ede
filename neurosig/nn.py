"""Dense layers with hand-written forward and backward passes, Adam and softmax cross-entropy.

Every numpy model in neurosig (SP-core and the baselines) is built from the same :class:`Dense`
block, so that "same architecture" means the same code path, and a learning rule differs from
another only in *which* error reaches a layer, never in how the layer computes.

A block computes ``y = dropout(f(norm(W x + b)))`` on a batch ``x`` of shape (batch, n_in).
``backward`` returns the gradient for the block's own parameters and, when asked, for its input.
The parameter gradient reads only the block's input, its own pre-activations and the incoming
error: each weight update is presynaptic activity times a postsynaptic factor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neurosig.activations import ACTIVATIONS as ACTIVATION_TABLE

ACTIVATIONS = tuple(ACTIVATION_TABLE)
"""Names of the activations a block accepts: every entry of :mod:`neurosig.activations`."""
NORMS = ("none", "layer")
LAYERNORM_EPS = 1e-5


def layer_norm(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalise each row to zero mean and unit variance; returns (n, 1/sigma)."""
    mu = z.mean(axis=1, keepdims=True)
    zc = z - mu
    inv_sigma = 1 / np.sqrt((zc * zc).mean(axis=1, keepdims=True) + LAYERNORM_EPS)
    return zc * inv_sigma, inv_sigma


def layer_norm_backward(dn: np.ndarray, n: np.ndarray, inv_sigma: np.ndarray) -> np.ndarray:
    """Gradient through :func:`layer_norm` (no affine parameters)."""
    return inv_sigma * (
        dn - dn.mean(axis=1, keepdims=True) - n * (dn * n).mean(axis=1, keepdims=True)
    )


@dataclass
class DenseCache:
    """What :meth:`Dense.forward` keeps for the backward pass."""

    x: np.ndarray
    z: np.ndarray
    n: np.ndarray | None
    inv_sigma: np.ndarray | None
    a: np.ndarray
    mask: np.ndarray | None


@dataclass
class Dense:
    """A fully connected block ``y = dropout(f(norm(W x + b)))``.

    Parameters
    ----------
    n_in, n_out : int
        Presynaptic and postsynaptic sizes.
    activation : str
        One of :data:`ACTIVATIONS` (the table of :mod:`neurosig.activations`).
    norm : str
        ``"none"`` or ``"layer"`` (per-sample normalisation, no affine parameters: a divisive
        normalisation that treats every sample, data or target, alike).
    dropout : float
        Drop probability during training (inverted dropout).
    rng : numpy.random.Generator
        Draws the initial weights, uniform in +-1/sqrt(n_in) (PyTorch's default for Linear).
    dtype : numpy dtype
        float32 (fast) or float64 (gradient checks).
    """

    n_in: int
    n_out: int
    activation: str = "relu"
    norm: str = "none"
    dropout: float = 0.0
    rng: np.random.Generator = field(default_factory=np.random.default_rng, repr=False)
    dtype: type = np.float32
    W: np.ndarray = field(init=False, repr=False)
    b: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {self.norm!r}")
        bound = 1 / np.sqrt(self.n_in)
        self.W = self.rng.uniform(-bound, bound, (self.n_out, self.n_in)).astype(self.dtype)
        self.b = self.rng.uniform(-bound, bound, self.n_out).astype(self.dtype)

    @property
    def params(self) -> dict[str, np.ndarray]:
        return {"W": self.W, "b": self.b}

    def forward(
        self,
        x: np.ndarray,
        train: bool = False,
        rng: np.random.Generator | None = None,
        dropout_rows: int | None = None,
    ) -> tuple[np.ndarray, DenseCache]:
        """Return the block output for ``x`` (batch, n_in) and the cache for ``backward``.

        ``dropout_rows``: apply dropout to the first rows only (data rows stacked above target
        rows, which must pass unchanged); default all rows.
        """
        z = x @ self.W.T + self.b
        n = inv_sigma = None
        u = z
        if self.norm == "layer":
            n, inv_sigma = layer_norm(z)
            u = n
        a = ACTIVATION_TABLE[self.activation].f(u)
        mask = None
        y = a
        if train and self.dropout > 0:
            keep = 1 - self.dropout
            rows = len(a) if dropout_rows is None else dropout_rows
            mask = (rng.random((rows, a.shape[1]), dtype=np.float32) < keep).astype(a.dtype) / keep
            y = a * mask if rows == len(a) else np.concatenate([a[:rows] * mask, a[rows:]])
        return y, DenseCache(x=x, z=z, n=n, inv_sigma=inv_sigma, a=a, mask=mask)

    def output_to_preactivation(self, dy: np.ndarray, cache: DenseCache) -> np.ndarray:
        """Carry an error on the output back to the pre-activation ``z = W x + b``."""
        if cache.mask is not None:
            rows = len(cache.mask)
            dy = (
                dy * cache.mask
                if rows == len(dy)
                else np.concatenate([dy[:rows] * cache.mask, dy[rows:]])
            )
        u = cache.n if cache.n is not None else cache.z
        du = ACTIVATION_TABLE[self.activation].backward(dy, u, cache.a)
        if cache.n is not None:
            return layer_norm_backward(du, cache.n, cache.inv_sigma)
        return du

    def parameter_gradients(self, dz: np.ndarray, x: np.ndarray) -> dict[str, np.ndarray]:
        """Outer product of the postsynaptic factor ``dz`` and presynaptic activity ``x``."""
        return {"W": dz.T @ x, "b": dz.sum(axis=0)}

    def backward(
        self, dy: np.ndarray, cache: DenseCache, input_grad: bool = True
    ) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
        """Gradients of a loss given ``dy = dL/dy``: (dL/dx or None, {"W": dL/dW, "b": dL/db})."""
        dz = self.output_to_preactivation(dy, cache)
        dx = dz @ self.W if input_grad else None
        return dx, self.parameter_gradients(dz, cache.x)


class Adam:
    """Adam (Kingma & Ba 2015) with PyTorch's defaults, one instance per layer.

    ``weight_decay`` is L2 added to the gradient, as in ``torch.optim.Adam``.
    The learning rate ``lr`` may be changed between steps (schedules).
    """

    def __init__(
        self,
        params: dict[str, np.ndarray],
        lr: float = 5e-4,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        self.params = params
        self.lr = lr
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.weight_decay = weight_decay
        self.t = 0
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self._scratch = {k: np.empty_like(v) for k, v in params.items()}

    def step(self, grads: dict[str, np.ndarray]) -> None:
        """Update the parameters in place.

        Written as in-place passes over one scratch buffer per parameter: the update is
        memory-bound, and temporaries made it cost three matrix products of a 1024-unit layer.
        """
        self.t += 1
        c1 = 1 - self.beta1**self.t
        c2 = 1 - self.beta2**self.t
        step = self.lr * np.sqrt(c2) / c1
        eps = self.eps * np.sqrt(c2)
        for k, p in self.params.items():
            g = grads[k]
            if self.weight_decay:
                g = g + self.weight_decay * p
            m, v, buf = self.m[k], self.v[k], self._scratch[k]
            m *= self.beta1
            np.multiply(g, 1 - self.beta1, out=buf)
            m += buf
            v *= self.beta2
            np.multiply(g, g, out=buf)
            buf *= 1 - self.beta2
            v += buf
            np.sqrt(v, out=buf)
            buf += eps
            np.divide(m, buf, out=buf)
            buf *= step
            p -= buf

    def state(self) -> dict[str, np.ndarray]:
        """Optimiser state as named arrays (for checkpoints)."""
        out = {f"m_{k}": v for k, v in self.m.items()}
        out.update({f"v_{k}": v for k, v in self.v.items()})
        out["t"] = np.array(self.t)
        return out

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`state` returned."""
        for k in self.m:
            self.m[k][...] = state[f"m_{k}"]
            self.v[k][...] = state[f"v_{k}"]
        self.t = int(state["t"])


def log_softmax(a: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax, stable for large logits."""
    a = a - a.max(axis=1, keepdims=True)
    return a - np.log(np.exp(a).sum(axis=1, keepdims=True))


def soft_target_cross_entropy(logits: np.ndarray, q: np.ndarray) -> tuple[float, np.ndarray]:
    """Cross-entropy with (unnormalised) target weights and its gradient.

    ``L = (1/B) sum_ij -Q_ij log softmax(A_i)_j`` and
    ``dL/dA = (rowsum(Q) * softmax(A) - Q) / B``.

    Parameters
    ----------
    logits : (B, N) array
    q : (B, N) array of non-negative target weights (a one-hot row gives ordinary CE).
    """
    logp = log_softmax(logits)
    b = logits.shape[0]
    loss = float(-(q * logp).sum() / b)
    grad = (q.sum(axis=1, keepdims=True) * np.exp(logp) - q) / b
    return loss, grad.astype(logits.dtype, copy=False)


def one_hot(y: np.ndarray, n_classes: int, dtype: type = np.float32) -> np.ndarray:
    """Integer labels (B,) to a (B, n_classes) one-hot matrix."""
    out = np.zeros((len(y), n_classes), dtype=dtype)
    out[np.arange(len(y)), y] = 1
    return out


def cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Ordinary softmax cross-entropy with integer labels; returns (loss, dL/dlogits)."""
    return soft_target_cross_entropy(logits, one_hot(y, logits.shape[1], logits.dtype))
