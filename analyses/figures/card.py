"""The plausibility report card as a compact figure: every scored row against its range.

One line per card row (:func:`neurosig.analyses.plausibility.report_card`) that has a value and
a range to compare with. Rows have different units, so each is drawn on its own scale:

* a row with a literature range ``[low, high]`` at ``x = (v - low) / (high - low)``: the range
  is ``[0, 1]`` (dark grey), the wider "near" range light grey; a range of one value (a rule
  row: 1 = passes) is drawn at 0.5 with its near range around it;
* a geometry row (``relative``) at its score ``s = (v - v_untrained) / (v_BP - v_untrained)``:
  0 is the untrained network, 1 is BP, ``in`` from 2/3 (dark grey), ``near`` from 1/3.

The dot is the value (with its CI where the card has one), coloured by the row's band; the
value itself, its units and its band are written at the right, so the figure reads as a table.
Values beyond the axis are drawn at its edge as a triangle pointing outwards.

Examples
--------
>>> card = report_card(load_result("lif.nc"), bp=load_result("bp.nc"))  # doctest: +SKIP
>>> card_summary(card)  # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from neurosig.analyses.plausibility import RELATIVE_IN, RELATIVE_NEAR, Card, CardRow, Reference
from neurosig.plotting import OKABE_ITO, attach_data, figure_axes, styled

__all__ = ["BAND_COLOURS", "X_LIMITS", "RowScale", "card_summary", "row_scale"]

BAND_COLOURS = {
    "in": OKABE_ITO[2],  # bluish green
    "near": OKABE_ITO[4],  # orange
    "out": OKABE_ITO[1],  # vermillion
    "flag": OKABE_ITO[3],  # reddish purple
    "not applicable": "#DDDDDD",
    "uninformative": OKABE_ITO[5],  # sky blue: its untrained network or control scores in too
}
"""The colour of each band of the card (Okabe-Ito; grey for not applicable)."""
X_LIMITS = (-1.0, 2.0)
ROW_HEIGHT_MM = 3.6  # of one card row in a new figure (7 pt text is 2.5 mm)
FRAME_MM = 22.0  # title, axis and label of a new figure


@dataclass(frozen=True)
class RowScale:
    """Where a card row is drawn: its range, near range and the map of its values to x."""

    band: tuple[float, float]
    near: tuple[float, float]
    origin: float
    span: float
    offset: float = 0.0

    def x(self, value: float) -> float:
        """The x position of a value of the row."""
        return self.offset + (value - self.origin) / self.span


def row_scale(row: CardRow, ref: Reference) -> RowScale | None:
    """The scale of a card row (see the module doc); None when it has none to be drawn on.

    Examples
    --------
    >>> ref = Reference("r", "c", "s", "Hz", (), "", "", "verified", 1.0, 11.0, (0.0, 21.0))
    >>> row = CardRow("r", 1, 6.0, 5.0, 7.0, 10, "Hz", "in")
    >>> scale = row_scale(row, ref)
    >>> scale.x(row.value), scale.near
    (0.5, (-0.1, 2.0))
    """
    if ref.relative:
        if not (np.isfinite(row.bp) and np.isfinite(row.untrained) and row.bp != row.untrained):
            return None
        return RowScale((RELATIVE_IN, X_LIMITS[1]), (RELATIVE_NEAR, RELATIVE_IN), row.untrained,
                        row.bp - row.untrained)  # fmt: skip
    if not (np.isfinite(ref.low) and np.isfinite(ref.high)):
        return None
    if ref.high > ref.low:
        span = ref.high - ref.low
        near = ((ref.near[0] - ref.low) / span, (ref.near[1] - ref.low) / span)
        return RowScale((0.0, 1.0), near, ref.low, span)
    span = max(ref.near[1] - ref.near[0], abs(ref.low), 1e-12)  # a range of one value
    near = (0.5 + (ref.near[0] - ref.low) / span, 0.5 + (ref.near[1] - ref.low) / span)
    return RowScale((0.45, 0.55), near, ref.low, span, offset=0.5)


def _label(row: CardRow, ref: Reference) -> str:
    name = row.key.replace("_", " ")
    layer = f", layer {row.layer}" if row.layer else ""
    return f"{name}{layer}" + (" (vs BP)" if ref.relative else "")


def _value_text(row: CardRow) -> str:
    units = "" if row.units in ("1", "fraction") else f" {row.units}"
    return f"{row.value:.3g}{units}  {row.band}"


def _drawn_rows(card: Card) -> list[tuple[CardRow, Reference, RowScale]]:
    out = []
    for row in card.rows:
        ref = card.references.get(row.key)
        if ref is None or not np.isfinite(row.value) or row.band == "not applicable":
            continue
        scale = row_scale(row, ref)
        if scale is not None:
            out.append((row, ref, scale))
    return out


def _draw_row(ax: Axes, y: float, row: CardRow, scale: RowScale) -> float:
    """Draw one row at height ``y``; returns the (unclipped) x of its value."""
    ax.broken_barh([(scale.near[0], scale.near[1] - scale.near[0])], (y - 0.3, 0.6),
                   color="0.9", linewidth=0)  # fmt: skip
    ax.broken_barh([(scale.band[0], scale.band[1] - scale.band[0])], (y - 0.3, 0.6),
                   color="0.7", linewidth=0)  # fmt: skip
    x = scale.x(row.value)
    colour = BAND_COLOURS.get(row.band, "k")
    if np.isfinite(row.low) and np.isfinite(row.high) and row.low != row.high:
        lo, hi = np.clip([scale.x(row.low), scale.x(row.high)], *X_LIMITS)
        ax.plot([lo, hi], [y, y], color=colour, linewidth=1.0)
    inside = X_LIMITS[0] <= x <= X_LIMITS[1]
    marker = "o" if inside else ("<" if x < X_LIMITS[0] else ">")
    ax.plot(float(np.clip(x, *X_LIMITS)), y, marker, color=colour, markersize=3.5,
            markeredgecolor="k", markeredgewidth=0.3)  # fmt: skip
    return x


@styled
def card_summary(
    card: Card,
    *,
    ax: Axes | None = None,
    width: str = "onehalf",
    height: float | None = None,
) -> Figure:
    """The report card as one figure: each scored row's value against its range, as a table.

    Rows without a value or a range (not applicable, no BP baseline) are left out: the card's
    Markdown lists them (:func:`neurosig.analyses.report.card_markdown`).

    Parameters
    ----------
    card : Card
        From :func:`neurosig.analyses.plausibility.report_card`.
    ax : Axes, optional
        Draw here.
    width, height
        Journal width and height (mm; default from the number of rows) of a new figure.

    Returns
    -------
    Figure
        The card's rows (:meth:`Card.to_dataset`) attached, with ``x`` (the drawn position,
        NaN for rows not drawn).
    """
    rows = _drawn_rows(card)
    if height is None:
        height = FRAME_MM + ROW_HEIGHT_MM * max(len(rows), 1)
    fig, ax = figure_axes(ax, width=width, height=height)
    positions = {}
    for i, (row, _, scale) in enumerate(rows):
        positions[id(row)] = _draw_row(ax, -i, row, scale)
    ys = -np.arange(len(rows))
    ax.set_yticks(ys, [_label(row, ref) for row, ref, _ in rows])
    right = ax.secondary_yaxis("right")
    right.set_yticks(ys, [_value_text(row) for row, _, _ in rows])
    right.tick_params(length=0)
    right.spines["right"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)
    ax.set_ylim(-len(rows) + 0.4, 0.6)
    ax.set_xlim(*X_LIMITS)
    ax.set_xticks(np.arange(X_LIMITS[0], X_LIMITS[1] + 1))
    ax.set_xlabel("scaled value (dark grey: in range)")
    ax.set_title(f"{card.name}, {100 * card.accuracy:.1f} % test accuracy")
    data = card.to_dataset()
    x = [positions.get(id(row), math.nan) for row in card.rows]
    data["x"] = ("row", np.array(x, dtype=float), {"units": "1", "long_name": "drawn position"})
    attach_data(ax, data.assign_attrs(figure="card"))
    return fig
