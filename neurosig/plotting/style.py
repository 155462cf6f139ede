"""The publication style: journal widths, fonts, colour maps, and new figures drawn in it.

The style file ``neurosig.mplstyle`` holds every matplotlib setting (fonts of 7-8 pt,
TrueType fonts in PDF and PostScript, a fixed SVG hash salt, the Okabe-Ito palette); this module
holds what the style file cannot say: the journal widths, the colour maps for each kind of data,
and the functions that make a styled figure of a journal width.

Journal widths (Nature, Cell Press, Elsevier, J Neurosci, PLOS: one column 85-89 mm, one and a
half 114-140 mm, two columns 174-183 mm) are given by name: ``"single"``, ``"onehalf"``,
``"double"``. Figures are saved at exactly that size (no cropping), so the font sizes of the
style are the sizes in print.

Colours
-------
* categories: the Okabe-Ito palette (Okabe & Ito 2008; Wong 2011, Nat Methods 8:441), the
  style's colour cycle, :data:`OKABE_ITO`;
* magnitudes from 0 (dissimilarities, CKA, counts): :data:`SEQUENTIAL_CMAP` (viridis,
  perceptually uniform and readable with colour-vision deficiencies), drawn from 0;
* signed data (weights, differences): :data:`DIVERGING_CMAP` centred at 0
  (:func:`symmetric_limits`).

Examples
--------
>>> fig, ax = figure_axes(width="onehalf")
>>> round(fig.get_figwidth() * MM_PER_INCH), journal_width(fig)
(120, 'onehalf')
>>> plt.close(fig)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from typing import ParamSpec, TypeVar

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure

__all__ = [
    "DIVERGING_CMAP",
    "HEIGHTS_MM",
    "MIN_FONT_SIZE",
    "MM_PER_INCH",
    "OKABE_ITO",
    "SEQUENTIAL_CMAP",
    "STYLE",
    "WIDTHS_MM",
    "WIDTH_RANGES_MM",
    "figure_axes",
    "figure_panels",
    "journal_width",
    "style_context",
    "styled",
    "symmetric_limits",
    "use_style",
]

STYLE = str(resources.files("neurosig.plotting") / "neurosig.mplstyle")
MM_PER_INCH = 25.4
WIDTHS_MM = {"single": 88.0, "onehalf": 120.0, "double": 180.0}
"""The width neurosig draws each journal column format at, in mm."""
WIDTH_RANGES_MM = {"single": (85.0, 89.0), "onehalf": (114.0, 140.0), "double": (174.0, 183.0)}
"""The widths the journals accept for each format, in mm (inclusive)."""
HEIGHTS_MM = {"single": 66.0, "onehalf": 80.0, "double": 80.0}
"""The default height of a new figure of each width, in mm."""
MIN_FONT_SIZE = 6.0
"""The smallest text allowed at final size, in points."""
OKABE_ITO: tuple[str, ...] = tuple(
    matplotlib.rc_params_from_file(STYLE, use_default_template=False)["axes.prop_cycle"]
    .by_key()["color"]
)  # fmt: skip
"""The categorical palette: the style's colour cycle (hex colours)."""
SEQUENTIAL_CMAP = "viridis"
DIVERGING_CMAP = "RdBu_r"

P = ParamSpec("P")
R = TypeVar("R")


def use_style() -> None:
    """Apply neurosig's matplotlib style globally (notebooks: every later figure uses it)."""
    plt.style.use(STYLE)


@contextmanager
def style_context() -> Iterator[None]:
    """Draw in the style within the block, whatever the global rcParams.

    Texts, lines and ticks take their sizes from the rcParams at the time they are made, so
    figure functions draw (not only create their figure) in the style. Leaving a style context
    restores rcParams, which in Jupyter switched interactive mode off (later figures of the
    session then no longer displayed): the mode is kept.
    """
    interactive = matplotlib.is_interactive()
    try:
        with plt.style.context(STYLE):
            yield
    finally:
        matplotlib.interactive(interactive)


def styled(function: Callable[P, R]) -> Callable[P, R]:
    """Decorator: ``function`` draws in the style (:func:`style_context`)."""

    @functools.wraps(function)
    def in_style(*args: P.args, **kwargs: P.kwargs) -> R:
        with style_context():
            return function(*args, **kwargs)

    return in_style


def _size(width: str, height: float | None) -> tuple[float, float]:
    if width not in WIDTHS_MM:
        raise ValueError(f"width = {width!r}: one of {', '.join(WIDTHS_MM)}")
    height = HEIGHTS_MM[width] if height is None else float(height)
    return WIDTHS_MM[width] / MM_PER_INCH, height / MM_PER_INCH


def figure_axes(
    ax: Axes | None = None, *, width: str = "single", height: float | None = None
) -> tuple[Figure | SubFigure, Axes]:
    """The figure and axes to draw into: ``ax`` and its figure, or a new styled figure.

    Every plotting function of neurosig starts with this (or :func:`figure_panels`), so that it
    draws into a panel of the caller's figure when given one.

    Parameters
    ----------
    ax : Axes, optional
        Draw here; ``width`` and ``height`` are then not used.
    width : {"single", "onehalf", "double"}
        Journal width of a new figure (:data:`WIDTHS_MM`).
    height : float, optional
        Height of a new figure in mm (default :data:`HEIGHTS_MM` of the width).
    """
    if ax is not None:
        return ax.figure, ax
    with style_context():
        fig, ax = plt.subplots(figsize=_size(width, height), layout="constrained")
    return fig, ax


def figure_panels(
    axes: Sequence[Axes] | None,
    n: int,
    *,
    width: str = "single",
    height: float | None = None,
    ncols: int | None = None,
) -> tuple[Figure | SubFigure, list[Axes]]:
    """The figure and ``n`` axes to draw a multi-panel figure into: ``axes`` or a new grid.

    Parameters
    ----------
    axes : sequence of Axes, optional
        Exactly ``n`` axes of the caller's figure.
    n : int
        Number of panels.
    width, height
        As in :func:`figure_axes`.
    ncols : int, optional
        Panels per row of a new figure (default: all in one row).

    Raises
    ------
    ValueError
        If ``axes`` is not ``n`` axes.

    Examples
    --------
    >>> fig, axes = figure_panels(None, 3, width="double")
    >>> len(axes), journal_width(fig)
    (3, 'double')
    >>> plt.close(fig)
    """
    if axes is not None:
        axes = list(axes)
        if len(axes) != n:
            raise ValueError(f"this figure has {n} panels: give {n} axes, not {len(axes)}")
        return axes[0].figure, axes
    ncols = min(n, ncols or n)
    nrows = -(-n // ncols)
    with style_context():
        fig, grid = plt.subplots(
            nrows, ncols, figsize=_size(width, height), layout="constrained", squeeze=False
        )
    for extra in grid.flat[n:]:
        extra.remove()
    return fig, list(grid.flat[:n])


def journal_width(fig: Figure) -> str | None:
    """The journal format whose accepted widths contain the figure's width, or None.

    Examples
    --------
    >>> journal_width(plt.figure(figsize=(3.4, 2.0)))
    'single'
    >>> plt.close("all")
    """
    mm = fig.get_figwidth() * MM_PER_INCH
    return next((k for k, (lo, hi) in WIDTH_RANGES_MM.items() if lo <= mm <= hi), None)


def symmetric_limits(values: np.ndarray) -> tuple[float, float]:
    """Colour limits ``(-m, m)`` centring a diverging map at 0 (``m`` the largest magnitude).

    Examples
    --------
    >>> symmetric_limits(np.array([-0.5, 2.0]))
    (-2.0, 2.0)
    """
    finite = np.abs(np.asarray(values, dtype=float))
    finite = finite[np.isfinite(finite)]
    m = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    return -m, m
