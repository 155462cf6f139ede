"""Write a plausibility report: ``report.md``, ``report.html`` and a multi-panel figure.

``write_report(results, out_dir)`` scores a Result (and optional baselines) with
:func:`neurosig.analyses.plausibility.report_card` and writes

* ``report.md``: one table per rule (criterion, layer, value with its CI, literature range,
  band, note) and the numbered citations;
* ``report.html``: the same, self-contained, with the figure embedded;
* ``report.{pdf,svg,png}``: the dashboard (:func:`plot_report`), lettered panels of the figure
  catalogue at a journal width: rasters before and after learning and accuracy against spikes
  per inference (spiking models), the RDMs and the layer-by-layer CKA against BP, the card,
  and with baselines a heatmap of every rule's bands; with its provenance (``report.json``)
  and plotted numbers (``report.nc``), as every catalogue figure (``docs/figures.md``);
* ``card.nc``: every card as labelled data.

Each card's warnings (:attr:`Card.warnings`, :mod:`neurosig.analyses.caveats`: an unfinished
run, seeds that are not repeats, a baseline of another architecture or data) head its section
of ``report.md`` and ``report.html``, are stored in ``card.nc`` and are said before any work.

The command ``neurosig report RESULT.nc [--baselines R1.nc ...] [--out DIR]`` calls it.
"""

from __future__ import annotations

import base64
import html
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from neurosig import results as result_schema
from neurosig.analyses import caveats
from neurosig.analyses.figures.card import BAND_COLOURS
from neurosig.analyses.figures.catalogue import CATALOGUE
from neurosig.analyses.figures.compose import LETTER_SIZE, draw_panel
from neurosig.analyses.plausibility import BANDS, Card, probe_trials, report_card
from neurosig.errors import DataError
from neurosig.plotting import WIDTHS_MM, save_figure, style_context
from neurosig.plotting.style import MM_PER_INCH

__all__ = ["card_markdown", "plot_report", "write_report"]

WARNING_COLOUR = "#D55E00"  # the "out" colour: what the reader must not miss
# the criteria of the heatmap and the activity panel, in PLAUSIBILITY.md's order
HEATMAP_KEYS = (
    "median_rate",
    "fraction_above_20hz",
    "isi_cv",
    "lv",
    "fano_factor_100ms",
    "noise_correlation_100ms",
    "lifetime_sparseness",
    "population_sparseness",
    "fraction_active",
    "dale_fraction",
    "excitatory_fraction",
    "weight_lognormal_sigma",
    "spatial_locality",
    "weight_transport_free",
    "feedback_free",
    "phases_per_update",
    "eligibility_interval",
    "rdm_correlation",
    "cka",
    "procrustes_distance",
    "participation_ratio",
    "class_selectivity",
)


def _fmt(v: float) -> str:
    if not np.isfinite(v):
        return "-"
    return f"{v:.3g}"


def _value_text(row) -> str:
    if not np.isfinite(row.value):
        return "-"
    if np.isfinite(row.low) and np.isfinite(row.high) and row.low != row.high:
        return f"{_fmt(row.value)} [{_fmt(row.low)}, {_fmt(row.high)}]"
    return _fmt(row.value)


def _citation_numbers(cards: Sequence[Card]) -> dict[str, int]:
    numbers: dict[str, int] = {}
    for card in cards:
        for row in card.rows:
            ref = card.references.get(row.key)
            if ref and ref.citation not in numbers:
                numbers[ref.citation] = len(numbers) + 1
    return numbers


def _table_rows(card: Card, numbers: dict[str, int]) -> list[list[str]]:
    out = []
    for row in card.rows:
        ref = card.references.get(row.key)
        crit = f"{ref.criterion}: {row.key}" if ref else row.key
        rng = ref.range_text if ref else "-"
        if ref and not ref.relative and ref.units not in ("1", "fraction"):
            rng += f" {ref.units}"
        cite = f"[{numbers[ref.citation]}]" if ref else ""
        conf = f" ({ref.confidence})" if ref and ref.confidence != "verified" else ""
        units = "" if row.units in ("1", "fraction") else f" {row.units}"
        out.append(
            [
                crit,
                str(row.layer) if row.layer else "net",
                _value_text(row) + units,
                rng + conf,
                row.band,
                _control_text(row.untrained, row.untrained_band),
                _control_text(row.control, row.control_band, row.control_kind),
                cite,
                row.note,
            ]
        )
    return out


def _control_text(value: float, band: str, kind: str = "") -> str:
    """``value (band)`` of a row's untrained network or control, with the control's kind."""
    text = _fmt(value) + (f" ({band})" if band and band != "not applicable" else "")
    return f"{text}: {kind}" if kind else text


HEADER = [
    "criterion", "layer", "value [95 % CI]", "literature", "band", "untrained", "control",
    "ref.", "note",
]  # fmt: skip


def card_markdown(cards: Card | Sequence[Card]) -> str:
    """The cards as Markdown: one table per rule, headed by its warnings, then the numbered
    citations."""
    cards = [cards] if isinstance(cards, Card) else list(cards)
    numbers = _citation_numbers(cards)
    lines = ["# Plausibility report card", ""]
    lines.append(
        "Bands: in / near the literature range, out, flag (degenerate measurement), not "
        "applicable, or uninformative: the untrained network or the row's control (a null "
        "that keeps what the statistic should ignore and destroys what it measures) scores "
        "in too, so the row measures nothing here. Geometry rows are scored between the "
        "untrained network (0) and BP (1): in >= 2/3, near >= 1/3 (neurosig's convention). "
        "See docs/report-card.md. No overall score.\n"
    )
    for card in cards:
        lines.append(
            f"## {card.name} ({card.model}; {card.seeds} seed{'s' if card.seeds > 1 else ''}; "
            f"test accuracy {100 * card.accuracy:.1f} %)\n"
        )
        for warning in card.warnings:
            lines.append(f"> **Warning:** {warning}\n")
        lines.append("| " + " | ".join(HEADER) + " |")
        lines.append("|" + "|".join("---" for _ in HEADER) + "|")
        for cells in _table_rows(card, numbers):
            lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
        counts = {b: sum(r.band == b for r in card.rows) for b in BANDS}
        lines.append("\n" + ", ".join(f"{n} {b}" for b, n in counts.items() if n) + "\n")
    lines.append("## References\n")
    for citation, n in numbers.items():
        lines.append(f"{n}. {citation}")
    return "\n".join(lines) + "\n"


def card_html(cards: Sequence[Card], figure_png: bytes | None = None) -> str:
    """A self-contained HTML page: every warning, the figure, the tables (each headed by its
    card's warnings), the citations."""
    numbers = _citation_numbers(cards)
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>neurosig report</title>",
        "<style>body{font-family:sans-serif;max-width:1200px;margin:auto}"
        "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;"
        "padding:3px 6px}img{max-width:100%}</style></head><body>",
        "<h1>Plausibility report card</h1>",
    ]
    parts += [_warning_html(f"{card.name}: {w}") for card in cards for w in card.warnings]
    if figure_png:
        parts.append(
            f"<img alt='report figure' src='data:image/png;base64,"
            f"{base64.b64encode(figure_png).decode()}'>"
        )
    for card in cards:
        parts.append(
            f"<h2>{html.escape(card.name)} ({html.escape(card.model)}; test accuracy "
            f"{100 * card.accuracy:.1f} %)</h2>"
        )
        parts += [_warning_html(w) for w in card.warnings]
        parts.append("<table><tr>" + "".join(f"<th>{h}</th>" for h in HEADER) + "</tr>")
        for cells in _table_rows(card, numbers):
            colour = BAND_COLOURS.get(cells[4], "#fff")
            tds = [f"<td>{html.escape(c)}</td>" for c in cells]
            tds[4] = f"<td style='background:{colour}'>{html.escape(cells[4])}</td>"
            parts.append("<tr>" + "".join(tds) + "</tr>")
        parts.append("</table>")
    parts.append("<h2>References</h2><ol>")
    parts += [f"<li>{html.escape(c)}</li>" for c in numbers]
    parts.append("</ol></body></html>")
    return "\n".join(parts)


def _warning_html(text: str) -> str:
    return (
        f"<p style='border-left:4px solid {WARNING_COLOUR};background:#FBE5D6;padding:4px 8px'>"
        f"<b>Warning:</b> {html.escape(text)}</p>"
    )


# -- the figure --------------------------------------------------------------------------------

DASHBOARD_WIDTH = "double"
"""Journal width of the dashboard (:data:`neurosig.plotting.WIDTHS_MM`)."""
HEATMAP_FRAME_MM, HEATMAP_RULE_MM = 48.0, 7.0
"""Height of the heatmap row (rules x criteria, with several rules): its legend and rotated
criterion names, and one row per rule."""


@dataclass(frozen=True)
class DashboardPanel:
    """One panel of the dashboard: a catalogue figure of an argument, and its height."""

    name: str
    argument: Any
    options: dict[str, Any]
    height_mm: float


def _applies(name: str, argument: Any, options: dict[str, Any]) -> DashboardPanel | None:
    """The panel when its argument stores what the figure draws (tried on a scratch figure,
    whose height becomes the panel's), else None."""
    try:
        scratch = CATALOGUE[name].function(argument, **options)
    except DataError:
        return None
    height = scratch.get_size_inches()[1] * MM_PER_INCH
    plt.close(scratch)
    return DashboardPanel(name, argument, options, height)


def dashboard_rows(
    cards: Sequence[Card], results: Sequence[xr.Dataset]
) -> list[list[DashboardPanel]]:
    """The catalogue panels of the dashboard that apply, row by row.

    Rasters before and after learning beside accuracy against spikes per inference (spiking
    models); the RDMs of the reported rule beside its CKA against BP (when a BP baseline is
    given); the card of the reported rule. A panel whose data the Results do not store is
    left out, not drawn empty.
    """
    main, card = results[0], cards[0]
    bp = next((ds for ds in results[1:] if ds.attrs.get("model") == "bp"), None)
    groups = {c.name: [ds] for c, ds in zip(cards, results, strict=False)}
    groups[card.name] = [main]
    candidates = [
        [("rasters", main, {}), ("spikes_vs_accuracy", groups, {})],
        [("rdms", main, {}), ("cka", main, {"reference": bp}) if bp is not None else None],
        [("card", card, {"width": DASHBOARD_WIDTH})],
    ]
    rows = []
    for row in candidates:
        panels = [_applies(*c) for c in row if c is not None]
        if panels := [p for p in panels if p is not None]:
            rows.append(panels)
    return rows


def _heatmap(ax, cards: Sequence[Card]) -> None:
    """The bands of every rule (rows) on every criterion (columns)."""
    keys = [k for k in HEATMAP_KEYS if any(_has(c, k) for c in cards)]
    codes = np.full((len(cards), len(keys)), BANDS.index("not applicable"))
    for i, card in enumerate(cards):
        for j, key in enumerate(keys):
            if _has(card, key):
                codes[i, j] = BANDS.index(card.row(key).band)
    cmap = ListedColormap([BAND_COLOURS[b] for b in BANDS])
    ax.imshow(codes, cmap=cmap, vmin=-0.5, vmax=len(BANDS) - 0.5, aspect="auto")
    ax.set_yticks(range(len(cards)), [c.name for c in cards])
    ax.set_xticks(range(len(keys)), [k.replace("_", " ") for k in keys], rotation=90)
    handles = [plt.Rectangle((0, 0), 1, 1, color=BAND_COLOURS[b]) for b in BANDS]
    ax.legend(handles, BANDS, ncol=len(BANDS), loc="lower left", bbox_to_anchor=(0, 1))


def _has(card: Card, key: str) -> bool:
    return any(r.key == key for r in card.rows)


def plot_report(cards: Sequence[Card], results: Sequence[xr.Dataset]) -> Figure:
    """The report's dashboard: catalogue figures in lettered panels, at a journal width.

    ``results[0]`` and ``cards[0]`` are the rule reported, the other Results its baselines
    (a ``bp`` one is the CKA reference). The panels are :func:`dashboard_rows`, drawn by
    :func:`neurosig.analyses.figures.compose.draw_panel` (the functions ``neurosig figures``
    and the studies use), and, with several rules, a heatmap of every card's bands. The
    plotted numbers are attached (:func:`neurosig.plotting.figure_data`).
    """
    rows = dashboard_rows(cards, results)
    heights = [max(panel.height_mm for panel in row) for row in rows]
    if len(cards) > 1:
        heights.append(HEATMAP_FRAME_MM + HEATMAP_RULE_MM * len(cards))
    letters = iter(string.ascii_lowercase)
    size = (WIDTHS_MM[DASHBOARD_WIDTH] / MM_PER_INCH, sum(heights) / MM_PER_INCH)
    with style_context():
        fig = plt.figure(figsize=size, layout="constrained")
        subs = fig.subfigures(len(heights), 1, height_ratios=heights, squeeze=False)[:, 0]
        for sub, row in zip(subs, rows, strict=False):
            ratios = [2, 1] if len(row) == 2 else None
            cells = sub.subfigures(1, len(row), width_ratios=ratios, squeeze=False)[0]
            for cell, panel in zip(cells, row, strict=True):
                draw_panel(cell, panel.name, panel.argument, panel.options, next(letters))
        if len(cards) > 1:
            subs[-1].suptitle(next(letters), x=0.0, ha="left", fontsize=LETTER_SIZE,
                              fontweight="bold")  # fmt: skip
            _heatmap(subs[-1].add_subplot(), cards)
        n_warnings = sum(len(card.warnings) for card in cards)
        if n_warnings:
            fig.suptitle(
                f"{n_warnings} warning{'s' if n_warnings > 1 else ''} (unfinished runs or unlike "
                "comparisons): read them in report.md",
                color=WARNING_COLOUR,
            )
    return fig


# -- writing -----------------------------------------------------------------------------------


def write_report(
    results: Sequence[xr.Dataset],
    out_dir: str | Path,
    *,
    baselines: Sequence[xr.Dataset] = (),
    trials: int = 10,
    trial_duration_ms: float = 1000.0,
    progress: Callable[[str], None] = print,
    warn: Callable[[str], None] | None = None,
    command: str | None = None,
) -> list[Card]:
    """Score ``results`` (seeds of one rule) and every baseline; write the report files.

    ``trials`` repeats (of 10 stimuli, ``trial_duration_ms`` each) of a spiking model, run with
    its own noise (:func:`probe_trials`), are simulated for the trained network and for the
    untrained one (the untrained column): the Fano factor, noise correlation and E/I balance
    rows, and the rate and irregularity rows when the trials last >= 1 s (0: skip; the first
    three become not applicable, the others read the Result's recorded samples).
    A BP Result among the baselines is the reference end of the geometry rows.

    Every card's warnings (:attr:`Card.warnings`; for a baseline also
    :func:`neurosig.analyses.caveats.baseline_warnings` against ``results[0]``) are passed to
    ``warn`` (default: ``progress``) as ``"NAME: warning: TEXT"`` before any work, head the
    card's section of the report and are returned with the cards. ``command`` (the command
    line) goes into the dashboard's provenance.

    Raises
    ------
    DataError
        No Result, or a Result or baseline without a finished epoch (nothing trained).
    """
    if not results:
        raise DataError("report: no Result given")
    caveats.require_trained([*results, *baselines])
    warn = progress if warn is None else warn
    bp = next((b for b in baselines if b.attrs.get("model") == "bp"), None)
    groups = [list(results)] + [[b] for b in baselines]
    unlike = [[]] + [caveats.baseline_warnings(b, results[0]) for b in baselines]
    for group, more in zip(groups, unlike, strict=True):
        for warning in caveats.card_warnings(group, bp) + more:
            warn(f"{group[0].attrs.get('name', '?')}: warning: {warning}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cards = []
    for group, more in zip(groups, unlike, strict=True):
        name = group[0].attrs.get("name", "?")
        probe = before = None
        if trials and result_schema.has_spikes(group[0]):
            progress(f"{name}: simulating {trials} repeats of 10 stimuli for the trial statistics")
            probe = probe_trials(group[0], n_repeats=trials, duration_ms=trial_duration_ms)
            before = probe_trials(
                group[0], n_repeats=trials, duration_ms=trial_duration_ms, trained=False
            )
        progress(f"{name}: scoring")
        card = report_card(group, bp=bp, probe=probe, untrained_probe=before)
        card.warnings += more
        cards.append(card)
    fig = plot_report(cards, [results[0]] + list(baselines))
    try:
        sources = [ds.encoding.get("source") for ds in [*results, *baselines]]
        save_figure(fig, out / "report", inputs=[p for p in sources if p], command=command)
    finally:
        plt.close(fig)
    (out / "report.md").write_text(card_markdown(cards))
    (out / "report.html").write_text(card_html(cards, (out / "report.png").read_bytes()))
    cards_ds = xr.concat(
        [c.to_dataset().assign_coords(rule=("row", [c.name] * len(c.rows))) for c in cards],
        dim="row",
    )
    cards_ds.attrs["warnings"] = "\n".join(f"{c.name}: {w}" for c in cards for w in c.warnings)
    cards_ds.to_netcdf(out / "card.nc", engine="h5netcdf")
    return cards
