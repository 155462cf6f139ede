"""neurosig: signal propagation (forward-only learning) for computational neuroscience.

The label enters at the front of the network as a second input and travels forward through the
same weights as the data; every layer learns from a local comparison of the two streams
(Kohan, Rietman & Siegelmann, IEEE TNNLS 2023, arXiv:2204.01723).
"""

from neurosig.errors import ConfigError, DataError, DivergenceError, NeurosigError

__version__ = "0.5.0"

__all__ = [
    "ConfigError",
    "DataError",
    "DivergenceError",
    "NeurosigError",
    "__version__",
    "load_result",
]


def load_result(path):
    """Read a saved training Result (netCDF) back as an ``xarray.Dataset``.

    Thin re-export of :func:`neurosig.results.load_result`, kept lazy so that
    ``import neurosig`` stays fast.
    """
    from neurosig.results import load_result as _load

    return _load(path)
