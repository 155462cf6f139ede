"""The activation functions of every model: one table, as numpy functions and Brian2 strings.

Each :class:`Activation` carries the function ``f``, its derivative and, for the simulator
models, the same three as Brian2 expressions (``X`` stands for the argument, ``A`` for the
activity ``f(X)``). The numpy models (:mod:`neurosig.nn`), the Brian2 rate model and its numpy
oracle all read this table, so a new activation is added once and cannot silently fall back to
another one.

Examples
--------
>>> import numpy as np
>>> relu = ACTIVATIONS["relu"]
>>> relu.f(np.array([-1.0, 2.0]))
array([0., 2.])
>>> relu.brian_f("I + b")
'clip((I + b), 0, inf)'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

LEAKY_SLOPE = 0.01


@dataclass(frozen=True)
class Activation:
    """One activation function, in numpy and as Brian2 expressions."""

    name: str
    f: Callable[[np.ndarray], np.ndarray]
    backward: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    """``backward(da, z, a) = da * f'(z)``, given the argument ``z`` and ``a = f(z)``."""
    derivative_of_activity: Callable[[np.ndarray], np.ndarray] | None
    """``f'`` written with the activity ``a = f(z)``, where that is possible."""
    brian: str | None = None  # f(X)
    brian_derivative: str | None = None  # f'(X)
    brian_derivative_of_activity: str | None = None  # f' written with A = f(X)

    def derivative(self, z: np.ndarray) -> np.ndarray:
        """``f'(z)``."""
        return self.backward(np.ones_like(z), z, self.f(z))

    def brian_f(self, arg: str) -> str:
        """Brian2 expression of ``f(arg)``."""
        return self._brian(self.brian, "X", arg)

    def brian_fprime(self, arg: str) -> str:
        """Brian2 expression of ``f'(arg)``, parenthesised."""
        return "(" + self._brian(self.brian_derivative, "X", arg) + ")"

    def brian_fprime_of_activity(self, activity: str) -> str:
        """Brian2 expression of ``f'`` given the activity ``A = f(X)``, parenthesised."""
        return "(" + self._brian(self.brian_derivative_of_activity, "A", activity) + ")"

    def _brian(self, template: str | None, placeholder: str, arg: str) -> str:
        if template is None:
            raise ValueError(f"activation {self.name!r} has no Brian2 form")
        return template.replace(placeholder, f"({arg})" if placeholder == "X" else arg)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation(
            "relu",
            f=lambda z: np.maximum(z, 0),
            backward=lambda da, z, a: np.where(z > 0, da, 0).astype(da.dtype, copy=False),
            derivative_of_activity=lambda a: (a > 0).astype(float),
            brian="clip(X, 0, inf)",
            brian_derivative="int(X > 0)",
            brian_derivative_of_activity="int(A > 0)",
        ),
        Activation(
            "leaky_relu",
            # equals where(z > 0, z, slope z) for a slope below 1
            f=lambda z: np.maximum(z, LEAKY_SLOPE * z),
            backward=lambda da, z, a: np.where(z > 0, da, LEAKY_SLOPE * da),
            derivative_of_activity=None,
        ),
        Activation(
            "tanh",
            f=np.tanh,
            backward=lambda da, z, a: da * (1 - a * a),
            derivative_of_activity=lambda a: 1 - a * a,
        ),
        Activation(
            "sigmoid",
            f=_sigmoid,
            backward=lambda da, z, a: da * a * (1 - a),
            derivative_of_activity=lambda a: a * (1 - a),
            brian="1/(1 + exp(-X))",
            brian_derivative="exp(-X)/(1 + exp(-X))**2",
            brian_derivative_of_activity="A*(1 - A)",
        ),
        Activation(
            "softplus",
            f=lambda z: np.log(1 + np.exp(z)),
            backward=lambda da, z, a: da * _sigmoid(z),
            derivative_of_activity=lambda a: 1 - np.exp(-a),
            brian="log(1 + exp(X))",
            brian_derivative="1/(1 + exp(-X))",
            brian_derivative_of_activity="1 - exp(-A)",
        ),
        Activation(
            "linear",
            f=lambda z: z,
            backward=lambda da, z, a: da,
            derivative_of_activity=lambda a: np.ones_like(a),
        ),
    )
}

BRIAN_ACTIVATIONS = tuple(name for name, a in ACTIVATIONS.items() if a.brian is not None)


def activation(name: str) -> Activation:
    """The activation called ``name``; an unknown name is a ValueError listing the choices."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]
