"""Write a plausibility report: ``report.md``, ``report.html`` and a multi-panel figure.

``write_report(results, out_dir)`` scores a Result (and optional baselines) with
:func:`neurosig.analyses.plausibility.report_card` and writes

* ``report.md``: one table per rule (criterion, layer, value with its CI, literature range,
  band, note) and the numbered citations;
* ``report.html``: the same, self-contained, with the figure embedded;
* ``report.pdf`` and ``report.png``: rasters, activity statistics against the literature
  ranges (grey bands), sparseness and energy with accuracy against spikes per inference, the
  RDMs, the layer-by-layer CKA matrix against BP, and the card as a heatmap (rules x criteria);
* ``card.nc``: every card as labelled data.

Each card's warnings (:attr:`Card.warnings`, :mod:`neurosig.analyses.caveats`: an unfinished
run, seeds that are not repeats, a baseline of another architecture or data) head its section
of ``report.md`` and ``report.html``, are stored in ``card.nc`` and are said before any work.

The command ``neurosig report RESULT.nc [--baselines R1.nc ...] [--out DIR]`` calls it.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from neurosig import results as result_schema
from neurosig.analyses import activity, caveats
from neurosig.analyses.plausibility import BANDS, Card, probe_trials, report_card
from neurosig.errors import DataError
from neurosig.plotting import STYLE, raster

__all__ = ["card_markdown", "plot_report", "write_report"]

# colour of each band in the heatmap (Wong 2011 palette; grey for not applicable)
BAND_COLOURS = {
    "in": "#009E73",
    "near": "#F0E442",
    "out": "#D55E00",
    "flag": "#CC79A7",
    "not applicable": "#DDDDDD",
    "uninformative": "#56B4E9",  # its untrained network or control scores in too
}
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
ACTIVITY_KEYS = ("median_rate", "isi_cv", "lv", "fano_factor_1s", "noise_correlation_1s")


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


def _raster(ax, ds: xr.Dataset, title: str) -> None:
    layers = result_schema.layers(ds)
    if not layers:
        ax.set_axis_off()
        return
    layer = layers[0]
    if result_schema.has_spikes(ds):
        trains = activity.spike_trains_from_result(ds, layer)
        raster(
            trains.time,
            trains.unit,
            trials=trains.trial,
            duration=float(trains.attrs["duration"]),
            max_trials=5,
            ylabel=f"layer {layer} unit",
            title=title,
            ax=ax,
        )
        ax.set_xlabel("time (ms), 5 stimuli")
    else:
        a = np.asarray(result_schema.activity(ds, layer).values, dtype=float)[:50]
        ax.imshow(a.T, aspect="auto", cmap="Greys", interpolation="nearest")
        ax.set(xlabel="stimulus", ylabel=f"layer {layer} unit", title=title + " (rates)")


def _activity_panel(axes, cards: Sequence[Card]) -> None:
    for ax, key in zip(axes, ACTIVITY_KEYS, strict=True):
        ref = cards[0].references.get(key)
        if ref and not ref.relative:
            ax.axhspan(ref.low, ref.high, color="0.85", zorder=0)
        for i, card in enumerate(cards):
            try:
                row = card.row(key)
            except KeyError:
                continue
            if np.isfinite(row.value):
                err = None
                if np.isfinite(row.low) and np.isfinite(row.high):
                    err = [[row.value - row.low], [row.high - row.value]]
                ax.errorbar([i], [row.value], yerr=err, fmt="o", ms=4)
            else:
                ax.text(i, 0.5, "n/a", transform=ax.get_xaxis_transform(), ha="center", size=7)
        ax.set_xticks(range(len(cards)), [c.model for c in cards], rotation=45, size=7)
        ax.set_xlim(-0.5, len(cards) - 0.5)
        ax.set_title(key.replace("_", " "), size=8)


def _sparseness_panel(ax_sparse, ax_energy, cards: Sequence[Card]) -> None:
    width = 0.35
    for j, key in enumerate(("lifetime_sparseness", "population_sparseness")):
        values = []
        for card in cards:
            try:
                values.append(card.row(key).value)
            except KeyError:
                values.append(math.nan)
        ax_sparse.bar(
            np.arange(len(cards)) + (j - 0.5) * width, values, width, label=key.split("_")[0]
        )
    ax_sparse.set_xticks(range(len(cards)), [c.model for c in cards], rotation=45, size=7)
    ax_sparse.set(ylabel="Vinje-Gallant S", title="sparseness")
    ax_sparse.legend(fontsize=7)
    for card in cards:
        try:
            spikes = card.row("spikes_per_inference").value
        except KeyError:
            continue
        if np.isfinite(spikes):
            ax_energy.scatter(spikes, 100 * card.accuracy)
            ax_energy.annotate(card.model, (spikes, 100 * card.accuracy), size=7)
    ax_energy.set(xlabel="spikes per inference", ylabel="test accuracy (%)", title="energy")


def _heatmap(ax, cards: Sequence[Card]) -> None:
    keys = [k for k in HEATMAP_KEYS if any(_has(c, k) for c in cards)]
    codes = np.full((len(cards), len(keys)), BANDS.index("not applicable"))
    for i, card in enumerate(cards):
        for j, key in enumerate(keys):
            if _has(card, key):
                codes[i, j] = BANDS.index(card.row(key).band)
    cmap = ListedColormap([BAND_COLOURS[b] for b in BANDS])
    ax.imshow(codes, cmap=cmap, vmin=-0.5, vmax=len(BANDS) - 0.5, aspect="auto")
    ax.set_yticks(range(len(cards)), [c.name for c in cards], size=7)
    ax.set_xticks(range(len(keys)), keys, rotation=60, ha="right", size=7)
    handles = [plt.Rectangle((0, 0), 1, 1, color=BAND_COLOURS[b]) for b in BANDS]
    ax.legend(handles, BANDS, ncol=len(BANDS), fontsize=7, loc="lower left", bbox_to_anchor=(0, 1))


def _has(card: Card, key: str) -> bool:
    return any(r.key == key for r in card.rows)


def _rdm_panel(axes, card: Card) -> None:
    ex = card.extras
    if "labels" not in ex:
        for ax in axes:
            ax.set_axis_off()
        return
    order = np.argsort(ex["labels"], kind="stable")
    for ax, (key, title) in zip(
        axes,
        (("rdm", card.model), ("rdm_bp", "BP"), ("rdm_untrained", "untrained")),
        strict=True,
    ):
        if key not in ex:
            ax.set_axis_off()
            continue
        ax.imshow(ex[key][np.ix_(order, order)], cmap="viridis")
        ax.set(title=f"RDM: {title}", xticks=[], yticks=[])


def _cka_panel(ax, card: Card) -> None:
    m = card.extras.get("cka_matrix")
    if m is None:
        ax.text(0.5, 0.5, "no BP baseline", ha="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    values = np.asarray(m)
    im = ax.imshow(values, vmin=0, vmax=1, cmap="magma")
    ax.set(xlabel="BP layer", ylabel=f"{card.model} layer", title="debiased CKA")
    ax.set_xticks(range(values.shape[1]), range(1, values.shape[1] + 1))
    ax.set_yticks(range(values.shape[0]), range(1, values.shape[0] + 1))
    ax.figure.colorbar(im, ax=ax, shrink=0.8)


def plot_report(cards: Sequence[Card], results: Sequence[xr.Dataset]) -> Figure:
    """The multi-panel report figure; ``results[0]`` and ``cards[0]`` are the rule reported."""
    with plt.style.context(STYLE):
        interactive = matplotlib.is_interactive()
        fig = plt.figure(figsize=(14, 13), layout="constrained")
        top, mid, rdms, bottom = fig.subfigures(4, 1, height_ratios=[1, 1, 1, 1.1])
        a = top.subplots(1, 3, width_ratios=[2, 1, 1])
        _raster(a[0], results[0], f"{cards[0].name}: first hidden layer")
        _sparseness_panel(a[1], a[2], cards)
        _activity_panel(mid.subplots(1, len(ACTIVITY_KEYS)), cards)
        r = rdms.subplots(1, 4)
        _rdm_panel(r[:3], cards[0])
        _cka_panel(r[3], cards[0])
        _heatmap(bottom.subplots(), cards)
        n_warnings = sum(len(card.warnings) for card in cards)
        if n_warnings:
            fig.suptitle(
                f"{n_warnings} warning{'s' if n_warnings > 1 else ''} (unfinished runs or unlike "
                "comparisons): read them in report.md",
                color=WARNING_COLOUR,
            )
    matplotlib.interactive(interactive)
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
    card's section of the report and are returned with the cards.

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
    fig.savefig(out / "report.png", dpi=130)
    fig.savefig(out / "report.pdf")
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
