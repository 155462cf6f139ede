"""Saving a figure: PDF, SVG and 300-dpi PNG, its provenance, and the numbers it plots.

:func:`save_figure` writes, for a stem ``out/fig``,

* ``out/fig.pdf``, ``out/fig.svg``, ``out/fig.png`` (300 dpi), at the figure's own size (no
  cropping: a figure drawn at a journal width stays that width), with the style's font
  settings (TrueType fonts, a fixed SVG hash salt) whatever the global rcParams;
* ``out/fig.json``: the provenance (:func:`figure_provenance`: the command, every input file
  with its SHA-256, neurosig's version and git commit, the numpy, xarray and matplotlib
  versions) and the SHA-256 of every file written;
* ``out/fig.nc``: the plotted numbers as an ``xarray.Dataset`` (netCDF), so that a reader can
  re-plot them, when the figure has them (:func:`attach_data`) or ``data=`` gives them.

The provenance is embedded in the files too: the PDF's ``Subject`` (``pdfinfo``), the SVG's
``dc:description`` and the PNG's ``Description`` text chunk hold the same JSON. Nothing in it
depends on the time or the machine, and the SVG and PDF carry no date, so the same inputs give
byte-identical SVG files. Every file is written atomically
(:func:`neurosig.atomic.write_atomic`): a killed save leaves the previous file or none.

The plotted numbers travel with the axes they were drawn in: a figure function calls
:func:`attach_data` with its axes and a Dataset (units in each variable's ``units``
attribute), and :func:`figure_data` collects the Datasets of every panel of a figure, so a
multi-panel figure assembled from several functions saves all of them.

Examples
--------
>>> import matplotlib.pyplot as plt
>>> from neurosig.plotting import figure_axes
>>> fig, ax = figure_axes()
>>> _ = ax.plot([1, 2, 3], [0.2, 0.5, 0.7])
>>> attach_data(ax, xr.Dataset({"accuracy": ("epoch", [0.2, 0.5, 0.7], {"units": "1"})}))
>>> [p.name for p in save_figure(fig, "curves", inputs=[])]
['curves.pdf', 'curves.svg', 'curves.png', 'curves.nc', 'curves.json']
>>> json.loads(Path("curves.json").read_text())["data"]
'curves.nc'
>>> plt.close(fig)
"""

from __future__ import annotations

import functools
import hashlib
import json
import weakref
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import matplotlib
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure

from neurosig.atomic import sha256_file, write_atomic, write_text_atomic
from neurosig.plotting.style import STYLE
from neurosig.results import provenance, save_result

__all__ = [
    "FORMATS",
    "PNG_DPI",
    "PROVENANCE_KEYS",
    "attach_data",
    "figure_data",
    "figure_provenance",
    "input_digest",
    "save_figure",
]

FORMATS = ("pdf", "svg", "png")
PNG_DPI = 300
PROVENANCE_KEYS = ("neurosig_version", "git_commit", "numpy_version", "xarray_version")
"""The keys of :func:`neurosig.results.provenance` a figure carries: none depends on the time
or the machine, so that saving again gives the same files."""

# the style's settings of the file writers, applied to every save whatever the global rcParams
_SAVE_RC = {
    key: value
    for key, value in matplotlib.rc_params_from_file(STYLE, use_default_template=False).items()
    if key.split(".")[0] in ("pdf", "ps", "svg", "savefig")
}
# axes -> the numbers drawn in it (weak: a closed figure's data go with it)
_DATA: weakref.WeakKeyDictionary[Axes, xr.Dataset] = weakref.WeakKeyDictionary()


def attach_data(axes: Axes | Sequence[Axes], data: xr.Dataset) -> None:
    """Record ``data`` as the numbers plotted in ``axes`` (a panel, or the panels of one
    figure function: kept with the first), for :func:`figure_data` and :func:`save_figure`."""
    first = axes if isinstance(axes, Axes) else list(axes)[0]
    _DATA[first] = data


def figure_data(fig: Figure | SubFigure) -> xr.Dataset | None:
    """The numbers plotted in ``fig``: the Dataset of its one data panel, or one Dataset of all.

    With several panels, each panel's variables and dimensions are prefixed with its name
    (the axes' label, ``ax.set_label("a")``, else ``panel1``, ``panel2`` ... in the figure's
    axes order) and its attributes are kept as ``{name}_{attribute}``. None when no function
    attached data.
    """
    panels = [(ax, _DATA[ax]) for ax in fig.axes if ax in _DATA]  # a figure's include subfigures'

    if not panels:
        return None
    if len(panels) == 1:
        return panels[0][1]
    parts = []
    attrs: dict[str, Any] = {}
    for i, (ax, data) in enumerate(panels, start=1):
        name = ax.get_label() if ax.get_label() and not ax.get_label().startswith("<") else ""
        name = name or f"panel{i}"
        renames = {key: f"{name}_{key}" for key in [*data.variables, *data.dims]}
        parts.append(data.rename(renames).drop_attrs(deep=False))
        attrs |= {f"{name}_{key}": value for key, value in data.attrs.items()}
    return xr.merge(parts, combine_attrs="drop").assign_attrs(attrs)


def input_digest(path: str | Path) -> str:
    """SHA-256 (hex) of a file, or of a folder (a zarr store): of its files' relative paths
    and contents, in sorted order.

    Examples
    --------
    >>> _ = Path("x.txt").write_text("neurosig")
    >>> input_digest("x.txt")[:12]
    '80087ae00abe'
    """
    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    if not path.is_dir():
        raise FileNotFoundError(2, "no such file or folder", str(path))
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{file.relative_to(path).as_posix()}\0".encode())
        digest.update(bytes.fromhex(sha256_file(file)))
    return digest.hexdigest()


def figure_provenance(
    inputs: Sequence[str | Path] = (), command: str | None = None
) -> dict[str, Any]:
    """What a figure was made from and by: the record :func:`save_figure` embeds and writes.

    Parameters
    ----------
    inputs : sequence of paths
        The Results, sweep stores or other files the figure's data were read from, as given
        (relative paths stay relative, so the record is the same on every machine).
    command : str, optional
        The command line that made the figure (``neurosig figures ...``); "" when not given.

    Returns
    -------
    dict
        ``command``, ``inputs`` (a list of ``{"path", "sha256"}``), and the
        :data:`PROVENANCE_KEYS` of :func:`neurosig.results.provenance` with
        ``matplotlib_version``.

    Examples
    --------
    >>> sorted(figure_provenance())  # doctest: +NORMALIZE_WHITESPACE
    ['command', 'git_commit', 'inputs', 'matplotlib_version', 'neurosig_version',
     'numpy_version', 'xarray_version']
    """
    versions = provenance()
    return {
        "command": command or "",
        "inputs": [{"path": str(p), "sha256": input_digest(p)} for p in inputs],
        **{key: versions[key] for key in PROVENANCE_KEYS},
        "matplotlib_version": metadata.version("matplotlib"),
    }


def _metadata(fmt: str, title: str, record: str, creator: str) -> dict[str, Any]:
    """The file metadata of each format: the provenance JSON, and no date."""
    if fmt == "pdf":
        keywords = "neurosig; provenance JSON in Subject"
        return {"Title": title, "Subject": record, "Keywords": keywords, "Creator": creator,
                "CreationDate": None}  # fmt: skip
    if fmt == "svg":
        return {"Title": title, "Description": record, "Creator": creator, "Date": None}
    return {"Title": title, "Description": record, "Software": creator}


def _savefig(fig: Figure, tmp: Path, *, fmt: str, metadata: dict[str, Any]) -> None:
    fig.savefig(tmp, format=fmt, dpi=PNG_DPI, metadata=metadata)


def _stem(path: str | Path) -> Path:
    path = Path(path)
    return path.with_suffix("") if path.suffix.lstrip(".") in FORMATS else path


def save_figure(
    fig: Figure,
    path: str | Path,
    *,
    inputs: Sequence[str | Path] = (),
    data: xr.Dataset | None = None,
    command: str | None = None,
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """Write ``fig`` as PDF, SVG and 300-dpi PNG with its provenance and plotted numbers.

    Parameters
    ----------
    fig : Figure
        The figure, saved at its own size.
    path : str or Path
        The stem: ``out/fig`` (or ``out/fig.pdf``) writes ``out/fig.pdf``, ``out/fig.svg`` ...
    inputs : sequence of paths
        The files the figure's data came from (hashed into the provenance).
    data : xarray.Dataset, optional
        The plotted numbers, written as ``<stem>.nc``; default :func:`figure_data` of ``fig``
        (nothing is written when it has none).
    command : str, optional
        The command line that made the figure.
    formats : sequence of str
        The figure formats to write (default all of :data:`FORMATS`).

    Returns
    -------
    list of Path
        The files written: the figures, the data (if any), then the sidecar ``.json``.
    """
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"formats {sorted(unknown)}: choose among {', '.join(FORMATS)}")
    stem = _stem(path)
    record = figure_provenance(inputs, command)
    text = json.dumps(record, sort_keys=True, separators=(",", ":"))
    creator = f"neurosig {record['neurosig_version']} (matplotlib {record['matplotlib_version']})"
    written = []
    with matplotlib.rc_context(_SAVE_RC):
        for fmt in formats:
            meta = _metadata(fmt, stem.name, text, creator)
            target = stem.with_name(f"{stem.name}.{fmt}")
            write_atomic(target, functools.partial(_savefig, fig, fmt=fmt, metadata=meta))
            written.append(target)
    data = data if data is not None else figure_data(fig)
    if data is not None:
        target = stem.with_name(f"{stem.name}.nc")
        flat = {k: v if isinstance(v, str) else json.dumps(v) for k, v in record.items()}
        written.append(save_result(data.assign_attrs(flat), target))
    sidecar = {
        "figure": stem.name,
        "files": {p.name: input_digest(p) for p in written},
        "data": written[-1].name if data is not None else None,
        "provenance": record,
    }
    written.append(stem.with_name(f"{stem.name}.json"))
    write_text_atomic(written[-1], json.dumps(sidecar, indent=2, sort_keys=True) + "\n")
    return written
