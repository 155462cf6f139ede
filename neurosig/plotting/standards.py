"""Checks that a figure meets the publication standards of its text: size, clipping, overlap.

:func:`text_problems` draws a figure and inspects every piece of text that was actually
drawn (tick labels outside the axes' limits, hidden and empty texts are not drawn, so they are
not checked): at least :data:`~neurosig.plotting.style.MIN_FONT_SIZE` points, inside the
figure, and not overlapping another text. The tests run it on every catalogue figure; a
multi-panel layout can run it on its result.

Examples
--------
>>> import matplotlib.pyplot as plt
>>> fig, ax = plt.subplots(figsize=(3.46, 2.6), layout="constrained")
>>> _ = ax.set_xlabel("time (ms)")
>>> text_problems(fig)
[]
>>> _ = ax.text(0.5, 0.5, "tiny", fontsize=4, transform=ax.transAxes)
>>> text_problems(fig)
["'tiny': 4 pt, below 6 pt"]
>>> plt.close(fig)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from neurosig.plotting.style import MIN_FONT_SIZE

__all__ = ["DrawnText", "drawn_texts", "text_problems"]

TOLERANCE_PX = 0.5  # boxes that touch within this (at the figure's dpi) do not overlap


@dataclass(frozen=True)
class DrawnText:
    """One line of text as drawn: its string, font size (pt) and box (display pixels)."""

    text: str
    size: float
    box: Bbox


def drawn_texts(fig: Figure) -> list[DrawnText]:
    """Draw ``fig`` at its own size and dpi (with its layout engine) and return every non-empty
    line of text drawn.

    Lines are recorded where the renderer draws them, so only what appears in the figure is
    returned; a line's box is its ink box (advance width by ascent + descent), rotated as drawn.
    """
    width, height = fig.get_size_inches() * fig.dpi
    renderer = RendererAgg(width, height, fig.dpi)
    found: list[DrawnText] = []
    draw_text = renderer.draw_text

    def record(gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if s.strip():
            w, h, d = renderer.get_text_width_height_descent(s, prop, ismath)
            corners = np.array([[0, -d], [w, -d], [w, h - d], [0, h - d]], dtype=float)
            c, si = math.cos(math.radians(angle)), math.sin(math.radians(angle))
            if renderer.flipy():  # the renderer counts y from the top: the box from the bottom
                y = height - y
            turned = corners @ np.array([[c, si], [-si, c]]) + (x, y)
            box = Bbox.from_extents(*turned.min(axis=0), *turned.max(axis=0))
            found.append(DrawnText(s, prop.get_size_in_points(), box))
        return draw_text(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)

    renderer.draw_text = record  # this renderer only: the figure's own canvas is untouched
    fig.draw(renderer)  # the layout engine places everything; the second draw is what is saved
    found.clear()
    fig.draw(renderer)
    return found


def text_problems(fig: Figure, min_size: float = MIN_FONT_SIZE) -> list[str]:
    """Every text of ``fig`` that is too small, clipped by the figure's edge, or overlapping.

    Parameters
    ----------
    fig : Figure
        Checked at its own size (the size it is saved at).
    min_size : float
        The smallest font size allowed, in points.

    Returns
    -------
    list of str
        One line per problem (empty: none), naming the text.
    """
    texts = drawn_texts(fig)
    page = Bbox.from_bounds(0, 0, *(fig.get_size_inches() * fig.dpi)).padded(TOLERANCE_PX)
    problems = []
    for t in texts:
        if t.size < min_size:
            problems.append(f"{t.text!r}: {t.size:g} pt, below {min_size:g} pt")
        if Bbox.union([page, t.box]).bounds != page.bounds:
            problems.append(f"{t.text!r}: outside the figure (clipped)")
    for a, b in combinations(texts, 2):
        if a.box.padded(-TOLERANCE_PX).overlaps(b.box.padded(-TOLERANCE_PX)):
            problems.append(f"{a.text!r} overlaps {b.text!r}")
    return problems
